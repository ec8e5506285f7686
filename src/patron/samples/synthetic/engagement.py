"""Marketing events: email and SMS campaigns, logged-in web visits and NPS survey answers."""

from __future__ import annotations

import numpy as np

from patron.samples.synthetic.model import Array, Ids, People, Rows, Span
from patron.samples.synthetic.params import (
    BOUNCE,
    BOUNCING_SHARE,
    BROWSE_VISITS,
    CLICK,
    CLICK_GIVEN_OPEN,
    DAY,
    EMAIL_CAMPAIGNS,
    EVENT_MASK,
    NPS_WEIGHTS,
    OPEN,
    SENT,
    SMS_CAMPAIGNS,
    SMS_CLICK,
    SMS_CLICKED,
    SMS_SENT,
    SURVEY,
    SURVEY_SHARE,
    UNSUB,
    UNSUBSCRIBE_PER_SEND,
    VISIT,
    VISITS_PER_WEB_ORDER,
    WEB,
)


def draw_events(
    rng: np.random.Generator, people: People, ids: Ids, orders: Rows, span: Span
) -> tuple[Rows, Array]:
    """All marketing events sorted by time, and who unsubscribed from email."""
    pieces, unsubscribed = _email_events(rng, people, ids, span)
    pieces += _sms_events(rng, people, ids, span)
    pieces += _web_visits(rng, people, orders, span)
    pieces += _surveys(rng, people, ids, orders, span)
    person, time, kind, campaign, prop = (np.concatenate(col) for col in zip(*pieces, strict=True))
    keep = (time >= span.first) & (time <= span.last)
    order = np.lexsort((kind[keep], person[keep], time[keep]))
    person, time, kind = person[keep][order], time[keep][order], kind[keep][order]
    extra = {"kind": kind, "campaign": campaign[keep][order], "prop": prop[keep][order]}
    return Rows(person, time, EVENT_MASK[kind], extra), unsubscribed


def _piece(
    person: Array, time: Array, kind: int, campaign: int, prop: Array | None = None
) -> tuple:
    """Event columns for one batch: person, time, type, campaign index (-1 none), property."""
    size = person.size
    props = np.full(size, -1) if prop is None else prop
    return person, time.astype(np.int64), np.full(size, kind), np.full(size, campaign), props


def _send_times(span: Span, count: int, hour: int) -> list[int]:
    """Evenly spread send instants (at ``hour`` local) for ``count`` campaigns."""
    days = (span.last - span.first) // DAY + 1
    return [span.first + int((i + 0.5) * days / count) * DAY + hour * 3600 for i in range(count)]


def _email_events(
    rng: np.random.Generator, people: People, ids: Ids, span: Span
) -> tuple[list[tuple], Array]:
    """Email campaigns to consenting people acquired before the send.

    Bouncing addresses are suppressed after their first bounce and unsubscribers after they
    unsubscribe; opens follow each person's open propensity, clicks a share of opens.
    """
    n = people.lam.size
    active = (ids.email != "") & people.email_consent
    bouncing = rng.random(n) < BOUNCING_SHARE
    unsubscribed = np.zeros(n, dtype=bool)
    pieces: list[tuple] = []
    for i, sent in enumerate(_send_times(span, EMAIL_CAMPAIGNS, 10)):
        who = np.flatnonzero(active & (people.acquired < sent))
        pieces.append(_piece(who, np.full(who.size, sent), SENT, i))
        bounced, ok = who[bouncing[who]], who[~bouncing[who]]
        pieces.append(_piece(bounced, np.full(bounced.size, sent + 90), BOUNCE, i))
        opened = ok[rng.random(ok.size) < people.open_p[ok]]
        t_open = sent + rng.exponential(8 * 3600, opened.size)
        pieces.append(_piece(opened, t_open, OPEN, i))
        clicked = rng.random(opened.size) < CLICK_GIVEN_OPEN
        t_click = t_open[clicked] + rng.exponential(300, clicked.sum())
        pieces.append(_piece(opened[clicked], t_click, CLICK, i))
        quit_ = ok[rng.random(ok.size) < UNSUBSCRIBE_PER_SEND]
        pieces.append(_piece(quit_, sent + rng.exponential(DAY, quit_.size), UNSUB, i))
        unsubscribed[quit_] = True
        active[bounced] = active[quit_] = False
    return pieces, unsubscribed


def _sms_events(rng: np.random.Generator, people: People, ids: Ids, span: Span) -> list[tuple]:
    """SMS campaigns to consenting people with a phone, with a few clicks."""
    pieces: list[tuple] = []
    eligible = (ids.phone > 0) & people.sms_consent
    for i, sent in enumerate(_send_times(span, SMS_CAMPAIGNS, 12)):
        who = np.flatnonzero(eligible & (people.acquired < sent))
        pieces.append(_piece(who, np.full(who.size, sent), SMS_SENT, EMAIL_CAMPAIGNS + i))
        clicked = who[rng.random(who.size) < SMS_CLICK]
        t_click = sent + rng.exponential(1800, clicked.size)
        pieces.append(_piece(clicked, t_click, SMS_CLICKED, EMAIL_CAMPAIGNS + i))
    return pieces


def _web_visits(rng: np.random.Generator, people: People, orders: Rows, span: Span) -> list[tuple]:
    """Logged-in web visits: browsing before each web order, plus visits that buy nothing.

    A visit that would fall before the person's first purchase is mirrored to after it (checking
    the order), so no visit precedes the customer's first appearance.
    """
    web = orders.extra["channel"] == WEB
    count = rng.poisson(VISITS_PER_WEB_ORDER, int(web.sum()))
    person = np.repeat(orders.person[web], count)
    time = np.repeat(orders.time[web], count) - rng.exponential(DAY, person.size)
    since = people.acquired[person]
    time = np.where(time < since, 2 * since - time, time)
    users = np.unique(orders.person[web])
    browse = np.repeat(users, rng.poisson(BROWSE_VISITS, users.size))
    start = people.acquired[browse]
    browse_time = start + rng.random(browse.size) * (span.last - start)
    person, time = np.concatenate([person, browse]), np.concatenate([time, browse_time])
    pages = 1 + rng.poisson(3, person.size)
    return [_piece(person, time, VISIT, -1, pages)]


def _surveys(
    rng: np.random.Generator, people: People, ids: Ids, orders: Rows, span: Span
) -> list[tuple]:
    """NPS answers to the "did you like your order?" survey after a share of first orders."""
    first = orders.extra["first"]
    who = orders.person[first]
    answered = (ids.email[who] != "") & people.email_consent[who]
    answered &= rng.random(who.size) < SURVEY_SHARE
    time = orders.time[first][answered] + rng.uniform(2, 7, answered.sum()) * DAY
    nps = rng.choice(NPS_WEIGHTS.size, size=int(answered.sum()), p=NPS_WEIGHTS / NPS_WEIGHTS.sum())
    return [_piece(who[answered], time, SURVEY, EMAIL_CAMPAIGNS + SMS_CAMPAIGNS, nps)]
