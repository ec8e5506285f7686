"""Data holders passed between the generator's steps: period, people, identifiers, rows, catalog."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
from numpy.typing import NDArray

Array = NDArray[Any]


@dataclass
class Span:
    """The simulated period in local seconds: ``first`` is start 00:00, ``last`` end 23:59:59."""

    start: date
    end: date
    first: int
    last: int


@dataclass
class People:
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
class Ids:
    """Each person's clean identifiers ("" or 0 when they have none)."""

    cid: Array
    email: Array
    phone: Array
    loyalty: Array


@dataclass
class Rows:
    """Rows of a file that carry identifiers: who, when, which identifiers, and the rest."""

    person: Array
    time: Array
    mask: Array
    extra: dict[str, Array]


@dataclass
class Catalog:
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


@dataclass
class Refills:
    """Each product's repurchase interval in days (0: not replenished) and the random stream
    replenishment draws from, apart from the main one."""

    days: Array
    rng: np.random.Generator


def epoch_day(d: date) -> int:
    """Days since 1970-01-01."""
    return (d - date(1970, 1, 1)).days
