"""Generate a seeded orders file (Parquet and CSV) for the load benchmarks.

Why this shape: the loader's cost depends on what a real export holds, so the file has unique
order ids, ~5 orders per customer, identifiers derived from the customer (the same person always
has the same email and phone, so identity resolution really links rows), valid US phones (so
they pass libphonenumber), ISO timestamps in the past and 2-decimal amounts. Generation streams
in chunks of 1M rows so memory stays small at 10M rows; a file that already exists with the
right row count (and seed) is reused, so benchmark runs measure loading, not generation.

Usage: ``python bench/make_data.py [--rows N] [--customers C] [--seed S]``
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from common import MIB, OUT

CHUNK = 1_000_000
AREAS = np.array([202, 206, 212, 213, 214, 303, 305, 312, 404, 415, 512, 617, 646, 702, 713, 718])
PHONE_SPACE = len(AREAS) * 800 * 10_000  # area x exchange 200-999 x line 0000-9999
PHONE_MULT = 2_654_435_761  # odd, not a multiple of 5: c -> phone is one-to-one
DOMAINS = pa.array(["gmail.com", "yahoo.com", "outlook.com", "icloud.com", "example.org"])
CHANNELS = pa.array(["web", "store", "app", "marketplace"])
CHANNEL_P = [0.5, 0.3, 0.15, 0.05]
END = np.datetime64("2025-12-31T00:00:00", "s")
SPAN_SECONDS = 3 * 365 * 86_400
EMAIL_SHARE, PHONE_SHARE, DISCOUNT_SHARE = 0.7, 0.2, 0.3


def text_of(values: np.ndarray, prefix: str = "", width: int = 0) -> pa.Array:
    """``prefix`` + decimal text of ``values`` (zero-padded to ``width``), built in Arrow."""
    digits = pc.cast(pa.array(values), pa.string())
    if width:
        digits = pc.utf8_lpad(digits, width, padding="0")
    return pc.binary_join_element_wise(prefix, digits, "") if prefix else digits


def customer_ids(c: np.ndarray) -> pa.Array:
    return text_of(c, "C", 8)


def emails(c: np.ndarray) -> pa.Array:
    """One email per customer: ``customer.<c>@<domain>``."""
    domain = pc.take(DOMAINS, pa.array(c % len(DOMAINS)))
    return pc.binary_join_element_wise("customer.", text_of(c), "@", domain, "")


def phones(c: np.ndarray) -> pa.Array:
    """One valid US number per customer, e.g. ``+12125550143``, distinct per customer."""
    p = (c.astype(np.int64) * PHONE_MULT + 12_345) % PHONE_SPACE
    area, rest = AREAS[p // 8_000_000], p % 8_000_000
    number = 10_000_000_000 + area * 10_000_000 + (200 + rest // 10_000) * 10_000 + rest % 10_000
    return text_of(number, "+")


def masked(values: pa.Array, keep: np.ndarray) -> pa.Array:
    return pc.if_else(pa.array(keep), values, pa.scalar(None, values.type))


def money(x: np.ndarray) -> pa.Array:
    return pa.array(np.round(x, 2)).cast(pa.decimal128(12, 2))


def chunk(seed: int, index: int, start: int, n: int, rows: int, customers: int) -> pa.Table:
    """Rows ``start .. start+n`` of the file; ordered in time like a real export."""
    rng = np.random.default_rng([seed, index])
    c = rng.integers(0, customers, n)
    i = np.arange(start, start + n, dtype=np.int64)
    seconds = i * SPAN_SECONDS // rows + rng.integers(0, 3_600, n)
    revenue = rng.lognormal(3.8, 0.8, n)
    discount = np.where(rng.random(n) < DISCOUNT_SHARE, revenue * rng.uniform(0.05, 0.3, n), 0)
    return pa.table(
        {
            "order_id": text_of(i + 1, "O", 10),
            "customer_id": customer_ids(c),
            "email": masked(emails(c), rng.random(n) < EMAIL_SHARE),
            "phone": masked(phones(c), rng.random(n) < PHONE_SHARE),
            "ordered_at": pa.array(END - SPAN_SECONDS + seconds, pa.timestamp("s")),
            "channel": pc.take(CHANNELS, pa.array(rng.choice(4, n, p=CHANNEL_P))),
            "revenue": money(revenue),
            "discount": money(discount),
            "currency": pa.array(np.full(n, "USD")),
            "status": pa.array(np.full(n, "completed")),
        }
    )


def as_csv(table: pa.Table) -> pa.Table:
    """The CSV form: ISO 8601 timestamps (``2024-03-05T12:34:56``) as text."""
    iso = pc.strftime(table["ordered_at"], format="%Y-%m-%dT%H:%M:%S")
    return table.set_column(table.schema.get_field_index("ordered_at"), "ordered_at", iso)


def paths(rows: int, stem: str = "orders") -> tuple[Path, Path, Path]:
    base = OUT / f"{stem}_{rows}"
    return base.with_suffix(".parquet"), base.with_suffix(".csv"), base.with_suffix(".json")


def is_current(rows: int, seed: int, customers: int) -> bool:
    """Both files exist and were written whole for these rows, seed and customers."""
    parquet, csv, meta = paths(rows)
    if not (parquet.exists() and csv.exists() and meta.exists()):
        return False
    wanted = {"rows": rows, "seed": seed, "customers": customers}
    return (
        json.loads(meta.read_text()) == wanted and pq.ParquetFile(parquet).metadata.num_rows == rows
    )


def write(rows: int, seed: int, customers: int) -> None:
    """Stream chunks into both files (under temporary names, renamed when complete)."""
    parquet, csv, meta = paths(rows)
    OUT.mkdir(parents=True, exist_ok=True)
    tmp_pq, tmp_csv = parquet.with_suffix(".parquet.tmp"), csv.with_suffix(".csv.tmp")
    first = chunk(seed, 0, 0, min(CHUNK, rows), rows, customers)
    with (
        pq.ParquetWriter(tmp_pq, first.schema, compression="snappy") as pw,
        pacsv.CSVWriter(tmp_csv, as_csv(first).schema) as cw,
    ):
        for index, start in enumerate(range(0, rows, CHUNK)):
            table = (
                first
                if index == 0
                else chunk(seed, index, start, min(CHUNK, rows - start), rows, customers)
            )
            pw.write_table(table, row_group_size=122_880)
            cw.write_table(as_csv(table))
    tmp_pq.rename(parquet)
    tmp_csv.rename(csv)
    meta.write_text(json.dumps({"rows": rows, "seed": seed, "customers": customers}))


def ensure_orders(rows: int, *, seed: int = 42, customers: int | None = None) -> tuple[Path, Path]:
    """The Parquet and CSV orders files of ``rows`` rows, generated only when missing."""
    customers = customers or max(1, rows // 5)
    if not is_current(rows, seed, customers):
        started = time.perf_counter()
        write(rows, seed, customers)
        print(f"generated {rows:,} rows in {time.perf_counter() - started:.1f} s", flush=True)
    parquet, csv, _ = paths(rows)
    return parquet, csv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--customers", type=int, default=None, help="default: rows / 5")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    for path in ensure_orders(args.rows, seed=args.seed, customers=args.customers):
        print(f"{path}  {path.stat().st_size / MIB:,.0f} MiB")


if __name__ == "__main__":
    main()
