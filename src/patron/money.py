"""How patron stores money and rounds its sums.

Amounts are stored as decimals of the currency's minor unit: DECIMAL(18, 2), cents, or
DECIMAL(18, 3) in a workspace whose currency counts in thousandths (ISO 4217's mills: the
Kuwaiti, Bahraini, Jordanian, Omani, Iraqi, Libyan and Tunisian currencies), which cents would
cut off (1.234 KWD stored as 1.23). Metrics sum money as float64 in the engine, which leaves
noise in the last places (1582.0799999999997); sums are rounded to :data:`PLACES`, three,
which gives back a cent currency's cents and a mill currency's mills alike. Sentences and
pages write an amount with its currency's own decimals (none for a yen).
"""

from __future__ import annotations

MILLS = frozenset({"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"})
"""ISO 4217 currencies whose minor unit is a thousandth."""
NO_CENTS = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND"}
    | {"VUV", "XAF", "XOF", "XPF"}
)
"""ISO 4217 currencies without a minor unit (a yen has no decimals)."""
PLACES = 3
"""The places a sum of stored money is rounded to (see the module's docstring)."""


def decimals(currency: str) -> int:
    """Digits after the decimal mark of an amount in ``currency`` (ISO 4217; 2 by default)."""
    code = currency.upper()
    return 0 if code in NO_CENTS else 3 if code in MILLS else 2


def amount(value: float, currency: str) -> str:
    """``value`` as a sentence writes money: ``USD 1,234.50``, ``JPY 13,854``."""
    return f"{currency} {value:,.{decimals(currency)}f}"


def money_type(currency: str) -> str:
    """The SQL type a new workspace in ``currency`` stores amounts in."""
    return f"DECIMAL(18,{3 if currency.upper() in MILLS else 2})"
