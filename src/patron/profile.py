"""The customer 360: everything known about one person, found by any of their identifiers."""

from __future__ import annotations

import re
from typing import Any

import duckdb

from patron.arguments import as_whole
from patron.errors import InputError, NotFoundError
from patron.identity.normalize import EMAIL_PATTERN
from patron.identity.phones import normalize_phone
from patron.sql import rows_as_dicts, scalar

_ORDER_COLUMNS = (
    "order_id, ordered_at, order_date, channel, revenue, discount, currency, status, is_return, "
    "return_of"
)


def find_customer_key(
    con: duckdb.DuckDBPyConnection, identifier: str | int, *, phone_region: str
) -> int:
    """The key of the person with ``identifier`` (any type: email, phone, id, or the key, as
    text or as the integer patron's tables hold, numpy's included)."""
    identifier = _as_text(identifier)
    candidates = _candidates(identifier.strip(), phone_region)
    for identifier_type, value in candidates:
        key = scalar(
            con,
            "SELECT customer_key FROM identities WHERE identifier_type = ? AND value = ?",
            identifier_type,
            value,
        )
        if key is not None:
            return int(key)
    if identifier.strip().isdigit():
        key = scalar(
            con, "SELECT customer_key FROM customers WHERE customer_key = ?", int(identifier)
        )
        if key is not None:
            return int(key)
    raise NotFoundError(
        f"no customer has the identifier {identifier!r}; try an email, phone, customer_id, "
        "loyalty_id or customer key as loaded"
    )


def _as_text(identifier: object) -> str:
    """An identifier as the text it was loaded as: a key read from a table arrives as an
    integer (or a whole float, from a data frame with gaps), and means its digits."""
    if isinstance(identifier, str):
        return identifier
    try:
        return str(as_whole(identifier, "identifier"))
    except InputError:
        kind = type(identifier).__name__
        raise InputError(
            f"identifier must be text (an email, phone or id) or a customer key, not {kind}"
        ) from None


def customer_profile(
    con: duckdb.DuckDBPyConnection, identifier: str | int, *, phone_region: str
) -> dict[str, Any]:
    """The 360 profile of the person behind ``identifier``, as plain JSON-ready values."""
    key = find_customer_key(con, identifier, phone_region=phone_region)
    profile = rows_as_dicts(
        con, "SELECT * EXCLUDE (customer_key) FROM customers WHERE customer_key = ?", key
    )
    orders = rows_as_dicts(
        con,
        f"SELECT {_ORDER_COLUMNS} FROM orders WHERE customer_key = ? ORDER BY ordered_at, order_id",
        key,
    )
    purchases = [o for o in orders if not o["is_return"]]
    refunds = [o for o in orders if o["is_return"]]
    return {
        "customer_key": key,
        "identifiers": rows_as_dicts(
            con,
            "SELECT identifier_type AS type, value, source, first_seen FROM identities "
            "WHERE customer_key = ? ORDER BY identifier_type, first_seen, value",
            key,
        ),
        "profile": profile[0] if profile else {},
        "totals": {
            "orders": len(purchases),
            "revenue": round(sum(o["revenue"] for o in purchases), 2),
            "returns": len(orders) - len(purchases),
            "refunded": round(sum(abs(o["revenue"]) for o in refunds), 2),
            "first_purchase": min((o["ordered_at"] for o in purchases), default=None),
            "last_purchase": max((o["ordered_at"] for o in purchases), default=None),
        },
        "channels": sorted({o["channel"] for o in purchases if o["channel"]}),
        "orders": orders,
        "events": rows_as_dicts(
            con,
            "SELECT occurred_at, type, campaign_id, channel, properties FROM events "
            "WHERE customer_key = ? ORDER BY occurred_at DESC LIMIT 50",
            key,
        ),
        "merged_from": [
            r["merged_key"]
            for r in rows_as_dicts(
                con, "SELECT merged_key FROM customer_merges WHERE into_key = ? ORDER BY 1", key
            )
        ],
    }


def _candidates(identifier: str, phone_region: str) -> list[tuple[str, str]]:
    found = [("customer_id", identifier), ("loyalty_id", identifier)]
    if re.fullmatch(EMAIL_PATTERN, identifier.lower()):
        found.insert(0, ("email", identifier.lower()))
    phone = normalize_phone(identifier, phone_region)
    if phone:
        found.append(("phone", phone))
    return found
