"""Models of non-contractual purchase histories: (frequency, recency, T) in continuous time."""

from __future__ import annotations

from typing import Self

import numpy as np

from patron.errors import InputError
from patron.models.base import Array, Model, as_array


class HistoryModel(Model):
    """A model fitted on customers' (x, t_x, T): BG/NBD, Pareto/NBD."""

    def fit(self, frequency: object, recency: object, T: object, *, weights: object = None) -> Self:
        """Fit on per-customer (or unique, weighted) rows of frequency, recency and T."""
        data = customer_data(frequency, recency, T)
        w = None if weights is None else as_array(weights, "weights")
        return self._fit(data, w, start=np.ones(len(self.param_names)))


def customer_data(frequency: object, recency: object, T: object) -> dict[str, Array]:
    """Validated (x, t_x, T) arrays: whole x, 0 <= t_x <= T, t_x = 0 when x = 0."""
    x = as_array(frequency, "frequency", integer=True)
    t_x = as_array(recency, "recency")
    big_t = as_array(T, "T")
    if not len(x) == len(t_x) == len(big_t):
        raise InputError("frequency, recency and T must have the same length")
    if np.any(t_x > big_t * (1 + 1e-12)):
        raise InputError("recency cannot exceed T (the time since the first purchase)")
    return {"x": x, "t_x": t_x, "T": big_t}
