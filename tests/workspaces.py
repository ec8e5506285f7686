"""Small real workspaces that several test modules share."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from patron import Workspace
from patron.samples.cdnow import write_orders


def cdnow_workspace(root: Path) -> Iterator[Workspace]:
    """A UTC workspace holding the CDNOW 1/10 sample's orders (2,357 customers), loaded as of
    2025 so no order is in the future; closed when the fixture using it ends."""
    orders = write_orders(root / "data", sample=True)
    workspace = Workspace.init(root / "ws", timezone="UTC")
    workspace.load("orders", [orders], now=datetime(2025, 1, 1, tzinfo=UTC))
    yield workspace
    workspace.close()
