"""The warehouse: an Ibis connection from a URL and the tables of the data contract.

Domain code reads tables as Ibis expressions (:meth:`Warehouse.table`). Loading is the one job
that speaks DuckDB directly (its CSV/Parquet/JSON readers and transactions), through
:attr:`Warehouse.duckdb`.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from patron.errors import InputError, NotFoundError, WorkspaceError, did_you_mean
from patron.ingest.contract import SQL_TYPES, TableSpec
from patron.ingest.contract import TABLES as LOAD_TARGETS

if TYPE_CHECKING:
    from ibis import Table as IbisTable

SYSTEM_TABLES: dict[str, str] = {
    "loads": """load_id BIGINT PRIMARY KEY, table_name VARCHAR, files VARCHAR,
        started_at TIMESTAMP, finished_at TIMESTAMP, rows_read BIGINT, inserted BIGINT,
        updated BIGINT, duplicates BIGINT, quarantined BIGINT, conflicts BIGINT""",
    "quarantine": """load_id BIGINT, table_name VARCHAR, file VARCHAR, row BIGINT,
        field VARCHAR, value VARCHAR, reason VARCHAR, record VARCHAR, quarantine_key VARCHAR""",
    "identities": """identifier_type VARCHAR, value VARCHAR, customer_key BIGINT,
        source VARCHAR, first_seen TIMESTAMP""",
    "identity_edges": "a VARCHAR, b VARCHAR",
    "blocked_identifiers": """identifier_type VARCHAR, value VARCHAR, links BIGINT,
        load_id BIGINT""",
    "phone_numbers": "candidate VARCHAR, e164 VARCHAR",
    "customer_merges": """load_id BIGINT, merged_key BIGINT, into_key BIGINT,
        merged_at TIMESTAMP""",
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


def contract_ddl(spec: TableSpec) -> str:
    """Columns of a loaded table: contract fields, derived columns, then bookkeeping."""
    cols = [f"{f.name} {SQL_TYPES[f.kind]}" for f in spec.fields]
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


def _all_tables() -> dict[str, str]:
    specs = {spec.name: contract_ddl(spec) for spec in LOAD_TARGETS.values()}
    return {**specs, **SYSTEM_TABLES}


TABLE_NAMES: tuple[str, ...] = tuple(_all_tables())


class Warehouse:
    """An open warehouse. Only the embedded DuckDB engine is supported for loading today.

    Parameters
    ----------
    url:
        An Ibis connection URL; ``duckdb://NAME`` with a relative NAME is resolved inside
        ``folder`` so a workspace can be moved as one folder.
    folder:
        The workspace folder.
    """

    def __init__(
        self, url: str, folder: Path, *, memory_limit: str = "1GB", read_only: bool = False
    ) -> None:
        self.url = url
        self.path = _duckdb_path(url, folder)
        try:
            self.duckdb = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.IOException as exc:
            raise WorkspaceError(
                f"cannot open the warehouse {self.path}: {_first_line(exc)}; "
                "is another patron command using this workspace?"
            ) from exc
        # A cap on DuckDB's buffer pool: loads spill to disk instead of growing with the file.
        self.duckdb.execute(f"SET memory_limit = '{memory_limit}'")
        # Only reads that number rows need file order (readers.py turns it on for them).
        self.duckdb.execute("SET preserve_insertion_order = false")

    @cached_property
    def ibis(self) -> Any:
        """The Ibis backend over the same connection (imported on first use: it is slow)."""
        import ibis

        return ibis.duckdb.from_connection(self.duckdb)

    def create_tables(self) -> None:
        """Create every contract and system table that does not exist yet."""
        for name, columns in _all_tables().items():
            self.duckdb.execute(f"CREATE TABLE IF NOT EXISTS {name} ({columns})")

    def table(self, name: str) -> IbisTable:
        """A table of the data contract as an Ibis expression."""
        if name not in TABLE_NAMES:
            raise NotFoundError(f"no table {name!r}{did_you_mean(name, TABLE_NAMES)}")
        return self.ibis.table(name)

    def has_table(self, name: str) -> bool:
        """Whether ``name`` exists (a derived table is only made by the first load needing it)."""
        found = self.duckdb.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [name]
        ).fetchall()
        return bool(found[0][0])

    def close(self) -> None:
        self.duckdb.close()


def _duckdb_path(url: str, folder: Path) -> Path:
    scheme, _, rest = url.partition("://")
    if scheme != "duckdb" or not rest:
        raise InputError(
            f"warehouse URL {url!r} is not supported yet: loading needs the embedded DuckDB "
            "engine (duckdb://FILE); other Ibis backends are planned"
        )
    path = Path(rest)
    return path if path.is_absolute() else folder / path


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0]
