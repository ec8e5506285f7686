"""The report's predicted-value numbers: model validation, prediction matrices, the CLV spread.

Why apart from :mod:`patron.report.data`: these come from fitted models rather than counts, and
need a rule of their own for when the history is long enough to fit and check a model. As for
the rest of the report only aggregates leave the engine: the validation's grouped rows, two
small frequency × recency grids scored in numpy, and the CLV histogram grouped in the engine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise
from typing import TYPE_CHECKING, Any, NamedTuple

import ibis
import numpy as np

from patron.clv import unit_days
from patron.errors import InputError, option
from patron.models import Model
from patron.models.history import HistoryModel
from patron.predictions import GROUPS

if TYPE_CHECKING:
    from collections.abc import Callable

    from patron.workspace import Workspace

MIN_SPAN_DAYS = 84
"""Twelve weeks: with less history a calibration period holds too few repeat purchases to fit."""
MAX_HOLDOUT_DAYS = 182
"""The holdout is at most 26 weeks: enough to judge a model, leaving the rest to fit on."""
GRID_CELLS = 100
"""A matrix axis longer than this samples every k-th time unit or frequency."""
TOP_FREQUENCY = 0.99
"""The matrices reach the 99th percentile of frequency: the rare heavier buyers would squeeze
every other row into a corner."""
BINS_PER_DECADE = 5
MAX_DECADES = 5
LOW_QUANTILE = 0.01
"""The CLV histogram starts at the decade of the 1st percentile, at most ``MAX_DECADES`` below
the largest CLV; its first bin also holds every smaller value."""


@dataclass(frozen=True)
class Grid:
    """A prediction for each (frequency, recency) at one T: a row per frequency, a column per
    recency, None where no history can be (a customer without repeat purchases has recency 0;
    x repeat purchases take at least x days)."""

    frequency: list[float]
    recency: list[float]
    values: list[list[float | None]]


@dataclass(frozen=True)
class Value:
    """Predicted CLV of the scored customers: ``groups`` holds each churn-risk group's and value
    tier's ``customers`` and ``equity``; ``bins`` the histogram (``low``, ``high``,
    ``customers``, ``equity``); ``top_share`` the top 20%'s share of the equity."""

    customers: int
    equity: float
    mean: float
    median: float
    top_share: float | None
    groups: dict[str, dict[str, dict[str, float]]]
    bins: list[dict[str, float]]


@dataclass(frozen=True)
class ModelReport:
    """Validation of every purchase model (:func:`patron.validate.validate`), and what the
    predictions of ``model`` as of ``as_of`` say; ``stored`` when ``patron predict`` made them."""

    validation: dict[str, Any]
    model: str
    as_of: date
    stored: bool
    time_unit: str
    horizon: int
    T: float
    alive: Grid
    expected: Grid
    value: Value


def calibration_end(first: date, as_of: date) -> date | None:
    """Where the report splits the history to check the models: the holdout is the last
    min(26 weeks, a third of the days from the first purchase to the as-of day); None when
    those days are fewer than 12 weeks' (``MIN_SPAN_DAYS``)."""
    span = (as_of - first).days
    if span < MIN_SPAN_DAYS:
        return None
    return as_of - timedelta(days=min(MAX_HOLDOUT_DAYS, span // 3))


class Scored(NamedTuple):
    """Per-customer predictions (:meth:`patron.workspace.Workspace.predict`'s table) and whether
    they are the ones ``patron predict`` stored."""

    table: ibis.Table
    stored: bool


def scored(ws: Workspace, as_of: date, first: date) -> Scored | None:
    """The predictions every section of a report reads, made once (fitting is the slow part);
    None when the history is too short for :func:`calibration_end` or no model fits it."""
    if calibration_end(first, as_of) is None:
        return None
    try:
        return predictions(ws, as_of)
    except InputError:
        return None


def gather_models(
    ws: Workspace, as_of: date, first: date, scores: Scored | None, split: date | None = None
) -> ModelReport | None:
    """The model numbers of a report as of ``as_of`` from the predictions ``scores``
    (:func:`scored`); None without them, or when a model cannot be fitted on the history.
    The models are checked with a holdout from ``split`` (``patron report --calibration-end``,
    as ``patron validate`` would be run) to ``as_of``, by default from :func:`calibration_end`;
    a split the user chose that does not fit the data is their error to see."""
    end = calibration_end(first, as_of)
    if end is None or scores is None:
        return None
    if split is not None:
        _check_split(split, first, as_of)
        return _models(ws, as_of, split, scores)
    try:
        return _models(ws, as_of, end, scores)
    except InputError:
        return None


def _check_split(split: date, first: date, as_of: date) -> None:
    if not first < split < as_of:
        raise InputError(
            f"{option('calibration_end')} {split} must fall after the first purchase ({first}) "
            f"and before the report's day ({as_of}), which ends the holdout"
        )


def _models(ws: Workspace, as_of: date, end: date, scores: Scored) -> ModelReport:
    """:func:`gather_models` with the holdout from ``end``."""
    validation = ws.validate(end, as_of)
    stats = _stats(scores.table)
    value = _value(scores.table, stats)
    model = ws.fit(stats["model"], calibration_end=as_of, time_unit=stats["time_unit"])
    return ModelReport(
        validation=validation,
        model=stats["model"],
        as_of=as_of,
        stored=scores.stored,
        time_unit=stats["time_unit"],
        horizon=int(stats["horizon"]),
        T=stats["T"],
        **matrices(
            model,
            T=stats["T"],
            horizon=int(stats["horizon"]),
            top_frequency=stats["top_frequency"],
            time_unit=stats["time_unit"],
        ),
        value=value,
    )


def predictions(ws: Workspace, as_of: date) -> Scored:
    """Per-customer predictions as of ``as_of``, and whether they are the stored ones.

    The stored table is preferred when ``patron predict`` made it as of that day, so the report
    shows what segments, exports and campaigns read; otherwise they are computed with
    ``patron predict``'s defaults, not stored (a report never writes to the workspace).
    """
    stored = ws.predictions_as_of(as_of)
    if stored is not None:
        return Scored(stored, True)
    return Scored(ws.predict(as_of=as_of), False)


def _stats(table: ibis.Table) -> dict[str, Any]:
    """Totals of the CLV, the matrices' extent, and the model, unit and horizon that scored."""
    clv = table.clv
    stats: dict[str, Any] = (
        table.aggregate(
            customers=table.count(),
            equity=clv.sum(),
            mean=clv.mean(),
            median=clv.median(),
            top=clv.max(),
            low=clv.quantile(LOW_QUANTILE),
            top_frequency=table.frequency.quantile(TOP_FREQUENCY),
            T=table["T"].max(),
            model=table.model.max(),
            time_unit=table.time_unit.max(),
            horizon=table.horizon.max(),
        )
        .to_pyarrow()
        .to_pylist()[0]
    )
    top = stats["top"] or 0.0
    if not (math.isfinite(top) and top > 0):  # NaN when the model's fit failed on odd data
        raise InputError("no customer has a finite positive predicted CLV")
    return stats


def _value(table: ibis.Table, stats: dict[str, Any]) -> Value:
    """Customers and equity per group and per histogram bin, from one grouping in the engine."""
    edges = _edges(stats["low"], stats["top"])
    start = float(np.log10(edges[0]))
    index = ((ibis.greatest(table.clv, edges[0]).log10() - start) * BINS_PER_DECADE).floor()
    cells = table.mutate(bin=ibis.least(index, len(edges) - 2).cast("int64"))
    rows = (
        cells.group_by(["churn_risk", "predicted_value", "bin"])
        .agg(customers=cells.count(), equity=cells.clv.sum())
        .to_pyarrow()
        .to_pylist()
    )
    groups = {dim: {g: _totals(rows, dim, g) for g in names} for dim, names in GROUPS.items()}
    bins = [
        {"low": float(low), "high": float(high), **_totals(rows, "bin", k)}
        for k, (low, high) in enumerate(pairwise(edges))
    ]
    equity = stats["equity"]
    top = groups["predicted_value"]["top_20pct"]["equity"]
    return Value(
        customers=stats["customers"],
        equity=equity,
        mean=stats["mean"],
        median=stats["median"],
        top_share=top / equity if equity else None,
        groups=groups,
        bins=bins,
    )


def _totals(rows: list[dict[str, Any]], key: str, value: object) -> dict[str, float]:
    picked = [r for r in rows if r[key] == value]
    return {
        "customers": sum(r["customers"] for r in picked),
        "equity": sum(r["equity"] for r in picked),
    }


def _edges(low: float | None, top: float) -> np.ndarray:
    """Log-spaced bin edges, ``BINS_PER_DECADE`` to a decade, whole decades from the one
    holding ``low`` (at most ``MAX_DECADES`` down) to the one above ``top``."""
    upper = math.ceil(math.log10(top))
    lower = upper - MAX_DECADES
    if low and low > 0:
        lower = max(lower, min(math.floor(math.log10(low)), upper - 1))
    return 10.0 ** np.linspace(lower, upper, (upper - lower) * BINS_PER_DECADE + 1)


def matrices(
    model: Model, *, T: float, horizon: float, top_frequency: float, time_unit: str
) -> dict[str, Grid]:
    """P(alive) and the purchases expected in the next ``horizon`` units of a customer
    acquired ``T`` units ago, from frequency 0 to ``top_frequency`` (the report: its 99th
    percentile) and recency 0 to T; ``time_unit`` says which histories can be (x repeat
    purchases take at least x days)."""
    assert isinstance(model, HistoryModel)

    def expected(x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray) -> np.ndarray:
        return model.conditional_expected_purchases(horizon, x, t_x, big_t)

    frequency, recency = _axis(max(top_frequency, 1.0)), _axis(T)
    cells = (frequency, recency, T, unit_days(time_unit))
    return {"alive": _grid(model.probability_alive, *cells), "expected": _grid(expected, *cells)}


def _axis(top: float) -> np.ndarray:
    """0 to ``top`` in whole units, in steps that keep it within ``GRID_CELLS`` cells."""
    step = max(1, math.ceil(top / (GRID_CELLS - 1)))
    return np.arange(0, math.floor(top) + 1, step, dtype=float)


def _grid(
    predict: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray],
    frequency: np.ndarray,
    recency: np.ndarray,
    big_t: float,
    days_per_unit: float,
) -> Grid:
    """``predict(x, t_x, T)`` over frequency × recency at one T, scored where a history can be."""
    x, t_x = np.meshgrid(frequency, recency, indexing="ij")
    possible = np.where(x == 0, t_x == 0, t_x * days_per_unit >= x)
    values = np.full(x.shape, np.nan)
    values[possible] = predict(x[possible], t_x[possible], np.full(possible.sum(), big_t))
    grid = [[None if math.isnan(v) else v for v in row] for row in values.tolist()]
    return Grid(frequency.tolist(), recency.tolist(), grid)
