"""Take apart the customers an identifier united before it was blocked.

An identifier is blocked once it has been seen with more than ``max_links`` identifiers of one
other type. Loads arrive a day at a time, so before it crossed the threshold it may already have
united a few people (the store's e-mail typed in for the first three walk-ins). Blocking must
leave the customers it would have left had the identifier been blocked from the start, whatever
order the files came in: each customer that held a newly blocked identifier is split into the
connected components of its other identifiers, over the links ``identity_edges`` recorded.

The part seen first keeps the key (keys are stable, and the oldest is the one exports and
experiments most likely hold); each other part gets a new key, logged in ``customer_splits``.
A customer left with no identifier is dissolved: its rows belong to no one, and the merge log
records its key as merged into no one (``into_key`` NULL), which also keeps the key from being
handed out again.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa

from patron.identity.components import BATCH_EDGES, component_labels
from patron.identity.keys import KNOWN_KEYS, record_key_sql
from patron.ingest.contract import IDENTIFIER_TYPES, KEYED_TABLES
from patron.sql import count


@dataclass(frozen=True)
class Split:
    """What blocking did to the customers that held the blocked identifiers."""

    parts: int
    """New customers split off an existing one."""
    dissolved: int
    """Customers left with no identifier."""


def split_blocked(con: duckdb.DuckDBPyConnection, load_id: int, stamp: str, next_key: int) -> Split:
    """Take the identifiers load ``load_id`` blocked out of ``identities`` and split or
    dissolve the customers that held them; new keys count on from ``next_key``.

    Leaves ``_held(key)``, the customers that held one, for the caller to refresh what it
    computed from their keys before the split: even a customer left in one piece may have
    lost rows (those whose only identifier was blocked), so its derived rows change too.
    """
    newly = f"(SELECT (identifier_type, value) FROM blocked_identifiers WHERE load_id = {load_id})"
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _held AS SELECT DISTINCT customer_key AS key "
        f"FROM identities WHERE (identifier_type, value) IN {newly}"
    )
    con.execute(f"DELETE FROM identities WHERE (identifier_type, value) IN {newly}")
    if not count(con, "SELECT count(*) FROM _held"):
        return Split(parts=0, dissolved=0)
    _label_members(con)
    parts = _assign_parts(con, load_id, stamp, next_key)
    dissolved = _dissolve(con, load_id, stamp)
    # Also when each held customer is left whole: its rows whose only identifier was blocked
    # (the till's own CRM record, a receipt under its email alone) belong to no one now.
    _rekey_rows(con)
    con.execute("DROP TABLE IF EXISTS _members")
    return Split(parts=parts, dissolved=dissolved)


def _label_members(con: duckdb.DuckDBPyConnection) -> None:
    """``_members``: the identifiers the held customers have left, each with its component
    among them (links through blocked identifiers do not count: those left ``identities``)."""
    con.execute(
        """CREATE TEMP TABLE _members AS
        SELECT identifier_type || ':' || value AS ident, identifier_type AS itype, value,
               customer_key AS key, first_seen,
               CAST(row_number() OVER () - 1 AS BIGINT) AS node
        FROM identities WHERE customer_key IN (SELECT key FROM _held)"""
    )
    n = count(con, "SELECT count(*) FROM _members")
    edges = con.sql(
        """SELECT CAST(ma.node AS INTEGER), CAST(mb.node AS INTEGER) FROM identity_edges e
        JOIN _members ma ON ma.ident = e.a JOIN _members mb ON mb.ident = e.b"""
    ).to_arrow_reader(BATCH_EDGES)
    with edges:  # an open stream refuses every other query
        labels = component_labels(
            n, ((b.column(0).to_numpy(), b.column(1).to_numpy()) for b in edges)
        )
    con.register("_member_labels", pa.table({"node": np.arange(n), "comp": labels}))
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _members AS SELECT m.*, l.comp FROM _members m "
        "JOIN _member_labels l USING (node)"
    )
    con.unregister("_member_labels")


def _assign_parts(con: duckdb.DuckDBPyConnection, load_id: int, stamp: str, next_key: int) -> int:
    """Give each component but the first seen of every held customer a new key; the number
    of new keys."""
    con.execute(
        f"""CREATE TEMP TABLE _parts AS
        WITH parts AS (
          SELECT key, comp, min(first_seen) AS seen, min(ident) AS name FROM _members
          GROUP BY key, comp),
        ranked AS (
          SELECT *, row_number() OVER (PARTITION BY key ORDER BY seen, name) AS place
          FROM parts)
        SELECT key AS from_key, comp,
               {next_key} + row_number() OVER (ORDER BY key, seen, name) AS new_key
        FROM ranked WHERE place > 1"""
    )
    parts = count(con, "SELECT count(*) FROM _parts")
    if parts:
        con.execute(
            "UPDATE identities SET customer_key = p.new_key FROM _members m JOIN _parts p "
            "USING (comp) WHERE identities.identifier_type = m.itype "
            "AND identities.value = m.value"
        )
        con.execute(
            f"INSERT INTO customer_splits SELECT {load_id}, from_key, new_key, "
            f"TIMESTAMP '{stamp}' FROM _parts"
        )
    con.execute("DROP TABLE _parts")
    return parts


def _dissolve(con: duckdb.DuckDBPyConnection, load_id: int, stamp: str) -> int:
    """Log the held customers left with no identifier as merged into no one; their number."""
    emptied = "FROM _held WHERE key NOT IN (SELECT key FROM _members)"
    con.execute(
        f"INSERT INTO customer_merges SELECT {load_id}, key, NULL, TIMESTAMP '{stamp}' {emptied}"
    )
    return count(con, f"SELECT count(*) {emptied}")


def _rekey_rows(con: duckdb.DuckDBPyConnection) -> None:
    """Give every row of a held customer the key of its identifiers now, or none when its
    only identifiers were blocked (all unblocked identifiers of a record are linked to each
    other, so any of them gives its key)."""
    ids = ", ".join(IDENTIFIER_TYPES)
    joins, key = record_key_sql("r", KNOWN_KEYS)
    same = " AND ".join(f"{{table}}.{t} IS NOT DISTINCT FROM n.{t}" for t in IDENTIFIER_TYPES)
    for table in KEYED_TABLES:
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _new_keys AS
            SELECT r.*, {key} AS key FROM (SELECT DISTINCT {ids} FROM {table}
              WHERE customer_key IN (SELECT key FROM _held)) r {joins}"""
        )
        con.execute(
            f"UPDATE {table} SET customer_key = n.key FROM _new_keys n "
            f"WHERE {table}.customer_key IN (SELECT key FROM _held) AND " + same.format(table=table)
        )
    con.execute("DROP TABLE IF EXISTS _new_keys")
