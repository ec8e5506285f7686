"""Phone numbers to E.164, in the engine for the workspace's region, in Python otherwise.

The rules are libphonenumber's (the ``phonenumbers`` package): a number is valid when its national
significant number has a possible length and matches the region's general pattern and one of its
number-type patterns (fixed line, mobile, toll free, ...). For the workspace's region those
patterns are compiled into one SQL expression, so a million distinct numbers are checked in the
engine in a fraction of a second. Only candidates it does not accept (other countries, junk) are
parsed one by one with ``phonenumbers``; the engine never rejects a number Python would accept.
Results are cached in :data:`PHONE_CACHE`, so a reload parses nothing.
"""

from __future__ import annotations

import duckdb
import phonenumbers
import pyarrow as pa

from patron.ingest.parse import digits, text
from patron.sql import literal

PHONE_CACHE = "phone_numbers"
"""Warehouse table of phone candidates already checked, so reloads never re-parse them."""

_TYPE_DESCS = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
    "mobile",
)


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
    become one candidate and are checked once. A leading '00' is the international prefix."""
    s = digits(text(col, "VARCHAR"))
    d = f"regexp_replace({s}, '[^0-9]', '', 'g')"
    return (
        f"NULLIF(CASE WHEN {s} LIKE '00%' THEN '+' || substr({d}, 3) "
        f"WHEN {s} LIKE '+%' THEN '+' || {d} ELSE {d} END, '')"
    )


def region_e164_sql(candidate: str, region: str) -> str:
    """SQL giving the E.164 form of ``candidate`` when it is a valid number of ``region``
    (written nationally, with the national prefix, or with the country code), else NULL."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region.upper())
    if metadata is None:
        return "CAST(NULL AS VARCHAR)"
    cc = str(metadata.country_code)
    prefix = metadata.national_prefix or ""
    forms = [candidate]
    if prefix:
        forms.append(
            f"CASE WHEN {candidate} LIKE '{prefix}%' "
            f"THEN substr({candidate}, {len(prefix) + 1}) END"
        )
    forms.append(f"CASE WHEN {candidate} LIKE '+{cc}%' THEN substr({candidate}, {len(cc) + 2}) END")
    valid = " ".join(f"WHEN {_valid_sql(form, metadata)} THEN '+{cc}' || {form}" for form in forms)
    return f"CASE {valid} END"


def _valid_sql(national: str, metadata: phonenumbers.PhoneMetadata) -> str:
    general = _desc_sql(national, metadata.general_desc)
    types = [_desc_sql(national, getattr(metadata, name)) for name in _TYPE_DESCS]
    types = [t for t in types if t != "false"]
    return f"({general} AND ({' OR '.join(types) or 'false'}))"


def _desc_sql(national: str, desc: phonenumbers.PhoneNumberDesc | None) -> str:
    """libphonenumber's ``_is_number_matching_desc`` as SQL."""
    if desc is None or not desc.national_number_pattern:
        return "false"
    lengths = [n for n in desc.possible_length if n > 0]
    length = f"length({national}) IN ({', '.join(map(str, lengths))}) AND " if lengths else ""
    return f"({length}regexp_full_match({national}, {literal(desc.national_number_pattern)}))"


def ensure_phone_cache(
    con: duckdb.DuckDBPyConnection, raw_table: str, col: str, region: str
) -> None:
    """Check the phone candidates of ``raw_table`` not yet in the cache, once each.

    Raw values repeat (a customer's every order), so they are made distinct before the string
    clean-up runs on them.
    """
    con.execute(
        f"""CREATE TEMP TABLE _phones AS
        SELECT c AS candidate, {region_e164_sql("c", region)} AS e164
        FROM (SELECT DISTINCT {phone_candidate_sql("v")} AS c
              FROM (SELECT DISTINCT {col} AS v FROM {raw_table}))
        WHERE c IS NOT NULL AND c NOT IN (SELECT candidate FROM {PHONE_CACHE})"""
    )
    rest = [
        row[0]
        for row in con.execute(
            "SELECT candidate FROM _phones WHERE e164 IS NULL ORDER BY candidate"
        ).fetchall()
    ]
    if rest:
        parsed = pa.table({"candidate": rest, "e164": [normalize_phone(c, region) for c in rest]})
        con.register("_parsed_phones", parsed)
        con.execute(
            "UPDATE _phones SET e164 = p.e164 FROM _parsed_phones p "
            "WHERE _phones.candidate = p.candidate"
        )
        con.unregister("_parsed_phones")
    con.execute(f"INSERT INTO {PHONE_CACHE} SELECT candidate, e164 FROM _phones")
    con.execute("DROP TABLE _phones")
