"""A load refreshes ``customers`` and ``purchase_occasions`` for the customers it touched only;
after any sequence of loads (new buyers, repeat orders, merges through orders, CRM records and
events) both equal a rebuild from scratch."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from patron import Workspace
from patron.ingest import customers, loader
from patron.ingest.customers import rebuild_customers
from patron.metrics import occasions
from patron.metrics.occasions import occasion_days

NOW = datetime(2025, 6, 1, tzinfo=UTC)
START = date(2024, 1, 1)
PEOPLE = 60


def write(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def order(rng: random.Random, oid: str, ids: str) -> str:
    day = START + timedelta(days=rng.randrange(500))
    hour, channel = rng.randrange(8, 20), rng.choice(["web", "store"])
    return f"{oid},{ids},{day} {hour}:00,{channel},{rng.randrange(5, 90)}"


def batches(tmp: Path, seed: int) -> list[tuple[str, Path]]:
    """A base of PEOPLE buyers, then small loads: repeat orders, a newcomer, a link through an
    order, CRM records (profiles, a link), events (a link), and another order batch."""
    rng = random.Random(seed)
    head = "order_id,customer_id,email,loyalty_id,ordered_at,channel,revenue"
    base = [
        order(rng, f"a{i}-{j}", f"c{i},p{i}@x.com,")
        for i in range(PEOPLE)
        for j in range(rng.randrange(1, 4))
    ]
    picked = rng.sample(range(PEOPLE), 8)
    more = [order(rng, f"b{n}", f"c{i},,") for n, i in enumerate(picked[:5])]
    more += [
        order(rng, "b-new", "c999,new@x.com,"),
        order(rng, "b-link", f"c{picked[5]},p{picked[6]}@x.com,"),
    ]
    crm = [f"c{i},Name {i},US" for i in rng.sample(range(PEOPLE), 4)]
    crm.append(f"c{picked[7]},Linked,p{picked[0]}@x.com")
    events = [
        f"e1,p{picked[1]}@x.com,L1,2024-05-01 10:00,email_open",
        "e2,,L1,2024-05-02 10:00,app_open",
    ]
    events.append(f"e3,p{picked[2]}@x.com,L1,2024-05-03 10:00,email_click")
    later = [order(rng, f"c{n}", ",,L1") for n in range(3)] + [
        order(rng, "c-old", f"c{picked[3]},,")
    ]
    return [
        ("orders", write(tmp / "base.csv", head, base)),
        ("orders", write(tmp / "more.csv", head, more)),
        ("customers", write(tmp / "crm.csv", "customer_id,name,email", crm)),
        ("events", write(tmp / "events.csv", "event_id,email,loyalty_id,occurred_at,type", events)),
        ("orders", write(tmp / "later.csv", head, later)),
    ]


def stored(ws: Workspace, table: str) -> list[tuple[Any, ...]]:
    return sorted(ws.warehouse.duckdb.execute(f"SELECT * FROM {table}").fetchall(), key=repr)


def rebuilt_customers(ws: Workspace) -> list[tuple[Any, ...]]:
    """The customers table as a full rebuild makes it (rolled back afterwards)."""
    con = ws.warehouse.duckdb
    con.execute("BEGIN TRANSACTION")
    try:
        rebuild_customers(con)
        return stored(ws, "customers")
    finally:
        con.execute("ROLLBACK")


def occasions_from_orders(ws: Workspace) -> list[tuple[Any, ...]]:
    table = occasion_days(ws.table("orders")).to_pyarrow()
    described = ws.warehouse.duckdb.execute("DESCRIBE purchase_occasions").fetchall()
    names = [row[0] for row in described]
    return sorted((tuple(row[c] for c in names) for row in table.to_pylist()), key=repr)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_touched_refresh_equals_a_rebuild(
    tmp_path: Path, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    scopes: list[str | None] = []
    refresh = loader.rebuild_occasions
    monkeypatch.setattr(
        loader,
        "rebuild_occasions",
        lambda con, touched=None: scopes.append(touched) or refresh(con, touched),
    )
    with Workspace.init(tmp_path / "ws", timezone="UTC") as ws:
        merges = 0
        for table, path in batches(tmp_path, seed):
            merges += ws.load(table, [path], now=NOW).merges
            assert stored(ws, "customers") == rebuilt_customers(ws), path.name
            assert stored(ws, "purchase_occasions") == occasions_from_orders(ws), path.name
    assert merges >= 3  # through an order, a CRM record and events
    assert scopes[0] is None and "_touched" in scopes[1:]  # the base is rebuilt, then refreshed


def test_a_rebuild_in_shares_of_customers_equals_one_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Big rebuilds go a share of the customers at a time (split by key); the tables are the
    same as one pass makes, for a whole rebuild and for a refresh of touched customers."""
    passes: list[int] = []
    one_pass = occasions.occasion_days
    monkeypatch.setattr(occasions, "ORDERS_PER_PASS", 7)
    monkeypatch.setattr(customers, "IDENTIFIERS_PER_PASS", 5)
    monkeypatch.setattr(
        occasions, "occasion_days", lambda orders: passes.append(1) or one_pass(orders)
    )
    with Workspace.init(tmp_path / "ws", timezone="UTC") as ws:
        for table, path in batches(tmp_path, seed=4):
            before = len(passes)
            ws.load(table, [path], now=NOW)
            assert stored(ws, "purchase_occasions") == occasions_from_orders(ws), path.name
            assert rebuilt_customers(ws) == one_pass_customers(ws), path.name
            if path.name == "base.csv":
                orders = ws.warehouse.duckdb.execute("SELECT count(*) FROM orders").fetchall()
                assert len(passes) - before == -(-orders[0][0] // 7)


def one_pass_customers(ws: Workspace) -> list[tuple[Any, ...]]:
    """The customers table as one pass over every identifier makes it (rolled back)."""
    con = ws.warehouse.duckdb
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM customers")
        customers._insert(con, "", None)
        return stored(ws, "customers")
    finally:
        con.execute("ROLLBACK")
