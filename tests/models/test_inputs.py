"""What a model's methods take from a notebook: single numbers, numpy's integers, a pandas
column, and a penalizer; what they refuse, with a line that names the argument."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from patron.errors import InputError
from patron.models import (
    BetaGeoBetaBinomModel,
    BetaGeoModel,
    GammaGammaModel,
    ModifiedBetaGeoModel,
    ParetoNBDModel,
    ShiftedBetaGeoModel,
)
from patron.models.history import HistoryModel

HISTORY = [
    BetaGeoModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}),
    ModifiedBetaGeoModel.from_params({"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}),
    ParetoNBDModel.from_params({"r": 0.553, "alpha": 10.58, "s": 0.606, "beta": 11.67}),
]
SPEND = GammaGammaModel.from_params({"p": 6.25, "q": 3.74, "gamma": 15.44})
SBG = ShiftedBetaGeoModel.from_params({"alpha": 0.704, "beta": 1.182})


@pytest.mark.parametrize("model", HISTORY)
def test_one_customer_as_numbers(model: HistoryModel) -> None:
    one = model.probability_alive(2, 30.0, 50.0)
    assert one == pytest.approx(model.probability_alive([2], [30.0], [50.0]))
    # a single number stands for every row; a list of one does not
    assert model.probability_alive([0, 2], [0, 30], 50.0)[1] == pytest.approx(one[0])
    with pytest.raises(InputError, match="frequency, recency and T must have the same length"):
        model.probability_alive([0, 2], [0, 30], [50.0])


@pytest.mark.parametrize("model", HISTORY)
def test_numpy_integers_give_plain_results(model: HistoryModel) -> None:
    expected = model.expected_purchases(np.int64(10))
    assert isinstance(expected, float) and expected == pytest.approx(model.expected_purchases(10))
    rows = (np.array([0, 2]), np.array([0, 30]), np.int64(50))
    exactly = model.probability_of_purchases(np.int64(2), np.int64(10), *rows)
    assert exactly == pytest.approx(model.probability_of_purchases(2, 10, *rows))
    discounted = model.discounted_expected_purchases(np.int64(4), 0.01, *rows)
    assert discounted == pytest.approx(model.discounted_expected_purchases(4, 0.01, *rows))
    with pytest.raises(InputError, match="n must be a whole number"):
        model.probability_of_purchases(2.5, 10, *rows)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="periods must be 0 or more"):
        model.discounted_expected_purchases(-1, 0.01, *rows)


def test_spend_and_contracts_take_numbers() -> None:
    one = SPEND.conditional_expected_average_profit(2, 50.0)
    assert one == pytest.approx(SPEND.conditional_expected_average_profit([2], [50.0]))
    assert SBG.survival(np.int64(3)) == pytest.approx(SBG.survival(3))
    assert SBG.expected_lifetime(np.int64(3)) == pytest.approx(SBG.expected_lifetime(3))
    with pytest.raises(InputError, match="periods must be a whole number"):
        SBG.expected_lifetime(2.5)  # type: ignore[arg-type]


def test_one_number_of_opportunities_for_everyone() -> None:
    x, t_x = [0, 1, 3, 6, 2, 4], [0, 2, 5, 6, 3, 6]
    shared = BetaGeoBetaBinomModel().fit(x, t_x, 6)
    assert shared.params_ == BetaGeoBetaBinomModel().fit(x, t_x, [6] * 6).params_
    assert shared.probability_alive(x, t_x, np.int64(6)) == pytest.approx(
        shared.probability_alive(x, t_x, [6] * 6)
    )


def test_a_data_frames_transpose_for_t_gets_a_hint() -> None:
    df = pd.DataFrame({"frequency": [0, 2], "recency": [0.0, 30.0], "T": [50.0, 50.0]})
    assert HISTORY[0].probability_alive(df.frequency, df.recency, df["T"]).shape == (2,)
    with pytest.raises(InputError, match=r"T .* 2-D array; pass one column, such as df\['T'\]"):
        HISTORY[0].probability_alive(df.frequency, df.recency, df.T)
    with pytest.raises(InputError, match="recency must be a list of numbers"):
        HISTORY[0].probability_alive([1], ["soon"], [50.0])


@pytest.mark.parametrize("penalizer", [-1, -1e-9, np.nan, np.inf, True, "0.1", None])
def test_a_penalizer_is_a_finite_number_zero_or_more(penalizer: object) -> None:
    with pytest.raises(InputError, match="penalizer must be a finite number, 0"):
        BetaGeoModel(penalizer=penalizer)  # type: ignore[arg-type]
    assert BetaGeoModel(penalizer=np.float32(0.5)).penalizer == 0.5


@pytest.mark.parametrize("model", HISTORY)
@pytest.mark.parametrize("t", [-5, -0.5, float("nan"), float("inf"), "soon", [1.0, -1.0]])
def test_time_ahead_is_finite_and_not_negative(model: HistoryModel, t: object) -> None:
    """A negative t gave negative expected purchases and probabilities, NaN a silent NaN."""
    with pytest.raises(InputError, match=r"^t must be"):
        model.conditional_expected_purchases(t, 2, 30.0, 38.0)
    for ask in (
        lambda: model.probability_of_purchase(t, 2, 30.0, 38.0),
        lambda: model.probability_of_purchases(1, t, 2, 30.0, 38.0),
        lambda: model.expected_purchases(t),
        lambda: model.forecast(t, 2, 30.0, 38.0),
    ):
        with pytest.raises(InputError, match=r"^t must be"):
            ask()


@pytest.mark.parametrize("model", HISTORY)
def test_nothing_ahead_is_no_purchase(model: HistoryModel) -> None:
    assert str(model.expected_purchases(0)) == "0.0"  # not -0.0 (a < 1 in BG/NBD)
    assert str(model.conditional_expected_purchases(0, 2, 30.0, 38.0)[0]) == "0.0"
    assert model.probability_of_purchase(0, 2, 30.0, 38.0)[0] == 0
