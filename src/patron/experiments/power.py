"""Power analysis for the fixed-horizon tests of :func:`patron.experiments.stats.compare`.

The effect is *relative* (mde = 0.10: treatment's mean is 10 % above the baseline), as marketers
state goals. The test is two-sided at alpha / (variants - 1), the Bonferroni level ``compare``
uses with ``comparisons = variants - 1``. The statistic is taken as normal: with SE the standard
error of the difference at n customers per variant and z = Φ⁻¹(1 - alpha'/2),

    power = Φ(|δ|/SE - z) + Φ(-|δ|/SE - z)

(both tails, as statsmodels' NormalIndPower). At the sample sizes experiments need, Welch's t is
indistinguishable from z. Means: SE² = 2 sd²/n (a common per-customer sd). Conversion rates
(``sd=None``): SE² = (p₁(1 - p₁) + p₂(1 - p₂))/n with p₂ = p₁(1 + mde), the unpooled variance of
the Wald test ``compare(binary=True)`` runs. A sequential readout is wider than this test, so it
needs more customers for the same power.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from scipy import optimize, special

from patron.errors import InputError


def sample_size(
    baseline: float,
    mde: float,
    *,
    sd: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    variants: int = 2,
) -> int:
    """Customers per variant for ``power`` to detect a relative effect ``mde``.

    The smallest integer n with achieved_power(n) >= power: n = ceil(s² (v_c + v_t) / δ²), with
    v the per-customer variances, δ the absolute effect and s the standardized effect |δ|/SE at
    which the two-sided power equals ``power`` (s ≈ z_{1-alpha'/2} + z_power, solved exactly).
    """
    shift = _shift(power, _z_alpha(alpha, variants))
    delta, var_c, var_t = _effect(baseline, mde, sd)
    n = max(math.ceil(shift**2 * (var_c + var_t) / delta**2 * (1 - 1e-12)), 2)
    return (
        n
        if achieved_power(n, baseline, mde, sd=sd, alpha=alpha, variants=variants) >= power
        else n + 1
    )


def minimum_detectable_effect(
    n_per_variant: int,
    baseline: float,
    *,
    sd: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    variants: int = 2,
) -> float:
    """The smallest positive relative effect detected with ``power`` at ``n_per_variant``.

    Solves |δ| / SE(δ) = s (the standardized effect of :func:`sample_size`) for δ. Means:
    δ = s sd sqrt(2/n). Rates, where the treatment's variance depends on δ:
    (n + s²) δ² - s² (1 - 2p) δ - 2 s² p(1 - p) = 0, whose positive root is the upward MDE.
    Returned relative to |baseline|, so achieved_power at this effect is exactly ``power``.
    """
    shift = _shift(power, _z_alpha(alpha, variants))
    n = _checked_n(n_per_variant)
    s2 = shift**2
    if sd is not None:
        _check_mean_inputs(baseline, sd)
        return math.sqrt(s2 * 2 * sd**2 / n) / abs(baseline)
    _check_rate(baseline)
    b = s2 * (1 - 2 * baseline)
    delta = (b + math.sqrt(b * b + 8 * (n + s2) * s2 * baseline * (1 - baseline))) / (2 * (n + s2))
    if baseline + delta >= 1:
        raise InputError(
            f"{n} customers per variant cannot detect any rise of a {baseline:.1%} rate: "
            "add customers or lower the power"
        )
    return delta / baseline


def achieved_power(
    n_per_variant: int,
    baseline: float,
    mde: float,
    *,
    sd: float | None = None,
    alpha: float = 0.05,
    variants: int = 2,
) -> float:
    """The probability that the two-sided test at alpha/(variants - 1) rejects, when the true
    relative effect is ``mde``: Φ(|δ|/SE - z) + Φ(-|δ|/SE - z) (module docstring)."""
    z_alpha = _z_alpha(alpha, variants)
    delta, var_c, var_t = _effect(baseline, mde, sd)
    shift = abs(delta) / math.sqrt((var_c + var_t) / _checked_n(n_per_variant))
    return _two_sided_power(shift, z_alpha)


def days_to_run(
    n_per_variant: int, variants: int, per_day: float, weights: Sequence[float] | None = None
) -> int:
    """Days until every variant has ``n_per_variant`` customers.

    ``per_day`` customers enter the experiment per day and are split by ``weights`` (relative
    traffic per variant; None = equal). The smallest variant is the bottleneck:
    days = ceil(n / (per_day * min(w) / Σw)).
    """
    n = _checked_n(n_per_variant)
    shares = [1.0] * variants if weights is None else [float(w) for w in weights]
    if variants < 2 or len(shares) != variants or min(shares) <= 0:
        raise InputError("give at least two variants and one positive weight per variant")
    if not per_day > 0:
        raise InputError(f"customers per day must be positive, got {per_day}")
    return math.ceil(round(n * sum(shares) / (per_day * min(shares)), 9))


def _two_sided_power(shift: float, z_alpha: float) -> float:
    return float(special.ndtr(shift - z_alpha) + special.ndtr(-shift - z_alpha))


def _shift(power: float, z_alpha: float) -> float:
    """The standardized effect |δ|/SE at which the two-sided test reaches ``power``.

    Power rises from alpha' (at 0) with the shift; at z_alpha + z_power the near tail alone gives
    ``power``, so the root lies below that.
    """
    chance = _two_sided_power(0.0, z_alpha)
    if not chance < power < 1:
        raise InputError(
            f"power must be below 1 and above {chance:.3g}, what chance alone gives at this "
            f"alpha; got {power}"
        )
    upper = z_alpha + float(special.ndtri(power)) + 1
    return float(optimize.brentq(lambda s: _two_sided_power(s, z_alpha) - power, 0.0, upper))


def _effect(baseline: float, mde: float, sd: float | None) -> tuple[float, float, float]:
    """Absolute effect and per-customer variances of control and treatment."""
    if not math.isfinite(mde) or mde == 0:
        raise InputError(f"the minimum detectable effect must be a non-zero number, got {mde}")
    if sd is not None:
        _check_mean_inputs(baseline, sd)
        return mde * baseline, sd**2, sd**2
    _check_rate(baseline)
    treated = baseline * (1 + mde)
    if not 0 < treated < 1:
        raise InputError(
            f"a {mde:+.0%} change of a {baseline:.1%} rate leaves (0, 1): choose a smaller mde"
        )
    return treated - baseline, baseline * (1 - baseline), treated * (1 - treated)


def _z_alpha(alpha: float, variants: int) -> float:
    """The two-sided critical value at the Bonferroni level alpha / (variants - 1)."""
    if not 0 < alpha < 1:
        raise InputError(f"alpha must be between 0 and 1, got {alpha}")
    if variants < 2:
        raise InputError(f"an experiment needs at least 2 variants, got {variants}")
    return float(special.ndtri(1 - alpha / (variants - 1) / 2))


def _check_mean_inputs(baseline: float, sd: float) -> None:
    if not math.isfinite(baseline) or baseline == 0:
        raise InputError(
            f"a relative effect needs a non-zero baseline mean, got {baseline}; "
            "give the baseline as the control group's expected mean"
        )
    if not (math.isfinite(sd) and sd > 0):
        raise InputError(f"the standard deviation must be positive, got {sd}")


def _check_rate(baseline: float) -> None:
    if not 0 < baseline < 1:
        raise InputError(
            "without a standard deviation the baseline is a conversion rate and must lie "
            f"in (0, 1), got {baseline}"
        )


def _checked_n(n: int) -> int:
    if n < 2:
        raise InputError(f"need at least 2 customers per variant, got {n}")
    return n
