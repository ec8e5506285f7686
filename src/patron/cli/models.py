"""Commands that fit customer-base models, score and validate them: fit, predict, validate."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from patron import clv
from patron.cli.base import (
    AsOfOption,
    JsonOption,
    WorkspaceOption,
    app,
    errors,
    open_workspace,
    out,
    parse_date,
    print_json,
)
from patron.errors import InputError
from patron.export import write_table
from patron.predict import Horizon


@app.command()
def fit(
    model: Annotated[
        str, typer.Option(help="bgnbd, pnbd, gg (Gamma-Gamma), bgbb or sbg (with --survival).")
    ] = "bgnbd",
    calibration_end: Annotated[
        str | None,
        typer.Option(help="Fit on the customers and purchases up to this day (YYYY-MM-DD)."),
    ] = None,
    time_unit: Annotated[str, typer.Option(help="day, week or month.")] = "week",
    summary: Annotated[
        Path | None,
        typer.Option(help="Fit on a CSV/Parquet of frequency, recency, T[, count] instead."),
    ] = None,
    survival: Annotated[
        str | None, typer.Option(help="sBG: a cohort's survivors per period, e.g. 1000,631,468.")
    ] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Fit a BTYD model (parameters as in the paper, log-likelihood, standard errors)."""
    with errors():
        if model == "sbg" or survival is not None:
            if model != "sbg" or survival is None:
                raise InputError("--survival goes with --model sbg, and sbg needs --survival")
            fitted = clv.fit_survival(survival)
            context: dict[str, str] = {"survival": survival}
        elif summary is not None:
            fitted = clv.fit_rows(model, clv.read_summary(summary, model))
            context = {"summary": str(summary)}
        else:
            with open_workspace(workspace, read_only=True) as ws:
                day = ws.as_of(parse_date(calibration_end, "--calibration-end"))
                fitted = ws.fit(model, calibration_end=day, time_unit=time_unit)
            context = {"calibration_end": day.isoformat(), "time_unit": time_unit}
        report = clv.fit_report(fitted, model, **context)
    if as_json:
        print_json(report)
        return
    table = Table("parameter", "estimate", "std. error", title=_title(report))
    for name, value in report["params"].items():
        table.add_row(name, f"{value:.4g}", f"{report['std_errors'][name]:.3g}")
    out.print(table)


def _title(report: dict[str, object]) -> str:
    return (
        f"{report['model']}: {report['n_customers']:,} customers in {report['unique_rows']:,} "
        f"distinct rows, log-likelihood {report['loglik']:,.1f}"
    )


@app.command()
def predict(
    as_of: AsOfOption = None,
    time_unit: Annotated[str, typer.Option(help="day, week or month.")] = "week",
    horizon: Annotated[int, typer.Option(help="Periods (time units) ahead.")] = 52,
    discount_rate: Annotated[float, typer.Option(help="Discount rate per period.")] = 0.0,
    margin: Annotated[float, typer.Option(help="Share of revenue kept as margin.")] = 1.0,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write one row per customer (.parquet or .csv).")
    ] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Per customer P(alive), expected purchases, spend and CLV, with 90% intervals."""
    with errors():
        settings = Horizon(periods=horizon, discount_rate=discount_rate, margin=margin)
        with open_workspace(workspace, read_only=True) as ws:
            day = ws.as_of(parse_date(as_of))
            table = ws.predict(as_of=day, time_unit=time_unit, horizon=settings)
            if out_file is not None:
                write_table(table, out_file)
            totals = (
                table.aggregate(
                    customers=table.count(),
                    expected_purchases=table.expected_purchases.sum(),
                    customer_equity=table.clv.sum(),
                    customer_equity_low=table.clv_low.sum(),
                    customer_equity_high=table.clv_high.sum(),
                    p_alive_mean=table.p_alive.mean(),
                )
                .to_pyarrow()
                .to_pylist()[0]
            )
    report = {
        "as_of": day.isoformat(),
        "time_unit": time_unit,
        "horizon": horizon,
        "discount_rate": discount_rate,
        "margin": margin,
        **totals,
        "out": None if out_file is None else str(out_file),
    }
    if as_json:
        print_json(report)
        return
    out.print(
        f"{report['customers']:,} customers as of {report['as_of']}: "
        f"{report['expected_purchases']:,.0f} purchases expected in the next {horizon} "
        f"{time_unit}s; customer equity {report['customer_equity']:,.2f} "
        f"({report['customer_equity_low']:,.2f} to {report['customer_equity_high']:,.2f})"
    )


@app.command()
def validate(
    calibration_end: Annotated[str, typer.Option(help="Fit on purchases up to this day.")],
    holdout_end: Annotated[
        str | None, typer.Option(help="Compare with purchases up to this day (default: the last).")
    ] = None,
    time_unit: Annotated[str, typer.Option(help="day, week or month.")] = "week",
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Calibration / holdout check: model vs naive baseline, by frequency, week by week."""
    with errors():
        start = parse_date(calibration_end, "--calibration-end")
        with open_workspace(workspace, read_only=True) as ws:
            end = ws.as_of(parse_date(holdout_end, "--holdout-end"))
            if start is None:
                raise InputError("--calibration-end is required")
            report = ws.validate(start, end, time_unit=time_unit)
    if as_json:
        print_json(report)
        return
    table = Table(
        "model", "MAE", "correlation", "predicted", "actual", title=_holdout_title(report)
    )
    for row in report["models"]:
        table.add_row(
            row["model"],
            f"{row['mae']:.3f}",
            f"{row['correlation']:.3f}",
            f"{row['holdout_predicted']:,.0f}",
            f"{row['holdout_actual']:,.0f}",
        )
    out.print(table)
    by_frequency = Table("frequency", "customers", "actual", "bgnbd", "naive")
    for row in report["conditional"]:
        by_frequency.add_row(
            row["frequency"],
            f"{row['customers']:,}",
            *(f"{row[k]:.2f}" for k in ("actual", "bgnbd", "naive")),
        )
    out.print(by_frequency)


def _holdout_title(report: dict[str, object]) -> str:
    return (
        f"{report['customers']:,} customers; holdout {report['calibration_end']} to "
        f"{report['holdout_end']} ({report['holdout_periods']:.0f} {report['time_unit']}s)"
    )
