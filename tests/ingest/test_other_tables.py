"""Loading the tables other than orders as real exports bring them: POS receipts whose lines
repeat an item, catalogs in several files, event exports whose columns tell events apart, CRM
birthdays that no calendar has."""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from ingest_support import NOW, write

from patron import Workspace
from patron.ingest.loader import LoadResult
from patron.ingest.parse import IMPOSSIBLE_TIME
from patron.ingest.stage import RECORD_KEPT

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cli_support import ok, patron_here


def counts(result: LoadResult) -> tuple[int, int, int, int, int]:
    """(rows_read, inserted, updated, duplicates, quarantined), which must add up."""
    c = (result.rows_read, result.inserted, result.updated, result.duplicates, result.quarantined)
    assert c[0] == sum(c[1:]), c
    return c


def rows(ws: Workspace, table: str, *columns: str) -> list[tuple[Any, ...]]:
    frame = ws.table(table).execute()
    return sorted(tuple(r[c] for c in columns) for r in frame.to_dict("records"))


# --- order lines ---------------------------------------------------------------------------------

RECEIPT = (
    "order_id,sku,quantity,unit_price,discount\n"
    "R1,MILK,1,1.20,0\n"
    "R1,BREAD,1,2.50,0\n"
    "R1,MILK,1,1.20,0\n"
    "R1,SOAP,1,3.00,0\n"
    "R1,SOAP,1,3.00,0.50\n"
)


def test_a_repeated_line_without_line_id_is_a_second_item(ws: Workspace, tmp_path: Path) -> None:
    """A till scans each item on its own line: two identical lines of one receipt are two
    bottles of milk, not an exported row twice. They were skipped as a duplicate, and the
    second soap (same price, another discount) quarantined as a conflict."""
    path = write(tmp_path / "receipt.csv", RECEIPT)
    assert counts(ws.load("lines", path, now=NOW)) == (5, 5, 0, 0, 0)
    assert ws.quarantine() == []
    loaded = rows(ws, "order_lines", "sku", "quantity", "discount")
    assert loaded == [
        ("BREAD", 1.0, Decimal("0.00")),
        ("MILK", 1.0, Decimal("0.00")),
        ("MILK", 1.0, Decimal("0.00")),
        ("SOAP", 1.0, Decimal("0.00")),
        ("SOAP", 1.0, Decimal("0.50")),
    ]
    assert counts(ws.load("lines", path, now=NOW)) == (5, 0, 0, 5, 0)
    assert len(rows(ws, "order_lines", "sku")) == 5


def test_a_reordered_export_of_the_same_lines_changes_nothing(
    ws: Workspace, tmp_path: Path
) -> None:
    """Repeated lines are told apart by their content, not their place in the file: the same
    receipt exported in another order is all duplicates."""
    header, *lines = RECEIPT.splitlines(keepends=True)
    ws.load("lines", write(tmp_path / "a.csv", RECEIPT), now=NOW)
    reordered = write(tmp_path / "b.csv", header + "".join(reversed(lines)))
    assert counts(ws.load("lines", reordered, now=NOW)) == (5, 0, 0, 5, 0)


def test_odd_quantities_and_prices_of_lines(ws: Workspace, tmp_path: Path) -> None:
    """A returned line (negative quantity), a free gift (0), a weighed item (1.5 kg) and a
    price with its currency symbol load; a percentage is no amount and says so in quarantine."""
    path = write(
        tmp_path / "lines.csv",
        "order_id,sku,quantity,unit_price,discount\n"
        "L1,RET,-1,9.99,\nL1,GIFT,0,0,\nL1,CHEESE,1.5,$12.00,\nL1,TEA,1,4.00,10%\n",
    )
    assert counts(ws.load("lines", path, now=NOW)) == (4, 3, 0, 0, 1)
    assert rows(ws, "order_lines", "sku", "quantity", "unit_price") == [
        ("CHEESE", 1.5, Decimal("12.00")),
        ("GIFT", 0.0, Decimal("0.00")),
        ("RET", -1.0, Decimal("9.99")),
    ]
    [entry] = ws.quarantine()
    assert (entry["line"], entry["field"], entry["value"]) == (5, "discount", "10%")


# --- products ------------------------------------------------------------------------------------


def test_a_later_catalog_file_in_one_load_wins_as_in_two_loads(
    ws: Workspace, tmp_path: Path
) -> None:
    """``patron load products monday.csv tuesday.csv`` must end where loading them one after
    the other ends: Tuesday's price. Tuesday's row was quarantined as a conflict with Monday's
    and Monday's price stayed."""
    monday = write(tmp_path / "monday.csv", "sku,price\nP1,10.00\nP2,5.00\n")
    tuesday = write(tmp_path / "tuesday.csv", "sku,price\nP1,12.00\nP2,5.00\nP3,1.00\n")
    result = ws.load("products", [monday, tuesday], now=NOW)
    assert counts(result) == (5, 3, 1, 1, 0)  # as Monday's load then Tuesday's would count
    assert result.conflicts == 0
    assert rows(ws, "products", "sku", "price", "source_file") == [
        ("P1", Decimal("12.00"), str(tuesday)),
        ("P2", Decimal("5.00"), str(tuesday)),  # the same in both: the last file names it
        ("P3", Decimal("1.00"), str(tuesday)),
    ]
    assert counts(ws.load("products", [monday, tuesday], now=NOW)) == (5, 0, 0, 5, 0)
    assert rows(ws, "products", "sku", "price")[0] == ("P1", Decimal("12.00"))


def test_one_catalog_file_with_two_contents_for_a_sku(ws: Workspace, tmp_path: Path) -> None:
    """Within one file nothing says which row is newer: the first loads, the other is
    quarantined naming it, and a table row that an earlier load wrote counts as updated."""
    ws.load("products", write(tmp_path / "old.csv", "sku,price\nP1,9.00\n"), now=NOW)
    path = write(tmp_path / "cat.csv", "sku,price\nP1,10.00\nP1,11.00\nP1,10.00\n")
    assert counts(ws.load("products", path, now=NOW)) == (3, 0, 1, 1, 1)
    assert rows(ws, "products", "sku", "price") == [("P1", Decimal("10.00"))]
    [entry] = ws.quarantine()
    assert (entry["line"], entry["reason"]) == (
        3,
        f"same key as {path} line 2 with different content",
    )


# --- events --------------------------------------------------------------------------------------


def test_two_opens_in_one_second_are_one_event(ws: Workspace, tmp_path: Path) -> None:
    """Without an id or anything else telling them apart, two identical rows are one event
    exported twice (docs/data-contract.md), as for orders."""
    path = write(
        tmp_path / "opens.csv",
        "email,occurred_at,type,campaign_id\n"
        "a@example.com,2024-03-01 10:00:00,email_open,K1\n"
        "a@example.com,2024-03-01 10:00:00,email_open,K1\n",
    )
    assert counts(ws.load("events", path, now=NOW)) == (2, 1, 0, 1, 0)


# --- customers -----------------------------------------------------------------------------------


def test_an_impossible_birthday_says_so(ws: Workspace, tmp_path: Path) -> None:
    """``1990-02-30`` is in ISO layout: the reason told the user to pass --date-format, which
    cannot help. It names the real problem; other layouts still get the hint. The records
    load without the values (their consent counts)."""
    path = write(
        tmp_path / "crm.csv",
        "email,birthday,signed_up_at,email_consent\n"
        "a@example.com,1990-02-30,,yes\n"
        "b@example.com,1990-05-17,2024-13-01 10:00,Y\n"
        "c@example.com,17/05/1990,,1\n"
        "d@example.com,1990-05-17,2024-01-01 10:00,\n",
    )
    result = ws.load("customers", path, now=NOW)
    assert (counts(result), result.set_aside) == ((4, 4, 0, 0, 0), 3)
    reasons = {r["line"]: (r["field"], r["reason"]) for r in ws.quarantine()}
    assert reasons[2] == ("birthday", IMPOSSIBLE_TIME + RECORD_KEPT)
    assert reasons[3] == ("signed_up_at", IMPOSSIBLE_TIME + RECORD_KEPT)
    assert IMPOSSIBLE_TIME.startswith("not an ISO 8601 date: no such day")
    assert reasons[4][0] == "birthday" and "pass date_format" in reasons[4][1]


def test_cli_summary_status_and_quarantine_agree(tmp_path: Path) -> None:
    """Through the real command: the load's counts add up, and the quarantine it reports is
    the one ``quarantine list`` shows."""
    ok(patron_here("init", "ws", cwd=tmp_path))
    write(tmp_path / "receipt.csv", RECEIPT + "R2,TEA,1,4.00,10%\n")
    summary = ok(patron_here("-w", "ws", "load", "lines", "receipt.csv", "--json", cwd=tmp_path))
    assert [summary[k] for k in ("rows_read", "inserted", "duplicates", "quarantined")] == [
        6,
        5,
        0,
        1,
    ]
    listed = ok(patron_here("-w", "ws", "quarantine", "list", "--json", cwd=tmp_path))["rows"]
    assert [(r["line"], r["field"]) for r in listed] == [(7, "discount")]
    status = ok(patron_here("-w", "ws", "status", "--json", cwd=tmp_path))
    assert status["quarantined"] == 1
