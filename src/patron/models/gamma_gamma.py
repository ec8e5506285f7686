"""The Gamma-Gamma model of monetary value (Fader, Hardie & Lee 2005, "RFM and CLV: using
iso-value curves for customer base analysis"; Fader & Hardie 2013, "The Gamma-Gamma model of
monetary value").

A customer's transaction values are Gamma(p, nu), with mean p / nu, and nu varies across
customers as Gamma(q, gamma). Only repeat transactions are used: a customer's data are ``x`` repeat
transactions (frequency) and ``mbar`` their mean value. The likelihood (2013 note) is

    L = Gamma(p x + q) / (Gamma(p x) Gamma(q))
        * gamma^q mbar^(p x - 1) x^(p x) / (gamma + x mbar)^(p x + q)

computed in log space, with its gradient from digamma functions. The model assumes spend and
frequency are independent; :func:`spend_frequency_correlation` is the usual check.
"""

from __future__ import annotations

import warnings
from typing import ClassVar, Self

import numpy as np
from scipy.special import digamma, gammaln

from patron.errors import InputError, PatronWarning
from patron.models.base import (
    Array,
    Model,
    as_array,
    floats,
    levels,
    row_count,
    trigamma,
    weighted_levels,
)


class GammaGammaModel(Model):
    """Gamma-Gamma: value shape ``p``; ``q`` and ``gamma`` of the scale's prior."""

    param_names: ClassVar[tuple[str, ...]] = ("p", "q", "gamma")
    exact_hessian: ClassVar[bool] = True
    merges_rows: ClassVar[bool] = False
    """A row costs a few logs (the special functions are per distinct frequency), less than
    finding equal rows of a continuous spend column: on 400k repeat customers with 75k distinct
    (x, m) the merge took 50 ms and the fit went from 75 to 98 ms."""

    def fit(self, frequency: object, monetary_value: object, *, weights: object = None) -> Self:
        """Fit on the customers with ``frequency > 0``; other rows (and their weights) are left out.

        ``monetary_value`` is the mean value of a customer's repeat transactions.
        """
        data = spend_data(frequency, monetary_value)
        w = _row_weights(weights, len(data["x"]))
        repeat = (data["x"] > 0) & (w > 0)
        valued = repeat & (data["m"] > 0)
        if not np.any(valued):
            raise InputError("the Gamma-Gamma model needs customers with repeat transactions")
        _note_free(w[repeat & ~valued].sum())
        kept = {name: values[valued] for name, values in data.items()}
        return self._fit(kept, w[valued], start=np.ones(3))

    def loglik_rows(self, params: Array, data: dict[str, Array]) -> tuple[Array, Array]:
        p, q, v = params  # v is the paper's gamma (scipy's gamma function is near)
        x, ix = levels(data, "x")  # special functions per distinct frequency, gathered per row
        log_m, log_xm, xm = _spend_terms(data)
        constant, q_slope, x_slope = (values.take(ix) for values in _per_frequency(params, x))
        px = p * data["x"]
        total = v + xm
        log_total = np.log(total)
        grad = np.empty((3, len(total)))
        grad[0] = data["x"] * (x_slope + log_xm - log_total)
        grad[1] = q_slope - log_total
        grad[2] = q / v - (px + q) / total
        return constant + (px - 1) * log_m - (px + q) * log_total, grad.T

    def loglik_sum(self, params: Array, data: dict[str, Array], w: Array) -> tuple[float, Array]:
        """:meth:`loglik_rows` weighted and summed: the terms of the frequency alone summed per
        distinct frequency, the rest as sums of w log(gamma + x mbar) and w x log(...)."""
        p, q, v = params
        x, at_x = weighted_levels(data, "x", w)  # customers per frequency
        log_m, log_xm, xm = _spend_terms(data)
        constant, q_slope, x_slope = _per_frequency(params, x)
        wx, total = w * data["x"], v + xm
        log_total, inverse = np.log(total), 1 / total
        x_logs, logs = wx @ log_total, w @ log_total
        value = at_x @ constant + wx @ (p * log_m) - w @ log_m - p * x_logs - q * logs
        slope = np.array(
            [
                (at_x * x) @ x_slope + wx @ log_xm - x_logs,
                at_x @ q_slope - logs,
                q * w.sum() / v - p * (wx @ inverse) - q * (w @ inverse),
            ]
        )
        return float(value), slope

    def hessian_rows(self, params: Array, data: dict[str, Array], w: Array) -> Array:
        """The weighted Hessian: trigamma functions per distinct frequency for (p, q), and
        1 / (gamma + x mbar) and its square per row for the entries in gamma."""
        p, q, v = params
        x, at_x = weighted_levels(data, "x", w)  # customers per frequency
        _, _, xm = _spend_terms(data)
        tri = trigamma(p * x + q)
        inv = 1 / (v + xm)
        hessian = np.empty((3, 3))
        hessian[0, 0] = at_x @ (x**2 * (tri - trigamma(p * x)))
        hessian[0, 1] = at_x @ (x * tri)
        hessian[0, 2] = -w @ (data["x"] * inv)
        hessian[1, 1] = at_x @ (tri - trigamma(q))
        hessian[1, 2] = w.sum() / v - w @ inv
        hessian[2, 2] = -q * w.sum() / v**2 + w @ ((p * data["x"] + q) * inv**2)
        return np.triu(hessian) + np.triu(hessian, 1).T

    def conditional_expected_average_profit(
        self, frequency: object, monetary_value: object
    ) -> Array:
        """E[M | x, mbar] = p (gamma + x mbar) / (p x + q - 1): a customer's expected mean spend.

        This is the population mean gamma p / (q - 1) and the customer's own mean mbar averaged with
        weights q - 1 and p x (2013 note); it needs q > 1.
        """
        p, q, v = np.asarray(self._fitted("_params"))
        if q <= 1:
            raise InputError(f"the expected spend is infinite when q <= 1 (fitted q = {q:.4g})")
        data = spend_data(frequency, monetary_value)
        x, m = data["x"], data["m"]
        return p * (v + x * m) / (p * x + q - 1)


def _per_frequency(params: Array, x: Array) -> tuple[Array, Array, Array]:
    """Per distinct frequency: the log-likelihood's terms in p, q and gamma alone, and the
    slopes in q (without -log(gamma + x mbar)) and in p over x (without log(x mbar) -
    log(gamma + x mbar))."""
    p, q, v = params
    px = p * x
    shared = digamma(px + q)
    return (
        gammaln(px + q) - gammaln(px) + px * np.log(x) - gammaln(q) + q * np.log(v),
        shared - digamma(q) + np.log(v),
        shared - digamma(px),
    )


def spend_frequency_correlation(
    frequency: object, monetary_value: object, weights: object = None
) -> float:
    """Weighted Pearson correlation of frequency and mean spend among repeat customers.

    The Gamma-Gamma model assumes the two are independent; a value near 0 supports it.
    """
    data = spend_data(frequency, monetary_value)
    w = _row_weights(weights, len(data["x"]))
    repeat = (data["x"] > 0) & (w > 0)
    w, x, m = w[repeat], data["x"][repeat], data["m"][repeat]
    if len(w) < 2:
        raise InputError("the correlation needs at least two repeat customers")
    dx, dm = x - np.average(x, weights=w), m - np.average(m, weights=w)
    spread = np.sqrt((w @ dx**2) * (w @ dm**2))
    if not spread > 0:
        raise InputError("the correlation needs repeat customers who differ in frequency and spend")
    return float((w @ (dx * dm)) / spread)


def _spend_terms(data: dict[str, Array]) -> tuple[Array, Array, Array]:
    """log m̄, log(x m̄) and x m̄ per row, memoized in ``data``: they do not change during a fit."""
    if "x_m" not in data:
        data["x_m"] = data["x"] * data["m"]
        data["log_m"] = np.log(data["m"])
        data["log_x_m"] = np.log(data["x_m"])
    return data["log_m"], data["log_x_m"], data["x_m"]


def spend_data(frequency: object, monetary_value: object) -> dict[str, Array]:
    """Validated (x, mbar) arrays: whole x, and a finite mbar of 0 or more.

    A one-time buyer has no mean repeat spend: their missing (NaN) ``monetary_value``, as
    ``Workspace.customer_summary`` gives it, reads as 0 (lifetimes' convention). Such rows are
    left out of a fit and score the population mean; NaN for a repeat customer is an error. A
    repeat customer whose purchases were free (mbar = 0) is left out of a fit with a warning.
    """
    n = row_count(frequency=frequency, monetary_value=monetary_value)
    x = as_array(frequency, "frequency", integer=True, rows=n)
    m = floats(monetary_value, "monetary_value", rows=n)
    m = as_array(np.where((x == 0) & np.isnan(m), 0.0, m), "monetary_value")
    return {"x": x, "m": m}


def _note_free(customers: float) -> None:
    """Say how many repeat customers a fit leaves out for spending nothing (free or fully
    discounted orders): a value of 0 has no Gamma density, and one such customer would sink
    the whole fit. Their expected spend is the formula's with m = 0, below the population
    mean."""
    if customers > 0:
        warnings.warn(
            f"Gamma-Gamma: left out {customers:,.0f} repeat customer{'' if customers == 1 else 's'}"
            " whose repeat purchases are worth 0 (free orders); they still get an expected spend",
            PatronWarning,
            stacklevel=3,
        )


def _row_weights(weights: object, n: int) -> Array:
    """One non-negative count per row (all ones when ``weights`` is None)."""
    w = np.ones(n) if weights is None else as_array(weights, "weights")
    if len(w) != n:
        raise InputError("weights must be one non-negative count per row")
    return w
