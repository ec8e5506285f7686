"""Calibration / holdout validation on the CDNOW sample, every figure recomputed independently
from the raw file (customer-days) and the model's own predictions."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime

import numpy as np
import pytest
from cdnow_data import CALIBRATION_END, cdnow_weeks

from patron import Workspace
from patron.errors import InputError
from patron.models import BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel
from patron.samples.cdnow import read_rows, write_orders

HOLDOUT_END = date(1998, 6, 30)
MODELS = {"pnbd": ParetoNBDModel, "mbgnbd": ModifiedBetaGeoModel}


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    root = tmp_path_factory.mktemp("validate")
    workspace = Workspace.init(root / "ws", timezone="UTC")
    orders = write_orders(root / "data", sample=True)
    workspace.load("orders", [orders], now=datetime(2025, 1, 1, tzinfo=UTC))
    yield workspace
    workspace.close()


@pytest.fixture(scope="module")
def report(ws: Workspace) -> dict:
    return ws.validate(CALIBRATION_END, HOLDOUT_END)


def customer_days() -> dict[str, list[date]]:
    days: dict[str, set[date]] = defaultdict(set)
    for customer, day, _cds, _dollars in read_rows(sample=True):
        days[customer].add(date.fromisoformat(day))
    return {c: sorted(d) for c, d in days.items()}  # file order, as cdnow_weeks


def holdout_counts() -> np.ndarray:
    """Per customer (in cdnow_weeks' order), their customer-days in the holdout."""
    return np.array(
        [sum(CALIBRATION_END < d <= HOLDOUT_END for d in days) for days in customer_days().values()]
    )


def test_scores_against_an_independent_computation(report: dict) -> None:
    x, t_x, big_t = cdnow_weeks()
    model = BetaGeoModel().fit(x, t_x, big_t)
    predicted = model.conditional_expected_purchases(39, x, t_x, big_t)
    actual = holdout_counts()
    bgnbd, naive = report["models"][0], report["models"][-1]
    assert [m["model"] for m in report["models"]] == ["bgnbd", "pnbd", "mbgnbd", "naive"]
    assert (report["customers"], report["holdout_periods"]) == (2357, 39)
    assert bgnbd["holdout_actual"] == actual.sum()
    assert bgnbd["holdout_predicted"] == pytest.approx(predicted.sum())
    assert bgnbd["mae"] == pytest.approx(np.abs(predicted - actual).mean())
    assert bgnbd["correlation"] == pytest.approx(np.corrcoef(predicted, actual)[0, 1])
    assert bgnbd["params"] == pytest.approx(model.params_)
    carried = np.where(big_t > 0, x / np.where(big_t > 0, big_t, 1), 0) * 39
    assert naive["mae"] == pytest.approx(np.abs(carried - actual).mean())
    # every model beats carrying the past rate forward
    assert all(m["mae"] < naive["mae"] for m in report["models"][:3])


@pytest.mark.parametrize("name", ["pnbd", "mbgnbd"])
def test_every_purchase_model_is_scored(report: dict, name: str) -> None:
    x, t_x, big_t = cdnow_weeks()
    model = MODELS[name]().fit(x, t_x, big_t)
    predicted = model.conditional_expected_purchases(39, x, t_x, big_t)
    score = next(m for m in report["models"] if m["model"] == name)
    assert score["mae"] == pytest.approx(np.abs(predicted - holdout_counts()).mean(), rel=1e-6)
    assert score["bic"] == pytest.approx(model.bic(), rel=1e-6)
    best = min(report["models"][:3], key=lambda m: m["mae"])
    assert report["best"] == best["model"]


def test_conditional_expectations_by_frequency(report: dict) -> None:
    x, _, _ = cdnow_weeks()
    actual = holdout_counts()
    rows = {r["frequency"]: r for r in report["conditional"]}
    assert list(rows) == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert rows["0"]["customers"] == np.sum(x == 0)
    assert rows["7+"]["customers"] == np.sum(x >= 7)
    assert rows["2"]["actual"] == pytest.approx(actual[x == 2].mean())
    assert rows["0"]["naive"] == 0


def test_tracking_cumulative_repeat_purchases(report: dict) -> None:
    days = customer_days()
    points = report["tracking"]
    assert len(points) == 78 and points[-1]["date"] == "1998-06-30"
    assert [p["holdout"] for p in points].index(True) == 38  # week 39 ends 1997-10-01
    last = points[-1]
    assert last["actual"] == sum(len(d) - 1 for d in days.values())
    model = BetaGeoModel().fit(*cdnow_weeks())
    ages = np.array([(HOLDOUT_END - d[0]).days / 7 for d in days.values()])
    assert last["bgnbd"] == pytest.approx(model.expected_purchases(ages).sum())
    assert last["pnbd"] > 0 and last["mbgnbd"] > 0
    assert all(a["actual"] <= b["actual"] for a, b in itertools.pairwise(points))


def test_holdout_must_follow_the_calibration(ws: Workspace) -> None:
    with pytest.raises(InputError, match=r"^holdout_end .* must be after calibration_end"):
        ws.validate(CALIBRATION_END, CALIBRATION_END)
