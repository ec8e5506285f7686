"""Customer segments as of a date: RFM scores and named groups, lifecycle stages, value tiers.

Every customer with an occasion by the as-of day A (definitions in ``metrics.base``) gets:

- **Recency** = days from the last occasion to A; **frequency** = occasions by A; **monetary** =
  net revenue by A (purchases - refunds).
- **RFM scores** 1..q (quintiles by default; q from 2 to 9, one digit of the RFM code): score =
  min(q, 1 + floor(q * percent_rank)), with percent_rank = (rank - 1) / (n - 1) ordered so that
  higher is better (recent, frequent, valuable). Tied customers share the rank where their tie
  starts, so equal values always get equal scores (all one-time buyers get F = 1), and a score
  may be skipped after a large tie.
- **RFM segment** from ``RULES`` on R and FM = round-half-up((F + M) / 2), read on a 1-5 scale
  (other q are rescaled linearly, 1 -> 1 and q -> 5): a 5x5 grid in the spirit of the usual
  R-vs-FM tables, each cell assigned to exactly one name.
- **Lifecycle stage**: ``first_time`` (one occasion) or ``repeat_active`` while recency is at most
  ``defect_after`` (2) purchase cycles, ``defecting`` up to ``inactive_after`` (4) cycles, then
  ``inactive``. The *purchase cycle* is the customer's own mean gap between occasions, shrunk
  toward the population's median time to a second purchase with the weight of ``PRIOR_GAPS``
  gaps; a one-time buyer's cycle is that population median (similar customers' cycle), or the
  ``window`` while nobody has bought twice. The cycle is at least one day. With
  exponential gaps, an alive customer passes 2 cycles 13.5% of the time, 4 cycles 1.8%.
- **Value tier**: ``top_10pct`` (high spenders: the top ceil(10%) by monetary), ``next_40pct``,
  ``bottom_50pct``; ties broken by customer key.

Customers with no purchase by A (CRM records or events only) are ``prospect``s in exports.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import ibis

from patron.errors import InputError, option
from patron.metrics.base import choices, ratio, refunds
from patron.metrics.occasions import Sales, occasions
from patron.money import PLACES
from patron.portable import round_half_up

if TYPE_CHECKING:
    from ibis import Table

PRIOR_GAPS = 2
DIMENSIONS = ("rfm_segment", "stage", "value_tier")
STAGES = ("first_time", "repeat_active", "defecting", "inactive")
TIERS = ("top_10pct", "next_40pct", "bottom_50pct")

RULES: tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...] = (
    ("Champions", (5,), (4, 5)),
    ("Champions", (4,), (5,)),
    ("Loyal", (4,), (4,)),
    ("Loyal", (3,), (4, 5)),
    ("Potential loyalists", (4, 5), (2, 3)),
    ("New", (5,), (1,)),
    ("Promising", (4,), (1,)),
    ("Need attention", (3,), (1, 2, 3)),
    ("Can't lose them", (1, 2), (5,)),
    ("At risk", (1, 2), (3, 4)),
    ("Hibernating", (2,), (1, 2)),
    ("Lost", (1,), (1, 2)),
)
"""(segment, R scores, FM scores): every (R, FM) cell of the 5x5 grid appears exactly once."""

SEGMENTS = tuple(dict.fromkeys(name for name, _, _ in RULES))


def customer_segments(
    sales: Sales,
    as_of: date,
    *,
    bins: int = 5,
    window: int = 365,
    defect_after: float = 2.0,
    inactive_after: float = 4.0,
) -> Table:
    """One row per customer with a purchase by ``as_of``: RFM, segment, stage, tier, values.

    ``window_revenue`` (purchases in the last ``window`` days) is what summaries share out.
    """
    if not 2 <= bins <= 9:
        raise InputError(
            f"{option('bins')} must be from 2 to 9, got {bins}: each score is one digit of the "
            "RFM code"
        )
    if not 0 < defect_after < inactive_after:
        raise InputError("defect_after must be positive and below inactive_after")
    if window < 1:
        raise InputError(f"{option('window')} must be at least 1 day, got {window}")
    base = _history(sales, as_of, window)
    scored = _rfm(base, bins)
    staged = _stage(scored, defect_after, inactive_after, window)
    return _tier(staged)


def _history(sales: Sales, as_of: date, window: int) -> Table:
    """Per customer: first/last occasion, occasions, net revenue, window revenue, acquisition."""
    occ = occasions(sales, as_of)
    start = as_of - timedelta(days=window)
    hist = occ.group_by("customer_key").agg(
        first_date=occ.order_date.min(),
        last_date=occ.order_date.max(),
        second_date=occ.order_date.min(where=occ.n == 1),
        occasions=occ.count(),
        # DuckDB sums integers to 128 bits, which Parquet writes as doubles (orders 2.0);
        # Ibis drops a cast to the type it assumes, int64, but keeps one to non-null int64
        orders=occ.orders.sum().cast("!int64"),
        revenue=occ.revenue.sum(),
        window_revenue=occ.revenue.sum(where=occ.order_date > start).fill_null(0.0),
        acquisition_channel=occ.acquisition_channel.min(),
    )
    ret = refunds(sales.orders, as_of)
    refunded = ret.group_by("customer_key").agg(refunds=ret.refund.sum())
    hist = hist.left_join(refunded, "customer_key").drop("customer_key_right")
    refunds_ = hist.refunds.fill_null(0.0)
    return hist.mutate(  # float sums must not split ties nor reach exports as 36.910001
        revenue=hist.revenue.round(PLACES),
        window_revenue=hist.window_revenue.round(PLACES),
        refunds=refunds_.round(PLACES),
        monetary=(hist.revenue - refunds_).round(PLACES),
        recency_days=ibis.date(as_of).delta(hist.last_date, unit="day"),
        cohort=hist.first_date.strftime("%Y-%m"),
    )


def _score(percent_rank: ibis.Value, bins: int) -> ibis.Value:
    """min(q, 1 + floor(q * percent_rank)): the 1..q score of a percent rank."""
    return ibis.least(bins, 1 + (percent_rank * bins).floor()).cast("int8")


def _scored_by_value(t: Table, column: str, name: str, bins: int, *, descending: bool) -> Table:
    """``t`` with ``name``, the score of ``column`` (higher is better unless ``descending``).

    The percent rank is (customers ranked below) / (customers - 1), as the window function
    defines it, counted over the column's distinct values: a few hundred days or occasion counts
    are sorted instead of every customer.
    """
    values = t.group_by(column).agg(customers=t.count())
    order = ibis.desc(column) if descending else values[column]
    upto = values.customers.sum().over(order_by=order, rows=(None, 0))
    total = values.customers.sum().over()
    below = upto - values.customers
    rank = ibis.ifelse(total > 1, below / (total - 1), 0.0)
    scores = values.select(column, **{name: _score(rank, bins)})
    return t.inner_join(scores, column)


def _rfm(t: Table, bins: int) -> Table:
    """R, F, M and FM scores and the named segment from ``RULES``."""
    t = _scored_by_value(t, "recency_days", "r_score", bins, descending=True)
    t = _scored_by_value(t, "occasions", "f_score", bins, descending=False)
    t = t.mutate(m_score=_score(ibis.percent_rank().over(order_by=t.monetary), bins))
    t = t.mutate(fm_score=((t.f_score + t.m_score + 1) // 2).cast("int8"))
    r5, fm5 = _five(t.r_score, bins), _five(t.fm_score, bins)
    cases = [((r5.isin(rs)) & (fm5.isin(fms)), name) for name, rs, fms in RULES]
    return t.mutate(
        rfm=t.r_score.cast("string") + t.f_score.cast("string") + t.m_score.cast("string"),
        rfm_segment=ibis.cases(*cases, else_="Lost"),
    )


def _five(score: ibis.Value, bins: int) -> ibis.Value:
    """A 1..bins score on the 1..5 scale the rule table reads: 1 + round(4 (s - 1) / (q - 1))."""
    return score if bins == 5 else (1 + round_half_up((score - 1) * 4 / (bins - 1))).cast("int8")


def _stage(t: Table, defect_after: float, inactive_after: float, window: int) -> Table:
    """Purchase cycle and lifecycle stage.

    The cycle only scales how overdue a customer is; the expected next purchase date has one
    definition, :func:`patron.insights.timing.next_purchase`, so the export never shows two.
    """
    gap = t.second_date.delta(t.first_date, unit="day")
    typical = t.aggregate(m=gap.median().fill_null(window)).m.as_scalar()
    gaps = t.occasions - 1
    own = t.last_date.delta(t.first_date, unit="day").cast("float64")
    cycle = ibis.greatest((own + PRIOR_GAPS * typical) / (gaps + PRIOR_GAPS), 1.0)
    overdue = t.recency_days / cycle
    stage = ibis.cases(
        (overdue > inactive_after, "inactive"),
        (overdue > defect_after, "defecting"),
        (t.occasions == 1, "first_time"),
        else_="repeat_active",
    )
    return t.mutate(
        cycle_days=cycle.round(1),
        stage=stage,
    )


def _tier(t: Table) -> Table:
    rank = ibis.row_number().over(order_by=[ibis.desc(t.monetary), t.customer_key])
    size = t.count().as_scalar()
    tier = ibis.cases(
        (rank < (size * 0.1).ceil(), "top_10pct"),
        (rank < (size * 0.5).ceil(), "next_40pct"),
        else_="bottom_50pct",
    )
    return t.mutate(value_tier=tier).drop("second_date")


def summary(
    segments: Table, *, window: int = 365, dimensions: tuple[str, ...] = DIMENSIONS
) -> dict[str, Any]:
    """Per dimension: each group's size, customer share, revenue share and average value.

    One engine query over the cells of all ``dimensions``, so the segments are computed once;
    each dimension's rows are sums of those cells.
    """
    cells = (
        segments.group_by(list(dimensions))
        .agg(
            customers=segments.count(),
            revenue=segments.window_revenue.sum(),
            value=segments.monetary.sum(),
            recency=segments.recency_days.sum(),
        )
        .to_pyarrow()
        .to_pylist()
    )
    total = {"n": sum(c["customers"] for c in cells), "rev": sum(c["revenue"] for c in cells)}
    out: dict[str, Any] = {"customers": total["n"], "window_revenue": round(total["rev"], PLACES)}
    for dim in dimensions:
        groups: dict[str, dict[str, float]] = {}
        for cell in cells:
            group = groups.setdefault(
                cell[dim], dict.fromkeys(("customers", "revenue", "value", "recency"), 0)
            )
            for key in group:
                group[key] += cell[key]
        rows = sorted(groups.items(), key=_by_revenue)
        out[dim] = [_share_row(name, g, total, window) for name, g in rows]
    return out


def _by_revenue(item: tuple[str, dict[str, float]]) -> tuple[float, float, str]:
    """Groups by revenue, then size, then name: groups without revenue (lapsed ones) would
    otherwise come in whatever order the engine returned their cells."""
    name, group = item
    return -group["revenue"], -group["customers"], str(name)


def _share_row(
    name: str, row: dict[str, Any], total: dict[str, Any], window: int
) -> dict[str, Any]:
    customer_share = ratio(row["customers"], total["n"])
    revenue_share = ratio(row["revenue"] or 0.0, total["rev"])
    sentence = (
        f"{_pct(customer_share)} of customers ({name}) bring {_pct(revenue_share)} of the last "
        f"{window} days' revenue"
    )
    return {
        "name": name,
        "customers": row["customers"],
        "customer_share": _r(customer_share),
        "revenue": round(row["revenue"] or 0.0, PLACES),
        "revenue_share": _r(revenue_share),
        "avg_value": _r(row["value"] / row["customers"]),
        "avg_recency_days": _r(row["recency"] / row["customers"]),
        "sentence": sentence,
    }


def migration(
    sales: Sales,
    start: date,
    end: date,
    *,
    dimension: str = "rfm_segment",
    bins: int = 5,
    window: int = 365,
) -> dict[str, Any]:
    """Where each ``start`` group's customers are at ``end`` (new customers come from ``new``),
    each day's groups as :func:`customer_segments` makes them with ``bins`` and ``window``."""
    if dimension not in DIMENSIONS:
        raise InputError(f"unknown dimension {dimension!r}{choices(dimension, DIMENSIONS)}")
    if start >= end:
        raise InputError(
            f"the migration's {option('start', 'from')} day must be before its "
            f"{option('as_of')} day"
        )
    made = {"bins": bins, "window": window}
    before = customer_segments(sales, start, **made).select("customer_key", src=dimension)
    after = customer_segments(sales, end, **made).select("customer_key", dst=dimension)
    joined = after.left_join(before, "customer_key")
    flows = joined.group_by([joined.src.fill_null("new").name("src"), "dst"]).agg(
        customers=joined.count()
    )
    rows = flows.order_by(["src", "dst"]).to_pyarrow().to_pylist()
    return {
        "dimension": dimension,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "flows": [{"from": r["src"], "to": r["dst"], "customers": r["customers"]} for r in rows],
    }


def _pct(share: float | None) -> str:
    return "n/a" if share is None else f"{share:.0%}"


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 6)
