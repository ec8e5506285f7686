"""The CDNOW dataset, bundled, as canonical orders.

CDNOW (Fader, Hardie & Lee 2005, "Counting your customers the easy way"): 23,570 customers who
first bought in Q1 1997, with every purchase to the end of June 1998 (date, number of CDs, dollar
value). The 1/10 sample (2,357 customers) is the one the paper's BG/NBD estimates are fitted on.
Each source row is one purchase; rows get stable ids ``cdnow-<customer>-<n>`` (n counts the
customer's rows in file order), so two same-day purchases stay two orders.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

from patron.outfile import write_whole
from patron.samples.folder import prepare

HEADER = ("order_id", "customer_id", "ordered_at", "channel", "revenue", "currency", "cds")


def read_rows(*, sample: bool = False) -> Iterator[tuple[str, str, int, str]]:
    """Yield (customer_id, YYYY-MM-DD, cds, dollars) from the bundled file."""
    name = "CDNOW_sample.txt" if sample else "CDNOW_master.txt"
    text = resources.files("patron.samples").joinpath("data", name).read_text(encoding="ascii")
    for line in text.splitlines():
        parts = line.split()
        if not parts or not parts[-1][0].isdigit():
            continue  # the master file's header line
        customer, day, cds, dollars = (parts[0], *parts[-3:])
        yield customer, f"{day[:4]}-{day[4:6]}-{day[6:]}", int(cds), dollars


def write_orders(out: Path, *, sample: bool = False) -> Path:
    """Write ``orders.csv`` (canonical columns, plus ``cds``) into ``out``, replacing only an
    earlier CDNOW sample's (see :mod:`patron.samples.folder`)."""
    path = prepare(out, {"orders": HEADER})["orders"]

    def write(part: Path) -> None:
        seen: Counter[str] = Counter()
        with part.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(HEADER)
            for customer, day, cds, dollars in read_rows(sample=sample):
                seen[customer] += 1
                order_id = f"cdnow-{customer}-{seen[customer]}"
                writer.writerow((order_id, customer, day, "web", dollars, "USD", cds))

    write_whole(path, write)  # a stopped run leaves no cut orders.csv
    return path
