"""The documented constants that drive the synthetic retailer's generating process.

Every channel-indexed array follows ``CHANNELS``; identifier masks combine the ``CID``,
``EMAIL``, ``PHONE`` and ``LOYALTY`` bits; event kinds index ``EVENT_TYPES``.
"""

from __future__ import annotations

import numpy as np

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
"""Lower clip of a purchase rate per day. With r = 0.25 about 9% of people draw less (the truth
shows them at 0.00000100): as good as never buying again, but a gamma fitted to the truth's
rates reads r near 0.28; the data, where they cannot be told apart, give BG/NBD r = 0.25."""
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

# --- replenishment ------------------------------------------------------------------------------
REPLENISH_DAYS = {"Coffee": 30, "Tea": 45, "Shampoo": 40, "Serum": 60, "Candle": 75}
"""Typical days between two purchases of a consumable, by product noun; other products are
bought again only by chance. Two nouns a category at most, so redraws find other products."""
REPLENISH_SKU_SPREAD = 0.2
"""Standard deviation of the log of a product's interval around its noun's (pack sizes differ)."""
REPLENISH_WINDOW = 0.25
"""A planted repurchase lands within this share of the interval around it (30 days: 23-37)."""
REPLENISH_STREAM = 1
"""Key of the replenishment's own random stream, ``default_rng([seed, REPLENISH_STREAM])``."""
REDRAWS = 50
"""Tries to replace a consumable bought again by chance with another product (else it stays)."""
