"""patron: warehouse-native customer-centric marketing.

The Python API starts at :class:`Workspace`::

    import patron
    ws = patron.Workspace.init("shop", timezone="Europe/Berlin", currency="EUR")
    ws.load("orders", "orders.csv")
    ws.table("orders")            # an Ibis expression
    ws.customer("ana@example.com")

Errors patron raises on purpose derive from :class:`PatronError`, and each from the built-in
it stands for, so ``except ValueError`` catches a bad argument too:

- :class:`InputError` (a ``ValueError``): a bad file, row, option or value; the message names
  it, and ``file``, ``row``, ``field`` hold where.
- :class:`WorkspaceError` (a ``FileNotFoundError``): the folder is no workspace, another
  process holds it, it is closed, or a method that writes was called on one opened
  ``read_only=True``.
- :class:`NotFoundError` (a ``LookupError``): no such customer, table or experiment.
- :class:`ResourceError` (a ``MemoryError``): the engine ran out of the memory it may use.
- :class:`NotFittedError`, :class:`ConvergenceError` and :class:`ConvergenceWarning`: models.
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


def __dir__() -> list[str]:
    """The module's names with the lazy ones, so a notebook's ``patron.<Tab>`` offers
    ``Workspace`` before its first use."""
    return sorted({*globals(), *_LAZY})


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
