"""Experiments and their assignments, recorded once at creation.

The operational store keeps each design and every (customer, group) assignment under unique
constraints (the record an email tool or an audit reads); the warehouse keeps the same
assignments in ``experiment_assignments`` so readouts join them to orders in the engine. Both are
written in one store transaction that is only committed once the warehouse insert succeeded.
Assignments never change after creation: a running test whose groups move is no test.

The store is the record: the warehouse's rows of an experiment it does not name are never read.
A process killed between the two commits leaves such rows (a creation's, or a deletion's not yet
removed); creating an experiment of that name clears them before adding its own, so its
assignments are never doubled.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import ibis
import sqlalchemy as sa

from patron.errors import InputError, NotFoundError, PatronWarning
from patron.experiments.design import Design, format_variants, parse_variants
from patron.portable import delete_where, record_batches
from patron.store import METADATA, Store

if TYPE_CHECKING:
    from ibis import Table

WAREHOUSE_TABLE = "experiment_assignments"
_BATCH = 100_000

EXPERIMENTS = sa.Table(
    "experiments",
    METADATA,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("variants", sa.String(1024), nullable=False),
    sa.Column("holdout", sa.Float, nullable=False),
    sa.Column("salt", sa.String(256), nullable=False),
    sa.Column("start", sa.Date, nullable=False),
    sa.Column("end", sa.Date),
    sa.Column("audience", sa.String(1024), nullable=False),
    sa.Column("audience_size", sa.BigInteger, nullable=False),
    sa.Column("metric", sa.String(128), nullable=False),
    sa.Column("window_days", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

ASSIGNMENTS = sa.Table(
    "experiment_assignments",
    METADATA,
    sa.Column("experiment", sa.String(64), sa.ForeignKey("experiments.name"), primary_key=True),
    sa.Column("customer_key", sa.BigInteger, primary_key=True),
    sa.Column("variant", sa.String(32), nullable=False),
    sa.Column("assigned_at", sa.DateTime, nullable=False),
)


def ensure_schema(store: Store) -> None:
    """Create the experiment tables in a store made before they existed."""
    METADATA.create_all(store.engine, tables=[EXPERIMENTS, ASSIGNMENTS])


def find(store: Store, name: str) -> dict[str, Any]:
    """The stored record of experiment ``name``, with its :class:`Design` under ``design``."""
    return _record(_stored(store, name))


def _stored(store: Store, name: str) -> Any:
    """Experiment ``name``'s row as stored, not yet read: deleting needs no readable design."""
    ensure_schema(store)
    with store.engine.connect() as conn:
        row = (
            conn.execute(sa.select(EXPERIMENTS).where(EXPERIMENTS.c.name == name))
            .mappings()
            .first()
        )
        names = conn.execute(sa.select(EXPERIMENTS.c.name)).scalars().all()
    if row is None:
        hint = (
            f"; experiments: {', '.join(names)}"
            if names
            else "; create one with `patron experiment create`"
        )
        raise NotFoundError(f"no experiment {name!r}{hint}")
    return row


def listing(store: Store) -> list[dict[str, Any]]:
    """Every experiment, newest first; one whose stored row cannot be read is left out with a
    warning, so it hides none of the others."""
    ensure_schema(store)
    query = sa.select(EXPERIMENTS).order_by(EXPERIMENTS.c.created_at.desc(), EXPERIMENTS.c.name)
    with store.engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    found = []
    for row in rows:
        try:
            found.append(_record(row))
        except InputError as damaged:
            warnings.warn(str(damaged), PatronWarning, stacklevel=2)
    return found


def _record(row: Any) -> dict[str, Any]:
    name = row["name"]
    try:
        design = Design(
            name=name,
            variants=parse_variants(row["variants"]),
            salt=row["salt"],
            start=row["start"],
            holdout=row["holdout"],
            end=row["end"],
            audience=row["audience"],
            metric=row["metric"],
            window_days=row["window_days"],
        )
    except InputError as bad:
        raise InputError(
            f"experiment {name!r} cannot be read from the store ({bad}); delete it "
            f"(`patron experiment delete {name}`) and create it again"
        ) from None
    return {
        "name": design.name,
        "variants": format_variants(design.variants),
        "holdout": design.holdout,
        "salt": design.salt,
        "start": design.start.isoformat(),
        "end": design.end.isoformat() if design.end else None,
        "audience": design.audience,
        "audience_size": row["audience_size"],
        "metric": design.metric,
        "window_days": design.window_days,
        "created_at": row["created_at"].replace(tzinfo=UTC).isoformat(timespec="seconds"),
        "design": design,
    }


def record(
    store: Store,
    backend: Any,
    design: Design,
    assigned: Table,
    *,
    assigned_at: datetime,
    created_at: datetime,
) -> int:
    """Write ``design`` and ``assigned`` (customer_key, variant; a table computed once) to both
    stores."""
    ensure_schema(store)
    size = int(assigned.count().to_pyarrow().as_py())
    if not size:
        raise InputError(f"the audience {design.audience!r} has no customers; nothing to test")
    with store.engine.begin() as conn:
        if conn.execute(
            sa.select(EXPERIMENTS.c.name).where(EXPERIMENTS.c.name == design.name)
        ).first():
            raise InputError(
                f"experiment {design.name!r} already exists; assignments never change once made, "
                "so choose a new name"
            )
        conn.execute(sa.insert(EXPERIMENTS).values(**_row(design, size, created_at)))
        _insert_assignments(conn, backend, assigned, design.name, assigned_at)
        delete_where(backend, WAREHOUSE_TABLE, "experiment", design.name)  # a killed run's rows
        rows = assigned.select(
            experiment=ibis.literal(design.name),
            customer_key=assigned.customer_key,
            variant=assigned.variant,
            assigned_at=ibis.literal(assigned_at, "timestamp"),
        )
        backend.insert(WAREHOUSE_TABLE, rows)
    return size


def _row(design: Design, size: int, created_at: datetime) -> dict[str, Any]:
    return {
        "name": design.name,
        "variants": format_variants(design.variants),
        "holdout": design.holdout,
        "salt": design.salt,
        "start": design.start,
        "end": design.end,
        "audience": design.audience,
        "audience_size": size,
        "metric": design.metric,
        "window_days": design.window_days,
        "created_at": created_at,
    }


def _insert_assignments(
    conn: sa.Connection, backend: Any, assigned: Table, name: str, assigned_at: datetime
) -> None:
    """Copy ``assigned`` into the store's assignments, a batch at a time.

    Rows go to the driver's ``executemany`` as plain tuples: at ten million rows, building a
    dict per row and converting the same timestamp each time dominated experiment creation.
    The shared values are converted once, by the column types' own bind processors.
    """
    dialect = conn.dialect
    compiled = sa.insert(ASSIGNMENTS).compile(dialect=dialect)
    columns = [c.name for c in ASSIGNMENTS.columns]  # the statement's order, the table's
    experiment = _bound(ASSIGNMENTS.c.experiment, dialect, name)
    stamp = _bound(ASSIGNMENTS.c.assigned_at, dialect, assigned_at)
    for batch in _batches(backend, assigned):
        rows: list[Any] = [(experiment, k, v, stamp) for k, v in batch]
        if not dialect.positional:
            rows = [dict(zip(columns, row, strict=True)) for row in rows]
        conn.exec_driver_sql(str(compiled), rows)


def _bound(column: sa.Column[Any], dialect: sa.Dialect, value: object) -> object:
    """``value`` as the driver receives it for ``column``."""
    process = column.type.bind_processor(dialect)
    return process(value) if process else value


def _batches(backend: Any, assigned: Table) -> Iterator[list[tuple[int, str]]]:
    """The assignments in key order, a batch at a time (never all in Python memory)."""
    ordered = assigned.select("customer_key", "variant").order_by("customer_key")
    for batch in record_batches(backend, ordered, _BATCH):
        keys, variants = (batch.column(i).to_pylist() for i in range(2))
        yield list(zip(keys, variants, strict=True))


def delete(store: Store, backend: Any, name: str) -> None:
    """Remove an experiment and its assignments from both stores: the store's record first,
    so a failure between the two leaves only unread rows in the warehouse (see the module)."""
    _stored(store, name)
    with store.engine.begin() as conn:
        conn.execute(sa.delete(ASSIGNMENTS).where(ASSIGNMENTS.c.experiment == name))
        conn.execute(sa.delete(EXPERIMENTS).where(EXPERIMENTS.c.name == name))
    delete_where(backend, WAREHOUSE_TABLE, "experiment", name)
