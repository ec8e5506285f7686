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

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy.special import betainc, betaln, digamma, gammaln, hyp2f1

from patron.models.base import Array, ahead, as_count, levels, trigamma, weighted_levels
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
        self, n: int, t: object, frequency: object, recency: object, T: object
    ) -> Array:
        """P(Y(t) = n | x, t_x, T): exactly n purchases in the next t (x = t_x = T = 0: the
        paper's eq. 8 for a new customer).

        A customer alive at T has the posteriors lambda ~ Gamma(r + x, alpha + T) and
        p ~ Beta(a, b + x) (b + x + 1 for MBG/NBD). They make exactly n purchases either by
        staying through all n with exactly n arrivals in t, E[(1 - p)^n] NBD(n), or by dropping
        out at the n-th with at least n arrivals, E[p (1 - p)^(n - 1)] P(NBD >= n); a customer
        already gone makes none.
        """
        r, alpha, a, b = self._fitted("_params")
        n, span = as_count(n, "n"), ahead(t)
        d = customer_data(frequency, recency, T)
        rx, b_post = r + d["x"], b + d["x"] + self.first_purchase_dropout
        stay = np.log(alpha + d["T"]) - np.log(alpha + d["T"] + span)  # log P(no arrival) share
        arrivals = gammaln(rx + n) - gammaln(rx) - gammaln(n + 1) + rx * stay
        arrivals += n * np.log(span / (alpha + d["T"] + span)) if n else 0.0
        exact = np.exp(betaln(a, b_post + n) - betaln(a, b_post) + arrivals)
        if n > 0:
            at_least = betainc(n, rx, -np.expm1(stay))
            exact += np.exp(betaln(a + 1, b_post + n - 1) - betaln(a, b_post)) * at_least
        alive = self._alive(d)
        return alive * exact + (1 - alive) * (n == 0)

    def _alive(self, d: dict[str, Array]) -> Array:
        """P(alive | x, t_x, T) (Fader, Hardie & Lee 2008 note, eq. 2): 1 / (1 + odds gone)."""
        return 1 / (1 + self._odds_gone(d))

    def _expected_if_alive_rows(self, t: Array, x: Array, big_t: Array) -> Array:
        """The paper's eq. 10 without its P(alive) factor: (a + b + n - 1) / (a - 1)
        [1 - ((alpha + T) / (alpha + T + t))^(r + x) 2F1(r + x, b + n; a + b + n - 1; z)],
        z = t / (alpha + T + t), by scipy's 2F1; where that is not finite (parameters in the
        millions, as fits that cannot pin them down give), by :func:`_expected_series`."""
        r, alpha, a, b = self._fitted("_params")
        n = x + self.first_purchase_dropout
        z = t / (alpha + big_t + t)
        head = (a + b + n - 1) / (a - 1)
        value = head * (
            1
            - ((alpha + big_t) / (alpha + big_t + t)) ** (r + x)
            * hyp2f1(r + x, b + n, a + b + n - 1, z)
        )
        bad = ~np.isfinite(value)
        if np.any(bad):
            terms = (r + x, a + b + n - 1, -t / (alpha + big_t))
            rx, c, w = (np.broadcast_to(v, value.shape)[bad] for v in terms)
            value[bad] = _expected_series(rx, c, w, a)
        return value + 0.0  # where a < 1 the head is negative, and t = 0 gave -0.0

    def _purchase_if_alive(self, t: Array, d: dict[str, Array]) -> Array:
        """Dropout happens only at a purchase, so an alive customer buys within t unless the
        Lomax wait exceeds it: 1 - ((alpha + T) / (alpha + T + t))^(r + x)."""
        r, alpha, _, _ = self._fitted("_params")
        return -np.expm1(-(r + d["x"]) * np.log1p(t / (alpha + d["T"])))

    def _odds_gone(self, d: dict[str, Array]) -> Array:
        """P(dropped out) / P(alive) given the history: 0 when no dropout was possible yet."""
        r, alpha, a, b = self._fitted("_params")
        x, t_x, big_t = d["x"], d["t_x"], d["T"]
        n = x + self.first_purchase_dropout
        can_drop = n > 0
        nm = np.where(can_drop, n, 1.0)
        log_odds = (
            np.log(a) - np.log(b + nm - 1) + (r + x) * (np.log(alpha + big_t) - np.log(alpha + t_x))
        )
        return np.where(can_drop, np.exp(log_odds), 0.0)


def _expected_series(rx: Array, c: Array, w: Array, a: float) -> Array:
    """Eq. 10's bracket without 2F1 trouble: by Pfaff's transformation (DLMF 15.8.1),
    ((alpha + T) / (alpha + T + t))^(r + x) 2F1(r + x, b + n; c; z) = 2F1(r + x, a - 1; c; w)
    with w = -t / (alpha + T), so the expectation is c / (a - 1) [1 - 2F1(r + x, a - 1; c; w)]
    = -c sum_{k >= 1} (r + x)_k (a)_(k-1) / (c)_k w^k / k!: no difference of near-equal
    numbers, no 1 / (a - 1), and its first term is the Poisson-gamma (NBD) limit
    (r + x) t / (alpha + T). The series converges for |w| < 1; beyond that, NaN stays."""
    term = rx * w / c
    total = term.copy()
    for k in range(1, 10_000):
        if not np.any(np.abs(term) > 1e-17 * np.abs(total)):
            break
        term = term * (rx + k) * (a + k - 1) / (c + k) * w / (k + 1)
        total += term
    return np.where(np.abs(w) < 1, -c * total, np.nan)


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
