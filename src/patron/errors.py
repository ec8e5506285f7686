"""User-facing failures: one root class, subclasses that also inherit the matching built-in.

Each message says what went wrong and what to do; structured context (file, row, field) is kept
as attributes so programs can act on it without parsing text.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class PatronError(Exception):
    """Root of every error patron raises on purpose."""


class InputError(PatronError, ValueError):
    """Bad input from the user: a file, an option, a value.

    Parameters
    ----------
    message:
        What is wrong and what to do about it.
    file, row, field:
        Where the problem is, when it is in a file (row is 1-based, header excluded).
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        field: str | None = None,
    ) -> None:
        self.file = file
        self.row = row
        self.field = field
        where = ", ".join(
            part
            for part in (
                file,
                f"row {row}" if row is not None else None,
                f"column {field!r}" if field else None,
            )
            if part
        )
        super().__init__(f"{where}: {message}" if where else message)


class WorkspaceError(PatronError, FileNotFoundError):
    """The folder is not a patron workspace, or cannot be opened."""


class NotFoundError(PatronError, LookupError):
    """A named thing (customer, table, identifier) does not exist."""


class ResourceError(PatronError, MemoryError):
    """The engine ran out of a resource (memory) it is allowed to use."""


class NotFittedError(PatronError, AttributeError):
    """A model was used before ``fit``."""


class ConvergenceError(PatronError, ArithmeticError):
    """An optimizer found no finite likelihood: the model does not fit these data."""


class PatronWarning(UserWarning):
    """Something the user should know that does not stop the command: one line, no traceback."""


class ConvergenceWarning(PatronWarning):
    """A fit not to be trusted: its optimizer stopped short, or the data leave parameters free."""


class LooseFitWarning(ConvergenceWarning):
    """A fit whose data leave some parameters free (no finite standard error). The workspace's
    commands say so in their own words (:func:`patron.clv.unidentified`, which finds these and
    more), so they silence this one."""


def did_you_mean(name: object, choices: Iterable[object]) -> str:
    """Return ' (did you mean X?)' for the closest choice, or '' when nothing is close.
    Never raises: it runs while another error is being reported, whatever the user passed
    (a class for a name, a number), so both sides are compared as text."""
    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
