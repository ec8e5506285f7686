"""Which groups of new customers ``patron acquisition`` reports, and the days of each.

A group is the customers acquired through one channel on some days (the first purchase
occasion's channel and shop-local day, :mod:`patron.metrics.base`). By ``channel``: everyone
acquired by the as-of day A, or, with a spend file, one group per spend period (and a
``total`` over a channel's periods). By ``month``: one group per channel and *acquisition
month*, the calendar month of the first occasion, for the last N months ending with A's month
(that month counted to A only). A month group is an ordinary group whose one span is a calendar
month, so every figure is computed the same way; a spend row covering that month gives its
spend.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from patron.acquisition.spend import (
    Spend,
    check_months,
    check_spend,
    known_channels,
    month_days,
)
from patron.defaults import MONTHS
from patron.errors import InputError, did_you_mean, option
from patron.metrics.base import period_label, period_of
from patron.metrics.occasions import Sales

if TYPE_CHECKING:
    from ibis import Table

BY = ("channel", "month")


@dataclass(frozen=True)
class Group:
    """Customers acquired through ``channel`` on the days of ``spans``.

    ``period`` is None for everyone acquired by the as-of day (no spend known), YYYY-MM for an
    acquisition month, else the spend period's name or ``total``.
    """

    channel: str
    period: str | None
    spans: tuple[tuple[date, date], ...]
    spend: float | None


def groups(
    sales: Sales,
    as_of: date,
    spends: Iterable[Spend] = (),
    *,
    by: str = "channel",
    months: int | None = None,
) -> list[Group]:
    """The groups to report, after checking ``spends`` against the data (module docstring).

    Every acquisition channel appears. By ``channel``: by spend period when it has spend rows,
    else once with everyone acquired by ``as_of``. By ``month``: once per month of the last
    ``months`` (default :data:`MONTHS`), with the spend of the row covering that month if any.
    """
    check_by(by, months)
    acquired = acquired_by(sales, as_of)
    channels = sorted(acquired.select("channel").distinct().to_pyarrow().column(0).to_pylist())
    rows = sorted(known_channels(spends, channels), key=lambda s: s.start)
    check_spend(rows, channels, as_of)
    if by == "month":
        return _by_month(channels, rows, as_of, months or MONTHS)
    out: list[Group] = []
    for channel in channels:
        own = [s for s in rows if s.channel == channel]
        out += [Group(channel, s.period, ((s.start, s.end),), s.spend) for s in own]
        if len(own) > 1:
            spans = tuple((s.start, s.end) for s in own)
            out.append(Group(channel, "total", spans, sum(s.spend for s in own)))
        if not own:
            out.append(Group(channel, None, ((date.min, as_of),), None))
    return out


def check_by(by: str, months: int | None) -> None:
    """``by`` is ``channel`` or ``month``; ``months`` goes with ``month`` and is 1 or more."""
    if by not in BY:
        choices = f"acquisition groups by 'channel' or 'month'{did_you_mean(by, BY)}"
        raise InputError(f"{option('by')} {by!r}: {choices}")
    if months is not None and by != "month":
        raise InputError(f"{option('months')} goes with {option('by')} month")
    if months is not None and months < 1:
        raise InputError(f"{option('months')} {months}: report 1 or more months, e.g. 12")


def acquired_by(sales: Sales, as_of: date) -> Table:
    """Customers acquired by ``as_of``: key, acquisition channel, first day."""
    occ = sales.occasions
    first = occ.filter(occ.n == 0, occ.order_date <= as_of)
    return first.select("customer_key", "first_date", channel=first.acquisition_channel)


def window_months(as_of: date, months: int) -> list[str]:
    """The YYYY-MM labels of the ``months`` calendar months ending with ``as_of``'s."""
    last = period_of(as_of, "month")
    return [period_label(index, "month") for index in range(last - months + 1, last + 1)]


def _by_month(channels: list[str], spends: list[Spend], as_of: date, months: int) -> list[Group]:
    """One group per channel and calendar month of the ``months`` ending with ``as_of``'s."""
    labels = window_months(as_of, months)
    check_months(spends, month_days(labels[0])[0], as_of)
    spent = {(s.channel, s.start): s.spend for s in spends}
    out = []
    for channel in channels:
        for label in labels:
            start, end = month_days(label)
            span = ((start, min(end, as_of)),)
            out.append(Group(channel, label, span, spent.get((channel, start))))
    return out
