"""Experiment statistics against scipy/statsmodels, independent formulas and simulation.

Simulations are seeded and vectorized: the data of thousands of experiments are drawn at once and
only the per-variant sums go through the functions under test. Tolerances on simulated rates are
binomial: 3.5 standard errors of the rate, so a correct implementation fails about once in 2,000
seeds while the bugs they guard against move the rates by far more.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats import proportion
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from patron.errors import InputError
from patron.experiments.stats import (
    SRM_THRESHOLD,
    Estimate,
    Moments,
    RatioMoments,
    compare,
    cuped_estimates,
    holm,
    mean_estimate,
    ratio_estimate,
    sample_ratio_mismatch,
)

Z = 3.5  # standard errors allowed for a simulated rate


def moments(y: np.ndarray, x: np.ndarray | None = None) -> Moments:
    """What the warehouse would return for these per-customer values."""
    if x is None:
        return Moments(len(y), y.sum(), (y * y).sum())
    return Moments(len(y), y.sum(), (y * y).sum(), x.sum(), (x * x).sum(), (x * y).sum())


def batch_moments(y: np.ndarray) -> list[Moments]:
    """One Moments per row of a (experiments, customers) array."""
    return [Moments(y.shape[1], t, s) for t, s in zip(y.sum(1), (y * y).sum(1), strict=True)]


def within(rate: float, expected: float, trials: int) -> bool:
    return abs(rate - expected) <= Z * math.sqrt(expected * (1 - expected) / trials)


def datasets() -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(20240501)
    return [
        (rng.normal(10, 3, 200), rng.normal(10.5, 3, 200)),
        (rng.exponential(20, 150), rng.exponential(24, 700)),
        (rng.lognormal(2, 1.2, 7), rng.lognormal(2.3, 0.4, 15)),
        (rng.poisson(0.3, 5000).astype(float), rng.poisson(0.32, 4000).astype(float)),
        (rng.normal(0, 1, 40), rng.normal(-1, 8, 12)),
    ]


@pytest.mark.parametrize(("control", "treatment"), datasets())
@pytest.mark.parametrize("alpha", [0.05, 0.1])
def test_welch_equals_scipy_and_statsmodels(
    control: np.ndarray, treatment: np.ndarray, alpha: float
) -> None:
    result = compare(
        mean_estimate(moments(control)), mean_estimate(moments(treatment)), alpha=alpha
    )
    reference = stats.ttest_ind(treatment, control, equal_var=False)
    interval = CompareMeans(DescrStatsW(treatment), DescrStatsW(control)).tconfint_diff(
        alpha=alpha, usevar="unequal"
    )
    assert result.lift == pytest.approx(treatment.mean() - control.mean(), rel=1e-10)
    assert result.p_value == pytest.approx(reference.pvalue, rel=1e-8)
    assert result.df == pytest.approx(reference.df, rel=1e-10)
    assert result.lift_ci == pytest.approx(interval, rel=1e-8)


@pytest.mark.parametrize(
    ("converted_c", "n_c", "converted_t", "n_t"),
    [(100, 1000, 156, 1200), (31, 400, 22, 400), (5, 60, 19, 2500), (480, 9000, 530, 9100)],
)
@pytest.mark.parametrize("alpha", [0.05, 0.01])
def test_two_proportions_equal_statsmodels_wald(
    converted_c: int, n_c: int, converted_t: int, n_t: int, alpha: float
) -> None:
    control = mean_estimate(Moments(n_c, converted_c, converted_c))
    treatment = mean_estimate(Moments(n_t, converted_t, converted_t))
    result = compare(control, treatment, alpha=alpha, binary=True)
    test = proportion.test_proportions_2indep(converted_t, n_t, converted_c, n_c, method="wald")
    interval = proportion.confint_proportions_2indep(
        converted_t, n_t, converted_c, n_c, method="wald", alpha=alpha
    )
    assert result.p_value == pytest.approx(test.pvalue, rel=1e-9)
    assert result.lift_ci == pytest.approx(interval, rel=1e-9)
    assert math.isinf(result.df)


@pytest.mark.parametrize("k", [2, 3, 5])
def test_bonferroni_intervals_are_the_alpha_over_k_intervals(k: int) -> None:
    control, treatment = datasets()[1]
    c, t = mean_estimate(moments(control)), mean_estimate(moments(treatment))
    plain, adjusted = compare(c, t), compare(c, t, comparisons=k)
    interval = CompareMeans(DescrStatsW(treatment), DescrStatsW(control)).tconfint_diff(
        alpha=0.05 / k, usevar="unequal"
    )
    assert adjusted.lift_ci == pytest.approx(interval, rel=1e-8)
    assert adjusted.p_value == plain.p_value  # raw, adjusted separately by holm()
    assert adjusted.relative_lift_ci[0] < plain.relative_lift_ci[0]


@pytest.mark.parametrize(
    "p_values",
    [
        [0.01, 0.04, 0.03, 0.2],
        [0.5],
        [0.001, 0.001, 0.049, 0.5, 1.0],
        [0.2, 0.01, 0.3, 0.04, 0.02, 0.9, 0.015],
    ],
)
def test_holm_equals_statsmodels(p_values: list[float]) -> None:
    expected = multipletests(p_values, method="holm")[1]
    assert holm(p_values) == pytest.approx(expected.tolist(), rel=1e-12)


@pytest.mark.parametrize(
    ("counts", "weights"),
    [
        ([5000, 5100], [1, 1]),
        ([4800, 5230], [0.5, 0.5]),
        ([1000, 9100], [0.1, 0.9]),
        ([3300, 3350, 3100], [1, 1, 1]),
        ([10, 30, 70], [20, 30, 50]),
    ],
)
def test_sample_ratio_mismatch_equals_scipy_chisquare(
    counts: list[int], weights: list[float]
) -> None:
    expected = np.sum(counts) * np.asarray(weights) / np.sum(weights)
    assert sample_ratio_mismatch(counts, weights) == pytest.approx(
        stats.chisquare(counts, expected).pvalue, rel=1e-10
    )


def test_srm_threshold_flags_a_broken_split_but_not_a_fair_one() -> None:
    assert sample_ratio_mismatch([50_000, 50_300], [1, 1]) > SRM_THRESHOLD
    assert sample_ratio_mismatch([50_000, 51_500], [1, 1]) < SRM_THRESHOLD


@pytest.mark.parametrize(("control", "treatment"), datasets()[:4])
def test_relative_ci_is_the_delta_method(control: np.ndarray, treatment: np.ndarray) -> None:
    """Written out as a gradient times a covariance matrix times the gradient."""
    c, t = mean_estimate(moments(control)), mean_estimate(moments(treatment))
    result = compare(c, t)
    ratio_gradient = np.array([-t.mean / c.mean**2, 1 / c.mean])  # d(μt/μc) / d(μc, μt)
    se = math.sqrt(ratio_gradient @ np.diag([c.variance, t.variance]) @ ratio_gradient)
    critical = stats.t.ppf(0.975, result.df)
    assert result.relative_lift == pytest.approx(treatment.mean() / control.mean() - 1)
    assert result.relative_lift_ci == pytest.approx(
        (result.relative_lift - critical * se, result.relative_lift + critical * se), rel=1e-9
    )


def test_relative_ci_covers_the_true_relative_lift() -> None:
    """Skewed (exponential) revenue, true relative lift +50 %: 95 % coverage in 3,000 tests.

    A lift this large makes the control's share of the variance (the μ_t²/μ_c⁴ term) matter:
    without it coverage would be about 83 %."""
    rng = np.random.default_rng(7)
    experiments, n = 3000, 1000
    control = batch_moments(rng.exponential(10.0, (experiments, n)))
    treatment = batch_moments(rng.exponential(15.0, (experiments, n)))
    covered = 0
    for c, t in zip(control, treatment, strict=True):
        low, high = compare(mean_estimate(c), mean_estimate(t)).relative_lift_ci
        covered += low <= 0.5 <= high
    assert within(covered / experiments, 0.95, experiments)


def test_ratio_estimate_equals_the_linearized_variance_and_the_bootstrap() -> None:
    rng = np.random.default_rng(11)
    orders = rng.poisson(2.0, 800) + 1
    revenue = orders * rng.gamma(2.0, 25.0, 800) + rng.normal(0, 5, 800)
    estimate = ratio_estimate(
        RatioMoments(
            800,
            revenue.sum(),
            (revenue**2).sum(),
            orders.sum(),
            (orders**2).sum(),
            (revenue * orders).sum(),
        )
    )
    ratio = revenue.sum() / orders.sum()
    assert estimate.mean == pytest.approx(ratio, rel=1e-12)
    # linearization: Var(R) = Var(revenue - R * orders) / (n * mean(orders)²)
    linearized = np.var(revenue - ratio * orders, ddof=1) / (800 * orders.mean() ** 2)
    assert estimate.variance == pytest.approx(linearized, rel=1e-9)
    # resampling customers, the randomization unit
    rows = rng.integers(0, 800, (4000, 800))
    boot = revenue[rows].sum(1) / orders[rows].sum(1)
    assert estimate.variance == pytest.approx(boot.var(ddof=1), rel=0.1)
    # a per-order variance would be wrong here: it ignores the customer-level correlation
    assert estimate.variance != pytest.approx(np.var(revenue / orders) / orders.sum(), rel=0.3)


def test_cuped_theta_and_lift_equal_regression_with_a_common_slope() -> None:
    """Three variants: theta and adjusted differences are the ANCOVA coefficients."""
    rng = np.random.default_rng(3)
    sizes, effects = [300, 500, 400], [0.0, 1.0, -0.5]
    xs = [rng.gamma(2, 10, n) for n in sizes]
    ys = [5 + 0.6 * x + e + rng.normal(0, 8, len(x)) for x, e in zip(xs, effects, strict=True)]
    estimates, theta, reduction = cuped_estimates(
        [moments(y, x) for x, y in zip(xs, ys, strict=True)]
    )
    group = np.repeat([0, 1, 2], sizes)
    design = np.column_stack([group == 0, group == 1, group == 2, np.concatenate(xs)]).astype(float)
    coef = np.linalg.lstsq(design, np.concatenate(ys), rcond=None)[0]
    assert theta == pytest.approx(coef[3], rel=1e-9)
    for v in (1, 2):
        assert estimates[v].mean - estimates[0].mean == pytest.approx(coef[v] - coef[0], rel=1e-9)
    residual = np.concatenate(
        [y - y.mean() - theta * (x - x.mean()) for x, y in zip(xs, ys, strict=True)]
    )
    within_y = np.concatenate([y - y.mean() for y in ys])
    assert reduction == pytest.approx(1 - residual @ residual / (within_y @ within_y), rel=1e-9)


def test_cuped_keeps_the_lift_and_cuts_its_variance_by_rho_squared() -> None:
    """2,000 experiments, corr(x, y) = 0.6 within each variant, true lift 1.0."""
    rng = np.random.default_rng(5)
    experiments, n, rho, effect = 2000, 500, 0.6, 1.0
    x = rng.normal(50, 10, (experiments, 2, n))
    noise = rng.normal(0, 10, (experiments, 2, n))
    y = 20 + rho * (x - 50) + math.sqrt(1 - rho**2) * noise
    y[:, 1] += effect
    sums = [x.sum(2), (x * x).sum(2), y.sum(2), (y * y).sum(2), (x * y).sum(2)]
    plain, adjusted, reported, reductions = [], [], [], []
    for i in range(experiments):
        variants = [
            Moments(n, sums[2][i, v], sums[3][i, v], sums[0][i, v], sums[1][i, v], sums[4][i, v])
            for v in (0, 1)
        ]
        (c, t), _, reduction = cuped_estimates(variants)
        plain.append(variants[1].mean - variants[0].mean)
        adjusted.append(t.mean - c.mean)
        reported.append(c.variance + t.variance)
        reductions.append(reduction)
    plain_a, adjusted_a = np.array(plain), np.array(adjusted)
    difference = adjusted_a - plain_a
    assert abs(difference.mean()) < Z * difference.std() / math.sqrt(experiments)
    assert adjusted_a.mean() == pytest.approx(
        effect, abs=Z * adjusted_a.std() / math.sqrt(experiments)
    )
    assert adjusted_a.var() / plain_a.var() == pytest.approx(1 - rho**2, rel=0.08)
    assert np.mean(reported) == pytest.approx(adjusted_a.var(), rel=0.1)
    assert np.mean(reductions) == pytest.approx(rho**2, abs=0.01)


def test_bayesian_view_matches_monte_carlo_draws_of_the_posterior() -> None:
    rng = np.random.default_rng(17)
    for control, treatment in datasets()[:4]:
        result = compare(mean_estimate(moments(control)), mean_estimate(moments(treatment)))
        draws = rng.normal(result.lift, result.standard_error, 1_000_000)
        chance = np.mean(draws > 0)
        loss = np.maximum(0, -draws)
        assert result.chance_to_beat_control == pytest.approx(
            chance, abs=5 * math.sqrt(chance * (1 - chance) / draws.size) + 1e-6
        )
        assert result.expected_loss == pytest.approx(
            loss.mean(), abs=5 * loss.std() / math.sqrt(draws.size) + 1e-9
        )


def test_aa_false_positive_rate_is_alpha_for_means_and_conversions() -> None:
    rng = np.random.default_rng(23)
    experiments, n = 4000, 400
    revenue = rng.lognormal(3, 1, (experiments, 2, n))
    control, treatment = batch_moments(revenue[:, 0]), batch_moments(revenue[:, 1])
    means = sum(
        compare(mean_estimate(c), mean_estimate(t)).p_value < 0.05
        for c, t in zip(control, treatment, strict=True)
    )
    converted = rng.binomial(n, 0.08, (experiments, 2))
    conversions = sum(
        compare(
            mean_estimate(Moments(n, a, a)), mean_estimate(Moments(n, b, b)), binary=True
        ).p_value
        < 0.05
        for a, b in converted
    )
    assert within(means / experiments, 0.05, experiments)
    assert within(conversions / experiments, 0.05, experiments)


estimates = st.builds(
    Estimate,
    n=st.integers(2, 10**7),
    mean=st.floats(-1e6, 1e6),
    variance=st.floats(1e-8, 1e8),
)


@given(estimates, estimates, st.sampled_from([0.01, 0.05, 0.2]), st.integers(1, 5))
def test_intervals_contain_the_estimate_and_swapping_mirrors(
    control: Estimate, treatment: Estimate, alpha: float, k: int
) -> None:
    result = compare(control, treatment, alpha=alpha, comparisons=k)
    swapped = compare(treatment, control, alpha=alpha, comparisons=k)
    assert 0 <= result.p_value <= 1
    assert result.lift_ci[0] <= result.lift <= result.lift_ci[1]
    assert swapped.p_value == pytest.approx(result.p_value, rel=1e-9, abs=1e-300)
    assert swapped.lift == -result.lift
    assert swapped.lift_ci == pytest.approx((-result.lift_ci[1], -result.lift_ci[0]))
    assert result.chance_to_beat_control + swapped.chance_to_beat_control == pytest.approx(1)
    assert result.expected_loss >= 0
    if math.isnan(result.relative_lift):
        assert abs(control.mean) < 1e-100 and math.isnan(result.relative_lift_ci[0])
    else:
        assert result.relative_lift_ci[0] <= result.relative_lift <= result.relative_lift_ci[1]


@st.composite
def conversion_rates(draw: st.DrawFn) -> Estimate:
    n = draw(st.integers(2, 10**6))
    return Estimate(n, draw(st.integers(0, n)) / n, 0.0)


@given(conversion_rates(), conversion_rates())
def test_conversion_comparison_is_symmetric_and_bounded(c: Estimate, t: Estimate) -> None:
    if c.mean in (0, 1) and t.mean in (0, 1):
        return  # no variation at all: an InputError, tested below
    result, swapped = compare(c, t, binary=True), compare(t, c, binary=True)
    assert 0 <= result.p_value <= 1
    assert result.lift_ci[0] <= result.lift <= result.lift_ci[1]
    assert swapped.p_value == pytest.approx(result.p_value, rel=1e-9, abs=1e-300)


@given(st.lists(st.floats(0, 1), max_size=12))
def test_holm_is_monotone_bounded_and_never_below_raw(p_values: list[float]) -> None:
    adjusted = holm(p_values)
    assert len(adjusted) == len(p_values)
    order = np.argsort(p_values, kind="stable")
    ranked = np.asarray(adjusted)[order]
    assert np.all(np.diff(ranked) >= 0)
    assert all(raw <= adj <= 1 for raw, adj in zip(p_values, adjusted, strict=True))


def test_moments_give_the_sample_mean_and_variance() -> None:
    y = datasets()[1][0]
    m = moments(y)
    assert (m.mean, m.variance) == pytest.approx((y.mean(), y.var(ddof=1)), rel=1e-10)
    estimate = mean_estimate(m)
    assert estimate.variance == pytest.approx(y.var(ddof=1) / len(y), rel=1e-10)
    assert estimate.unit_variance == pytest.approx(y.var(ddof=1), rel=1e-10)
    assert isinstance(estimate.mean, float) and isinstance(estimate.n, int)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: mean_estimate(Moments(1, 5.0, 25.0)), "at least 2 customers"),
        (lambda: Moments(-1, 0.0, 0.0), "negative count"),
        (lambda: Moments(3, math.nan, 1.0), "finite"),
        (lambda: Estimate(10, 1.0, -1.0), "negative"),
        (lambda: compare(Estimate(10, 1.0, 0.0), Estimate(10, 2.0, 0.0)), "does not vary"),
        (
            lambda: compare(Estimate(10, 0.0, 0.0), Estimate(12, 0.0, 0.0), binary=True),
            "no conversions",
        ),
        (
            lambda: compare(Estimate(10, 2.0, 1.0), Estimate(10, 0.5, 1.0), binary=True),
            "in \\[0, 1\\]",
        ),
        (lambda: compare(Estimate(10, 1.0, 1.0), Estimate(10, 1.0, 1.0), alpha=1.5), "alpha"),
        (
            lambda: compare(Estimate(10, 1.0, 1.0), Estimate(10, 1.0, 1.0), comparisons=0),
            "comparisons",
        ),
        (
            lambda: cuped_estimates([Moments(5, 10.0, 30.0, 5.0, 5.0, 10.0)] * 2),
            "covariate has no variance",
        ),
        (lambda: cuped_estimates([]), "at least one variant"),
        (lambda: ratio_estimate(RatioMoments(5, 10.0, 30.0, 0.0, 0.0, 0.0)), "denominator"),
        (lambda: holm([0.2, 1.5]), "\\[0, 1\\]"),
        (lambda: sample_ratio_mismatch([10], [1]), "at least two"),
        (lambda: sample_ratio_mismatch([10, 12], [1, 0]), "weights > 0"),
        (lambda: sample_ratio_mismatch([0, 0], [1, 1]), "no customers"),
    ],
)
def test_bad_input_raises_input_error(call, message: str) -> None:
    with pytest.raises(InputError, match=message):
        call()
