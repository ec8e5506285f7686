"""Link return rows to the purchase they refund.

A return row names its order in ``return_of`` when the source says so. Otherwise it is linked to
the customer's latest purchase on or before the return whose revenue covers the refund (the
return's absolute revenue: sources write refunds as negative amounts or as positive amounts with a
returned status); when no such purchase is loaded yet, ``return_of`` stays empty until a load
brings one, or ties the return's customer to the buyer. Either way a return is never a
purchase, and never linked to a cancelled order (which refunds nothing: it was never paid).
"""

from __future__ import annotations

import duckdb

from patron.ingest.contract import purchase_sql


def link_returns(con: duckdb.DuckDBPyConnection, load_id: int) -> None:
    """Fill ``return_of`` where a match exists for the returns that lack it and that load
    ``load_id`` may have given one: its own returns, and earlier returns of the customers it
    brought purchases for or merged (a return loaded before its purchase, or under a phone
    that only a later record tied to the buyer's email).

    Most loads leave no such return (a reload writes nothing at all): then the self-join of
    the orders, whose hash table would hold every purchase, is not planned."""
    pending = f"""r.is_return AND r.return_of IS NULL AND (r.load_id = {load_id}
        OR r.customer_key IN (SELECT customer_key FROM orders
                              WHERE load_id = {load_id} AND {purchase_sql()})
        OR r.customer_key IN (SELECT into_key FROM customer_merges WHERE load_id = {load_id}))"""
    unlinked = con.execute(f"SELECT EXISTS (SELECT 1 FROM orders r WHERE {pending})").fetchone()
    if not (unlinked and unlinked[0]):
        return
    con.execute(
        f"""UPDATE orders SET return_of = m.order_id FROM (
          SELECT r.row_key, arg_max(p.order_id, (p.ordered_at, p.order_id)) AS order_id
          FROM orders r JOIN orders p
            ON p.customer_key = r.customer_key AND {purchase_sql("p")}
           AND p.ordered_at <= r.ordered_at AND p.revenue >= abs(r.revenue)
          WHERE {pending}
          GROUP BY r.row_key) m
        WHERE orders.row_key = m.row_key"""
    )
