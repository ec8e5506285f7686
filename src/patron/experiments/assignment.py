"""Who gets what: a salted hash of the customer key, so no stored state is needed to recompute it.

Each customer's position ``u`` in [0, 1) is the first 12 hex digits (48 bits) of
``md5(salt || ':' || customer_key)`` divided by 16^12. Groups own consecutive slices of [0, 1)
in the design's order (holdout first), sized by their shares. md5 is the same on every machine
and engine, so the assignment is stable across runs and machines; a different salt (by default
the experiment's name) gives an unrelated split, so experiments are independent. The 48 bits make
slices exact to 4e-15, far below any share a marketer sets.
"""

from __future__ import annotations

import hashlib
from itertools import accumulate
from typing import TYPE_CHECKING

import ibis

from patron.experiments.design import Design
from patron.portable import hex_fraction, md5_hex

if TYPE_CHECKING:
    from ibis import Table
    from ibis.expr.types import FloatingValue, StringValue

_DIGITS = 12
_SCALE = 16**_DIGITS


def position(salt: str, customer_key: int | str) -> float:
    """A customer's place in [0, 1) for ``salt`` (the reference the engine's SQL must match)."""
    digest = hashlib.md5(f"{salt}:{customer_key}".encode()).hexdigest()
    return int(digest[:_DIGITS], 16) / _SCALE


def group_of(design: Design, customer_key: int | str) -> str:
    """The group ``design`` puts one customer in (pure Python; for checks and small lists)."""
    u = position(design.salt, customer_key)
    for group, upper in _slices(design):
        if u < upper:
            return group
    return design.groups[-1]


def assign(customers: Table, design: Design) -> Table:
    """``customers`` (with ``customer_key``) plus its ``variant`` under ``design``."""
    u = _position_sql(customers.customer_key.cast("string"), design.salt)
    cases = ibis.cases(
        *((u < upper, group) for group, upper in _slices(design)[:-1]), else_=design.groups[-1]
    )
    return customers.mutate(variant=cases)


def _position_sql(key: StringValue, salt: str) -> FloatingValue:
    return hex_fraction(md5_hex(ibis.literal(f"{salt}:") + key), _DIGITS)


def _slices(design: Design) -> list[tuple[str, float]]:
    """Each group with the upper end of its slice of [0, 1)."""
    shares = design.shares
    uppers = list(accumulate(shares[g] for g in design.groups))
    return list(zip(design.groups, uppers, strict=True))
