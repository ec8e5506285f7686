"""``patron acquisition``: CAC, CLV:CAC, payback and affordable CAC by acquisition channel
(and month)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Annotated, Any

import typer
from rich.table import Table

from patron.cli.base import (
    AsOfOption,
    DiscountRateOption,
    HorizonOption,
    JsonOption,
    MarginOption,
    SpendOption,
    TimeUnitOption,
    WorkspaceOption,
    app,
    errors,
    open_workspace,
    out,
    parse_date,
    print_json,
)
from patron.defaults import MONTHS, TARGET_RATIO
from patron.predictions import Horizon


@app.command()
def acquisition(
    spend: SpendOption = None,
    as_of: AsOfOption = None,
    time_unit: TimeUnitOption = "week",
    horizon: HorizonOption = 52,
    discount_rate: DiscountRateOption = 0.0,
    margin: MarginOption = 1.0,
    target_ratio: Annotated[
        float, typer.Option(help="CLV:CAC to aim for; sets the max CAC.")
    ] = TARGET_RATIO,
    by: Annotated[
        str, typer.Option(help="channel, or month: per channel and acquisition month.")
    ] = "channel",
    months: Annotated[
        int | None,
        typer.Option(
            help=f"With --by month: months to report, ending with the as-of month "
            f"[default: {MONTHS}].",
            show_default=False,
        ),
    ] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Acquisition guidance per channel: new customers, CLV, CAC, CLV:CAC and payback.

    With --by month, per channel and acquisition month."""
    with errors():
        settings = Horizon(periods=horizon, discount_rate=discount_rate, margin=margin)
        with open_workspace(workspace, read_only=True) as ws:
            report = ws.acquisition(
                as_of=parse_date(as_of),
                spend=spend,
                time_unit=time_unit,
                horizon=settings,
                target_ratio=target_ratio,
                by=by,
                months=months,
            )
    if as_json:
        print_json(report)
        return
    monthly = report["by"] == "month"
    view = "spent" if report["spend"] is not None else report["by"]
    out.print(_table(report, COLUMNS[view]))
    out.print(
        f"{NOTES[view]}; max CAC = value / {report['target_ratio']:g}"
        f"{_partial(report['as_of']) if monthly else ''}. Definitions: docs/acquisition.md",
        highlight=False,
    )


def _partial(as_of: str) -> str:
    """A note that the as-of month is counted to the as-of day, unless that is its last day."""
    day = date.fromisoformat(as_of)
    return "" if (day + timedelta(days=1)).day == 1 else f"; {day:%Y-%m} counts to {day} only"


Row = dict[str, Any]
Column = tuple[str, Callable[[Row], str]]


def _money(key: str) -> Callable[[Row], str]:
    return lambda r: _fmt(r[key], "{:,.2f}")


def _band(row: Row) -> str:
    cells = (_fmt(row[key], "{:,.2f}") for key in ("clv", "clv_low", "clv_high"))
    return "{} ({}-{})".format(*cells)


def _payback(row: Row) -> str:
    """Months to payback, or how long it has not happened for."""
    if row["payback_months"] is not None:
        return f"{row['payback_months']} mo"
    if row["cac"] is None:
        return "-"
    return f">{row['months_observed']} mo" if row["months_observed"] else "too new"


def _whole_year(row: Row) -> str:
    """The first-year margin once every customer of the group has had their first 365 days."""
    whole = row["margin_365_customers"] == row["new_customers"]
    return _money("margin_365")(row) if whole else "-"


def _fmt(value: Any, fmt: str) -> str:
    return "-" if value is None else fmt.format(value)


NEW: Column = ("new", lambda r: f"{r['new_customers']:,}")
VALUE: Column = ("value", _money("lifetime_value"))
MAX_CAC: Column = ("max CAC", _money("max_cac"))
PERIOD: Column = ("period", lambda r: r["period"] or "all")
SPENT: list[Column] = [
    PERIOD,
    NEW,
    ("CAC", _money("cac")),
    VALUE,
    ("CLV:CAC", lambda r: _fmt(r["clv_to_cac"], "{:.1f}")),
    ("payback", _payback),
    MAX_CAC,
]
BAND: Column = ("CLV (90%)", _band)
COLUMNS: dict[str, list[Column]] = {
    "spent": SPENT,
    "channel": [NEW, BAND, VALUE, ("year 1", _money("margin_365")), MAX_CAC],
    "month": [PERIOD, NEW, BAND, VALUE, ("year 1", _whole_year), MAX_CAC],
}
CLV_NOTE = (
    "CLV: predicted margin over the horizon, per customer; value = margin to date + CLV; "
    "year 1: margin in the first 365 days, "
)
NOTES = {
    "spent": "value = margin to date + predicted CLV, per new customer; CLV:CAC = value / CAC; "
    "payback: first month since acquisition when the cumulative margin per customer reaches CAC",
    "channel": CLV_NOTE + "over the customers who have had them",
    "month": CLV_NOTE + "once every customer of the month has had them",
}


def _table(report: dict[str, Any], columns: list[Column]) -> Table:
    title = (
        f"Acquisition as of {report['as_of']}: CLV over {report['horizon']} "
        f"{report['time_unit']}s, margin {report['margin']:.0%}, {report['currency']}"
    )
    table = Table("channel", title=title)
    for name, _ in columns:
        table.add_column(name, justify="left" if name == "period" else "right")
    for r in report["channels"]:
        table.add_row(r["channel"], *(cell(r) for _, cell in columns))
    return table
