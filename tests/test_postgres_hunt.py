"""A hunt as a data engineer whose warehouse is PostgreSQL: what differed from a DuckDB workspace
loaded with the same files, or went wrong around the copies. Each test failed before its fix.

The shops here live in a database whose collation is a language's (``en-US``, as most company
databases are created), not the test server's ``C.UTF-8``: text then sorts ``a, A, b, B``
where DuckDB sorts ``A, B, a, b``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import psycopg
import pytest

import pg_server
from patron.errors import WorkspaceError
from patron.samples import synthetic
from patron.warehouse import without_password
from patron.workspace import Workspace
from test_postgres_warehouse import _nobody, same, twin_shops

AS_OF, FROM = date(2024, 12, 31), date(2024, 6, 30)


def language_database(server: str, name: str) -> str:
    """A database that sorts text as American English does (ICU's ``en-US``)."""
    with psycopg.connect(f"{server}/postgres", autocommit=True) as con:
        found = con.execute("SELECT 1 FROM pg_collation WHERE collname = 'en-US-x-icu'")
        if found.fetchone() is None:
            pytest.skip("this PostgreSQL has no ICU collations")
        con.execute(
            f'CREATE DATABASE "{name}" TEMPLATE template0 LOCALE_PROVIDER icu '
            "ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
        )
    return f"{server}/{name}"


def lower_some_names(folder: Path) -> None:
    """Products named as shops name them: some categories in lower case, some brands with a
    leading underscore, some SKUs in lower case (in the catalog and the order lines alike)."""
    for name in ("products.csv", "order_lines.csv"):
        path = folder / name
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        for row in rows:
            number = int(row["sku"].split("-")[1])
            if number % 2:
                row["category"] = row["category"].lower()
            if number % 4 == 0:
                row["brand"] = "_" + row["brand"]
            if number % 3 == 0:
                row["sku"] = row["sku"].lower()
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


@pytest.fixture(scope="module")
def shops(
    server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Workspace, Workspace]]:
    root = tmp_path_factory.mktemp("hunt")
    synthetic.generate(root / "data", customers=300, seed=7)
    lower_some_names(root / "data")
    local, remote = twin_shops(root, language_database(server, "collated"))
    yield local, remote
    local.close()
    remote.close()


def test_text_sorts_by_its_bytes_whatever_the_database_collation(
    shops: tuple[Workspace, Workspace],
) -> None:
    """Migration's flows are listed by name (``new`` fell among ``New`` and ``Need
    attention``), and the ideal customer profile picks a first purchase's category with ties
    broken by name (``Apparel`` and ``apparel`` swapped their customers)."""
    local, remote = shops
    for dimension in ("rfm_segment", "stage"):
        mine = local.segment_migration(FROM, as_of=AS_OF, dimension=dimension)
        same(mine, remote.segment_migration(FROM, as_of=AS_OF, dimension=dimension), dimension)
    same(local.insights.profile(as_of=AS_OF), remote.insights.profile(as_of=AS_OF), "profile")
    lines = [ws.table("order_lines") for ws in shops]
    same(
        *[
            t.aggregate(low=t.category.min(), high=t.sku.max()).to_pyarrow().to_pylist()
            for t in lines
        ]
    )
    ordered = [t.select("category").distinct().order_by("category").to_pyarrow() for t in lines]
    same(*[table.column(0).to_pylist() for table in ordered])


def test_csv_exports_are_the_same_file(shops: tuple[Workspace, Workspace], tmp_path: Path) -> None:
    """PostgreSQL's rows went through pyarrow's CSV writer: every text quoted, a float 122.0
    written ``122``, an instant ``2024-09-01 04:00:00.000000Z`` against DuckDB's ``+00``."""
    files = []
    for i, ws in enumerate(shops):
        ws.export_customers(tmp_path / f"customers{i}.csv", as_of=AS_OF)
        ws.create_experiment("hunt", audience="all", holdout=0.1, start=date(2024, 9, 1))
        ws.export_assignments("hunt", tmp_path / f"assignments{i}.csv")
        ws.delete_experiment("hunt")
        files.append(
            [(tmp_path / f"{name}{i}.csv").read_text() for name in ("customers", "assignments")]
        )
    assert "+00" in files[0][1]
    assert files[0] == files[1]


def test_a_load_after_one_the_warehouse_missed_clears_it(server: str, tmp_path: Path) -> None:
    """A load that finds an earlier one missing sends every table (the catch-up), which covers
    the missed load: it stayed unpublished in `patron status`, and every later load sent every
    table again until `patron publish`."""
    from patron.publish import plan

    url = pg_server.create_database(server, "missed")
    header = "order_id,email,ordered_at,revenue\n"
    first, second, third = (tmp_path / f"{n}.csv" for n in ("first", "second", "third"))
    first.write_text(header + "A1,a@x.com,2024-01-02 10:00:00,10.10\n")
    second.write_text(header + "B1,b@x.com,2024-02-02 10:00:00,20.20\n")
    third.write_text(header + "C1,a@x.com,2024-03-02 10:00:00,30.30\n")
    Workspace.init(tmp_path / "ws", warehouse=url).close()
    config, nobody = tmp_path / "ws" / "patron.toml", _nobody(server)
    with Workspace.open(tmp_path / "ws") as ws:
        ws.load("orders", first)
    config.write_text(config.read_text().replace(server, nobody))
    with Workspace.open(tmp_path / "ws") as ws, pytest.raises(WorkspaceError):
        ws.load("orders", second)
    config.write_text(config.read_text().replace(nobody, server))
    with Workspace.open(tmp_path / "ws") as ws:
        assert ws.status()["unpublished_loads"] == [2]
        ws.load("orders", third)  # catches up: every table
        assert ws.status()["unpublished_loads"] == []
        assert ws.table("orders").count().to_pyarrow().as_py() == 3
        later = tmp_path / "later.csv"
        later.write_text(header + "D1,b@x.com,2024-04-02 10:00:00,40.40\n")
        result = ws.load("orders", later)
        assert plan(ws.warehouse.duckdb, result).whole == ()  # its own rows, not every table
        assert ws.table("orders").count().to_pyarrow().as_py() == 4


def test_a_password_in_the_url_s_query_is_never_shown(server: str, tmp_path: Path) -> None:
    """PostgreSQL's client reads ``?password=`` too; init's error, its answer and `patron
    status` printed it."""
    assert without_password("postgres://me@db/shop?sslmode=require&Password=s3cret") == (
        "postgres://me@db/shop?sslmode=require&Password=***"
    )
    nowhere = f"postgres://me@127.0.0.1:{pg_server.free_port()}/db?password=s3cret"
    with pytest.raises(WorkspaceError, match=r"password=\*\*\*") as failed:
        Workspace.init(tmp_path / "nowhere", warehouse=nowhere)
    assert "s3cret" not in str(failed.value)
    url = pg_server.create_database(server, "secret") + "?password=s3cret"
    with Workspace.init(tmp_path / "ws", warehouse=url) as ws:
        assert ws.status()["warehouse"].endswith("/secret?password=***")
    with pytest.raises(WorkspaceError, match="already has tables") as taken:
        Workspace.init(tmp_path / "again", warehouse=url)
    assert "s3cret" not in str(taken.value)


def test_assignments_exported_after_a_load_keep_their_instant(tmp_path: Path) -> None:
    """A load set the engine's session to the shop's zone and left it so: a DuckDB workspace
    then wrote 04:00 UTC as ``04:00:00-04`` (08:00 UTC), where PostgreSQL's session is UTC."""
    paths = synthetic.generate(tmp_path / "data", customers=60, seed=9)
    ws = Workspace.init(tmp_path / "ws", timezone="America/New_York", phone_region="US")
    ws.load("orders", paths["orders"])
    ws.create_experiment("t", audience="all", start=date(2024, 9, 1))
    ws.export_assignments("t", tmp_path / "before.csv")
    ws.load("events", paths["events"])
    ws.export_assignments("t", tmp_path / "after.csv")
    before = (tmp_path / "before.csv").read_text()
    assert "2024-09-01 04:00:00+00" in before
    assert (tmp_path / "after.csv").read_text() == before
    ws.close()
