"""Cancelled orders (WooCommerce's cancelled and failed, Shopify's voided) are kept but counted
nowhere: they had been purchases in every KPI, model and insight."""

from __future__ import annotations

from pathlib import Path

import pytest
from ingest_support import NOW, write

from patron import Workspace

SHOP = (
    "order_id,email,ordered_at,revenue,status\n"
    "o1,ann@example.com,2024-03-01 10:00,50.00,completed\n"
    "o2,ann@example.com,2024-03-05 10:00,80.00,Cancelled\n"  # never paid
    "o3,ann@example.com,2024-03-09 10:00,30.00,refunded\n"  # a refund of 30: of o1, not o2
    "o4,bob@example.com,2024-03-02 10:00,20.00,failed\n"  # bob never bought
    "o5,cy@example.com,2024-03-03 10:00,40.00,voided\n"
    "o6,cy@example.com,2024-03-04 10:00,40.00,processing\n"  # an order placed: a purchase
    "o7,di@example.com,2024-03-06 10:00,60.00,completed\n"
    "o8,di@example.com,2024-03-07 10:00,-60.00,cancelled\n"  # a cancellation row: a return
)


@pytest.fixture
def shop(tmp_path: Path) -> Workspace:
    ws = Workspace.init(tmp_path / "ws", timezone="UTC")
    ws.load("orders", write(tmp_path / "orders.csv", SHOP), now=NOW)
    return ws


def test_status_counts_purchases_returns_and_cancelled_orders(shop: Workspace) -> None:
    status = shop.status()
    assert (status["orders"], status["returns"], status["cancelled_orders"]) == (3, 2, 3)
    assert float(status["revenue"]) == 150.0  # o1 + o6 + o7
    assert sorted(shop.purchases().order_id.execute()) == ["o1", "o6", "o7"]
    assert shop.table("orders").count().execute() == 8  # nothing lost


def test_metrics_count_no_cancelled_order(shop: Workspace) -> None:
    kpis = shop.kpis(as_of="2024-03-31")
    assert kpis["customers_total"] == 3  # ann, cy, di: bob's only order failed
    assert kpis["orders"] == 3
    assert kpis["revenue"] == pytest.approx(150.0)
    assert kpis["refunds"] == pytest.approx(90.0)  # o3's 30 and o8's 60
    segments = shop.segments(as_of="2024-03-31").execute()
    assert len(segments) == 3
    occasions = shop.sales().occasions.count().execute()
    assert occasions == 3


def test_a_refund_links_to_a_paid_order_never_a_cancelled_one(shop: Workspace) -> None:
    rows = shop.table("orders").execute().set_index("order_id")
    assert rows.loc["o3", "return_of"] == "o1"  # o2 was later and covered it, but never paid
    assert rows.loc["o8", "return_of"] == "o7"


def test_the_profile_marks_cancelled_orders(shop: Workspace) -> None:
    ann = shop.customer("ann@example.com")
    assert ann["totals"]["orders"] == 1 and ann["totals"]["cancelled"] == 1
    assert ann["totals"]["returns"] == 1
    assert [o["order_id"] for o in ann["orders"] if o["cancelled"]] == ["o2"]
    bob = shop.customer("bob@example.com")
    assert bob["totals"]["orders"] == 0 and bob["totals"]["first_purchase"] is None


def test_the_next_load_drops_occasions_an_older_version_made_of_cancelled_days(
    shop: Workspace, tmp_path: Path
) -> None:
    con = shop.warehouse.duckdb
    bob = shop.customer("bob@example.com")["customer_key"]
    # as a version that counted cancelled orders left it: bob's failed order was an occasion
    con.execute(
        "INSERT INTO purchase_occasions (customer_key, order_date, revenue, orders, n) "
        "VALUES (?, DATE '2024-03-02', 20, 1, 0)",
        [bob],
    )
    assert shop.sales().occasions.count().execute() == 4
    later = write(
        tmp_path / "later.csv", "order_id,email,ordered_at,revenue\nz1,zed@x.com,2024-04-01,5\n"
    )
    shop.load("orders", later, now=NOW)
    occasions = shop.sales().occasions
    assert occasions.count().execute() == 4  # ann, cy, di and the new zed; bob's day is gone
    assert occasions.filter(occasions.customer_key == bob).count().execute() == 0
