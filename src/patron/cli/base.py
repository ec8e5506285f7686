"""What every ``patron`` command shares: the Typer apps, options, error handling, output.

Every command that prints results has ``--json`` (stable keys). Failures the user can fix print
one line and exit 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import json
import math
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console, RenderableType
from rich.markup import escape

from patron.arguments import optional_day
from patron.defaults import ENV_VAR
from patron.errors import PatronError, PatronWarning, on_command_line

if TYPE_CHECKING:
    from patron.workspace import Workspace

app = typer.Typer(
    name="patron",
    help="Customer-centric marketing in your own warehouse.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
quarantine_app = typer.Typer(help="Rows that failed validation.", no_args_is_help=True)
customer_app = typer.Typer(help="One customer's 360 profile.", no_args_is_help=True)
sample_app = typer.Typer(
    help="Write sample datasets in the canonical shapes.", no_args_is_help=True
)
app.add_typer(quarantine_app, name="quarantine")
app.add_typer(customer_app, name="customer")
export_app = typer.Typer(help="Write tables for other tools.", no_args_is_help=True)
app.add_typer(sample_app, name="sample")
app.add_typer(export_app, name="export")

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
_state: dict[str, Any] = {"workspace": None, "debug": False}

WorkspaceOption = Annotated[
    Path | None,
    typer.Option(
        "--workspace",
        "-w",
        help=f"Workspace folder (default: ${ENV_VAR}, else ./patron-workspace).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
TimeUnitOption = Annotated[str, typer.Option(help="Model time unit: day, week or month.")]
HorizonOption = Annotated[int, typer.Option(help="Periods (time units) ahead to predict.")]
DiscountRateOption = Annotated[float, typer.Option(help="Discount rate per period.")]
MarginOption = Annotated[float, typer.Option(help="Share of revenue kept as margin.")]
SpendOption = Annotated[
    Path | None,
    typer.Option(
        help="CSV of channel, spend and month (YYYY-MM) or start and end dates: adds CAC, "
        "CLV:CAC and payback."
    ),
]


@app.callback()
def main_options(
    workspace: WorkspaceOption = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    """patron: one view per customer, KPIs, predictions, segments, experiments, campaigns."""
    _state["workspace"] = workspace
    _state["debug"] = debug
    _shown.clear()  # a command in a process that ran others (tests) still says its warnings
    if not debug:
        warnings.showwarning = _show_warning


def _show_warning(message: Warning | str, category: type[Warning], *args: Any, **kw: Any) -> None:
    """patron's own warnings as one line on stderr, without Python's file and source line, each
    once a command (a report reads the stored predictions in several places); others as Python
    shows them."""
    if not issubclass(category, PatronWarning):
        _python_showwarning(message, category, *args, **kw)
    elif (text := str(message)) not in _shown:
        _shown.add(text)
        err.print(f"[yellow]warning:[/yellow] {text}", markup=True, highlight=False)


_shown: set[str] = set()
"""The patron warnings this command printed."""


_python_showwarning = warnings.showwarning


@contextmanager
def errors() -> Iterator[None]:
    """Turn a PatronError, or the engine running out of memory or disk, into one line on
    stderr and exit code 2 (traceback with --debug)."""
    try:
        with on_command_line():
            yield
    except PatronError as exc:
        _fail(str(exc), exc)
    except Exception as exc:
        from patron.sql import first_line, out_of_room  # the engine is loaded when it failed

        if not out_of_room(exc):
            raise
        _fail(
            f"the warehouse ran out of memory or disk space ({first_line(exc)}); free disk "
            "space next to the workspace or raise memory_limit in patron.toml",
            exc,
        )


def _fail(message: str, exc: Exception) -> NoReturn:
    if _state["debug"]:
        raise exc
    err.print(f"[red]error:[/red] {escape(message)}", markup=True, highlight=False)
    raise typer.Exit(2) from exc


@contextmanager
def open_workspace(folder: Path | None, *, read_only: bool = False) -> Iterator[Workspace]:
    from patron.workspace import Workspace  # the engine loads when a command runs, not for --help

    ws = Workspace.open(folder or _state["workspace"], read_only=read_only)
    try:
        yield ws
    finally:
        ws.close()


def emit(data: Any, as_json: bool, text: Callable[[Any], RenderableType]) -> None:
    if as_json:
        print_json(data)
    else:
        out.print(text(data), highlight=False)


def print_json(data: Any) -> None:
    """``data`` as JSON that any reader takes: a number that could not be computed (NaN, an
    infinity: a correlation of a holdout where nobody bought) is null, not Python's ``NaN``."""
    text = json.dumps(_finite(data), indent=2, default=str, ensure_ascii=False, allow_nan=False)
    sys.stdout.write(text + "\n")


def _finite(data: Any) -> Any:
    """``data`` with every non-finite float replaced by None and every Decimal (an amount
    straight from the warehouse) by its float, which JSON writes as a number, not "12.50";
    through dicts, lists and tuples."""
    if isinstance(data, Decimal):
        data = float(data)
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {key: _finite(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [_finite(value) for value in data]
    return data


def parse_date(value: str | None, option: str = "--as-of") -> date | None:
    """An ISO date from the command line, or None (:func:`patron.arguments.as_day`)."""
    return optional_day(value, option)


AsOfOption = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="Compute as of the end of this day (default: the last day of the orders loaded).",
    ),
]
