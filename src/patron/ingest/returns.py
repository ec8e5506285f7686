"""Link return rows to the purchase they refund.

A return row names its order in ``return_of`` when the source says so. Otherwise it is linked to
the customer's latest purchase on or before the return whose revenue covers the refund (the
return's absolute revenue: sources write refunds as negative amounts or as positive amounts with a
returned status); when no such purchase is loaded yet, ``return_of`` stays empty. Either way a
return is never a purchase.
"""

from __future__ import annotations

import duckdb


def link_returns(con: duckdb.DuckDBPyConnection, load_id: int) -> None:
    """Fill ``return_of`` for the returns of ``load_id`` that lack it, where a match exists.

    Most loads bring none (a reload writes nothing at all): then the self-join of the orders,
    whose hash table would hold every purchase, is not planned."""
    unlinked = con.execute(
        f"SELECT EXISTS (SELECT 1 FROM orders WHERE load_id = {load_id} AND is_return "
        "AND return_of IS NULL)"
    ).fetchone()
    if not (unlinked and unlinked[0]):
        return
    con.execute(
        f"""UPDATE orders SET return_of = m.order_id FROM (
          SELECT r.row_key, arg_max(p.order_id, (p.ordered_at, p.order_id)) AS order_id
          FROM orders r JOIN orders p
            ON p.customer_key = r.customer_key AND NOT p.is_return
           AND p.ordered_at <= r.ordered_at AND p.revenue >= abs(r.revenue)
          WHERE r.load_id = {load_id} AND r.is_return AND r.return_of IS NULL
          GROUP BY r.row_key) m
        WHERE orders.row_key = m.row_key"""
    )
