"""The BG/NBD model of Fader, Hardie & Lee (2005), "Counting your customers the easy way".

While alive, a customer buys as a Poisson process with rate lambda ~ Gamma(r, alpha); after each
purchase they drop out with probability p ~ Beta(a, b). A customer's data are ``x`` repeat
purchases (frequency), ``t_x`` the time of the last one (recency) and ``T`` the time since the
first purchase, all in one time unit. The likelihood (paper, eq. 6) is

    L = Gamma(r + x) alpha^r / Gamma(r)
        * [ B(a, b + x) / B(a, b) (alpha + T)^-(r + x)
            + 1{x > 0} B(a + 1, b + x - 1) / B(a, b) (alpha + t_x)^-(r + x) ]

computed in log space as the first (alive) term times 1 + e^odds, odds the log of the second
term over the first, log(a / (b + x - 1)) + (r + x) log((alpha + T) / (alpha + t_x)); the
gradient comes from digamma functions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy.special import betainc, betaln, digamma, expit, gammaln, hyp2f1, xlogy

from patron.models.base import Array, ahead, as_counts, levels, trigamma, weighted_levels
from patron.models.history import HistoryModel, customer_data


class BetaGeoModel(HistoryModel):
    """BG/NBD: parameters ``r``, ``alpha`` (purchase rate) and ``a``, ``b`` (dropout)."""

    param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "a", "b")
    exact_hessian: ClassVar[bool] = True
    first_purchase_dropout: ClassVar[int] = 0
    """1 when the dropout coin is also tossed at the first purchase (MBG/NBD): the beta terms
    then read x + 1 dropout opportunities where BG/NBD reads x."""

    def loglik_rows(self, params: Array, data: dict[str, Array]) -> tuple[Array, Array]:
        r, alpha, a, _ = params
        x, ix = levels(data, "x")  # special functions per distinct frequency, gathered per row
        alive_x, slope_r, slope_a, slope_b = (v.take(ix) for v in self._per_frequency(params, x))
        row = self._row_terms(params, data)
        grad = np.empty((4, len(row.rx)))
        grad[0] = slope_r - row.log_t + row.gone * row.span
        grad[1] = r / alpha - row.rx * (row.inv_t - row.gone * (row.inv_t - row.inv_tx))
        grad[2] = slope_a + row.gone / a  # the gone term's slope in a is the alive one's + 1 / a
        grad[3] = slope_b - row.gone * row.inv_b  # and in b, the alive one's - 1 / (b + n - 1)
        return alive_x - row.rx * row.log_t + row.soft, grad.T

    def loglik_sum(self, params: Array, data: dict[str, Array], w: Array) -> tuple[float, Array]:
        """:meth:`loglik_rows` weighted and summed, with the terms of the frequency alone
        summed per distinct frequency (weighted by its customers) instead of gathered per row."""
        r, alpha, a, _ = params
        x, at_x = weighted_levels(data, "x", w)  # customers per frequency
        alive_x, slope_r, slope_a, slope_b = self._per_frequency(params, x)
        row = self._row_terms(params, data)
        gone, spent = w * row.gone, w * row.rx
        slope = np.array(
            [
                at_x @ slope_r - w @ row.log_t + gone @ row.span,
                r * w.sum() / alpha
                - spent @ row.inv_t
                + (gone * row.rx) @ (row.inv_t - row.inv_tx),
                at_x @ slope_a + gone.sum() / a,
                at_x @ slope_b - gone @ row.inv_b,
            ]
        )
        return at_x @ alive_x - spent @ row.log_t + w @ row.soft, slope

    def _per_frequency(self, params: Array, x: Array) -> tuple[Array, Array, Array, Array]:
        """Per distinct frequency: the alive term's log without its (alpha + T) power, and
        that term's slopes in r (without -log(alpha + T)), a and b."""
        r, alpha, a, b = params
        n = x + self.first_purchase_dropout  # purchases after which the customer may drop out
        ab, abn = digamma(a + b), digamma(a + b + n)
        return (
            gammaln(r + x) - gammaln(r) + r * np.log(alpha) + betaln(a, b + n) - betaln(a, b),
            digamma(r + x) - digamma(r) + np.log(alpha),
            ab - abn,
            digamma(b + n) - abn - digamma(b) + ab,
        )

    def hessian_rows(self, params: Array, data: dict[str, Array], w: Array) -> Array:
        """The weighted Hessian: the alive term's second derivatives (trigamma functions per
        distinct frequency; r and alpha apart from a and b) plus those of log(1 + e^odds),
        which are s(1 - s) d d' + s H_odds for the gone share s, the odds' gradient d and
        Hessian H_odds (nonzero in (r, alpha), (alpha, alpha), (a, a) and (b, b) alone)."""
        r, alpha, a, b = params
        x, at_x = weighted_levels(data, "x", w)  # customers per frequency
        n = x + self.first_purchase_dropout
        tri_ab, tri_abn = trigamma(a + b), trigamma(a + b + n)
        row = self._row_terms(params, data)
        shift = row.inv_t - row.inv_tx  # d/d alpha of the odds, over r + x
        total, gone = w.sum(), w * row.gone
        hessian = np.zeros((4, 4))
        hessian[0, 0] = at_x @ (trigamma(r + x) - trigamma(r))
        hessian[0, 1] = total / alpha - w @ row.inv_t + gone @ shift
        hessian[1, 1] = -r * total / alpha**2 + w @ (row.rx * row.inv_t**2)
        hessian[1, 1] += gone @ (row.rx * (row.inv_tx**2 - row.inv_t**2))
        hessian[2, 2] = at_x @ (tri_ab - tri_abn) - gone.sum() / a**2
        hessian[2, 3] = at_x @ (tri_ab - tri_abn)
        hessian[3, 3] = at_x @ (trigamma(b + n) - tri_abn - trigamma(b) + tri_ab)
        hessian[3, 3] += gone @ row.inv_b**2
        slopes = np.stack([row.span, row.rx * shift, np.full(len(shift), 1 / a), -row.inv_b])
        spread = w * row.gone * np.exp(-row.soft)  # s (1 - s), without cancellation
        hessian += (slopes * spread) @ slopes.T
        return np.triu(hessian) + np.triu(hessian, 1).T  # the upper triangle, mirrored

    def _row_terms(self, params: Array, data: dict[str, Array]) -> _RowTerms:
        """The per-row pieces of the likelihood and its derivatives: log(1 + e^odds) for the
        odds of the gone term over the alive one, log(a / (b + n - 1)) + (r + x)
        log((alpha + T) / (alpha + t_x)), and that term's share of L."""
        r, alpha, a, b = params
        x, ix = levels(data, "x")
        n = x + self.first_purchase_dropout
        can_drop = n > 0
        nm = np.where(can_drop, n, 1.0)  # keeps b + n - 1 > 0 where the term is unused
        per_x = (
            np.where(can_drop, np.log(a / (b + nm - 1)), -np.inf),  # B(a+1, b+n-1) / B(a, b+n)
            np.where(can_drop, 1 / (b + nm - 1), 0.0),
        )
        odds_x, inv_b = (v.take(ix) for v in per_x)
        log_t, log_tx = np.log(alpha + data["T"]), np.log(alpha + data["t_x"])
        rx = r + data["x"]
        span = log_t - log_tx
        odds = odds_x + rx * span
        soft = np.maximum(odds, 0) + np.log1p(np.exp(-np.abs(odds)))  # log(1 + e^odds)
        return _RowTerms(
            rx=rx,
            log_t=log_t,
            span=span,
            inv_t=1 / (alpha + data["T"]),
            inv_tx=1 / (alpha + data["t_x"]),
            inv_b=inv_b,
            soft=soft,
            gone=np.exp(odds - soft),
        )

    def expected_purchases(self, t: object) -> Array:
        """E[X(t)]: expected purchases of a new customer in a period of length t (eq. 7), the
        conditional expectation of a customer seen only at their first purchase. A number for
        a single t, as Pareto/NBD's gives it."""
        t = ahead(t)
        zero = np.zeros(max(t.size, 1))
        return self.conditional_expected_purchases(t, zero, zero, zero).reshape(t.shape)[()]

    def probability_of_purchases(
        self, n: object, t: object, frequency: object, recency: object, T: object
    ) -> Array:
        """P(Y(t) = n | x, t_x, T): exactly n purchases in the next t (x = t_x = T = 0: the
        paper's eq. 8 for a new customer), per row; for a list of n, (len(n), rows).

        A customer alive at T has the posteriors lambda ~ Gamma(r + x, alpha + T) and
        p ~ Beta(a, b + x) (b + x + 1 for MBG/NBD). They make exactly n purchases either by
        staying through all n with exactly n arrivals in t, E[(1 - p)^n] NBD(n), or by dropping
        out at the n-th with at least n arrivals, E[p (1 - p)^(n - 1)] P(NBD >= n); a customer
        already gone makes none.
        """
        r, alpha, a, b = self._fitted("_params")
        counts, span = as_counts(n, "n"), ahead(t)
        k = counts.reshape(*counts.shape, 1).astype(float)  # (len(n), 1): against the rows
        d = customer_data(frequency, recency, T)
        rx, b_post = r + d["x"], b + d["x"] + self.first_purchase_dropout
        stay = np.log(alpha + d["T"]) - np.log(alpha + d["T"] + span)  # log P(no arrival) share
        arrivals = gammaln(rx + k) - gammaln(rx) - gammaln(k + 1) + rx * stay
        arrivals += xlogy(k, span / (alpha + d["T"] + span))
        exact = np.exp(betaln(a, b_post + k) - betaln(a, b_post) + arrivals)
        some = np.maximum(k, 1)  # the dropout term needs n >= 1: 0 where n = 0
        at_least = betainc(some, rx, -np.expm1(stay))
        leave = np.exp(betaln(a + 1, b_post + some - 1) - betaln(a, b_post)) * at_least
        exact += np.where(k > 0, leave, 0.0)
        alive = self._alive(d)
        return alive * exact + (1 - alive) * (k == 0)

    def _alive(self, d: dict[str, Array]) -> Array:
        """P(alive | x, t_x, T) (Fader, Hardie & Lee 2008 note, eq. 2): 1 / (1 + odds gone),
        as expit(-log odds): a long-gone heavy buyer's odds overflowed e^odds (P(alive) was 0
        all the same, with a RuntimeWarning)."""
        return expit(-self._log_odds_gone(d))

    def _expected_if_alive_rows(self, t: Array, x: Array, big_t: Array) -> Array:
        """The paper's eq. 10 without its P(alive) factor (:func:`_expected_if_alive`); where
        its 2F1 misleads, from values at nearby a (the expectation is smooth in a) or summed as
        :func:`_expected_series`:

        - at a = 1 the closed form is 0 / 0, a removable singularity (NaN, as lifetimes gives),
          and within 1e-7 of it its bracket loses most digits (3 at a = 1 + 1e-12): there it
          is read between a = 1 -/+ ``NEAR_ONE``, off by some 1e-9;
        - where c - (r + x) - (b + n), with c = a + b + n - 1, is a whole number (a - r is:
          r = 1, a = 10 or r = 0.1, a = 10.1) scipy's 2F1 takes its psi-function branch, which
          is wrong for z near 1 (E = 11.81 where it is 11.97 at r = alpha = 1, a = 10,
          b = 100, x = 5, T = 10, t = 100; lifetimes gives the same), and close to one its
          other branch loses digits: within ``NEAR_WHOLE`` of one, from a's neighbours
          (:func:`_around`), off by some 1e-10;
        - a small expectation is the difference of near-equal numbers times c / (a - 1), and
          loses its digits (2e-4 of 1.6e-6 at t = 2.8e-6, a = 1.01; -3e-13 at t = 4e-207):
          where it is below 1e-3 of c / |a - 1| and the series' terms fall at least twice
          over at each step (:func:`_shrinking`), by the series.
        """
        r, alpha, a, b = self._fitted("_params")
        n = x + self.first_purchase_dropout

        def at(value: float) -> Array:
            return _expected_if_alive(r, alpha, value, b, t, x, big_t, n)

        c = a + b + n - 1
        if abs(a - 1) < NEAR_ONE:
            expected = _between(at, a, 1 - NEAR_ONE, 1 + NEAR_ONE)
            lossy = np.ones(expected.shape, dtype=bool)
        else:
            expected = at(a)
            excess = c - (r + x) - (b + n)  # 2F1's c - a - b, as scipy finds it
            apart = NEAR_WHOLE * min(a, 1)
            whole = np.abs(excess - np.round(excess)) < apart
            whole = np.broadcast_to(whole, expected.shape)
            if np.any(whole):
                expected[whole] = _around(at, a, 2 * apart)[whole]
            lossy = np.abs(expected * (a - 1)) < 1e-3 * c
        w = -t / (alpha + big_t)
        lossy &= _shrinking(r + x, a, c, w)
        if np.any(lossy):
            rx, cl, wl = (np.broadcast_to(v, lossy.shape)[lossy] for v in (r + x, c, w))
            expected[lossy] = _expected_series(rx, cl, wl, a)
        return expected

    def _purchase_if_alive(self, t: Array, d: dict[str, Array]) -> Array:
        """Dropout happens only at a purchase, so an alive customer buys within t unless the
        Lomax wait exceeds it: 1 - ((alpha + T) / (alpha + T + t))^(r + x)."""
        r, alpha, _, _ = self._fitted("_params")
        return -np.expm1(-(r + d["x"]) * np.log1p(t / (alpha + d["T"])))

    def _log_odds_gone(self, d: dict[str, Array]) -> Array:
        """log(P(dropped out) / P(alive)) given the history: -inf when no dropout was
        possible yet."""
        r, alpha, a, b = self._fitted("_params")
        x, t_x, big_t = d["x"], d["t_x"], d["T"]
        n = x + self.first_purchase_dropout
        can_drop = n > 0
        nm = np.where(can_drop, n, 1.0)
        log_odds = (
            np.log(a) - np.log(b + nm - 1) + (r + x) * (np.log(alpha + big_t) - np.log(alpha + t_x))
        )
        return np.where(can_drop, log_odds, -np.inf)


NEAR_ONE = 1e-5
"""A BG/NBD ``a`` this close to 1 is read between a = 1 -/+ NEAR_ONE
(:meth:`BetaGeoModel._expected_if_alive_rows`): the closed form's rounding there, some
1e-15 / 1e-5, balances the straight line's error, some 1e-10 times the curvature in a."""
NEAR_WHOLE = 1e-3
"""scipy's 2F1 near z = 1 is off by some 1e-16 over the distance of c - a - b from a whole
number (1e-5 of 4.95 at a distance of 1e-9, 1e-8 at 1e-5): within this distance (times a,
if a < 1) BG/NBD's expectation comes from a's neighbours (:func:`_around`)."""


def _between(at: Callable[[float], Array], a: float, low: float, high: float) -> Array:
    """``at(a)`` read off the straight line through ``at(low)`` and ``at(high)``."""
    below, above = at(low), at(high)
    return below + (a - low) / (high - low) * (above - below)


def _around(at: Callable[[float], Array], a: float, h: float) -> Array:
    """``at(a)`` from its values h and 2h either side, by Richardson's extrapolation of the
    means of each pair (their errors are h^2 and 4 h^2 times the same curvature): off by
    some h^4 times the fourth derivative."""
    near, far = ((at(a - step) + at(a + step)) / 2 for step in (h, 2 * h))
    return (4 * near - far) / 3


def _shrinking(rx: Array, a: float, c: Array, w: Array) -> Array:
    """Whether each term of :func:`_expected_series` is at most half the one before: the
    ratio of a term to the one before, (r + x + k) (a + k - 1) / ((c + k) (k + 1)) |w| for
    k >= 1, is at most max(r + x, 1) max((a - 1) / c, 1) |w| when c > 0. The alternating series
    then sums without cancellation, in some 50 terms; where its terms first grow they cancel."""
    return (c > 0) & (np.abs(w) * np.maximum(rx, 1) * np.maximum((a - 1) / c, 1) <= 0.5)


def _expected_if_alive(
    r: float, alpha: float, a: float, b: float, t: Array, x: Array, big_t: Array, n: Array
) -> Array:
    """E[Y(t) | alive at T] for rows of (x, T) and n = x (+ 1 for MBG/NBD) dropout chances:
    the paper's eq. 10 without its P(alive) factor, c / (a - 1) [1 - F] with c = a + b + n - 1
    and F = ((alpha + T) / (alpha + T + t))^(r + x) 2F1(r + x, b + n; c; z),
    z = t / (alpha + T + t), by scipy's 2F1.

    Where that is not finite (a heavy buyer seen briefly: x = 209, T = 3.2 and t = 288 gave
    NaN, the power underflowing to 0 as 2F1 overflows), F is Euler's transformation of it
    (DLMF 15.8.1), (1 - z)^(a - 1) 2F1(c - r - x, a - 1; c; z), without that product; where
    neither is (parameters in the millions, as fits that cannot pin them down give), the
    series of :func:`_expected_series`, and where that diverges (t > alpha + T) the sum over
    purchases of :func:`_expected_by_purchases` (r = a = b = 100, alpha = 1 and t = 241 left
    a new customer without a number).
    """
    c = a + b + n - 1
    z = t / (alpha + big_t + t)
    with np.errstate(over="ignore", invalid="ignore"):  # what is not finite is done again
        power = ((alpha + big_t) / (alpha + big_t + t)) ** (r + x)
        value = c / (a - 1) * (1 - power * hyp2f1(r + x, b + n, c, z))
        bad = ~np.isfinite(value)
        if np.any(bad):
            rx, cb, zb = (np.broadcast_to(v, value.shape)[bad] for v in (r + x, c, z))
            euler = (1 - zb) ** (a - 1) * hyp2f1(cb - rx, a - 1, cb, zb)
            value[bad] = cb / (a - 1) * (1 - euler)
            bad = ~np.isfinite(value)
    if np.any(bad):
        terms = (r + x, c, -t / (alpha + big_t))
        rx, cb, w = (np.broadcast_to(v, value.shape)[bad] for v in terms)
        value[bad] = _expected_series(rx, cb, w, a)
        bad = ~np.isfinite(value)
    if np.any(bad):
        posterior = (r + x, alpha + big_t, t, b + n)
        rx, a_post, tb, b_post = (np.broadcast_to(v, value.shape)[bad] for v in posterior)
        value[bad] = _expected_by_purchases(rx, a_post, tb, a, b_post)
    # no fewer than none: a < 1 makes the head negative, and t = 0 gave -0.0, t = 6e-185
    # -2e-16 (a = b = 0.1, where c < 0 keeps the series out)
    return np.maximum(value, 0.0)


PURCHASES_SUMMED = 2_000_000
"""The most purchases :func:`_expected_by_purchases` sums for one row (16 MB an array)."""


def _expected_by_purchases(rx: Array, a_post: Array, t: Array, a: float, b_post: Array) -> Array:
    """E[Y(t) | alive at T] summed purchase by purchase, for the few rows where every form of
    2F1 fails: the j-th purchase comes when a customer who never left would have made j
    (P(N >= j) = I_z(j, r + x), N negative binomial under the rate's posterior) and the
    customer stayed after each of the j - 1 before it, E[(1 - p)^(j - 1)] =
    B(a, b + n + j - 1) / B(a, b + n). Positive terms, no cancellation, but one per purchase up
    to where P(N >= j) is below e^-40 of its start (N's mean plus 40 standard deviations, and
    40 more of the geometric tail's scale, 1 / -log(z), that a small r + x leaves) or, for
    a > 1, where the purchases past the J-th, at most E[(1 - p)^J / p] =
    B(a - 1, b + n + J) / B(a, b + n) had the customer never stopped buying, are below 1e-17
    of the first one's chance P(N >= 1); NaN beyond ``PURCHASES_SUMMED``."""
    out = np.full(len(rx), np.nan)
    for i in range(len(rx)):
        z = t[i] / (a_post[i] + t[i])
        mean = rx[i] * t[i] / a_post[i]
        top = mean + 40 * np.sqrt(mean * (1 + mean / rx[i])) + 40 / np.log1p(a_post[i] / t[i])
        if a > 1:
            first = -np.expm1(rx[i] * np.log1p(-z))  # P(N >= 1)
            floor = np.log(1e-17 * first) + betaln(a, b_post[i])
            low, high = 0.0, top
            for _ in range(60):  # the J where the tail's log falls through floor
                middle = (low + high) / 2
                low, high = (
                    (middle, high) if betaln(a - 1, b_post[i] + middle) > floor else (low, middle)
                )
            top = min(top, high)
        if top <= PURCHASES_SUMMED:
            j = np.arange(1.0, np.ceil(top) + 2)
            stayed = np.exp(betaln(a, b_post[i] + j - 1) - betaln(a, b_post[i]))
            out[i] = betainc(j, rx[i], z) @ stayed
    return out


def _expected_series(rx: Array, c: Array, w: Array, a: float) -> Array:
    """Eq. 10's bracket without 2F1 trouble: by Pfaff's transformation (DLMF 15.8.1),
    ((alpha + T) / (alpha + T + t))^(r + x) 2F1(r + x, b + n; c; z) = 2F1(r + x, a - 1; c; w)
    with w = -t / (alpha + T), so the expectation is c / (a - 1) [1 - 2F1(r + x, a - 1; c; w)]
    = -c sum_{k >= 1} (r + x)_k (a)_(k-1) / (c)_k w^k / k!: no difference of near-equal
    numbers, no 1 / (a - 1), and its first term is the Poisson-gamma (NBD) limit
    (r + x) t / (alpha + T). The series converges for |w| < 1; beyond that, NaN stays."""
    inside = np.abs(w) < 1
    w = np.where(inside, w, 0.0)  # no overflowing terms (and warnings) where NaN stays
    term = rx * w / c
    total = term.copy()
    for k in range(1, 10_000):
        if not np.any(np.abs(term) > 1e-17 * np.abs(total)):
            break
        term = term * (rx + k) * (a + k - 1) / (c + k) * w / (k + 1)
        total += term
    return np.where(inside, 0.0 - c * total, np.nan)  # 0 - 0 is 0.0, where -c * 0 is -0.0


@dataclass(frozen=True, slots=True)
class _RowTerms:
    """Per-row arrays shared by the likelihood, its gradient and its Hessian."""

    rx: Array  # r + x
    log_t: Array  # log(alpha + T)
    span: Array  # log((alpha + T) / (alpha + t_x))
    inv_t: Array  # 1 / (alpha + T)
    inv_tx: Array  # 1 / (alpha + t_x)
    inv_b: Array  # 1 / (b + n - 1) where the customer can drop out, else 0
    soft: Array  # log(1 + e^odds)
    gone: Array  # e^odds / (1 + e^odds): the gone term's share of L
