"""One look for every chart: fonts, colours, margins and the plotly config.

Why: a report reads as one document when every chart shares its typography and colours, and a
channel or a lifecycle stage keeps the same colour wherever it appears.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

FONT = (
    'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, '
    '"Liberation Sans", sans-serif'
)
INK = "#1f2937"
MUTED = "#6b7280"
GRID = "#e5e7eb"
PRIMARY = "#2563eb"
SECONDARY = "#94a3b8"
PALETTE = ("#2563eb", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#06b6d4", "#ec4899", "#84cc16")
SEQUENTIAL = "Blues"
STAGE_COLORS = {
    "new": "#8b5cf6",
    "first_time": "#3b82f6",
    "repeat_active": "#10b981",
    "defecting": "#f59e0b",
    "inactive": "#9ca3af",
}
STAGE_LABELS = {
    "new": "New customers",
    "first_time": "First-time",
    "repeat_active": "Repeat active",
    "defecting": "Defecting",
    "inactive": "Inactive",
}
MODEL_LABELS = {
    "bgnbd": "BG/NBD",
    "pnbd": "Pareto/NBD",
    "mbgnbd": "MBG/NBD",
    "naive": "Naive baseline",
}
MODEL_COLORS = {"bgnbd": PALETTE[0], "pnbd": PALETTE[1], "mbgnbd": PALETTE[2], "naive": SECONDARY}
"""The purchase models keep one colour in every chart; the actual figures are drawn in ``INK``."""
GROUP_LABELS = {
    "active": "Active",
    "at_risk": "At risk",
    "likely_lost": "Likely lost",
    "top_20pct": "Top 20%",
    "next_30pct": "Next 30%",
    "bottom_50pct": "Bottom 50%",
}
"""Churn-risk groups and predicted-value tiers of :mod:`patron.predict`."""
CONFIG: dict[str, Any] = {
    "displaylogo": False,
    "responsive": True,
    "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"],
}
"""Plotly config: no plotly logo or links, charts follow the page width."""


def style(fig: go.Figure, *, height: int, legend: bool = True) -> go.Figure:
    """Apply the report's look; the legend sits above the plot so it never covers data."""
    fig.update_layout(
        template="plotly_white",
        height=height,
        font={"family": FONT, "size": 13, "color": INK},
        colorway=list(PALETTE),
        margin={"l": 64, "r": 24, "t": 48 if legend else 24, "b": 56},
        showlegend=legend,
        legend={"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom", "title": None},
        hoverlabel={"font": {"family": FONT}},
        paper_bgcolor="white",
        plot_bgcolor="white",
    )
    fig.update_xaxes(gridcolor=GRID, linecolor=GRID, zeroline=False, title_font={"color": MUTED})
    fig.update_yaxes(gridcolor=GRID, linecolor=GRID, zeroline=False, title_font={"color": MUTED})
    return fig


def colors(names: list[str]) -> dict[str, str]:
    """A stable colour per name (sorted, so a channel's colour does not depend on the chart)."""
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(sorted(names))}


def rgba(hex_color: str, alpha: float) -> str:
    """``#rrggbb`` with transparency, for fills and Sankey links."""
    red, green, blue = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},{alpha})"
