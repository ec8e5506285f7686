"""The days a user hands patron, from the command line or a notebook.

Every public call that takes a day (``as_of``, ``calibration_end``, an experiment's ``start``)
accepts a ``date``, a ``datetime`` or pandas ``Timestamp`` (its calendar day: patron's days end
at midnight in the workspace's timezone, so a time of day would say nothing), or ISO text such
as ``"2024-06-30"``, so an analyst need not import ``datetime`` to ask a question.
"""

from __future__ import annotations

from datetime import date, datetime

from patron.errors import InputError

DateLike = date | str
"""What a day may be given as (a ``datetime`` is a ``date``)."""


def as_day(value: object, name: str) -> date:
    """``value`` as a calendar day; an InputError naming ``name`` when it is not one."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        kind = type(value).__name__
        raise InputError(f"{name} must be a date or text such as 2024-12-31, not {kind}")
    text = value.strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text).date()
    except ValueError:
        raise InputError(f"{name} {value!r} is not a date such as 2024-12-31") from None


def optional_day(value: object, name: str) -> date | None:
    """:func:`as_day`, with None passed through (the caller's default applies)."""
    return None if value is None else as_day(value, name)
