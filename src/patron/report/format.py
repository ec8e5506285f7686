"""How numbers read in a report: money with its currency, shares as percentages, counts.

One module so the tiles, tables, findings and chart hovers all write a number the same way.
A missing value (an empty denominator upstream) reads as an en dash, never as zero.
"""

from __future__ import annotations

MISSING = "–"
_SCALES = ((1e9, "B"), (1e6, "M"), (1e3, "k"))


def money(value: float | None, currency: str, *, compact: bool = False) -> str:
    """``USD 1,234`` (cents below 100), or ``USD 1.2M`` when ``compact``."""
    if value is None:
        return MISSING
    return f"{currency} {_compact(value) if compact else _amount(value)}"


def count(value: float | None, *, compact: bool = False) -> str:
    """``12,345``, or ``12.3k`` when ``compact``."""
    if value is None:
        return MISSING
    return _compact(value) if compact else f"{value:,.0f}"


def pct(value: float | None, digits: int = 0) -> str:
    """A share as ``23%``."""
    return MISSING if value is None else f"{value:.{digits}%}"


def number(value: float | None, digits: int = 2) -> str:
    """A plain ratio or rate such as ``1.91``."""
    return MISSING if value is None else f"{value:,.{digits}f}"


def signed_pct(value: float, digits: int = 0) -> str:
    """A relative change with its sign: ``+5%``, ``−3%`` (a true minus sign)."""
    return _signed(f"{abs(value):.{digits}%}", value)


def signed_points(value: float) -> str:
    """A change of a share in percentage points: ``+1.2 pts``."""
    return _signed(f"{abs(value) * 100:.1f} pts", value)


def _signed(text: str, value: float) -> str:
    return ("+" if value >= 0 else "−") + text


def _amount(value: float) -> str:
    return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"


def _compact(value: float) -> str:
    for scale, suffix in _SCALES:
        if abs(value) >= scale:
            return f"{value / scale:,.1f}{suffix}"
    return _amount(value) if value != int(value) else f"{value:,.0f}"
