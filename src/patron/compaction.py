"""Copying a DuckDB database's live data into a new file (``patron compact``).

A copy made by ``COPY FROM DATABASE`` holds the tables, views, sequences and macros of the
source and only the blocks its rows need: DuckDB's own file keeps every block a rewrite once
used, and has no statement that hands them back.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from patron.sql import ident, literal, scalar

_ALIAS = "patron_compacted"


def copy_live_data(con: duckdb.DuckDBPyConnection, target: Path) -> None:
    """Write the database ``con`` is on into a new file ``target`` (a leftover one, from a
    compaction stopped half-way, is replaced), checkpointed and closed."""
    target.unlink(missing_ok=True)
    wal(target).unlink(missing_ok=True)
    source = str(scalar(con, "SELECT current_database()"))
    con.execute(f"ATTACH {literal(str(target))} AS {_ALIAS}")
    try:
        con.execute(f"COPY FROM DATABASE {ident(source)} TO {_ALIAS}")
        con.execute(f"CHECKPOINT {_ALIAS}")
    finally:
        con.execute(f"DETACH {_ALIAS}")


def file_bytes(path: Path) -> int:
    """A DuckDB file's size on disk with its write-ahead log."""
    return sum(p.stat().st_size for p in (path, wal(path)) if p.exists())


def wal(path: Path) -> Path:
    return path.with_name(path.name + ".wal")
