"""The stored ``purchase_occasions`` table: rebuilt by every load that changes it, always equal to
the occasions computed from the orders, and not needed by workspaces made before it existed."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from patron import Workspace
from patron.metrics.occasions import TABLE, Sales, occasion_days

NOW = datetime(2025, 1, 1, tzinfo=UTC)
ORDERS = (
    "order_id,customer_id,email,ordered_at,channel,revenue,cost,status,return_of\n"
    "o1,c1,a@example.com,2024-01-05 10:00,web,10.00,6.00,completed,\n"
    "o2,c1,a@example.com,2024-01-05 18:00,store,5.00,,completed,\n"  # same day: one occasion
    "o3,c2,b@example.com,2024-01-03 09:00,app,20.00,,completed,\n"
    "o4,c2,b@example.com,2024-02-01 09:00,web,0.00,,completed,\n"  # zero value still counts
    "r1,c2,b@example.com,2024-02-02 09:00,web,-20.00,,returned,o3\n"  # never an occasion
)
COLUMNS = ("customer_key", "order_date", "channel", "revenue", "orders", "n", "first_date")
D3, D5, F1 = date(2024, 1, 3), date(2024, 1, 5), date(2024, 2, 1)


def rows(table: Any) -> list[tuple[Any, ...]]:
    """The occasions as sorted tuples (money rounded to cents)."""
    extra = ("acquisition_channel", "prev_date", "costed_revenue", "cost")
    frame = table.select(*COLUMNS, *extra).to_pyarrow()
    out = [
        tuple(round(v, 2) if isinstance(v, float) else v for v in row.values())
        for row in frame.to_pylist()
    ]
    return by_key_and_day(*out)


def by_key_and_day(*occasions: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    return sorted(occasions, key=lambda r: (r[0], r[1]))


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    (tmp_path / "orders.csv").write_text(ORDERS, encoding="utf-8")
    workspace = Workspace.init(tmp_path / "ws", timezone="UTC", phone_region="US")
    workspace.load("orders", [tmp_path / "orders.csv"], now=NOW)
    return workspace


def keys(ws: Workspace) -> dict[str, int]:
    orders = ws.table("orders").select("order_id", "customer_key").to_pyarrow().to_pylist()
    return {r["order_id"]: r["customer_key"] for r in orders}


def test_the_stored_table_holds_every_occasion_numbered_from_acquisition(ws: Workspace) -> None:
    k = keys(ws)
    stored = rows(ws.sales().occasions)
    assert stored == by_key_and_day(
        # key, day, first order's channel, revenue, orders, n, first, acq., prev, costed, cost
        (k["o1"], D5, "web", 15.0, 2, 0, D5, "web", None, 10.0, 6.0),
        (k["o3"], D3, "app", 20.0, 1, 0, D3, "app", None, None, None),
        (k["o3"], F1, "web", 0.0, 1, 1, D3, "app", D3, None, None),
    )
    assert stored == rows(occasion_days(ws.table("orders")))


def test_a_merge_renumbers_the_merged_history(ws: Workspace, tmp_path: Path) -> None:
    # c1's CRM record carries c2's email: the two are one person from now on
    (tmp_path / "crm.csv").write_text("customer_id,email\nc1,b@example.com\n", encoding="utf-8")
    result = ws.load("customers", [tmp_path / "crm.csv"], now=NOW)
    assert result.merges == 1
    stored = rows(ws.sales().occasions)
    key = keys(ws)["o1"]
    assert [r[:2] + r[5:9] for r in stored] == [
        (key, D3, 0, D3, "app", None),
        (key, D5, 1, D3, "app", D3),
        (key, F1, 2, D3, "app", D5),
    ]
    assert stored == rows(occasion_days(ws.table("orders")))
    assert ws.kpis(as_of=date(2024, 12, 31))["repeat_rate"] == 1.0


def test_a_reload_that_changes_nothing_keeps_the_table(ws: Workspace, tmp_path: Path) -> None:
    before = rows(ws.sales().occasions)
    result = ws.load("orders", [tmp_path / "orders.csv"], now=NOW)
    assert (result.inserted, result.duplicates) == (0, 5)
    assert rows(ws.sales().occasions) == before


def test_a_workspace_without_the_table_computes_occasions(ws: Workspace) -> None:
    expected = ws.kpis(as_of=date(2024, 12, 31))
    ws.warehouse.duckdb.execute(f"DROP TABLE {TABLE}")  # as loaded by an older patron
    sales = ws.sales()
    assert rows(sales.occasions) == rows(Sales.of(ws.table("orders")).occasions)
    assert ws.kpis(as_of=date(2024, 12, 31)) == expected
