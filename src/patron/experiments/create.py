"""Creating an experiment: resolve the audience, assign it by hash, record it, export it."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from patron.experiments import registry
from patron.experiments.assignment import assign
from patron.experiments.audience import Resolved, resolve
from patron.experiments.design import Design
from patron.export import write_table
from patron.identity.survivors import survivors
from patron.store import Store

if TYPE_CHECKING:
    from ibis import Table

    from patron.warehouse import Warehouse

_ASSIGNED = "_experiment_assigned"


def file_audience(
    warehouse: Warehouse, source: Any, *, phone_region: str
) -> tuple[Table, Resolved]:
    """The distinct customers a file or data frame of identifiers names (read and resolved in
    the engine), and how many rows matched none."""
    resolved = resolve(warehouse.duckdb, source, phone_region=phone_region)
    ids = warehouse.carry(resolved.table)
    return ids.filter(ids.customer_key.notnull()).select("customer_key").distinct(), resolved


def create(
    backend: Any,
    store: Store,
    design: Design,
    audience: Table,
    *,
    assigned_at: datetime,
    created_at: datetime,
) -> dict[str, Any]:
    """Assign every customer of ``audience`` and record the experiment; returns its summary."""
    assigned = assign(audience.select("customer_key").distinct(), design)
    kept = backend.create_table(_ASSIGNED, assigned, temp=True, overwrite=True)
    try:
        registry.record(
            store, backend, design, kept, assigned_at=assigned_at, created_at=created_at
        )
        sizes = kept.group_by("variant").agg(n=kept.count()).to_pyarrow().to_pylist()
    finally:
        backend.drop_table(_ASSIGNED, force=True)
    counts = {row["variant"]: row["n"] for row in sizes}
    summary = registry.find(store, design.name)
    summary.pop("design")
    summary["groups"] = [
        {"name": g, "share": design.shares[g], "customers": int(counts.get(g, 0))}
        for g in design.groups
    ]
    return summary


def assignments(backend: Any, name: str, merged: Table) -> Table:
    """Who got what in experiment ``name``, with the identifiers an email tool needs: those of
    the customer each assigned key is today. A key merged into another since (``merged``, the
    merge log) has no profile of its own left, and its row had gone out with every identifier
    empty, unreachable; it keeps its key, as assigned, and takes its survivor's identifiers."""
    table = backend.table(registry.WAREHOUSE_TABLE)
    mine = table.filter(table.experiment == name).drop("experiment")
    ends = survivors(merged)
    now = mine.left_join(ends, mine.customer_key == ends.merged_key)
    now = now.mutate(_now=now.survivor.fill_null(now.customer_key)).drop("merged_key", "survivor")
    customers = backend.table("customers").select(
        _now="customer_key", **{c: c for c in ("customer_id", "email", "phone", "loyalty_id")}
    )
    joined = now.left_join(customers, "_now").drop("_now", "_now_right")
    return joined.order_by("customer_key")


def export(backend: Any, name: str, out: Path, merged: Table) -> int:
    """Write experiment ``name``'s assignments (:func:`assignments`) to ``out`` (CSV or
    Parquet); returns the rows. ``assigned_at`` is written as an instant with its offset: read
    back as naive text it would be taken for the shop's local time, hours off wherever that is
    not UTC."""
    table = assignments(backend, name, merged)
    write_table(table.mutate(assigned_at=table.assigned_at.cast("timestamp('UTC')")), out)
    return int(table.count().to_pyarrow().as_py())
