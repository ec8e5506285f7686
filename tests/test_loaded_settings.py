"""A workspace refuses ``patron.toml`` edits that would change what its loaded rows mean.

A shop made with the default ``timezone = "UTC"`` that sets its own zone after a year of loads
had its old orders dated in UTC and its new ones in the shop's zone, and loading an old file
again quarantined every row with a naive time as a conflict; a changed ``phone_region`` reads
the same national number as another E.164 number. Every load now records both settings, and a
workspace whose settings differ from its last load's is refused with the two ways out."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from cli_support import ok, patron
from patron import Workspace
from patron.errors import WorkspaceError

ORDERS = """order_id,email,phone,ordered_at,revenue
A1,ann@example.com,,2024-03-01 23:30:00,10.00
A2,,020 7946 0001,2024-03-02 09:00:00,20.00
A3,bob@example.com,,2024-03-03 12:00:00,30.00
"""
"""Naive times: A1 is on the 1st in the shop's zone whatever it is; a phone in national form."""


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    """A folder with ``orders.csv`` and ``ws``, a UTC workspace (region GB) that loaded it."""
    (tmp_path / "orders.csv").write_text(ORDERS)
    Workspace.init(tmp_path / "ws", phone_region="GB").close()
    with Workspace.open(tmp_path / "ws") as ws:
        ws.load("orders", tmp_path / "orders.csv")
    return tmp_path


def _edit(folder: Path, old: str, new: str) -> None:
    settings = folder / "patron.toml"
    text = settings.read_text()
    assert old in text
    settings.write_text(text.replace(old, new))


def _days(folder: Path) -> dict[str, date]:
    with Workspace.open(folder, read_only=True) as ws:
        rows = ws.table("orders").select("order_id", "order_date").to_pyarrow().to_pylist()
    return {row["order_id"]: row["order_date"] for row in rows}


def test_a_zone_set_after_loads_is_refused_and_nothing_changes(shop: Path) -> None:
    """``status`` and ``load`` (the real command) fail with one line naming both zones and the
    way out; the orders stay as loaded, and with the zone put back the file is duplicates."""
    _edit(shop / "ws", 'timezone = "UTC"', 'timezone = "Asia/Tokyo"')
    for command in (("status",), ("load", "orders", "orders.csv")):
        result = patron("-w", "ws", *command, cwd=shop)
        assert result.returncode != 0
        assert result.stdout == ""
        message = result.stderr.strip()
        assert "\n" not in message
        assert 'timezone = "Asia/Tokyo" (its data were loaded with "UTC")' in message
        assert 'Put back timezone = "UTC"' in message
        assert "patron init NEW_FOLDER --timezone Asia/Tokyo" in message
    _edit(shop / "ws", 'timezone = "Asia/Tokyo"', 'timezone = "UTC"')
    assert _days(shop / "ws")["A1"] == date(2024, 3, 1)
    with Workspace.open(shop / "ws") as ws:
        again = ws.load("orders", shop / "orders.csv")
        assert (again.inserted, again.duplicates, again.conflicts) == (0, 3, 0)
        assert ws.status()["orders"] == 3


def test_the_way_out_reads_the_files_in_the_new_zone(shop: Path) -> None:
    """A new workspace made as the message says dates the naive times in the shop's zone: the
    order at 23:30 on the 1st is the 1st's, at 14:30 UTC."""
    ok(patron("init", "tokyo", "--timezone", "Asia/Tokyo", "--phone-region", "GB", cwd=shop))
    ok(patron("-w", "tokyo", "load", "orders", "orders.csv", cwd=shop))
    assert _days(shop / "tokyo") == _days(shop / "ws")
    with Workspace.open(shop / "tokyo", read_only=True) as ws:
        first = ws.table("orders").filter(lambda t: t.order_id == "A1").to_pyarrow()
    assert first["ordered_at"][0].as_py().strftime("%H:%M") == "14:30"


def test_a_phone_region_set_after_loads_is_refused_read_only_too(shop: Path) -> None:
    """``020 7946 0001`` is a London number in GB and no number in US: the Python API refuses
    the edited workspace (read-only as well) and leaves it openable once the region is back."""
    _edit(shop / "ws", 'phone_region = "GB"', 'phone_region = "US"')
    for read_only in (False, True):
        with pytest.raises(WorkspaceError, match=r'phone_region = "US" .*loaded with "GB"'):
            Workspace.open(shop / "ws", read_only=read_only)
    _edit(shop / "ws", 'phone_region = "US"', 'phone_region = "GB"')
    with Workspace.open(shop / "ws") as ws:
        assert ws.customer("+442079460001")["totals"]["orders"] == 1


def test_settings_before_any_load_are_free(tmp_path: Path) -> None:
    """A workspace that loaded nothing has no rows to mix: its settings may change freely."""
    Workspace.init(tmp_path / "ws").close()
    _edit(tmp_path / "ws", 'timezone = "UTC"', 'timezone = "Europe/Berlin"')
    (tmp_path / "orders.csv").write_text(ORDERS)
    with Workspace.open(tmp_path / "ws") as ws:
        ws.load("orders", tmp_path / "orders.csv")
    _edit(tmp_path / "ws", 'timezone = "Europe/Berlin"', 'timezone = "UTC"')
    with pytest.raises(WorkspaceError, match='loaded with "Europe/Berlin"'):
        Workspace.open(tmp_path / "ws")


def test_a_workspace_from_before_the_record_starts_recording_at_its_next_load(
    shop: Path,
) -> None:
    """Loads made before patron recorded the settings say nothing, so such a workspace opens
    whatever its settings; its next load records them, and an edit after it is refused."""
    con = duckdb.connect(str(shop / "ws" / "warehouse.duckdb"))
    con.execute("ALTER TABLE loads DROP COLUMN timezone")
    con.execute("ALTER TABLE loads DROP COLUMN phone_region")
    con.close()
    _edit(shop / "ws", 'timezone = "UTC"', 'timezone = "America/New_York"')
    with Workspace.open(shop / "ws") as ws:
        assert ws.status()["orders"] == 3
        ws.load("orders", shop / "orders.csv")
    _edit(shop / "ws", 'timezone = "America/New_York"', 'timezone = "UTC"')
    with pytest.raises(WorkspaceError, match='loaded with "America/New_York"'):
        Workspace.open(shop / "ws")
