"""People: acquisition channel and time, BG/NBD and gamma-gamma traits, names and consents."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

from patron.samples.synthetic.model import Array, People, Span, epoch_day
from patron.samples.synthetic.params import (
    ACQUISITION_SHARES,
    AFFINITY_CONCENTRATION,
    CATEGORIES,
    CHANNEL_DROPOUT_MULTIPLIER,
    CHANNEL_RATE_MULTIPLIER,
    CHANNELS,
    DAY,
    DISCOUNT_DRIVEN_SHARE,
    DROPOUT_A,
    DROPOUT_B,
    EMAIL_CONSENT_SHARE,
    FIRST_NAMES,
    HOUR_WEIGHTS,
    LAST_NAMES,
    MAX_DROPOUT,
    MIN_RATE,
    MONTH_WEIGHTS,
    NON_LATIN_NAMES,
    NON_LATIN_SHARE,
    OPEN_LOGIT,
    OPEN_NOISE_SD,
    OPEN_RATE_SLOPE,
    PUSH_CONSENT_SHARE,
    RATE_ALPHA,
    RATE_SHAPE,
    SMS_CONSENT_SHARE,
    SPEND_GAMMA,
    SPEND_P,
    SPEND_Q,
    SPLIT_SHARE,
    YEARLY_GROWTH,
)


def draw_people(rng: np.random.Generator, n: int, span: Span) -> People:
    """Draw each person's acquisition, BG/NBD and gamma-gamma parameters and preferences.

    The channel multipliers make acquisition channels differ in quality, so CLV by acquisition
    channel has something to find; the open propensity rises with the purchase rate so email
    engagement predicts buying, as it does in real lists.
    """
    channel = rng.choice(len(CHANNELS), size=n, p=ACQUISITION_SHARES)
    acquired = _acquisition_times(rng, channel, span)
    lam = rng.gamma(RATE_SHAPE, 1.0 / RATE_ALPHA, n) * CHANNEL_RATE_MULTIPLIER[channel]
    lam = np.maximum(lam, MIN_RATE)
    p = rng.beta(DROPOUT_A, DROPOUT_B, n) * CHANNEL_DROPOUT_MULTIPLIER[channel]
    nu = rng.gamma(SPEND_Q, 1.0 / SPEND_GAMMA, n)
    demand = np.array([c[2] for c in CATEGORIES])
    concentration = AFFINITY_CONCENTRATION * len(CATEGORIES) * demand
    logit = OPEN_LOGIT + OPEN_RATE_SLOPE * np.log(lam / np.median(lam))
    logit = logit + rng.normal(0.0, OPEN_NOISE_SD, n)
    return People(
        channel=channel,
        acquired=acquired,
        lam=lam,
        p=np.minimum(p, MAX_DROPOUT),
        spend_mean=SPEND_P / nu,
        driven=rng.random(n) < DISCOUNT_DRIVEN_SHARE,
        affinity=rng.dirichlet(concentration, n),
        split=rng.random(n) < SPLIT_SHARE,
        names=_names(rng, n),
        email_consent=rng.random(n) < EMAIL_CONSENT_SHARE,
        sms_consent=rng.random(n) < SMS_CONSENT_SHARE,
        push_consent=rng.random(n) < PUSH_CONSENT_SHARE,
        open_p=1.0 / (1.0 + np.exp(-logit)),
    )


def _acquisition_times(rng: np.random.Generator, channel: Array, span: Span) -> Array:
    """Acquisition instants: a month by seasonal weight, a uniform day in it, a channel hour."""
    first, days, weight = (np.array(col) for col in zip(*_months(span), strict=True))
    month = rng.choice(first.size, size=channel.size, p=weight / weight.sum())
    day = first[month] + rng.integers(0, days[month])
    return day * DAY + time_of_day(rng, channel)


def _months(span: Span) -> list[tuple[int, int, float]]:
    """(first epoch day in the period, days in the period, acquisition weight) per month."""
    months = []
    first = date(span.start.year, span.start.month, 1)
    while first <= span.end:
        following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
        lo, hi = max(first, span.start), min(following - timedelta(days=1), span.end)
        days = (hi - lo).days + 1
        growth = YEARLY_GROWTH ** ((lo - span.start).days / 365.25)
        months.append((epoch_day(lo), days, float(MONTH_WEIGHTS[first.month - 1]) * growth * days))
        first = following
    return months


def time_of_day(rng: np.random.Generator, channel: Array) -> Array:
    """Seconds after midnight drawn from each channel's hour profile (stores keep shop hours)."""
    cumulative = np.cumsum(HOUR_WEIGHTS, axis=1)
    cumulative /= cumulative[:, -1:]
    u = rng.random(channel.size)
    hour = np.zeros(channel.size, dtype=np.int64)
    for c in range(len(CHANNELS)):
        sel = channel == c
        hour[sel] = np.searchsorted(cumulative[c], u[sel], side="right")
    return hour * 3600 + rng.integers(0, 3600, channel.size)


def _names(rng: np.random.Generator, n: int) -> Array:
    """Display name and the transliterated (first, last) used to build the email, per person."""
    first = rng.integers(0, len(FIRST_NAMES), n)
    last = rng.integers(0, len(LAST_NAMES), n)
    other = rng.integers(0, len(NON_LATIN_NAMES), n)
    latin = rng.random(n) >= NON_LATIN_SHARE
    rows = [
        (f"{FIRST_NAMES[f]} {LAST_NAMES[g]}", FIRST_NAMES[f], LAST_NAMES[g])
        if is_latin
        else NON_LATIN_NAMES[o]
        for f, g, o, is_latin in zip(
            first.tolist(), last.tolist(), other.tolist(), latin.tolist(), strict=True
        )
    ]
    names = np.empty((n, 3), dtype=object)
    names[:] = rows
    return names
