"""The report's customer insights: when to nudge, what each segment leans to, who buys on
discount, and which first purchases bring customers back.

Each part is the answer of :attr:`patron.workspace.Workspace.insights` (so the report and
``patron insights ...`` agree), cut to what a page can show: the top items per segment, the
best gateways, the recommendations' backtest. Parts that need order lines are None when none
are loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from patron.errors import InputError

if TYPE_CHECKING:
    from patron.workspace import Workspace

TOP_ITEMS = 2
"""Categories shown per segment."""
GATEWAYS = 5
"""Gateway first purchases shown."""
REFILLS = 5
"""Regular products shown."""
DUE_DAYS = 14
"""The report counts the customers whose product is due within this many days."""
FINDINGS = 5
"""Ideal-profile findings shown."""


@dataclass(frozen=True)
class InsightsReport:
    """Timing (:func:`patron.insights.timing.timing`), category affinity by RFM segment and
    its repeat-buyer and gateway parts, discount behaviour by RFM segment, the
    recommendations' backtest against popularity (None without a purchase before its split),
    the regular products and how many customers are due (``refills``), the ideal customer
    profile (None while nobody was acquired a year before the as-of day), and preferred
    channels, NPS and return rate by RFM segment."""

    timing: dict[str, Any]
    affinity: dict[str, Any] | None
    discount: dict[str, Any]
    backtest: dict[str, Any] | None
    refills: dict[str, Any] | None
    profile: dict[str, Any] | None
    channels: dict[str, Any]


def gather_insights(ws: Workspace, as_of: date) -> InsightsReport:
    """The insights as of ``as_of``; affinity only when order lines are loaded."""
    insights = ws.insights
    has_lines = insights.has_lines()
    found = insights.affinity(as_of=as_of, top=TOP_ITEMS) if has_lines else None
    return InsightsReport(
        timing=insights.timing(as_of=as_of),
        affinity=_trimmed(found) if found else None,
        discount=insights.discount(as_of=as_of),
        backtest=_backtest(ws, as_of) if has_lines else None,
        refills=_refills(ws, as_of) if has_lines else None,
        profile=_profile(ws, as_of),
        channels=insights.channels(as_of=as_of),
    )


def _refills(ws: Workspace, as_of: date) -> dict[str, Any]:
    """The regular products with the most repeat buyers, and the customers due soon."""
    found = ws.insights.replenishment(as_of=as_of)
    regular = [p for p in found["products"] if p["regular"]]
    due = ws.insights.due(within=DUE_DAYS, as_of=as_of)
    return {
        **found,
        "regular": len(regular),
        "products": regular[:REFILLS],
        "due_within": DUE_DAYS,
        "due_customers": int(due.customer_key.nunique().to_pyarrow().as_py()),
    }


def _profile(ws: Workspace, as_of: date) -> dict[str, Any] | None:
    """The ideal customer profile's head and first findings, if anyone can be judged."""
    try:
        found = ws.insights.profile(as_of=as_of)
    except InputError:
        return None
    if not found["customers"]:
        return None
    return {**found, "findings": found["findings"][:FINDINGS]}


def _backtest(ws: Workspace, as_of: date) -> dict[str, Any] | None:
    """The default backtest, or None when no customer bought on both sides of its split."""
    try:
        found = ws.insights.backtest(as_of=as_of)
    except InputError:
        return None
    return found if found["customers"] else None


def _trimmed(found: dict[str, Any]) -> dict[str, Any]:
    """Only what the page shows: the items groups lean to (shrunk lift above 1), the first
    repeat-buyer items and gateway first purchases."""
    repeat, gates = found["repeat"], found["gateways"]
    return {
        **found,
        "groups": [g for g in found["groups"] if g["shrunk_lift"] > 1],
        "repeat": {**repeat, "items": repeat["items"][:GATEWAYS]},
        "gateways": {**gates, "items": gates["items"][:GATEWAYS]},
    }
