"""The 360 profile says what decided each consent: an (un)subscribe event or a CRM record.

A marketer asked "why do we not mail this person?" (or worse, "why did we?") saw only
``email=no``; which of the person's records and events had decided it took SQL over two tables
and the rules of ``customers``. The profile now names the event or record, its time and its
file and line, and the source must agree with the consent ``customers`` holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli_support import ok, patron_here
from patron import Workspace
from patron.samples import synthetic

UNSUBSCRIBE = ("unsubscribe", "unsubscribed", "opt_out")


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic sample's customers, CRM records and email events in ``ws``."""
    root = tmp_path_factory.mktemp("consent")
    synthetic.generate(root / "data", customers=300, seed=5)
    with Workspace.init(root / "ws") as ws:
        for table in ("orders", "customers", "events"):
            ws.load(table, root / "data" / f"{table}.csv")
    return root


def test_every_source_gives_the_consent_customers_holds(shop: Path) -> None:
    """For everyone with an (un)subscribe event and a third of the rest: a deciding record's
    own flag, or a deciding event's kind (an unsubscribe: no), is the consent in
    ``customers``; without a source, none."""
    with Workspace.open(shop / "ws", read_only=True) as ws:
        con = ws.warehouse.duckdb
        keys = [k for (k,) in con.execute(_PEOPLE).fetchall()]
        checked = {"event": 0, "record": 0}
        for key in keys:
            person = ws.customer(key)
            for channel, source in person["consent_sources"].items():
                held = person["profile"][f"{channel}_consent"]
                if source is None:
                    assert held is None
                    continue
                checked[source["kind"]] += 1
                assert _verdict(con, channel, source) == held, (key, channel, source)
    assert checked["event"] >= 5 and checked["record"] >= 50, checked


_PEOPLE = """SELECT customer_key FROM customers
    WHERE customer_key IN (SELECT customer_key FROM events WHERE type LIKE '%subscribe%')
       OR customer_key % 3 = 0"""
"""Everyone with an (un)subscribe event, and a third of the rest."""


def _verdict(con: object, channel: str, source: dict[str, object]) -> bool:
    """What the deciding event or record itself says."""
    if source["kind"] == "event":
        return not any(word in str(source["type"]).lower() for word in UNSUBSCRIBE)
    query = (
        f"SELECT {channel}_consent FROM customer_records WHERE source_file = ? AND source_row = ?"
    )
    (value,) = con.execute(query, [source["file"], source["line"]]).fetchone()  # type: ignore[attr-defined]
    return bool(value)


def test_an_unsubscribe_after_a_crm_yes_is_named_in_the_360(tmp_path: Path) -> None:
    """The text says which event decided, on the shop's clock, with its file and line."""
    (tmp_path / "c.csv").write_text(
        "email,email_consent,updated_at\nann@example.com,yes,2024-05-01\n"
    )
    (tmp_path / "e.csv").write_text(
        "email,type,occurred_at,channel\nann@example.com,Unsubscribed,2024-06-01 09:00,email\n"
    )
    with Workspace.init(tmp_path / "ws", timezone="Europe/Berlin") as ws:
        ws.load("customers", tmp_path / "c.csv")
        ws.load("events", tmp_path / "e.csv")
        record = ws.customer("ann@example.com")["consent_sources"]
    assert record["email"]["at"] == "2024-06-01T07:00:00+00:00"
    assert (record["sms"], record["push"]) == (None, None)
    shown = ok(patron_here("-w", "ws", "customer", "show", "ann@example.com", cwd=tmp_path))
    assert "consent: email=no (Unsubscribed event of 2024-06-01T09:00:00, " in shown
    assert "e.csv line 2), sms=unknown, push=unknown\norders: none\n" in shown
