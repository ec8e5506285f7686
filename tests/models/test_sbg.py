"""The sBG model against Fader & Hardie (2007), "How to project customer retention", and its own
formulas.

The paper's data are two cohorts of 1,000 contract customers alive at years 0, 1, ..., 7 (its
table 1 goes on to year 12, held out). Fitted on all seven observed years, as in the paper, they
give the published alpha = 0.704, beta = 1.182 ("regular") and alpha = 0.668, beta = 3.806
("high end"); a shorter window does not (six years give 0.718, 1.208 for the regular cohort).
"""

from __future__ import annotations

import numpy as np
import pytest
from checks import assert_gradient
from scipy.special import hyp2f1

from patron.errors import InputError, NotFittedError
from patron.models.sbg import ShiftedBetaGeoModel, from_survivors, lifetime_data

REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241]
HIGH_END = [1000, 869, 743, 653, 593, 551, 517, 491]


def fit(alive_counts: list[int]) -> ShiftedBetaGeoModel:
    periods, churned, weights = from_survivors(alive_counts)
    return ShiftedBetaGeoModel().fit(periods, churned=churned, weights=weights)


@pytest.mark.parametrize(
    ("alive_counts", "published"),
    [(REGULAR, {"alpha": 0.704, "beta": 1.182}), (HIGH_END, {"alpha": 0.668, "beta": 3.806})],
)
def test_published_estimates(alive_counts: list[int], published: dict[str, float]) -> None:
    model = fit(alive_counts)
    assert model.params_ == pytest.approx(published, abs=1e-3)
    assert model.n_customers_ == 1000


def test_a_shorter_window_gives_other_estimates() -> None:
    assert fit(REGULAR[:7]).params_["alpha"] == pytest.approx(0.718, abs=1e-3)


def test_from_survivors_rows() -> None:
    periods, churned, weights = from_survivors([100, 60, 45, 40])
    assert periods.tolist() == [1, 2, 3, 3]
    assert churned.tolist() == [True, True, True, False]
    assert weights.tolist() == [40, 15, 5, 40]


def test_lifetime_probabilities_sum_to_one() -> None:
    params = np.array([0.7, 1.2])
    churn = ShiftedBetaGeoModel().loglik_rows(params, lifetime_data(np.arange(1, 13), np.ones(12)))
    still = ShiftedBetaGeoModel().loglik_rows(params, lifetime_data([12], [0]))
    assert np.exp(churn[0]).sum() + np.exp(still[0][0]) == pytest.approx(1, rel=1e-12)
    # P(T = 1) is the mean churn probability alpha / (alpha + beta)
    assert np.exp(churn[0][0]) == pytest.approx(0.7 / 1.9, rel=1e-12)


def test_survival_is_the_product_of_retention_rates() -> None:
    model = fit(REGULAR)
    t = np.arange(1, 13)
    assert model.survival(t) == pytest.approx(np.cumprod(model.retention_rate(t)), rel=1e-12)
    assert model.survival(0) == 1.0
    assert np.all(np.diff(model.retention_rate(t)) > 0)  # heterogeneity: retention rises


def test_expected_lifetime() -> None:
    model = fit(REGULAR)
    alpha, beta = model.params_.values()
    assert model.expected_lifetime(8) == pytest.approx(model.survival(np.arange(8)).sum())
    assert model.expected_lifetime(0) == 0.0
    # with a discount and a long horizon, the discounted expected lifetime of Fader & Hardie
    # (2010): 2F1(1, beta; alpha + beta; 1 / (1 + d))
    closed_form = hyp2f1(1, beta, alpha + beta, 1 / 1.1)
    assert model.expected_lifetime(2000, discount=0.1) == pytest.approx(closed_form, rel=1e-10)


def test_gradient_matches_finite_differences() -> None:
    data = lifetime_data([1, 2, 5, 7, 7, 30], [1, 1, 1, 1, 0, 0])
    assert_gradient(ShiftedBetaGeoModel(), np.array([0.7, 1.2]), data)
    assert_gradient(ShiftedBetaGeoModel(), np.array([3.0, 0.2]), data)


def test_weighted_rows_fit_like_the_expanded_customers() -> None:
    periods, churned, weights = from_survivors(REGULAR)
    counts = weights.astype(int)
    expanded = ShiftedBetaGeoModel().fit(
        np.repeat(periods, counts), churned=np.repeat(churned, counts)
    )
    weighted = fit(REGULAR)
    assert weighted.params_ == pytest.approx(expanded.params_, rel=1e-5)
    assert weighted.loglik_ == pytest.approx(expanded.loglik_, rel=1e-9)
    assert (expanded.n_customers_, expanded.unique_rows_) == (1000, weighted.unique_rows_)


def test_reading_before_fit_says_call_fit() -> None:
    with pytest.raises(NotFittedError, match="call fit first"):
        ShiftedBetaGeoModel().survival([1])


@pytest.mark.parametrize(
    ("periods", "churned"),
    [([0], [True]), ([1.5], [True]), ([1, 2], [True]), ([2], [2]), ([-1], [False])],
)
def test_bad_lifetimes_are_an_input_error(periods: list[float], churned: list[object]) -> None:
    with pytest.raises(InputError):
        ShiftedBetaGeoModel().fit(periods, churned=churned)


@pytest.mark.parametrize("alive_counts", [[1000], [0, 0], [100, 120], [100, -5]])
def test_bad_alive_counts_are_an_input_error(alive_counts: list[int]) -> None:
    with pytest.raises(InputError):
        from_survivors(alive_counts)
