"""Purchase timing: gaps per step, the second-purchase hazard, nudge window, next contact date."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from insights.support import by_id, csv_workspace, keys
from patron import InputError, Workspace
from patron.insights.timing import gap_stats, next_purchase, second_purchase, timing
from patron.metrics.occasions import Sales

AS_OF = date(2024, 12, 31)

# Occasions and gaps (days) as of 2024-12-31:
# c1 01-01, 01-11 (10), 01-31 (20), 03-01 (30), 04-10 (40), 05-30 (50)
# c2 02-01, 02-21 (20), 03-22 (30)
# c3 03-01, 04-10 (40)
# c4 06-01;  c5 12-01 (its 2025-01-10 order is after the as-of day);  c6 two orders on 05-05 are
# one occasion;  c7 12-25
# Steps: 1->2 [10, 20, 40], 2->3 [20, 30], 3->4 [30], 4+ [40, 50].
ORDERS = """order_id,customer_id,ordered_at,revenue
a1,c1,2024-01-01,10
a2,c1,2024-01-11,10
a3,c1,2024-01-31,10
a4,c1,2024-03-01,10
a5,c1,2024-04-10,10
a6,c1,2024-05-30,10
b1,c2,2024-02-01,10
b2,c2,2024-02-21,10
b3,c2,2024-03-22,10
d1,c3,2024-03-01,10
d2,c3,2024-04-10,10
e1,c4,2024-06-01,10
f1,c5,2024-12-01,10
f2,c5,2025-01-10,10
g1,c6,2024-05-05 09:00,10
g2,c6,2024-05-05 18:00,10
h1,c7,2024-12-25,10
"""
# Linear-interpolation quantiles, position 1 + q (n - 1) in the sorted gaps:
# 1->2 [10, 20, 40]: p25 at 1.5 -> 15, median 20, p75 at 2.5 -> 30, p90 at 2.8 -> 20 + .8 * 20
# = 36, mean 70 / 3.  2->3 [20, 30]: 22.5, 25, 27.5, 29, 25.  4+ [40, 50]: 42.5, 45, 47.5, 49, 45.
EXPECTED_STEPS = [
    ("1->2", 3, 15.0, 20.0, 30.0, 36.0, 70 / 3),
    ("2->3", 2, 22.5, 25.0, 27.5, 29.0, 25.0),
    ("3->4", 1, 30.0, 30.0, 30.0, 30.0, 30.0),
    ("4+", 2, 42.5, 45.0, 47.5, 49.0, 45.0),
]


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return csv_workspace(tmp_path_factory.mktemp("timing"), {"orders": ORDERS}, clean=False)


def _row(step: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(step[k] for k in ("step", "gaps", "p25", "median", "p75", "p90", "mean"))


def test_gaps_per_step_by_hand(shop: Workspace) -> None:
    steps = gap_stats(shop.sales(), AS_OF)
    assert [_row(s) for s in steps] == [pytest.approx(e) for e in EXPECTED_STEPS]
    assert [s["from_purchase"] for s in steps] == [1, 2, 3, 4]


def test_second_purchase_hazard_and_nudge_window_by_hand(shop: Workspace) -> None:
    result = timing(shop.sales(), AS_OF, min_at_risk=1)
    # Days observed without a second purchase: c4 213, c5 30, c6 240, c7 6. At risk on day d:
    # d 1-6: all 7; 7-10: 6; 11-20: 5 (c1 left on 10); 21-30: 4; 31-40: 3 (c5 left); then 2.
    assert (result["customers"], result["second_purchases"]) == (7, 3)
    daily = {d["day"]: d for d in result["daily"]}
    assert len(daily) == 40  # through the last second purchase
    assert (daily[10]["at_risk"], daily[10]["hazard"], daily[10]["cumulative_share"]) == (
        6,
        pytest.approx(1 / 6),
        pytest.approx(1 / 3),
    )
    assert (daily[20]["at_risk"], daily[20]["cumulative_share"]) == (5, pytest.approx(2 / 3))
    assert (daily[40]["at_risk"], daily[40]["cumulative_share"]) == (3, 1.0)
    # Weekly customer-days: week 1 = 6 * 7 + 6 (c7 until day 6) = 48; week 2 (days 8-14) =
    # 3 * 6 + 4 * 5 = 38; week 3 (15-21) = 6 * 5 + 4 = 34; week 6 (36-42) = 5 * 3 + 2 * 2 = 19.
    weekly = {w["week"]: w for w in result["weekly"]}
    assert [weekly[k]["customer_days"] for k in (1, 2, 3, 6)] == [48, 38, 34, 19]
    assert weekly[6]["hazard"] == pytest.approx(1 / 19)
    # The peak is week 6 (1/19); week 7 (from day 43) has none: below half the peak.
    assert (result["hazard_peak_week"], result["hazard_drop_day"]) == (6, 43)
    assert result["nudge_window"] == {"from_day": 15, "to_day": 30}


def test_only_weeks_with_enough_customers_at_risk_are_read(shop: Workspace) -> None:
    # At risk on each week's first day: 7, 6, 5, 4, 4 (days 1, 8, 15, 22, 29), 3 on day 36.
    # With at least 4, weeks 1-5 are read: peak week 3 (1/34), week 4 has none -> day 22.
    result = second_purchase(shop.sales(), AS_OF, min_at_risk=4)
    assert [w["week"] for w in result["weekly"]] == [1, 2, 3, 4, 5]
    assert (result["hazard_peak_week"], result["hazard_drop_day"]) == (3, 22)
    assert result["hazard_peak"] == pytest.approx(1 / 34)


def test_the_as_of_day_hides_later_gaps(shop: Workspace) -> None:
    # By 2024-02-15: c1 01-01, 01-11, 01-31 and c2 02-01 only.
    result = timing(shop.sales(), date(2024, 2, 15), min_at_risk=1)
    assert [(s["step"], s["gaps"], s["median"]) for s in result["steps"]] == [
        ("1->2", 1, 10.0),
        ("2->3", 1, 20.0),
        ("3->4", 0, None),
        ("4+", 0, None),
    ]
    assert (result["customers"], result["second_purchases"]) == (2, 1)


def test_timing_of_a_set_of_customers(shop: Workspace) -> None:
    key = keys(shop)
    segment = shop.table("customers").filter(
        ibis._.customer_key.isin([key["c1"], key["c2"], key["c7"]])
    )
    result = timing(shop.sales(), AS_OF, customers=segment, min_at_risk=1)
    # 1->2 [10, 20]: p25 12.5 -> day 13 (halves up), median 15, p75 17.5 -> 18.
    assert result["steps"][0]["median"] == 15.0
    assert result["nudge_window"] == {"from_day": 13, "to_day": 18}
    assert result["customers"] == 3
    with pytest.raises(InputError, match="customer_key"):
        timing(shop.sales(), AS_OF, customers=segment.select("customer_id"))


def test_next_purchase_and_contact_dates_by_hand(shop: Workspace) -> None:
    rows = _next(shop, AS_OF)
    # Own median with >= 2 gaps: c1 [10..50] -> 30 from 05-30; c2 [20, 30] -> 25 from 03-22.
    # Else the step's median: c3 (2 occasions) 2->3 25 from 04-10; c4, c5, c6, c7 1->2 20.
    assert {c: (r["gap_days"], r["next_purchase_basis"]) for c, r in rows.items()} == {
        "c1": (30.0, "own"),
        "c2": (25.0, "own"),
        "c3": (25.0, "population"),
        "c4": (20.0, "population"),
        "c5": (20.0, "population"),
        "c6": (20.0, "population"),
        "c7": (20.0, "population"),
    }
    assert rows["c1"]["next_purchase_date"] == date(2024, 6, 29)
    assert rows["c3"]["next_purchase_date"] == date(2024, 5, 5)
    # Overdue customers are contacted the day after the data; c7 3 days before 2025-01-14.
    assert rows["c1"]["next_contact_date"] == date(2025, 1, 1)
    assert rows["c7"]["next_purchase_date"] == date(2025, 1, 14)
    assert rows["c7"]["next_contact_date"] == date(2025, 1, 11)
    assert rows["c7"]["occasions"] == 1


def test_a_step_nobody_made_falls_back_to_all_gaps(shop: Workspace) -> None:
    # By 2024-01-20 only c1's 1->2 gap (10) exists; c1 waits on 2->3, which nobody made: the
    # median of all gaps (10) from 01-11 is 01-21, after the as-of day + 1 (01-21) -> 01-21.
    rows = _next(shop, date(2024, 1, 20))
    assert set(rows) == {"c1"}
    assert rows["c1"]["next_purchase_date"] == date(2024, 1, 21)
    assert rows["c1"]["next_contact_date"] == date(2024, 1, 21)


def test_model_predictions_take_precedence_where_they_have_a_date(shop: Workspace) -> None:
    key = keys(shop)
    predicted = ibis.memtable(
        pa.table(
            {
                "customer_key": [key["c4"], key["c7"]],
                "next_purchase_date": pa.array([date(2025, 2, 1), None], pa.date32()),
            }
        )
    )
    rows = _next(shop, AS_OF, predictions=predicted, lead_days=7)
    assert (rows["c4"]["next_purchase_basis"], rows["c4"]["next_contact_date"]) == (
        "model",
        date(2025, 1, 25),
    )
    assert (rows["c7"]["next_purchase_basis"], rows["c7"]["next_contact_date"]) == (
        "population",
        date(2025, 1, 7),
    )
    with pytest.raises(InputError, match="next_purchase_date"):
        next_purchase(shop.sales(), AS_OF, predictions=predicted.select("customer_key"))
    with pytest.raises(InputError, match="lead_days"):
        next_purchase(shop.sales(), AS_OF, lead_days=-1)


def test_a_customer_the_model_holds_lost_gets_no_date(shop: Workspace) -> None:
    # the model gives a lost customer no date; their past gaps must not give them one either
    key = keys(shop)
    predicted = ibis.memtable(
        pa.table(
            {
                "customer_key": [key["c4"], key["c7"]],
                "next_purchase_date": pa.array([None, None], pa.date32()),
                "churn_risk": ["likely_lost", "at_risk"],
            }
        )
    )
    rows = _next(shop, AS_OF, predictions=predicted)
    lost = rows["c4"]
    assert (lost["next_purchase_basis"], lost["next_purchase_date"]) == ("likely_lost", None)
    assert lost["next_contact_date"] is None
    assert rows["c7"]["next_purchase_basis"] == "population"  # at risk: the gaps still date it


def _next(ws: Workspace, as_of: date, **options: Any) -> dict[str, dict[str, Any]]:
    return by_id(ws, next_purchase(ws.sales(), as_of, **options))


def test_nobody_bought_twice(tmp_path: Path) -> None:
    orders = "order_id,customer_id,ordered_at,revenue\na,x,2024-01-01,5\n"
    ws = csv_workspace(tmp_path, {"orders": orders}, clean=False)
    result = timing(ws.sales(), AS_OF)
    assert all(s["gaps"] == 0 and s["median"] is None for s in result["steps"])
    assert result["nudge_window"] is None and result["hazard_drop_day"] is None
    assert (result["customers"], result["second_purchases"], result["daily"]) == (1, 0, [])
    rows = _next(ws, AS_OF)
    assert rows["x"]["next_purchase_date"] is None
    assert rows["x"]["next_contact_date"] is None
    with pytest.raises(InputError, match="min_at_risk"):
        timing(ws.sales(), AS_OF, min_at_risk=0)


# Invariants on random histories (engine-side, on an in-memory orders table).
histories = st.lists(st.lists(st.integers(0, 120), min_size=1, max_size=6), min_size=1, max_size=12)


def _sales(days_per_customer: list[list[int]]) -> Sales:
    start = datetime(2024, 1, 1)
    rows = [
        (c, start + timedelta(days=d)) for c, days in enumerate(days_per_customer) for d in days
    ]
    orders = pa.table(
        {
            "order_id": [str(i) for i in range(len(rows))],
            "customer_key": [c for c, _ in rows],
            "ordered_at": [t for _, t in rows],
            "order_date": [t.date() for _, t in rows],
            "channel": ["web"] * len(rows),
            "revenue": pa.array([10] * len(rows), pa.decimal128(18, 2)),
            "cost": pa.array([None] * len(rows), pa.decimal128(18, 2)),
            "is_return": [False] * len(rows),
        }
    )
    return Sales.of(ibis.memtable(orders))


@settings(max_examples=25, deadline=None)
@given(histories)
def test_timing_invariants(days_per_customer: list[list[int]]) -> None:
    result = timing(_sales(days_per_customer), date(2024, 5, 1), min_at_risk=1)
    for s in result["steps"]:
        if s["gaps"]:
            assert 1 <= s["p25"] <= s["median"] <= s["p75"] <= s["p90"] <= 120
            assert 1 <= s["mean"] <= 120
    assert result["second_purchases"] == result["steps"][0]["gaps"]
    assert result["customers"] == len(days_per_customer)
    daily = result["daily"]
    assert all(0 <= d["hazard"] <= 1 for d in daily)
    assert all(a["at_risk"] >= b["at_risk"] for a, b in pairwise(daily))
    shares = [d["cumulative_share"] for d in daily]
    assert shares == sorted(shares) and (not shares or shares[-1] == 1.0)
