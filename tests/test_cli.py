"""End-to-end: the real ``patron`` command on real files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from cli_support import ok, patron, patron_here
from patron.samples.cdnow import read_rows

ORDERS = """order_id,customer_id,email,phone,ordered_at,channel,revenue,status,return_of
W1,c1,ana@example.com,,2024-01-05 10:00,web,20.00,completed,
S1,,,(212) 555-0143,2024-01-06 11:00,store,30.00,completed,
A1,,ana@example.com,212-555-0143,2024-02-01 09:00,app,15.50,completed,
R1,,ana@example.com,,2024-02-03 09:00,web,-15.50,returned,A1
B1,,bob@example.com,,2024-03-01 12:00,web,5.00,completed,
"""


def test_init_load_status_customer_and_quarantine(tmp_path: Path) -> None:
    (tmp_path / "orders.csv").write_text(ORDERS + "X1,,,,2024-03-01,web,1.00,,\n")
    ok(patron("init", "ws", "--timezone", "America/New_York", "--phone-region", "US", cwd=tmp_path))
    assert 'timezone = "America/New_York"' in (tmp_path / "ws" / "patron.toml").read_text()

    loaded = ok(patron("--workspace", "ws", "load", "orders", "orders.csv", "--json", cwd=tmp_path))
    assert (loaded["inserted"], loaded["quarantined"], loaded["new_customers"]) == (5, 1, 2)

    status = ok(patron("status", "--json", "--workspace", "ws", cwd=tmp_path))
    assert status["customers"] == 2
    assert status["orders"] == 4  # the return is not a purchase
    assert status["revenue"] == pytest.approx(70.50)
    assert status["returns"] == 1
    assert status["quarantined"] == 1
    assert status["duplicates"] == 0
    assert status["identities"] == 4

    ana = ok(
        patron("customer", "show", "c1", "--json", cwd=tmp_path, env={"PATRON_WORKSPACE": "ws"})
    )
    assert ana["totals"] == {
        "orders": 3,
        "revenue": 65.5,
        "returns": 1,
        "refunded": 15.5,
        "cancelled": 0,
        "first_purchase": "2024-01-05T15:00:00+00:00",
        "last_purchase": "2024-02-01T14:00:00+00:00",
    }
    assert {"type": "phone", "value": "+12125550143"} in [
        {"type": i["type"], "value": i["value"]} for i in ana["identifiers"]
    ]
    assert ana["channels"] == ["app", "store", "web"]
    assert [o["order_id"] for o in ana["orders"]] == ["W1", "S1", "A1", "R1"]

    rows = ok(patron("-w", "ws", "quarantine", "list", "--json", cwd=tmp_path))["rows"]
    assert [(r["line"], r["field"]) for r in rows] == [(7, "customer identifier")]
    negative = patron("-w", "ws", "quarantine", "list", "--limit", "-1", cwd=tmp_path)
    assert (negative.returncode, negative.stderr.strip()) == (
        2,
        "error: --limit must be 0 (all rows) or more, got -1",  # was DuckDB's binder error
    )

    again = ok(patron("-w", "ws", "load", "orders", "orders.csv", "--json", cwd=tmp_path))
    assert (again["inserted"], again["duplicates"]) == (0, 5)
    assert ok(patron("-w", "ws", "status", "--json", cwd=tmp_path))["quarantined"] == 1

    text = ok(patron("-w", "ws", "status", cwd=tmp_path))
    assert "customers" in text and "70.50" in text


def test_status_says_in_which_zone_its_times_are(tmp_path: Path) -> None:
    """The span of purchases was UTC without saying so: Berlin's first order of 2024 showed as
    ``2023-12-31T23:30:00``."""
    (tmp_path / "o.csv").write_text(
        "order_id,email,ordered_at,revenue\na,a@x.com,2024-01-01 00:30:00,5\n"
        "b,b@x.com,2024-06-30 23:00:00,5\n"
    )
    ok(patron_here("init", "ws", "--timezone", "Europe/Berlin", cwd=tmp_path))
    ok(patron_here("-w", "ws", "load", "orders", "o.csv", cwd=tmp_path))
    status = ok(patron_here("-w", "ws", "status", "--json", cwd=tmp_path))
    assert (status["first_order_at"], status["last_order_at"], status["timezone"]) == (
        "2023-12-31T23:30:00+00:00",
        "2024-06-30T21:00:00+00:00",
        "Europe/Berlin",
    )
    text = ok(patron_here("-w", "ws", "status", cwd=tmp_path))
    assert "2024-01-01 00:30 .. 2024-06-30 23:00 (Europe/Berlin)" in text


def test_quarantine_reasons_name_the_options_as_typed(tmp_path: Path) -> None:
    # the same rows loaded from Python name date_format and decimal_comma=True instead
    bad = (
        'D1,,dee@example.com,,yesterday,web,1.00,,\nD2,,dee@example.com,,2024-03-02,web,"1,234",,\n'
    )
    (tmp_path / "orders.csv").write_text(ORDERS + bad)
    ok(patron("init", "ws", cwd=tmp_path))
    ok(patron("-w", "ws", "load", "orders", "orders.csv", cwd=tmp_path))
    rows = ok(patron("-w", "ws", "quarantine", "list", "--json", cwd=tmp_path))["rows"]
    reasons = {r["field"]: r["reason"] for r in rows}
    assert "pass --date-format for other layouts" in reasons["ordered_at"]
    assert "pass --decimal-comma if decimal" in reasons["revenue"]


@pytest.mark.parametrize(
    ("table", "message"),
    [
        # an orders export has an email, so it mapped as CRM records of its orders
        ("customers", "no column maps to a CRM field (name, birthday, country, consent, sign-up)"),
        ("events", "the header does not map to events"),
        ("lines", "the header does not map to order_lines"),
    ],
)
def test_a_file_loaded_as_the_wrong_table_names_the_right_one(
    tmp_path: Path, table: str, message: str
) -> None:
    (tmp_path / "orders.csv").write_text(ORDERS)
    ok(patron("init", "ws", cwd=tmp_path))
    result = patron("-w", "ws", "load", table, "orders.csv", cwd=tmp_path)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert message in result.stderr
    assert result.stderr.strip().endswith(
        "it looks like a file of orders (ordered_at, revenue): patron load orders orders.csv"
    )
    assert ok(patron("-w", "ws", "status", "--json", cwd=tmp_path))["customers"] == 0


def test_errors_are_one_line_with_exit_code_2(tmp_path: Path) -> None:
    missing = patron("-w", "nowhere", "status", cwd=tmp_path)
    assert missing.returncode == 2
    assert missing.stderr.strip().count("\n") == 0
    assert "not a patron workspace" in missing.stderr and "patron init" in missing.stderr
    assert "Traceback" not in missing.stderr

    # (the missing workspace and --debug need the real command: its exit, Python's traceback)
    ok(patron_here("init", "ws", cwd=tmp_path))
    unknown = patron_here("-w", "ws", "customer", "show", "nobody@example.com", cwd=tmp_path)
    assert unknown.returncode == 2 and "no customer" in unknown.stderr

    debug = patron("--debug", "-w", "ws", "load", "orders", "nope.csv", cwd=tmp_path)
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_running_out_of_room_in_any_command_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine's out-of-memory and full-disk errors, wherever a command meets them, say what
    ran out; other engine errors keep their traceback (a bug to report)."""
    import duckdb

    from patron.workspace import Workspace

    ok(patron_here("init", "ws", cwd=tmp_path))
    for error, shown in (
        (duckdb.OutOfMemoryException("Out of Memory Error: failed to offload data block"), 2),
        (duckdb.IOException('IO Error: Could not write file "x": No space left on device'), 2),
        (duckdb.IOException("IO Error: something else"), 1),
    ):

        def fail(*args: object, error: Exception = error, **kwargs: object) -> None:
            raise error

        monkeypatch.setattr(Workspace, "status", fail)
        run = patron_here("-w", "ws", "status", cwd=tmp_path)
        assert run.returncode == shown, run.stderr
        if shown == 2:
            assert run.stderr.strip().count("\n") == 0
            assert "ran out of memory or disk space" in run.stderr and str(error) in run.stderr


def test_cdnow_sample_loads_completely(tmp_path: Path) -> None:
    ok(patron("sample", "cdnow", "--out", "data", cwd=tmp_path))
    ok(patron("init", "ws", cwd=tmp_path))
    loaded = ok(patron("-w", "ws", "load", "orders", "data/orders.csv", "--json", cwd=tmp_path))
    rows = list(read_rows())
    assert loaded["inserted"] == len(rows) == 69_659
    assert loaded["quarantined"] == 0
    status = ok(patron("-w", "ws", "status", "--json", cwd=tmp_path))
    assert status["customers"] == 23_570
    assert Decimal(str(status["revenue"])) == sum(Decimal(r[3]) for r in rows)
    assert status["first_order_at"].startswith("1997-01-01")


def _big_csv(path: Path, rows: int) -> None:
    duckdb.sql(
        f"""COPY (SELECT 'o' || i AS order_id, 'c' || (i % 200000) AS customer_id,
                 'u' || (i % 200000) || '@example.com' AS email,
                 TIMESTAMP '2023-01-01' + INTERVAL (i % 700) DAY AS ordered_at,
                 round((i % 9000) / 100.0, 2) AS revenue
          FROM range({rows}) t(i)) TO '{path}' (HEADER)"""
    )


def test_a_load_killed_half_way_leaves_the_workspace_as_it_was(tmp_path: Path) -> None:
    (tmp_path / "orders.csv").write_text(ORDERS)
    ok(patron("init", "ws", cwd=tmp_path))
    ok(patron("-w", "ws", "load", "orders", "orders.csv", cwd=tmp_path))
    before = ok(patron("-w", "ws", "status", "--json", cwd=tmp_path))

    _big_csv(tmp_path / "big.csv", 3_000_000)
    cmd = [sys.executable, "-m", "patron", "-w", "ws", "load", "orders", "big.csv"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(4.0)
    assert proc.poll() is None, "the load finished before it could be killed; use a bigger file"
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    after = ok(patron("-w", "ws", "status", "--json", cwd=tmp_path))
    assert after == before
    reload = ok(patron("-w", "ws", "load", "orders", "orders.csv", "--json", cwd=tmp_path))
    assert reload["duplicates"] == 5 and reload["inserted"] == 0


def test_a_load_on_a_terminal_shows_its_phases(tmp_path: Path) -> None:
    """On a terminal the load draws a progress bar naming each phase; piped, it draws none."""
    import pty

    (tmp_path / "orders.csv").write_text(ORDERS)
    ok(patron("init", "ws", "--phone-region", "US", cwd=tmp_path))
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "patron", "-w", "ws", "load", "orders", "orders.csv"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=secondary,
        env={**os.environ, "COLUMNS": "120", "TERM": "xterm"},
    )
    os.close(secondary)
    screen = b""
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the terminal closes when the process exits
            break
        if not chunk:
            break
        screen += chunk
    os.close(primary)
    assert proc.wait(timeout=120) == 0
    text = screen.decode(errors="replace")
    for phase in ("reading", "validating", "resolving identities", "committing"):
        assert phase in text, text
    assert "━" in text or "%" in text  # the bar itself, not only the words
    piped = ok(patron("-w", "ws", "load", "orders", "orders.csv", cwd=tmp_path))
    assert "reading" not in piped


def test_every_command_sums_itself_up_in_one_line() -> None:
    """``patron --help`` lists each command by its docstring's first paragraph as written, line
    breaks included: a summary wrapped in the source breaks mid-sentence on the screen."""
    import typer

    from patron.cli import app

    def summaries(group: typer.Typer, prefix: str) -> Iterator[tuple[str, str]]:
        for command in group.registered_commands:
            name = command.name or (command.callback.__name__ if command.callback else "")
            yield f"{prefix}{name}", (command.callback.__doc__ or "").strip().split("\n\n")[0]
        for sub in group.registered_groups:
            assert sub.typer_instance is not None
            yield from summaries(sub.typer_instance, f"{prefix}{sub.name} ")

    found = dict(summaries(app, ""))
    assert len(found) > 30
    assert {name: text for name, text in found.items() if "\n" in text or not text} == {}


def test_json_output_writes_what_cannot_be_computed_as_null(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``validate --json`` wrote a holdout's correlation where nobody bought as ``NaN``, which
    is no JSON: ``json.loads`` of other languages (and ``jq``) refuse the whole document."""
    import numpy as np

    from patron.cli.base import print_json

    print_json({"mae": 0.5, "corr": float("nan"), "rows": [np.float64("inf"), (1, -np.inf)]})
    text = capsys.readouterr().out
    assert json.loads(text, parse_constant=lambda name: pytest.fail(name)) == {
        "mae": 0.5,
        "corr": None,
        "rows": [None, [1, None]],
    }
