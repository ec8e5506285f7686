"""Fits on data that cannot pin their parameters down: they end, quietly, where the data leave
them, and say so in patron's words (ConvergenceWarning, unidentified parameters).

- No wall of numpy RuntimeWarnings from inside the likelihood: BFGS probes far points and backs
  off from them (``patron fit --model mbgnbd`` printed 420 on the first shop below).
- No error when the likelihood keeps rising toward an infinite parameter and BFGS ends on a
  point that overflows: the fit ends at the best finite point (``patron validate`` failed
  whole on the second shop: "BetaGeoModel found no finite likelihood").

The fixtures are weekly summaries of the experiment readout tests' shop (600 customers buying
on random days of the first half of 2024), as ``ws.customer_summary()`` gives them as weighted
unique rows: observed to the end of September, when the whole base has stopped at once, and to
the end of June, when nobody has stopped yet.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from patron.clv import unidentified
from patron.errors import ConvergenceWarning, InputError, LooseFitWarning
from patron.models import (
    BetaGeoBetaBinomModel,
    BetaGeoModel,
    ModifiedBetaGeoModel,
    ParetoNBDModel,
    ShiftedBetaGeoModel,
)
from patron.models.base import Model

FIXTURES = Path(__file__).parent.parent / "fixtures"
SUMMARY = pd.read_csv(FIXTURES / "everyone_stops_summary.csv")
STILL_BUYING = pd.read_csv(FIXTURES / "still_buying_summary.csv")


@pytest.mark.parametrize("model", [BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel])
def test_a_fit_that_runs_off_to_infinity_prints_no_numpy_warnings(model: type[Model]) -> None:
    rows = (SUMMARY[name].to_numpy() for name in ("frequency", "recency", "T"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        warnings.simplefilter("ignore", UserWarning)  # patron's own ConvergenceWarning may come
        fitted = model().fit(*rows, weights=SUMMARY["count"].to_numpy())
    assert fitted.n_customers_ == 600 and np.isfinite(fitted.loglik_)
    assert max(fitted.params_.values()) > 1e3  # the case is one that runs off


def test_a_fit_whose_likelihood_rises_toward_infinity_ends_at_its_best_finite_point() -> None:
    rows = (STILL_BUYING[name].to_numpy() for name in ("frequency", "recency", "T"))
    # Which standard errors come out infinite, and which merely huge or a near-singular
    # inverse's small number, differs with the CPU's rounding out there (r near 1e16): a
    # warning must come, and the rule the commands use must name the pair that ran off
    with (
        pytest.warns(LooseFitWarning, match="do not pin down"),
        pytest.warns(ConvergenceWarning, match="rose toward an infinite parameter"),
    ):
        fitted = BetaGeoModel().fit(*rows, weights=STILL_BUYING["count"].to_numpy())
    assert fitted.n_customers_ == 600 and np.isfinite(fitted.loglik_)
    params = fitted.params_
    assert params["r"] > 1e6 and params["r"] / params["alpha"] == pytest.approx(0.08, abs=0.01)
    assert {"r", "alpha"} <= set(unidentified(fitted))
    alive = fitted.probability_alive([0, 2], [0, 10], [20, 20])
    assert np.all((alive >= 0) & (alive <= 1))


@pytest.mark.parametrize(
    ("model", "rows"),
    [
        (BetaGeoModel, ([0, 0], [0, 0], [0, 0])),
        (ParetoNBDModel, ([0, 0], [0, 0], [0, 0])),
        (BetaGeoModel, ([0, 1], [0, 2], [0, 5])),  # the one observed row weighs nothing
        (BetaGeoBetaBinomModel, ([0, 0], [0, 0], [0, 0])),
    ],
)
def test_customers_observed_for_no_time_leave_nothing_to_fit(
    model: type[Model], rows: tuple[list[int], ...]
) -> None:
    # the likelihood is 1 whatever the parameters: a fit returned its start as estimates
    with pytest.raises(InputError, match=r"every customer's (T|n_periods) is 0"):
        model().fit(*rows, weights=[4, 0])


def test_contracts_observed_for_no_period_leave_nothing_to_fit() -> None:
    with pytest.raises(InputError, match="every customer's periods is 0"):
        ShiftedBetaGeoModel().fit([0, 0], churned=[False, False])


@pytest.mark.filterwarnings("ignore:.*precision loss:patron.errors.ConvergenceWarning")
def test_a_fit_without_useful_standard_errors_says_so() -> None:
    """Four customers: gamma's standard error is infinite, or 20 times gamma (CPUs differ)."""
    with pytest.warns(LooseFitWarning, match="do not pin down .*gamma"):
        fitted = BetaGeoBetaBinomModel().fit([0, 1, 3, 6], [0, 2, 5, 6], 6)
    assert "gamma" in unidentified(fitted)
