"""Parameter recovery: each model, fitted on a large population simulated from its own story
(``simulate.py``, independent of the likelihood code), finds the true parameters within its
standard errors and predicts the simulated behaviour it was not fitted on.

A wrong likelihood term moves the estimates by several standard errors at these sizes, or the
predictions off the simulation; a wrong gradient stops L-BFGS short (a ConvergenceWarning, an
error here) or skews the standard errors, which the BG/NBD coverage check catches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
import simulate

from patron.models import (
    BetaGeoBetaBinomModel,
    BetaGeoModel,
    GammaGammaModel,
    Model,
    ParetoNBDModel,
    ShiftedBetaGeoModel,
    from_survivors,
)
from patron.models.mbgnbd import ModifiedBetaGeoModel

pytestmark = pytest.mark.filterwarnings("error::patron.errors.ConvergenceWarning")

HORIZON = 26.0  # weeks of holdout after each customer's calibration period


@dataclass(frozen=True)
class Recovery:
    """A model fitted on simulated data, with per-customer predictions beside what happened."""

    model: Model
    truth: dict[str, float]
    checks: dict[str, tuple[np.ndarray, np.ndarray]]  # name: (predicted, simulated)


def _weeks_since_first_purchase(rng: np.random.Generator, customers: int) -> np.ndarray:
    """T of customers who joined over 33 weeks, observed 20 to 52 weeks."""
    return rng.integers(20, 53, customers).astype(float)


def _history(
    model: type,
    simulator: Callable[..., simulate.History],
    truth: dict[str, float],
    customers: int,
    seed: int,
) -> Recovery:
    """Fit a (frequency, recency, T) model on unique rows: recency in whole days, as recorded,
    makes rows repeat (Pareto/NBD's cost is per distinct row) and moves no estimate."""
    rng = np.random.default_rng(seed)
    sim = simulator(rng, _weeks_since_first_purchase(rng, customers), HORIZON, **truth)
    x, t_x, big_t = sim.frequency, np.round(sim.recency * 7) / 7, sim.T
    rows, counts = np.unique(np.stack([x, t_x, big_t], axis=1), axis=0, return_counts=True)
    fitted = model().fit(*rows.T, weights=counts)
    return Recovery(
        fitted,
        truth,
        {
            "E[X(T)] vs calibration purchases": (fitted.expected_purchases(big_t), x),
            "E[Y(26) | history] vs holdout purchases": (
                fitted.conditional_expected_purchases(HORIZON, x, t_x, big_t),
                sim.holdout,
            ),
            "P(Y(26) > 0 | history) vs holdout buyers": (
                fitted.probability_of_purchase(HORIZON, x, t_x, big_t),
                (sim.holdout > 0).astype(float),
            ),
        },
    )


def _bgbb(truth: dict[str, float], customers: int, seed: int) -> Recovery:
    """Cohorts with 4 to 10 opportunities observed, 5 more held out."""
    rng = np.random.default_rng(seed)
    sim = simulate.bg_bb(rng, rng.integers(4, 11, customers), 5, **truth)
    rows, counts = np.unique(np.stack(sim[:3], axis=1), axis=0, return_counts=True)
    fitted = BetaGeoBetaBinomModel().fit(*rows.T, weights=counts)
    predicted = fitted.conditional_expected_purchases(5, *sim[:3])
    return Recovery(
        fitted, truth, {"E[X(n, n + 5) | history] vs holdout": (predicted, sim.holdout)}
    )


def _sbg(truth: dict[str, float], customers: int, seed: int) -> Recovery:
    """Seven years observed, as in the paper; survival to year 12 of those alive at 7 held out."""
    alive = simulate.sbg_survivors(np.random.default_rng(seed), customers, 12, **truth)
    periods, churned, weights = from_survivors(alive[:8])
    fitted = ShiftedBetaGeoModel().fit(periods, churned=churned, weights=weights)
    renewing = np.full(alive[7], fitted.survival(12) / fitted.survival(7))
    survived = np.arange(alive[7]) < alive[12]
    return Recovery(fitted, truth, {"S(12) / S(7) vs survivors": (renewing, survived)})


def _gamma_gamma(truth: dict[str, float], customers: int, seed: int) -> Recovery:
    """Repeat customers with 1 + Poisson(2) transactions; one more transaction held out."""
    rng = np.random.default_rng(seed)
    x = 1 + rng.poisson(2, customers)
    mean, following = simulate.gamma_gamma(rng, x, **truth)
    fitted = GammaGammaModel().fit(x, mean)
    predicted = fitted.conditional_expected_average_profit(x, mean)
    return Recovery(fitted, truth, {"E[M | x, mbar] vs next spend": (predicted, following)})


BGNBD = {"r": 1.0, "alpha": 4.0, "a": 0.8, "b": 2.5}
PARETO_NBD = {"r": 1.0, "alpha": 4.0, "s": 1.0, "beta": 8.0}
CASES = {
    "bgnbd": lambda: _history(BetaGeoModel, simulate.bg_nbd, BGNBD, 30_000, seed=1),
    "mbgnbd": lambda: _history(ModifiedBetaGeoModel, simulate.mbg_nbd, BGNBD, 30_000, seed=2),
    "pareto_nbd": lambda: _history(ParetoNBDModel, simulate.pareto_nbd, PARETO_NBD, 30_000, seed=3),
    "bgbb": lambda: _bgbb({"alpha": 1.2, "beta": 0.75, "gamma": 0.66, "delta": 2.8}, 30_000, 4),
    "sbg": lambda: _sbg({"alpha": 0.7, "beta": 1.2}, 20_000, 5),
    "gamma_gamma": lambda: _gamma_gamma({"p": 3.0, "q": 4.0, "gamma": 10.0}, 30_000, 6),
}


@pytest.fixture(scope="module", params=CASES)
def recovery(request: pytest.FixtureRequest) -> Recovery:
    return CASES[request.param]()


def test_true_parameters_within_four_standard_errors(recovery: Recovery) -> None:
    estimates, errors = recovery.model.params_, recovery.model.std_errors_
    for name, true in recovery.truth.items():
        assert abs(estimates[name] - true) < 4 * errors[name], (name, estimates, errors)
        assert estimates[name] == pytest.approx(true, rel=0.2), name  # nor are 4 SEs vacuous


def test_predictions_match_the_simulation(recovery: Recovery) -> None:
    # Customers are independent, so the summed residual is a few of its own standard deviations;
    # the fitted parameters' error widens it (up to ~1.5x over repeated simulations), hence 4
    for name, (predicted, simulated) in recovery.checks.items():
        residual = simulated - predicted
        z = residual.sum() / np.sqrt(np.sum(residual**2))
        assert abs(z) < 4, (name, predicted.sum(), simulated.sum())


def test_bgnbd_standard_errors_match_the_spread_of_estimates() -> None:
    # 60 populations of 2,000: estimate +- 1.96 SE holds the true r in ~95% of them (binomial sd
    # 0.028), and the mean SE is the estimates' standard deviation (itself within ~9%)
    fits = [
        _history(BetaGeoModel, simulate.bg_nbd, BGNBD, 2_000, seed=100 + seed).model
        for seed in range(60)
    ]
    r = np.array([model.params_["r"] for model in fits])
    errors = np.array([model.std_errors_["r"] for model in fits])
    assert np.mean(np.abs(r - BGNBD["r"]) < 1.96 * errors) >= 0.85
    assert np.mean(errors) == pytest.approx(np.std(r, ddof=1), rel=0.3)
