"""Where merged customer keys live on: the merge log read as key -> survivor.

Records made under a customer key before identity resolution merged it into another (an
experiment's assignments, an export a tool kept) must be read through the merge log: the
merged key has no profile, orders or identifiers left of its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis

if TYPE_CHECKING:
    from ibis import Table


def survivors(merged: Table) -> Table:
    """Each key merged away (``merged_key``) and the key it lives on as today (``survivor``,
    chains followed; NULL for a key dissolved when its every identifier was blocked), from the
    merge log ``merged`` (``customer_merges``), as a table any backend joins."""
    log = merged.select("merged_key", "into_key").to_pyarrow().to_pydict()
    pairs = list(zip(log["merged_key"], log["into_key"], strict=True))
    into = {key: survivor for key, survivor in pairs if survivor is not None}
    gone = {key for key, survivor in pairs if survivor is None}
    ends = {key: _survivor(into, key) for key in (*into, *gone)}
    return ibis.memtable(
        {"merged_key": list(ends), "survivor": [None if e in gone else e for e in ends.values()]},
        schema={"merged_key": "int64", "survivor": "int64"},
    )


def _survivor(into: dict[int, int], key: int) -> int:
    """The key ``key`` ends in after every merge (chains followed; a cycle stops)."""
    seen = {key}
    while key in into and into[key] not in seen:
        key = into[key]
        seen.add(key)
    return key
