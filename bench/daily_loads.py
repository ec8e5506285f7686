"""A workspace that lives for a year: a shop's daily exports loaded as cron would.

Why: a data engineer loads one file per table per day, each repeating the last days (exports
overlap), with days missed and caught up, a day re-sent with corrections and a day loaded twice.
After a year the workspace must answer as one load of the same files, and neither the warehouse
file nor a day's load time may grow with the number of loads already made.

What it prints: the warehouse file's size (MB, after each day's loads and the workspace closed,
as a cron job leaves it) and the seconds of each day's loads, at a few days of the year, and the
size of the same data loaded at once and of a compacted copy of the year's file.

Usage: ``python bench/daily_loads.py [--customers 3000] [--seed 7] [--days 365] [--window 3]``
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd

from patron import Workspace
from patron.errors import ResourceError
from patron.samples.synthetic import generate

START = date(2024, 1, 1)
NOW = datetime(2025, 6, 1, tzinfo=UTC)
TABLES = {  # table to load: (sample file, date column; lines take their order's day)
    "orders": ("orders", "ordered_at"),
    "lines": ("order_lines", None),
    "customers": ("customers", "signed_up_at"),
    "events": ("events", "occurred_at"),
}
MB = 1024 * 1024
REPORT_DAYS = (1, 30, 90, 180, 365)


def year_files(folder: Path, *, customers: int, seed: int, days: int, window: int) -> list:
    """(day, table, path) of every daily export in the order cron loads them: day d's file holds
    the rows of days d-window+1..d; of a year, days 40-43 arrive after day 45, day 60's orders
    are re-sent (one revenue corrected) after day 61 and day 81 is loaded twice (shorter
    periods scale these days)."""
    paths = generate(
        folder / "sample",
        customers=customers,
        seed=seed,
        start=START,
        end=START + timedelta(days=days - 1),
    )
    frames = {
        t: pd.read_csv(paths[name], dtype=str, keep_default_na=False)
        for t, (name, _) in TABLES.items()
    }
    dated = {
        t: pd.to_datetime(frames[t][c].str.slice(0, 10)).dt.date
        for t, (_, c) in TABLES.items()
        if c
    }
    order_day = dict(zip(frames["orders"].order_id, dated["orders"], strict=True))
    dated["lines"] = frames["lines"].order_id.map(order_day)
    out = folder / "exports"
    out.mkdir(parents=True)
    files: dict[int, list[tuple[str, Path]]] = {}
    for day in range(days):
        last = START + timedelta(days=day)
        first = last - timedelta(days=window - 1)
        for table in TABLES:
            rows = frames[table][(dated[table] >= first) & (dated[table] <= last)]
            path = out / f"{table}_{last}.csv"
            rows.to_csv(path, index=False)
            files.setdefault(day, [])
            if len(rows):  # patron refuses a file of a header alone: cron skips it
                files[day].append((table, path))
    gap = days // 9
    resent = max(days // 6, gap + 6)
    twice = max(days * 2 // 9, resent + 2)
    order: list[tuple[int, str, Path]] = []
    for day in range(days):
        if gap <= day < gap + 4:
            continue
        order += [(day, t, p) for t, p in files[day]]
        if day == gap + 5:
            order += [(d, t, p) for d in range(gap, gap + 4) for t, p in files[d]]
        if day == resent + 1:
            fixed = pd.read_csv(files[resent][0][1], dtype=str, keep_default_na=False)
            if len(fixed):
                fixed.loc[0, "revenue"] = str(round(float(fixed.loc[0, "revenue"]) + 1, 2))
            path = out / "orders_resent.csv"
            fixed.to_csv(path, index=False)
            order.append((resent, "orders", path))
        if day == twice:
            order += [(day, t, p) for t, p in files[day]]
    return order


def size_mb(workspace: Path) -> float:
    return (workspace / "warehouse.duckdb").stat().st_size / MB


def daily(root: Path, order: list, days: int) -> dict[int, tuple[float, float, int]]:
    """Load ``order`` opening and closing the workspace per day; (MB, seconds, loads) per day."""
    Workspace.init(root / "daily", timezone="UTC").close()
    figures = {}
    by_day: dict[int, list[tuple[str, Path]]] = {}
    sequence: list[int] = []
    for day, table, path in order:
        if not sequence or sequence[-1] != day:
            sequence.append(day)
        by_day.setdefault(len(sequence), []).append((table, path))
    loads = 0
    for n in range(1, len(sequence) + 1):
        started = time.perf_counter()
        with Workspace.open(root / "daily") as ws:
            for table, path in by_day[n]:
                ws.load(table, [path], now=NOW)
                loads += 1
        figures[n] = (size_mb(root / "daily"), time.perf_counter() - started, loads)
        if n in REPORT_DAYS or n % 30 == 0 or n == len(sequence):
            mb, seconds, _ = figures[n]
            print(f"{n:>8}  {loads:>5}  {mb:>12.2f}  {seconds:>16.2f}", flush=True)
    return figures


def at_once(root: Path, order: list, chunk: int | None = None) -> tuple[float, float]:
    """Every file loaded in one load per table (``chunk``: files per load): (MB, seconds)."""
    started = time.perf_counter()
    folder = root / f"once-{chunk or 'all'}"
    with Workspace.init(folder, timezone="UTC") as ws:
        for table in TABLES:
            files = [p for _, t, p in order if t == table]
            step = chunk or len(files)
            for first in range(0, len(files), step):
                ws.load(table, files[first : first + step], now=NOW)
    return size_mb(folder), time.perf_counter() - started


def compacted(root: Path) -> float:
    """The year's warehouse copied into a fresh file: what its data needs."""
    target = root / "compact.duckdb"
    con = duckdb.connect()
    con.execute(f"ATTACH '{root / 'daily' / 'warehouse.duckdb'}' AS y (READ_ONLY)")
    con.execute(f"ATTACH '{target}' AS c")
    con.execute("COPY FROM DATABASE y TO c")
    con.close()
    return target.stat().st_size / MB


def blocks(root: Path) -> None:
    """Blocks used and free in the year's file, and each table's row count."""
    con = duckdb.connect(str(root / "daily" / "warehouse.duckdb"), read_only=True)
    size = con.execute(
        "SELECT total_blocks, used_blocks, free_blocks, block_size FROM pragma_database_size()"
    ).fetchone()
    print(f"blocks: total {size[0]}, used {size[1]}, free {size[2]} of {size[3]} bytes")
    rows = con.execute(
        "SELECT table_name, estimated_size FROM duckdb_tables() ORDER BY estimated_size DESC"
    ).fetchall()
    print("rows:", ", ".join(f"{t} {n}" for t, n in rows))
    con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--window", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="build in this folder and keep it")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="patron-year-"))
    try:
        order = year_files(
            root, customers=args.customers, seed=args.seed, days=args.days, window=args.window
        )
        print(f"{len(order)} files, {args.days} days, window {args.window}")
        print("cron day  loads  warehouse MB  seconds that day", flush=True)
        figures = daily(root, order, args.days)
        total = sum(s for _, s, _ in figures.values())
        print(f"year of daily loads: {total:.1f} s in all")
        print(f"the year's file compacted: {compacted(root):.2f} MB", flush=True)
        blocks(root)
        for chunk in (30, None):
            try:
                once_mb, once_s = at_once(root, order, chunk)
            except ResourceError as exc:  # 366 files in one load: see the report
                print(f"one load of {chunk or 'every'} file(s) per table failed: {exc}")
                continue
            print(f"loads of {chunk or 'every'} files per table: {once_mb:.2f} MB, {once_s:.1f} s")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
