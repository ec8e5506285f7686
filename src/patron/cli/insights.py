"""``patron insights ...``: when to contact, what customers like, how discount-driven they are."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from patron.cli.base import (
    AsOfOption,
    JsonOption,
    WorkspaceOption,
    app,
    emit,
    errors,
    open_workspace,
    parse_date,
)
from patron.errors import InputError
from patron.export import check_target, write_table

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import date

    import ibis
    from rich.console import RenderableType

    from patron.insights.api import Insights

_LABELS = {
    "p25_interval_days": "p25 days",
    "median_interval_days": "median days",
    "p75_interval_days": "p75 days",
    "discount_share": "on discount",
    "mean_score": "score",
    "full_price_aov": "AOV full",
    "discounted_aov": "AOV disc.",
    "shrunk_lift": "lift shrunk",
}
"""Short column headers where the field's name would not fit a terminal."""

insights_app = typer.Typer(
    help="What to do for a customer: when to contact, what they like, how discount-driven.",
    no_args_is_help=True,
)
app.add_typer(insights_app, name="insights")

SegmentOption = Annotated[
    str | None,
    typer.Option(help="Only this segment: Champions, stage=defecting, churn_risk=at_risk, ..."),
]
DimensionOption = Annotated[
    str, typer.Option(help="Segment column to group by: rfm_segment, stage, value_tier, ...")
]
OutOption = Annotated[
    Path | None, typer.Option("--out", help="Also write the per-customer table (.csv/.parquet).")
]


@insights_app.command("timing")
def timing(
    segment: SegmentOption = None,
    as_of: AsOfOption = None,
    out: OutOption = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Time between purchases and the window to nudge a second one.

    With --out, per customer the expected next purchase and the best day to contact."""
    _answer(
        Asked(workspace, as_of, out, as_json),
        lambda ins, day: ins.timing(segment=segment, as_of=day),
        lambda ins, day: ins.next_purchases(segment=segment, as_of=day),
        _timing_text,
    )


@insights_app.command("affinity")
def affinity(
    by: Annotated[str, typer.Option(help="category or brand.")] = "category",
    segment: SegmentOption = None,
    dimension: DimensionOption = "rfm_segment",
    top: Annotated[int, typer.Option(help="Items shown per group.")] = 5,
    min_support: Annotated[int, typer.Option(help="Fewest buyers behind a reported item.")] = 5,
    as_of: AsOfOption = None,
    out: OutOption = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """What each segment leans to (lift over the base rate, with support).

    Also what repeat buyers buy that one-and-done buyers do not, and the gateway first
    purchases and channels."""
    _answer(
        Asked(workspace, as_of, out, as_json),
        lambda ins, day: ins.affinity(
            by=by, segment=segment, dimension=dimension, as_of=day, top=top, min_support=min_support
        ),
        lambda ins, day: ins.customer_affinities(by=by, segment=segment, as_of=day),
        _affinity_text,
    )


@insights_app.command("discount")
def discount(
    dimension: DimensionOption = "rfm_segment",
    experiment: Annotated[
        list[str] | None,
        typer.Option(
            help="NAME or NAME:VARIANT of a discount test whose audience was one group of "
            "--dimension: its measured conversion lift overrides that group's reading. Repeatable."
        ),
    ] = None,
    segment: SegmentOption = None,
    as_of: AsOfOption = None,
    out: OutOption = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Discount sensitivity per segment, and with --out per customer.

    Share bought on discount, full-price vs discounted order value, and the sensitivity score
    (higher: more driven)."""
    _answer(
        Asked(workspace, as_of, out, as_json),
        lambda ins, day: ins.discount(
            dimension=dimension, experiments=experiment or (), segment=segment, as_of=day
        ),
        lambda ins, day: ins.customer_discounts(segment=segment, as_of=day),
        _discount_text,
    )


@insights_app.command("replenishment")
def refills(
    by: Annotated[str, typer.Option(help="sku or category.")] = "sku",
    due_within: Annotated[
        int | None,
        typer.Option(help="List customers whose item is due within DAYS (needs --out)."),
    ] = None,
    min_customers: Annotated[
        int, typer.Option(help="Fewest repeat customers behind a reported item.")
    ] = 5,
    segment: Annotated[
        str | None,
        typer.Option(help="Only this segment's customers in the due list (with --due-within)."),
    ] = None,
    as_of: AsOfOption = None,
    out: OutOption = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Each product's repurchase interval, from customers who bought it repeatedly.

    With --due-within and --out, the customers whose item is due, with the product and due
    date."""
    with errors():
        if (due_within is None) != (out is None):
            raise InputError("--due-within and --out go together: how soon, and where to write")
        if segment is not None and due_within is None:
            # an item's refill cycle is the whole shop's: the segment only picks whom to remind
            raise InputError("--segment picks whom the due list names: give it with --due-within")
    _answer(
        Asked(workspace, as_of, out, as_json),
        lambda ins, day: ins.replenishment(by=by, as_of=day, min_customers=min_customers),
        lambda ins, day: ins.due(
            within=due_within or 0, by=by, segment=segment, as_of=day, min_customers=min_customers
        ),
        _refill_text,
    )


@insights_app.command("backtest")
def backtest(
    split: Annotated[
        str | None, typer.Option(help="Train to this day, test after it [default: 90 days ago].")
    ] = None,
    k: Annotated[int, typer.Option("-k", help="Products recommended per customer.")] = 10,
    as_of: AsOfOption = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """How well `patron recommend` predicts what customers bought next, against best sellers.

    Precision@k, recall@k and hit rate on a time holdout."""
    with errors(), open_workspace(workspace, read_only=True) as ws:
        result = ws.insights.backtest(
            as_of=parse_date(as_of), split=parse_date(split, "--split"), k=k
        )
    emit(result, as_json, _backtest_text)


@insights_app.command("profile")
def profile(
    top: Annotated[float, typer.Option(help="Share of customers called high value.")] = 0.2,
    days: Annotated[int, typer.Option(help="Judge customers acquired this many days ago.")] = 365,
    as_of: AsOfOption = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """The ideal customer profile: high-value customers at their first purchase, against all.

    Channel, category, discount, basket and region of the first purchase."""
    with errors(), open_workspace(workspace, read_only=True) as ws:
        result = ws.insights.profile(as_of=parse_date(as_of), top=top, days=days)
    emit(result, as_json, _profile_text)


@insights_app.command("channels")
def channel_preference(
    dimension: DimensionOption = "rfm_segment",
    window: Annotated[int, typer.Option(help="Days of purchases for the return rate.")] = 365,
    segment: SegmentOption = None,
    as_of: AsOfOption = None,
    out: OutOption = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Preferred purchase and engagement channels, NPS and return rate per segment.

    With --out, per customer the channels they buy and engage in."""
    _answer(
        Asked(workspace, as_of, out, as_json),
        lambda ins, day: ins.channels(
            dimension=dimension, segment=segment, as_of=day, window=window
        ),
        lambda ins, day: ins.customer_channels(segment=segment, as_of=day),
        _channels_text,
    )


@dataclass(frozen=True)
class Asked:
    """What every insight command is asked besides its own options."""

    workspace: Path | None
    as_of: str | None
    out: Path | None
    as_json: bool


def _answer(
    asked: Asked,
    summary: Callable[[Insights, date | None], dict[str, Any]],
    per_customer: Callable[[Insights, date | None], ibis.Table],
    text: Callable[[dict[str, Any]], RenderableType],
) -> None:
    """Print the ``summary``; with ``--out``, also write the ``per_customer`` table."""
    with errors(), open_workspace(asked.workspace, read_only=True) as ws:
        if asked.out is not None:
            check_target(asked.out)  # before the summary is worked out
        day = parse_date(asked.as_of)
        result = summary(ws.insights, day)
        if asked.out is not None:
            result["written"] = _write(per_customer(ws.insights, day), asked.out)
    emit(result, asked.as_json, text)


def _write(table: ibis.Table, out: Path) -> dict[str, Any]:
    write_table(table, out)
    return {"out": str(out), "rows": int(table.count().to_pyarrow().as_py())}


def _timing_text(r: dict[str, Any]) -> Table:
    whom = f" of {r['segment']}" if r["segment"] else ""
    steps = _table(
        f"Days between purchases{whom} (as of {r['as_of']})",
        r["steps"],
        {"step": "{}", "gaps": "{:,}", "p25": "{:.0f}", "median": "{:.0f}", "p75": "{:.0f}"},
    )
    window = r["nudge_window"]
    notes = [
        f"{r['second_purchases']:,} of {r['customers']:,} customers bought a second time",
        f"nudge window: day {window['from_day']} to {window['to_day']} after the first purchase"
        if window
        else "no second purchases yet: no nudge window",
    ]
    if r["hazard_drop_day"] is not None:
        notes.append(
            f"second-purchase hazard peaks in week {r['hazard_peak_week']} and halves by day "
            f"{r['hazard_drop_day']}: nudge before then"
        )
    notes += _written(r)
    steps.caption = "\n".join(notes)
    return steps


def _affinity_text(r: dict[str, Any]) -> Table:
    table = _table(
        f"{r['by'].title()} affinity by {r['dimension']} (as of {r['as_of']})",
        r["groups"],
        {
            "group": "{}",
            "item": "{}",
            "support": "{:,}",
            "share": "{:.1%}",
            "lift": "{:.2f}",
            "shrunk_lift": "{:.2f}",
        },
    )
    repeat = r["repeat"]["items"][:3]
    gates = r["gateways"]["items"][:3]
    table.caption = "\n".join(
        [
            "repeat buyers lean to: " + _names(repeat, "item", "lift", "{:.2f}x"),
            "best first purchases for repeat: " + _names(gates, "name", "repeat_rate", "{:.0%}"),
            *_written(r),
        ]
    )
    return table


def _discount_text(r: dict[str, Any]) -> Table:
    rows = [{**row, "response": _response(row)} for row in r["segments"]]
    table = _table(
        f"Discount sensitivity by {r['dimension']}{_of(r)} (as of {r['as_of']})",
        rows,
        {
            "segment": "{}",
            "customers": "{:,}",
            "discount_share": "{:.0%}",
            "mean_score": "{:.2f}",
            "full_price_aov": "{:,.2f}",
            "discounted_aov": "{:,.2f}",
            "response": "{}",
        },
    )
    bands = ", ".join(f"{band} {n:,}" for band, n in sorted(r["bands"].items()))
    table.caption = "\n".join([f"customers by band: {bands}", *_written(r)])
    return table


def _refill_text(r: dict[str, Any]) -> Table:
    items = r.get("products", r.get("categories", []))
    shown = sorted(items, key=lambda row: (not row["regular"], -row["customers"]))[:20]
    table = _table(
        f"Repurchase intervals by {r['by']} (as of {r['as_of']})",
        shown,
        {
            r["by"]: "{}",
            "customers": "{:,}",
            "p25_interval_days": "{:.0f}",
            "median_interval_days": "{:.0f}",
            "p75_interval_days": "{:.0f}",
            "spread": "{:.2f}",
            "regular": "{}",
        },
    )
    regular = sum(1 for row in items if row["regular"])
    notes = [f"{len(items)} reported, {regular} regular (a refill cycle; only these fall due)"]
    table.caption = "\n".join([*notes, *_written(r)])
    return table


def _backtest_text(r: dict[str, Any]) -> Table:
    rows = [{"ranking": name, **r[name]} for name in ("model", "popularity")]
    table = _table(
        f"Recommendations bought after {r['split']}, to {r['as_of']} (top {r['k']} per customer)",
        rows,
        {"ranking": "{}", "precision": "{:.1%}", "recall": "{:.1%}", "hit_rate": "{:.1%}"},
    )
    table.caption = f"{r['customers']:,} customers who bought before and after {r['split']}"
    return table


def _profile_text(r: dict[str, Any]) -> Table:
    rows = [*r["levels"], *r["numbers"]]
    rows.sort(key=_by_rank)
    table = _table(
        f"High value (top {r['top']:.0%} by {r['measure'].replace('_', ' ')}) vs the rest, "
        f"customers acquired by {r['acquired_by']}",
        [{**row, "level": row.get("level", "(mean)"), "effect": _effect(row)} for row in rows[:12]],
        {"feature": "{}", "level": "{}", "effect": "{}", "size": "{}"},
    )
    table.caption = "\n".join(r["findings"][:5]) or "no difference stands out from chance"
    return table


def _by_rank(row: dict[str, Any]) -> tuple[bool, int]:
    """Ranked rows first, in rank order; a row without an effect size (a number nobody's
    value varies in, a side of one customer) has no rank and comes last."""
    return row["rank"] is None, row["rank"] or 0


def _effect(row: dict[str, Any]) -> str:
    if "cohens_h" in row:
        return _cell(row["cohens_h"], "h {:+.2f}")
    return _cell(row["cohens_d"], "d {:+.2f}")


def _channels_text(r: dict[str, Any]) -> Table:
    table = _table(
        f"Experience by {r['dimension']}{_of(r)} (as of {r['as_of']})",
        r["experience"],
        {
            "segment": "{}",
            "customers": "{:,}",
            "respondents": "{:,}",
            "nps": "{:+.0f}",
            "return_rate": "{:.1%}",
        },
    )
    top = [p for p in r["preferences"] if p["kind"] == "purchase"]
    best = {p["segment"]: p for p in reversed(top)}
    lines = [f"{seg} buys mostly {p['channel']} ({p['share']:.0%})" for seg, p in best.items()]
    table.caption = "\n".join([*sorted(lines), *_written(r)])
    return table


def _response(row: dict[str, Any]) -> str:
    """The response band, marked when an experiment measured it."""
    tested = row["response_source"] == "experiment"
    return f"{row['discount_response']} (tested)" if tested else row["discount_response"]


def _table(title: str, rows: list[dict[str, Any]], columns: dict[str, str]) -> Table:
    """A rich table of ``rows`` with one column per key of ``columns`` (its format)."""
    table = Table(title=title, caption_justify="left")
    for name in columns:
        label = _LABELS.get(name, name.replace("_", " "))
        table.add_column(label, justify="left" if columns[name] == "{}" else "right")
    for row in rows:
        table.add_row(*(_cell(row.get(name), fmt) for name, fmt in columns.items()))
    return table


def _cell(value: Any, fmt: str) -> str:
    return "" if value is None else fmt.format(value)


def _names(rows: list[dict[str, Any]], name: str, value: str, fmt: str) -> str:
    return ", ".join(f"{r[name]} ({_cell(r[value], fmt)})" for r in rows) or "nothing stands out"


def _of(r: dict[str, Any]) -> str:
    """ " of SEGMENT" for a summary kept to one segment, else nothing."""
    return f" of {r['segment']}" if r.get("segment") else ""


def _written(r: dict[str, Any]) -> list[str]:
    w = r.get("written")
    return [f"wrote {w['rows']:,} rows to {w['out']}"] if w else []
