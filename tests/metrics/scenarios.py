"""One scenario's slice of a workspace shared by many little hand-made shops."""

from __future__ import annotations

from patron.metrics.occasions import Sales


def shop(sales: Sales, name: str) -> Sales:
    """The orders whose id starts with ``name.`` and the stored occasions of their customers.

    Every scenario has its own customers, so cutting the stored occasions by customer keeps the
    test on the table a real workspace reads.
    """
    orders = sales.orders.filter(sales.orders.order_id.startswith(f"{name}."))
    occasions = sales.occasions.filter(sales.occasions.customer_key.isin(orders.customer_key))
    return Sales(orders, occasions)
