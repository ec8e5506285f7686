"""A fit as a notebook shows it: ``summary()`` (estimates, standard errors, intervals on the log
scale) and the repr."""

from __future__ import annotations

import numpy as np
import pytest
from cdnow_data import cdnow_weeks

from patron.errors import InputError
from patron.models import BetaGeoModel, ShiftedBetaGeoModel
from patron.models.sbg import from_survivors

# lifetimes' summary of the same fit (its documentation's CDNOW example): coef and se(coef)
LIFETIMES = {"r": (0.243, 0.013), "alpha": (4.414, 0.378), "a": (0.793, 0.186), "b": (2.426, 0.706)}


@pytest.fixture(scope="module")
def fitted() -> BetaGeoModel:
    return BetaGeoModel().fit(*cdnow_weeks())


def test_the_summary_holds_the_fit_and_the_published_errors(fitted: BetaGeoModel) -> None:
    table = fitted.summary()
    assert list(table.index) == ["r", "alpha", "a", "b"] and table.index.name == "parameter"
    assert table["estimate"].to_dict() == fitted.params_
    assert table["std_error"].to_dict() == fitted.std_errors_
    for name, (coef, se) in LIFETIMES.items():
        assert table.loc[name, "estimate"] == pytest.approx(coef, abs=5e-4)
        assert table.loc[name, "std_error"] == pytest.approx(se, abs=1e-3)  # it rounds to 3


@pytest.mark.parametrize("level", [0.5, 0.9, 0.95, 0.99])
def test_intervals_are_normal_on_the_log_scale(fitted: BetaGeoModel, level: float) -> None:
    table = fitted.summary(level)
    z = {0.5: 0.6744897501960817, 0.9: 1.6448536269514722, 0.95: 1.959963984540054}
    z[0.99] = 2.5758293035489004
    estimate, lower, upper = (table[c].to_numpy() for c in ("estimate", "lower", "upper"))
    log_se = table["std_error"].to_numpy() / estimate
    assert np.log(upper / estimate) == pytest.approx(z[level] * log_se)
    assert np.log(estimate / lower) == pytest.approx(z[level] * log_se)
    assert (table["lower"] > 0).all()  # b's estimate - 1.96 se would be 1.04; a's 0.43


def test_the_repr_says_what_was_fitted(fitted: BetaGeoModel) -> None:
    assert repr(BetaGeoModel()) == "BetaGeoModel(not fitted)"
    assert repr(BetaGeoModel(penalizer=0.01)) == "BetaGeoModel(not fitted, penalizer=0.01)"
    assert repr(fitted) == (
        "BetaGeoModel(r=0.2426, alpha=4.414, a=0.7929, b=2.426; "
        "2,357 customers in 1,016 rows, log-likelihood -9,582.43)"
    )
    periods, churned, weights = from_survivors([1000, 631, 468, 382, 326, 289, 262, 241])
    cohort = ShiftedBetaGeoModel().fit(periods, churned=churned, weights=weights)
    assert repr(cohort).startswith(
        "ShiftedBetaGeoModel(alpha=0.7041, beta=1.182; 1,000 customers in 8 rows"
    )


def test_a_bad_level_is_refused(fitted: BetaGeoModel) -> None:
    with pytest.raises(InputError, match="level must be between 0 and 1"):
        fitted.summary(95)
