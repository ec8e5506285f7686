"""User-facing failures: one root class, subclasses that also inherit the matching built-in.

Each message says what went wrong and what to do; structured context (file, row, field) is kept
as attributes so programs can act on it without parsing text.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_ON_COMMAND_LINE: ContextVar[bool] = ContextVar("on_command_line", default=False)


def option(name: str, flag: str | None = None) -> str:
    """The parameter ``name`` (its Python spelling) as its user typed it, for a message:
    ``--min-support`` in a command, ``min_support`` from Python; ``flag`` where the command
    line calls it otherwise (``within`` is ``--due-within``)."""
    if not _ON_COMMAND_LINE.get():
        return name
    return f"--{flag or name.replace('_', '-')}"


def spelled(command: str, python: str) -> str:
    """How a message tells its user to pass something: ``command`` (``--encoding cp1252``) in a
    command, ``python`` (``encoding='cp1252'``) from Python."""
    return command if _ON_COMMAND_LINE.get() else python


def command_line() -> bool:
    """Whether a ``patron`` command is running (inside :func:`on_command_line`)."""
    return _ON_COMMAND_LINE.get()


@contextmanager
def on_command_line() -> Iterator[None]:
    """Within it, messages name parameters as the command line's options (:func:`option`);
    the CLI runs each command in it."""
    token = _ON_COMMAND_LINE.set(True)
    try:
        yield
    finally:
        _ON_COMMAND_LINE.reset(token)


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


class StalePredictionsWarning(PatronWarning):
    """Stored predictions that a later load made out of date (a backfill, a merge)."""


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
