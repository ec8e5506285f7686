"""``patron experiment ...``: create, assign, analyze, size and list controlled tests."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from patron.cli.base import (
    JsonOption,
    WorkspaceOption,
    app,
    emit,
    errors,
    open_workspace,
    out,
    parse_date,
    print_json,
)
from patron.defaults import ALL, METRICS
from patron.errors import InputError

experiment_app = typer.Typer(
    help="Controlled tests: random, stable assignment; lift with honest statistics.",
    no_args_is_help=True,
)
app.add_typer(experiment_app, name="experiment")

AlphaOption = Annotated[float, typer.Option(help="Significance level (two-sided).")]


@experiment_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="A new experiment's name (also its default salt).")],
    audience: Annotated[
        str,
        typer.Option(
            help="A segment (Champions, stage=defecting, churn_risk=at_risk), 'all', or a file "
            "of identifiers (customer_key, customer_id, email, phone, loyalty_id or identifier)."
        ),
    ] = ALL,
    variants: Annotated[
        str, typer.Option(help="Groups and weights, e.g. control:50,treatment:50.")
    ] = "control:50,treatment:50",
    holdout: Annotated[
        float, typer.Option(help="Percent of the audience held out (gets nothing; the baseline).")
    ] = 0.0,
    salt: Annotated[str | None, typer.Option(help="Hash salt [default: the name].")] = None,
    start: Annotated[
        str | None, typer.Option(help="Exposure day, YYYY-MM-DD (default: today).")
    ] = None,
    end: Annotated[str | None, typer.Option(help="Last day outcomes count, YYYY-MM-DD.")] = None,
    metric: Annotated[
        str, typer.Option(help=f"Goal metric: {', '.join(METRICS)} or event:TYPE.")
    ] = "conversion",
    window: Annotated[int, typer.Option(help="Days after exposure the goal is measured.")] = 30,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create an experiment: assign the audience by salted hash and record who got what."""
    with errors(), open_workspace(workspace) as ws:
        if not 0 <= holdout < 100:  # the option is in percent, the Python API's a share
            raise InputError(f"--holdout must be a percentage from 0 to under 100, got {holdout:g}")
        summary = ws.create_experiment(
            name,
            audience=audience,
            variants=variants,
            holdout=holdout / 100,
            salt=salt,
            start=parse_date(start, "--start"),
            end=parse_date(end, "--end"),
            metric=metric,
            window=window,
        )
    if as_json:
        print_json(summary)
        return
    table = Table("group", "share", "customers", title=f"Experiment {name}: {summary['audience']}")
    for g in summary["groups"]:
        table.add_row(g["name"], f"{g['share']:.1%}", f"{g['customers']:,}")
    out.print(table)
    if summary["unmatched"]:
        out.print(f"{summary['unmatched']:,} identifier(s) in the file matched no customer")
    out.print(
        f"exposure {summary['start']}; export with: patron experiment assign {name} --out FILE"
    )


@experiment_app.command("assign")
def assign(
    name: Annotated[str, typer.Argument(help="The experiment.")],
    out_file: Annotated[Path, typer.Option("--out", help="CSV or Parquet file to write.")],
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Export who gets what (customer key, identifiers, variant) for the email tool."""
    with errors(), open_workspace(workspace, read_only=True) as ws:
        rows = ws.export_assignments(name, out_file)
    result = {"experiment": name, "out": str(out_file), "rows": rows}
    if as_json:
        print_json(result)
    else:
        out.print(f"wrote {rows:,} assignments of {name} to {out_file}")


@experiment_app.command("list")
def listing(workspace: WorkspaceOption = None, as_json: JsonOption = False) -> None:
    """Every experiment: audience, groups, dates."""
    with errors(), open_workspace(workspace, read_only=True) as ws:
        found = ws.experiments()
    if as_json:
        print_json(found)
        return
    table = Table("name", "audience", "customers", "variants", "holdout", "start", "end")
    for e in found:
        table.add_row(
            e["name"],
            e["audience"],
            f"{e['audience_size']:,}",
            e["variants"],
            f"{e['holdout']:.0%}",
            e["start"],
            e["end"] or "-",
        )
    out.print(table)


@experiment_app.command("analyze")
def analyze(
    name: Annotated[str | None, typer.Argument(help="The experiment (or --assignments).")] = None,
    metric: Annotated[
        str | None,
        typer.Option(
            help="Goal metric [default: the experiment's; conversion for a file].",
            show_default=False,
        ),
    ] = None,
    window: Annotated[
        int | None,
        typer.Option(
            help="Days after each exposure that count [default: the experiment's; 30].",
            show_default=False,
        ),
    ] = None,
    cuped: Annotated[
        bool, typer.Option(help="Reduce variance with a pre-period covariate.")
    ] = False,
    covariate: Annotated[
        str | None, typer.Option(help="CUPED's covariate metric [default: the goal metric].")
    ] = None,
    pre_days: Annotated[int, typer.Option(help="Days before exposure the covariate reads.")] = 365,
    sequential: Annotated[
        bool, typer.Option(help="Always-valid intervals: look as often as you like.")
    ] = False,
    alpha: AlphaOption = 0.05,
    mde: Annotated[
        float, typer.Option(help="Smallest relative change worth finding (0.05 = 5%).")
    ] = 0.05,
    horizon: Annotated[
        int | None, typer.Option(help="Days to project incremental value over [default: window].")
    ] = None,
    assignments: Annotated[
        Path | None,
        typer.Option(help="A test run elsewhere: file of identifier, variant[, assigned_at]."),
    ] = None,
    start: Annotated[
        str | None, typer.Option(help="With --assignments and no assigned_at: exposure day.")
    ] = None,
    variants: Annotated[
        str | None, typer.Option(help="With --assignments: intended weights (default equal).")
    ] = None,
    baseline: Annotated[
        str | None, typer.Option(help="With --assignments: the group others are compared to.")
    ] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Read out an experiment: lift per group with intervals, SRM check, guardrails, verdict."""
    from patron.experiments.analyze import Question
    from patron.experiments.readout import Settings

    with errors():
        if (name is None) == (assignments is None):
            raise InputError("name an experiment or pass --assignments FILE (not both)")
        question = Question(
            metric=metric,
            window_days=window,
            pre_days=pre_days,
            cuped=cuped,
            covariate=covariate,
            settings=Settings(alpha=alpha, mde=mde, sequential=sequential),
            horizon_days=horizon,
        )
        with open_workspace(workspace, read_only=True) as ws:  # a readout writes nothing
            timezone = ws.config.timezone
            readout = ws.analyze_experiment(
                name,
                assignments_file=assignments,
                question=question,
                start=parse_date(start, "--start"),
                variants=variants,
                baseline=baseline,
            )
    if as_json:
        print_json(readout)
        return
    _print_readout(readout, timezone)


def _print_readout(r: dict[str, Any], timezone: str) -> None:
    from patron.experiments.design import last_day

    title = (
        f"{r['experiment']}: {r['metric']} over {r['window_days']} days after exposure "
        f"(data through {last_day(r['through'], timezone)})"
    )
    out.print(_variants_table(title, r["variants"], r["alpha"]))
    for guard in r["guardrails"]:
        out.print(_variants_table(f"guardrail: {guard['metric']}", guard["variants"], r["alpha"]))
    notes = [] if r["srm_p_value"] is None else [f"sample ratio check p = {r['srm_p_value']:.3g}"]
    if r["cuped"]:
        c = r["cuped"]
        notes.append(
            f"CUPED on pre-period {c['covariate']}: variance down {c['variance_reduction']:.0%}"
        )
    if r["sequential"]:
        notes.append("sequential: " + r["sequential"]["method"])
    if r["correction"]:
        notes.append("p-values Holm-adjusted, intervals Bonferroni-widened")
    notes += _left_out(r)
    for group, value in (r["incremental_value"] or {}).items():
        lo, hi = value["ci"]
        notes.append(
            f"incremental {r['metric']} if all {sum(v['n'] for v in r['variants']):,} got "
            f"{group}: {value['value']:,.0f} ({lo:,.0f} to {hi:,.0f}) over {r['horizon_days']} days"
        )
    risk = r["clv_at_risk"]
    for group, value in (risk or {}).get("by_variant", {}).items():
        notes.append(
            f"CLV at risk from {group}'s extra unsubscribes (upper bound, mean CLV "
            f"{risk['mean_clv']:,.2f}): {value['value']:,.0f} ({value['ci'][0]:,.0f} to "
            f"{value['ci'][1]:,.0f})"
        )
    out.print("\n".join(notes), highlight=False)
    out.print(f"[bold]{r['verdict']}[/bold]", highlight=False)


def _left_out(r: dict[str, Any]) -> list[str]:
    """Who the readout did not count, and why (their numbers are in the JSON too)."""
    merges = r.get("merges") or {}
    said = {
        "not yet exposed when the data end": r.get("not_yet_exposed") or 0,
        "assigned to two groups under keys later merged": merges.get("contaminated") or 0,
        "dissolved since (every identifier blocked)": merges.get("dissolved") or 0,
    }
    notes = [f"left out: {n:,} customer(s) {why}" for why, n in said.items() if n]
    if merges.get("followed"):
        notes.append(f"{merges['followed']:,} assigned key(s) read under the key they merged into")
    return notes


def _variants_table(title: str, rows: list[dict[str, Any]], alpha: float) -> Table:
    level = f"{1 - alpha:.0%}"
    table = Table("group", "n", "mean", "lift", f"relative ({level})", "p", "P(beat)", title=title)
    for v in rows:
        if v["p_value"] is None:
            mean = "-" if v["mean"] is None else f"{v['mean']:.4g}"
            table.add_row(v["name"], f"{v['n']:,}", mean, "-", "-", "-", "-")
            continue
        table.add_row(
            v["name"],
            f"{v['n']:,}",
            f"{v['mean']:.4g}",
            f"{v['lift']:+.4g}",
            _relative(v),
            f"{v['p_value_adjusted']:.3g}",
            f"{v['chance_to_beat_control']:.0%}",
        )
    return table


def _relative(row: dict[str, Any]) -> str:
    if row["relative_lift"] is None:
        return "- (baseline is 0)"
    lo, hi = row["relative_lift_ci"]
    return f"{row['relative_lift']:+.1%} ({lo:+.1%}, {hi:+.1%})"


@experiment_app.command("power")
def power(
    baseline: Annotated[
        float, typer.Option(help="Baseline conversion rate (0-1), or mean with --sd.")
    ],
    mde: Annotated[float, typer.Option(help="Relative change to detect (0.10 = +10%).")],
    sd: Annotated[
        float | None, typer.Option(help="Per-customer standard deviation (a mean metric).")
    ] = None,
    alpha: AlphaOption = 0.05,
    power_: Annotated[float, typer.Option("--power", help="Chance to detect the change.")] = 0.8,
    variants: Annotated[int, typer.Option(help="Groups including the baseline.")] = 2,
    audience: Annotated[
        int | None, typer.Option(help="Customers available: is it enough, and what it can detect.")
    ] = None,
    per_day: Annotated[
        float | None, typer.Option(help="Customers entering per day: how many days to run.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Customers per group to detect a change (no workspace needed)."""
    from patron.experiments.plan import plan

    with errors():
        result = plan(
            baseline,
            mde,
            sd=sd,
            alpha=alpha,
            power=power_,
            variants=variants,
            audience=audience,
            per_day=per_day,
        )
    if as_json:
        print_json(result)
        return
    lines = [
        f"{result['n_per_variant']:,} customers per group, {result['total']:,} in all, to detect "
        f"{mde:+.0%} with {power_:.0%} power at alpha {alpha:g}"
    ]
    if result["audience"] is not None:
        a = result["audience"]
        verdict = "enough" if a["enough"] else "not enough"
        detect = a["mde"]
        lines.append(
            f"audience of {audience:,}: {verdict}; it can detect "
            + (f"{detect:+.1%}" if detect is not None else "no change at this power")
        )
    if result["days"] is not None:
        lines.append(f"at {per_day:g} customers a day: {result['days']:,} days")
    out.print("\n".join(lines), highlight=False)


@experiment_app.command("delete")
def delete(
    name: Annotated[str, typer.Argument(help="The experiment to remove, with its assignments.")],
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Remove an experiment and its recorded assignments."""
    with errors(), open_workspace(workspace) as ws:
        ws.delete_experiment(name)
    emit({"deleted": name}, as_json, lambda r: f"deleted experiment {r['deleted']}")
