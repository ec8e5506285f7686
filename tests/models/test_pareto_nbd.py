"""Pareto/NBD against the published CDNOW fit (Fader, Hardie & Lee 2005, "Counting your customers
the easy way": r = 0.55, alpha = 10.58, s = 0.61, beta = 11.67, LL = -9595.0), the
hypergeometric form of Fader & Hardie's MATLAB note, high-precision values for extreme customers,
and its own invariants."""

from __future__ import annotations

import numpy as np
import pytest
from cdnow_data import cdnow_weeks
from checks import assert_gradient, assert_hessian, assert_summed
from scipy.integrate import quad
from scipy.special import gammaln, hyp2f1
from scipy.stats import gamma

from patron.errors import InputError
from patron.models import NotFittedError
from patron.models.history import customer_data
from patron.models.pareto_nbd import ParetoNBDModel

PUBLISHED = {"r": 0.55, "alpha": 10.58, "s": 0.61, "beta": 11.67}


@pytest.fixture(scope="module")
def fitted() -> ParetoNBDModel:
    return ParetoNBDModel().fit(*cdnow_weeks())


def test_published_cdnow_estimates(fitted: ParetoNBDModel) -> None:
    assert fitted.params_ == pytest.approx(PUBLISHED, rel=1e-2)
    assert fitted.loglik_ == pytest.approx(-9595.0, abs=0.5)
    assert fitted.n_customers_ == 2357
    assert all(0 < se < np.inf for se in fitted.std_errors_.values())


def test_weighted_unique_rows_fit_like_every_customer(fitted: ParetoNBDModel) -> None:
    rows, counts = np.unique(np.stack(cdnow_weeks(), axis=1), axis=0, return_counts=True)
    weighted = ParetoNBDModel().fit(*rows.T, weights=counts)
    assert weighted.unique_rows_ == len(rows) == fitted.unique_rows_ < fitted.n_customers_
    assert weighted.params_ == pytest.approx(fitted.params_, rel=1e-5)
    assert weighted.loglik_ == pytest.approx(fitted.loglik_, rel=1e-9)


@pytest.mark.parametrize("params", [[0.55, 10.58, 0.61, 11.67], [1.3, 8.0, 2.4, 3.5]])
def test_likelihood_is_the_hypergeometric_form(params: list[float]) -> None:
    # The MATLAB note's A_0 (a difference of 2F1 terms, branch on alpha >= beta), where plain
    # floating point is safe: moderate frequencies and ages
    r, alpha, s, beta = params
    x, t_x, big_t = np.array([0, 1, 2, 5, 7]), np.array([0, 3.5, 30.4, 12, 38]), np.full(5, 38.9)
    k = r + s + x
    if alpha >= beta:
        big, small, b = alpha, beta, s + 1
    else:
        big, small, b = beta, alpha, r + x

    def term(y: np.ndarray) -> np.ndarray:
        return hyp2f1(k, b, k + 1, (big - small) / (big + y)) / (big + y) ** k

    a_0 = term(t_x) - term(big_t)
    alive = (alpha + big_t) ** -(r + x) * (beta + big_t) ** -s
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    expected = common + np.log(alive + s / k * a_0)
    loglik, _ = ParetoNBDModel().loglik_rows(np.array(params), customer_data(x, t_x, big_t))
    assert loglik == pytest.approx(expected, rel=1e-11)


# log-likelihoods of (x, t_x, T) = (300, 99, 100), (0, 0, 1000) and (300, 1, 100) from the
# note's integral in 50-digit arithmetic (mpmath), at alpha < beta, alpha >> beta, alpha << beta
EXTREME = customer_data([300, 0, 300], [99, 0, 1], [100, 1000, 100])
HIGH_PRECISION = [
    ([0.55, 10.58, 0.61, 11.67], [-2.50297972211, -0.663077745258, 670.683601745]),
    ([2.0, 30.0, 0.4, 0.05], [-45.6046650682, -0.148690559832, 385.775373934]),
    ([0.1, 0.01, 3.0, 200.0], [23.863899201, -0.829848282965, 1394.16242139]),
]


@pytest.mark.parametrize(("params", "expected"), HIGH_PRECISION)
def test_extreme_customers_match_high_precision(params: list[float], expected: list[float]) -> None:
    loglik, grad = ParetoNBDModel().loglik_rows(np.array(params), EXTREME)
    assert loglik == pytest.approx(expected, rel=1e-11)
    assert np.all(np.isfinite(grad))


# one-timers young and old, a heavy buyer still buying and one long gone, a mid one; the
# parameters: the CDNOW fit's, and alpha far above and far below beta (the tails' two branches)
EXTREMES = ([0, 0, 1, 5, 300, 300, 40], [0, 0, 2.5, 30, 99, 1, 1], [10, 1000, 20, 40, 100, 100, 90])
PARAMS = ([0.7, 3.0, 1.2, 2.5], [0.55, 10.58, 0.61, 11.67], [2.0, 30.0, 0.4, 0.05])
PARAMS += ([0.3, 0.2, 2.0, 50.0],)


@pytest.mark.parametrize("params", PARAMS)
def test_gradient_and_hessian_match_finite_differences(params: list[float]) -> None:
    data = customer_data(*EXTREMES)
    weights = np.array([3.0, 1.0, 1.0, 2.0, 1.0, 1.0, 5.0])
    assert_gradient(ParetoNBDModel(), np.array(params), data)
    assert_hessian(ParetoNBDModel(), np.array(params), data, weights, step=1e-4)
    assert_summed(ParetoNBDModel(), np.array(params), data, weights)


def test_probability_alive(fitted: ParetoNBDModel) -> None:
    x, t_x, big_t = cdnow_weeks()
    alive = fitted.probability_alive(x, t_x, big_t)
    assert np.all((alive >= 0) & (alive <= 1))
    pair = fitted.probability_alive([10, 10], [38, 5], [39, 39])
    assert pair[0] > pair[1]  # same frequency, the more recent buyer is likelier alive
    assert fitted.probability_alive([0], [0], [0])[0] == pytest.approx(1.0, rel=1e-12)
    # 50-digit values at the published parameters
    published = ParetoNBDModel.from_params(PUBLISHED)
    extreme = published.probability_alive([300, 0], [99, 0], [100, 1000])
    assert extreme == pytest.approx([0.971887807963, 0.0103935461576], rel=1e-10)


@pytest.mark.parametrize("t", [1.0, 39.0, 78.0])
def test_expected_purchases_is_the_mixture_integral(fitted: ParetoNBDModel, t: float) -> None:
    # E[X(t)] = r / alpha E[(1 - exp(-mu t)) / mu], mu ~ Gamma(s, beta)
    r, alpha, s, beta = fitted.params_.values()
    lifetime = gamma(s, scale=1 / beta)
    within, _ = quad(lambda mu: -np.expm1(-mu * t) / mu * lifetime.pdf(mu), 0, np.inf)
    assert fitted.expected_purchases(t) == pytest.approx(r / alpha * within, rel=1e-7)


def test_conditional_expectation(fitted: ParetoNBDModel) -> None:
    t = np.array([0.0, 10, 39, 78])
    # without history (T = 0) it is the expectation for a new customer
    blank = [fitted.conditional_expected_purchases(ti, [0], [0], [0])[0] for ti in t]
    assert blank == pytest.approx(fitted.expected_purchases(t), rel=1e-12)
    heavy = [fitted.conditional_expected_purchases(ti, [300], [99], [100])[0] for ti in t]
    assert heavy[0] == 0.0
    assert np.all(np.isfinite(heavy)) and np.all(np.diff(heavy) > 0)


def test_expectations_are_continuous_at_s_equal_one() -> None:
    values = [
        ParetoNBDModel.from_params({**PUBLISHED, "s": s}).conditional_expected_purchases(
            39, [2], [30.43], [38.86]
        )[0]
        for s in (1 - 1e-9, 1.0, 1 + 1e-9)
    ]
    assert values == pytest.approx([values[1]] * 3, rel=1e-7)


def test_reading_before_fit_says_call_fit() -> None:
    with pytest.raises(NotFittedError, match="call fit first"):
        ParetoNBDModel().probability_alive([1], [1], [2])


def test_bad_input_is_an_input_error() -> None:
    with pytest.raises(InputError, match="recency cannot exceed T"):
        ParetoNBDModel().fit([1], [5], [3])


def test_predictions_per_distinct_pair_equal_per_row(fitted: ParetoNBDModel) -> None:
    # the tails and lifetimes are computed once per distinct (x, T) and gathered back
    d = customer_data(*cdnow_weeks()[:3])
    t = np.asarray(39.0)
    for pooled, per_row in (
        (fitted._purchase_if_alive, fitted._purchase_if_alive_rows),
        (fitted._expected_if_alive, fitted._expected_if_alive_rows),
    ):
        assert np.array_equal(pooled(t, d), per_row(t, d["x"], d["T"]))
