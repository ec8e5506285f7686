"""The rows loads refused, for a person to review and mend: listed, summed up by reason, and
written back out in the file's own columns, to be fixed in a spreadsheet and loaded again.

The ``quarantine`` table keeps every refused row with its file, line, field, value, reason and
the whole record in the file's words (:mod:`patron.ingest.quarantine`); its entries stay as the
record of what each load refused. An entry is *fixed* once a later load brings a row with its
key (the ``order_id``, ``sku``, ... the refused row had) into its table, whether from the
exported file mended or from a new export of the source. Rows without a key of their own
(customer records, orders without ``order_id``, a missing key) and conflicts, whose key was
loaded first with other content, are *closed* by hand instead, with a note of why
(:func:`close_quarantined`). What is left to mend is the *open* entries.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import duckdb

from patron.errors import InputError, did_you_mean, option
from patron.export import check_out
from patron.ingest.contract import LOAD_NAMES, TABLES
from patron.outfile import write_whole
from patron.sql import columns, ident, json_path, literal, rows_as_dicts, scalar, tables

STATES = ("open", "fixed", "closed", "all")
_IN_STATE = {
    "open": "fixed_by IS NULL AND closed_at IS NULL",
    "fixed": "fixed_by IS NOT NULL",
    "closed": "closed_at IS NOT NULL",
}

_OBJECT = "CASE WHEN json_valid(record) THEN json_type(record) = 'OBJECT' ELSE false END"
"""A record that was split into fields; a line that could not be split is kept as its text."""


@dataclass(frozen=True)
class Which:
    """Which quarantined rows: of a ``table`` (as ``patron load`` names it), a ``file``, a
    ``load`` id, a ``line`` and a ``reason`` containing some text (any case); None: all.
    ``state``: the ``open`` entries, the ``fixed`` ones (by a later load), the ``closed`` ones
    (by hand) or ``all``."""

    table: str | None = None
    file: str | None = None
    load: int | None = None
    reason: str | None = None
    state: str = "all"
    line: int | None = None

    @property
    def narrowed(self) -> bool:
        """Whether anything but the state picks the rows."""
        return any(
            v is not None for v in (self.table, self.file, self.load, self.reason, self.line)
        )

    def where(self) -> str:
        """The SQL condition on the entries :func:`entries` gives."""
        if self.state not in STATES:
            raise InputError(
                f"{option('state')} must be one of {', '.join(STATES)}, not {self.state!r}"
            )
        parts = [_IN_STATE.get(self.state, "true")]
        if self.table is not None:
            parts.append(f"table_name = {literal(_table_name(self.table))}")
        if self.file is not None:
            parts.append(f"file = {literal(self.file)}")
        if self.load is not None:
            parts.append(f"load_id = {int(self.load)}")
        if self.line is not None:
            parts.append(f"row = {int(self.line)}")
        if self.reason is not None:
            parts.append(f"contains(lower(reason), {literal(self.reason.lower())})")
        return " AND ".join(parts)


def _table_name(table: str) -> str:
    if table not in TABLES:
        raise InputError(
            f"{option('table')} {table!r} is no table{did_you_mean(table, TABLES)}; "
            f"choose {', '.join(dict.fromkeys(TABLES))}"
        )
    return TABLES[table].name


def entries(con: duckdb.DuckDBPyConnection) -> str:
    """The ``quarantine`` table with ``fixed_by``, the first load after an entry's that brought
    a row with its key into its table, and ``closed_at`` and ``closed_note`` where it was
    closed by hand, as a subquery named ``quarantine``. A workspace made before either (read
    before a load or a close adds them) has every entry open."""
    return f"(SELECT * FROM quarantine{_fixed(con)}{_closed(con)}) quarantine"


def _fixed(con: duckdb.DuckDBPyConnection) -> str:
    """The join that adds ``fixed_by`` to the quarantine's columns."""
    if "row_key" not in columns(con, "quarantine"):
        return " CROSS JOIN (SELECT CAST(NULL AS BIGINT) AS fixed_by)"
    keyed = {spec.name for spec in TABLES.values() if spec.key}
    loaded = " UNION ALL ".join(
        f"SELECT '{name}' AS table_name, row_key, load_id, source_file FROM {name}"
        for name in sorted(keyed)
    )
    fixed = (
        "SELECT q.quarantine_key, min(t.load_id) AS fixed_by FROM quarantine q "
        "LEFT JOIN loads l ON l.load_id = q.load_id "
        f"JOIN ({loaded}) t ON t.table_name = q.table_name AND t.row_key = q.row_key "
        f"AND (t.load_id > q.load_id OR t.load_id = q.load_id AND {_LATER_FILE}) "
        "GROUP BY q.quarantine_key"
    )
    return f" LEFT JOIN ({fixed}) USING (quarantine_key)"


_LATER_FILE = (
    "list_position(string_split(l.files, chr(10)), t.source_file) "
    "> list_position(string_split(l.files, chr(10)), q.file)"
)
"""A row of the entry's own load fixes it when a later file of the load brought it: one load
of several files (``patron load orders exports/*.csv``, the day that re-sent a mended row
among them) ends where loading them one after the other does, which had left the entry open.
A row of the entry's own file does not (a Shopify order's item rows: docs/loading.md)."""


def _closed(con: duckdb.DuckDBPyConnection) -> str:
    """The join that adds ``closed_at`` and ``closed_note``."""
    if "quarantine_closed" not in tables(con):
        nulls = "CAST(NULL AS TIMESTAMP) AS closed_at, CAST(NULL AS VARCHAR) AS closed_note"
        return f" CROSS JOIN (SELECT {nulls})"
    closed = (
        "SELECT quarantine_key, min(closed_at) AS closed_at, arg_min(note, closed_at) AS "
        "closed_note FROM quarantine_closed GROUP BY quarantine_key"
    )
    return f" LEFT JOIN ({closed}) USING (quarantine_key)"


def open_count(con: duckdb.DuckDBPyConnection) -> int:
    """Entries neither fixed by a later load nor closed by hand: what is left to mend."""
    return int(scalar(con, f"SELECT count(*) FROM {entries(con)} WHERE {_IN_STATE['open']}"))


def close_quarantined(con: duckdb.DuckDBPyConnection, which: Which, note: str) -> int:
    """Close the open entries ``which`` picks, with ``note`` saying why (a conflict whose first
    version stands, a customer record mended at its source): they leave the open entries and
    ``quarantine_open`` and stay in the quarantine. Returns how many were closed; closing an
    entry again changes nothing."""
    if not which.narrowed:
        raise InputError(
            f"name the entries to close: {option('table')}, {option('file')}, "
            f"{option('load')}, {option('line')} or {option('reason')}"
        )
    if not note.strip():
        raise InputError(f"{option('note')} says why the entries are closed; it is empty")
    still = replace(which, state="open").where()
    chosen = f"SELECT quarantine_key FROM {entries(con)} WHERE {still}"
    closing = int(scalar(con, f"SELECT count(*) FROM ({chosen})"))
    con.execute(
        f"INSERT INTO quarantine_closed SELECT quarantine_key, now()::TIMESTAMP, ? FROM ({chosen})",
        [note.strip()],
    )
    return closing


def quarantine_rows(
    con: duckdb.DuckDBPyConnection, which: Which = Which(), *, limit: int | None = None
) -> list[dict[str, Any]]:
    """Quarantined rows, newest load first, then by file and line, each with the load that
    fixed it (``fixed_by``) or when and why it was closed (``closed_at``, ``closed_note``);
    at most ``limit`` (None or 0: all)."""
    if limit is not None and limit < 0:
        raise InputError(f"{option('limit')} must be 0 (all rows) or more, got {limit}")
    sql = (
        "SELECT load_id, table_name AS table, file, row AS line, field, value, reason, record, "
        f"fixed_by, closed_at, closed_note FROM {entries(con)} WHERE {which.where()} "
        "ORDER BY load_id DESC, file, row"
    )
    return rows_as_dicts(con, sql + (f" LIMIT {int(limit)}" if limit else ""))


def quarantine_summary(con: duckdb.DuckDBPyConnection, which: Which = Which()) -> dict[str, Any]:
    """How many rows and how many of them are still ``open``, in all and per table, field and
    reason, most first: where to start when a big load refused thousands."""
    reasons = rows_as_dicts(
        con,
        "SELECT table_name AS table, field, reason, count(*) AS rows, "
        f"count(*) FILTER ({_IN_STATE['open']}) AS open, min(file) AS first_file, "
        f"arg_min(row, (file, row)) AS first_line FROM {entries(con)} WHERE {which.where()} "
        "GROUP BY table_name, field, reason ORDER BY rows DESC, table_name, field, reason",
    )
    counts = con.execute(
        f"SELECT count(*) FILTER ({_IN_STATE['fixed']}), count(*) FILTER ({_IN_STATE['closed']}) "
        f"FROM {entries(con)} WHERE {which.where()}"
    ).fetchall()[0]
    rows, still = (sum(r[k] for r in reasons) for k in ("rows", "open"))
    return {
        "rows": rows,
        "open": still,
        "fixed": counts[0],
        "closed": counts[1],
        "reasons": reasons,
    }


def export_quarantined(
    con: duckdb.DuckDBPyConnection, out: Path, which: Which = Which()
) -> dict[str, Any]:
    """Write the refused records to ``out`` (CSV or Parquet) in their files' own columns and
    line order, to be fixed and loaded again with ``patron load``: how many were ``written``,
    the ``tables`` they were refused by, and the lines that could not be split into fields,
    which have no columns to write, as ``skipped``."""
    check_out(out)
    chosen = f"FROM {entries(con)} WHERE {which.where()}"
    columns = _record_columns(con, chosen)
    skipped = int(scalar(con, f"SELECT count(*) {chosen} AND NOT ({_OBJECT})"))
    if not columns:
        state = {"open": " still open", "fixed": " fixed"}.get(which.state, "")
        raise InputError(
            f"no quarantined record{state} to write ({skipped} lines that had no fields)"
        )
    cells = ", ".join(f"json_extract_string(record, {json_path(c)}) AS {ident(c)}" for c in columns)
    kind = "PARQUET" if out.suffix.lower() == ".parquet" else "CSV, HEADER"
    write_whole(
        out,
        lambda part: con.execute(
            f"COPY (SELECT {cells} {chosen} AND {_OBJECT} ORDER BY load_id, file, row) "
            f"TO {literal(str(part))} (FORMAT {kind})"
        ),
    )
    written = int(scalar(con, f"SELECT count(*) {chosen} AND {_OBJECT}"))
    stored = con.execute(f"SELECT DISTINCT table_name {chosen} AND {_OBJECT} ORDER BY 1")
    tables = [LOAD_NAMES.get(name, name) for (name,) in stored.fetchall()]
    return {"written": written, "skipped": skipped, "tables": tables}


def _record_columns(con: duckdb.DuckDBPyConnection, chosen: str) -> list[str]:
    """The records' columns in their files' order: each distinct header once, in load and file
    order, its new columns after those of the headers before it."""
    headers = con.execute(
        f"SELECT json_keys(record) AS keys, min((load_id, file, row)) AS first {chosen} "
        f"AND {_OBJECT} GROUP BY keys ORDER BY first"
    ).fetchall()
    return list(dict.fromkeys(name for keys, _ in headers for name in keys))
