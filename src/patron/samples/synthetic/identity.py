"""Identifiers: who holds which, what each order shows, and whether records link a person.

Emails, phones, web customer_ids and loyalty_ids are unique per person; the identifier masks
of orders, profiles and events decide which identity links the files can reveal.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from patron.samples.synthetic.model import Array, Ids, People, Rows
from patron.samples.synthetic.params import (
    APP,
    APP_EMAIL_SHARE,
    AREA_CODES,
    CHANNELS,
    CID,
    EMAIL,
    EMAIL_DOMAINS,
    EMAIL_SHARE,
    EXCHANGES,
    JUNK_PHONE_SHARE,
    LOYALTY,
    MARKETPLACE,
    PHONE,
    PHONE_SHARE,
    STORE,
    STORE_DEFAULT_SHARE,
    STORE_EMAIL_SHARE,
    WEB,
)


def assign_identifiers(rng: np.random.Generator, people: People, orders: Rows) -> Ids:
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
    ids = Ids(cid, _emails(rng, people.names, has_email), _phones(rng, has_phone), loyalty)
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


def _order_masks(rng: np.random.Generator, orders: Rows, people: People, ids: Ids) -> None:
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


def held_mask(ids: Ids) -> Array:
    """Mask of the identifiers each person has."""
    return (
        np.where(ids.cid != "", CID, 0)
        | np.where(ids.email != "", EMAIL, 0)
        | np.where(ids.phone > 0, PHONE, 0)
        | np.where(ids.loyalty != "", LOYALTY, 0)
    )


def link_truth(n: int, parts: Sequence[tuple[Array, Array]]) -> tuple[Array, Array]:
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
