"""Warehouse benchmark: one orders file in a DuckDB workspace and in a PostgreSQL one.

Why: a workspace whose warehouse is PostgreSQL loads through its embedded DuckDB engine and
then copies the tables to PostgreSQL, where every metric runs (docs/warehouse.md). This prints
what that costs against the default DuckDB workspace on the same file, each command a fresh
``patron`` process timed from outside: the load (the copy included), a full ``patron publish``,
a 1% increment of new orders of known customers (in PostgreSQL the orders' new rows are
appended, the derived tables copied whole), and a few readers (``kpis``, ``cohorts``,
``segments``, ``fit``). The PostgreSQL server is a throwaway one started here (the tests'
``pg_server``: initdb into a temporary folder, fsync off), on the same 2 cores.

Usage: ``python bench/warehouse.py [--rows 1000000] [--seed 42]``
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

from common import BENCH, OUT, print_table
from load import ensure_increment
from make_data import ensure_orders

sys.path.insert(0, str(BENCH.parent / "tests"))
import pg_server  # the tests' throwaway server

PATRON = [sys.executable, "-m", "patron"]
READERS = (("kpis",), ("cohorts",), ("segments",), ("fit",))


def timed(folder: Path, *args: str) -> float:
    """Seconds of one ``patron -w folder *args`` process; a failure stops the bench."""
    started = time.perf_counter()
    subprocess.run([*PATRON, "-w", str(folder), *args], check=True, capture_output=True)
    return time.perf_counter() - started


def workspace(folder: Path, warehouse: str | None) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    extra = ["--warehouse", warehouse] if warehouse else []
    subprocess.run([*PATRON, "init", str(folder), *extra], check=True, capture_output=True)
    return folder


def run(rows: int, seed: int) -> list[list[object]]:
    parquet, _ = ensure_orders(rows, seed=seed)
    increment = ensure_increment(parquet, rows // 100, seed)
    root = OUT / f"warehouse_{rows}_{seed}"
    with pg_server.server() as server:
        url = pg_server.create_database(server, "bench")
        duck = workspace(root / "duckdb", None)
        pg = workspace(root / "postgres", url)
        loads = [timed(folder, "load", "orders", str(parquet)) for folder in (duck, pg)]
        table = [
            ["load orders", *loads],
            ["publish (every table again)", "", timed(pg, "publish")],
        ]
        more = ["load", "orders", str(increment)]
        table.append(["load 1% more orders (appended)", timed(duck, *more), timed(pg, *more)])
        table += [[" ".join(args), timed(duck, *args), timed(pg, *args)] for args in READERS]
    shutil.rmtree(root, ignore_errors=True)
    return [[step, d, p, round(p / d, 2) if d else ""] for step, d, p in table]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    if pg_server.binaries() is None:
        sys.exit("PostgreSQL is not installed (no initdb): nothing to compare")
    table = run(args.rows, args.seed)
    print(f"== warehouse: {args.rows:,} order rows, DuckDB workspace vs PostgreSQL workspace ==")
    print_table(["step", "DuckDB s", "PostgreSQL s", "PostgreSQL / DuckDB"], table)
    load, copy = table[0][2], table[1][2]
    print(f"PostgreSQL workspace: the load with its copy {args.rows / float(load):,.0f} rows/s;")
    print(f"a full copy of every table {float(copy):.1f} s")


if __name__ == "__main__":
    main()
