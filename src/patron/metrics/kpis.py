"""Customer KPIs as of a date over a trailing window, overall or by group, and their trend.

For an as-of day A and a window of W days, the *window* is (A-W, A] and the *previous window*
is (A-2W, A-W]; a customer is *active* in a window when they have an occasion in it. With
``customers`` the customers with an occasion on or before A (see ``metrics.base``):

- ``customers_total``: customers with an occasion on or before A.
- ``active_customers``: active in the window. ``new_customers``: first occasion in the window.
- ``lost_customers``: active in the previous window and not in the window.
- ``retention_rate``: of those active in the previous window, the share active in the window;
  ``attrition_rate`` = 1 - retention_rate. ``leaky_bucket_ratio`` = lost / new.
- ``repeat_rate``: share of customers_total with two or more occasions by A;
  ``one_and_done_share`` = the share with exactly one (= 1 - repeat_rate).
- ``early_repeat_rate`` (E days): of customers whose first occasion is in (A-W-E, A-E], the share
  whose second occasion is at most E days after the first (everyone in it has had E days).
- ``days_to_second_purchase_median``/``_mean``: days from first to second occasion, over
  customers with a second occasion by A.
- ``revenue``/``orders``: purchase revenue and purchase orders in the window; ``aov`` = revenue /
  orders; ``purchase_frequency`` = orders / active_customers; ``refunds``: refunds of returns
  dated in the window; ``net_revenue`` = revenue - refunds; ``return_rate`` = refunds / revenue.
- ``revenue_new_customers``/``revenue_returning_customers``: window revenue from customers
  acquired in the window / before it.
- ``margin``: sum of (revenue - cost) over window purchases that carry a cost, less refunds net
  of recovered cost; null when no window purchase has a cost. ``margin_coverage`` is the share of
  window revenue that carries a cost.
- ``top_10pct_revenue_share``: share of window revenue from the top ceil(10%) of active
  customers ranked by their window revenue (ties broken by customer key).
- ``clv_365``: historical CLV: mean net revenue (purchases - refunds) in the 365 days from the
  first occasion (day 0 to day 364) of customers first bought in (A-W-365, A-365].

Ratios with an empty denominator are null, never zero. Money is in the workspace currency.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import ibis

from patron.errors import InputError, option
from patron.metrics.base import check_grouping, group_label, ratio, refunds
from patron.metrics.occasions import Sales, occasions
from patron.money import PLACES

if TYPE_CHECKING:
    from ibis import Table

CLV_DAYS = 365
COUNTS = frozenset(
    {
        "customers_total",
        "active_customers",
        "new_customers",
        "lost_customers",
        "was_active",
        "retained",
        "repeaters",
        "early_cohort",
        "early_repeaters",
        "clv_customers",
        "orders",
    }
)
MONEY = frozenset(
    {
        "revenue",
        "refunds",
        "net_revenue",
        "revenue_new_customers",
        "revenue_returning_customers",
        "margin",
    }
)
"""Sums of money, rounded to :data:`patron.money.PLACES` (:func:`_round`); averages such as
``aov`` keep six places."""
TOP_SHARE = 0.10
NO_PURCHASE = "no_purchase"
"""The customer-level group (``--by acquisition_channel``, ``cohort``) of refunds whose customer
has no purchase by the as-of day (the return of an order from before the data began): they are
in the overall refunds, so a group of their own keeps the groups adding up to the total."""
ROWS_PER_QUERY = 1_500_000
"""Occasion rows (occasions times as-of days) one query of a trend reads at most. On a small
shop a query per month end spends most of its time compiling (0.17 of 0.24 s on the demo's
119k occasions: 36 month ends 7.3 s one at a time, 2.2-2.5 s twelve at a time); on a large one,
reading (1M customers' 9.1M occasions: 32.5 s one at a time, 63 s and twice the memory twelve
at a time). So month ends go together while their rows stay within this."""


def kpis(
    sales: Sales,
    as_of: date,
    *,
    window: int = 365,
    early_days: int = 90,
    by: str | None = None,
) -> list[dict[str, Any]]:
    """The KPIs of the module docstring, one dict per group (one ``all`` group if no ``by``)."""
    return [_finish(row) for row in _count_rows(sales, [as_of], window, early_days, by)]


def trend(
    sales: Sales,
    as_of: date,
    *,
    first: date,
    window: int = 365,
    early_days: int = 90,
    by: str | None = None,
) -> list[dict[str, Any]]:
    """``kpis`` as of each month end from ``first``'s month to ``as_of`` (the last point),
    as many month ends to a query as ``ROWS_PER_QUERY`` allows."""
    ends = month_ends(first, as_of)
    occasions_so_far = sales.occasions.filter(sales.occasions.order_date <= as_of).count()
    step = max(1, ROWS_PER_QUERY // max(1, occasions_so_far.to_pyarrow().as_py()))
    points = []
    for start in range(0, len(ends), step):
        days = ends[start : start + step]
        for row in _count_rows(sales, days, window, early_days, by):
            points.append({"as_of": row["as_of"].isoformat(), **_finish(row)})
    return points


def _count_rows(
    sales: Sales, days: list[date], window: int, early_days: int, by: str | None
) -> list[dict[str, Any]]:
    """The counts and sums of every group as of each of ``days``, ordered by day and group;
    without ``by``, a row of zero counts for a day when nobody had bought yet."""
    if window < 1 or early_days < 1:
        raise InputError(f"{option('window')} and {option('early_days')} must be at least 1 day")
    occ = _labelled(sales, days, by)
    table = _counts(occ, days, window, early_days)
    ret = _refund_sums(_grouped_refunds(sales.orders, days, by, occ), days, window)
    table = _joined(table, _top_share(_window_revenue(occ, days, window)), _keys(table))
    table = _outer_joined(table, ret, _keys(table))
    rows = table.order_by(_keys(table)).to_pyarrow().to_pylist()
    rows = [row | {k: 0 for k in COUNTS & row.keys() if row[k] is None} for row in rows]
    if len(days) == 1:
        rows = [row | {"as_of": days[0]} for row in rows]
    if by is None:  # nobody has bought yet: zero counts, empty ratios
        zero = {name: 0 if name in COUNTS else None for name in table.columns} | {"grp": "all"}
        found = {row["as_of"]: row for row in rows}
        rows = [found.get(day, zero | {"as_of": day}) for day in days]
    return rows


def concentration(
    sales: Sales, as_of: date, *, window: int = 365, points: int = 100
) -> list[dict[str, float | None]]:
    """The Pareto curve: share of window revenue from the top x of active customers.

    Active customers are ranked by window revenue (ties by key); the curve has one point per
    ``1/points`` of them (one per customer when there are fewer): ``{"customer_share": x,
    "revenue_share": y}``, ending at (1, 1).
    """
    active = _window_revenue(_labelled(sales, [as_of], None), [as_of], window)
    order = [ibis.desc("revenue"), "customer_key"]
    ranked = active.mutate(
        rank=ibis.row_number().over(order_by=order) + 1,
        cum=active.revenue.sum().over(order_by=order, rows=(None, 0)),
        size=active.count().as_scalar(),
        total=active.revenue.sum().as_scalar(),
    )
    bucket = (ranked.rank * points / ranked.size).ceil().cast("int64")
    curve = (
        ranked.mutate(bucket=bucket)
        .group_by("bucket")
        .agg(
            customers=ranked.rank.max(),
            size=ranked.size.max(),
            cum=ranked.cum.max(),
            total=ranked.total.max(),
        )
    )
    rows = curve.order_by("bucket").to_pyarrow().to_pylist()
    return [
        {
            "customer_share": round(r["customers"] / r["size"], 6),
            "revenue_share": round(r["cum"] / r["total"], 6) if r["total"] else None,
        }
        for r in rows
    ]


def month_ends(first: date, last: date) -> list[date]:
    """The last day of every month from ``first``'s to ``last``'s, with ``last`` itself last."""
    ends, year, month = [], first.year, first.month
    while (year, month) < (last.year, last.month):
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        ends.append(date(year, month, 1) - timedelta(days=1))
    return [*ends, last]


def _labelled(sales: Sales, days: list[date], by: str | None) -> Table:
    """Occasions with ``grp``, the group they count in, for each of ``days``
    (:func:`_as_of_each`)."""
    check_grouping(by)
    occ = occasions(sales, max(days), per_channel=by == "channel")
    return _as_of_each(
        occ if by in (None, "channel") else occ.mutate(grp=group_label(occ, by)), days
    )


def _as_of_each(rows: Table, days: list[date]) -> Table:
    """``rows`` (those on or before the last of ``days``) once for each of ``days`` on or
    before which their ``order_date`` falls, with that day as ``as_of``; for one day, as they
    are (the query's keys are then the group alone: :func:`_keys`)."""
    if len(days) == 1:
        return rows
    each = rows.mutate(as_of=ibis.literal(days, type="array<date>").unnest())
    return each.filter(each.order_date <= each.as_of)


def _counts(occ: Table, days: list[date], window: int, early_days: int) -> Table:
    """Every count and sum of the KPIs per group, straight from the occasion rows.

    No per-customer regrouping is needed: a customer is counted once by the occasion that
    decides it (``n`` = 0 for the acquisition, 1 for the second occasion, the first occasion in
    a window is the one whose previous occasion lies before the window).
    """
    start, previous = _ago(occ, days, window), _ago(occ, days, 2 * window)
    in_window = occ.order_date > start
    in_previous = (occ.order_date > previous) & ~in_window
    first, second = occ.n == 0, occ.n == 1
    gap = occ.order_date.delta(occ.first_date, unit="day").cast("float64")  # avg: float anywhere
    early = _between(occ.first_date, occ, days, early_days, window)
    clv = _between(occ.first_date, occ, days, CLV_DAYS, window)
    first_year = occ.order_date < occ.first_date + ibis.interval(days=CLV_DAYS)
    counts = occ.group_by(_keys(occ)).agg(
        customers_total=occ.count(where=first),
        active_customers=occ.count(where=in_window & _before(occ.prev_date, start)),
        new_customers=occ.count(where=first & in_window),
        was_active=occ.count(where=in_previous & _before(occ.prev_date, previous)),
        retained=occ.count(where=in_window & _between(occ.prev_date, occ, days, window, window)),
        repeaters=occ.count(where=second),
        early_cohort=occ.count(where=first & early),
        early_repeaters=occ.count(where=second & early & (gap <= early_days)),
        days_to_second_purchase_median=gap.median(where=second),
        days_to_second_purchase_mean=gap.mean(where=second),
        revenue=occ.revenue.sum(where=in_window),
        orders=occ.orders.sum(where=in_window),
        costed_revenue=occ.costed_revenue.sum(where=in_window),
        cost=occ.cost.sum(where=in_window),
        revenue_new_customers=occ.revenue.sum(where=in_window & (occ.first_date > start)),
        clv_customers=occ.count(where=first & clv),
        first_year_revenue=occ.revenue.sum(where=clv & first_year),
    )
    return counts.mutate(lost_customers=counts.was_active - counts.retained)


def _ago(rows: Table, days: list[date], n: int) -> ibis.Value:
    """The day ``n`` days before a row's as-of day: a constant when the query has one as-of
    day (``days``), so that query stays the one ``kpis`` always ran, with constants the
    engine can filter on; else from each row's ``as_of``."""
    if len(days) == 1:
        return ibis.literal(days[0] - timedelta(days=n), type="date")
    return (rows.as_of - ibis.interval(days=n)).cast("date")


def _before(day: ibis.Value, end: ibis.Value) -> ibis.Value:
    """No previous occasion, or one on or before ``end``."""
    return day.isnull() | (day <= end)


def _between(day: ibis.Value, rows: Table, days: list[date], ago: int, width: int) -> ibis.Value:
    """``day`` in (A - ago - width, A - ago] for the as-of day A (:func:`_ago`)."""
    return (day > _ago(rows, days, ago + width)) & (day <= _ago(rows, days, ago))


def _window_revenue(occ: Table, days: list[date], window: int) -> Table:
    """Per (as-of day, group, active customer): purchase revenue in the window."""
    active = occ.filter(occ.order_date > _ago(occ, days, window))
    return active.group_by([*_keys(active), "customer_key"]).agg(revenue=active.revenue.sum())


def _grouped_refunds(orders: Table, days: list[date], by: str | None, occ: Table) -> Table:
    """Refunds by each of ``days`` with their group and their customer's ``first_date``.

    Refunds count in their own channel, or in their customer's group; a customer-level group
    needs the customer's acquisition, so there a refund without one cannot be placed.
    """
    ret = _as_of_each(refunds(orders, max(days)), days)
    keys = _keys(occ)
    acquired = occ.filter(occ.n == 0).select(*keys, "customer_key", "first_date")
    if by in (None, "channel"):
        ret = ret.mutate(grp=group_label(ret, by))
        return _joined(ret, acquired, [*keys, "customer_key"])
    placed = _joined(ret, acquired, [*keys[:-1], "customer_key"])  # the customer's group
    return placed.mutate(grp=placed.grp.fill_null(NO_PURCHASE))


def _refund_sums(ret: Table, days: list[date], window: int) -> Table:
    """Per as-of day and group: refunds and recovered cost dated in the window, and first-year
    refunds of the CLV cohort (customers first bought in (A-W-365, A-365], refunds dated on
    day 0 to 364: a refund before the first occasion, of an order from before the data, is no
    part of the first year's value)."""
    in_window = ret.order_date > _ago(ret, days, window)
    clv = _between(ret.first_date, ret, days, CLV_DAYS, window)
    first_year = (ret.order_date >= ret.first_date) & (
        ret.order_date < ret.first_date + ibis.interval(days=CLV_DAYS)
    )
    return ret.group_by(_keys(ret)).agg(
        refunds=ret.refund.sum(where=in_window),
        recovered=ret.recovered.sum(where=in_window),
        first_year_refunds=ret.refund.sum(where=clv & first_year),
    )


def _top_share(revenue: Table) -> Table:
    """Window revenue of the top ceil(10%) of active customers, per as-of day and group."""
    keys = _keys(revenue)
    rank = ibis.row_number().over(group_by=keys, order_by=[ibis.desc("revenue"), "customer_key"])
    size = revenue.customer_key.count().over(group_by=keys)
    ranked = revenue.mutate(rank=rank, size=size)
    top = ranked.filter(ranked.rank < (ranked.size * TOP_SHARE).ceil())
    return top.group_by(keys).agg(top_revenue=top.revenue.sum())


def _keys(rows: Table) -> list[str]:
    """What a row of the counts is for: a group, and an as-of day when the query has several."""
    return ["as_of", "grp"] if "as_of" in rows.columns else ["grp"]


def _joined(left: Table, right: Table, keys: list[str]) -> Table:
    """``left`` left-joined to ``right`` on ``keys``, without the right side's copies of them."""
    return left.left_join(right, keys).drop(*(f"{key}_right" for key in keys))


def _outer_joined(left: Table, right: Table, keys: list[str]) -> Table:
    """``left`` full-joined to ``right`` on ``keys``: a group (or day) that has refunds but no
    occasion keeps its refunds, so the groups add up to the total."""
    joined = left.outer_join(right, keys)
    merged = {key: ibis.coalesce(joined[key], joined[f"{key}_right"]) for key in keys}
    return joined.mutate(**merged).drop(*(f"{key}_right" for key in keys))


def _finish(row: dict[str, Any]) -> dict[str, Any]:
    """Ratios and derived money from the exact counts and sums of one group."""
    revenue, refunds_, orders = row["revenue"] or 0.0, row["refunds"] or 0.0, row["orders"] or 0
    retention = ratio(row["retained"], row["was_active"])
    repeat = ratio(row["repeaters"], row["customers_total"])
    clv = row["first_year_revenue"]
    if clv is not None:
        clv -= row["first_year_refunds"] or 0.0
    margin = None
    if row["costed_revenue"] is not None:
        margin = row["costed_revenue"] - (row["cost"] or 0.0) - refunds_ + (row["recovered"] or 0.0)
    out = {
        "group": row["grp"],
        "customers_total": row["customers_total"],
        "active_customers": row["active_customers"],
        "new_customers": row["new_customers"],
        "lost_customers": row["lost_customers"],
        "retention_rate": retention,
        "attrition_rate": None if retention is None else 1 - retention,
        "leaky_bucket_ratio": ratio(row["lost_customers"], row["new_customers"]),
        "repeat_rate": repeat,
        "one_and_done_share": None if repeat is None else 1 - repeat,
        "early_repeat_rate": ratio(row["early_repeaters"], row["early_cohort"]),
        "early_repeat_cohort": row["early_cohort"],
        "days_to_second_purchase_median": row["days_to_second_purchase_median"],
        "days_to_second_purchase_mean": row["days_to_second_purchase_mean"],
        "revenue": revenue,
        "orders": orders,
        "aov": ratio(revenue, orders),
        "purchase_frequency": ratio(orders, row["active_customers"]),
        "refunds": refunds_,
        "net_revenue": revenue - refunds_,
        "return_rate": ratio(refunds_, revenue),
        "revenue_new_customers": row["revenue_new_customers"] or 0.0,
        "revenue_returning_customers": revenue - (row["revenue_new_customers"] or 0.0),
        "margin": margin,
        "margin_coverage": ratio(row["costed_revenue"] or 0.0, revenue),
        "top_10pct_revenue_share": ratio(row["top_revenue"] or 0.0, revenue),
        "clv_365": ratio(clv, row["clv_customers"]),
        "clv_365_customers": row["clv_customers"],
    }
    return {k: _round(v, PLACES if k in MONEY else 6) for k, v in out.items()}


def _round(value: Any, digits: int) -> Any:
    """A float to ``digits`` places. Money is summed as float64 in the engine, so a sum of a
    billion and some cents carries noise in the sixth place (99999883.889999), and in an order
    that depends on the file's layout: sums of booked amounts are whole cents (or mills), so
    they are rounded to those, the same figure whatever the source."""
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, digits)
    return value
