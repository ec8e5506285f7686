"""The report's acquisition guidance: what a new customer of each channel is worth and may cost.

Why apart from :mod:`patron.report.data`: these figures are :mod:`patron.acquisition`'s, which
rest on predicted CLV, so the section shares the predictions of
:mod:`patron.report.model_data` instead of fitting the models again. Per acquisition channel
(everyone acquired by the as-of day) and per channel and acquisition month of the last
:data:`patron.defaults.MONTHS`: the new customers, their predicted CLV with its 90% band,
lifetime value, first-year margin and the most a new customer may cost at 3:1. Given the costs
``patron report --spend FILE --margin M`` passes (:class:`Costs`), money is margin and a
channel with spend is the customers acquired in its spend periods (their ``total`` where
there are several), with its spend, CAC, CLV:CAC and payback. The other options are ``patron
acquisition``'s defaults (:data:`HORIZON`), so every figure equals ``ws.acquisition(as_of=day,
spend=FILE, horizon=Horizon(margin=M))``'s and the same ``by="month"``'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from patron.acquisition import groups, guidance
from patron.acquisition.plan import window_months
from patron.acquisition.spend import Spend, month_days, read_spend
from patron.arguments import as_path
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
class Costs:
    """What the report knows of acquiring customers: the rows of a spend file (none: no spend
    known) and the margin rate that turns net revenue into margin (1: money is net revenue)."""

    spend: tuple[Spend, ...] = ()
    margin: float = 1.0

    @classmethod
    def read(cls, spend: str | Path | None = None, margin: float = 1.0) -> Costs:
        """The costs from a spend file (:func:`patron.acquisition.spend.read_spend`) and a
        margin, both checked before the report asks the workspace anything."""
        (settings := Horizon(margin=margin)).check()
        rows = () if spend is None else tuple(read_spend(as_path(spend, "spend")))
        return cls(rows, settings.margin)


@dataclass(frozen=True)
class Acquisition:
    """Acquisition guidance as of ``as_of`` (the rows of :func:`patron.acquisition.guidance`).

    ``channels`` has a row per acquisition channel over everyone it acquired; ``months`` a row
    per channel and acquisition month of the last ``len(periods)`` months (none before the
    first sale), the last counted to ``as_of`` only (``partial_month`` when that is before its
    end). ``spend``: whether a spend file gave the channels' costs.
    """

    as_of: date
    horizon: int
    time_unit: str
    margin: float
    target_ratio: float
    spend: bool
    channels: list[dict[str, Any]]
    months: list[dict[str, Any]]
    periods: list[str]
    partial_month: bool


def gather_acquisition(
    ws: Workspace, as_of: date, scores: Scored | None, costs: Costs = Costs()
) -> Acquisition | None:
    """The section's numbers from the report's predictions ``scores``; None without them or
    when nobody was acquired. A spend file that does not fit the data (a channel no customer
    came through) is the user's error to see, not an empty section.

    Stored predictions do not record the margin and discount rate they were made with, and
    lifetime value adds the margin to date to the predicted CLV, so with stored ones, or a
    margin, the predictions are computed here with :data:`HORIZON` at that margin (one more
    fit, only in that case).
    """
    if scores is None:
        return None
    if costs.spend:
        groups(ws.sales(), as_of, costs.spend)  # checks the spend against the channels
    horizon = Horizon(margin=costs.margin)
    try:
        fresh = scores.stored or horizon != HORIZON
        table = ws.predict(as_of=as_of, horizon=horizon) if fresh else scores.table
        sales = ws.sales()
        # one pass for both views: the channels' groups first, then the months'
        plan = groups(sales, as_of, costs.spend)
        months = groups(sales, as_of, _monthly(costs.spend, as_of), by="month", months=MONTHS)
        rows = guidance(
            sales, table, as_of, plan + months, margin=horizon.margin, target_ratio=TARGET_RATIO
        )
    except InputError:
        return None
    channels = _one_per_channel(rows[: len(plan)])
    if not any(r["new_customers"] for r in channels):
        return None
    periods = _since_first_sale(rows[len(plan) :])
    return Acquisition(
        as_of=as_of,
        horizon=HORIZON.periods,
        time_unit=TIME_UNIT,
        margin=horizon.margin,
        target_ratio=TARGET_RATIO,
        spend=bool(costs.spend),
        channels=channels,
        months=[r for r in rows[len(plan) :] if r["period"] in periods],
        periods=periods,
        partial_month=(as_of + timedelta(days=1)).day != 1,
    )


def _monthly(spends: tuple[Spend, ...], as_of: date) -> list[Spend]:
    """The spend rows the months' view can place: calendar months among the ones it shows.
    A row over another span (a quarter, a campaign's dates) counts in the channels' view
    only, where ``patron acquisition --by month`` refuses it."""
    first = month_days(window_months(as_of, MONTHS)[0])[0]
    return [
        s for s in spends if s.start >= first and month_days(f"{s.start:%Y-%m}") == (s.start, s.end)
    ]


def _one_per_channel(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A channel's row over all its spend periods: their ``total`` where it has several, its
    one spend period's, or everyone it acquired when it has no spend."""
    chosen: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["channel"] not in chosen or row["period"] == "total":
            chosen[row["channel"]] = row
    return list(chosen.values())


def _since_first_sale(months: list[dict[str, Any]]) -> list[str]:
    """The acquisition months from the first with a new customer on: a shop younger than the
    months shown would start its chart with months of empty bars before it opened."""
    periods = sorted({r["period"] for r in months})
    sold = {r["period"] for r in months if r["new_customers"]}
    return periods[periods.index(min(sold)) :] if sold else periods
