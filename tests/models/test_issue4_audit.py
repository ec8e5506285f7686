"""An audit of issue 4 as a demanding user of lifetimes / CLVTools: each test failed before
its fix.

- ``patron fit --model all`` failed every model when one had nothing to fit (a shop where
  nobody has bought twice has no Gamma-Gamma; BG/BB none before a whole period has ended);
- ``fit --calibration-end``, ``predict --as-of`` and ``acquisition --as-of`` after the last
  purchase day loaded read the days without data as days without purchases (as of 2030 the
  CDNOW sample's customer equity was 0.09), where ``validate`` refuses such a holdout end;
- a prediction band could leave out its own estimate (P(alive) 1e-47, band 1e-15 to 1e-15);
- ``validate`` printed "nan" for a correlation it has none of, and "-0" customers;
- P(n purchases in t), which ``patron predict`` does not store, had no band anywhere;
- ``patron predict`` where nobody has bought twice failed on a model it had not been asked
  for ("the Gamma-Gamma model needs customers with repeat transactions"), without saying why.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cdnow_data import cdnow_spend, cdnow_weeks

from patron import Workspace
from patron.errors import InputError
from patron.models import BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel
from patron.predict import interval
from patron.predictions import Horizon
from patron.transactions import predictions_from_summary
from patron.validate import frequency_counts

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cli_support import ok, patron_here
from workspaces import cdnow_workspace


@pytest.fixture(scope="module")
def cdnow(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cdnow")
    for _ in cdnow_workspace(root):  # the sample's orders in root / "ws", closed again
        pass
    return root


def _orders(path: Path, rows: list[tuple[str, str]]) -> Path:
    """An orders file of (customer, day) rows, 10.00 each."""
    lines = [f"o{i},{customer},{day},web,10.00,USD" for i, (customer, day) in enumerate(rows)]
    path.write_text("order_id,customer_id,ordered_at,channel,revenue,currency\n" + "\n".join(lines))
    return path


def _workspace(root: Path, rows: list[tuple[str, str]]) -> Path:
    ws = Workspace.init(root / "ws", timezone="UTC")
    ws.load("orders", [_orders(root / "orders.csv", rows)])
    ws.close()
    return root


def test_fit_all_leaves_out_gamma_gamma_where_nobody_bought_twice(tmp_path: Path) -> None:
    days = [f"2024-0{1 + i % 6}-{1 + i % 27:02d}" for i in range(120)]
    root = _workspace(tmp_path, [(f"c{i}", day) for i, day in enumerate(days)])
    report = ok(patron_here("-w", "ws", "fit", "--model", "all", "--json", cwd=root))
    assert [m["model"] for m in report["models"]] == ["bgnbd", "pnbd", "mbgnbd", "bgbb"]
    assert "repeat transactions" in report["skipped"]["gg"]
    alone = patron_here("-w", "ws", "fit", "--model", "gg", cwd=root)  # asked for: an error
    assert alone.returncode == 2 and "repeat transactions" in alone.stderr


def test_predict_says_why_it_needs_repeat_customers(tmp_path: Path) -> None:
    days = [f"2024-0{1 + i % 6}-{1 + i % 27:02d}" for i in range(120)]
    root = _workspace(tmp_path, [(f"c{i}", day) for i, day in enumerate(days)])
    done = patron_here("-w", "ws", "predict", "--no-store", cwd=root)
    assert done.returncode == 2
    assert "expected spend and CLV come from a Gamma-Gamma fit" in " ".join(done.stderr.split())


def test_fit_all_leaves_out_bgbb_before_a_whole_period_has_ended(tmp_path: Path) -> None:
    rows = [(f"c{i}", f"2024-03-0{1 + (i + k * 2) % 5}") for i in range(60) for k in range(2)]
    root = _workspace(tmp_path, rows)
    report = ok(patron_here("-w", "ws", "fit", "--model", "all", "--json", cwd=root))
    assert "bgbb" not in [m["model"] for m in report["models"]]
    assert "n_periods is 0" in report["skipped"]["bgbb"]
    assert report["best"] in ("bgnbd", "pnbd", "mbgnbd")


def test_fit_all_on_a_summary_without_repeat_spend(tmp_path: Path) -> None:
    summary = tmp_path / "once.csv"
    summary.write_text("frequency,recency,T,monetary_value\n0,0,10,\n0,0,20,\n0,0,5,\n")
    report = ok(
        patron_here("fit", "--summary", str(summary), "--model", "all", "--json", cwd=tmp_path)
    )
    assert [m["model"] for m in report["models"]] == ["bgnbd", "pnbd", "mbgnbd"]
    assert "repeat transactions" in report["skipped"]["gg"]


def test_fit_all_fails_when_no_model_fits(tmp_path: Path) -> None:
    root = _workspace(tmp_path, [(f"c{i}", "2024-03-05") for i in range(20)])
    done = patron_here("-w", "ws", "fit", "--model", "all", cwd=root)
    assert done.returncode == 2 and "T is 0" in done.stderr


@pytest.mark.parametrize(
    "command",
    [
        ("fit", "--calibration-end", "2030-01-01"),
        ("predict", "--as-of", "1998-07-01", "--no-store"),
        ("acquisition", "--as-of", "2030-01-01"),
    ],
)
def test_a_day_after_the_orders_loaded_is_refused(cdnow: Path, command: tuple[str, ...]) -> None:
    done = patron_here("-w", "ws", *command, cwd=cdnow)
    assert done.returncode == 2, done.stdout
    assert f"{command[2]} is after the last day of the orders loaded, 1998-06-30" in done.stderr


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda ws: ws.fit("bgnbd", calibration_end="2030-01-01"), "calibration_end"),
        (lambda ws: ws.predict(as_of="1998-07-01"), "as_of"),
        (lambda ws: ws.acquisition(as_of="2030-01-01"), "as_of"),
    ],
)
def test_the_python_api_refuses_a_day_after_the_orders_too(
    cdnow: Path, call: Callable[[Workspace], object], name: str
) -> None:
    ws = Workspace.open(cdnow / "ws")
    try:
        with pytest.raises(InputError, match=f"{name} .* after the last day of the orders loaded"):
            call(ws)
    finally:
        ws.close()


def test_the_last_purchase_day_itself_is_fine(cdnow: Path) -> None:
    args = ("-w", "ws", "predict", "--as-of", "1998-06-30", "--no-store", "--json")
    assert ok(patron_here(*args, cwd=cdnow))["customers"] == 2357


def test_every_band_holds_its_estimate() -> None:
    x, t_x, big_t = cdnow_weeks()
    spend = np.where(x > 0, cdnow_spend()[1], np.nan)  # the same customers, in order
    frame = pd.DataFrame({"frequency": x, "recency": t_x, "T": big_t, "monetary_value": spend})
    heavy = pd.DataFrame(  # 5,000 purchases, the last a week ago: surely gone, P(alive) 1e-47
        {"frequency": [5000.0], "recency": [38.0], "T": [38.9], "monetary_value": [20.0]}
    )
    scores = predictions_from_summary(pd.concat([frame, heavy]), model="bgnbd", horizon=Horizon(39))
    for name in ("p_alive", "expected_purchases", "p_purchase", "next_purchase_wait", "clv"):
        value, low, high = (scores[name + end].to_numpy() for end in ("", "_low", "_high"))
        assert np.all(low <= value) and np.all(value <= high), name
    assert scores["p_alive"].iloc[-1] < 1e-40 and scores["p_alive_high"].iloc[-1] < 1e-40


def test_validate_prints_no_nan_and_no_negative_zero(tmp_path: Path) -> None:
    days = [f"2024-0{1 + i % 6}-{1 + i % 27:02d}" for i in range(120)]
    root = _workspace(tmp_path, [(f"c{i}", day) for i, day in enumerate(days)])
    done = ok(patron_here("-w", "ws", "validate", "--calibration-end", "2024-03-01", cwd=root))
    assert "nan" not in done and "-0 " not in done


def test_frequency_counts_are_never_negative() -> None:
    model = ParetoNBDModel.from_params({"r": 10.8, "alpha": 1044.3, "s": 592.5, "beta": 0.256})
    _, expected = frequency_counts(model, np.zeros(68), np.linspace(1, 17, 68))
    assert np.all(expected >= 0)


@pytest.mark.parametrize("kind", [BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel])
def test_probability_of_n_purchases_has_a_band(kind: type) -> None:
    x, t_x, big_t = cdnow_weeks()
    fitted = kind().fit(x, t_x, big_t)

    def two(model: object) -> np.ndarray:
        return model.probability_of_purchases(2, 39, x, t_x, big_t)  # type: ignore[attr-defined]

    value, low, high = interval(fitted, two, probability=True)
    assert np.array_equal(value, two(fitted))
    assert np.all((low > 0) & (low < value) & (value < high) & (high < 1))
    # E[X(39)] of a new customer: 1.195 for BG/NBD, its band as wide as its standard errors say
    mean, low, high = interval(fitted, lambda m: m.expected_purchases(39))
    assert 0.9 * mean < low < mean < high < 1.1 * mean
