"""How numbers read in a report: money with its currency, shares as percentages, counts.

One module so the tiles, tables, findings and chart hovers all write a number the same way.
A missing value (an empty denominator upstream, or NaN: a correlation of constant figures)
reads as an en dash, never as zero.
"""

from __future__ import annotations

import math

from patron.money import decimals

MISSING = "–"
_SCALES = ((1e9, "B"), (1e6, "M"), (1e3, "k"))


def d3_money(currency: str) -> str:
    """The plotly (d3) number format of an amount in ``currency``, for chart hovers."""
    return f",.{decimals(currency)}f"


def money(value: float | None, currency: str, *, compact: bool = False) -> str:
    """``USD 1,234`` (cents below 100; a yen has none), or ``USD 1.2M`` when ``compact``."""
    known = _known(value)
    if known is None:
        return MISSING
    return f"{currency} {amount(known, currency, compact=compact)}"


def amount(value: float | None, currency: str, *, compact: bool = False) -> str:
    """:func:`money` without the currency code, for a band beside an amount."""
    known = _known(value)
    if known is None:
        return MISSING
    digits = decimals(currency)
    return _compact(known, digits) if compact else _amount(known, digits)


def count(value: float | None, *, compact: bool = False) -> str:
    """``12,345``, or ``12.3k`` when ``compact``."""
    known = _known(value)
    if known is None:
        return MISSING
    return _compact(known, 2) if compact else f"{known:,.0f}"


def pct(value: float | None, digits: int = 0) -> str:
    """A share as ``23%``."""
    known = _known(value)
    return MISSING if known is None else f"{known:.{digits}%}"


def number(value: float | None, digits: int = 2) -> str:
    """A plain ratio or rate such as ``1.91``."""
    known = _known(value)
    return MISSING if known is None else f"{known:,.{digits}f}"


def signed_pct(value: float, digits: int = 0) -> str:
    """A relative change with its sign: ``+5%``, ``−3%`` (a true minus sign)."""
    return _signed(f"{abs(value):.{digits}%}", value)


def signed_points(value: float) -> str:
    """A change of a share in percentage points: ``+1.2 pts``."""
    return _signed(f"{abs(value) * 100:.1f} pts", value)


def _signed(text: str, value: float) -> str:
    return ("+" if value >= 0 else "−") + text


def _known(value: float | None) -> float | None:
    """``value``, or None when it is missing or NaN."""
    return None if value is None or math.isnan(value) else value


def _amount(value: float, digits: int) -> str:
    """Cents below 100, whole units from there. A value that rounds to zero reads 0.00, never
    -0.00 (a float sum such as 0.3 - 0.1 - 0.2 is -2.8e-17), and one that rounds to 100
    (99.999) reads 100, as 100 does."""
    shown = round(value, digits) + 0.0  # adding +0.0 turns -0.0 into 0.0
    return f"{shown:,.{digits}f}" if abs(shown) < 100 else f"{value:,.0f}"


def _compact(value: float, digits: int) -> str:
    for scale, suffix in _SCALES:
        if abs(value) >= scale:
            return f"{value / scale:,.1f}{suffix}"
    return _amount(value, digits) if value != int(value) else f"{value:,.0f}"
