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
