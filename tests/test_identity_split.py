"""Blocking an identifier splits the customers it had united in earlier loads, so that the
customers do not depend on which loads came first."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli_support import ok, patron_here
from patron import Workspace

NOW = datetime(2025, 6, 1, tzinfo=UTC)
STORE = "noreply@store.example"


def _orders(rows: list[dict[str, object]], prefix: str) -> pd.DataFrame:
    base = {"customer_id": None, "email": None, "phone": None, "loyalty_id": None}
    frame = pd.DataFrame([{**base, **row} for row in rows])
    frame.insert(0, "order_id", [f"{prefix}{i}" for i in range(len(frame))])
    frame["ordered_at"] = [f"2024-01-{i % 28 + 1:02d} 10:00" for i in range(len(frame))]
    frame["revenue"] = "10.00"
    return frame.astype(object).where(frame.notna(), None)


def _walk_ins(first: int, n: int, prefix: str) -> pd.DataFrame:
    rows = [{"email": STORE, "phone": f"212555{1000 + i}"} for i in range(first, first + n)]
    return _orders(rows, prefix)


def _owners(ws: Workspace) -> dict[str, int | None]:
    rows = ws.warehouse.duckdb.execute("SELECT order_id, customer_key FROM orders").fetchall()
    return dict(rows)


def _groups(owners: dict[str, int | None]) -> set[frozenset[str]]:
    """Orders grouped by customer, keys aside; the orders of no one as one more group."""
    groups: dict[object, set[str]] = {}
    for order, key in owners.items():
        groups.setdefault(key if key is not None else "nobody", set()).add(order)
    return {frozenset(g) for g in groups.values()}


def test_walk_ins_an_email_united_before_it_was_blocked_are_split(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws", phone_region="US", max_links=3)
    early = ws.load("orders", _walk_ins(0, 3, "a"), now=NOW)
    assert early.new_customers == 1  # three links: not yet implausible, so one customer
    later = ws.load("orders", _walk_ins(3, 2, "b"), now=NOW)

    assert later.blocked_identifiers == 1
    assert later.splits == 2  # the first walk-in keeps key 1, the other two get new keys
    owners = _owners(ws)
    assert owners["a0"] == 1
    assert len(set(owners.values())) == 5
    status = ws.status()
    assert status["customers"] == 5
    assert status["split_customers"] == 2
    assert status["merges"] == 0 and status["dissolved_customers"] == 0
    log = ws.warehouse.duckdb.execute(
        "SELECT from_key, new_key, load_id FROM customer_splits ORDER BY new_key"
    ).fetchall()
    assert log == [(1, owners["a1"], 2), (1, owners["a2"], 2)]
    # the derived tables follow: one profile and one purchase occasion per walk-in
    derived = ws.warehouse.duckdb.execute(
        "SELECT (SELECT count(DISTINCT customer_key) FROM purchase_occasions), "
        "(SELECT count(*) FROM customers WHERE email IS NULL)"
    ).fetchone()
    assert derived == (5, 5)
    walk_in = ws.customer("2125551001")
    assert walk_in["totals"]["orders"] == 1 and walk_in["split_from"] == 1
    assert ws.customer(1)["split_off"] == sorted([owners["a1"], owners["a2"]])


def test_same_customers_as_when_the_identifier_is_blocked_from_the_start(
    tmp_path: Path,
) -> None:
    at_once = Workspace.init(tmp_path / "once", phone_region="US", max_links=3)
    at_once.load("orders", pd.concat([_walk_ins(0, 3, "a"), _walk_ins(3, 2, "b")]), now=NOW)
    daily = Workspace.init(tmp_path / "daily", phone_region="US", max_links=3)
    daily.load("orders", _walk_ins(0, 3, "a"), now=NOW)
    daily.load("orders", _walk_ins(3, 2, "b"), now=NOW)
    assert _groups(_owners(daily)) == _groups(_owners(at_once))


def test_a_part_kept_together_by_another_identifier_stays_one_customer(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws", phone_region="US", max_links=3)
    first = [
        {"email": STORE, "phone": "2125551000"},
        {"email": STORE, "phone": "2125551001"},
        {"loyalty_id": "L7", "phone": "2125551000"},  # the same person again, by card
        {"loyalty_id": "L7", "email": "ana@example.com"},
        {"email": STORE},  # a receipt with the store's e-mail alone
    ]
    ws.load("orders", _orders(first, "a"), now=NOW)
    assert len(set(_owners(ws).values())) == 1
    ws.load("orders", _walk_ins(2, 2, "b"), now=NOW)

    owners = _owners(ws)
    assert owners["a0"] == owners["a2"] == owners["a3"] == 1  # first seen: keeps the key
    assert owners["a1"] not in (None, 1)
    assert owners["a4"] is None  # the store's e-mail alone: nobody's order, as from the start
    assert ws.status()["unattributed_orders"] == 1
    ana = ws.customer("ana@example.com")
    assert ana["customer_key"] == 1 and ana["totals"]["orders"] == 3


def test_a_new_load_linking_split_parts_merges_them_again(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws", phone_region="US", max_links=3)
    ws.load("orders", _walk_ins(0, 3, "a"), now=NOW)
    # the load that blocks the e-mail also shows walk-ins 1 and 2 are one person (one card)
    later = [
        *[{"email": STORE, "phone": f"212555{1003 + i}"} for i in range(2)],
        {"loyalty_id": "L1", "phone": "2125551001"},
        {"loyalty_id": "L1", "phone": "2125551002"},
    ]
    result = ws.load("orders", _orders(later, "b"), now=NOW)
    owners = _owners(ws)
    assert result.splits == 2 and result.merges == 1
    assert owners["a1"] == owners["a2"] == owners["b2"] != owners["a0"]
    assert ws.status()["customers"] == 4


def test_the_load_summary_and_status_name_the_splits(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws", phone_region="US", max_links=3)
    _walk_ins(0, 3, "a").to_csv(tmp_path / "day1.csv", index=False)
    _walk_ins(3, 2, "b").to_csv(tmp_path / "day2.csv", index=False)
    ws.close()
    ok(patron_here("-w", "ws", "load", "orders", "day1.csv", cwd=tmp_path))
    out = ok(patron_here("-w", "ws", "load", "orders", "day2.csv", cwd=tmp_path))
    assert "1 identifiers blocked (2 split off the customers they had united)." in out
    status = ok(patron_here("-w", "ws", "status", cwd=tmp_path))
    assert "splits                          2   (customers split off" in status
    shown = ok(patron_here("-w", "ws", "customer", "show", "1", cwd=tmp_path))
    assert "split off (a blocked identifier had united them): customers 2, 3" in shown
    shown = ok(patron_here("-w", "ws", "customer", "show", "2125551002", cwd=tmp_path))
    assert "split from customer 1 (a blocked identifier had united them)" in shown


_EMAILS = st.sampled_from([STORE, "a@x.com", "b@x.com"])
_PHONES = st.sampled_from([f"212555{1000 + i}" for i in range(6)])
_CARDS = st.sampled_from([None, "L1", "L2"])


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    records=st.lists(
        st.fixed_dictionaries({"email": _EMAILS, "phone": _PHONES, "loyalty_id": _CARDS}),
        min_size=2,
        max_size=10,
    ),
    cut=st.integers(min_value=1, max_value=9),
)
def test_loading_in_two_parts_gives_the_customers_of_one_load(
    tmp_path_factory: pytest.TempPathFactory, records: list[dict[str, object]], cut: int
) -> None:
    folder = tmp_path_factory.mktemp("split")
    frame = _orders(records, "o")
    once = Workspace.init(folder / "once", phone_region="US", max_links=2)
    once.load("orders", frame, now=NOW)
    parts = Workspace.init(folder / "parts", phone_region="US", max_links=2)
    for part in (frame.iloc[:cut], frame.iloc[cut:]):
        if len(part):
            parts.load("orders", part, now=NOW)
    assert _groups(_owners(parts)) == _groups(_owners(once))
    assert parts.status()["customers"] == once.status()["customers"]
    once.close()
    parts.close()
