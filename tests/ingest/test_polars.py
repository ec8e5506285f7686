"""polars frames as sources, as the data contract promises them beside pandas and Arrow: a
frame with polars' own types (Categorical, Enum, Decimal, zoned Datetime, Date, nullable
integers) loads the rows its CSV export loads, a LazyFrame is run first, a bad cell is
quarantined by its row, and experiments and ``patron.transactions`` take polars frames too."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from patron import Workspace
from patron.transactions import summary_from_transactions

pl = pytest.importorskip("polars")

NOW = datetime(2025, 1, 1, tzinfo=UTC)
COMPARED = ["order_id", "email", "phone", "ordered_at", "order_date", "channel", "revenue"]


def orders() -> pl.DataFrame:
    times = [datetime(2024, 3, 5, 14, 2), datetime(2024, 3, 6, 9), datetime(2024, 3, 7, 23, 30)]
    return pl.DataFrame(
        {
            "order_id": ["o1", "o2", "o3", "o4"],
            "email": ["a@x.com", "B@X.com ", None, "d@x.com"],
            "phone": [None, None, "(212) 555-0143", None],
            "channel": pl.Series(["web", "store", "web", "app"], dtype=pl.Categorical),
            "ordered_at": pl.Series([*times, datetime(2024, 3, 8)]).dt.replace_time_zone("UTC"),
            "revenue": pl.Series(
                [Decimal("12.50"), Decimal("8.00"), Decimal("3.10"), Decimal("-2.00")],
                dtype=pl.Decimal(10, 2),
            ),
            "items": pl.Series([1, None, 3, 2], dtype=pl.Int64),
        }
    )


def loaded(ws: Workspace) -> list[dict[str, object]]:
    table = ws.table("orders").order_by("order_id").select(*COMPARED)
    return table.to_pyarrow().to_pylist()


def test_a_polars_frame_loads_what_its_csv_export_loads(ws: Workspace, tmp_path: Path) -> None:
    frame = orders()
    result = ws.load("orders", frame, now=NOW)
    assert (result.rows_read, result.inserted, result.quarantined) == (4, 4, 0)
    file = tmp_path / "orders.csv"
    frame.write_csv(file)
    twin = Workspace.init(tmp_path / "twin", timezone="America/New_York", phone_region="US")
    twin.load("orders", [file], now=NOW)
    assert loaded(ws) == loaded(twin)
    rows = {r["order_id"]: r for r in loaded(ws)}
    assert rows["o2"]["email"] == "b@x.com" and rows["o3"]["phone"] == "+12125550143"
    assert rows["o3"]["order_date"] == date(2024, 3, 7)  # 23:30 UTC is 18:30 in New York
    assert float(rows["o1"]["revenue"]) == 12.5 and ws.status()["returns"] == 1
    attributes = ws.table("orders").order_by("order_id").attributes.to_pyarrow().to_pylist()
    assert [json.loads(a)["items"] for a in attributes] == [1, None, 3, 2]
    twin.close()


def test_a_lazy_frame_is_collected_and_an_enum_is_text(ws: Workspace) -> None:
    lazy = pl.LazyFrame(
        {
            "order_id": ["e1", "e2"],
            "email": ["e@x.com", "f@x.com"],
            "ordered_at": [date(2024, 4, 1), date(2024, 4, 2)],
            "revenue": [5.0, 7.5],
            "channel": pl.Series(["web", "app"], dtype=pl.Enum(["web", "app", "store"])),
        }
    ).filter(pl.col("revenue") > 6)
    assert ws.load("orders", lazy, now=NOW).inserted == 1
    [row] = loaded(ws)
    assert (row["order_id"], row["channel"], row["order_date"]) == ("e2", "app", date(2024, 4, 2))


def test_a_bad_cell_in_a_polars_frame_is_quarantined_by_its_row(ws: Workspace) -> None:
    frame = pl.DataFrame(
        {
            "order_id": ["q1", "q2", "q3"],
            "email": ["a@x.com", "b@x.com", "c@x.com"],
            "ordered_at": ["2024-05-01", "2024-05-02", "2024-05-32"],
            "revenue": ["10.00", "abc", "3.00"],
        }
    )
    result = ws.load("orders", frame, now=NOW)
    assert (result.inserted, result.quarantined) == (1, 2)
    found = {(q["line"], q["field"]) for q in ws.quarantine()}
    assert found == {(2, "revenue"), (3, "ordered_at")}


def test_experiments_and_transactions_take_polars_frames(ws: Workspace) -> None:
    ws.load("orders", orders(), now=NOW)
    audience = pl.DataFrame({"email": ["a@x.com", "b@x.com", "zed@x.com"]})
    created = ws.create_experiment("polars", audience=audience, start="2024-06-01")
    assert (created["audience_size"], created["unmatched"]) == (2, 1)
    purchases = pl.DataFrame(
        {
            "who": ["a", "a", "a", "b"],
            "at": [date(2024, 1, 1), date(2024, 1, 8), date(2024, 1, 8), date(2024, 1, 3)],
            "amount": [10.0, 20.0, 5.0, 7.0],
        }
    )
    summary = summary_from_transactions(
        purchases, customer="who", when="at", value="amount", time_unit="day"
    )
    assert summary.loc["a"].tolist() == [1, 7, 7, 25.0]
    assert summary.loc["b", "frequency"] == 0
    lazy = summary_from_transactions(purchases.lazy(), customer="who", when="at", time_unit="day")
    assert lazy["frequency"].tolist() == [1, 0]
