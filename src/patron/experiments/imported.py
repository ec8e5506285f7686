"""Tests run outside patron: a file of (identifier, variant[, assigned_at]) read out like ours.

Identifiers resolve as audience files do (:mod:`.audience`). A naive ``assigned_at`` is in the
shop's timezone; without the column every row is exposed at ``start``. A customer listed in two
groups is contaminated and left out (counted); one listed twice in a group counts once, from the
earliest exposure. Rows whose identifier matches nobody are counted, never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from patron.errors import InputError, option
from patron.experiments.audience import resolve
from patron.experiments.design import HOLDOUT, Design, exposure_time
from patron.ingest.parse import ParseOptions, reason_sql, text, value_sql
from patron.sql import ident, rows_as_dicts, scalar, shop_time

if TYPE_CHECKING:
    from ibis import Table

    from patron.warehouse import Warehouse

_TABLE = "_experiment_imported"


@dataclass(frozen=True)
class Imported:
    """A file's assignments (``table``: customer_key, variant, assigned_at) and its design."""

    table: Table
    design: Design
    rows: int
    unmatched: int
    contaminated: int


def read_assignments(
    warehouse: Warehouse,
    source: Any,
    *,
    phone_region: str,
    timezone: str,
    start: date | None,
    weights: tuple[tuple[str, float], ...] | None,
    baseline: str | None,
) -> Imported:
    """Resolve and check the file (a path) or data frame; the design, named after the file (or
    ``assignments``), has equal shares unless ``weights`` says otherwise."""
    con = warehouse.duckdb  # the engine reads files
    resolved = resolve(con, source, phone_region=phone_region)
    columns = _columns(con, resolved.table)
    variant = _required(columns, "variant", resolved.file)
    _check_variants(con, resolved.table, resolved.file, variant)
    with shop_time(con, timezone):  # text times without an offset, as a load reads them
        exposed = _exposure(con, resolved.table, resolved.file, columns, timezone, start)
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {_TABLE} AS
            SELECT customer_key, min(v) AS variant, min(exposed_at) AS assigned_at FROM (
              SELECT customer_key, {text(ident(variant), "VARCHAR")} AS v, {exposed} AS exposed_at
              FROM {resolved.table} WHERE customer_key IS NOT NULL)
            GROUP BY customer_key HAVING count(DISTINCT v) = 1"""
        )
    contaminated = int(
        scalar(
            con,
            f"SELECT count(*) FROM (SELECT customer_key FROM {resolved.table} "
            "WHERE customer_key IS NOT NULL GROUP BY 1 "
            f"HAVING count(DISTINCT {ident(variant)}) > 1)",
        )
    )
    groups = [
        r["variant"]
        for r in rows_as_dicts(con, f"SELECT DISTINCT variant FROM {_TABLE} ORDER BY 1")
    ]
    name = Path(source).stem if isinstance(source, str | Path) else "assignments"
    design = _design(name, groups, weights, baseline, start)
    table = warehouse.carry(_TABLE)
    return Imported(table, design, resolved.rows, resolved.unmatched, contaminated)


def _columns(con: Any, table: str) -> dict[str, str]:
    return {r[0].strip().lower(): r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()}


def _required(columns: dict[str, str], name: str, file: str) -> str:
    if name not in columns:
        raise InputError(
            f"no {name!r} column; an assignments file has an identifier, variant and optionally "
            "assigned_at",
            file=file,
        )
    return columns[name]


def _check_variants(con: Any, table: str, file: str, variant: str) -> None:
    missing = scalar(
        con, f"SELECT min(_line) FROM {table} WHERE {text(ident(variant), 'VARCHAR')} IS NULL"
    )
    if missing is not None:
        raise InputError(f"line {missing}: the variant is missing", file=file, field="variant")


def _exposure(
    con: Any, table: str, file: str, columns: dict[str, str], timezone: str, start: date | None
) -> str:
    """SQL for each row's exposure time (naive UTC), after checking every value parses."""
    if "assigned_at" not in columns:
        if start is None:
            raise InputError(
                "no assigned_at column: pass --start DATE (when everyone was exposed)", file=file
            )
        return f"TIMESTAMP '{exposure_time(start, timezone)}'"
    col = ident(columns["assigned_at"])
    kind = con.execute(f"SELECT typeof({col}) FROM {table} LIMIT 1").fetchall()[0][0]
    options = ParseOptions(timezone=timezone, currency="USD", now=datetime.now(UTC))
    value = value_sql("timestamp", col, kind, options)
    why = reason_sql("timestamp", text(col, kind), value, kind, options)
    bad = con.execute(
        f"SELECT _line, CAST({col} AS VARCHAR), {why} FROM {table} WHERE ({why}) IS NOT NULL "
        "ORDER BY _line LIMIT 1"
    ).fetchall()
    if bad:
        line, raw, reason = bad[0]
        raise InputError(f"line {line}: {raw!r} is {reason}", file=file, field="assigned_at")
    return value


def _design(
    name: str,
    groups: list[str],
    weights: tuple[tuple[str, float], ...] | None,
    baseline: str | None,
    start: date | None,
) -> Design:
    """Groups from the file; the baseline is ``baseline``, else holdout, else control, else
    the first group by name."""
    if len(groups) < 2:
        raise InputError(f"the assignments name {len(groups)} group(s); a test needs at least two")
    chosen = baseline or next((g for g in (HOLDOUT, "control") if g in groups), groups[0])
    if chosen not in groups:
        raise InputError(
            f"{option('baseline')} {chosen!r} is not a group in the file: {', '.join(groups)}"
        )
    shares = dict(weights) if weights else {g: 1.0 for g in groups}
    if set(shares) != set(groups):
        raise InputError(
            f"{option('variants')} names {', '.join(shares)} but the file has {', '.join(groups)}"
        )
    total = sum(shares.values())
    ordered = [chosen, *(g for g in groups if g != chosen)]
    return Design(
        name=name,
        variants=tuple((g, shares[g] / total) for g in ordered),
        salt=name,
        start=start or date.min,
        audience=name,
    )
