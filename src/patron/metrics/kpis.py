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
from patron.metrics.base import check_grouping, group_label, occasions, ratio, refunds

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
    orders: Table,
    as_of: date,
    *,
    window: int = 365,
    early_days: int = 90,
    by: str | None = None,
) -> list[dict[str, Any]]:
    """The KPIs of the module docstring, one dict per group (one ``all`` group if no ``by``)."""
    if window < 1 or early_days < 1:
        raise InputError("--window and --early-days must be at least 1 day")
    facts = customer_facts(orders, as_of, window=window, early_days=early_days, by=by)
    table = _aggregate(facts)
    window_refunds = _window_refunds(_grouped_refunds(orders, as_of, by, facts), as_of, window)
    for extra in (_top_share(facts), window_refunds):
        table = table.left_join(extra, "grp").drop("grp_right")
    rows = table.order_by("grp").to_pyarrow().to_pylist()
    if not rows and by is None:  # nobody has bought yet: zero counts, empty ratios
        rows = [{name: 0 if name in COUNTS else None for name in table.columns} | {"grp": "all"}]
    return [_finish(row) for row in rows]


def trend(
    orders: Table,
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
        for row in kpis(orders, end, window=window, early_days=early_days, by=by):
            points.append({"as_of": end.isoformat(), **row})
    return points


def concentration(
    orders: Table, as_of: date, *, window: int = 365, points: int = 100
) -> list[dict[str, float | None]]:
    """The Pareto curve: share of window revenue from the top x of active customers.

    Active customers are ranked by window revenue (ties by key); the curve has one point per
    ``1/points`` of them (one per customer when there are fewer): ``{"customer_share": x,
    "revenue_share": y}``, ending at (1, 1).
    """
    facts = customer_facts(orders, as_of, window=window, early_days=1, by=None)
    active = facts.filter(facts.active)
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


def customer_facts(
    orders: Table, as_of: date, *, window: int, early_days: int, by: str | None
) -> Table:
    """One row per (group, customer) with an occasion by ``as_of``: what the KPIs count."""
    check_grouping(by)
    start, previous = as_of - timedelta(days=window), as_of - timedelta(days=2 * window)
    occ = occasions(orders, as_of, per_channel=by == "channel")
    in_window = occ.order_date > start
    facts = occ.group_by(["grp", "customer_key"]).agg(
        first_date=occ.order_date.min(),
        acquisition_channel=occ.acquisition_channel.min(),
        second_date=occ.order_date.min(where=occ.n == 1),
        occasions=occ.count(),
        active=occ.count(where=in_window) > 0,
        was_active=occ.count(where=(occ.order_date > previous) & ~in_window) > 0,
        revenue=occ.revenue.sum(where=in_window).fill_null(0.0),
        orders=occ.orders.sum(where=in_window).fill_null(0),
        costed_revenue=occ.costed_revenue.sum(where=in_window),
        cost=occ.cost.sum(where=in_window),
        first_year=occ.revenue.sum(
            where=occ.order_date < occ.first_date + ibis.interval(days=CLV_DAYS)
        ),
    )
    if by != "channel":  # customer-level groups relabel the one "all" row per customer
        facts = facts.mutate(grp=group_label(facts, by))
    gap = facts.second_date.delta(facts.first_date, unit="day")
    early_end, clv_end = as_of - timedelta(days=early_days), as_of - timedelta(days=CLV_DAYS)
    facts = facts.mutate(
        is_new=facts.first_date > start,
        gap=gap,
        in_early_cohort=_between(facts.first_date, early_end, window),
        early_repeat=gap.fill_null(early_days + 1) <= early_days,
        in_clv_cohort=_between(facts.first_date, clv_end, window),
    )
    return _with_first_year_refunds(facts, orders, as_of, by)


def _between(day: ibis.Value, end: date, days: int) -> ibis.Value:
    """``day`` in (end - days, end]."""
    return (day > end - timedelta(days=days)) & (day <= end)


def _grouped_refunds(orders: Table, as_of: date, by: str | None, facts: Table) -> Table:
    """Refunds with the group they count in: their own channel, or their customer's group."""
    ret = refunds(orders, as_of)
    if by in (None, "channel"):
        return ret.mutate(grp=group_label(ret, by))
    return ret.inner_join(facts.select("customer_key", "grp"), "customer_key")


def _with_first_year_refunds(facts: Table, orders: Table, as_of: date, by: str | None) -> Table:
    """``first_year_net``: first-year purchases less refunds in the same 365 days."""
    ret = _grouped_refunds(orders, as_of, by, facts)
    ret = ret.inner_join(facts.select("grp", "customer_key", "first_date"), ["grp", "customer_key"])
    first_year = ret.order_date < ret.first_date + ibis.interval(days=CLV_DAYS)
    sums = ret.group_by(["grp", "customer_key"]).agg(
        first_year_refunds=ret.refund.sum(where=first_year)
    )
    out = facts.left_join(sums, ["grp", "customer_key"]).drop("grp_right", "customer_key_right")
    return out.mutate(
        first_year_net=out.first_year.fill_null(0.0) - out.first_year_refunds.fill_null(0.0),
    ).drop("first_year", "first_year_refunds")


def _window_refunds(ret: Table, as_of: date, window: int) -> Table:
    """Refunds and recovered cost dated in the window, per group.

    Counted per group, not per customer fact, so a return whose customer has no purchase by
    the as-of day (an order from before the data began) still reduces net revenue overall and
    per channel; a customer-level group needs the customer's acquisition, so there it cannot.
    """
    ret = ret.filter(ret.order_date > as_of - timedelta(days=window))
    return ret.group_by("grp").agg(refunds=ret.refund.sum(), recovered=ret.recovered.sum())


def _aggregate(facts: Table) -> Table:
    """Counts and sums per group; ratios are formed in Python from these exact totals."""
    f = facts
    return f.group_by("grp").agg(
        customers_total=f.count(),
        active_customers=f.count(where=f.active),
        new_customers=f.count(where=f.is_new),
        lost_customers=f.count(where=f.was_active & ~f.active),
        was_active=f.count(where=f.was_active),
        retained=f.count(where=f.was_active & f.active),
        repeaters=f.count(where=f.occasions >= 2),
        early_cohort=f.count(where=f.in_early_cohort),
        early_repeaters=f.count(where=f.in_early_cohort & f.early_repeat),
        days_to_second_purchase_median=f.gap.median(),
        days_to_second_purchase_mean=f.gap.mean(),
        revenue=f.revenue.sum(),
        orders=f.orders.sum(),
        costed_revenue=f.costed_revenue.sum(),
        cost=f.cost.sum(),
        revenue_new_customers=f.revenue.sum(where=f.is_new),
        clv_customers=f.count(where=f.in_clv_cohort),
        clv_365=f.first_year_net.mean(where=f.in_clv_cohort),
    )


def _top_share(facts: Table) -> Table:
    """Window revenue of the top ceil(10%) of active customers, per group."""
    active = facts.filter(facts.active)
    rank = ibis.row_number().over(group_by="grp", order_by=[ibis.desc("revenue"), "customer_key"])
    size = active.customer_key.count().over(group_by="grp")
    ranked = active.mutate(rank=rank, size=size)
    top = ranked.filter(ranked.rank < (ranked.size * TOP_SHARE).ceil())
    return top.group_by("grp").agg(top_revenue=top.revenue.sum())


def _finish(row: dict[str, Any]) -> dict[str, Any]:
    """Ratios and derived money from the exact counts and sums of one group."""
    revenue, refunds_, orders = row["revenue"] or 0.0, row["refunds"] or 0.0, row["orders"] or 0
    retention = ratio(row["retained"], row["was_active"])
    repeat = ratio(row["repeaters"], row["customers_total"])
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
        "clv_365": row["clv_365"],
        "clv_365_customers": row["clv_customers"],
    }
    return {k: _round(v) for k, v in out.items()}


def _round(value: Any) -> Any:
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 6)
    return value
