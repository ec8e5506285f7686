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

from patron.errors import InputError
from patron.metrics.base import check_grouping, group_label, ratio, refunds
from patron.metrics.occasions import Sales, occasions

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
TOP_SHARE = 0.10


def kpis(
    sales: Sales,
    as_of: date,
    *,
    window: int = 365,
    early_days: int = 90,
    by: str | None = None,
) -> list[dict[str, Any]]:
    """The KPIs of the module docstring, one dict per group (one ``all`` group if no ``by``)."""
    if window < 1 or early_days < 1:
        raise InputError("--window and --early-days must be at least 1 day")
    occ = _labelled(sales, as_of, by)
    table = _counts(occ, as_of, window, early_days)
    ret = _refund_sums(_grouped_refunds(sales.orders, as_of, by, occ), as_of, window)
    for extra in (_top_share(_window_revenue(occ, as_of, window)), ret):
        table = table.left_join(extra, "grp").drop("grp_right")
    rows = table.order_by("grp").to_pyarrow().to_pylist()
    if not rows and by is None:  # nobody has bought yet: zero counts, empty ratios
        rows = [{name: 0 if name in COUNTS else None for name in table.columns} | {"grp": "all"}]
    return [_finish(row) for row in rows]


def trend(
    sales: Sales,
    as_of: date,
    *,
    first: date,
    window: int = 365,
    early_days: int = 90,
    by: str | None = None,
) -> list[dict[str, Any]]:
    """``kpis`` as of each month end from ``first``'s month to ``as_of`` (the last point)."""
    points = []
    for end in month_ends(first, as_of):
        for row in kpis(sales, end, window=window, early_days=early_days, by=by):
            points.append({"as_of": end.isoformat(), **row})
    return points


def concentration(
    sales: Sales, as_of: date, *, window: int = 365, points: int = 100
) -> list[dict[str, float | None]]:
    """The Pareto curve: share of window revenue from the top x of active customers.

    Active customers are ranked by window revenue (ties by key); the curve has one point per
    ``1/points`` of them (one per customer when there are fewer): ``{"customer_share": x,
    "revenue_share": y}``, ending at (1, 1).
    """
    active = _window_revenue(_labelled(sales, as_of, None), as_of, window)
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


def _labelled(sales: Sales, as_of: date, by: str | None) -> Table:
    """Occasions by ``as_of`` with ``grp``, the group they count in."""
    check_grouping(by)
    occ = occasions(sales, as_of, per_channel=by == "channel")
    return occ if by in (None, "channel") else occ.mutate(grp=group_label(occ, by))


def _counts(occ: Table, as_of: date, window: int, early_days: int) -> Table:
    """Every count and sum of the KPIs per group, straight from the occasion rows.

    No per-customer regrouping is needed: a customer is counted once by the occasion that
    decides it (``n`` = 0 for the acquisition, 1 for the second occasion, the first occasion in
    a window is the one whose previous occasion lies before the window).
    """
    start, previous = as_of - timedelta(days=window), as_of - timedelta(days=2 * window)
    early_end, clv_end = as_of - timedelta(days=early_days), as_of - timedelta(days=CLV_DAYS)
    in_window = occ.order_date > start
    in_previous = (occ.order_date > previous) & ~in_window
    first, second = occ.n == 0, occ.n == 1
    gap = occ.order_date.delta(occ.first_date, unit="day").cast("float64")  # avg: float anywhere
    early, clv = (
        _between(occ.first_date, early_end, window),
        _between(occ.first_date, clv_end, window),
    )
    first_year = occ.order_date < occ.first_date + ibis.interval(days=CLV_DAYS)
    counts = occ.group_by("grp").agg(
        customers_total=occ.count(where=first),
        active_customers=occ.count(where=in_window & _before(occ.prev_date, start)),
        new_customers=occ.count(where=first & in_window),
        was_active=occ.count(where=in_previous & _before(occ.prev_date, previous)),
        retained=occ.count(where=in_window & _between(occ.prev_date, start, window)),
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


def _before(day: ibis.Value, end: date) -> ibis.Value:
    """No previous occasion, or one on or before ``end``."""
    return day.isnull() | (day <= end)


def _between(day: ibis.Value, end: date, days: int) -> ibis.Value:
    """``day`` in (end - days, end]."""
    return (day > end - timedelta(days=days)) & (day <= end)


def _window_revenue(occ: Table, as_of: date, window: int) -> Table:
    """Per (group, active customer): purchase revenue in the window."""
    active = occ.filter(occ.order_date > as_of - timedelta(days=window))
    return active.group_by(["grp", "customer_key"]).agg(revenue=active.revenue.sum())


def _grouped_refunds(orders: Table, as_of: date, by: str | None, occ: Table) -> Table:
    """Refunds by ``as_of`` with their group and their customer's ``first_date``.

    Refunds count in their own channel, or in their customer's group; a customer-level group
    needs the customer's acquisition, so there a refund without one cannot be placed.
    """
    ret = refunds(orders, as_of)
    acquired = occ.filter(occ.n == 0).select("grp", "customer_key", "first_date")
    if by in (None, "channel"):
        ret = ret.mutate(grp=group_label(ret, by))
        joined = ret.left_join(acquired, ["grp", "customer_key"])
        return joined.drop("grp_right", "customer_key_right")
    return ret.inner_join(acquired, "customer_key")


def _refund_sums(ret: Table, as_of: date, window: int) -> Table:
    """Per group: refunds and recovered cost dated in the window, and first-year refunds of the
    CLV cohort (customers first bought in (A-W-365, A-365], refunds before day 365)."""
    in_window = ret.order_date > as_of - timedelta(days=window)
    clv = _between(ret.first_date, as_of - timedelta(days=CLV_DAYS), window)
    first_year = ret.order_date < ret.first_date + ibis.interval(days=CLV_DAYS)
    return ret.group_by("grp").agg(
        refunds=ret.refund.sum(where=in_window),
        recovered=ret.recovered.sum(where=in_window),
        first_year_refunds=ret.refund.sum(where=clv & first_year),
    )


def _top_share(revenue: Table) -> Table:
    """Window revenue of the top ceil(10%) of active customers, per group."""
    rank = ibis.row_number().over(group_by="grp", order_by=[ibis.desc("revenue"), "customer_key"])
    size = revenue.customer_key.count().over(group_by="grp")
    ranked = revenue.mutate(rank=rank, size=size)
    top = ranked.filter(ranked.rank < (ranked.size * TOP_SHARE).ceil())
    return top.group_by("grp").agg(top_revenue=top.revenue.sum())


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
    return {k: _round(v) for k, v in out.items()}


def _round(value: Any) -> Any:
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 6)
    return value
