"""Identifier normalization, so one person's identifiers compare equal across systems.

- email: trimmed and lower-cased; must look like ``local@domain.tld``.
- phone: E.164 (``+12125550143``) via Google's libphonenumber rules, reading numbers without a
  country code in the workspace's phone region; invalid numbers (``0000000000``) are dropped.
- customer_id, loyalty_id: trimmed, with Persian and Arabic-Indic digits made ASCII.
An identifier that does not normalize is kept in the row's attributes as ``invalid_<type>``.
"""

from __future__ import annotations

import duckdb
import phonenumbers
import pyarrow as pa

from patron.ingest.parse import digits, text

EMAIL_PATTERN = r"[^@\s]+@[^@\s]+\.[^@\s.]+"

PHONE_CACHE = "phone_numbers"
"""Warehouse table of phone candidates already checked, so reloads never re-parse them."""


def normalize_phone(candidate: str, region: str) -> str | None:
    """E.164 form of a phone number, or None when it is not a valid number."""
    try:
        number = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_candidate_sql(col: str) -> str:
    """Formatting-free phone text: '+' and digits only, so '(212) 555-0143' and '212-555-0143'
    become one candidate and are parsed once. A leading '00' is the international prefix."""
    s = digits(text(col, "VARCHAR"))
    d = f"regexp_replace({s}, '[^0-9]', '', 'g')"
    return (
        f"NULLIF(CASE WHEN {s} LIKE '00%' THEN '+' || substr({d}, 3) "
        f"WHEN {s} LIKE '+%' THEN '+' || {d} ELSE {d} END, '')"
    )


def identifier_sql(kind: str, col: str) -> str:
    """SQL for the normalized email, customer_id or loyalty_id in ``col`` (NULL when invalid).

    Phones are looked up in :data:`PHONE_CACHE` by :func:`phone_candidate_sql` instead.
    """
    if kind == "email":
        email = f"lower({text(col, 'VARCHAR')})"
        return f"CASE WHEN regexp_full_match({email}, '{EMAIL_PATTERN}') THEN {email} END"
    return digits(text(col, "VARCHAR"))


def ensure_phone_cache(
    con: duckdb.DuckDBPyConnection, raw_table: str, col: str, region: str
) -> None:
    """Parse the phone candidates of ``raw_table`` not yet in the cache, once each."""
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {PHONE_CACHE} "
        "(candidate VARCHAR PRIMARY KEY, region VARCHAR, e164 VARCHAR)"
    )
    new = con.execute(
        f"SELECT DISTINCT {phone_candidate_sql(col)} AS c FROM {raw_table} "
        f"WHERE c IS NOT NULL AND c NOT IN (SELECT candidate FROM {PHONE_CACHE})"
    ).fetchall()
    if not new:
        return
    candidates = [row[0] for row in new]
    parsed = pa.table(
        {
            "candidate": candidates,
            "region": [region] * len(candidates),
            "e164": [normalize_phone(c, region) for c in candidates],
        }
    )
    con.register("_new_phones", parsed)
    con.execute(f"INSERT INTO {PHONE_CACHE} SELECT * FROM _new_phones")
    con.unregister("_new_phones")
