"""Charts of the customer insights: when second purchases happen, who buys on discount, and
which first purchases bring customers back.

Like :mod:`patron.report.charts`, a builder returns None when there is nothing to draw.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import plotly.graph_objects as go

from patron.report import format as fmt
from patron.report import theme

if TYPE_CHECKING:
    from patron.report.data import ReportData


def second_purchase(data: ReportData) -> go.Figure | None:
    """Share of second purchases made by each day after the first, the nudge window shaded,
    and the weekly hazard on the right axis."""
    t = data.insights.timing
    if not t["daily"]:
        return None
    fig = go.Figure()
    days = [d["day"] for d in t["daily"]]
    fig.add_trace(
        go.Scatter(
            x=days,
            y=[d["cumulative_share"] for d in t["daily"]],
            name="second purchases made by day",
            line={"color": theme.PRIMARY, "width": 2.5},
            hovertemplate="day %{x}: %{y:.0%} of second purchases<extra></extra>",
        )
    )
    fig.add_trace(
        go.Bar(
            x=[w["first_day"] + 3 for w in t["weekly"]],
            y=[w["hazard"] for w in t["weekly"]],
            width=6,
            name="daily chance of a second purchase (weekly mean)",
            marker={"color": theme.rgba(theme.PALETTE[1], 0.55)},
            yaxis="y2",
            hovertemplate="week %{x}: %{y:.2%} a day<extra></extra>",
        )
    )
    window = t["nudge_window"]
    if window:
        fig.add_vrect(
            x0=window["from_day"], x1=window["to_day"], fillcolor=theme.rgba(theme.PRIMARY, 0.08),
            line_width=0, annotation_text="nudge window", annotation_position="top left",
        )  # fmt: skip
    if t["hazard_drop_day"] is not None:
        fig.add_vline(x=t["hazard_drop_day"], line={"color": theme.INK, "dash": "dot", "width": 1})
    fig.update_layout(
        yaxis={"title": "Share of second purchases", "tickformat": ".0%"},
        yaxis2={"overlaying": "y", "side": "right", "tickformat": ".1%", "showgrid": False},
    )
    fig.update_xaxes(title="Days after the first purchase")
    return theme.style(fig, height=360)


def discount_by_segment(data: ReportData) -> go.Figure | None:
    """Share of purchases on discount per RFM segment, with the mean sensitivity score."""
    rows = sorted(data.insights.discount["segments"], key=lambda r: r["discount_share"])
    if not rows:
        return None
    names = [r["segment"] for r in rows]
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            y=names,
            x=[r["discount_share"] for r in rows],
            orientation="h",
            name="purchases on discount",
            marker={"color": theme.PRIMARY},
            customdata=[[r["customers"], r["purchases"]] for r in rows],
            hovertemplate="%{y}: %{x:.0%} of %{customdata[1]:,} purchases"
            "<br>%{customdata[0]:,} customers<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            y=names,
            x=[r["mean_score"] for r in rows],
            mode="markers",
            name="mean sensitivity score",
            marker={"color": theme.PALETTE[1], "size": 10, "symbol": "diamond"},
            hovertemplate="%{y}: score %{x:.2f}<extra></extra>",
        )
    )
    fig.update_xaxes(title="Share of purchases / score", tickformat=".0%", rangemode="tozero")
    return theme.style(fig, height=max(260, 34 * len(rows) + 90))


def gateways(data: ReportData) -> go.Figure | None:
    """Repeat rate (95% interval) of the customers each first category and channel brought."""
    found = data.insights.affinity
    if found is None:
        return None
    g = found["gateways"]
    rows = [("channel", r) for r in g["channels"]] + [(found["by"], r) for r in g["items"]]
    if not rows:
        return None
    rows.sort(key=lambda kr: kr[1]["repeat_rate"])
    fig = go.Figure()
    for kind in dict.fromkeys(k for k, _ in rows):
        mine = [r for k, r in rows if k == kind]
        fig.add_trace(_gateway_bars(kind, mine, data.currency))
    fig.update_xaxes(title="Share who bought again", tickformat=".0%", rangemode="tozero")
    return theme.style(fig, height=max(260, 30 * len(rows) + 90))


def _gateway_bars(kind: str, rows: list[dict[str, Any]], currency: str) -> go.Bar:
    rates, money = [r["repeat_rate"] for r in rows], fmt.d3_money(currency)
    return go.Bar(
        y=[f"{r['name']} ({kind})" for r in rows],
        x=rates,
        orientation="h",
        name=f"first {kind}",
        error_x={
            "type": "data",
            "symmetric": False,
            "array": [r["repeat_high"] - x for r, x in zip(rows, rates, strict=True)],
            "arrayminus": [x - r["repeat_low"] for r, x in zip(rows, rates, strict=True)],
        },
        customdata=[[r["customers"], r["avg_revenue"], r.get("avg_clv")] for r in rows],
        hovertemplate="%{y}: %{x:.0%} of %{customdata[0]:,} bought again"
        f"<br>{currency} %{{customdata[1]:{money}}} revenue each in the window"
        + (
            f"<br>{currency} %{{customdata[2]:{money}}} predicted CLV each"
            if "avg_clv" in rows[0]
            else ""
        )
        + "<extra></extra>",
    )
