"""The customer key a record gets from its identifiers, in SQL.

All unblocked identifiers of one record are linked, so they share one key and the first one
present gives it; a record whose identifiers are all blocked gets none. The loader writes new
rows this way from the load's own keys, and a split re-keys the rows of the customers it took
apart from ``identities``.
"""

from __future__ import annotations

from patron.ingest.contract import IDENTIFIER_TYPES

LOAD_KEYS = "_ident_keys"
"""The load's identifiers with their keys (``itype``, ``ivalue``, ``key``), left by
:func:`patron.identity.resolve.resolve_new_records`."""

KNOWN_KEYS = (
    "(SELECT identifier_type AS itype, value AS ivalue, customer_key AS key FROM identities)"
)
"""Every unblocked identifier's key, in the shape of :data:`LOAD_KEYS`."""


def record_key_sql(row: str, keys: str = LOAD_KEYS) -> tuple[str, str]:
    """The joins and the expression giving the key of each row aliased ``row``, looked up in
    ``keys`` (a relation of ``itype``, ``ivalue``, ``key``)."""
    joins = " ".join(
        f"LEFT JOIN {keys} k_{t} ON k_{t}.itype = '{t}' AND k_{t}.ivalue = {row}.{t}"
        for t in IDENTIFIER_TYPES
    )
    return joins, f"coalesce({', '.join(f'k_{t}.key' for t in IDENTIFIER_TYPES)})"
