"""A workspace that lives for a year, loaded from cron: one export per table per day, each
repeating the last days, days missed and caught up, a day re-sent with corrections and a day
loaded twice. It must end where one load of every file ends, and where the same files loaded
in a shuffled order end (the corrected file kept after the one it corrects: of two versions of
an order the first loaded stands, docs/loading.md).

The test runs a short "year" (a few dozen rows a day); ``bench/daily_loads.py`` runs 365 days
and prints the warehouse file's size and each day's load time.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import ibis
import pandas as pd
import pytest

from patron import Workspace
from patron.ingest.contract import TABLES as TABLES_LOADED
from patron.insights.discount import _prior
from patron.samples.synthetic import generate

NOW = datetime(2025, 6, 1, tzinfo=UTC)
START = date(2024, 1, 1)
DAYS = 10
WINDOW = 3
GAP = (2, 3)  # not delivered on their day; caught up after day 5
RESENT, TWICE = 6, 8  # day 6's orders re-sent, corrected, after day 7; day 8 loaded twice
TABLES = {"orders": "orders", "lines": "order_lines", "customers": "customers", "events": "events"}
"""The tables loaded each day, and the sample's file of each."""
PATH_DEPENDENT = ("loads", "last_load", "duplicates", "merges", "split_customers", "warehouse")

Plan = list[tuple[int, str, Path]]


def _frames(folder: Path) -> dict[str, pd.DataFrame]:
    paths = generate(
        folder, customers=40, seed=7, start=START, end=START + timedelta(days=DAYS - 1)
    )
    frames = {
        table: pd.read_csv(paths[name], dtype=str, keep_default_na=False)
        for table, name in TABLES.items()
    }
    bad = {c: "" for c in frames["orders"].columns}  # a thousands-or-decimal comma
    bad |= {"order_id": "BAD", "email": "bad@example.com", "revenue": "1,234"}
    bad |= {"ordered_at": f"{START + timedelta(days=RESENT)} 09:00:00", "currency": "USD"}
    frames["orders"] = pd.concat([frames["orders"], pd.DataFrame([bad])], ignore_index=True)
    return frames


def _day(frame: pd.DataFrame, column: str) -> pd.Series:
    return pd.to_datetime(frame[column].str.slice(0, 10)).dt.date


def year_plan(folder: Path) -> Plan:
    """(day, table, file) of every export, in the order cron loads them."""
    frames = _frames(folder / "sample")
    days = {"orders": _day(frames["orders"], "ordered_at")}
    days["customers"] = _day(frames["customers"], "signed_up_at")
    days["events"] = _day(frames["events"], "occurred_at")
    order_day = dict(zip(frames["orders"].order_id, days["orders"], strict=True))
    days["lines"] = frames["lines"].order_id.map(order_day)
    out = folder / "exports"
    out.mkdir(parents=True)
    files: dict[int, list[tuple[str, Path]]] = {}
    for day in range(DAYS):
        last = START + timedelta(days=day)
        files[day] = []
        for table in TABLES:
            rows = frames[table][(days[table] > last - timedelta(WINDOW)) & (days[table] <= last)]
            if len(rows):
                path = out / f"{table}_{last}.csv"
                rows.to_csv(path, index=False)
                files[day].append((table, path))
    plan: Plan = []
    for day in range(DAYS):
        if day not in GAP:
            plan += [(day, t, p) for t, p in files[day]]
        if day == 5:
            plan += [(d, t, p) for d in GAP for t, p in files[d]]
        if day == RESENT + 1:
            plan.append((RESENT, "orders", _corrected(dict(files[RESENT])["orders"], out)))
        if day == TWICE:
            plan += [(day, t, p) for t, p in files[day]]
    return plan


def _corrected(path: Path, out: Path) -> Path:
    """The day's orders as the shop sends them again: the bad amount mended, one revenue
    changed (a conflict: the first version stands)."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[frame.order_id == "BAD", "revenue"] = "12.34"
    first = frame.index[frame.order_id != "BAD"][0]
    frame.loc[first, "revenue"] = f"{float(frame.loc[first, 'revenue']) + 1:.2f}"
    fixed = out / "orders_resent.csv"
    frame.to_csv(fixed, index=False)
    return fixed


def cron(folder: Path, plan: Plan) -> Workspace:
    """Each export loaded on its own, the workspace opened and closed each day as a cron
    job does."""
    Workspace.init(folder, timezone="UTC").close()
    days = [list(g) for g in _runs(plan)]
    for today in days:
        with Workspace.open(folder) as ws:
            for _, table, path in today:
                ws.load(table, [path], now=NOW)
    return Workspace.open(folder, read_only=True)


def _runs(plan: Plan) -> Iterator[Plan]:
    run: Plan = []
    for item in plan:
        if run and run[-1][0] != item[0]:
            yield run
            run = []
        run.append(item)
    yield run


def at_once(folder: Path, plan: Plan) -> Workspace:
    ws = Workspace.init(folder, timezone="UTC")
    for table in TABLES:
        ws.load(table, [p for _, t, p in plan if t == table], now=NOW)
    return ws


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("year")
    plan = year_plan(root)
    shuffled = plan[:]
    random.Random(5).shuffle(shuffled)
    shuffled.sort(key=lambda item: item[2].name == "orders_resent.csv")  # the correction last
    made = {
        "plan": plan,
        "daily": cron(root / "daily", plan),
        "once": at_once(root / "once", plan),
        "shuffled": cron(root / "shuffled", shuffled),
    }
    yield made
    for name in ("daily", "once", "shuffled"):
        made[name].close()


# -- comparing workspaces whose keys differ ----------------------------------------------------


def people(ws: Workspace) -> dict[int, str]:
    """Each customer key's person, named by their identifiers."""
    rows = ws.warehouse.duckdb.execute(
        "SELECT customer_key, identifier_type || ':' || value FROM identities"
    ).fetchall()
    who: dict[int, list[str]] = {}
    for key, identifier in rows:
        who.setdefault(key, []).append(identifier)
    return {key: ",".join(sorted(ids)) for key, ids in who.items()}


def export(ws: Workspace, out: Path) -> pd.DataFrame:
    """``patron export customers`` by person, keys aside."""
    ws.export_customers(out)
    frame = pd.read_csv(out, dtype=str, keep_default_na=False)
    frame["customer_key"] = frame.customer_key.astype(int).map(people(ws))
    return frame.sort_values("customer_key").reset_index(drop=True)


def status(ws: Workspace) -> dict[str, Any]:
    return {k: v for k, v in ws.status().items() if k not in PATH_DEPENDENT}


def quarantine(ws: Workspace) -> list[tuple[Any, ...]]:
    """Entries by table, field, value, record and state (a conflict's reason names the row
    the first file brought, which differs between the plans)."""
    return sorted(
        (e["table"], e["field"], e["value"], e["record"], e["fixed_by"] is None)
        for e in ws.quarantine(state="all")
    )


def merged_people(ws: Workspace) -> list[str]:
    """An identifier of each customer with more than one identifier."""
    rows = ws.warehouse.duckdb.execute(
        "SELECT min(value) FROM identities GROUP BY customer_key HAVING count(*) > 1 ORDER BY 1"
    ).fetchall()
    return [value for (value,) in rows]


def profile(ws: Workspace, identifier: str) -> dict[str, Any]:
    """``patron customer show``, keys aside: which table first brought an identifier, and the
    merges and splits on the way, differ between the plans (docs/identity.md), as does the
    file and line of a deciding CRM record that several daily exports repeat."""
    shown = ws.customer(identifier)
    shown.pop("customer_key")
    shown["consent_sources"] = {
        channel: source and {k: source[k] for k in ("kind", "type", "at")}
        for channel, source in shown["consent_sources"].items()
    }
    shown["identifiers"] = sorted(
        (i["type"], i["value"], i["first_seen"]) for i in shown["identifiers"]
    )
    return {k: v for k, v in shown.items() if not k.startswith(("merged", "split"))}


# -- the year ---------------------------------------------------------------------------------


@pytest.mark.parametrize("other", ["once", "shuffled"])
def test_a_year_of_daily_loads_answers_as_one_load(
    year: dict[str, Any], other: str, tmp_path: Path
) -> None:
    daily, them = year["daily"], year[other]
    assert status(daily) == status(them)
    assert daily.kpis() == them.kpis()
    assert daily.segment_summary() == them.segment_summary()
    pd.testing.assert_frame_equal(
        export(daily, tmp_path / "daily.csv"), export(them, tmp_path / "them.csv")
    )
    merged = merged_people(daily)
    assert len(merged) >= 5 and merged == merged_people(them)
    for identifier in merged[:: max(1, len(merged) // 5)]:
        assert profile(daily, identifier) == profile(them, identifier), identifier
    assert quarantine(daily) == quarantine(them)


def test_the_quarantine_holds_each_refused_row_once(year: dict[str, Any]) -> None:
    """The bad amount came in three overlapping exports and was mended by the re-sent file;
    the corrected revenue is a conflict, in the re-sent file only."""
    daily = year["daily"]
    entries = {e["field"]: e for e in daily.quarantine(state="all")}
    assert len(daily.quarantine(state="all")) == 2
    bad, conflict = entries["revenue"], entries["order_id"]
    assert (bad["value"], bad["fixed_by"] is not None) == ("1,234", True)
    assert conflict["file"].endswith("orders_resent.csv") and conflict["fixed_by"] is None
    assert "different content" in conflict["reason"]
    assert daily.status()["quarantine_open"] == 1


def test_status_after_the_year_counts_every_load(year: dict[str, Any]) -> None:
    daily, plan = year["daily"], year["plan"]
    shown = daily.status()
    assert shown["loads"] == len(plan)
    assert shown["orders"] == year["once"].status()["orders"]
    last = daily.warehouse.duckdb.execute(
        "SELECT table_name, files FROM loads ORDER BY load_id DESC LIMIT 1"
    ).fetchall()[0]
    assert last == (TABLES_LOADED[plan[-1][1]].name, str(plan[-1][2]))


# -- the discount score, whatever the order of the rows ----------------------------------------


def test_the_discount_prior_does_not_depend_on_the_order_of_customers() -> None:
    """The prior added k^2 / n in the engine, in the rows' order, which follows the order the
    files were loaded in: a year loaded day by day and the same files in another order gave
    every customer's discount_score in ``patron export customers`` other last digits
    (0.17024649964162264 and 0.17024649964162208)."""
    pairs = [(3, 3), (3, 1), (3, 0), (1, 1), (1, 0), (2, 2), (1, 0), (3, 3)]
    con = ibis.duckdb.connect()
    priors = []
    for ordered in (pairs, pairs[::-1]):
        frame = pd.DataFrame(ordered, columns=["purchases", "discounted_purchases"])
        counts = con.create_table("counts", frame, overwrite=True)
        priors.append(_prior(counts, empty_ok=False))
    assert 0 < priors[0].rho < 1
    assert priors[0] == priors[1]
    assert priors[0].mean == 10 / 17


# -- a row mended by a later file of the same load ---------------------------------------------


def test_a_row_mended_in_a_later_file_of_one_load_is_fixed(tmp_path: Path) -> None:
    """``patron load orders exports/*.csv`` where the day re-sent with the amount mended is
    among the files: the entry stayed open (only a later *load* fixed it), where loading the
    files one after the other fixes it. A row of the entry's own file still fixes nothing
    (a Shopify order's item rows), nor does an earlier file, as one after the other."""
    head = "order_id,email,ordered_at,revenue\n"
    (tmp_path / "monday.csv").write_text(
        head + 'B,b@x.com,2024-01-02,"1,234"\nA,a@x.com,2024-01-02,5\n'
    )
    (tmp_path / "tuesday.csv").write_text(head + "B,b@x.com,2024-01-02,12.34\n")
    files = [tmp_path / "monday.csv", tmp_path / "tuesday.csv"]
    opened = []
    for n, order in enumerate((files, files[::-1])):
        with Workspace.init(tmp_path / f"ws{n}", timezone="UTC") as ws:
            ws.load("orders", order, now=NOW)
            opened.append([e["fixed_by"] for e in ws.quarantine(state="all")])
            assert ws.status()["quarantine_open"] == n
    assert opened == [[1], [None]]
    with Workspace.init(tmp_path / "one-by-one", timezone="UTC") as ws:
        for path in files:
            ws.load("orders", [path], now=NOW)
        assert [e["fixed_by"] for e in ws.quarantine(state="all")] == [2]
        assert ws.status()["quarantine_open"] == 0


# -- many overlapping exports in one load --------------------------------------------------


def test_many_overlapping_exports_load_at_once_within_the_memory_limit(tmp_path: Path) -> None:
    """Each export repeats rows of the one before, so each had its own lookup of the rows to
    skip in the query identity resolution reads, and DuckDB held a hash table per file at once:
    a year's 366 daily order exports (5,000 orders) ran out of 1 GB. Here 24 files at 16 MB."""
    files = []
    for day in range(24):
        rows = [
            f"O{n},c{n % 7}@x.com,2024-01-{1 + n % 28:02d} 10:00,{n + 1}.00"
            for n in range(day, day + 3)
        ]
        path = tmp_path / f"orders_{day:02d}.csv"
        path.write_text("order_id,email,ordered_at,revenue\n" + "\n".join(rows) + "\n")
        files.append(path)
    with Workspace.init(tmp_path / "ws", timezone="UTC") as ws:
        ws.warehouse.duckdb.execute("SET memory_limit = '16MB'")
        loaded = ws.load("orders", files, now=NOW)
        assert (loaded.inserted, loaded.duplicates) == (26, 46)
        assert ws.status()["customers"] == 7
