"""Identifier normalization, so one person's identifiers compare equal across systems.

- email: trimmed and lower-cased; must look like ``local@domain.tld``, without spaces or control
  characters (NUL, escape, DEL, C1) inside it.
- phone: E.164 (``+12125550143``) via Google's libphonenumber rules, reading numbers without a
  country code in the workspace's phone region; invalid numbers (``0000000000``) are dropped.
- customer_id, loyalty_id: trimmed, with Persian and Arabic-Indic digits made ASCII.
An identifier that does not normalize is kept in the row's attributes as ``invalid_<type>``.
"""

from __future__ import annotations

from patron.ingest.parse import digits, text

_SPACES = " \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
"""Unicode's spaces as characters: ``\\s`` is ASCII whitespace to DuckDB's RE2 and every space
to Python's ``re``, so a no-break space passed a load and failed a lookup."""
_NOT_IN_EMAIL = r"@\x00-\x1f\x7f-\x9f" + _SPACES
"""What no part of an email has: ``@``, spaces and control characters (Unicode's Cc: C0, DEL,
C1; tab and newline among them), spelled alike for Python's ``re`` and DuckDB's RE2. Trimming
takes NUL padding off the edges; one left inside is no part of an address."""
EMAIL_PATTERN = rf"[^{_NOT_IN_EMAIL}]+@[^{_NOT_IN_EMAIL}]+\.[^{_NOT_IN_EMAIL}.]+"


def identifier_sql(kind: str, col: str) -> str:
    """SQL for the normalized email, customer_id or loyalty_id in ``col`` (NULL when invalid).

    Phones are checked by :mod:`patron.identity.phones` instead.
    """
    if kind == "email":
        email = f"lower({text(col, 'VARCHAR')})"
        return f"CASE WHEN regexp_full_match({email}, '{EMAIL_PATTERN}') THEN {email} END"
    return digits(text(col, "VARCHAR"))
