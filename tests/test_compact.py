"""``patron compact``: the workspace's DuckDB file shrinks to its live data, nothing else changes.

DuckDB reuses the space rewritten tables free but never returns it: a workspace loaded day by
day grew to about twice the file one load of the same rows makes (bench/daily_loads.py: 11.8
against 5.5 MB after a year), and there was no way to get it back."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import duckdb
import pytest

from cli_support import patron
from patron import Workspace
from patron.errors import WorkspaceError
from patron.samples import synthetic

DAYS = 12


@pytest.fixture(scope="module")
def daily(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the synthetic sample's orders split into ``DAYS`` files by time, and
    ``ws``, a workspace that loaded them one a day."""
    root = tmp_path_factory.mktemp("compact")
    synthetic.generate(root / "data", customers=1500, seed=3)
    with (root / "data" / "orders.csv").open(newline="") as handle:
        rows = sorted(csv.DictReader(handle), key=lambda row: row["ordered_at"])
    for day in range(DAYS):
        with (root / f"day{day:02d}.csv").open("w", newline="") as handle:
            writer = csv.DictWriter(handle, list(rows[0]))
            writer.writeheader()
            writer.writerows(rows[day * len(rows) // DAYS : (day + 1) * len(rows) // DAYS])
    Workspace.init(root / "ws").close()
    for day in range(DAYS):  # opened and closed each day, as a cron job does
        with Workspace.open(root / "ws") as ws:
            ws.load("orders", root / f"day{day:02d}.csv")
    return root


def _loaded(daily: Path, folder: Path) -> Workspace:
    """A copy of the workspace that loaded the days, open."""
    shutil.copytree(daily / "ws", folder)
    return Workspace.open(folder)


def _contents(con: duckdb.DuckDBPyConnection) -> dict[str, object]:
    """Every table's columns (name, type, default, nullability), key constraints, row count
    and an order-free fingerprint of its rows."""
    names = [
        n for (n,) in con.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()
    ]
    shape = con.execute(
        "SELECT table_name, column_name, data_type, column_default, is_nullable "
        "FROM duckdb_columns() ORDER BY table_name, column_index"
    ).fetchall()
    keys = con.execute(
        "SELECT table_name, constraint_type, constraint_text FROM duckdb_constraints() ORDER BY ALL"
    ).fetchall()
    rows = {n: con.execute(f"SELECT count(*), sum(hash(t)) FROM {n} t").fetchone() for n in names}
    return {"shape": shape, "keys": keys, "rows": rows}


def test_a_day_by_day_workspace_shrinks_and_keeps_every_row(daily: Path, tmp_path: Path) -> None:
    """After twelve loads the file shrinks by a third or more; every table, column, key and
    row is as it was, an expression made before still runs, and a reload finds every row."""
    ws = _loaded(daily, tmp_path / "ws")
    orders = ws.table("orders")
    before = _contents(ws.warehouse.duckdb)
    status = ws.status()

    sizes = ws.compact()

    assert sizes["bytes_after"] < 0.67 * sizes["bytes_before"]
    assert sizes["bytes_after"] == (tmp_path / "ws" / "warehouse.duckdb").stat().st_size
    assert _contents(ws.warehouse.duckdb) == before
    assert ws.status() == status
    assert (
        orders.count().execute()
        == status["orders"] + status["returns"] + status["cancelled_orders"]
    )
    again = ws.load("orders", daily / "day03.csv")
    assert (again.inserted, again.conflicts) == (0, 0)
    ws.close()


def test_a_compaction_that_fails_leaves_the_file_as_it_was(
    daily: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A copy stopped half-way (here: the disk filling while it is written) leaves the old
    file, which the workspace goes on using; the next compaction replaces the stray copy."""
    ws = _loaded(daily, tmp_path / "ws")
    path = tmp_path / "ws" / "warehouse.duckdb"
    size, status = path.stat().st_size, ws.status()
    copy = path.with_name("warehouse.duckdb.compact")

    def half_written(con: duckdb.DuckDBPyConnection, target: Path) -> None:
        target.write_bytes(b"half a database")
        raise duckdb.IOException("No space left on device")

    monkeypatch.setattr("patron.warehouse.copy_live_data", half_written)
    with pytest.raises(duckdb.IOException):
        ws.compact()
    assert path.stat().st_size == size
    assert ws.status() == status
    monkeypatch.undo()
    assert copy.exists()
    ws.compact()
    assert not copy.exists()
    assert ws.status() == status
    ws.close()


def test_a_read_only_workspace_is_not_compacted(tmp_path: Path) -> None:
    Workspace.init(tmp_path / "ws").close()
    with (
        Workspace.open(tmp_path / "ws", read_only=True) as ws,
        pytest.raises(WorkspaceError, match="compact writes to the workspace"),
    ):
        ws.compact()


def test_the_command_prints_the_sizes(daily: Path, tmp_path: Path) -> None:
    """The real ``patron compact``: JSON with the file and its bytes, and a sentence."""
    _loaded(daily, tmp_path / "ws").close()
    result = patron("-w", "ws", "compact", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    sizes = json.loads(result.stdout)
    assert sizes["file"].endswith("warehouse.duckdb")
    assert 0 < sizes["bytes_after"] < sizes["bytes_before"]
    text = patron("-w", "ws", "compact", cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith("Compacted ws/warehouse.duckdb: ")
