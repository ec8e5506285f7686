"""What an experiment is: a name, variants with weights, an optional holdout, a salt, dates.

A design is all that is needed to recompute who gets what (see :mod:`.assignment`), so it is
small, immutable and stored in the operational store by :mod:`.registry`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from patron.errors import InputError

HOLDOUT = "holdout"
"""The name of the group that gets nothing; it is the baseline of every comparison."""

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_VARIANT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")


def exposure_time(day: date, timezone: str) -> datetime:
    """Midnight of ``day`` in the shop's timezone, as the naive UTC time patron stores."""
    local = datetime.combine(day, time(), tzinfo=ZoneInfo(timezone))
    return local.astimezone(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Design:
    """One experiment as created.

    ``variants`` are (name, weight) pairs with weights summing to 1 over the non-held-out
    audience; ``holdout`` is the share of the audience held out before the split. ``baseline`` is
    the group every other is compared against: the holdout when there is one (the customers who
    got nothing), else the first variant. ``metric`` and ``window_days`` are the goal declared
    before the test runs (readouts use them unless told otherwise), so the goal cannot drift
    toward whatever happened to move.
    """

    name: str
    variants: tuple[tuple[str, float], ...]
    salt: str
    start: date
    holdout: float = 0.0
    end: date | None = None
    audience: str = "all"
    metric: str = "conversion"
    window_days: int = 30

    def __post_init__(self) -> None:
        check_name(self.name)
        if not 0 <= self.holdout < 1:
            raise InputError(
                f"--holdout must be a percentage from 0 to under 100, got {self.holdout:.0%}"
            )
        if self.end is not None and self.end < self.start:
            raise InputError(f"--end {self.end} is before --start {self.start}")
        if self.window_days < 1:
            raise InputError(f"--window must be at least 1 day, got {self.window_days}")

    @property
    def groups(self) -> tuple[str, ...]:
        """Every group a customer can be in, baseline first."""
        names = tuple(name for name, _ in self.variants)
        return (HOLDOUT, *names) if self.holdout else names

    @property
    def baseline(self) -> str:
        return self.groups[0]

    @property
    def shares(self) -> dict[str, float]:
        """Each group's expected share of the whole audience (what the SRM check expects)."""
        rest = 1 - self.holdout
        shares = {name: weight * rest for name, weight in self.variants}
        return {HOLDOUT: self.holdout, **shares} if self.holdout else shares


def check_name(name: str) -> str:
    """Experiment names become file names and labels: letters, digits, '_', '-', '.'."""
    if not _NAME.fullmatch(name):
        raise InputError(
            f"experiment name {name!r} must start with a letter or digit and use only letters, "
            "digits, '_', '-' and '.' (at most 64 characters)"
        )
    return name


def parse_variants(text: str) -> tuple[tuple[str, float], ...]:
    """``control:50,treatment:50`` -> (("control", 0.5), ("treatment", 0.5)).

    Weights are relative (``a:1,b:3`` is 25/75); a bare list (``a,b,c``) splits evenly.
    """
    parts = [p.strip() for p in text.split(",") if p.strip()]
    pairs = [_variant(p) for p in parts]
    names = [name for name, _ in pairs]
    if len(pairs) < 2:
        raise InputError(f"--variants needs at least two variants, got {text!r}")
    if len(set(names)) < len(names) or HOLDOUT in names:
        raise InputError(
            f"--variants names must be distinct and not {HOLDOUT!r} (use --holdout): {text!r}"
        )
    total = sum(weight for _, weight in pairs)
    return tuple((name, weight / total) for name, weight in pairs)


def _variant(part: str) -> tuple[str, float]:
    name, _, weight = part.partition(":")
    name = name.strip()
    if not _VARIANT.fullmatch(name):
        raise InputError(
            f"variant name {name!r}: use letters, digits, '_', '-' or '.' (at most 32 characters)"
        )
    try:
        value = float(weight) if weight.strip() else 1.0
    except ValueError:
        raise InputError(f"variant {name!r}: weight {weight!r} is not a number") from None
    if not value > 0:
        raise InputError(f"variant {name!r}: weight must be positive, got {weight!r}")
    return name, value


def format_variants(variants: tuple[tuple[str, float], ...]) -> str:
    """The inverse of :func:`parse_variants`, with weights in percent."""
    return ",".join(f"{name}:{weight * 100:.4g}" for name, weight in variants)
