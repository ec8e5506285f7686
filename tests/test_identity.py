"""Identity resolution: one person across channels, stable keys, merges, blocking."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from patron import Workspace
from patron.identity.normalize import EMAIL_PATTERN, identifier_sql

NOW = datetime(2025, 6, 1, tzinfo=UTC)


def _orders(rows: list[dict[str, object]]) -> pd.DataFrame:
    base = {"customer_id": None, "email": None, "phone": None, "loyalty_id": None}
    frame = pd.DataFrame([{**base, **row} for row in rows])
    if "ordered_at" not in frame:
        frame["ordered_at"] = [f"2024-01-{i % 28 + 1:02d} 10:00" for i in range(len(frame))]
    if "revenue" not in frame:
        frame["revenue"] = "10.00"
    frame.insert(0, "order_id", [f"o{i}" for i in range(len(frame))])
    return frame.astype(object).where(frame.notna(), None)


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace.init(tmp_path / "ws", timezone="America/New_York", phone_region="US")


def _keys(ws: Workspace) -> dict[str, int]:
    rows = ws.warehouse.duckdb.execute(
        "SELECT identifier_type || ':' || value, customer_key FROM identities"
    ).fetchall()
    return dict(rows)


def test_one_person_across_web_store_and_app(ws: Workspace) -> None:
    ws.load(
        "orders",
        _orders(
            [
                {"customer_id": "W1", "email": " Ana@Example.COM "},  # web shop
                {"phone": "(212) 555-0143"},  # store POS, phone only
                {"loyalty_id": "L9", "email": "ana@example.com"},  # app
                {"phone": "+1 212-555-0143", "email": "ana@example.com"},  # a receipt by email
                {"email": "bob@example.com"},
            ]
        ),
        now=NOW,
    )
    keys = _keys(ws)
    ana = {keys[k] for k in ("customer_id:W1", "email:ana@example.com", "phone:+12125550143")}
    assert ana == {keys["loyalty_id:L9"]}
    assert keys["email:bob@example.com"] not in ana
    status = ws.status()
    assert status["customers"] == 2
    assert status["identities"] == 5
    assert status["identities_merged"] == 3
    profile = ws.customer("212.555.0143")
    assert profile["totals"]["orders"] == 4
    assert {i["type"] for i in profile["identifiers"]} == {
        "customer_id",
        "email",
        "phone",
        "loyalty_id",
    }


def test_keys_are_stable_and_the_older_key_survives_a_merge(ws: Workspace) -> None:
    ws.load("orders", _orders([{"email": "a@x.com"}]), now=NOW)
    ws.load("orders", _orders([{"phone": "2125550143"}]).assign(order_id="p1"), now=NOW)
    before = _keys(ws)
    assert before == {"email:a@x.com": 1, "phone:+12125550143": 2}

    link = _orders([{"email": "a@x.com", "phone": "212 555 0143"}]).assign(order_id="link")
    result = ws.load("orders", link, now=NOW)

    assert result.merges == 1 and result.new_customers == 0
    assert set(_keys(ws).values()) == {1}
    con = ws.warehouse.duckdb
    assert con.execute("SELECT merged_key, into_key FROM customer_merges").fetchall() == [(2, 1)]
    assert con.execute("SELECT DISTINCT customer_key FROM orders").fetchall() == [(1,)]
    assert ws.customer("a@x.com")["merged_from"] == [2]
    assert ws.status()["customers"] == 1


def test_new_link_to_a_known_customer_keeps_its_key(ws: Workspace) -> None:
    ws.load("orders", _orders([{"email": "a@x.com"}, {"email": "b@x.com"}]), now=NOW)
    ws.load(
        "orders", _orders([{"email": "b@x.com", "loyalty_id": "L1"}]).assign(order_id="n"), now=NOW
    )
    keys = _keys(ws)
    assert keys["loyalty_id:L1"] == keys["email:b@x.com"] == 2


def test_promiscuous_identifier_is_blocked_and_reported(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws", phone_region="US", max_links=3)
    walk_ins = [{"email": "noreply@store.example", "phone": f"212555{1000 + i}"} for i in range(6)]
    result = ws.load("orders", _orders([*walk_ins, {"email": "noreply@store.example"}]), now=NOW)

    assert result.blocked_identifiers == 1
    status = ws.status()
    assert status["customers"] == 6  # the six phones stay six people
    assert status["blocked"] == [{"type": "email", "value": "noreply@store.example", "links": 6}]
    assert status["unattributed_orders"] == 1  # only the blocked identifier: nobody's order
    assert "email:noreply@store.example" not in _keys(ws)


def test_an_identifier_that_turns_promiscuous_in_a_small_later_load_is_blocked(
    tmp_path: Path,
) -> None:
    # a big first load, then a small one: the later load counts its own identifiers' links only
    ws = Workspace.init(tmp_path / "ws", phone_region="US", max_links=3)
    people = [{"email": f"p{i}@x.com", "phone": f"212555{3000 + i}"} for i in range(40)]
    first = ws.load("orders", _orders(people), now=NOW)
    assert first.blocked_identifiers == 0
    walk_ins = [{"email": "noreply@store.example", "phone": f"212555{3000 + i}"} for i in range(4)]
    later = _orders(walk_ins).assign(order_id=lambda f: "w" + f["order_id"])
    assert ws.load("orders", later, now=NOW).blocked_identifiers == 1
    status = ws.status()
    assert status["blocked"] == [{"type": "email", "value": "noreply@store.example", "links": 4}]
    assert status["customers"] == 40  # the four phones' owners were not merged


def test_customers_table_takes_profile_fields_from_crm_records(ws: Workspace) -> None:
    records = pd.DataFrame(
        {
            "email": ["sara@example.com", "sara@example.com"],
            "phone": [None, "2125550143"],
            "name": ["Sara", "سارا رضایی"],
            "signup_channel": ["store", "web"],
            "signed_up_at": ["2023-05-01", "2023-01-01"],
            "email_consent": ["yes", "no"],
        }
    )
    ws.load("customers", records, now=NOW)
    ws.load("orders", _orders([{"phone": "212-555-0143"}]), now=NOW)
    rows = ws.table("customers").execute()
    assert len(rows) == 1
    sara = rows.iloc[0]
    assert sara["name"] == "سارا رضایی"  # the latest record's name
    assert sara["signup_channel"] == "web"  # the earliest sign-up
    assert not sara["email_consent"]
    assert ws.customer("sara@example.com")["totals"]["orders"] == 1


# An independent check: union-find over the same records, and incremental == all at once.
_ids = st.sampled_from(
    [f"email:u{i}@x.com" for i in range(8)] + [f"customer_id:c{i}" for i in range(8)]
)


def _partition(records: list[list[str]]) -> set[frozenset[str]]:
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            x = parent[x]
        return x

    for record in records:
        find(record[0])
        for other in record[1:]:
            parent[find(other)] = find(record[0])
    groups: dict[str, set[str]] = {}
    for x in list(parent):
        groups.setdefault(find(x), set()).add(x)
    return {frozenset(g) for g in groups.values()}


def _as_rows(records: list[list[str]]) -> list[dict[str, object]]:
    return [dict(item.split(":", 1) for item in record) for record in records]


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    records=st.lists(
        st.lists(_ids, min_size=1, max_size=2, unique_by=lambda s: s.split(":")[0]),
        min_size=1,
        max_size=12,
    ),
    split=st.integers(min_value=0, max_value=12),
)
def test_components_match_union_find_whether_loaded_at_once_or_in_parts(
    tmp_path_factory: pytest.TempPathFactory, records: list[list[str]], split: int
) -> None:
    expected = _partition(records)
    folder = tmp_path_factory.mktemp("prop")
    ws = Workspace.init(folder / "ws", phone_region="US")
    first, second = records[:split], records[split:]
    for n, part in enumerate((first, second)):
        if part:
            frame = _orders(_as_rows(part)).assign(order_id=lambda f, n=n: f["order_id"] + f"-{n}")
            ws.load("orders", frame, now=NOW)
    got: dict[int, set[str]] = {}
    for ident, key in _keys(ws).items():
        got.setdefault(key, set()).add(ident)
    assert {frozenset(g) for g in got.values()} == expected
    assert ws.status()["customers"] == len(expected)
    ws.close()


def test_same_input_gives_the_same_keys(tmp_path: Path) -> None:
    frame = _orders(
        [{"email": f"p{i % 7}@x.com", "customer_id": f"c{i % 5}"} for i in range(30)]
        + [{"phone": f"212555{2000 + i}"} for i in range(5)]
    )
    keys = []
    for name in ("a", "b"):
        ws = Workspace.init(tmp_path / name, phone_region="US")
        ws.load("orders", frame, now=NOW)
        keys.append(_keys(ws))
        ws.close()
    assert keys[0] == keys[1]


def test_customers_show_the_first_seen_identifier_of_each_type_ties_by_value(
    tmp_path: Path,
) -> None:
    """One person with three emails: the earliest order's email is theirs; two emails first
    seen at the same instant (date-only data makes that common) resolve to the smaller one,
    whatever order the rows come in."""
    rows = [
        {"customer_id": "C1", "email": "zed@example.com", "ordered_at": "2024-01-05"},
        {"customer_id": "C1", "email": "amy@example.com", "ordered_at": "2024-01-07"},
        {"customer_id": "C2", "email": "yan@example.com", "ordered_at": "2024-01-03"},
        {"customer_id": "C2", "email": "bea@example.com", "ordered_at": "2024-01-03"},
        {"customer_id": "C3", "email": "cat@example.com", "ordered_at": "1999-12-31 23:59:59.5"},
        {"customer_id": "C3", "email": "abe@example.com", "ordered_at": "2000-01-01"},
    ]
    for n, order in enumerate((rows, rows[::-1])):
        workspace = Workspace.init(tmp_path / f"ws{n}")
        workspace.load("orders", _orders(order), now=NOW)
        found = workspace.warehouse.duckdb.execute(
            "SELECT customer_id, email FROM customers ORDER BY customer_id"
        ).fetchall()
        assert found == [
            ("C1", "zed@example.com"),
            ("C2", "bea@example.com"),
            ("C3", "cat@example.com"),
        ]


def test_a_failure_while_the_links_stream_in_leaves_the_workspace_as_it_was(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The components step reads the links as a stream, which holds the connection: a failure
    half-way must still reach the user as itself, after the rollback."""
    from patron.identity import resolve

    frame = _orders([{"customer_id": "C1", "email": "ana@example.com"}, {"email": "b@x.com"}])

    def fails_midway(nodes: int, edges: Iterable[object], **_: object) -> object:
        next(iter(edges))
        raise MemoryError("no room for the labels")

    monkeypatch.setattr(resolve, "component_labels", fails_midway)
    with pytest.raises(MemoryError, match="no room"):
        ws.load("orders", frame, now=NOW)
    monkeypatch.undo()
    assert (ws.status()["orders"], ws.status()["identities"]) == (0, 0)
    assert ws.load("orders", frame, now=NOW).inserted == 2
    assert ws.status()["customers"] == 2


@pytest.mark.parametrize("char", ["\x00", "\t", "\x1f", "\x7f", "\x9f", " ", "\u00a0", "\u2009"])
def test_emails_with_a_control_character_inside_are_refused_by_loads_and_lookups(
    char: str,
) -> None:
    """Loads check emails in SQL (RE2), profile lookups in Python (``re``): both refuse one
    with a control character or a space (a no-break one too) inside, and both take the same
    address without it."""
    sql = f"SELECT {identifier_sql('email', 'v')} FROM (SELECT CAST(? AS VARCHAR) AS v)"
    with duckdb.connect() as con:
        for email, valid in ((f"a{char}b@x.com", False), ("ab@x.com", True)):
            assert (con.execute(sql, [email]).fetchall() == [(email,)]) is valid
            assert bool(re.fullmatch(EMAIL_PATTERN, email)) is valid
