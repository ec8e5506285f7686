"""Planning a test before it runs: customers per group, what an audience can detect, how long.

Sizes come from :mod:`.power` (two-sided test, Bonferroni-split alpha with several treatments,
the same rules the readout uses), so a test planned here is judged by the standard it was
planned for.
"""

from __future__ import annotations

from typing import Any

from patron.arguments import as_real, as_whole
from patron.errors import InputError, option
from patron.experiments.power import days_to_run, minimum_detectable_effect, sample_size


def plan(
    baseline: float,
    mde: float,
    *,
    sd: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    variants: int = 2,
    audience: int | None = None,
    per_day: float | None = None,
) -> dict[str, Any]:
    """The sample size per group for ``mde`` (relative), and, given an ``audience`` size, whether
    it suffices and the smallest change it can detect; given ``per_day`` arrivals, the days.
    Numbers are read as plain Python ones (numpy's would not survive ``json.dumps``)."""
    baseline, mde = as_real(baseline, "baseline"), as_real(mde, "mde")
    alpha, power = as_real(alpha, "alpha"), as_real(power, "power")
    sd = None if sd is None else as_real(sd, "sd")
    variants = as_whole(variants, "variants")
    audience = None if audience is None else as_whole(audience, "audience")
    per_day = None if per_day is None else as_real(per_day, "per_day")
    if variants < 2:
        raise InputError(
            f"{option('variants')} counts every group including the baseline; got {variants}"
        )
    n = sample_size(baseline, mde, sd=sd, alpha=alpha, power=power, variants=variants)
    settings = {"sd": sd, "alpha": alpha, "power": power, "variants": variants}
    return {
        "n_per_variant": n,
        "total": n * variants,
        "baseline": baseline,
        "mde": mde,
        **settings,
        "audience": None if audience is None else _audience(audience, n, baseline, settings),
        "days": None if per_day is None else days_to_run(n, variants, per_day),
        "per_day": per_day,
    }


def _audience(size: int, n: int, baseline: float, settings: dict[str, Any]) -> dict[str, Any]:
    """Whether ``size`` customers split evenly are enough, and what they can detect."""
    if size < 1:
        raise InputError(f"{option('audience')} must be a positive number of customers, got {size}")
    per_group = size // settings["variants"]
    try:
        detectable: float | None = minimum_detectable_effect(per_group, baseline, **settings)
    except InputError:
        detectable = None
    enough = bool(per_group >= n)
    return {"size": size, "per_variant": per_group, "enough": enough, "mde": detectable}
