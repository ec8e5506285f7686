"""The lift of each treatment over its baseline as it read day by day, with the always-valid
interval as a band: where the band leaves zero for good, the test has an answer.

Like :mod:`patron.report.charts`, a builder returns None when there is nothing to draw.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import plotly.graph_objects as go

from patron.report import theme

if TYPE_CHECKING:
    from patron.report.data import ReportData


def lift_over_time(data: ReportData, index: int) -> go.Figure | None:
    """Relative lift per treatment (line) and its confidence sequence (band), by day."""
    if index >= len(data.experiments):
        return None
    experiment = data.experiments[index]
    points = [p for p in experiment.timeline if p["variants"][1]["relative_lift"] is not None]
    if len(points) < 2:
        return None
    days = [p["day"] for p in points]
    fig = go.Figure()
    names = [v["name"] for v in points[0]["variants"][1:]]
    colors = theme.colors(names)
    for i, name in enumerate(names, start=1):
        rows = [p["variants"][i] for p in points]
        band = [r["relative_lift_ci"] for r in rows]
        fig.add_trace(
            go.Scatter(
                x=days + days[::-1],
                y=[b[1] for b in band] + [b[0] for b in band][::-1],
                fill="toself",
                fillcolor=theme.rgba(colors[name], 0.15),
                line={"width": 0},
                hoverinfo="skip",
                showlegend=False,
                legendgroup=name,
            )
        )
        fig.add_trace(
            go.Scatter(
                x=days,
                y=[r["relative_lift"] for r in rows],
                name=f"{name} vs {points[0]['variants'][0]['name']}",
                mode="lines+markers",
                line={"color": colors[name], "width": 2.5},
                legendgroup=name,
                customdata=[[r["n"], *r["relative_lift_ci"]] for r in rows],
                hovertemplate="%{x}: %{y:+.1%} (%{customdata[1]:+.1%} to %{customdata[2]:+.1%})"
                "<br>%{customdata[0]:,} customers<extra>%{fullData.name}</extra>",
            )
        )
    fig.add_hline(y=0, line={"color": theme.INK, "width": 1, "dash": "dot"})
    fig.update_xaxes(title="Day")
    fig.update_yaxes(title=f"Relative lift in {experiment.summary['metric']}", tickformat="+.0%")
    theme.style(fig, height=380)
    return fig
