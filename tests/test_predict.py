"""Per-customer predictions on the CDNOW sample: the published worked example, the CLV identity
and the intervals' order, through the Python API and the real ``patron predict``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.csv as pcsv
import pytest

from cli_support import ok, patron, patron_here
from patron import Workspace
from patron.errors import InputError, StalePredictionsWarning
from patron.predict import _bounds
from patron.predictions import Horizon
from patron.samples.cdnow import write_orders
from workspaces import cdnow_workspace

END = date(1997, 9, 30)


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    yield from cdnow_workspace(tmp_path_factory.mktemp("predict"))


def rows(ws: Workspace, model: str = "bgnbd", **horizon: Any) -> dict[str, dict[str, Any]]:
    table = ws.predict(as_of=END, model=model, horizon=Horizon(**{"periods": 39, **horizon}))
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


@pytest.mark.parametrize("model", ["bgnbd", "pnbd"])
def test_the_time_unit_changes_no_prediction(
    ws: Workspace, plain: dict[str, dict[str, Any]], model: str
) -> None:
    """Time in days instead of weeks only rescales the rate parameters (alpha, beta by 1/7):
    the likelihood's top is the same customers' story, so 273 days ahead predict what 39 weeks
    do, and the next purchase falls on the same day."""
    weeks = plain if model == "bgnbd" else rows(ws, model)
    table = ws.predict(as_of=END, model=model, time_unit="day", horizon=Horizon(periods=273))
    days = {r["customer_id"]: r for r in table.to_pyarrow().to_pylist()}
    for key in ("00004", "00021", "01150", "20072"):
        for column in ("p_alive", "expected_purchases", "p_purchase", "clv"):
            assert days[key][column] == pytest.approx(weeks[key][column], rel=1e-5)
        # a band's slopes are differences at a step of 1e-4 in each log-parameter
        assert days[key]["clv_high"] == pytest.approx(weeks[key]["clv_high"], rel=1e-4)
        assert days[key]["next_purchase_date"] == weeks[key]["next_purchase_date"]
        assert days[key]["T"] == pytest.approx(7 * weeks[key]["T"])


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


@pytest.mark.parametrize("model", ["bgnbd", "pnbd", "mbgnbd"])
def test_each_model_scores_as_its_fit_predicts(ws: Workspace, model: str) -> None:
    scored = rows(ws, model)
    fitted = ws.fit(model, calibration_end=END)
    some = [scored[key] for key in ("00018", "00004", "00021", "00060")]
    x, t_x, big_t = ([r[k] for r in some] for k in ("frequency", "recency", "T"))
    expected = fitted.conditional_expected_purchases(39, x, t_x, big_t)
    assert [r["expected_purchases"] for r in some] == pytest.approx(expected, rel=1e-6)
    assert [r["p_alive"] for r in some] == pytest.approx(fitted.probability_alive(x, t_x, big_t))
    for row in scored.values():
        assert row["model"] == model and row["as_of"] == END
        _assert_ordered(row)
        assert row["p_purchase"] <= row["p_alive"] * (1 + 1e-12)
        assert row["p_purchase"] <= row["expected_purchases"] * (1 + 1e-12)


def _assert_ordered(row: dict[str, Any]) -> None:
    for name in ("p_alive", "p_purchase", "expected_purchases", "expected_spend", "clv"):
        assert row[f"{name}_low"] <= row[name] * (1 + 1e-9) + 1e-12
        assert row[name] <= row[f"{name}_high"] * (1 + 1e-9) + 1e-12
    for name in ("p_alive", "p_purchase"):
        assert row[f"{name}_low"] >= 0 and row[f"{name}_high"] <= 1
    dates = [row[f"next_purchase_date{end}"] for end in ("_low", "", "_high")]
    assert None in dates or dates == sorted(dates)


def test_next_purchase_date_is_the_median_wait(plain: dict[str, dict[str, Any]]) -> None:
    # x = 2, T = 38.86 weeks: (alpha + T)(2^(1 / (r + x)) - 1) weeks after the as-of day
    row = plain["00004"]
    r, alpha = 0.2426, 4.4136
    weeks = (alpha + row["T"]) * (2 ** (1 / (r + 2)) - 1)
    assert row["next_purchase_wait"] == pytest.approx(weeks, rel=1e-3)
    assert row["next_purchase_date"] == END + timedelta(days=round(row["next_purchase_wait"] * 7))


def test_spend_band_is_the_delta_method(ws: Workspace, plain: dict[str, dict[str, Any]]) -> None:
    # the engine's closed-form band against the generic numeric delta method
    fitted = ws.fit("gg", calibration_end=END)
    some = [plain[key] for key in ("00018", "00004", "00021", "00060")]
    x = np.array([r["frequency"] for r in some], dtype=float)
    m = np.array([r["monetary_value"] or 0.0 for r in some])

    def spend(g: Any) -> np.ndarray:
        return g.conditional_expected_average_profit(x, m)[None, :]

    (low,), (high,) = _bounds(fitted, spend, spend(fitted), ("log",))
    assert [r["expected_spend_low"] for r in some] == pytest.approx(low, rel=1e-6)
    assert [r["expected_spend_high"] for r in some] == pytest.approx(high, rel=1e-6)


def test_stored_predictions_reach_segments_and_exports(tmp_path: Path) -> None:
    orders = write_orders(tmp_path / "data", sample=True)
    with Workspace.init(tmp_path / "ws", timezone="UTC") as ws:
        ws.load("orders", [orders], now=datetime(2025, 1, 1, tzinfo=UTC))
        with pytest.raises(InputError, match="run `patron predict` first"):
            ws.stored_predictions()
        ws.predict(as_of=END, store=True)
        stored = ws.stored_predictions().to_pyarrow()
        summary = ws.segment_summary(as_of=END)
        ws.export_customers(tmp_path / "customers.csv", as_of=END)
        temps = "SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE '_insight_part%'"
        assert ws.warehouse.duckdb.execute(temps).fetchall() == [(0,)]  # released
        # a view of an earlier day reads no prediction made from later purchases
        earlier = END - timedelta(days=91)
        assert "p_alive" not in ws.segments(as_of=earlier).columns
        ws.export_customers(tmp_path / "earlier.csv", as_of=earlier)
    assert stored.num_rows == 2357 and set(stored["model"].to_pylist()) == {"mbgnbd"}
    risk = {g["name"]: g["customers"] for g in summary["churn_risk"]}
    alive = np.array(stored["p_alive"].to_pylist())
    assert risk == {
        "active": (alive >= 0.7).sum(),
        "at_risk": ((alive >= 0.3) & (alive < 0.7)).sum(),
        "likely_lost": (alive < 0.3).sum(),
    }
    value = {g["name"]: g["customers"] for g in summary["predicted_value"]}
    assert value == {"top_20pct": 472, "next_30pct": 707, "bottom_50pct": 1178}
    exported = pcsv.read_csv(tmp_path / "customers.csv")
    assert {"p_alive", "clv", "next_purchase_date", "churn_risk"} <= set(exported.column_names)
    assert_one_next_purchase(exported.to_pylist(), stored.to_pylist())
    before = pcsv.read_csv(tmp_path / "earlier.csv")
    assert not {"p_alive", "clv", "churn_risk"} & set(before.column_names)
    assert "model" not in set(before["next_purchase_basis"].to_pylist())


def test_a_backfill_after_the_run_makes_the_stored_predictions_stale(tmp_path: Path) -> None:
    # orders dated after the run's day are the usual new data; one dated by it was not scored
    orders = write_orders(tmp_path / "data", sample=True)
    later, backfill = tmp_path / "later.csv", tmp_path / "backfill.csv"
    later.write_text("order_id,customer_id,ordered_at,revenue\nL1,00004,1997-10-15,20\n")
    backfill.write_text("order_id,customer_id,ordered_at,revenue\nB1,00004,1997-09-01,20\n")
    loaded = datetime(2025, 1, 1, tzinfo=UTC)
    with Workspace.init(tmp_path / "ws", timezone="UTC") as ws:
        ws.load("orders", [orders], now=loaded)
        ws.predict(as_of=END, store=True)
        assert ws.stored_predictions().load.to_pyarrow().unique().to_pylist() == [1]
        ws.load("orders", [later], now=loaded)
        assert "p_alive" in ws.segments(as_of=END).columns
        ws.load("orders", [backfill], now=loaded)
        with pytest.warns(
            StalePredictionsWarning, match=r"as of 1997-09-30 are out of date: load 3"
        ):
            assert "p_alive" not in ws.segments(as_of=END).columns
        ws.predict(as_of=END, store=True)
        assert "p_alive" in ws.segments(as_of=END).columns  # scored again: fresh


def test_a_command_says_the_predictions_are_stale_once(tmp_path: Path) -> None:
    # the report reads the stored predictions in five places: one warning, not five
    write_orders(tmp_path / "data", sample=True)
    (tmp_path / "b.csv").write_text(
        "order_id,customer_id,ordered_at,revenue\nB1,00004,1998-06-01,2\n"
    )
    ok(patron("init", "ws", cwd=tmp_path))
    ok(patron("-w", "ws", "load", "orders", "data/orders.csv", cwd=tmp_path))
    ok(patron("-w", "ws", "predict", cwd=tmp_path))
    ok(patron("-w", "ws", "load", "orders", "b.csv", cwd=tmp_path))
    report = patron("-w", "ws", "report", "--out", "r.html", cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    assert report.stderr.count("out of date: load 2 changed orders or customers") == 1


def assert_one_next_purchase(exported: list[dict[str, Any]], stored: list[dict[str, Any]]) -> None:
    """The export's expected next purchase is the model's where it gives a date, none for a
    customer it holds likely lost, else the empirical rule's; the contact day is three days
    before it (never before END + 1)."""
    model = {r["customer_key"]: r["next_purchase_date"] for r in stored}
    lost = {r["customer_key"] for r in stored if r["churn_risk"] == "likely_lost"}
    bases = {r["next_purchase_basis"] for r in exported}
    assert {"model", "likely_lost"} <= bases <= {"model", "likely_lost", "own", "population"}
    for row in exported:
        expected = model.get(row["customer_key"])
        assert (row["next_purchase_basis"] == "model") == (expected is not None)
        assert (row["next_purchase_basis"] == "likely_lost") == (row["customer_key"] in lost)
        if row["customer_key"] in lost:
            assert row["next_purchase_date"] is None and row["next_contact_date"] is None
            continue
        if expected is not None:
            assert row["next_purchase_date"] == expected
        contact = max(row["next_purchase_date"] - timedelta(days=3), END + timedelta(days=1))
        assert row["next_contact_date"] == contact


def test_one_time_buyers_get_the_population_spend(plain: dict[str, dict[str, Any]]) -> None:
    once = {round(r["expected_spend"], 9) for r in plain.values() if r["frequency"] == 0}
    assert len(once) == 1  # gamma p / (q - 1), the same for everyone without a repeat


def test_bad_horizon_is_an_input_error(ws: Workspace) -> None:
    with pytest.raises(InputError, match=r"discount_rate must be >= 0 and margin in \(0, 1\]"):
        ws.predict(as_of=END, horizon=Horizon(margin=1.5))
    for periods in (0, 3654):  # 100,000 weeks had run for many minutes in 14 GB
        with pytest.raises(InputError, match=f"from 1 to 3,653 periods .*got {periods:,}"):
            ws.predict(as_of=END, horizon=Horizon(periods=periods))


def test_predict_command_writes_every_customer(tmp_path: Path) -> None:
    # set up (and print the text report) in this process; predict --out in the real command
    ok(patron_here("sample", "cdnow", "--sample", "--out", "data", cwd=tmp_path))
    ok(patron_here("init", "ws", "--timezone", "UTC", cwd=tmp_path))
    ok(patron_here("-w", "ws", "load", "orders", "data/orders.csv", cwd=tmp_path))
    args = ("-w", "ws", "predict", "--as-of", "1997-09-30", "--horizon", "39")
    report = ok(patron(*args, "--out", "p.csv", "--json", cwd=tmp_path))
    assert report["customers"] == 2357
    assert report["customer_equity_low"] < report["customer_equity"]
    assert report["customer_equity"] < report["customer_equity_high"]
    written = pcsv.read_csv(tmp_path / "p.csv")
    assert written.num_rows == 2357
    assert {"customer_id", "p_alive", "clv", "clv_low", "clv_high"} <= set(written.column_names)
    text = ok(patron_here("-w", "ws", "predict", "--as-of", "1997-09-30", cwd=tmp_path))
    assert "2,357 customers as of 1997-09-30" in text and "customer equity" in text
