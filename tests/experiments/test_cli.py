"""``patron experiment`` end to end: the real command on real files, as a marketer runs it."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from cli_support import ok, patron, patron_here

ISSUE_KEYS = {
    "name",
    "n",
    "mean",
    "lift",
    "lift_ci",
    "relative_lift",
    "relative_lift_ci",
    "p_value",
    "chance_to_beat_control",
}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli")
    rows = ["order_id,email,ordered_at,revenue"]
    for i in range(400):
        rows.append(f"a{i},p{i}@shop.test,2024-0{1 + i % 6}-1{i % 10}T10:00:00,{20 + i % 37}")
        if i % 3:
            rows.append(f"b{i},p{i}@shop.test,2024-07-{1 + i % 28:02d}T10:00:00,{15 + i % 11}")
    (folder / "orders.csv").write_text("\n".join(rows) + "\n")
    ok(patron_here("init", "ws", "--timezone", "UTC", cwd=folder))
    ok(patron_here("-w", "ws", "load", "orders", "orders.csv", cwd=folder))
    return folder


def test_create_list_assign_and_analyze(workspace: Path) -> None:
    created = ok(
        patron(
            "-w", "ws", "experiment", "create", "summer", "--audience", "all",
            "--variants", "control:50,treatment:50", "--holdout", "10",
            "--start", "2024-07-01", "--json", cwd=workspace,
        )
    )  # fmt: skip
    assert created["audience_size"] == 400
    assert [g["name"] for g in created["groups"]] == ["holdout", "control", "treatment"]
    listed = json.loads(ok(patron_here("-w", "ws", "experiment", "list", "--json", cwd=workspace)))
    assert [e["name"] for e in listed] == ["summer"]
    ok(patron_here("-w", "ws", "experiment", "assign", "summer", "--out", "who.csv", cwd=workspace))
    with (workspace / "who.csv").open() as f:
        who = list(csv.DictReader(f))
    assert len(who) == 400 and {r["variant"] for r in who} == {"holdout", "control", "treatment"}
    assert all(r["email"].endswith("@shop.test") for r in who)
    readout = ok(
        patron(
            "-w", "ws", "experiment", "analyze", "summer", "--metric", "revenue", "--window", "31",
            "--cuped", "--json", cwd=workspace,
        )
    )  # fmt: skip
    assert {"variants", "srm_p_value", "verdict"} <= set(readout)
    assert all(set(v) >= ISSUE_KEYS for v in readout["variants"])
    assert readout["variants"][0]["lift"] == 0 and readout["baseline"] == "holdout"
    assert sum(v["n"] for v in readout["variants"]) == 400
    assert readout["cuped"]["covariate"] == "revenue"
    text = ok(patron_here("-w", "ws", "experiment", "analyze", "summer", cwd=workspace))
    assert "sample ratio check" in text and "guardrail: unsubscribe" in text
    assert "(data through 2024-07-28)" in text  # the last day; it said the day after


def test_a_test_run_elsewhere_is_read_from_its_assignments(workspace: Path) -> None:
    rows = ["email,variant"] + [f"p{i}@shop.test,{'ab'[i % 2]}" for i in range(400)]
    (workspace / "elsewhere.csv").write_text("\n".join(rows) + "\n")
    readout = ok(
        patron_here(
            "-w", "ws", "experiment", "analyze", "--assignments", "elsewhere.csv",
            "--start", "2024-07-01", "--baseline", "a", "--json", cwd=workspace,
        )
    )  # fmt: skip
    assert [v["name"] for v in readout["variants"]] == ["a", "b"]
    assert readout["experiment"] == "elsewhere" and readout["unmatched"] == 0


def test_power_needs_no_workspace(tmp_path: Path) -> None:
    result = ok(
        patron(
            "experiment", "power", "--baseline", "0.05", "--mde", "0.10", "--audience", "20000",
            "--per-day", "500", "--json", cwd=tmp_path,
        )
    )  # fmt: skip
    assert 30_000 < result["n_per_variant"] < 33_000  # the textbook figure for 5% -> 5.5% is ~31k
    assert result["total"] == 2 * result["n_per_variant"]
    assert result["audience"]["enough"] is False and 0.1 < result["audience"]["mde"] < 0.3
    assert result["days"] == -(-result["total"] // 500)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["create", "x", "--audience", "Hibernatin", "--start", "2024-07-01"], "did you mean"),
        (["create", "x", "--variants", "control", "--start", "2024-07-01"], "at least two"),
        (["analyze", "nope"], "no experiment 'nope'"),
        (["analyze", "summer", "--metric", "revenu"], "did you mean 'revenue'"),
        (["create", "x", "--holdout", "150"], "--holdout must be a percentage from 0 to under 100"),
        (["create", "x", "--start", "2024-07-01", "--window", "0"], "--window must be at least 1"),
        (
            ["create", "x", "--start", "2024-07-01", "--end", "2024-06-01"],
            "--end 2024-06-01 is before --start 2024-07-01",
        ),
    ],
)
def test_mistakes_get_one_line(workspace: Path, args: list[str], message: str) -> None:
    result = patron_here("-w", "ws", "experiment", *args, cwd=workspace)
    assert result.returncode == 2, result.stdout
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
