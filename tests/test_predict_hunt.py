"""Predictions and validation as a CLV analyst checks them: the 90% bands' coverage on
simulated populations, the CLV against a hand-written discounted cash flow, dates as dates in
every output, the next purchase of a customer who has probably left, options that fail before
the workspace changes, and validation's tables against an independent pandas computation on
the CDNOW sample."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from cli_support import patron_here
from models import simulate
from patron import Workspace
from patron.errors import InputError
from patron.models import BetaGeoModel, GammaGammaModel, ModifiedBetaGeoModel
from patron.predict import PURCHASE_SCALES, _bounds
from patron.predictions import Horizon
from patron.validate import validate
from workspaces import cdnow_workspace

END = date(1997, 9, 30)
HOLDOUT_END = date(1998, 6, 30)
CDNOW = Path(str(resources.files("patron.samples").joinpath("data", "CDNOW_sample.txt")))
"""The CDNOW sample as patron bundles it (the same bytes as the shared data's copy)."""


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    yield from cdnow_workspace(tmp_path_factory.mktemp("hunt"))


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A closed CDNOW workspace for the commands, which open it themselves."""
    made = cdnow_workspace(tmp_path_factory.mktemp("cli"))
    folder = next(made).folder
    next(made, None)  # closes it
    return folder


@pytest.fixture(scope="module")
def scored(ws: Workspace) -> pd.DataFrame:
    horizon = Horizon(periods=39, discount_rate=0.01, margin=0.3)
    return ws.predict(as_of=END, horizon=horizon).to_pandas().set_index("customer_id")


def test_purchase_bands_cover_the_truth_nine_times_in_ten() -> None:
    """200 BG/NBD populations of 8,000 customers from known parameters: each fit's 90% band of
    P(alive), E[Y(52)], P(Y(52) > 0) and the median wait, for seven histories, holds the value
    at the true parameters in 90% of them (binomial sd 2.1%, so 0.84 to 0.96)."""
    truth = {"r": 0.25, "alpha": 4.4, "a": 0.8, "b": 2.4}
    x = np.array([0.0, 1, 2, 5, 10, 3, 1])
    t_x = np.array([0.0, 30.4, 20, 35, 38, 5, 2])
    big_t = np.array([10.0, 38.9, 38.9, 39, 39, 39, 39])
    true = BetaGeoModel.from_params(truth).forecast(52, x, t_x, big_t)
    rng = np.random.default_rng(7)
    hits = np.zeros_like(true)
    for _ in range(200):
        h = simulate.bg_nbd(rng, rng.uniform(20, 52, 8000), 1.0, **truth)
        fitted = BetaGeoModel().fit(h.frequency, h.recency, h.T)

        def forecast(m: Any) -> np.ndarray:
            return m.forecast(52, x, t_x, big_t)

        low, high = _bounds(fitted, forecast, forecast(fitted), PURCHASE_SCALES)
        hits += (low <= true * (1 + 1e-12)) & (true <= high * (1 + 1e-12))
    coverage = hits / 200
    coverage[0, 0] = 0.9  # x = 0 under BG/NBD: P(alive) = 1 for every fit, a band of width 0
    assert coverage.min() >= 0.84 and coverage.max() <= 0.96, coverage


def test_clv_is_the_discounted_cash_flow_by_hand(scored: pd.DataFrame) -> None:
    """margin x Gamma-Gamma's spend x sum_k (E[Y(k)] - E[Y(k - 1)]) / 1.01^k, k = 1..39, with
    the spend's closed form written out here, on fits of the exported summary."""
    x, t_x, big_t = scored.frequency, scored.recency, scored["T"]
    model = ModifiedBetaGeoModel().fit(x, t_x, big_t)
    repeat = scored[x > 0]
    p, q, g = GammaGammaModel().fit(repeat.frequency, repeat.monetary_value).params_.values()
    spend = p * (g + x * scored.monetary_value.fillna(0)) / (p * x + q - 1)
    ahead = np.array([model.conditional_expected_purchases(k, x, t_x, big_t) for k in range(40)])
    discounted = (np.diff(ahead, axis=0) / 1.01 ** np.arange(1, 40)[:, None]).sum(axis=0)
    np.testing.assert_allclose(scored.clv, 0.3 * spend * discounted, rtol=1e-9)
    assert scored.clv.sum() == pytest.approx(14_340.06, abs=0.01)


def test_a_customer_who_has_probably_left_gets_no_next_purchase_date(
    scored: pd.DataFrame,
) -> None:
    """Customer 19339 made 22 purchases and none for months: P(alive) 2e-10 and 4e-9 expected
    purchases; the median wait of a customer still alive put their next purchase 8 days after
    the as-of day, which exports and campaigns read as the date to expect it."""
    gone = scored.loc["19339"]
    assert gone.p_alive < 1e-9 and gone.churn_risk == "likely_lost"
    assert pd.isna(gone.next_purchase_date) and pd.isna(gone.next_purchase_date_high)
    assert gone.next_purchase_wait == pytest.approx(1.16, abs=0.01)  # still given, in weeks
    lost = scored.churn_risk == "likely_lost"
    assert lost.sum() == 250 and scored.next_purchase_date[lost].isna().all()
    assert scored.next_purchase_date[~lost].notna().all()


def test_next_purchase_dates_are_dates_whether_stored_or_not(ws: Workspace, tmp_path: Path) -> None:
    """DuckDB's date + interval is a timestamp: without --no-store the Parquet column was
    timestamp[us] and the CSV read 1998-01-08 00:00:00, where the stored run wrote dates."""
    for store in (True, False):
        table = ws.predict(as_of=END, horizon=Horizon(periods=39), store=store)
        table.to_parquet(tmp_path / "p.parquet")
        types = pq.read_schema(tmp_path / "p.parquet")
        for end in ("", "_low", "_high"):
            assert str(types.field(f"next_purchase_date{end}").type) == "date32[day]"
        table.to_csv(tmp_path / "p.csv")
        first = pd.read_csv(tmp_path / "p.csv", dtype=str).set_index("customer_id").loc["00004"]
        assert first.next_purchase_date == "1998-01-08"


@pytest.mark.parametrize("store", [[], ["--no-store"]])
def test_out_writes_every_documented_column(folder: Path, store: list[str]) -> None:
    documented = [
        f"{name}{end}"
        for name in (
            "p_alive",
            "expected_purchases",
            "p_purchase",
            "next_purchase_date",
            "expected_spend",
            "clv",
        )
        for end in ("", "_low", "_high")
    ] + ["customer_id", "email", "predicted_value", "churn_risk"]
    for name in ("p.csv", "p.parquet"):
        args = ("-w", str(folder), "predict", "--as-of", "1997-09-30", "--out", name, *store)
        assert patron_here(*args, cwd=folder.parent).returncode == 0
        columns = (
            pq.read_schema(folder.parent / name).names
            if name.endswith("parquet")
            else pd.read_csv(folder.parent / name, nrows=1).columns.tolist()
        )
        assert set(documented) <= set(columns), set(documented) - set(columns)


def test_a_bad_out_name_fails_before_the_stored_predictions_change(folder: Path) -> None:
    """`--out p.xlsx` failed only after scoring, when the run had already replaced the stored
    predictions (made as of another day)."""
    run = ("-w", str(folder), "predict", "--as-of", "1997-09-30")
    assert patron_here(*run, cwd=folder.parent).returncode == 0
    result = patron_here(*run[:3], "--as-of", "1997-06-30", "--out", "p.xlsx", cwd=folder.parent)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: cannot write p.xlsx: use a .parquet or .csv file name"
    ]
    with Workspace.open(folder, read_only=True) as ws:
        assert ws.predictions_as_of(END) is not None
        assert ws.predictions_as_of(END.isoformat()) is not None  # ISO text matched no day


def cdnow_holdout(days: float) -> pd.DataFrame:
    """Per CDNOW sample customer, from the raw file with pandas: calibration (x, t_x, T) to
    END in units of ``days``, holdout purchase days to HOLDOUT_END, and the first day."""
    raw = pd.read_csv(CDNOW, sep=r"\s+", header=None, names=["m", "id", "day", "cds", "usd"])
    raw["day"] = pd.to_datetime(raw.day.astype(str))
    occ = raw[["id", "day"]].drop_duplicates()
    occ = occ.join(occ.groupby("id").day.min().rename("first"), on="id")
    cal = occ[occ.day <= pd.Timestamp(END)].groupby("id")
    out = cal.agg(x=("day", "size"), last=("day", "max"), first=("first", "first"))
    out["x"] -= 1
    out["t_x"] = (out["last"] - out["first"]).dt.days / days
    out["T"] = (pd.Timestamp(END) - out["first"]).dt.days / days
    later = occ[(occ.day > pd.Timestamp(END)) & (occ.day <= pd.Timestamp(HOLDOUT_END))]
    out["holdout"] = later.groupby("id").size().reindex(out.index).fillna(0)
    return out


def test_conditional_table_and_errors_match_pandas(ws: Workspace) -> None:
    report = validate(ws.sales(), END, HOLDOUT_END, time_unit="week")
    own = cdnow_holdout(7.0)
    horizon = 273 / 7
    model = BetaGeoModel().fit(own.x, own.t_x, own["T"])
    own["bgnbd"] = model.conditional_expected_purchases(horizon, own.x, own.t_x, own["T"])
    by = own.groupby(np.minimum(own.x, 7))
    expected = [v for _, g in by for v in (len(g), g.holdout.mean(), g.bgnbd.mean())]
    got = [r[k] for r in report["conditional"] for k in ("customers", "actual", "bgnbd")]
    assert [r["frequency"] for r in report["conditional"]] == [*"0123456", "7+"]
    assert got == pytest.approx(expected, rel=1e-9)
    bgnbd = report["models"][0]
    assert bgnbd["mae"] == pytest.approx((own.bgnbd - own.holdout).abs().mean(), rel=1e-9)
    assert bgnbd["correlation"] == pytest.approx(own.bgnbd.corr(own.holdout), rel=1e-9)
    assert (bgnbd["holdout_actual"], round(bgnbd["mae"], 3)) == (1882, 0.785)


@pytest.mark.parametrize(("unit", "days"), [("week", 7.0), ("month", 365.25 / 12)])
def test_tracking_matches_pandas_at_each_labelled_date(
    ws: Workspace, unit: str, days: float
) -> None:
    """Each point's actual counts the repeat purchases through its date, and its expectation
    is E[X(t)] of every customer at that same date; by month the expectation was taken up to
    0.44 days later than the date and the purchases counted (81.8 against 79.4 in January)."""
    report = validate(ws.sales(), END, HOLDOUT_END, time_unit=unit)
    own = cdnow_holdout(days)
    model = BetaGeoModel().fit(own.x, own.t_x, own["T"])
    raw = pd.read_csv(CDNOW, sep=r"\s+", header=None, names=["m", "id", "day", "cds", "usd"])
    raw["day"] = pd.to_datetime(raw.day.astype(str))
    occ = raw[["id", "day"]].drop_duplicates()
    repeats = occ[occ.duplicated("id")].day  # every purchase day after a customer's first
    acquired = own.groupby("first").size()
    for point in report["tracking"]:
        at = pd.Timestamp(point["date"])
        age = np.clip((at - acquired.index).days.to_numpy(), 0, None) / days
        assert point["actual"] == (repeats <= at).sum()
        assert point["bgnbd"] == pytest.approx(acquired.to_numpy() @ model.expected_purchases(age))
    assert report["tracking"][-1]["actual"] == 4339


def test_a_holdout_past_the_loaded_orders_is_refused(ws: Workspace, folder: Path) -> None:
    """A holdout to 1999-01-01 on orders that end 1998-06-30 compared 65 weeks of prediction
    with 39 weeks of purchases, and named a best model from it."""
    with pytest.raises(InputError, match="after the last day of the orders loaded, 1998-06-30"):
        validate(ws.sales(), END, date(1999, 1, 1))
    result = patron_here(
        "-w", str(folder), "validate", "--calibration-end", "1997-09-30",
        "--holdout-end", "1999-01-01", cwd=folder.parent,
    )  # fmt: skip
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
