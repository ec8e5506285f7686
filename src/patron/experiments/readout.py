"""A readout: every group against the baseline on the goal metric and the guardrails, a sample
ratio check, the money at stake, and a verdict in words a marketer can act on.

Decisions, in order (``alpha`` two-sided; with several treatments p-values are Holm-adjusted and
intervals Bonferroni-widened):

1. The sample ratio check fails (chi-square p < ``SRM_THRESHOLD``): ``srm_failed``. Groups that
   are not the sizes the design promised mean something other than chance chose who got what,
   so no lift is trusted and no other verdict is given.
2. A treatment beats the baseline significantly: ``success`` (the best one by relative lift).
   Better is higher, except for the goal metrics in :data:`LOWER_IS_BETTER`.
3. Else a treatment is significantly worse: ``failure`` (a result too: keep the baseline).
4. Else, when every group already has the customers needed to detect ``mde`` with 80% power at
   the baseline's observed mean and spread: ``no_effect``; otherwise ``inconclusive``, with the
   number of customers still needed (or, when the baseline's mean is 0 and so sizes nothing,
   saying so).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from patron.arguments import as_real, as_whole
from patron.errors import InputError
from patron.experiments.design import Design
from patron.experiments.outcomes import GUARDRAILS, MONEY
from patron.experiments.power import sample_size
from patron.experiments.sequential import SequenceDesign
from patron.experiments.stats import (
    SRM_THRESHOLD,
    Comparison,
    Estimate,
    compare,
    holm,
    sample_ratio_mismatch,
)

POWER = 0.8
LOWER_IS_BETTER = GUARDRAILS
"""Goal metrics a treatment should lower (fewer unsubscribes or returns): for them a
significant fall is the success and a rise the failure."""


@dataclass(frozen=True)
class Settings:
    """How a readout judges: significance, the smallest lift worth finding, and whether the
    marketer may look at any time (sequential). ``planned_n`` tunes the confidence sequence and
    must not change from look to look: the whole audience (default: every customer read out,
    which is the audience once everyone is exposed)."""

    alpha: float = 0.05
    mde: float = 0.05
    sequential: bool = False
    planned_n: int | None = None

    def __post_init__(self) -> None:
        # checked where they are given: a readout in which nothing varies never reads alpha,
        # and a planned_n of 0 was silently taken for the default
        alpha, mde = as_real(self.alpha, "alpha"), as_real(self.mde, "mde")
        if not 0 < alpha < 1:
            raise InputError(f"alpha must be between 0 and 1, got {alpha:g}")
        if not 0 < mde < math.inf:
            raise InputError(f"mde must be a positive relative change (0.05 = 5%), got {mde:g}")
        planned = None if self.planned_n is None else as_whole(self.planned_n, "planned_n")
        if planned is not None and planned < 1:
            raise InputError(f"planned_n must be a positive number of customers, got {planned}")
        object.__setattr__(self, "alpha", alpha)
        object.__setattr__(self, "mde", mde)
        object.__setattr__(self, "planned_n", planned)


def compare_groups(
    design: Design,
    estimates: dict[str, Estimate],
    *,
    binary: bool,
    settings: Settings,
) -> list[dict[str, Any]]:
    """One row per group, baseline first (its lift is 0): n, mean and the comparison."""
    baseline = estimates[design.baseline]
    others = [g for g in design.groups if g != design.baseline]
    sequence = _sequence(estimates, settings)
    # a pair in which neither group varies (no returns in the holdout nor in one treatment)
    # has nothing to test; it must not stop the readout of the others
    tested = [g for g in others if _varies(baseline, binary) or _varies(estimates[g], binary)]
    comparisons = {
        g: compare(
            baseline,
            estimates[g],
            alpha=settings.alpha,
            binary=binary,
            sequential=sequence,
            comparisons=len(tested),
        )
        for g in tested
    }
    adjusted = dict(zip(tested, holm([comparisons[g].p_value for g in tested]), strict=True))
    rows = [_baseline_row(design.baseline, baseline)]
    for g in others:
        if g in comparisons:
            rows.append(_row(g, estimates[g], comparisons[g], adjusted[g]))
        else:
            rows.append(_untested_row(g, estimates[g], baseline))
    return rows


def _varies(e: Estimate, binary: bool) -> bool:
    """Whether a group's metric has any spread (no conversions yet means nothing to test)."""
    return 0 < e.mean < 1 if binary else e.variance > 0


def _sequence(estimates: dict[str, Estimate], settings: Settings) -> SequenceDesign | None:
    if not settings.sequential:
        return None
    total = settings.planned_n or sum(e.n for e in estimates.values())
    return SequenceDesign(alpha=settings.alpha, planned_n=total)


def _baseline_row(name: str, e: Estimate) -> dict[str, Any]:
    """The baseline's row (lift 0 by definition)."""
    return {
        "name": name,
        "n": e.n,
        "mean": e.mean,
        "lift": 0.0,
        "lift_ci": [0.0, 0.0],
        "relative_lift": 0.0,
        "relative_lift_ci": [0.0, 0.0],
        "p_value": None,
        "p_value_adjusted": None,
        "chance_to_beat_control": None,
        "expected_loss": None,
    }


def unmeasured_row(name: str) -> dict[str, Any]:
    """A group nobody is in yet: n 0 and every other value of a row None."""
    return {**dict.fromkeys(_baseline_row(name, Estimate(0, 0.0, 0.0))), "name": name, "n": 0}


def _untested_row(name: str, e: Estimate, baseline: Estimate) -> dict[str, Any]:
    """A group that, like the baseline, does not vary: its lift is the plain difference of the
    means (an interval of no width) and it has no p-value or chance."""
    lift = e.mean - baseline.mean
    relative = lift / baseline.mean if baseline.mean else None
    return {
        **_baseline_row(name, e),
        "lift": lift,
        "lift_ci": [lift, lift],
        "relative_lift": relative,
        "relative_lift_ci": None if relative is None else [relative, relative],
    }


def _row(name: str, e: Estimate, c: Comparison, adjusted: float) -> dict[str, Any]:
    return {
        "name": name,
        "n": e.n,
        "mean": e.mean,
        "lift": c.lift,
        "lift_ci": list(c.lift_ci),
        "relative_lift": _finite(c.relative_lift),
        "relative_lift_ci": None if math.isnan(c.relative_lift) else list(c.relative_lift_ci),
        "p_value": c.p_value,
        "p_value_adjusted": adjusted,
        "chance_to_beat_control": c.chance_to_beat_control,
        "expected_loss": c.expected_loss,
    }


def _finite(value: float) -> float | None:
    """A relative lift is undefined (None, not NaN) when the baseline's mean is 0."""
    return None if math.isnan(value) else value


def srm(design: Design, counts: dict[str, int]) -> float:
    """The sample ratio check's p-value: observed group sizes against the design's shares."""
    shares = design.shares
    return sample_ratio_mismatch(
        [counts.get(g, 0) for g in design.groups], [shares[g] for g in design.groups]
    )


def significant(row: dict[str, Any], alpha: float) -> int:
    """+1 when the group beats the baseline, -1 when it is worse, 0 when undecided."""
    p = row["p_value_adjusted"]
    if p is None or p >= alpha:
        return 0
    return 1 if row["lift"] > 0 else -1


def verdict(
    metric: str,
    rows: list[dict[str, Any]],
    *,
    srm_p_value: float,
    settings: Settings,
    needed: int | None,
    worse_guardrails: dict[str, list[str]],
) -> tuple[str, str]:
    """The decision code and the sentence for it (see the module docstring)."""
    base = rows[0]["name"]
    if srm_p_value < SRM_THRESHOLD:
        return "srm_failed", (
            f"blocked: sample ratio mismatch (p = {srm_p_value:.2g}); the groups are not the sizes "
            "the design set, so no lift can be trusted; check who was really exposed"
        )
    treatments = rows[1:]
    better = -1 if metric in LOWER_IS_BETTER else 1
    winners = [r for r in treatments if significant(r, settings.alpha) * better > 0]
    losers = [r for r in treatments if significant(r, settings.alpha) * better < 0]
    if winners:
        best = max(winners, key=lambda r: r["lift"] * better)
        text = (
            f"declared success: {best['name']} {_moves(best)} {metric} by "
            f"{_pct(best, settings.alpha)} against {base}"
        )
        harmed = worse_guardrails.get(best["name"], [])
        if harmed:
            text += f"; but {' and '.join(harmed)} got worse: weigh that before rolling it out"
        return "success", text
    if losers:
        worst = min(losers, key=lambda r: r["lift"] * better)
        return "failure", (
            f"declared failure: {worst['name']} {_moves(worst)} {metric} by "
            f"{_pct(worst, settings.alpha)} against {base}; "
            f"keep {base}. A failed test is a result: back to the drawing board"
        )
    if all(r["p_value"] is None for r in treatments):
        return "inconclusive", f"inconclusive: {metric} does not vary in any group yet"
    if needed is None:  # a baseline at 0 (or without spread) gives no size to judge by
        return "inconclusive", (
            f"inconclusive: the customers needed to detect a {settings.mde:.0%} change in "
            f"{metric} cannot be sized from {base}'s mean {rows[0]['mean']:.4g}"
        )
    short = [needed - r["n"] for r in rows if r["n"] < needed]
    if short:  # each group brought up to `needed`: a holdout of 10% needs more than the rest
        return "inconclusive", (
            f"inconclusive: needs about {sum(short):,} more customers ({needed:,} in each group) "
            f"to detect a {settings.mde:.0%} change in {metric}"
        )
    return "no_effect", (
        f"no detectable effect on {metric}: a {settings.mde:.0%} change would have been found "
        f"{POWER:.0%} of the time; back to the drawing board"
    )


def _moves(row: dict[str, Any]) -> str:
    return "lifts" if row["lift"] > 0 else "lowers"


def needed_per_group(
    baseline: Estimate, *, binary: bool, groups: int, settings: Settings
) -> int | None:
    """Customers per group to detect ``settings.mde`` at the baseline's observed mean and spread
    (None when the baseline mean is 0 or the spread is unknown: no relative lift to size for)."""
    spread = math.sqrt(baseline.variance * baseline.n) if baseline.n > 1 else 0.0
    if baseline.mean <= 0 or (binary and baseline.mean >= 1) or (not binary and spread <= 0):
        return None
    return sample_size(
        baseline.mean,
        settings.mde,
        sd=None if binary else spread,
        alpha=settings.alpha,
        power=POWER,
        variants=groups,
    )


def incremental_value(
    rows: list[dict[str, Any]], metric: str, *, audience: int, scale: float
) -> dict[str, dict[str, Any]] | None:
    """For money metrics, each treatment's lift per customer times the audience size, times
    ``scale`` (horizon / window): the money it would add if the whole audience got it."""
    if metric not in MONEY or metric == "aov":
        return None
    factor = audience * scale
    return {
        r["name"]: {
            "value": r["lift"] * factor,
            "ci": [r["lift_ci"][0] * factor, r["lift_ci"][1] * factor],
        }
        for r in rows[1:]
    }


def _pct(row: dict[str, Any], alpha: float) -> str:
    """The relative change with its interval (the absolute one when the baseline is 0)."""
    if row["relative_lift"] is None:
        lo, hi = row["lift_ci"]
        return f"{abs(row['lift']):.4g} ({1 - alpha:.0%} interval {lo:+.4g} to {hi:+.4g})"
    lo, hi = row["relative_lift_ci"]
    return f"{abs(row['relative_lift']):.1%} ({1 - alpha:.0%} interval {lo:+.1%} to {hi:+.1%})"
