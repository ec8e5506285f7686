"""patron: warehouse-native customer-centric marketing.

The Python API starts at :class:`Workspace`::

    import patron
    ws = patron.Workspace.init("shop", timezone="Europe/Berlin", currency="EUR")
    ws.load("orders", "orders.csv")
    ws.table("orders")            # an Ibis expression
    ws.customer("ana@example.com")
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from patron.errors import (
    ConvergenceError,
    ConvergenceWarning,
    InputError,
    NotFittedError,
    NotFoundError,
    PatronError,
    ResourceError,
    WorkspaceError,
)

if TYPE_CHECKING:
    from patron.ingest.loader import LoadResult
    from patron.workspace import Workspace

_LAZY = {"Workspace": "patron.workspace", "LoadResult": "patron.ingest.loader"}
"""Imported on first use: the workspace brings in the engine and every model (over a second),
which ``from patron.models import BetaGeoModel`` in a notebook need not wait for (0.35 s)."""


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'patron' has no attribute {name!r}")


__all__ = [
    "ConvergenceError",
    "ConvergenceWarning",
    "InputError",
    "LoadResult",
    "NotFittedError",
    "NotFoundError",
    "PatronError",
    "ResourceError",
    "Workspace",
    "WorkspaceError",
]
__version__ = "0.1.0"
