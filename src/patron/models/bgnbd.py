"""The BG/NBD model of Fader, Hardie & Lee (2005), "Counting your customers the easy way".

While alive, a customer buys as a Poisson process with rate lambda ~ Gamma(r, alpha); after each
purchase they drop out with probability p ~ Beta(a, b). A customer's data are ``x`` repeat
purchases (frequency), ``t_x`` the time of the last one (recency) and ``T`` the time since the
first purchase, all in one time unit. The likelihood (paper, eq. 6) is

    L = Gamma(r + x) alpha^r / Gamma(r)
        * [ B(a, b + x) / B(a, b) (alpha + T)^-(r + x)
            + 1{x > 0} B(a + 1, b + x - 1) / B(a, b) (alpha + t_x)^-(r + x) ]

computed in log space (log-sum-exp of the two terms), with its gradient from digamma functions.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from scipy.special import betaln, digamma, gammaln, hyp2f1

from patron.models.base import Array
from patron.models.history import HistoryModel, customer_data


class BetaGeoModel(HistoryModel):
    """BG/NBD: parameters ``r``, ``alpha`` (purchase rate) and ``a``, ``b`` (dropout)."""

    param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "a", "b")

    def loglik_rows(self, params: Array, data: dict[str, Array]) -> tuple[Array, Array]:
        r, alpha, a, b = params
        x, t_x, T = data["x"], data["t_x"], data["T"]
        repeat = x > 0
        xm = np.where(repeat, x, 1.0)  # keeps b + x - 1 > 0 where the term is unused
        common = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
        alive = betaln(a, b + x) - betaln(a, b) - (r + x) * np.log(alpha + T)
        gone = betaln(a + 1, b + xm - 1) - betaln(a, b) - (r + x) * np.log(alpha + t_x)
        gone = np.where(repeat, gone, -np.inf)
        mix = np.logaddexp(alive, gone)
        w_alive, w_gone = np.exp(alive - mix), np.exp(gone - mix)
        ab, abx = digamma(a + b), digamma(a + b + x)
        grad = np.stack(
            [
                digamma(r + x)
                - digamma(r)
                + np.log(alpha)
                - w_alive * np.log(alpha + T)
                - w_gone * np.log(alpha + t_x),
                r / alpha - w_alive * (r + x) / (alpha + T) - w_gone * (r + x) / (alpha + t_x),
                w_alive * (ab - abx) + w_gone * (digamma(a + 1) - digamma(a) + ab - abx),
                w_alive * (digamma(b + x) - abx - digamma(b) + ab)
                + w_gone * (digamma(b + xm - 1) - abx - digamma(b) + ab),
            ],
            axis=1,
        )
        return common + mix, grad

    def expected_purchases(self, t: object) -> Array:
        """E[X(t)]: expected purchases of a new customer in a period of length t (eq. 7)."""
        r, alpha, a, b = self._fitted("_params")
        t = np.asarray(t, dtype=float)
        z = t / (alpha + t)
        return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, z))

    def probability_alive(self, frequency: object, recency: object, T: object) -> Array:
        """P(alive | x, t_x, T) (Fader, Hardie & Lee 2008 note, eq. 2)."""
        r, alpha, a, b = self._fitted("_params")
        d = customer_data(frequency, recency, T)
        return 1 / (1 + _odds_gone(r, alpha, a, b, d))

    def conditional_expected_purchases(
        self, t: object, frequency: object, recency: object, T: object
    ) -> Array:
        """E[Y(t) | x, t_x, T]: expected purchases in the next t given the history (eq. 10)."""
        r, alpha, a, b = self._fitted("_params")
        d = customer_data(frequency, recency, T)
        x, big_t = d["x"], d["T"]
        t = np.asarray(t, dtype=float)
        z = t / (alpha + big_t + t)
        head = (a + b + x - 1) / (a - 1)
        tail = 1 - ((alpha + big_t) / (alpha + big_t + t)) ** (r + x) * hyp2f1(
            r + x, b + x, a + b + x - 1, z
        )
        return head * tail / (1 + _odds_gone(r, alpha, a, b, d))


def _odds_gone(r: float, alpha: float, a: float, b: float, d: dict[str, Array]) -> Array:
    """P(dropped out) / P(alive) given the history: 0 without repeat purchases."""
    x, t_x, big_t = d["x"], d["t_x"], d["T"]
    repeat = x > 0
    xm = np.where(repeat, x, 1.0)
    log_odds = (
        np.log(a) - np.log(b + xm - 1) + (r + x) * (np.log(alpha + big_t) - np.log(alpha + t_x))
    )
    return np.where(repeat, np.exp(log_odds), 0.0)
