"""Experiment statistics on sufficient statistics: per-variant estimates and their comparison.

The warehouse returns a handful of sums per variant (:class:`Moments`, :class:`RatioMoments`);
everything here is arithmetic on those sums, so a readout over ten million customers costs what
one over ten costs. Conventions follow GrowthBook's and Eppo's stats engines: Welch's t for
means, the unpooled Wald z for conversion rates, the delta method for relative lifts and ratio
metrics, CUPED (Deng et al. 2013) for variance reduction, a Gaussian posterior under a flat prior
for the Bayesian view, Holm (1979) for several variants and a chi-square test for sample ratio
mismatch. docs/experiment-statistics.md states every definition.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special, stats

from patron.errors import InputError
from patron.experiments.sequential import SequenceDesign, _halfwidth, always_valid_p_value

SRM_THRESHOLD = 0.001
"""Sample-ratio-mismatch alarm level (GrowthBook's default). The check runs on every readout of
every experiment, so it is repeated many times; at 0.001 false alarms stay rare, while a real
assignment or logging bug at warehouse sample sizes gives p-values far below it."""


@dataclass(frozen=True)
class Moments:
    """Sufficient statistics of one variant's per-customer values (what the warehouse returns).

    ``total`` = Σy, ``squares`` = Σy² over the variant's ``n`` customers; the covariate fields are
    Σx, Σx² and Σxy for a pre-period covariate x (CUPED) and stay 0 when there is none.
    """

    n: int
    total: float
    squares: float
    covariate: float = 0.0
    covariate_squares: float = 0.0
    cross: float = 0.0

    def __post_init__(self) -> None:
        _normalize(self, "total", "squares", "covariate", "covariate_squares", "cross")

    @property
    def mean(self) -> float:
        """Σy / n."""
        if self.n == 0:
            raise InputError("a variant has no customers: its mean is undefined")
        return self.total / self.n

    @property
    def variance(self) -> float:
        """The sample variance (Σy² - (Σy)²/n) / (n - 1), ddof = 1."""
        centered = _centered(_at_least_two(self.n), self.squares, self.total, self.total)
        return max(centered, 0.0) / (self.n - 1)


@dataclass(frozen=True)
class RatioMoments:
    """Sufficient statistics of a ratio metric Σnum / Σden over one variant's customers.

    For "revenue per order" the numerator is each customer's revenue and the denominator their
    order count; ``cross`` is Σ num·den. The customer is the randomization unit, so the ratio's
    variance must account for the correlation of a customer's numerator and denominator.
    """

    n: int
    numerator: float
    numerator_squares: float
    denominator: float
    denominator_squares: float
    cross: float

    def __post_init__(self) -> None:
        _normalize(
            self, "numerator", "numerator_squares", "denominator", "denominator_squares", "cross"
        )


@dataclass(frozen=True)
class Estimate:
    """A variant's mean and the variance of that mean (already divided by n)."""

    n: int
    mean: float
    variance: float

    def __post_init__(self) -> None:
        _normalize(self, "mean", "variance")
        if self.variance < 0:
            raise InputError(f"a variance cannot be negative ({self.variance})")

    @property
    def standard_error(self) -> float:
        """sqrt(Var(mean))."""
        return math.sqrt(self.variance)

    @property
    def unit_variance(self) -> float:
        """The per-customer variance Var(mean) * n."""
        return self.variance * self.n


@dataclass(frozen=True)
class Comparison:
    """Treatment against control: frequentist lift and intervals, Bayesian chance and loss.

    ``df`` is the Welch–Satterthwaite degrees of freedom of a t test, or infinity for a z test
    (conversion rates, sequential). ``p_value`` is unadjusted for multiple comparisons; pass the
    family's p-values through :func:`holm`.
    """

    lift: float
    lift_ci: tuple[float, float]
    relative_lift: float
    relative_lift_ci: tuple[float, float]
    p_value: float
    chance_to_beat_control: float
    expected_loss: float
    standard_error: float
    relative_standard_error: float
    df: float


def mean_estimate(m: Moments) -> Estimate:
    """The sample mean Σy/n and its variance s²/n (s² the ddof = 1 sample variance)."""
    return Estimate(n=m.n, mean=m.mean, variance=m.variance / m.n)


def ratio_estimate(m: RatioMoments) -> Estimate:
    """The ratio R = Σnum / Σden and its delta-method variance.

    With per-customer sample (co)variances s_nn, s_dd, s_nd (ddof = 1) and means n̄, d̄:

        Var(R) ≈ (s_nn - 2 R s_nd + R² s_dd) / (n d̄²)

    the first-order Taylor expansion of n̄/d̄ around its mean (Deng, Knoblich & Lu 2018, "Applying
    the delta method in metric analytics"; GrowthBook's ratio metrics). It is consistent when the
    customer, not the order, is what was randomized, which plain per-order variance is not.
    """
    n = _at_least_two(m.n)
    if m.denominator == 0:
        raise InputError("the ratio's denominator sums to 0 in a variant: the ratio is undefined")
    ratio = m.numerator / m.denominator
    s_nn = _centered(n, m.numerator_squares, m.numerator, m.numerator) / (n - 1)
    s_dd = _centered(n, m.denominator_squares, m.denominator, m.denominator) / (n - 1)
    s_nd = _centered(n, m.cross, m.numerator, m.denominator) / (n - 1)
    d_bar = m.denominator / n
    unit = max(s_nn - 2 * ratio * s_nd + ratio**2 * s_dd, 0.0)
    return Estimate(n=n, mean=ratio, variance=unit / (n * d_bar**2))


def cuped_estimates(variants: Sequence[Moments]) -> tuple[list[Estimate], float, float]:
    """CUPED-adjusted means with one theta pooled over all variants (Deng et al. 2013).

    theta = Σ_v S_xy,v / Σ_v S_xx,v with within-variant centered sums S (the common slope of y on
    x, so a treatment effect does not leak into it). Variant v's adjusted mean is
    ȳ_v - theta (x̄_v - x̄), x̄ the grand covariate mean; its variance is
    (s_yy,v - 2 theta s_xy,v + theta² s_xx,v) / n_v from the variant's own sample (co)variances,
    with theta treated as known (as in the paper). x is measured before assignment, so
    E[x̄_v - x̄] = 0 and the expected lift is unchanged while its variance shrinks by the squared
    correlation. Returns (estimates, theta, variance_reduction) where variance_reduction =
    1 - Σ residual S / Σ S_yy = (Σ S_xy)² / (Σ S_xx Σ S_yy), the pooled within-variant ρ².
    """
    if not variants:
        raise InputError("CUPED needs at least one variant")
    for m in variants:
        _at_least_two(m.n)
    s_xx = [_centered(m.n, m.covariate_squares, m.covariate, m.covariate) for m in variants]
    s_yy = [_centered(m.n, m.squares, m.total, m.total) for m in variants]
    s_xy = [_centered(m.n, m.cross, m.total, m.covariate) for m in variants]
    if sum(s_xx) <= 0:
        raise InputError(
            "the CUPED covariate has no variance (e.g. no pre-period data for anyone): "
            "choose another covariate or analyze without CUPED"
        )
    theta = sum(s_xy) / sum(s_xx)
    grand_x = sum(m.covariate for m in variants) / sum(m.n for m in variants)
    estimates = [
        Estimate(
            n=m.n,
            mean=m.mean - theta * (m.covariate / m.n - grand_x),
            variance=max(yy - 2 * theta * xy + theta**2 * xx, 0.0) / (m.n - 1) / m.n,
        )
        for m, xx, yy, xy in zip(variants, s_xx, s_yy, s_xy, strict=True)
    ]
    total_yy = sum(s_yy)
    reduction = theta * sum(s_xy) / total_yy if total_yy > 0 else 0.0
    return estimates, theta, min(max(reduction, 0.0), 1.0)


def compare(
    control: Estimate,
    treatment: Estimate,
    *,
    alpha: float = 0.05,
    binary: bool = False,
    sequential: SequenceDesign | None = None,
    comparisons: int = 1,
) -> Comparison:
    """Treatment minus control, with two-sided intervals at level alpha / comparisons.

    - ``binary=False``: Welch's t. SE = sqrt(Var_t + Var_c), Welch–Satterthwaite
      df = (Var_t + Var_c)² / (Var_t²/(n_t - 1) + Var_c²/(n_c - 1)); the same numbers as
      ``scipy.stats.ttest_ind(equal_var=False)``. Valid for any metric with finite variance.
    - ``binary=True``: the unpooled Wald z test of two proportions, Var = p(1 - p)/n computed from
      each estimate's mean (its ``variance`` is ignored, so pass raw conversion rates; use
      ``binary=False`` for CUPED-adjusted rates), as statsmodels' ``method="wald"``.
    - relative lift (μ_t - μ_c)/μ_c with the delta-method variance
      Var_t/μ_c² + μ_t² Var_c/μ_c⁴ and the same critical value; NaN when μ_c = 0
      (or so near 0 that the ratio overflows).
    - ``comparisons = k > 1``: intervals at alpha/k (Bonferroni), so the k intervals hold jointly;
      the p-value stays raw, for :func:`holm`.
    - ``sequential``: the asymptotic confidence sequence at level alpha/k with the design's rho
      (``sequential.alpha`` only tunes rho), and its always-valid p-value (dual: p < alpha/k iff
      the interval excludes 0). ``n`` for the sequence is n_c + n_t; df is infinite.
    - Bayesian view: lift ~ N(lift, SE²), the posterior under a flat prior in the Gaussian
      approximation; chance_to_beat_control = Φ(lift/SE); expected_loss, the expected shortfall
      of shipping treatment, E[max(0, -lift)] = SE φ(lift/SE) - lift Φ(-lift/SE), in metric units.
    """
    level = _level(alpha, comparisons)
    var_c, var_t = _variances(control, treatment, binary)
    se = math.sqrt(var_c + var_t)
    if se == 0:
        raise InputError(
            "the metric does not vary in either variant (e.g. no conversions yet): nothing to test"
        )
    lift = treatment.mean - control.mean
    relative, relative_se = _relative(control.mean, treatment.mean, var_c, var_t)
    if sequential is not None:
        n = control.n + treatment.n
        df = math.inf
        half, relative_half = (_halfwidth(s, n, sequential.rho, level) for s in (se, relative_se))
        p_value = always_valid_p_value(lift, se, n, sequential)
    else:
        df = math.inf if binary else _welch_df(control.n, var_c, treatment.n, var_t)
        critical = _quantile(1 - level / 2, df)
        half, relative_half = critical * se, critical * relative_se
        p_value = 2 * _cdf(-abs(lift) / se, df)
    z = lift / se
    return Comparison(
        lift=lift,
        lift_ci=(lift - half, lift + half),
        relative_lift=relative,
        relative_lift_ci=(relative - relative_half, relative + relative_half),
        p_value=p_value,
        chance_to_beat_control=float(special.ndtr(z)),
        expected_loss=max(se * _normal_pdf(z) - lift * float(special.ndtr(-z)), 0.0),
        standard_error=se,
        relative_standard_error=relative_se,
        df=df,
    )


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's (1979) step-down adjusted p-values, in the input order.

    Sorted ascending p_(1) <= ... <= p_(m), adjusted p_(i) = max_{j<=i} min(1, (m - j + 1) p_(j)).
    Rejecting where the adjusted p < alpha controls the family-wise error rate at alpha like
    Bonferroni, but is uniformly more powerful. Same as statsmodels' multipletests("holm").
    """
    p = np.asarray(p_values, dtype=float)
    if p.size and not np.all((p >= 0) & (p <= 1)):
        raise InputError(f"p-values must lie in [0, 1], got {p_values}")
    order = np.argsort(p, kind="stable")
    scaled = p[order] * np.arange(p.size, 0, -1)
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(np.maximum.accumulate(scaled), 1.0)
    return adjusted.tolist()


def sample_ratio_mismatch(counts: Sequence[int], weights: Sequence[float]) -> float:
    """P-value of Pearson's chi-square goodness-of-fit of the variant counts to the planned split.

    Expected count of variant v = N w_v / Σw; statistic Σ (O - E)² / E on k - 1 degrees of
    freedom, as ``scipy.stats.chisquare``. A p-value below :data:`SRM_THRESHOLD` means the
    assignment or the measurement is broken and the readout must not be trusted.
    """
    observed = np.asarray(counts, dtype=float)
    w = np.asarray(weights, dtype=float)
    if observed.size < 2 or observed.shape != w.shape:
        raise InputError("give one count and one weight per variant, for at least two variants")
    if np.any(observed < 0) or not np.all(w > 0):
        raise InputError("counts must be >= 0 and weights > 0")
    if observed.sum() == 0:
        raise InputError("no customers are assigned yet: nothing to check")
    expected = observed.sum() * w / w.sum()
    statistic = float(np.sum((observed - expected) ** 2 / expected))
    return float(stats.chi2.sf(statistic, observed.size - 1))


def _variances(control: Estimate, treatment: Estimate, binary: bool) -> tuple[float, float]:
    for e in (control, treatment):
        _at_least_two(e.n)
    if not binary:
        return control.variance, treatment.variance
    for e in (control, treatment):
        if not 0 <= e.mean <= 1:
            raise InputError(f"binary=True needs conversion rates in [0, 1], got {e.mean}")
    return (
        control.mean * (1 - control.mean) / control.n,
        treatment.mean * (1 - treatment.mean) / treatment.n,
    )


def _relative(mean_c: float, mean_t: float, var_c: float, var_t: float) -> tuple[float, float]:
    if mean_c == 0:
        return math.nan, math.nan
    ratio = mean_t / mean_c
    se = math.hypot(math.sqrt(var_t), ratio * math.sqrt(var_c)) / abs(mean_c)
    if not math.isfinite(ratio + se):  # a control mean so close to 0 that the ratio overflows
        return math.nan, math.nan
    return ratio - 1, se


def _welch_df(n_c: int, var_c: float, n_t: int, var_t: float) -> float:
    return (var_c + var_t) ** 2 / (var_c**2 / (n_c - 1) + var_t**2 / (n_t - 1))


def _quantile(q: float, df: float) -> float:
    return float(special.ndtri(q) if math.isinf(df) else special.stdtrit(df, q))


def _cdf(x: float, df: float) -> float:
    return float(special.ndtr(x) if math.isinf(df) else special.stdtr(df, x))


def _normal_pdf(z: float) -> float:
    return math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)


def _level(alpha: float, comparisons: int) -> float:
    if not 0 < alpha < 1:
        raise InputError(f"alpha must be between 0 and 1, got {alpha}")
    if comparisons < 1:
        raise InputError(f"comparisons must be at least 1, got {comparisons}")
    return alpha / comparisons


def _centered(n: int, products: float, first: float, second: float) -> float:
    """Σ(a - ā)(b - b̄) from Σab, Σa, Σb."""
    return products - first * second / n


def _at_least_two(n: int) -> int:
    if n < 2:
        raise InputError(f"a variant needs at least 2 customers to estimate a variance, has {n}")
    return n


def _normalize(record: Moments | RatioMoments | Estimate, *fields: str) -> None:
    """Make ``n`` a non-negative int and the fields finite floats (numpy scalars come in)."""
    n = int(record.n)
    if n < 0:
        raise InputError(f"a variant cannot have a negative count of customers ({n})")
    object.__setattr__(record, "n", n)
    for name in fields:
        value = float(getattr(record, name))
        if not math.isfinite(value):
            raise InputError(f"{name} must be a finite number, got {value}")
        object.__setattr__(record, name, value)
