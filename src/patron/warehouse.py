"""The warehouse: an Ibis connection from a URL and the tables of the data contract.

Domain code reads tables as Ibis expressions (:meth:`Warehouse.table`). Loading is the one job
that speaks DuckDB directly (its CSV/Parquet/JSON readers and transactions), through
:attr:`Warehouse.duckdb`.

The URL names where the contract tables live and every metric runs: an embedded DuckDB file by
default (``duckdb://FILE``), or any other Ibis backend (``postgres://user@host/db``, ...). Then
the workspace keeps an embedded DuckDB file all the same, ``engine.duckdb``: loads are staged,
validated, resolved and committed there as always, and :mod:`patron.publish` copies the tables
they change to the warehouse (:data:`PUBLISHED`). The loader's bookkeeping (the load log,
quarantine, the identity graph) stays in the engine.
"""

from __future__ import annotations

import os
import re
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from patron.compaction import copy_live_data, file_bytes
from patron.errors import (
    InputError,
    NotFoundError,
    WorkspaceError,
    command_line,
    did_you_mean,
    spelled,
)
from patron.ingest.contract import SQL_TYPES, TableSpec
from patron.ingest.contract import TABLES as LOAD_TARGETS
from patron.loaded_settings import SHAPING
from patron.metrics.occasions import drop_cancelled_days
from patron.money import money_type
from patron.predictions import STORED as STORED_PREDICTIONS
from patron.sql import first_line, tables

if TYPE_CHECKING:
    from ibis import Table as IbisTable

    from patron.ingest.loader import LoadResult

SYSTEM_TABLES: dict[str, str] = {
    "loads": """load_id BIGINT PRIMARY KEY, table_name VARCHAR, files VARCHAR,
        started_at TIMESTAMP, finished_at TIMESTAMP, rows_read BIGINT, inserted BIGINT,
        updated BIGINT, duplicates BIGINT, quarantined BIGINT, conflicts BIGINT,
        timezone VARCHAR, phone_region VARCHAR""",
    "quarantine": """load_id BIGINT, table_name VARCHAR, file VARCHAR, row BIGINT,
        field VARCHAR, value VARCHAR, reason VARCHAR, record VARCHAR, quarantine_key VARCHAR,
        row_key VARCHAR""",
    "quarantine_closed": "quarantine_key VARCHAR, closed_at TIMESTAMP, note VARCHAR",
    "identities": """identifier_type VARCHAR, value VARCHAR, customer_key BIGINT,
        source VARCHAR, first_seen TIMESTAMP""",
    "identity_edges": "a VARCHAR, b VARCHAR",
    "blocked_identifiers": """identifier_type VARCHAR, value VARCHAR, links BIGINT,
        load_id BIGINT""",
    "phone_numbers": "candidate VARCHAR, e164 VARCHAR",
    "customer_merges": """load_id BIGINT, merged_key BIGINT, into_key BIGINT,
        merged_at TIMESTAMP""",
    "customer_splits": "load_id BIGINT, from_key BIGINT, new_key BIGINT, split_at TIMESTAMP",
    "publications": "load_id BIGINT, full_copy BOOLEAN, published_at TIMESTAMP",
    "customers": """customer_key BIGINT, customer_id VARCHAR, email VARCHAR, phone VARCHAR,
        loyalty_id VARCHAR, identifiers BIGINT, name VARCHAR, birthday DATE,
        signup_channel VARCHAR, signed_up_at TIMESTAMP, country VARCHAR, email_consent BOOLEAN,
        sms_consent BOOLEAN, push_consent BOOLEAN, first_seen TIMESTAMP""",
    "experiment_assignments": """experiment VARCHAR, customer_key BIGINT, variant VARCHAR,
        assigned_at TIMESTAMP""",
}
"""Tables patron maintains itself; ``customers`` is derived and rebuilt after each load.

No table has a primary key: DuckDB keeps key indexes in memory, where they would grow with the
workspace; uniqueness is the loader's job (it classifies every row against what is loaded).
"""


def contract_ddl(spec: TableSpec, money: str = SQL_TYPES["money"]) -> str:
    """Columns of a loaded table: contract fields (amounts as ``money``), derived columns,
    then bookkeeping."""
    types = {**SQL_TYPES, "money": money}
    cols = [f"{f.name} {types[f.kind]}" for f in spec.fields]
    cols += [f"{name} {sql_type}" for name, sql_type in spec.extra_sql_columns]
    if spec.has_identifiers:
        cols.append("customer_key BIGINT")
    cols += [
        "attributes JSON",
        "row_key VARCHAR",
        "row_hash UBIGINT",
        "load_id BIGINT",
        "source_file VARCHAR",
        "source_row BIGINT",
    ]
    return ", ".join(cols)


def upgrade(con: duckdb.DuckDBPyConnection) -> None:
    """Bring the tables of a workspace made by an earlier version to this one's shape, in the
    transaction of its first load: integer row hashes, the quarantine's ``row_key`` (its
    earlier entries keep none, so none of them is found fixed), the split log, occasions
    without the days of cancelled orders, the settings each load read its rows with, and CRM
    records' ``updated_at``."""
    upgrade_row_hashes(con)
    con.execute("ALTER TABLE quarantine ADD COLUMN IF NOT EXISTS row_key VARCHAR")
    for setting in SHAPING:
        con.execute(f"ALTER TABLE loads ADD COLUMN IF NOT EXISTS {setting} VARCHAR")
    con.execute("ALTER TABLE customer_records ADD COLUMN IF NOT EXISTS updated_at TIMESTAMP")
    con.execute(f"CREATE TABLE IF NOT EXISTS customer_splits ({SYSTEM_TABLES['customer_splits']})")
    drop_cancelled_days(con)


def upgrade_row_hashes(con: duckdb.DuckDBPyConnection) -> None:
    """Turn the hex ``row_hash`` of workspaces made before it was an integer into the same 64
    bits a load now computes (``md5_number_lower``: digest bytes 9-16, little-endian), so
    reloading their files still finds the rows already loaded."""
    found = con.execute(
        "SELECT table_name FROM duckdb_columns() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND column_name = 'row_hash' AND data_type = 'VARCHAR'"
    ).fetchall()
    low_bytes = " || ".join(f"substr(row_hash, {i}, 2)" for i in range(31, 15, -2))
    for (table,) in found:
        con.execute(
            f"ALTER TABLE {table} ALTER row_hash SET DATA TYPE UBIGINT "
            f"USING CAST('0x' || {low_bytes} AS UBIGINT)"
        )


def _all_tables(money: str = SQL_TYPES["money"]) -> dict[str, str]:
    specs = {spec.name: contract_ddl(spec, money) for spec in LOAD_TARGETS.values()}
    return {**specs, **SYSTEM_TABLES}


TABLE_NAMES: tuple[str, ...] = tuple(_all_tables())
DERIVED = {
    "purchase_occasions": "load orders first",
    STORED_PREDICTIONS: "run `patron predict` first",
}
"""Tables of the data contract that commands write from the others, and what makes them."""
ENGINE_FILE = "engine.duckdb"
"""The embedded engine's file in a workspace whose warehouse is another backend."""
PUBLISHED = (
    "orders",
    "order_lines",
    "products",
    "events",
    "customer_records",
    "customers",
    "identities",
    "purchase_occasions",
)
"""The tables a warehouse other than the engine holds copies of: what metrics and users read."""
WRITTEN = ("experiment_assignments", "customer_predictions")
"""The tables commands write to the warehouse itself (experiments, ``patron predict``)."""
ENGINE_ONLY = frozenset(SYSTEM_TABLES) - {*PUBLISHED, *WRITTEN}
"""The loader's bookkeeping, which stays in the engine: the load log, quarantine, the identity
graph, the phone cache, the merge log. Experiments write their assignments to the warehouse."""
_BUSY = "; is another patron command using this workspace?"
"""What a lock DuckDB could not take means; said of no other failure to open (a file that is
not a DuckDB database is not in use by anyone)."""


class Warehouse:
    """An open warehouse and the embedded engine that loads it (the same DuckDB by default).

    Parameters
    ----------
    url:
        An Ibis connection URL; ``duckdb://NAME`` with a relative NAME is resolved inside
        ``folder`` so a workspace can be moved as one folder. Any other backend's URL keeps
        the engine in ``folder / ENGINE_FILE``.
    folder:
        The workspace folder.
    """

    def __init__(
        self, url: str, folder: Path, *, memory_limit: str = "1GB", read_only: bool = False
    ) -> None:
        self.url = url
        self.external = _scheme(url) != "duckdb"
        self.path = engine_path(url, folder)
        self.read_only = read_only
        self.memory_limit = memory_limit
        self.duckdb = self._connect()

    def _connect(self) -> duckdb.DuckDBPyConnection:
        """The engine's connection, with patron's session settings."""
        try:
            con = duckdb.connect(str(self.path), read_only=self.read_only)
        except duckdb.IOException as exc:
            # DuckDB's hint when another process holds the file read-only names its own
            # shell's flag (-readonly), which means nothing to a notebook; patron says it its way
            reason, readable, _ = first_line(exc).partition(" However, you would be able")
            hint = spelled("", "; to read it meanwhile, open it with read_only=True")
            raise WorkspaceError(
                f"cannot open the warehouse {self.path}: {reason.rstrip('. ')}"
                + (_BUSY + (hint if readable else "") if "lock" in reason else "")
            ) from exc
        except duckdb.ConnectionException as exc:  # open in this process, the other way
            mode = "read-only" if self.read_only else "writable"
            raise WorkspaceError(
                f"cannot open the warehouse {self.path} {mode}: this process has it open "
                "already the other way; close that Workspace first, or open both alike"
            ) from exc
        # A cap on DuckDB's buffer pool: loads spill to disk instead of growing with the file.
        con.execute(f"SET memory_limit = '{self.memory_limit}'")
        # Only reads that number rows need file order (readers.py turns it on for them).
        con.execute("SET preserve_insertion_order = false")
        if command_line():
            # DuckDB draws its own bar on stdout for a query over two seconds, even into a pipe
            # or a file, where it would corrupt `--json` and `patron ... > out.txt`; patron's
            # own bar (patron.progress) is on stderr. Before any query: opening runs some.
            con.execute("SET enable_progress_bar_print = false")
        return con

    def compact(self) -> tuple[int, int]:
        """Rewrite the engine's file with its live data alone; its bytes before and after.

        DuckDB reuses the space that rewritten tables free but never gives it back, so a
        workspace loaded every day grows to about twice what one load of the same rows makes.
        The copy is written beside the file and replaces it in one rename: a compaction
        stopped before that leaves the file as it was (and a stray copy the next one removes).
        """
        self.duckdb.execute("CHECKPOINT")  # the write-ahead log's rows in the file, measured
        before = file_bytes(self.path)
        fresh = self.path.with_name(self.path.name + ".compact")
        copy_live_data(self.duckdb, fresh)
        self.duckdb.close()
        try:
            os.replace(fresh, self.path)
        finally:
            self.duckdb = self._connect()
            if "engine" in self.__dict__:  # expressions made before keep working
                self.engine.con = self.duckdb
        return before, file_bytes(self.path)

    @cached_property
    def engine(self) -> Any:
        """The Ibis backend over the engine's connection (imported on first use: it is slow)."""
        import ibis

        return ibis.duckdb.from_connection(self.duckdb)

    @cached_property
    def ibis(self) -> Any:
        """The Ibis backend of the warehouse: the engine's, or a connection to the URL, readied
        for patron's expressions (:func:`patron.portable.prepare`)."""
        if not self.external:
            return self.engine
        from patron.portable import prepare

        backend = connect(self.url)
        prepare(backend)
        return backend

    def check_unclaimed(self) -> None:
        """Refuse another warehouse that already has tables by the names patron writes (a
        second workspace on the same database, or the shop's own ``orders``): the first load
        would replace them."""
        if not self.external:
            return
        taken = sorted(set(self.ibis.list_tables()) & {*PUBLISHED, *WRITTEN})
        if taken:
            raise WorkspaceError(
                f"the warehouse {without_password(self.url)} already has tables patron writes: "
                f"{', '.join(taken)}; give the workspace an empty database, or open the "
                "workspace that made them"
            )

    def create_tables(self, currency: str) -> None:
        """Create every contract and system table that does not exist yet, amounts in
        ``currency``'s minor unit (:func:`patron.money.money_type`); in another warehouse, the
        one table patron writes there directly (experiments' assignments)."""
        for name, columns in _all_tables(money_type(currency)).items():
            self.duckdb.execute(f"CREATE TABLE IF NOT EXISTS {name} ({columns})")
        if self.external and "experiment_assignments" not in self.ibis.list_tables():
            schema = self.engine.table("experiment_assignments").schema()
            self.ibis.create_table("experiment_assignments", schema=schema)

    def table(self, name: str) -> IbisTable:
        """A table of the data contract as an Ibis expression; the loader's own tables
        (``loads``, ``quarantine``, ...) come from the engine when the warehouse is another."""
        if name in DERIVED:
            if not self.has_table(name):
                raise NotFoundError(f"no table {name!r} yet: {DERIVED[name]}")
            return self.ibis.table(name)
        if name not in TABLE_NAMES:
            known = (*TABLE_NAMES, *DERIVED)
            raise NotFoundError(
                f"no table {name!r}{did_you_mean(name, known)}; tables: {', '.join(known)}"
            )
        in_engine = self.external and name in ENGINE_ONLY
        return (self.engine if in_engine else self.ibis).table(name)

    def carry(self, name: str) -> IbisTable:
        """The engine's table ``name`` (a file the engine read: an audience, imported
        assignments) where the warehouse's expressions can join it: the table itself, or in
        another warehouse a temporary copy of it."""
        table = self.engine.table(name)
        if not self.external:
            return table
        return self.ibis.create_table(name, table.to_pyarrow(), temp=True, overwrite=True)

    def has_table(self, name: str) -> bool:
        """Whether the warehouse has ``name`` (a derived table is only made by the first load
        needing it)."""
        if self.external:
            return name in self.ibis.list_tables()
        return name in tables(self.duckdb)

    def publish(self, result: LoadResult | None = None) -> list[str]:
        """Copy what load ``result`` changed from the engine to the warehouse (None: every
        table, for every load so far; nothing when they are the same); the tables copied. The
        engine records what reached the warehouse (:func:`patron.publish.unpublished`)."""
        if not self.external:
            return []
        from patron.publish import plan, publish, record

        planned = plan(self.duckdb, result)
        copied = publish(self.duckdb, self.ibis, planned)
        # every table sent whole (a load after one the warehouse missed) covers every load so
        # far: recorded as this load's alone, the missed one stayed unpublished, and each
        # later load copied every table again until `patron publish`
        full = result is None or set(planned.whole) >= set(PUBLISHED)
        record(self.duckdb, None if full or result is None else result.load_id)
        return copied

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has run."""
        return isinstance(self.duckdb, _Closed)

    def check_open(self) -> None:
        """Raise the WorkspaceError a closed warehouse's use raises, if it is closed."""
        if self.closed:
            raise _closed(self.path)

    def close(self) -> None:
        """Close the connections; a later use, even of an expression made before, raises
        WorkspaceError (DuckDB's own message, "Connection already closed!", names no workspace)."""
        if isinstance(self.duckdb, _Closed):
            return
        if self.external and "ibis" in self.__dict__:
            self.ibis.disconnect()
        self.duckdb.close()
        self.duckdb = _Closed(self.path)  # type: ignore[assignment]
        if "engine" in self.__dict__:
            self.engine.con = self.duckdb


class _Closed:
    """Stands in for a closed connection and says so in patron's words when used."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __getattr__(self, name: str) -> Any:
        raise _closed(self.path)


def _closed(path: Path) -> WorkspaceError:
    return WorkspaceError(
        f"this workspace is closed (its warehouse {path}); open it again with Workspace.open()"
    )


def connect(url: str) -> Any:
    """An Ibis connection to ``url``, or an error that says what is missing (a backend's
    driver, a server that does not answer) without the URL's password."""
    import ibis

    shown = without_password(url)
    try:
        return ibis.connect(url)
    except ImportError as exc:
        backend = _scheme(url)
        raise InputError(
            f"warehouse URL {shown!r} needs Ibis's {backend} backend, which is not installed: "
            f"pip install 'ibis-framework[{backend}]' ({first_line(exc)})"
        ) from exc
    except ValueError as exc:  # Ibis knows no backend by that name; its message shows the URL
        raise InputError(
            f"warehouse URL {shown!r} names no Ibis backend; use one of {_SUPPORTED}"
        ) from exc
    except Exception as exc:  # each driver has its own errors; all mean "no connection"
        raise WorkspaceError(f"cannot connect to the warehouse {shown}: {first_line(exc)}") from exc


_SUPPORTED = (
    "the warehouses patron supports, duckdb://FILE (the default: a file in the workspace) or "
    "postgres://user@host/db"
)
"""The warehouses patron supports and tests, as messages name them."""
_UNUSABLE = {
    "sqlite": "Ibis's SQLite backend cannot create patron's tables",
    "polars": "Polars keeps its tables in memory, and a workspace must persist",
    "datafusion": "DataFusion keeps its tables in memory, and a workspace must persist",
}
"""Ibis backends patron cannot use, and why."""


def _scheme(url: str) -> str:
    """The backend ``url`` names; a URL that is none, or names a warehouse patron cannot use
    (checked at init and at every opening), is an InputError saying what to use."""
    scheme, sep, rest = url.partition("://")
    if not sep or not scheme or not rest:
        shown = without_password(url)
        raise InputError(f"warehouse URL {shown!r} is not a URL: use one of {_SUPPORTED}")
    scheme = scheme.lower()
    why = _UNUSABLE.get(scheme)
    if scheme == "duckdb" and rest.startswith(":memory:"):
        why = "an in-memory DuckDB is gone when the command ends, and a workspace must persist"
    if why:
        raise InputError(
            f"warehouse URL {without_password(url)!r} cannot hold a workspace: {why}; "
            f"use one of {_SUPPORTED}"
        )
    return scheme


def engine_path(url: str, folder: Path) -> Path:
    """The engine's file of the workspace in ``folder`` with the warehouse at ``url``: the
    warehouse itself for ``duckdb://NAME`` (a relative NAME inside ``folder``), else
    ``folder / ENGINE_FILE``."""
    if _scheme(url) != "duckdb":
        return folder / ENGINE_FILE
    path = Path(url.partition("://")[2])
    return path if path.is_absolute() else folder / path


def without_password(url: str) -> str:
    """``url`` with any password in it replaced by ``***``, for messages and logs: the one
    after the user name, and a ``password=`` parameter (``postgres://me@host/db?password=pw``,
    which PostgreSQL's client library reads too)."""
    scheme, sep, rest = url.partition("://")
    if not sep:  # a mistyped URL (postgres//me:pw@host) may hold a password all the same
        scheme, rest = "", url
    user, at, host = rest.rpartition("@")
    if at and ":" in user:
        user = user.split(":", 1)[0] + ":***"
    return _PASSWORD_PARAMETER.sub(r"\1***", f"{scheme}{sep}{user}{at}{host}")


_PASSWORD_PARAMETER = re.compile(r"([?&;]\s*password\s*=)[^&;]*", re.IGNORECASE)
"""A ``password=`` parameter of a URL's query and its value."""
