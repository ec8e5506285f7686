"""The folder a sample is written into: created if missing, never at the cost of a user's files.

Why: ``--out`` often names a folder that already holds data (a shop's exports, an earlier
sample). A file the sample wrote before starts with the sample's header and is replaced, so a
second run gives the same folder as a first; any other file of the same name is the user's and
stops the run before anything is written. Files of other names are left alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from patron.errors import InputError


def prepare(out: Path, headers: Mapping[str, Sequence[str]]) -> dict[str, Path]:
    """Create ``out`` and return the path of each ``<name>.csv`` of ``headers``.

    Raises InputError, before writing anything, when ``out`` is a file or holds a
    ``<name>.csv`` that does not start with that file's header. A leading ``~`` is the home
    folder: a path from cron or Airflow comes without a shell to expand it.
    """
    out = out.expanduser()
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} is a file, not a folder; pass a new or empty folder")
    paths = {name: out / f"{name}.csv" for name in headers}
    for name, path in paths.items():
        if path.exists() and not _starts_with(path, ",".join(headers[name])):
            raise InputError(
                f"{path} exists and is not from an earlier run of this sample; "
                "pass a new or empty folder, or move that file away"
            )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:  # a parent is a file, or no permission
        raise InputError(f"cannot create the folder {out}: {error.strerror}") from error
    return paths


def _starts_with(path: Path, header: str) -> bool:
    """Whether the file's first line is exactly ``header`` (a folder or binary file is not)."""
    if not path.is_file():
        return False
    with path.open("rb") as handle:
        return handle.readline() == f"{header}\n".encode()
