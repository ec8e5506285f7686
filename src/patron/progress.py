"""A progress display for long loads: the current phase and DuckDB's own query progress."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

if TYPE_CHECKING:
    from patron.ingest.loader import Progress as PhaseCallback
    from patron.workspace import Workspace


@contextmanager
def load_progress(ws: Workspace, *, enabled: bool = True) -> Iterator[PhaseCallback | None]:
    """Yield a phase callback that drives a progress bar on stderr if it is a terminal.

    The bar goes to stderr so ``patron load ... > summary.txt`` keeps a clean summary.
    """
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    task = bar.add_task("starting", total=100)
    stop = threading.Event()

    def poll() -> None:
        while not stop.wait(0.2):
            done = ws.warehouse.duckdb.query_progress()
            if done >= 0:
                bar.update(task, completed=done)

    def phase(name: str) -> None:
        bar.update(task, description=name, completed=0)
        bar.refresh()  # a phase shorter than the refresh interval still shows

    watcher = threading.Thread(target=poll, daemon=True)
    with bar:
        watcher.start()
        try:
            yield phase
        finally:
            stop.set()
            watcher.join()
