"""A demanding analyst's hunt through the customer analytics: each test failed before its fix.

One little shop in Europe/Berlin (orders at 23:30 and 00:15 local), with a return processed in
a channel that sells nothing, a return bigger than its order, a customer known only by a
return, a return dated before its customer's first purchase, and cents that float sums blur.
Every expected figure is worked out by hand in the comments.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from patron import Workspace
from patron.errors import InputError

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cli_support import ok, patron_here

ORDERS = """order_id,customer_id,ordered_at,channel,revenue,cost,status,return_of
a1,ca,2024-03-31 23:30,web,100.00,60.00,completed,
a2,ca,2024-04-01 00:15,store,50.00,,completed,
ra,ca,2024-06-05 10:00,outlet,-30.00,-18.00,returned,a1
b1,cb,2024-04-15 12:00,app,40.00,20.00,completed,
rb,cb,2024-05-20 12:00,app,-70.00,,returned,b1
c1,cc,2024-05-01 09:00,web,20.00,,returned,
d0,cd,2023-02-01 10:00,web,-15.00,,returned,
d1,cd,2023-03-01 10:00,web,80.00,,completed,
d2,cd,2023-09-01 10:00,web,20.00,,completed,
e1,ce,2024-06-01 10:00,web,0.10,,completed,
e2,ce,2024-06-02 10:00,web,0.20,,completed,
"""
AS_OF = date(2024, 6, 30)  # window (2023-07-01, 2024-06-30]


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shop above, loaded through the CLI into ``ws`` (Europe/Berlin, EUR)."""
    root = tmp_path_factory.mktemp("hunt")
    (root / "orders.csv").write_text(ORDERS, encoding="utf-8")
    ok(patron_here("init", "ws", "--timezone", "Europe/Berlin", "--currency", "EUR", cwd=root))
    ok(patron_here("-w", "ws", "load", "orders", "orders.csv", cwd=root))
    return root


@pytest.fixture
def ws(shop: Path) -> Iterator[Workspace]:
    with Workspace.open(shop / "ws", read_only=True) as workspace:
        yield workspace


def refunds_by(ws: Workspace, by: str) -> dict[str, Any]:
    return {g["group"]: g["refunds"] for g in ws.kpis(as_of=AS_OF, by=by)["groups"]}


def test_customer_groups_add_up_to_the_total_refunds(ws: Workspace) -> None:
    # refunds dated in the window: ra 30, rb 70, c1 20 (d0 is from 2023-02) = 120; cc has no
    # purchase, so its 20 belongs to no acquisition channel or cohort: it was dropped
    assert ws.kpis(as_of=AS_OF)["refunds"] == 120.0
    assert refunds_by(ws, "acquisition_channel") == {"app": 70.0, "no_purchase": 20.0, "web": 30.0}
    assert refunds_by(ws, "cohort") == {
        "2023-03": 0.0,
        "2024-03": 30.0,  # ca: a1 at 23:30 Berlin is a March acquisition
        "2024-04": 70.0,
        "2024-06": 0.0,
        "no_purchase": 20.0,
    }
    group = {g["group"]: g for g in ws.kpis(as_of=AS_OF, by="cohort")["groups"]}["no_purchase"]
    assert (group["customers_total"], group["net_revenue"], group["aov"]) == (0, -20.0, None)


def test_a_channel_with_only_returns_keeps_its_refunds(ws: Workspace) -> None:
    # ra was taken back at the outlet, which sells nothing: its 30 was dropped by channel
    refunds = refunds_by(ws, "channel")
    assert refunds == {"app": 70.0, "outlet": 30.0, "store": 0.0, "web": 20.0}
    assert sum(refunds.values()) == 120.0


def test_trend_by_group_keeps_refunds_without_a_purchase(ws: Workspace) -> None:
    points = ws.kpis(as_of=AS_OF, by="acquisition_channel", trend=True)["points"]
    last = {p["group"]: p["refunds"] for p in points if p["as_of"] == "2024-06-30"}
    assert last == {"app": 70.0, "no_purchase": 20.0, "web": 30.0}


def test_clv_365_counts_refunds_from_day_0_only(ws: Workspace) -> None:
    # cohort (2022-07-01, 2023-07-01]: cd alone (first purchase 2023-03-01); days 0-364 hold
    # d1 80 and d2 20; the return d0 of 2023-02-01 is before day 0 (it was taken: 85)
    kpis = ws.kpis(as_of=AS_OF)
    assert (kpis["clv_365_customers"], kpis["clv_365"]) == (1, 100.0)


def test_export_money_is_in_cents(shop: Path, ws: Workspace) -> None:
    # ce bought 0.10 and 0.20: a float sum is 0.30000000000000004
    out = shop / "customers.csv"
    args = ("export", "customers", "--out", str(out), "--as-of", AS_OF.isoformat())
    ok(patron_here("-w", "ws", *args, cwd=shop))
    rows = {r["customer_id"]: r for r in csv.DictReader(out.open(encoding="utf-8"))}
    assert {k: rows["ce"][k] for k in ("revenue", "window_revenue", "monetary")} == {
        "revenue": "0.3",
        "window_revenue": "0.3",
        "monetary": "0.3",
    }
    assert rows["ca"]["refunds"] == "30.0"
    seg = ws.segments(as_of=AS_OF).to_pandas().set_index("customer_key")
    assert seg.revenue.tolist() == seg.revenue.round(2).tolist()


def test_cohort_money_is_not_shown_as_a_percentage(shop: Path) -> None:
    # cb's month after acquisition is -70 (rb); ce's 0.30 is money too: both were percentages
    day = ("--as-of", AS_OF.isoformat())
    text = ok(patron_here("-w", "ws", "cohorts", "--metric", "revenue", *day, cwd=shop))
    assert "%" not in text
    assert "-70" in text
    curves = ok(patron_here("-w", "ws", "cohorts", "--by", "acquisition_channel", *day, cwd=shop))
    assert "%" not in curves
    retention = ok(patron_here("-w", "ws", "cohorts", *day, cwd=shop))
    assert "100%" in retention


def test_trend_by_group_names_each_column(shop: Path) -> None:
    args = ("kpis", "--trend", "month", "--by", "acquisition_channel", "--as-of", "2023-04-30")
    text = ok(patron_here("-w", "ws", *args, cwd=shop))
    # month ends 2023-03-31 and 2023-04-30, cd (web) alone: it said "2023-03-31" alone
    rows = [line.split()[:2] for line in text.splitlines() if line.strip().startswith("2023")]
    assert rows == [["2023-03-31", "web"], ["2023-04-30", "web"]]


@pytest.mark.parametrize(
    ("call", "choices"),
    [
        (lambda ws: ws.kpis(by="acq"), "acquisition_channel, channel, cohort"),
        (lambda ws: ws.cohorts(period="week"), "month, quarter, year, season"),
        (lambda ws: ws.cohorts(metric="churn"), "retention, revenue, customers"),
        (
            lambda ws: ws.segment_migration("2024-04-01", dimension="tier"),
            "rfm_segment, stage, value_tier",
        ),
    ],
)
def test_unknown_names_list_the_choices(ws: Workspace, call: Any, choices: str) -> None:
    with pytest.raises(InputError, match=choices):
        call(ws)
