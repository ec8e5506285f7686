"""Unite the records of one person: connected components over the identity graph.

Nodes are normalized identifiers (``email:ana@example.com``); two identifiers are linked when
one record (an order, an event, a CRM profile) carries both. Each connected component is one
customer. Resolution is incremental: only the identifiers a load touches and the customer keys
they already have enter the graph, so a load's cost follows its own size.

Keys are stable: a customer keeps its ``customer_key`` when new links arrive; when a load links
two existing customers, the older (smaller) key survives, the other is rewritten everywhere and
the merge is logged in ``customer_merges``. An identifier seen with more than ``max_links``
distinct identifiers of one other type (a store's default email typed in for every walk-in) is
blocked: it is listed in ``blocked_identifiers`` and never links anyone, and the customers it
had already united are split again (:mod:`patron.identity.split`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb
import numpy as np
import pyarrow as pa

from patron.identity.components import BATCH_EDGES, component_labels
from patron.identity.split import split_blocked
from patron.ingest.contract import IDENTIFIER_TYPES, KEYED_TABLES
from patron.sql import count

_TIME_COLUMN = {"orders": "ordered_at", "events": "occurred_at", "customer_records": "signed_up_at"}


@dataclass(frozen=True)
class Resolution:
    """What one resolution pass did."""

    new_customers: int
    merges: int
    """Customers merged into another, and customers dissolved (merged into no one) because
    every identifier they had was blocked: either way rows of every keyed table changed key."""
    blocked: int
    splits: int = 0
    """Customers split off another because the identifier that united them was blocked."""


def resolve_new_records(
    con: duckdb.DuckDBPyConnection,
    rows: str,
    table: str,
    load_id: int,
    *,
    max_links: int,
    now: datetime,
) -> Resolution:
    """Resolve the new records in relation ``rows`` (identifier columns and ``table``'s time
    column) before they are written to ``table``.

    Leaves ``_ident_keys(itype, ivalue, key)``, the customer key of each identifier of the load,
    for the writer (:func:`patron.identity.keys.record_key_sql`), so new rows are written once
    with their key instead of updated afterwards.
    A load that blocks an identifier also leaves ``_held(key)``, the customers that held it
    (:func:`~patron.identity.split.split_blocked`), whose rows may have changed key.
    """
    _record_identifiers(con, rows, table, now)
    _add_edges(con, "_ids")
    blocked, dissolved, splits = _block_promiscuous(con, max_links, load_id, now)
    _earlier_sightings(con, table)
    _components(con)
    new_customers, merges = _assign_keys(con, table, load_id, now)
    _identifier_keys(con)
    temps = ("_ids", "_idents", "_new_edges", "_key_nodes", "_labels", "_comp_keys", "_merges")
    for temp in temps:
        con.execute(f"DROP TABLE IF EXISTS {temp}")
    return Resolution(
        new_customers=new_customers, merges=merges + dissolved, blocked=blocked, splits=splits
    )


def _record_identifiers(
    con: duckdb.DuckDBPyConnection, rows: str, table: str, now: datetime
) -> None:
    """``_ids``: each distinct combination of identifiers on the new records, with the time
    it was first seen (a narrow copy, read by every step below), and ``_idents``: each
    identifier once, with its first-seen time, its existing key if any, and its graph node
    number (numbered here because a table made in the load's transaction keeps its memory
    until the commit, even when replaced by a renumbered copy).

    Records repeat identifiers (a customer's every order carries their email), so the graph
    steps work on distinct identifiers, never on one row per record and identifier.
    """
    seen = f"coalesce({_TIME_COLUMN[table]}, TIMESTAMP '{_stamp(now)}')"
    columns = ", ".join(IDENTIFIER_TYPES)
    con.execute(
        f"CREATE TEMP TABLE _ids AS SELECT {columns}, min({seen}) AS seen FROM {rows} "
        f"GROUP BY {columns}"
    )
    per_type = " UNION ALL ".join(
        f"SELECT '{t}' AS itype, {t} AS ivalue, min(seen) AS seen FROM _ids "
        f"WHERE {t} IS NOT NULL GROUP BY {t}"
        for t in IDENTIFIER_TYPES
    )
    con.execute(
        f"""CREATE TEMP TABLE _idents AS
        SELECT r.itype || ':' || r.ivalue AS ident, r.itype, r.ivalue, r.seen,
               i.customer_key AS key, CAST(row_number() OVER () - 1 AS BIGINT) AS node
        FROM ({per_type}) r
        LEFT JOIN identities i ON i.identifier_type = r.itype AND i.value = r.ivalue"""
    )


def _add_edges(con: duckdb.DuckDBPyConnection, rows: str) -> None:
    """Every pair of identifiers on one record, once; new pairs are kept in ``_new_edges``.

    Pairs come straight from each row's identifier columns (at most six per row), which is much
    cheaper than joining the unpivoted identifiers on the record key. Known pairs are found by
    an anti join, which hashes the load's pairs, not the whole graph's (0.8 s at 4M edges).
    """
    pairs = " UNION ALL ".join(
        f"SELECT least(x, y) AS a, greatest(x, y) AS b FROM (SELECT '{s}:' || {s} AS x, "
        f"'{t}:' || {t} AS y FROM {rows} WHERE {s} IS NOT NULL AND {t} IS NOT NULL)"
        for i, s in enumerate(IDENTIFIER_TYPES)
        for t in IDENTIFIER_TYPES[i + 1 :]
    )
    con.execute(
        f"""CREATE TEMP TABLE _new_edges AS
        SELECT a, b FROM (SELECT DISTINCT a, b FROM ({pairs})) ANTI JOIN identity_edges
          USING (a, b)"""
    )
    con.execute("INSERT INTO identity_edges SELECT a, b FROM _new_edges")


def _block_promiscuous(
    con: duckdb.DuckDBPyConnection, max_links: int, load_id: int, now: datetime
) -> tuple[int, int, int]:
    """Block identifiers linked to more than ``max_links`` identifiers of one other type; the
    number blocked, and the customers that dissolved and split off (:func:`split_blocked`).

    Links are counted per type only for the few identifiers with more than ``max_links`` links
    in all; grouping every touched identifier's links by type would cost a row per link.
    """
    before = count(con, "SELECT count(*) FROM blocked_identifiers")
    new, edges = (count(con, f"SELECT count(*) FROM {t}") for t in ("_new_edges", "identity_edges"))
    con.execute(
        f"""INSERT INTO blocked_identifiers
        WITH touched AS (SELECT a AS ident FROM _new_edges UNION ALL SELECT b FROM _new_edges),
        {_busy_sql(max_links, whole=2 * new >= edges)},
        degree AS (
          SELECT ident, split_part(other, ':', 1) AS other_type, count(*) AS links
          FROM sides WHERE ident IN (SELECT ident FROM busy) GROUP BY ALL)
        SELECT split_part(ident, ':', 1), substr(ident, strpos(ident, ':') + 1), max(links),
               {load_id}
        FROM degree WHERE links > {max_links}
          AND ident NOT IN (SELECT identifier_type || ':' || value FROM blocked_identifiers)
        GROUP BY ident"""
    )
    after = count(con, "SELECT count(*) FROM blocked_identifiers")
    split = split_blocked(con, load_id, _stamp(now), _last_key(con)) if after > before else None
    if split and split.parts:  # identifiers of the load that a split moved to a new key
        con.execute(
            "UPDATE _idents SET key = i.customer_key FROM identities i "
            "WHERE _idents.key IN (SELECT key FROM _held) AND i.identifier_type = _idents.itype "
            "AND i.value = _idents.ivalue"
        )
    if after:  # most workspaces block nothing: then there is nothing to scan for
        blocked = "(SELECT identifier_type || ':' || value FROM blocked_identifiers)"
        con.execute(f"DELETE FROM _idents WHERE ident IN {blocked}")
        con.execute(f"DELETE FROM _new_edges WHERE a IN {blocked} OR b IN {blocked}")
    return after - before, split.dissolved if split else 0, split.parts if split else 0


def _earlier_sightings(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Move back the first sighting of known identifiers that this load's records show earlier.

    Files do not arrive in date order (last year's history is often loaded after this month's);
    ``customers`` shows each person's first-seen identifiers, which must not depend on which
    file came first.
    """
    con.execute(
        f"""UPDATE identities SET first_seen = r.seen, source = '{table}' FROM _idents r
        WHERE r.key IS NOT NULL AND identities.identifier_type = r.itype
          AND identities.value = r.ivalue AND r.seen < identities.first_seen"""
    )


def _busy_sql(max_links: int, *, whole: bool) -> str:
    """CTEs ``sides`` (each edge from each end: ident, other) and ``busy``: the touched
    identifiers with more than ``max_links`` links.

    A load small beside the graph counts the links of its own identifiers only. A load about
    as big as the graph (the first) counts every identifier's and keeps the few busy ones it
    touched: the lookup table of every touched identifier would not fit in the memory limit.
    """
    if whole:
        return f"""sides AS (
          SELECT a AS ident, b AS other FROM identity_edges
          UNION ALL SELECT b, a FROM identity_edges),
        many AS (SELECT ident FROM sides GROUP BY ident HAVING count(*) > {max_links}),
        busy AS (SELECT DISTINCT many.ident FROM many JOIN touched USING (ident))"""
    return f"""sides AS (
          SELECT a AS ident, b AS other FROM identity_edges WHERE a IN (SELECT ident FROM touched)
          UNION ALL
          SELECT b, a FROM identity_edges WHERE b IN (SELECT ident FROM touched)),
        busy AS (SELECT ident FROM sides GROUP BY ident HAVING count(*) > {max_links})"""


def _components(con: duckdb.DuckDBPyConnection) -> None:
    """Label each touched identifier (and each existing key it reaches) with a component.

    Nodes are numbered (``_idents.node``, ``_key_nodes.node``) so that every step after the
    graph joins on integers, not on identifier text; blocked identifiers leave unused numbers.
    The edges stream from the engine in batches (:mod:`patron.identity.components`), so the
    memory this step takes beside the engine's follows the identifiers, not the links.
    """
    idents = count(con, "SELECT coalesce(max(node) + 1, 0) FROM _idents")
    con.execute(
        f"""CREATE TEMP TABLE _key_nodes AS
        SELECT key, {idents} + CAST(row_number() OVER () - 1 AS BIGINT) AS node
        FROM (SELECT DISTINCT key FROM _idents WHERE key IS NOT NULL)"""
    )
    n = idents + count(con, "SELECT count(*) FROM _key_nodes")
    edges = con.sql(
        """SELECT CAST(na.node AS INTEGER) AS a, CAST(nb.node AS INTEGER) AS b FROM _new_edges e
          JOIN _idents na ON na.ident = e.a JOIN _idents nb ON nb.ident = e.b
        UNION ALL SELECT CAST(i.node AS INTEGER), CAST(k.node AS INTEGER)
        FROM _idents i JOIN _key_nodes k USING (key)"""
    ).to_arrow_reader(BATCH_EDGES)
    with edges:  # an open stream refuses every other query, the rollback of a failure too
        labels = component_labels(
            n, ((b.column(0).to_numpy(), b.column(1).to_numpy()) for b in edges)
        )
    con.register("_labels_arrow", pa.table({"node": np.arange(n, dtype=np.int32), "comp": labels}))
    con.execute(
        "CREATE TEMP TABLE _labels AS SELECT CAST(node AS BIGINT) AS node, comp FROM _labels_arrow"
    )
    con.unregister("_labels_arrow")


def _assign_keys(
    con: duckdb.DuckDBPyConnection, table: str, load_id: int, now: datetime
) -> tuple[int, int]:
    """Each component's key: its oldest existing key, or a new one in first-seen order."""
    next_key = _last_key(con)
    con.execute(
        f"""CREATE TEMP TABLE _comp_keys AS
        WITH existing AS (
          SELECT l.comp, min(k.key) AS key FROM _key_nodes k JOIN _labels l USING (node)
          GROUP BY l.comp),
        firsts AS (
          SELECT l.comp, min(r.seen) AS seen, min(r.ident) AS name FROM _idents r
          JOIN _labels l USING (node) GROUP BY l.comp)
        SELECT f.comp, coalesce(e.key, {next_key} + row_number() OVER (
            PARTITION BY e.key IS NULL ORDER BY f.seen, f.name)) AS key, e.key IS NULL AS fresh
        FROM firsts f LEFT JOIN existing e USING (comp)"""
    )
    con.execute(
        """CREATE TEMP TABLE _merges AS
        SELECT DISTINCT k.key AS merged_key, c.key AS into_key
        FROM _key_nodes k JOIN _labels l USING (node) JOIN _comp_keys c USING (comp)
        WHERE k.key <> c.key"""
    )
    merges = count(con, "SELECT count(*) FROM _merges")
    for keyed in ("identities", *KEYED_TABLES) if merges else ():
        con.execute(
            f"UPDATE {keyed} SET customer_key = m.into_key FROM _merges m "
            f"WHERE {keyed}.customer_key = m.merged_key"
        )
    con.execute(
        f"INSERT INTO customer_merges SELECT {load_id}, merged_key, into_key, "
        f"TIMESTAMP '{_stamp(now)}' FROM _merges"
    )
    con.execute(
        f"""INSERT INTO identities
        SELECT r.itype, r.ivalue, c.key, '{table}', r.seen
        FROM _idents r JOIN _labels l USING (node) JOIN _comp_keys c USING (comp)
        WHERE r.key IS NULL"""
    )
    return count(con, "SELECT count(*) FROM _comp_keys WHERE fresh"), merges


def _identifier_keys(con: duckdb.DuckDBPyConnection) -> None:
    """``_ident_keys``: the key of each unblocked identifier of the load (its component's)."""
    con.execute(
        """CREATE TEMP TABLE _ident_keys AS
        SELECT r.itype, r.ivalue, c.key FROM _idents r JOIN _labels l USING (node)
          JOIN _comp_keys c USING (comp)"""
    )


def _last_key(con: duckdb.DuckDBPyConnection) -> int:
    """The largest key ever given: new ones count on from it (a key merged away or dissolved
    has left ``identities`` but stays in the merge log, and is never handed out again)."""
    return count(
        con,
        "SELECT coalesce(max(k), 0) FROM (SELECT max(customer_key) AS k FROM identities "
        "UNION ALL SELECT max(merged_key) FROM customer_merges)",
    )


def _stamp(now: datetime) -> str:
    return now.replace(tzinfo=None).isoformat()
