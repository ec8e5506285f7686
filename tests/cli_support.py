"""Running the ``patron`` command: in a subprocess, as a user would, or in this process.

``patron`` starts a new Python that imports ibis and DuckDB: about two seconds before the command
does anything. Each command group keeps at least one test through ``patron`` (the real command on
real files); the many variants of its options, and set-up steps, go through ``patron_here``,
which calls the same Typer app in this process and answers the same ``CompletedProcess``.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Any
from unittest import mock


def patron(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "patron", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


def patron_here(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``patron *args`` run in this process from ``cwd``, like ``patron`` but without start-up.

    The app's global options (``_state``) are reset before and after, so no run sees another's
    ``--workspace`` or ``--debug``. An exception the command does not handle becomes exit code 1
    with its traceback on stderr, as the real command would print it.
    """
    from typer.testing import CliRunner

    from patron.cli import app, base

    defaults = {"workspace": None, "debug": False}
    base._state.update(defaults)
    try:
        # The consoles chose their colours when imported; a subprocess with piped output has none.
        with (
            contextlib.chdir(cwd),
            mock.patch.object(base.out, "_color_system", None),
            mock.patch.object(base.err, "_color_system", None),
        ):
            result = CliRunner().invoke(app, list(args), env=env)
    finally:
        base._state.update(defaults)
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        info = result.exc_info
        assert info is not None
        stderr += "".join(traceback.format_exception(*info))
    return subprocess.CompletedProcess(["patron", *args], result.exit_code, result.stdout, stderr)


def ok(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if result.stdout.lstrip().startswith("{") else result.stdout
