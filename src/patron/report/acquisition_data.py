"""The report's acquisition guidance: what a new customer of each channel is worth and may cost.

Why apart from :mod:`patron.report.data`: these figures are :mod:`patron.acquisition`'s, which
rest on predicted CLV, so the section shares the predictions of
:mod:`patron.report.model_data` instead of fitting the models again. The report has no spend
file, so it shows what needs none: per acquisition channel (everyone acquired by the as-of day)
and per channel and acquisition month of the last :data:`patron.defaults.MONTHS`, the new
customers, their predicted CLV with its 90% band, lifetime value, first-year margin and the
most a new customer may cost at 3:1. The options are ``patron acquisition``'s defaults
(:data:`HORIZON`, no margin given: money is net revenue), so every figure equals
``ws.acquisition(as_of=day)``'s and ``ws.acquisition(as_of=day, by="month")``'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from patron.acquisition import groups, guidance
from patron.defaults import MONTHS, TARGET_RATIO
from patron.errors import InputError
from patron.predictions import Horizon

if TYPE_CHECKING:
    from patron.report.model_data import Scored
    from patron.workspace import Workspace

HORIZON = Horizon()
"""The predictions :func:`patron.report.model_data.predictions` computes: ``patron predict``'s
defaults (52 weeks, no discount, margin 1)."""
TIME_UNIT = "week"


@dataclass(frozen=True)
class Acquisition:
    """Acquisition guidance as of ``as_of`` (the rows of :func:`patron.acquisition.guidance`).

    ``channels`` has a row per acquisition channel over everyone it acquired; ``months`` a row
    per channel and acquisition month of the last ``len(periods)`` months (none before the
    first sale), the last counted to ``as_of`` only (``partial_month`` when that is before its
    end).
    """

    as_of: date
    horizon: int
    time_unit: str
    margin: float
    target_ratio: float
    channels: list[dict[str, Any]]
    months: list[dict[str, Any]]
    periods: list[str]
    partial_month: bool


def gather_acquisition(ws: Workspace, as_of: date, scores: Scored | None) -> Acquisition | None:
    """The section's numbers from the report's predictions ``scores``; None without them or
    when nobody was acquired.

    Stored predictions do not record the margin and discount rate they were made with, and
    lifetime value adds the margin to date to the predicted CLV, so with stored ones the
    predictions are computed here with :data:`HORIZON` (one more fit, only in that case).
    """
    if scores is None:
        return None
    try:
        table = ws.predict(as_of=as_of, horizon=HORIZON) if scores.stored else scores.table
        sales = ws.sales()
        # one pass for both views: a channel's group has no period, a month's its YYYY-MM
        plan = groups(sales, as_of) + groups(sales, as_of, by="month", months=MONTHS)
        rows = guidance(sales, table, as_of, plan, margin=HORIZON.margin, target_ratio=TARGET_RATIO)
    except InputError:
        return None
    channels = [r for r in rows if r["period"] is None]
    if not any(r["new_customers"] for r in channels):
        return None
    periods = _since_first_sale([r for r in rows if r["period"] is not None])
    return Acquisition(
        as_of=as_of,
        horizon=HORIZON.periods,
        time_unit=TIME_UNIT,
        margin=HORIZON.margin,
        target_ratio=TARGET_RATIO,
        channels=channels,
        months=[r for r in rows if r["period"] in periods],
        periods=periods,
        partial_month=(as_of + timedelta(days=1)).day != 1,
    )


def _since_first_sale(months: list[dict[str, Any]]) -> list[str]:
    """The acquisition months from the first with a new customer on: a shop younger than the
    months shown would start its chart with months of empty bars before it opened."""
    periods = sorted({r["period"] for r in months})
    sold = {r["period"] for r in months if r["new_customers"]}
    return periods[periods.index(min(sold)) :] if sold else periods
