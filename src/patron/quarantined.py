"""The rows loads refused, for a person to review and mend: listed, summed up by reason, and
written back out in the file's own columns, to be fixed in a spreadsheet and loaded again.

The ``quarantine`` table keeps every refused row with its file, line, field, value, reason and
the whole record in the file's words (:mod:`patron.ingest.quarantine`); its entries stay as the
record of what each load refused. An entry is *fixed* once a later load brings a row with its
key (the ``order_id``, ``sku``, ... the refused row had) into its table, whether from the
exported file mended or from a new export of the source: what is left to mend is the *open*
entries. Rows without a key of their own (customer records, orders without ``order_id``, a
missing key) stay open; so do conflicts, whose key was loaded first with other content.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from patron.errors import InputError, did_you_mean, option
from patron.export import check_out
from patron.ingest.contract import LOAD_NAMES, TABLES
from patron.sql import ident, json_path, literal, rows_as_dicts, scalar

STATES = ("open", "fixed", "all")

_OBJECT = "CASE WHEN json_valid(record) THEN json_type(record) = 'OBJECT' ELSE false END"
"""A record that was split into fields; a line that could not be split is kept as its text."""


@dataclass(frozen=True)
class Which:
    """Which quarantined rows: of a ``table`` (as ``patron load`` names it), a ``file``, a
    ``load`` id, and a ``reason`` containing some text (any case); None: all. ``state``: the
    ``open`` entries, the ``fixed`` ones or ``all``."""

    table: str | None = None
    file: str | None = None
    load: int | None = None
    reason: str | None = None
    state: str = "all"

    def where(self) -> str:
        """The SQL condition on the entries :func:`entries` gives."""
        if self.state not in STATES:
            raise InputError(
                f"{option('state')} must be one of {', '.join(STATES)}, not {self.state!r}"
            )
        state = {"open": ["fixed_by IS NULL"], "fixed": ["fixed_by IS NOT NULL"]}
        parts = ["true", *state.get(self.state, [])]
        if self.table is not None:
            parts.append(f"table_name = {literal(_table_name(self.table))}")
        if self.file is not None:
            parts.append(f"file = {literal(self.file)}")
        if self.load is not None:
            parts.append(f"load_id = {int(self.load)}")
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
    a row with its key into its table (NULL: open), as a subquery named ``quarantine``. A
    workspace whose quarantine predates the keys (read before its next load adds the column)
    has every entry open."""
    if not scalar(
        con,
        "SELECT count(*) FROM duckdb_columns() WHERE database_name = current_database() "
        "AND table_name = 'quarantine' AND column_name = 'row_key'",
    ):
        return "(SELECT *, CAST(NULL AS BIGINT) AS fixed_by FROM quarantine) quarantine"
    keyed = {spec.name for spec in TABLES.values() if spec.key}
    loaded = " UNION ALL ".join(
        f"SELECT '{name}' AS table_name, row_key, load_id FROM {name}" for name in sorted(keyed)
    )
    fixed = (
        "SELECT q.quarantine_key, min(t.load_id) AS fixed_by FROM quarantine q "
        f"JOIN ({loaded}) t ON t.table_name = q.table_name AND t.row_key = q.row_key "
        "AND t.load_id > q.load_id GROUP BY q.quarantine_key"
    )
    return f"(SELECT * FROM quarantine LEFT JOIN ({fixed}) USING (quarantine_key)) quarantine"


def quarantine_rows(
    con: duckdb.DuckDBPyConnection, which: Which = Which(), *, limit: int | None = None
) -> list[dict[str, Any]]:
    """Quarantined rows, newest load first, then by file and line, each with the load that
    fixed it (``fixed_by``, None while open); at most ``limit`` (None or 0: all)."""
    if limit is not None and limit < 0:
        raise InputError(f"{option('limit')} must be 0 (all rows) or more, got {limit}")
    sql = (
        "SELECT load_id, table_name AS table, file, row AS line, field, value, reason, record, "
        f"fixed_by FROM {entries(con)} WHERE {which.where()} ORDER BY load_id DESC, file, row"
    )
    return rows_as_dicts(con, sql + (f" LIMIT {int(limit)}" if limit else ""))


def quarantine_summary(con: duckdb.DuckDBPyConnection, which: Which = Which()) -> dict[str, Any]:
    """How many rows and how many of them are still ``open``, in all and per table, field and
    reason, most first: where to start when a big load refused thousands."""
    reasons = rows_as_dicts(
        con,
        "SELECT table_name AS table, field, reason, count(*) AS rows, "
        "count(*) FILTER (fixed_by IS NULL) AS open, min(file) AS first_file, "
        f"arg_min(row, (file, row)) AS first_line FROM {entries(con)} WHERE {which.where()} "
        "GROUP BY table_name, field, reason ORDER BY rows DESC, table_name, field, reason",
    )
    rows, still = (sum(r[k] for r in reasons) for k in ("rows", "open"))
    return {"rows": rows, "open": still, "fixed": rows - still, "reasons": reasons}


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
    out.parent.mkdir(parents=True, exist_ok=True)
    kind = "PARQUET" if out.suffix.lower() == ".parquet" else "CSV, HEADER"
    con.execute(
        f"COPY (SELECT {cells} {chosen} AND {_OBJECT} ORDER BY load_id, file, row) "
        f"TO {literal(str(out))} (FORMAT {kind})"
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
