"""Power analysis against statsmodels, its own round trips, and simulated experiments."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import power_proportions_2indep

from patron.errors import InputError
from patron.experiments.plan import plan
from patron.experiments.power import (
    achieved_power,
    days_to_run,
    minimum_detectable_effect,
    sample_size,
)
from patron.experiments.stats import Moments, compare, mean_estimate

Z = 3.5  # standard errors allowed for a simulated rate

MEAN_CASES = [
    # baseline, sd, mde, alpha, power, variants
    (10.0, 20.0, 0.10, 0.05, 0.80, 2),
    (55.0, 80.0, 0.05, 0.05, 0.90, 2),
    (3.2, 2.0, -0.08, 0.10, 0.80, 2),
    (120.0, 300.0, 0.15, 0.05, 0.80, 4),
]
RATE_CASES = [(0.05, 0.2), (0.02, 0.1), (0.3, -0.2), (0.5, 0.05)]


@pytest.mark.parametrize(("baseline", "sd", "mde", "alpha", "power", "variants"), MEAN_CASES)
def test_means_agree_with_statsmodels_normal_ind_power(
    baseline: float, sd: float, mde: float, alpha: float, power: float, variants: int
) -> None:
    d = abs(mde * baseline / sd)
    level = alpha / (variants - 1)
    reference = NormalIndPower()
    n_reference = reference.solve_power(effect_size=d, alpha=level, power=power)
    n = sample_size(baseline, mde, sd=sd, alpha=alpha, power=power, variants=variants)
    assert n == math.ceil(n_reference - 1e-6)
    for m in (n // 2, n, 3 * n):
        assert achieved_power(
            m, baseline, mde, sd=sd, alpha=alpha, variants=variants
        ) == pytest.approx(reference.power(effect_size=d, nobs1=m, alpha=level), rel=1e-10)
    d_reference = reference.solve_power(nobs1=n, alpha=level, power=power)
    mde_at_n = minimum_detectable_effect(
        n, baseline, sd=sd, alpha=alpha, power=power, variants=variants
    )
    assert mde_at_n == pytest.approx(d_reference * sd / baseline, rel=1e-4)  # solver tolerance
    effect_size = mde_at_n * baseline / sd
    assert reference.power(effect_size=effect_size, nobs1=n, alpha=level) == pytest.approx(power)


@pytest.mark.parametrize(("baseline", "mde"), RATE_CASES)
def test_rates_agree_with_statsmodels_two_proportion_power(baseline: float, mde: float) -> None:
    """statsmodels uses the pooled variance under the null; the two agree to a few 0.001."""
    n = sample_size(baseline, mde)
    reference = power_proportions_2indep(baseline * mde, baseline, n).power
    assert achieved_power(n, baseline, mde) == pytest.approx(reference, abs=3e-3)
    p2 = baseline * (1 + mde)
    explicit = (1.959964 + 0.841621) ** 2 * (baseline * (1 - baseline) + p2 * (1 - p2))
    assert n == pytest.approx(explicit / (p2 - baseline) ** 2, abs=1.5)


@given(
    st.floats(0.005, 0.6),
    st.floats(0.02, 0.5),
    st.sampled_from([0.01, 0.05, 0.1]),
    st.floats(0.5, 0.95),
    st.integers(2, 5),
)
def test_rate_round_trips(
    baseline: float, mde: float, alpha: float, power: float, variants: int
) -> None:
    options = {"alpha": alpha, "variants": variants}
    n = sample_size(baseline, mde, power=power, **options)
    assert achieved_power(n, baseline, mde, **options) >= power
    if n > 2:
        assert achieved_power(n - 1, baseline, mde, **options) < power
    mde_at_n = minimum_detectable_effect(n, baseline, power=power, **options)
    assert mde_at_n <= mde * (1 + 1e-9)
    assert mde_at_n == pytest.approx(mde, rel=0.05 + 2 / n)
    assert achieved_power(n, baseline, mde_at_n, **options) == pytest.approx(power, abs=1e-9)


@given(
    st.floats(0.1, 1000),
    st.floats(0.1, 10),
    st.floats(0.01, 0.5),
    st.floats(0.5, 0.95),
)
def test_mean_round_trips(baseline: float, cv: float, mde: float, power: float) -> None:
    sd = cv * baseline
    n = sample_size(baseline, mde, sd=sd, power=power)
    assert achieved_power(n, baseline, mde, sd=sd) >= power
    if n > 2:
        assert achieved_power(n - 1, baseline, mde, sd=sd) < power
        mde_at_n = minimum_detectable_effect(n, baseline, sd=sd, power=power)
        assert mde * math.sqrt((n - 1) / n) <= mde_at_n <= mde * (1 + 1e-9)
        assert achieved_power(n, baseline, mde_at_n, sd=sd) == pytest.approx(power, abs=1e-9)


def test_observed_power_of_compare_matches_the_promise_for_means() -> None:
    """2,000 simulated experiments at n = sample_size: Welch's t rejects with ~80 % (normal data:
    the mean and (n - 1)s²/sigma² are drawn from their exact normal and chi-square laws)."""
    rng = np.random.default_rng(41)
    baseline, sd, mde, experiments = 40.0, 60.0, 0.05, 2000
    n = sample_size(baseline, mde, sd=sd)
    mu = np.array([baseline, baseline * (1 + mde)])
    means = rng.normal(mu, sd / math.sqrt(n), (experiments, 2))
    sums_sq = sd**2 * rng.chisquare(n - 1, (experiments, 2)) + n * means**2
    rejected = sum(
        compare(
            mean_estimate(Moments(n, n * means[e, 0], sums_sq[e, 0])),
            mean_estimate(Moments(n, n * means[e, 1], sums_sq[e, 1])),
        ).p_value
        < 0.05
        for e in range(experiments)
    )
    assert abs(rejected / experiments - 0.8) <= Z * math.sqrt(0.8 * 0.2 / experiments)


@pytest.mark.parametrize("variants", [2, 3])
def test_observed_power_of_compare_matches_the_promise_for_conversions(variants: int) -> None:
    """With 3 variants compare(comparisons=2) is the Bonferroni test sample_size plans for."""
    rng = np.random.default_rng(43 + variants)
    baseline, mde, experiments = 0.04, 0.15, 2000
    n = sample_size(baseline, mde, power=0.8, variants=variants)
    converted = rng.binomial(n, [baseline, baseline * (1 + mde)], (experiments, 2))
    rejected = 0
    for a, b in converted:
        result = compare(
            mean_estimate(Moments(n, a, a)),
            mean_estimate(Moments(n, b, b)),
            binary=True,
            comparisons=variants - 1,
        )
        rejected += result.lift_ci[0] > 0 or result.lift_ci[1] < 0
    assert abs(rejected / experiments - 0.8) <= Z * math.sqrt(0.8 * 0.2 / experiments)


def test_days_to_run() -> None:
    assert days_to_run(1000, 2, per_day=100) == 20
    assert days_to_run(1000, 2, per_day=99) == 21
    assert days_to_run(1000, 3, per_day=300) == 10
    # a 10 % holdout is the bottleneck: it gets 10 customers a day
    assert days_to_run(1000, 2, per_day=100, weights=[0.1, 0.9]) == 100
    assert days_to_run(1000, 2, per_day=100, weights=[1, 1]) == 20


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: sample_size(1.2, 0.1), "conversion rate"),
        (lambda: sample_size(0.0, 0.1), "conversion rate"),
        (lambda: sample_size(0.6, 1.0), "leaves \\(0, 1\\)"),
        (lambda: sample_size(10.0, 0.1, sd=0.0), "standard deviation"),
        (lambda: sample_size(0.0, 0.1, sd=1.0), "non-zero baseline"),
        (lambda: sample_size(0.1, 0.0), "non-zero"),
        (lambda: sample_size(0.1, 0.1, alpha=0.0), "alpha"),
        (lambda: sample_size(0.1, 0.1, power=1.0), "power"),
        (lambda: sample_size(0.1, 0.1, power=0.01), "chance alone"),
        (lambda: sample_size(0.1, 0.1, variants=1), "at least 2 variants"),
        (lambda: achieved_power(1, 0.1, 0.1), "at least 2 customers"),
        (lambda: minimum_detectable_effect(10, 0.9), "cannot detect"),
        (lambda: days_to_run(100, 2, per_day=0), "per day"),
        (lambda: days_to_run(100, 2, per_day=10, weights=[1.0]), "one positive weight"),
    ],
)
def test_bad_input_raises_input_error(call, message: str) -> None:
    with pytest.raises(InputError, match=message):
        call()


def test_a_plan_reads_numpy_numbers_as_plain_ones() -> None:
    planned = plan(np.float64(0.08), np.float32(0.1), audience=np.int64(8000), per_day=np.int32(9))
    assert planned == plan(0.08, float(np.float32(0.1)), audience=8000, per_day=9)
    assert json.loads(json.dumps(planned)) == planned  # numpy's bool and int64 would not serialize
    with pytest.raises(InputError, match="variants must be a whole number, not str '3'"):
        plan(0.08, 0.1, variants="3")  # type: ignore[arg-type]
