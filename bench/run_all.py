"""Run every benchmark with its defaults and print all figures (``make bench``).

Why one entry point: the figures only mean something next to the machine they came from and
side by side with their peers, so this prints the machine first and then each benchmark's own
tables. Each benchmark runs as its own process so one's memory never inflates another's.

Usage: ``python bench/run_all.py [--quick]`` (quick: 1M rows, 500k identifiers, 1M orders of
100k customers for the analytics, the models, the experiment and the insights: a sanity run)
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import time

import duckdb
import psutil

from common import BENCH, MIB

FULL = {
    "rows": 10_000_000,
    "warehouse_rows": 1_000_000,
    "identifiers": 5_000_000,
    "orders": 10_000_000,
    "customers": 1_000_000,
    "model_customers": "100000,1000000,10000000",
    "experiment_customers": 10_000_000,
    "insight_customers": 1_000_000,
}
QUICK = {
    "rows": 1_000_000,
    "warehouse_rows": 1_000_000,
    "identifiers": 500_000,
    "orders": 1_000_000,
    "customers": 100_000,
    "model_customers": "100000",
    "experiment_customers": 100_000,
    "insight_customers": 100_000,
}


def machine() -> str:
    """Cores, memory and versions: what the figures depend on."""
    memory = psutil.virtual_memory().total / MIB / 1024
    return (
        f"{platform.platform()}; {psutil.cpu_count()} cores; {memory:.0f} GiB; "
        f"Python {platform.python_version()}; duckdb {duckdb.__version__}"
    )


def run(script: str, *args: str) -> int:
    """Run one benchmark script, streaming its output; its exit code (the rest still run)."""
    print(f"\n##### {script} {' '.join(args)}", flush=True)
    started = time.perf_counter()
    code = subprocess.run([sys.executable, str(BENCH / script), *args], check=False).returncode
    took = time.perf_counter() - started
    print(
        f"##### {script} {'done' if code == 0 else f'FAILED ({code})'} in {took:.0f} s", flush=True
    )
    return code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="1M rows, 500k identifiers, 1M orders/100k customers, 100k model and test customers",
    )
    sizes = QUICK if parser.parse_args().quick else FULL
    print(machine())
    if run("make_data.py", "--rows", str(sizes["rows"])):
        sys.exit(1)
    codes = [
        run("load.py", "--rows", str(sizes["rows"])),
        run("warehouse.py", "--rows", str(sizes["warehouse_rows"])),
        run("identity.py", "--identifiers", str(sizes["identifiers"])),
        run(
            "analytics.py",
            "--orders",
            str(sizes["orders"]),
            "--customers",
            str(sizes["customers"]),
        ),
        run("models.py", "--customers", sizes["model_customers"]),
        run("experiments.py", "--customers", str(sizes["experiment_customers"])),
        run("insights.py", "--customers", str(sizes["insight_customers"])),
    ]
    sys.exit(max(codes))


if __name__ == "__main__":
    main()
