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

import plotly.graph_objects as go

from patron.clv import model_name
from patron.errors import InputError
from patron.models.base import as_array
from patron.models.history import HistoryModel
from patron.report.model_charts import (
    ALIVE,
    EXPECTED,
    conditional_figure,
    frequencies_figure,
    models_of,
    tracking_figure,
)
from patron.report.model_data import matrices
from patron.validate import frequency_rows

if TYPE_CHECKING:
    from patron.models import Model

__all__ = [
    "conditional",
    "expected_purchases_matrix",
    "frequencies",
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
    """The report's two grids (:func:`patron.report.model_data.matrices`) at age ``T``."""
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
    :func:`patron.validate.frequency_counts`."""
    key = model_name(type(model))
    models = {key: _history_model(model)}
    rows = frequency_rows(models, frequency, T, weights, top=max_frequency)
    return frequencies_figure(rows, [key])


def frequencies(validation: dict[str, Any]) -> go.Figure:
    """:func:`period_transactions` of every model a validation (``ws.validate(...)``) fitted."""
    return frequencies_figure(validation["frequencies"], models_of(validation))


def _history_model(model: Model) -> HistoryModel:
    """``model`` if it is a fitted purchase model of (x, t_x, T), else an InputError."""
    if not isinstance(model, HistoryModel):
        raise InputError(
            f"{type(model).__name__} is not a purchase model of frequency, recency and T; "
            "pass a fitted BG/NBD, MBG/NBD or Pareto/NBD"
        )
    return model
