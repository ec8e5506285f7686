"""Reading out an experiment: outcomes per assigned customer, statistics per group, a verdict.

The readout's JSON keeps the keys of issue 5: ``variants`` (one row per group, baseline first
with lift 0: name, n, mean, lift, lift_ci, relative_lift, relative_lift_ci, p_value,
chance_to_beat_control, ...), ``srm_p_value`` and ``verdict``, plus the guardrails, CUPED and
sequential details, the incremental value and the decision code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from patron.errors import InputError, option
from patron.experiments import outcomes as measure
from patron.experiments.design import Design, as_days
from patron.experiments.outcomes import GUARDRAILS, RATIO, Window
from patron.experiments.readout import (
    Settings,
    compare_groups,
    incremental_value,
    needed_per_group,
    significant,
    srm,
    unmeasured_row,
    verdict,
)
from patron.experiments.stats import (
    Estimate,
    Moments,
    cuped_estimates,
    mean_estimate,
    ratio_estimate,
)
from patron.identity.survivors import survivors

if TYPE_CHECKING:
    from ibis import Table

_OUTCOMES = "_experiment_outcomes"
SEQUENTIAL_METHOD = (
    "asymptotic confidence sequences (Waudby-Smith et al. 2023), as GrowthBook: intervals and "
    "p-values stay valid however often the readout is looked at, tuned to the audience size"
)


@dataclass(frozen=True)
class Question:
    """What to measure: the goal metric and window (default: the ones the design declared),
    CUPED's covariate, how to judge, and the horizon (days) incremental value is projected
    over (default: the window)."""

    metric: str | None = None
    window_days: int | None = None
    pre_days: int = 365
    cuped: bool = False
    covariate: str | None = None
    settings: Settings = field(default_factory=Settings)
    horizon_days: int | None = None

    def __post_init__(self) -> None:
        # None is the default; 0 is no window (once silently the default), numpy's are ints
        for name in ("window_days", "pre_days", "horizon_days"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, as_days(value, name))


def analyze(
    backend: Any,
    design: Design,
    assigned: Table,
    question: Question,
    *,
    through: datetime,
    merged: Table,
    clv: Table | None = None,
) -> dict[str, Any]:
    """The readout of ``design`` for the customers in ``assigned`` (key, variant, assigned_at),
    on outcomes up to ``through`` (the end of the data, or of the test); ``merged`` is the
    merge log (``customer_merges``, which stays in the engine when the warehouse is another)."""
    days = design.window_days if question.window_days is None else question.window_days
    window = Window(days, through, question.pre_days)
    metric = measure.check_metric(question.metric or design.metric)
    covariate = _covariate(question, metric)
    measure.check_event_types(backend.table("events"), [metric, covariate])
    guardrails = [g for g in GUARDRAILS if g != metric]
    followed, merges = follow_merges(assigned, merged)
    exposed, waiting = _exposed(followed, through)
    left_out = {"merges": merges, "not_yet_exposed": waiting}
    if exposed is None:
        return {**_not_yet(design, question, window, metric), **left_out}
    per = measure.per_customer(
        exposed,
        backend.table("orders"),
        backend.table("events"),
        [metric, *guardrails],
        window,
        covariate=covariate,
    )
    table = backend.create_table(_OUTCOMES, per, temp=True, overwrite=True)
    try:
        readout = _readout(design, table, question, window, (metric, covariate, guardrails), clv)
    finally:
        backend.drop_table(_OUTCOMES)
    return {**readout, **left_out}


def follow_merges(assigned: Table, merged: Table) -> tuple[Table, dict[str, int]]:
    """The assignments keyed by each customer's key today.

    Identity resolution may merge two customers after they were assigned; their orders then
    carry the surviving key only, so a merged-away key would read as a non-buyer and its
    purchases count in the survivor's group. Each assigned key follows ``customer_merges`` to
    its survivor: one person assigned under keys in two groups got both and is left out
    (``contaminated``); keys in one group count once, from the earliest exposure. A key
    dissolved since (every identifier it had was blocked: its rows belong to no one) has no
    outcome left to read and is left out too (``dissolved``), not read as a non-buyer."""
    ends = survivors(merged)
    j = assigned.left_join(ends, assigned.customer_key == ends.merged_key)
    moved = j.merged_key.notnull()
    counts = j.aggregate(
        followed=(moved & j.survivor.notnull()).sum(), dissolved=(moved & j.survivor.isnull()).sum()
    )
    found = counts.to_pyarrow().to_pylist()[0]
    followed, dissolved = int(found["followed"] or 0), int(found["dissolved"] or 0)
    if not followed + dissolved:
        return assigned, {"followed": 0, "contaminated": 0, "dissolved": 0}
    j = j.filter(~(moved & j.survivor.isnull()))
    keyed = j.select(
        customer_key=j.survivor.fill_null(j.customer_key),
        variant=j.variant,
        assigned_at=j.assigned_at,
    )
    people = keyed.group_by("customer_key").agg(
        variant=keyed.variant.min(),
        assigned_at=keyed.assigned_at.min(),
        groups=keyed.variant.nunique(),
    )
    mixed = int(people.filter(people.groups > 1).count().to_pyarrow().as_py())
    clean = people.filter(people.groups == 1).drop("groups")
    return clean, {"followed": followed, "contaminated": mixed, "dissolved": dissolved}


def _exposed(assigned: Table, through: datetime) -> tuple[Table | None, int]:
    """The customers exposed before ``through`` (None when nobody is yet), and how many are
    not yet: a customer exposed after the data ends has no window yet and would read as a
    non-buyer in every group."""
    exposed = assigned.filter(assigned.assigned_at < through)
    total = int(assigned.count().to_pyarrow().as_py())
    found = int(exposed.count().to_pyarrow().as_py())
    return (exposed if found else None), total - found


def _not_yet(design: Design, question: Question, window: Window, metric: str) -> dict[str, Any]:
    """The readout before anyone's exposure: every group empty and nothing measured, where
    reading the assigned customers' empty windows had shown n, means of 0 and a lift of
    "0 (0 to 0)" (and CUPED failed on their empty pre-period)."""
    rows = [unmeasured_row(g) for g in design.groups]
    return {
        **_heading(design, question, window, metric),
        "variants": rows,
        "srm_p_value": None,
        "cuped": None,
        "sequential": None,
        "guardrails": [],
        "incremental_value": None,
        "clv_at_risk": None,
        "needed_per_group": None,
        "decision": "inconclusive",
        "verdict": f"inconclusive: nobody is exposed before the data ends "
        f"({window.through:%Y-%m-%d %H:%M} UTC); nothing to read out yet",
    }


def _heading(design: Design, question: Question, window: Window, metric: str) -> dict[str, Any]:
    """What a readout measured, over which days, and how it judges."""
    return {
        "experiment": design.name,
        "metric": metric,
        "baseline": design.baseline,
        "window_days": window.days,
        "through": window.through.replace(tzinfo=UTC).isoformat(),  # stored times are UTC
        "alpha": question.settings.alpha,
        "expected_shares": design.shares,
        "correction": "holm" if len(design.groups) > 2 else None,
        "horizon_days": window.days if question.horizon_days is None else question.horizon_days,
    }


def _covariate(question: Question, metric: str) -> str | None:
    if not question.cuped:
        return None
    covariate = measure.check_metric(
        question.covariate or ("revenue" if metric in RATIO else metric)
    )
    if covariate in RATIO:
        raise InputError(
            f"{option('covariate')} {covariate} is a ratio metric; choose a per-customer metric"
        )
    if metric in RATIO:
        raise InputError(
            f"{option('cuped')} adjusts per-customer metrics; {metric} is a ratio metric"
        )
    return covariate


def _readout(
    design: Design,
    table: Table,
    question: Question,
    window: Window,
    metrics: tuple[str, str | None, list[str]],
    clv: Table | None,
) -> dict[str, Any]:
    metric, covariate, guardrails = metrics
    settings = question.settings
    estimates, raw, cuped = goal_estimates(design, table, metric, covariate)
    binary = measure.is_binary(metric)
    rows = compare_groups(design, estimates, binary=binary and cuped is None, settings=settings)
    counts = {g: e.n for g, e in raw.items()}
    srm_p = srm(design, counts)
    guards = [_guardrail(design, table, g, settings) for g in guardrails]
    worse = _worse(guards, settings.alpha)
    needed = needed_per_group(
        raw[design.baseline], binary=binary, groups=len(design.groups), settings=settings
    )
    decision, sentence = verdict(
        metric, rows, srm_p_value=srm_p, settings=settings, needed=needed, worse_guardrails=worse
    )
    audience = sum(counts.values())
    heading = _heading(design, question, window, metric)
    return {
        **heading,
        "variants": rows,
        "srm_p_value": srm_p,
        "cuped": cuped,
        "sequential": _sequential(settings, audience),
        "guardrails": guards,
        "incremental_value": incremental_value(
            rows, metric, audience=audience, scale=heading["horizon_days"] / window.days
        ),
        "clv_at_risk": _clv_at_risk(guards, table, clv, audience),
        "needed_per_group": needed,
        "decision": decision,
        "verdict": sentence,
    }


def goal_estimates(
    design: Design, table: Table, metric: str, covariate: str | None
) -> tuple[dict[str, Estimate], dict[str, Estimate], dict[str, Any] | None]:
    """Per group: the estimates compared (CUPED-adjusted when asked), the unadjusted ones, and
    what CUPED did."""
    if metric in RATIO:
        ratios = measure.ratio_moments(table, metric)
        _check_groups(design, ratios)
        estimates = {g: ratio_estimate(ratios[g]) for g in design.groups}
        return estimates, estimates, None
    found = measure.moments(table, metric, covariate=covariate is not None)
    _check_groups(design, found)
    raw = {g: mean_estimate(found[g]) for g in design.groups}
    if covariate is None:
        return raw, raw, None
    adjusted, theta, reduction = cuped_estimates([found[g] for g in design.groups])
    details = {"covariate": covariate, "theta": theta, "variance_reduction": reduction}
    return dict(zip(design.groups, adjusted, strict=True)), raw, details


def _check_groups(design: Design, found: dict[str, Any]) -> None:
    missing = [g for g in design.groups if g not in found]
    if missing:
        raise InputError(
            f"no customers in group(s) {', '.join(missing)} of experiment {design.name!r}; "
            "a comparison needs every group"
        )
    lone = [g for g in design.groups if found[g].n < 2]
    if lone:  # one customer has no spread to compare by
        raise InputError(
            f"group(s) {', '.join(lone)} of experiment {design.name!r} have 1 customer; "
            "a comparison needs at least 2 in every group"
        )


def _guardrail(design: Design, table: Table, metric: str, settings: Settings) -> dict[str, Any]:
    found: dict[str, Moments] = measure.moments(table, metric)
    estimates = {g: mean_estimate(found[g]) for g in design.groups}
    rows = compare_groups(design, estimates, binary=measure.is_binary(metric), settings=settings)
    return {"metric": metric, "variants": rows}


def _worse(guards: list[dict[str, Any]], alpha: float) -> dict[str, list[str]]:
    """Per treatment, the guardrails that rose significantly (more unsubscribes or returns)."""
    worse: dict[str, list[str]] = {}
    for guard in guards:
        for row in guard["variants"][1:]:
            if significant(row, alpha) > 0:
                worse.setdefault(row["name"], []).append(guard["metric"])
    return worse


def _sequential(settings: Settings, audience: int) -> dict[str, Any] | None:
    if not settings.sequential:
        return None
    return {"method": SEQUENTIAL_METHOD, "planned_n": settings.planned_n or audience}


def _clv_at_risk(
    guards: list[dict[str, Any]], table: Table, clv: Table | None, audience: int
) -> dict[str, Any] | None:
    """What extra unsubscribes could cost: each treatment's rise in the unsubscribe rate times
    the audience times the audience's mean predicted CLV (an upper bound: it counts an
    unsubscriber's whole predicted value as lost). None without stored predictions."""
    unsubscribes = next((g for g in guards if g["metric"] == "unsubscribe"), None)
    if clv is None or unsubscribes is None:
        return None
    joined = table.select("customer_key").inner_join(
        clv.select("customer_key", "clv"), "customer_key"
    )
    mean = joined.clv.cast("float64").mean().to_pyarrow().as_py()
    if mean is None or not math.isfinite(mean):
        return None
    return {
        "mean_clv": mean,
        "by_variant": {
            r["name"]: {
                "value": r["lift"] * audience * mean,
                "ci": [r["lift_ci"][0] * audience * mean, r["lift_ci"][1] * audience * mean],
            }
            for r in unsubscribes["variants"][1:]
        },
    }
