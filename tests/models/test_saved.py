"""A fitted model saved as plain values (``to_dict``, through JSON) comes back the same model:
parameters, standard errors, log-likelihood, counts and predictions, without the data."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from cdnow_data import cdnow_spend, cdnow_weeks

from patron.errors import InputError
from patron.models import (
    BetaGeoBetaBinomModel,
    BetaGeoModel,
    GammaGammaModel,
    Model,
    ModifiedBetaGeoModel,
    ParetoNBDModel,
    ShiftedBetaGeoModel,
    from_survivors,
)

HISTORY = ([0, 2, 7], [0, 30.4, 38.0], [39, 38.9, 39])


def _survivors() -> Model:
    periods, churned, weights = from_survivors([1000, 631, 468, 382, 326, 289, 262, 241])
    return ShiftedBetaGeoModel().fit(periods, churned=churned, weights=weights)


FITS: dict[str, tuple[Callable[[], Model], Callable[[Any], np.ndarray]]] = {
    "bgnbd": (
        lambda: BetaGeoModel().fit(*cdnow_weeks()),
        lambda m: m.conditional_expected_purchases(39, *HISTORY),
    ),
    "mbgnbd": (
        lambda: ModifiedBetaGeoModel().fit(*cdnow_weeks()),
        lambda m: m.probability_alive(*HISTORY),
    ),
    "pnbd": (
        lambda: ParetoNBDModel().fit(*cdnow_weeks()),
        lambda m: m.probability_alive(*HISTORY),
    ),
    "gg": (
        lambda: GammaGammaModel().fit(*cdnow_spend()),
        lambda m: m.conditional_expected_average_profit([1, 5], [20.0, 35.5]),
    ),
    "bgbb": (
        lambda: BetaGeoBetaBinomModel().fit([0, 1, 3, 6], [0, 2, 5, 6], [6, 6, 6, 6]),
        lambda m: m.probability_alive([1, 3], [2, 5], [6, 6]),
    ),
    "sbg": (_survivors, lambda m: m.survival(np.arange(1, 6))),
}


@pytest.mark.parametrize("name", FITS)
@pytest.mark.filterwarnings("ignore::patron.errors.ConvergenceWarning")  # bgbb: 4 customers
def test_a_saved_fit_comes_back_the_same(name: str) -> None:
    fit, predict = FITS[name]
    fitted = fit()
    saved = json.loads(json.dumps(fitted.to_dict()))
    for loaded in (type(fitted).from_dict(saved), Model.from_dict(saved)):
        assert type(loaded) is type(fitted)
        assert loaded.params_ == fitted.params_
        assert loaded.std_errors_ == pytest.approx(fitted.std_errors_, nan_ok=True)
        assert (loaded.loglik_, loaded.n_customers_) == (fitted.loglik_, fitted.n_customers_)
        assert loaded.unique_rows_ == fitted.unique_rows_
        assert np.array_equal(loaded.covariance_, fitted.covariance_, equal_nan=True)
        assert np.array_equal(predict(loaded), predict(fitted))


def test_a_saved_fit_is_checked() -> None:
    saved = BetaGeoModel().fit(*cdnow_weeks()).to_dict()
    with pytest.raises(InputError, match="is a BetaGeoModel, not a ParetoNBDModel"):
        ParetoNBDModel.from_dict(saved)
    with pytest.raises(InputError, match="not a saved model: its 'model' is 'Lifetimes'"):
        Model.from_dict({**saved, "model": "Lifetimes"})
    with pytest.raises(InputError, match="not a saved BetaGeoModel: KeyError 'alpha'"):
        Model.from_dict({**saved, "params": {"r": 0.24}})
    with pytest.raises(InputError, match="not a saved model"):
        Model.from_dict([1, 2])
