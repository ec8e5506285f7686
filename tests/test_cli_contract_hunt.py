"""The command line's contract with scripts, cron and pipelines: ``--json`` is one JSON document
on stdout and nothing else, errors are one line on stderr with a non-zero code, read commands
run beside each other. The real ``patron`` command on one small synthetic shop."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from cli_support import ok, patron, patron_here
from patron import Workspace

SLOW_QUERIES = """
import sys
from patron import warehouse

opened = warehouse.Warehouse.__init__


def slow(self, *args, **kwargs):
    opened(self, *args, **kwargs)
    self.duckdb.execute("SET progress_bar_time = 10")  # every real query is a long one now


warehouse.Warehouse.__init__ = slow
from patron.cli import main

sys.argv[0] = "patron"
main()
"""
"""``patron`` as on a workspace big enough for queries past DuckDB's progress-bar threshold
(two seconds by default; ten milliseconds here, which the small shop's queries pass)."""


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A folder with ``ws``: 2,000 synthetic customers' orders, and experiment ``winback``."""
    root = tmp_path_factory.mktemp("contract")
    sample = ("sample", "synthetic", "--out", "data", "--customers", "2000", "--seed", "1")
    ok(patron(*sample, cwd=root))
    ok(patron("init", "ws", cwd=root))
    ok(patron("-w", "ws", "load", "orders", "data/orders.csv", cwd=root))
    args = ("experiment", "create", "winback", "--start", "2024-06-01", "--json")
    ok(patron("-w", "ws", *args, cwd=root))
    yield root


def _json(result: subprocess.CompletedProcess[str]) -> Any:
    """The one JSON document a command printed (stdout holds nothing else), or fail."""
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_duckdbs_own_progress_bar_never_reaches_stdout(shop: Path) -> None:
    """DuckDB draws its progress bar on stdout for every query over two seconds, even when
    stdout is a file: on a big workspace ``patron kpis --json > kpis.json`` wrote bars before
    the JSON, and ``json.load`` failed."""
    args = ("-w", "ws", "kpis", "--trend", "month", "--json")
    result = subprocess.run(
        [sys.executable, "-c", SLOW_QUERIES, *args],
        cwd=shop,
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=300,
    )
    assert "elapsed" not in result.stdout
    trend = _json(result)
    assert isinstance(trend, dict)
    assert trend["points"][-1]["as_of"] == trend["as_of"]
    assert trend["points"][-1]["customers_total"] > 1000


def test_a_summary_file_that_is_not_text_is_one_line(tmp_path: Path) -> None:
    """``fit --summary`` on a file that is not UTF-8 text (an Excel file saved as .csv) printed
    a UnicodeDecodeError traceback and exited 1."""
    (tmp_path / "summary.csv").write_bytes(b"frequency,recency,T\n" + bytes(range(128, 256)) * 4)
    result = patron("fit", "--summary", "summary.csv", "--json", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: summary.csv: not a UTF-8 CSV file")


def test_an_experiment_is_read_out_while_a_notebook_reads_the_workspace(shop: Path) -> None:
    """``experiment analyze`` only reads, yet opened the workspace for writing: beside any
    reader (a notebook, ``patron report`` from cron, another readout) it failed with
    "Could not set lock on file"."""
    with Workspace.open(shop / "ws", read_only=True) as reader:
        readout = _json(patron("-w", "ws", "experiment", "analyze", "winback", "--json", cwd=shop))
        assert reader.status()["orders"] > 4000
    assert isinstance(readout, dict)
    assert readout["experiment"] == "winback"
    assert [v["name"] for v in readout["variants"]] == ["control", "treatment"]
    assert sum(v["n"] for v in readout["variants"]) > 1900


def test_experiment_delete_answers_in_json(shop: Path) -> None:
    """Every command that prints has ``--json``; ``experiment delete`` refused the option
    (a usage error, exit 2) where ``quarantine close`` takes it."""
    ok(patron("-w", "ws", "experiment", "create", "scratch", "--start", "2024-06-01", cwd=shop))
    assert _json(patron("-w", "ws", "experiment", "delete", "scratch", "--json", cwd=shop)) == {
        "deleted": "scratch"
    }
    listed = _json(patron("-w", "ws", "experiment", "list", "--json", cwd=shop))
    assert isinstance(listed, list)
    assert [e["name"] for e in listed] == ["winback"]
    again = patron("-w", "ws", "experiment", "delete", "scratch", "--json", cwd=shop)
    assert (again.returncode, again.stdout) == (2, "")
    assert again.stderr.strip() == "error: no experiment 'scratch'; experiments: winback"


def test_a_load_from_a_pipe_says_it_needs_a_file(shop: Path) -> None:
    """``zcat orders.csv.gz | patron load orders /dev/stdin --format csv`` read the pipe once
    for its dialect and found it empty after: "the file has a header but no data rows", of a
    file with 50 rows, and nothing loaded. A pipe cannot be read again: the message says so."""
    head = "".join((shop / "data" / "orders.csv").read_text().splitlines(keepends=True)[:51])
    args = ("-w", "ws", "load", "orders", "/dev/stdin", "--format", "csv", "--json")
    result = subprocess.run(
        [sys.executable, "-m", "patron", *args],
        cwd=shop,
        input=head,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.strip() == (
        "error: /dev/stdin: is a pipe or a device, not a file, and a load reads its file more "
        "than once; save it to a file first (a .csv.gz or .jsonl.gz file loads as it is)"
    )


def test_patron_workspace_may_start_with_a_tilde(shop: Path) -> None:
    """crontab lines, systemd units and Airflow's env dicts set variables without a shell, so
    ``PATRON_WORKSPACE=~/shop`` arrives with its ``~``: ``--workspace ~/shop`` (quoted) worked,
    the variable said "~/shop is not a patron workspace"."""
    env = {"HOME": str(shop), "PATRON_WORKSPACE": "~/ws"}
    status = _json(patron("status", "--json", cwd=shop / "data", env=env))
    given = _json(patron("-w", "~/ws", "status", "--json", cwd=shop, env=env))
    assert status["orders"] == given["orders"] > 4000
    missing = patron("status", cwd=shop, env={**env, "PATRON_WORKSPACE": "~/gone"})
    assert missing.returncode == 2
    assert missing.stderr.strip() == (
        f"error: {shop}/gone is not a patron workspace (no patron.toml); "
        f"create one with: patron init {shop}/gone"
    )


def test_a_tilde_in_a_path_is_the_home_folder_for_every_command(shop: Path) -> None:
    """Airflow and cron pass arguments without a shell, so ``--out ~/x.csv`` arrives with its
    ``~``. ``export customers`` and ``report`` wrote to the home folder, but ``predict``,
    ``offers``, ``insights`` and ``sample`` made a folder named ``~`` in the working folder (one
    ``rm -rf ~`` away from the real home), and ``fit --summary ~/x.csv`` found no file. The
    predictions went to a hidden part file in the home folder (DuckDB expands ``~`` itself),
    leaving ``./~/p.csv`` empty while the command said it wrote ``~/p.csv``."""
    home, work = shop / "home", shop / "work"
    work.mkdir()
    env = {"HOME": str(home)}
    predicted = _json(
        patron(
            "-w", "../ws", "predict", "--no-store", "--out", "~/p.csv", "--json", cwd=work, env=env
        )
    )
    sampled = _json(
        patron(
            "sample", "synthetic", "--customers", "5", "--out", "~/syn", "--json", cwd=work, env=env
        )
    )
    assert list(work.iterdir()) == []  # no folder named "~"
    assert sorted(p.name for p in home.iterdir()) == ["p.csv", "syn"]  # no stray part file
    rows = (home / "p.csv").read_text().splitlines()
    assert len(rows) - 1 == predicted["customers"] > 1900
    assert sampled["orders"] == str(home / "syn" / "orders.csv")
    assert (home / "syn" / "orders.csv").read_text().startswith("order_id,")
    (home / "summary.csv").write_text("frequency,recency,T\n0,0,10\n1,4,10\n2,8,10\n1,2,9\n")
    fitted = _json(patron("fit", "--summary", "~/summary.csv", "--json", cwd=work, env=env))
    assert (fitted["model"], fitted["n_customers"]) == ("bgnbd", 4)


def test_a_damaged_warehouse_is_not_blamed_on_another_command(tmp_path: Path) -> None:
    """Every failure to open the warehouse ended "is another patron command using this
    workspace?", a file that is no DuckDB database too: a cron job's operator went looking
    for a process that did not exist. Only a lock held elsewhere asks it."""
    ok(patron("init", "ws", cwd=tmp_path))
    (tmp_path / "ws" / "warehouse.duckdb").write_bytes(b"\x00garbage" * 512)
    result = patron("-w", "ws", "status", "--json", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (2, "")
    engine = tmp_path / "ws" / "warehouse.duckdb"
    assert result.stderr == (
        f"error: cannot open the warehouse ws/warehouse.duckdb: IO Error: The file "
        f'"{engine}" exists, but it is not a valid DuckDB database file!\n'
    )


def test_an_amount_from_the_warehouse_is_a_json_number(capsys: pytest.CaptureFixture[str]) -> None:
    """A Decimal (money as the warehouse stores it) was written as the text "12.50"."""
    from decimal import Decimal

    from patron.cli.base import print_json

    print_json({"revenue": Decimal("12.50"), "rows": [Decimal("-0.001"), float("nan")]})
    assert json.loads(capsys.readouterr().out) == {"revenue": 12.5, "rows": [-0.001, None]}


def test_status_says_what_the_last_load_did(tmp_path: Path) -> None:
    """A watcher of a nightly job had only a count of loads to go by: ``status`` now gives the
    latest load's table, files, finish time (UTC in JSON, the shop's clock in text) and counts."""
    (tmp_path / "a.csv").write_text("order_id,email,ordered_at,revenue\n1,a@x.com,2024-01-05,5\n")
    (tmp_path / "b.csv").write_text("order_id,email,ordered_at,revenue\n2,b@x.com,2024-01-06,x\n")
    ok(patron_here("init", "ws", "--timezone", "Asia/Tehran", cwd=tmp_path))
    assert ok(patron_here("-w", "ws", "status", "--json", cwd=tmp_path))["last_load"] is None
    ok(patron_here("-w", "ws", "load", "orders", "a.csv", "b.csv", "--json", cwd=tmp_path))
    last = ok(patron_here("-w", "ws", "status", "--json", cwd=tmp_path))["last_load"]
    assert {k: last[k] for k in ("load_id", "table", "rows_read", "inserted", "quarantined")} == {
        "load_id": 1,
        "table": "orders",
        "rows_read": 2,
        "inserted": 1,
        "quarantined": 1,
    }
    assert [Path(f).name for f in last["files"]] == ["a.csv", "b.csv"]
    finished = datetime.fromisoformat(last["finished_at"])
    assert finished.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - finished) < timedelta(minutes=5)
    text = patron_here("-w", "ws", "status", cwd=tmp_path).stdout
    local = finished.astimezone(ZoneInfo("Asia/Tehran"))
    assert f"#1 orders from 2 files, {local:%Y-%m-%d %H:%M} (Asia/Tehran)" in text


def test_every_json_time_says_it_is_utc(shop: Path) -> None:
    """``status`` wrote ``+00:00``; ``customer show`` and ``experiment list`` wrote stored UTC
    times without an offset (which most tools take for local time), and ``experiment analyze``
    wrote ``through`` with a space: every JSON instant is now ISO 8601 with its offset."""
    readout = _json(patron("-w", "ws", "experiment", "analyze", "winback", "--json", cwd=shop))
    listed = _json(patron("-w", "ws", "experiment", "list", "--json", cwd=shop))
    status = _json(patron("-w", "ws", "status", "--json", cwd=shop))
    ok(patron("-w", "ws", "export", "customers", "--out", "c.csv", cwd=shop))
    email = (shop / "c.csv").read_text().splitlines()[1].split(",")[2]  # the first customer
    shown = _json(patron("-w", "ws", "customer", "show", email, "--json", cwd=shop))
    stamps = [
        readout["through"],
        *(e["created_at"] for e in listed),
        status["last_load"]["finished_at"],
        shown["totals"]["first_purchase"],
        *(o["ordered_at"] for o in shown["orders"]),
        *(i["first_seen"] for i in shown["identifiers"]),
    ]
    assert len(stamps) > 4
    for stamp in stamps:
        assert datetime.fromisoformat(stamp).utcoffset() == timedelta(0), stamp
