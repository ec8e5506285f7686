"""Spend files: what was spent on acquiring customers per channel and period.

A spend file is a CSV with a header and the columns ``channel``, ``spend`` and either ``month``
(YYYY-MM) or ``start`` and ``end`` (ISO dates, both included); a row may use either form. It is
read as people write one: commas, semicolons or tabs between fields, months also as 2024-1,
Jan 2024 or the month's first or last day (2024-01-01, 2024-01-31), a channel in another case
or with spaces for underscores (``Paid Search`` for ``paid_search``) when it means one
acquisition channel only, and empty rows skipped. Every other problem names the file, the row
(1-based, header excluded) and the column, and nothing is dropped: a channel nobody was
acquired through, a period not over by the as-of day and two overlapping periods of one channel
all fail (:func:`check_spend`). By month, every row must
cover one calendar month of the months reported (:func:`check_months`).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import TypeVar

from patron.errors import InputError, did_you_mean, option
from patron.metrics.base import period_of

MONTH = re.compile(r"\d{4}-\d{2}")
WRITTEN_MONTH = re.compile(r"(\d{4})-(\d{1,2})|([a-z]+)[ -](\d{4})")
MONTH_NAMES = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
DELIMITERS = ",;\t"
Parsed = TypeVar("Parsed")


@dataclass(frozen=True)
class Spend:
    """One row of a spend file: ``spend`` on ``channel`` over the days ``start``..``end``.

    ``columns`` names the row's start and end fields (``month`` twice, or ``start`` and
    ``end``), so later checks can point at them.
    """

    channel: str
    spend: float
    period: str
    start: date
    end: date
    file: str
    row: int
    columns: tuple[str, str]

    def error(self, message: str, field: str) -> InputError:
        """An error pointing at this row's ``field``."""
        return InputError(message, file=self.file, row=self.row, field=field)


def read_spend(path: Path) -> list[Spend]:
    """The rows of a spend CSV: ``channel``, ``spend`` and ``month`` (YYYY-MM) or ``start`` and
    ``end`` (ISO dates, both included). A bad row fails with its file, row and column."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle, delimiter=_delimiter(handle.readline()))
            handle.seek(0)
            header = [name.strip().lower() for name in reader.fieldnames or []]
            reader.fieldnames = header
            _check_header(header, str(path))
            rows = [
                _spend_row(record, str(path), reader.line_num - 1)  # 1-based, header excluded
                for record in reader
                if any(isinstance(v, str) and v.strip() for v in record.values())
            ]
    except OSError as exc:
        raise InputError(f"cannot read the spend file {path}: {exc.strerror}") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        message = f"not a UTF-8 CSV file ({exc}); save it as CSV UTF-8"
        raise InputError(message, file=str(path)) from None
    if not rows:
        raise InputError("no spend rows; add one per channel and month", file=str(path))
    return rows


def _delimiter(header: str) -> str:
    """The header's field separator: a spreadsheet saved where the decimal mark is a comma
    writes semicolons, and a copy from one gives tabs."""
    return max(DELIMITERS, key=header.count)


def _check_header(header: list[str], file: str) -> None:
    dated = "month" in header or {"start", "end"} <= set(header)
    missing = [name for name in ("channel", "spend") if name not in header]
    if missing or not dated:
        need = ", ".join([*missing, *([] if dated else ["month (or start and end)"])])
        found = ", ".join(header) or "no header"
        raise InputError(f"missing column(s) {need}; found {found}", file=file)


def _spend_row(record: dict[str, str | None], file: str, row: int) -> Spend:
    def field(name: str, parse: Callable[[str], Parsed], what: str) -> Parsed:
        text = (record.get(name) or "").strip()
        try:
            return parse(text)
        except ValueError:
            raise InputError(f"{text!r} is not {what}", file=file, row=row, field=name) from None

    channel = field("channel", _name, "an acquisition channel's name")
    spend = field("spend", _amount, "an amount of 0 or more such as 1250.50" + _hint(record))
    if (record.get("month") or "").strip():
        start, end = field("month", written_month, "a month such as 2024-03 or Mar 2024")
        return Spend(channel, spend, start.strftime("%Y-%m"), start, end, file, row, ("month",) * 2)
    start = field("start", date.fromisoformat, "a date such as 2024-03-01")
    end = field("end", date.fromisoformat, "a date such as 2024-03-31")
    if end < start:
        raise InputError(f"{end} is before the start {start}", file=file, row=row, field="end")
    return Spend(channel, spend, f"{start}/{end}", start, end, file, row, ("start", "end"))


def _hint(record: dict[str, str | None]) -> str:
    """How to write an amount that has digits and something else (1,250 or $900): never
    guessed, since 1,250 is 1.25 where the comma is the decimal mark."""
    text = (record.get("spend") or "").strip()
    marked = re.search(r"\d", text) and re.search(r"[^\d.\-]", text)
    return ", without thousands separators or currency signs" if marked else ""


def _name(text: str) -> str:
    if not text:
        raise ValueError(text)
    return text


def _amount(text: str) -> float:
    value = float(text)  # "1,250" is refused, never guessed
    if not 0 <= value < float("inf"):
        raise ValueError(text)
    return value


def month_days(text: str) -> tuple[date, date]:
    """The first and last day of the month ``text`` (YYYY-MM); ValueError if it is not one."""
    if not MONTH.fullmatch(text):
        raise ValueError(text)
    start = date.fromisoformat(f"{text}-01")
    following = date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return start, following - timedelta(days=1)


def written_month(text: str) -> tuple[date, date]:
    """The first and last day of the month ``text`` names: 2024-03, 2024-3, Mar 2024, March
    2024, or the month's first or last day (2024-03-01, 2024-03-31); ValueError otherwise
    (a month without its year, or another day, is not guessed)."""
    found = WRITTEN_MONTH.fullmatch(text.lower())
    if found is None:
        day = date.fromisoformat(text)
        first, last = month_days(f"{day:%Y-%m}")
        if day not in (first, last):
            raise ValueError(text)
        return first, last
    year, number, name, named_year = found.groups()
    if name is not None:
        numbers = [
            i for i, month in enumerate(MONTH_NAMES, 1) if len(name) >= 3 and month.startswith(name)
        ]
        if not numbers:
            raise ValueError(text)
        year, number = named_year, str(numbers[0])
    return month_days(f"{year}-{int(number):02d}")


def known_channels(spends: Iterable[Spend], channels: list[str]) -> list[Spend]:
    """``spends`` with each channel spelled as the orders spell it: ``Web`` or ``Paid Search``
    is ``web`` or ``paid_search`` when exactly one acquisition channel reads alike, whatever
    the case and separators; any other name is left for :func:`check_spend` to refuse."""
    alike: dict[str, list[str]] = {}
    for channel in channels:
        alike.setdefault(_loose(channel), []).append(channel)
    out = []
    for s in spends:
        matches = alike.get(_loose(s.channel), [])
        named = s.channel if s.channel in channels or len(matches) != 1 else matches[0]
        out.append(replace(s, channel=named))
    return out


def _loose(name: str) -> str:
    return " ".join(re.split(r"[\s_-]+", name.casefold())).strip()


def check_spend(spends: Iterable[Spend], channels: list[str], as_of: date) -> None:
    """Unknown channels, periods not over by ``as_of`` and overlaps fail; none is dropped."""
    rows = sorted(spends, key=lambda s: (s.channel, s.start))
    for previous, s in zip([None, *rows], rows, strict=False):
        if s.channel not in channels:
            raise s.error(
                f"no customer was acquired through {s.channel!r} by {as_of}"
                f"{did_you_mean(s.channel, channels)}; the acquisition channels are "
                f"{', '.join(channels)}",
                "channel",
            )
        if s.end > as_of:
            raise s.error(
                f"{s.period} ends after the as-of day {as_of}, so its customers are not all "
                "counted yet; leave the row out or load the period's orders first",
                s.columns[1],
            )
        if previous and previous.channel == s.channel and s.start <= previous.end:
            raise s.error(_overlap(previous, s), s.columns[0])


def _overlap(previous: Spend, s: Spend) -> str:
    """Why two periods of one channel are refused, and what to do: a second row for the same
    period is typically one campaign's spend of several."""
    if (previous.start, previous.end) == (s.start, s.end):
        return (
            f"{s.period} of {s.channel!r} already has a row (row {previous.row}); put the "
            "channel's spend for a period on one row (add up its campaigns)"
        )
    return (
        f"{s.period} overlaps {previous.period} (row {previous.row}) of {s.channel!r}; "
        "a customer is acquired in one period only"
    )


def check_months(spends: Iterable[Spend], first: date, as_of: date) -> None:
    """With ``--by month``: every row covers one calendar month, from ``first``'s on."""
    for s in sorted(spends, key=lambda s: s.start):
        if month_days(f"{s.start:%Y-%m}") != (s.start, s.end):
            raise s.error(
                f"{s.period} is not one calendar month; {option('by')} month needs one row per "
                "channel and month (a month column such as 2024-03), or use "
                f"{option('by')} channel",
                s.columns[0],
            )
        if s.start < first:
            needed = period_of(as_of, "month") - period_of(s.start, "month") + 1
            raise s.error(
                f"{s.period} is before the months reported ({first:%Y-%m} to {as_of:%Y-%m}); "
                f"pass {option('months')} {needed} to include it, or leave the row out",
                s.columns[0],
            )
