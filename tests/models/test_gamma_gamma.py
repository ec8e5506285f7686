"""The Gamma-Gamma model against the published CDNOW fit and its own formulas.

Reference: Fader & Hardie (2013), "The Gamma-Gamma model of monetary value", fit p = 6.25,
q = 3.74, gamma = 15.44 on the 946 customers of the CDNOW 1/10 sample with a repeat purchase in the
39-week calibration period (1997-01-01 to 1997-09-30).

Which aggregation reproduces it: a transaction is a customer-day (same-day rows summed), the
frequency counts the days after the first, and the spend is the mean over those repeat days. This
gives 946 customers and p = 6.2496, q = 3.7442, gamma = 15.4436. Treating every row as a transaction
gives 959 repeat customers and p = 6.20, q = 3.82, gamma = 15.59; counting days but averaging the
repeat rows gives p = 6.05, q = 3.89, gamma = 16.44; neither matches.
"""

from __future__ import annotations

import numpy as np
import pytest
from cdnow_data import cdnow_spend
from checks import assert_gradient, assert_hessian, assert_summed

from patron.errors import InputError, NotFittedError, PatronWarning
from patron.models.gamma_gamma import GammaGammaModel, spend_frequency_correlation


@pytest.fixture(scope="module")
def cdnow() -> tuple[np.ndarray, np.ndarray]:
    """Frequency and mean repeat-day spend of every sample customer in the calibration period."""
    return cdnow_spend()


@pytest.fixture(scope="module")
def fitted(cdnow: tuple[np.ndarray, np.ndarray]) -> GammaGammaModel:
    return GammaGammaModel().fit(*cdnow)


def test_reproduces_the_published_cdnow_fit(
    cdnow: tuple[np.ndarray, np.ndarray], fitted: GammaGammaModel
) -> None:
    frequency, _ = cdnow
    assert len(frequency) == 2357
    assert fitted.n_customers_ == 946 == np.sum(frequency > 0)
    published = {"p": 6.25, "q": 3.74, "gamma": 15.44}
    assert fitted.params_ == pytest.approx(published, abs=5e-3)  # published to 2 decimals
    assert fitted.loglik_ == pytest.approx(-4055.92, abs=0.05)  # Fader & Hardie (2013)


def test_weighted_unique_rows_fit_like_the_expanded_customers(
    cdnow: tuple[np.ndarray, np.ndarray],
) -> None:
    frequency, monetary = cdnow
    counts = 1 + np.arange(len(frequency)) % 3  # rows with x = 0 and their counts are left out
    expanded = GammaGammaModel().fit(np.repeat(frequency, counts), np.repeat(monetary, counts))
    weighted = GammaGammaModel().fit(frequency, monetary, weights=counts)
    assert weighted.params_ == pytest.approx(expanded.params_, rel=1e-5)
    assert weighted.loglik_ == pytest.approx(expanded.loglik_, rel=1e-9)
    assert weighted.n_customers_ == expanded.n_customers_ == np.sum(counts[frequency > 0])


def test_a_one_time_buyers_missing_spend_reads_as_zero(
    cdnow: tuple[np.ndarray, np.ndarray], fitted: GammaGammaModel
) -> None:
    # Workspace.customer_summary leaves a one-time buyer's mean repeat spend empty (NaN)
    frequency, monetary = cdnow
    missing = np.where(frequency == 0, np.nan, monetary)
    assert GammaGammaModel().fit(frequency, missing).params_ == fitted.params_
    expected = fitted.conditional_expected_average_profit(frequency, missing)
    assert expected == pytest.approx(fitted.conditional_expected_average_profit(*cdnow))
    assert spend_frequency_correlation(frequency, missing) == pytest.approx(
        spend_frequency_correlation(*cdnow)
    )
    with pytest.raises(InputError, match="monetary_value"):  # a repeat buyer's NaN is an error
        fitted.conditional_expected_average_profit([0, 2], [np.nan, np.nan])


def test_gradient_matches_finite_differences(cdnow: tuple[np.ndarray, np.ndarray]) -> None:
    frequency, monetary = cdnow
    repeat = frequency > 0
    data = {"x": frequency[repeat], "m": monetary[repeat]}
    assert_gradient(GammaGammaModel(), np.array([2.0, 5.0, 30.0]), data)


def test_hessian_and_summed_likelihood(
    cdnow: tuple[np.ndarray, np.ndarray],
) -> None:
    frequency, monetary = cdnow
    repeat = frequency > 0
    data = {"x": frequency[repeat], "m": monetary[repeat]}
    weights = np.arange(repeat.sum()) % 3 + 1.0
    for params in ([2.0, 5.0, 30.0], [6.25, 3.74, 15.44], [0.3, 40.0, 2.0]):
        assert_hessian(GammaGammaModel(), np.array(params), data, weights)
        assert_summed(GammaGammaModel(), np.array(params), data, weights)


def test_expected_average_profit_by_hand(fitted: GammaGammaModel) -> None:
    p, q, v = (fitted.params_[name] for name in ("p", "q", "gamma"))
    x, mbar = np.array([0, 1, 20, 4]), np.array([0.0, 10.0, 10.0, 80.0])
    population = v * p / (q - 1)
    shrunk = (q - 1) / (p * x + q - 1) * population + p * x / (p * x + q - 1) * mbar
    expected = fitted.conditional_expected_average_profit(x, mbar)
    assert expected == pytest.approx(shrunk, rel=1e-12)
    assert population == pytest.approx(15.44 * 6.25 / 2.74, rel=1e-2)  # about $35.22
    assert expected[0] == pytest.approx(population)  # no repeat purchases: the population mean
    assert population > expected[1] > expected[2] > 10.0  # more history, less shrinkage
    assert 80.0 > expected[3] > population


def test_spend_frequency_correlation(cdnow: tuple[np.ndarray, np.ndarray]) -> None:
    frequency, monetary = cdnow
    correlation = spend_frequency_correlation(frequency, monetary)
    repeat = frequency > 0
    assert correlation == pytest.approx(np.corrcoef(frequency[repeat], monetary[repeat])[0, 1])
    assert correlation == pytest.approx(0.114, abs=1e-3)  # weak: independence is plausible
    counts = 1 + np.arange(len(frequency)) % 4
    assert spend_frequency_correlation(frequency, monetary, weights=counts) == pytest.approx(
        spend_frequency_correlation(np.repeat(frequency, counts), np.repeat(monetary, counts))
    )


def test_not_fitted_before_fit() -> None:
    model = GammaGammaModel()
    with pytest.raises(NotFittedError):
        _ = model.params_
    with pytest.raises(NotFittedError):
        model.conditional_expected_average_profit([1], [10.0])


def test_expected_profit_needs_q_above_one() -> None:
    # customers' mean spends with a tail so heavy that their scale prior has q < 1
    rng = np.random.default_rng(5)
    frequency = rng.integers(1, 6, size=3000)
    scale = rng.gamma(0.6, 1 / 10.0, size=3000)
    monetary = rng.gamma(5.0 * frequency, 1 / (frequency * scale))
    model = GammaGammaModel().fit(frequency, monetary)
    assert model.params_["q"] < 1
    with pytest.raises(InputError, match="q <= 1"):
        model.conditional_expected_average_profit(frequency, monetary)


@pytest.mark.parametrize(
    ("frequency", "monetary", "weights"),
    [
        ([1, -2], [10.0, 5.0], None),  # negative frequency
        ([1.5, 2], [10.0, 5.0], None),  # fractional frequency
        ([1, 2], [10.0], None),  # lengths differ
        ([1, 2], [10.0, np.nan], None),  # not a number
        ([0, 0], [0.0, 0.0], None),  # nobody repeated
        ([1, 2], [10.0, 5.0], [1.0]),  # one weight short
        ([1, 2], [10.0, 5.0], [1.0, -1.0]),  # negative weight
    ],
)
def test_invalid_input_is_an_input_error(
    frequency: list[float], monetary: list[float], weights: list[float] | None
) -> None:
    with pytest.raises(InputError):
        GammaGammaModel().fit(frequency, monetary, weights=weights)


def test_repeat_customers_who_spent_nothing_are_left_out_with_a_warning() -> None:
    # CDNOW has 80 orders of 0.00: a customer whose only repeat purchase was free has m = 0,
    # which has no Gamma density and had failed every spend fit (and `patron predict`) on it
    x, m = cdnow_spend()
    free_x, free_m = np.append(x, [1, 3]), np.append(m, [0.0, 0.0])
    with pytest.warns(PatronWarning, match="left out 5 repeat customers .* worth 0"):
        fitted = GammaGammaModel().fit(free_x, free_m, weights=np.append(np.ones(len(x)), [2, 3]))
    plain = GammaGammaModel().fit(x, m)
    assert fitted.params_ == plain.params_
    assert fitted.n_customers_ == plain.n_customers_ == 946  # the paper's repeat customers
    p, q, gamma = fitted.params_.values()
    spend = fitted.conditional_expected_average_profit([1, 3], [0.0, 0.0])
    assert spend == pytest.approx([p * gamma / (p + q - 1), p * gamma / (3 * p + q - 1)])


def test_correlation_needs_variation() -> None:
    with pytest.raises(InputError):
        spend_frequency_correlation([2, 2, 0], [10.0, 20.0, 0.0])
    with pytest.raises(InputError):
        spend_frequency_correlation([1, 0], [10.0, 0.0])
