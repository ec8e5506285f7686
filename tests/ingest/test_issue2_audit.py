"""Defects an audit of issue 2's promises found, each pinned by the case that showed it:
a ``--date-format`` the engine does not know, or one holding a quote, failed with a traceback;
an offset no clock shows loaded a wrong instant; a space before ``Z`` was called an impossible
time; a conflicting row was quarantined again by each load that paired its file with another.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import pytest
from ingest_support import HEADER, NOW, orders, write

from patron import InputError, Workspace
from patron.ingest.parse import IMPOSSIBLE_TIME

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cli_support import patron_here


def test_a_date_format_the_engine_does_not_know_is_one_line_and_loads_nothing(
    tmp_path: Path,
) -> None:
    assert patron_here("init", "ws", cwd=tmp_path).returncode == 0
    write(tmp_path / "o.csv", HEADER + "o1,ana@example.com,05/01/2024,10\n")
    answer = patron_here(
        "load", "orders", "o.csv", "--date-format", "%Q", "--workspace", "ws", cwd=tmp_path
    )
    assert answer.returncode == 2
    assert "Traceback" not in answer.stderr
    assert answer.stderr.startswith("error: --date-format '%Q' is not a strptime layout")
    ws = Workspace.open(tmp_path / "ws")
    with pytest.raises(InputError, match=r"^date_format '%d/%m/%' is not a strptime layout"):
        ws.load("orders", tmp_path / "o.csv", date_format="%d/%m/%", now=NOW)
    assert ws.status()["loads"] == 0


def test_a_date_format_with_a_quote_reads_and_names_itself(ws: Workspace, tmp_path: Path) -> None:
    path = write(
        tmp_path / "o.csv",
        HEADER + "o1,ana@example.com,05/01/2024 o'clock 10,10\no2,bo@example.com,06/01/2024,20\n",
    )
    result = ws.load("orders", path, date_format="%d/%m/%Y o'clock %H", now=NOW)
    assert (result.inserted, result.quarantined) == (1, 1)
    assert orders(ws)["o1"]["ordered_at"] == datetime(2024, 1, 5, 15)  # 10:00 in New York
    [entry] = ws.quarantine()
    assert entry["reason"] == "does not match date_format %d/%m/%Y o'clock %H"


@pytest.mark.parametrize("offset", ["+25:00", "+99", "+2500", "-15:00", "+01:60", "+0175"])
def test_an_offset_no_clock_shows_is_quarantined(
    ws: Workspace, tmp_path: Path, offset: str
) -> None:
    path = write(
        tmp_path / "o.csv", HEADER + f"o1,ana@example.com,2024-01-05T10:00:00{offset},10\n"
    )
    result = ws.load("orders", path, now=NOW)
    assert (result.inserted, result.quarantined) == (0, 1)
    [entry] = ws.quarantine()
    assert (entry["field"], entry["reason"]) == ("ordered_at", IMPOSSIBLE_TIME)


def test_offsets_clocks_show_still_load(ws: Workspace, tmp_path: Path) -> None:
    rows = (
        "o1,ana@example.com,2024-01-05T10:00:00+14:00,10\n"
        "o2,ana@example.com,2024-01-05T10:00:00-12:00,10\n"
        "o3,ana@example.com,2024-01-05 10:00:00.5 +0530,10\n"
        "o4,ana@example.com,2024-01-05T10:00+01,10\n"
    )
    result = ws.load("orders", write(tmp_path / "o.csv", HEADER + rows), now=NOW)
    assert result.inserted == 4
    loaded = orders(ws)
    assert loaded["o1"]["ordered_at"] == datetime(2024, 1, 4, 20)
    assert loaded["o2"]["ordered_at"] == datetime(2024, 1, 5, 22)
    assert loaded["o3"]["ordered_at"] == datetime(2024, 1, 5, 4, 30, 0, 500000)
    assert loaded["o4"]["ordered_at"] == datetime(2024, 1, 5, 9)


def test_a_space_before_z_reads_as_utc(ws: Workspace, tmp_path: Path) -> None:
    path = write(tmp_path / "o.csv", HEADER + "o1,ana@example.com,2024-01-05 10:00:00 Z,10\n")
    assert ws.load("orders", path, now=NOW).inserted == 1
    assert orders(ws)["o1"]["ordered_at"] == datetime(2024, 1, 5, 10)


def test_a_conflict_is_quarantined_once_whichever_file_comes_with_it(
    ws: Workspace, tmp_path: Path
) -> None:
    first = write(
        tmp_path / "a.csv",
        HEADER + "o1,ana@example.com,2024-01-05,10\no1,ana@example.com,2024-01-05,11\n",
    )
    overlap = write(tmp_path / "b.csv", HEADER + "o1,ana@example.com,2024-01-05,10\n")
    for sources in ([first], [first], [overlap, first], [first, overlap]):
        result = ws.load("orders", sources, now=NOW)
        assert (result.conflicts, result.quarantined) == (1, 1)
    [entry] = ws.quarantine(state="all")
    assert (entry["file"], entry["line"]) == (str(first), 3)
    assert entry["reason"] == f"same key as {first} line 2 with different content"
    assert ws.status()["quarantined"] == 1
