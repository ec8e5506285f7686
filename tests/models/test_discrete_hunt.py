"""BG/BB and sBG as a user of lifetimes or BTYD meets them through ``patron fit``: the whole
periods made from a workspace's orders, summary files of opportunities, cohort survivors typed
on the command line, and what ``--model all`` leaves out.

The (x, t_x, n) expected from the orders are worked out by hand below, as BTYD's discrete-time
walk-through makes them: only periods that have ended by the calibration end are opportunities.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest

from patron import Workspace, clv
from patron.errors import InputError
from patron.models.sbg import from_survivors
from patron.samples.cdnow import read_rows

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cli_support import ok, patron, patron_here
from workspaces import cdnow_workspace

# Weeks are periods of 7 days from each customer's first purchase day (period 0, the
# acquisition); the calibration end is 2024-01-29.
ORDERS = (
    "order_id,customer_id,ordered_at,revenue\n"
    # A, from Mon Jan 1 (day 0): day 2 is still period 0; days 8 and 23 are periods 1 and 3;
    # day 28 (Jan 29) opens period 4, whose other six days are still to come
    "a0,A,2024-01-01 09:00,10\n"
    "a1,A,2024-01-03 09:00,10\n"
    "a2,A,2024-01-09 09:00,10\n"
    "a3,A,2024-01-24 09:00,10\n"
    "a4,A,2024-01-29 09:00,10\n"
    # B, from Jan 20: day 7 (Jan 27) is in period 1, which ends on Feb 2
    "b0,B,2024-01-20 09:00,10\n"
    "b1,B,2024-01-27 09:00,10\n"
    # C, from Jan 1, buys every Monday: periods 1, 2, 3 and the running period 4
    "c0,C,2024-01-01 09:00,10\n"
    "c1,C,2024-01-08 09:00,10\n"
    "c2,C,2024-01-15 09:00,10\n"
    "c3,C,2024-01-22 09:00,10\n"
    "c4,C,2024-01-29 09:00,10\n"
    # D, from Jan 15: period 1 (days 7-13, Jan 22-28) is whole; no repeat
    "d0,D,2024-01-15 09:00,10\n"
)
END = date(2024, 1, 29)
WHOLE_WEEKS = {  # (x, t_x, n): the periods 1..n that ended by Jan 29, with a purchase or not
    "A": (2, 3, 3),  # days 0-27 are periods 0-3; Jan 29 is day 28, period 4's first
    "B": (0, 0, 0),  # days 0-9 observed: period 1 (days 7-13) has not ended
    "C": (3, 3, 3),
    "D": (0, 0, 1),  # days 0-14 observed: period 1 ended on day 13
}


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("discrete")
    (root / "orders.csv").write_text(ORDERS, encoding="utf-8")
    with Workspace.init(root / "ws", timezone="UTC") as ws:
        ws.load("orders", [root / "orders.csv"], now=datetime(2025, 1, 1, tzinfo=UTC))
    return root


def test_opportunities_are_the_periods_that_have_ended(shop: Path) -> None:
    """A period still running on the calibration end is no opportunity yet: counting it, D
    showed a week missed of which they had had one day, and B a purchase in a week they had
    had three days of; a purchase in it is left for the next fit."""
    with Workspace.open(shop / "ws") as ws:
        table = ws.customer_summary(calibration_end=END, time_unit="week", discrete=True)
        ids = ws.table("customers").select("customer_key", "customer_id")
        rows = table.join(ids, "customer_key").to_pyarrow().to_pylist()
    got = {r["customer_id"]: (r["frequency"], r["recency"], r["T"]) for r in rows}
    assert got == WHOLE_WEEKS


def test_days_are_whole_periods_as_they_were(shop: Path) -> None:
    with Workspace.open(shop / "ws") as ws:
        table = ws.customer_summary(calibration_end=END, time_unit="day", discrete=True)
        rows = table.order_by("customer_key").to_pyarrow().to_pylist()
    days = {(r["frequency"], r["recency"], r["T"]) for r in rows}
    # A: days 2, 8, 23, 28 of 28; B: day 7 of 9; C: days 7, 14, 21, 28 of 28; D: 14 days
    assert days == {(4, 28, 28), (1, 7, 9), (4, 28, 28), (0, 0, 14)}


def test_fit_on_the_workspace_fits_those_rows(shop: Path) -> None:
    args = ("-w", "ws", "fit", "--model", "bgbb", "--calibration-end", END.isoformat())
    report = ok(patron_here(*args, "--json", cwd=shop))
    assert (report["n_customers"], report["unique_rows"]) == (4, 4)
    assert report["time_unit"] == "week"
    assert set(report["params"]) == {"alpha", "beta", "gamma", "delta"}


def test_cdnow_in_months_is_the_independent_table_and_pins_the_model_down(
    tmp_path: Path,
) -> None:
    """The CDNOW sample's buyers of Q1 1997 to Sep 30 in months, as pandas makes the table. The
    month running on Sep 30 counted as a missed opportunity for nearly everyone, and the fit ran
    off along a ridge (gamma 12,867, delta 102,621)."""
    import pandas as pd

    frame = pd.DataFrame(read_rows(sample=True), columns=["id", "day", "cds", "amount"])
    days = pd.to_datetime(frame["day"])
    end = pd.Timestamp("1997-09-30")
    month = 365.25 / 12
    seen = frame.assign(day=days)[days <= end]
    first = seen.groupby("id")["day"].transform("min")
    n = np.maximum(np.floor(((end - first).dt.days + 1) / month) - 1, 0)
    seen = seen.assign(age=np.floor((seen["day"] - first).dt.days / month), n=n)
    seen = seen[seen["age"] <= seen["n"]]
    expected = seen.groupby("id").agg(
        frequency=("age", lambda age: age[age > 0].nunique()),
        recency=("age", "max"),
        T=("n", "first"),
    )
    for ws in cdnow_workspace(tmp_path):
        summary = ws.customer_summary(
            calibration_end=date(1997, 9, 30), time_unit="month", discrete=True
        )
        got = clv.unique_rows(summary).to_pandas().set_index(["frequency", "recency", "T"])
        counts = expected.value_counts().sort_index()
        assert got["count"].tolist() == counts.tolist()
        assert got.index.tolist() == counts.index.tolist()
        report = clv.fit_report(
            ws.fit("bgbb", calibration_end=date(1997, 9, 30), time_unit="month"), "bgbb"
        )
    assert report["unidentified"] == [] and report["params"]["gamma"] < 1


@pytest.mark.parametrize(
    ("rows", "row", "field", "message"),
    [
        ("0,0,6\n3,2,6\n", 2, "frequency", "cannot exceed recency"),  # 3 in 2 opportunities
        ("7,6,6\n", 1, "frequency", "cannot exceed recency"),  # more than n
        ("1,1,6\n2,0,6\n", 2, "frequency", "t_x is 1 or more"),  # repeats, no last one
    ],
)
def test_impossible_opportunity_rows_name_file_row_and_column(
    tmp_path: Path, rows: str, row: int, field: str, message: str
) -> None:
    """They reached the model, whose error named no file, row or column."""
    path = tmp_path / "rf.csv"
    path.write_text("frequency,recency,T\n" + rows, encoding="utf-8")
    with pytest.raises(InputError, match=message) as caught:
        clv.read_summary(path, "bgbb")
    assert (caught.value.file, caught.value.row, caught.value.field) == (str(path), row, field)
    done = patron_here("fit", "--model", "bgbb", "--summary", str(path), cwd=tmp_path)
    assert done.returncode == 2 and f"row {row}, column '{field}'" in done.stderr


@pytest.mark.parametrize(
    ("survival", "says"),
    [
        ("1000,631,468,", "'' is not a count"),  # a trailing comma
        ("100%,63.1%,46.8%", "'100%' is not a count"),
        ("1000;631;468", "'1000;631;468' is not a count"),
        ("1,0.631,0.468", "whole numbers of customers, not shares"),
    ],
)
def test_survivors_that_are_not_counts_say_which_and_why(
    tmp_path: Path, survival: str, says: str
) -> None:
    """A trailing comma or percentages were told to "write counts separated by commas", as
    they were; shares fitted as a cohort of one customer, with meaningless standard errors."""
    done = patron_here("fit", "--model", "sbg", "--survival", survival, cwd=tmp_path)
    assert done.returncode == 2 and says in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_shares_of_a_cohort_are_refused_from_python_too() -> None:
    with pytest.raises(InputError, match="multiply the shares by the cohort's size"):
        from_survivors([1, 0.631, 0.468])


def test_a_cohort_past_int64_gets_its_bic(tmp_path: Path) -> None:
    """BIC took the log of the customers as a Python int, which numpy refuses past int64."""
    done = patron_here("fit", "--model", "sbg", "--survival", "1e20,6e19,4e19", "--json",
                       cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    fitted = json.loads(done.stdout)
    assert fitted["bic"] == pytest.approx(2 * np.log(1e20) - 2 * fitted["loglik"])


def test_sbg_on_a_workspace_says_what_it_needs(tmp_path: Path) -> None:
    done = patron_here("fit", "--model", "sbg", cwd=tmp_path)
    assert done.returncode == 2 and "pass --survival" in done.stderr
    both = ("fit", "--model", "sbg", "--survival", "1000,631", "--summary", "rf.csv")
    done = patron_here(*both, cwd=tmp_path)
    assert done.returncode == 2 and "--survival or --summary" in done.stderr


def test_sbg_names_a_loose_fit_once_in_the_commands_words(tmp_path: Path) -> None:
    """Nobody churned: alpha and beta run off. The library's warning ("pass a penalizer")
    printed beside the command's note, and on stderr of ``--json`` too, where the other
    models say it in the document alone."""
    args = ("fit", "--model", "sbg", "--survival", "1000,1000,1000")
    done = patron(*args, "--json", cwd=tmp_path)  # a real process: pytest keeps the warnings
    assert json.loads(done.stdout)["unidentified"] == ["alpha", "beta"]
    assert done.stderr == ""
    text = patron_here(*args, cwd=tmp_path).stderr
    assert text.count("do not pin down") == 1 and "--penalizer" in text


def test_fit_all_says_which_models_it_left_out_and_why(tmp_path: Path) -> None:
    path = tmp_path / "rf.csv"
    path.write_text("frequency,recency,T,count\n0,0,30,50\n1,10,30,20\n3,25,30,10\n")
    args = ("fit", "--model", "all", "--summary", str(path))
    report = ok(patron_here(*args, "--json", cwd=tmp_path))
    assert [m["model"] for m in report["models"]] == ["bgnbd", "pnbd", "mbgnbd"]
    assert sorted(report["skipped"]) == ["bgbb", "gg", "sbg"]
    assert "--survival" in report["skipped"]["sbg"]
    assert "--model bgbb --summary" in report["skipped"]["bgbb"]
    text = ok(patron_here(*args, cwd=tmp_path))
    assert "Not fitted: gg: no monetary_value column" in " ".join(text.split())
