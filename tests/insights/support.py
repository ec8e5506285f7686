"""What the insights tests share: workspaces from hand-written CSV text or the synthetic sample,
baskets, and customer keys turned back into the ids the fixtures were written with.

Each test module keeps its own data and expectations; only the mechanics live here. Imported
as ``insights.support`` (pytest puts ``tests/`` on the path, as for ``cli_support``).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import ibis

from patron import Workspace
from patron.insights.affinity import Baskets
from patron.samples import synthetic

SHOP = ("products", "orders", "lines")
"""The tables most insights read: the catalog, the orders and their lines."""

SAMPLE_FILES = {"lines": "order_lines"}
"""Where the synthetic sample's file for a table is named otherwise than the table."""


def csv_workspace(folder: Path, tables: dict[str, str], *, clean: bool = True) -> Workspace:
    """A UTC workspace at ``folder / "ws"`` holding each table's CSV text, loaded in order.

    Each text is written to ``folder / "<table>.csv"`` first. With ``clean`` every row must
    load: a quarantined one fails the fixture.
    """
    ws = Workspace.init(folder / "ws", timezone="UTC")
    for table, text in tables.items():
        (folder / f"{table}.csv").write_text(text)
        result = ws.load(table, folder / f"{table}.csv")
        if clean:
            assert result.quarantined == 0
    return ws


def sample_workspace(
    folder: Path, *, customers: int, seed: int, tables: Iterable[str] = SHOP, clean: bool = True
) -> tuple[Workspace, dict[str, Path]]:
    """The synthetic sample generated under ``folder / "data"`` and loaded, table by table, into
    a New York workspace with US phone numbers; with the generator's files (truth included).

    With ``clean`` every row must load: a quarantined one fails the fixture.
    """
    paths = synthetic.generate(folder / "data", customers=customers, seed=seed)
    ws = Workspace.init(folder / "ws", timezone="America/New_York", phone_region="US")
    for table in tables:
        result = ws.load(table, paths[SAMPLE_FILES.get(table, table)])
        if clean:
            assert result.quarantined == 0
    return ws, paths


def baskets(ws: Workspace) -> Baskets:
    return Baskets(ws.sales(), ws.table("order_lines"), ws.table("products"))


def ids(ws: Workspace) -> dict[int, str]:
    """customer_key -> customer_id."""
    rows = ws.table("customers").select("customer_key", "customer_id").to_pyarrow().to_pylist()
    return {r["customer_key"]: r["customer_id"] for r in rows}


def keys(ws: Workspace) -> dict[str, int]:
    """customer_id -> customer_key."""
    return {name: key for key, name in ids(ws).items()}


def rows(ws: Workspace, table: Any) -> list[dict[str, Any]]:
    """The table's rows with customer ids in place of keys."""
    names = ids(ws)
    out = table.to_pyarrow().to_pylist()
    return [{**r, "customer_key": names[r["customer_key"]]} for r in out]


def by_id(ws: Workspace, table: ibis.Table) -> dict[str, dict[str, Any]]:
    """The table's rows (one a customer) by customer id."""
    names = ids(ws)
    return {names[r["customer_key"]]: r for r in table.to_pyarrow().to_pylist()}


def segments(ws: Workspace, labels: dict[str, str]) -> ibis.Table:
    """customer_key and the segment each customer id is labelled with (null if none)."""
    customers = ws.table("customers")
    cases = [(customers.customer_id == c, g) for c, g in labels.items()]
    return customers.select("customer_key", segment=ibis.cases(*cases))
