"""Purchase timing: how long customers take to buy again, when to nudge, when to contact each one.

Definitions, as of a day A (occasions as in :mod:`patron.metrics.base`: a customer-day with a
purchase; nothing after A is read):

- A *gap* is the number of days between two consecutive occasions of one customer. Its *step* is
  the purchase number it leads from: 1 for the 1st -> 2nd occasion, 2 for 2nd -> 3rd, 3 for
  3rd -> 4th, and 4 for every later gap, pooled ("4+"). Only gaps that ended by A count: a gap
  still open at A is not a gap yet, so its length is unknown.
- Quantiles interpolate linearly between the sorted gaps (``QUANTILE_CONT``, numpy's default):
  the q-quantile of g_1 <= ... <= g_n is g_i + f (g_{i+1} - g_i) with i + f = 1 + q (n - 1).
- *Time to a second purchase*: for a customer acquired on day F, the 1 -> 2 gap. On day d after F
  a customer is *at risk* while they have not bought again before d and day F + d is on or
  before A (they were observed that long). The daily *hazard* h(d) = second purchases on day d /
  customers at risk on day d is the Kaplan-Meier hazard: recently acquired customers leave the
  risk set when their observation ends, instead of counting as customers who never came back.
- *Weekly hazard* of week k (days 7k - 6 .. 7k): second purchases in the week / customer-days at
  risk in it, the mean daily hazard; daily counts are too noisy to locate a peak. Only the weeks
  with at least ``min_at_risk`` customers at risk on their first day are read (at-risk counts
  only fall, so these weeks are a prefix): a handful of customers makes no hazard.
- The *nudge window* is where most second purchases happen: from the 25th to the 75th
  percentile of the 1 -> 2 gaps, in whole days (halves up). Those gaps are the second purchases
  seen by A, so a young shop's window leans early; the hazard has no such bias.
- The *hazard drop day* is the first day of the first week after the peak week whose weekly
  hazard is below half the peak: from then on a one-time buyer is less than half as likely to
  come back on their own as at the best time, so a nudge should come before it.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import ibis
import numpy as np

from patron.errors import InputError
from patron.metrics.occasions import Sales, occasions
from patron.portable import round_half_up

if TYPE_CHECKING:
    from ibis import Table

STEPS = {1: "1->2", 2: "2->3", 3: "3->4", 4: "4+"}
"""Step number -> label; the last step pools every later gap."""
QUANTILES = {"p25": 0.25, "median": 0.5, "p75": 0.75, "p90": 0.9}
MIN_AT_RISK = 20
"""Fewest customers at risk at the start of a week for its hazard to be read."""
LEAD_DAYS = 3
"""Days before the expected next purchase to contact a customer."""


def gaps(sales: Sales, as_of: date, *, customers: Table | None = None) -> Table:
    """Every gap ended by ``as_of``: customer_key, order_date (its end), step, gap_days.

    ``customers`` (a table with ``customer_key``, e.g. one segment) keeps only their gaps.
    """
    occ = _occasions(sales, as_of, customers)
    ended = occ.filter(occ.n >= 1)
    return ended.select(
        "customer_key",
        "order_date",
        step=ibis.least(ended.n, max(STEPS)),
        gap_days=ended.order_date.delta(ended.prev_date, unit="day"),
    )


def gap_stats(sales: Sales, as_of: date, *, customers: Table | None = None) -> list[dict[str, Any]]:
    """Per step (1->2, 2->3, 3->4, 4+): gaps, their p25, median, p75, p90 and mean in days.

    By step because the first repeat is the one most customers never make, and its gap is the
    longest: pooled with the later, shorter ones it would be hidden. Every step has a row; the
    statistics are None where no gap ended by ``as_of``.
    """
    g = gaps(sales, as_of, customers=customers)
    days = g.gap_days.cast("float64")  # PostgreSQL averages integers as exact NUMERIC
    quantiles = {name: days.quantile(q) for name, q in QUANTILES.items()}
    stats = g.group_by("step").agg(gaps=g.count(), mean=days.mean(), **quantiles)
    found = {row["step"]: row for row in stats.to_pyarrow().to_pylist()}
    return [_stat_row(step, found.get(step)) for step in STEPS]


def _stat_row(step: int, row: dict[str, Any] | None) -> dict[str, Any]:
    values = {name: None if row is None else float(row[name]) for name in (*QUANTILES, "mean")}
    return {"step": STEPS[step], "from_purchase": step, "gaps": row["gaps"] if row else 0, **values}


def timing(
    sales: Sales,
    as_of: date,
    *,
    customers: Table | None = None,
    min_at_risk: int = MIN_AT_RISK,
) -> dict[str, Any]:
    """The timing insight: gaps per step and the second-purchase curve, nudge window, hazard.

    ``customers`` restricts everything to their histories (per-segment timing). Keys are stable
    (the CLI's ``--json``); see the module docstring for each definition.
    """
    steps = gap_stats(sales, as_of, customers=customers)
    second = second_purchase(sales, as_of, customers=customers, min_at_risk=min_at_risk)
    first = steps[0]
    window = None
    if first["gaps"]:
        window = {"from_day": _whole(first["p25"]), "to_day": _whole(first["p75"])}
    return {"as_of": as_of.isoformat(), "steps": steps, "nudge_window": window, **second}


def _whole(days: float) -> int:
    """Whole days, halves up (Python's round() would send halves to even)."""
    return math.floor(days + 0.5)


def second_purchase(
    sales: Sales,
    as_of: date,
    *,
    customers: Table | None = None,
    min_at_risk: int = MIN_AT_RISK,
) -> dict[str, Any]:
    """Customers acquired by ``as_of``, their second purchases by day and week, the hazard drop.

    ``daily`` runs from day 1 to the last day with a second purchase: second purchases, customers
    at risk, hazard and the cumulative share of the second purchases made by that day.
    ``weekly`` holds the weeks read for the hazard (see the module docstring).
    """
    if min_at_risk < 1:
        raise InputError("min_at_risk must be at least 1")
    bought, left = _waits(sales, as_of, customers)
    at_risk = np.cumsum(left[::-1])[::-1]  # at_risk[d]: customers still waiting on day d
    weekly = _weekly(bought, at_risk, min_at_risk)
    return {
        "customers": int(left.sum()),
        "second_purchases": int(bought.sum()),
        "daily": _daily(bought, at_risk),
        "weekly": weekly,
        **_drop(weekly),
    }


def _waits(sales: Sales, as_of: date, customers: Table | None) -> tuple[np.ndarray, np.ndarray]:
    """Per day d since acquisition: second purchases on d, and customers whose last day at risk
    is d (the day they bought again, or their last observed day).

    Only the counts per day leave the engine: a few hundred numbers, however many customers.
    """
    occ = _occasions(sales, as_of, customers)
    per = occ.group_by("customer_key").agg(
        first=occ.order_date.min(), second=occ.order_date.min(where=occ.n == 1)
    )
    observed = ibis.date(as_of).delta(per.first, unit="day")
    day = ibis.coalesce(per.second.delta(per.first, unit="day"), observed)
    counts = per.group_by(day=day, bought=per.second.notnull()).agg(customers=per.count())
    rows = counts.to_pyarrow().to_pylist()
    size = max((r["day"] for r in rows), default=0) + 1
    bought, left = np.zeros(size, dtype=np.int64), np.zeros(size, dtype=np.int64)
    for r in rows:
        left[r["day"]] += r["customers"]
        if r["bought"]:
            bought[r["day"]] += r["customers"]
    return bought, left


def _daily(bought: np.ndarray, at_risk: np.ndarray) -> list[dict[str, Any]]:
    """Days 1 .. the last second purchase: purchases, at risk, hazard, cumulative share."""
    last = int(np.flatnonzero(bought)[-1]) if bought.any() else 0
    share = np.cumsum(bought[: last + 1]) / max(int(bought.sum()), 1)
    return [
        {
            "day": d,
            "second_purchases": int(bought[d]),
            "at_risk": int(at_risk[d]),
            "hazard": float(bought[d] / at_risk[d]),
            "cumulative_share": float(share[d]),
        }
        for d in range(1, last + 1)
    ]


def _weekly(bought: np.ndarray, at_risk: np.ndarray, min_at_risk: int) -> list[dict[str, Any]]:
    """Weeks 1, 2, ... while at least ``min_at_risk`` customers are at risk on their first day."""
    weeks = []
    for week in range(1, (len(at_risk) + 5) // 7 + 1):
        first = 7 * week - 6
        if at_risk[first] < min_at_risk:
            break
        span = slice(first, first + 7)
        exposure = int(at_risk[span].sum())
        weeks.append(
            {
                "week": week,
                "first_day": first,
                "at_risk": int(at_risk[first]),
                "second_purchases": int(bought[span].sum()),
                "customer_days": exposure,
                "hazard": float(bought[span].sum() / exposure),
            }
        )
    return weeks


def _drop(weekly: list[dict[str, Any]]) -> dict[str, Any]:
    """The peak week and the first day of the first later week below half the peak hazard."""
    hazards = [w["hazard"] for w in weekly]
    if not hazards or max(hazards) == 0:
        return {"hazard_peak_week": None, "hazard_peak": None, "hazard_drop_day": None}
    peak = int(np.argmax(hazards))
    later = (w["first_day"] for w in weekly[peak + 1 :] if w["hazard"] < hazards[peak] / 2)
    return {
        "hazard_peak_week": weekly[peak]["week"],
        "hazard_peak": hazards[peak],
        "hazard_drop_day": next(later, None),
    }


def next_purchase(
    sales: Sales,
    as_of: date,
    *,
    predictions: Table | None = None,
    lead_days: int = LEAD_DAYS,
) -> Table:
    """Per customer with an occasion by ``as_of``: expected next purchase and best contact day.

    - ``gap_days``: the customer's own median gap when they have at least two gaps (one gap is
      one draw, not a habit), else the shop's median gap of their next step (a customer with k
      occasions is waiting on step min(k, 4)), else the median of all gaps when nobody has
      made that step yet; None when nobody has bought twice.
    - ``next_purchase_date``: ``predictions.next_purchase_date`` (a model's, e.g.
      :mod:`patron.predict`) where given and not empty, else the last occasion + ``gap_days``
      rounded to a whole day; ``next_purchase_basis`` says which: ``model``, ``own`` or
      ``population``; none, with the basis ``likely_lost``, for a customer the model holds
      gone. It may be before ``as_of``: the customer is overdue.
    - ``next_contact_date``: ``lead_days`` before the next purchase date, so the message lands
      while they are deciding, but never before the day after ``as_of`` (the data's last day):
      an overdue customer is contacted at once.
    """
    if lead_days < 0:
        raise InputError("lead_days must be 0 or more")
    empirical = _empirical_next(sales, as_of)
    if predictions is not None:
        empirical = _with_model(empirical, predictions)
    lead = ibis.interval(days=lead_days)
    earliest = ibis.date(as_of + timedelta(days=1))
    expected = empirical.next_purchase_date
    # greatest() skips NULLs: keep them
    contact = ibis.greatest((expected.cast("timestamp") - lead).date(), earliest)
    contact = ibis.ifelse(expected.isnull(), ibis.null("date"), contact)
    return empirical.mutate(next_contact_date=contact)


def _empirical_next(sales: Sales, as_of: date) -> Table:
    """customer_key, last_purchase_date, occasions, gap_days, next_purchase_date and basis."""
    occ = occasions(sales, as_of)
    hist = occ.group_by("customer_key").agg(
        last_purchase_date=occ.order_date.max(), occasions=occ.count()
    )
    g = gaps(sales, as_of)
    own = g.group_by("customer_key").agg(own_gaps=g.count(), own_median=g.gap_days.median())
    shop = g.group_by("step").agg(step_median=g.gap_days.median())
    pooled = g.aggregate(m=g.gap_days.median()).m.as_scalar()
    hist = hist.mutate(step=ibis.least(hist.occasions, max(STEPS)))
    t = hist.left_join(own, "customer_key").drop("customer_key_right")
    t = t.left_join(shop, "step").drop("step", "step_right")
    is_own = t.own_gaps >= 2
    gap = ibis.ifelse(is_own, t.own_median, ibis.coalesce(t.step_median, pooled))
    days = round_half_up(gap).as_interval("D")
    return t.select(
        "customer_key",
        "last_purchase_date",
        "occasions",
        gap_days=gap,
        # DuckDB's date + interval is a timestamp though Ibis types it a date: cast explicitly
        next_purchase_date=(t.last_purchase_date.cast("timestamp") + days).date(),
        next_purchase_basis=ibis.cases(
            (is_own, "own"), (gap.notnull(), "population"), else_=ibis.null("string")
        ),
    )


def _with_model(empirical: Table, predictions: Table) -> Table:
    """``empirical`` with the model's next purchase date where ``predictions`` has one, and
    none for a customer the model holds ``likely_lost`` (``churn_risk``): the past gaps would
    date a purchase the model does not expect."""
    missing = {"customer_key", "next_purchase_date"} - set(predictions.columns)
    if missing:
        raise InputError(f"predictions need the columns {sorted(missing)}; run `patron predict`")
    lost = (
        predictions.churn_risk == "likely_lost"
        if "churn_risk" in predictions.columns
        else ibis.literal(False)
    )
    model = predictions.select(
        "customer_key", model_date=predictions.next_purchase_date, model_lost=lost
    )
    t = empirical.left_join(model, "customer_key").drop("customer_key_right")
    gone = t.model_lost.fill_null(False)
    basis = ibis.ifelse(t.model_date.notnull(), "model", t.next_purchase_basis)
    return t.mutate(
        next_purchase_date=ibis.ifelse(
            gone, ibis.null("date"), ibis.coalesce(t.model_date, t.next_purchase_date)
        ),
        next_purchase_basis=ibis.ifelse(gone, "likely_lost", basis),
    ).drop("model_date", "model_lost")


def _occasions(sales: Sales, as_of: date, customers: Table | None) -> Table:
    """Occasions by ``as_of``, of ``customers`` only when given."""
    occ = occasions(sales, as_of)
    if customers is None:
        return occ
    if "customer_key" not in customers.columns:
        raise InputError("the customers to restrict to need a customer_key column")
    return occ.semi_join(customers.select("customer_key"), "customer_key")
