"""Replenishment: how long customers take to buy a product again, and whose is due for it.

Definitions, as of a day A (purchase lines as in :mod:`patron.insights.affinity`: lines of
attributed purchase orders dated on or before A; lines of returns never count; nothing after A
is read):

- An *item* is a line's ``sku``, or with ``by="category"`` its category (the line's, else the
  product's). A *purchase* of an item is a day on which the customer bought it: two orders or
  lines of it on one day are one purchase, as two orders make one occasion.
- An *interval* is the days between two consecutive purchases of one item by one customer. A
  *repeat customer* of the item has at least two purchases of it, so at least one interval.
- Per item: *buyers* (customers with a purchase of it), repeat *customers*, *intervals*, and
  the median, p25 and p75 of the intervals, pooled over its customers (each interval counts
  once: a customer who refills often weighs more, as their refills do for the shop). Quantiles
  interpolate linearly (``QUANTILE_CONT``, as in :mod:`patron.insights.timing`). An item is
  *reported* only with at least ``min_customers`` repeat customers: the intervals of fewer
  describe those people rather than the item.
- *Spread*: (p75 - p25) / median. An item is *regular* when its spread is at most
  ``MAX_SPREAD`` (0.5): the middle half of its refills falls within half a cycle. Bought again
  by chance at a steady rate, the spread is about ln 3 / ln 2 = 1.58 (exponential gaps); a
  product used up on a cycle is far tighter (0.2 in the synthetic sample). Only regular items
  are due: reminding a customer of a T-shirt bought "again" by chance is noise. With a handful
  of repeat customers the spread is itself noisy, so a chance item can pass: raise
  ``min_customers`` where the catalog allows.
- *Due date*: a buyer of a reported regular item whose last purchase of it was on day L is due on
  L + the item's median interval (whole days, halves up); *days until due* counts from A
  (negative: overdue). One purchase is enough: a first refill is due too.
- *Lapsed*: a buyer whose last purchase was more than the item's p75 interval before A has
  gone longer without it than three refills in four take; they more likely stopped, or buy it
  elsewhere, than forgot, so they are never due. Put on the due-date scale: due dates before
  A - (p75 - median) are left out.
- *Due within D days*: not lapsed and the due date on or before A + D. A customer's
  *replenishment due* is their earliest due date over the regular items they have not lapsed
  on, however far ahead (ties go to the first item by name).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import ibis

from patron.errors import InputError, did_you_mean, option
from patron.insights.affinity import Baskets, purchase_lines, rounded
from patron.portable import first_by, round_half_up

if TYPE_CHECKING:
    from ibis import Table

BY = ("sku", "category")
PLURAL = {"sku": "products", "category": "categories"}
MIN_CUSTOMERS = 5
"""Fewest repeat customers for an item's intervals to be reported."""
QUANTILES = {"p25_interval_days": 0.25, "median_interval_days": 0.5, "p75_interval_days": 0.75}
MAX_SPREAD = 0.5
"""Widest (p75 - p25) / median of a regular item, one with a refill cycle (module docstring)."""


def intervals(baskets: Baskets, as_of: date, *, by: str = "sku") -> Table:
    """Every interval ended by ``as_of``: customer_key, item, order_date (its end),
    interval_days."""
    _check(by=by)
    return _intervals(_purchase_days(baskets, as_of, by))


def replenishment(
    baskets: Baskets, as_of: date, *, by: str = "sku", min_customers: int = MIN_CUSTOMERS
) -> dict[str, Any]:
    """The replenishment insight: each reported item's intervals, most repeat customers first.

    Under ``products`` (``categories`` by category), rows of the item (``sku`` with the
    product's ``name`` and ``category``, or ``category``), buyers, customers, intervals and the
    median, p25 and p75 interval in days, their spread and whether the item is regular. Keys
    are stable (the CLI's ``--json``).
    """
    _check(by=by, min_customers=min_customers)
    stats = _described(_stats(_purchase_days(baskets, as_of, by), min_customers), baskets, by)
    stats = stats.select(
        *_item_columns(by), "buyers", "customers", "intervals", *QUANTILES, "spread", "regular"
    )
    stats = stats.order_by([ibis.desc(stats.customers), stats[by]])
    return {
        "as_of": as_of.isoformat(),
        "by": by,
        "min_customers": min_customers,
        PLURAL[by]: [rounded(row) for row in stats.to_pyarrow().to_pylist()],
    }


def due(
    baskets: Baskets,
    as_of: date,
    *,
    within: int,
    by: str = "sku",
    min_customers: int = MIN_CUSTOMERS,
) -> Table:
    """Buyers due to buy a regular item again by ``within`` days after ``as_of``, overdue ones
    included.

    Columns: customer_key, the item (``sku``, ``name``, ``category``; or ``category``),
    last_purchase, due_date, days_until_due; by due date. Lapsed buyers are left out (see the
    module docstring).
    """
    if within < 0:
        raise InputError(f"{option('within', 'due-within')} must be 0 or more days")
    t = _due_dates(baskets, as_of, by, min_customers)
    t = _described(t.filter(t.due_date <= as_of + timedelta(days=within)), baskets, by)
    columns = ["customer_key", *_item_columns(by), "last_purchase", "due_date", "days_until_due"]
    return t.select(*columns).order_by(["due_date", "customer_key", by])


def customer_due(
    baskets: Baskets, as_of: date, *, by: str = "sku", min_customers: int = MIN_CUSTOMERS
) -> Table:
    """Per buyer of a regular item they have not lapsed on: ``replenishment_due``, their
    earliest due date, and ``replenishment_<by>``, its item (for the customer export)."""
    t = _due_dates(baskets, as_of, by, min_customers)
    return t.group_by("customer_key").agg(
        replenishment_due=t.due_date.min(),
        **{f"replenishment_{by}": first_by(t.item, [t.due_date, t.item])},
    )


def _purchase_days(baskets: Baskets, as_of: date, by: str) -> Table:
    """The purchases by ``as_of``: distinct customer_key, order_date, item."""
    return purchase_lines(baskets, as_of, by).distinct()


def _intervals(days: Table) -> Table:
    """Each purchase after a customer's first of the item, with the days since the one before."""
    order = ibis.window(group_by=["customer_key", "item"], order_by="order_date")
    days = days.mutate(prev=days.order_date.lag().over(order))
    ended = days.filter(days.prev.notnull())
    return ended.select(
        "customer_key",
        "item",
        "order_date",
        interval_days=ended.order_date.delta(ended.prev, unit="day"),
    )


def _stats(days: Table, min_customers: int) -> Table:
    """Per item with ``min_customers`` repeat customers: buyers, customers, intervals, quantiles."""
    gaps = _intervals(days)
    stats = gaps.group_by("item").agg(
        customers=gaps.customer_key.nunique(),
        intervals=gaps.count(),
        **{name: gaps.interval_days.quantile(q) for name, q in QUANTILES.items()},
    )
    stats = stats.filter(stats.customers >= min_customers)
    spread = (stats.p75_interval_days - stats.p25_interval_days) / stats.median_interval_days
    stats = stats.mutate(spread=spread, regular=spread <= MAX_SPREAD)
    buyers = days.group_by("item").agg(buyers=days.customer_key.nunique())
    return stats.inner_join(buyers, "item")


def _due_dates(baskets: Baskets, as_of: date, by: str, min_customers: int) -> Table:
    """customer_key, item, last_purchase, due_date, days_until_due of the buyers not lapsed."""
    _check(by=by, min_customers=min_customers)
    days = _purchase_days(baskets, as_of, by)
    last = days.group_by(["customer_key", "item"]).agg(last_purchase=days.order_date.max())
    stats = _stats(days, min_customers)
    t = last.inner_join(stats.filter(stats.regular), "item")
    t = t.filter(ibis.date(as_of).delta(t.last_purchase, unit="day") <= t.p75_interval_days)
    cycle = round_half_up(t.median_interval_days).as_interval("D")
    # DuckDB's date + interval is a timestamp though Ibis types it a date: cast explicitly
    due_date = (t.last_purchase.cast("timestamp") + cycle).date()
    return t.select(
        "customer_key",
        "item",
        "last_purchase",
        due_date=due_date,
        days_until_due=due_date.delta(ibis.date(as_of), unit="day"),
    )


def _item_columns(by: str) -> list[str]:
    return [by, "name", "category"] if by == "sku" else [by]


def _described(t: Table, baskets: Baskets, by: str) -> Table:
    """``t`` with ``item`` named ``by``; for skus, the product's name and category joined."""
    t = t.rename({by: "item"})
    if by != "sku":
        return t
    products = baskets.products.select(product_sku="sku", name="name", category="category")
    return t.left_join(products, t.sku == products.product_sku).drop("product_sku")


def _check(*, by: str, min_customers: int = 1) -> None:
    """Refuse options that make no sense, with what to use instead."""
    if by not in BY:
        raise InputError(f"cannot time refills by {by!r}{did_you_mean(by, BY)}; use sku/category")
    if min_customers < 1:
        raise InputError(f"{option('min_customers')} must be at least 1 customer")
