"""The BG/BB model against the published donations fit and its own formulas.

Reference: Fader, Hardie & Shang (2010), "Customer-base analysis in a discrete-time
noncontractual setting": the 11,104 first-time supporters of 1995 of a nonprofit, with their
repeat donations in the six years 1996-2001 (``tests/fixtures/donations.csv``, one row per
distinct history with the number of donors who share it). Published estimates: alpha = 1.204,
beta = 0.750, gamma = 0.657, delta = 2.783, log-likelihood -33,225.6.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from checks import assert_gradient
from hypothesis import given
from hypothesis import strategies as st
from scipy.special import beta as beta_fn
from scipy.special import betaln, gammaln, logsumexp

from patron.errors import InputError, NotFittedError
from patron.models.bgbb import GROUP_CELLS, BetaGeoBetaBinomModel, _by_width, _group_bounds

DONATIONS = Path(__file__).parent.parent / "fixtures" / "donations.csv"


@pytest.fixture(scope="module")
def donations() -> np.ndarray:
    """Columns frequency, recency, periods, weights."""
    return np.loadtxt(DONATIONS, delimiter=",", skiprows=1)


@pytest.fixture(scope="module")
def fitted(donations: np.ndarray) -> BetaGeoBetaBinomModel:
    x, t_x, n, weights = donations.T
    return BetaGeoBetaBinomModel().fit(x, t_x, n, weights=weights)


def test_reproduces_the_published_donations_fit(fitted: BetaGeoBetaBinomModel) -> None:
    published = {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783}
    assert fitted.params_ == pytest.approx(published, rel=1e-3)
    assert fitted.loglik_ == pytest.approx(-33_225.6, rel=1e-3)
    assert fitted.n_customers_ == 11_104
    assert fitted.unique_rows_ == 22


def test_one_row_per_donor_fits_as_the_weighted_rows(
    donations: np.ndarray, fitted: BetaGeoBetaBinomModel
) -> None:
    x, t_x, n, weights = donations.T
    every = BetaGeoBetaBinomModel().fit(*(np.repeat(c, weights.astype(int)) for c in (x, t_x, n)))
    assert (every.n_customers_, every.unique_rows_) == (11_104, 22)  # equal rows merged
    assert every.params_ == pytest.approx(fitted.params_, rel=1e-6)
    assert every.loglik_ == pytest.approx(fitted.loglik_, rel=1e-9)


def test_likelihood_is_the_papers_sum() -> None:
    alpha, beta, gamma, delta = params = np.array([1.3, 0.8, 0.6, 2.5])
    x, t_x, n = np.array([0.0, 2.0, 3.0, 5.0]), np.array([0.0, 4.0, 3.0, 9.0]), np.full(4, 9.0)
    loglik, _ = BetaGeoBetaBinomModel().loglik_rows(params, {"x": x, "t_x": t_x, "n": n})
    for row in range(4):
        xi, ti, ni = int(x[row]), int(t_x[row]), int(n[row])
        total = beta_fn(alpha + xi, beta + ni - xi) * beta_fn(gamma, delta + ni)
        for i in range(ni - ti):
            total += beta_fn(alpha + xi, beta + ti - xi + i) * beta_fn(gamma + 1, delta + ti + i)
        expected = np.log(total / (beta_fn(alpha, beta) * beta_fn(gamma, delta)))
        assert loglik[row] == pytest.approx(expected, rel=1e-12)


def test_likelihood_is_the_papers_sum_across_groups_of_rows() -> None:
    # 400 histories of up to 200 opportunities: the likelihood works through many groups
    rng = np.random.default_rng(5)
    n = rng.integers(1, 201, 400)
    t_x = rng.integers(0, n + 1)
    x = np.where(t_x > 0, rng.integers(1, np.maximum(t_x, 1) + 1), 0)
    data = {"x": x.astype(float), "t_x": t_x.astype(float), "n": n.astype(float)}
    params = np.array([0.9, 1.7, 0.5, 3.1])
    loglik, _ = BetaGeoBetaBinomModel().loglik_rows(params, data)
    assert len(_by_width(data)[1]) > 3  # three groups or more
    alpha, beta, gamma, delta = params
    for xi, ti, ni, value in zip(x, t_x, n, loglik, strict=True):
        i = np.arange(ni - ti)
        terms = [betaln(alpha + xi, beta + ni - xi) + betaln(gamma, delta + ni)]
        terms += list(betaln(alpha + xi, beta + ti - xi + i) + betaln(gamma + 1, delta + ti + i))
        expected = logsumexp(terms) - betaln(alpha, beta) - betaln(gamma, delta)
        assert value == pytest.approx(expected, rel=1e-12)


@given(st.lists(st.integers(1, 20_000), max_size=300))
def test_groups_cover_the_rows_in_order_within_the_budget(widths: list[int]) -> None:
    ascending = np.sort(np.array(widths, dtype=np.int64))
    bounds = _group_bounds(ascending)
    assert bounds[0] == 0 and bounds[-1] == len(ascending)
    for lo, hi in itertools.pairwise(bounds):
        cells = (hi - lo) * ascending[hi - 1]
        assert hi > lo and (cells <= GROUP_CELLS or hi - lo == 1)
        if hi < len(ascending):  # the next row would not have fitted
            assert (hi - lo + 1) * ascending[hi] > GROUP_CELLS


def test_gradient_matches_finite_differences(donations: np.ndarray) -> None:
    x, t_x, n, _ = donations.T
    # the donations rows, and the same histories seen over ten opportunities
    data = {"x": np.tile(x, 2), "t_x": np.tile(t_x, 2), "n": np.concatenate([n, n + 4])}
    assert_gradient(BetaGeoBetaBinomModel(), np.array([0.7, 1.9, 1.3, 0.4]), data)


@pytest.mark.filterwarnings("ignore::patron.errors.LooseFitWarning")  # 25 customers
def test_weighted_rows_fit_like_the_expanded_customers() -> None:
    x = np.array([0, 1, 1, 2, 3, 3, 4])
    t_x = np.array([0, 1, 4, 3, 3, 5, 5])
    n = np.array([5, 5, 5, 5, 5, 5, 5])
    counts = np.array([7, 3, 2, 4, 1, 3, 5])
    expanded = BetaGeoBetaBinomModel().fit(*(np.repeat(a, counts) for a in (x, t_x, n)))
    weighted = BetaGeoBetaBinomModel().fit(x, t_x, n, weights=counts)
    assert weighted.params_ == pytest.approx(expanded.params_, rel=1e-5)
    assert weighted.loglik_ == pytest.approx(expanded.loglik_, rel=1e-9)
    assert weighted.n_customers_ == expanded.n_customers_ == 25


def test_probability_alive(fitted: BetaGeoBetaBinomModel, donations: np.ndarray) -> None:
    x, t_x, n, _ = donations.T
    alive = fitted.probability_alive(x, t_x, n)
    assert np.all((alive >= 0) & (alive <= 1))
    # a donor in every year is the likeliest to be alive; with one repeat donation, the later
    # it was (rows ordered by recency), the likelier
    assert alive.max() == pytest.approx(alive[x == 6][0])
    assert np.all(np.diff(alive[x == 1]) > 0)


def test_expected_purchases_match_the_papers_closed_form(
    fitted: BetaGeoBetaBinomModel, donations: np.ndarray
) -> None:
    alpha, beta, gamma, delta = params = np.array(list(fitted.params_.values()))
    x, t_x, n, _ = donations.T
    n_star = 5
    loglik, _ = fitted.loglik_rows(params, {"x": x, "t_x": t_x, "n": n})
    head = beta_fn(alpha + x + 1, beta + n - x) / beta_fn(alpha, beta) / np.exp(loglik)
    ratio = np.exp(gammaln(gamma + delta) - gammaln(1 + delta))
    window = np.exp(gammaln(1 + delta + n) - gammaln(gamma + delta + n)) - np.exp(
        gammaln(1 + delta + n + n_star) - gammaln(gamma + delta + n + n_star)
    )
    closed_form = head * delta / (gamma - 1) * ratio * window  # paper, eq. 13
    expected = fitted.conditional_expected_purchases(n_star, x, t_x, n)
    assert expected == pytest.approx(closed_form, rel=1e-10)
    assert np.all(fitted.conditional_expected_purchases(0, x, t_x, n) == 0)
    assert np.all(expected <= n_star)


def test_not_fitted_before_fit() -> None:
    model = BetaGeoBetaBinomModel()
    with pytest.raises(NotFittedError):
        _ = model.params_
    with pytest.raises(NotFittedError):
        model.probability_alive([1], [2], [6])


@pytest.mark.parametrize(
    ("frequency", "recency", "n_periods"),
    [
        ([3], [2], [6]),  # more transactions than opportunities up to the last one
        ([2], [7], [6]),  # last transaction after the end
        ([0], [2], [6]),  # a recency without transactions
        ([1], [0], [6]),  # transactions without a recency
        ([1.5], [2], [6]),  # fractional count
        ([1, 2], [2], [6]),  # lengths differ
        ([-1], [0], [6]),  # negative
    ],
)
def test_invalid_input_is_an_input_error(
    frequency: list[float], recency: list[float], n_periods: list[float]
) -> None:
    with pytest.raises(InputError):
        BetaGeoBetaBinomModel().fit(frequency, recency, n_periods)


@pytest.mark.parametrize("n_star", [-1, 2.5])
def test_future_opportunities_must_be_whole(fitted: BetaGeoBetaBinomModel, n_star: float) -> None:
    with pytest.raises(InputError):
        fitted.conditional_expected_purchases(n_star, [1], [2], [6])  # type: ignore[arg-type]
