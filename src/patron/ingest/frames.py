"""Data frames as sources: a pandas or polars (lazy or not) DataFrame, or a pyarrow Table, read
as raw rows.

The frame goes to DuckDB as Arrow, without a copy where Arrow can type its columns; a pandas
object column Arrow cannot type (text beside dates, numbers beside booleans, as spreadsheet
imports make) goes as text, to be validated like a CSV cell. A row's ``_line`` is its 1-based
position in the frame.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

import duckdb

from patron.errors import InputError
from patron.ingest.raw import RawSource, describe, file_order, number_lines, struct_fields


def read_frame(
    con: duckdb.DuckDBPyConnection, frame: Any, n: int, paths: Iterable[str] = ()
) -> RawSource:
    """Materialize a pandas/polars DataFrame or pyarrow Table as ``_raw_<n>``, with a column
    for each of ``paths`` (``customer.email``) into a column of dicts or structs."""
    arrow = _to_arrow(frame)
    view = f"_frame_{n}"
    con.register(view, arrow)
    table, name = f"_raw_{n}", f"<{type(frame).__name__}>"
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


def _to_arrow(frame: Any) -> Any:
    import pyarrow as pa

    frame = collected(frame)
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
        "(Lazy)DataFrame, or a pyarrow Table"
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
