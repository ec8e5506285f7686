"""A warehouse on PostgreSQL: the same synthetic shop loaded into a workspace on the embedded
DuckDB and into one on a real PostgreSQL server (started here), and every metric, model,
segment, insight and experiment readout compared between the two. The answers must agree:
patron's expressions are meant to run in whatever warehouse the data lives in."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import ibis
import pyarrow.parquet as pq
import pytest

import pg_server
from cli_support import ok, patron
from patron.errors import InputError, WorkspaceError
from patron.insights.channels import survey_scores
from patron.samples import synthetic
from patron.warehouse import PUBLISHED
from patron.workspace import Workspace

TABLES = {
    "customers": "customers",
    "orders": "orders",
    "lines": "order_lines",
    "products": "products",
    "events": "events",
}
AS_OF, CALIBRATION_END = date(2024, 12, 31), date(2024, 6, 30)


def twin_shops(root: Path, url: str) -> tuple[Workspace, Workspace]:
    """The sample's files in ``root / "data"`` loaded, without a rejected row, into a DuckDB
    workspace and one whose warehouse is ``url``, both in New York."""
    options = {"timezone": "America/New_York", "phone_region": "US"}
    local = Workspace.init(root / "duck", **options)
    remote = Workspace.init(root / "pg", warehouse=url, **options)
    for ws in (local, remote):
        for table, name in TABLES.items():
            assert ws.load(table, root / "data" / f"{name}.csv").quarantined == 0
    return local, remote


@pytest.fixture(scope="module")
def shops(
    server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Workspace, Workspace]]:
    """The synthetic sample (600 people) in a DuckDB workspace and a PostgreSQL one."""
    root = tmp_path_factory.mktemp("shops")
    synthetic.generate(root / "data", customers=600, seed=4)
    url = pg_server.create_database(server, "shop")
    local, remote = twin_shops(root, url)
    surveys = free_text_surveys(root / "surveys.csv")
    for ws in (local, remote):
        assert ws.load("events", surveys).quarantined == 0
    yield local, remote
    local.close()
    remote.close()


FREE_TEXT_ANSWERS = {
    "free.text@example.com": ("clicked the banner", None),
    "python.dict@example.com": ("{'nps': 9}", None),  # not JSON: single quotes
    "in.words@example.com": ('{"nps": "nine"}', None),
    "padded@example.com": ('{"score": " 8 "}', 8.0),
}
"""Survey answers as shops send them, by respondent: properties and the score read from them."""


def free_text_surveys(path: Path) -> Path:
    """Survey events whose properties are free text, broken JSON or a score in words."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["event_id", "email", "occurred_at", "type", "properties"])
        for n, (email, (properties, _)) in enumerate(FREE_TEXT_ANSWERS.items()):
            writer.writerow(
                [f"S{n}", email, f"2024-06-0{n + 1} 10:00", "survey_response", properties]
            )
    return path


def same(a: Any, b: Any, where: str = "") -> None:
    """``a`` and ``b`` equal, floats to 1e-9 relative (the engines sum in other orders)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for key in a:
            same(a[key], b[key], f"{where}/{key}")
    elif isinstance(a, list | tuple):
        assert isinstance(b, list | tuple) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and isinstance(b, float | int):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9) or (
            math.isnan(a) and math.isnan(b)
        ), f"{where}: {a} != {b}"
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def test_the_warehouse_holds_the_engine_s_tables(shops: tuple[Workspace, Workspace]) -> None:
    local, remote = shops
    assert remote.warehouse.ibis.name == "postgres"
    for name in ("orders", "order_lines", "events", "customers", "identities"):
        keys = [c for c in ("order_id", "customer_key", "sku", "value") if c in local.table(name)]
        mine = local.table(name).select(*keys).order_by(keys).to_pyarrow().to_pylist()
        theirs = remote.table(name).select(*keys).order_by(keys).to_pyarrow().to_pylist()
        assert mine == theirs, name
    mine, theirs = local.status(), remote.status()  # the loader's bookkeeping is the engine's
    for status in (mine, theirs):  # the two shops' last loads ended at their own moments
        status["last_load"].pop("finished_at")
    assert theirs.pop("warehouse").startswith("postgres://") and theirs["unpublished_loads"] == []
    assert mine.pop("warehouse") == "duckdb://warehouse.duckdb" and mine == theirs


@pytest.mark.parametrize(
    "call",
    [
        lambda ws: ws.kpis(as_of=AS_OF),
        lambda ws: ws.kpis(as_of=AS_OF, by="acquisition_channel"),
        lambda ws: ws.kpis(as_of=AS_OF, by="channel", window=180),
        lambda ws: ws.kpis(as_of=date(2024, 3, 31), trend=True),
        lambda ws: ws.concentration(as_of=AS_OF),
        *(
            (lambda ws, m=metric: ws.cohorts(as_of=AS_OF, metric=m))
            for metric in ("retention", "revenue", "customers", "cumulative_revenue", "repeat")
        ),
        lambda ws: ws.cohorts(as_of=AS_OF, period="season", metric="retention"),
        lambda ws: ws.clv_curves(as_of=AS_OF),
        lambda ws: ws.segment_summary(as_of=AS_OF),
        lambda ws: ws.segment_migration(CALIBRATION_END, as_of=AS_OF, dimension="stage"),
        lambda ws: ws.fit("bgnbd", calibration_end=AS_OF).params_,
        lambda ws: ws.fit("gg", calibration_end=AS_OF).params_,
        lambda ws: ws.validate(CALIBRATION_END, AS_OF),
        lambda ws: ws.acquisition(as_of=AS_OF),
    ],
    ids=[
        "kpis",
        "kpis-by-acquisition",
        "kpis-by-channel",
        "kpi-trend",
        "concentration",
        "cohorts-retention",
        "cohorts-revenue",
        "cohorts-customers",
        "cohorts-cumulative",
        "cohorts-repeat",
        "cohorts-season",
        "clv-curves",
        "segments",
        "migration",
        "fit-bgnbd",
        "fit-gg",
        "validate",
        "acquisition",
    ],
)
def test_metrics_and_models_agree(shops: tuple[Workspace, Workspace], call: Any) -> None:
    local, remote = shops
    same(call(local), call(remote))


def test_predictions_segments_and_insights_agree(shops: tuple[Workspace, Workspace]) -> None:
    local, remote = shops
    stored = []
    for ws in shops:
        table = ws.predict(as_of=AS_OF, store=True)
        stored.append(table.order_by("customer_key").to_pyarrow().to_pylist())
    same(*stored)
    same(local.segment_summary(as_of=AS_OF), remote.segment_summary(as_of=AS_OF))
    for name, options in (
        ("timing", {}),
        ("affinity", {"by": "category"}),
        ("discount", {}),
        ("replenishment", {}),
        ("profile", {}),
        ("channels", {}),
        ("backtest", {}),
    ):
        mine = getattr(local.insights, name)(as_of=AS_OF, **options)
        same(mine, getattr(remote.insights, name)(as_of=AS_OF, **options), name)
    picks = [ws.insights.recommend("1", as_of=AS_OF).to_pyarrow().to_pylist() for ws in shops]
    same(*(sorted(rows, key=lambda r: (r["customer_key"], r["rank"])) for rows in picks))


def test_free_text_survey_answers_are_skipped_not_fatal(
    shops: tuple[Workspace, Workspace],
) -> None:
    """PostgreSQL fails a query on the first text its casts cannot read; scores are read from
    JSON properties alone, as DuckDB does."""
    scores = []
    for ws in shops:
        keys = ws.table("identities").filter(lambda t: t.identifier_type == "email")
        answers = survey_scores(ws.table("events"), AS_OF, timezone="America/New_York")
        found = answers.join(keys, "customer_key").select("value", "score").to_pyarrow()
        scores.append({row["value"]: row["score"] for row in found.to_pylist()})
    expected = {email: score for email, (_, score) in FREE_TEXT_ANSWERS.items() if score}
    assert {k: v for k, v in scores[1].items() if k in FREE_TEXT_ANSWERS} == expected
    same(*scores)


def test_sessions_run_without_jit(shops: tuple[Workspace, Workspace]) -> None:
    """PostgreSQL's JIT spent most of an insight query compiling it (portable.POSTGRES_SESSION)."""
    setting = shops[1].warehouse.ibis.sql("SELECT current_setting('jit') AS jit").to_pyarrow()
    assert setting.column("jit").to_pylist() == ["off"]


def test_customer_exports_agree(shops: tuple[Workspace, Workspace], tmp_path: Path) -> None:
    rows = []
    for i, ws in enumerate(shops):
        out = tmp_path / f"customers{i}.parquet"
        ws.export_customers(out, as_of=AS_OF)
        rows.append(pq.read_table(out).sort_by("customer_key").to_pylist())
    same(*rows)


def test_experiments_assign_and_read_out_alike(shops: tuple[Workspace, Workspace]) -> None:
    readouts, groups = [], []
    for ws in shops:
        created = ws.create_experiment(
            "winback",
            audience="stage=defecting",
            holdout=0.1,
            start=date(2024, 9, 1),
            metric="revenue",
            window=60,
        )
        groups.append(created["groups"])
        table = ws.experiment_assignments("winback").select("customer_key", "variant")
        readouts.append(
            (
                table.order_by("customer_key").to_pyarrow().to_pylist(),
                ws.analyze_experiment("winback", as_of=AS_OF),
            )
        )
    same(*groups)
    same(*readouts)
    local, remote = shops
    remote.delete_experiment("winback")
    assert remote.table("experiment_assignments").count().to_pyarrow().as_py() == 0
    local.delete_experiment("winback")


def test_the_cli_loads_into_postgres_and_copies_again_on_demand(
    server: str, tmp_path: Path
) -> None:
    url = pg_server.create_database(server, "cli").replace("patron@", "patron:secret@")
    paths = synthetic.generate(tmp_path / "data", customers=80, seed=2)
    created = ok(patron("init", "ws", "--warehouse", url, "--json", cwd=tmp_path))
    assert created["warehouse"] == url.replace(":secret@", ":***@")  # no password shown
    loaded = ok(patron("-w", "ws", "load", "orders", str(paths["orders"]), "--json", cwd=tmp_path))
    orders = ibis.connect(url).table("orders")
    assert orders.count().to_pyarrow().as_py() == loaded["inserted"] > 0
    assert "row_hash" not in orders.columns  # the loader's content hash stays in the engine
    kpis = ok(patron("-w", "ws", "kpis", "--json", cwd=tmp_path))
    assert kpis["orders"] > 0
    copied = ok(patron("-w", "ws", "publish", "--json", cwd=tmp_path))
    assert "orders" in copied["tables"] and "purchase_occasions" in copied["tables"]
    status = ok(patron("-w", "ws", "status", cwd=tmp_path))
    assert "warehouse            postgres://patron:***@" in status and "misses" not in status


def test_a_second_workspace_on_the_same_database_is_refused(
    shops: tuple[Workspace, Workspace], tmp_path: Path
) -> None:
    remote = shops[1]
    orders = remote.table("orders").count().to_pyarrow().as_py()
    with pytest.raises(WorkspaceError, match=r"already has tables patron writes: .*orders"):
        Workspace.init(tmp_path / "again", warehouse=remote.config.warehouse)
    assert remote.table("orders").count().to_pyarrow().as_py() == orders > 0
    assert not (tmp_path / "again").exists()


def test_a_load_the_warehouse_misses_is_kept_and_copied_later(server: str, tmp_path: Path) -> None:
    url = pg_server.create_database(server, "later")
    paths = synthetic.generate(tmp_path / "data", customers=50, seed=3)
    Workspace.init(tmp_path / "ws", warehouse=url).close()
    config, nobody = tmp_path / "ws" / "patron.toml", _nobody(server)
    config.write_text(config.read_text().replace(server, nobody))  # the warehouse goes away
    with Workspace.open(tmp_path / "ws") as ws, pytest.raises(WorkspaceError) as failed:
        ws.load("orders", paths["orders"])
    assert "cannot connect" in str(failed.value) and "patron publish" in str(failed.value)
    config.write_text(config.read_text().replace(nobody, server))  # and comes back
    with Workspace.open(tmp_path / "ws") as ws:
        status = ws.status()
        orders = status["orders"]
        assert orders > 0  # the load committed in the engine
        assert ws.table("orders").count().to_pyarrow().as_py() == 0  # not copied yet
        assert status["unpublished_loads"] == [1]
        assert "orders" in ws.publish()
        assert ws.status()["unpublished_loads"] == []
        assert ws.kpis(as_of=AS_OF)["orders"] > 0
        table = ws.table("orders")
        assert table.filter(~table.is_return).count().to_pyarrow().as_py() == orders


def _nobody(server: str) -> str:
    """``server`` with a port where nothing listens."""
    return server.rsplit(":", 1)[0] + f":{pg_server.free_port()}"


def test_a_warehouse_url_patron_cannot_use_is_a_clear_error(tmp_path: Path) -> None:
    # in a process of its own: Ibis's failed import of a missing backend lingers to the exit
    missing = patron("init", "a", "--warehouse", "snowflake://acct/db", cwd=tmp_path)
    assert missing.returncode == 2
    assert "pip install 'ibis-framework[snowflake]'" in missing.stderr
    with pytest.raises(InputError, match="names no Ibis backend"):
        Workspace.init(tmp_path / "b", warehouse="nosuch://x")
    with pytest.raises(InputError, match="is not a URL"):
        Workspace.init(tmp_path / "c", warehouse="warehouse.duckdb")
    with pytest.raises(WorkspaceError, match=r"cannot connect .*u:\*\*\*@127\.0\.0\.1"):
        Workspace.init(
            tmp_path / "d", warehouse=f"postgres://u:pw@127.0.0.1:{pg_server.free_port()}/db"
        )
    assert not any(tmp_path.iterdir())  # a failed init leaves nothing behind


def test_json_keys_of_publish_on_an_embedded_warehouse(tmp_path: Path) -> None:
    ok(patron("init", "ws", cwd=tmp_path))
    answer = ok(patron("-w", "ws", "publish", "--json", cwd=tmp_path))
    assert answer["tables"] == [] and json.dumps(answer)


def test_other_backends_get_the_rows_through_ibis_inserts(tmp_path: Path) -> None:
    """The path every warehouse but PostgreSQL takes, here into a second DuckDB file."""
    from patron.publish import BATCH_ROWS, Plan, publish

    ws = Workspace.init(tmp_path / "ws", phone_region="US")
    paths = synthetic.generate(tmp_path / "data", customers=40, seed=5)
    ws.load("orders", paths["orders"])
    ws.warehouse.duckdb.execute(  # more rows than one batch, nulls and empty text among them
        f"INSERT INTO products (sku, name) SELECT 'S' || i, CASE WHEN i % 3 = 0 THEN NULL "
        f"WHEN i % 3 = 1 THEN '' ELSE 'x' END FROM range({BATCH_ROWS + 5}) t(i)"
    )
    other = ibis.duckdb.connect(tmp_path / "other.duckdb")
    copied = publish(ws.warehouse.duckdb, other, Plan(("orders", "products", "no_such_table")))
    assert copied == ["orders", "products"]
    for name in copied:
        mine = ws.table(name).to_pyarrow()
        assert other.table(name).to_pyarrow().equals(mine.drop_columns(["row_hash"])), name
    ws.close()


def test_the_operational_store_on_postgres_records_experiments(server: str, tmp_path: Path) -> None:
    """The design keeps experiments' records in an operational store: SQLite in the workspace
    by default, PostgreSQL by URL (written as the warehouse's, ``postgres://``)."""
    import sqlalchemy as sa

    url = pg_server.create_database(server, "store")
    paths = synthetic.generate(tmp_path / "data", customers=80, seed=6)
    ws = Workspace.init(tmp_path / "ws", store=url, phone_region="US")
    assert ws.store.schema_version() == "1"
    ws.load("orders", paths["orders"])
    created = ws.create_experiment("promo", audience="all", start=date(2024, 9, 1))
    engine = sa.create_engine(url.replace("postgres://", "postgresql+psycopg://"))
    count = "SELECT count(*) FROM experiment_assignments WHERE experiment = 'promo'"
    with engine.connect() as conn:
        assert conn.execute(sa.text(count)).scalar() == created["audience_size"] > 0
    assert ws.analyze_experiment("promo", as_of=AS_OF)["variants"]
    ws.delete_experiment("promo")
    with engine.connect() as conn:
        assert conn.execute(sa.text(count)).scalar() == 0
    engine.dispose()
    ws.close()


def linking_order(ws: Workspace, path: Path) -> Path:
    """An order carrying one customer's e-mail and another's customer id, who both have orders,
    events and a CRM record: the load merges them."""
    ids = ws.warehouse.engine.table("identities")
    buyers = ws.warehouse.engine.table("orders").customer_key
    keyed = [ws.warehouse.engine.table(t).customer_key for t in ("events", "customer_records")]
    ids = ids.filter(ids.customer_key.isin(buyers), *(ids.customer_key.isin(k) for k in keyed))
    email = ids.filter(ids.identifier_type == "email").order_by("customer_key").limit(1)
    other = (
        ids.filter(
            ids.identifier_type == "customer_id", ids.customer_key != email.customer_key.as_scalar()
        )
        .order_by("customer_key")
        .limit(1)
    )
    (first,), (second,) = email.value.to_pyarrow(), other.value.to_pyarrow()
    path.write_text(
        "order_id,email,customer_id,ordered_at,channel,revenue\n"
        f"L1,{first.as_py()},{second.as_py()},2024-12-31 12:00:00,web,30.00\n"
    )
    return path


def test_a_load_adds_its_rows_and_copies_again_only_what_it_changed(
    server: str, tmp_path: Path
) -> None:
    from patron.publish import Plan, plan

    url = pg_server.create_database(server, "append")
    paths = synthetic.generate(tmp_path / "data", customers=120, seed=8)
    ws = Workspace.init(tmp_path / "ws", warehouse=url, phone_region="US")
    for table in ("products", "orders", "events", "customers"):
        ws.load(table, paths[TABLES[table]])
    more = tmp_path / "more.csv"  # two orders of a known email: no new identifier, no merge
    email = ws.table("orders").filter(lambda t: t.email.notnull()).email.min().to_pyarrow()
    more.write_text(
        "order_id,email,ordered_at,channel,revenue\n"
        f"X1,{email.as_py()},2024-12-30 10:00:00,web,12.50\n"
        f"X2,{email.as_py()},2024-12-31 11:00:00,store,20.00\n"
    )
    added = ws.load("orders", more)
    assert (added.inserted, added.merges) == (2, 0)
    derived = ("customers", "identities", "purchase_occasions")
    assert plan(ws.warehouse.duckdb, added) == Plan((), "orders", added.load_id, derived)
    price = tmp_path / "price.csv"  # a product's new price updates its row: copied whole
    first = paths["products"].read_text().splitlines()[:2]
    price.write_text(first[0] + "\n" + first[1].replace(first[1].split(",")[4], "99.99") + "\n")
    updated = ws.load("products", price)
    assert updated.updated == 1
    assert plan(ws.warehouse.duckdb, updated) == Plan(("products",), None, updated.load_id)
    merged = ws.load("orders", linking_order(ws, tmp_path / "link.csv"))
    assert (merged.inserted, merged.merges) == (1, 1)
    keyed = ("orders", "customer_records", "events", *derived)
    assert plan(ws.warehouse.duckdb, merged) == Plan((), "orders", merged.load_id, keyed)
    for name, keys in (
        ("orders", ["order_id"]),
        ("products", ["sku"]),
        ("events", ["event_id"]),
        ("customer_records", ["row_key"]),
        ("customers", ["customer_key"]),
        ("identities", ["identifier_type", "value"]),
        ("purchase_occasions", ["customer_key", "order_date"]),
    ):
        mine = ws.warehouse.engine.table(name)
        mine = mine.drop("row_hash") if "row_hash" in mine.columns else mine
        theirs = ws.warehouse.ibis.table(name).order_by(keys).to_pyarrow()
        assert theirs.equals(mine.order_by(keys).to_pyarrow()), name
    ws.warehouse.duckdb.execute(f"DELETE FROM publications WHERE load_id = {added.load_id}")
    assert plan(ws.warehouse.duckdb, updated) == Plan(PUBLISHED)  # behind: copy everything
    ws.close()


def test_a_customer_dissolved_by_blocking_keeps_its_orders_in_the_warehouse(
    server: str, tmp_path: Path
) -> None:
    # a walk-in known only by the store's email is dissolved when a later load blocks that
    # email: its order, keyed to no one now, must reach PostgreSQL too (it was deleted there)
    url = pg_server.create_database(server, "dissolve")
    ws = Workspace.init(tmp_path / "ws", warehouse=url, phone_region="US", max_links=2)
    first, later = tmp_path / "first.csv", tmp_path / "later.csv"
    header = "order_id,email,phone,ordered_at,revenue\n"
    first.write_text(header + "A1,a@x.com,,2024-01-02,10\nA2,till@store.example,,2024-01-03,20\n")
    walk_ins = [f"B{i},till@store.example,212555100{i},2024-01-0{i + 4},5\n" for i in range(3)]
    later.write_text(header + "".join(walk_ins))
    ws.load("orders", first)
    ws.load("orders", later)
    orders = ws.warehouse.ibis.table("orders").order_by("order_id")
    assert orders.order_id.to_pyarrow().to_pylist() == ["A1", "A2", "B0", "B1", "B2"]
    mine = ws.warehouse.engine.table("orders").order_by("order_id").customer_key.to_pyarrow()
    assert orders.customer_key.to_pyarrow().to_pylist() == mine.to_pylist()
    assert mine.to_pylist()[1] is None  # A2 belongs to no one
    ws.close()
