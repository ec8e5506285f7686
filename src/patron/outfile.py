"""Files patron writes for people (exports, reports, lists for an email tool): whole or not at
all, and a path that cannot be written refused before the work that fills it."""

from __future__ import annotations

import contextlib
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from patron.errors import InputError


def write_whole(out: Path, write: Callable[[Path], Any]) -> None:
    """Write ``out`` by ``write(part)`` on a hidden file beside it that then replaces it.

    A run that fails or is killed half way leaves the last good file in place, never a cut one
    under its name; the new file keeps the permissions of the one it replaces. The folder is
    made and the hidden file created before ``write`` runs, so a path that cannot be written
    fails at once, in one line, not after a slow computation. The hidden file keeps ``out``'s
    suffix, which writers read the format from. A leading ``~`` is the home folder, as a shell
    would have made it: a command run from cron or Airflow gets its ``--out ~/x.csv`` without
    a shell, and had written into a folder named ``~``.
    """
    out = out.expanduser()
    part = _reserve(out)
    try:
        write(part)
        _keep_mode(out, part)
        part.replace(out)
    except OSError as exc:
        raise _unwritable(out, exc) from exc
    finally:
        part.unlink(missing_ok=True)


def check_writable(out: Path) -> None:
    """Refuse now, in :func:`write_whole`'s words, an ``out`` it could not write (its folder
    is made, as the write would make it), for a command to call before its work."""
    _reserve(out.expanduser()).unlink()


def _reserve(out: Path) -> Path:
    if out.is_dir():
        raise InputError(f"cannot write {out}: it is a folder; name a file")
    part = out.with_name(f".{out.name}-{uuid.uuid4().hex[:8]}{out.suffix}")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        part.open("x").close()  # a new file's mode, as the output would have
    except OSError as exc:
        raise _unwritable(out, exc) from exc
    return part


def _keep_mode(out: Path, part: Path) -> None:
    """Give ``part`` the permissions of the file ``out`` it replaces, if there is one: a
    customer export the user had made private (``chmod 600``: emails and phones inside) came
    back readable by everyone after the next run, as a new file is."""
    with contextlib.suppress(FileNotFoundError):
        shutil.copymode(out, part)


def _unwritable(out: Path, exc: OSError) -> InputError:
    """The reason in words, naming a file that stands where a folder must (the system's
    "File exists" would send the user looking for ``out``)."""
    file = next((p for p in reversed(out.parents) if p.exists() and not p.is_dir()), None)
    reason = f"{file} is a file, not a folder" if file else exc.strerror or str(exc)
    return InputError(f"cannot write {out}: {reason}")
