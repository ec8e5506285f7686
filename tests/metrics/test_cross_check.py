"""patron's KPIs, cohorts and CLV curves against a plain-Python reading of the definitions.

The synthetic retailer (2,000 people, seed 3) is loaded through the real loader; the reference
below never calls ``patron.metrics``: it pulls the loaded orders into pandas once and counts with
loops, sets and dicts, straight from the module docstrings of ``patron.metrics.base``, ``kpis``
and ``cohorts``. A second copy of the data has gaps the generator never writes (missing costs,
missing channels, zero-value orders) so margin coverage and the "unknown" channel are exercised.
"""

from __future__ import annotations

import csv
import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from patron import Workspace
from patron.metrics import kpis as kpi_module
from patron.metrics.cohorts import clv_curves, cohorts
from patron.metrics.kpis import kpis, trend
from patron.metrics.occasions import Sales
from patron.samples.synthetic import generate

NOW = datetime(2025, 6, 1, tzinfo=UTC)  # the load's clock: the data ends 2024-12-31
SEASON_OF_MONTH = {1: 0, 2: 0, 3: 1, 4: 1, 5: 1, 6: 2, 7: 2, 8: 2, 9: 3, 10: 3, 11: 4, 12: 4}
SEASON_NAMES = ("winter", "spring", "summer", "autumn", "holiday")
COHORT_METRICS = ("customers", "retention", "revenue", "cumulative_revenue", "repeat")


@dataclass(frozen=True)
class Purchase:
    customer: int
    day: date
    ordered_at: datetime
    order_id: str
    channel: str
    revenue: float
    cost: float | None


@dataclass(frozen=True)
class Refund:
    customer: int
    day: date
    channel: str
    amount: float
    recovered: float


@dataclass
class Shop:
    """The loaded orders as plain rows: purchases and refunds of attributed customers."""

    sales: Sales
    purchases: list[Purchase] = field(default_factory=list)
    refunds: list[Refund] = field(default_factory=list)


def read_shop(sales: Sales) -> Shop:
    frame = sales.orders.to_pandas()
    shop = Shop(sales)
    for row in frame.to_dict("records"):
        if row["customer_key"] is None or row["customer_key"] != row["customer_key"]:
            continue  # unattributed: no customer activity
        channel = row["channel"] if isinstance(row["channel"], str) else "unknown"
        day = row["order_date"].date()
        cost = None if row["cost"] is None or row["cost"] != row["cost"] else float(row["cost"])
        if row["is_return"]:
            recovered = 0.0 if cost is None else abs(cost)
            refund = Refund(
                row["customer_key"], day, channel, abs(float(row["revenue"])), recovered
            )
            shop.refunds.append(refund)
        else:
            shop.purchases.append(
                Purchase(
                    row["customer_key"],
                    day,
                    row["ordered_at"].to_pydatetime(),
                    row["order_id"],
                    channel,
                    float(row["revenue"]),
                    cost,
                )
            )
    return shop


def with_gaps(source: Path, target: Path) -> Path:
    """A copy of the orders file with blank costs, blank channels and zero-value orders."""
    with source.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    returned = {row["return_of"] for row in rows if row["return_of"]}
    for i, row in enumerate(rows):
        if i % 7 == 3:
            row["cost"] = ""
        purchase = row["status"] != "returned" and row["order_id"] not in returned
        if purchase and i % 17 == 5:
            row["channel"] = ""
        if purchase and i % 53 == 11:
            row["revenue"] = "0.00"
    with target.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return target


@pytest.fixture(scope="module")
def shops(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Shop]:
    folder = tmp_path_factory.mktemp("cross")
    paths = generate(folder / "data", customers=2000, seed=3)
    files = {"synthetic": paths["orders"], "gaps": with_gaps(paths["orders"], folder / "gaps.csv")}
    out = {}
    for name, path in files.items():
        ws = Workspace.init(folder / name, timezone="America/New_York", phone_region="US")
        result = ws.load("orders", [path], now=NOW)
        assert result.quarantined == 0
        out[name] = read_shop(ws.sales())
    return out


def acquisition(purchases: list[Purchase]) -> dict[int, tuple[date, str]]:
    """customer -> (first purchase day, channel of the earliest purchase order that day)."""
    first: dict[int, Purchase] = {}
    for p in purchases:
        best = first.get(p.customer)
        if best is None or (p.day, p.ordered_at, p.order_id) < (
            best.day,
            best.ordered_at,
            best.order_id,
        ):
            first[p.customer] = p
    return {c: (p.day, p.channel) for c, p in first.items()}


# ---------------------------------------------------------------------------------------------
# KPIs


def reference_kpis(shop: Shop, a: date, w: int, e: int, by: str | None) -> dict[str, Any]:
    """Every KPI of ``patron.metrics.kpis``'s docstring, per group, by loops over rows."""
    start, previous = a - timedelta(days=w), a - timedelta(days=2 * w)
    purchases = [p for p in shop.purchases if p.day <= a]
    refunds = [r for r in shop.refunds if r.day <= a]
    acquired = acquisition(purchases)

    def group_of(customer: int, channel: str) -> str | None:
        if by is None:
            return "all"
        if by == "channel":
            return channel
        if customer not in acquired:
            return None
        first_day, first_channel = acquired[customer]
        return first_channel if by == "acquisition_channel" else first_day.strftime("%Y-%m")

    buys: dict[str, dict[int, list[Purchase]]] = defaultdict(lambda: defaultdict(list))
    for p in purchases:
        group = group_of(p.customer, p.channel)
        assert group is not None
        buys[group][p.customer].append(p)
    backs: dict[str, dict[int, list[Refund]]] = defaultdict(lambda: defaultdict(list))
    for r in refunds:
        group = group_of(r.customer, r.channel)
        if group is not None:
            backs[group][r.customer].append(r)

    def in_window(day: date) -> bool:
        return start < day <= a

    out = {}
    for group, customers in buys.items():
        total = len(customers)
        active = new = lost = was_active = retained = repeaters = 0
        early_cohort = early_repeaters = clv_customers = 0
        gaps: list[int] = []
        clv_values: list[float] = []
        window_revenue: dict[int, float] = {}
        revenue = orders = revenue_new = costed_revenue = cost = 0.0
        costed = False
        for customer, rows in customers.items():
            days = sorted({p.day for p in rows})
            first = days[0]
            is_active = any(in_window(d) for d in days)
            is_previous = any(previous < d <= start for d in days)
            is_new = in_window(first)
            active += is_active
            new += is_new
            was_active += is_previous
            lost += is_previous and not is_active
            retained += is_previous and is_active
            repeaters += len(days) >= 2
            if len(days) >= 2:
                gaps.append((days[1] - first).days)
            if a - timedelta(days=w + e) < first <= a - timedelta(days=e):
                early_cohort += 1
                early_repeaters += len(days) >= 2 and (days[1] - first).days <= e
            spent = sum(p.revenue for p in rows if in_window(p.day))
            if is_active:
                window_revenue[customer] = spent
            revenue += spent
            orders += sum(1 for p in rows if in_window(p.day))
            revenue_new += spent if is_new else 0.0
            for p in rows:
                if in_window(p.day) and p.cost is not None:
                    costed = True
                    costed_revenue += p.revenue
                    cost += p.cost
            if a - timedelta(days=w + 365) < first <= a - timedelta(days=365):
                year_end = first + timedelta(days=365)  # day 365: not counted
                bought = sum(p.revenue for p in rows if p.day < year_end)
                back = sum(r.amount for r in backs[group][customer] if first <= r.day < year_end)
                clv_customers += 1
                clv_values.append(bought - back)
        refunded = sum(r.amount for rs in backs[group].values() for r in rs if in_window(r.day))
        recovered = sum(r.recovered for rs in backs[group].values() for r in rs if in_window(r.day))
        ranked = sorted(window_revenue.items(), key=lambda item: (-item[1], item[0]))
        top = sum(v for _, v in ranked[: math.ceil(len(ranked) / 10)])
        retention = ratio(retained, was_active)
        repeat = ratio(repeaters, total)
        out[group] = {
            "group": group,
            "customers_total": total,
            "active_customers": active,
            "new_customers": new,
            "lost_customers": lost,
            "retention_rate": retention,
            "attrition_rate": None if retention is None else 1 - retention,
            "leaky_bucket_ratio": ratio(lost, new),
            "repeat_rate": repeat,
            "one_and_done_share": None if repeat is None else 1 - repeat,
            "early_repeat_rate": ratio(early_repeaters, early_cohort),
            "early_repeat_cohort": early_cohort,
            "days_to_second_purchase_median": statistics.median(gaps) if gaps else None,
            "days_to_second_purchase_mean": statistics.mean(gaps) if gaps else None,
            "revenue": revenue,
            "orders": orders,
            "aov": ratio(revenue, orders),
            "purchase_frequency": ratio(orders, active),
            "refunds": refunded,
            "net_revenue": revenue - refunded,
            "return_rate": ratio(refunded, revenue),
            "revenue_new_customers": revenue_new,
            "revenue_returning_customers": revenue - revenue_new,
            "margin": costed_revenue - cost - (refunded - recovered) if costed else None,
            "margin_coverage": ratio(costed_revenue, revenue),
            "top_10pct_revenue_share": ratio(top, revenue),
            "clv_365": statistics.mean(clv_values) if clv_values else None,
            "clv_365_customers": clv_customers,
        }
    return out


def ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def mismatches(got: dict[str, Any], expected: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Keys whose values differ (floats beyond the 6 decimals patron rounds to): (got, expected)."""
    assert set(got) == set(expected)
    out = {}
    for key, want in expected.items():
        have = got[key]
        if key == "margin_coverage" and (have, want) == (None, 0.0):
            continue  # the known bug of test_margin_coverage_of_a_group_without_costs
        if isinstance(want, float) and isinstance(have, int | float):
            same = math.isclose(have, want, rel_tol=1e-9, abs_tol=1e-6)
        else:
            same = have == want
        if not same:
            out[key] = (have, want)
    return out


BY = (None, "channel", "acquisition_channel", "cohort")
KPI_CASES = [
    # (data, as-of, window, early days, by)
    *[("synthetic", date(2024, 12, 31), 365, 90, by) for by in BY],
    ("synthetic", date(2024, 6, 30), 90, 30, None),
    ("synthetic", date(2024, 6, 30), 90, 30, "acquisition_channel"),
    ("synthetic", date(2023, 9, 15), 30, 14, None),
    ("synthetic", date(2023, 9, 15), 30, 14, "channel"),
    ("synthetic", date(2023, 1, 31), 365, 90, None),  # the CLV cohort starts before the data
    ("gaps", date(2024, 12, 31), 365, 90, None),
    ("gaps", date(2024, 12, 31), 365, 90, "channel"),
    ("gaps", date(2023, 11, 30), 60, 45, None),
    ("gaps", date(2023, 11, 30), 60, 45, "cohort"),
]


@pytest.mark.parametrize(("data", "as_of", "window", "early", "by"), KPI_CASES)
def test_kpis_match_the_reference(
    shops: dict[str, Shop], data: str, as_of: date, window: int, early: int, by: str | None
) -> None:
    shop = shops[data]
    got = kpis(shop.sales, as_of, window=window, early_days=early, by=by)
    expected = reference_kpis(shop, as_of, window, early, by)
    assert [row["group"] for row in got] == sorted(expected)
    assert len(got) >= (1 if by is None else 3)
    wrong = {row["group"]: mismatches(row, expected[row["group"]]) for row in got}
    assert {group: diff for group, diff in wrong.items() if diff} == {}


@pytest.mark.parametrize("data", ["synthetic", "gaps"])
@pytest.mark.parametrize("by", BY)
@pytest.mark.parametrize("together", [True, False], ids=["month-ends-together", "one-by-one"])
def test_trend_matches_the_reference_at_each_month_end(
    shops: dict[str, Shop],
    data: str,
    by: str | None,
    together: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the shops are small, so a trend asks about its month ends in one query; with a budget of
    # one row, it asks one month end at a time, as on a large shop
    if not together:
        monkeypatch.setattr(kpi_module, "ROWS_PER_QUERY", 1)
    shop, as_of, window = shops[data], date(2024, 11, 20), 90
    points = trend(shop.sales, as_of, first=date(2024, 7, 15), window=window, by=by)
    by_end: dict[str, dict[str, Any]] = defaultdict(dict)
    for point in points:
        by_end[point.pop("as_of")][point["group"]] = point
    assert list(by_end) == ["2024-07-31", "2024-08-31", "2024-09-30", "2024-10-31", "2024-11-20"]
    for end, got in by_end.items():
        expected = reference_kpis(shop, date.fromisoformat(end), window, 90, by)
        assert sorted(got) == sorted(expected)
        wrong = {group: mismatches(got[group], expected[group]) for group in got}
        assert {group: diff for group, diff in wrong.items() if diff} == {}, end


def test_margin_coverage_of_a_group_without_costs(shops: dict[str, Shop]) -> None:
    # in the gaps copy, acquisition month 2022-09 has window revenue but no costed window purchase
    shop = shops["gaps"]
    expected = reference_kpis(shop, date(2023, 11, 30), 60, 45, "cohort")["2022-09"]
    assert (expected["revenue"] > 0, expected["margin"], expected["margin_coverage"]) == (
        True,
        None,
        0.0,
    )
    got = kpis(shop.sales, date(2023, 11, 30), window=60, early_days=45, by="cohort")
    assert next(row for row in got if row["group"] == "2022-09")["margin_coverage"] == 0.0


def test_the_gaps_are_there(shops: dict[str, Shop]) -> None:
    """The second copy really exercises missing costs, missing channels and zero revenue."""
    row = reference_kpis(shops["gaps"], date(2024, 12, 31), 365, 90, None)["all"]
    assert 0.5 < row["margin_coverage"] < 0.95
    assert any(p.channel == "unknown" for p in shops["gaps"].purchases)
    assert any(p.revenue == 0 for p in shops["gaps"].purchases)


# ---------------------------------------------------------------------------------------------
# Cohorts and CLV curves


def period_number(day: date, period: str) -> int:
    return {
        "month": day.year * 12 + day.month - 1,
        "quarter": day.year * 4 + (day.month - 1) // 3,
        "year": day.year,
        "season": day.year * 5 + SEASON_OF_MONTH[day.month],
    }[period]


def label(day: date, period: str) -> str:
    return {
        "month": f"{day.year}-{day.month:02d}",
        "quarter": f"{day.year}-Q{(day.month - 1) // 3 + 1}",
        "year": f"{day.year}",
        "season": f"{day.year}-{SEASON_NAMES[SEASON_OF_MONTH[day.month]]}",
    }[period]


@dataclass
class Member:
    cohort: int
    label: str
    channel: str
    active_ages: set[int] = field(default_factory=set)
    net_by_age: dict[int, float] = field(default_factory=lambda: defaultdict(float))
    second_age: int | None = None


def members(shop: Shop, a: date, period: str) -> dict[int, Member]:
    """Every customer with a purchase by ``a``: cohort, active ages, net revenue by age."""
    purchases = [p for p in shop.purchases if p.day <= a]
    out = {
        c: Member(period_number(first, period), label(first, period), channel)
        for c, (first, channel) in acquisition(purchases).items()
    }
    days: dict[int, set[date]] = defaultdict(set)
    for p in purchases:
        m = out[p.customer]
        age = period_number(p.day, period) - m.cohort
        m.active_ages.add(age)
        m.net_by_age[age] += p.revenue
        days[p.customer].add(p.day)
    for r in shop.refunds:
        if r.day <= a and r.customer in out:
            m = out[r.customer]
            m.net_by_age[period_number(r.day, period) - m.cohort] -= r.amount
    for c, ds in days.items():
        if len(ds) >= 2:
            out[c].second_age = period_number(sorted(ds)[1], period) - out[c].cohort
    return out


def reference_cohorts(shop: Shop, a: date, period: str) -> dict[str, dict[str, Any]]:
    last = period_number(a, period)
    by_cohort: dict[int, list[Member]] = defaultdict(list)
    for m in members(shop, a, period).values():
        by_cohort[m.cohort].append(m)
    out = {}
    for cohort in sorted(by_cohort):
        group = by_cohort[cohort]
        size = len(group)
        series: dict[str, list[Any]] = {m: [] for m in COHORT_METRICS}
        running = 0.0
        for age in range(last - cohort + 1):
            customers = sum(age in m.active_ages for m in group)
            revenue = sum(m.net_by_age.get(age, 0.0) for m in group)
            running += revenue
            repeaters = sum(m.second_age is not None and m.second_age <= age for m in group)
            series["customers"].append(customers)
            series["retention"].append(customers / size)
            series["revenue"].append(revenue)
            series["cumulative_revenue"].append(running / size)
            series["repeat"].append(repeaters / size)
        out[group[0].label] = {"size": size, **series}
    return out


def reference_curves(shop: Shop, a: date, period: str) -> dict[str, dict[str, list[Any]]]:
    last = period_number(a, period)
    groups: dict[str, list[Member]] = defaultdict(list)
    for m in members(shop, a, period).values():
        groups[m.channel].append(m)
        groups["all"].append(m)
    out = {}
    for group, ms in groups.items():
        customers: list[Any] = []
        values: list[Any] = []
        for age in range(last - min(m.cohort for m in ms) + 1):
            reached = [m for m in ms if last - m.cohort >= age]
            total = sum(m.net_by_age.get(k, 0.0) for m in reached for k in range(age + 1))
            customers.append(len(reached))
            values.append(total / len(reached))
        out[group] = {"customers": customers, "values": values}
    return out


COHORT_CASES = [
    ("month", date(2024, 12, 31)),
    ("quarter", date(2023, 8, 15)),
    ("year", date(2024, 12, 31)),
    ("season", date(2023, 8, 15)),
    ("season", date(2024, 12, 31)),
]


@pytest.mark.parametrize(("period", "as_of"), COHORT_CASES)
def test_cohorts_match_the_reference(shops: dict[str, Shop], period: str, as_of: date) -> None:
    shop = shops["synthetic"]
    expected = reference_cohorts(shop, as_of, period)
    assert len(expected) >= 2
    for metric in COHORT_METRICS:
        got = cohorts(shop.sales, as_of, period=period, metric=metric)
        assert [c["cohort"] for c in got["cohorts"]] == list(expected)
        for c in got["cohorts"]:
            reference = expected[c["cohort"]]
            assert c["size"] == reference["size"]
            tolerance = 0.005 if metric == "revenue" else 1e-6  # revenue is rounded to cents
            assert c["values"] == pytest.approx(reference[metric], rel=1e-9, abs=tolerance), (
                metric,
                c["cohort"],
            )


@pytest.mark.parametrize(("period", "as_of"), COHORT_CASES)
def test_clv_curves_match_the_reference(shops: dict[str, Shop], period: str, as_of: date) -> None:
    shop = shops["synthetic"]
    expected = reference_curves(shop, as_of, period)
    got = clv_curves(shop.sales, as_of, period=period)
    assert [c["group"] for c in got["curves"]] == sorted(expected)
    for curve in got["curves"]:
        reference = expected[curve["group"]]
        assert curve["customers"] == reference["customers"], curve["group"]
        assert curve["values"] == pytest.approx(reference["values"], rel=1e-9, abs=1e-6)
