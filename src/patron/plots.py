"""The report's model charts in a notebook: plotly figures from what the Python API returns.

- :func:`tracking` and :func:`conditional`: a validation (``ws.validate(...)``) drawn as the
  report draws it: cumulative repeat purchases through calibration and holdout, and mean
  holdout purchases by calibration frequency, actual against every model;
- :func:`probability_alive_matrix` and :func:`expected_purchases_matrix`: a fitted purchase
  model over frequency × recency for customers acquired T units ago (lifetimes'
  ``plot_probability_alive_matrix`` and ``plot_frequency_recency_matrix``);
- :func:`period_transactions`: customers by repeat purchases in the calibration period, actual
  against the model's expectation (lifetimes' ``plot_period_transactions``, which simulates;
  here the expectation is exact: each customer's P(X(T) = x) as a new customer observed for
  their T, summed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import plotly.graph_objects as go

from patron.clv import model_name
from patron.errors import InputError
from patron.models.base import as_array, as_count, row_count
from patron.models.history import HistoryModel
from patron.report import theme
from patron.report.model_charts import (
    ALIVE,
    EXPECTED,
    conditional_figure,
    tracking_figure,
)
from patron.report.model_data import matrices

if TYPE_CHECKING:
    from patron.models import Model

__all__ = [
    "conditional",
    "expected_purchases_matrix",
    "frequency_counts",
    "period_transactions",
    "probability_alive_matrix",
    "tracking",
]


def tracking(validation: dict[str, Any]) -> go.Figure:
    """Cumulative repeat purchases of the calibration customers, actual and per model, from
    ``ws.validate(...)``'s result."""
    return tracking_figure(validation)


def conditional(validation: dict[str, Any]) -> go.Figure:
    """Mean holdout purchases by calibration frequency, actual, per model and the naive
    baseline, from ``ws.validate(...)``'s result."""
    return conditional_figure(validation)


def probability_alive_matrix(
    model: Model, T: float, *, max_frequency: float | None = None, time_unit: str = "week"
) -> go.Figure:
    """P(alive) of a customer acquired ``T`` units ago for every frequency (0 to
    ``max_frequency``, default T) and recency (0 to T); cells no history can have are blank."""
    grid = _matrices(model, T, 1.0, max_frequency, time_unit)["alive"]
    return ALIVE.heatmap(grid, time_unit)


def expected_purchases_matrix(
    model: Model,
    t: float,
    T: float,
    *,
    max_frequency: float | None = None,
    time_unit: str = "week",
) -> go.Figure:
    """Expected purchases in the next ``t`` units of a customer acquired ``T`` units ago, for
    every frequency and recency, as :func:`probability_alive_matrix` lays them out."""
    grid = _matrices(model, T, t, max_frequency, time_unit)["expected"]
    return EXPECTED.heatmap(grid, time_unit)


def _matrices(
    model: Model, T: float, t: float, max_frequency: float | None, time_unit: str
) -> dict[str, Any]:
    _history_model(model)
    age = float(as_array(T, "T")[0])
    top = age if max_frequency is None else float(as_array(max_frequency, "max_frequency")[0])
    return matrices(model, T=age, horizon=t, top_frequency=top, time_unit=time_unit)


def period_transactions(
    model: Model,
    frequency: object,
    T: object,
    *,
    weights: object = None,
    max_frequency: int = 7,
) -> go.Figure:
    """Customers by repeat purchases in the calibration period (0, 1, ..., ``max_frequency``
    and more), actual and as ``model`` expects them; ``frequency`` and ``T`` are the summary's
    columns, ``weights`` its optional ``count``. The expectation is
    :func:`frequency_counts`'."""
    actual, expected = frequency_counts(model, frequency, T, weights=weights, top=max_frequency)
    top = as_count(max_frequency, "max_frequency")
    labels = [str(x) for x in range(top)] + [f"{top}+"]
    key = model_name(type(model))
    fig = go.Figure()
    for name, counts, color in (
        ("Actual", actual, theme.INK),
        (theme.MODEL_LABELS.get(key, key), expected, theme.MODEL_COLORS.get(key, theme.PRIMARY)),
    ):
        fig.add_trace(
            go.Bar(
                x=labels,
                y=counts,
                name=name,
                marker_color=color,
                hovertemplate=f"%{{x}} repeat: %{{y:,.1f}} customers<extra>{name}</extra>",
            )
        )
    fig.update_xaxes(title="Repeat purchases in the calibration period", type="category")
    fig.update_yaxes(title="Customers", rangemode="tozero")
    return theme.style(fig, height=400)


def frequency_counts(
    model: Model, frequency: object, T: object, *, weights: object = None, top: int = 7
) -> tuple[np.ndarray, np.ndarray]:
    """Customers with 0, 1, ..., ``top - 1`` and ``top`` or more repeat purchases: counted in
    ``frequency``, and expected by ``model``, sum_i P(X(T_i) = x) for a customer seen only at
    their first purchase and observed for their T_i (what the model says of the calibration
    period as a whole). Both sum to the number of customers."""
    history = _history_model(model)
    top = as_count(top, "max_frequency")
    if top < 1:
        raise InputError("max_frequency must be at least 1")
    rows = row_count(frequency=frequency, T=T)
    x = as_array(frequency, "frequency", integer=True, rows=rows)
    age = as_array(T, "T", rows=rows)
    w = np.ones(rows) if weights is None else as_array(weights, "weights", rows=rows)
    actual = np.bincount(np.minimum(x, top).astype(int), weights=w, minlength=top + 1)
    ages, at = np.unique(age, return_inverse=True)
    per_age = np.bincount(at, weights=w)
    zero = np.zeros(len(ages))
    below = np.array(
        [history.probability_of_purchases(n, ages, zero, zero, zero) @ per_age for n in range(top)]
    )
    expected = np.append(below, per_age.sum() - below.sum())
    return actual, expected


def _history_model(model: Model) -> HistoryModel:
    """``model`` if it is a fitted purchase model of (x, t_x, T), else an InputError."""
    if not isinstance(model, HistoryModel):
        raise InputError(
            f"{type(model).__name__} is not a purchase model of frequency, recency and T; "
            "pass a fitted BG/NBD, MBG/NBD or Pareto/NBD"
        )
    return model
