"""Acquisition cohorts and historical CLV curves.

A customer's *cohort* is the period (month, quarter, year or retail season, see
``metrics.base.SEASONS``) of their first occasion. For cohort c, the value at *age* k describes
calendar period c + k, for every k up to the period that holds the as-of day (which may be partly
observed: ``partial_last`` says so). Metrics per cohort and age:

- ``customers``: cohort members with an occasion in period c + k.
- ``retention``: customers / cohort size (age 0 is 1 by definition).
- ``revenue``: the cohort's net revenue in period c + k (purchases - refunds dated in it).
- ``cumulative_revenue``: net revenue through age k per cohort member (historical CLV).
- ``repeat``: share of the cohort whose second occasion falls in period c + k or earlier.

``clv_curves`` groups the same cumulative net revenue per customer by acquisition channel instead
of cohort: at age k it averages over the customers whose age k has been reached by the as-of
period, so young acquisitions do not drag the curve down.

The engine aggregates to (group, cohort, age) rows; only those few rows reach Python.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import ibis

from patron.arguments import as_day
from patron.errors import InputError, did_you_mean
from patron.metrics.base import (
    choices,
    period_index,
    period_label,
    period_of,
    ratio,
    refunds,
)
from patron.metrics.occasions import Sales, occasions
from patron.money import PLACES

if TYPE_CHECKING:
    pass

METRICS = ("retention", "revenue", "customers", "cumulative_revenue", "repeat")
_ONE, _ZERO = ibis.literal(1, "int64"), ibis.literal(0, "int64")
"""Counts of a condition; PostgreSQL casts no boolean to a bigint."""


def cohorts(
    sales: Sales, as_of: date, *, period: str = "month", metric: str = "retention"
) -> dict[str, Any]:
    """``{"period", "metric", "as_of", "partial_last", "cohorts": [{cohort, size, values}]}``."""
    if metric not in METRICS:
        raise InputError(f"unknown cohort metric {metric!r}{choices(metric, METRICS)}")
    rows = [
        {"cohort": c["cohort"], "size": c["size"], "values": c[metric]}
        for c in _all_metrics(sales, as_of, period)
    ]
    return {
        "period": period,
        "metric": metric,
        "as_of": as_of.isoformat(),
        "partial_last": _partial(as_of, period),
        "cohorts": rows,
    }


def compare(
    sales: Sales, as_of: date, first: object, second: object, *, period: str = "month"
) -> dict[str, Any]:
    """Two cohorts side by side: retention, repeat and cumulative revenue per customer by age.

    A cohort is named by its label (2023-11, 2023-Q4, 2023, 2023-holiday) or by any day in it
    (a date, or ISO text such as 2023-11-15); 2023-1 and 2023Q1 are read as 2023-01, 2023-Q1.
    """
    first, second = cohort_label(first, period), cohort_label(second, period)
    table = {c["cohort"]: c for c in _all_metrics(sales, as_of, period)}
    missing = [name for name in (first, second) if name not in table]
    if missing:
        raise InputError(
            f"no {period} cohort {missing[0]!r}{did_you_mean(missing[0], list(table))}"
        )
    return {"period": period, "as_of": as_of.isoformat(), "cohorts": [table[first], table[second]]}


_MONTH = re.compile(r"(\d{4})-(\d{1,2})")
_QUARTER = re.compile(r"(\d{4})-?[qQ]([1-4])")


def cohort_label(value: object, period: str) -> str:
    """The label of the ``period`` cohort ``value`` names: a day in it (a date, a pandas
    Timestamp or ISO text), a year as a number, a pandas Period, or a label written loosely."""
    if isinstance(value, date):
        return period_label(period_of(as_day(value, "cohort"), period), period)
    if isinstance(value, int) and not isinstance(value, bool) and period == "year":
        return f"{value:04d}"
    text = str(value).strip()  # a pandas Period prints as 2023-01 or 2023Q1
    if month := _MONTH.fullmatch(text):
        return f"{month[1]}-{int(month[2]):02d}"
    if quarter := _QUARTER.fullmatch(text):
        return f"{quarter[1]}-Q{quarter[2]}"
    try:
        return period_label(period_of(as_day(text, "cohort"), period), period)
    except InputError:
        return text  # a label as it is: unknown ones are named by the caller


def clv_curves(sales: Sales, as_of: date, *, period: str = "month") -> dict[str, Any]:
    """Cumulative net revenue per acquired customer by age, per acquisition channel and overall."""
    cells = _cells(sales, as_of, period, "acquisition_channel")
    last = period_of(as_of, period)
    by_group: dict[str, dict[int, dict[int, dict[str, float]]]] = defaultdict(dict)
    for (group, cohort), ages in cells.items():
        by_group[group][cohort] = ages
        by_group["all"].setdefault(cohort, defaultdict(lambda: defaultdict(float)))
        for age, cell in ages.items():
            for key, value in cell.items():
                by_group["all"][cohort][age][key] += value
    curves = [
        {"group": group, **_pooled(cohorts_, last)} for group, cohorts_ in sorted(by_group.items())
    ]
    return {"period": period, "as_of": as_of.isoformat(), "curves": curves}


def _all_metrics(sales: Sales, as_of: date, period: str) -> list[dict[str, Any]]:
    cells = _cells(sales, as_of, period, "cohort")
    last = period_of(as_of, period)
    return [
        {"cohort": period_label(cohort, period), **_series(ages, last - cohort)}
        for (_, cohort), ages in sorted(cells.items())
    ]


def _cells(
    sales: Sales, as_of: date, period: str, group: str
) -> dict[tuple[str, int], dict[int, dict[str, float]]]:
    """{(group, cohort): {age: {size, customers, revenue, second}}} from one engine query each.

    ``size`` sits on age -1 (cohort size); ``second`` counts second occasions at each age.
    """
    occ = occasions(sales, as_of)
    occ = occ.mutate(
        cohort=period_index(occ.first_date, period),
        grp=occ[group] if group != "cohort" else ibis.literal("all"),
    )
    at = period_index(occ.order_date, period)
    # A customer is counted at an age by their first occasion in that period.
    first_in_period = occ.prev_date.isnull() | (period_index(occ.prev_date, period) != at)
    occ = occ.mutate(age=at - occ.cohort, counted=first_in_period.ifelse(_ONE, _ZERO))
    keys = occ.filter(occ.n == 0).select("customer_key", "cohort", "grp")
    ret = refunds(sales.orders, as_of).inner_join(keys, "customer_key")
    ret = ret.mutate(age=period_index(ret.order_date, period) - ret.cohort)
    # One query for both, so the engine computes the occasions once.
    parts = occ.select(
        "grp",
        "cohort",
        "age",
        customers="counted",
        revenue="revenue",
        second=(occ.n == 1).ifelse(_ONE, _ZERO),
    ).union(
        ret.select(
            "grp",
            "cohort",
            "age",
            customers=ibis.literal(0, "int64"),
            revenue=-ret.refund,
            second=ibis.literal(0, "int64"),
        )
    )
    per_age = parts.group_by(["grp", "cohort", "age"]).agg(
        customers=parts.customers.sum(), revenue=parts.revenue.sum(), second=parts.second.sum()
    )
    cells: dict[tuple[str, int], dict[int, dict[str, float]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(float))
    )
    for row in per_age.to_pyarrow().to_pylist():
        ages = cells[(row["grp"], row["cohort"])]
        ages[row["age"]].update(
            customers=row["customers"], second=row["second"], revenue=row["revenue"]
        )
        if row["age"] == 0:  # everyone has an occasion at age 0: the cohort's size
            ages[-1]["size"] = row["customers"]
    return cells


def _series(ages: dict[int, dict[str, float]], oldest: int) -> dict[str, Any]:
    """Every metric of one cohort for ages 0..oldest."""
    size = int(ages[-1]["size"])
    out: dict[str, Any] = {"size": size, **{m: [] for m in METRICS}}
    total = repeaters = 0.0
    for age in range(oldest + 1):
        cell = ages.get(age, {})
        customers, revenue = int(cell.get("customers", 0)), cell.get("revenue", 0.0)
        total += revenue
        repeaters += cell.get("second", 0)
        out["customers"].append(customers)
        out["retention"].append(_share(customers, size))
        out["revenue"].append(round(revenue, PLACES))
        out["cumulative_revenue"].append(_share(total, size))
        out["repeat"].append(_share(repeaters, size))
    return out


def _pooled(cohorts_: dict[int, dict[int, dict[str, float]]], last: int) -> dict[str, Any]:
    """Mean cumulative net revenue per customer at each age over cohorts that reached it."""
    oldest = last - min(cohorts_)
    values, customers = [], []
    for age in range(oldest + 1):
        reached = [ages for cohort, ages in cohorts_.items() if last - cohort >= age]
        size = sum(ages[-1]["size"] for ages in reached)
        total = sum(a.get(k, {}).get("revenue", 0.0) for a in reached for k in range(age + 1))
        values.append(_share(total, size))
        customers.append(int(size))
    return {"customers": customers, "values": values}


def _share(value: float, size: float) -> float | None:
    share = ratio(value, size)
    return None if share is None else round(share, 6)


def _partial(as_of: date, period: str) -> bool:
    """Whether the as-of day ends before its period does."""
    return period_of(as_of + timedelta(days=1), period) == period_of(as_of, period)
