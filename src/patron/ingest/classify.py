"""The fate of each valid staged row of a load: inserted, a duplicate (skipped and counted),
a conflict (quarantined) or an update, decided against earlier rows of the same load (file,
then line order) and the rows already in the table, by key and content hash.

The staging tables ``_stage_<n>`` (one per source) hold every row with its key, hash, line and
first problem; :func:`classify` leaves in ``_classified`` the rows a load does not simply insert.
"""

from __future__ import annotations

import duckdb

from patron.ingest.contract import TableSpec
from patron.ingest.raw import RawSource
from patron.sql import literal, scalar

_SKIPS = "('duplicate', 'conflict', 'superseded')"
"""The classifications whose rows a load does not write: ``superseded`` is a catalog row that
a later file of the same load replaces, counted as updated as if the files came one by one."""


def classify(con: duckdb.DuckDBPyConnection, spec: TableSpec, raws: list[RawSource]) -> None:
    """Decide the fate of each valid row against earlier rows of this load and the table.

    ``_classified`` holds the rows a load does not simply insert (duplicates, conflicts,
    updates), and of those only keys, hashes and positions: a first load's is empty, and the
    join reads only the table's keys and hashes. The loader writes rows from the staging
    tables. Rows are numbered within their key only when some key comes twice in the load: the
    window's sort of every row is the step's dearest part, and most loads repeat no key.

    A row that repeats a key with other content is a conflict when it comes from the same
    file as the key's first row, which nothing says is older; for a catalog (``update``) the
    key's first row is that of the load's last file holding it, whose content an earlier
    file's row would have been replaced by had the files been loaded one by one: it is
    ``superseded`` (counted as updated), or a duplicate when the table holds the last file's
    row already, since the load then changes nothing. A row the table already holds as it is,
    is a duplicate wherever it comes. Rows of a table that ``renews`` its records are ranked
    last line first, so the one a load writes is the latest sighting of its content.
    """
    _number_repeats(con, spec, len(raws))
    union = " UNION ALL ".join(
        f"SELECT _key, _hash, {n} AS _src, {literal(raw.name)} AS _file, _line "
        f"FROM _stage_{n} WHERE _err_reason IS NULL"
        for n, raw in enumerate(raws)
    )
    repeats = scalar(
        con, f"SELECT count(*) FROM (SELECT 1 FROM ({union}) GROUP BY _key HAVING count(*) > 1)"
    )
    update = spec.on_conflict == "update"
    earlier = (
        "CASE WHEN _src = _first_src THEN 'conflict' "
        "WHEN t.row_hash = _first_hash THEN 'duplicate' ELSE 'superseded' END"
    )
    con.execute(
        f"""CREATE TEMP TABLE _classified AS
        WITH ranked AS ({_ranked(union, numbered=bool(repeats), order=_order(spec))})
        SELECT ranked._key, _src, _line, _seq, _first_file, _first_line,
          CASE WHEN _hash = _first_hash AND _seq > 1 OR t.row_hash = _hash THEN 'duplicate'
               WHEN _seq = 1 THEN '{"update" if update else "conflict"}'
               ELSE {earlier if update else "'conflict'"} END AS _action
        FROM ranked LEFT JOIN (SELECT row_key, row_hash FROM {spec.name}) t
          ON t.row_key = ranked._key
        WHERE _seq > 1 OR t.row_key IS NOT NULL"""
    )


def _number_repeats(con: duckdb.DuckDBPyConnection, spec: TableSpec, sources: int) -> None:
    """Give the second and later rows of a source that share a natural key (``spec.repeats``)
    a key of their own (``<key>#2``): a till prints two bottles of milk on two equal lines.

    Rows are numbered in the order of their content, then their line, so the same rows in
    another order get the same keys, and the first keeps the plain key it always had: a file
    loaded again, or one that holds the same orders whole, adds nothing.
    """
    if not spec.repeats:
        return
    keyless = " OR ".join(f"{k} IS NULL" for k in spec.key)
    for n in range(sources):
        rows = f"FROM _stage_{n} WHERE _err_reason IS NULL AND ({keyless})"
        if not scalar(con, f"SELECT count(*) - count(DISTINCT _key) {rows}"):
            continue
        con.execute(
            f"""UPDATE _stage_{n} s SET _key = s._key || '#' || r._seq
            FROM (SELECT _line, row_number() OVER (PARTITION BY _key ORDER BY _hash, _line)
                  AS _seq {rows}) r
            WHERE s._line = r._line AND r._seq > 1"""
        )


def _order(spec: TableSpec) -> str:
    """Which row of a key comes first: the first loaded, the last file's for a catalog (whose
    later files replace earlier ones), the very last for records that ``renews``."""
    if spec.renews:
        return "_src DESC, _line DESC"
    return "_src DESC, _line" if spec.on_conflict == "update" else "_src, _line"


def _ranked(rows: str, *, numbered: bool, order: str) -> str:
    """``rows`` with ``_seq``, each row's place among the rows of its key (in ``order``), and
    the first such row's hash, source, file and line; without ``numbered`` every key is known
    to come once: each row is its own first, and no message names the first's place."""
    if not numbered:
        return (
            "SELECT *, 1 AS _seq, _hash AS _first_hash, _src AS _first_src, "
            "CAST(NULL AS VARCHAR) AS _first_file, CAST(NULL AS BIGINT) AS _first_line "
            f"FROM ({rows})"
        )
    return f"""SELECT *, row_number() OVER w AS _seq, first_value(_hash) OVER w AS _first_hash,
          first_value(_src) OVER w AS _first_src, first_value(_file) OVER w AS _first_file,
          first_value(_line) OVER w AS _first_line
        FROM ({rows}) WINDOW w AS (PARTITION BY _key ORDER BY {order})"""


def checked_rows(con: duckdb.DuckDBPyConnection, sources: int) -> tuple[list[int], int]:
    """Per source, the rows that passed validation; and how many failed in all."""
    counts = [
        con.execute(
            "SELECT count(*) FILTER (WHERE _err_reason IS NULL), "
            f"count(*) FILTER (WHERE _err_reason IS NOT NULL) FROM _stage_{n}"
        ).fetchall()[0]
        for n in range(sources)
    ]
    return [int(valid) for valid, _ in counts], sum(int(invalid) for _, invalid in counts)


def written_rows(con: duckdb.DuckDBPyConnection, valid: list[int]) -> list[str]:
    """Per source, the condition on its staged rows ``s`` that picks the rows this load writes:
    the valid ones, less those ``_classified`` skips (duplicates and conflicts).

    Usually every valid row is written (a first load) or none is (a reload); then the condition
    needs no lookup in ``_classified``.
    """
    skipped = dict(
        con.execute(
            f"SELECT _src, count(*) FROM _classified WHERE _action IN {_SKIPS} GROUP BY _src"
        ).fetchall()
    )
    conditions = []
    for n, rows in enumerate(valid):
        skips = int(skipped.get(n, 0))
        if skips == rows:
            conditions.append("false")
        elif not skips:
            conditions.append("s._err_reason IS NULL")
        else:
            conditions.append(
                f"s._err_reason IS NULL AND s._line NOT IN (SELECT _line FROM _classified "
                f"WHERE _src = {n} AND _action IN {_SKIPS})"
            )
    return conditions


def new_rows(written: list[str]) -> str:
    """The rows this load writes, as one relation: the valid rows of the sources it writes from
    (``written``'s conditions), less those ``_classified`` skips, found by one anti join.

    Each source's own lookup in ``_classified`` (its condition) made DuckDB hold a hash table
    per source at once: a year of overlapping daily exports (366 files) in one load ran out of
    memory (1 GB) in identity resolution, though the files held a few thousand rows.
    """
    union = " UNION ALL ".join(
        f"SELECT s.*, {n} AS _source FROM _stage_{n} s WHERE s._err_reason IS NULL"
        for n, condition in enumerate(written)
        if condition != "false"
    )
    skipped = f"SELECT _src AS _source, _line FROM _classified WHERE _action IN {_SKIPS}"
    return (
        f"(SELECT * EXCLUDE (_source) FROM ({union}) u "
        f"ANTI JOIN ({skipped}) k USING (_source, _line))"
    )


def tally(con: duckdb.DuckDBPyConnection, valid: int) -> tuple[int, int, int]:
    """Rows inserted, updated and skipped as duplicates: every valid row not in
    ``_classified`` was inserted; a superseded catalog row, and a record renewed
    (:func:`patron.ingest.customers.renew_records`), count as updated."""
    counts = dict(
        con.execute("SELECT _action, count(*) FROM _classified GROUP BY _action").fetchall()
    )
    updated = sum(int(counts.get(a, 0)) for a in ("update", "superseded", "renewed"))
    duplicates = int(counts.get("duplicate", 0))
    return valid - sum(int(c) for c in counts.values()), updated, duplicates
