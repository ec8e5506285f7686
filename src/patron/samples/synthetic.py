"""A synthetic multichannel retailer, written as CSV files in the canonical shapes.

Why: identity resolution, KPIs, CLV models, insights and experiments all need data whose
generating process is known, so a test can check that a method recovers what was put in. The
generator simulates *people* (the real humans) and writes only what a retailer's systems would
hold: orders from the web shop, the stores (POS), the app and a marketplace, each carrying the
identifiers that channel captures; order lines; the product catalog; CRM profile records; and
marketing events. ``truth.csv`` keeps what really happened, one row per person.

Purchases follow the BG/NBD story (Fader, Hardie & Lee 2005, "Counting your customers the easy
way"): while alive, a person buys at Poisson rate ``lambda ~ Gamma(r, alpha)`` per day; after
each *repeat* purchase they drop out with probability ``p ~ Beta(a, b)``; the first purchase is
the acquisition. Spend per order follows the gamma-gamma model (Fader, Hardie & Lee 2005, "RFM
and CLV: using iso-value curves"): ``z ~ Gamma(p, nu)``, ``nu ~ Gamma(q, gamma)``, so a person's
mean order value is ``p / nu``.

Everything is vectorized numpy over people, orders, lines and events; the only loops run over
purchase rounds, months, campaigns and categories. Randomness comes from one
``numpy.random.default_rng(seed)`` and nothing reads the wall clock, so the same arguments give
byte-identical files. Timestamps are the shop's local time (US Eastern, the demo workspace's
timezone) without offset, except a share of web orders written in UTC with ``+00:00``.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from patron.errors import InputError

Array = NDArray[Any]

DAY = 86_400
"""Seconds per day; times are int64 seconds since 1970-01-01 00:00 in the shop's local time."""

# --- acquisition --------------------------------------------------------------------------------
CHANNELS: tuple[str, ...] = ("web", "store", "app", "marketplace")
"""Sales channels; every channel-indexed array below follows this order."""
WEB, STORE, APP, MARKETPLACE = range(4)
ACQUISITION_SHARES = np.array([0.42, 0.30, 0.16, 0.12])
"""Share of people acquired through each channel."""
CHANNEL_RATE_MULTIPLIER = np.array([1.0, 1.1, 1.3, 0.6])
"""Purchase-rate multiplier by acquisition channel: app members buy more, marketplace less."""
CHANNEL_DROPOUT_MULTIPLIER = np.array([1.0, 0.9, 0.8, 1.5])
"""Dropout-probability multiplier by acquisition channel: marketplace buyers repeat less."""
OWN_CHANNEL_SHARE = 0.8
"""Probability that a repeat order uses the acquisition channel (else a channel by share)."""
MONTH_WEIGHTS = np.array([0.8, 0.7, 0.85, 0.9, 0.95, 0.9, 0.9, 0.95, 0.95, 1.0, 1.7, 2.3])
"""Daily acquisition intensity by month (Jan..Dec): the Nov-Dec bump makes big holiday cohorts."""
YEARLY_GROWTH = 1.15
"""Acquisition volume grows by this factor per year, so cohorts differ in size."""
HOUR_WEIGHTS = np.array(
    [
        [0, 0, 0, 0, 0, 0, 1, 2, 3, 3, 3, 3, 4, 4, 3, 3, 3, 4, 5, 6, 7, 7, 5, 3],
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 4, 5, 6, 6, 5, 5, 5, 6, 6, 4, 2, 0, 0, 0],
        [0, 0, 0, 0, 0, 0, 1, 3, 4, 3, 2, 2, 3, 3, 2, 2, 3, 4, 5, 6, 7, 7, 5, 3],
        [0, 0, 0, 0, 0, 0, 1, 2, 3, 3, 3, 3, 4, 4, 3, 3, 3, 4, 5, 6, 6, 6, 4, 2],
    ],
    dtype=float,
)
"""Hour-of-day profile per channel. Nothing happens 00:00-05:59, so no local time is ever
ambiguous or skipped at a daylight-saving change."""

# --- purchases (BG/NBD) and spend (gamma-gamma) -------------------------------------------------
RATE_SHAPE = 0.25
"""BG/NBD ``r``: shape of the gamma over purchase rates (small = very heterogeneous)."""
RATE_ALPHA = 40.0
"""BG/NBD ``alpha`` in days: mean rate ``r / alpha`` = 1/160 per day, about 2.3 a year."""
DROPOUT_A = 0.8
"""BG/NBD ``a`` of the beta over dropout probabilities."""
DROPOUT_B = 2.5
"""BG/NBD ``b``: mean dropout probability ``a / (a + b)`` = 0.24 per repeat purchase."""
MAX_DROPOUT = 0.95
"""Upper clip of a person's dropout probability after the channel multiplier."""
MIN_RATE = 1e-6
"""Lower clip of a purchase rate per day (a gamma draw can underflow to zero)."""
ORDER_CAP = 120
"""At most this many purchases per person (a handful of heavy buyers reach it)."""
SPEND_P = 6.0
"""Gamma-gamma ``p``: shape of order values around a person's mean (CV 1/sqrt(6))."""
SPEND_Q = 4.0
"""Gamma-gamma ``q``: shape of the gamma over the person-level scale ``nu``."""
SPEND_GAMMA = 30.0
"""Gamma-gamma ``gamma`` in dollars: population mean order ``p gamma / (q - 1)`` = $60."""
MIN_ORDER_CENTS = 199
"""Smallest net order value."""

# --- discounts, cost and returns ----------------------------------------------------------------
DISCOUNT_DRIVEN_SHARE = 0.2
"""Share of people who buy mostly on discount."""
DISCOUNTED_ORDER_SHARE = (0.08, 0.7)
"""Probability an order is discounted, for other people and for discount-driven people."""
DISCOUNT_RATE = (0.10, 0.35)
"""Range of a discount as a share of the gross order value."""
COST_SHARE = (0.55, 0.65)
"""Range of the cost of goods as a share of the gross order value."""
RETURN_SHARE = 0.04
"""Share of purchases that get a return row."""
RETURN_DELAY_DAYS = (2, 30)
"""Range of days between a purchase and its return."""
FULL_RETURN_SHARE = 0.75
"""Share of returns that refund the whole order (others refund 30-90% of it)."""

# --- identity -------------------------------------------------------------------------------------
CID, EMAIL, PHONE, LOYALTY = 1, 2, 4, 8
"""Bits of an identifier mask: which of a person's identifiers a record shows."""
EMAIL_SHARE = 0.92
"""Share of people with an email (marketplace buyers always have one)."""
PHONE_SHARE = 0.55
"""Share of people with a phone besides store buyers (who always give one at the till)."""
SPLIT_SHARE = 0.12
"""Share of people who never give a second channel's identifier together with the first one."""
STORE_EMAIL_SHARE = 0.35
"""Probability that a store order also records the email (people not split)."""
APP_EMAIL_SHARE = 0.5
"""Probability that an app order also records the email (people not split)."""
STORE_DEFAULT_EMAIL = "noreply@store.example"
"""The till's default email, typed when a shopper gives none: shared, never a link."""
STORE_DEFAULT_SHARE = 0.01
"""Share of store orders whose email is the store default."""
JUNK_PHONE = "0000000000"
"""A placeholder phone typed at the till: shared, never a link."""
JUNK_PHONE_SHARE = 0.003
"""Share of store orders (of people with an email) whose phone is the placeholder."""
MESSY_EMAIL_SHARE = 0.12
"""Share of written emails in a messy but normalizable form (upper case, spaces)."""
PHONE_STYLES = ("+1{a}{e}{s:04d}", "({a}) {e}-{s:04d}", "{a}-{e}-{s:04d}", "+1 {a} {e} {s:04d}")
"""Ways a US phone is written; all normalize to the same E.164 number."""
PHONE_STYLE_WEIGHTS = np.array([0.35, 0.3, 0.2, 0.15])
AREA_CODES = np.array([212, 312, 415, 617, 646, 718, 773, 917])
"""Area codes of the generated (valid, non-fictional) US numbers."""
EXCHANGES = np.array([e for e in range(200, 1000) if e % 100 != 11 and e != 555])
"""Exchanges: no N11 service codes and no 555 (its 01xx block is fictional)."""
UTC_WEB_SHARE = 0.25
"""Share of web orders whose timestamp is written in UTC with an explicit offset."""

# --- CRM records --------------------------------------------------------------------------------
RECORD_SHARE = np.array([0.96, 0.75, 0.98, 0.2])
"""Probability of a CRM profile by acquisition channel (marketplace buyers rarely have one)."""
RECORD_EMAIL_SHARE = np.array([1.0, 0.6, 0.8, 1.0])
"""Probability the profile records the email (if any), by signup channel."""
RECORD_PHONE_SHARE = 0.4
"""Probability a web/app profile records the phone (if any; store profiles always do)."""
RECORD_LOYALTY_SHARE = 0.5
"""Probability a web profile records the loyalty_id of an app user."""
SECOND_RECORD_SHARE = 0.08
"""Share of people with a profile and a phone who get a second, phone-only store profile."""
BIRTHDAY_SHARE = 0.85
"""Share of profiles with a birthday."""
NON_LATIN_SHARE = 0.05
"""Share of people with a Persian or Arabic name written in its own script."""
EMAIL_CONSENT_SHARE, SMS_CONSENT_SHARE, PUSH_CONSENT_SHARE = 0.8, 0.45, 0.6
"""Consent rates for email, SMS and (app users) push."""

# --- catalog ------------------------------------------------------------------------------------
CATEGORIES: tuple[tuple[str, str, float, float, tuple[str, ...], tuple[str, ...]], ...] = (
    ("Apparel", "APP", 0.22, 35, ("Northwind", "Aster & Co", "Lumen", "Fieldnote", "Harbor"),
     ("T-Shirt", "Jacket", "Sweater", "Jeans", "Dress")),
    ("Shoes", "SHO", 0.12, 70, ("Strider", "Pace", "Cobble", "Summit", "Verge"),
     ("Sneaker", "Boot", "Loafer", "Sandal", "Runner")),
    ("Beauty", "BEA", 0.13, 22, ("Glow", "Petal", "Aura", "Mira", "Sable"),
     ("Serum", "Lipstick", "Cream", "Shampoo", "Palette")),
    ("Home", "HOM", 0.12, 40, ("Hearth", "Linden", "Oakroom", "Nest", "Kiln"),
     ("Candle", "Throw", "Mug Set", "Lamp", "Vase")),
    ("Electronics", "ELE", 0.10, 120, ("Voltix", "Arcwave", "Pixelon", "Sonique", "Kern"),
     ("Headphones", "Speaker", "Charger", "Smartwatch", "Tablet Case")),
    ("Books", "BOO", 0.09, 16, ("Inkwell", "Paperleaf", "Quarto", "Meridian", "Folio"),
     ("Novel", "Cookbook", "Atlas", "Journal", "Biography")),
    ("Toys", "TOY", 0.08, 25, ("Brickly", "Puzzlo", "Wonder", "Tumble", "Kite"),
     ("Puzzle", "Robot", "Plush", "Board Game", "Kit")),
    ("Grocery", "GRO", 0.14, 9, ("Harvest", "Pantry", "Orchard", "Mill", "Grove"),
     ("Coffee", "Tea", "Olive Oil", "Granola", "Chocolate")),
)  # fmt: skip
"""(name, sku prefix, share of demand, median price in dollars, brands, product nouns)."""
ADJECTIVES = ("Classic", "Essential", "Everyday", "Premium", "Organic", "Urban", "Vintage",
              "Compact", "Deluxe", "Travel", "Studio", "Signature")  # fmt: skip
PRODUCTS_PER_CATEGORY = (28, 46)
"""Range of products per category (8 categories: about 300 products)."""
BRANDS_PER_CATEGORY = (3, 6)
"""Range (end exclusive) of brands per category."""
PRE_LAUNCHED_SHARE = 0.7
"""Share of products launched before the period; the rest are new arrivals during it."""
IN_STOCK_SHARE = 0.9
AFFINITY_CONCENTRATION = 0.3
"""Dirichlet concentration per category (times 8 x demand share): small = focused shoppers."""
LINE_VALUE_CENTS = 6000
"""One extra line per this much gross order value, on average (1-4 lines per order)."""
MAX_LINES, MAX_QUANTITY = 4, 9

# --- events -------------------------------------------------------------------------------------
EMAIL_CAMPAIGNS, SMS_CAMPAIGNS = 12, 6
"""Campaigns sent, evenly spread over the period."""
OPEN_LOGIT = -1.3
"""Log-odds of opening an email for a person with the median purchase rate."""
OPEN_RATE_SLOPE = 0.25
"""Change in open log-odds per unit of log purchase rate: opens track purchase propensity."""
OPEN_NOISE_SD = 0.8
"""Person-level noise on the open log-odds."""
CLICK_GIVEN_OPEN, UNSUBSCRIBE_PER_SEND, BOUNCING_SHARE, SMS_CLICK = 0.2, 0.006, 0.02, 0.08
"""Click rate of opens, unsubscribe rate per send, people whose email bounces, SMS clicks."""
VISITS_PER_WEB_ORDER, BROWSE_VISITS = 2.0, 2.0
"""Mean web visits before each web order, and mean extra visits per web user."""
SURVEY_SHARE = 0.2
"""Share of first orders (of people with email consent) answered with an NPS survey."""
NPS_WEIGHTS = np.array([1, 1, 1, 2, 2, 4, 6, 10, 16, 20, 17], dtype=float)
EVENT_TYPES = ("email_sent", "email_open", "email_click", "email_unsubscribe", "email_bounce",
               "sms_sent", "sms_click", "web_visit", "survey_response")  # fmt: skip
SENT, OPEN, CLICK, UNSUB, BOUNCE, SMS_SENT, SMS_CLICKED, VISIT, SURVEY = range(9)
EVENT_CHANNEL = np.array(["email"] * 5 + ["sms"] * 2 + ["web", "email"], dtype=object)
EVENT_MASK = np.array([EMAIL] * 5 + [PHONE] * 2 + [CID, EMAIL])
"""Which identifier each event type carries."""

# --- names --------------------------------------------------------------------------------------
FIRST_NAMES = ("James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda",
               "David", "Elizabeth", "William", "Susan", "Carlos", "Maria", "Daniel", "Sofia",
               "Wei", "Mei", "Kevin", "Laura", "Olivia", "Noah", "Emma", "Liam", "Ava", "Lucas",
               "Chloe", "Ethan", "Grace", "Jamal", "Aisha", "Diego", "Nora", "Hannah")  # fmt: skip
LAST_NAMES = ("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
              "Rodriguez", "Martinez", "Lee", "Walker", "Nguyen", "Chen", "Patel", "Kim",
              "O'Brien", "Clark", "Lewis", "Young", "King", "Wright", "Lopez", "Hill")  # fmt: skip
NON_LATIN_NAMES = (("سارا رضایی", "sara", "rezaei"), ("محمد", "mohammad", ""),
                   ("علی حسینی", "ali", "hosseini"), ("فاطمه احمدی", "fatemeh", "ahmadi"),
                   ("مریم کریمی", "maryam", "karimi"), ("أحمد منصور", "ahmad", "mansour"),
                   ("ليلى حداد", "layla", "haddad"), ("يوسف", "yousef", ""))  # fmt: skip
"""(name in its script, transliterated first name, transliterated last name)."""
EMAIL_DOMAINS = ("example.com", "example.net", "example.org", "mail.example.com")

# --- files --------------------------------------------------------------------------------------
HEADERS: dict[str, tuple[str, ...]] = {
    "orders": ("order_id", "customer_id", "email", "phone", "loyalty_id", "ordered_at",
               "channel", "revenue", "discount", "cost", "currency", "status", "return_of"),
    "order_lines": ("order_id", "line_id", "sku", "quantity", "unit_price", "discount",
                    "category", "brand"),
    "products": ("sku", "name", "category", "brand", "price", "launched_at", "in_stock"),
    "customers": ("customer_id", "email", "phone", "loyalty_id", "name", "birthday",
                  "signup_channel", "signed_up_at", "country", "email_consent", "sms_consent",
                  "push_consent"),
    "events": ("event_id", "customer_id", "email", "phone", "loyalty_id", "occurred_at", "type",
               "campaign_id", "channel", "properties"),
    "truth": ("person_id", "customer_id", "email", "phone", "loyalty_id", "acquisition_channel",
              "acquired_at", "lambda", "p_dropout", "dropped_at", "mean_spend",
              "discount_driven", "top_category", "linked", "n_orders"),
}  # fmt: skip
"""Exact header of each file, in column order."""


@dataclass
class _Span:
    """The simulated period in local seconds: ``first`` is start 00:00, ``last`` end 23:59:59."""

    start: date
    end: date
    first: int
    last: int


@dataclass
class _People:
    """Per-person latent traits (index = person)."""

    channel: Array
    acquired: Array
    lam: Array
    p: Array
    spend_mean: Array
    driven: Array
    affinity: Array
    split: Array
    names: Array
    email_consent: Array
    sms_consent: Array
    push_consent: Array
    open_p: Array


@dataclass
class _Ids:
    """Each person's clean identifiers ("" or 0 when they have none)."""

    cid: Array
    email: Array
    phone: Array
    loyalty: Array


@dataclass
class _Rows:
    """Rows of a file that carry identifiers: who, when, which identifiers, and the rest."""

    person: Array
    time: Array
    mask: Array
    extra: dict[str, Array]


@dataclass
class _Catalog:
    """Products, plus per-category member lists and popularity for drawing lines."""

    sku: list[str]
    name: list[str]
    category: Array
    brand: Array
    price: Array
    launched: Array
    in_stock: Array
    members: list[Array]
    popularity: list[Array]


def generate(
    out: Path,
    *,
    customers: int = 50_000,
    seed: int = 0,
    start: date = date(2022, 1, 1),
    end: date = date(2024, 12, 31),
) -> dict[str, Path]:
    """Write a synthetic retailer's CSV files into ``out`` and return their paths.

    Parameters
    ----------
    out:
        Folder to write into (created if missing); existing files of the same names are replaced.
    customers:
        Number of people (real humans) to simulate; the files show only their identifiers.
    seed:
        Seed of the one random generator: the same arguments give byte-identical files.
    start, end:
        First and last day of the period (acquisitions, orders, returns and events all fall in it).

    Returns
    -------
    dict[str, Path]
        Paths of ``orders``, ``order_lines``, ``products``, ``customers``, ``events`` and ``truth``.

    Notes
    -----
    In ``truth.csv``, ``lambda`` is purchases per day while alive, ``p_dropout`` the chance of
    dropping out after each repeat purchase, ``mean_spend`` the expected net revenue per order,
    ``dropped_at`` the purchase after which the person dropped out (empty if alive at the end),
    and ``linked`` whether the records' identifiers connect all of the person's identifiers
    (identity resolution should then unite them; otherwise it cannot). Identifiers are listed,
    normalized, only if they appear in some file.
    """
    if customers < 1:
        raise InputError(f"customers must be at least 1, got {customers}; pass a positive count")
    if end <= start:
        raise InputError(f"end ({end}) must be after start ({start}); pass a later end date")
    rng = np.random.default_rng(seed)
    span = _Span(start, end, _epoch_day(start) * DAY, (_epoch_day(end) + 1) * DAY - 1)
    catalog = _catalog(rng, span)
    people = _people(rng, customers, span)
    orders, dropped = _purchases(rng, people, span)
    ids = _identities(rng, people, orders)
    returns = _returns(rng, orders, span)
    records = _records(rng, people, ids, span)
    _consent_on_file(people, records)
    events, unsubscribed = _events(rng, people, ids, orders, span)
    parts = [(r.person, r.mask) for r in (orders, records, events)]
    appear, linked = _linked(customers, parts)
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / f"{name}.csv" for name in HEADERS}
    _write_orders(paths["orders"], rng, orders, returns, ids)
    _write_lines(paths["order_lines"], rng, orders, people, catalog)
    _write_products(paths["products"], catalog)
    _write_records(paths["customers"], rng, records, ids, people, unsubscribed)
    _write_events(paths["events"], rng, events, ids)
    _write_truth(paths["truth"], people, ids, orders, dropped, (appear, linked))
    return paths


# --- people -------------------------------------------------------------------------------------
def _people(rng: np.random.Generator, n: int, span: _Span) -> _People:
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
    return _People(
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


def _acquisition_times(rng: np.random.Generator, channel: Array, span: _Span) -> Array:
    """Acquisition instants: a month by seasonal weight, a uniform day in it, a channel hour."""
    first, days, weight = (np.array(col) for col in zip(*_months(span), strict=True))
    month = rng.choice(first.size, size=channel.size, p=weight / weight.sum())
    day = first[month] + rng.integers(0, days[month])
    return day * DAY + _time_of_day(rng, channel)


def _months(span: _Span) -> list[tuple[int, int, float]]:
    """(first epoch day in the period, days in the period, acquisition weight) per month."""
    months = []
    first = date(span.start.year, span.start.month, 1)
    while first <= span.end:
        following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
        lo, hi = max(first, span.start), min(following - timedelta(days=1), span.end)
        days = (hi - lo).days + 1
        growth = YEARLY_GROWTH ** ((lo - span.start).days / 365.25)
        months.append((_epoch_day(lo), days, float(MONTH_WEIGHTS[first.month - 1]) * growth * days))
        first = following
    return months


def _time_of_day(rng: np.random.Generator, channel: Array) -> Array:
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


# --- purchases ----------------------------------------------------------------------------------
def _simulate(rng: np.random.Generator, people: _People, span: _Span) -> tuple[Array, Array, Array]:
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


def _purchases(rng: np.random.Generator, people: _People, span: _Span) -> tuple[_Rows, Array]:
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
    hour = raw // DAY * DAY + _time_of_day(rng, channel)
    hour = np.minimum(np.maximum(hour, people.acquired[person] + 60), span.last)
    time = np.where(first, raw, hour)
    order = np.lexsort((~first, person, time))
    person, time, channel, first = person[order], time[order], channel[order], first[order]
    extra = {"channel": channel, "first": first, **_amounts(rng, people, person)}
    return _Rows(person, time, np.zeros(person.size, dtype=np.int64), extra), dropped


def _amounts(rng: np.random.Generator, people: _People, person: Array) -> dict[str, Array]:
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


def _returns(rng: np.random.Generator, orders: _Rows, span: _Span) -> _Rows:
    """Return rows for a share of purchases, some days later, refunding all or part of them."""
    picked = np.flatnonzero(rng.random(orders.person.size) < RETURN_SHARE)
    channel = orders.extra["channel"][picked]
    days = rng.integers(RETURN_DELAY_DAYS[0], RETURN_DELAY_DAYS[1] + 1, picked.size)
    time = (orders.time[picked] // DAY + days) * DAY + _time_of_day(rng, channel)
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
    return _Rows(orders.person[picked], time, orders.mask[picked], extra)


# --- identity -----------------------------------------------------------------------------------
def _identities(rng: np.random.Generator, people: _People, orders: _Rows) -> _Ids:
    """Give each person the identifiers their channels need, then mark what each order shows.

    Web buyers get a web customer_id, app buyers a loyalty_id, store buyers a phone, marketplace
    buyers an email; others get an email or phone by the base shares. All values are unique per
    person, so only the deliberate shared values (store default email, placeholder phone) repeat.
    """
    n = people.lam.size
    uses = np.zeros((n, len(CHANNELS)), dtype=bool)
    uses[orders.person, orders.extra["channel"]] = True
    has_phone = uses[:, STORE] | (rng.random(n) < PHONE_SHARE)
    has_email = uses[:, MARKETPLACE] | (rng.random(n) < EMAIL_SHARE)
    cid = _labels("W", _unique_ints(rng, n, 10**6), uses[:, WEB])
    loyalty = _labels("L", _unique_ints(rng, n, 10**8), uses[:, APP])
    ids = _Ids(cid, _emails(rng, people.names, has_email), _phones(rng, has_phone), loyalty)
    _order_masks(rng, orders, people, ids)
    return ids


def _unique_ints(rng: np.random.Generator, n: int, low: int) -> Array:
    """``n`` distinct integers with the same number of digits as ``low`` (or more if needed)."""
    high = max(9 * low, 10 * n)
    return low + rng.choice(high, size=n, replace=False)


def _labels(prefix: str, numbers: Array, has: Array) -> Array:
    """``prefix + number`` for people who have the identifier, "" for others."""
    out = np.full(numbers.size, "", dtype=object)
    out[has] = [f"{prefix}{k}" for k in numbers[has].tolist()]
    return out


def _emails(rng: np.random.Generator, names: Array, has: Array) -> Array:
    """Clean lower-case emails from transliterated names and a per-person unique number.

    Every local part ends in the person's unique number after a non-digit, so no two people can
    share an email whatever the name or pattern.
    """
    n = int(names.shape[0])
    number = _unique_ints(rng, n, 10)
    pattern = rng.integers(0, 3, size=n)
    domain = rng.integers(0, len(EMAIL_DOMAINS), size=n)
    out = np.full(n, "", dtype=object)
    rows = zip(
        names[has].tolist(),
        number[has].tolist(),
        pattern[has].tolist(),
        domain[has].tolist(),
        strict=True,
    )
    out[has] = [_email(first, last, k, style, d) for (_, first, last), k, style, d in rows]
    return out


def _email(first: str, last: str, number: int, style: int, domain: int) -> str:
    """One email address; the patterns differ only in how the name is written."""
    first, last = first.lower(), last.lower().replace("'", "")
    local = (f"{first}.{last}", f"{first[0]}{last}", f"{first}_")[style] if last else first + "."
    return f"{local}{number}@{EMAIL_DOMAINS[domain]}"


def _phones(rng: np.random.Generator, has: Array) -> Array:
    """Distinct valid US numbers as 10-digit integers (0 for people without a phone)."""
    block = EXCHANGES.size * 10_000
    index = rng.choice(AREA_CODES.size * block, size=has.size, replace=False)
    area, rest = AREA_CODES[index // block], index % block
    digits = area * 10**7 + EXCHANGES[rest // 10_000] * 10**4 + rest % 10_000
    return np.where(has, digits, 0)


def _order_masks(rng: np.random.Generator, orders: _Rows, people: _People, ids: _Ids) -> None:
    """Set which identifiers each order shows, by channel, and the shared junk values.

    Web: customer_id + email; store: phone, sometimes email; app: loyalty_id, sometimes email;
    marketplace: email only. Split people never give the email in store or app, so their
    channels' identifiers never meet. Placeholder-phone rows keep the real email; store-default
    email rows keep the real phone, so every order can still be attributed.
    """
    ch, who = orders.extra["channel"], orders.person
    has_email = ids.email[who] != ""
    linkable = has_email & ~people.split[who]
    u, v = rng.random(who.size), rng.random(who.size)
    email = ((ch == WEB) | (ch == MARKETPLACE)) & has_email
    email |= (ch == STORE) & linkable & (u < STORE_EMAIL_SHARE)
    email |= (ch == APP) & linkable & (u < APP_EMAIL_SHARE)
    junk = (ch == STORE) & linkable & (v < JUNK_PHONE_SHARE)
    default = (ch == STORE) & ~junk & (v >= 1.0 - STORE_DEFAULT_SHARE)
    email = (email | junk) & ~default
    orders.mask = (
        np.where(ch == WEB, CID, 0)
        | np.where(email, EMAIL, 0)
        | np.where((ch == STORE) & ~junk, PHONE, 0)
        | np.where(ch == APP, LOYALTY, 0)
    )
    orders.extra["junk_phone"], orders.extra["default_email"] = junk, default


def _linked(n: int, parts: Sequence[tuple[Array, Array]]) -> tuple[Array, Array]:
    """Per person: the identifiers that appear anywhere, and whether records connect them all.

    Each record links the real identifiers it shows; a person is linked when those links make
    one connected graph. Persons are grouped by the set of masks they show (at most 2^15
    distinct sets, a few hundred in practice), and each distinct set is solved once.
    """
    seen = np.zeros(n, dtype=np.int64)
    for person, mask in parts:
        np.bitwise_or.at(seen, person[mask > 0], np.left_shift(1, mask[mask > 0]))
    unique, inverse = np.unique(seen, return_inverse=True)
    solved = np.array([_components(int(s)) for s in unique.tolist()], dtype=np.int64)
    return solved[inverse, 0], solved[inverse, 1].astype(bool)


def _components(seen: int) -> tuple[int, int]:
    """(union of the masks in bitset ``seen``, 1 if they form one connected component)."""
    groups: list[int] = []
    for mask in (m for m in range(1, 16) if seen >> m & 1):
        merged = mask
        for g in groups:
            merged |= g if g & mask else 0
        groups = [g for g in groups if not g & mask] + [merged]
    appear = 0
    for g in groups:
        appear |= g
    return appear, int(len(groups) <= 1)


# --- CRM records and events ---------------------------------------------------------------------
def _records(rng: np.random.Generator, people: _People, ids: _Ids, span: _Span) -> _Rows:
    """CRM profiles: most people one from their signup channel, some a second phone-only one.

    The profile shows the signup channel's identifier and, unless the person is split, often
    the email and phone too, which is what links channels in real CRMs.
    """
    n, ch = people.lam.size, people.channel
    own = np.array([CID, PHONE, LOYALTY, EMAIL])[ch] | np.where(ch == WEB, EMAIL, 0)
    u = rng.random((3, n))
    email = ~people.split & (u[0] < RECORD_EMAIL_SHARE[ch])
    phone = ~people.split & (u[1] < RECORD_PHONE_SHARE)
    loyalty = ~people.split & (u[2] < RECORD_LOYALTY_SHARE) & (ch == WEB)
    mask = own | np.where(email, EMAIL, 0) | np.where(phone, PHONE, 0)
    mask |= np.where(loyalty, LOYALTY, 0)
    mask &= _held(ids)
    primary = np.flatnonzero(rng.random(n) < RECORD_SHARE[ch])
    eligible = (ids.phone[primary] > 0) & (ch[primary] != STORE)
    second = primary[eligible & (rng.random(primary.size) < SECOND_RECORD_SHARE)]
    later = rng.random(second.size) * (span.last - people.acquired[second])
    person = np.concatenate([primary, second])
    time = np.concatenate([people.acquired[primary], people.acquired[second] + later.astype(int)])
    masks = np.concatenate([mask[primary], np.full(second.size, PHONE)])
    channel = np.concatenate([ch[primary], np.full(second.size, STORE)])
    order = np.lexsort((person, time))
    is_second = np.arange(person.size) >= primary.size
    extra = {"channel": channel[order], "second": is_second[order]}
    return _Rows(person[order], time[order], masks[order], extra)


def _consent_on_file(people: _People, records: _Rows) -> None:
    """Keep a consent only where a CRM profile holds the identifier it is for.

    Campaigns go to the addresses and numbers on file with consent, as a real ESP or SMS tool
    would, so email and SMS events only ever carry identifiers that some profile also shows.
    """
    shown = np.zeros(people.lam.size, dtype=np.int64)
    np.bitwise_or.at(shown, records.person, records.mask)
    people.email_consent &= shown & EMAIL > 0
    people.sms_consent &= shown & PHONE > 0
    people.push_consent &= shown & LOYALTY > 0


def _held(ids: _Ids) -> Array:
    """Mask of the identifiers each person has."""
    return (
        np.where(ids.cid != "", CID, 0)
        | np.where(ids.email != "", EMAIL, 0)
        | np.where(ids.phone > 0, PHONE, 0)
        | np.where(ids.loyalty != "", LOYALTY, 0)
    )


def _events(
    rng: np.random.Generator, people: _People, ids: _Ids, orders: _Rows, span: _Span
) -> tuple[_Rows, Array]:
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
    return _Rows(person, time, EVENT_MASK[kind], extra), unsubscribed


def _piece(
    person: Array, time: Array, kind: int, campaign: int, prop: Array | None = None
) -> tuple:
    """Event columns for one batch: person, time, type, campaign index (-1 none), property."""
    size = person.size
    props = np.full(size, -1) if prop is None else prop
    return person, time.astype(np.int64), np.full(size, kind), np.full(size, campaign), props


def _send_times(span: _Span, count: int, hour: int) -> list[int]:
    """Evenly spread send instants (at ``hour`` local) for ``count`` campaigns."""
    days = (span.last - span.first) // DAY + 1
    return [span.first + int((i + 0.5) * days / count) * DAY + hour * 3600 for i in range(count)]


def _email_events(
    rng: np.random.Generator, people: _People, ids: _Ids, span: _Span
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


def _sms_events(rng: np.random.Generator, people: _People, ids: _Ids, span: _Span) -> list[tuple]:
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


def _web_visits(
    rng: np.random.Generator, people: _People, orders: _Rows, span: _Span
) -> list[tuple]:
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
    rng: np.random.Generator, people: _People, ids: _Ids, orders: _Rows, span: _Span
) -> list[tuple]:
    """NPS answers to the "did you like your order?" survey after a share of first orders."""
    first = orders.extra["first"]
    who = orders.person[first]
    answered = (ids.email[who] != "") & people.email_consent[who]
    answered &= rng.random(who.size) < SURVEY_SHARE
    time = orders.time[first][answered] + rng.uniform(2, 7, answered.sum()) * DAY
    nps = rng.choice(NPS_WEIGHTS.size, size=int(answered.sum()), p=NPS_WEIGHTS / NPS_WEIGHTS.sum())
    return [_piece(who[answered], time, SURVEY, EMAIL_CAMPAIGNS + SMS_CAMPAIGNS, nps)]


# --- catalog and lines --------------------------------------------------------------------------
def _catalog(rng: np.random.Generator, span: _Span) -> _Catalog:
    """Products per category with brands, prices around the category median, launch dates.

    Products are numbered in category order; each category keeps its members and a cumulative
    popularity (Zipf-like, so a few products sell most) for drawing order lines.
    """
    cols: dict[str, list] = {k: [] for k in ("sku", "name", "cat", "brand", "price", "day")}
    members, popularity = [], []
    for c, spec in enumerate(CATEGORIES):
        products = _category_products(rng, spec, span)
        m = len(products["sku"])
        members.append(np.arange(m) + len(cols["sku"]))
        weight = 1.0 / (1.0 + rng.permutation(m)) ** 0.9
        popularity.append(np.cumsum(weight) / weight.sum())
        for key, values in products.items():
            cols[key] += values
        cols["cat"] += [c] * m
    return _Catalog(
        sku=cols["sku"],
        name=cols["name"],
        category=np.array(cols["cat"]),
        brand=np.array(cols["brand"], dtype=object),
        price=np.array(cols["price"]),
        launched=np.array(cols["day"]),
        in_stock=rng.random(len(cols["sku"])) < IN_STOCK_SHARE,
        members=members,
        popularity=popularity,
    )


def _category_products(
    rng: np.random.Generator, spec: tuple[str, str, float, float, tuple, tuple], span: _Span
) -> dict[str, list]:
    """One category's skus, names, brands, prices (cents, ending in .99) and launch days.

    The first product is launched before the period, so every order can always find a product
    on sale; the rest launch before it or during it (new arrivals).
    """
    _, code, _, median, brands, nouns = spec
    m = int(rng.integers(*PRODUCTS_PER_CATEGORY))
    used = brands[: int(rng.integers(*BRANDS_PER_CATEGORY))]
    brand = [used[b] for b in rng.integers(0, len(used), m).tolist()]
    a = len(ADJECTIVES)
    combo = rng.permutation(a * len(nouns))[:m].tolist()
    dollars = np.exp(rng.normal(np.log(median), 0.45, m))
    start_day, end_day = span.first // DAY, span.last // DAY
    pre = rng.random(m) < PRE_LAUNCHED_SHARE
    pre[0] = True
    late = start_day + rng.integers(0, max(end_day - start_day - 30, 1), m)
    early = start_day - rng.integers(30, 1100, m)
    return {
        "sku": [f"{code}-{j + 1:04d}" for j in range(m)],
        "name": [
            f"{b} {ADJECTIVES[k % a]} {nouns[k // a]}" for b, k in zip(brand, combo, strict=True)
        ],
        "brand": brand,
        "price": (np.maximum(np.ceil(dollars), 1) * 100 - 1).astype(np.int64).tolist(),
        "day": np.where(pre, early, late).tolist(),
    }


def _pick_products(rng: np.random.Generator, catalog: _Catalog, cat: Array, day: Array) -> Array:
    """A product per line: by popularity within the line's category, launched by the order day.

    Draws that hit a product not yet launched are redrawn a few times, then fall back to the
    category's first product, which is always launched before the period.
    """
    product = np.zeros(cat.size, dtype=np.int64)
    for c in range(len(CATEGORIES)):
        todo = np.flatnonzero(cat == c)
        for _ in range(5):
            pick = np.searchsorted(catalog.popularity[c], rng.random(todo.size), side="right")
            product[todo] = catalog.members[c][np.minimum(pick, catalog.members[c].size - 1)]
            todo = todo[catalog.launched[product[todo]] > day[todo]]
        product[todo] = catalog.members[c][0]
    return product


def _lines(rng: np.random.Generator, orders: _Rows, people: _People, catalog: _Catalog) -> dict:
    """Order lines whose amounts add up to the order (within rounding of unit prices).

    Categories follow the person's affinity; quantities grow when the order is worth several
    times the catalog prices; unit prices are scaled so the lines' gross equals the order's
    gross, and the order discount is spread over its lines in proportion to their value.
    """
    n = orders.person.size
    gross = orders.extra["revenue"] + orders.extra["discount"]
    count = np.clip(1 + rng.poisson(gross / LINE_VALUE_CENTS), 1, MAX_LINES)
    of = np.repeat(np.arange(n), count)
    cumulative = np.cumsum(people.affinity, axis=1)[orders.person[of]]
    cat = np.minimum((rng.random(of.size)[:, None] > cumulative).sum(axis=1), len(CATEGORIES) - 1)
    product = _pick_products(rng, catalog, cat, orders.time[of] // DAY)
    price = catalog.price[product]
    scale = (gross / np.bincount(of, weights=price, minlength=n))[of]
    extra = rng.binomial(np.maximum(np.rint(2 * (scale - 1)), 0).astype(np.int64), 0.5)
    quantity = np.minimum(1 + extra, MAX_QUANTITY)
    value = np.bincount(of, weights=price * quantity, minlength=n)
    unit = np.maximum(np.rint(price * (gross / value)[of]), 1).astype(np.int64)
    line_gross = unit * quantity
    share = line_gross / np.bincount(of, weights=line_gross, minlength=n)[of]
    discount = np.floor(orders.extra["discount"][of] * share).astype(np.int64)
    starts = np.cumsum(count) - count
    allocated = np.rint(np.bincount(of, weights=discount, minlength=n)).astype(np.int64)
    discount[starts] += orders.extra["discount"] - allocated
    line_no = np.arange(of.size) - starts[of] + 1
    return {
        "of": of,
        "line": line_no,
        "product": product,
        "quantity": quantity,
        "unit": unit,
        "discount": discount,
    }


# --- writing ------------------------------------------------------------------------------------
def _write_csv(path: Path, header: Sequence[str], columns: Sequence[Sequence[Any] | Array]) -> None:
    """Plain UTF-8 CSV with a header and "\\n" line endings, quoting only where needed."""
    lists = [c.tolist() if isinstance(c, np.ndarray) else c for c in columns]
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(zip(*lists, strict=True))


def _money(cents: Array) -> list[str]:
    """Integer cents as decimal strings with two places ("-12.30")."""
    return [f"{c / 100:.2f}" for c in cents.tolist()]


def _timestamps(local: Array, utc: Array | None = None) -> list[str]:
    """Naive local ISO timestamps; rows flagged ``utc`` are written in UTC with "+00:00"."""
    iso = np.datetime_as_string(local.astype("datetime64[s]"))
    text = np.strings.replace(iso, "T", " ").astype(object)
    if utc is not None and utc.any():
        shifted = local[utc] - _utc_offset_hours(local[utc]) * 3600
        text[utc] = np.strings.add(np.datetime_as_string(shifted.astype("datetime64[s]")), "+00:00")
    return list(text.tolist())


def _utc_offset_hours(local: Array) -> Array:
    """US Eastern offset (-4 in daylight time, -5 otherwise) of local times after 06:00.

    Daylight time runs from 02:00 on the second Sunday of March to 02:00 on the first Sunday of
    November (the rule since 2007); no generated time falls in the changeover hours.
    """
    year = local.astype("datetime64[s]").astype("datetime64[Y]").astype(np.int64) + 1970
    years = range(int(year.min()), int(year.max()) + 1)
    starts = np.array([_nth_sunday(y, 3, 2) for y in years]) * DAY + 2 * 3600
    ends = np.array([_nth_sunday(y, 11, 1) for y in years]) * DAY + 2 * 3600
    k = year - years.start
    return np.where((local >= starts[k]) & (local < ends[k]), -4, -5)


def _nth_sunday(year: int, month: int, nth: int) -> int:
    """Epoch day of the ``nth`` Sunday of a month."""
    first = date(year, month, 1)
    return _epoch_day(first) + (6 - first.weekday()) % 7 + 7 * (nth - 1)


def _dates(days: Array) -> list[str]:
    """Epoch days as ISO dates."""
    return list(np.datetime_as_string(days.astype("datetime64[D]")).tolist())


def _bools(flags: Array) -> list[str]:
    """Booleans as the lower-case words the loader reads."""
    return np.where(flags, "true", "false").tolist()


def _epoch_day(d: date) -> int:
    """Days since 1970-01-01."""
    return (d - date(1970, 1, 1)).days


_EMAIL_STYLES: tuple[Callable[[str], str], ...] = (
    lambda e: e,
    str.upper,
    lambda e: ".".join(part.capitalize() for part in e.split(".")),
    lambda e: f" {e} ",
    lambda e: f"  {e.upper()}",
)
"""Clean, UPPER, Capitalized.Parts, padded, padded UPPER: all normalize to the clean email."""


def _identifier_columns(rng: np.random.Generator, rows: _Rows, ids: _Ids) -> list[list[str]]:
    """customer_id, email, phone, loyalty_id columns as written: messy emails, mixed phones."""
    who, mask, size = rows.person, rows.mask, rows.person.size
    cid = np.where(mask & CID > 0, ids.cid[who], "")
    loyalty = np.where(mask & LOYALTY > 0, ids.loyalty[who], "")
    email = np.full(size, "", dtype=object)
    sel = mask & EMAIL > 0
    m = MESSY_EMAIL_SHARE
    style = rng.choice(5, size=int(sel.sum()), p=[1 - m, m * 0.3, m * 0.3, m * 0.25, m * 0.15])
    email[sel] = [
        _EMAIL_STYLES[s](e) for s, e in zip(style.tolist(), ids.email[who[sel]], strict=True)
    ]
    phone = np.full(size, "", dtype=object)
    sel = mask & PHONE > 0
    phone[sel] = _phone_text(rng, ids.phone[who[sel]])
    if "default_email" in rows.extra:
        email[rows.extra["default_email"]] = STORE_DEFAULT_EMAIL
        phone[rows.extra["junk_phone"]] = JUNK_PHONE
    return [cid.tolist(), email.tolist(), phone.tolist(), loyalty.tolist()]


def _phone_text(rng: np.random.Generator, digits: Array) -> list[str]:
    """10-digit numbers written in the mixed styles people and tills use."""
    p = PHONE_STYLE_WEIGHTS / PHONE_STYLE_WEIGHTS.sum()
    style = rng.choice(len(PHONE_STYLES), size=digits.size, p=p)
    area, exchange, line = digits // 10**7, digits // 10**4 % 1000, digits % 10**4
    rows = zip(style.tolist(), area.tolist(), exchange.tolist(), line.tolist(), strict=True)
    return [PHONE_STYLES[s].format(a=a, e=e, s=x) for s, a, e, x in rows]


def _write_orders(
    path: Path, rng: np.random.Generator, orders: _Rows, returns: _Rows, ids: _Ids
) -> None:
    """Purchases ("O…", completed) and returns ("R…", negative) interleaved by time."""
    n, r = orders.person.size, returns.person.size
    keys = ("channel", "revenue", "discount", "cost", "default_email", "junk_phone")
    rows = _Rows(
        np.concatenate([orders.person, returns.person]),
        np.concatenate([orders.time, returns.time]),
        np.concatenate([orders.mask, returns.mask]),
        {k: np.concatenate([orders.extra[k], returns.extra[k]]) for k in keys},
    )
    order_ids = np.array([f"O{i + 1:07d}" for i in range(n)], dtype=object)
    return_ids = np.array([f"R{i + 1:07d}" for i in range(r)], dtype=object)
    is_return = np.arange(n + r) >= n
    utc = (rows.extra["channel"] == WEB) & (rng.random(n + r) < UTC_WEB_SHARE)
    columns = [
        np.concatenate([order_ids, return_ids]),
        *_identifier_columns(rng, rows, ids),
        _timestamps(rows.time, utc),
        np.array(CHANNELS)[rows.extra["channel"]],
        *(_money(rows.extra[k]) for k in ("revenue", "discount", "cost")),
        ["USD"] * (n + r),
        np.where(is_return, "returned", "completed"),
        np.concatenate([np.full(n, "", dtype=object), order_ids[returns.extra["of"]]]),
    ]
    order = np.lexsort((is_return, rows.time))
    _write_csv(path, HEADERS["orders"], [np.asarray(c, dtype=object)[order] for c in columns])


def _write_lines(
    path: Path, rng: np.random.Generator, orders: _Rows, people: _People, catalog: _Catalog
) -> None:
    """order_lines.csv, in order-id then line order."""
    lines = _lines(rng, orders, people, catalog)
    product = lines["product"]
    names = np.array([c[0] for c in CATEGORIES], dtype=object)
    columns = [
        [f"O{i + 1:07d}" for i in lines["of"].tolist()],
        lines["line"].tolist(),
        np.array(catalog.sku, dtype=object)[product].tolist(),
        lines["quantity"].tolist(),
        _money(lines["unit"]),
        _money(lines["discount"]),
        names[catalog.category[product]].tolist(),
        catalog.brand[product].tolist(),
    ]
    _write_csv(path, HEADERS["order_lines"], columns)


def _write_products(path: Path, catalog: _Catalog) -> None:
    """products.csv, one row per sku."""
    names = np.array([c[0] for c in CATEGORIES], dtype=object)
    columns = [
        catalog.sku,
        catalog.name,
        names[catalog.category].tolist(),
        catalog.brand.tolist(),
        _money(catalog.price),
        _dates(catalog.launched),
        _bools(catalog.in_stock),
    ]
    _write_csv(path, HEADERS["products"], columns)


def _write_records(
    path: Path,
    rng: np.random.Generator,
    records: _Rows,
    ids: _Ids,
    people: _People,
    unsubscribed: Array,
) -> None:
    """customers.csv: CRM profiles; consent reflects unsubscribes, second profiles are terse."""
    who, mask, second = records.person, records.mask, records.extra["second"]
    name = people.names[who, 0]
    name[second] = [s.upper() for s in name[second]]
    age_days = rng.uniform(18, 80, who.size) * 365.25
    birthday = (records.time // DAY - age_days).astype(np.int64)
    has_birthday = ~second & (rng.random(who.size) < BIRTHDAY_SHARE)
    birthdays = np.where(has_birthday, _dates(birthday), "")
    email_ok = people.email_consent[who] & ~unsubscribed[who] & (mask & EMAIL > 0)
    columns = [
        *_identifier_columns(rng, records, ids),
        name.tolist(),
        birthdays.tolist(),
        np.array(CHANNELS)[records.extra["channel"]].tolist(),
        _timestamps(records.time),
        ["US"] * who.size,
        _bools(email_ok),
        _bools(people.sms_consent[who] & (mask & PHONE > 0)),
        _bools(people.push_consent[who] & (mask & LOYALTY > 0)),
    ]
    _write_csv(path, HEADERS["customers"], columns)


def _write_events(path: Path, rng: np.random.Generator, events: _Rows, ids: _Ids) -> None:
    """events.csv: ids "E…" in time order; JSON properties for visits and surveys."""
    kind, prop, campaign = events.extra["kind"], events.extra["prop"], events.extra["campaign"]
    names = _campaign_names(events.time, campaign)
    properties = [
        f'{{"pages": {v}}}' if k == VISIT else f'{{"nps": {v}}}' if k == SURVEY else ""
        for k, v in zip(kind.tolist(), prop.tolist(), strict=True)
    ]
    columns = [
        [f"E{i + 1:08d}" for i in range(kind.size)],
        *_identifier_columns(rng, events, ids),
        _timestamps(events.time),
        np.array(EVENT_TYPES)[kind].tolist(),
        names,
        EVENT_CHANNEL[kind].tolist(),
        properties,
    ]
    _write_csv(path, HEADERS["events"], columns)


def _campaign_names(time: Array, campaign: Array) -> list[str]:
    """Campaign ids: "em01-202203" style for email, "sms01-…" for SMS, "survey-first-order"."""
    labels = {-1: ""}
    survey = EMAIL_CAMPAIGNS + SMS_CAMPAIGNS
    labels[survey] = "survey-first-order"
    for c in np.unique(campaign[(campaign >= 0) & (campaign < survey)]).tolist():
        sent = int(time[campaign == c].min()) // DAY
        month = np.datetime_as_string(np.datetime64(sent, "D"), unit="M").replace("-", "")
        label = f"em{c + 1:02d}" if c < EMAIL_CAMPAIGNS else f"sms{c - EMAIL_CAMPAIGNS + 1:02d}"
        labels[c] = f"{label}-{month}"
    return [labels[c] for c in campaign.tolist()]


def _write_truth(
    path: Path,
    people: _People,
    ids: _Ids,
    orders: _Rows,
    dropped: Array,
    links: tuple[Array, Array],
) -> None:
    """truth.csv: per person, clean identifiers that appear in some file and the latent traits."""
    n, (appear, linked) = people.lam.size, links
    n_orders = np.bincount(orders.person, minlength=n)
    last = np.zeros(n, dtype=np.int64)
    np.maximum.at(last, orders.person, orders.time)
    dropped_at = np.where(dropped, _timestamps(last), "")
    e164 = np.array([f"+1{d}" for d in ids.phone.tolist()], dtype=object)
    names = np.array([c[0] for c in CATEGORIES], dtype=object)
    columns = [
        [f"P{i + 1:07d}" for i in range(n)],
        np.where(appear & CID > 0, ids.cid, "").tolist(),
        np.where(appear & EMAIL > 0, ids.email, "").tolist(),
        np.where(appear & PHONE > 0, e164, "").tolist(),
        np.where(appear & LOYALTY > 0, ids.loyalty, "").tolist(),
        np.array(CHANNELS)[people.channel].tolist(),
        _timestamps(people.acquired),
        [f"{x:.8f}" for x in people.lam.tolist()],
        [f"{x:.6f}" for x in people.p.tolist()],
        dropped_at.tolist(),
        _money(np.rint(people.spend_mean * 100).astype(np.int64)),
        _bools(people.driven),
        names[people.affinity.argmax(axis=1)].tolist(),
        _bools(linked),
        n_orders.tolist(),
    ]
    _write_csv(path, HEADERS["truth"], columns)
