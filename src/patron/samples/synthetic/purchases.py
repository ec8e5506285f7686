"""Purchases: the BG/NBD buying process, gamma-gamma spend, discounts, cost and returns."""

from __future__ import annotations

import numpy as np

from patron.samples.synthetic.model import Array, People, Rows, Span
from patron.samples.synthetic.params import (
    ACQUISITION_SHARES,
    CHANNELS,
    COST_SHARE,
    DAY,
    DISCOUNT_RATE,
    DISCOUNTED_ORDER_SHARE,
    FULL_RETURN_SHARE,
    MIN_ORDER_CENTS,
    ORDER_CAP,
    OWN_CHANNEL_SHARE,
    RETURN_DELAY_DAYS,
    RETURN_SHARE,
    SPEND_P,
)
from patron.samples.synthetic.people import time_of_day


def _simulate(rng: np.random.Generator, people: People, span: Span) -> tuple[Array, Array, Array]:
    """Run the BG/NBD process for everyone at once, one purchase round per loop.

    Returns the person and raw time (seconds) of every purchase, and whether each person dropped
    out before the end. The acquisition is purchase zero; dropout is drawn after each repeat
    purchase, as in BG/NBD, so ``E[repeats in t] = (1 - exp(-lambda p t)) / p``.
    """
    persons, times = [np.arange(people.lam.size)], [people.acquired]
    active, t = persons[0], people.acquired.astype(float)
    dropped = np.zeros(people.lam.size, dtype=bool)
    for _ in range(ORDER_CAP - 1):
        t = t + rng.exponential(1.0 / people.lam[active]) * DAY
        keep = t <= span.last
        active, t = active[keep], t[keep]
        if active.size == 0:
            break
        persons.append(active)
        times.append(t.astype(np.int64))
        drop = rng.random(active.size) < people.p[active]
        dropped[active[drop]] = True
        active, t = active[~drop], t[~drop]
    return np.concatenate(persons), np.concatenate(times), dropped


def draw_purchases(rng: np.random.Generator, people: People, span: Span) -> tuple[Rows, Array]:
    """Purchase orders sorted by time, with channel, amounts, and the person's dropout flag.

    Repeat purchases keep their day but get a channel-typical hour (never before the
    acquisition, never after the end), so the acquisition is always the first order.
    """
    person, raw, dropped = _simulate(rng, people, span)
    first = np.zeros(person.size, dtype=bool)
    first[: people.lam.size] = True
    switch = rng.random(person.size) >= OWN_CHANNEL_SHARE
    other = rng.choice(len(CHANNELS), size=person.size, p=ACQUISITION_SHARES)
    channel = np.where(switch & ~first, other, people.channel[person])
    hour = raw // DAY * DAY + time_of_day(rng, channel)
    hour = np.minimum(np.maximum(hour, people.acquired[person] + 60), span.last)
    time = np.where(first, raw, hour)
    order = np.lexsort((~first, person, time))
    person, time, channel, first = person[order], time[order], channel[order], first[order]
    extra = {"channel": channel, "first": first, **_amounts(rng, people, person)}
    return Rows(person, time, np.zeros(person.size, dtype=np.int64), extra), dropped


def _amounts(rng: np.random.Generator, people: People, person: Array) -> dict[str, Array]:
    """Net revenue (gamma-gamma), discount and cost of each order, in integer cents.

    The gamma-gamma draw is the *net* revenue, so a person's ``mean_spend`` in the truth is the
    expectation of what a monetary model sees; the discount is added on top to get the gross.
    """
    spend_mean = people.spend_mean[person]
    net = rng.gamma(SPEND_P, spend_mean / SPEND_P) * 100
    revenue = np.maximum(np.rint(net), MIN_ORDER_CENTS).astype(np.int64)
    share = np.where(people.driven[person], DISCOUNTED_ORDER_SHARE[1], DISCOUNTED_ORDER_SHARE[0])
    discounted = rng.random(person.size) < share
    rate = np.where(discounted, rng.uniform(*DISCOUNT_RATE, person.size), 0.0)
    gross = np.rint(revenue / (1.0 - rate)).astype(np.int64)
    cost = np.rint(gross * rng.uniform(*COST_SHARE, person.size)).astype(np.int64)
    return {"revenue": revenue, "discount": gross - revenue, "cost": cost}


def draw_returns(rng: np.random.Generator, orders: Rows, span: Span) -> Rows:
    """Return rows for a share of purchases, some days later, refunding all or part of them."""
    picked = np.flatnonzero(rng.random(orders.person.size) < RETURN_SHARE)
    channel = orders.extra["channel"][picked]
    days = rng.integers(RETURN_DELAY_DAYS[0], RETURN_DELAY_DAYS[1] + 1, picked.size)
    time = (orders.time[picked] // DAY + days) * DAY + time_of_day(rng, channel)
    full = rng.random(picked.size) < FULL_RETURN_SHARE
    fraction = np.where(full, 1.0, rng.uniform(0.3, 0.9, picked.size))
    keep = time <= span.last
    picked, time, fraction = picked[keep], time[keep], fraction[keep]
    order = np.lexsort((picked, time))
    picked, time, fraction = picked[order], time[order], fraction[order]
    extra = {
        "of": picked,
        "channel": orders.extra["channel"][picked],
        "revenue": -np.rint(orders.extra["revenue"][picked] * fraction).astype(np.int64),
        "discount": np.zeros(picked.size, dtype=np.int64),
        "cost": -np.rint(orders.extra["cost"][picked] * fraction).astype(np.int64),
        "default_email": orders.extra["default_email"][picked],
        "junk_phone": orders.extra["junk_phone"][picked],
    }
    return Rows(orders.person[picked], time, orders.mask[picked], extra)
