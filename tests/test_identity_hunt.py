"""Identity resolution as multichannel data over many loads exercises it: files out of date
order, identifiers blocked only once later loads show them shared, phones as people type
them, and the customer 360 of a merged person through the real command."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from cli_support import ok, patron, patron_here
from patron import Workspace
from patron.errors import InputError, NotFoundError

NOW = datetime(2025, 6, 1, tzinfo=UTC)


def _orders(rows: list[dict[str, object]], prefix: str) -> pd.DataFrame:
    base = {"customer_id": None, "email": None, "phone": None, "loyalty_id": None}
    frame = pd.DataFrame([{"revenue": "10.00", **base, **row} for row in rows])
    if "ordered_at" not in frame:
        frame["ordered_at"] = [f"2024-01-{i % 28 + 1:02d} 10:00" for i in range(len(frame))]
    frame.insert(0, "order_id", [f"{prefix}{i}" for i in range(len(frame))])
    return frame.astype(object).where(frame.notna(), None)


def _owners(ws: Workspace) -> dict[str, int | None]:
    rows = ws.warehouse.duckdb.execute("SELECT order_id, customer_key FROM orders").fetchall()
    return dict(rows)


STORE_ONLY = [{"email": "a@x.com"}, {"email": "till@store.example"}]
WALK_INS = [{"email": "till@store.example", "phone": f"212555{1000 + i}"} for i in range(3)]


def test_a_customer_known_only_by_an_identifier_blocked_later_is_dissolved(
    tmp_path: Path,
) -> None:
    """A walk-in order with only the store's email made customer 2; a later load shows that
    email on three phones (past max_links=2) and blocks it. The order belongs to no one, as
    in a workspace that saw every row at once, and key 2 is never handed to one of the new
    phones (which made that phone's owner the walk-in's buyer)."""
    ws = Workspace.init(tmp_path / "ws", phone_region="US", max_links=2)
    ws.load("orders", _orders(STORE_ONLY, "a"), now=NOW)
    ws.load("orders", _orders(WALK_INS, "b"), now=NOW)

    owners = _owners(ws)
    assert owners["a1"] is None
    assert owners["b0"] not in (None, 1, 2)
    assert sorted(k for k in owners.values() if k is not None) == [1, 3, 4, 5]
    assert [o["order_id"] for o in ws.customer("212-555-1000")["orders"]] == ["b0"]
    with pytest.raises(NotFoundError):
        ws.customer(2)
    status = ws.status()
    assert (status["customers"], status["unattributed_orders"]) == (4, 1)
    assert (status["merges"], status["dissolved_customers"]) == (0, 1)
    con = ws.warehouse.duckdb
    assert con.execute("SELECT merged_key, into_key FROM customer_merges").fetchall() == [(2, None)]
    assert con.execute("SELECT count(*) FROM purchase_occasions WHERE customer_key = 2").fetchall()[
        0
    ] == (0,)

    at_once = Workspace.init(tmp_path / "once", phone_region="US", max_links=2)
    at_once.load("orders", _orders(STORE_ONLY, "a"), now=NOW)
    assert _owners(at_once)["a1"] == 2  # not blocked yet: one order is no evidence
    at_once.load("orders", _orders(WALK_INS, "b"), now=NOW)
    together = Workspace.init(tmp_path / "together", phone_region="US", max_links=2)
    together.load("orders", pd.concat([_orders(STORE_ONLY, "a"), _orders(WALK_INS, "b")]), now=NOW)
    assert _owners(together)["a1"] is None
    assert together.status()["customers"] == status["customers"]


def test_a_blocked_identifier_leaves_later_customers_their_own_keys(tmp_path: Path) -> None:
    """Keys of the customers made after a dissolution count on from the dissolved key."""
    ws = Workspace.init(tmp_path / "ws", phone_region="US", max_links=2)
    ws.load("orders", _orders(STORE_ONLY, "a"), now=NOW)
    ws.load("orders", _orders(WALK_INS, "b"), now=NOW)
    ws.load("orders", _orders([{"email": "new@x.com"}], "c"), now=NOW)
    assert _owners(ws)["c0"] == 6


def test_first_seen_identifiers_do_not_depend_on_the_order_files_arrive(tmp_path: Path) -> None:
    """amy@ is the person's first email (Jan 5) however the two files are loaded; it was
    bea@ (Jan 6) when the Jan 5 file came second."""
    recent = _orders(
        [
            {"customer_id": "C1", "email": "amy@x.com", "ordered_at": "2024-01-07"},
            {"customer_id": "C1", "email": "bea@x.com", "ordered_at": "2024-01-06"},
        ],
        "r",
    )
    older = _orders([{"customer_id": "C1", "email": "amy@x.com", "ordered_at": "2024-01-05"}], "o")
    found = []
    for n, files in enumerate(((recent, older), (older, recent))):
        ws = Workspace.init(tmp_path / f"ws{n}")
        for frame in files:
            ws.load("orders", frame, now=NOW)
        con = ws.warehouse.duckdb
        found.append(
            (
                con.execute("SELECT email, first_seen FROM customers").fetchall(),
                con.execute(
                    "SELECT value, first_seen FROM identities ORDER BY identifier_type, value"
                ).fetchall(),
            )
        )
        ws.close()
    assert found[0] == found[1]
    assert found[0][0] == [("amy@x.com", datetime(2024, 1, 5))]


PHONES = [
    "(212) 555-0143",
    "+1 212 555 0143",
    "00 1 212 555 0143",
    "1-212-555-0143",
    "212-555-0143 ext. 12",
    "212.555.0143 x12",
    "+1 212-555-0143 #12",
    "+1 (212) 555-0143;ext=5",
]


def test_phones_as_people_type_them_are_one_customer(tmp_path: Path) -> None:
    """Extensions were run into the number's digits (212555014312: invalid) and the rows
    quarantined; a lookup by '00 1 ...' found nobody though the load had read it."""
    lines = ["order_id,phone,ordered_at,revenue"]
    lines += [f'S{i},"{p}",2024-02-{i + 1:02d},10' for i, p in enumerate(PHONES)]
    lines += ["X1,0000000000,2024-03-01,10", "X2,555-0143,2024-03-01,10"]
    (tmp_path / "store.csv").write_text("\n".join(lines) + "\n")
    ok(patron_here("init", "ws", "--phone-region", "US", cwd=tmp_path))
    load = ok(patron_here("-w", "ws", "load", "orders", "store.csv", "--json", cwd=tmp_path))
    assert (load["inserted"], load["quarantined"], load["new_customers"]) == (8, 2, 1)
    for typed in ("00 1 212 555 0143", "212-555-0143 ext. 99"):
        profile = ok(patron_here("-w", "ws", "customer", "show", typed, "--json", cwd=tmp_path))
        assert profile["totals"]["orders"] == 8
        assert [i["value"] for i in profile["identifiers"]] == ["+12125550143"]


def _write(folder: Path, name: str, text: str) -> None:
    (folder / name).write_text(text.strip() + "\n")


def test_one_person_across_web_store_app_crm_and_events_through_the_cli(tmp_path: Path) -> None:
    """Web orders by email, store orders (and a return) by phone, app orders by loyalty id,
    events by phone and loyalty id: two people until a CRM record links email and phone, then
    one, under the oldest key; plus-tagged and dotted emails stay other people."""
    _write(
        tmp_path,
        "web.csv",
        """
order_id,email,ordered_at,channel,revenue
W1, Ana@Example.COM ,2024-01-05,web,100.00
W2,ana@example.com,2024-03-01,web,50.00
W3,ana+sale@example.com,2024-03-02,web,5.00
W4,a.na@example.com,2024-03-03,web,5.00
""",
    )
    _write(
        tmp_path,
        "store.csv",
        """
order_id,phone,ordered_at,channel,revenue,status
S1,(212) 555-0143,2024-02-01,store,80.00,
S2,212.555.0143,2024-02-10,store,-30.00,returned
""",
    )
    _write(
        tmp_path,
        "app.csv",
        "order_id,loyalty_id,ordered_at,channel,revenue\nA1,L-77,2024-04-01,app,20.00",
    )
    _write(
        tmp_path,
        "events.csv",
        """
event_id,phone,loyalty_id,occurred_at,type
E1,+1 212 555 0143,L-77,2024-05-01,email_open
E2,2125550143,,2024-05-02,email_unsubscribe
""",
    )
    _write(tmp_path, "crm.csv", "email,phone,name,sms_consent\nANA@example.com,+12125550143,Ana,no")
    ok(patron_here("init", "ws", "--phone-region", "US", cwd=tmp_path))
    for table, file in (("orders", "web.csv"), ("orders", "store.csv"), ("orders", "app.csv")):
        ok(patron_here("-w", "ws", "load", table, file, cwd=tmp_path))
    ok(patron_here("-w", "ws", "load", "events", "events.csv", cwd=tmp_path))
    assert ok(patron_here("-w", "ws", "status", "--json", cwd=tmp_path))["customers"] == 4
    ok(patron_here("-w", "ws", "load", "customers", "crm.csv", cwd=tmp_path))

    status = ok(patron("-w", "ws", "status", "--json", cwd=tmp_path))
    assert (status["customers"], status["orders"], status["returns"]) == (3, 6, 1)
    assert (status["revenue"], status["merges"], status["identities"]) == (260.0, 2, 5)
    ana = ok(patron("-w", "ws", "customer", "show", "L-77", "--json", cwd=tmp_path))
    assert ana["customer_key"] == 1 and 4 in ana["merged_from"]  # the store customer
    assert ana["totals"] == {
        "orders": 4,
        "revenue": 250.0,
        "returns": 1,
        "refunded": 30.0,
        "cancelled": 0,
        "first_purchase": "2024-01-05T00:00:00+00:00",
        "last_purchase": "2024-04-01T00:00:00+00:00",
    }
    assert ana["channels"] == ["app", "store", "web"]
    assert [e["type"] for e in ana["events"]] == ["email_unsubscribe", "email_open"]
    assert (ana["profile"]["name"], ana["profile"]["sms_consent"]) == ("Ana", False)
    assert next(o for o in ana["orders"] if o["order_id"] == "S2")["return_of"] == "S1"

    text = ok(patron_here("-w", "ws", "customer", "show", "ana@example.com", cwd=tmp_path))
    assert "merged from customers: 4" in text
    assert "latest events:\n  2024-05-02T00:00:00  email_unsubscribe" in text
    assert "returns 1 (refunded 30.00)" in text
    # E2 unsubscribed Ana from email though no CRM record says so; push is unknown, not None
    assert "consent: email=no (email_unsubscribe event of 2024-05-02T00:00:00, events.csv " in text
    assert "line 3), sms=no (CRM record of " in text and "crm.csv line 2), push=unknown\n" in text


def _chain(tmp_path: Path) -> Workspace:
    """Customer 3 merges into 2 (load 4), then 2 into 1 (load 5)."""
    ws = Workspace.init(tmp_path / "ws", phone_region="US")
    for n, row in enumerate(({"email": "a@x.com"}, {"phone": "2125550143"}, {"loyalty_id": "L1"})):
        ws.load("orders", _orders([row], f"o{n}"), now=NOW)
    ws.load("orders", _orders([{"phone": "2125550143", "loyalty_id": "L1"}], "p"), now=NOW)
    ws.load("orders", _orders([{"email": "a@x.com", "phone": "2125550143"}], "q"), now=NOW)
    return ws


def test_a_merged_key_finds_its_survivor_and_the_survivor_lists_every_absorbed_key(
    tmp_path: Path,
) -> None:
    ws = _chain(tmp_path)
    assert ws.status()["customers"] == 1
    assert ws.customer(3)["customer_key"] == 1
    assert ws.customer(1)["merged_from"] == [2, 3]


def test_looking_up_a_blocked_identifier_says_it_is_blocked(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws", phone_region="US", max_links=2)
    ws.load("orders", _orders(WALK_INS, "b"), now=NOW)
    with pytest.raises(NotFoundError, match="blocked"):
        ws.customer("till@store.example")


def test_a_dissolved_key_says_so(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws", phone_region="US", max_links=2)
    ws.load("orders", _orders(STORE_ONLY, "a"), now=NOW)
    ws.load("orders", _orders(WALK_INS, "b"), now=NOW)
    with pytest.raises(NotFoundError, match="customer 2 was dissolved: every identifier"):
        ws.customer(2)


def test_a_value_that_is_two_peoples_identifiers_is_refused_until_typed(tmp_path: Path) -> None:
    # one system's customer_id 777 is another's loyalty number: a 360 of either could be wrong
    ws = Workspace.init(tmp_path / "ws", phone_region="US")
    rows = [{"customer_id": "777", "email": "a@x.com"}, {"loyalty_id": "777", "email": "b@x.com"}]
    ws.load("orders", _orders(rows, "o"), now=NOW)
    with pytest.raises(InputError, match=r"'777' is more than one customer's .*name the type"):
        ws.customer("777")
    assert ws.customer("customer_id:777")["customer_key"] == ws.customer("a@x.com")["customer_key"]
    assert ws.customer("loyalty_id:777")["customer_key"] == ws.customer("b@x.com")["customer_key"]
    assert ws.customer("key:1")["customer_key"] == 1  # a key by name, whatever ids look like


def test_the_latest_unsubscribe_or_subscribe_event_overrules_the_crm_consent(
    tmp_path: Path,
) -> None:
    # an email tool reads email_consent from the export: a CRM yes after an unsubscribe
    # event must not mail the person; a later subscribe event opts them back in
    ws = Workspace.init(tmp_path / "ws", phone_region="US")
    _write(tmp_path, "crm.csv", "email,email_consent,sms_consent\na@x.com,yes,yes\nb@x.com,yes,no")
    ws.load("customers", tmp_path / "crm.csv", now=NOW)
    _write(
        tmp_path,
        "events.csv",
        """
email,occurred_at,type
a@x.com,2024-03-01 10:00,email_unsubscribe
b@x.com,2024-03-01 10:00,email_unsubscribe
b@x.com,2024-04-01 10:00,email_subscribe
b@x.com,2024-04-02 10:00,SMS_Subscribe
c@x.com,2024-04-02 10:00,email_open
""",
    )
    ws.load("events", tmp_path / "events.csv", now=NOW)
    consent = {
        row["email"]: (row["email_consent"], row["sms_consent"])
        for row in ws.table("customers").to_pyarrow().to_pylist()
    }
    assert consent == {"a@x.com": (False, True), "b@x.com": (True, True), "c@x.com": (None, None)}
