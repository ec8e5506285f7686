"""Shared pieces of the loading tests: a fixed load time, a small orders header, file writing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from patron import Workspace

NOW = datetime(2025, 6, 1, tzinfo=UTC)
HEADER = "order_id,email,ordered_at,revenue\n"


def write(path: Path, content: str | bytes) -> Path:
    """Write exactly these characters or bytes (no newline translation)."""
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", newline="")
    return path


def orders(ws: Workspace) -> dict[str, dict[str, Any]]:
    """The loaded orders by order_id."""
    frame = ws.table("orders").execute()
    return {row["order_id"]: row for row in frame.to_dict("records")}
