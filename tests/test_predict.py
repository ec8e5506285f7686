"""Per-customer predictions on the CDNOW sample: the published worked example, the CLV identity
and the intervals' order, through the Python API and the real ``patron predict``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow.csv as pcsv
import pytest

from cli_support import ok, patron
from patron import Workspace
from patron.errors import InputError
from patron.predict import Horizon
from patron.samples.cdnow import write_orders

END = date(1997, 9, 30)


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    root = tmp_path_factory.mktemp("predict")
    orders = write_orders(root / "data", sample=True)
    workspace = Workspace.init(root / "ws", timezone="UTC")
    workspace.load("orders", [orders], now=datetime(2025, 1, 1, tzinfo=UTC))
    yield workspace
    workspace.close()


def rows(ws: Workspace, **horizon: Any) -> dict[str, dict[str, Any]]:
    table = ws.predict(as_of=END, horizon=Horizon(**{"periods": 39, **horizon}))
    return {r["customer_id"]: r for r in table.to_pyarrow().to_pylist()}


@pytest.fixture(scope="module")
def plain(ws: Workspace) -> dict[str, dict[str, Any]]:
    return rows(ws)


def test_every_customer_is_scored(plain: dict[str, dict[str, Any]]) -> None:
    assert len(plain) == 2357


def test_published_worked_example(plain: dict[str, dict[str, Any]]) -> None:
    # customer 00004 is the paper's x = 2, t_x = 30.43, T = 38.86: 1.226 purchases in 39 weeks
    row = plain["00004"]
    assert (row["frequency"], round(row["recency"], 2), round(row["T"], 2)) == (2, 30.43, 38.86)
    assert row["expected_purchases"] == pytest.approx(1.226, abs=5e-4)


def test_undiscounted_clv_is_purchases_times_spend(plain: dict[str, dict[str, Any]]) -> None:
    for row in plain.values():
        assert row["clv"] == pytest.approx(row["expected_purchases"] * row["expected_spend"])


def test_discount_and_margin_lower_the_clv(ws: Workspace, plain: dict[str, dict[str, Any]]) -> None:
    cheaper = rows(ws, discount_rate=0.01, margin=0.3)
    for key in ("00004", "00021"):
        assert cheaper[key]["clv"] < 0.3 * plain[key]["clv"]
        # the same fit; the engine may hand over the unique rows in another order, which moves
        # the sums in the last bits only
        same = pytest.approx(plain[key]["expected_purchases"], rel=1e-9)
        assert cheaper[key]["expected_purchases"] == same


def test_intervals_hold_the_point_estimate(plain: dict[str, dict[str, Any]]) -> None:
    for row in plain.values():
        for name in ("p_alive", "expected_purchases", "expected_spend", "clv"):
            assert row[f"{name}_low"] <= row[name] * (1 + 1e-9) + 1e-12
            assert row[name] <= row[f"{name}_high"] * (1 + 1e-9) + 1e-12
        assert row["p_alive_low"] >= 0 and row["p_alive_high"] <= 1


def test_one_time_buyers_get_the_population_spend(plain: dict[str, dict[str, Any]]) -> None:
    once = {round(r["expected_spend"], 9) for r in plain.values() if r["frequency"] == 0}
    assert len(once) == 1  # gamma p / (q - 1), the same for everyone without a repeat


def test_bad_horizon_is_an_input_error(ws: Workspace) -> None:
    with pytest.raises(InputError, match="--margin"):
        ws.predict(as_of=END, horizon=Horizon(margin=1.5))


def test_predict_command_writes_every_customer(tmp_path: Path) -> None:
    ok(patron("sample", "cdnow", "--sample", "--out", "data", cwd=tmp_path))
    ok(patron("init", "ws", "--timezone", "UTC", cwd=tmp_path))
    ok(patron("-w", "ws", "load", "orders", "data/orders.csv", cwd=tmp_path))
    args = ("-w", "ws", "predict", "--as-of", "1997-09-30", "--horizon", "39")
    report = ok(patron(*args, "--out", "p.csv", "--json", cwd=tmp_path))
    assert report["customers"] == 2357
    assert report["customer_equity_low"] < report["customer_equity"]
    assert report["customer_equity"] < report["customer_equity_high"]
    written = pcsv.read_csv(tmp_path / "p.csv")
    assert written.num_rows == 2357
    assert {"customer_id", "p_alive", "clv", "clv_low", "clv_high"} <= set(written.column_names)
    text = ok(patron("-w", "ws", "predict", "--as-of", "1997-09-30", cwd=tmp_path))
    assert "2,357 customers as of 1997-09-30" in text and "customer equity" in text
