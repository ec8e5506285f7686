"""patron: warehouse-native customer-centric marketing.

The Python API starts at :class:`Workspace`::

    import patron
    ws = patron.Workspace.init("shop", timezone="Europe/Berlin", currency="EUR")
    ws.load("orders", "orders.csv")
    ws.table("orders")            # an Ibis expression
    ws.customer("ana@example.com")
"""

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
from patron.ingest.loader import LoadResult
from patron.workspace import Workspace

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
