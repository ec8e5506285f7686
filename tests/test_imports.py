"""``import patron`` and its model modules do not drag in the engine: a notebook that wants a
BG/NBD fit should not wait for Ibis, DuckDB and every workspace module first. Nor does the
command line before a command runs: ``patron --help`` or a mistyped option answers at once, and
a command that only reads the workspace (status, a profile, the quarantine) loads no model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from patron import Workspace
from patron.cli import app

ENGINE = ("patron.workspace", "ibis", "duckdb", "sqlalchemy")
NUMERICS = ("numpy", "scipy", "pyarrow")


def _imported_after(statement: str) -> set[str]:
    code = f"import json, sys; {statement}; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return set(json.loads(result.stdout))


def test_models_alone_leave_the_engine_unloaded() -> None:
    loaded = _imported_after("from patron.models import BetaGeoModel; import patron")
    assert not loaded & set(ENGINE)


def test_the_workspace_is_there_when_asked_for() -> None:
    loaded = _imported_after("import patron; patron.Workspace")
    assert set(ENGINE) - {"sqlalchemy"} <= loaded  # the store's, at its first use


def test_the_command_line_loads_only_its_options() -> None:
    loaded = _imported_after("import patron.cli")
    assert not loaded & {*ENGINE, *NUMERICS}


def test_help_lists_every_command_without_the_engine() -> None:
    loaded = _imported_after(
        "from typer.testing import CliRunner; from patron.cli import app; "
        "assert CliRunner().invoke(app, ['--help']).exit_code == 0"
    )
    assert not loaded & {*ENGINE, *NUMERICS}
    shown = CliRunner().invoke(app, ["--help"]).output
    for command in ("init", "load", "status", "fit", "predict", "experiment", "acquisition"):
        assert f" {command} " in shown


def test_reading_a_workspace_loads_no_model(tmp_path: Path) -> None:
    folder = str(tmp_path / "ws")
    loaded = _imported_after(
        f"import patron; ws = patron.Workspace.init({folder!r}); ws.status(); "
        "ws.quarantine(); ws.close()"
    )
    assert "patron.workspace" in loaded
    assert not loaded & {"scipy", "patron.models", "patron.predict", "patron.ingest.loader"}


def test_the_operational_store_opens_when_an_experiment_needs_it(tmp_path: Path) -> None:
    # SQLAlchemy took a third of a second to import, and `patron status` 1.8 s instead of 1.3
    folder = str(tmp_path / "ws")
    Workspace.init(folder).close()
    opened = f"import patron; ws = patron.Workspace.open({folder!r}); "
    assert "sqlalchemy" not in _imported_after(opened + "ws.status(); ws.close()")
    assert "sqlalchemy" in _imported_after(opened + "assert ws.experiments() == []; ws.close()")
