"""Writing the CSV files, each with its exact header and row order."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from patron.outfile import write_whole
from patron.samples.synthetic.catalog import draw_lines
from patron.samples.synthetic.cells import bools, dates, identifier_columns, money, timestamps
from patron.samples.synthetic.model import Array, Catalog, Ids, People, Refills, Rows
from patron.samples.synthetic.params import (
    BIRTHDAY_SHARE,
    CATEGORIES,
    CHANNELS,
    CID,
    DAY,
    EMAIL,
    EMAIL_CAMPAIGNS,
    EVENT_CHANNEL,
    EVENT_TYPES,
    LOYALTY,
    PHONE,
    SMS_CAMPAIGNS,
    SURVEY,
    UTC_WEB_SHARE,
    VISIT,
    WEB,
)

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
    "truth_products": ("sku", "replenish_days"),
}  # fmt: skip
"""Exact header of each file, in column order."""


def _write_csv(path: Path, header: Sequence[str], columns: Sequence[Sequence[Any] | Array]) -> None:
    """Plain UTF-8 CSV with a header and "\\n" line endings, quoting only where needed; whole
    or not at all (a run stopped half way over an earlier sample leaves its file, never a cut
    one that would load without complaint)."""
    lists = [c.tolist() if isinstance(c, np.ndarray) else c for c in columns]

    def write(part: Path) -> None:
        with part.open("w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(zip(*lists, strict=True))

    write_whole(path, write)


def write_orders(
    path: Path, rng: np.random.Generator, orders: Rows, returns: Rows, ids: Ids
) -> None:
    """Purchases ("O…", completed) and returns ("R…", negative) interleaved by time."""
    n, r = orders.person.size, returns.person.size
    keys = ("channel", "revenue", "discount", "cost", "default_email", "junk_phone")
    rows = Rows(
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
        *identifier_columns(rng, rows, ids),
        timestamps(rows.time, utc),
        np.array(CHANNELS)[rows.extra["channel"]],
        *(money(rows.extra[k]) for k in ("revenue", "discount", "cost")),
        ["USD"] * (n + r),
        np.where(is_return, "returned", "completed"),
        np.concatenate([np.full(n, "", dtype=object), order_ids[returns.extra["of"]]]),
    ]
    order = np.lexsort((is_return, rows.time))
    _write_csv(path, HEADERS["orders"], [np.asarray(c, dtype=object)[order] for c in columns])


def write_lines(
    path: Path,
    rng: np.random.Generator,
    orders: Rows,
    people: People,
    catalog: Catalog,
    refills: Refills,
) -> None:
    """order_lines.csv, in order-id then line order."""
    lines = draw_lines(rng, orders, people, catalog, refills)
    product = lines["product"]
    names = np.array([c[0] for c in CATEGORIES], dtype=object)
    columns = [
        [f"O{i + 1:07d}" for i in lines["of"].tolist()],
        lines["line"].tolist(),
        np.array(catalog.sku, dtype=object)[product].tolist(),
        lines["quantity"].tolist(),
        money(lines["unit"]),
        money(lines["discount"]),
        names[catalog.category[product]].tolist(),
        catalog.brand[product].tolist(),
    ]
    _write_csv(path, HEADERS["order_lines"], columns)


def write_products(path: Path, catalog: Catalog) -> None:
    """products.csv, one row per sku."""
    names = np.array([c[0] for c in CATEGORIES], dtype=object)
    columns = [
        catalog.sku,
        catalog.name,
        names[catalog.category].tolist(),
        catalog.brand.tolist(),
        money(catalog.price),
        dates(catalog.launched),
        bools(catalog.in_stock),
    ]
    _write_csv(path, HEADERS["products"], columns)


def write_truth_products(path: Path, catalog: Catalog, refills: Refills) -> None:
    """truth_products.csv: each replenishable sku and the interval its refills centre on."""
    kept = np.flatnonzero(refills.days > 0)
    _write_csv(path, HEADERS["truth_products"], [np.array(catalog.sku)[kept], refills.days[kept]])


def _consent(given: Array, shown: Array) -> list[str]:
    """A channel's consent where the profile holds its identifier, else empty (unknown): a
    store's phone-only profile says nothing of email, and a "false" there would overrule the
    signup's "true" as the latest word."""
    return np.where(shown, bools(given), "").tolist()


def write_records(
    path: Path,
    rng: np.random.Generator,
    records: Rows,
    ids: Ids,
    people: People,
    unsubscribed: Array,
) -> None:
    """customers.csv: CRM profiles; consent reflects unsubscribes, second profiles are terse."""
    who, mask, second = records.person, records.mask, records.extra["second"]
    name = people.names[who, 0]
    name[second] = [s.upper() for s in name[second]]
    age_days = rng.uniform(18, 80, who.size) * 365.25
    birthday = (records.time // DAY - age_days).astype(np.int64)
    has_birthday = ~second & (rng.random(who.size) < BIRTHDAY_SHARE)
    birthdays = np.where(has_birthday, dates(birthday), "")
    email_ok = people.email_consent[who] & ~unsubscribed[who]
    columns = [
        *identifier_columns(rng, records, ids),
        name.tolist(),
        birthdays.tolist(),
        np.array(CHANNELS)[records.extra["channel"]].tolist(),
        timestamps(records.time),
        ["US"] * who.size,
        _consent(email_ok, mask & EMAIL > 0),
        _consent(people.sms_consent[who], mask & PHONE > 0),
        _consent(people.push_consent[who], mask & LOYALTY > 0),
    ]
    _write_csv(path, HEADERS["customers"], columns)


def write_events(path: Path, rng: np.random.Generator, events: Rows, ids: Ids) -> None:
    """events.csv: ids "E…" in time order; JSON properties for visits and surveys."""
    kind, prop, campaign = events.extra["kind"], events.extra["prop"], events.extra["campaign"]
    names = _campaign_names(events.time, campaign)
    properties = [
        f'{{"pages": {v}}}' if k == VISIT else f'{{"nps": {v}}}' if k == SURVEY else ""
        for k, v in zip(kind.tolist(), prop.tolist(), strict=True)
    ]
    columns = [
        [f"E{i + 1:08d}" for i in range(kind.size)],
        *identifier_columns(rng, events, ids),
        timestamps(events.time),
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


def write_truth(
    path: Path,
    people: People,
    ids: Ids,
    orders: Rows,
    dropped: Array,
    links: tuple[Array, Array],
) -> None:
    """truth.csv: per person, clean identifiers that appear in some file and the latent traits."""
    n, (appear, linked) = people.lam.size, links
    n_orders = np.bincount(orders.person, minlength=n)
    last = np.zeros(n, dtype=np.int64)
    np.maximum.at(last, orders.person, orders.time)
    dropped_at = np.where(dropped, timestamps(last), "")
    e164 = np.array([f"+1{d}" for d in ids.phone.tolist()], dtype=object)
    names = np.array([c[0] for c in CATEGORIES], dtype=object)
    columns = [
        [f"P{i + 1:07d}" for i in range(n)],
        np.where(appear & CID > 0, ids.cid, "").tolist(),
        np.where(appear & EMAIL > 0, ids.email, "").tolist(),
        np.where(appear & PHONE > 0, e164, "").tolist(),
        np.where(appear & LOYALTY > 0, ids.loyalty, "").tolist(),
        np.array(CHANNELS)[people.channel].tolist(),
        timestamps(people.acquired),
        [f"{x:.8f}" for x in people.lam.tolist()],
        [f"{x:.6f}" for x in people.p.tolist()],
        dropped_at.tolist(),
        money(np.rint(people.spend_mean * 100).astype(np.int64)),
        bools(people.driven),
        names[people.affinity.argmax(axis=1)].tolist(),
        bools(linked),
        n_orders.tolist(),
    ]
    _write_csv(path, HEADERS["truth"], columns)
