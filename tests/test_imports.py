"""``import patron`` and its model modules do not drag in the engine: a notebook that wants a
BG/NBD fit should not wait for Ibis, DuckDB and every workspace module first."""

from __future__ import annotations

import json
import subprocess
import sys

ENGINE = ("patron.workspace", "ibis", "duckdb", "sqlalchemy")


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
    assert set(ENGINE) <= loaded
