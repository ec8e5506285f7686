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


_EXTENSION = r"(?i)[\s,]*(;\s*ext=|(extension|extn|ext|x|#)[.:]?)\s*[0-9]{1,7}#?$"
"""An extension after the number (``212-555-0143 ext. 12``, ``x12``, ``#12``, ``;ext=12``), as
libphonenumber reads them (so a profile lookup, which parses with it, finds the number too);
E.164 has no extension, so it is dropped."""


def normalize_phone(candidate: str, region: str) -> str | None:
    """E.164 form of a phone number, or None when it is not a valid number.

    A leading ``00`` is the international prefix, as loads read it (:func:`phone_candidate_sql`),
    so that a profile lookup finds ``00 1 212 555 0143`` where a load put it.
    """
    candidate = candidate.strip()
    if candidate.startswith("00"):
        candidate = "+" + candidate[2:]
    try:
        number = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_candidate_sql(col: str) -> str:
    """Formatting-free phone text: '+' and digits only, so '(212) 555-0143' and '212-555-0143'
    become one candidate and are checked once. A leading '00' is the international prefix; an
    extension (:data:`_EXTENSION`) is dropped, not run into the number's digits."""
    s = f"regexp_replace({digits(text(col, 'VARCHAR'))}, {literal(_EXTENSION)}, '')"
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


def phone_map(raw_table: str) -> str:
    """The table :func:`ensure_phone_cache` leaves for ``raw_table``: ``(value, e164)``."""
    return f"{raw_table}_phones"


def ensure_phone_cache(
    con: duckdb.DuckDBPyConnection, raw_table: str, col: str, region: str
) -> None:
    """Check the phone candidates of ``raw_table`` not yet in the cache, once each, and leave
    :func:`phone_map`: each distinct raw value with a valid number, and that number.

    Raw values repeat (a customer's every order), so the string clean-up runs once per distinct
    value, on a materialized table: a filter on the candidate written over the raw rows would
    be pushed below the DISTINCT and clean every row. Staging then joins on the raw value.
    """
    values = phone_map(raw_table)
    con.execute(
        f"CREATE TEMP TABLE {values}_pre AS SELECT v AS value, {phone_candidate_sql('v')} AS "
        f"candidate FROM (SELECT DISTINCT {col} AS v FROM {raw_table} WHERE {col} IS NOT NULL)"
    )
    con.execute(
        f"""CREATE TEMP TABLE _phones AS
        SELECT c AS candidate, {region_e164_sql("c", region)} AS e164
        FROM (SELECT DISTINCT candidate AS c FROM {values}_pre)
        WHERE c IS NOT NULL AND c NOT IN (SELECT candidate FROM {PHONE_CACHE})"""
    )
    _parse_rest(con, region)
    con.execute(f"INSERT INTO {PHONE_CACHE} SELECT candidate, e164 FROM _phones")
    con.execute("DROP TABLE _phones")
    con.execute(
        f"CREATE TEMP TABLE {values} AS SELECT p.value, c.e164 FROM {values}_pre p "
        f"JOIN {PHONE_CACHE} c ON c.candidate = p.candidate WHERE c.e164 IS NOT NULL"
    )
    con.execute(f"DROP TABLE {values}_pre")


def _parse_rest(con: duckdb.DuckDBPyConnection, region: str) -> None:
    """Numbers of ``_phones`` the engine did not accept, parsed by ``phonenumbers``."""
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
