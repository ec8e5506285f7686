"""Purchase occasions, kept as a derived table so no metric call regroups the orders.

A purchase occasion is a distinct (customer, shop-local ``order_date``) with at least one purchase
(see :mod:`patron.metrics.base`). Everything a metric needs about an occasion is fixed once the
day is over: its totals, its number ``n`` in the customer's history (0 = acquisition), the
previous occasion's date, the customer's ``first_date`` and ``acquisition_channel``. None of
these change when later days are cut off, so "occasions as of D" is the stored table filtered
to ``order_date <= D``.

The loader rebuilds ``purchase_occasions`` after every orders load (a merge of two customers
renumbers both histories), compiling the same Ibis expression the metrics would otherwise run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

import ibis

from patron.errors import InputError
from patron.ingest.contract import cancelled_sql, purchase_sql
from patron.metrics.base import purchases
from patron.portable import first_by
from patron.sql import scalar, tables

if TYPE_CHECKING:
    import duckdb
    from ibis import Table

TABLE = "purchase_occasions"
COLUMNS = """customer_key BIGINT, order_date DATE, channel VARCHAR, revenue DOUBLE,
    orders BIGINT, costed_revenue DOUBLE, cost DOUBLE, n BIGINT, first_date DATE,
    prev_date DATE, acquisition_channel VARCHAR"""
"""The stored table's columns (its DDL in the warehouse)."""

_ORDER_COLUMNS = ibis.schema(
    {
        "order_id": "string",
        "customer_key": "int64",
        "ordered_at": "timestamp",
        "order_date": "date",
        "channel": "string",
        "revenue": "decimal(18, 2)",
        "cost": "decimal(18, 2)",
        "is_return": "boolean",
        "status": "string",
    }
)
"""The ``orders`` columns occasions are made of, to compile the rebuild without a backend."""


@dataclass(frozen=True)
class Sales:
    """The two relations every metric reads: the orders and their purchase occasions.

    ``occasions`` holds every occasion ever (as :func:`occasion_days` defines them); metrics cut
    it at their as-of day. :meth:`of` derives it from any orders table, e.g. a filtered one.
    """

    orders: Table
    occasions: Table

    @classmethod
    def of(cls, orders: Table) -> Sales:
        """Occasions computed from ``orders`` on the fly (no stored table needed)."""
        return cls(orders, occasion_days(orders))


def purchase_span(sales: Sales) -> tuple[date, date]:
    """The first and last purchase days in the data (a trend starts at the first)."""
    occ = sales.occasions
    span = occ.aggregate(first=occ.order_date.min(), last=occ.order_date.max())
    row = span.to_pyarrow().to_pylist()[0]
    if row["last"] is None:
        raise InputError(
            "no purchases are loaded yet (orders that are neither returns nor cancelled); "
            "run `patron load orders FILE` first"
        )
    return _day(row["first"]), _day(row["last"])


def last_order_date(sales: Sales) -> date:
    """The default as-of day: the last shop-local day of any order loaded, a purchase, a
    return or a cancelled order (never the wall clock).

    The orders cover that day, so a day after the last purchase with only refunds is a day
    without sales, not one without data; as of the last purchase day instead, a shop's latest
    refunds fell outside every default figure (net revenue, return rate, CLV). Events do not
    count: they are often loaded more often than orders, and their later days would read as
    days without purchases. Before any purchase there is nothing to be as of (InputError).
    """
    last_sale = purchase_span(sales)[1]  # raises before any purchase
    return data_end(sales) or last_sale


def data_end(sales: Sales) -> date | None:
    """The last shop-local day of any order row loaded (None before any): the day the data
    run to, which a later as-of day is past."""
    last = sales.orders.order_date.max().to_pyarrow().as_py()
    return None if last is None else _day(last)


def _day(value: date | datetime) -> date:
    """Dates come back as dates from DuckDB, as timestamps from some other engines."""
    return value.date() if isinstance(value, datetime) else value


def occasion_days(orders: Table, *, per_channel: bool = False) -> Table:
    """Every purchase occasion: customer_key, order_date, revenue, orders, margin parts, ...

    ``channel`` is the day's first order's channel. One window pass adds ``n`` (occasions
    numbered from 0, the acquisition), ``first_date``, ``prev_date`` (the customer's occasion
    before, so "first occasion in a period" needs no regrouping) and ``acquisition_channel``. With
    ``per_channel`` each channel counts as its own shop and ``grp`` names it.
    """
    p = purchases(orders)
    # Partition by the customer alone unless per channel: a constant key still costs the sort.
    keys = ["grp", "customer_key"] if per_channel else ["customer_key"]
    p = p.mutate(grp=p.channel) if per_channel else p
    days = p.group_by([*keys, "order_date"]).agg(
        channel=first_by(p.channel, [p.ordered_at, p.order_id]),
        revenue=p.revenue.sum(),
        orders=p.count(),
        costed_revenue=p.revenue.sum(where=p.cost.notnull()),
        cost=p.cost.sum(),
    )
    order = ibis.window(group_by=keys, order_by="order_date")
    return days.mutate(
        n=ibis.row_number().over(order),
        first_date=days.order_date.first().over(order),
        prev_date=days.order_date.lag().over(order),
        acquisition_channel=days.channel.first().over(order),
    )


def occasions(sales: Sales, as_of: date, *, per_channel: bool = False) -> Table:
    """Occasions on or before ``as_of``, with ``grp``: the channel ``per_channel``, else ``all``."""
    if per_channel:
        return occasion_days(
            sales.orders.filter(sales.orders.order_date <= as_of), per_channel=True
        )
    days = sales.occasions.filter(sales.occasions.order_date <= as_of)
    return days.mutate(grp=ibis.literal("all"))


ORDERS_PER_PASS = 2_000_000
"""A rebuild groups and sorts at most about this many orders at a time, splitting customers by
key: under the default 1 GB memory limit, 10M orders in one pass spilled to disk and took
10.0-10.7 s in a load, 6.1-6.6 s in five passes."""


def rebuild_occasions(con: duckdb.DuckDBPyConnection, touched: str | None = None) -> None:
    """Replace ``purchase_occasions`` from ``orders`` (inside the caller's transaction): every
    customer's, or only those of the customers in table ``touched`` (column customer_key).

    A customer's occasions depend on their own orders alone, so recomputing the customers a
    load touched gives the same table as a rebuild, at the cost of the load's size; and a big
    rebuild can go a share of the customers at a time.
    """
    orders = ibis.table(_ORDER_COLUMNS, name="orders")
    only = ""
    if touched is not None:
        keys = ibis.table({"customer_key": "int64"}, name=touched).customer_key
        orders = orders.filter(orders.customer_key.isin(keys))
        only = f" WHERE customer_key IN (SELECT customer_key FROM {touched})"
    con.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} ({COLUMNS})")
    con.execute(f"DELETE FROM {TABLE}{only}")
    rows = int(scalar(con, f"SELECT count(*) FROM orders{only}"))
    passes = max(1, -(-rows // ORDERS_PER_PASS))
    for share in range(passes):
        part = orders.filter(orders.customer_key % passes == share) if passes > 1 else orders
        query = ibis.to_sql(occasion_days(part), dialect="duckdb")
        con.execute(f"INSERT INTO {TABLE} BY NAME {query}")


def drop_cancelled_days(con: duckdb.DuckDBPyConnection) -> None:
    """Rebuild the occasions of customers whose stored occasions count a day they only placed
    cancelled orders on: a workspace loaded before cancelled orders were told apart
    (:data:`~patron.ingest.contract.CANCELLED_STATUSES`) has such days. The search reads the
    cancelled orders alone, so a workspace without any pays one filtered scan."""
    if TABLE not in tables(con):
        return
    cancelled = f"{cancelled_sql('o')} AND o.customer_key IS NOT NULL"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _stale AS
        SELECT DISTINCT o.customer_key FROM orders o
        SEMI JOIN {TABLE} p ON p.customer_key = o.customer_key AND p.order_date = o.order_date
        WHERE {cancelled} AND NOT EXISTS (
          SELECT 1 FROM orders q WHERE q.customer_key = o.customer_key
            AND q.order_date = o.order_date AND {purchase_sql("q")})"""
    )
    if scalar(con, "SELECT count(*) FROM _stale"):
        rebuild_occasions(con, "_stale")
    con.execute("DROP TABLE _stale")
