"""Commands that fit customer-base models: fit."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from patron import clv
from patron.cli.base import (
    JsonOption,
    WorkspaceOption,
    app,
    errors,
    open_workspace,
    out,
    parse_date,
    print_json,
)


@app.command()
def fit(
    model: Annotated[str, typer.Option(help="bgnbd, gg (Gamma-Gamma) or bgbb.")] = "bgnbd",
    calibration_end: Annotated[
        str | None,
        typer.Option(help="Fit on the customers and purchases up to this day (YYYY-MM-DD)."),
    ] = None,
    time_unit: Annotated[str, typer.Option(help="day, week or month.")] = "week",
    summary: Annotated[
        Path | None,
        typer.Option(help="Fit on a CSV/Parquet of frequency, recency, T[, count] instead."),
    ] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Fit a BTYD model (parameters as in the paper, log-likelihood, standard errors)."""
    with errors():
        if summary is not None:
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
