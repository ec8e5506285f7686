"""Charts of who the customers are: RFM segment shares, the RFM grid, lifecycle flows.

Like :mod:`patron.report.charts`, each returns a figure or None when there is nothing to draw.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import plotly.graph_objects as go

from patron.report import theme
from patron.segments import STAGES

if TYPE_CHECKING:
    from patron.report.data import ReportData

SCORES = (1, 2, 3, 4, 5)


def segment_shares(data: ReportData) -> go.Figure | None:
    """Each RFM segment's share of customers next to its share of the last 12 months' revenue."""
    rows = data.segments["rfm_segment"]
    if not rows:
        return None
    rows = rows[::-1]
    names = [r["name"] for r in rows]
    fig = go.Figure()
    for key, label, color in (
        ("customer_share", "Share of customers", theme.SECONDARY),
        ("revenue_share", "Share of revenue, last 12 months", theme.PRIMARY),
    ):
        values = [r[key] or 0.0 for r in rows]
        fig.add_trace(
            go.Bar(
                x=values,
                y=names,
                name=label,
                orientation="h",
                marker_color=color,
                text=[f"{v:.0%}" for v in values],
                textposition="outside",
                cliponaxis=False,
                hovertemplate="%{y}: %{x:.1%}<extra>" + label + "</extra>",
            )
        )
    fig.update_layout(barmode="group", bargap=0.25, bargroupgap=0.05)
    fig.update_xaxes(tickformat=".0%", rangemode="tozero")
    return theme.style(fig, height=110 + 40 * len(rows))


def rfm_grid(data: ReportData) -> go.Figure | None:
    """Customers in each recency x frequency-monetary cell, labelled with the cell's segment."""
    if not data.rfm:
        return None
    cells = {(c["fm_score"], c["r_score"]): c for c in data.rfm}
    total = sum(c["customers"] for c in data.rfm)
    z = [[_cell(cells, fm, r, "customers") for r in SCORES] for fm in SCORES]
    text = [[_label(cells.get((fm, r)), total) for r in SCORES] for fm in SCORES]
    heat = go.Heatmap(
        z=z,
        x=[str(s) for s in SCORES],
        y=[str(s) for s in SCORES],
        text=text,
        texttemplate="%{text}",
        textfont={"size": 12},
        colorscale=theme.SEQUENTIAL,
        zmin=0,
        xgap=2,
        ygap=2,
        colorbar={"thickness": 12, "title": {"text": "customers"}},
        hovertemplate="R %{x} · FM %{y}<br>%{text}<extra></extra>",
    )
    fig = go.Figure(heat)
    fig.update_xaxes(title="Recency score (5 = bought most recently)", showgrid=False)
    fig.update_yaxes(title="Frequency-monetary score (5 = best)", showgrid=False)
    return theme.style(fig, height=520, legend=False)


def _cell(cells: dict[tuple[int, int], dict[str, Any]], fm: int, r: int, key: str) -> Any:
    cell = cells.get((fm, r))
    return None if cell is None else cell[key]


def _label(cell: dict[str, Any] | None, total: int) -> str:
    if cell is None:
        return ""
    return f"{cell['rfm_segment']}<br>{cell['customers']:,} · {cell['customers'] / total:.0%}"


def stage_flows(data: ReportData) -> go.Figure | None:
    """A Sankey of lifecycle stages: where each stage's customers then are now."""
    flows = [f for f in data.flows["flows"] if f["customers"]]
    if not flows:
        return None
    sources = [s for s in ("new", *STAGES) if any(f["from"] == s for f in flows)]
    targets = [s for s in STAGES if any(f["to"] == s for f in flows)]
    totals = _totals(flows)
    start, end = data.flows["from"], data.flows["to"]
    labels = [f"{theme.STAGE_LABELS[s]} · {totals['from', s]:,}" for s in sources] + [
        f"{theme.STAGE_LABELS[s]} · {totals['to', s]:,}" for s in targets
    ]
    sankey = go.Sankey(
        arrangement="snap",
        node={
            "label": labels,
            "color": [theme.STAGE_COLORS[s] for s in (*sources, *targets)],
            "pad": 18,
            "thickness": 18,
            "line": {"width": 0},
            "customdata": [start] * len(sources) + [end] * len(targets),
            "hovertemplate": "%{label}<br>on %{customdata}<extra></extra>",
        },
        link={
            "source": [sources.index(f["from"]) for f in flows],
            "target": [len(sources) + targets.index(f["to"]) for f in flows],
            "value": [f["customers"] for f in flows],
            "color": [theme.rgba(theme.STAGE_COLORS[f["from"]], 0.35) for f in flows],
            "hovertemplate": "%{source.label} → %{target.label}: %{value:,} customers"
            "<extra></extra>",
        },
        textfont={"size": 12, "color": theme.INK},
    )
    fig = go.Figure(sankey)
    for x, text, anchor in ((0, start, "left"), (1, end, "right")):
        fig.add_annotation(
            x=x,
            y=1.06,
            xref="paper",
            yref="paper",
            text=f"<b>{text}</b>",
            showarrow=False,
            xanchor=anchor,
            font={"color": theme.MUTED},
        )
    theme.style(fig, height=440, legend=False)
    return fig.update_layout(margin_b=16)


def _totals(flows: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    totals: dict[tuple[str, str], int] = {}
    for f in flows:
        for side in ("from", "to"):
            key = (side, f[side])
            totals[key] = totals.get(key, 0) + f["customers"]
    return totals
