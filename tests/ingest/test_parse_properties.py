"""Property tests of the SQL parsers, run in DuckDB exactly as the loader runs them.

Each test builds the parse SQL with :func:`patron.ingest.parse.parse` (or the identifier
normalization) over a one-column VARCHAR table in an in-memory DuckDB and checks it against
values formatted in Python.
"""

from __future__ import annotations

import unicodedata
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import duckdb
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from patron.ingest.contract import Kind
from patron.ingest.parse import ParseOptions, parse, text

CON = duckdb.connect()
CON.execute("SET TimeZone = 'UTC'")
OPTIONS = ParseOptions(
    timezone="America/New_York", currency="USD", now=datetime(2200, 1, 1, tzinfo=UTC)
)
COMMA = replace(OPTIONS, decimal_comma=True)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
PERSIAN = str.maketrans("0123456789.,", "۰۱۲۳۴۵۶۷۸۹٫٬")
ARABIC_INDIC = str.maketrans("0123456789.,", "٠١٢٣٤٥٦٧٨٩٫٬")
PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
SETTINGS = settings(max_examples=40, deadline=None)


def run(kind: Kind, texts: list[str | None], options: ParseOptions) -> list[tuple[object, ...]]:
    """(value, reason) for each text; money as Decimal, timestamps as UTC epoch microseconds."""
    CON.execute("CREATE OR REPLACE TEMP TABLE src (v VARCHAR)")
    CON.executemany("INSERT INTO src VALUES (?)", [[t] for t in texts])
    value, reason = parse(kind, "v", "VARCHAR", options)
    if kind == "timestamp":
        value = f"epoch_us(CAST(({value}) AS TIMESTAMP))"
    return CON.execute(f"SELECT {value}, {reason} FROM src ORDER BY rowid").fetchall()


def money(texts: list[str], options: ParseOptions = OPTIONS) -> list[tuple[object, ...]]:
    return run("money", list(texts), options)


def normalize_emails(texts: list[str | None]) -> list[str | None]:
    from patron.identity.normalize import identifier_sql

    CON.execute("CREATE OR REPLACE TEMP TABLE src (v VARCHAR)")
    CON.executemany("INSERT INTO src VALUES (?)", [[t] for t in texts])
    sql = f"SELECT {identifier_sql('email', 'v')} FROM src ORDER BY rowid"
    return [row[0] for row in CON.execute(sql).fetchall()]


amounts = st.decimals(
    min_value=Decimal("-999999999999.99"),
    max_value=Decimal("999999999999.99"),
    places=2,
    allow_nan=False,
    allow_infinity=False,
)


def comma_style(text: str) -> str:
    """'1,234.50' -> '1.234,50'."""
    return text.translate(str.maketrans(".,", ",."))


# --- amounts -----------------------------------------------------------------------------------


@SETTINGS
@given(amounts)
@example(Decimal("0.00"))
@example(Decimal("-0.01"))
@example(Decimal("1234.50"))
@example(Decimal("-999999999999.99"))
def test_amounts_round_trip_in_every_written_form(amount: Decimal) -> None:
    plain, grouped = f"{amount:.2f}", f"{amount:,.2f}"
    forms = [
        plain,
        grouped,
        plain.translate(PERSIAN),
        grouped.translate(PERSIAN),
        plain.translate(ARABIC_INDIC),
        grouped.translate(ARABIC_INDIC),
        f" {plain} ",
    ]
    assert money(forms) == [(amount, None)] * len(forms), forms


@SETTINGS
@given(amounts)
@example(Decimal("1234.50"))
@example(Decimal("12.50"))
def test_decimal_comma_amounts_round_trip(amount: Decimal) -> None:
    plain, grouped = f"{amount:.2f}", f"{amount:,.2f}"
    forms = [
        comma_style(plain),
        comma_style(grouped),
        comma_style(grouped).translate(PERSIAN_DIGITS),
    ]
    assert money(forms, COMMA) == [(amount, None)] * len(forms), forms


@SETTINGS
@given(st.integers(min_value=1, max_value=999), st.integers(min_value=0, max_value=999))
def test_a_lone_separator_with_three_digits_is_ambiguous(head: int, tail: int) -> None:
    # "1,234" could be 1234 or 1.234: quarantined, never guessed.
    ((value, reason),) = money([f"{head},{tail:03d}"])
    assert value is None
    assert str(reason).startswith("ambiguous amount")


@pytest.mark.parametrize("text", ["۱۲٬۵", "1٬5", "۱٬۲۳٫۵۰"])
def test_misplaced_arabic_thousands_separator_is_not_guessed(text: str) -> None:
    ((value, reason),) = money([text])
    assert value is None
    assert reason is not None


@st.composite
def has_a_letter(draw: st.DrawFn) -> str:
    text = draw(st.text(min_size=1, max_size=12))
    letter = draw(st.characters(categories=["Lu", "Ll", "Lo"]).filter(lambda c: c not in "eE"))
    at = draw(st.integers(min_value=0, max_value=len(text)))
    return text[:at] + letter + text[at:]


@SETTINGS
@given(has_a_letter(), st.booleans())
@example("abc", False)
@example("NaN", False)
@example("inf", True)
@example("Infinity", False)
@example("0x10", False)
@example("twelve", True)
@example("دوازده", False)
def test_text_with_a_letter_is_never_a_number(text: str, decimal_comma: bool) -> None:
    assert any(unicodedata.category(c).startswith("L") for c in text)
    ((value, reason),) = money([text], COMMA if decimal_comma else OPTIONS)
    assert value is None
    assert reason is not None


malformed = st.builds(
    lambda a, b, c, shape: shape.format(a=a, b=b, c=c),
    st.integers(0, 9999),
    st.integers(0, 9999),
    st.integers(0, 9999),
    st.sampled_from(
        ["{a}.{b}.{c}", "--{a}", "{a}..{b}", "{a}-{b}", "+-{a}", "{a}.{b}+", "{a} {b}.{c}"]
    ),
)


@SETTINGS
@given(malformed, st.booleans())
def test_malformed_digit_strings_are_never_numbers(text: str, decimal_comma: bool) -> None:
    if decimal_comma:  # the same shapes with the separators' roles swapped
        text = comma_style(text)
    ((value, reason),) = money([text], COMMA if decimal_comma else OPTIONS)
    assert value is None
    assert reason is not None


@pytest.mark.parametrize("text", ["1e5", "2.5E+03"])
def test_scientific_notation_is_read_the_same_way_in_both_modes(text: str) -> None:
    assert money([text]) == money([text], COMMA) == [(None, "not a number")]


def test_empty_amount_is_neither_value_nor_error() -> None:
    assert money(["", "   "]) == [(None, None), (None, None)]
    assert run("money", [None], OPTIONS) == [(None, None)]


# --- timestamps --------------------------------------------------------------------------------

offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
instants = st.datetimes(
    min_value=datetime(1901, 1, 1), max_value=datetime(2199, 1, 1), timezones=offsets
)


def epoch_us(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1)


@SETTINGS
@given(instants)
@example(datetime(2024, 1, 5, 23, 30, tzinfo=timezone(timedelta(hours=-5))))
@example(datetime(2024, 1, 6, 1, 0, tzinfo=timezone(timedelta(hours=3, minutes=30))))
def test_iso_timestamps_with_offset_are_the_same_utc_instant(moment: datetime) -> None:
    forms = [
        moment.isoformat(),
        moment.isoformat(sep=" "),
        moment.isoformat().translate(PERSIAN),
    ]
    if moment.utcoffset() == timedelta(0):
        forms.append(moment.replace(tzinfo=None).isoformat() + "Z")
    expected = epoch_us(moment)
    assert run("timestamp", forms, OPTIONS) == [(expected, None)] * len(forms), forms


@SETTINGS
@given(instants)
def test_timestamps_after_now_are_rejected_as_future(moment: datetime) -> None:
    now = datetime(2020, 1, 1, tzinfo=UTC)
    ((value, reason),) = run("timestamp", [moment.isoformat()], replace(OPTIONS, now=now))
    if moment > now:
        assert reason == "in the future (after the time of this load)"
    else:
        assert (value, reason) == (epoch_us(moment), None)


# --- email normalization -----------------------------------------------------------------------

emails = st.builds(
    lambda local, domain: f"{local}@{domain}",
    st.from_regex(r"[A-Za-z0-9._%+-]{1,16}", fullmatch=True),
    st.from_regex(r"[A-Za-z0-9-]{1,12}(\.[A-Za-z0-9-]{1,12}){0,2}\.[A-Za-z]{2,6}", fullmatch=True),
)


@SETTINGS
@given(
    emails, st.integers(0, 3), st.integers(0, 3), st.sampled_from(["upper", "swapcase", "title"])
)
@example("Ana.Maria+shop@Example.COM", 1, 2, "upper")
def test_email_normalization_ignores_case_and_surrounding_spaces(
    email: str, left: int, right: int, case: str
) -> None:
    variant = " " * left + getattr(email, case)() + " " * right
    normalized, from_variant = normalize_emails([email, variant])
    assert normalized == email.lower()
    assert from_variant == normalized


@SETTINGS
@given(st.one_of(emails, st.text(max_size=30)))
@example(" A@B.CO ")
@example("not an email")
def test_email_normalization_is_idempotent(text: str) -> None:
    (once,) = normalize_emails([text])
    (twice,) = normalize_emails([once])
    assert twice == once


@pytest.mark.parametrize("pad", ["\t", "\n", "\r\n"])
def test_email_normalization_ignores_surrounding_tabs_and_newlines(pad: str) -> None:
    assert normalize_emails([f"{pad}Ana@Example.com{pad}"]) == ["ana@example.com"]


SPACES = " \t\n\r\u00a0\ufeff"
"""What ``text`` strips; an em space (U+2003) and a combining accent are not among them."""
padded = st.lists(st.sampled_from([*SPACES, "a", "é", "\u0301", "\u2003", "x\n"]), max_size=8)


@SETTINGS
@given(padded.map("".join))
@example("\u00a0a\ufeff")
@example("\u0301 ")
def test_text_strips_exactly_the_surrounding_whitespace(value: str) -> None:
    CON.execute("CREATE OR REPLACE TEMP TABLE src (v VARCHAR)")
    CON.execute("INSERT INTO src VALUES (?)", [value])
    (got,) = CON.execute(f"SELECT {text('v', 'VARCHAR')} FROM src").fetchone()
    assert got == (value.strip(SPACES) or None)
