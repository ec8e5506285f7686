"""What an experiment is: a name, variants with weights, an optional holdout, a salt, dates.

A design is all that is needed to recompute who gets what (see :mod:`.assignment`), so it is
small, immutable and stored in the operational store by :mod:`.registry`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from patron.arguments import as_day, as_names, as_real, as_whole, optional_day
from patron.errors import InputError, option
from patron.zones import shop_zone

HOLDOUT = "holdout"
"""The name of the group that gets nothing; it is the baseline of every comparison."""

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_VARIANT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")

Variants = str | Mapping[str, object] | Iterable[str]
"""Groups as text (``control:50,treatment:50``), a mapping of name to weight, or names."""


def exposure_time(day: date, timezone: str) -> datetime:
    """Midnight of ``day`` in the shop's timezone, as the naive UTC time patron stores."""
    local = datetime.combine(day, time(), tzinfo=shop_zone(timezone))
    return local.astimezone(UTC).replace(tzinfo=None)


def last_day(through: str, timezone: str) -> date:
    """The shop's last day with outcomes: a readout's ``through`` (UTC) is where outcomes stop,
    the next day's midnight in the shop's timezone, so its own date is a day late (New York's
    2024-12-31 runs to 2025-01-01 05:00 UTC)."""
    end = datetime.fromisoformat(through).replace(tzinfo=UTC).astimezone(shop_zone(timezone))
    return (end - timedelta(microseconds=1)).date()


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
        # Plain Python values only: the store keeps a numpy integer as bytes, which no later
        # comparison (nor the listing of every experiment) survives.
        plain = {
            "name": check_name(self.name),
            "variants": tuple((name, float(weight)) for name, weight in self.variants),
            "salt": _text(self.salt, "salt"),
            "start": as_day(self.start, option("start")),
            "holdout": _holdout(self.holdout),
            "end": optional_day(self.end, option("end")),
            "audience": _text(self.audience, "audience"),
            "metric": _text(self.metric, "metric"),
            "window_days": as_days(self.window_days, option("window")),
        }
        for field, value in plain.items():
            object.__setattr__(self, field, value)
        if self.end is not None and self.end < self.start:
            raise InputError(f"{option('end')} {self.end} is before {option('start')} {self.start}")

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


def as_days(value: object, name: str) -> int:
    """A number of days (any kind of integer), at least 1."""
    days = as_whole(value, name)
    if days < 1:
        raise InputError(f"{name} must be at least 1 day, got {days}")
    return days


def _text(value: object, name: str) -> str:
    """Text as a plain ``str`` (numpy's text is a subclass)."""
    if not isinstance(value, str):
        raise InputError(f"{name} must be text, not {type(value).__name__} {value!r}")
    return str(value)


def _holdout(value: object) -> float:
    """A share, as the Python API takes it (the command line's ``--holdout`` is in percent and
    divided by 100 before it comes here, hence both in the message)."""
    share = as_real(value, "holdout")
    if not 0 <= share < 1:
        raise InputError(
            f"holdout must be a share from 0 to under 1 (0.1 = 10%), got {share:g} ({share:.0%})"
        )
    return share


def check_name(name: object) -> str:
    """Experiment names become file names and labels: letters, digits, '_', '-', '.'."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InputError(
            f"experiment name {name!r} must start with a letter or digit and use only letters, "
            "digits, '_', '-' and '.' (at most 64 characters)"
        )
    return name


def parse_variants(variants: Variants, *, imported: bool = False) -> tuple[tuple[str, float], ...]:
    """Groups with weights summing to 1, from text (``control:50,treatment:50``), a mapping
    (``{"control": 50, "treatment": 50}``) or names (``["a", "b"]``, even split).

    Weights are relative (``a:1,b:3`` is 25/75); a bare list (``a,b,c``) splits evenly. A test
    patron creates sets its holdout apart (``--holdout``); one run elsewhere (``imported``) may
    have a group named ``holdout``, whose share is declared like any other's.
    """
    pairs = [_variant(name, weight, imported) for name, weight in _given(variants)]
    names = [name for name, _ in pairs]
    if len(pairs) < 2:
        raise InputError(f"{option('variants')} needs at least two variants, got {variants!r}")
    if len(set(names)) < len(names) or (HOLDOUT in names and not imported):
        raise InputError(
            f"{option('variants')} names must be distinct and not {HOLDOUT!r} (use "
            f"{option('holdout')}): {variants!r}"
        )
    total = sum(weight for _, weight in pairs)
    return tuple((name, weight / total) for name, weight in pairs)


def _given(variants: Variants) -> list[tuple[object, object]]:
    """(name, weight) pairs as given; a weight of None counts 1."""
    if isinstance(variants, str):
        parts = [p.partition(":") for p in variants.split(",") if p.strip()]
        return [(name.strip(), weight.strip() or None) for name, _, weight in parts]
    if isinstance(variants, Mapping):
        return list(variants.items())
    return [(name, None) for name in as_names(variants, "variants")]


def _variant(name: object, weight: object, imported: bool = False) -> tuple[str, float]:
    if not isinstance(name, str) or not _allowed(name, imported):
        raise InputError(
            f"variant name {name!r}: use letters, digits, '_', '-' or '.' (at most 32 characters)"
        )
    if weight is None:
        return name, 1.0
    try:  # as_real's InputError is a ValueError too: one message for any weight not a number
        value = float(weight) if isinstance(weight, str) else as_real(weight, "weight")
    except ValueError:
        raise InputError(f"variant {name!r}: weight {weight!r} is not a number") from None
    if not 0 < value < math.inf:
        raise InputError(f"variant {name!r}: weight must be positive, got {weight!r}")
    return name, value


def _allowed(name: str, imported: bool) -> bool:
    """A test patron creates names its groups plainly (they are stored and exported); one run
    elsewhere keeps its tool's names, spaces and accents included, since its weights must name
    the groups exactly as its file does."""
    return bool(name.strip()) if imported else bool(_VARIANT.fullmatch(name))


def format_variants(variants: tuple[tuple[str, float], ...]) -> str:
    """The inverse of :func:`parse_variants`, with weights in percent."""
    return ",".join(f"{name}:{weight * 100:.4g}" for name, weight in variants)
