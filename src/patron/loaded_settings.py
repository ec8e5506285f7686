"""The settings a workspace's data were loaded with, and the refusal to read them with others.

Two settings shape what a load stores, not only how it is shown: ``timezone`` (the instant a
naive time in a file stands for, and the shop-local day, ``order_date``, of every order) and
``phone_region`` (the E.164 number a national phone number becomes, and so which customer it
joins). Edited in ``patron.toml`` after loads, the rows loaded before keep the old meaning and
the rows loaded after take the new one: purchase days mix two calendars, the same file loaded
again finds its rows changed (conflicts, or new identities for the same phones), and nothing
says so. Every load records the two settings in the load log; a workspace whose settings differ
from its last load's is refused until they are put back, or the files are loaded into a new
workspace made with the new ones (the only way to read naive times and national phones again).
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from patron.config import CONFIG_FILE, Config
from patron.errors import WorkspaceError
from patron.sql import columns

SHAPING = ("timezone", "phone_region")
"""The settings a load stores its rows by, recorded as columns of the load log."""


def recorded(con: duckdb.DuckDBPyConnection) -> dict[str, str] | None:
    """The shaping settings of the last load that recorded them; None before any such load
    (a new workspace, or one whose loads were all made before patron recorded them)."""
    if not set(SHAPING) <= set(columns(con, "loads")):
        return None
    found = con.execute(
        f"SELECT {', '.join(SHAPING)} FROM loads WHERE {SHAPING[0]} IS NOT NULL "
        "ORDER BY load_id DESC LIMIT 1"
    ).fetchall()
    return dict(zip(SHAPING, found[0], strict=True)) if found else None


def check(con: duckdb.DuckDBPyConnection, config: Config, folder: Path) -> None:
    """Refuse a workspace whose ``patron.toml`` changed a shaping setting after loads
    (WorkspaceError naming each setting, its two values and the ways out)."""
    loaded = recorded(con)
    if loaded is None:
        return
    changed = [name for name in SHAPING if getattr(config, name) != loaded[name]]
    if not changed:
        return
    edits = " and ".join(
        f'{name} = "{getattr(config, name)}" (its data were loaded with "{loaded[name]}")'
        for name in changed
    )
    restore = ", ".join(f'{name} = "{loaded[name]}"' for name in changed)
    options = " ".join(f"--{name.replace('_', '-')} {getattr(config, name)}" for name in changed)
    raise WorkspaceError(
        f"{folder / CONFIG_FILE} sets {edits}; loaded rows keep the setting they were read "
        f"with, so the two would mix. Put back {restore}, or load the files into a new "
        f"workspace: patron init NEW_FOLDER {options}"
    )
