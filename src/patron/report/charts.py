"""Charts of KPIs over time, cohorts, revenue concentration and CLV by acquisition channel.

Each function returns a plotly figure, or None when the data cannot support the chart yet (the
template then says "not enough data" instead of drawing an empty or misleading plot).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from patron.report import series, theme
from patron.report.data import WINDOW
from patron.report.format import d3_money

if TYPE_CHECKING:
    from patron.report.data import ReportData

MAX_COHORTS = 24
"""The cohort heatmap shows the most recent cohorts (and ages) so cells stay readable."""
FEW = 5
"""Counts below this get a tick at every whole number."""
MIN_HEATMAP_HEIGHT = 320
"""Pixels: a heatmap of a few cohorts still leaves its y-axis title room to be read whole."""
TREND_PANELS = (
    ("active_customers", "Active customers", ".3~s"),
    ("revenue", "Revenue, last 12 months ({currency})", ".3~s"),
    ("clv_365", "12-month CLV ({currency})", ",.0f"),
    ("retention_rate", "Retention rate", ".0%"),
    ("early_repeat_rate", "Early repeat rate (90 days)", ".0%"),
    ("leaky_bucket_ratio", "Leaky-bucket ratio (lost / new)", ".2f"),
)


def kpi_trends(data: ReportData) -> go.Figure | None:
    """Small multiples of the headline KPIs at each month end; the first year is shaded."""
    if len(data.trend) < 2:
        return None
    titles = [title.format(currency=data.currency) for _, title, _ in TREND_PANELS]
    fig = make_subplots(rows=2, cols=3, subplot_titles=titles, vertical_spacing=0.16)
    fig.update_annotations(font={"size": 13, "color": theme.INK})
    days = [date.fromisoformat(p["as_of"]) for p in data.trend]
    for i, (key, _, axis_format) in enumerate(TREND_PANELS):
        row, col = divmod(i, 3)
        trace = go.Scatter(
            x=days,
            y=[p[key] for p in data.trend],
            mode="lines+markers",
            marker={"size": 4},
            line={"color": theme.PRIMARY, "width": 2},
            hovertemplate=f"%{{x|%b %Y}}: %{{y:{axis_format}}}<extra></extra>",
        )
        fig.add_trace(trace, row=row + 1, col=col + 1)
        fig.update_yaxes(tickformat=axis_format, rangemode="tozero", row=row + 1, col=col + 1)
        if key == "active_customers":
            _whole_ticks(fig, [p[key] for p in data.trend], row + 1, col + 1)
        if all(p[key] is None for p in data.trend):
            _say_empty(fig, row + 1, col + 1)
    young = min(days[-1], data.first_purchase + timedelta(days=WINDOW))
    _shade_young_history(fig, days[0], young)
    return theme.style(fig, height=520, legend=False)


def _whole_ticks(fig: go.Figure, counts: list[int | None], row: int, col: int) -> None:
    """Tick a count axis of a few customers at whole numbers: plotly's own steps would be 0.2,
    which the SI format writes as "200m" (milli-customers)."""
    if max((c for c in counts if c is not None), default=0) < FEW:
        fig.update_yaxes(dtick=1, row=row, col=col)


def _shade_young_history(fig: go.Figure, start: date, full: date) -> None:
    """Grey out month ends whose 12-month window reaches back before the first purchase."""
    if full > start:
        fig.add_vrect(
            x0=start,
            x1=full,
            fillcolor=theme.GRID,
            opacity=0.5,
            line_width=0,
            layer="below",
            row="all",
            col="all",
        )


def _say_empty(fig: go.Figure, row: int, col: int) -> None:
    """A panel whose KPI is undefined all along says so instead of showing bare axes."""
    fig.add_annotation(
        text="not enough history yet",
        x=0.5,
        y=0.5,
        xref="x domain",
        yref="y domain",
        showarrow=False,
        font={"color": theme.MUTED},
        row=row,
        col=col,
    )
    fig.update_yaxes(showticklabels=False, row=row, col=col)


def cohort_heatmap(data: ReportData) -> go.Figure | None:
    """Monthly cohorts (rows) by months since first purchase (columns), coloured by retention.

    Age 0 is 100% by definition and left out so the colour scale shows the differences.
    """
    partial = bool(data.retention["partial_last"])
    rows = [r for r in data.retention["cohorts"] if len(series.complete(r["values"], partial)) > 1]
    rows = rows[-MAX_COHORTS:]
    if len(rows) < 2:
        return None
    ages = min(MAX_COHORTS, max(len(series.complete(r["values"], partial)) for r in rows) - 1)
    grid = [_padded(series.complete(r["values"], partial)[1 : ages + 1], ages) for r in rows]
    top = max((v for line in grid for v in line if v is not None), default=0.0) or 1.0
    heat = go.Heatmap(
        z=grid,
        x=list(range(1, ages + 1)),
        y=[f"{r['cohort']} · {r['size']:,}" for r in rows],
        colorscale=theme.SEQUENTIAL,
        zmin=0,
        zmax=top,
        xgap=1,
        ygap=1,
        texttemplate="%{z:.0%}",
        textfont={"size": 9},
        colorbar={"tickformat": ".0%", "thickness": 12, "title": {"text": "active"}},
        hovertemplate="Cohort %{y}<br>month %{x}: %{z:.1%} active<extra></extra>",
    )
    fig = go.Figure(heat)
    fig.update_xaxes(title="Months since first purchase", dtick=1, side="top")
    fig.update_yaxes(title="First purchase month · customers", autorange="reversed")
    theme.style(fig, height=max(MIN_HEATMAP_HEIGHT, 110 + 24 * len(rows)), legend=False)
    return fig.update_layout(margin_b=16)


def _padded(values: list[float | None], width: int) -> list[float | None]:
    return values + [None] * (width - len(values))


def retention_curves(data: ReportData) -> go.Figure | None:
    """Share of each acquisition year's customers buying again N months after their first."""
    years = {y: v[1:] for y, v in series.retention_by_year(data).items() if len(v) > 2}
    if not years:
        return None
    fig = go.Figure()
    for year, values in years.items():
        fig.add_trace(
            go.Scatter(
                x=list(range(1, len(values) + 1)),
                y=values,
                name=f"Acquired in {year}",
                mode="lines",
                line={"width": 2.5},
                hovertemplate="month %{x}: %{y:.1%}<extra>%{fullData.name}</extra>",
            )
        )
    fig.update_xaxes(title="Months since first purchase")
    fig.update_yaxes(title="Share buying that month", tickformat=".0%", rangemode="tozero")
    return theme.style(fig, height=380)


def season_comparison(data: ReportData) -> go.Figure | None:
    """Same-season acquisition cohorts side by side: retention and value by seasons of age."""
    cohorts = series.season_cohorts(data)
    if not cohorts:
        return None
    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=["Share buying again", f"Net revenue per customer ({data.currency})"],
        horizontal_spacing=0.12,
    )
    for i, cohort in enumerate(reversed(cohorts)):
        color = theme.PALETTE[i] if i < 2 else theme.SECONDARY
        line = {"color": color, "width": 3 if i == 0 else 2}
        common = {"name": cohort.label, "legendgroup": cohort.label, "line": line}
        later = cohort.retention[1:]
        fig.add_trace(
            go.Scatter(
                x=list(range(1, len(later) + 1)),
                y=later,
                mode="lines+markers",
                showlegend=False,
                **common,
            ),
            row=1,
            col=1,
        )
        fig.add_trace(
            go.Scatter(y=cohort.value, mode="lines+markers", **common),
            row=1,
            col=2,
        )
    fig.update_xaxes(title="Seasons since first purchase", dtick=1)
    fig.update_yaxes(tickformat=".0%", rangemode="tozero", row=1, col=1)
    fig.update_yaxes(tickformat=",.0f", rangemode="tozero", row=1, col=2)
    fig.update_annotations(font={"size": 13, "color": theme.INK})
    theme.style(fig, height=420)
    return fig.update_layout(margin_t=84, legend_y=1.12)


def pareto(data: ReportData) -> go.Figure | None:
    """The Pareto (Lorenz-style) curve of the last 12 months' revenue over active customers."""
    points = [p for p in data.pareto if p["revenue_share"] is not None]
    if len(points) < 2:
        return None
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[0.0] + [p["customer_share"] for p in points],
            y=[0.0] + [p["revenue_share"] for p in points],
            name="Your customers",
            fill="tozeroy",
            fillcolor=theme.rgba(theme.PRIMARY, 0.12),
            line={"color": theme.PRIMARY, "width": 3},
            hovertemplate="top %{x:.0%} of customers: %{y:.1%} of revenue<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[0, 1],
            y=[0, 1],
            name="Every customer equal",
            mode="lines",
            line={"color": theme.SECONDARY, "dash": "dash"},
            hoverinfo="skip",
        )
    )
    _mark_shares(fig, data)
    fig.update_xaxes(title="Top share of active customers, by revenue", tickformat=".0%")
    fig.update_yaxes(title="Share of revenue", tickformat=".0%", range=[0, 1.02])
    return theme.style(fig, height=420)


def _mark_shares(fig: go.Figure, data: ReportData) -> None:
    """Label the curve at the top 10%, 20% and 50% of customers."""
    for share in (0.1, 0.2, 0.5):
        revenue = series.pareto_share(data, share)
        if revenue is not None:
            fig.add_annotation(
                x=share,
                y=revenue,
                text=f"top {share:.0%} → {revenue:.0%}",
                showarrow=True,
                arrowhead=0,
                ax=40,
                ay=30,
                font={"size": 12, "color": theme.INK},
                bgcolor="white",
            )


def clv_by_channel(data: ReportData) -> go.Figure | None:
    """Cumulative net revenue per customer by months since acquisition, per channel."""
    lines = series.clv_lines(data)
    channels = sorted(g for g in lines if g != "all")
    if not channels:
        return None
    colors = theme.colors(channels)
    fig = go.Figure()
    for group in [*channels, "all"] if "all" in lines else channels:
        overall = group == "all"
        fig.add_trace(
            go.Scatter(
                y=lines[group],
                name="All channels" if overall else group,
                mode="lines",
                line={
                    "color": theme.INK if overall else colors[group],
                    "width": 2 if overall else 2.5,
                    "dash": "dot" if overall else "solid",
                },
                hovertemplate=f"month %{{x}}: {data.currency} %{{y:{d3_money(data.currency)}}}"
                "<extra>%{fullData.name}</extra>",
            )
        )
    fig.update_xaxes(title="Months since first purchase")
    fig.update_yaxes(title=f"Net revenue per customer ({data.currency})", rangemode="tozero")
    return theme.style(fig, height=420)
