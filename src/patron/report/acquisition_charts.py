"""Charts of acquisition guidance: what a new customer of each channel is worth and may cost,
and how many each channel brought in month by month and what they are worth.

Like :mod:`patron.report.charts`, each returns None when there is nothing to draw.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from patron.report import format as fmt
from patron.report import theme

if TYPE_CHECKING:
    from patron.report.data import ReportData


def channel_value(data: ReportData) -> go.Figure | None:
    """Per acquisition channel: lifetime value per new customer, its predicted part's 90% band
    as an error bar, beside the most a new customer may cost at the target ratio and, with a
    spend file, what one did cost (CAC)."""
    acquisition = data.acquisition
    if acquisition is None:
        return None
    rows = [r for r in acquisition.channels if r["lifetime_value"] is not None]
    if not rows:
        return None
    digits = fmt.d3_money(data.currency)
    money = f"{data.currency} %{{y:{digits}}}"
    names = [r["channel"] for r in rows]
    value = go.Bar(
        x=names,
        y=[r["lifetime_value"] for r in rows],
        name="Lifetime value",
        marker_color=theme.PRIMARY,
        error_y={
            "type": "data",
            "symmetric": False,
            "array": [r["clv_high"] - r["clv"] for r in rows],
            "arrayminus": [r["clv"] - r["clv_low"] for r in rows],
            "color": theme.INK,
        },
        customdata=[[r["margin_to_date"], r["clv"], r["new_customers"]] for r in rows],
        hovertemplate=f"%{{x}}: {money} per new customer<br>"
        f"{data.currency} %{{customdata[0]:{digits}}} to date + %{{customdata[1]:{digits}}} "
        "predicted<br>%{customdata[2]:,} new customers<extra></extra>",
    )
    ratio = f"{acquisition.target_ratio:g}:1"
    cac = go.Bar(
        x=names,
        y=[r["max_cac"] for r in rows],
        name=f"Max CAC at {ratio}",
        marker_color=theme.PALETTE[1],
        hovertemplate=f"%{{x}}: a new customer may cost up to {money} at {ratio}<extra></extra>",
    )
    bars = [value, cac]
    if acquisition.spend:
        bars.append(
            go.Bar(
                x=names,
                y=[r["cac"] for r in rows],
                name="CAC (spend per new customer)",
                marker_color=theme.PALETTE[2],
                hovertemplate=f"%{{x}}: a new customer cost {money}<extra></extra>",
            )
        )
    fig = go.Figure(bars)
    fig.update_xaxes(title="Acquisition channel")
    fig.update_yaxes(title=f"Per new customer ({data.currency})", rangemode="tozero")
    theme.style(fig, height=400)
    return fig.update_layout(barmode="group")


def monthly(data: ReportData) -> go.Figure | None:
    """New customers per acquisition month stacked by channel, with each channel's lifetime
    value per new customer as a line on the right axis."""
    acquisition = data.acquisition
    if acquisition is None or not any(r["new_customers"] for r in acquisition.months):
        return None
    channels = sorted({r["channel"] for r in acquisition.months})
    colors = theme.colors(channels)
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    for channel in channels:
        rows = _by_period(acquisition.months, channel, acquisition.periods)
        common: dict[str, Any] = {"x": acquisition.periods, "legendgroup": channel}
        fig.add_trace(
            go.Bar(
                y=[r["new_customers"] for r in rows],
                name=channel,
                marker_color=theme.rgba(colors[channel], 0.55),
                hovertemplate="%{x}: %{y:,} new customers<extra>%{fullData.name}</extra>",
                **common,
            ),
            secondary_y=False,
        )
        fig.add_trace(
            go.Scatter(
                y=[r["lifetime_value"] for r in rows],
                name=f"{channel}: value",
                mode="lines+markers",
                line={"color": colors[channel], "width": 2.5},
                showlegend=False,
                hovertemplate=f"%{{x}}: {data.currency} %{{y:{fmt.d3_money(data.currency)}}} "
                f"lifetime value per new customer<extra>{channel}</extra>",
                **common,
            ),
            secondary_y=True,
        )
    fig.update_xaxes(title="Acquisition month", type="category")
    fig.update_yaxes(title="New customers", rangemode="tozero", secondary_y=False)
    fig.update_yaxes(
        title=f"Lifetime value per new customer ({data.currency})",
        rangemode="tozero",
        showgrid=False,
        tickmode="auto",
        tickformat=",.0f",
        secondary_y=True,
    )
    theme.style(fig, height=440)
    return fig.update_layout(barmode="stack", margin_r=72)


def _by_period(
    rows: list[dict[str, Any]], channel: str, periods: list[str]
) -> list[dict[str, Any]]:
    """``channel``'s rows in the order of ``periods`` (every channel has every month)."""
    own = {r["period"]: r for r in rows if r["channel"] == channel}
    return [own[p] for p in periods]
