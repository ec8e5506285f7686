"""``patron recommend`` and ``patron offers``: what to put in front of each customer."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

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
from patron.cli.insights import SegmentOption
from patron.defaults import RECENT_DAYS, K
from patron.export import check_target, write_table

RecentOption = Annotated[
    int, typer.Option(help="Leave out items the customer bought in the last DAYS (0: keep).")
]
ExcludeOption = Annotated[
    list[str] | None, typer.Option("--exclude-category", help="Never offer this category.")
]


@app.command("recommend")
def recommend(
    identifier: Annotated[str, typer.Argument(help="Email, phone, customer id or key.")],
    k: Annotated[int, typer.Option("-k", help="How many products.")] = K,
    recent_days: RecentOption = RECENT_DAYS,
    exclude_category: ExcludeOption = None,
    as_of: AsOfOption = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Next best products for one customer, each with the reason.

    From what other customers buy together; in stock and not bought lately."""
    with errors(), open_workspace(workspace, read_only=True) as ws:
        table = ws.insights.recommend(
            identifier,
            as_of=parse_date(as_of),
            k=k,
            recent_days=recent_days,
            exclude_categories=exclude_category or (),
        )
        rows = table.to_pyarrow().to_pylist()
    result = {"identifier": identifier, "items": rows}
    emit(result, as_json, _recommend_text)


@app.command("offers")
def offers(
    out: Annotated[Path, typer.Option("--out", help="Where to write the offers (.csv/.parquet).")],
    segment: SegmentOption = None,
    recent_days: RecentOption = RECENT_DAYS,
    exclude_category: ExcludeOption = None,
    as_of: AsOfOption = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """A challenge offer per customer, written for the email tool.

    Two items they buy again and again plus one stretch item from a new, higher-value category."""
    with errors(), open_workspace(workspace, read_only=True) as ws:
        check_target(out)  # before the offers are worked out
        table = ws.insights.offers(
            segment=segment,
            as_of=parse_date(as_of),
            recent_days=recent_days,
            exclude_categories=exclude_category or (),
        )
        write_table(table, out)
        counts = table.aggregate(
            customers=table.count(),
            two_anchors=table.count(where=table.anchor_2.notnull()),
            stretch=table.count(where=table.stretch_sku.notnull()),
        )
        result = {"out": str(out), **counts.to_pyarrow().to_pylist()[0]}
    emit(result, as_json, _offers_text)


def _offers_text(r: dict[str, Any]) -> str:
    return (
        f"Wrote {r['customers']:,} offers to {r['out']}: {r['two_anchors']:,} with two items "
        f"bought again and again, {r['stretch']:,} with a stretch item from a new category"
    )


def _recommend_text(r: dict[str, Any]) -> Table:
    table = Table(title=f"Recommended for {r['identifier']}", caption_justify="left")
    for name in ("rank", "sku", "name", "category", "score", "reason"):
        table.add_column(name, justify="right" if name in ("rank", "score") else "left")
    for row in r["items"]:
        table.add_row(
            str(row["rank"]),
            row["sku"],
            row["name"] or "",
            row["category"] or "",
            f"{row['score']:.3f}",
            row["reason"],
        )
    if not r["items"]:
        table.caption = (
            "nothing to recommend: no product is known that this customer may be offered "
            "(recommendations come from order lines: patron load lines FILE)"
        )
    return table
