"""SQL that parses and validates one source column into its contract kind.

Every builder returns a pair of DuckDB SQL expressions: the parsed value (NULL when the text is
empty or invalid) and the reason it is invalid (NULL when it is fine or empty). Parsing happens in
the engine, column at a time, so a file never passes through Python row by row.

Rules that matter to users (documented in docs/data-contract.md):
- Persian (۰-۹) and Arabic-Indic (٠-٩) digits, and the Arabic decimal and thousands separators,
  are normalized before numbers and dates are read.
- Amounts: ``1234.5`` and ``1,234.50`` are read; ``1,234`` or ``12,5`` are ambiguous without
  ``decimal_comma`` and are quarantined, never guessed. With ``decimal_comma``, ``12,5`` and
  ``1.234,50`` are read and ``12.5`` is ambiguous.
- Timestamps: ISO 8601 with or without an offset (naive ones are in the workspace timezone),
  or ``date_format`` (strptime codes); anything after the load time or before 1900 is rejected.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from patron.ingest.contract import Kind

_DIGITS_FROM = "۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩٫"
_DIGITS_TO = "01234567890123456789."
_CURRENCY = r"[\s$€£¥₹﷼]"
_TEXT_TYPES = ("VARCHAR",)
_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")


@dataclass(frozen=True)
class ParseOptions:
    """How ambiguous text is read; set per load from the CLI options."""

    timezone: str
    currency: str
    now: datetime
    date_format: str | None = None
    decimal_comma: bool = False


def text(col: str, source_type: str) -> str:
    """Trimmed text; the empty string is NULL."""
    return f"NULLIF(trim(CAST({col} AS VARCHAR)), '')"


def digits(expr: str) -> str:
    """Map Persian and Arabic-Indic digits to ASCII and drop the Arabic thousands separator."""
    return f"replace(translate({expr}, '{_DIGITS_FROM}', '{_DIGITS_TO}'), '٬', '')"


def parse(kind: Kind, col: str, source_type: str, options: ParseOptions) -> tuple[str, str]:
    """The (value, reason) SQL pair for a column of ``kind``."""
    if kind in ("text", "identifier"):
        return text(col, source_type), "NULL"
    builder = {
        "money": _money,
        "number": _number,
        "bool": _bool,
        "date": _date,
        "timestamp": _timestamp,
    }[kind]
    return builder(col, source_type, options)


def _numeric_text(col: str, options: ParseOptions) -> tuple[str, str]:
    """Canonical decimal text (or NULL) and the reason text is not a number."""
    s = f"regexp_replace({digits(text(col, 'VARCHAR'))}, '^{_CURRENCY}+|{_CURRENCY}+$', '', 'g')"
    if options.decimal_comma:
        plain, grouped = r"^[+-]?\d+(,\d+)?$", r"^[+-]?\d{1,3}(\.\d{3})+(,\d+)?$"
        value = (
            f"CASE WHEN regexp_full_match({s}, '{plain}') THEN replace({s}, ',', '.') "
            f"WHEN regexp_full_match({s}, '{grouped}') "
            f"THEN replace(replace({s}, '.', ''), ',', '.') END"
        )
        ambiguous = rf"regexp_full_match({s}, '^[+-]?[\d.,]+$')"
        hint = "with --decimal-comma a dot is only a thousands separator (1.234,50)"
    else:
        plain, grouped = r"^[+-]?(\d+(\.\d*)?|\.\d+)$", r"^[+-]?\d{1,3}(,\d{3})+\.\d+$"
        value = (
            f"CASE WHEN regexp_full_match({s}, '{plain}') THEN {s} "
            f"WHEN regexp_full_match({s}, '{grouped}') THEN replace({s}, ',', '') END"
        )
        ambiguous = f"{s} LIKE '%,%' AND regexp_full_match({s}, '^[+-]?[\\d.,]+$')"
        hint = "a comma may be a decimal or a thousands separator; pass --decimal-comma if decimal"
    reason = (
        f"CASE WHEN {s} IS NULL OR ({value}) IS NOT NULL THEN NULL "
        f"WHEN {ambiguous} THEN 'ambiguous amount: {hint}' ELSE 'not a number' END"
    )
    return value, reason


def _number_of(col: str, source_type: str, options: ParseOptions, sql_type: str) -> tuple[str, str]:
    if source_type not in _TEXT_TYPES:
        return f"TRY_CAST({col} AS {sql_type})", (
            f"CASE WHEN {col} IS NOT NULL AND TRY_CAST({col} AS {sql_type}) IS NULL "
            "THEN 'number out of range' END"
        )
    value, reason = _numeric_text(col, options)
    parsed = f"TRY_CAST({value} AS {sql_type})"
    out_of_range = f"CASE WHEN ({value}) IS NOT NULL AND {parsed} IS NULL THEN 'out of range' END"
    return parsed, f"coalesce({reason}, {out_of_range})"


def _money(col: str, source_type: str, options: ParseOptions) -> tuple[str, str]:
    return _number_of(col, source_type, options, "DECIMAL(18,2)")


def _number(col: str, source_type: str, options: ParseOptions) -> tuple[str, str]:
    return _number_of(col, source_type, options, "DOUBLE")


def _bool(col: str, source_type: str, options: ParseOptions) -> tuple[str, str]:
    if source_type == "BOOLEAN":
        return col, "NULL"
    s = f"lower({text(col, source_type)})"
    value = f"CASE WHEN {s} IN {_TRUE} THEN true WHEN {s} IN {_FALSE} THEN false END"
    reason = (
        f"CASE WHEN {s} IS NOT NULL AND ({value}) IS NULL THEN 'not true/false (yes/no, 1/0)' END"
    )
    return value, reason


def _date(col: str, source_type: str, options: ParseOptions) -> tuple[str, str]:
    if source_type.startswith(("DATE", "TIMESTAMP")):
        return f"CAST({col} AS DATE)", "NULL"
    s = digits(text(col, source_type))
    value = (
        f"CAST(try_strptime({s}, '{options.date_format}') AS DATE)"
        if options.date_format
        else f"TRY_CAST({s} AS DATE)"
    )
    return value, _date_reason(s, value, options)


def _timestamp(col: str, source_type: str, options: ParseOptions) -> tuple[str, str]:
    """An instant as TIMESTAMPTZ; the loader stores it as UTC."""
    tz = options.timezone
    if source_type == "TIMESTAMP WITH TIME ZONE":
        value = col
    elif source_type.startswith(("TIMESTAMP", "DATE")):
        value = f"timezone('{tz}', CAST({col} AS TIMESTAMP))"
    else:
        s = digits(text(col, source_type))
        fmt = options.date_format
        if fmt and ("%z" in fmt or "%Z" in fmt):
            value = f"try_strptime({s}, '{fmt}')"
        elif fmt:
            value = f"timezone('{tz}', try_strptime({s}, '{fmt}'))"
        else:
            value = f"TRY_CAST({s} AS TIMESTAMPTZ)"
        return value, _date_reason(s, value, options)
    return value, _range_reason(value, options)


def _date_reason(s: str, value: str, options: ParseOptions) -> str:
    expected = (
        f"does not match --date-format {options.date_format}"
        if options.date_format
        else "not an ISO 8601 date (2024-03-01 or 2024-03-01 14:30:00+01:00); "
        "pass --date-format for other layouts"
    )
    return (
        f"CASE WHEN {s} IS NOT NULL AND ({value}) IS NULL THEN '{expected}' "
        f"ELSE {_range_reason(value, options)} END"
    )


def _range_reason(value: str, options: ParseOptions) -> str:
    now = options.now.isoformat()
    return (
        f"CASE WHEN CAST({value} AS TIMESTAMPTZ) > TIMESTAMPTZ '{now}' "
        "THEN 'in the future (after the time of this load)' "
        f"WHEN CAST({value} AS TIMESTAMPTZ) < TIMESTAMPTZ '1900-01-01 00:00:00+00' "
        "THEN 'implausibly old (before 1900)' END"
    )
