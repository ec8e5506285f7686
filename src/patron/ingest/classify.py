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

_SKIPS = "('duplicate', 'conflict')"
"""The classifications whose rows a load does not write."""


def classify(con: duckdb.DuckDBPyConnection, spec: TableSpec, raws: list[RawSource]) -> None:
    """Decide the fate of each valid row against earlier rows of this load and the table.

    ``_classified`` holds the rows a load does not simply insert (duplicates, conflicts,
    updates), and of those only keys, hashes and positions: a first load's is empty, and the
    join reads only the table's keys and hashes. The loader writes rows from the staging
    tables. Rows are numbered within their key only when some key comes twice in the load: the
    window's sort of every row is the step's dearest part, and most loads repeat no key.
    """
    union = " UNION ALL ".join(
        f"SELECT _key, _hash, {n} AS _src, {literal(raw.name)} AS _file, _line "
        f"FROM _stage_{n} WHERE _err_reason IS NULL"
        for n, raw in enumerate(raws)
    )
    repeats = scalar(
        con, f"SELECT count(*) FROM (SELECT 1 FROM ({union}) GROUP BY _key HAVING count(*) > 1)"
    )
    existing = "update" if spec.on_conflict == "update" else "conflict"
    con.execute(
        f"""CREATE TEMP TABLE _classified AS
        WITH ranked AS ({_ranked(union, numbered=bool(repeats))})
        SELECT ranked._key, _src, _line, _seq, _first_file, _first_line,
          CASE WHEN _seq > 1 THEN CASE WHEN _hash = _first_hash THEN 'duplicate' ELSE 'conflict' END
               WHEN t.row_hash = _hash THEN 'duplicate'
               ELSE '{existing}' END AS _action
        FROM ranked LEFT JOIN (SELECT row_key, row_hash FROM {spec.name}) t
          ON t.row_key = ranked._key
        WHERE _seq > 1 OR t.row_key IS NOT NULL"""
    )


def _ranked(rows: str, *, numbered: bool) -> str:
    """``rows`` with ``_seq``, each row's place among the rows of its key (file, then line
    order), and the first such row's hash, file and line; without ``numbered`` every key is
    known to come once: each row is its own first, and no message names the first's place."""
    if not numbered:
        return (
            "SELECT *, 1 AS _seq, _hash AS _first_hash, CAST(NULL AS VARCHAR) AS _first_file, "
            f"CAST(NULL AS BIGINT) AS _first_line FROM ({rows})"
        )
    return f"""SELECT *, row_number() OVER w AS _seq, first_value(_hash) OVER w AS _first_hash,
          first_value(_file) OVER w AS _first_file, first_value(_line) OVER w AS _first_line
        FROM ({rows}) WINDOW w AS (PARTITION BY _key ORDER BY _src, _line)"""


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
    """The rows this load writes, as one relation."""
    union = " UNION ALL ".join(
        f"SELECT s.* FROM _stage_{n} s WHERE {condition}" for n, condition in enumerate(written)
    )
    return f"({union})"


def tally(con: duckdb.DuckDBPyConnection, valid: int) -> tuple[int, int, int]:
    """Rows inserted, updated and skipped as duplicates: every valid row not in
    ``_classified`` was inserted."""
    counts = dict(
        con.execute("SELECT _action, count(*) FROM _classified GROUP BY _action").fetchall()
    )
    updated, duplicates = int(counts.get("update", 0)), int(counts.get("duplicate", 0))
    return valid - sum(int(c) for c in counts.values()), updated, duplicates
