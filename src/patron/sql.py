"""SQL helpers: quoting for the SQL text patron builds, and small results as plain values."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import duckdb


def literal(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def ident(name: str) -> str:
    """A quoted SQL identifier, safe for any column name a file may have."""
    return '"' + name.replace('"', '""') + '"'


def json_path(*keys: str) -> str:
    """SQL for the JSON path to the value at ``keys`` down an object (``$."customer"."email"``),
    each key quoted, so a key with a dot or a quote in it is one key."""
    return literal("$" + "".join('."' + key.replace('"', '\\"') + '"' for key in keys))


@contextmanager
def shop_time(con: duckdb.DuckDBPyConnection, timezone: str) -> Iterator[None]:
    """Read text times without an offset in the shop's ``timezone`` inside the block, UTC after
    it: Ibis reads the engine's instants as UTC, so a zone left set shifted later exports."""
    con.execute(f"SET TimeZone = {literal(timezone)}")
    try:
        yield
    finally:
        con.execute("SET TimeZone = 'UTC'")


def scalar(con: duckdb.DuckDBPyConnection, sql: str, *params: Any) -> Any:
    """The first value of the first row, or None; the whole result is consumed (DuckDB 2)."""
    rows = con.execute(sql, list(params)).fetchall()
    return rows[0][0] if rows else None


def count(con: duckdb.DuckDBPyConnection, sql: str, *params: Any) -> int:
    """The integer a counting query gives (0 when it gives NULL or no row)."""
    return int(scalar(con, sql, *params) or 0)


def tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The names of the tables the DuckDB connection sees, temporary ones included."""
    return {row[0] for row in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}


def columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """The columns of ``table`` in their order; none when there is no such table (a workspace
    made before it)."""
    found = con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE table_name = ? ORDER BY column_index",
        [table],
    )
    return [name for (name,) in found.fetchall()]


def first_line(exc: BaseException) -> str:
    """An error's first line for a one-line message (its type when it says nothing)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def rows_as_dicts(con: duckdb.DuckDBPyConnection, sql: str, *params: Any) -> list[dict[str, Any]]:
    """Rows as dicts of JSON-ready values (floats for decimals, ISO text for times)."""
    cursor = con.execute(sql, list(params))
    names = [d[0] for d in cursor.description or []]
    return [dict(zip(names, (_plain(v) for v in row), strict=True)) for row in cursor.fetchall()]


def _plain(value: Any) -> Any:
    """Decimals as floats and times as ISO text, so the profile serializes as JSON. A stored
    time is UTC (the data contract), and its text says so (``+00:00``), as ``patron status``
    writes its times: read without an offset, a time is taken for local by most tools."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def out_of_room(exc: BaseException) -> bool:
    """Whether DuckDB failed for want of memory or disk space (its spill folder's included),
    not because of what it was asked to read or do."""
    return isinstance(exc, duckdb.OutOfMemoryException) or "No space left" in str(exc)
