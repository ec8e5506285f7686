"""The relations every customer metric is defined on: purchases, refunds, occasions, acquisition.

Definitions (the contract of issue 3, shared by KPIs, cohorts and segments):

- A *purchase* is an attributed order (it has a ``customer_key``) that is not a return; zero-value
  orders count. A *refund* is the absolute revenue of an attributed return row.
- A *purchase occasion* is a distinct (customer, shop-local ``order_date``) with at least one
  purchase, as in the buy-till-you-die literature: two orders on one day are one occasion.
- "As of D" means through the end of shop-local day D; nothing after D is read, and nothing reads
  the wall clock (the default D is the last day of the orders loaded, returns included).
- A customer's *acquisition* is their first occasion; the *acquisition channel* is the channel of
  their earliest purchase order that day ("unknown" when the order has none).

Orders without a ``customer_key`` (only blocked identifiers) are not customer activity and are
left out of every metric; ``patron status`` counts them as ``unattributed_orders``.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import ibis

from patron.errors import InputError, did_you_mean
from patron.ingest.contract import CANCELLED_STATUSES

if TYPE_CHECKING:
    from ibis import Table
    from ibis.expr.types import DateValue, IntegerValue

PERIODS = ("month", "quarter", "year", "season")
SEASONS = ("winter", "spring", "summer", "autumn", "holiday")
"""Retail seasons: winter Jan-Feb, spring Mar-May, summer Jun-Aug, autumn Sep-Oct, holiday Nov-Dec.

Holiday gets its own season so "holiday 2023 vs holiday 2022 acquisitions" is one comparison.
"""
GROUPINGS = ("acquisition_channel", "channel", "cohort")


def ratio(num: float | None, den: float | None) -> float | None:
    """num / den, or None when either is missing or the denominator is zero (never 0)."""
    return None if num is None or not den else num / den


def sales_only(orders: Table) -> Table:
    """``orders`` without the cancelled ones (:data:`~patron.ingest.contract.CANCELLED_STATUSES`):
    purchases and returns, whose ``is_return`` tells them apart. Orders without a ``status``
    column (a data frame of transactions) have none."""
    if "status" not in orders.columns:
        return orders
    cancelled = orders.status.lower().isin(CANCELLED_STATUSES).fill_null(False)
    return orders.filter(orders.is_return | ~cancelled)


def purchases(orders: Table) -> Table:
    """Attributed purchase orders, money as float64."""
    orders = sales_only(orders)
    kept = orders.filter(~orders.is_return, orders.customer_key.notnull())
    return kept.select(
        "customer_key",
        "order_date",
        "ordered_at",
        "order_id",
        channel=kept.channel.fill_null("unknown"),
        revenue=kept.revenue.cast("float64"),
        cost=kept.cost.cast("float64"),
    )


def refunds(orders: Table, as_of: date) -> Table:
    """Attributed return rows on or before ``as_of``: refund = |revenue|, recovered = |cost|."""
    kept = orders.filter(
        orders.is_return, orders.customer_key.notnull(), orders.order_date <= as_of
    )
    return kept.select(
        "customer_key",
        "order_date",
        channel=kept.channel.fill_null("unknown"),
        refund=kept.revenue.cast("float64").abs(),
        recovered=kept.cost.cast("float64").abs().fill_null(0.0),
    )


def choices(name: object, known: tuple[str, ...]) -> str:
    """What to write instead of an unknown ``name``: the close one (' (did you mean X?)'), or
    else every choice, so an error never leaves the user guessing what exists."""
    return did_you_mean(name, known) or f" (choose one of: {', '.join(known)})"


def check_grouping(by: str | None) -> None:
    """Refuse a grouping the metrics do not know, naming the known ones."""
    if by is not None and by not in GROUPINGS:
        raise InputError(f"cannot group by {by!r}{choices(by, GROUPINGS)}")


def group_label(rows: Table, by: str | None) -> ibis.Value:
    """The group a row counts in, from its ``channel``, ``acquisition_channel``, ``first_date``.

    ``channel`` groups by the row's own channel (a customer counts in every channel they used);
    ``acquisition_channel`` and ``cohort`` (acquisition month) group by the customer.
    """
    check_grouping(by)
    if by is None:
        return ibis.literal("all")
    if by == "cohort":
        return rows.first_date.strftime("%Y-%m")
    return rows[by]


def period_index(day: DateValue, period: str) -> IntegerValue:
    """A period's running number (months since year 0, ...), so age = index - cohort index."""
    year = day.year().cast("int64")
    month = day.month().cast("int64")
    if period == "month":
        return year * 12 + month - 1
    if period == "quarter":
        return year * 4 + (month - 1) // 3
    if period == "year":
        return year
    if period == "season":
        season = ibis.cases(
            (month <= 2, 0), (month <= 5, 1), (month <= 8, 2), (month <= 10, 3), else_=4
        )
        return year * 5 + season
    raise InputError(f"unknown period {period!r}{choices(period, PERIODS)}")


def period_label(index: int, period: str) -> str:
    """The label of a period number: 2023-11, 2023-Q4, 2023, 2023-holiday."""
    if period == "month":
        return f"{index // 12:04d}-{index % 12 + 1:02d}"
    if period == "quarter":
        return f"{index // 4:04d}-Q{index % 4 + 1}"
    if period == "year":
        return f"{index:04d}"
    return f"{index // 5:04d}-{SEASONS[index % 5]}"


def period_of(day: date, period: str) -> int:
    """The period number of one date (the Python twin of ``period_index``, for as-of dates)."""
    index = {
        "month": day.year * 12 + day.month - 1,
        "quarter": day.year * 4 + (day.month - 1) // 3,
        "year": day.year,
        "season": day.year * 5 + _season(day.month),
    }
    if period not in index:
        raise InputError(f"unknown period {period!r}{choices(period, PERIODS)}")
    return index[period]


def _season(month: int) -> int:
    return 0 if month <= 2 else 1 if month <= 5 else 2 if month <= 8 else 3 if month <= 10 else 4
