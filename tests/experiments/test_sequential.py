"""Asymptotic confidence sequences: the formulas, their duality, and daily peeking in simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import special
from scipy.optimize import minimize_scalar

from patron.errors import InputError
from patron.experiments.sequential import (
    SequenceDesign,
    always_valid_p_value,
    confidence_sequence_halfwidth,
)
from patron.experiments.stats import Estimate, Moments, compare, mean_estimate

Z = 3.5  # standard errors allowed for a simulated rate


def test_rho_and_halfwidth_follow_waudby_smith() -> None:
    """rho² = (-2 ln a + ln(1 - 2 ln a)) / t*, and the paper's sigma-form of the half-width."""
    design = SequenceDesign(alpha=0.05, planned_n=5000)
    assert design.rho**2 == pytest.approx((5.991464547 + math.log(6.991464547)) / 5000, rel=1e-9)
    n, sigma = 1234, 7.5
    rho2 = design.rho**2
    paper = sigma * math.sqrt(
        2 * (n * rho2 + 1) / (n**2 * rho2) * math.log(math.sqrt(n * rho2 + 1) / 0.05)
    )
    assert confidence_sequence_halfwidth(sigma / math.sqrt(n), n, design) == pytest.approx(paper)


@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.2])
@pytest.mark.parametrize("planned_n", [200, 10_000, 2_000_000])
def test_the_sequence_is_tightest_at_planned_n(alpha: float, planned_n: int) -> None:
    design = SequenceDesign(alpha=alpha, planned_n=planned_n)

    def width(log_rho: float) -> float:
        v = planned_n * math.exp(log_rho) ** 2
        return math.sqrt(2 * (v + 1) / v * math.log(math.sqrt(v + 1) / alpha))

    best = minimize_scalar(width, bounds=(-20, 5), method="bounded")
    assert confidence_sequence_halfwidth(1.0, planned_n, design) == pytest.approx(
        best.fun, rel=1e-3
    )
    assert design.rho == pytest.approx(math.exp(best.x), rel=0.05)


@given(
    st.floats(-1e3, 1e3),
    st.floats(1e-3, 1e3),
    st.integers(1, 10**8),
    st.floats(0.001, 0.5),
    st.integers(1, 10**7),
)
def test_p_value_and_sequence_are_dual_and_wider_than_fixed(
    estimate: float, std_error: float, n: int, alpha: float, planned_n: int
) -> None:
    design = SequenceDesign(alpha=alpha, planned_n=planned_n)
    half = confidence_sequence_halfwidth(std_error, n, design)
    p = always_valid_p_value(estimate, std_error, n, design)
    assert 0 <= p <= 1
    if abs(abs(estimate) - half) > 1e-9 * half:  # away from the boundary itself
        assert (p < alpha) == (abs(estimate) > half)
    assert half > special.ndtri(1 - alpha / 2) * std_error
    assert always_valid_p_value(-estimate, std_error, n, design) == p


@given(
    st.floats(-100, 100),
    st.floats(-100, 100),
    st.floats(0.01, 100),
    st.floats(0.01, 100),
    st.integers(2, 10**6),
    st.integers(2, 10**6),
    st.integers(1, 4),
)
def test_compare_sequential_uses_the_sequence(
    mean_c: float, mean_t: float, var_c: float, var_t: float, n_c: int, n_t: int, k: int
) -> None:
    design = SequenceDesign(alpha=0.05, planned_n=20_000)
    result = compare(
        Estimate(n_c, mean_c, var_c), Estimate(n_t, mean_t, var_t), sequential=design, comparisons=k
    )
    se = math.sqrt(var_c + var_t)
    assert result.p_value == always_valid_p_value(mean_t - mean_c, se, n_c + n_t, design)
    low, high = result.lift_ci
    assert low <= result.lift <= high
    if k == 1:
        half = confidence_sequence_halfwidth(se, n_c + n_t, design)
        assert (low, high) == pytest.approx((result.lift - half, result.lift + half))
    if min(abs(low), abs(high)) > 1e-9 * (high - low):  # not on the boundary
        assert (result.p_value < 0.05 / k) == (low > 0 or high < 0)


def peeking_experiments(effect: float, seed: int) -> tuple[float, float]:
    """Share of 1,500 experiments declared significant at any of 20 daily looks, by the fixed
    p-value and by the confidence sequence (whose p-value must agree with it at every look).
    50 customers per variant per day, skewed (gamma) revenue."""
    rng = np.random.default_rng(seed)
    experiments, days, per_day = 1500, 20, 50
    y = rng.gamma(2.0, 10.0, (experiments, 2, days, per_day))
    y[:, 1] += effect
    n = per_day * np.arange(1, days + 1)
    means = y.sum(3).cumsum(2) / n
    variances = ((y * y).sum(3).cumsum(2) - n * means**2) / (n - 1) / n
    design = SequenceDesign(alpha=0.05, planned_n=2 * per_day * days)
    fixed = np.zeros(experiments, bool)
    sequential = np.zeros(experiments, bool)
    for e in range(experiments):
        for d in range(days):
            c = Estimate(int(n[d]), means[e, 0, d], variances[e, 0, d])
            t = Estimate(int(n[d]), means[e, 1, d], variances[e, 1, d])
            fixed[e] |= compare(c, t).p_value < 0.05
            result = compare(c, t, sequential=design)
            excludes_zero = result.lift_ci[0] > 0 or result.lift_ci[1] < 0
            assert (result.p_value < 0.05) == excludes_zero
            sequential[e] |= excludes_zero
    return fixed.mean(), sequential.mean()


def test_daily_peeking_inflates_false_positives_unless_sequential() -> None:
    fixed, sequential = peeking_experiments(effect=0.0, seed=31)
    bound = Z * math.sqrt(0.05 * 0.95 / 1500)
    assert fixed > 0.05 + 0.08  # about 0.2 with 20 looks
    assert sequential <= 0.05 + bound


def test_the_sequence_still_detects_a_real_effect() -> None:
    """Effect of 3.88 final standard errors: the sequence at planned_n rejects with ~80 %."""
    se_final = math.sqrt(2 * 200 / 1000)  # gamma(2, 10) has variance 200
    fixed, sequential = peeking_experiments(effect=3.88 * se_final, seed=37)
    assert sequential >= 0.8 - Z * math.sqrt(0.8 * 0.2 / 1500)
    assert fixed > sequential


def test_compare_sequential_for_conversions() -> None:
    design = SequenceDesign(alpha=0.05, planned_n=20_000)
    c, t = mean_estimate(Moments(9000, 450, 450)), mean_estimate(Moments(9100, 560, 560))
    result = compare(c, t, binary=True, sequential=design)
    se = math.sqrt(0.05 * 0.95 / 9000 + (560 / 9100) * (1 - 560 / 9100) / 9100)
    assert result.standard_error == pytest.approx(se)
    assert result.p_value == pytest.approx(always_valid_p_value(result.lift, se, 18_100, design))
    assert result.p_value > compare(c, t, binary=True).p_value


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: SequenceDesign(alpha=0.0), "alpha"),
        (lambda: SequenceDesign(planned_n=0), "planned_n"),
        (lambda: confidence_sequence_halfwidth(1.0, 0, SequenceDesign()), "at least one unit"),
        (lambda: always_valid_p_value(1.0, 0.0, 10, SequenceDesign()), "standard error"),
    ],
)
def test_bad_input_raises_input_error(call, message: str) -> None:
    with pytest.raises(InputError, match=message):
        call()
