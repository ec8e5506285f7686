"""Values a user hands patron's public calls, from the command line or a notebook, read the
way the user meant them or refused with a line that names the parameter.

A day (``as_of``, ``calibration_end``, an experiment's ``start``) may be a ``date``, a
``datetime`` or pandas ``Timestamp`` (its calendar day: patron's days end at midnight in the
workspace's timezone, so a time of day would say nothing), or ISO text such as
``"2024-06-30"``, so an analyst need not import ``datetime`` to ask a question. A count of days,
items or bins may be a Python or numpy integer (what a data frame's ``.max()`` gives) or a whole
float; numpy's own integers would otherwise fail deep inside (``timedelta`` refuses them) or be
stored as bytes.
"""

from __future__ import annotations

import functools
import numbers
import operator
import os
from collections.abc import Callable, Iterable
from datetime import date, datetime
from pathlib import Path
from typing import ParamSpec, TypeVar

from patron.errors import InputError

DateLike = date | str
"""What a day may be given as (a ``datetime`` is a ``date``)."""

P = ParamSpec("P")
R = TypeVar("R")


def as_day(value: object, name: str) -> date:
    """``value`` as a calendar day; an InputError naming ``name`` when it is not one."""
    if isinstance(value, date) and value != value:  # pandas NaT, a datetime that is none
        raise InputError(f"{name} is missing (NaT): give a day such as 2024-12-31")
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


def as_whole(value: object, name: str) -> int:
    """``value`` as a Python int: an integer of any kind or a float without a fraction;
    booleans, text and fractions are refused."""
    if isinstance(value, bool):
        raise InputError(f"{name} must be a whole number, not {value!r}")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        shown = f"{type(value).__name__} {value!r}"
        raise InputError(f"{name} must be a whole number, not {shown}") from None


def as_real(value: object, name: str) -> float:
    """``value`` as a Python float: any real number (numpy's too), not a boolean or text."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(f"{name} must be a number, not {type(value).__name__} {value!r}")
    return float(value)


def as_path(value: object, name: str) -> Path:
    """A file or folder given as text or a path, ``~`` expanded as a shell would have (a
    notebook has no shell to do it)."""
    if isinstance(value, str | os.PathLike):
        return Path(value).expanduser()
    raise InputError(f"{name} must be a file path, not {type(value).__name__}")


def as_names(value: object, name: str) -> tuple[str, ...]:
    """Names given as one string or a sequence of them: one string is one name, not the
    sequence of its characters."""
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, Iterable):
        raise InputError(f"{name} must be a name or a list of names, not {value!r}")
    names = tuple(value)
    for item in names:
        if not isinstance(item, str):
            raise InputError(f"{name} must hold names (text), not {item!r}")
    return names


def reads(
    **readers: Callable[[object, str], object],
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """A public method's keyword arguments read by ``readers`` (:func:`as_whole`,
    :func:`as_names`, ...) before it runs; None passes (the method's default applies). One
    line per method keeps the coercion at the API's edge, where the user's value arrives."""

    def wrap(method: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(method)
        def call(*args: P.args, **kwargs: P.kwargs) -> R:
            for name, reader in readers.items():
                if kwargs.get(name) is not None:
                    kwargs[name] = reader(kwargs[name], name)
            return method(*args, **kwargs)

        return call

    return wrap
