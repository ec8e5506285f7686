"""The HTML report: one self-contained file that works offline.

plotly.js is inlined once in the page head and every chart is a ``div`` drawn by it, so the file
needs no network (a Content-Security-Policy forbids any fetch); chart ids are fixed, so the same
workspace and as-of date give a byte-identical file.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import plotly.io as pio
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from plotly.offline import get_plotlyjs

import patron
from patron.arguments import as_path
from patron.outfile import write_whole
from patron.predictions import ALIVE_AT_RISK, ALIVE_LOST
from patron.report import (
    acquisition_charts,
    charts,
    dashboard,
    experiment_charts,
    findings,
    glossary,
    insights_charts,
    model_charts,
    segment_charts,
    series,
    theme,
)
from patron.report import format as fmt
from patron.report.acquisition_data import Costs
from patron.report.data import ReportData, gather
from patron.report.experiment_data import MAX_EXPERIMENTS
from patron.report.model_data import MIN_SPAN_DAYS

if TYPE_CHECKING:
    from collections.abc import Callable

    import plotly.graph_objects as go

    from patron.arguments import DateLike
    from patron.workspace import Workspace

CHARTS: dict[str, Callable[[ReportData], go.Figure | None]] = {
    "kpi-trends": charts.kpi_trends,
    "cohort-heatmap": charts.cohort_heatmap,
    "retention-curves": charts.retention_curves,
    "season-comparison": charts.season_comparison,
    "pareto": charts.pareto,
    "segment-shares": segment_charts.segment_shares,
    "rfm-grid": segment_charts.rfm_grid,
    "stage-flows": segment_charts.stage_flows,
    "clv-by-channel": charts.clv_by_channel,
    "model-tracking": model_charts.tracking,
    "model-conditional": model_charts.conditional,
    "model-frequencies": model_charts.frequencies,
    "alive-matrix": model_charts.alive_matrix,
    "expected-matrix": model_charts.expected_matrix,
    "clv-distribution": model_charts.clv_distribution,
    "acquisition-value": acquisition_charts.channel_value,
    "acquisition-months": acquisition_charts.monthly,
    "insight-second-purchase": insights_charts.second_purchase,
    "insight-gateways": insights_charts.gateways,
    "insight-discount": insights_charts.discount_by_segment,
    **{
        f"experiment-{i}": partial(experiment_charts.lift_over_time, index=i)
        for i in range(MAX_EXPERIMENTS)
    },
}


@dataclass(frozen=True)
class Chart:
    """A chart ready for the template: its HTML, or None when there is not enough data."""

    id: str
    html: Markup | None


def render_report(
    ws: Workspace,
    *,
    as_of: DateLike | None = None,
    spend: str | Path | None = None,
    margin: float = 1.0,
    calibration_end: DateLike | None = None,
) -> str:
    """The report's HTML for ``ws`` as of ``as_of`` (default: the last purchase day). A
    ``spend`` file (``patron acquisition``'s) and a ``margin`` rate give the acquisition
    section each channel's CAC, CLV:CAC and payback, in margin; ``calibration_end`` splits
    the history for the models' check as ``patron validate`` does, the holdout running to
    ``as_of`` (default: the last third of the history, at most 26 weeks)."""
    return render(gather(ws, as_of, Costs.read(spend, margin), calibration_end))


def write_report(
    ws: Workspace,
    out: str | Path,
    *,
    as_of: DateLike | None = None,
    spend: str | Path | None = None,
    margin: float = 1.0,
    calibration_end: DateLike | None = None,
) -> Path:
    """Write the report to ``out``, whole or not at all (:func:`patron.outfile.write_whole`:
    a path it cannot write fails before the report is computed), and return the path."""
    out = as_path(out, "out")

    def write(part: Path) -> None:
        html = render_report(
            ws, as_of=as_of, spend=spend, margin=margin, calibration_end=calibration_end
        )
        part.write_text(html, encoding="utf-8")

    write_whole(out, write)
    return out


def render(data: ReportData) -> str:
    """Fill the template from gathered numbers (separate from gathering, to test it alone)."""
    template = _environment().get_template("report.html")
    return template.render(
        data=data,
        version=patron.__version__,
        plotly_js=Markup(get_plotlyjs()),
        tiles=dashboard.tiles(data),
        findings=findings.findings(data),
        charts={name: _chart(name, build(data)) for name, build in CHARTS.items()},
        glossary=glossary.sections(),
        span=_span(data),
        min_curve_customers=series.MIN_CURVE_CUSTOMERS,
        min_model_weeks=MIN_SPAN_DAYS // 7,
        alive=(ALIVE_LOST, ALIVE_AT_RISK),
        max_experiments=MAX_EXPERIMENTS,
    )


def _chart(name: str, figure: go.Figure | None) -> Chart:
    if figure is None:
        return Chart(name, None)
    html = pio.to_html(
        figure,
        full_html=False,
        include_plotlyjs=False,
        config=theme.CONFIG,
        div_id=f"chart-{name}",
        default_height=f"{figure.layout.height}px",
    )
    return Chart(name, Markup(html))


def _span(data: ReportData) -> str:
    """The data period in the header: first purchase to as-of date."""
    return f"{data.first_purchase:%d %b %Y} – {data.as_of:%d %b %Y}"


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("patron.report", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        money=fmt.money,
        amount=fmt.amount,
        count=fmt.count,
        pct=fmt.pct,
        number=fmt.number,
        stage=lambda name: theme.STAGE_LABELS.get(name, name),
        model=lambda name: theme.MODEL_LABELS.get(name, name),
        group=lambda name: theme.GROUP_LABELS.get(name, name),
    )
    return env
