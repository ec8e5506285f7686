"""BG/NBD against Fader, Hardie & Lee (2005), "Counting your customers the easy way", and its
invariants: the published CDNOW estimates and prediction, gradients, weights, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from cdnow_data import cdnow_weeks
from checks import assert_gradient, assert_hessian, assert_summed

from patron.errors import InputError
from patron.models import BetaGeoModel, ModifiedBetaGeoModel, NotFittedError, ParetoNBDModel
from patron.models.bgnbd import _expected_series
from patron.models.history import HistoryModel, customer_data


@pytest.fixture(scope="module")
def fitted() -> BetaGeoModel:
    return BetaGeoModel().fit(*cdnow_weeks())


def test_published_cdnow_estimates(fitted: BetaGeoModel) -> None:
    # The paper's table: r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, LL = -9582.4
    expected = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    assert fitted.params_ == pytest.approx(expected, abs=5e-4)
    assert fitted.loglik_ == pytest.approx(-9582.4, abs=0.05)
    assert (fitted.n_customers_, fitted.unique_rows_) == (2357, 1016)  # equal rows merged


def test_published_conditional_expectation(fitted: BetaGeoModel) -> None:
    # The paper's worked example: x = 2, t_x = 30.43, T = 38.86 expects 1.226 purchases in 39 weeks
    got = fitted.conditional_expected_purchases(39, [2], [30.43], [38.86])
    assert got[0] == pytest.approx(1.226, abs=5e-4)


def test_published_unconditional_expectations(fitted: BetaGeoModel) -> None:
    # E[X(t)] at t = 1, 3, 32 and 78 weeks as published: 0.0532, 0.1506, 1.0437, 1.8576
    got = fitted.expected_purchases(np.array([1.0, 3, 32, 78]))
    assert got == pytest.approx([0.0532, 0.1506, 1.0437, 1.8576], abs=5e-4)


def test_extreme_customers_stay_finite() -> None:
    # Reference values at r = 0.25, alpha = 4, a = 0.8, b = 2.5 and T = 40
    data = customer_data([200, 0], [38, 0], [40, 40])
    ll, grad = BetaGeoModel().loglik_rows(np.array([0.25, 4, 0.8, 2.5]), data)
    assert ll == pytest.approx([100.7957, -0.59947382], abs=5e-5)
    assert np.all(np.isfinite(grad))


def test_standard_errors_from_the_information_matrix(fitted: BetaGeoModel) -> None:
    # Independent check: invert a Hessian of the log-likelihood by second differences of values
    data = customer_data(*cdnow_weeks())
    p = np.array(list(fitted.params_.values()))

    def ll(q: np.ndarray) -> float:
        return float(fitted.loglik_rows(q, data)[0].sum())

    h = 1e-4 * p
    hessian = np.empty((4, 4))
    for i in range(4):
        for j in range(4):
            ei, ej = np.eye(4)[i] * h[i], np.eye(4)[j] * h[j]
            hessian[i, j] = (
                ll(p + ei + ej) - ll(p + ei - ej) - ll(p - ei + ej) + ll(p - ei - ej)
            ) / (4 * h[i] * h[j])
    expected = np.sqrt(np.diag(np.linalg.inv(-hessian)))
    assert list(fitted.std_errors_.values()) == pytest.approx(expected, rel=1e-3)


def test_gradient_matches_finite_differences() -> None:
    data = customer_data([0, 1, 5, 300], [0, 2.5, 30, 99], [10, 20, 40, 100])
    assert_gradient(BetaGeoModel(), np.array([0.7, 3.0, 1.2, 2.5]), data)


@pytest.mark.parametrize("model", [BetaGeoModel, ModifiedBetaGeoModel])
def test_hessian_and_summed_likelihood(model: type[BetaGeoModel]) -> None:
    # heavy buyers, a long-gone one (odds far above 0), one-timers and weights
    data = customer_data([0, 1, 5, 300, 40], [0, 2.5, 30, 99, 1], [10, 20, 40, 100, 90])
    weights = np.array([3.0, 1.0, 2.0, 1.0, 5.0])
    for params in ([0.7, 3.0, 1.2, 2.5], [0.24, 4.4, 0.8, 2.4], [2.0, 0.5, 3.0, 0.3]):
        assert_hessian(model(), np.array(params), data, weights)
        assert_summed(model(), np.array(params), data, weights)


def test_weighted_unique_rows_fit_like_every_customer() -> None:
    x, t_x, big_t = cdnow_weeks()
    rows, counts = np.unique(np.stack([x, t_x, big_t], axis=1), axis=0, return_counts=True)
    assert len(rows) < len(x)
    weighted = BetaGeoModel().fit(*rows.T, weights=counts)
    every = BetaGeoModel().fit(x, t_x, big_t)
    assert weighted.params_ == pytest.approx(every.params_, rel=1e-5)
    assert weighted.loglik_ == pytest.approx(every.loglik_, rel=1e-9)
    assert weighted.n_customers_ == len(x)


def test_probability_alive_invariants(fitted: BetaGeoModel) -> None:
    alive = fitted.probability_alive([0, 1, 10, 10, 300], [0, 1, 38, 5, 99], [39, 39, 39, 39, 100])
    assert alive[0] == 1.0  # no repeat purchase: BG/NBD cannot have seen a dropout
    assert np.all((alive >= 0) & (alive <= 1))
    assert alive[2] > alive[3]  # same frequency, the more recent buyer is likelier alive
    assert np.all(np.isfinite(fitted.conditional_expected_purchases(52, [300], [99], [100])))


def test_expected_purchases_starts_at_zero_and_grows(fitted: BetaGeoModel) -> None:
    curve = fitted.expected_purchases(np.array([0.0, 1, 10, 39, 78]))
    assert curve[0] == 0.0
    assert np.all(np.diff(curve) > 0)


def test_penalizer_shrinks_the_parameters() -> None:
    plain = BetaGeoModel().fit(*cdnow_weeks())
    shrunk = BetaGeoModel(penalizer=0.1).fit(*cdnow_weeks())
    assert sum(v**2 for v in shrunk.params_.values()) < sum(v**2 for v in plain.params_.values())


def test_reading_before_fit_says_call_fit() -> None:
    with pytest.raises(NotFittedError, match="call fit first"):
        _ = BetaGeoModel().params_
    with pytest.raises(NotFittedError):
        BetaGeoModel().probability_alive([1], [1], [2])


@pytest.mark.parametrize(
    ("frequency", "recency", "T", "message"),
    [
        ([1], [5], [3], "recency cannot exceed T"),
        ([0], [2], [3], "recency must be 0 where frequency is 0: .* not the time since the last"),
        ([1.5], [1], [3], "frequency must be whole numbers"),
        ([-1], [0], [3], "frequency must be a list of finite, non-negative numbers"),
        ([1, 2], [1], [3], "same length"),
    ],
)
def test_bad_input_is_an_input_error(
    frequency: list[float], recency: list[float], T: list[float], message: str
) -> None:
    with pytest.raises(InputError, match=message):
        BetaGeoModel().fit(frequency, recency, T)


@pytest.mark.parametrize("model", [BetaGeoModel, ParetoNBDModel])
def test_no_customers_is_an_input_error(model: type[HistoryModel]) -> None:
    # not a ConvergenceError from a likelihood of 0 over 0 customers
    with pytest.raises(InputError, match="needs at least one customer"):
        model().fit([], [], [])
    with pytest.raises(InputError, match="needs at least one customer"):
        model().fit([1, 0], [3, 0], [5, 5], weights=[0, 0])


def test_expectation_per_distinct_pair_equals_per_row(fitted: BetaGeoModel) -> None:
    # 2F1 is evaluated once per distinct (x, T) and gathered back; every row, for one horizon
    # and for a path of horizons, must equal the formula on that row alone.
    d = customer_data(*cdnow_weeks()[:3])
    per_row = fitted._expected_if_alive_rows
    steps = np.arange(4.0)[:, None]
    for t in (np.asarray(39.0), steps):
        got = fitted._expected_if_alive(t, d)
        assert np.array_equal(got, per_row(t, d["x"], d["T"]))
    horizons = np.linspace(1, 52, len(d["x"]))  # a horizon per row: no gathering possible
    assert np.array_equal(fitted._expected_if_alive(horizons, d), per_row(horizons, d["x"], d["T"]))


def test_expectation_series_equals_scipy_where_both_work(fitted: BetaGeoModel) -> None:
    # the fallback for non-finite 2F1 is Pfaff's transformation summed as a series: on the
    # CDNOW fit, where scipy's 2F1 is fine, both give eq. 10 (|w| = t / (alpha + T) < 1)
    r, alpha, a, b = fitted.params_.values()
    x, _, big_t = cdnow_weeks()[:3]
    t = 0.9 * (alpha + big_t)
    scipy_form = fitted._expected_if_alive_rows(t, x, big_t)
    series = _expected_series(r + x, a + b + x - 1, -t / (alpha + big_t), a)
    assert series == pytest.approx(scipy_form, rel=1e-10)


def test_unpinned_parameters_still_give_finite_expectations() -> None:
    # a fit on customers who never show a dropout ran off to r, alpha ~ 1e8, a ~ 1e-9,
    # b ~ 1e6, where scipy's 2F1 gives NaN; the expectation is then the Poisson rate's
    # (r + x) t / (alpha + T) (an NBD with no dropout), as the series' first term says
    params = {"r": 1.27e8, "alpha": 1.36e8, "a": 1.14e-9, "b": 8.99e5}
    model = BetaGeoModel.from_params(params)
    x, t_x, big_t = np.array([9.0, 9.0, 0.0]), np.array([9.0, 9.0, 0.0]), np.array([9.0, 10, 5])
    got = model.conditional_expected_purchases(52, x, t_x, big_t)
    nbd = (params["r"] + x) * 52 / (params["alpha"] + big_t)
    assert got == pytest.approx(nbd * model.probability_alive(x, t_x, big_t), rel=1e-6)
