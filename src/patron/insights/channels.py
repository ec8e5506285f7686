"""Channel preference and customer experience: where customers buy and engage, how they rate us.

Definitions, as of a day A (purchases and refunds as in :mod:`patron.metrics.base`; nothing
after A is read; events carry an instant, stored in UTC, so they count until day A ends in the
shop's ``timezone``, the day orders are dated by):

- *Purchase channels*: a customer's purchases by A counted per order ``channel`` ("unknown"
  when missing). A channel's share is its purchases / the customer's purchases.
- *Engagement*: an event of the customer whose type's action, the part after its first "_",
  is ``open``, ``click`` or ``visit`` (email_open, email_click, sms_click, push_open,
  web_visit, app_visit, ...): the customer did something. Sends, bounces, unsubscribes and
  survey answers are not: the shop sent them, or they say no, or they are feedback. Its channel
  is the event's ``channel``, else the type's prefix. Counts are not rates: a channel that
  sends more gives more chances to engage, and a web order brings its visits with it.
- *Preferred* channel (purchase or engagement): the one with the most purchases or engagements;
  ties go to the one used last, then to the first name, so every customer gets exactly one.
- *NPS* (Reichheld 2003): a ``survey_response`` event's score is the number under ``nps``, else
  ``score``, in its ``properties`` JSON, else in its ``attributes`` (a source's own column);
  scores outside 0-10 are ignored. Each respondent's latest answer by A counts once (a customer
  who answers every month would otherwise outweigh the rest, and answers of one person are not
  independent draws). Promoters score 9-10, passives 7-8, detractors 0-6; NPS = 100 (P - D)
  for the shares P and D of respondents, with the normal 95% interval of the estimator's
  variance (P + D - (P - D)^2) / n (each answer is +1, 0 or -1; NPS is 100 x their mean).
- *Return rate*: refunds of returns dated in the ``window`` days to A / revenue of purchases
  dated in them, as the KPI ``return_rate`` (:mod:`patron.metrics.kpis`): by money, so a
  partial refund counts its part, and no link of a return to its order is needed.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

import ibis

from patron.errors import InputError, did_you_mean, option
from patron.insights.affinity import Z95
from patron.metrics.base import purchases, refunds
from patron.portable import first_by, json_or_null, number_or_null
from patron.zones import shop_zone

if TYPE_CHECKING:
    from ibis import Table

ENGAGEMENTS = ("open", "click", "visit")
"""Event actions that count as engagement."""
SURVEY = "survey_response"
SCORE_KEYS = ("nps", "score")
"""Where a survey answer's score is looked for, in order."""
PROMOTER, PASSIVE = 9, 7
"""Lowest promoter and passive scores (Reichheld 2003); below PASSIVE is a detractor."""


def channel_mix(orders: Table, events: Table, as_of: date, *, timezone: str = "UTC") -> Table:
    """Per customer, ``kind`` (purchase or engagement) and channel: ``uses`` (purchases or
    engagements), ``share`` of the customer's uses of that kind, ``last_at``, and ``rank``
    (0 = the preferred channel of that kind)."""
    p = purchases(orders)
    p = p.filter(p.order_date <= as_of)
    bought = p.select("customer_key", "channel", at=p.ordered_at, kind=ibis.literal("purchase"))
    e = _engagements(events, as_of, timezone)
    engaged = e.select("customer_key", "channel", at="occurred_at", kind=ibis.literal("engagement"))
    both = bought.union(engaged)
    mix = both.group_by(["customer_key", "kind", "channel"]).agg(
        uses=both.count(), last_at=both.at.max()
    )
    each = ["customer_key", "kind"]
    order = [ibis.desc(mix.uses), ibis.desc(mix.last_at), mix.channel]
    return mix.mutate(
        share=mix.uses / mix.uses.sum().over(group_by=each),
        rank=ibis.row_number().over(group_by=each, order_by=order),
    )


def _engagements(events: Table, as_of: date, timezone: str) -> Table:
    """The customers' engagement events by the end of ``as_of``: customer_key, occurred_at,
    channel."""
    e = _until(events, as_of, timezone)
    prefix = e.type.split("_")[0]
    action = e.type.re_extract(r"^[^_]*_(.*)$", 1)
    e = e.filter(action.isin(ENGAGEMENTS))
    channel = ibis.coalesce(e.channel.strip().nullif(""), prefix)
    return e.select("customer_key", "occurred_at", channel=channel)


def _until(events: Table, as_of: date, timezone: str) -> Table:
    """Attributed events before day ``as_of`` ends in ``timezone``."""
    return events.filter(
        events.customer_key.notnull(), events.occurred_at < day_end(as_of, timezone)
    )


def day_end(day: date, timezone: str) -> datetime:
    """The instant ``day`` ends in ``timezone``, as events store instants: naive UTC."""
    local = datetime.combine(day + timedelta(days=1), time(), tzinfo=shop_zone(timezone))
    return local.astimezone(UTC).replace(tzinfo=None)


def customer_channels(orders: Table, events: Table, as_of: date, *, timezone: str = "UTC") -> Table:
    """Per customer with a purchase or an engagement by ``as_of``: purchases, purchase_channels
    (how many they bought in), preferred_channel and its share; engagements,
    engagement_channels, preferred_engagement and its share (empty without any)."""
    mix = channel_mix(orders, events, as_of, timezone=timezone)
    columns: dict[str, ibis.Value] = {}
    for kind, count, channels, preferred in (
        ("purchase", "purchases", "purchase_channels", "preferred_channel"),
        ("engagement", "engagements", "engagement_channels", "preferred_engagement"),
    ):
        of_kind = mix.kind == kind
        first = of_kind & (mix.rank == 0)
        columns |= {
            count: mix.uses.sum(where=of_kind).fill_null(0),
            channels: of_kind.sum(),
            preferred: mix.channel.max(where=first),
            f"{preferred}_share": mix.share.max(where=first),
        }
    return mix.group_by("customer_key").agg(**columns)


def segment_channels(channels: Table, groups: Table, by: str) -> Table:
    """Per value of ``groups[by]``, kind and channel: ``customers`` who prefer the channel and
    their ``share`` of the group's customers with a preference of that kind. ``channels`` is
    :func:`customer_channels`' table."""
    t = _members(groups, by).inner_join(channels, "customer_key")
    columns = {"purchase": "preferred_channel", "engagement": "preferred_engagement"}
    # One row per customer and kind from one pass: a union of two selects made PostgreSQL
    # compute the customers' channels twice.
    long = t.select("segment", *columns.values(), kind=ibis.array(list(columns)).unnest())
    channel = ibis.cases(*((long.kind == kind, long[c]) for kind, c in columns.items()))
    long = long.select("segment", "kind", channel=channel)
    long = long.filter(long.channel.notnull())
    cells = long.group_by(["segment", "kind", "channel"]).agg(customers=long.count())
    size = cells.customers.cast("float64")  # a sum of integers is exact NUMERIC in PostgreSQL
    share = size / size.sum().over(group_by=["segment", "kind"])
    return cells.mutate(share=share).order_by(
        ["segment", "kind", ibis.desc("customers"), "channel"]
    )


def survey_scores(events: Table, as_of: date, *, timezone: str = "UTC") -> Table:
    """Each respondent's latest valid score by ``as_of``: customer_key, answered_at, score."""
    e = _until(events, as_of, timezone)
    e = e.filter(e.type == SURVEY)
    e = e.mutate(score=_score(e))
    e = e.filter(e.score.between(0, 10))
    order = [ibis.desc(e.occurred_at), e.score]  # two answers at one instant: the lower counts
    return e.group_by("customer_key").agg(
        answered_at=e.occurred_at.max(), score=first_by(e.score, order)
    )


def _score(events: Table) -> ibis.Value:
    """The first number found under ``SCORE_KEYS`` in properties, then in attributes."""
    sources = [json_or_null(events.properties)]
    if "attributes" in events.columns:
        sources.append(json_or_null(events.attributes))  # text in a copy elsewhere
    found = [
        ibis.coalesce(source[key].float, number_or_null(source[key].str))
        for source in sources
        for key in SCORE_KEYS
    ]
    return ibis.coalesce(*found)


def segment_experience(
    orders: Table,
    events: Table,
    groups: Table,
    by: str,
    as_of: date,
    *,
    window: int = 365,
    timezone: str = "UTC",
) -> Table:
    """Per value of ``groups[by]`` (a table of customer_key and ``by``, e.g. segments):

    ``segment``, customers; respondents, promoters, passives, detractors, ``nps`` (-100..100)
    with ``nps_low`` and ``nps_high`` (empty without respondents); purchases, revenue and
    refunds in the ``window`` days to ``as_of`` and ``return_rate`` = refunds / revenue.
    """
    if window < 1:
        raise InputError(f"{option('window')} must be at least 1 day")
    since = as_of - timedelta(days=window)
    p = purchases(orders)
    p = p.filter(p.order_date > since, p.order_date <= as_of)
    r = refunds(orders, as_of)
    r = r.filter(r.order_date > since)
    scores = survey_scores(events, as_of, timezone=timezone)
    none = ibis.null("float64")
    facts = ibis.union(
        scores.select("customer_key", score=scores.score, revenue=none, refund=none),
        p.select("customer_key", score=none, revenue=p.revenue, refund=none),
        r.select("customer_key", score=none, revenue=none, refund=r.refund),
        distinct=False,
    )
    t = _members(groups, by).left_join(facts, "customer_key").drop("customer_key_right")
    agg = t.group_by("segment").agg(
        customers=t.customer_key.nunique(),
        respondents=t.score.count(),
        promoters=(t.score >= PROMOTER).sum(),
        detractors=(t.score < PASSIVE).sum(),
        purchases=t.revenue.count(),
        revenue=t.revenue.sum().fill_null(0.0),
        refunds=t.refund.sum().fill_null(0.0),
    )
    return _with_nps(agg).order_by("segment")


def _with_nps(agg: Table) -> Table:
    """Passives, NPS and its interval from the counts; the return rate from the money."""
    n = agg.respondents.nullif(0).cast("float64")
    promoters, detractors = agg.promoters.fill_null(0), agg.detractors.fill_null(0)
    p, d = promoters / n, detractors / n
    nps = 100 * (p - d)
    half = 100 * Z95 * ((p + d - (p - d) ** 2) / n).sqrt()
    return agg.select(
        "segment",
        "customers",
        "respondents",
        promoters=promoters,
        passives=agg.respondents - promoters - detractors,
        detractors=detractors,
        nps=nps,
        nps_low=(nps - half).clip(lower=-100.0),
        nps_high=(nps + half).clip(upper=100.0),
        purchases=agg.purchases,
        revenue=agg.revenue,
        refunds=agg.refunds,
        return_rate=agg.refunds / agg.revenue.nullif(0.0),
    )


def _members(groups: Table, by: str) -> Table:
    """customer_key and ``segment`` (the group, as text) of the customers with a group."""
    if by not in groups.columns or "customer_key" not in groups.columns:
        hint = did_you_mean(by, groups.columns)
        raise InputError(f"no column {by!r} beside customer_key to group by{hint}")
    labelled = groups.filter(groups[by].notnull())
    return labelled.select("customer_key", segment=labelled[by].cast("string"))
