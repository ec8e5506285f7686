"""Always-valid inference: asymptotic confidence sequences (Waudby-Smith et al. 2023).

A fixed-horizon interval is valid at *one* pre-planned look; a marketer who reads the experiment
every day and stops at the first significant result inflates the false-positive rate several
times over. A confidence sequence is a sequence of intervals that covers the true effect at every
sample size simultaneously with probability at least 1 - alpha, so it may be read after every
customer and acted on at any look.

We use the asymptotic normal-mixture confidence sequence of Waudby-Smith, Arbour, Sinha, Kennedy
and Ramdas, "Time-uniform central limit theory and asymptotic confidence sequences" (Annals of
Statistics, 2023; arXiv:2103.06476), the one GrowthBook ships. With ``z = estimate / std_error``
after ``n`` units and a mixing parameter ``rho > 0``, the mixture martingale at the null value 0 is

    E_n = exp(n rho² z² / (2 (n rho² + 1))) / sqrt(n rho² + 1)

and Ville's inequality (P(sup_n E_n >= 1/alpha) <= alpha) gives the half-width and p-value below.
It is chosen over a group-sequential (alpha-spending) design because it needs no schedule of
looks: a readout can be run whenever anyone asks, as often as they like.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from patron.errors import InputError


@dataclass(frozen=True)
class SequenceDesign:
    """How a confidence sequence is tuned.

    ``alpha`` is the error rate the sequence is built for and ``planned_n`` the total sample size
    (all compared variants together) at which it should be tightest. Any ``rho > 0`` gives a valid
    sequence; the choice only moves where it is narrowest. GrowthBook calls ``planned_n`` the
    "sequential tuning parameter" (default 5,000).
    """

    alpha: float = 0.05
    planned_n: int = 10_000

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise InputError(f"alpha must be between 0 and 1, got {self.alpha}")
        if self.planned_n < 1:
            raise InputError(f"planned_n must be a positive sample size, got {self.planned_n}")

    @property
    def rho(self) -> float:
        """The mixing scale: rho² = (-2 ln alpha + ln(1 - 2 ln alpha)) / planned_n.

        This is the closed-form approximation (Waudby-Smith et al. 2023, the rho that minimizes
        the half-width at n = planned_n, used by GrowthBook) to the exact minimizer.
        """
        log_alpha = math.log(self.alpha)
        return math.sqrt((-2 * log_alpha + math.log(1 - 2 * log_alpha)) / self.planned_n)


def confidence_sequence_halfwidth(std_error: float, n: int, design: SequenceDesign) -> float:
    """Half-width of the (1 - alpha) asymptotic confidence sequence after ``n`` units.

    ``std_error`` is the standard error of the estimate at this look (for a difference of two
    means, sqrt(Var(mean_t) + Var(mean_c))) and ``n`` the total units behind it (both variants).
    With v = n rho²:

        halfwidth = std_error * sqrt(2 (v + 1) / v * ln(sqrt(v + 1) / alpha))

    which is Waudby-Smith et al.'s sigma * sqrt(2 (n rho² + 1) / (n² rho²) ln(...)) written with
    the standard error sigma / sqrt(n). It is wider than the fixed-horizon z interval at every n:
    that is the price of being allowed to look at any time.
    """
    return _halfwidth(std_error, _checked_n(n), design.rho, design.alpha)


def always_valid_p_value(
    estimate: float, std_error: float, n: int, design: SequenceDesign
) -> float:
    """The always-valid p-value min(1, 1 / E_n) for the null "effect = 0" after ``n`` units.

    E_n is the mixture martingale in the module docstring. It is dual to the sequence: p < alpha
    exactly when the design's confidence sequence excludes 0. P(p_n <= a at any n) <= a under the
    null, so the running minimum over looks is a valid p-value too. It does not depend on
    ``design.alpha`` except through rho.
    """
    if std_error <= 0:
        raise InputError("the standard error must be positive: the metric has no variance")
    v = _checked_n(n) * design.rho**2
    z = estimate / std_error
    log_p = 0.5 * math.log1p(v) - v * z * z / (2 * (v + 1))
    return math.exp(min(0.0, log_p))


def _halfwidth(std_error: float, n: int, rho: float, alpha: float) -> float:
    """The half-width for a given rho and level (a level other than the design's keeps rho)."""
    v = n * rho**2
    return std_error * math.sqrt(2 * (v + 1) / v * (0.5 * math.log1p(v) - math.log(alpha)))


def _checked_n(n: int) -> int:
    if n < 1:
        raise InputError(f"a confidence sequence needs at least one unit, got n = {n}")
    return n
