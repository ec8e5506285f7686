"""Affinity: which categories or brands groups, customers, repeat and new buyers lean to.

Definitions, as of a day A (purchases, occasions and refunds as in :mod:`patron.metrics.base`;
nothing after A is read):

- A *purchase line* is an order line of a purchase order (attributed, not a return) dated on or
  before A. Its *item* is the line's ``category`` (or ``brand`` with ``by="brand"``), else the
  product's (joined by ``sku``); lines with neither are left out. Lines of return orders never
  count: a return is not a purchase (a returned item still counts as bought by its purchase).
- A *buyer* is a customer with at least one purchase line with an item by A; every share below
  is over buyers, so customers whose orders carry no lines do not dilute them.
- A buyer's *occasion share* of an item, f = (their occasions with the item) / (their occasions
  with purchase lines), is how often their purchases include it. Groups and repeat buyers are
  compared on it rather than on "ever bought": someone with ten occasions has bought more
  things, so frequent-buyer groups would lean to everything, most to the rare items. When every
  buyer has one occasion, f is 1 or 0 and the shares below are plain shares of buyers.
- *Group lift*: in a group g of n_g buyers, share = (sum of f over them) / n_g; the base share
  b is the same over all N buyers; lift = share / b; *support* = the group's buyers who bought
  the item. The *shrunk lift* (n_g share + k b) / ((n_g + k) b) adds k = ``prior``
  pseudo-buyers at the base rate (a prior centred on the base, worth k buyers), so it always
  lies between 1 and the raw lift and a group needs about k buyers before its own share counts
  half. Groups rank items by shrunk lift, and an item needs ``min_support`` supporting buyers
  to be listed: a 3-buyer group where 2 bought a rare brand has a raw lift of 60 but no
  evidence. Over everyone the lift is 1, and the buyer-weighted mean of a partition's group
  shares is the base share.
- *Customer affinity*: customer i bought x_ic purchase lines of item c out of n_i (a line is one
  product chosen in one order; quantity does not multiply a preference). Their shrunk share is
  the Dirichlet-multinomial posterior mean (x_ic + a m_c) / (n_i + a), with m_c item c's share
  of all purchase lines and a the prior strength. By default a is estimated from the data by
  the method of moments: rho = sum x_ic (x_ic - 1) / sum n_i (n_i - 1) (how often two of a
  customer's lines share an item) equals (a S + 1) / (a + 1) with S = sum m_c^2, so
  a = (1 - rho) / (rho - S), clamped to [``MIN_PRIOR``, ``MAX_PRIOR``]. A customer's top items
  are the items they bought, by shrunk share: one line gives a share near the population mix,
  not 100%, so a one-order customer gets no confident "favourite", and ties between items
  bought equally often go to the more popular one.
- *Repeat vs one-and-done*: repeat buyers have at least 2 occasions by A, one-and-done buyers
  exactly 1. Each side's share is its mean occasion share (for one-and-done buyers, the share
  who bought the item); lift = repeat share / one-and-done share. The difference is tested with
  Welch's z-test on the per-customer shares (the unpooled two-proportion z-test when every
  customer has one occasion), with a 95% interval.
- *Gateways*: customers acquired at least ``days`` days before A (so every one of them had the
  whole window), grouped by acquisition channel and by the items of their first occasion (a
  customer counts in each). *Repeat rate* = share with a second occasion within ``days`` days
  of acquisition, with a Wilson 95% interval; *value* = mean net revenue (purchases - refunds)
  in those first ``days`` days, with a normal 95% interval. Equal windows make old and new
  cohorts comparable; revenue to date would favour whoever arrived first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import ibis
from scipy.special import ndtr, ndtri

from patron.errors import InputError, did_you_mean, option
from patron.metrics.base import refunds, sales_only
from patron.metrics.occasions import Sales, occasions
from patron.portable import first_by

if TYPE_CHECKING:
    from ibis import Table

BY = ("category", "brand")
PLURAL = {"category": "categories", "brand": "brands"}
MIN_PRIOR, MAX_PRIOR = 0.1, 1000.0
"""Bounds of the estimated customer prior: own lines always count, the mix never outweighs all."""
Z95 = float(ndtri(0.975))


@dataclass(frozen=True)
class Baskets:
    """What customers bought: the sales (orders, occasions), the order lines and the catalog."""

    sales: Sales
    lines: Table
    products: Table


def shrunk_lift(hits: Any, buyers: Any, base_share: Any, prior: float) -> Any:
    """(h + k b) / ((n + k) b): the lift h / (n b) after k = ``prior`` pseudo-buyers at base b.

    Works on numbers and on Ibis values alike; it lies between 1 and the raw lift.
    """
    return (hits + prior * base_share) / ((buyers + prior) * base_share)


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion (Wilson 1927); honest near 0 and 1."""
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def group_affinity(
    baskets: Baskets,
    groups: Table,
    column: str,
    as_of: date,
    *,
    by: str = "category",
    min_support: int = 5,
    prior: float = 20.0,
    top: int | None = None,
    shares: Table | None = None,
) -> list[dict[str, Any]]:
    """Per group of ``groups[column]``, the items its buyers lean to: lift over the base rate.

    Rows (group, item, support, buyers, share, base_share, lift, shrunk_lift, rank), shares
    being mean occasion shares, for items with at least ``min_support`` buyers in the group,
    ranked within the group by shrunk lift (then support, then name); ``top`` keeps the first
    ranks. The base is every buyer, in a group or not, so a filtered ``groups`` table (one
    segment) is still compared with the whole population. Groups of no buyers have no rows.
    ``shares``: :func:`occasion_shares` of the same arguments, when the caller has them.
    """
    _check(by=by, min_support=min_support, prior=prior, top=top)
    if column not in groups.columns or "customer_key" not in groups.columns:
        known = [c for c in groups.columns if c != "customer_key"]
        raise InputError(
            f"the groups table needs customer_key and {column!r}{did_you_mean(column, known)}"
        )
    shares = occasion_shares(baskets, as_of, by) if shares is None else shares
    everyone = shares.customer_key.nunique().as_scalar()
    base = shares.group_by("item").agg(base_share=shares.f.sum() / everyone)
    labelled = groups.filter(groups[column].notnull())
    members = labelled.select("customer_key", group=labelled[column].cast("string"))
    members = members.filter(members.customer_key.isin(shares.customer_key))
    sizes = members.group_by("group").agg(buyers=members.count())
    bought = shares.inner_join(members, "customer_key")
    cells = bought.group_by(["group", "item"]).agg(support=bought.count(), hits=bought.f.sum())
    cells = cells.filter(cells.support >= min_support)
    cells = cells.inner_join(sizes, "group").inner_join(base, "item")
    share = cells.hits / cells.buyers
    cells = cells.mutate(
        share=share,
        lift=share / cells.base_share,
        shrunk_lift=shrunk_lift(cells.hits, cells.buyers, cells.base_share, prior),
    )
    order = [ibis.desc(cells.shrunk_lift), ibis.desc(cells.support), cells.item]
    cells = cells.mutate(rank=ibis.row_number().over(group_by="group", order_by=order) + 1)
    if top is not None:
        cells = cells.filter(cells.rank <= top)
    columns = ("group", "item", "support", "buyers", "share", "base_share", "lift")
    result = cells.select(*columns, "shrunk_lift", "rank").order_by(["group", "rank"])
    return [rounded(row) for row in result.to_pyarrow().to_pylist()]


def customer_affinity(
    baskets: Baskets,
    as_of: date,
    *,
    by: str = "category",
    top: int = 3,
    prior: float | None = None,
) -> Table:
    """Per buyer, their top items: ``top_categories`` (or ``top_brands``) and the top's score.

    Columns: customer_key; ``top_<by plural>``, up to ``top`` items they bought joined by
    ", ", best first; ``top_<by>``, the first; ``<by>_affinity``, its shrunk share (0-1). The
    prior strength is :func:`concentration` unless ``prior`` gives it (in lines).
    """
    _check(by=by, prior=prior, top=top)
    counts, mix = _line_counts(baskets, as_of, by)
    a = _concentration(counts, mix) if prior is None else prior
    scored = counts.inner_join(mix, "item")
    scored = scored.mutate(score=(scored.x + a * scored.m) / (scored.n + a))
    order = [ibis.desc(scored.score), scored.item]
    scored = scored.mutate(rank=ibis.row_number().over(group_by="customer_key", order_by=order))
    kept = scored.filter(scored.rank < top)
    return kept.group_by("customer_key").agg(
        **{
            f"top_{PLURAL[by]}": kept.item.group_concat(", ", order_by=kept.rank),
            f"top_{by}": first_by(kept.item, [kept.rank]),
            f"{by}_affinity": kept.score.max().round(6),
        }
    )


def concentration(baskets: Baskets, as_of: date, *, by: str = "category") -> float:
    """The Dirichlet prior strength a of customers' item mixes (method of moments), in lines.

    Small a: focused shoppers, whose few lines already say what they like; large a: shoppers
    who buy like the population mix. Clamped to [``MIN_PRIOR``, ``MAX_PRIOR``]; ``MAX_PRIOR``
    when no customer has two lines (nothing shows that customers differ).
    """
    _check(by=by)
    return _concentration(*_line_counts(baskets, as_of, by))


def _line_counts(baskets: Baskets, as_of: date, by: str) -> tuple[Table, Table]:
    """Lines per (customer, item) with the customer's total n, and each item's mix share m."""
    bought = purchase_lines(baskets, as_of, by)
    counts = bought.group_by(["customer_key", "item"]).agg(x=bought.count())
    counts = counts.mutate(n=counts.x.sum().over(group_by="customer_key"))
    items = counts.group_by("item").agg(lines=counts.x.sum())
    return counts, items.select("item", m=items.lines / items.lines.sum().over())


def _concentration(counts: Table, mix: Table) -> float:
    """a = (1 - rho) / (rho - S), rho the same-item share of line pairs, S = sum m^2."""
    per = counts.group_by("customer_key").agg(
        pairs=(counts.n.max() * (counts.n.max() - 1)), same=(counts.x * (counts.x - 1)).sum()
    )
    totals = per.aggregate(
        pairs=per.pairs.sum(),
        same=per.same.sum(),
        s=mix.aggregate(s=(mix.m * mix.m).sum()).s.as_scalar(),
    )
    row = totals.to_pyarrow().to_pylist()[0]
    if not row["pairs"] or row["same"] / row["pairs"] <= row["s"]:
        return MAX_PRIOR
    rho = row["same"] / row["pairs"]
    return min(MAX_PRIOR, max(MIN_PRIOR, (1 - rho) / (rho - row["s"])))


def repeat_affinity(
    baskets: Baskets,
    as_of: date,
    *,
    by: str = "category",
    min_support: int = 5,
    shares: Table | None = None,
) -> dict[str, Any]:
    """What repeat buyers buy that one-and-done buyers do not: per-occasion shares and their lift.

    ``items`` rows (item, repeat_buyers, once_buyers, repeat_share, once_share, lift,
    difference with its 95% interval, p_value) for items at least ``min_support`` buyers
    bought, by lift, highest first; items no one-and-done buyer bought (lift None: infinite)
    come first. ``shares``: :func:`occasion_shares` of the same arguments, when the caller
    has them.
    """
    _check(by=by, min_support=min_support)
    shares = occasion_shares(baskets, as_of, by) if shares is None else shares
    occ = occasions(baskets.sales, as_of)
    status = occ.group_by("customer_key").agg(repeat=occ.count() >= 2)
    shares = shares.inner_join(status, "customer_key")
    sums = shares.group_by(["item", "repeat"]).agg(
        buyers=shares.count(), f=shares.f.sum(), f2=(shares.f * shares.f).sum()
    )
    buyers = shares.select("customer_key", "repeat").distinct()
    sides = buyers.group_by("repeat").agg(n=buyers.count()).to_pyarrow().to_pylist()
    n = {row["repeat"]: row["n"] for row in sides}
    cells: dict[str, dict[bool, dict[str, Any]]] = {}
    for row in sums.to_pyarrow().to_pylist():
        cells.setdefault(row["item"], {})[row["repeat"]] = row
    rows = [
        _repeat_row(item, side, n.get(True, 0), n.get(False, 0))
        for item, side in cells.items()
        if sum(s["buyers"] for s in side.values()) >= min_support
    ]
    rows.sort(key=lambda r: (r["lift"] is not None, -(r["lift"] or 0.0), r["item"]))
    return {"repeat_customers": n.get(True, 0), "once_customers": n.get(False, 0), "items": rows}


def _repeat_row(
    item: str, side: dict[bool, dict[str, Any]], n_repeat: int, n_once: int
) -> dict[str, Any]:
    """Means and variances of the per-customer shares on each side, and Welch's z-test."""
    stats = [_mean_var(side.get(flag), size) for flag, size in ((True, n_repeat), (False, n_once))]
    (mean_r, var_r), (mean_o, var_o) = stats
    diff = mean_r - mean_o
    se = math.sqrt(var_r / n_repeat + var_o / n_once) if n_repeat and n_once else 0.0
    return rounded(
        {
            "item": item,
            "repeat_buyers": side[True]["buyers"] if True in side else 0,
            "once_buyers": side[False]["buyers"] if False in side else 0,
            "repeat_share": mean_r,
            "once_share": mean_o,
            "lift": mean_r / mean_o if mean_o else None,
            "difference": diff,
            "difference_low": diff - Z95 * se if se else None,
            "difference_high": diff + Z95 * se if se else None,
            "p_value": float(2 * ndtr(-abs(diff) / se)) if se else None,
        }
    )


def _mean_var(sums: dict[str, Any] | None, n: int) -> tuple[float, float]:
    """Mean and sample variance of n values of which the listed ones sum to f (rest are 0)."""
    if not n:
        return 0.0, 0.0
    f, f2 = (sums["f"], sums["f2"]) if sums else (0.0, 0.0)
    mean = f / n
    return mean, (max(0.0, (f2 - n * mean * mean) / (n - 1)) if n > 1 else 0.0)


def gateways(
    baskets: Baskets,
    as_of: date,
    *,
    by: str = "category",
    days: int = 365,
    min_support: int = 5,
    predictions: Table | None = None,
) -> dict[str, Any]:
    """First-purchase items and acquisition channels by the repeat rate and value they bring.

    ``channels`` and ``items`` rows (name, customers, repeaters, repeat_rate with its Wilson
    interval, avg_revenue with its interval, repeat_rank, revenue_rank) for groups of at least
    ``min_support`` customers. With ``predictions`` (customer_key, clv: the stored ones), also
    avg_clv, the mean predicted CLV (0 for a customer without one), its interval and clv_rank.
    Ranks go by the lower interval ends, so a handful of lucky customers does not top the list;
    rows come in repeat-rank order.
    """
    _check(by=by, min_support=min_support)
    if days < 1:
        raise InputError(f"the gateway window ({option('days')}) must be at least 1 day")
    acquired_by = as_of - timedelta(days=days)
    cohort = first_window(baskets, as_of, days, acquired_by)
    if predictions is not None:
        clv = predictions.select("customer_key", clv=predictions.clv.cast("float64"))
        cohort = cohort.left_join(clv, "customer_key").drop("customer_key_right")
        cohort = cohort.mutate(clv=cohort.clv.fill_null(0.0))
    bought = purchase_lines(baskets, as_of, by)
    first = bought.inner_join(cohort, "customer_key")
    first = first.filter(first.order_date == first.first_date).select(
        "customer_key", "item", "repeat", "value", *(["clv"] if predictions is not None else [])
    )
    first = first.distinct()
    return {
        "as_of": as_of.isoformat(),
        "days": days,
        "acquired_by": acquired_by.isoformat(),
        "customers": cohort.count().to_pyarrow().as_py(),
        "channels": _gateway_rows(cohort, cohort.acquisition_channel, min_support),
        "items": _gateway_rows(first, first.item, min_support),
    }


def first_window(baskets: Baskets, as_of: date, days: int, acquired_by: date) -> Table:
    """Customers acquired by ``acquired_by``: channel, first date, repeat flag, window value."""
    occ = occasions(baskets.sales, as_of)
    occ = occ.filter(occ.first_date <= acquired_by)
    occ = occ.filter(occ.order_date.delta(occ.first_date, unit="day") <= days)
    cohort = occ.group_by("customer_key").agg(
        acquisition_channel=occ.acquisition_channel.min(),
        first_date=occ.first_date.min(),
        repeat=(occ.n >= 1).any(),
        revenue=occ.revenue.sum(),
    )
    ret = refunds(baskets.sales.orders, as_of)
    ret = ret.inner_join(cohort.select("customer_key", "first_date"), "customer_key")
    ret = ret.filter(ret.order_date.delta(ret.first_date, unit="day") <= days)
    refunded = ret.group_by("customer_key").agg(refund=ret.refund.sum())
    cohort = cohort.left_join(refunded, "customer_key").drop("customer_key_right")
    return cohort.mutate(value=cohort.revenue - cohort.refund.fill_null(0.0)).drop(
        "revenue", "refund"
    )


def _gateway_rows(t: Table, key: ibis.Value, min_support: int) -> list[dict[str, Any]]:
    """Per value of ``key``: counts, repeat rate and mean value (and predicted CLV when ``t``
    has ``clv``) with intervals, and ranks."""
    sums: dict[str, ibis.Value] = {}
    for amount in _means(t):
        sums |= {amount: t[amount].sum(), f"{amount}2": (t[amount] * t[amount]).sum()}
    agg = t.group_by(name=key).agg(customers=t.count(), repeaters=t.repeat.sum(), **sums)
    agg = agg.filter(agg.customers >= min_support).order_by("name")
    rows = [_gateway_row(row) for row in agg.to_pyarrow().to_pylist()]
    ranks = [("repeat_rank", "repeat_low"), ("revenue_rank", "revenue_low")]
    if "clv" in t.columns:
        ranks.append(("clv_rank", "clv_low"))
    for field, low in ranks:
        ranked = sorted(rows, key=lambda r: (r[low] is None, -(r[low] or 0.0), r["name"]))
        for rank, row in enumerate(ranked, 1):
            row[field] = rank
    return sorted(rows, key=lambda r: r["repeat_rank"])


def _means(t: Table) -> tuple[str, ...]:
    """The per-customer amounts a gateway row averages: window value, and predicted CLV."""
    return ("value", "clv") if "clv" in t.columns else ("value",)


_MEAN_NAMES = {"value": ("avg_revenue", "revenue"), "clv": ("avg_clv", "clv")}
"""Amount -> (its mean's field, its interval's prefix) in a gateway row."""


def _gateway_row(row: dict[str, Any]) -> dict[str, Any]:
    n, repeaters = row["customers"], row["repeaters"]
    low, high = wilson(repeaters, n)
    out = {
        "name": row["name"],
        "customers": n,
        "repeaters": repeaters,
        "repeat_rate": repeaters / n,
        "repeat_low": low,
        "repeat_high": high,
    }
    for amount, (field, prefix) in _MEAN_NAMES.items():
        if amount in row:
            out |= _mean_interval(row[amount], row[f"{amount}2"], n, field, prefix)
    return rounded(out)


def _mean_interval(f: float, f2: float, n: int, field: str, prefix: str) -> dict[str, Any]:
    """The mean of n amounts summing to f (squares to f2) and its normal 95% interval."""
    mean, var = _mean_var({"f": f, "f2": f2}, n)
    half = Z95 * math.sqrt(var / n) if n > 1 else None
    return {
        field: mean,
        f"{prefix}_low": mean - half if half is not None else None,
        f"{prefix}_high": mean + half if half is not None else None,
    }


def purchase_lines(baskets: Baskets, as_of: date, by: str) -> Table:
    """Purchase lines by ``as_of`` with an item: customer_key, order_date, item."""
    o = sales_only(baskets.sales.orders)
    orders = o.filter(~o.is_return, o.customer_key.notnull(), o.order_date <= as_of)
    orders = orders.select("order_id", "customer_key", "order_date")
    products = baskets.products.select(product_sku="sku", catalog=baskets.products[by])
    lines = baskets.lines.left_join(products, baskets.lines.sku == products.product_sku)
    lines = lines.select("order_id", item=ibis.coalesce(lines[by], lines.catalog))
    lines = lines.filter(lines.item.notnull())
    return lines.inner_join(orders, "order_id").select("customer_key", "order_date", "item")


def occasion_shares(baskets: Baskets, as_of: date, by: str) -> Table:
    """Per buyer and item: f = occasions with the item / occasions with purchase lines."""
    _check(by=by)
    days = purchase_lines(baskets, as_of, by).distinct()
    dates = days.select("customer_key", "order_date").distinct()  # cheaper than nunique
    lined = dates.group_by("customer_key").agg(k=dates.count())
    hits = days.group_by(["customer_key", "item"]).agg(c=days.count())
    hits = hits.inner_join(lined, "customer_key")
    return hits.select("customer_key", "item", f=hits.c / hits.k)


def _check(
    *,
    by: str,
    min_support: int = 1,
    prior: float | None = None,
    top: int | None = None,
) -> None:
    """Refuse options that make no sense, with what to use instead."""
    if by not in BY:
        raise InputError(f"cannot rank by {by!r}{did_you_mean(by, BY)}; use category or brand")
    if min_support < 1:
        raise InputError(f"{option('min_support')} must be at least 1 customer")
    if prior is not None and prior < 0:
        raise InputError("the prior strength must be 0 or more")
    if top is not None and top < 1:
        raise InputError(f"{option('top')} must be at least 1")


def rounded(row: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 6) if isinstance(v, float) else v for k, v in row.items()}
