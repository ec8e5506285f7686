"""Reviewing what loads refused, through the real command: the rows summed up by reason,
listed by table, file, load and reason, and written back out in the file's own columns, to be
fixed and loaded again."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from cli_support import ok, patron
from patron import Workspace
from patron.errors import InputError

BAD = (
    "order_id,email,ordered_at,revenue,note\n"
    "q1,ann@x.com,yesterday,10,first\n"  # a date in no layout
    'q2,not-email,2024-01-03,20,"two\nlines"\n'  # no valid identifier, a field on two lines
    'q3,cy@x.com,2024-01-04,"1,234",x\n'  # an ambiguous amount
    "q4,dee@x.com,2024-01-05,5,y,extra\n"  # a line with a field too many: no columns to write
    "q5,eve@x.com,2024-01-06,7,fine\n"
)
EVENTS = "email,occurred_at,type\nann@x.com,tomorrow,email_open\n"


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    (tmp_path / "bad.csv").write_text(BAD)
    (tmp_path / "events.csv").write_text(EVENTS)
    ok(patron("init", "ws", cwd=tmp_path))
    ok(patron("-w", "ws", "load", "orders", "bad.csv", cwd=tmp_path))
    ok(patron("-w", "ws", "load", "events", "events.csv", cwd=tmp_path))
    return tmp_path


def test_the_summary_counts_rows_by_table_field_and_reason(shop: Path) -> None:
    summary = ok(patron("-w", "ws", "quarantine", "summary", "--json", cwd=shop))
    assert summary["rows"] == 5
    counts = {(r["table"], r["field"]): r["rows"] for r in summary["reasons"]}
    assert counts == {
        ("orders", "ordered_at"): 1,
        ("orders", "customer identifier"): 1,
        ("orders", "revenue"): 1,
        ("orders", None): 1,
        ("events", "occurred_at"): 1,
    }
    dated = next(r for r in summary["reasons"] if r["field"] == "ordered_at")
    assert (dated["first_file"], dated["first_line"]) == ("bad.csv", 2)
    only = ok(patron("-w", "ws", "quarantine", "summary", "--table", "events", "--json", cwd=shop))
    assert only["rows"] == 1


def test_the_list_is_picked_by_table_file_load_and_reason(shop: Path) -> None:
    def lines(*options: str) -> list[int]:
        listed = ok(patron("-w", "ws", "quarantine", "list", *options, "--json", cwd=shop))
        return sorted(r["line"] for r in listed["rows"])

    assert lines("--table", "orders") == [2, 3, 5, 6]
    assert lines("--file", "events.csv") == [2]
    assert lines("--load", "1", "--reason", "AMBIGUOUS") == [5]  # any case
    assert lines("--load", "3") == []
    wrong = patron("-w", "ws", "quarantine", "list", "--table", "ordrs", cwd=shop)
    assert wrong.returncode == 2 and "--table 'ordrs' is no table (did you mean 'orders'?)" in (
        wrong.stderr
    )


def test_exported_records_fixed_and_loaded_again(shop: Path) -> None:
    done = ok(
        patron("-w", "ws", "quarantine", "export", "--out", "fix.csv", "--table", "orders",
               "--json", cwd=shop)
    )  # fmt: skip
    assert (done["written"], done["skipped"], done["tables"]) == (3, 1, ["orders"])
    text = (shop / "fix.csv").read_text()
    assert text == (
        "order_id,email,ordered_at,revenue,note\n"
        "q1,ann@x.com,yesterday,10,first\n"
        'q2,not-email,2024-01-03,20,"two\nlines"\n'
        'q3,cy@x.com,2024-01-04,"1,234",x\n'
    )  # the file's own columns and words, in line order
    fixed = text.replace("yesterday", "2024-01-02").replace("not-email", "bea@x.com")
    (shop / "fix.csv").write_text(fixed.replace('"1,234"', "1234"))
    reloaded = ok(patron("-w", "ws", "load", "orders", "fix.csv", "--json", cwd=shop))
    assert (reloaded["inserted"], reloaded["quarantined"]) == (3, 0)
    status = ok(patron("-w", "ws", "status", "--json", cwd=shop))
    assert (status["orders"], status["quarantined"], status["quarantine_open"]) == (4, 5, 2)
    # what is left: the line that had no fields (q4) and the event, which have no key
    assert listed(shop) == [("events.csv", 2, None), ("bad.csv", 6, None)]
    assert listed(shop, "--state", "fixed") == [("bad.csv", n, 3) for n in (2, 3, 5)]
    summary = ok(patron("-w", "ws", "quarantine", "summary", "--json", cwd=shop))
    assert (summary["rows"], summary["open"], summary["fixed"]) == (5, 2, 3)
    again = patron("-w", "ws", "quarantine", "export", "--out", "again.csv", "--table", "orders",
                   cwd=shop)  # fmt: skip
    assert again.returncode == 2 and "no quarantined record still open" in again.stderr
    fixed = ok(patron("-w", "ws", "quarantine", "export", "--out", "fixed.csv", "--state", "fixed",
                      cwd=shop))  # fmt: skip
    assert "Wrote 3 quarantined records" in fixed and "load the file again" not in fixed


def listed(shop: Path, *options: str) -> list[tuple[str, int, int | None]]:
    """(file, line, fixed_by) of the quarantine's rows as ``patron quarantine list`` gives them."""
    rows = ok(patron("-w", "ws", "quarantine", "list", *options, "--json", cwd=shop))["rows"]
    return [(r["file"], r["line"], r["fixed_by"]) for r in rows]


def test_a_row_is_fixed_by_its_key_from_any_file_but_a_conflict_stays_open(shop: Path) -> None:
    """The shop's system mended and exported anew: q1 arrives dated in another file and
    another layout (it is fixed); q5 arrives with other content (a conflict, open); q2 arrives
    still without an identifier (a new entry, and the old one stays open too)."""
    (shop / "new.csv").write_text(
        "order_id,email,ordered_at,revenue\n"
        "q1,ann@x.com,2024-01-02,10\nq5,eve@x.com,2024-01-06,8\nq2,,2024-01-03,20\n"
    )
    ok(patron("-w", "ws", "load", "orders", "new.csv", cwd=shop))
    assert listed(shop, "--state", "fixed") == [("bad.csv", 2, 3)]
    still = {(file, line) for file, line, _ in listed(shop, "--table", "orders")}
    assert still == {("new.csv", 3), ("new.csv", 4), ("bad.csv", 3), ("bad.csv", 5), ("bad.csv", 6)}


def test_the_python_api_exports_parquet(shop: Path) -> None:
    ws = Workspace.open(shop / "ws")
    assert ws.export_quarantine(shop / "out" / "events.parquet", table="events") == {
        "written": 1,
        "skipped": 0,
        "tables": ["events"],
    }
    assert pq.read_table(shop / "out" / "events.parquet").to_pylist() == [
        {"email": "ann@x.com", "occurred_at": "tomorrow", "type": "email_open"}
    ]
    assert [r["line"] for r in ws.quarantine(table="orders", reason="identifier")] == [3]
    with pytest.raises(InputError, match="no quarantined record still open to write"):
        ws.export_quarantine(shop / "none.csv", reason="no such reason")
    with pytest.raises(InputError, match=r"use a \.parquet or \.csv"):
        ws.export_quarantine(shop / "fix.xlsx")
    (shop / "afile").write_text("a file where a folder must be")
    with pytest.raises(InputError, match="afile is a file, not a folder"):  # was a traceback
        ws.export_quarantine(shop / "afile" / "q.csv", table="events")
    assert not [p for p in shop.iterdir() if p.name.startswith(".")]
    ws.close()


def test_entries_no_load_can_fix_are_closed_by_hand_with_a_note(shop: Path) -> None:
    """The line with a field too many (no key) and the event (no event_id) can only be closed:
    they leave the open count, stay listed as closed with their note, and close once."""
    closed = ok(patron("-w", "ws", "quarantine", "close", "--file", "bad.csv", "--line", "6",
                       "--note", "typo in the till, re-keyed", "--json", cwd=shop))  # fmt: skip
    assert closed == {"closed": 1}
    text = ok(patron("-w", "ws", "quarantine", "close", "--table", "events", "--note", "test",
                     cwd=shop))  # fmt: skip
    assert "Closed 1 quarantined rows." in text
    again = ok(patron("-w", "ws", "quarantine", "close", "--table", "events", "--note", "x",
                      "--json", cwd=shop))  # fmt: skip
    assert again == {"closed": 0}
    status = ok(patron("-w", "ws", "status", "--json", cwd=shop))
    assert (status["quarantined"], status["quarantine_open"]) == (5, 3)
    rows = ok(patron("-w", "ws", "quarantine", "list", "--state", "closed", "--json", cwd=shop))
    notes = {(r["file"], r["line"]): r["closed_note"] for r in rows["rows"]}
    assert notes == {("bad.csv", 6): "typo in the till, re-keyed", ("events.csv", 2): "test"}
    summary = ok(patron("-w", "ws", "quarantine", "summary", "--json", cwd=shop))
    assert (summary["open"], summary["fixed"], summary["closed"]) == (3, 0, 2)
    listed = ok(patron("-w", "ws", "quarantine", "list", "--state", "all", cwd=shop))
    assert "closed:" in listed and "open" in listed  # the state column


@pytest.mark.parametrize(
    ("options", "says"),
    [
        (["--note", "why"], "name the entries to close: --table, --file, --load, --line or"),
        (["--table", "orders", "--note", " "], "--note says why the entries are closed"),
    ],
)
def test_closing_needs_which_and_why(shop: Path, options: list[str], says: str) -> None:
    done = patron("-w", "ws", "quarantine", "close", *options, cwd=shop)
    assert done.returncode == 2 and says in done.stderr
    assert ok(patron("-w", "ws", "status", "--json", cwd=shop))["quarantine_open"] == 5
