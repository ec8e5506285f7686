"""Commands that read the customer base: kpis, cohorts, segments, export, report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table

from patron.cli.base import (
    AsOfOption,
    JsonOption,
    MarginOption,
    SpendOption,
    WorkspaceOption,
    app,
    emit,
    errors,
    export_app,
    open_workspace,
    out,
    parse_date,
    print_json,
)
from patron.errors import InputError

WindowOption = Annotated[int, typer.Option(help="Trailing window in days.")]

HEADLINE = (
    ("customers_total", "{:,}"),
    ("active_customers", "{:,}"),
    ("new_customers", "{:,}"),
    ("lost_customers", "{:,}"),
    ("retention_rate", "{:.1%}"),
    ("leaky_bucket_ratio", "{:.2f}"),
    ("repeat_rate", "{:.1%}"),
    ("early_repeat_rate", "{:.1%}"),
    ("days_to_second_purchase_median", "{:.0f}"),
    ("revenue", "{:,.2f}"),
    ("net_revenue", "{:,.2f}"),
    ("orders", "{:,}"),
    ("aov", "{:,.2f}"),
    ("purchase_frequency", "{:.2f}"),
    ("return_rate", "{:.1%}"),
    ("revenue_new_customers", "{:,.2f}"),
    ("margin", "{:,.2f}"),
    ("top_10pct_revenue_share", "{:.1%}"),
    ("clv_365", "{:,.2f}"),
)


@app.command()
def kpis(
    as_of: AsOfOption = None,
    window: WindowOption = 365,
    early_days: Annotated[int, typer.Option(help="Days allowed for an early repeat.")] = 90,
    by: Annotated[str | None, typer.Option(help="acquisition_channel, channel or cohort.")] = None,
    trend: Annotated[
        str | None, typer.Option(help="'month': each KPI as of every month end.")
    ] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Customer KPIs: retention, repeat, early repeat, leaky bucket, AOV, concentration, CLV."""
    with errors():
        if trend not in (None, "month"):
            raise InputError(f"--trend {trend!r}: only 'month' is supported")
        with open_workspace(workspace, read_only=True) as ws:
            result = ws.kpis(
                as_of=parse_date(as_of),
                window=window,
                early_days=early_days,
                by=by,
                trend=trend is not None,
            )
    if as_json:
        print_json(result)
    elif trend:
        out.print(_trend_table(result, by=by is not None))
        out.print("Every KPI of each month: --json.", highlight=False)
    else:
        rows = result.get("groups", [result])
        out.print(_kpi_table(rows, [r["group"] for r in rows], result))


def _kpi_table(rows: list[dict[str, Any]], labels: list[str], head: dict[str, Any]) -> Table:
    """KPIs as rows and groups (or months, or month and group) as columns: reads like a
    dashboard; each column says what it is for."""
    title = (
        f"as of {head['as_of']}, window {head['window_days']} days, "
        f"early repeat within {head['early_days']} days, {head['currency']}"
    )
    table = Table("kpi", *labels, title=title)
    for key, fmt in HEADLINE:
        table.add_row(key, *(_fmt(r.get(key), fmt) for r in rows))
    return table


TREND = (
    ("customers", "customers_total", "{:,}"),
    ("active", "active_customers", "{:,}"),
    ("new", "new_customers", "{:,}"),
    ("retention", "retention_rate", "{:.1%}"),
    ("repeat", "repeat_rate", "{:.1%}"),
    ("net revenue", "net_revenue", "{:,.0f}"),
    ("CLV 365", "clv_365", "{:,.2f}"),
)
"""The trend's columns (header, KPI, format), few enough for 80 columns: three years of
month ends as columns had left a terminal nothing but ellipses."""


def _trend_table(result: dict[str, Any], *, by: bool) -> Table:
    """The monthly trend: a row per month end (and group), a column per headline KPI."""
    title = f"each month end, window {result['window_days']} days, {result['currency']}"
    table = Table(title=title, box=box.SIMPLE_HEAD)
    for label in ("month end", "group") if by else ("month end",):
        table.add_column(label, no_wrap=True)  # the KPIs' columns give way, not the month's
    for name, _, _ in TREND:  # a header wraps between its words, never inside one
        table.add_column(name, justify="right", min_width=max(map(len, name.split())))
    for r in result["points"]:
        place = (r["as_of"], str(r["group"])) if by else (r["as_of"],)
        table.add_row(*place, *(_fmt(r.get(key), fmt) for _, key, fmt in TREND))
    return table


def _fmt(value: Any, fmt: str) -> str:
    return "-" if value is None else fmt.format(value)


@app.command()
def cohorts(
    period: Annotated[str, typer.Option(help="month, quarter, year or season.")] = "month",
    metric: Annotated[
        str, typer.Option(help="retention, revenue, customers, cumulative_revenue or repeat.")
    ] = "retention",
    compare: Annotated[
        tuple[str, str] | None,
        typer.Option(help="Two cohorts side by side, e.g. --compare 2023-holiday 2022-holiday."),
    ] = None,
    by: Annotated[
        str | None,
        typer.Option(help="'acquisition_channel': cumulative revenue per customer by channel."),
    ] = None,
    as_of: AsOfOption = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Acquisition cohorts by age: retention, revenue, repeat, cumulative revenue (CLV)."""
    with errors():
        if by not in (None, "acquisition_channel"):
            raise InputError(f"--by {by!r}: cohorts group by 'acquisition_channel' only")
        with open_workspace(workspace, read_only=True) as ws:
            day = parse_date(as_of)
            if compare:
                result = ws.compare_cohorts(*compare, as_of=day, period=period)
            elif by:
                result = ws.clv_curves(as_of=day, period=period)
            else:
                result = ws.cohorts(as_of=day, period=period, metric=metric)
    if as_json:
        print_json(result)
    elif compare:
        out.print(_compare_table(result))
    elif by:
        rows = [(c["group"], c["customers"][0], c["values"]) for c in result["curves"]]
        out.print(_age_table(rows, "channel", "cumulative net revenue per customer", result))
    else:
        rows = [(c["cohort"], c["size"], c["values"]) for c in result["cohorts"]]
        out.print(_age_table(rows, "cohort", metric, result))


SHARES = ("retention", "repeat")
"""Cohort metrics that are shares (shown as percentages); the others are money or counts."""


def _age_table(
    rows: list[tuple[str, int, list[Any]]], label: str, metric: str, head: dict[str, Any]
) -> Table:
    """Ages as columns, as many as the terminal fits (``--json`` has them all). Cells are
    formatted by the metric, never by the value: revenue of 0.5 or -30 is money, not 50%."""
    oldest = max((len(v) for _, _, v in rows), default=0)
    shown = min(oldest, max(1, (out.width - 26) // 6))
    title = f"{metric} by {head['period']}s since acquisition, as of {head['as_of']}"
    if shown < oldest:
        title += f" (ages 0-{shown - 1} of {oldest - 1}; --json for all)"
    table = Table(title=title)
    table.add_column(label, no_wrap=True)
    table.add_column("size", no_wrap=True, justify="right")
    for age in range(shown):
        table.add_column(str(age), no_wrap=True, justify="right")
    for name, size, values in rows:
        table.add_row(name, f"{size:,}", *(_cell(v, metric in SHARES) for v in values[:shown]))
    return table


def _cell(value: Any, share: bool) -> str:
    if value is None:
        return "-"
    return f"{value:.0%}" if share else f"{value:,.0f}"


def _compare_table(result: dict[str, Any]) -> Table:
    first, second = result["cohorts"]
    ages = max(len(first["retention"]), len(second["retention"]))
    table = Table("age", title=f"{first['cohort']} vs {second['cohort']} ({result['period']}s)")
    for c in (first, second):
        for metric in ("retention", "repeat", "cumulative_revenue"):
            table.add_column(f"{c['cohort']} {metric}")
    for age in range(ages):
        cells = [
            _fmt(
                c[m][age] if age < len(c[m]) else None,
                "{:.1%}" if m != "cumulative_revenue" else "{:,.2f}",
            )
            for c in (first, second)
            for m in ("retention", "repeat", "cumulative_revenue")
        ]
        table.add_row(str(age), *cells)
    return table


@app.command()
def segments(
    as_of: AsOfOption = None,
    bins: Annotated[int, typer.Option(help="RFM score levels (5: quintiles).")] = 5,
    window: WindowOption = 365,
    from_: Annotated[
        str | None, typer.Option("--from", help="Show migration from this date to --as-of.")
    ] = None,
    dimension: Annotated[
        str, typer.Option(help="For --from: rfm_segment, stage or value_tier.")
    ] = "rfm_segment",
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """RFM segments, lifecycle stages and value tiers: sizes, revenue shares, migration."""
    with errors(), open_workspace(workspace, read_only=True) as ws:
        day = parse_date(as_of)
        start = parse_date(from_, "--from")
        if start:
            result = ws.segment_migration(
                start, as_of=day, dimension=dimension, bins=bins, window=window
            )
        else:
            result = ws.segment_summary(as_of=day, bins=bins, window=window)
    if as_json:
        print_json(result)
    elif not (result["flows"] if start else result["customers"]):  # empty tables say nothing
        day_shown = result["to"] if start else result["as_of"]
        out.print(f"No customer had a purchase by {day_shown}: no segments yet")
    elif start:
        out.print(_migration_table(result))
    else:
        for dim in ("rfm_segment", "stage", "value_tier", "predicted_value", "churn_risk"):
            if dim in result:
                out.print(_segment_table(result, dim))
        out.print("\n".join(row["sentence"] for row in result["stage"]))


def _segment_table(result: dict[str, Any], dim: str) -> Table:
    table = Table(
        dim,
        "customers",
        "share",
        "revenue share",
        f"avg value ({result['currency']})",
        title=f"{dim} as of {result['as_of']}",
    )
    for r in result[dim]:
        table.add_row(
            r["name"],
            f"{r['customers']:,}",
            _fmt(r["customer_share"], "{:.1%}"),
            _fmt(r["revenue_share"], "{:.1%}"),
            _fmt(r["avg_value"], "{:,.2f}"),
        )
    return table


def _migration_table(result: dict[str, Any]) -> Table:
    sources = sorted({f["from"] for f in result["flows"]})
    targets = sorted({f["to"] for f in result["flows"]})
    counts = {(f["from"], f["to"]): f["customers"] for f in result["flows"]}
    title = f"{result['dimension']}: {result['from']} (rows) -> {result['to']} (columns)"
    table = Table("from \\ to", *targets, title=title)
    for s in sources:
        table.add_row(s, *(f"{counts.get((s, t), 0):,}" for t in targets))
    return table


@export_app.command("customers")
def export_customers(
    out_file: Annotated[Path, typer.Option("--out", help="A .parquet or .csv file.")],
    as_of: AsOfOption = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """One row per customer: identifiers, consent, totals, RFM, segment, stage, tier."""
    with errors(), open_workspace(workspace, read_only=True) as ws:
        rows = ws.export_customers(out_file, as_of=parse_date(as_of))
    emit(
        {"out": str(out_file), "rows": rows},
        as_json,
        lambda r: f"Wrote {r['rows']:,} customers to {r['out']}",
    )


@app.command()
def report(
    out_file: Annotated[Path, typer.Option("--out", help="The HTML file to write.")] = Path(
        "patron-report.html"
    ),
    as_of: AsOfOption = None,
    spend: SpendOption = None,
    margin: MarginOption = 1.0,
    calibration_end: Annotated[
        str | None,
        typer.Option(
            help="Split for the models' check, as patron validate's (default: the last third "
            "of the history, at most 26 weeks, is the holdout)."
        ),
    ] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """One self-contained HTML report: KPIs, trends, cohorts, segments, CLV, findings."""
    from patron.report import write_report

    with errors(), open_workspace(workspace, read_only=True) as ws:
        day, split = parse_date(as_of), parse_date(calibration_end, "--calibration-end")
        path = write_report(
            ws, out_file, as_of=day, spend=spend, margin=margin, calibration_end=split
        )
    emit({"out": str(path)}, as_json, lambda r: f"Wrote the report to {r['out']}")
