"""Load sources into a contract table: all-or-nothing, idempotent, nothing lost.

One load is one DuckDB transaction: every source is staged and validated, rows are classified
(insert, duplicate, conflict, update), bad rows go to ``quarantine`` with file, line, field and
reason, identity resolution runs on the new rows, returns are linked to their orders, the
derived ``customers`` and ``purchase_occasions`` tables are rebuilt, and the load is logged in
``loads``. If anything fails, or the process is killed, the transaction never commits and the
workspace is as it was.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from patron.config import Config
from patron.errors import InputError, ResourceError, did_you_mean
from patron.identity.keys import record_key_sql
from patron.identity.phones import ensure_phone_cache
from patron.identity.resolve import resolve_new_records
from patron.ingest import limit
from patron.ingest.classify import checked_rows, classify, new_rows, tally, written_rows
from patron.ingest.contract import SQL_TYPES, TABLES, TableSpec
from patron.ingest.customers import Load, rebuild_customers, renew_records
from patron.ingest.limit import QuarantineLimit
from patron.ingest.mapping import map_columns
from patron.ingest.parse import ParseOptions
from patron.ingest.quarantine import quarantine_rows, set_aside_rows
from patron.ingest.readers import (
    RawSource,
    check_file,
    detect_format,
    discard,
    end_file_order,
    read_file,
    read_frame,
)
from patron.ingest.returns import link_returns
from patron.ingest.stage import stage_sql
from patron.loaded_settings import SHAPING
from patron.metrics.occasions import rebuild_occasions
from patron.sql import first_line, ident, literal, out_of_room, scalar, shop_time, tables
from patron.warehouse import upgrade
from patron.zones import shop_zone

Progress = Callable[[str], None]


@dataclass(frozen=True)
class LoadOptions:
    """How to read the sources of one load (the ``patron load`` options)."""

    mapping: dict[str, str] = field(default_factory=dict)
    format: str | None = None
    date_format: str | None = None
    decimal_comma: bool = False
    encoding: str = "utf-8"
    max_quarantined: QuarantineLimit | None = None


@dataclass
class LoadResult:
    """What a load did; ``rows_read`` = inserted + updated + duplicates + quarantined."""

    load_id: int
    table: str
    files: list[str]
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    duplicates: int = 0
    quarantined: int = 0
    conflicts: int = 0
    set_aside: int = 0
    """Rows loaded without a value that did not parse, which is in the quarantine (CRM
    records, :attr:`TableSpec.keeps_records`); not counted in ``quarantined``."""
    new_customers: int = 0
    merges: int = 0
    splits: int = 0
    blocked_identifiers: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def target_spec(target: str) -> TableSpec:
    """The contract table a user names (``orders``, ``lines``, ...)."""
    if target not in TABLES:
        raise InputError(
            f"cannot load {target!r}{did_you_mean(target, TABLES)}; "
            "choose orders, lines, products, customers or events"
        )
    return TABLES[target]


def load(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    target: str,
    sources: Sequence[Path | Any],
    options: LoadOptions = LoadOptions(),
    *,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> LoadResult:
    """Load ``sources`` (paths, or pandas/polars/pyarrow frames) into ``target`` atomically."""
    spec = target_spec(target)
    if not sources:
        raise InputError("no files to load; pass one or more FILE arguments")
    now = _load_time(now, config.timezone)
    step = progress or (lambda _: None)
    with shop_time(con, config.timezone):  # text times without an offset are the shop's
        return _atomically(con, config, spec, sources, options, now, step)


def _load_time(now: datetime | None, timezone: str) -> datetime:
    """The load's time as an aware UTC instant (default: the clock). A naive ``now`` is the
    shop's clock, as every naive time patron reads; each use (the future check, the stamps of
    undated records, the load log) then reads the same instant, where a zone dropped or a
    naive time read by the machine's ``TZ`` had put them hours apart."""
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=shop_zone(timezone))
    return now.astimezone(UTC)


def _money_type(con: duckdb.DuckDBPyConnection, spec: TableSpec) -> str:
    """The type ``spec``'s table stores amounts in. A workspace keeps the scale it was made
    with (:func:`patron.money.money_type`), so a file loaded again hashes as it did."""
    money = [f.name for f in spec.fields if f.kind == "money"]
    found = money and scalar(
        con,
        "SELECT data_type FROM duckdb_columns() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND table_name = ? AND column_name = ?",
        spec.name,
        money[0],
    )
    return str(found) if found else SQL_TYPES["money"]


def _atomically(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    spec: TableSpec,
    sources: Sequence[Any],
    options: LoadOptions,
    now: datetime,
    step: Progress,
) -> LoadResult:
    """The load in one transaction: committed whole, or rolled back whatever went wrong."""
    started = time.perf_counter()
    con.execute("BEGIN TRANSACTION")
    try:
        upgrade(con)
        result = _load(con, config, spec, sources, options, now, step)
        result.seconds = round(time.perf_counter() - started, 3)
        _record(con, result, now, config)
        step("committing")
        con.execute("COMMIT")
    except (duckdb.OutOfMemoryException, duckdb.IOException) as exc:
        _roll_back(con)
        if (message := _exhausted(exc, config)) is None:
            raise
        raise ResourceError(message) from exc
    except BaseException:
        _roll_back(con)
        raise
    return result


def _roll_back(con: duckdb.DuckDBPyConnection) -> None:
    """Undo the load, and the file order a failed read left on for later queries."""
    con.execute("ROLLBACK")
    end_file_order(con)


def _exhausted(exc: duckdb.Error, config: Config) -> str | None:
    """What ran out and what to do, when a load failed for want of memory or disk; None for
    other errors.

    DuckDB spills what does not fit in ``memory_limit`` to a folder beside the warehouse file and
    reports a full disk there as running out of memory (naming ``max_temp_directory_size``), a
    full disk under the warehouse file as an I/O error.
    """
    if not out_of_room(exc):
        return None
    if "No space left" in str(exc) or "max_temp_directory_size" in str(exc):
        return (
            f"the disk ran out of space while loading ({first_line(exc)}); nothing was written. "
            "Free space on the workspace's disk: beyond memory_limit a load spills to it, "
            "up to about half a GB per million rows"
        )
    return (
        f"the warehouse ran out of memory (memory_limit = {config.memory_limit}) while "
        "loading; nothing was written. Raise memory_limit in patron.toml or load the data "
        "in smaller files"
    )


def _load(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    spec: TableSpec,
    sources: Sequence[Path | Any],
    options: LoadOptions,
    now: datetime,
    step: Progress,
) -> LoadResult:
    load_id = _next_load_id(con)
    parse_options = ParseOptions(
        timezone=config.timezone,
        currency=config.currency,
        now=now,
        date_format=options.date_format,
        decimal_comma=options.decimal_comma,
        money=_money_type(con, spec),
    )
    result = LoadResult(load_id=load_id, table=spec.name, files=[])
    raws = []
    for n, source in enumerate(sources):
        step(f"reading {source}" if isinstance(source, str | Path) else "reading data")
        raw = _read(con, source, options, n)
        raw.name = _unique(raw.name, result.files)
        result.files.append(raw.name)
        result.rows_read += raw.rows + len(raw.rejects)
        mapping, extras = map_columns(
            list(raw.columns), spec, options.mapping, file=raw.name, nested=raw.nested
        )
        if "phone" in mapping:
            ensure_phone_cache(con, raw.table, ident(mapping["phone"]), config.phone_region)
        step(f"validating {raw.name}")
        con.execute(
            f"CREATE TEMP TABLE _stage_{n} AS "
            f"{stage_sql(spec, raw, mapping, extras, parse_options)}"
        )
        raws.append(raw)
    step("checking duplicates and conflicts")
    classify(con, spec, raws)
    valid, invalid = checked_rows(con, len(raws))
    result.conflicts, result.quarantined = quarantine_rows(con, spec, raws, load_id, invalid)
    limit.check(con, options.max_quarantined, load_id, result.quarantined, result.rows_read)
    result.set_aside = set_aside_rows(con, spec, len(raws))
    _drop_raw(con, raws)  # the source text is only needed to quarantine rows in its own words
    written = written_rows(con, valid)
    # Nothing written (a reload): identities and customer records are as they were.
    resolves = spec.has_identifiers and any(condition != "false" for condition in written)
    if resolves:
        step("resolving identities")
        resolution = resolve_new_records(
            con,
            new_rows(written),
            spec.name,
            load_id,
            max_links=config.identity.max_links,
            now=now,
        )
        result.new_customers = resolution.new_customers
        result.merges = resolution.merges
        result.splits = resolution.splits
        result.blocked_identifiers = resolution.blocked
        _touch(con, load_id, held=bool(resolution.blocked))
    step(f"writing {spec.name}")
    _apply(con, spec, load_id, raws, written)
    current = Load(load_id, result.files, now.astimezone(UTC).replace(tzinfo=None))
    renewed = spec.renews and _renew(con, current, touched=resolves)
    result.inserted, result.updated, result.duplicates = tally(con, sum(valid))
    # rows of keyed tables changed customer: merged, split, or (blocking) left with no one
    rekeyed = result.merges or result.splits or result.blocked_identifiers
    if spec.name == "orders" or rekeyed:
        link_returns(con, load_id, held="_held" if result.blocked_identifiers else None)
    if resolves or renewed:
        step("rebuilding customer profiles")
        # blocking takes identifiers from customers the load did not touch: rebuild them all
        scope = None if result.blocked_identifiers else _scope(con, "customers")
        rebuild_customers(con, scope, current=current)
    if rekeyed or (spec.name == "orders" and result.inserted + result.updated):
        step("rebuilding purchase occasions")
        rebuild_occasions(con, _scope(con, "purchase_occasions"))
    _drop_temp(con, len(raws))
    return result


def _touch(con: duckdb.DuckDBPyConnection, load_id: int, *, held: bool) -> None:
    """``_touched``: the customers whose derived rows this load may change: those of its
    identifiers (:func:`resolve_new_records` leaves them in ``_ident_keys``), both sides of
    its merges and splits, and with ``held`` (a load that blocked an identifier) every
    customer that held one (``_held``), which may have lost rows to no one without being
    split. Rows with identifiers are never replaced (a conflict is quarantined), so no earlier
    owner loses one otherwise. The table outlives the load (until the next or the connection's
    end): copying the load to another warehouse sends these customers' rows."""
    also = " UNION SELECT key FROM _held" if held else ""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _touched AS
        SELECT key AS customer_key FROM _ident_keys{also}
        UNION SELECT merged_key FROM customer_merges WHERE load_id = {load_id}
        UNION SELECT into_key FROM customer_merges WHERE load_id = {load_id}
        UNION SELECT from_key FROM customer_splits WHERE load_id = {load_id}
        UNION SELECT new_key FROM customer_splits WHERE load_id = {load_id}"""
    )


def _renew(con: duckdb.DuckDBPyConnection, current: Load, *, touched: bool) -> bool:
    """Renew the CRM records the load found again (:func:`renew_records`) and add their
    customers to ``_touched`` (made here when the load resolved nothing); whether any was."""
    renewed = renew_records(con, current)
    if not scalar(con, f"SELECT count(*) FROM {renewed}"):
        return False
    keys = f"SELECT customer_key FROM {renewed}"
    if touched:
        con.execute(f"INSERT INTO _touched {keys}")
    else:
        con.execute(f"CREATE OR REPLACE TEMP TABLE _touched AS {keys}")
    return True


def _unique(name: str, taken: list[str]) -> str:
    """A source's name, numbered by its place when an earlier source of the load has it (two
    data frames are both ``<DataFrame>``): rows are told apart and ordered by file name."""
    return f"{name} #{len(taken) + 1}" if name in taken else name


def _scope(con: duckdb.DuckDBPyConnection, derived: str) -> str | None:
    """Refresh only the touched customers' rows of ``derived`` (``_touched``), or every row
    (None) when the touched customers are half as many as its rows or more: a rebuild is then
    cheaper than deleting and adding back most of them."""
    touched = int(scalar(con, "SELECT count(*) FROM _touched"))
    rows = int(scalar(con, f"SELECT count(*) FROM {derived}")) if derived in tables(con) else 0
    return "_touched" if 2 * touched < rows else None


def _read(con: duckdb.DuckDBPyConnection, source: Any, options: LoadOptions, n: int) -> RawSource:
    if isinstance(source, str | Path):
        path = Path(source).expanduser()  # from a notebook, no shell has expanded ~
        check_file(path)
        fmt = detect_format(path, options.format)
        return read_file(con, path, fmt, n, encoding=options.encoding, paths=options.mapping)
    return read_frame(con, source, n, paths=options.mapping)


def _apply(
    con: duckdb.DuckDBPyConnection,
    spec: TableSpec,
    load_id: int,
    raws: list[RawSource],
    written: list[str],
) -> None:
    """Write inserted and updated rows with their bookkeeping columns."""
    described = con.execute(f"DESCRIBE {spec.name}").fetchall()
    joins, key = record_key_sql("s") if spec.has_identifiers else ("", "NULL")
    con.execute(
        f"DELETE FROM {spec.name} WHERE row_key IN "
        "(SELECT _key FROM _classified WHERE _action = 'update')"
    )
    for n, condition in enumerate(written):
        bookkeeping = {
            "customer_key": key,
            "row_key": "s._key",
            "row_hash": "_hash",
            "load_id": str(load_id),
            "source_file": literal(raws[n].name),
            "source_row": "s._line",
        }
        select = ", ".join(bookkeeping.get(row[0], row[0]) for row in described)
        if condition != "false":
            con.execute(
                f"INSERT INTO {spec.name} SELECT {select} FROM _stage_{n} s {joins} "
                f"WHERE {condition}"
            )


def _record(
    con: duckdb.DuckDBPyConnection, result: LoadResult, now: datetime, config: Config
) -> None:
    """The load's line in the load log, with the settings its rows were read with."""
    stamp = now.astimezone(UTC).replace(tzinfo=None)
    con.execute(
        "INSERT INTO loads VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            result.load_id,
            result.table,
            "\n".join(result.files),
            stamp,
            datetime.now(UTC).replace(tzinfo=None),
            result.rows_read,
            result.inserted,
            result.updated,
            result.duplicates,
            result.quarantined,
            result.conflicts,
            *(getattr(config, setting) for setting in SHAPING),
        ],
    )


def _next_load_id(con: duckdb.DuckDBPyConnection) -> int:
    return int(scalar(con, "SELECT coalesce(max(load_id), 0) + 1 FROM loads"))


def _drop_raw(con: duckdb.DuckDBPyConnection, raws: list[RawSource]) -> None:
    """Free the read sources (and their helper tables) before the heavy steps."""
    for raw in raws:
        discard(con, raw)


def _drop_temp(con: duckdb.DuckDBPyConnection, sources: int) -> None:
    con.execute("DROP TABLE IF EXISTS _classified")
    con.execute("DROP TABLE IF EXISTS _ident_keys")
    con.execute("DROP TABLE IF EXISTS _held")
    con.execute("DROP TABLE IF EXISTS _renewed")
    for n in range(sources):
        con.execute(f"DROP TABLE IF EXISTS _stage_{n}")
