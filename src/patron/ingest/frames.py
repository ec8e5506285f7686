"""Data frames as sources: a pandas or polars (lazy or not) DataFrame, a pyarrow Table,
RecordBatch or RecordBatchReader (or anything else that hands out an Arrow stream), read as
raw rows.

The frame goes to DuckDB as Arrow, without a copy where Arrow can type its columns and DuckDB
read those types. What would otherwise load changed is changed back first: an integer column
pandas widened to floats for a missing value loads as integers (an id 7 is not ``7.0``), a
pandas object column Arrow cannot type (text beside dates, naive times beside zoned ones, as
spreadsheet imports make) goes as text, to be validated like a CSV cell, and polars objects and
pandas periods as their text. What cannot be told apart (two columns of one name, a
MultiIndex's levels) is an InputError saying what to do. A row's ``_line`` is its 1-based
position in the frame.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import duckdb

from patron.errors import InputError
from patron.ingest.raw import (
    RawSource,
    check_names,
    describe,
    file_order,
    number_lines,
    struct_fields,
)
from patron.sql import first_line

_EXACT = 2**53
"""Floats beyond this are no longer exact integers: such a column stays floats."""


def read_frame(
    con: duckdb.DuckDBPyConnection, frame: Any, n: int, paths: Iterable[str] = ()
) -> RawSource:
    """Materialize a data frame as ``_raw_<n>``, with a column for each of ``paths``
    (``customer.email``) into a column of dicts or structs."""
    name = f"<{type(frame).__name__}>"
    arrow = _readable(_to_arrow(frame, name), name)
    view = f"_frame_{n}"
    _register(con, view, arrow, name)
    table = f"_raw_{n}"
    with file_order(con):
        fields = struct_fields(con, view, paths, name)
        con.execute(f"CREATE TEMP TABLE {table}_pre AS SELECT *{fields} FROM {view}")
        number_lines(con, table, first_line=1)
    con.unregister(view)  # after a failure it stays registered, to be replaced by the next
    return describe(con, name, table)


def collected(frame: Any) -> Any:
    """A polars LazyFrame's rows (a query polars has not run yet); any other frame as it is."""
    if hasattr(frame, "collect") and hasattr(frame, "collect_schema"):
        return frame.collect()
    return frame


def _to_arrow(frame: Any, name: str) -> Any:
    import pyarrow as pa

    frame = collected(frame)
    if isinstance(frame, pa.Table):
        return frame
    if hasattr(frame, "to_arrow") and hasattr(frame, "schema"):  # polars
        return _objects_as_text(frame).to_arrow()
    if hasattr(frame, "to_records") and hasattr(frame, "columns"):  # pandas
        return _from_pandas(frame, name)
    if hasattr(frame, "__arrow_c_stream__") or hasattr(frame, "__arrow_c_array__"):
        try:
            return pa.table(frame)  # a RecordBatch(Reader), or another library's Arrow data
        except (pa.ArrowInvalid, TypeError):  # a Series or an Array: values without columns
            pass
    raise InputError(
        f"cannot load a {type(frame).__name__}; pass a file path, a pandas or polars "
        "(Lazy)DataFrame, or a pyarrow Table or RecordBatchReader"
    )


def _readable(table: Any, name: str) -> Any:
    """``table`` with its columns named apart and typed as DuckDB reads them: half floats as
    floats, decimals of more than 38 digits (DuckDB's most) as their text."""
    import pyarrow as pa

    if table.num_columns == 0:
        raise InputError("the frame has no columns", file=name)
    check_names(table.column_names, name)
    for i, field in enumerate(table.schema):
        if pa.types.is_float16(field.type):
            table = table.set_column(i, field.name, table.column(i).cast(pa.float32()))
        elif pa.types.is_decimal256(field.type):
            wide = field.type.precision > 38
            kind = pa.string() if wide else pa.decimal128(field.type.precision, field.type.scale)
            table = table.set_column(i, field.name, table.column(i).cast(kind))
    return table


def _register(con: duckdb.DuckDBPyConnection, view: str, arrow: Any, name: str) -> None:
    """Register ``arrow`` as ``view``; a column of a type DuckDB cannot read is named (found
    on a connection of its own: the failure has aborted the load's transaction)."""
    try:
        con.register(view, arrow)
    except duckdb.NotImplementedException as exc:
        with duckdb.connect() as probe:
            for column, kind in zip(arrow.column_names, arrow.schema.types, strict=True):
                try:
                    probe.register(view, arrow.select([column]))
                except duckdb.NotImplementedException:
                    raise InputError(
                        f"the warehouse cannot read Arrow type {kind} ({first_line(exc)}); "
                        "convert the column to text, numbers or times",
                        file=name,
                        field=column,
                    ) from exc
        raise


def _objects_as_text(frame: Any) -> Any:
    """A polars frame with its Object columns (Python objects polars cannot type, which
    would reach Arrow as their memory addresses) as text."""
    import polars as pl

    objects = [name for name, kind in frame.schema.items() if kind == pl.Object]
    texts = [pl.Series(name, [_as_text(v) for v in frame[name]], pl.String) for name in objects]
    return frame.with_columns(texts) if texts else frame


def _from_pandas(frame: Any, name: str) -> Any:
    import pandas as pd
    import pyarrow as pa

    if isinstance(frame.columns, pd.MultiIndex):
        raise InputError(
            f"the frame's columns have {frame.columns.nlevels} levels ({frame.columns[0]!r}, "
            "...); give each column one name first, e.g. "
            "df.columns = ['_'.join(c) for c in df.columns]",
            file=name,
        )
    check_names(frame.columns, name)
    frame = _named_index_as_columns(frame, name)
    if changed := _retyped(frame):
        frame = frame.copy(deep=False)  # the caller's frame stays as it is
        for label, column in changed.items():
            frame[label] = column
    try:
        return pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowException, OverflowError, TypeError):
        return pa.Table.from_pandas(_untyped_as_text(frame), preserve_index=False)


def _named_index_as_columns(frame: Any, name: str) -> Any:
    """A pandas frame's named index levels as columns (``df.set_index("order_id")`` keeps the
    order id there, not among the columns); unnamed ones are row numbers, dropped, and so is a
    level that repeats a column (``set_index("order_id", drop=False)``)."""
    import pandas as pd

    named = []
    for level in (level for level in frame.index.names if level is not None):
        if level not in frame.columns:
            named.append(level)
        elif not frame[level].equals(pd.Series(frame.index.get_level_values(level), frame.index)):
            raise InputError(
                f"the index and a column are both named {level!r}, with other values; rename "
                "one, or drop the index (df.reset_index(drop=True))",
                file=name,
            )
    return frame.reset_index(level=named) if named else frame


def _retyped(frame: Any) -> dict[object, Any]:
    """The columns Arrow would take wrongly, as they should load: integers pandas widened to
    floats for a missing value as integers, periods (which reach Arrow as counts since 1970)
    and object columns mixing naive and zoned times (Arrow drops the zones, and the shop's
    timezone would then be taken for UTC) as text."""
    import pandas as pd
    from pandas.api.types import is_float_dtype

    changed = {}
    for label, column in frame.items():
        if isinstance(column.dtype, pd.PeriodDtype) or _mixes_zones(column):
            changed[label] = column.map(_as_text, na_action="ignore").astype(object)
        elif is_float_dtype(column.dtype) and column.isna().any():
            present = column.dropna()
            if ((present % 1 == 0) & (present.abs() < _EXACT)).all():
                changed[label] = column.astype("Int64")
    return changed


def _mixes_zones(column: Any) -> bool:
    from pandas.api.types import infer_dtype

    if column.dtype != object or infer_dtype(column, skipna=True) != "datetime":
        return False
    return len({value.tzinfo is None for value in column.dropna()}) > 1


def _untyped_as_text(frame: Any) -> Any:
    """``frame`` with each column Arrow cannot type (text beside dates, numbers beside
    booleans, as spreadsheet imports make; complex numbers) as text, to be validated like a CSV
    cell: dicts and lists as JSON, missing values as nulls."""
    import pyarrow as pa

    frame = frame.copy()
    for name in frame.columns:
        try:
            pa.array(frame[name], from_pandas=True)
        except (pa.ArrowException, OverflowError, TypeError):
            frame[name] = [_as_text(value) for value in frame[name]]
    return frame


def _as_text(value: Any) -> str | None:
    """A cell as text; every missing value (None, NaN, pandas' NA and NaT) as null, never as
    its name ("<NA>" is no channel, "NaT" no date)."""
    import pandas as pd

    if pd.api.types.is_scalar(value) and pd.isna(value):
        return None
    if isinstance(value, dict | list):
        return json.dumps(value, default=str, ensure_ascii=False)
    return str(value)
