"""Commands that set up and fill a workspace: init, load, publish, quarantine, customer, status,
sample."""

from __future__ import annotations

import shlex
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from patron.cli.base import (
    JsonOption,
    WorkspaceOption,
    app,
    customer_app,
    emit,
    errors,
    open_workspace,
    out,
    print_json,
    quarantine_app,
    sample_app,
)
from patron.ingest.mapping import parse_map_options
from patron.money import decimals
from patron.progress import load_progress
from patron.zones import shop_zone

if TYPE_CHECKING:
    from patron.workspace import Workspace


@app.command()
def init(
    folder: Annotated[Path, typer.Argument(help="Folder to create.")],
    warehouse: Annotated[
        str | None,
        typer.Option(help="Warehouse URL: duckdb://FILE (default) or an Ibis backend's URL."),
    ] = None,
    store: Annotated[
        str | None,
        typer.Option(help="Operational store URL: sqlite:///FILE (default) or postgres://..."),
    ] = None,
    timezone: Annotated[str | None, typer.Option(help="Shop timezone (IANA).")] = None,
    currency: Annotated[str | None, typer.Option(help="ISO 4217 currency code.")] = None,
    phone_region: Annotated[str | None, typer.Option(help="Region for local phones.")] = None,
    max_links: Annotated[int | None, typer.Option(help="Identity blocking threshold.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Create a workspace: settings, warehouse and operational store."""
    from patron.workspace import Workspace

    with errors():
        ws = Workspace.init(
            folder,
            warehouse=warehouse,
            store=store,
            timezone=timezone,
            currency=currency,
            phone_region=phone_region,
            max_links=max_links,
        )
        config = {"folder": str(ws.folder), **_config_dict(ws)}
        ws.close()
    emit(
        config,
        as_json,
        lambda c: f"Created workspace {c['folder']} ({c['timezone']}, {c['currency']})",
    )


@app.command("load")
def load_command(
    table: Annotated[str, typer.Argument(help="orders, lines, products, customers or events.")],
    files: Annotated[list[Path], typer.Argument(help="Files to load (CSV, Parquet, JSON lines).")],
    map_: Annotated[
        list[str] | None, typer.Option("--map", help="SRC=DST column mapping; repeatable.")
    ] = None,
    format_: Annotated[str | None, typer.Option("--format", help="csv, parquet or jsonl.")] = None,
    date_format: Annotated[str | None, typer.Option(help="strptime layout, e.g. %d/%m/%Y.")] = None,
    decimal_comma: Annotated[bool, typer.Option(help="Amounts use a decimal comma.")] = False,
    encoding: Annotated[
        str, typer.Option(help="utf-8, utf-16, latin-1, cp1252 (Excel on Windows), ...")
    ] = "utf-8",
    max_quarantined: Annotated[
        str | None,
        typer.Option(
            help="Refuse the whole load if more rows fail: a count (100) or a share of the "
            "rows read (2%).",
            show_default=False,
        ),
    ] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Load files into a canonical table; bad rows go to quarantine, nothing is lost."""
    with (
        errors(),
        open_workspace(workspace) as ws,
        load_progress(ws, enabled=not as_json) as progress,
    ):
        result = ws.load(
            table,
            files,
            mapping=parse_map_options(map_ or []),
            format=format_,
            date_format=date_format,
            decimal_comma=decimal_comma,
            encoding=encoding,
            max_quarantined=max_quarantined,
            progress=progress,
        )
    emit(result.to_dict(), as_json, _load_text)


TableOption = Annotated[
    str | None, typer.Option("--table", help="Only rows of this table (orders, lines, ...).")
]
FileOption = Annotated[
    str | None, typer.Option("--file", help="Only rows of this file, as it was loaded.")
]
LoadIdOption = Annotated[int | None, typer.Option("--load", help="Only rows of this load id.")]
ReasonOption = Annotated[
    str | None, typer.Option("--reason", help="Only rows whose reason contains this text.")
]
STATE_HELP = "open (no later load brought a row with its key, not closed), fixed, closed or all."
StateOption = Annotated[str, typer.Option("--state", help=STATE_HELP)]


@quarantine_app.command("list")
def quarantine_list(
    limit: Annotated[int, typer.Option(help="Show at most this many rows (0: all).")] = 50,
    table: TableOption = None,
    file: FileOption = None,
    load: LoadIdOption = None,
    reason: ReasonOption = None,
    state: StateOption = "open",
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Rows that failed validation, with file, line, field and reason (open ones by default).

    An entry is open until a later load brings in a row with its key or it is closed; --state
    fixed, closed or all shows the others."""
    with errors(), open_workspace(workspace, read_only=True) as ws:
        rows = ws.quarantine(
            limit=limit or None, table=table, file=file, load=load, reason=reason, state=state
        )
    if as_json:
        print_json({"rows": rows})
        return
    columns = ("load_id", "table", "file", "line", "field", "value", "reason")
    shown = Table("load", "table", "file", "line", "field", "value", "reason", "state")
    for r in rows:
        shown.add_row(*(str(r[k] if r[k] is not None else "") for k in columns), _state(r))
    out.print(shown if rows else f"No quarantined rows{_in_state(state)}.")


def _state(row: dict[str, Any]) -> str:
    """An entry's state as the list shows it: open, the load that fixed it, or the note it
    was closed with."""
    if row["fixed_by"] is not None:
        return f"fixed by load {row['fixed_by']}"
    return "open" if row["closed_at"] is None else f"closed: {row['closed_note']}"


def _in_state(state: str) -> str:
    """What an empty listing left out: "No quarantined rows still open." says more than
    "No quarantined rows." when fixed ones exist."""
    return {"open": " still open", "fixed": " fixed yet", "closed": " closed"}.get(state, "")


@quarantine_app.command("summary")
def quarantine_summary(
    table: TableOption = None,
    file: FileOption = None,
    load: LoadIdOption = None,
    reason: ReasonOption = None,
    state: StateOption = "all",
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Quarantined rows counted per table, field and reason, and how many are still open."""
    with errors(), open_workspace(workspace, read_only=True) as ws:
        summary = ws.quarantine_summary(
            table=table, file=file, load=load, reason=reason, state=state
        )
    if as_json:
        print_json(summary)
        return
    title = f"Quarantine: {summary['rows']:,} rows, {summary['open']:,} open"
    shown = Table("rows", "open", "table", "field", "reason", "first seen at", title=title)
    for r in summary["reasons"]:
        where = f"{r['first_file']} line {r['first_line']}"
        counts = (f"{r['rows']:,}", f"{r['open']:,}")
        shown.add_row(*counts, r["table"], r["field"] or "", r["reason"], where)
    out.print(shown if summary["rows"] else f"No quarantined rows{_in_state(state)}.")


@quarantine_app.command("export")
def quarantine_export(
    out_file: Annotated[
        Path, typer.Option("--out", help="CSV or Parquet file to write the records to.")
    ],
    table: TableOption = None,
    file: FileOption = None,
    load: LoadIdOption = None,
    reason: ReasonOption = None,
    state: StateOption = "open",
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write quarantined records in their files' own columns, to fix and load again.

    The open ones unless --state says otherwise."""
    with errors(), open_workspace(workspace, read_only=True) as ws:
        done = ws.export_quarantine(
            out_file, table=table, file=file, load=load, reason=reason, state=state
        )
    if as_json:
        print_json({**done, "out": str(out_file)})
        return
    n = done["skipped"]
    skipped = f"; {n:,} line{'s' * (n != 1)} that had no fields left out" if n else ""
    target = done["tables"][0] if len(done["tables"]) == 1 else "TABLE"
    wrote = f"Wrote {done['written']:,} quarantined records to {out_file}{skipped}."
    again = f" Fix them and load the file again: patron load {target} {shlex.quote(str(out_file))}"
    out.print(wrote + (again if state == "open" else ""))  # fixed ones are loaded already


@quarantine_app.command("close")
def quarantine_close(
    note: Annotated[str, typer.Option("--note", help="Why: kept in the quarantine with them.")],
    table: TableOption = None,
    file: FileOption = None,
    load: LoadIdOption = None,
    line: Annotated[int | None, typer.Option("--line", help="Only the row of this line.")] = None,
    reason: ReasonOption = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Close open entries no later load can fix, saying why (a conflict, a record mended).

    They stay in the quarantine (--state closed lists them) and leave the open count."""
    with errors(), open_workspace(workspace) as ws:
        closed = ws.close_quarantine(
            note=note, table=table, file=file, load=load, line=line, reason=reason
        )
    emit({"closed": closed}, as_json, lambda r: f"Closed {r['closed']:,} quarantined rows.")


@customer_app.command("show")
def customer_show(
    identifier: Annotated[
        str, typer.Argument(help="Email, phone, customer_id, loyalty_id or key.")
    ],
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """The 360 profile: identifiers, orders across channels, totals, consent, events."""
    with errors(), open_workspace(workspace, read_only=True) as ws:
        profile, zone = ws.customer(identifier), ws.config.timezone
    emit(profile, as_json, lambda p: _profile_text(p, zone))


@app.command()
def status(workspace: WorkspaceOption = None, as_json: JsonOption = False) -> None:
    """The workspace at a glance."""
    with errors(), open_workspace(workspace, read_only=True) as ws:
        summary = ws.status()
    emit(summary, as_json, _status_text)


@app.command()
def publish(workspace: WorkspaceOption = None, as_json: JsonOption = False) -> None:
    """Copy the workspace's tables to its warehouse again, when that is not the embedded DuckDB.

    Every load copies the tables it changed; this is for a load whose copy failed."""
    from patron.warehouse import without_password

    with errors(), open_workspace(workspace) as ws:
        tables = ws.publish()
        shown = without_password(ws.config.warehouse)
    emit({"warehouse": shown, "tables": tables}, as_json, _publish_text)


@app.command()
def compact(workspace: WorkspaceOption = None, as_json: JsonOption = False) -> None:
    """Shrink the workspace's DuckDB file to its live data (it grows with daily loads)."""
    with errors(), open_workspace(workspace) as ws:
        sizes = ws.compact()
    emit(sizes, as_json, _compact_text)


@sample_app.command("synthetic")
def sample_synthetic(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the CSV files to.")],
    customers: Annotated[int, typer.Option(help="Number of people.")] = 50_000,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same bytes.")] = 0,
    as_json: JsonOption = False,
) -> None:
    """A multichannel retailer with its generating truth, to check what patron recovers.

    truth.csv per person, truth_products.csv per refill product."""
    from patron.samples import synthetic

    with errors():
        paths = synthetic.generate(out_dir, customers=customers, seed=seed)
    emit({k: str(v) for k, v in paths.items()}, as_json, lambda p: "Wrote " + ", ".join(p.values()))


@sample_app.command("cdnow")
def sample_cdnow(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write orders.csv to.")],
    sample: Annotated[bool, typer.Option(help="The 1/10 sample (2,357 customers).")] = False,
    as_json: JsonOption = False,
) -> None:
    """The CDNOW purchase data (Fader, Hardie & Lee) as canonical orders."""
    from patron.samples import cdnow

    with errors():
        path = cdnow.write_orders(out_dir, sample=sample)
    emit({"orders": str(path)}, as_json, lambda p: f"Wrote {p['orders']}")


def _config_dict(ws: Workspace) -> dict[str, Any]:
    from patron.warehouse import without_password

    c = ws.config
    return {
        "warehouse": without_password(c.warehouse),
        "store": without_password(c.store),
        "timezone": c.timezone,
        "currency": c.currency,
        "phone_region": c.phone_region,
        "max_links": c.identity.max_links,
    }


def _load_text(r: dict[str, Any]) -> str:
    return (
        f"Loaded {r['table']} from {len(r['files'])} file(s) in {r['seconds']:.1f}s: "
        f"{r['rows_read']:,} rows read, {r['inserted']:,} inserted, {r['updated']:,} updated, "
        f"{r['duplicates']:,} duplicates skipped, {r['quarantined']:,} quarantined "
        f"({r['conflicts']:,} conflicts). Customers: {r['new_customers']:,} new, "
        f"{r['merges']:,} merges, {r['blocked_identifiers']:,} identifiers blocked"
        + (f" ({r['splits']:,} split off the customers they had united)." if r["splits"] else ".")
        + _set_aside_text(r["set_aside"])
        + ("\nSee them with: patron quarantine list" if r["quarantined"] or r["set_aside"] else "")
    )


def _set_aside_text(rows: int) -> str:
    """The records that loaded without a value they could not read, which is in quarantine."""
    if not rows:
        return ""
    records = "record" if rows == 1 else "records"
    return f"\n{rows:,} {records} loaded without a value that did not parse (in the quarantine)."


def _publish_text(r: dict[str, Any]) -> str:
    if not r["tables"]:
        return f"The warehouse is the workspace's own DuckDB file ({r['warehouse']}): no copies."
    return f"Copied {len(r['tables'])} tables to {r['warehouse']}: {', '.join(r['tables'])}"


def _compact_text(r: dict[str, Any]) -> str:
    before, after = r["bytes_before"], r["bytes_after"]
    saved = f", {1 - after / before:.0%} smaller" if before else ""
    return f"Compacted {r['file']}: {_mb(before)} -> {_mb(after)}{saved}"


def _mb(size: int) -> str:
    return f"{size / 1e6:,.1f} MB"


def _orphans(s: dict[str, Any]) -> str:
    n = s["lines_without_order"]
    return f"   ({n:,} of them without their order: load it)" if n else ""


def _span(s: dict[str, Any]) -> str:
    """The first and last order (returns and cancelled ones too) in the shop's time (the JSON
    gives them in UTC), and the day every figure is as of by default."""
    if s["first_order_at"] is None:
        return "-"
    ends = (_shop_clock(s[k], s["timezone"]) for k in ("first_order_at", "last_order_at"))
    span = " .. ".join(f"{t:%Y-%m-%d %H:%M}" for t in ends) + f" ({s['timezone']})"
    return span + (f"; figures as of {s['default_as_of']}" if s["default_as_of"] else "")


def _status_text(s: dict[str, Any]) -> str:
    lines = [
        f"customers            {s['customers']:>12,}",
        f"orders               {s['orders']:>12,}   (returns and cancelled orders excluded)",
        f"revenue              {s['revenue']:>12,.{decimals(s['currency'])}f}   {s['currency']}",
        f"returns              {s['returns']:>12,}",
        f"cancelled orders     {s['cancelled_orders']:>12,}",
        f"order lines          {s['order_lines']:>12,}" + _orphans(s),
        f"products             {s['products']:>12,}",
        f"events               {s['events']:>12,}",
        f"identities           {s['identities']:>12,}   ({s['identities_merged']:,} merged "
        "into another identifier's customer)",
        f"merges               {s['merges']:>12,}",
        f"splits               {s['split_customers']:>12,}   (customers split off others that a "
        "blocked identifier had united)",
        f"blocked identifiers  {s['blocked_identifiers']:>12,}" + _blocked_note(s),
        f"quarantined rows     {s['quarantined']:>12,}   ({s['quarantine_open']:,} open)",
        *_currencies_line(s),
        f"duplicates skipped   {s['duplicates']:>12,}",
        f"orders span          {_span(s)}",
        f"last load            {_last_load_text(s['last_load'], s['timezone'])}",
    ]
    lines += [f"  blocked {b['type']} {b['value']} ({b['links']} links)" for b in s["blocked"]]
    lines.append(f"warehouse            {s['warehouse']}")
    if s["unpublished_loads"]:
        missed = ", ".join(map(str, s["unpublished_loads"]))
        lines.append(f"  it misses load(s) {missed}: copy them with `patron publish`")
    return "\n".join(lines)


def _last_load_text(load: dict[str, Any] | None, zone: str) -> str:
    """The latest load in a line: when (the shop's clock), what and what it did."""
    if load is None:
        return "-"
    files = f"{len(load['files'])} files" if len(load["files"]) > 1 else load["files"][0]
    at = _shop_clock(load["finished_at"], zone)
    return (
        f"#{load['load_id']} {load['table']} from {files}, {at:%Y-%m-%d %H:%M} ({zone}): "
        f"{load['rows_read']:,} read, {load['inserted']:,} inserted, "
        f"{load['quarantined']:,} quarantined"
    )


def _currencies_line(s: dict[str, Any]) -> list[str]:
    """Orders in other currencies, whose amounts the figures above count as the workspace's."""
    if not s["other_currencies"]:
        return []
    counts = ", ".join(f"{n:,} in {code}" for code, n in s["other_currencies"].items())
    return [f"other currencies     {counts} (counted as {s['currency']}: not converted)"]


def _blocked_note(s: dict[str, Any]) -> str:
    """What blocking left without a customer: orders nobody owns, and customers known only by
    identifiers that were blocked later (dissolved)."""
    notes = [
        f"{s['unattributed_orders']:,} orders without a customer"
        if s["unattributed_orders"]
        else "",
        f"{s['dissolved_customers']:,} customers dissolved" if s["dissolved_customers"] else "",
    ]
    shown = "; ".join(n for n in notes if n)
    return f"   ({shown})" if shown else ""


CHANNELS = ("email", "sms", "push")


def _consent(given: bool | None) -> str:
    """A consent flag as a marketer reads it: no record of one is not a no."""
    return "unknown" if given is None else "yes" if given else "no"


def _decided_by(source: dict[str, Any] | None, zone: str) -> str:
    """What decided a consent (an event or a CRM record), when and where, in parentheses."""
    if source is None:
        return ""
    what = f"{source['type']} event" if source["kind"] == "event" else "CRM record"
    when = _shop_time(source["at"], zone)
    return f" ({what} of {when}, {source['file']} line {source['line']})"


def _shop_clock(stamp: str, zone: str) -> datetime:
    """A stored time (UTC ISO text, as the JSON gives it) on the shop's clock: an order at 23:30
    in Los Angeles is stored on the next day, and text would show it there."""
    return datetime.fromisoformat(stamp).astimezone(shop_zone(zone))


def _shop_time(stamp: str | None, zone: str) -> str:
    """:func:`_shop_clock` as the 360 writes it; ``-`` for none."""
    return "-" if stamp is None else f"{_shop_clock(stamp, zone):%Y-%m-%dT%H:%M:%S}"


def _profile_text(p: dict[str, Any], zone: str) -> str:
    """The 360 for a person to read, times in the shop's ``zone`` (the JSON keeps UTC)."""
    t = p["totals"]
    ids = ", ".join(f"{i['type']}={i['value']}" for i in p["identifiers"])
    first, last = (_shop_time(t[k], zone) for k in ("first_purchase", "last_purchase"))
    lines = [
        f"customer {p['customer_key']}: {p['profile'].get('name') or '(no name)'}",
        f"identifiers: {ids}",
        f"orders {t['orders']}, revenue {t['revenue']:.2f}, returns {t['returns']} "
        f"(refunded {t['refunded']:.2f}), first {first}, last {last} ({zone})",
        f"channels: {', '.join(p['channels']) or '-'}",
        "consent: "
        + ", ".join(
            f"{c}={_consent(p['profile'].get(c + '_consent'))}"
            + _decided_by(p["consent_sources"][c], zone)
            for c in CHANNELS
        ),
    ]
    if p["merged_from"]:
        lines.append("merged from customers: " + ", ".join(map(str, p["merged_from"])))
    if p["split_off"]:
        lines.append(
            "split off (a blocked identifier had united them): customers "
            + ", ".join(map(str, p["split_off"]))
        )
    if p["split_from"] is not None:
        lines.append(
            f"split from customer {p['split_from']} (a blocked identifier had united them)"
        )
    lines.append("latest orders:" if p["orders"] else "orders: none")
    lines += [
        f"  {_shop_time(o['ordered_at'], zone)}  {o['order_id']:<12} {o['channel'] or '':<12} "
        f"{o['revenue']:>10.2f}"
        + ("  return" if o["is_return"] else "")
        + ("  cancelled" if o["cancelled"] else "")
        for o in p["orders"][-20:]
    ]
    lines.append("latest events:" if p["events"] else "events: none")
    lines += [
        f"  {_shop_time(e['occurred_at'], zone)}  {e['type']:<20} {e['campaign_id'] or ''}".rstrip()
        for e in p["events"][:10]
    ]
    return "\n".join(lines)
