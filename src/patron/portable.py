"""Ibis expressions that give the same answer on every warehouse patron runs on.

Metrics are Ibis expressions so they run where the data is. A few operations compile on DuckDB
and on no other engine (PostgreSQL has no ordered ``FIRST`` aggregate and does not cast hex
text to integers; Ibis has no MD5 rule for it): these helpers build them portably, and keep
DuckDB's native form where it is faster. An expression bound to no backend (the stored
occasions' rebuild, compiled to DuckDB's SQL) takes DuckDB's form.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import ibis
import ibis.expr.datatypes as dt
import pyarrow as pa
import sqlglot as sg
import sqlglot.expressions as sge
from ibis.common.exceptions import IbisError

from patron.sql import literal, tables

_HEX = "0123456789abcdef"


def first_by(column: ibis.Column, order_by: list[ibis.Value]) -> ibis.Value:
    """The aggregate value of ``column`` in the group's first row by ``order_by``.

    DuckDB's ordered ``FIRST`` is 4x faster than the head of an ordered array (the day's first
    channel of 1M orders: 0.13 against 0.55 s); elsewhere, the array's head (nulls skipped,
    as ``FIRST`` skips them).
    """
    if _engine(column) == "duckdb":
        return column.first(order_by=order_by)
    return column.collect(order_by=order_by)[0]


def any_of(flag: ibis.BooleanColumn) -> ibis.IntegerValue:
    """1 when ``flag`` holds on some row of the group, 0 when it holds on none, null when it
    is null on every row: ``any()`` as a count, which PostgreSQL will not cast from a boolean."""
    return ibis.cases((flag, 1), (~flag, 0)).max().cast("int64")


def round_half_up(value: ibis.NumericValue) -> ibis.IntegerValue:
    """``value`` rounded to a whole number, halves up. DuckDB rounds a half away from zero,
    PostgreSQL's doubles to even (a median of 14 and 15 days: 15 against 14); for the
    non-negative day counts and scores patron rounds, this is DuckDB's rule everywhere."""
    return (value + 0.5).floor().cast("int64")


@ibis.udf.scalar.builtin(name="md5")
def md5_hex(value: str) -> str:  # type: ignore[empty-body]  # compiled to SQL, never run
    """The MD5 digest of ``value`` as 32 lower-case hex digits (DuckDB's and PostgreSQL's
    built-in ``md5``)."""


def hex_fraction(digits: ibis.StringValue, count: int) -> ibis.FloatingValue:
    """The first ``count`` lower-case hex digits of ``digits`` read as a fraction in [0, 1):
    the integer they write over 16^count (exact in a double for ``count`` up to 13).

    Elsewhere than on DuckDB the digits are summed one by one as doubles, each an exact power
    of two times the digit: PostgreSQL's ``position`` gives 32-bit integers, and a hex number
    of 48 bits folded in them would overflow.
    """
    head = digits.substr(0, count)
    if _engine(digits) == "duckdb":
        return ("0x" + head).cast("int64") / 16**count
    places = [
        ibis.literal(_HEX).find(head.substr(i, 1)).cast("float64") / 16 ** (i + 1)
        for i in range(count)
    ]
    return sum(places[1:], places[0])


@ibis.udf.scalar.builtin(name="patron_try_json")
def _try_json(value: str) -> dt.JSON:  # compiled to SQL, never run
    """``value`` as JSON, or null where it is not JSON (:data:`POSTGRES_FUNCTIONS`)."""


POSTGRES_FUNCTIONS = {
    "patron_try_json": """CREATE FUNCTION patron_try_json(value text) RETURNS json
    LANGUAGE plpgsql IMMUTABLE AS $$
    BEGIN RETURN value::json; EXCEPTION WHEN others THEN RETURN NULL; END $$""",
}
"""Functions the expressions here call in a PostgreSQL warehouse, by name: PostgreSQL before 16
has no cast that gives null instead of failing."""

_NUMBER = r"^\s*[-+]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][-+]?[0-9]+)?\s*$"


def json_or_null(text: ibis.Value) -> ibis.Value:
    """``text`` (a string or JSON column) parsed as JSON, null where it is not JSON.

    Ibis compiles ``try_cast`` to a plain ``CAST`` on PostgreSQL, where one free-text value
    (``clicked the banner``, a Python dict's ``{'nps': 9}``) fails the whole query; there the
    warehouse's ``patron_try_json`` parses it.
    """
    if _engine(text) == "duckdb":
        return text.try_cast("json")
    return _try_json(text.cast("string"))


def number_or_null(text: ibis.StringValue) -> ibis.FloatingValue:
    """``text`` read as a decimal number (``9``, `` 8.5 ``, ``1e1``), null where it is none; a
    plain cast elsewhere than on DuckDB fails the query on ``nine``, so the text is matched
    first."""
    if _engine(text) == "duckdb":
        return text.try_cast("float64")
    return text.re_search(_NUMBER).ifelse(text.strip().cast("float64"), ibis.null("float64"))


POSTGRES_SESSION = ("SET jit = off",)
"""Settings of patron's PostgreSQL sessions. JIT compiling patron's long queries cost more than
it saved: 3.1 s of a 3.9 s insight query on the demo's 50k customers; the seven insights took
21.2 s with it and 12.2-12.6 s without."""


def _byte_order_compiler(base: type) -> Any:
    """An instance of the SQL compiler ``base`` that orders and compares text by its bytes
    (``COLLATE "C"``) in sort keys, ``min`` and ``max``, as DuckDB does.

    A PostgreSQL database orders text by its own collation, usually a language's
    (``en_US.UTF-8``): ``a, A, b, B`` and ``_z`` first, where DuckDB gives ``A, B, _z, a, b``.
    Every sorted list of names, every tie broken by a name and every ``min`` of a text would
    differ between the two warehouses (segment migration's flows: ``new`` among ``New``...).
    """

    def text(op: Any, arg: Any) -> Any:
        if not op.dtype.is_string():
            return arg
        return sge.Collate(this=arg, expression=sg.to_identifier("C", quoted=True))

    class ByteOrder(base):
        __slots__ = ()

        def visit_SortKey(self, op: Any, *, arg: Any, ascending: bool, nulls_first: bool) -> Any:
            return super().visit_SortKey(
                op, arg=text(op, arg), ascending=ascending, nulls_first=nulls_first
            )

        def visit_Min(self, op: Any, *, arg: Any, where: Any) -> Any:
            return super().visit_Min(op, arg=text(op, arg), where=where)

        def visit_Max(self, op: Any, *, arg: Any, where: Any) -> Any:
            return super().visit_Max(op, arg=text(op, arg), where=where)

    return ByteOrder()


def prepare(backend: Any) -> None:
    """Ready a warehouse connection for patron's expressions: on PostgreSQL, text ordered by
    its bytes whatever the database's collation (:func:`_byte_order_compiler`, this connection
    alone), the session's settings (:data:`POSTGRES_SESSION`) and the functions of
    :data:`POSTGRES_FUNCTIONS` that the database lacks; DuckDB needs nothing."""
    if backend.name != "postgres":
        return
    backend.compiler = _byte_order_compiler(type(backend.compiler))
    for sql in POSTGRES_SESSION:
        backend.raw_sql(sql).close()
    names = ", ".join(literal(name) for name in POSTGRES_FUNCTIONS)
    found = backend.sql(f"SELECT proname FROM pg_proc WHERE proname IN ({names})")
    have = set(found.to_pyarrow().column(0).to_pylist())
    for name, sql in POSTGRES_FUNCTIONS.items():
        if name not in have:
            backend.raw_sql(sql).close()


def record_batches(backend: Any, expr: ibis.Table, rows: int) -> Iterator[pa.RecordBatch]:
    """``expr``'s rows, about ``rows`` at a time. Ibis 12's own batches call a DuckDB method
    that DuckDB 2 no longer has, so on DuckDB the compiled SQL goes through its Arrow reader."""
    if backend.name == "duckdb":
        return iter(backend.con.sql(str(backend.compile(expr))).to_arrow_reader(rows))
    return iter(expr.to_pyarrow_batches(chunk_size=rows))


def to_csv(table: ibis.Table, out: Path) -> None:
    """Write ``table``'s rows to the CSV file ``out`` as DuckDB writes them, wherever they are
    computed: another backend's rows stream through DuckDB's writer. Ibis writes PostgreSQL's
    through pyarrow's, which quotes every text, writes a float 122.0 as ``122`` and an instant
    as ``2024-09-01 04:00:00.000000Z`` (DuckDB: ``2024-09-01 04:00:00+00``): the same export
    differed with the warehouse."""
    if _engine(table) == "duckdb":
        table.to_csv(out)
        return
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")  # as Ibis sets its sessions: instants in UTC
        with table.to_pyarrow_batches() as batches:
            con.from_arrow(batches).write_csv(str(out))


def table_names(backend: Any) -> set[str]:
    """The tables ``backend`` has. Ibis 12's ``list_tables`` reads DuckDB's answer with a
    method DuckDB 2 no longer has, so DuckDB is asked directly."""
    return tables(backend.con) if backend.name == "duckdb" else set(backend.list_tables())


def delete_where(backend: Any, table: str, column: str, value: str) -> None:
    """Delete ``table``'s rows whose ``column`` is ``value`` (Ibis has no delete). DuckDB's
    ``raw_sql`` hands back the connection itself, which must stay open; other backends hand
    back a cursor to close."""
    sql = f"DELETE FROM {table} WHERE {column} = {literal(value)}"
    if backend.name == "duckdb":
        backend.con.execute(sql)
    else:
        backend.raw_sql(sql).close()


def _engine(expr: ibis.Expr) -> str:
    """The name of the backend ``expr``'s tables are in; DuckDB's for unbound tables and for
    in-memory ones alone (``ibis.get_backend`` would open Ibis's default DuckDB connection for
    those and keep it to the end of the process)."""
    try:
        return str(expr._find_backend(use_default=False).name)
    except IbisError:
        return "duckdb"
