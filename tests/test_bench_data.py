"""The benchmarks' data builders still write workspaces patron opens and reads.

``bench/analytics.py``, ``experiments.py`` and ``insights.py`` generate their large workspaces
in the engine, writing the warehouse tables directly as a load would; when the table layout
changes they must follow (``row_hash`` became an integer and all three broke unnoticed). Each
builds a tiny workspace here through its own command line.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from patron import Workspace

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.mark.parametrize(
    ("script", "sizes"),
    [("analytics.py", ["20000", "2000"]), ("experiments.py", ["2000"]), ("insights.py", ["2000"])],
)
def test_a_bench_builds_a_workspace_patron_reads(
    tmp_path: Path, script: str, sizes: list[str]
) -> None:
    command = [sys.executable, str(BENCH / script), "--build", *sizes, "1", str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    with Workspace.open(tmp_path / "workspace") as ws:
        status = ws.status()
        assert status["customers"] > 0 and status["orders"] > 0
        assert ws.kpis()["active_customers"] > 0
