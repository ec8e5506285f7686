"""CSV files read as raw rows, each numbered with the line of the file it starts on.

DuckDB's reader splits the file (every column as text); records it cannot split into the
header's fields are rejects, kept with their line to be quarantined. DuckDB numbers neither
kind by the file's lines once a quoted field spans lines or a blank line passes, so where the
file is not one record per line the lines are counted here.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import duckdb

from patron.ingest.csv_dialect import Dialect, quoted, sniff
from patron.ingest.encodings import (
    check_header_encoding,
    fail_on_encoding,
    one_line_end,
    open_bytes,
    readable,
)
from patron.ingest.raw import (
    RawSource,
    check_names,
    describe,
    fetch_dicts,
    lines_of,
    number_lines,
    reading,
)
from patron.sql import literal, out_of_room, scalar


def read_csv(con: duckdb.DuckDBPyConnection, path: Path, table: str, encoding: str) -> RawSource:
    """Materialize the CSV file ``path`` as ``table``, a view numbering its rows by line."""
    with readable(con, path, encoding) as (text, encoding), one_line_end(con, text) as data:
        return _scan_csv(con, path, data, table, encoding)


def _scan_csv(
    con: duckdb.DuckDBPyConnection, path: Path, data: Path, table: str, encoding: str
) -> RawSource:
    """Read ``data``, the bytes of ``path`` in an ``encoding`` DuckDB decodes; messages name
    ``path``."""
    check_header_encoding(data, encoding)
    with reading(path, "CSV", data):
        rejects, dialect = _read_records(con, data, table, encoding)
        check_names(_written_names(con, data, encoding, dialect), str(path))
    fail_on_encoding(rejects, path)
    records = int(scalar(con, f"SELECT count(*) FROM {table}_pre"))
    lines, open_ended = _line_counts(data, dialect.delim.encode(encoding) if dialect else b"")
    one_per_line = lines == 1 + records + len(rejects)
    if one_per_line and open_ended and dialect:
        with reading(path, "CSV", data):
            if _reject_lone_extra_fields(con, data, table, encoding, dialect, records):
                rejects = _rejects(con, table)
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
    number_lines(con, table, first_line=2, shift=shift, view=True)
    source = describe(con, str(path), table)
    source.rejects = rejects
    source.is_view = True
    return source


def _read_records(
    con: duckdb.DuckDBPyConnection, data: Path, table: str, encoding: str
) -> tuple[list[dict[str, Any]], Dialect | None]:
    """``<table>_pre``: the records of ``data`` DuckDB splits, in the dialect its sniffer finds,
    else with RFC 4180 quoting (:mod:`patron.ingest.csv_dialect`); return the rejects and the
    dialect read in (None: DuckDB's own sniffing, which found none ahead of the read).

    When the sniffer reads without quoting and a rejected record has a quote, the file is read
    with quoting instead unless that leaves more of its lines in rejected records: a quoted
    field spanning lines then loads whole, not as pieces, and a field that opens a quote and
    goes on after closing it is rejected; a quote never closed, which would take the rest of
    the file into one rejected record, keeps the sniffer's reading.
    """
    sniffed = sniff(con, data, encoding)
    dialect = None if sniffed else quoted(con, data, encoding)
    rejects = _create(con, data, table, encoding, dialect)
    if sniffed and not sniffed.quote and any('"' in (r["csv_line"] or "") for r in rejects):
        dialect = quoted(con, data, encoding, delim=sniffed.delim)
        if dialect and _rejected_lines(con, data, table, encoding, dialect) <= _lines(rejects):
            for suffix in ("_pre", "_rej", "_scan"):
                con.execute(f"DROP TABLE IF EXISTS {table}{suffix}")
            rejects = _create(con, data, table, encoding, dialect)
    return rejects, dialect or sniffed


def _written_names(
    con: duckdb.DuckDBPyConnection, data: Path, encoding: str, dialect: Dialect | None
) -> list[str]:
    """The header's names as ``data`` writes them, read in ``dialect`` as a record: a name
    repeated, which the read with a header renames, stays as written. Empty names are left
    out: no one means them by name, and the read names each by its position (``column2``,
    keeping its values), as a trailing delimiter or a spreadsheet's stray cells make them. The
    records after the header are the read's to judge."""
    options = dialect.options if dialect else "all_varchar = true"
    sql = (
        f"SELECT * FROM read_csv({literal(str(data))}, header = false, ignore_errors = true, "
        f"encoding = {literal(encoding)}, {options}) LIMIT 1"
    )
    with con.cursor() as cursor:
        header = cursor.execute(sql).fetchone() or ()
    return [name for name in header if name]


def _create(
    con: duckdb.DuckDBPyConnection, data: Path, table: str, encoding: str, dialect: Dialect | None
) -> list[dict[str, Any]]:
    """``<table>_pre`` from ``data`` read in ``dialect`` (None: the one DuckDB sniffs); return
    the rejects, kept in ``<table>_rej``."""
    scan = _scan(data, table, encoding, dialect)
    con.execute(f"CREATE TEMP TABLE {table}_pre AS SELECT * FROM {scan}")
    return _rejects(con, table)


def _rejected_lines(
    con: duckdb.DuckDBPyConnection, data: Path, table: str, encoding: str, dialect: Dialect
) -> float:
    """The lines in rejected records reading ``data`` in ``dialect``, on a cursor of its own;
    infinite when the read fails (a quote never closed makes a record over 2 MB)."""
    with con.cursor() as cursor:
        try:
            cursor.execute(f"SELECT count(*) FROM {_scan(data, table, encoding, dialect)}")
            cursor.fetchall()
        except duckdb.Error as exc:
            if out_of_room(exc):
                raise
            return math.inf
        return _lines(_rejects(cursor, table))


def _lines(rejects: list[dict[str, Any]]) -> int:
    """The file's lines in rejected records."""
    return sum(1 + str(r["csv_line"] or "").strip("\r\n").count("\n") for r in rejects)


def _scan(data: Path, table: str, encoding: str, dialect: Dialect | None) -> str:
    """DuckDB's read of ``data`` as text columns, its rejects kept in ``<table>_rej``."""
    options = (
        "header = true, ignore_errors = true, store_rejects = true, "
        f"rejects_table = '{table}_rej', rejects_scan = '{table}_scan', "
        f"encoding = {literal(encoding)}, "
        f"{dialect.options if dialect else 'all_varchar = true'}"
    )
    return f"read_csv({literal(str(data))}, {options})"


def _rejects(con: duckdb.DuckDBPyConnection, table: str) -> list[dict[str, Any]]:
    """The records DuckDB could not split, one per line (its first error)."""
    return fetch_dicts(
        con,
        "SELECT line, arg_min(column_name, column_idx) AS column_name, "
        "arg_min(error_type, column_idx) AS error_type, arg_min(csv_line, column_idx) AS csv_line, "
        "arg_min(error_message, column_idx) AS error_message "
        f"FROM {table}_rej GROUP BY line ORDER BY line",
    )


def _line_counts(path: Path, delim: bytes = b"") -> tuple[int, int]:
    """Lines in the file (a last line without a newline counts), and those ending with
    ``delim`` (none when it is empty), read in chunks."""
    count, ends, tail = 0, 0, b"\n"
    endings = (delim + b"\n", delim + b"\r\n") if delim else ()
    with open_bytes(path) as handle:
        while chunk := handle.read(1 << 20):
            count += chunk.count(b"\n")
            joined = tail + chunk  # an ending may straddle two chunks
            ends += sum(joined.count(e) - tail.count(e) for e in endings)
            tail = joined[-2:]
    return count + (tail[-1:] != b"\n"), ends


def _reject_lone_extra_fields(
    con: duckdb.DuckDBPyConnection,
    data: Path,
    table: str,
    encoding: str,
    dialect: Dialect,
    records: int,
) -> bool:
    """Reject the records with an empty field past the header's (:func:`_empty_extra_field`)
    unless the header or every record has one (the file's way: an empty last column); whether
    any was rejected."""
    if _header_open_ended(data, dialect.delim.encode(encoding)):
        return False
    extra = _empty_extra_field(con, data, table, encoding, dialect)
    if not 0 < len(extra) < records:
        return False
    _reject_extra(con, table, extra, len(dialect.names))
    return True


def _header_open_ended(path: Path, delim: bytes) -> bool:
    """Whether the header ends with the delimiter: then the lines' trailing one is the
    file's way (an empty last column), not an extra field."""
    with open_bytes(path) as handle:
        return handle.readline().rstrip(b"\r\n").endswith(delim)


def _empty_extra_field(
    con: duckdb.DuckDBPyConnection, data: Path, table: str, encoding: str, dialect: Dialect
) -> list[tuple[int, str]]:
    """The lines (number and text) of records with one field more than the header, that one
    empty: DuckDB takes it for a trailing delimiter and reads the rest, so ``1,234,`` under a
    header of ``id,revenue,status`` gave revenue 1 and status "234". A read with one more
    column finds them: there the field is an empty text (no null string matches it), where a
    shorter record's padding is NULL. One record a line: the k-th record read is on line
    k + 2 plus the lines that read rejected before it."""
    columns = {**{name: "VARCHAR" for name in dialect.names}, "_patron_extra": "VARCHAR"}
    scan = (
        f"read_csv({literal(str(data))}, {dialect.with_columns(columns)}, header = true, "
        f"null_padding = true, nullstr = '\x1e\x1f', ignore_errors = true, store_rejects = "
        f"true, rejects_table = '{table}_xrej', rejects_scan = '{table}_xscan', "
        f"encoding = {literal(encoding)})"
    )
    with con.cursor() as cursor:
        records = cursor.execute(
            f"SELECT k FROM (SELECT row_number() OVER () - 1 AS k, _patron_extra FROM {scan}) "
            "WHERE _patron_extra = '' ORDER BY k"
        ).fetchall()
        rejected = cursor.execute(f"SELECT DISTINCT line FROM {table}_xrej ORDER BY line")
        skipped = [int(n) for (n,) in rejected.fetchall()]
        lines = [_line_of(int(k), skipped) for (k,) in records]
        texts = _texts(cursor, data, encoding, lines)
    return [(line, texts[line]) for line in lines]


def _line_of(ordinal: int, rejected: list[int]) -> int:
    """The line of the record read ``ordinal``-th (from 0) of a file with one record a line,
    its header on line 1, when the read rejected the lines ``rejected`` (ascending)."""
    line = ordinal + 2
    for skipped in rejected:
        if skipped > line:
            break
        line += 1
    return line


def _texts(
    cursor: duckdb.DuckDBPyConnection, data: Path, encoding: str, lines: list[int]
) -> dict[int, str]:
    """The text of each of ``lines`` of ``data``, for the quarantine."""
    if not lines:
        return {}
    numbered = f"SELECT row_number() OVER () AS n, line FROM {lines_of(data, encoding)}"
    found = cursor.execute(f"SELECT n, line FROM ({numbered}) WHERE n IN ?", [lines]).fetchall()
    return {int(n): str(text) for n, text in found}


def _reject_extra(
    con: duckdb.DuckDBPyConnection, table: str, found: list[tuple[int, str]], fields: int
) -> None:
    """Move the records on the ``found`` lines from ``<table>_pre`` to its rejects, as DuckDB
    rejects a record with too many fields. One record a line: a record's ordinal is its line
    less the header and the rejected lines before it."""
    lines, texts = [line for line, _ in found], [text for _, text in found]
    base = int(scalar(con, f"SELECT coalesce(min(rowid), 0) FROM {table}_pre"))
    ordinals = (
        f"SELECT x.line - 2 - (SELECT count(DISTINCT r.line) FROM {table}_rej r "
        f"WHERE r.line < x.line) + {base} FROM (SELECT unnest(?) AS line) x"
    )
    con.execute(
        f"""CREATE TEMP TABLE {table}_kept AS SELECT * FROM {table}_pre
        WHERE rowid NOT IN ({ordinals}) ORDER BY rowid""",
        [lines],
    )
    message = (
        f"Expected Number of Columns: {fields} Found: {fields + 1}, the last empty: the other "
        "lines end without a trailing delimiter, so a value here holds one unquoted; quote it"
    )
    con.execute(
        f"""INSERT INTO {table}_rej (line, column_idx, error_type, csv_line, error_message)
        SELECT unnest(?), {fields + 1}, 'TOO MANY COLUMNS', unnest(?), ?""",
        [lines, texts, message],
    )
    con.execute(f"DROP TABLE {table}_pre")
    con.execute(f"ALTER TABLE {table}_kept RENAME TO {table}_pre")


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
    with reading(path, "CSV", data):
        con.execute(f"CREATE TEMP TABLE {lines}_pre AS SELECT line FROM {lines_of(data, encoding)}")
    number_lines(con, lines, first_line=1)
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
