"""A fit on data that cannot pin its parameters down ends without numpy's overflow warnings:
BFGS probes far points and backs off from them, and what the user needs to know is said by
patron (unidentified parameters, ConvergenceWarning), not by a wall of RuntimeWarnings from
inside the likelihood. ``patron fit --model mbgnbd`` printed 420 of them on this shop.

The fixture is the weekly summary of a small shop whose whole base stops buying at once (the
experiment readout tests' shop: 600 customers buying on random days of the first half year,
observed to the end of September), as ``ws.customer_summary()`` gives it, weighted unique rows.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from patron.models import BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel
from patron.models.base import Model

SUMMARY = pd.read_csv(Path(__file__).parent.parent / "fixtures" / "everyone_stops_summary.csv")


@pytest.mark.parametrize("model", [BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel])
def test_a_fit_that_runs_off_to_infinity_prints_no_numpy_warnings(model: type[Model]) -> None:
    rows = (SUMMARY[name].to_numpy() for name in ("frequency", "recency", "T"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        warnings.simplefilter("ignore", UserWarning)  # patron's own ConvergenceWarning may come
        fitted = model().fit(*rows, weights=SUMMARY["count"].to_numpy())
    assert fitted.n_customers_ == 600 and np.isfinite(fitted.loglik_)
    assert max(fitted.params_.values()) > 1e3  # the case is one that runs off
