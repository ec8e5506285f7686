"""Workspace creation, settings and the analyst's view of the tables."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from patron import InputError, NotFoundError, Workspace, WorkspaceError
from patron.config import Config

NOW = datetime(2025, 1, 1, tzinfo=UTC)


def test_init_writes_settings_warehouse_and_store(tmp_path: Path) -> None:
    ws = Workspace.init(
        tmp_path / "shop", timezone="Asia/Tehran", currency="irr", phone_region="ir", max_links=5
    )
    ws.close()
    names = sorted(p.name for p in (tmp_path / "shop").iterdir())
    assert names == ["patron.toml", "store.sqlite", "warehouse.duckdb"]
    config = Config.read(tmp_path / "shop")
    assert (config.timezone, config.currency, config.phone_region) == ("Asia/Tehran", "IRR", "IR")
    assert config.identity.max_links == 5
    with Workspace.open(tmp_path / "shop") as again:
        assert again.store.schema_version() == "1"
        assert again.status()["customers"] == 0


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("timezone", "Mars/Olympus", "unknown timezone"),
        ("currency", "dollars", "3-letter"),
        ("phone_region", "XX", "region"),
        ("warehouse", "nosuch://acct/db", "names no Ibis backend"),
        ("max_links", 0, "at least 1"),  # 0 used to be taken as "not given": 10
        # an empty string used to be taken as "not given" too: the default, silently
        ("timezone", "", "unknown timezone ''"),
        ("currency", "", "currency '' is not"),
        ("phone_region", "", "phone region '' is not"),
        ("warehouse", "", "warehouse URL '' is not a URL"),
    ],
)
def test_init_rejects_bad_settings(
    tmp_path: Path, option: str, value: str | int, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        Workspace.init(tmp_path / "ws", **{option: value})


def test_init_rejects_an_empty_store_url(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="cannot open the operational store '':"):
        Workspace.init(tmp_path / "ws", store="")
    assert not (tmp_path / "ws").exists()


def test_init_refuses_a_folder_in_use(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(WorkspaceError, match="not an empty folder"):
        Workspace.init(tmp_path)
    Workspace.init(tmp_path / "ws").close()
    with pytest.raises(WorkspaceError, match="already a patron workspace"):
        Workspace.init(tmp_path / "ws")


def test_open_defaults_to_the_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Workspace.init(tmp_path / "env-ws").close()
    monkeypatch.setenv("PATRON_WORKSPACE", str(tmp_path / "env-ws"))
    with Workspace.open() as ws:
        assert ws.folder == tmp_path / "env-ws"
    monkeypatch.delenv("PATRON_WORKSPACE")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(WorkspaceError, match="patron init patron-workspace"):
        Workspace.open()


def test_unknown_setting_in_patron_toml_is_an_error(tmp_path: Path) -> None:
    Workspace.init(tmp_path / "ws").close()
    toml = tmp_path / "ws" / "patron.toml"
    toml.write_text(toml.read_text() + 'timezon = "UTC"\n')
    with pytest.raises(InputError, match="unknown setting"):
        Workspace.open(tmp_path / "ws")


def test_tables_are_ibis_expressions_running_in_the_warehouse(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws")
    frame = pd.DataFrame(
        {
            "order_id": ["a", "b", "c"],
            "email": ["x@y.com", "x@y.com", "z@y.com"],
            "ordered_at": ["2024-01-01", "2024-01-02", "2024-01-03"],
            "channel": ["web", "store", "web"],
            "revenue": ["10", "5.5", "-2"],
        }
    )
    ws.load("orders", frame, now=NOW)
    orders = ws.table("orders")
    purchases = orders.filter(~orders.is_return)
    by_channel = purchases.group_by("channel").agg(revenue=purchases.revenue.sum()).execute()
    assert dict(zip(by_channel.channel, by_channel.revenue.astype(float), strict=True)) == {
        "web": 10.0,
        "store": 5.5,
    }
    with pytest.raises(NotFoundError, match="did you mean 'orders'"):
        ws.table("orderz")
    ws.close()


def test_products_are_updated_not_conflicted(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws")
    first = pd.DataFrame({"sku": ["s1", "s2"], "price": ["10", "20"], "in_stock": ["yes", "no"]})
    ws.load("products", first, now=NOW)
    result = ws.load("products", first.assign(price=["10", "25"]), now=NOW)
    assert (result.inserted, result.updated, result.duplicates) == (0, 1, 1)
    prices = ws.table("products").execute().set_index("sku")["price"].astype(float)
    assert prices.to_dict() == {"s1": 10.0, "s2": 25.0}
    ws.close()


def test_memory_limit_is_a_setting_applied_to_the_engine(tmp_path: Path) -> None:
    Workspace.init(tmp_path / "ws").close()
    toml = tmp_path / "ws" / "patron.toml"
    toml.write_text(toml.read_text().replace('memory_limit = "1GB"', 'memory_limit = "512MB"'))
    with Workspace.open(tmp_path / "ws") as ws:
        limit = ws.warehouse.duckdb.execute("SELECT current_setting('memory_limit')").fetchall()
        assert limit[0][0].replace(" ", "") in {"512.0MiB", "488.2MiB", "512MB"}
    toml.write_text(toml.read_text().replace('"512MB"', '"lots"'))
    with pytest.raises(InputError, match="not a size"):
        Workspace.open(tmp_path / "ws")


def test_running_out_of_memory_is_a_clear_error_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import duckdb

    from patron import ResourceError
    from patron.ingest import loader

    def exhausted(*args: object, **kwargs: object) -> None:
        raise duckdb.OutOfMemoryException("Out of Memory Error: could not allocate block")

    ws = Workspace.init(tmp_path / "ws")
    frame = pd.DataFrame({"email": ["a@b.co"], "ordered_at": ["2024-01-01"], "revenue": ["1"]})
    monkeypatch.setattr(loader, "resolve_new_records", exhausted)
    with pytest.raises(ResourceError, match=r"memory_limit = 1GB.*nothing was written"):
        ws.load("orders", frame, now=NOW)
    assert ws.status()["orders"] == 0 and ws.status()["loads"] == 0
    monkeypatch.undo()
    assert ws.load("orders", frame, now=NOW).inserted == 1
    ws.close()


@pytest.mark.parametrize("given", ["frame", "csv"])
def test_a_full_disk_is_a_clear_error_and_writes_nothing(tmp_path: Path, given: str) -> None:
    """DuckDB spills beyond memory_limit to the workspace's disk; with no room there (a 1 MB
    allowance stands for a full disk) the load says so, writes nothing, and the next load runs.
    Readers pass the error on: it is not the file's fault."""
    from patron import ResourceError

    rows = 200_000
    frame = pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(rows)],
            "email": [f"someone.{i}@example.com" for i in range(rows)],
            "ordered_at": ["2024-01-01 10:00"] * rows,
            "revenue": ["12.50"] * rows,
        }
    )
    source: Any = frame
    if given == "csv":
        source = tmp_path / "orders.csv"
        frame.to_csv(source, index=False)
    ws = Workspace.init(tmp_path / "ws")
    con = ws.warehouse.duckdb
    con.execute("SET memory_limit = '24MB'")
    con.execute("SET max_temp_directory_size = '1MB'")
    with pytest.raises(ResourceError, match=r"disk ran out of space.*nothing was written"):
        ws.load("orders", source, now=NOW)
    assert ws.status()["orders"] == 0 and ws.status()["loads"] == 0
    con.execute("RESET max_temp_directory_size")
    con.execute("SET memory_limit = '1GB'")
    assert ws.load("orders", source, now=NOW).inserted == rows
    ws.close()


def test_a_full_disk_under_the_warehouse_file_is_named_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import duckdb

    from patron import ResourceError
    from patron.ingest import loader

    def full(*args: object, **kwargs: object) -> None:
        raise duckdb.IOException(
            'IO Error: Could not write file "w.duckdb": No space left on device'
        )

    ws = Workspace.init(tmp_path / "ws")
    frame = pd.DataFrame({"email": ["a@b.co"], "ordered_at": ["2024-01-01"], "revenue": ["1"]})
    monkeypatch.setattr(loader, "rebuild_customers", full)
    full_disk = r"disk ran out of space while loading \(IO Error: .*No space left"
    with pytest.raises(ResourceError, match=full_disk):
        ws.load("orders", frame, now=NOW)
    assert ws.status()["orders"] == 0 and ws.status()["loads"] == 0
    ws.close()


def test_a_closed_workspace_says_so_and_closes_twice(tmp_path: Path) -> None:
    with Workspace.init(tmp_path / "ws", timezone="UTC") as ws:
        orders = {"order_id": ["a", "b"], "email": ["x@shop.test"] * 2, "revenue": [5.0, 7.0]}
        ws.load("orders", pd.DataFrame({**orders, "ordered_at": ["2024-05-01"] * 2}), now=NOW)
        orders = ws.table("orders")  # an expression made while open
    for use in (ws.status, orders.count().execute, lambda: ws.table("orders")):
        with pytest.raises(WorkspaceError, match=r"workspace is closed .*; open it again"):
            use()
    ws.close()
    with Workspace.open(tmp_path / "ws") as again:
        assert again.status()["orders"] == 2
