"""Rows a load refuses, written to ``quarantine`` with file, line, field, value, reason and
the whole record in the file's own words, so nothing is lost and the row can be fixed and
loaded again. An entry is keyed by its file, line, record and reason: loading a file again
adds none twice; nor does a file that overlaps one loaded before (each daily export covering
the last week), whose refused record, with its reason, is in the quarantine from the other
file. It also keeps the row's key where the file gave one (``order_id``, ``sku``, ...), by
which a later load of the row fixed is found (:mod:`patron.quarantined`).
"""

from __future__ import annotations

import hashlib
from typing import Any

import duckdb

from patron.ingest.contract import TableSpec
from patron.ingest.raw import RawSource
from patron.sql import count, ident, literal, scalar

CONFLICT = "with different content"
"""What every conflict's reason says, whichever row it names: how a conflict is known again."""


def quarantine_rows(
    con: duckdb.DuckDBPyConnection,
    spec: TableSpec,
    raws: list[RawSource],
    load_id: int,
    invalid: int,
) -> tuple[int, int]:
    """Write invalid rows (``invalid`` of them), conflicts, unsplittable lines and values set
    aside from rows that loaded, each with file, line, field and reason; return the conflicts
    and the rows quarantined in all (a row that loaded is not one of them).

    A row already quarantined (same file, line, record and reason) is not added again, so
    reloading a file changes nothing; nor is the same record with the same reason from another
    file (an overlapping export, or an earlier file of this load): a bad row is one entry
    however many exports carry it, as the same row valid would be one row. Lines of one file
    stay apart (two equal refused lines of a till's receipt are two items).
    """
    key_field = spec.key[0] if spec.key else "row"
    given = " AND ".join(f"{name} IS NOT NULL" for name in spec.key) or "false"
    conflict_reason = (
        "CASE WHEN _seq > 1 THEN 'same key as ' || _first_file || ' line ' || _first_line "
        f"|| ' {CONFLICT}' ELSE 'already loaded {CONFLICT} (from ' "
        "|| t.source_file || ' line ' || t.source_row || ')' END"
    )
    for n, raw in enumerate(raws):
        record = _record_json(raw)
        rows = (
            f"SELECT _line, _err_field AS field, _err_value AS value, _err_reason AS reason, "
            f"CASE WHEN {given} THEN _key END AS row_key, false AS conflict "
            f"FROM _stage_{n} WHERE _err_reason IS NOT NULL UNION ALL "
            f"SELECT _line, '{key_field}', _key, {conflict_reason}, _key, true "
            f"FROM _classified c "
            f"LEFT JOIN {spec.name} t ON t.row_key = c._key AND c._seq = 1 "
            f"WHERE _src = {n} AND _action = 'conflict'"
        )
        if spec.keeps_records:  # values set aside from rows that loaded
            rows += (
                " UNION ALL SELECT _line, _aside_field, _aside_value, _aside_reason, NULL, false "
                f"FROM _stage_{n} WHERE _aside_reason IS NOT NULL AND _err_reason IS NULL"
            )
        key = f"md5('{spec.name}' || {literal(raw.name)} || q._line || {record} || q.reason)"
        con.execute(
            f"""INSERT INTO quarantine
            SELECT {load_id}, '{spec.name}', {literal(raw.name)}, q._line, q.field, q.value,
                   q.reason, {record}, {key}, q.row_key
            FROM ({rows}) q JOIN {raw.table} r ON r._line = q._line
            WHERE {key} NOT IN (SELECT quarantine_key FROM quarantine)
              AND NOT {_known_elsewhere(spec, raw, record, "q.reason")}
              AND NOT (q.conflict AND {_conflict_known(spec, record)})"""
        )
        for reject in raw.rejects:
            _quarantine_reject(con, spec, raw.name, reject, load_id)
    conflicts = int(scalar(con, "SELECT count(*) FROM _classified WHERE _action = 'conflict'"))
    return conflicts, conflicts + invalid + sum(len(r.rejects) for r in raws)


def set_aside_rows(con: duckdb.DuckDBPyConnection, spec: TableSpec, sources: int) -> int:
    """Rows that loaded with a value set aside in the quarantine (``spec.keeps_records``)."""
    if not spec.keeps_records:
        return 0
    kept = "_aside_reason IS NOT NULL AND _err_reason IS NULL"
    return sum(count(con, f"SELECT count(*) FROM _stage_{n} WHERE {kept}") for n in range(sources))


def _known_elsewhere(spec: TableSpec, raw: RawSource, record: str, reason: str) -> str:
    """SQL: the quarantine holds ``record`` with ``reason`` from another file than ``raw``."""
    return (
        f"EXISTS (SELECT 1 FROM quarantine o WHERE o.table_name = '{spec.name}' "
        f"AND o.file <> {literal(raw.name)} AND o.record = {record} AND o.reason = {reason})"
    )


def _conflict_known(spec: TableSpec, record: str) -> str:
    """SQL: the conflicting row ``r`` is in the quarantine as a conflict already, from this
    file or another. Its reason names the row it conflicts with, which depends on what else the
    load brought (the loaded row, or an overlapping file's row first in this load), so the
    same row would otherwise be quarantined once more by each load that pairs it with another
    file, and by each overlapping export that carries it."""
    return (
        f"EXISTS (SELECT 1 FROM quarantine o WHERE o.table_name = '{spec.name}' "
        f"AND o.record = {record} AND contains(o.reason, '{CONFLICT}'))"
    )


def _quarantine_reject(
    con: duckdb.DuckDBPyConnection, spec: TableSpec, file: str, reject: dict[str, Any], load_id: int
) -> None:
    line = str(reject["csv_line"] or "").strip("\r\n")
    reason = f"{str(reject['error_type']).lower()}: {reject['error_message']}"
    key = hashlib.md5(f"{spec.name}{file}{reject['line']}{line}{reason}".encode()).hexdigest()
    con.execute(
        "INSERT INTO quarantine SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL "
        "WHERE ? NOT IN (SELECT quarantine_key FROM quarantine) AND NOT EXISTS (SELECT 1 "
        "FROM quarantine o WHERE o.table_name = ? AND o.file <> ? AND o.record = ? "
        "AND o.reason = ?)",
        [
            load_id,
            spec.name,
            file,
            reject["line"],
            reject["column_name"],
            line,
            reason,
            line,
            key,
            key,
            spec.name,
            file,
            line,
            reason,
        ],
    )


def _record_json(raw: RawSource) -> str:
    """SQL for a raw row ``r`` as a JSON object of the source's own columns: the row in the
    file's words, kept with its quarantine entry."""
    pairs = ", ".join(f"{literal(c)}, r.{ident(c)}" for c in raw.columns)
    return f"CAST(json_object({pairs}) AS VARCHAR)"
