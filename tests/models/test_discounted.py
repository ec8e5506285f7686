"""Discounted expected purchases of every purchase model against the sum taken period by
period from the models' own conditional expectations E[Y(k) | history], on the CDNOW sample.

The model computes the sum on the distinct (x, T) pairs and multiplies by P(alive) per row;
the reference asks for E[Y(k)] of every row at each k separately, so a pair gathered back to
the wrong rows, a step missing or a discount off by one period shows."""

from __future__ import annotations

import numpy as np
import pytest
from cdnow_data import cdnow_weeks

from patron.models import BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel
from patron.models.history import HistoryModel

MODELS = [
    BetaGeoModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}),
    ModifiedBetaGeoModel.from_params({"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}),
    ParetoNBDModel.from_params({"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}),
]


def step_by_step(model: HistoryModel, periods: int, rate: float) -> np.ndarray:
    history = cdnow_weeks()
    path = [model.conditional_expected_purchases(float(k), *history) for k in range(periods + 1)]
    return sum((path[k] - path[k - 1]) / (1 + rate) ** k for k in range(1, periods + 1))


@pytest.mark.parametrize("model", MODELS, ids=["bgnbd", "mbgnbd", "pnbd"])
@pytest.mark.parametrize(("periods", "rate"), [(52, 0.002), (13, 0.05), (1, 0.0), (150, 0.01)])
def test_discounted_purchases_are_the_period_by_period_sum(
    model: HistoryModel, periods: int, rate: float
) -> None:
    discounted = model.discounted_expected_purchases(periods, rate, *cdnow_weeks())
    assert discounted == pytest.approx(step_by_step(model, periods, rate), rel=1e-10)


@pytest.mark.parametrize("model", MODELS, ids=["bgnbd", "mbgnbd", "pnbd"])
@pytest.mark.parametrize("periods", [39, 200])  # 200: the sum goes 64 periods at a time
def test_without_discount_they_are_the_purchases_of_the_whole_horizon(
    model: HistoryModel, periods: int
) -> None:
    history = cdnow_weeks()
    discounted = model.discounted_expected_purchases(periods, 0.0, *history)
    expected = model.conditional_expected_purchases(periods, *history)
    assert discounted == pytest.approx(expected, rel=1e-10)
    assert np.all(model.discounted_expected_purchases(periods, 0.01, *history) < expected)
