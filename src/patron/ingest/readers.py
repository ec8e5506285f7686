"""Readers: turn one source (a file or an in-memory frame) into a DuckDB relation of raw rows.

The entry points of reading (:func:`check_file`, :func:`detect_format`, :func:`read_file`,
:func:`read_frame`, :func:`discard`) and the Parquet and JSON-lines readers. Each reader
materializes its source as ``_raw_<n>`` with the source's own columns plus ``_line``
(:mod:`patron.ingest.raw`), streaming through DuckDB's readers, never through Python memory;
CSV files are read by :mod:`patron.ingest.csv_reader`, data frames by
:mod:`patron.ingest.frames`.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Literal

import duckdb

from patron.errors import InputError, PatronWarning, spelled
from patron.ingest.csv_reader import read_csv
from patron.ingest.encodings import readable
from patron.ingest.frames import read_frame
from patron.ingest.raw import (
    RawSource,
    check_names,
    describe,
    discard,
    end_file_order,
    fetch_dicts,
    file_order,
    lines_of,
    number_lines,
    reading,
    struct_fields,
)
from patron.sql import ident, json_path, literal, scalar

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
    """Fail early, naming the file, when it is missing, a folder, a pipe, unreadable or empty."""
    if not path.exists():
        raise InputError("no such file; check the path", file=str(path))
    if path.is_dir():
        raise InputError("is a folder, not a file; pass the files inside it", file=str(path))
    if not path.is_file():
        raise _not_a_file(path)
    try:
        with path.open("rb") as handle:
            if not handle.read(1):
                raise InputError("the file is empty; nothing to load", file=str(path))
    except PermissionError as exc:
        raise InputError("cannot read the file (permission denied)", file=str(path)) from exc


def _not_a_file(path: Path) -> InputError:
    """A pipe or device (``/dev/stdin``, ``<(zcat ...)``) can be read once, and a load reads
    its file several times (dialect, header, rows): the later reads found nothing, and the
    load said "the file has a header but no data rows" of a file with thousands."""
    return InputError(
        "is a pipe or a device, not a file, and a load reads its file more than once; "
        "save it to a file first (a .csv.gz or .jsonl.gz file loads as it is)",
        file=str(path),
    )


def read_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    fmt: Format,
    n: int,
    *,
    encoding: str,
    paths: Iterable[str] = (),
) -> RawSource:
    """Materialize one file (already checked by :func:`check_file`) as ``_raw_<n>``; a JSON or
    Parquet file also gets a column for each of ``paths`` (``customer.email``) that names a
    value inside one of its objects or structs."""
    readers: dict[str, Callable[[duckdb.DuckDBPyConnection, Path, str, str], RawSource]] = {
        "csv": read_csv,
        "parquet": functools.partial(_read_parquet, paths=tuple(paths)),
        "jsonl": functools.partial(_read_jsonl, paths=tuple(paths)),
    }
    reader = readers[fmt]
    with file_order(con):
        source = reader(con, path, f"_raw_{n}", encoding)
    if source.rows == 0 and not source.rejects:  # a quiet day's export: not an error
        warnings.warn(f"{path}: a header and no rows, nothing to load", PatronWarning, stacklevel=2)
    return source


def _read_parquet(
    con: duckdb.DuckDBPyConnection, path: Path, table: str, encoding: str, paths: tuple[str, ...]
) -> RawSource:
    """A Parquet file as a view, with a column for each of ``paths`` into a struct column."""
    import pyarrow.parquet as pq

    with reading(path, "Parquet"):
        rows = f"read_parquet({literal(str(path))}, file_row_number = true)"
        fields = struct_fields(con, rows, paths, str(path))
        con.execute(  # a view: Parquet is columnar and typed, copying it would only cost
            f"CREATE TEMP VIEW {table} AS SELECT * EXCLUDE (file_row_number){fields}, "
            f"CAST(file_row_number + 1 AS BIGINT) AS _line FROM {rows}"
        )
        source = describe(con, str(path), table)
    check_names(pq.read_schema(path).names, str(path))  # as written: DuckDB renames repeats
    source.is_view = True
    return source


def _read_jsonl(
    con: duckdb.DuckDBPyConnection, path: Path, table: str, encoding: str, paths: tuple[str, ...]
) -> RawSource:
    """One JSON object per line; a line that is not one is a reject, never a failed load.

    A column per top-level key, objects and arrays kept as JSON text; and one per dotted path
    of ``paths`` that is no key itself but starts with one (``customer.email``, as shops'
    exports nest the buyer), so ``--map customer.email=email`` can name it."""
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
    _check_keys(con, lines, keys, str(path))
    nested = [p for p in dict.fromkeys(paths) if p not in keys and p.split(".")[0] in keys]
    named = [(k, [k]) for k in keys] + [(p, p.split(".")) for p in nested]
    columns = ", ".join(f"{_json_value(steps)} AS {ident(name)}" for name, steps in named)
    con.execute(
        f"CREATE TEMP TABLE {table} AS SELECT {columns + ', ' if columns else ''}_line "
        f"FROM {lines} WHERE {_IS_OBJECT} ORDER BY _line"
    )
    for name in nested:
        if scalar(con, f"SELECT count({ident(name)}) FROM {table}") == 0:
            raise InputError(f"no object in it has a value at {name}", file=str(path))
    source = describe(con, str(path), table)
    source.rejects = rejects
    source.nested = _holding_json(con, table, keys)
    return source


def _check_keys(con: duckdb.DuckDBPyConnection, lines: str, keys: list[str], file: str) -> None:
    """Keys name columns as a header does (:func:`check_names`): an object that repeats a key
    in any case (the warehouse would keep one of its values), or objects that spell a key in
    two cases, are refused, and so is an empty key, which has no name to keep its values by."""
    found = con.execute(
        f"SELECT _line, k FROM (SELECT _line, json_keys(line) AS k FROM {lines} "
        f"WHERE {_IS_OBJECT}) WHERE len(k) > list_unique(list_transform(k, lambda x: lower(x))) "
        "OR list_contains(k, '') ORDER BY _line LIMIT 1"
    ).fetchone()
    if found and "" in found[1]:
        raise InputError('an object has an empty key (""); name it', file=file, row=found[0])
    if found:
        check_names(found[1], file, row=found[0])
    check_names(keys, file)


def _holding_json(con: duckdb.DuckDBPyConnection, table: str, keys: list[str]) -> tuple[str, ...]:
    """The keys whose value is an object or a list on some line (kept as JSON text)."""
    if not keys:
        return ()
    found = ", ".join(
        f"bool_or(regexp_matches({ident(k)}, '^[{{[]') AND json_valid({ident(k)}))" for k in keys
    )
    flags = con.execute(f"SELECT {found} FROM {table}").fetchone() or ()
    return tuple(k for k, flag in zip(keys, flags, strict=True) if flag)


def _json_value(steps: list[str]) -> str:
    """The value at the keys ``steps`` down a line's object: text, or an object or array as
    JSON text."""
    path = json_path(*steps)
    return (
        f"CASE WHEN json_type(line, {path}) IN ('OBJECT', 'ARRAY') "
        f"THEN json_extract(line, {path})::VARCHAR ELSE json_extract_string(line, {path}) END"
    )
