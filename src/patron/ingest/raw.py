"""A source read into the warehouse as raw rows: what every reader makes and shares.

A reader materializes its source as a temporary table (or view) ``_raw_<n>`` whose columns are
the source's own, plus ``_line`` (where the row is in the file); rows it cannot split into
fields are kept apart as rejects, to be quarantined with their line. This module holds that
result (:class:`RawSource`), the numbering of rows by line, the translation of DuckDB's read
errors into the file's, and the cleanup of a read source.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from patron.errors import InputError
from patron.ingest.encodings import not_latin1
from patron.sql import first_line, ident, literal, out_of_room, scalar

_HELPERS = ("_pre", "_rejlines", "_rej", "_scan", "_lines", "_records", "_starts", "_phones")
"""Suffixes of the helper tables a source may leave: the readers' (rows, rejects, line numbers)
and the checked phone numbers (:func:`patron.identity.phones.phone_map`)."""


@dataclass
class RawSource:
    """A source materialized as ``table``: its columns (name -> DuckDB type) and rejects;
    ``nested`` names the columns that hold objects or lists, which never map to a field by
    their name alone (a shop's ``customer`` object is not a customer_id)."""

    name: str
    table: str
    columns: dict[str, str]
    rows: int
    rejects: list[dict[str, Any]] = field(default_factory=list)
    is_view: bool = False
    nested: tuple[str, ...] = ()


@contextmanager
def reading(path: Path, kind: str, data: Path | None = None) -> Iterator[None]:
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
    "is not latin-1 encoded": not_latin1,
    "Error when sniffing file": lambda: (
        "DuckDB cannot tell how it is written (its delimiter, quoting and line ends), even "
        "leniently: look for a quote that is never closed, or save "
        "it again as CSV from the program that made it"
    ),
    "Maximum line size": lambda: (
        "a record is longer than 2 MB, the most DuckDB reads as one "
        "line (its message blames line 1 whichever it is): shorten or drop its longest field"
    ),
}
"""DuckDB's read errors that its first line does not explain, by a phrase in them."""


def _explained(exc: duckdb.Error) -> str:
    return next((why() for key, why in _EXPLAINED.items() if key in str(exc)), first_line(exc))


@contextmanager
def file_order(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
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


def number_lines(
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


def lines_of(path: Path, encoding: str) -> str:
    """The file as one text column, a row per line. Not strict: DuckDB's strict reader stops
    at a bare LF in a file it detected as CRLF, which spreadsheets and scripts both write."""
    return (
        f"read_csv({literal(str(path))}, columns = {{'line': 'VARCHAR'}}, delim = '\x1f', "
        "quote = '', escape = '', header = false, auto_detect = false, strict_mode = false, "
        f"encoding = {literal(encoding)})"
    )


def check_names(names: Iterable[object], source: str, *, row: int | None = None) -> None:
    """Column names, as the source writes them, must differ other than in case: the warehouse
    does not tell ``Email`` from ``email`` and renames the second (``email_1``), so a value
    would miss the field it was meant for. ``--map`` cannot pick one of the two, as both are
    one name to the warehouse."""
    first: dict[str, str] = {}
    for column in map(str, names):
        if (other := first.get(column.lower())) is not None:
            same = "the name" if other == column else f"{other!r} and"
            raise InputError(
                f"two columns have {same} {column!r} (the warehouse takes names in any case "
                "as one); rename or drop one",
                file=source,
                row=row,
            )
        first[column.lower()] = column


def describe(con: duckdb.DuckDBPyConnection, name: str, table: str) -> RawSource:
    """``table`` as the source named ``name``: its columns and row count, no rejects."""
    described = con.execute(f"DESCRIBE {table}").fetchall()
    columns = {row[0]: row[1] for row in described if row[0] != "_line"}
    rows = int(scalar(con, f"SELECT count(*) FROM {table}"))
    nested = tuple(c for c, kind in columns.items() if is_nested(kind))
    return RawSource(name=name, table=table, columns=columns, rows=rows, nested=nested)


def is_nested(source_type: str) -> bool:
    """A DuckDB type that holds objects or lists (a struct, a map, a list)."""
    return re.search(r"^(STRUCT|MAP)|\]$", source_type) is not None


def struct_fields(
    con: duckdb.DuckDBPyConnection, relation: str, paths: Iterable[str], file: str
) -> str:
    """Select items (``, <field> AS "customer.email"``) for each of ``paths`` that is no column
    of ``relation`` but a dotted path into one of its struct columns (a Parquet struct, a
    frame's dicts), so ``--map customer.email=email`` can name the field; a path to a field
    the struct lacks is an InputError."""
    described = con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
    columns = {row[0]: str(row[1]) for row in described}
    items = []
    for path in dict.fromkeys(paths):
        top, *steps = path.split(".")
        if path in columns or not steps or not columns.get(top, "").startswith("STRUCT"):
            continue
        field = ident(top)
        for step in steps:
            field = f"struct_extract({field}, {literal(step)})"
        try:
            con.execute(f"SELECT {field} FROM {relation} LIMIT 0")
        except duckdb.BinderException:
            raise InputError(f"no value at {path}: {top} has no such field", file=file) from None
        items.append(f", {field} AS {ident(path)}")
    return "".join(items)


def fetch_dicts(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description or []]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def discard(con: duckdb.DuckDBPyConnection, raw: RawSource) -> None:
    """Drop a read source and the helper tables it may have left."""
    con.execute(f"DROP {'VIEW' if raw.is_view else 'TABLE'} IF EXISTS {raw.table}")
    for suffix in _HELPERS:
        con.execute(f"DROP TABLE IF EXISTS {raw.table}{suffix}")
