"""Workspaces made by older versions keep loading idempotently after an upgrade."""

from __future__ import annotations

from pathlib import Path

from ingest_support import NOW, write

from patron import Workspace
from patron.ingest.contract import TABLES
from patron.ingest.stage import _content_sql

ROWS = (
    "order_id,email,phone,ordered_at,revenue,discount,channel,status\n"
    "o1,ana@example.com,,2024-01-05T10:00:00+03:30,10.00,,web,completed\n"
    'o2,bob@example.com,+1 415 555 0100,2024-01-06 11:00,"1,234.50",3.25,store,\n'
    "o3,,+14155550101,2024-01-07,30.00,0,app,completed\n"
    "o4,زهرا@example.com,,2024-01-08 09:15:07,۴۵.۰۰,,web,completed\n"
)


def test_hex_row_hashes_of_an_older_workspace_become_the_same_integers(
    ws: Workspace, tmp_path: Path
) -> None:
    """Before row_hash was an integer it held md5(fields) as hex; the first load after the
    upgrade converts it to the 64 bits a load computes, so reloading the file finds only
    duplicates (no conflicts, nothing written twice)."""
    path = write(tmp_path / "orders.csv", ROWS)
    ws.load("orders", path, now=NOW)
    con = ws.warehouse.duckdb
    stored = "SELECT row_key, row_hash FROM orders ORDER BY row_key"
    current = con.execute(stored).fetchall()
    content = _content_sql(TABLES["orders"].field_names)
    differ = f"SELECT count(*) FROM orders WHERE row_hash <> md5_number_lower({content})"
    assert con.execute(differ).fetchone() == (0,)  # the stored fields hash to what was staged
    con.execute(f"ALTER TABLE orders ALTER row_hash SET DATA TYPE VARCHAR USING md5({content})")

    again = ws.load("orders", path, now=NOW)

    assert (again.inserted, again.duplicates, again.conflicts) == (0, 4, 0)
    assert con.execute(stored).fetchall() == current
    kind = "SELECT data_type FROM duckdb_columns() WHERE table_name = 'orders' AND column_name = ?"
    assert con.execute(kind, ["row_hash"]).fetchone() == ("UBIGINT",)


def test_a_quarantine_without_row_keys_reads_all_open_until_the_next_load_adds_them(
    ws: Workspace, tmp_path: Path
) -> None:
    """Quarantines made before entries kept their row's key: read as they are (every entry
    open, nothing to find fixed by), and the next load adds the column; the old entry stays
    open even when that load brings its row in fixed, the new ones are found fixed."""
    bad = ROWS.replace("2024-01-05T10:00:00+03:30", "someday")
    ws.load("orders", write(tmp_path / "bad.csv", bad), now=NOW)
    con = ws.warehouse.duckdb
    con.execute("ALTER TABLE quarantine DROP COLUMN row_key")
    assert [(r["line"], r["fixed_by"]) for r in ws.quarantine()] == [(2, None)]
    assert ws.status()["quarantine_open"] == 1

    ws.load("orders", write(tmp_path / "bad2.csv", bad.replace("o1,", "o9,")), now=NOW)
    ws.load("orders", write(tmp_path / "fix.csv", ROWS.replace("o1,", "o9,")), now=NOW)

    assert [(Path(r["file"]).name, r["fixed_by"]) for r in ws.quarantine(state="all")] == [
        ("bad2.csv", 3),
        ("bad.csv", None),
    ]


def test_an_older_quarantine_reads_and_closes_before_any_new_load(
    ws: Workspace, tmp_path: Path
) -> None:
    """Neither entry keys nor the closed table: every entry reads open, and closing one makes
    the table (no load has added the keys yet)."""
    bad = ROWS.replace("2024-01-05T10:00:00+03:30", "someday")
    ws.load("orders", write(tmp_path / "bad.csv", bad), now=NOW)
    con = ws.warehouse.duckdb
    con.execute("ALTER TABLE quarantine DROP COLUMN row_key")
    con.execute("DROP TABLE quarantine_closed")
    assert [r["fixed_by"] for r in ws.quarantine()] == [None]
    assert ws.close_quarantine(load=1, note="re-keyed by hand") == 1
    assert [r["closed_note"] for r in ws.quarantine(state="closed")] == ["re-keyed by hand"]
    assert ws.status()["quarantine_open"] == 0
