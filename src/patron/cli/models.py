"""Commands that fit customer-base models, score and validate them: fit, predict, validate."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from patron.cli.base import (
    AsOfOption,
    DiscountRateOption,
    HorizonOption,
    JsonOption,
    MarginOption,
    TimeUnitOption,
    WorkspaceOption,
    app,
    err,
    errors,
    open_workspace,
    out,
    parse_date,
    print_json,
)
from patron.defaults import PREDICT_MODEL
from patron.errors import InputError
from patron.export import check_target, in_currency, write_table
from patron.money import amount, decimals
from patron.predictions import MONEY, Horizon

PenalizerOption = Annotated[
    float,
    typer.Option(help="L2 penalty on the parameters, e.g. 0.001 when they run off (0: none)."),
]


@app.command()
def fit(
    model: Annotated[
        str,
        typer.Option(
            help="bgnbd, pnbd, mbgnbd, gg (Gamma-Gamma), bgbb, sbg (with --survival) or all."
        ),
    ] = "bgnbd",
    calibration_end: Annotated[
        str | None,
        typer.Option(help="Fit on the customers and purchases up to this day (YYYY-MM-DD)."),
    ] = None,
    time_unit: Annotated[
        str | None,
        typer.Option(help="Model time unit: day, week (the default) or month."),
    ] = None,
    summary: Annotated[
        Path | None,
        typer.Option(help="Fit on a CSV/Parquet of frequency, recency, T[, count] instead."),
    ] = None,
    survival: Annotated[
        str | None, typer.Option(help="sBG: a cohort's survivors per period, e.g. 1000,631,468.")
    ] = None,
    horizon: Annotated[
        int | None, typer.Option(help="sBG: periods to project past the survivors (default 5).")
    ] = None,
    discount_rate: Annotated[
        float | None,
        typer.Option(help="sBG: discount rate per period, for the discounted expected lifetime."),
    ] = None,
    penalizer: PenalizerOption = 0.0,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Fit a BTYD model (parameters as in the paper, log-likelihood, standard errors).

    ``--model all`` fits every model the data allows and ranks the purchase models by BIC.
    Parameters the data do not pin down are named, with what to do about them. sBG projects
    the cohort: survivors, S(t) and r(t) per period, and its expected lifetime.
    """
    from patron import clv  # the models load when a command runs, not for --help

    with errors():
        _check_penalizer(penalizer)
        _check_source(summary or survival, calibration_end, time_unit)
        _check_projection(model, horizon, discount_rate)
        failed: dict[str, str] = {}
        if model == "sbg" or survival is not None:
            counts = _survivors(model, survival, summary)
            fitted = clv.fit_survival(counts, penalizer=penalizer)
            fits: dict[str, Any] = {"sbg": fitted}
            context: dict[str, Any] = {
                "survival": survival,
                **clv.survival_projection(
                    fitted,
                    counts,
                    horizon=clv.PROJECTED_PERIODS if horizon is None else horizon,
                    discount_rate=discount_rate,
                ),
            }
        elif summary is not None:
            tables = {  # read first: a bad row is an error for every model, never a skip
                name: clv.read_summary(summary, name)
                for name in _chosen(model, clv.summary_models(summary))
            }
            fits, failed = _fit_each(
                tables, lambda name: clv.fit_rows(name, tables[name], penalizer=penalizer)
            )
            context = {"summary": str(summary), "columns": clv.summary_columns(summary)}
        else:
            unit = time_unit or "week"
            with open_workspace(workspace, read_only=True) as ws:
                day = ws.as_of(parse_date(calibration_end, "--calibration-end"))
                fits, failed = _fit_each(
                    _chosen(model, tuple(clv.MODELS)),
                    lambda name: ws.fit(
                        name, calibration_end=day, time_unit=unit, penalizer=penalizer
                    ),
                )
            context = {"calibration_end": day.isoformat(), "time_unit": unit}
        reports = [clv.fit_report(fitted, name, **context) for name, fitted in fits.items()]
    if model == "all":
        _print_comparison(reports, _skipped(fits) | failed, as_json)
    elif as_json:
        print_json(reports[0])
    else:
        _print_fit(reports[0])


def _survivors(model: str, survival: str | None, summary: Path | None) -> str:
    """The --survival counts sBG fits, alone: a workspace's orders and a summary file hold
    purchases, not renewals of a contract."""
    if survival is None:
        raise InputError(
            "--model sbg fits a cohort's survivors per period: pass --survival 1000,631,468,... "
            "(a workspace's orders or a summary file hold purchases, not renewals)"
        )
    if model != "sbg":
        raise InputError("--survival goes with --model sbg")
    if summary is not None:
        raise InputError(
            "give --survival or --summary, not both: sbg fits the survivors, the others a summary"
        )
    return survival


def _check_source(given: object, calibration_end: str | None, time_unit: str | None) -> None:
    """Refuse the workspace's options beside a --summary file or --survival counts, which
    bring their own periods: they would be ignored without a word."""
    if given is None:
        return
    ignored = [
        name
        for name, value in (("--calibration-end", calibration_end), ("--time-unit", time_unit))
        if value is not None
    ]
    if ignored:
        raise InputError(
            f"{' and '.join(ignored)} {'choose' if len(ignored) > 1 else 'chooses'} what to fit "
            "among the workspace's orders; a --summary file or --survival counts are already in "
            "their own time unit"
        )


def _check_projection(model: str, horizon: int | None, discount_rate: float | None) -> None:
    """Refuse sBG's projection options beside the other models, which would ignore them."""
    if model != "sbg" and (horizon is not None or discount_rate is not None):
        raise InputError(
            "--horizon and --discount-rate project a cohort's survivors: they go with "
            "--model sbg --survival N0,N1,..."
        )


def _check_penalizer(penalizer: float) -> None:
    """The option's own words; the models check the value too, in the Python API's."""
    if penalizer < 0:
        raise InputError("--penalizer must be 0 (none) or more")


def _fit_each(
    names: Iterable[str], fit_one: Callable[[str], Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Each model of ``names`` fitted, and why any was left out. With ``--model all`` a model
    the data give nothing to fit (Gamma-Gamma where nobody has bought twice, BG/BB before a
    whole period has ended) is reported as not fitted instead of failing the others with it;
    when no model fits, the first one's error is the command's."""
    fits: dict[str, Any] = {}
    failed: dict[str, InputError] = {}
    for name in names:
        try:
            fits[name] = fit_one(name)
        except InputError as exc:
            failed[name] = exc
    if failed and not fits:
        raise next(iter(failed.values()))
    return fits, {name: str(exc) for name, exc in failed.items()}


def _chosen(model: str, available: tuple[str, ...]) -> tuple[str, ...]:
    from patron import clv

    if model != "all":
        return (clv.model_name(model),)  # as patron names it; an unknown one is refused
    return available


def _print_fit(report: dict[str, Any]) -> None:
    table = Table("parameter", "estimate", "std. error", title=_title(report))
    for name, value in report["params"].items():
        table.add_row(name, f"{value:.4g}", f"{report['std_errors'][name]:.3g}")
    out.print(table)
    _note_unidentified(report)
    if "projection" in report:
        _print_projection(report)


def _print_projection(report: dict[str, Any]) -> None:
    """The cohort's survivors per period, observed and projected, as Fader & Hardie (2007)
    show them, so the fit is seen beside the projection; then its expected lifetime."""
    rows = report["projection"]
    table = Table(
        "period", "observed", "projected", "error", "S(t)", "r(t)",
        title=f"Projected: {report['horizon']} periods past the data",
    )  # fmt: skip
    for row in rows:
        seen, projected, rate = row["observed"], row["projected"], row["retention"]
        table.add_row(
            str(row["period"]),
            "" if seen is None else f"{seen:,}",
            f"{projected:,.1f}",
            "" if seen is None else f"{projected - seen:+,.1f}",
            f"{row['survival']:.4f}",
            "" if rate is None else f"{rate:.4f}",
        )
    out.print(table)
    out.print(
        f"Expected lifetime over periods 1-{rows[-1]['period']}: "
        f"{_periods(report['expected_lifetime'])}"
    )
    if "discount_rate" in report:
        out.print(
            f"Discounted expected lifetime (DEL) at {report['discount_rate']:g} a period, no "
            f"horizon: {_periods(report['discounted_expected_lifetime'])}"
        )


def _periods(lifetime: float) -> str:
    """A lifetime in periods; without a discount or a horizon it has no bound when alpha <= 1."""
    return f"{lifetime:,.3f} periods" if lifetime < float("inf") else "infinite (alpha <= 1)"


def _note_unidentified(report: dict[str, Any]) -> None:
    """Say which parameters the data leave free, and what helps (:func:`clv.unidentified`)."""
    from patron import clv

    if report["unidentified"]:
        err.print(
            f"[yellow]note:[/yellow] {report['model']}: the data do not pin down "
            f"{', '.join(report['unidentified'])} (the likelihood is nearly flat along a "
            f"direction that moves them: their log's standard error exceeds {clv.UNIDENTIFIED:g}, "
            "whatever the table's shows); its predictions are unreliable. Fit on more "
            "customers or a longer history, or pass --penalizer 0.001 (or more).",
            markup=True,
            highlight=False,
        )


SKIPPED = {
    "gg": "no monetary_value column (the mean spend of the repeat purchases)",
    "bgbb": "a summary file's recency and T are rarely whole periods; when they are, run "
    "--model bgbb --summary FILE",
    "sbg": "it fits a cohort's survivors, not purchase histories: --model sbg --survival N0,N1,...",
}
"""Why ``--model all`` leaves a model out, when it does."""


def _skipped(fits: dict[str, Any]) -> dict[str, str]:
    return {name: why for name, why in SKIPPED.items() if name not in fits}


def _print_comparison(
    reports: list[dict[str, Any]], skipped: dict[str, str], as_json: bool
) -> None:
    """Every fit, with the purchase model the BIC prefers (the others fit other data), and
    the models left out, with why."""
    from patron import clv

    best = clv.best_by_bic(reports)
    if as_json:
        print_json({"models": reports, "best": best, "skipped": skipped})
        return
    table = Table("model", "parameters", "log-likelihood", "BIC", title="Models fitted")
    for report in reports:
        params = ", ".join(f"{k} {v:.4g}" for k, v in report["params"].items())
        mark = " (best)" if report["model"] == best else ""
        table.add_row(
            report["model"] + mark, params, f"{report['loglik']:,.1f}", f"{report['bic']:,.1f}"
        )
    out.print(table)
    for report in reports:
        _note_unidentified(report)
    if best:
        out.print(f"Lowest BIC among the purchase models ({', '.join(clv.HISTORY_MODELS)}): {best}")
    for name, why in skipped.items():
        out.print(f"Not fitted: {name}: {why}", highlight=False)


def _title(report: dict[str, Any]) -> str:
    return (
        f"{report['model']}: {report['n_customers']:,} customers in {report['unique_rows']:,} "
        f"distinct rows, log-likelihood {report['loglik']:,.1f}"
    )


@app.command()
def predict(
    as_of: AsOfOption = None,
    time_unit: TimeUnitOption = "week",
    horizon: HorizonOption = 52,
    discount_rate: DiscountRateOption = 0.0,
    margin: MarginOption = 1.0,
    model: Annotated[
        str, typer.Option(help="Purchase model: mbgnbd, bgnbd or pnbd (see docs/models.md).")
    ] = PREDICT_MODEL,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write one row per customer (.parquet or .csv).")
    ] = None,
    store: Annotated[
        bool, typer.Option(help="Keep them in the workspace for segments, exports and report.")
    ] = True,
    penalizer: PenalizerOption = 0.0,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Per customer P(alive), expected purchases, next purchase, spend and CLV (90% intervals).

    Stored in the workspace unless --no-store."""
    from patron import clv

    with errors():
        _check_penalizer(penalizer)
        if out_file is not None:
            check_target(out_file)
        model = clv.model_name(model)  # "PNBD", "pareto": reported as patron names it
        settings = Horizon(periods=horizon, discount_rate=discount_rate, margin=margin)
        with open_workspace(workspace, read_only=not store) as ws:
            day = ws.as_of(parse_date(as_of))
            table = ws.predict(
                as_of=day,
                time_unit=time_unit,
                horizon=settings,
                model=model,
                store=store,
                penalizer=penalizer,
            )
            currency = ws.config.currency
            if out_file is not None:
                write_table(_for_file(table, currency), out_file)
            totals = _in_money(_totals(table), currency)
    report = {
        "model": model,
        "penalizer": penalizer,
        "as_of": day.isoformat(),
        "time_unit": time_unit,
        "horizon": horizon,
        "discount_rate": discount_rate,
        "margin": margin,
        "currency": currency,
        **totals,
        "out": None if out_file is None else str(out_file),
        "stored": store,
    }
    if as_json:
        print_json(report)
        return
    out.print(
        f"{report['customers']:,} customers as of {report['as_of']}: "
        f"{report['expected_purchases']:,.0f} purchases expected in the next {horizon} "
        f"{time_unit}s; customer equity {amount(report['customer_equity'], currency)} "
        f"({amount(report['customer_equity_low'], currency)} to "
        f"{amount(report['customer_equity_high'], currency)}); "
        f"{report['at_risk']:,} at risk and {report['likely_lost']:,} likely lost by P(alive)"
        + ("; stored for segments, exports and the report" if store else "")
    )
    if report["unscored"]:
        err.print(
            f"[yellow]note:[/yellow] {report['unscored']:,} customers got no numeric prediction "
            "(left out of the totals): see the warning above",
            markup=True,
            highlight=False,
        )


def _for_file(table: Any, currency: str) -> Any:
    """What ``--out`` writes: the predictions with money in ``currency``'s decimals, and
    without the stored table's ``load`` (which run scored them, bookkeeping for staleness): a
    ``--no-store`` run has none, so the file's columns changed with ``--store`` and an email
    tool's import mapping broke."""
    kept = table.drop("load") if "load" in table.columns else table
    return in_currency(kept, MONEY, currency)


EQUITY = ("customer_equity", "customer_equity_low", "customer_equity_high")
"""The totals in money: sums of the customers' CLV and its bounds."""


def _in_money(totals: dict[str, Any], currency: str) -> dict[str, Any]:
    """``totals`` with ``EQUITY`` rounded to ``currency``'s decimals: summed as float64 they
    read 12944.760289383556 dollars."""
    return totals | {name: round(totals[name], decimals(currency)) for name in EQUITY}


def _totals(table: Any) -> dict[str, Any]:
    """The prediction run in a few numbers, over the customers with numeric predictions: a
    special function that fails (NaN, ``unscored``) would make every sum NaN."""
    bad = table.expected_purchases.isnan() | table.clv_low.isnan() | table.clv_high.isnan()
    ok = ~bad
    return dict(
        table.aggregate(
            customers=table.count(),
            unscored=table.count(where=bad),
            expected_purchases=table.expected_purchases.sum(where=ok).fill_null(0.0),
            customer_equity=table.clv.sum(where=ok).fill_null(0.0),
            customer_equity_low=table.clv_low.sum(where=ok).fill_null(0.0),
            customer_equity_high=table.clv_high.sum(where=ok).fill_null(0.0),
            p_alive_mean=table.p_alive.mean(where=ok),
            at_risk=table.count(where=table.churn_risk == "at_risk"),
            likely_lost=table.count(where=table.churn_risk == "likely_lost"),
        )
        .to_pyarrow()
        .to_pylist()[0]
    )


@app.command()
def validate(
    calibration_end: Annotated[str, typer.Option(help="Fit on purchases up to this day.")],
    holdout_end: Annotated[
        str | None, typer.Option(help="Compare with purchases up to this day (default: the last).")
    ] = None,
    time_unit: TimeUnitOption = "week",
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
        "model", "BIC", "MAE", "correlation", "predicted", "actual", title=_holdout_title(report)
    )
    for row in report["models"]:
        table.add_row(
            row["model"] + (" (best)" if row["model"] == report["best"] else ""),
            f"{row['bic']:,.1f}" if "bic" in row else "-",
            f"{row['mae']:.3f}",
            _correlation(row["correlation"]),
            f"{row['holdout_predicted']:,.0f}",
            f"{row['holdout_actual']:,.0f}",
        )
    out.print(table)
    names = [row["model"] for row in report["models"]]
    by_frequency = Table("frequency", "customers", "actual", *names)
    for row in report["conditional"]:
        by_frequency.add_row(
            row["frequency"],
            f"{row['customers']:,}",
            *(f"{row[k]:.2f}" for k in ("actual", *names)),
        )
    out.print(by_frequency)
    fitted = [name for name in names if name != "naive"]  # the baseline fits no distribution
    counts = Table("repeat purchases", "actual", *fitted, title="Customers by repeat purchases")
    for row in report["frequencies"]:
        counts.add_row(row["frequency"], *(f"{row[k]:,.0f}" for k in ("actual", *fitted)))
    out.print(counts)
    out.print(f"Lowest holdout MAE: {report['best']}")


def _correlation(value: float | None) -> str:
    """A correlation to three places, or "-" where it has none (no holdout purchase, or one
    side constant: the JSON's null), as the report shows it; never "nan"."""
    return f"{value:.3f}" if value is not None and math.isfinite(value) else "-"


def _holdout_title(report: dict[str, object]) -> str:
    return (
        f"{report['customers']:,} customers; holdout {report['calibration_end']} to "
        f"{report['holdout_end']} ({report['holdout_periods']:.0f} {report['time_unit']}s)"
    )
