"""The goal metric's lift as it read day after day, for the report's chart.

Each point is the readout as it would have been at the end of that day: customers exposed by
then, their outcomes to then (within their window). Intervals are the always-valid confidence
sequence of :mod:`.sequential`, tuned to the audience size, because a curve is looked at every
day: fixed-horizon intervals on it would make a chance wiggle look like a result.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from patron.errors import InputError
from patron.experiments import outcomes as measure
from patron.experiments.analyze import goal_estimates
from patron.experiments.design import Design
from patron.experiments.outcomes import Window
from patron.experiments.readout import Settings, compare_groups

if TYPE_CHECKING:
    from ibis import Table

POINTS = 12


def timeline(
    backend: Any, design: Design, assigned: Table, *, through: datetime, points: int = POINTS
) -> list[dict[str, Any]]:
    """Up to ``points`` readouts of ``design``'s goal metric, evenly spaced from the first day
    after exposure to ``through`` (or the end of the window, if earlier)."""
    first = assigned.assigned_at.min().to_pyarrow().as_py()
    if first is None or through <= first:
        return []
    last = min(through, first + timedelta(days=design.window_days))
    audience = int(assigned.count().to_pyarrow().as_py())
    settings = Settings(sequential=True, planned_n=audience)
    binary = measure.is_binary(design.metric)
    result = []
    for cut in _cuts(first, last, points):
        window = Window(design.window_days, cut)
        exposed = assigned.filter(assigned.assigned_at < cut)
        per = measure.per_customer(
            exposed, backend.table("orders"), backend.table("events"), [design.metric], window
        )
        try:
            estimates, _, _ = goal_estimates(design, per, design.metric, None)
        except InputError:  # a group nobody in yet, or a ratio with no orders: no point today
            continue
        rows = compare_groups(design, estimates, binary=binary, settings=settings)
        result.append(
            {"day": (cut - timedelta(microseconds=1)).date().isoformat(), "variants": rows}
        )
    return result


def _cuts(first: datetime, last: datetime, points: int) -> list[datetime]:
    """Day boundaries after ``first`` up to ``last``: at most ``points``, ``last`` included."""
    days = max(int((last - first).total_seconds() // 86_400), 1)
    step = max(-(-days // points), 1)
    cuts = [first + timedelta(days=d) for d in range(step, days, step)]
    return [*cuts, last]
