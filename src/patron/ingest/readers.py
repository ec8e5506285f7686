"""Readers: turn one source (a file or an in-memory frame) into a DuckDB relation of raw rows.

Each reader materializes the source into a temporary table ``_raw_<n>`` whose columns are the
source's own, plus ``_line`` (where the row is in the file) — streaming through DuckDB's
readers, never through Python memory. Rows DuckDB cannot split into fields (too many or too
few) are returned as rejects so they can be quarantined with their line.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import duckdb

from patron.errors import InputError
from patron.ingest.encodings import (
    NOT_LATIN1,
    check_header_encoding,
    fail_on_encoding,
    open_bytes,
    readable,
)
from patron.sql import first_line, ident, literal, out_of_room, scalar

Format = Literal["csv", "parquet", "jsonl"]
FORMATS: tuple[str, ...] = ("csv", "parquet", "jsonl")
_SUFFIXES: dict[str, Format] = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}


_IS_OBJECT = "CASE WHEN json_valid(line) THEN json_type(line) = 'OBJECT' ELSE false END"
"""A JSON-lines line that holds an object; CASE so json_type never sees invalid text."""


@dataclass
class RawSource:
    """A source materialized as ``table``: its columns (name -> DuckDB type) and rejects."""

    name: str
    table: str
    columns: dict[str, str]
    rows: int
    rejects: list[dict[str, Any]] = field(default_factory=list)
    is_view: bool = False


def detect_format(path: Path, fmt: str | None) -> Format:
    """The format named by ``--format``, else the one the file's suffix implies."""
    if fmt:
        if fmt not in FORMATS:
            raise InputError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
        return fmt  # type: ignore[return-value]
    suffixes = [s for s in path.suffixes if s != ".gz"]
    found = _SUFFIXES.get(suffixes[-1].lower()) if suffixes else None
    if found is None:
        raise InputError(
            "cannot tell the format from the file name; pass --format csv|parquet|jsonl",
            file=str(path),
        )
    return found


def check_file(path: Path) -> None:
    """Fail early, naming the file, when it is missing, a folder, unreadable or empty."""
    if not path.exists():
        raise InputError("no such file; check the path", file=str(path))
    if path.is_dir():
        raise InputError("is a folder, not a file; pass the files inside it", file=str(path))
    try:
        with path.open("rb") as handle:
            if not handle.read(1):
                raise InputError("the file is empty; nothing to load", file=str(path))
    except PermissionError as exc:
        raise InputError("cannot read the file (permission denied)", file=str(path)) from exc


def read_file(
    con: duckdb.DuckDBPyConnection, path: Path, fmt: Format, n: int, *, encoding: str
) -> RawSource:
    """Materialize one file (already checked by :func:`check_file`) as ``_raw_<n>``."""
    reader = {"csv": _read_csv, "parquet": _read_parquet, "jsonl": _read_jsonl}[fmt]
    with _file_order(con):
        source = reader(con, path, f"_raw_{n}", encoding)
    if source.rows == 0 and not source.rejects:
        raise InputError("the file has a header but no data rows", file=str(path))
    return source


def read_frame(con: duckdb.DuckDBPyConnection, frame: Any, n: int) -> RawSource:
    """Materialize a pandas/polars DataFrame or pyarrow Table as ``_raw_<n>``."""
    arrow = _to_arrow(frame)
    view = f"_frame_{n}"
    con.register(view, arrow)
    table = f"_raw_{n}"
    with _file_order(con):
        con.execute(f"CREATE TEMP TABLE {table}_pre AS SELECT * FROM {view}")
        _number_lines(con, table, first_line=1)
    con.unregister(view)  # after a failure it stays registered, to be replaced by the next
    return _describe(con, f"<{type(frame).__name__}>", table)


def _read_csv(con: duckdb.DuckDBPyConnection, path: Path, table: str, encoding: str) -> RawSource:
    with readable(con, path, encoding) as (data, encoding):
        return _scan_csv(con, path, data, table, encoding)


def _scan_csv(
    con: duckdb.DuckDBPyConnection, path: Path, data: Path, table: str, encoding: str
) -> RawSource:
    """Read ``data``, the bytes of ``path`` in an ``encoding`` DuckDB decodes; messages name
    ``path``."""
    check_header_encoding(data, encoding)
    options = (
        "all_varchar = true, header = true, ignore_errors = true, store_rejects = true, "
        f"rejects_table = '{table}_rej', rejects_scan = '{table}_scan', "
        f"encoding = {literal(encoding)}"
    )
    with _reading(path, "CSV", data):
        scan = f"read_csv({literal(str(data))}, {options})"
        con.execute(f"CREATE TEMP TABLE {table}_pre AS SELECT * FROM {scan}")
    rejects = _rejects(con, table)
    fail_on_encoding(rejects, path)
    records = int(scalar(con, f"SELECT count(*) FROM {table}_pre"))
    one_per_line = _physical_lines(data) == 1 + records + len(rejects)
    if one_per_line and not rejects:
        shift = "0"  # a record's line is its ordinal plus the header
    elif one_per_line:
        # One line per record: a good record's line is its ordinal plus the header plus the
        # rejected lines before it.
        con.execute(
            f"""CREATE TEMP TABLE {table}_rejlines AS
            SELECT line - row_number() OVER (ORDER BY line) - 1 AS good_before
            FROM (SELECT DISTINCT line FROM {table}_rej)"""
        )
        shift = f"(SELECT count(*) FROM {table}_rejlines r WHERE r.good_before <= _ordinal)"
    else:  # blank lines or quoted fields spanning lines: find where each record starts
        _record_starts(con, path, data, table, encoding)
        rejects = _rejects(con, table)
        shift = f"(SELECT s.ln FROM {table}_starts s WHERE s.ordinal = _ordinal) - _ordinal - 2"
    _number_lines(con, table, first_line=2, shift=shift, view=True)
    source = _describe(con, str(path), table)
    source.rejects = rejects
    source.is_view = True
    return source


def _rejects(con: duckdb.DuckDBPyConnection, table: str) -> list[dict[str, Any]]:
    """The records DuckDB could not split, one per line (its first error)."""
    return _fetch_dicts(
        con,
        "SELECT line, arg_min(column_name, column_idx) AS column_name, "
        "arg_min(error_type, column_idx) AS error_type, arg_min(csv_line, column_idx) AS csv_line, "
        "arg_min(error_message, column_idx) AS error_message "
        f"FROM {table}_rej GROUP BY line ORDER BY line",
    )


def _physical_lines(path: Path) -> int:
    """Lines in the file (a last line without a newline counts), read in chunks."""
    count, last = 0, b"\n"
    with open_bytes(path) as handle:
        while chunk := handle.read(1 << 20):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (last != b"\n")


def _record_starts(
    con: duckdb.DuckDBPyConnection, path: Path, data: Path, table: str, encoding: str
) -> None:
    """``<table>_starts(ordinal, ln)``: the line each good record of ``data`` (the bytes of
    ``path``) starts on; and the rejected records' lines in ``<table>_rej`` made the file's.

    A record starts on a non-blank line reached with an even number of quote characters before
    it (doubled quotes inside fields keep the parity), after the header. DuckDB numbers a
    rejected record's line without the line breaks inside quoted fields before it.
    """
    lines = f"{table}_lines"
    with _reading(path, "CSV", data):
        con.execute(
            f"CREATE TEMP TABLE {lines}_pre AS SELECT line FROM {_lines_of(data, encoding)}"
        )
    _number_lines(con, lines, first_line=1)
    con.execute(
        f"""CREATE TEMP TABLE {table}_records AS
        WITH counted AS (
          SELECT _line, line, coalesce(sum(length(line) - length(replace(line, '"', '')))
            OVER (ORDER BY _line ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) % 2 = 1
            AS quoted
          FROM {lines}),
        numbered AS (
          SELECT _line, line, quoted,
            _line - count(*) FILTER (WHERE quoted) OVER (ORDER BY _line) AS duckdb_line
          FROM counted)
        SELECT _line AS ln, duckdb_line FROM numbered
        WHERE NOT quoted AND _line > 1 AND trim(coalesce(line, ''), chr(13)) <> ''"""
    )
    con.execute(
        f"UPDATE {table}_rej SET line = r.ln FROM {table}_records r "
        f"WHERE r.duckdb_line = {table}_rej.line"
    )
    con.execute(
        f"""CREATE TEMP TABLE {table}_starts AS
        SELECT ln, row_number() OVER (ORDER BY ln) - 1 AS ordinal FROM {table}_records
        WHERE ln NOT IN (SELECT line FROM {table}_rej)"""
    )


def _lines_of(path: Path, encoding: str) -> str:
    """The file as one text column, a row per line. Not strict: DuckDB's strict reader stops
    at a bare LF in a file it detected as CRLF, which spreadsheets and scripts both write."""
    return (
        f"read_csv({literal(str(path))}, columns = {{'line': 'VARCHAR'}}, delim = '\x1f', "
        "quote = '', escape = '', header = false, auto_detect = false, strict_mode = false, "
        f"encoding = {literal(encoding)})"
    )


def _read_parquet(
    con: duckdb.DuckDBPyConnection, path: Path, table: str, encoding: str
) -> RawSource:
    with _reading(path, "Parquet"):
        con.execute(  # a view: Parquet is columnar and typed, copying it would only cost
            f"CREATE TEMP VIEW {table} AS SELECT * EXCLUDE (file_row_number), "
            f"CAST(file_row_number + 1 AS BIGINT) AS _line "
            f"FROM read_parquet({literal(str(path))}, file_row_number = true)"
        )
        source = _describe(con, str(path), table)
    source.is_view = True
    return source


def _read_jsonl(con: duckdb.DuckDBPyConnection, path: Path, table: str, encoding: str) -> RawSource:
    """One JSON object per line; a line that is not one is a reject, never a failed load."""
    lines = f"{table}_lines"
    with readable(con, path, encoding) as (data, encoding), _reading(path, "JSON lines", data):
        con.execute(
            f"CREATE TEMP TABLE {lines}_pre AS SELECT trim(line, ' \t\r\ufeff') AS line "
            f"FROM {_lines_of(data, encoding)}"
        )
    _number_lines(con, lines, first_line=1)
    con.execute(f"DELETE FROM {lines} WHERE line IS NULL OR line = ''")
    rejects = _fetch_dicts(
        con,
        f"SELECT _line AS line, NULL AS column_name, 'INVALID JSON' AS error_type, "
        f"line AS csv_line, 'not a JSON object' AS error_message FROM {lines} "
        f"WHERE NOT {_IS_OBJECT} ORDER BY _line",
    )
    keys = [
        row[0]
        for row in con.execute(
            f"SELECT DISTINCT unnest(CASE WHEN {_IS_OBJECT} THEN json_keys(line) END) AS k "
            f"FROM {lines} ORDER BY k"
        ).fetchall()
    ]
    columns = ", ".join(
        f"CASE WHEN json_type(line, {literal(_json_path(k))}) IN ('OBJECT', 'ARRAY') "
        f"THEN json_extract(line, {literal(_json_path(k))})::VARCHAR "
        f"ELSE json_extract_string(line, {literal(_json_path(k))}) END AS {ident(k)}"
        for k in keys
    )
    con.execute(
        f"CREATE TEMP TABLE {table} AS SELECT {columns + ', ' if columns else ''}_line "
        f"FROM {lines} WHERE {_IS_OBJECT} ORDER BY _line"
    )
    source = _describe(con, str(path), table)
    source.rejects = rejects
    return source


@contextmanager
def _reading(path: Path, kind: str, data: Path | None = None) -> Iterator[None]:
    """DuckDB failing to read ``path`` (its bytes in ``data``, a UTF-8 copy, if given) as
    ``kind`` is the file's problem, told as an InputError naming it, never the copy; running out
    of memory or disk is not, and passes through for the load to say."""
    try:
        yield
    except duckdb.Error as exc:
        if out_of_room(exc):
            raise
        why = _explained(exc).replace(str(data or path), str(path))
        raise InputError(f"cannot read as {kind}: {why}", file=str(path)) from exc


_EXPLAINED = {
    "is not latin-1 encoded": NOT_LATIN1,
    "Maximum line size": "a record is longer than 2 MB, the most DuckDB reads as one line "
    "(its message blames line 1 whichever it is): shorten or drop its longest field",
}
"""DuckDB's read errors that its first line does not explain, by a phrase in them."""


def _explained(exc: duckdb.Error) -> str:
    return next((why for key, why in _EXPLAINED.items() if key in str(exc)), first_line(exc))


@contextmanager
def _file_order(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Keep rows in file order while a source is read and numbered; the rest of a load does
    not need it, and DuckDB uses less memory without it.

    A read that fails leaves the setting on: its error has aborted the transaction, where
    setting it again would fail and hide that error. The load turns it off after its rollback
    (:func:`end_file_order`).
    """
    con.execute("SET preserve_insertion_order = true")
    yield
    end_file_order(con)


def end_file_order(con: duckdb.DuckDBPyConnection) -> None:
    """The connection's usual setting: rows in any order (``Warehouse`` sets it at opening)."""
    con.execute("SET preserve_insertion_order = false")


def _number_lines(
    con: duckdb.DuckDBPyConnection,
    table: str,
    *,
    first_line: int,
    shift: str = "0",
    view: bool = False,
) -> None:
    """Create ``table`` from ``table_pre`` with ``_line``: the row's line in its file.

    Rows keep file order (``preserve_insertion_order``); rowids of tables made in an open
    transaction start at an offset, so the ordinal is taken relative to the first rowid.
    A ``view`` numbers the rows where they are, instead of copying every row; ``table_pre``
    then stays until the view is dropped.
    """
    base = int(scalar(con, f"SELECT coalesce(min(rowid), 0) FROM {table}_pre"))
    con.execute(
        f"""CREATE TEMP {"VIEW" if view else "TABLE"} {table} AS
        SELECT * EXCLUDE (_ordinal), CAST(_ordinal + {first_line} + {shift} AS BIGINT) AS _line
        FROM (SELECT *, rowid - {base} AS _ordinal FROM {table}_pre)"""
    )
    if not view:
        con.execute(f"DROP TABLE {table}_pre")


def _describe(con: duckdb.DuckDBPyConnection, name: str, table: str) -> RawSource:
    described = con.execute(f"DESCRIBE {table}").fetchall()
    columns = {row[0]: row[1] for row in described if row[0] != "_line"}
    rows = int(scalar(con, f"SELECT count(*) FROM {table}"))
    return RawSource(name=name, table=table, columns=columns, rows=rows)


def _fetch_dicts(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description or []]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _to_arrow(frame: Any) -> Any:
    import pyarrow as pa

    if isinstance(frame, pa.Table):
        return frame
    if hasattr(frame, "to_arrow"):  # polars
        return frame.to_arrow()
    if hasattr(frame, "to_records") and hasattr(frame, "columns"):  # pandas
        frame = _named_index_as_columns(frame)
        try:
            return pa.Table.from_pandas(frame, preserve_index=False)
        except (pa.ArrowException, OverflowError):
            return pa.Table.from_pandas(_mixed_as_text(frame), preserve_index=False)
    raise InputError(
        f"cannot load a {type(frame).__name__}; pass a file path, a pandas or polars "
        "DataFrame, or a pyarrow Table"
    )


def _named_index_as_columns(frame: Any) -> Any:
    """A pandas frame's named index levels as columns (``df.set_index("order_id")`` keeps the
    order id there, not among the columns); unnamed ones are row numbers, dropped."""
    named = [name for name in frame.index.names if name is not None]
    return frame.reset_index(level=named) if named else frame


def _mixed_as_text(frame: Any) -> Any:
    """``frame`` with each object column Arrow cannot type (text beside dates, numbers beside
    booleans, as spreadsheet imports make) as text, to be validated like a CSV cell: dicts and
    lists as JSON, missing values as nulls."""
    import pyarrow as pa

    frame = frame.copy()
    for name in frame.select_dtypes(include="object").columns:
        try:
            pa.array(frame[name], from_pandas=True)
        except (pa.ArrowException, OverflowError):
            frame[name] = [_as_text(value) for value in frame[name]]
    return frame


def _as_text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, dict | list):
        return json.dumps(value, default=str, ensure_ascii=False)
    return str(value)


def _json_path(key: str) -> str:
    return "$." + '"' + key.replace('"', '\\"') + '"'


def discard(con: duckdb.DuckDBPyConnection, raw: RawSource) -> None:
    """Drop a read source and its helper tables: the reader's (rows, rejects, line numbers)
    and the checked phone numbers (:func:`patron.identity.phones.phone_map`)."""
    con.execute(f"DROP {'VIEW' if raw.is_view else 'TABLE'} IF EXISTS {raw.table}")
    for suffix in (
        "_pre",
        "_rejlines",
        "_rej",
        "_scan",
        "_lines",
        "_records",
        "_starts",
        "_phones",
    ):
        con.execute(f"DROP TABLE IF EXISTS {raw.table}{suffix}")
