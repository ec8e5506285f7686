"""A notebook user's hunt on the Python API: data frames handed to ``ws.load`` store what
their CSV export stores (times as the instants they are, ids as written, nothing turned into
codes or addresses), a frame the warehouse cannot take is refused in one line naming the
column, and a workspace's settings and folder are checked before anything runs on them."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

from patron import InputError, NotFoundError, Workspace, WorkspaceError

pl = pytest.importorskip("polars")

NOW = datetime(2025, 1, 1, tzinfo=UTC)
CSV = (
    "order_id,customer_id,email,ordered_at,revenue\n"
    "00123,7,a@x.com,2024-03-05 14:02:00,12.50\n"
    "00124,,b@x.com,2024-03-06 09:00:00,8.00\n"
)
"""Two orders in Berlin time, the second without a customer_id."""
WALL = pd.to_datetime(["2024-03-05 14:02", "2024-03-06 09:00"])


def orders(**columns: Any) -> pd.DataFrame:
    """The orders of ``CSV`` as a frame, with ``columns`` replaced."""
    frame = pd.DataFrame(
        {
            "order_id": ["00123", "00124"],
            "customer_id": ["7", None],
            "email": ["a@x.com", "b@x.com"],
            "ordered_at": WALL,
            "revenue": [12.5, 8.0],
        }
    )
    return frame.assign(**columns)


@pytest.fixture
def ws(tmp_path: Path) -> Any:
    with Workspace.init(tmp_path / "ws", timezone="Europe/Berlin") as workspace:
        yield workspace


def stored(ws: Workspace, source: Any, table: str = "orders", **options: Any) -> list[dict]:
    """What loading ``source`` into a fresh ``table`` stores, sorted by its first column."""
    ws.load(table, source, now=NOW, **options)
    name = {"events": "events", "products": "products"}.get(table, "orders")
    columns = {
        "orders": [
            "order_id",
            "customer_id",
            "email",
            "ordered_at",
            "channel",
            "revenue",
            "attributes",
        ],
        "products": ["sku", "in_stock", "attributes"],
        "events": ["email", "occurred_at", "properties", "attributes"],
    }[name]
    rows = ws.table(name).select(*columns).order_by(columns[0]).to_pyarrow().to_pylist()
    return [{**r, "attributes": r["attributes"] and json.loads(r["attributes"])} for r in rows]


@pytest.fixture(scope="module")
def from_csv(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    """What loading ``CSV`` stores: what each frame of its orders must store."""
    folder = tmp_path_factory.mktemp("csv")
    (folder / "orders.csv").write_text(CSV)
    with Workspace.init(folder / "ws", timezone="Europe/Berlin") as twin:
        return stored(twin, folder / "orders.csv")


# --- times ----------------------------------------------------------------------------------------


def _nanosecond_parquet(tmp_path: Path) -> Path:
    path = tmp_path / "orders.parquet"
    zoned = orders(ordered_at=WALL.tz_localize("Europe/Berlin").astype("datetime64[ns, UTC]"))
    zoned.to_parquet(path)
    return path


@pytest.mark.parametrize(
    "make",
    [
        lambda tmp: orders(ordered_at=WALL.tz_localize("Europe/Berlin").as_unit("ns")),
        lambda tmp: pa.table(orders(ordered_at=WALL.tz_localize("Asia/Tokyo").as_unit("ns"))),
        _nanosecond_parquet,
    ],
    ids=["pandas datetime64[ns, Europe/Berlin]", "arrow timestamp[ns, tz]", "Parquet"],
)
def test_nanosecond_zoned_times_are_instants(
    ws: Workspace, tmp_path: Path, make: Any, from_csv: list[dict]
) -> None:
    """DuckDB reads them as TIMESTAMPTZ_NS, which it does not cast to a naive time: the load
    had failed with its ConversionException (Tokyo's wall times are other instants)."""
    source = make(tmp_path)
    rows = stored(ws, source)
    if isinstance(source, pa.Table):
        assert rows[0]["ordered_at"] == datetime(2024, 3, 5, 5, 2)  # 14:02 in Tokyo, in UTC
    else:
        assert rows == from_csv


def test_naive_and_zoned_times_in_one_column_load_as_their_csv(
    ws: Workspace, from_csv: list[dict]
) -> None:
    """Arrow took the zoned one's UTC wall time for a naive one, shop time: an hour off."""
    mixed = [datetime(2024, 3, 5, 14, 2), datetime(2024, 3, 6, 8, tzinfo=UTC)]
    assert stored(ws, orders(ordered_at=pd.Series(mixed, dtype=object))) == from_csv


# --- values kept as written ---------------------------------------------------------------------


def test_integers_pandas_widened_for_a_gap_load_as_integers(
    ws: Workspace, from_csv: list[dict]
) -> None:
    """A missing value turns an integer column into floats (read_csv, a left merge): customer 7
    had loaded as '7.0', another customer than the CSV's 7, and in_stock 1.0 was quarantined."""
    assert stored(ws, orders(customer_id=[7.0, float("nan")])) == from_csv
    catalog = pd.DataFrame({"sku": ["s1", "s2", "s3"], "in_stock": [1.0, float("nan"), 0.0]})
    assert [r["in_stock"] for r in stored(ws, catalog, "products")] == [True, None, False]
    assert ws.status()["quarantined"] == 0


def test_missing_values_beside_other_kinds_load_as_missing(ws: Workspace) -> None:
    """A column Arrow cannot type (text beside numbers or dates) goes as text: pandas' NA had
    become the channel "<NA>", and a NaT the text "NaT", quarantined as no ISO date instead of
    as a missing value."""
    frame = pd.DataFrame(
        {
            "email": ["a@x.com", "b@x.com", "c@x.com"],
            "ordered_at": pd.Series([date(2024, 3, 5), "2024-03-06", pd.NaT], dtype=object),
            "channel": pd.Series(["web", pd.NA, 5], dtype=object),
            "revenue": [1.0, 2.0, 3.0],
        }
    )
    assert ws.load("orders", frame, now=NOW).quarantined == 1
    assert [q["reason"] for q in ws.quarantine()] == ["missing value"]
    channels = ws.table("orders").order_by("email").channel.to_pyarrow().to_pylist()
    assert channels == ["web", None]


def test_periods_and_python_objects_load_as_their_text(ws: Workspace) -> None:
    """A period reached Arrow as months since 1970 (648), a polars Object as memory addresses."""
    frame = orders(month=pd.period_range("2024-03", periods=2, freq="M"))
    assert [r["attributes"]["month"] for r in stored(ws, frame)] == ["2024-03", "2024-04"]
    objects = pl.from_pandas(orders()).with_columns(
        pl.Series("note", [Decimal("1.50"), {"gift": True}], dtype=pl.Object),
        pl.Series("order_id", ["o1", "o2"]),
    )
    notes = [r["attributes"]["note"] for r in stored(ws, objects) if r["order_id"].startswith("o")]
    assert notes == ["1.50", '{"gift": true}']


def test_an_objects_column_is_an_events_json_properties(ws: Workspace, tmp_path: Path) -> None:
    """A dict column ``properties`` (a frame's, a JSON-lines file's) had gone to attributes,
    where the NPS never looked; mapped by name it was stored as DuckDB's text of a struct,
    which drops the quotes of its strings and is no JSON."""
    answer = {"score": 9, "text": "ok"}
    events = pd.DataFrame(
        {
            "email": ["a@x.com"],
            "occurred_at": ["2024-03-05 14:02"],
            "type": ["survey_response"],
            "properties": [answer],
        }
    )
    file = tmp_path / "events.jsonl"
    file.write_text(events.to_json(orient="records", lines=True))
    for source in (events, file):
        [row] = stored(ws, source, "events", mapping={"properties": "properties"})
        assert (row["properties"], row["attributes"]) == ('{"score":9,"text":"ok"}', None)
    with Workspace.init(tmp_path / "by-name") as fresh:
        assert stored(fresh, events, "events")[0]["properties"] == '{"score":9,"text":"ok"}'


# --- frames of every kind -----------------------------------------------------------------------


def test_arrow_streams_and_batches_load_as_tables(ws: Workspace, from_csv: list[dict]) -> None:
    table = pa.table(orders())
    reader = pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=1))
    assert stored(ws, reader) == from_csv
    assert ws.load("orders", table.to_batches()[0], now=NOW).duplicates == 2


def test_arrow_types_duckdb_lacks_load_or_name_their_column(
    ws: Workspace, from_csv: list[dict]
) -> None:
    """Half floats and 256-bit decimals had failed in DuckDB (Not implemented Error), complex
    numbers in Arrow; a union, which nothing stands in for, is named."""
    revenue = pa.array([Decimal("12.50"), Decimal("8.00")], pa.decimal256(40, 2))
    table = pa.table(orders()).set_column(4, "revenue", revenue)
    assert stored(ws, table) == from_csv
    half = pa.array([1.5, 2.0], pa.float16())
    complex_ = orders(wave=[1 + 2j, 3j])
    assert ws.load("orders", table.append_column("half", half), now=NOW).duplicates == 2
    assert ws.load("orders", complex_, now=NOW).inserted == 0  # same rows, its text kept
    types, offsets = pa.array([0, 1], pa.int8()), pa.array([0, 0], pa.int32())
    union = pa.UnionArray.from_dense(types, offsets, [pa.array([1]), pa.array(["a"])])
    with pytest.raises(InputError, match=r"column 'either': .* cannot read Arrow type dense_union"):
        ws.load("orders", table.append_column("either", union), now=NOW)
    assert ws.status()["orders"] == 2


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame(), "the frame has no columns"),
        (
            orders().set_axis(["order_id", "email", "email", "ordered_at", "revenue"], axis=1),
            "two columns have the name 'email'",
        ),
        (orders(Email=["c@x.com", "d@x.com"]), "two columns have 'email' and 'Email'"),
        (pa.table({"sku": ["s1"], "SKU": ["s2"]}), "two columns have 'sku' and 'SKU'"),
        (
            orders().set_axis(pd.MultiIndex.from_product([["o"], list(orders())]), axis=1),
            r"columns have 2 levels .* df.columns = \['_'.join",
        ),
        (orders().set_axis(pd.Index(["x", "y"], name="order_id")), "index and a column are both"),
    ],
    ids=["no columns", "twice", "in two cases", "arrow in two cases", "MultiIndex", "index"],
)
def test_columns_that_cannot_be_told_apart_are_refused(
    ws: Workspace, frame: Any, message: str
) -> None:
    """These had failed in DuckDB or pandas (no columns, a name twice, an index named as a
    column) or loaded the second column as ``email_1`` (names in two cases)."""
    with pytest.raises(InputError, match=message):
        ws.load("products" if isinstance(frame, pa.Table) else "orders", frame, now=NOW)


def test_an_index_that_repeats_its_column_loads(ws: Workspace, from_csv: list[dict]) -> None:
    frame = orders().set_index("order_id", drop=False)
    assert stored(ws, frame) == from_csv


def test_a_mapping_names_a_column_by_its_label(ws: Workspace, from_csv: list[dict]) -> None:
    """A frame's columns may be numbers: mapping={3: "ordered_at"} had raised AttributeError."""
    frame = orders().rename(columns={"ordered_at": 3})
    assert stored(ws, frame, mapping={3: "ordered_at"}) == from_csv


# --- workspaces -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("timezone = 5", r"timezone = 5 is not text; .* timezone = \"UTC\""),
        ('[identity]\nmax_links = "5"', 'max_links = "5" is not a whole number'),
        ("identity = 3", r"identity = 3 is not a table; write it as \[identity\]"),
        ('timezone = "Mars/Olympus"', "patron.toml: unknown timezone 'Mars/Olympus'"),
        ('currency = "\udcff"', "not valid TOML .*can't decode"),
    ],
)
def test_a_bad_patron_toml_is_named(tmp_path: Path, setting: str, message: str) -> None:
    """Values of the wrong kind had failed with TypeError deep inside; the file was not named."""
    Workspace.init(tmp_path / "ws").close()
    toml = tmp_path / "ws" / "patron.toml"
    toml.write_bytes(setting.encode("utf-8", "surrogateescape") + b"\n")
    with pytest.raises(InputError, match=message):
        Workspace.open(tmp_path / "ws")


def test_a_workspace_without_its_warehouse_is_not_opened(tmp_path: Path) -> None:
    """Opening made an empty warehouse, on which a load failed with DuckDB's Catalog Error."""
    Workspace.init(tmp_path / "ws").close()
    (tmp_path / "ws" / "warehouse.duckdb").unlink()
    with pytest.raises(WorkspaceError, match=r"its warehouse .*warehouse.duckdb is missing"):
        Workspace.open(tmp_path / "ws")
    assert not (tmp_path / "ws" / "warehouse.duckdb").exists()


def test_init_makes_the_warehouse_folder_and_tables_are_listed(tmp_path: Path) -> None:
    """duckdb://data/w.duckdb had failed ('No such file or directory; is another patron
    command using this workspace?'); an unknown table's message lists the tables."""
    folder = tmp_path / "my shop ü"
    Workspace.init(folder, warehouse="duckdb://data/w.duckdb").close()
    with Workspace.open(folder) as ws:
        assert ws.warehouse.path == folder / "data" / "w.duckdb"
        with pytest.raises(NotFoundError, match="no table 'nope'; tables: orders, order_lines"):
            ws.table("nope")
