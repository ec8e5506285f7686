"""Discount sensitivity: how often each customer and segment buys on discount, and what it means.

Definitions, as of a day A (purchases as in :mod:`patron.metrics.base`; nothing after A is read):

- A purchase is *discounted* when its order's ``discount`` is above 0; a missing discount counts
  as full price. Counts are orders, not occasions: the discount is a property of the order.
- Per customer i: n_i purchases, k_i discounted, share p_i = k_i / n_i; the full-price and the
  discounted *average order value* (AOV) are the mean net revenue of those purchases.
- The *discount sensitivity score* is the customer's expected share of purchases on discount: the
  posterior mean of a beta-binomial model, k_i ~ Binomial(n_i, theta_i) with theta_i ~ Beta
  across customers (empirical Bayes). With the prior's mean mu and intra-class correlation
  rho = 1 / (alpha + beta + 1), the posterior mean (k_i + alpha) / (n_i + alpha + beta) is

      score_i = mu + w_i (p_i - mu),   w_i = n_i rho / (1 + (n_i - 1) rho),

  so a customer with few purchases sits near the shop's share and one with many near their own:
  two discounted orders out of two is weak evidence, twenty out of twenty is strong.
- The prior is fitted by the method of moments (the ANOVA estimator for unequal n_i): mu =
  sum k / sum n, and rho solves E[S] = mu (1 - mu) [(N - 1) + rho (sum n - N + 1 - sum n^2 /
  sum n)] for S = sum n_i (p_i - mu)^2 over the N customers (Kleinman 1973). rho is clipped to
  [0, 1]; it is 0 (everyone scores mu) when the data cannot tell customers apart: nobody bought
  twice, a single customer, or every purchase or none discounted. Closed form, so it costs one
  aggregate query (its sums per number of purchases n), where a maximum likelihood fit would
  pull every (n, k) pair.
- *Band*: ``low`` below 1/3, ``medium`` below 2/3, ``high`` from 2/3 (expected to buy on
  discount at least two times out of three): thirds of the score's scale, the same in every shop.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, NamedTuple

import ibis

from patron.errors import InputError, did_you_mean
from patron.metrics.base import sales_only
from patron.money import PLACES

if TYPE_CHECKING:
    from ibis import Table

BANDS = (1 / 3, 2 / 3)
"""Score thresholds between the ``low``, ``medium`` and ``high`` bands."""


@dataclass(frozen=True)
class Prior:
    """The beta prior of the discounted share: its mean and intra-class correlation rho."""

    mean: float
    rho: float

    def weight(self, purchases: ibis.Value) -> ibis.Value:
        """w = n rho / (1 + (n - 1) rho): how far a customer's own share moves the score."""
        n = purchases.cast("float64")
        return n * self.rho / (1 + (n - 1) * self.rho)


class Lift(NamedTuple):
    """A measured relative lift in conversion from discount offers, with its interval."""

    lift: float
    low: float
    high: float


def fit_prior(
    customers: int, purchases: float, discounted: float, sum_n2: float, sum_k2_over_n: float
) -> Prior:
    """The method-of-moments beta prior from five sums over customers (module docstring).

    ``sum_n2`` = sum n_i^2 and ``sum_k2_over_n`` = sum k_i^2 / n_i, which give
    S = sum n_i (p_i - mu)^2 = sum k_i^2 / n_i - mu sum k without a second pass.
    """
    if customers == 0:
        raise InputError("no purchases by the as-of date; load orders or choose a later date")
    mean = discounted / purchases
    spread = mean * (1 - mean)
    scale = purchases - customers + 1 - sum_n2 / purchases
    if spread <= 0 or scale <= 1e-12:
        return Prior(mean, 0.0)
    s = sum_k2_over_n - mean * discounted
    rho = (s / spread - (customers - 1)) / scale
    return Prior(mean, min(max(rho, 0.0), 1.0))


def customer_discounts(orders: Table, as_of: date, *, empty_ok: bool = False) -> Table:
    """Per customer with a purchase by ``as_of``: purchases, discounted purchases, their share,
    full-price and discounted AOV (and revenue), ``discount_score`` and ``discount_band``.

    The score, not the raw share, is what to act on: one discounted order makes a raw share of
    100%, the score weighs it against how much customers of this shop really differ. Building
    the table runs one aggregate query (the prior's five sums).

    A day before any purchase is refused (a reading of nobody), unless ``empty_ok``: the
    customer export as of such a day lists every customer as a prospect, with no score.
    """
    counts = _counts(orders, as_of)
    prior = _prior(counts, empty_ok=empty_ok)
    share = counts.discounted_purchases.cast("float64") / counts.purchases  # never integer division
    score = prior.mean + prior.weight(counts.purchases) * (share - prior.mean)
    full = counts.purchases - counts.discounted_purchases
    return counts.mutate(
        discount_share=share,
        full_price_aov=_mean(counts.full_price_revenue, full),
        discounted_aov=_mean(counts.discounted_revenue, counts.discounted_purchases),
        discount_score=score,
        discount_band=_band(score),
    )


def _counts(orders: Table, as_of: date) -> Table:
    """Per customer: purchases, discounted purchases, full-price and discounted net revenue.

    The revenue sums are rounded (:data:`patron.money.PLACES`): the engine adds money as
    float64, which wrote 0.12000000000000001 for three orders of 0.04 into the scores file."""
    orders = sales_only(orders)
    kept = orders.filter(
        ~orders.is_return, orders.customer_key.notnull(), orders.order_date <= as_of
    )
    on_discount = kept.discount.fill_null(0) != 0  # Magento writes its discounts negative
    revenue = kept.revenue.cast("float64")
    return kept.group_by("customer_key").agg(
        purchases=kept.count(),
        discounted_purchases=kept.count(where=on_discount),  # a sum would be a 128-bit integer
        full_price_revenue=revenue.sum(where=~on_discount).fill_null(0.0).round(PLACES),
        discounted_revenue=revenue.sum(where=on_discount).fill_null(0.0).round(PLACES),
    )


def _prior(counts: Table, *, empty_ok: bool) -> Prior:
    """The prior from the customers' counts, the same whatever order their rows are in.

    The engine adds only whole numbers (exact in float64, in any order) per number of
    purchases n; the quotients k^2 / n are added here, exactly rounded (:func:`math.fsum`).
    Added up in the engine, their sum's last bit followed the rows' order, which follows the
    order the files were loaded in: the same orders loaded day by day or at once gave every
    customer's ``discount_score`` in ``patron export customers`` other last digits.
    """
    n = counts.purchases.cast("float64")
    k = counts.discounted_purchases.cast("float64")
    by_n = counts.group_by(n.name("n")).agg(
        customers=counts.count(), discounted=k.sum(), k2=(k * k).sum()
    )
    rows = by_n.to_pyarrow().to_pylist()
    if empty_ok and not rows:
        return Prior(0.0, 0.0)  # nobody to score: the table is empty whatever the prior
    return fit_prior(
        customers=sum(r["customers"] for r in rows),
        purchases=sum(r["n"] * r["customers"] for r in rows),
        discounted=sum(r["discounted"] for r in rows),
        sum_n2=sum(r["n"] ** 2 * r["customers"] for r in rows),
        sum_k2_over_n=math.fsum(r["k2"] / r["n"] for r in rows),
    )


def _band(score: ibis.Value) -> ibis.Value:
    """``low``, ``medium`` or ``high`` by the ``BANDS`` thresholds."""
    low, high = BANDS
    return ibis.cases((score >= high, "high"), (score >= low, "medium"), else_="low")


def _mean(total: ibis.Value, count: ibis.Value) -> ibis.Value:
    """total / count, None when count is 0 (no such purchases, so no average)."""
    return ibis.ifelse(count > 0, total / count, ibis.null("float64"))


def segment_discounts(scores: Table, groups: Table, by: str) -> Table:
    """Per value of ``groups[by]`` (a table of customer_key and ``by``, e.g. segments):

    ``segment``, customers (with a purchase), purchases, ``discount_share`` (discounted
    purchases / purchases, pooled), ``mean_score``, ``high_share`` (customers in the high band),
    ``full_price_aov`` and ``discounted_aov`` (pooled over the segment's purchases), and
    ``discount_response``: the band of the mean score, which measured lifts can override
    (:func:`with_measured_response`). ``scores`` is :func:`customer_discounts`' table.
    """
    if by not in groups.columns or "customer_key" not in groups.columns:
        hint = did_you_mean(by, groups.columns)
        raise InputError(f"no column {by!r} beside customer_key to group by{hint}")
    segment = groups[by].cast("string")
    t = scores.inner_join(groups.select("customer_key", segment=segment), "customer_key")
    agg = t.group_by("segment").agg(
        customers=t.count(),
        purchases=t.purchases.sum(),
        discounted=t.discounted_purchases.sum(),
        mean_score=t.discount_score.mean(),
        high_share=(t.discount_band == "high").ifelse(1, 0).cast("float64").mean(),
        full_revenue=t.full_price_revenue.sum(),
        discounted_revenue=t.discounted_revenue.sum(),
    )
    full = agg.purchases - agg.discounted
    return agg.select(
        "segment",
        "customers",
        "purchases",
        discount_share=agg.discounted.cast("float64") / agg.purchases,
        mean_score=agg.mean_score,
        high_share=agg.high_share.cast("float64"),
        full_price_aov=_mean(agg.full_revenue, full),
        discounted_aov=_mean(agg.discounted_revenue, agg.discounted),
        discount_response=_band(agg.mean_score),
    ).order_by("segment")


def with_measured_response(segments: Table, measured: Mapping[str, Lift]) -> Table:
    """:func:`segment_discounts`' table with experiments' lifts where a segment has one.

    ``measured`` maps a segment to the relative lift in conversion that discount offers caused
    in a controlled experiment (issue 5), with its interval. For those segments
    ``discount_response`` becomes ``high`` when the whole interval is above 0 (discounts
    measurably win customers) and ``low`` otherwise (no measurable lift is not worth the margin);
    an experiment outranks any observational reading. Adds ``measured_lift``,
    ``measured_lift_low``, ``measured_lift_high`` and ``response_source`` (``experiment`` or
    ``observational``).
    """
    _check_measured(segments, measured)
    if not measured:
        return segments.mutate(
            measured_lift=ibis.null("float64"),
            measured_lift_low=ibis.null("float64"),
            measured_lift_high=ibis.null("float64"),
            response_source=ibis.literal("observational"),
        )
    lifts = ibis.memtable(
        {
            "segment": list(measured),
            "measured_lift": [float(m.lift) for m in measured.values()],
            "measured_lift_low": [float(m.low) for m in measured.values()],
            "measured_lift_high": [float(m.high) for m in measured.values()],
        }
    )
    t = segments.left_join(lifts, "segment").drop("segment_right")
    tested = t.measured_lift.notnull()
    measured_band = ibis.ifelse(t.measured_lift_low > 0, "high", "low")
    return t.mutate(
        discount_response=ibis.ifelse(tested, measured_band, t.discount_response),
        response_source=ibis.ifelse(tested, "experiment", "observational"),
    ).order_by("segment")


def _check_measured(segments: Table, measured: Mapping[str, Lift]) -> None:
    """Refuse lifts for unknown segments or with an interval that does not hold the lift."""
    names = segments.segment.to_pyarrow().to_pylist()
    for name, lift in measured.items():
        if name not in names:
            hint = did_you_mean(name, names)
            raise InputError(f"no segment {name!r} to take a measured lift{hint}")
        if not lift.low <= lift.lift <= lift.high:
            raise InputError(
                f"the measured lift of {name!r} must lie in its interval (low <= lift <= high)"
            )
