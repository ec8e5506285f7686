"""The shifted-beta-geometric (sBG) model of Fader & Hardie (2007), "How to project customer
retention", Journal of Interactive Marketing.

A contract customer renews at the end of each period unless they churn, with a churn probability
theta that is fixed for them and theta ~ Beta(alpha, beta) across customers. The period ``T`` in
which a customer churns then has

    P(T = t) = B(alpha + 1, beta + t - 1) / B(alpha, beta),    t = 1, 2, ...
    S(t) = P(T > t) = B(alpha, beta + t) / B(alpha, beta)
    r(t) = S(t) / S(t - 1) = (beta + t - 1) / (alpha + beta + t - 1)

so the retention rate r(t) rises as the customers quick to churn leave. Data are lifetimes: a row
that churned in period ``t`` contributes log P(T = t), a row still active after ``t`` periods
log S(t). Both are log B(alpha + c, beta + t - c) - log B(alpha, beta) with c = 1 for a churn,
0 otherwise, so the gradient comes from digamma functions. :func:`from_survivors` turns a cohort's
alive counts, the paper's data, into such rows.
"""

from __future__ import annotations

import math
from typing import ClassVar, Self

import numpy as np
from scipy.special import betaln, digamma

from patron.errors import InputError
from patron.models.base import Array, Model, as_array, as_count, as_counts, row_count


class ShiftedBetaGeoModel(Model):
    """sBG: ``alpha``, ``beta`` of the churn probability's Beta distribution."""

    param_names: ClassVar[tuple[str, ...]] = ("alpha", "beta")
    observed: ClassVar[tuple[str, str] | None] = ("t", "periods")

    def fit(self, periods: object, *, churned: object, weights: object = None) -> Self:
        """Fit on lifetimes: churned in period ``periods`` (``churned`` true) or still active
        after it (false), one row per customer or per weighted group."""
        data = lifetime_data(periods, churned)
        w = None if weights is None else as_array(weights, "weights")
        return self._fit(data, w, start=np.ones(2))

    def loglik_rows(self, params: Array, data: dict[str, Array]) -> tuple[Array, Array]:
        alpha, beta = params
        t, c = data["t"], data["churned"]
        shared = digamma(alpha + beta) - digamma(alpha + beta + t)
        grad = np.stack(
            [
                digamma(alpha + c) - digamma(alpha) + shared,
                digamma(beta + t - c) - digamma(beta) + shared,
            ],
            axis=1,
        )
        return betaln(alpha + c, beta + t - c) - betaln(alpha, beta), grad

    def survival(self, t: object) -> Array:
        """S(t) = B(alpha, beta + t) / B(alpha, beta): the share of a new cohort still active
        after t whole periods (S(0) = 1), as in Fader & Hardie (2007), for a number or a list of
        t >= 0; N0 S(t) projects a cohort of N0 customers."""
        alpha, beta = self._fitted("_params")
        t = as_counts(t, "t")
        return np.exp(betaln(alpha, beta + t) - betaln(alpha, beta))

    def retention_rate(self, t: object) -> Array:
        """r(t) = S(t) / S(t - 1) = (beta + t - 1) / (alpha + beta + t - 1): the share of the
        customers active after t - 1 periods who renew at the end of period t, as in Fader &
        Hardie (2007), for a number or a list of t >= 1 (period 0 has none before it)."""
        alpha, beta = self._fitted("_params")
        t = as_counts(t, "t")
        if np.any(t < 1):
            raise InputError("retention rates start at period 1: r(t) compares t with t - 1")
        return (beta + t - 1) / (alpha + beta + t - 1)

    def expected_lifetime(self, periods: int | None = None, *, discount: float = 0.0) -> float:
        """Expected number of the first ``periods`` periods a new customer is active in, period
        t + 1 (reached with probability S(t)) discounted by (1 + discount)^-t:
        sum_{t=0}^{periods-1} S(t) (1 + discount)^-t.

        Without a horizon (``periods`` None) and a discount d > 0 it is the discounted expected
        lifetime (DEL) of Fader & Hardie (2010), "Customer-base valuation in a contractual
        setting", 2F1(1, beta; alpha + beta; 1 / (1 + d)), summed to where the rest is below
        ``TAIL`` of it (scipy's hyp2f1 is wrong near alpha = 1 and for a large alpha + beta).
        Without either it is the mean lifetime E[1 / theta] = (alpha + beta - 1) / (alpha - 1),
        infinite when alpha <= 1, as in both of the paper's segments.
        """
        alpha, beta = self._fitted("_params")
        if not discount >= 0:
            raise InputError(f"discount must be 0 or more, not {discount!r}")
        if periods is None and discount == 0:
            return (alpha + beta - 1) / (alpha - 1) if alpha > 1 else float("inf")
        n = as_count(periods, "periods") if periods is not None else _whole_life(discount)
        total = 0.0
        for start in range(0, n, CHUNK):  # a small discount sums millions of periods
            t = np.arange(start, min(start + CHUNK, n))
            log_terms = betaln(alpha, beta + t) - betaln(alpha, beta) - t * np.log1p(discount)
            total += np.exp(log_terms).sum()
        return float(total)


TAIL = 1e-12
"""The share of the discounted expected lifetime left out when it has no horizon."""
CHUNK = 1 << 20
"""Periods summed at once by :meth:`ShiftedBetaGeoModel.expected_lifetime`."""
SMALLEST_DISCOUNT = 1e-6
"""Below it, a discounted lifetime without a horizon sums more than 40 million periods."""


def _whole_life(discount: float) -> int:
    """The periods N past which the discounted survival left, at most
    sum_{t>=N} (1 + d)^-t = (1 + d)^-N (1 + d) / d, is below ``TAIL`` (the sum is >= 1)."""
    if discount < SMALLEST_DISCOUNT:
        raise InputError(
            f"a discount rate of {discount:g} a period is too small to sum a lifetime without a "
            f"horizon: use 0 (no discount) or {SMALLEST_DISCOUNT:g} or more"
        )
    return math.ceil(math.log(TAIL * discount / (1 + discount)) / -math.log1p(discount))


def from_survivors(alive_counts: object) -> tuple[Array, Array, Array]:
    """(periods, churned, weights) rows from a cohort's alive counts at periods 0, 1, ..., n.

    ``n_{t-1} - n_t`` customers churned in period t = 1..n and ``n_n`` are still active after n
    periods; pass the three arrays to :meth:`ShiftedBetaGeoModel.fit`.
    """
    counts = as_array(alive_counts, "alive_counts")
    if np.any(counts != np.round(counts)):
        raise InputError(
            "alive_counts must be whole numbers of customers, not shares: multiply the shares "
            "by the cohort's size, whose standard errors they set"
        )
    if len(counts) < 2 or counts[0] <= 0 or np.any(np.diff(counts) > 0):
        raise InputError("alive_counts must be two or more counts, the first positive, none rising")
    n = len(counts) - 1
    periods = np.append(np.arange(1, n + 1), n).astype(float)
    churned = np.arange(n + 1) < n
    return periods, churned, np.append(-np.diff(counts), counts[-1])


def lifetime_data(periods: object, churned: object) -> dict[str, Array]:
    """Validated (t, churned) arrays: whole t, churned 0 or 1, t >= 1 where churned."""
    n = row_count(periods=periods, churned=churned)
    t = as_array(periods, "periods", integer=True, rows=n)
    c = as_array(churned, "churned", integer=True, rows=n)
    if np.any(c > 1):
        raise InputError("churned must be true or false")
    if np.any(t[c == 1] < 1):
        raise InputError("a customer churns in period 1 at the earliest")
    return {"t": t, "churned": c}
