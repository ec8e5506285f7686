"""Ideal customer profile: what high-value customers looked like at their first purchase.

Definitions, as of a day A (purchases, refunds and acquisition as in :mod:`patron.metrics.base`;
nothing after A is read):

- *Judged* customers were acquired (first occasion) at least ``days`` days before A (default
  365), so each of them has had as long to show their value; someone acquired last week is
  neither high nor low value yet.
- *Value*: the predicted CLV (``clv`` of the stored predictions, ``patron predict``) when
  predictions are given, judged customers without one being left out; else the net revenue
  (purchases - refunds) of their first ``days`` days, as affinity's ``gateways``: equal
  windows, so old customers do not win by age.
- *High-value*: the top ``top`` share (default 20%) of judged customers by value, ties by
  customer key (the first ceil(top N), as ``predicted_value``'s ``top_20pct``); the *rest* is
  everyone else judged.
- The *first purchase* is the acquisition occasion: every purchase order of the customer's
  first day (two orders on one day are one decision). Its features:
  ``acquisition_channel`` (the channel of its earliest order, "unknown" when that has none);
  ``first_category``, the category with the most line value (quantity x unit price, a missing
  quantity being 1) among its lines (the line's category, else the product's), ties to the
  first name; ``first_discount``, ``discounted`` when an order has a discount above 0, else
  ``full price`` (a missing discount is full price); ``first_discount_share``, discounts /
  (net revenue + discounts); ``first_items``, the quantity of its lines; ``first_value``, its
  net revenue; ``region``, the customer's ``country``. A feature that is unknown (no lines, no
  country) leaves the customer out of that feature's comparison only; a feature is compared
  when both sides have it known and it has two levels or more.
- *Levels* (the categorical features): among the n1 high-value and n0 other customers with the
  feature known, x1 and x0 have the level; the shares p1 = x1 / n1 and p0 = x0 / n0 are
  compared by their difference, with Newcombe's (1998) hybrid score interval (built on the
  Wilson intervals of each share, honest for rare levels), and by Cohen's h = 2 asin sqrt p1
  - 2 asin sqrt p0 (Cohen 1988): the difference on the arcsine scale, where a rare level's
  small difference is not drowned by a common level's. The *high rate* x1 / (x1 + x0) is how
  often customers with the level are high-value; *lift* = high rate / base rate n1 / (n1 +
  n0) = p1 / (the level's share of everyone): "2.1x as likely as average".
- *Numbers*: means, medians and Cohen's d = (m1 - m0) / s, s the pooled standard deviation,
  with the normal interval of d (standard error sqrt((n1 + n0) / (n1 n0) + d^2 / (2 (n1 +
  n0))), Hedges & Olkin 1985).
- *Ranking*: rows rank by |h| or |d| (both standardized differences on Cohen's scale: 0.2
  small, 0.5 medium, 0.8 large), rows of small support (a level fewer than ``min_support``
  customers have, a number fewer than that know on a side) after all others, then by feature
  and level name. *Findings* are the supported rows whose 95% interval leaves out 0, in rank
  order, each as a sentence: an effect the sample cannot tell from chance is no finding.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import ibis

from patron.errors import InputError, option
from patron.insights.affinity import Z95, Baskets, first_window, rounded, wilson
from patron.metrics.base import sales_only
from patron.metrics.occasions import occasions
from patron.money import amount
from patron.portable import first_by

if TYPE_CHECKING:
    from ibis import Table

LEVELS = ("acquisition_channel", "first_category", "first_discount", "region")
NUMBERS = ("first_items", "first_value", "first_discount_share")
WHO = {
    "acquisition_channel": "Customers acquired through {}",
    "first_category": "Customers whose first purchase was mostly {}",
    "first_discount": "Customers whose first purchase was {}",
    "region": "Customers in {}",
}
"""How a sentence names the customers with a level."""
WHAT = {
    "first_items": ("{:.1f}", "items in their first purchase"),
    "first_value": (None, "of net revenue in their first purchase"),
    "first_discount_share": ("{:.0%}", "of their first purchase's value discounted"),
}
"""How a sentence writes a number's average (None: as money, :func:`patron.money.amount`),
and what it is."""
SIZES = ((0.8, "large"), (0.5, "medium"), (0.2, "small"))
"""Cohen's (1988) thresholds of a standardized difference; below 0.2 it is negligible."""


def first_purchases(baskets: Baskets, customers: Table, as_of: date) -> Table:
    """Per customer acquired by ``as_of``: ``first_date`` and the features of the module
    docstring, one column each (unknown features empty)."""
    occ = occasions(baskets.sales, as_of)
    first = occ.filter(occ.n == 0).select(
        "customer_key", "acquisition_channel", first_date="order_date", first_value="revenue"
    )
    day = _first_orders(baskets.sales.orders, first)
    discount = day.discount.cast("float64").abs().fill_null(0.0)  # negative in some exports
    paid = day.group_by("customer_key").agg(
        discounts=discount.sum(), gross=(day.revenue.cast("float64") + discount).sum()
    )
    paid = paid.select(
        "customer_key",
        first_discount=ibis.ifelse(paid.discounts > 0, "discounted", "full price"),
        first_discount_share=ibis.ifelse(paid.gross > 0, paid.discounts / paid.gross, 0.0),
    )
    country = customers.country.strip().nullif("")
    region = customers.select("customer_key", region=country)
    t = first
    for part in (paid, *_first_lines(baskets, day), region):
        t = t.left_join(part, "customer_key").drop("customer_key_right")
    return t


def _first_orders(orders: Table, first: Table) -> Table:
    """The purchase orders of each customer's first day: order_id, customer_key, money."""
    orders = sales_only(orders)
    bought = orders.filter(~orders.is_return, orders.customer_key.notnull())
    days = first.select(key="customer_key", day="first_date")
    on = [bought.customer_key == days.key, bought.order_date == days.day]
    return bought.inner_join(days, on).select("order_id", "customer_key", "revenue", "discount")


def _first_lines(baskets: Baskets, day: Table) -> tuple[Table, Table]:
    """Per customer, from the first day's lines: ``first_items``, and ``first_category``."""
    lines = baskets.lines.inner_join(day.select("order_id", "customer_key"), "order_id")
    products = baskets.products.select(product_sku="sku", catalog="category")
    lines = lines.left_join(products, lines.sku == products.product_sku)
    quantity = lines.quantity.cast("float64").fill_null(1.0)
    lines = lines.select(
        "customer_key",
        category=ibis.coalesce(lines.category, lines.catalog),
        quantity=quantity,
        value=quantity * lines.unit_price.cast("float64").fill_null(0.0),
    )
    items = lines.group_by("customer_key").agg(first_items=lines.quantity.sum())
    named = lines.filter(lines.category.notnull())
    cells = named.group_by(["customer_key", "category"]).agg(value=named.value.sum())
    order = [ibis.desc(cells.value), cells.category]
    top = cells.group_by("customer_key").agg(first_category=first_by(cells.category, order))
    return items, top


def ideal_profile(
    baskets: Baskets,
    customers: Table,
    as_of: date,
    *,
    predictions: Table | None = None,
    top: float = 0.2,
    days: int = 365,
    min_support: int = 30,
    currency: str = "USD",
) -> dict[str, Any]:
    """High-value customers' first purchases against everyone else's, ranked by effect size.

    ``levels`` rows (feature, level, high_customers, other_customers, high_share, other_share,
    difference with its 95% interval, high_rate, lift, cohens_h, size, small_support, rank,
    sentence) and ``numbers`` rows (feature, high_customers, other_customers, high_mean,
    other_mean, high_median, other_median, cohens_d with its 95% interval, size, rank,
    sentence) share one ranking; ``findings`` are the sentences of the module docstring's
    findings. ``predictions`` is a table of customer_key and clv (the stored predictions);
    sentences write money in ``currency``.
    """
    _check(top=top, days=days, min_support=min_support, predictions=predictions)
    acquired_by = as_of - timedelta(days=days)
    judged = _judged(baskets, customers, as_of, days, predictions, top)
    head = _head(judged, acquired_by)
    levels = [_level_row(row, min_support) for row in _level_counts(judged)]
    numbers = _number_rows(judged, min_support)
    ranked = _rank([*levels, *numbers])
    measure = (
        "predicted CLV" if predictions is not None else f"net revenue in their first {days} days"
    )
    for row in [*levels, *numbers]:
        row["sentence"] = _sentence(row, f"the top {top:.0%} by {measure}", currency)
    return {
        "as_of": as_of.isoformat(),
        "days": days,
        "acquired_by": acquired_by.isoformat(),
        "measure": "predicted_clv" if predictions is not None else "net_revenue",
        "top": top,
        **head,
        "levels": levels,
        "numbers": numbers,
        "findings": [r["sentence"] for r in ranked if _evident(r)],
    }


def _judged(
    baskets: Baskets,
    customers: Table,
    as_of: date,
    days: int,
    predictions: Table | None,
    top: float,
) -> Table:
    """First-purchase features of the judged customers with their value and ``high`` flag."""
    acquired_by = as_of - timedelta(days=days)
    if predictions is None:
        value = first_window(baskets, as_of, days, acquired_by).select("customer_key", "value")
    else:
        value = predictions.select("customer_key", value=predictions.clv.cast("float64"))
        value = value.filter(value.value.notnull())
    t = first_purchases(baskets, customers, as_of)
    t = t.filter(t.first_date <= acquired_by).inner_join(value, "customer_key")
    rank = ibis.row_number().over(order_by=[ibis.desc(t.value), t.customer_key])
    size = t.customer_key.count().over()  # a window: DuckDB plans a scalar count badly
    return t.mutate(high=rank < (size * top).ceil())


def _head(judged: Table, acquired_by: date) -> dict[str, Any]:
    """Judged and high-value customers, and the value it takes to be high-value."""
    row = judged.aggregate(
        customers=judged.count(),
        high_value=judged.high.sum(),
        threshold=judged.value.min(where=judged.high),
    )
    head = row.to_pyarrow().to_pylist()[0]
    if not head["customers"] or head["high_value"] == head["customers"]:
        raise InputError(
            f"too few customers acquired by {acquired_by} to compare ({head['customers']}); "
            f"choose a later as-of date or fewer {option('days')}"
        )
    return rounded(head)


def _level_counts(judged: Table) -> list[dict[str, Any]]:
    """(feature, level, x1, x0, n1, n0) for every known level, one query for all features."""
    parts = [
        judged.select("high", feature=ibis.literal(name), level=judged[name].cast("string"))
        for name in LEVELS
    ]
    long = ibis.union(*parts, distinct=False)
    long = long.filter(long.level.notnull())
    cells = long.group_by(["feature", "level"]).agg(x1=long.high.sum(), x0=(~long.high).sum())
    cells = cells.mutate(
        n1=cells.x1.sum().over(group_by="feature"), n0=cells.x0.sum().over(group_by="feature")
    )
    cells = cells.mutate(levels=cells.level.count().over(group_by="feature"))
    cells = cells.filter(cells.n1 > 0, cells.n0 > 0, cells.levels > 1)
    return cells.order_by(["feature", "level"]).to_pyarrow().to_pylist()


def _level_row(cell: dict[str, Any], min_support: int) -> dict[str, Any]:
    """Shares, their difference with Newcombe's interval, Cohen's h, the high rate and lift."""
    x1, x0, n1, n0 = cell["x1"], cell["x0"], cell["n1"], cell["n0"]
    p1, p0 = x1 / n1, x0 / n0
    low, high = newcombe(x1, n1, x0, n0)
    h = cohens_h(p1, p0)
    rate = x1 / (x1 + x0)
    return rounded(
        {
            "feature": cell["feature"],
            "level": cell["level"],
            "high_customers": x1,
            "other_customers": x0,
            "high_share": p1,
            "other_share": p0,
            "difference": p1 - p0,
            "difference_low": low,
            "difference_high": high,
            "high_rate": rate,
            "base_rate": n1 / (n1 + n0),
            "lift": rate * (n1 + n0) / n1,
            "cohens_h": h,
            "size": effect_size(h),
            "small_support": x1 + x0 < min_support,
        }
    )


def _number_rows(judged: Table, min_support: int) -> list[dict[str, Any]]:
    """Per number: each side's count, mean, variance and median (one query), and Cohen's d."""
    stats: dict[str, ibis.Value] = {}
    for name in NUMBERS:
        col = judged[name].cast("float64")
        stats |= {
            f"{name}:n": col.count(),
            f"{name}:mean": col.mean(),
            f"{name}:var": col.var(),
            f"{name}:median": col.median(),
        }
    rows = judged.group_by("high").agg(**stats).to_pyarrow().to_pylist()
    side = {row["high"]: row for row in rows}
    return [_number_row(name, side[True], side[False], min_support) for name in NUMBERS]


def _number_row(
    name: str, high: dict[str, Any], other: dict[str, Any], min_support: int
) -> dict[str, Any]:
    n1, n0 = high[f"{name}:n"], other[f"{name}:n"]
    m1, m0 = high[f"{name}:mean"], other[f"{name}:mean"]
    d, low, up = cohens_d(n1, m1, high[f"{name}:var"], n0, m0, other[f"{name}:var"])
    return rounded(
        {
            "feature": name,
            "high_customers": n1,
            "other_customers": n0,
            "high_mean": m1,
            "other_mean": m0,
            "high_median": high[f"{name}:median"],
            "other_median": other[f"{name}:median"],
            "cohens_d": d,
            "cohens_d_low": low,
            "cohens_d_high": up,
            "size": effect_size(d),
            "small_support": min(n1, n0) < min_support,
        }
    )


def newcombe(x1: int, n1: int, x0: int, n0: int) -> tuple[float, float]:
    """The 95% interval of p1 - p0 from the two Wilson intervals (Newcombe 1998, method 10)."""
    p1, p0 = x1 / n1, x0 / n0
    (l1, u1), (l0, u0) = wilson(x1, n1), wilson(x0, n0)
    diff = p1 - p0
    return (
        diff - math.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2),
        diff + math.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2),
    )


def cohens_h(p1: float, p0: float) -> float:
    """2 asin sqrt p1 - 2 asin sqrt p0: a difference of proportions on Cohen's scale."""
    return 2 * math.asin(math.sqrt(p1)) - 2 * math.asin(math.sqrt(p0))


def cohens_d(
    n1: int, m1: float | None, v1: float | None, n0: int, m0: float | None, v0: float | None
) -> tuple[float | None, float | None, float | None]:
    """Cohen's d with the pooled standard deviation, and its normal 95% interval.

    None when a side has fewer than two values or nothing varies (no scale to measure on).
    """
    if n1 < 2 or n0 < 2 or m1 is None or m0 is None or v1 is None or v0 is None:
        return None, None, None
    pooled = ((n1 - 1) * v1 + (n0 - 1) * v0) / (n1 + n0 - 2)
    if pooled <= 0:
        return None, None, None
    d = (m1 - m0) / math.sqrt(pooled)
    se = math.sqrt((n1 + n0) / (n1 * n0) + d * d / (2 * (n1 + n0)))
    return d, d - Z95 * se, d + Z95 * se


def effect_size(effect: float | None) -> str | None:
    """``large``, ``medium``, ``small`` or ``negligible`` by Cohen's thresholds."""
    if effect is None:
        return None
    return next((name for bound, name in SIZES if abs(effect) >= bound), "negligible")


def _rank(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Number the rows with an effect 1.. by |effect|, supported first, and return them so."""
    ranked = [r for r in rows if _effect(r) is not None]
    ranked.sort(
        key=lambda r: (r["small_support"], -abs(_effect(r) or 0.0), r["feature"], r.get("level"))
    )
    for row in rows:
        row["rank"] = None
    for rank, row in enumerate(ranked, 1):
        row["rank"] = rank
    return ranked


def _evident(row: dict[str, Any]) -> bool:
    """Supported, and the 95% interval of its difference leaves out 0 (not chance alone)."""
    low, high = (
        (row["difference_low"], row["difference_high"])
        if "level" in row
        else (row["cohens_d_low"], row["cohens_d_high"])
    )
    return not row["small_support"] and (low > 0 or high < 0)


def _effect(row: dict[str, Any]) -> float | None:
    return row["cohens_h"] if "level" in row else row["cohens_d"]


def _sentence(row: dict[str, Any], top: str, currency: str) -> str | None:
    """A sentence a marketer can read, with the numbers it rests on; None without an effect."""
    if "level" in row:
        lift = row["lift"]
        likely = (
            f"{lift:.1f}x as likely as average"
            if lift >= 1
            else f"{1 - lift:.0%} less likely than average"
        )
        return (
            f"{WHO[row['feature']].format(row['level'])} are {likely} to be in {top} "
            f"({row['high_rate']:.0%} vs {row['base_rate']:.0%}; Cohen's h {row['cohens_h']:+.2f})."
        )
    if row["cohens_d"] is None:
        return None
    number, what = WHAT[row["feature"]]
    high, other = (
        amount(row[k], currency) if number is None else number.format(row[k])
        for k in ("high_mean", "other_mean")
    )
    return (
        f"{top[0].upper()}{top[1:]} had {high} {what} on average, against {other} for the rest "
        f"(Cohen's d {row['cohens_d']:+.2f})."
    )


def _check(*, top: float, days: int, min_support: int, predictions: Table | None) -> None:
    """Refuse options that make no sense, with what to use instead."""
    if predictions is not None and not {"customer_key", "clv"} <= set(predictions.columns):
        raise InputError("the predictions need customer_key and clv; run `patron predict`")
    if not 0 < top < 1:
        raise InputError(f"{option('top')} must be a share between 0 and 1 (0.2 = the top 20%)")
    if days < 1:
        raise InputError(f"{option('days')} must be at least 1 day")
    if min_support < 1:
        raise InputError(f"{option('min_support')} must be at least 1 customer")
