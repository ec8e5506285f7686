"""The numbers a report shows, gathered once from the Workspace API.

Why a step of its own: the tiles, charts and findings read the same small results, so each
question goes to the warehouse once and every part of the report agrees. Only aggregates leave
the engine (the RFM grid is grouped there too).
"""

from __future__ import annotations

from calendar import monthrange
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from patron.arguments import optional_day
from patron.errors import InputError, option
from patron.report.acquisition_data import Acquisition, Costs, gather_acquisition
from patron.report.experiment_data import ExperimentReport, gather_experiments
from patron.report.insights_data import InsightsReport, gather_insights
from patron.report.model_data import ModelReport, gather_models, scored

if TYPE_CHECKING:
    import ibis

    from patron.arguments import DateLike
    from patron.workspace import Workspace

WINDOW = 365
"""KPI window in days: the report speaks of "the last 12 months"."""
EARLY_DAYS = 90
FLOW_MONTHS = 3
"""Lifecycle flows compare each customer's stage now with their stage this many months ago."""


@dataclass(frozen=True)
class ReportData:
    """Everything a report shows; ``prior`` is None when the year before has no customers,
    ``models`` and ``acquisition`` when the history is too short to fit and check a model
    (:func:`patron.report.model_data.calibration_end`)."""

    workspace: str
    as_of: date
    first_purchase: date
    currency: str
    status: dict[str, Any]
    kpis: dict[str, Any]
    prior: dict[str, Any] | None
    channels: list[dict[str, Any]]
    trend: list[dict[str, Any]]
    pareto: list[dict[str, Any]]
    retention: dict[str, Any]
    season_retention: dict[str, Any]
    season_value: dict[str, Any]
    clv: list[dict[str, Any]]
    segments: dict[str, Any]
    rfm: list[dict[str, Any]]
    flows: dict[str, Any]
    models: ModelReport | None
    acquisition: Acquisition | None
    insights: InsightsReport
    experiments: list[ExperimentReport]


def gather(
    ws: Workspace,
    as_of: DateLike | None = None,
    costs: Costs = Costs(),
    calibration_end: DateLike | None = None,
) -> ReportData:
    """Ask the workspace every question the report answers, as of ``as_of`` (default: last day),
    the acquisition guidance with what ``costs`` knows of spend and margin, the models checked
    with a holdout from ``calibration_end`` (default:
    :func:`patron.report.model_data.calibration_end`).

    Raises
    ------
    InputError
        When no purchase falls on or before the as-of date: there is nothing to report.
    """
    day, split = ws.as_of(as_of), optional_day(calibration_end, "calibration_end")
    table = ws.segments(as_of=day)
    first = table.first_date.min().to_pyarrow().as_py()
    if first is None:
        raise InputError(f"no purchases on or before {day}; choose a later {option('as_of')} day")
    kpi_args: dict[str, Any] = {"as_of": day, "window": WINDOW, "early_days": EARLY_DAYS}
    prior_day = day - timedelta(days=WINDOW)
    scores = scored(ws, day, first)
    return ReportData(
        workspace=ws.folder.resolve().name,
        as_of=day,
        first_purchase=first,
        currency=ws.config.currency,
        status=ws.status(),
        kpis=ws.kpis(**kpi_args),
        prior=ws.kpis(**{**kpi_args, "as_of": prior_day}) if prior_day >= first else None,
        channels=_acquired(ws.kpis(**kpi_args, by="acquisition_channel")["groups"]),
        trend=ws.kpis(**kpi_args, trend=True)["points"],
        pareto=ws.concentration(as_of=day, window=WINDOW),
        retention=ws.cohorts(as_of=day, period="month", metric="retention"),
        season_retention=ws.cohorts(as_of=day, period="season", metric="retention"),
        season_value=ws.cohorts(as_of=day, period="season", metric="cumulative_revenue"),
        clv=ws.clv_curves(as_of=day, period="month")["curves"],
        segments=ws.segment_summary(as_of=day, window=WINDOW),
        rfm=rfm_grid(table),
        flows=ws.segment_migration(months_before(day, FLOW_MONTHS), as_of=day, dimension="stage"),
        models=gather_models(ws, day, first, scores, split),
        acquisition=gather_acquisition(ws, day, scores, costs),
        insights=gather_insights(ws, day),
        experiments=gather_experiments(ws, day),
    )


def rfm_grid(table: ibis.Table) -> list[dict[str, Any]]:
    """Customers per (R, FM) cell with the cell's segment, grouped in the engine.

    FM is the axis the segment rules read (:mod:`patron.segments`).
    """
    cells = table.group_by(["r_score", "fm_score", "rfm_segment"]).agg(
        customers=table.count(), revenue=table.window_revenue.sum()
    )
    rows: list[dict[str, Any]] = cells.to_pyarrow().to_pylist()
    return rows


def months_before(day: date, months: int) -> date:
    """The same day ``months`` calendar months earlier, clamped to that month's last day."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, monthrange(year, month + 1)[1]))


def _acquired(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The acquisition channels that won customers: the KPIs' ``no_purchase`` group (refunds of
    people with no purchase yet) keeps their sum whole, but it is no channel to compare."""
    return [g for g in groups if g["customers_total"]]
