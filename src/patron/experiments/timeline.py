"""The goal metric's lift as it read day after day, for the report's chart.

Each point is the readout as it would have been at the end of that day: customers exposed by
then, their outcomes to then (within their window). Intervals are the always-valid confidence
sequence of :mod:`.sequential`, tuned to the audience size, because a curve is looked at every
day: fixed-horizon intervals on it would make a chance wiggle look like a result.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from patron.errors import InputError
from patron.experiments import outcomes as measure
from patron.experiments.analyze import goal_estimates
from patron.experiments.design import Design, exposure_time, last_day
from patron.experiments.outcomes import Window
from patron.experiments.readout import Settings, compare_groups
from patron.zones import shop_zone

if TYPE_CHECKING:
    from ibis import Table

POINTS = 12


def timeline(
    backend: Any,
    design: Design,
    assigned: Table,
    *,
    through: datetime,
    timezone: str,
    points: int = POINTS,
) -> list[dict[str, Any]]:
    """Up to ``points`` readouts of ``design``'s goal metric, evenly spaced from the first day
    after exposure to ``through`` (or the end of the window, if earlier); each ``day`` is the
    shop's day (in ``timezone``) whose end the readout is at."""
    first = assigned.assigned_at.min().to_pyarrow().as_py()
    if first is None or through <= first:
        return []
    last = min(through, first + timedelta(days=design.window_days))
    audience = int(assigned.count().to_pyarrow().as_py())
    settings = Settings(sequential=True, planned_n=audience)
    binary = measure.is_binary(design.metric)
    result = []
    for cut in _cuts(first, last, points, timezone):
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
        day = last_day(cut.isoformat(), timezone)
        result.append({"day": day.isoformat(), "variants": rows})
    return result


def _cuts(first: datetime, last: datetime, points: int, timezone: str) -> list[datetime]:
    """The ends of the shop's days (midnights in ``timezone``, as naive UTC) after ``first``
    up to ``last``: at most ``points``, ``last`` included. Steps of 24 hours from ``first``
    would end a day hours off midnight west of UTC, and an hour off after a clock change."""
    start = _shop_day(first, timezone)
    days = max((last_day(last.isoformat(), timezone) - start).days + 1, 1)
    step = max(-(-days // points), 1)
    cuts = [exposure_time(start + timedelta(days=d), timezone) for d in range(step, days, step)]
    return [*cuts, last]


def _shop_day(instant: datetime, timezone: str) -> date:
    """The shop's calendar day at ``instant`` (naive UTC, as patron stores time)."""
    return instant.replace(tzinfo=UTC).astimezone(shop_zone(timezone)).date()
