"""Rebuild the derived ``customers`` table: one row per resolved person.

Identifiers come from ``identities`` (the first seen of each type); profile fields come from the
person's CRM records in ``customer_records``: the latest loaded non-empty value for name,
birthday, country and consent, and the earliest sign-up for ``signup_channel``/``signed_up_at``.
A channel's consent is overruled by the person's latest ``<channel>_unsubscribe`` or
``<channel>_subscribe`` event: an email tool reads ``email_consent`` from patron's exports, and
a CRM record that still says yes after someone unsubscribed must not send them mail.
"""

from __future__ import annotations

import duckdb

from patron.ingest.contract import IDENTIFIER_TYPES

_SEEN_FIRST = "strftime(first_seen, '%Y%m%d%H%M%S%f') || value"
"""An identifier's value behind its first-seen time as 20 fixed-width digits (years 0-9999; a
load refuses later dates), so the smallest string is the first seen identifier, the smallest
value among those seen at the same instant. It orders like the pair (first_seen, value) but
its min is 2x cheaper than ``arg_min`` over that pair at two million customers."""

_CONSENTS = ("email", "sms", "push")
_LATEST = ("name", "birthday", "country", *(f"{c}_consent" for c in _CONSENTS))


IDENTIFIERS_PER_PASS = 2_000_000
"""A whole rebuild groups at most about this many identifiers at a time (a range of customer
keys each), so that a pass fits in the default 1 GB memory limit instead of spilling: in a load
of 10M orders, 5.2M identifiers took 3.1 s in three passes, 3.8-4.8 s in one."""


def rebuild_customers(con: duckdb.DuckDBPyConnection, touched: str | None = None) -> None:
    """Replace ``customers`` from ``identities`` and ``customer_records``: every customer (in
    ranges of keys, ascending), or only the customers in table ``touched`` (column
    customer_key), each a function of their own identifiers and records alone."""
    if touched is not None:
        only = f" AND customer_key IN (SELECT customer_key FROM {touched})"
        con.execute(f"DELETE FROM customers WHERE true{only}")
        _insert(con, only)
        return
    con.execute("DELETE FROM customers")
    low, high, rows = con.execute(
        "SELECT min(customer_key), max(customer_key), count(*) FROM identities"
    ).fetchall()[0]
    if not rows:
        return
    step = -(-(high - low + 1) * IDENTIFIERS_PER_PASS // rows)
    for start in range(low, high + 1, step):
        _insert(con, f" AND customer_key BETWEEN {start} AND {start + step - 1}")


def _insert(con: duckdb.DuckDBPyConnection, only: str) -> None:
    """Add the customers that the condition ``only`` (`` AND ...`` on customer_key) picks."""
    first = ", ".join(
        f"substr(min({_SEEN_FIRST}) FILTER (WHERE identifier_type = '{t}'), 21) AS {t}"
        for t in IDENTIFIER_TYPES
    )
    latest = ", ".join(
        f"arg_max({c}, (load_id, source_row)) FILTER (WHERE {c} IS NOT NULL) AS {c}"
        for c in _LATEST
    )
    overruled = ", ".join(f"coalesce(_{c}_opted, {c}_consent) AS {c}_consent" for c in _CONSENTS)
    hidden = ", ".join(f"_{c}_opted" for c in _CONSENTS)
    con.execute(
        f"""INSERT INTO customers BY NAME
        WITH ids AS (
          SELECT customer_key, {first}, count(*) AS identifiers, min(first_seen) AS first_seen
          FROM identities WHERE true{only} GROUP BY customer_key),
        profile AS (
          SELECT customer_key, {latest},
            arg_min(signup_channel, coalesce(signed_up_at, TIMESTAMP '9999-12-31'))
              FILTER (WHERE signup_channel IS NOT NULL) AS signup_channel,
            min(signed_up_at) AS signed_up_at
          FROM customer_records WHERE customer_key IS NOT NULL{only} GROUP BY customer_key),
        opted AS ({_opted(only)})
        SELECT * EXCLUDE ({hidden}) REPLACE ({overruled})
        FROM ids LEFT JOIN profile USING (customer_key) LEFT JOIN opted USING (customer_key)
        ORDER BY customer_key"""
    )


def _opted(only: str) -> str:
    """Per customer and channel, whether their latest (un)subscribe event subscribed them
    (NULL without one). Of two at the same instant the unsubscribe wins; types are read in any
    case (``Email_Unsubscribe``), as an opt-out must never be missed for its spelling."""
    types = ", ".join(f"'{c}_{way}'" for c in _CONSENTS for way in ("subscribe", "unsubscribe"))
    verdicts = ", ".join(
        f"arg_max(kind = '{c}_subscribe', (occurred_at, kind = '{c}_unsubscribe')) "
        f"FILTER (WHERE kind IN ('{c}_subscribe', '{c}_unsubscribe')) AS _{c}_opted"
        for c in _CONSENTS
    )
    return (
        f"SELECT customer_key, {verdicts} FROM (SELECT *, lower(type) AS kind FROM events "
        f"WHERE customer_key IS NOT NULL AND lower(type) IN ({types}){only}) GROUP BY customer_key"
    )
