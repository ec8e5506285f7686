"""The shop's midnights as Python computes them are the engine's day boundaries, in every zone.

DuckDB dates orders with its own copy of the time zone database; Python's ``zoneinfo`` read
the system's first, which on this project's machine was older: 13 zones (Vancouver among
them) put an experiment's exposure or an as-of day's end an hour off the orders' days."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pytest

from patron.experiments.design import exposure_time
from patron.zones import shop_zone

DAYS = [date(2024, 1, 1) + timedelta(days=d) for d in range(0, 4 * 365, 5)]
MINUTE = timedelta(minutes=1)


def _zones(con: duckdb.DuckDBPyConnection) -> list[str]:
    names = con.sql("SELECT name FROM pg_timezone_names() ORDER BY name").fetchall()
    return [n for (n,) in names if "/" in n and not n.startswith(("Etc/", "SystemV/", "posix"))]


def test_python_midnights_are_the_engines_day_boundaries() -> None:
    """Just before each shop midnight (2024-2027, every zone) the engine's order day is the
    day before; at it, the day itself: as the loader computes ``order_date``."""
    con = duckdb.connect()
    wrong = {}
    for zone in _zones(con):
        try:
            shop_zone(zone)
        except Exception:  # a name DuckDB accepts that is no zone key (there are aliases)
            continue
        starts = [exposure_time(day, zone) for day in DAYS]
        edges = [s - MINUTE for s in starts] + starts
        days = con.execute(
            f"SELECT CAST(timezone('{zone}', timezone('UTC', t)) AS DATE) FROM unnest(?) u(t)",
            [edges],
        ).fetchall()
        want = [d - timedelta(days=1) for d in DAYS] + DAYS
        if [d for (d,) in days] != want:
            wrong[zone] = sum(a != b for (a,), b in zip(days, want, strict=True))
    assert not wrong


def test_an_unknown_zone_is_refused_as_zoneinfo_refuses_it() -> None:
    from zoneinfo import ZoneInfoNotFoundError

    with pytest.raises(ZoneInfoNotFoundError):
        shop_zone("Mars/Olympus_Mons")
    with pytest.raises(ValueError):
        shop_zone("../etc/passwd")
