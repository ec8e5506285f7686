"""Link return rows to the purchase they refund.

A return row names its order in ``return_of`` when the source says so. Otherwise it is linked to
the customer's latest purchase on or before the return whose revenue covers the refund (the
return's absolute revenue: sources write refunds as negative amounts or as positive amounts with a
returned status); when no such purchase is loaded yet, ``return_of`` stays empty until a load
brings one, or ties the return's customer to the buyer. Either way a return is never a
purchase, and never linked to a cancelled order (which refunds nothing: it was never paid).

A link patron made is not final: the load that brings the customer a later purchase (a backfill,
or a record tying another identifier's purchases to them) or splits the customer it was made in
(:mod:`patron.identity.split`) makes it again, so that the link is the one loading every file at
once would give, whatever order the files came in. A ``return_of`` the source gave is never
changed. Which is which needs no column of its own: the row's ``row_hash`` is that of its
content as loaded, so a made link is one whose row hashes as loaded with ``return_of`` empty.
"""

from __future__ import annotations

import duckdb

from patron.ingest.contract import ORDERS, purchase_sql
from patron.ingest.stage import content_hash_sql


def _made_link(alias: str) -> str:
    """SQL: the return ``alias`` has a ``return_of`` patron made (its source gave none)."""
    fields = tuple(
        "CAST(NULL AS VARCHAR)" if name == "return_of" else f"{alias}.{name}"
        for name in ORDERS.field_names
    )
    return f"({alias}.return_of IS NOT NULL AND {alias}.row_hash = {content_hash_sql(fields)})"


def link_returns(con: duckdb.DuckDBPyConnection, load_id: int, *, held: str | None = None) -> None:
    """Link, or link again, the returns that load ``load_id`` may have given another match:
    its own returns, and the returns of the customers it brought purchases for, merged or
    split (a return loaded before its purchase, under a phone that only a later record tied
    to the buyer's email, or linked to a walk-in's purchase through a store's email that this
    load blocked; ``held`` names the table of the customers that held an identifier the load
    blocked, column ``key``, whose rows may have gone to no one). Only returns without a
    ``return_of`` from their source are linked; a made link with no match left (a dissolved
    customer's return, or one made to a purchase that went to no one) is emptied.

    Most loads leave no such return (a reload writes nothing at all): then the self-join of
    the orders, whose hash table would hold every purchase, is not planned."""
    rekeyed = f"""SELECT into_key FROM customer_merges WHERE load_id = {load_id}
        UNION ALL SELECT from_key FROM customer_splits WHERE load_id = {load_id}
        UNION ALL SELECT new_key FROM customer_splits WHERE load_id = {load_id}"""
    if held is not None:
        rekeyed += f" UNION ALL SELECT key FROM {held}"
    pending = f"""r.is_return AND (r.return_of IS NULL OR {_made_link("r")}) AND (
        r.load_id = {load_id}
        OR r.customer_key IN (SELECT customer_key FROM orders
                              WHERE load_id = {load_id} AND {purchase_sql()})
        OR r.customer_key IN ({rekeyed})
        OR r.customer_key IS NULL AND r.return_of IS NOT NULL)"""
    unlinked = con.execute(f"SELECT EXISTS (SELECT 1 FROM orders r WHERE {pending})").fetchone()
    if not (unlinked and unlinked[0]):
        return
    con.execute(
        f"""UPDATE orders SET return_of = m.order_id FROM (
          SELECT r.row_key, arg_max(p.order_id, (p.ordered_at, p.order_id)) AS order_id
          FROM orders r LEFT JOIN orders p
            ON p.customer_key = r.customer_key AND {purchase_sql("p")}
           AND p.ordered_at <= r.ordered_at AND p.revenue >= abs(r.revenue)
          WHERE {pending}
          GROUP BY r.row_key) m
        WHERE orders.row_key = m.row_key AND orders.return_of IS DISTINCT FROM m.order_id"""
    )
