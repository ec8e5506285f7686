"""The ``patron`` command line: one thin function per command over the Python API.

Commands live in modules by what they do; importing them registers them on ``app``.
"""

from __future__ import annotations

from patron.cli import (  # noqa: F401  (importing registers the commands)
    acquisition,
    analytics,
    data,
    experiments,
    insights,
    models,
    recommend,
)
from patron.cli.base import app


def main() -> None:
    """Console-script entry point."""
    app()


__all__ = ["app", "main"]
