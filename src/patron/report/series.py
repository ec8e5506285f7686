"""The gathered numbers reshaped into the series that charts draw and findings read.

Why shared: a finding that says "holiday 2023 customers spent less than holiday 2022's" must
compare exactly the lines the chart beside it shows.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from patron.report.data import ReportData

MIN_CURVE_CUSTOMERS = 200
"""A CLV curve stops where fewer customers than this have reached the age (too noisy)."""
PREFERRED_SEASON = "holiday"


@dataclass(frozen=True)
class SeasonCohort:
    """One season's acquisitions: retention and cumulative net revenue per customer by age."""

    label: str
    size: int
    retention: list[float | None]
    value: list[float | None]


def complete(values: list[Any], partial: bool) -> list[Any]:
    """Drop the last period when the as-of day cuts it short: it would read as a drop."""
    return values[:-1] if partial else values


def season_cohorts(data: ReportData) -> list[SeasonCohort]:
    """The cohorts of one retail season, oldest first (holiday when two exist; else the season
    of the latest acquisitions); empty when no season has two cohorts to compare."""
    partial = bool(data.season_value["partial_last"])
    by_season: dict[str, list[SeasonCohort]] = defaultdict(list)
    rows = data.season_value["cohorts"]
    for value, retention in zip(rows, data.season_retention["cohorts"], strict=True):
        year, season = value["cohort"].split("-", 1)
        cohort = SeasonCohort(
            label=f"{season.capitalize()} {year}",
            size=value["size"],
            retention=complete(retention["values"], partial),
            value=complete(value["values"], partial),
        )
        if cohort.value:
            by_season[season].append(cohort)
    latest_first = dict.fromkeys(c["cohort"].split("-", 1)[1] for c in reversed(rows))
    for season in (PREFERRED_SEASON, *latest_first):
        if len(by_season[season]) >= 2:
            return by_season[season]
    return []


def retention_by_year(data: ReportData) -> dict[str, list[float | None]]:
    """Monthly-cohort retention pooled by acquisition year, weighted by cohort size.

    At each age, only cohorts that have fully lived that month count, so a young cohort never
    pulls an older age down.
    """
    partial = bool(data.retention["partial_last"])
    sums: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(lambda: [0.0, 0.0]))
    for row in data.retention["cohorts"]:
        for age, share in enumerate(complete(row["values"], partial)):
            if share is not None:
                cell = sums[row["cohort"][:4]][age]
                cell[0] += share * row["size"]
                cell[1] += row["size"]
    return {
        year: [ages[a][0] / ages[a][1] if a in ages else None for a in range(max(ages) + 1)]
        for year, ages in sorted(sums.items())
    }


def clv_lines(data: ReportData) -> dict[str, list[float | None]]:
    """Cumulative net revenue per customer by month of age, per acquisition channel and "all",
    cut where fewer than ``MIN_CURVE_CUSTOMERS`` customers have reached the age."""
    lines = {}
    for curve in data.clv:
        reached = sum(1 for n in curve["customers"] if n >= MIN_CURVE_CUSTOMERS)
        if reached >= 2:
            lines[curve["group"]] = curve["values"][:reached]
    return lines


def pareto_share(data: ReportData, customer_share: float) -> float | None:
    """Share of window revenue from the top ``customer_share`` of active customers
    (linear between the curve's points)."""
    points = [(0.0, 0.0)] + [
        (p["customer_share"], p["revenue_share"])
        for p in data.pareto
        if p["revenue_share"] is not None
    ]
    for (x0, y0), (x1, y1) in pairwise(points):
        if x0 <= customer_share <= x1 and x1 > x0:
            return y0 + (y1 - y0) * (customer_share - x0) / (x1 - x0)
    return None
