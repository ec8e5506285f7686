"""The report's model charts in a notebook (``patron.plots``): each figure shows the numbers
the Python API gives, and the expected frequency distribution is checked against BG/NBD's
closed form and its total."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from datetime import date
from typing import Any

import numpy as np
import pytest

from patron import InputError, Workspace, plots
from patron.models import BetaGeoModel, GammaGammaModel, ModifiedBetaGeoModel, ParetoNBDModel
from patron.validate import frequency_counts
from workspaces import cdnow_workspace

ACTUAL = [1411, 439, 214, 100, 62, 38, 29, 64]  # CDNOW sample: repeat purchases 0..6, 7+


CALIBRATION_END = date(1997, 9, 30)


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    yield from cdnow_workspace(tmp_path_factory.mktemp("plots"))


@pytest.fixture(scope="module")
def validation(ws: Workspace) -> dict[str, Any]:
    return ws.validate(CALIBRATION_END, date(1998, 6, 30))


def cdnow_weeks(ws: Workspace) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The sample's frequency, recency and T in weeks to the paper's calibration end."""
    summary = ws.customer_summary(calibration_end=CALIBRATION_END).to_pandas()
    return tuple(summary[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))


@pytest.fixture(scope="module")
def bgnbd(ws: Workspace) -> BetaGeoModel:
    return BetaGeoModel().fit(*cdnow_weeks(ws))


def test_tracking_draws_the_validation(validation: dict[str, Any]) -> None:
    fig = plots.tracking(validation)
    traces = {t.name: t for t in fig.data}
    assert list(traces) == ["Actual", "BG/NBD", "Pareto/NBD", "MBG/NBD", "Naive baseline"]
    points = validation["tracking"]
    assert list(traces["Actual"].y) == [p["actual"] for p in points]
    assert list(traces["Pareto/NBD"].y) == [p["pnbd"] for p in points]
    assert len(traces["BG/NBD"].x) == len(points)


def test_conditional_draws_the_validation_with_the_baseline(validation: dict[str, Any]) -> None:
    fig = plots.conditional(validation)
    traces = {t.name: t for t in fig.data}
    assert list(traces)[-1] == "Naive baseline"
    rows = validation["conditional"]
    assert list(traces["MBG/NBD"].y) == [r["mbgnbd"] for r in rows]
    assert list(traces["Actual"].customdata) == [r["customers"] for r in rows]


def test_validation_counts_customers_by_repeat_purchases(validation: dict[str, Any]) -> None:
    rows = validation["frequencies"]
    assert [r["frequency"] for r in rows] == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert [r["actual"] for r in rows] == ACTUAL
    for name in ("bgnbd", "pnbd", "mbgnbd"):
        assert sum(r[name] for r in rows) == pytest.approx(sum(ACTUAL))
    # the paper's fit: BG/NBD within 25 customers of every bin but the 1s (21 over)
    expected = [1408, 460, 193, 101, 60, 38, 26, 72]
    assert [r["bgnbd"] for r in rows] == pytest.approx(expected, abs=0.6)
    bars = plots.frequencies(validation).data
    assert [b.name for b in bars] == ["Actual", "BG/NBD", "Pareto/NBD", "MBG/NBD"]
    assert list(bars[2].y) == [r["pnbd"] for r in rows]


def test_the_alive_matrix_holds_the_models_numbers(bgnbd: BetaGeoModel) -> None:
    heat = plots.probability_alive_matrix(bgnbd, 39.0, max_frequency=10).data[0]
    x, t_x = list(heat.y), list(heat.x)
    assert (x[0], x[-1], t_x[0], t_x[-1]) == (0, 10, 0, 39)
    z = heat.z
    assert z[x.index(2)][t_x.index(30)] == pytest.approx(bgnbd.probability_alive(2, 30, 39.0)[0])
    assert z[0][0] == 1.0 and z[0][5] is None  # no repeat purchase: recency 0 only
    expected = plots.expected_purchases_matrix(bgnbd, 52, 39.0, max_frequency=10).data[0]
    wanted = bgnbd.conditional_expected_purchases(52, 4, 20, 39.0)[0]
    assert expected.z[x.index(4)][t_x.index(20)] == pytest.approx(wanted)


def test_expected_frequencies_follow_bgnbd_closed_form(ws: Workspace, bgnbd: BetaGeoModel) -> None:
    x, _, big_t = cdnow_weeks(ws)
    actual, expected = frequency_counts(bgnbd, x, big_t)
    assert actual.tolist() == ACTUAL
    p = bgnbd.params_
    nobody = sum((p["alpha"] / (p["alpha"] + t)) ** p["r"] for t in big_t)  # P(X(T) = 0)
    assert expected[0] == pytest.approx(nobody, rel=1e-10)
    assert expected.sum() == pytest.approx(len(x)) and np.all(expected > 0)
    # the fit is close: no bin off by more than 10% of the customers or 25 of them
    assert np.all(np.abs(expected - actual) < np.maximum(25, 0.1 * actual))


@pytest.mark.parametrize("model", [ModifiedBetaGeoModel, ParetoNBDModel])
def test_expected_frequencies_sum_to_the_customers(ws: Workspace, model: type[Any]) -> None:
    x, t_x, big_t = cdnow_weeks(ws)
    fitted = model().fit(x, t_x, big_t)
    unique, counts = np.unique(big_t, return_counts=True)
    _, weighted = frequency_counts(fitted, np.zeros(len(unique)), unique, weights=counts)
    _, expected = frequency_counts(fitted, x, big_t)
    assert expected == pytest.approx(weighted)
    assert expected.sum() == pytest.approx(len(x)) and np.all(expected > 0)
    fig = plots.period_transactions(fitted, x, big_t, max_frequency=3)
    assert [list(bar.x) for bar in fig.data] == [["0", "1", "2", "3+"]] * 2
    assert list(fig.data[0].y) == [1411, 439, 214, 293]


def test_plots_need_a_purchase_model() -> None:
    spend = GammaGammaModel.from_params({"p": 6.25, "q": 3.74, "gamma": 15.44})
    with pytest.raises(InputError, match="GammaGammaModel is not a purchase model"):
        plots.period_transactions(spend, [0, 1], [30, 30])
    model = BetaGeoModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
    with pytest.raises(InputError, match="max_frequency must be at least 1"):
        frequency_counts(model, [0, 1], [30, 30], top=0)
    assert math.isclose(frequency_counts(model, [0, 1], [30, 30])[1].sum(), 2)


def test_customers_acquired_on_the_last_day_expect_no_repeat(bgnbd: BetaGeoModel) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the log of no time had warned
        actual, expected = frequency_counts(bgnbd, [0, 0, 3], [0.0, 0.0, 20.0])
    alone = frequency_counts(bgnbd, [3], [20.0])[1]
    assert expected == pytest.approx(alone + np.array([2, 0, 0, 0, 0, 0, 0, 0]))
    assert actual.tolist() == [2, 0, 0, 1, 0, 0, 0, 0]
