"""Charts of the purchase models: how well they predicted a holdout, and what they predict now.

The two checks are Fader, Hardie & Lee's (2005): cumulative repeat purchases tracked over
calibration and holdout, and holdout purchases by calibration frequency. The matrices follow
lifetimes' ``plot_probability_alive_matrix`` and ``plot_frequency_recency_matrix``. Like
:mod:`patron.report.charts`, each returns None when there is nothing to draw.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import plotly.graph_objects as go

from patron.report import format as fmt
from patron.report import theme
from patron.report.model_data import BINS_PER_DECADE

if TYPE_CHECKING:
    from patron.report.data import ReportData
    from patron.report.model_data import Grid

CALIBRATION_FREQUENCY = "Repeat purchases in the<br>calibration period"
"""Long axis titles take two lines, so a phone's narrow chart shows them whole."""


def tracking(data: ReportData) -> go.Figure | None:
    """Cumulative repeat purchases of the calibration customers, actual and per model."""
    return None if data.models is None else tracking_figure(data.models.validation)


def tracking_figure(validation: dict[str, Any]) -> go.Figure:
    """:func:`tracking` of a validation (:func:`patron.validate.validate`'s result), with the
    naive baseline over the holdout and the calibration end marked."""
    points = validation["tracking"]
    days = [date.fromisoformat(p["date"]) for p in points]
    hover = "%{x|%d %b %Y}: %{y:,.0f} repeat purchases"
    fig = go.Figure()
    for name in ("actual", *models_of(validation)):
        fig.add_trace(_line(name, days, [p[name] for p in points], hover))
    fig.add_trace(_line("naive", *_baseline(validation), hover))
    start = date.fromisoformat(validation["calibration_end"])
    shade = {"fillcolor": theme.GRID, "opacity": 0.5, "line_width": 0, "layer": "below"}
    fig.add_vrect(x0=start, x1=days[-1], **shade)
    fig.add_vline(x=start, line={"color": theme.MUTED, "dash": "dot", "width": 1})
    for text, side in ((f"calibration end<br>{start:%d %b %Y}", "right"), ("holdout →", "left")):
        fig.add_annotation(
            x=start,
            y=1,
            yref="paper",
            text=text,
            showarrow=False,
            xanchor=side,
            xshift=4 if side == "left" else -4,
            yanchor="top",
            align=side,
            font={"color": theme.MUTED},
        )
    fig.update_xaxes(title=f"Date (end of each {validation['time_unit']})")
    fig.update_yaxes(title="Cumulative repeat purchases", rangemode="tozero")
    return theme.style(fig, height=420)


def _baseline(validation: dict[str, Any]) -> tuple[list[date], list[float]]:
    """The naive baseline on the tracking chart: from the actual repeat purchases at the
    calibration end, each customer's calibration rate carried on, so its holdout purchases
    (the validation's) accrue evenly to the holdout end."""
    naive = next(m for m in validation["models"] if m["model"] == "naive")
    start, end = (date.fromisoformat(validation[k]) for k in ("calibration_end", "holdout_end"))
    held = [date.fromisoformat(p["date"]) for p in validation["tracking"] if p["holdout"]]
    base = validation["tracking"][-1]["actual"] - naive["holdout_actual"]
    rate = naive["holdout_predicted"] / (end - start).days
    days = [start, *held]
    return days, [base + rate * (day - start).days for day in days]


def conditional(data: ReportData) -> go.Figure | None:
    """Mean holdout purchases by calibration frequency: actual, each model and the baseline."""
    return None if data.models is None else conditional_figure(data.models.validation)


def conditional_figure(validation: dict[str, Any]) -> go.Figure:
    """:func:`conditional` of a validation (:func:`patron.validate.validate`'s result)."""
    rows = validation["conditional"]
    labels = [r["frequency"] for r in rows]
    fig = go.Figure()
    customers = [r["customers"] for r in rows]
    hover = "%{x} repeat: %{y:.2f} (%{customdata:,} customers)"
    for name in ("actual", *models_of(validation), "naive"):
        trace = _line(name, labels, [r[name] for r in rows], hover)
        fig.add_trace(trace.update(customdata=customers, mode="lines+markers"))
    fig.update_xaxes(title=CALIBRATION_FREQUENCY, type="category")
    holdout = f"{fmt.number(validation['holdout_periods'], 0)}-{validation['time_unit']}"
    fig.update_yaxes(
        title=f"Mean purchases per customer<br>in the {holdout} holdout", rangemode="tozero"
    )
    return theme.style(fig, height=420)


def frequencies(data: ReportData) -> go.Figure | None:
    """Customers by repeat purchases in the calibration period: actual and per model."""
    if data.models is None:
        return None
    validation = data.models.validation
    return frequencies_figure(validation["frequencies"], models_of(validation))


def frequencies_figure(rows: list[dict[str, Any]], models: list[str]) -> go.Figure:
    """Grouped bars of ``rows`` (``frequency``, ``actual`` and one count per model)."""
    fig = go.Figure()
    labels = [r["frequency"] for r in rows]
    for name in ("actual", *models):
        label = "Actual" if name == "actual" else theme.MODEL_LABELS.get(name, name)
        color = theme.INK if name == "actual" else theme.MODEL_COLORS.get(name, theme.PRIMARY)
        bar = go.Bar(
            x=labels,
            y=[r[name] for r in rows],
            name=label,
            marker_color=color,
            hovertemplate=f"%{{x}} repeat: %{{y:,.1f}} customers<extra>{label}</extra>",
        )
        fig.add_trace(bar)
    fig.update_xaxes(title=CALIBRATION_FREQUENCY, type="category")
    fig.update_yaxes(title="Customers", rangemode="tozero")
    return theme.style(fig, height=400)


def alive_matrix(data: ReportData) -> go.Figure | None:
    """P(alive) for every frequency and recency of a customer acquired T units ago."""
    if data.models is None:
        return None
    return ALIVE.heatmap(data.models.alive, data.models.time_unit)


def expected_matrix(data: ReportData) -> go.Figure | None:
    """Expected purchases in the predictions' horizon for every frequency and recency."""
    if data.models is None:
        return None
    return EXPECTED.heatmap(data.models.expected, data.models.time_unit)


def clv_distribution(data: ReportData) -> go.Figure | None:
    """Customers per predicted-CLV bin, on log-spaced bins (CLV spans decades)."""
    if data.models is None:
        return None
    value, currency = data.models.value, data.currency
    starts = [math.log10(b["low"]) for b in value.bins]
    width = 1 / BINS_PER_DECADE
    bar = go.Bar(
        x=[x + width / 2 for x in starts],
        y=[b["customers"] for b in value.bins],
        width=width * 0.92,
        marker_color=theme.PRIMARY,
        hovertext=[_bin_text(b, i == 0, value.equity, currency) for i, b in enumerate(value.bins)],
        hoverinfo="text",
    )
    fig = go.Figure(bar)
    decades = list(range(round(starts[0]), round(starts[-1] + width) + 1))
    fig.update_xaxes(
        title=f"Predicted CLV ({currency}, log scale)",
        tickvals=decades,
        ticktext=[f"{10.0**d:,.0f}" if d >= 0 else f"{10.0**d:g}" for d in decades],
    )
    fig.update_yaxes(title="Customers", rangemode="tozero")
    for i, (name, stat) in enumerate((("median", value.median), ("mean", value.mean))):
        if stat > 0:
            _mark(fig, math.log10(stat), f"{name} {_money(stat, currency)}", 1 - 0.1 * i)
    return theme.style(fig, height=400, legend=False)


def _bin_text(b: dict[str, float], first: bool, equity: float, currency: str) -> str:
    high = _edge(b["high"], currency)
    span = f"up to {high}" if first else f"{_edge(b['low'], currency)}–{high}"
    share = fmt.pct(b["equity"] / equity if equity else None, 1)
    return f"{span}: {b['customers']:,} customers, {share} of customer equity"


def models_of(validation: dict[str, Any]) -> list[str]:
    """The purchase models validated, in the order of the validation."""
    return [m["model"] for m in validation["models"] if m["model"] != "naive"]


def _line(name: str, x: list[Any], y: list[float], hover: str) -> go.Scatter:
    """Actual figures as a solid dark line; a model dashed in its colour, the baseline dotted."""
    actual = name == "actual"
    label = "Actual" if actual else theme.MODEL_LABELS.get(name, name)
    dash = "solid" if actual else "dot" if name == "naive" else "dash"
    return go.Scatter(
        x=x,
        y=y,
        name=label,
        mode="lines",
        line={
            "color": theme.INK if actual else theme.MODEL_COLORS.get(name, theme.SECONDARY),
            "width": 3 if actual else 2,
            "dash": dash,
        },
        hovertemplate=f"{hover}<extra>{label}</extra>",
    )


@dataclass(frozen=True)
class Matrix:
    """How a frequency × recency grid of one prediction is drawn: its name, number format and
    top of the colour scale (None: the largest value)."""

    what: str
    number: str
    zmax: float | None

    def heatmap(self, grid: Grid, unit: str) -> go.Figure:
        return _heatmap(grid, unit, self.what, self.number, zmax=self.zmax)


ALIVE = Matrix("P(alive)", ".0%", 1.0)
EXPECTED = Matrix("purchases", ".2f", None)


def _heatmap(grid: Grid, unit: str, what: str, number: str, *, zmax: float | None) -> go.Figure:
    heat = go.Heatmap(
        z=grid.values,
        x=grid.recency,
        y=grid.frequency,
        colorscale=theme.SEQUENTIAL,
        hoverongaps=False,  # a blank cell is a history that cannot happen: no value to show
        zmin=0,
        zmax=zmax,
        colorbar={"tickformat": number, "thickness": 12, "title": {"text": what}},
        hovertemplate=f"%{{y:.0f}} repeat purchases, the last %{{x:.0f}} {unit}s after the first: "
        f"%{{z:{number}}}<extra></extra>",
    )
    fig = go.Figure(heat)
    fig.update_xaxes(
        title=f"Recency: {unit}s from the first<br>to the last purchase", showgrid=False
    )
    fig.update_yaxes(title="Frequency: repeat purchases", showgrid=False)
    return theme.style(fig, height=440, legend=False)


def _mark(fig: go.Figure, x: float, text: str, height: float) -> None:
    """A dotted vertical line at ``x``, labelled at ``height`` (a share of the plot)."""
    fig.add_vline(x=x, line={"color": theme.INK, "dash": "dot", "width": 1.5})
    fig.add_annotation(
        x=x, y=height, yref="paper", text=text, showarrow=False, xanchor="left", yanchor="top"
    )


def _money(value: float, currency: str) -> str:
    return fmt.money(value, currency, compact=True)


def _edge(value: float, currency: str) -> str:
    """A bin edge to three significant digits, whatever the currency's minor unit: the bins
    below one yen would all read 0."""
    return _money(value, currency) if value >= 1000 else f"{currency} {value:.3g}"
