"""The customer 360: everything known about one person, found by any of their identifiers."""

from __future__ import annotations

import re
from typing import Any

import duckdb

from patron.arguments import as_whole
from patron.errors import InputError, NotFoundError
from patron.identity.normalize import EMAIL_PATTERN
from patron.identity.phones import normalize_phone
from patron.ingest.contract import IDENTIFIER_TYPES, cancelled_sql
from patron.ingest.customers import consent_sources
from patron.money import PLACES
from patron.sql import rows_as_dicts, scalar, tables

_ORDER_COLUMNS = (
    "order_id, ordered_at, order_date, channel, revenue, discount, currency, status, is_return, "
    f"return_of, {cancelled_sql()} AS cancelled"
)


def find_customer_key(
    con: duckdb.DuckDBPyConnection, identifier: str | int, *, phone_region: str
) -> int:
    """The key of the person with ``identifier`` (any type: email, phone, id, or the key, as
    text or as the integer patron's tables hold, numpy's included; ``loyalty_id:123`` or
    ``key:42`` names the type). Digits that are no identifier are read as a key, and a key
    merged into another finds the survivor. A value that is two people's identifiers (one's
    customer_id, another's loyalty_id) is refused: a 360 of the wrong person is worse than
    none."""
    text = _as_text(identifier).strip()
    found = _matches(con, text, phone_region)
    if len(set(found.values())) > 1:
        which = ", ".join(f"{kind}:{text} is customer {key}" for kind, key in found.items())
        raise InputError(f"{text!r} is more than one customer's ({which}); name the type")
    if found:
        return next(iter(found.values()))
    _say_why_not_found(con, text, phone_region)
    raise NotFoundError(
        f"no customer has the identifier {text!r}; try an email, phone, customer_id, "
        "loyalty_id or customer key as loaded"
    )


def _matches(con: duckdb.DuckDBPyConnection, text: str, phone_region: str) -> dict[str, int]:
    """Each reading of ``text`` that names a customer: its type -> the customer's key."""
    kind, _, value = text.partition(":")
    typed = kind in (*IDENTIFIER_TYPES, "key") and bool(value)
    found = {}
    for identifier_type, candidate in _candidates(value if typed else text, phone_region):
        if typed and identifier_type != kind:
            continue
        key = scalar(
            con,
            "SELECT customer_key FROM identities WHERE identifier_type = ? AND value = ?",
            identifier_type,
            candidate,
        )
        if key is not None:
            found[identifier_type] = int(key)
    number = value if typed else text  # a key is read when no identifier has the text
    if (kind == "key" if typed else not found) and number.isdigit():
        key = _survivor(con, int(number))
        if key is not None:
            found["key"] = key
    return found


def _survivor(con: duckdb.DuckDBPyConnection, key: int) -> int | None:
    """The live customer ``key`` is, or was merged into (through any chain of merges)."""
    survivor = scalar(
        con,
        """WITH RECURSIVE chain(key, depth) AS (
             SELECT CAST(? AS BIGINT), 0
             UNION ALL
             SELECT m.into_key, depth + 1 FROM customer_merges m JOIN chain c
               ON m.merged_key = c.key WHERE m.into_key IS NOT NULL AND depth < 10000)
           SELECT key FROM chain ORDER BY depth DESC LIMIT 1""",
        key,
    )
    alive = scalar(con, "SELECT customer_key FROM customers WHERE customer_key = ?", survivor)
    return None if alive is None else int(alive)


def _say_why_not_found(con: duckdb.DuckDBPyConnection, text: str, phone_region: str) -> None:
    """Raise a NotFoundError that says why ``text`` finds no one, where patron knows: it is a
    blocked identifier, or the key of a customer dissolved when its identifiers were."""
    for identifier_type, value in _candidates(text, phone_region):
        links = scalar(
            con,
            "SELECT links FROM blocked_identifiers WHERE identifier_type = ? AND value = ?",
            identifier_type,
            value,
        )
        if links is not None:
            raise NotFoundError(
                f"the {identifier_type} {value!r} is blocked: it links {links:,} identifiers "
                "(more than max_links in patron.toml), so it is nobody's; look the person up "
                "by another identifier"
            )
    if text.isdigit() and scalar(
        con, "SELECT 1 FROM customer_merges WHERE merged_key = ? AND into_key IS NULL", int(text)
    ):
        raise NotFoundError(
            f"customer {text} was dissolved: every identifier it had was blocked, so its "
            "orders and events belong to no one"
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
    purchases = [o for o in orders if not o["is_return"] and not o["cancelled"]]
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
        "consent_sources": consent_sources(con, key),
        "totals": {
            "orders": len(purchases),
            "revenue": round(sum(o["revenue"] for o in purchases), PLACES),
            "returns": len(refunds),
            "cancelled": sum(o["cancelled"] for o in orders),
            "refunded": round(sum(abs(o["revenue"]) for o in refunds), PLACES),
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
        "merged_from": [r["key"] for r in rows_as_dicts(con, _ABSORBED, key)],
        **_splits(con, key),
    }


def _splits(con: duckdb.DuckDBPyConnection, key: int) -> dict[str, Any]:
    """The keys split off this customer when an identifier that had united them was blocked,
    and the key it was split from (:mod:`patron.identity.split`): exports and experiments made
    before the split hold the old key for those people."""
    if "customer_splits" not in tables(con):  # a workspace not loaded since splits came
        return {"split_off": [], "split_from": None}
    off = con.execute(
        "SELECT new_key FROM customer_splits WHERE from_key = ? ORDER BY new_key", [key]
    ).fetchall()
    source = scalar(con, "SELECT from_key FROM customer_splits WHERE new_key = ?", key)
    return {"split_off": [k for (k,) in off], "split_from": source}


_ABSORBED = """WITH RECURSIVE absorbed(key) AS (
    SELECT merged_key FROM customer_merges WHERE into_key = ?
    UNION
    SELECT m.merged_key FROM customer_merges m JOIN absorbed a ON m.into_key = a.key)
  SELECT key FROM absorbed ORDER BY key"""
"""Every key merged into a customer, directly or through a chain of merges."""


def _candidates(identifier: str, phone_region: str) -> list[tuple[str, str]]:
    found = [("customer_id", identifier), ("loyalty_id", identifier)]
    if re.fullmatch(EMAIL_PATTERN, identifier.lower()):
        found.insert(0, ("email", identifier.lower()))
    phone = normalize_phone(identifier, phone_region)
    if phone:
        found.append(("phone", phone))
    return found
