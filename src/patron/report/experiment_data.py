"""The report's experiments: each recorded test's readout on its declared goal, and its lift as
it read day by day.

The readout is ``patron experiment analyze NAME``'s (fixed horizon, the design's metric and
window, cut at the report's as-of day), so the report and the command agree; the curve uses
always-valid intervals (:mod:`patron.experiments.timeline`) because a curve is looked at every
day. The newest :data:`MAX_EXPERIMENTS` that had started by the as-of day are shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from patron.errors import InputError
from patron.experiments.design import last_day

if TYPE_CHECKING:
    from patron.workspace import Workspace

MAX_EXPERIMENTS = 3


@dataclass(frozen=True)
class ExperimentReport:
    """One experiment as recorded (``summary``), read out, and its lift over time;
    ``last_day`` is the shop's last day whose outcomes count
    (:func:`patron.experiments.design.last_day`)."""

    summary: dict[str, Any]
    readout: dict[str, Any]
    timeline: list[dict[str, Any]]
    last_day: date


def gather_experiments(ws: Workspace, as_of: date) -> list[ExperimentReport]:
    """The newest experiments that started by ``as_of``; one that cannot be read out yet (a
    group nobody is in) is left out rather than failing the report."""
    found = []
    for summary in ws.experiments():
        if date.fromisoformat(summary["start"]) > as_of:
            continue
        try:
            readout = ws.analyze_experiment(summary["name"], as_of=as_of)
            curve = ws.experiment_timeline(summary["name"], as_of=as_of)
        except InputError:
            continue
        last = last_day(readout["through"], ws.config.timezone)
        found.append(ExperimentReport(summary, readout, curve, last))
        if len(found) == MAX_EXPERIMENTS:
            break
    return found
