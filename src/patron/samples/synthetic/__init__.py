"""A synthetic multichannel retailer, written as CSV files in the canonical shapes.

Why: identity resolution, KPIs, CLV models, insights and experiments all need data whose
generating process is known, so a test can check that a method recovers what was put in. The
generator simulates *people* (the real humans) and writes only what a retailer's systems would
hold: orders from the web shop, the stores (POS), the app and a marketplace, each carrying the
identifiers that channel captures; order lines; the product catalog; CRM profile records; and
marketing events. ``truth.csv`` keeps what really happened, one row per person, and
``truth_products.csv`` each consumable's planted repurchase interval.

Purchases follow the BG/NBD story (Fader, Hardie & Lee 2005, "Counting your customers the easy
way"): while alive, a person buys at Poisson rate ``lambda ~ Gamma(r, alpha)`` per day; after
each *repeat* purchase they drop out with probability ``p ~ Beta(a, b)``; the first purchase is
the acquisition. Spend per order follows the gamma-gamma model (Fader, Hardie & Lee 2005, "RFM
and CLV: using iso-value curves"): ``z ~ Gamma(p, nu)``, ``nu ~ Gamma(q, gamma)``, so a person's
mean order value is ``p / nu``. Consumables are bought again after a per-product interval, planted
in orders the person places anyway (:mod:`~patron.samples.synthetic.replenish`).

Everything is vectorized numpy over people, orders, lines and events; the only loops run over
purchase rounds, months, campaigns and categories. Randomness comes from one
``numpy.random.default_rng(seed)``, but replenishment's (intervals, redraws) from its own
``default_rng([seed, REPLENISH_STREAM])``, so planting refills moved nothing else; nothing reads
the wall clock, so the same arguments give byte-identical files. Timestamps are the shop's local
time (US Eastern, the demo workspace's timezone) without offset, except a share of web orders
written in UTC with ``+00:00``.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np

from patron.errors import InputError
from patron.samples.folder import prepare
from patron.samples.synthetic.catalog import draw_catalog
from patron.samples.synthetic.engagement import draw_events
from patron.samples.synthetic.identity import assign_identifiers, link_truth
from patron.samples.synthetic.model import Span, epoch_day
from patron.samples.synthetic.params import DAY, REPLENISH_STREAM
from patron.samples.synthetic.people import draw_people
from patron.samples.synthetic.profiles import consent_on_file, draw_profiles
from patron.samples.synthetic.purchases import draw_purchases, draw_returns
from patron.samples.synthetic.replenish import draw_refills
from patron.samples.synthetic.writer import (
    HEADERS,
    write_events,
    write_lines,
    write_orders,
    write_products,
    write_records,
    write_truth,
    write_truth_products,
)


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
        Folder to write into (created if missing). A file of the same name is replaced only if
        an earlier sample wrote it (see :mod:`patron.samples.folder`); files of other names stay.
    customers:
        Number of people (real humans) to simulate; the files show only their identifiers.
    seed:
        Seed of the random generators: the same arguments give byte-identical files.
    start, end:
        First and last day of the period (acquisitions, orders, returns and events all fall in it).

    Returns
    -------
    dict[str, Path]
        Paths of ``orders``, ``order_lines``, ``products``, ``customers``, ``events``, ``truth``
        and ``truth_products``.

    Notes
    -----
    In ``truth.csv``, ``lambda`` is purchases per day while alive, ``p_dropout`` the chance of
    dropping out after each repeat purchase, ``mean_spend`` the expected net revenue per order,
    ``dropped_at`` the purchase after which the person dropped out (empty if alive at the end),
    and ``linked`` whether the records' identifiers connect all of the person's identifiers
    (identity resolution should then unite them; otherwise it cannot). Identifiers are listed,
    normalized, only if they appear in some file. ``truth_products.csv`` lists the replenishable
    skus with ``replenish_days``, the interval their repurchases were planted around.

    To check recovery, fit per person: the truth's identifiers unite an unlinked person's
    customers. Fitted per customer, BG/NBD reads each piece as a light buyer (50,000 people,
    seed 7: r 0.232 for 0.25), and leaving unlinked people out drops the frequent multichannel
    buyers among them (r 0.231). One-time buyers never drop out (BG/NBD), so ``dropped_at`` is
    empty for them whatever P(alive) a model that lets them drop out (MBG/NBD) gives.
    """
    if customers < 1:
        raise InputError(f"customers must be at least 1, got {customers}; pass a positive count")
    if seed < 0:
        raise InputError(f"the seed must be 0 or more, got {seed}")
    if end <= start:
        raise InputError(f"end ({end}) must be after start ({start}); pass a later end date")
    paths = prepare(out, HEADERS)
    rng = np.random.default_rng(seed)
    span = Span(start, end, epoch_day(start) * DAY, (epoch_day(end) + 1) * DAY - 1)
    catalog = draw_catalog(rng, span)
    refills = draw_refills(np.random.default_rng([seed, REPLENISH_STREAM]), catalog)
    people = draw_people(rng, customers, span)
    orders, dropped = draw_purchases(rng, people, span)
    ids = assign_identifiers(rng, people, orders)
    returns = draw_returns(rng, orders, span)
    records = draw_profiles(rng, people, ids, span)
    consent_on_file(people, records)
    events, unsubscribed = draw_events(rng, people, ids, orders, span)
    parts = [(r.person, r.mask) for r in (orders, records, events)]
    appear, linked = link_truth(customers, parts)
    write_orders(paths["orders"], rng, orders, returns, ids)
    write_lines(paths["order_lines"], rng, orders, people, catalog, refills)
    write_products(paths["products"], catalog)
    write_records(paths["customers"], rng, records, ids, people, unsubscribed)
    write_events(paths["events"], rng, events, ids)
    write_truth(paths["truth"], people, ids, orders, dropped, (appear, linked))
    write_truth_products(paths["truth_products"], catalog, refills)
    return paths
