"""How values are written into CSV cells: money, timestamps, dates, booleans, identifiers.

Identifiers are written as people and tills type them (messy emails, mixed phone styles); web
timestamps may be in UTC, for which the US Eastern daylight-saving rule is applied.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import numpy as np

from patron.samples.synthetic.model import Array, Ids, Rows, epoch_day
from patron.samples.synthetic.params import (
    CID,
    DAY,
    EMAIL,
    JUNK_PHONE,
    LOYALTY,
    MESSY_EMAIL_SHARE,
    PHONE,
    PHONE_STYLE_WEIGHTS,
    PHONE_STYLES,
    STORE_DEFAULT_EMAIL,
)


def money(cents: Array) -> list[str]:
    """Integer cents as decimal strings with two places ("-12.30")."""
    return [f"{c / 100:.2f}" for c in cents.tolist()]


def timestamps(local: Array, utc: Array | None = None) -> list[str]:
    """Naive local ISO timestamps; rows flagged ``utc`` are written in UTC with "+00:00"."""
    if local.size == 0:
        return []  # numpy's string replace fails on an empty array (a tiny sample: no events)
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
    return epoch_day(first) + (6 - first.weekday()) % 7 + 7 * (nth - 1)


def dates(days: Array) -> list[str]:
    """Epoch days as ISO dates."""
    return list(np.datetime_as_string(days.astype("datetime64[D]")).tolist())


def bools(flags: Array) -> list[str]:
    """Booleans as the lower-case words the loader reads."""
    return np.where(flags, "true", "false").tolist()


_EMAIL_STYLES: tuple[Callable[[str], str], ...] = (
    lambda e: e,
    str.upper,
    lambda e: ".".join(part.capitalize() for part in e.split(".")),
    lambda e: f" {e} ",
    lambda e: f"  {e.upper()}",
)
"""Clean, UPPER, Capitalized.Parts, padded, padded UPPER: all normalize to the clean email."""


def identifier_columns(rng: np.random.Generator, rows: Rows, ids: Ids) -> list[list[str]]:
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
