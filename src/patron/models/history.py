"""Models of non-contractual purchase histories: (frequency, recency, T) in continuous time."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from numbers import Real
from typing import ClassVar, Self

import numpy as np

from patron.errors import InputError
from patron.models.base import (
    Array,
    Model,
    ahead,
    as_array,
    as_count,
    distinct_rows,
    row_count,
)


class HistoryModel(Model):
    """A model fitted on customers' (x, t_x, T): BG/NBD, MBG/NBD, Pareto/NBD.

    In all three, purchases of a customer alive at T follow a Poisson process whose rate has
    the posterior Gamma(r + x, alpha + T), which gives the timing predictions shared here.
    """

    observed: ClassVar[tuple[str, str] | None] = ("T", "T")

    def fit(self, frequency: object, recency: object, T: object, *, weights: object = None) -> Self:
        """Fit on per-customer (or unique, weighted) rows of frequency, recency and T."""
        data = customer_data(frequency, recency, T)
        w = None if weights is None else as_array(weights, "weights")
        return self._fit(data, w, start=np.ones(len(self.param_names)))

    @abstractmethod
    def expected_purchases(self, t: object) -> Array:
        """E[X(t)]: expected repeat purchases of a new customer within t of their first."""

    def probability_alive(self, frequency: object, recency: object, T: object) -> Array:
        """P(alive at T | x, t_x, T)."""
        return self._alive(customer_data(frequency, recency, T))

    def conditional_expected_purchases(
        self, t: object, frequency: object, recency: object, T: object
    ) -> Array:
        """E[Y(t) | x, t_x, T]: expected purchases in the next t (t broadcasts against rows),
        P(alive) times the expectation of a customer alive at T."""
        d = customer_data(frequency, recency, T)
        return self._alive(d) * self._expected_if_alive(ahead(t), d)

    def probability_of_purchase(
        self, t: object, frequency: object, recency: object, T: object
    ) -> Array:
        """P(Y(t) > 0 | x, t_x, T): at least one purchase in the next t, P(alive) times the
        chance of a customer alive at T."""
        d = customer_data(frequency, recency, T)
        return self._alive(d) * self._purchase_if_alive(ahead(t), d)

    @abstractmethod
    def probability_of_purchases(
        self, n: object, t: object, frequency: object, recency: object, T: object
    ) -> Array:
        """P(Y(t) = n | x, t_x, T): exactly n purchases in the next t, per row; for a list of
        n, (len(n), rows)."""

    def median_time_to_purchase(self, frequency: object, T: object) -> Array:
        """Median wait from T to the next purchase of a customer alive until then:
        (alpha + T) (2^(1 / (r + x)) - 1), the median of the Lomax (Pareto II) wait that the
        Gamma(r + x, alpha + T) rate mixes into. Read it with P(alive)."""
        params = self.params_
        r, alpha = params["r"], params["alpha"]
        n = row_count(frequency=frequency, T=T)
        x, big_t = as_array(frequency, "frequency", rows=n), as_array(T, "T", rows=n)
        return (alpha + big_t) * np.expm1(np.log(2) / (r + x))

    def forecast(self, t: float, frequency: object, recency: object, T: object) -> Array:
        """P(alive), E[Y(t)], P(Y(t) > 0) and the median wait, stacked (4, n): what scoring
        needs, with P(alive) computed once (Pareto/NBD's costs two tail integrals)."""
        d = customer_data(frequency, recency, T)
        alive, span = self._alive(d), ahead(t)
        return np.stack(
            [
                alive,
                alive * self._expected_if_alive(span, d),
                alive * self._purchase_if_alive(span, d),
                self.median_time_to_purchase(d["x"], d["T"]),
            ]
        )

    @abstractmethod
    def _alive(self, d: dict[str, Array]) -> Array:
        """P(alive at T) per row of validated data."""

    def discounted_expected_purchases(
        self,
        periods: int,
        rate: float,
        frequency: object,
        recency: object,
        T: object,
        *,
        step: float = 1.0,
    ) -> Array:
        """sum_{k=1..periods} (E[Y(k s)] - E[Y((k - 1) s)]) / (1 + rate)^k: each of the next
        ``periods`` periods' expected purchases, discounted at ``rate`` per period (the
        discounted expected transactions of Fader, Hardie & Lee 2005, "RFM and CLV"). A
        period is ``step`` time units (s): one by default, 30 for months of a model in days,
        as lifetimes' ``customer_lifetime_value(..., time=12, discount_rate=0.01, freq="D")``
        discounts 12 months (its months are 4.345 units for a model in weeks).

        P(alive) times the same sum for a customer alive at T, which reads x and T alone: it is
        computed on the distinct (x, T) pairs, not on every row (10M customers' 213k rows hold a
        few thousand pairs; a matrix of the rows took 90 MB), ``STEPS_AT_ONCE`` periods at a time
        (a horizon of 100,000 periods in one matrix took 14 GB).
        """
        d = customer_data(frequency, recency, T)
        steps = np.arange(as_count(periods, "periods") + 1, dtype=float)[:, None]
        discount = (1 + rate) ** -steps
        if isinstance(step, bool) or not (isinstance(step, Real) and 0 < float(step) < np.inf):
            raise InputError(f"step must be one positive number of time units, not {step!r}")

        def per_pair(t: Array, x: Array, big_t: Array) -> Array:
            total = np.zeros(len(x))
            before = self._expected_if_alive_rows(t[:1], x, big_t)[0]  # E[Y(0)]: 0
            for start in range(1, len(t), STEPS_AT_ONCE):
                chunk = slice(start, start + STEPS_AT_ONCE)
                expected = self._expected_if_alive_rows(t[chunk], x, big_t)
                ahead = np.diff(expected, axis=0, prepend=before[None, :])
                total += np.sum(ahead * discount[chunk], axis=0)
                before = expected[-1]
            return total

        return self._alive(d) * per_distinct_history(per_pair, steps * float(step), d)

    def _expected_if_alive(self, t: Array, d: dict[str, Array]) -> Array:
        """E[Y(t) | alive at T, x, t_x, T], once per distinct (x, T) unless t varies by row
        (:func:`per_distinct_history`): scoring asks for it at every step of a horizon."""
        return per_distinct_history(self._expected_if_alive_rows, t, d)

    @abstractmethod
    def _expected_if_alive_rows(self, t: Array, x: Array, big_t: Array) -> Array:
        """E[Y(t) | alive at T] for rows of (x, T): a customer alive at T buys at the posterior
        rate, so t_x does not enter."""

    @abstractmethod
    def _purchase_if_alive(self, t: Array, d: dict[str, Array]) -> Array:
        """P(Y(t) > 0 | alive at T, x, t_x, T)."""


STEPS_AT_ONCE = 64
"""Periods of a discounted sum evaluated together: a (64 x pairs) matrix at a time."""


def per_distinct_history(
    evaluate: Callable[[Array, Array, Array], Array], t: Array, d: dict[str, Array]
) -> Array:
    """``evaluate(t, x, T)`` for every row of ``d``, called once per distinct (x, T) and
    gathered back unless ``t`` varies by row: the predictions that read x and T alone go
    through a special function or an integral per row (BG/NBD's 2F1, Pareto/NBD's tails), and
    a hundred thousand (x, t_x, T) rows hold a few thousand such pairs."""
    if t.ndim and t.shape[-1] > 1:
        return evaluate(t, d["x"], d["T"])
    row, index = distinct_rows(d["x"], d["T"])
    return evaluate(t, d["x"][row], d["T"][row]).take(index, axis=-1)


def customer_data(frequency: object, recency: object, T: object) -> dict[str, Array]:
    """Validated (x, t_x, T) arrays: whole x, 0 <= t_x <= T, t_x = 0 when x = 0; a single
    number stands for every row (:func:`~patron.models.base.row_count`)."""
    n = row_count(frequency=frequency, recency=recency, T=T)
    x = as_array(frequency, "frequency", integer=True, rows=n)
    t_x = as_array(recency, "recency", rows=n)
    big_t = as_array(T, "T", rows=n)
    if np.any(t_x > big_t * (1 + 1e-12)):
        raise InputError("recency cannot exceed T (the time since the first purchase)")
    if np.any((x == 0) & (t_x > 0)):
        raise InputError(f"recency {NO_REPEATS_RECENCY}")
    return {"x": x, "t_x": t_x, "T": big_t}


NO_REPEATS_RECENCY = (
    "must be 0 where frequency is 0: recency is the time from a customer's first purchase to "
    "their last, not the time since the last (RFM's recency)"
)
"""Said of a customer without repeat purchases whose recency is not 0: the sign of a summary
that measured recency the RFM way, which every model would read as a different history."""
