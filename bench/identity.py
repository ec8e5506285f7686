"""Identity-resolution benchmark: ~5M identifiers linking ~2M customers through the loader.

Why: resolution is the loader's one graph algorithm, and the issue asks that a graph of this
size resolves in under a minute. Each customer has a customer_id and an email on one order row;
half of them also have a phone, given on a second row together with only their email (even
customers) or only their customer_id (odd ones), so the phone reaches its person only through
the graph. Rows are shuffled. The load runs through the real loader in a fresh subprocess
(peak RSS is its own) and the resolve phase is timed on its own; the number of customers
patron finds must equal the generated truth. The peer is scipy's connected_components on the
same edges already integer-encoded in memory: the lower bound of the graph work alone.

Usage: ``python bench/identity.py [--identifiers N] [--seed S]``
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from common import OUT, emit, print_steps, print_table, profiled_load, run_child
from make_data import customer_ids, emails, masked, money, phones, text_of

SCRIPT = str(Path(__file__).resolve())
CHUNK = 1_000_000
TARGET_SECONDS = 60.0


class Graph:
    """The generated truth: one row per record, as (customer, kind) pairs.

    ``kind`` 0 is the customer_id + email row; ``kind`` 1 is the phone row, paired with the
    email for even customers and with the customer_id for odd ones.
    """

    def __init__(self, identifiers: int, seed: int) -> None:
        self.customers = max(2, identifiers * 2 // 5)
        rng = np.random.default_rng(seed)
        self.with_phone = np.sort(rng.permutation(self.customers)[: self.customers // 2])
        cust = np.concatenate([np.arange(self.customers), self.with_phone])
        kind = np.concatenate([np.zeros(self.customers, np.int8), np.ones(len(self.with_phone))])
        order = rng.permutation(len(cust))
        self.cust, self.kind = cust[order], kind[order].astype(np.int8)

    @property
    def identifiers(self) -> int:
        return 2 * self.customers + len(self.with_phone)

    def edges(self) -> tuple[np.ndarray, np.ndarray, int]:
        """Integer-encoded edges: customer_id c, email C + c, phone 2C + (rank among phones)."""
        c, n = self.cust, self.customers
        phone = 2 * n + np.searchsorted(self.with_phone, c)
        even = c % 2 == 0
        a = np.where(self.kind == 0, c, np.where(even, n + c, c))
        b = np.where(self.kind == 0, n + c, phone)
        return a, b, self.identifiers


def orders_chunk(graph: Graph, start: int, stop: int) -> pa.Table:
    """Rows ``start .. stop`` as orders with only the identifiers each record carries."""
    c, kind = graph.cust[start:stop], graph.kind[start:stop]
    n = stop - start
    even = c % 2 == 0
    rng = np.random.default_rng([start, stop])
    seconds = rng.integers(0, 3 * 365 * 86_400, n)
    return pa.table(
        {
            "order_id": text_of(np.arange(start, stop), "I", 9),
            "customer_id": masked(customer_ids(c), (kind == 0) | ~even),
            "email": masked(emails(c), (kind == 0) | even),
            "phone": masked(phones(c), kind == 1),
            "ordered_at": pa.array(
                np.datetime64("2022-12-31T00:00:00", "s") + seconds, pa.timestamp("s")
            ),
            "revenue": money(rng.lognormal(3.8, 0.8, n)),
        }
    )


def ensure_file(graph: Graph, identifiers: int, seed: int) -> Path:
    """The orders Parquet file of this graph, written in chunks unless already there."""
    path = OUT / f"identity_{identifiers}_{seed}.parquet"
    if path.exists() and pq.ParquetFile(path).metadata.num_rows == len(graph.cust):
        return path
    OUT.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".parquet.tmp")
    first = orders_chunk(graph, 0, min(CHUNK, len(graph.cust)))
    with pq.ParquetWriter(tmp, first.schema) as writer:
        for start in range(0, len(graph.cust), CHUNK):
            stop = min(start + CHUNK, len(graph.cust))
            writer.write_table(first if start == 0 else orders_chunk(graph, start, stop))
    tmp.rename(path)
    return path


def peer_seconds(graph: Graph) -> tuple[float, int]:
    """scipy connected_components on the in-memory integer edge list: time and components."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    a, b, n = graph.edges()
    started = time.perf_counter()
    matrix = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))
    components, _ = connected_components(matrix, directed=False)
    return time.perf_counter() - started, int(components)


def child(workspace: str, path: str) -> None:
    """The patron load in this (fresh) process, plus the customers it resolved."""
    import patron

    ws = patron.Workspace.init(workspace, timezone="UTC", phone_region="US")
    result = profiled_load(ws, "orders", path)
    status = ws.status()
    ws.close()
    emit({**result, "customers": status["customers"], "identities": status["identities"]})


def report(graph: Graph, run: dict[str, Any], peer: tuple[float, int]) -> None:
    """Figures, the correctness check and the target (a failed load fails both)."""
    print(
        f"\n== identity: {graph.identifiers:,} identifiers, {graph.customers:,} customers "
        f"(truth), {len(graph.cust):,} order rows =="
    )
    load, found = run["load_seconds"], run.get("customers", 0)
    resolve = run.get("steps", {}).get("resolve_new_records", [float("nan")])[0]
    print_table(
        ["run", "seconds", "peak RSS MiB", "customers"],
        [
            ["patron load (all phases)", load, run["peak_mib"], found],
            ["patron resolve_new_records", resolve, "", found],
            ["scipy connected_components (peer)", peer[0], "", peer[1]],
        ],
    )
    print(f"resolve / peer: {resolve / peer[0]:.0f}x   load / peer: {load / peer[0]:.0f}x")
    print(f"phases (s): {json.dumps({k: round(v, 2) for k, v in run.get('phases', {}).items()})}")
    print()
    if "steps" in run:
        print_steps([{**run, "case": "identity", "rows": len(graph.cust)}])
        print()
    if "error" in run:
        print(f"[FAIL] patron load failed after {load:.0f} s: {run['error']}")
    ok = found == graph.customers == peer[1]
    print(f"[{'PASS' if ok else 'FAIL'}] customers: patron {found:,}, truth {graph.customers:,}")
    fast = load < TARGET_SECONDS and "error" not in run
    print(f"[{'PASS' if fast else 'FAIL'}] load under a minute ({load:.1f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--identifiers", type=int, default=5_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--child", nargs=2, metavar=("WORKSPACE", "FILE"))
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    graph = Graph(args.identifiers, args.seed)
    path = ensure_file(graph, args.identifiers, args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="identity-", dir=OUT))
    try:
        run = run_child([SCRIPT, "--child", str(tmp / "ws"), str(path)])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report(graph, run, peer_seconds(graph))


if __name__ == "__main__":
    main()
