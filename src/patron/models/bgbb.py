"""The BG/BB model of Fader, Hardie & Shang (2010), "Customer-base analysis in a discrete-time
noncontractual setting".

At each of ``n`` transaction opportunities an alive customer buys with probability
p ~ Beta(alpha, beta); before each opportunity they drop out for good with probability
theta ~ Beta(gamma, delta). A customer's data are ``x`` repeat transactions (frequency), ``t_x``
the opportunity of the last one (recency, 0 without any) and ``n`` the opportunities. The
likelihood (paper, eq. 5) is

    L = B(alpha + x, beta + n - x) / B(alpha, beta) B(gamma, delta + n) / B(gamma, delta)
        + sum_{i=0}^{n - t_x - 1} B(alpha + x, beta + t_x - x + i) / B(alpha, beta)
                                  B(gamma + 1, delta + t_x + i) / B(gamma, delta)

the first term for a customer still alive at opportunity ``n``, term ``i`` for one alive at
opportunity ``t_x + i`` who dropped out before the next. It is computed in log space (log-sum-exp
over one column per term), with its gradient from digamma functions.
"""

from __future__ import annotations

from itertools import pairwise
from typing import ClassVar, Self

import numpy as np
from scipy.special import betaln, digamma, gammaln, logsumexp

from patron.errors import InputError
from patron.models.base import SCRATCH_BYTES, Array, Model, as_array, as_count, row_count


class BetaGeoBetaBinomModel(Model):
    """BG/BB: ``alpha``, ``beta`` (transaction probability) and ``gamma``, ``delta`` (dropout)."""

    param_names: ClassVar[tuple[str, ...]] = ("alpha", "beta", "gamma", "delta")
    block_rows: ClassVar[int] = 2**62
    """All rows in one block: :func:`_by_width` already lays them out in small groups of like
    width, and does so best over all rows (on blocks of rows, the demo's likelihood took 13%
    longer in blocks of 8,192 and twice as long in blocks of 2,048)."""
    sample_rows: ClassVar[int] = 2048
    """A row costs one term per opportunity after its last purchase (up to 156 on three years
    of weeks), so a fit on 8,192 rows or more starts from a sample of about 2,048."""

    observed: ClassVar[tuple[str, str] | None] = ("n", "n_periods")

    def fit(
        self, frequency: object, recency: object, n_periods: object, *, weights: object = None
    ) -> Self:
        """Fit on per-customer (or unique, weighted) rows of frequency, recency and n (one
        number: the same n for everyone, as for a cohort)."""
        data = opportunity_data(frequency, recency, n_periods)
        w = None if weights is None else as_array(weights, "weights")
        return self._fit(data, w, start=np.ones(4))

    def loglik_rows(self, params: Array, data: dict[str, Array]) -> tuple[Array, Array]:
        order, bounds = _by_width(data)
        loglik, grad = np.empty(len(order)), np.empty((len(order), len(params)))
        for lo, hi in pairwise(bounds):
            rows = order[lo:hi]
            loglik[rows], grad[rows] = _loglik(params, *(data[k][rows] for k in ("x", "t_x", "n")))
        return loglik, grad

    def probability_alive(
        self, frequency: object, recency: object, n_periods: object, *, ahead: int = 1
    ) -> Array:
        """P(alive at opportunity n + ahead | x, t_x, n): by default at the next opportunity
        (paper, eq. 11); ``ahead=0`` at the last one observed, further ahead for planning
        (lifetimes' ``conditional_probability_alive(m_periods_in_future, ...)``).

        The likelihood's alive term carried ``ahead`` opportunities further
        (delta + n + ahead), over the likelihood.
        """
        params = np.asarray(self._fitted("_params"))
        alpha, beta, gamma, delta = params
        d = opportunity_data(frequency, recency, n_periods)
        x, n = d["x"], d["n"]
        alive = (
            betaln(alpha + x, beta + n - x)
            - betaln(alpha, beta)
            + betaln(gamma, delta + n + as_count(ahead, "ahead"))
            - betaln(gamma, delta)
        )
        return np.exp(alive - self.loglik_rows(params, d)[0])

    def conditional_expected_purchases(
        self, n_star: int, frequency: object, recency: object, n_periods: object
    ) -> Array:
        """E[X(n, n + n*) | x, t_x, n]: expected transactions in the next n* opportunities (eq. 13).

        Computed from its definition: the chance of being alive at ``n``, times E[p] for a customer
        alive with this history, times the expected number of opportunities n + 1..n + n* reached
        alive, sum_s B(gamma, delta + n + s) / B(gamma, delta + n).
        """
        params = np.asarray(self._fitted("_params"))
        alpha, beta, gamma, delta = params
        steps = np.arange(1, as_count(n_star, "n_star") + 1)
        d = opportunity_data(frequency, recency, n_periods)
        x, n = d["x"], d["n"]
        reach = logsumexp(betaln(gamma, delta + n[:, None] + steps), axis=1)
        log_value = (
            betaln(alpha + x + 1, beta + n - x) - betaln(alpha, beta) + reach - betaln(gamma, delta)
        )
        return np.exp(log_value - self.loglik_rows(params, d)[0])

    def frequency_distribution(self, n_periods: int) -> Array:
        """P(X(n) = x) for x = 0..n: a new customer's repeat transactions in their first n
        opportunities (paper, eq. 7). Times a cohort's size it is the expected number of
        customers at each frequency, the paper's check of the fit against the actual counts
        (lifetimes' ``expected_number_of_transactions_in_first_n_periods``).

        A customer alive through all n buys x of them with the beta-binomial chance
        C(n, x) B(alpha + x, beta + n - x) / B(alpha, beta), and is alive so with chance
        B(gamma, delta + n) / B(gamma, delta); one who dropped out right after opportunity i
        (x <= i < n), with chance B(gamma + 1, delta + i) / B(gamma, delta), bought x of i.
        """
        alpha, beta, gamma, delta = self._fitted("_params")
        n = as_count(n_periods, "n_periods")
        x, i = np.arange(n + 1.0)[:, None], np.arange(n + 1.0)[None, :]  # i: the last reached
        gap = np.maximum(i - x, 0.0)  # opportunities without a transaction
        bought = gammaln(i + 1) - gammaln(x + 1) - gammaln(gap + 1) + betaln(alpha + x, beta + gap)
        reached = np.where(i < n, betaln(gamma + 1, delta + i), betaln(gamma, delta + n))
        terms = np.where(i >= x, bought + reached, -np.inf)
        return np.exp(logsumexp(terms, axis=1) - betaln(alpha, beta) - betaln(gamma, delta))


def _loglik(params: Array, x: Array, t_x: Array, n: Array) -> tuple[Array, Array]:
    """Per-row log-likelihood and gradient of rows (x, t_x, n): the module docstring's L."""
    alpha, beta, gamma, delta = params
    alive = betaln(alpha + x, beta + n - x) + betaln(gamma, delta + n)
    alive_slopes = _slopes(
        (alpha + x, beta + n - x, alpha + beta + n), (gamma, delta + n, gamma + delta + n)
    )
    gone, gone_slopes = _dropout_terms(params, x, t_x, n)
    terms = np.concatenate([alive[:, None], gone], axis=1)
    total = logsumexp(terms, axis=1)
    share = np.exp(terms - total[:, None])
    grad = np.stack(
        [
            share[:, 0] * a + np.sum(share[:, 1:] * g, axis=1)
            for a, g in zip(alive_slopes, gone_slopes, strict=True)
        ],
        axis=1,
    )
    # minus the slopes of log B(alpha, beta) + log B(gamma, delta)
    grad -= digamma(params) - digamma(np.repeat([alpha + beta, gamma + delta], 2))
    return total - betaln(alpha, beta) - betaln(gamma, delta), grad


GROUP_CELLS = SCRATCH_BYTES // 8
"""Dropout terms per group (rows x the group's widest row), so that each of a group's matrices
stays within :data:`~patron.models.base.SCRATCH_BYTES` (groups of 1,024 rows of up to 156
terms, 1.2 MiB matrices, cost the demo's `patron fit --model bgbb` 400k page faults). See
:func:`_by_width`."""


def _by_width(data: dict[str, Array]) -> tuple[Array, Array]:
    """The rows in order of their number of dropout terms, n - t_x, and the bounds of groups
    of at most ``GROUP_CELLS`` terms in that order, memoized in ``data``. Each group's matrix
    of terms is as wide as its widest row: rows of all widths together fill a quarter of one
    matrix (the demo's), rows of like width nearly all of theirs."""
    if "width:order" not in data:
        order = np.argsort(data["n"] - data["t_x"], kind="stable")
        data["width:order"] = order
        data["width:bounds"] = _group_bounds(np.maximum((data["n"] - data["t_x"])[order], 1))
    return data["width:order"], data["width:bounds"]


def _group_bounds(widths: Array) -> Array:
    """Bounds of consecutive groups of ``widths`` (ascending): each takes as many rows as
    fit ``GROUP_CELLS`` at the width of its last (widest) row, and at least one."""
    bounds = [0]
    while bounds[-1] < len(widths):
        rest = widths[bounds[-1] : bounds[-1] + GROUP_CELLS]  # no group holds more rows
        fits = np.arange(1, len(rest) + 1) * rest <= GROUP_CELLS  # True, then False
        bounds.append(bounds[-1] + max(int(np.count_nonzero(fits)), 1))
    return np.array(bounds)


def _dropout_terms(params: Array, x: Array, t_x: Array, n: Array) -> tuple[Array, list[Array]]:
    """The likelihood's dropout terms as columns i = 0..max(n - t_x) - 1 (-inf where i is past
    a row's n - t_x - 1), and their slopes in (alpha, beta, gamma, delta).

    Term i is log B(alpha + x, beta + t_x - x + i) + log B(gamma + 1, delta + t_x + i). Each
    step in i multiplies it by (beta + t_x - x + i) / (alpha + beta + t_x + i) times
    (delta + t_x + i) / (gamma + delta + 1 + t_x + i), and each digamma in its slopes grows by
    the reciprocal of its argument, so one column of betaln and digamma plus running sums of
    logs and reciprocals give every term: a few times faster than betaln at each opportunity.
    """
    alpha, beta, gamma, delta = params
    width = int(np.max(n - t_x, initial=0))
    i = np.arange(width)[None, :]
    starts = [beta + t_x - x, alpha + beta + t_x, delta + t_x, gamma + delta + 1 + t_x]
    grown = [z[:, None] + i for z in starts]  # each argument at opportunity t_x + i
    step = np.log(grown[0]) - np.log(grown[1]) + np.log(grown[2]) - np.log(grown[3])
    first = betaln(alpha + x, starts[0]) + betaln(gamma + 1, starts[2])
    terms = first[:, None] + _before(step)
    terms = np.where(i < (n - t_x)[:, None], terms, -np.inf)
    psi = [digamma(z)[:, None] + _before(1 / g) for z, g in zip(starts, grown, strict=True)]
    slopes = [
        digamma(alpha + x)[:, None] - psi[1],
        psi[0] - psi[1],
        digamma(gamma + 1) - psi[3],
        psi[2] - psi[3],
    ]
    return terms, slopes


def _before(steps: Array) -> Array:
    """Exclusive running sums along each row: column i holds the sum of columns 0..i - 1."""
    out = np.zeros_like(steps)
    np.cumsum(steps[:, :-1], axis=1, out=out[:, 1:])
    return out


def _slopes(
    purchase: tuple[Array, Array, Array], dropout: tuple[Array, Array, Array]
) -> list[Array]:
    """Slopes of log B(p1, p2) + log B(d1, d2) in (alpha, beta, gamma, delta), given the
    arguments and their sums (p1, p2, p1 + p2) and (d1, d2, d1 + d2)."""
    (p1, p2, ps), (d1, d2, ds) = purchase, dropout
    return [
        digamma(p1) - digamma(ps),
        digamma(p2) - digamma(ps),
        digamma(d1) - digamma(ds),
        digamma(d2) - digamma(ds),
    ]


def opportunity_data(frequency: object, recency: object, n_periods: object) -> dict[str, Array]:
    """Validated (x, t_x, n) arrays of whole numbers: x <= t_x <= n, t_x = 0 exactly when x = 0."""
    rows = row_count(frequency=frequency, recency=recency, n_periods=n_periods)
    x = as_array(frequency, "frequency", integer=True, rows=rows)
    t_x = as_array(recency, "recency", integer=True, rows=rows)
    n = as_array(n_periods, "n_periods", integer=True, rows=rows)
    if np.any(x > t_x) or np.any(t_x > n) or np.any((x == 0) != (t_x == 0)):
        raise InputError(
            "need frequency <= recency <= n_periods, with recency 0 exactly when frequency is 0"
        )
    return {"x": x, "t_x": t_x, "n": n}


MORE_THAN_OPPORTUNITIES = (
    "cannot exceed recency: x transactions take x of the opportunities 1 .. t_x (the "
    "acquisition's period is 0), so t_x is 1 or more where x is"
)
"""Said of a history with more transactions than opportunities up to the last one."""
