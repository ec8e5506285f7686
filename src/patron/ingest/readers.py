"""Readers: turn one source (a file or an in-memory frame) into a DuckDB relation of raw rows.

The entry points of reading (:func:`check_file`, :func:`detect_format`, :func:`read_file`,
:func:`read_frame`, :func:`discard`) and the Parquet and JSON-lines readers. Each reader
materializes its source as ``_raw_<n>`` with the source's own columns plus ``_line``
(:mod:`patron.ingest.raw`), streaming through DuckDB's readers, never through Python memory;
CSV files are read by :mod:`patron.ingest.csv_reader`, data frames by
:mod:`patron.ingest.frames`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import duckdb

from patron.errors import InputError, spelled
from patron.ingest.csv_reader import read_csv
from patron.ingest.encodings import readable
from patron.ingest.frames import read_frame
from patron.ingest.raw import (
    RawSource,
    describe,
    discard,
    end_file_order,
    fetch_dicts,
    file_order,
    lines_of,
    number_lines,
    reading,
)
from patron.sql import ident, literal

__all__ = [
    "FORMATS",
    "Format",
    "RawSource",
    "check_file",
    "detect_format",
    "discard",
    "end_file_order",
    "read_file",
    "read_frame",
]

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
            "cannot tell the format from the file name; pass "
            + spelled("--format csv|parquet|jsonl", "format='csv', 'parquet' or 'jsonl'"),
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
    reader = {"csv": read_csv, "parquet": _read_parquet, "jsonl": _read_jsonl}[fmt]
    with file_order(con):
        source = reader(con, path, f"_raw_{n}", encoding)
    if source.rows == 0 and not source.rejects:
        raise InputError("the file has a header but no data rows", file=str(path))
    return source


def _read_parquet(
    con: duckdb.DuckDBPyConnection, path: Path, table: str, encoding: str
) -> RawSource:
    with reading(path, "Parquet"):
        con.execute(  # a view: Parquet is columnar and typed, copying it would only cost
            f"CREATE TEMP VIEW {table} AS SELECT * EXCLUDE (file_row_number), "
            f"CAST(file_row_number + 1 AS BIGINT) AS _line "
            f"FROM read_parquet({literal(str(path))}, file_row_number = true)"
        )
        source = describe(con, str(path), table)
    source.is_view = True
    return source


def _read_jsonl(con: duckdb.DuckDBPyConnection, path: Path, table: str, encoding: str) -> RawSource:
    """One JSON object per line; a line that is not one is a reject, never a failed load."""
    lines = f"{table}_lines"
    with readable(con, path, encoding) as (data, encoding), reading(path, "JSON lines", data):
        con.execute(
            f"CREATE TEMP TABLE {lines}_pre AS SELECT trim(line, ' \t\r\ufeff') AS line "
            f"FROM {lines_of(data, encoding)}"
        )
    number_lines(con, lines, first_line=1)
    con.execute(f"DELETE FROM {lines} WHERE line IS NULL OR line = ''")
    rejects = fetch_dicts(
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
    source = describe(con, str(path), table)
    source.rejects = rejects
    return source


def _json_path(key: str) -> str:
    return "$." + '"' + key.replace('"', '\\"') + '"'
