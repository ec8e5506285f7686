"""SQL that parses and validates one source column into its contract kind.

Every builder returns a pair of DuckDB SQL expressions: the parsed value (NULL when the text is
empty or invalid) and the reason it is invalid (NULL when it is fine or empty). Parsing happens in
the engine, column at a time, so a file never passes through Python row by row.

Rules that matter to users (documented in docs/data-contract.md):
- Persian (۰-۹) and Arabic-Indic (٠-٩) digits, and the Arabic decimal and thousands separators,
  are normalized before numbers and dates are read; surrounding whitespace (tabs and NUL
  padding included) goes.
- Scientific notation (``1e5``) is not an amount: it is what spreadsheets write after rounding.
- Amounts: ``1234.5`` and ``1,234.50`` are read; ``1,234`` or ``12,5`` are ambiguous without
  ``decimal_comma`` and are quarantined, never guessed. With ``decimal_comma``, ``12,5`` and
  ``1.234,50`` are read and ``12.5`` is ambiguous.
- Timestamps: ISO 8601 with or without an offset (naive ones are in the workspace timezone),
  also with one space before a numeric offset (Shopify's ``2024-03-05 14:02:11 +0100``),
  or ``date_format`` (strptime codes); anything after the load time or before 1900 is rejected.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

from patron.errors import InputError, option, spelled
from patron.ingest.contract import Kind
from patron.ingest.raw import is_nested
from patron.sql import literal

_DIGITS_FROM = "۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩٫٬"
_DIGITS_TO = "01234567890123456789.,"
_CURRENCY = r"[\s$€£¥₹﷼]"
_NUMBER_TYPES = frozenset(
    f"{sign}{size}"
    for sign in ("", "U")
    for size in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT")
) | {"FLOAT", "DOUBLE"}
_ZONED = ("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ_NS")
"""Zoned times (instants): DuckDB reads nanosecond ones (pandas' ``datetime64[ns, tz]``) as the
second type, which it does not cast to a naive TIMESTAMP."""
_SPACES = (32, 9, 10, 13, 160, 65279, 0)
"""Characters around text that are not part of it: NUL included, the padding of fixed-width and
C exports, which would otherwise keep one person's email apart from itself."""
_WHITESPACE = " || ".join(f"chr({c})" for c in _SPACES)
_SPACE_CLASS = "[" + "".join(f"\\x{{{c:x}}}" for c in _SPACES) + "]"
_EDGE_SPACE = f"'^{_SPACE_CLASS}|{_SPACE_CLASS}$'"
"""Text that starts or ends with one of ``_SPACES``: the only text ``trim`` changes."""
_PLAIN = r"^[+-]?(\d+\.?\d*|\.\d+)$"
_ISO_SHAPE = r"\d{4}-\d{1,2}-\d{1,2}([T ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)? ?(Z|[+-]\d{2}(:?\d{2})?)?"
"""The layout of ISO 8601 dates and times, whatever their numbers."""
IMPOSSIBLE_TIME = (
    "not an ISO 8601 date: no such day or time (a day, month, hour or offset out of range)"
)
"""The reason of ISO-looking text that no calendar has."""
_TRUE = ("true", "t", "yes", "y", "1", "subscribed", "opted_in")
_FALSE = ("false", "f", "no", "n", "0", "unsubscribed", "never_subscribed", "opted_out")
"""Yes and no as text, and as email tools export a consent (Klaviyo's ``NEVER_SUBSCRIBED``,
Mailchimp's ``unsubscribed``; ``pending``, an opt-in not yet confirmed, is neither)."""


@dataclass(frozen=True)
class ParseOptions:
    """How ambiguous text is read; set per load from the CLI options."""

    timezone: str
    currency: str
    now: datetime
    date_format: str | None = None
    decimal_comma: bool = False
    money: str = "DECIMAL(18,2)"
    """The type the target table stores amounts in (:mod:`patron.money`)."""

    def __post_init__(self) -> None:
        if self.date_format is not None:
            check_date_format(self.date_format)


def check_date_format(layout: str) -> None:
    """Refuse a layout DuckDB's strptime does not know (``%Q``, a trailing ``%``) before any
    row is read: the engine would fail the load on it with its own words and a traceback."""
    try:
        with duckdb.connect() as con:
            con.execute("SELECT try_strptime('', ?)", [layout])
    except duckdb.Error as exc:
        detail = str(exc).split(": ", 2)[-1]
        raise InputError(
            f"{option('date_format')} {layout!r} is not a strptime layout ({detail}); "
            "use codes such as %d/%m/%Y %H:%M"
        ) from exc


def text(col: str, source_type: str) -> str:
    """Text without surrounding whitespace (spaces, tabs, line breaks, no-break spaces, NULs);
    the empty string is NULL. Objects and lists are their JSON (DuckDB's own text of a struct
    drops the quotes around its strings)."""
    s = f"CAST({f'to_json({col})' if is_nested(source_type) else col} AS VARCHAR)"
    # trim with a character list is slow; most text has nothing to trim, which a regex tells fast
    trimmed = (
        f"CASE WHEN regexp_matches({s}, {_EDGE_SPACE}) THEN trim({s}, {_WHITESPACE}) ELSE {s} END"
    )
    return f"NULLIF({trimmed}, '')"


def digits(expr: str) -> str:
    """Map Persian and Arabic-Indic digits to ASCII, and the Arabic decimal and thousands
    separators to '.' and ',' (so a misplaced separator is as ambiguous as an ASCII one)."""
    translated = f"translate({expr}, '{_DIGITS_FROM}', '{_DIGITS_TO}')"
    return f"CASE WHEN regexp_matches({expr}, '[^\\x00-\\x7F]') THEN {translated} ELSE {expr} END"


def parse(kind: Kind, col: str, source_type: str, options: ParseOptions) -> tuple[str, str]:
    """The (value, reason) SQL pair for a column of ``kind``, as standalone expressions.

    The loader evaluates the two at different levels (:func:`value_sql`, then
    :func:`reason_sql` on the parsed column) so no row is parsed twice.
    """
    value = value_sql(kind, col, source_type, options)
    return value, reason_sql(kind, text(col, source_type), f"({value})", source_type, options)


def value_sql(kind: Kind, col: str, source_type: str, options: ParseOptions) -> str:
    """SQL for the parsed value of ``col`` (NULL when empty or invalid)."""
    if kind in ("text", "identifier"):
        return text(col, source_type)
    if kind in ("money", "number"):
        sql_type = options.money if kind == "money" else "DOUBLE"
        if _is_number(source_type):
            return f"TRY_CAST({col} AS {sql_type})"
        return _number_text(col, options, sql_type)
    if kind == "bool":
        return col if source_type == "BOOLEAN" else _bool_text(col)
    if kind == "date":
        return f"CAST({col} AS DATE)" if _is_time(source_type) else _date_text(col, options)
    return _timestamp(col, source_type, options)


def _is_number(source_type: str) -> bool:
    """A typed number column (Parquet, a data frame): cast as it is. Any other type (a boolean
    for an amount, a date) is read as its text, so it is quarantined, never taken as 1 or 0."""
    return source_type.startswith("DECIMAL") or source_type in _NUMBER_TYPES


def _is_time(source_type: str) -> bool:
    return source_type.startswith(("TIMESTAMP", "DATE"))


def reason_sql(kind: Kind, raw: str, value: str, source_type: str, options: ParseOptions) -> str:
    """SQL for why ``raw`` (trimmed source text) did not parse into ``value``, else NULL."""
    if kind in ("text", "identifier"):
        return "NULL"
    failed = f"{raw} IS NOT NULL AND {value} IS NULL"
    if kind in ("money", "number"):
        why = "'number out of range'"
        if not _is_number(source_type):
            why = _number_reason(raw, options)
        return f"CASE WHEN {failed} THEN {why} END"
    if kind == "bool":
        return f"CASE WHEN {failed} THEN 'not true/false (yes/no, 1/0)' END"
    instant = value if kind == "date" else f"timezone('UTC', {value})"
    now = options.now.isoformat()
    return (
        f"CASE WHEN {failed} THEN {_time_reason(raw, options)} "
        f"WHEN CAST({instant} AS TIMESTAMPTZ) > TIMESTAMPTZ '{now}' "
        "THEN 'in the future (after the time of this load)' "
        f"WHEN CAST({instant} AS TIMESTAMPTZ) < TIMESTAMPTZ '1900-01-01 00:00:00+00' "
        f"THEN {_too_old(raw, source_type)} END"
    )


def _too_old(raw: str, source_type: str) -> str:
    """Why a date before 1900 is refused; in Persian digits it is most likely a Solar Hijri
    date (``۱۳۷۰-۰۲-۱۵``, a birthday in 1991), which only the source can convert."""
    old = "'implausibly old (before 1900)'"
    if source_type != "VARCHAR":
        return old
    hijri = (
        "'implausibly old (before 1900): in Persian digits, likely a Solar Hijri (Persian "
        "calendar) date; convert it to the Gregorian calendar'"
    )
    return f"CASE WHEN regexp_matches({raw}, '[۰-۹]') THEN {hijri} ELSE {old} END"


def _time_reason(raw: str, options: ParseOptions) -> str:
    """Why text did not read as a date or time. ISO text that no calendar has (``1990-02-30``,
    month 13) says so: the hint to pass another layout would send the user looking for one."""
    if options.date_format:  # the reason is kept with the row: it names the option as run
        return literal(f"does not match {option('date_format')} {options.date_format}")
    layout = (
        "'not an ISO 8601 date (2024-03-01 or 2024-03-01 14:30:00+01:00); "
        f"pass {option('date_format')} for other layouts'"
    )
    iso = f"regexp_full_match({digits(f'CAST({raw} AS VARCHAR)')}, '{_ISO_SHAPE}')"
    return f"CASE WHEN {iso} THEN '{IMPOSSIBLE_TIME}' ELSE {layout} END"


def _clean_number(col: str) -> str:
    """Number text with ASCII digits and no currency symbol around it. A sign may stand
    before the symbol (``-$5.00``, how US shops and spreadsheets write a refund) as well as
    after it (``$-5.00``): the sign stays, the symbol goes."""
    s = digits(text(col, "VARCHAR"))
    leading = f"regexp_replace({s}, '^([+-]?){_CURRENCY}+', '\\1')"
    return f"regexp_replace({leading}, '{_CURRENCY}+$', '')"


def _number_text(col: str, options: ParseOptions, sql_type: str) -> str:
    """Plain numbers cast directly; only the rest go through the separator rules."""
    s = _clean_number(col)
    if options.decimal_comma:
        plain, grouped = r"^[+-]?\d+(,\d+)?$", r"^[+-]?\d{1,3}(\.\d{3})+(,\d+)?$"
        return (
            f"TRY_CAST(CASE WHEN regexp_full_match({s}, '{plain}') THEN replace({s}, ',', '.') "
            f"WHEN regexp_full_match({s}, '{grouped}') "
            f"THEN replace(replace({s}, '.', ''), ',', '.') END AS {sql_type})"
        )
    raw = text(col, "VARCHAR")
    fast = f"CASE WHEN NOT regexp_matches({raw}, '[_eE]') THEN TRY_CAST({raw} AS {sql_type}) END"
    grouped = r"^[+-]?\d{1,3}(,\d{3})+\.\d+$"
    careful = (
        f"TRY_CAST(CASE WHEN regexp_full_match({s}, '{grouped}') THEN replace({s}, ',', '') "
        f"WHEN regexp_full_match({s}, '{_PLAIN}') THEN {s} END AS {sql_type})"
    )
    return _fallback(fast, careful)


def _number_reason(raw: str, options: ParseOptions) -> str:
    """Why number text did not read: a plain number too big for money (18 digits in all, two or
    three of them after the point; "not a number" sent users looking for a typo), an ambiguous
    separator, or no number at all."""
    s = _clean_number(raw)
    flag = spelled("--decimal-comma", "decimal_comma=True")
    if options.decimal_comma:
        plain = rf"regexp_full_match({s}, '^[+-]?\d+(,\d+)?$')"
        ambiguous = rf"regexp_full_match({s}, '^[+-]?[\d.,]+$')"
        hint = f"with {flag} a dot is only a thousands separator (1.234,50)"
    else:
        plain = f"regexp_full_match({s}, '{_PLAIN}')"
        ambiguous = rf"contains({s}, ',') AND regexp_full_match({s}, '^[+-]?[\d.,]+$')"
        hint = f"a comma may be a decimal or a thousands separator; pass {flag} if decimal"
    return (
        f"CASE WHEN {plain} THEN 'number out of range' "
        f"WHEN {ambiguous} THEN 'ambiguous amount: {hint}' ELSE 'not a number' END"
    )


def _bool_text(col: str) -> str:
    s = f"trim(regexp_replace(lower({text(col, 'VARCHAR')}), '[^a-z0-9]+', '_', 'g'), '_')"
    return f"CASE WHEN {s} IN {_TRUE} THEN true WHEN {s} IN {_FALSE} THEN false END"


def _date_text(col: str, options: ParseOptions) -> str:
    s = digits(text(col, "VARCHAR"))
    if options.date_format:
        return f"CAST(try_strptime({s}, {literal(options.date_format)}) AS DATE)"
    return f"CASE WHEN {_starts_with_digit(s)} THEN TRY_CAST({s} AS DATE) END"


def _timestamp(col: str, source_type: str, options: ParseOptions) -> str:
    """An instant, as a naive UTC TIMESTAMP (how patron stores time)."""
    tz = options.timezone
    if source_type in _ZONED:
        instant = f"CAST({col} AS TIMESTAMPTZ)"
    elif _is_time(source_type):
        if tz == "UTC":  # already the stored form: no timezone arithmetic per row
            return f"CAST({col} AS TIMESTAMP)"
        instant = f"timezone('{tz}', CAST({col} AS TIMESTAMP))"
    else:
        raw = text(col, source_type)
        s = digits(raw)
        fmt = options.date_format
        if fmt and ("%z" in fmt or "%Z" in fmt):
            instant = f"try_strptime({s}, {literal(fmt)})"
        elif fmt:
            instant = f"timezone('{tz}', try_strptime({s}, {literal(fmt)}))"
        else:  # ASCII text casts directly; other digits and layouts are reworked first
            fast = f"CASE WHEN {_starts_with_digit(raw)} THEN TRY_CAST({raw} AS TIMESTAMPTZ) END"
            careful = (
                f"CASE WHEN {_starts_with_digit(s)} THEN TRY_CAST({_joined_offset(s)} AS "
                "TIMESTAMPTZ) END"
            )
            instant = f"CASE WHEN NOT {_impossible_offset(raw)} THEN {_fallback(fast, careful)} END"
    return f"CAST(({instant}) AT TIME ZONE 'UTC' AS TIMESTAMP)"


def _impossible_offset(raw: str) -> str:
    """Text whose time ends in an offset no clock shows (hours past 14, minutes past 59):
    DuckDB reads ``+25:00`` and even ``+99`` as offsets, which would load a wrong instant."""
    time = r":\d\d(\.\d+)? ?[+-]"
    return rf"regexp_matches({raw}, '{time}(1[5-9]|[2-9]\d)(:?\d\d)?$|{time}\d\d:?[6-9]\d$')"


def _joined_offset(s: str) -> str:
    """``2024-03-05 14:02:11 +0100`` (Shopify's and Ruby's layout) without the space before the
    offset (or ``Z``), which DuckDB does not read; one space only, anything looser is not
    guessed."""
    return f"regexp_replace({s}, '(\\d) ([+-]\\d\\d(:?\\d\\d)?|Z)$', '\\1\\2')"


def _fallback(fast: str, careful: str) -> str:
    """``fast``, else ``careful``: DuckDB's CASE evaluates a branch only for rows that reach it
    (COALESCE evaluates every argument), so the careful path costs only the unusual rows."""
    return f"CASE WHEN ({fast}) IS NOT NULL THEN {fast} ELSE {careful} END"


def _starts_with_digit(s: str) -> str:
    """Guards casts from words DuckDB reads as times ('epoch', 'infinity')."""
    return f"left({s}, 1) BETWEEN '0' AND '9'"
