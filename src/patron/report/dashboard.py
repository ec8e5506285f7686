"""The KPI tiles: each headline KPI now, and how it moved against a year earlier.

Shares move in percentage points (a retention rate going from 30% to 33% is "+3 pts", not
"+10%"); counts and money move in percent. The tone says whether the move is good news, so a
reader sees at a glance what to worry about.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from patron.report import format as fmt

if TYPE_CHECKING:
    from patron.report.data import ReportData

Kind = Literal["count", "money", "share", "ratio"]
Tone = Literal["good", "bad", "flat", "none"]

FLAT_SHARE = 0.005
"""Moves smaller than this (half a point, or 0.5%) read as flat."""


@dataclass(frozen=True)
class Spec:
    """One tile: KPI key, label, kind, +1 when higher is better (-1 lower, 0 neither), hint."""

    key: str
    label: str
    kind: Kind
    better: int
    hint: str


TILES = (
    Spec("active_customers", "Active customers", "count", 1, "bought in the last 12 months"),
    Spec("new_customers", "New customers", "count", 1, "first purchase in the last 12 months"),
    Spec("revenue", "Revenue", "money", 1, "purchases in the last 12 months"),
    Spec("aov", "Average order value", "money", 1, "revenue per order"),
    Spec("purchase_frequency", "Orders per customer", "ratio", 1, "per active customer"),
    Spec("retention_rate", "Retention rate", "share", 1, "of the year before's actives"),
    Spec("early_repeat_rate", "Early repeat rate", "share", 1, "2nd purchase within 90 days"),
    Spec("repeat_rate", "Repeat customers", "share", 1, "bought on 2 or more days"),
    Spec("clv_365", "12-month CLV", "money", 1, "net revenue per customer, 1st year"),
    Spec("leaky_bucket_ratio", "Leaky-bucket ratio", "ratio", -1, "lost per new customer"),
    Spec("top_10pct_revenue_share", "Top 10% share", "share", 0, "of revenue, from best 10%"),
    Spec("return_rate", "Return rate", "share", -1, "refunds over revenue"),
)


@dataclass(frozen=True)
class Tile:
    """A rendered tile: texts and the tone of the change."""

    label: str
    value: str
    change: str
    tone: Tone
    hint: str


def tiles(data: ReportData) -> list[Tile]:
    """One tile per ``TILES`` entry, with the change against ``data.prior`` where known."""
    prior = data.prior or {}
    return [_tile(spec, data.kpis.get(spec.key), prior.get(spec.key), data) for spec in TILES]


def value_text(kind: Kind, value: float | None, currency: str) -> str:
    """A KPI value as a tile shows it."""
    if kind == "money":
        return fmt.money(value, currency, compact=True)
    if kind == "count":
        return fmt.count(value, compact=True)
    return fmt.pct(value, 1) if kind == "share" else fmt.number(value)


def _tile(spec: Spec, now: float | None, before: float | None, data: ReportData) -> Tile:
    change, tone = _change(spec, now, before)
    value = value_text(spec.kind, now, data.currency)
    return Tile(spec.label, value, change, tone, spec.hint)


def _change(spec: Spec, now: float | None, before: float | None) -> tuple[str, Tone]:
    """Text and tone of the move from ``before`` to ``now``."""
    if now is None or before is None or (spec.kind != "share" and not before):
        return "no year before", "none"
    if spec.kind == "share":
        delta, text = now - before, fmt.signed_points(now - before)
    else:
        delta = now / before - 1
        text = fmt.signed_pct(delta, 1)
    if abs(delta) < FLAT_SHARE or spec.better == 0:
        return text, "flat"
    return text, "good" if delta * spec.better > 0 else "bad"
