"""The shop's time zone as Python code reads it, from the zone data the engine uses.

The engine (DuckDB) dates orders with its own recent copy of the IANA time zone database;
Python's ``zoneinfo`` reads the system's copy first, which on a container or an older machine
may be years behind. Where a zone's rules changed in between (13 zones between this machine's
system data and DuckDB 2.0's for 2024-2027, ``America/Vancouver`` among them), an order's
day in the warehouse and a midnight computed in Python (an experiment's exposure, the end of
an as-of day) came an hour apart. The ``tzdata`` package, pinned beside DuckDB, holds the
same rules as the engine, so patron reads zones from it.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from zoneinfo import ZoneInfo


@cache
def shop_zone(name: str) -> ZoneInfo:
    """The zone ``name`` from the ``tzdata`` package; from the system where the package does
    not hold it. An unknown name raises :class:`zoneinfo.ZoneInfoNotFoundError`, as
    ``ZoneInfo(name)`` does (which also refuses names that are not zone keys)."""
    known = ZoneInfo(name)
    try:
        with resources.files("tzdata").joinpath("zoneinfo", *name.split("/")).open("rb") as f:
            return ZoneInfo.from_file(f, key=name)
    except (ModuleNotFoundError, OSError):
        return known
