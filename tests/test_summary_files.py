"""``patron fit --summary`` on the tables other BTYD tools write: lifetimes, PyMC-Marketing,
BTYD, BTYDplus and CLVTools name the same columns their own way, and add id or row-name columns
that must not be read as data."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

from cli_support import ok, patron, patron_here
from patron import clv
from patron.errors import InputError

ROWS = [(0, 0, 30), (1, 10, 30), (3, 25, 30), (6, 28, 30), (0, 0, 20), (2, 5, 20)]
"""(frequency, recency, T) of six customers, written below in each tool's spelling."""

WRITTEN = {
    # lifetimes' summary_data_from_transaction_data(...).to_csv(): the index, unnamed
    "lifetimes": (",frequency,recency,T,monetary_value", "{i},{x},{t},{n},12.5"),
    # PyMC-Marketing's rfm frame, and lifetimes' with a named index
    "pymc": ("customer_id,frequency,recency,T,monetary_value", "C{i},{x},{t},{n},12.5"),
    # lifetimes' calibration_and_holdout_data (and patron.transactions.calibration_and_holdout)
    "calibration": (
        "CustomerID,frequency_cal,recency_cal,T_cal,monetary_value_cal,"
        "frequency_holdout,monetary_value_holdout,duration_holdout",
        "{i},{x},{t},{n},12.5,1,9.0,39",
    ),
    # BTYDplus' elog2cbs written by R's write.csv: quoted row names under "", T.star and x.star
    "btydplus": (
        '"","cust","x","t.x","litt","sales","first","T.cal","T.star","x.star"',
        '"{i}","c{i}",{x},{t},-1.5,99.0,"1997-01-01",{n},39,2',
    ),
    # BTYD's dc.ElogToCbsCbt cbs, written by write.csv
    "btyd": ('"","x","t.x","T.cal"', '"{i}",{x},{t},{n}'),
    # CLVTools' cbs
    "clvtools": ("Id,x,t.x,T.cal,Spending", "{i},{x},{t},{n},30.0"),
    # R's write.table(cbs, sep = ","): row names under no header field at all
    "write.table": ('"x","t.x","T.cal"', '"{i}",{x},{t},{n}'),
    # a spreadsheet's capitalized headings
    "spreadsheet": ("Customer,Frequency,Recency,T,Monetary_Value", "C{i},{x},{t},{n},12.5"),
}

SPELLED = {
    "lifetimes": {"frequency": "frequency", "recency": "recency", "T": "T"},
    "calibration": {"frequency": "frequency_cal", "recency": "recency_cal", "T": "T_cal"},
    "btydplus": {"frequency": "x", "recency": "t.x", "T": "T.cal"},
}


def write(folder: Path, tool: str) -> Path:
    header, row = WRITTEN[tool]
    lines = [row.format(i=i, x=x, t=t, n=n) for i, (x, t, n) in enumerate(ROWS, 1)]
    path = folder / f"{tool}.csv"
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("tool", WRITTEN)
def test_each_tools_summary_reads_as_the_same_customers(tmp_path: Path, tool: str) -> None:
    table = clv.read_summary(write(tmp_path, tool), "bgnbd")
    got = zip(*(table.column(c).to_pylist() for c in ("frequency", "recency", "T")), strict=True)
    assert list(got) == ROWS
    assert "count" not in table.column_names  # no id or row-name column is read as a count


def test_only_patrons_own_spend_is_read(tmp_path: Path) -> None:
    # BTYDplus' sales and CLVTools' Spending are other quantities than the repeats' mean spend
    assert "monetary_value" in clv.read_summary(write(tmp_path, "calibration"), "gg").column_names
    for tool in ("btydplus", "clvtools"):
        with pytest.raises(InputError, match=r"missing column\(s\) monetary_value"):
            clv.read_summary(write(tmp_path, tool), "gg")


def test_btyd_bgbb_rf_matrix_reads_as_periods_and_counts(tmp_path: Path) -> None:
    # BTYD's donationsSummary$rf.matrix: x, t.x, n.cal (opportunities), custs
    path = tmp_path / "rf.csv"
    path.write_text('"x","t.x","n.cal","custs"\n6,6,6,1203\n0,0,6,3464\n', encoding="utf-8")
    table = clv.read_summary(path, "bgbb")
    assert table.column("T").to_pylist() == [6, 6]
    assert table.column("count").to_pylist() == [1203, 3464]


def test_recency_measured_since_the_last_purchase_is_refused(tmp_path: Path) -> None:
    # RFM's recency (days since the last purchase) gives a one-time buyer a recency above 0
    path = tmp_path / "rfm.csv"
    path.write_text("frequency,recency,T\n1,10,30\n0,12,40\n", encoding="utf-8")
    with pytest.raises(InputError, match="not the time since the last") as caught:
        clv.read_summary(path, "bgnbd")
    assert (caught.value.row, caught.value.field) == (2, "recency")


def test_a_header_one_field_short_is_not_mistaken_for_a_broken_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.csv"
    path.write_text("frequency,recency,T\n1,2,3,4,5\n", encoding="utf-8")
    with pytest.raises(InputError, match="cannot read it"):
        clv.read_summary(path, "bgnbd")


def test_two_spellings_of_one_column_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "both.csv"
    path.write_text("x,frequency_cal,recency,T\n1,1,2,3\n", encoding="utf-8")
    with pytest.raises(InputError, match="x and frequency_cal could both be frequency"):
        clv.read_summary(path, "bgnbd")


def test_patrons_own_name_wins_over_another_spelling(tmp_path: Path) -> None:
    path = tmp_path / "own.csv"
    path.write_text("frequency,x,recency,T,t\n1,5,2,3,9\n", encoding="utf-8")
    table = clv.read_summary(path, "bgnbd")
    assert (table.column("frequency").to_pylist(), table.column("T").to_pylist()) == ([1], [3])


def test_a_missing_column_says_how_to_name_it(tmp_path: Path) -> None:
    path = tmp_path / "holdout.csv"
    path.write_text("frequency_holdout,duration_holdout\n1,39\n", encoding="utf-8")
    with pytest.raises(InputError, match="rename") as caught:
        clv.read_summary(path, "bgnbd")
    assert "frequency_holdout" in str(caught.value)  # what it found


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_summary_without_rows_says_so(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"empty{suffix}"
    if suffix == ".csv":
        path.write_text("frequency,recency,T\n", encoding="utf-8")
    else:
        empty = pa.array([], pa.float64())
        pq.write_table(pa.table({"frequency": empty, "recency": empty, "T": empty}), path)
    with pytest.raises(InputError, match="no customers in it") as caught:
        clv.read_summary(path, "bgnbd")
    assert caught.value.file == str(path)


def test_fit_reads_other_tools_spellings_and_says_which(tmp_path: Path) -> None:
    # the real command: BTYDplus' file fits as lifetimes' does, and the report names its columns
    lifetimes = write(tmp_path, "lifetimes")
    own = ok(patron_here("fit", "--summary", str(lifetimes), "--json", cwd=tmp_path))
    other = write(tmp_path, "btydplus")
    report = ok(patron("fit", "--summary", str(other), "--json", cwd=tmp_path))
    assert report["params"] == pytest.approx(own["params"], rel=1e-9)
    assert report["columns"] == SPELLED["btydplus"]
    assert own["columns"] == {**SPELLED["lifetimes"], "monetary_value": "monetary_value"}


def test_fit_all_on_a_calibration_and_holdout_parquet(tmp_path: Path) -> None:
    # lifetimes' frame written to Parquet keeps its index as a column; gg reads the _cal spend
    csv = write(tmp_path, "calibration")
    path = tmp_path / "calibration.parquet"
    pq.write_table(pcsv.read_csv(csv), path)
    args = ("fit", "--model", "all", "--summary", str(path), "--json")
    report = ok(patron_here(*args, cwd=tmp_path))
    assert [fit["model"] for fit in report["models"]] == ["bgnbd", "pnbd", "mbgnbd", "gg"]
    assert report["models"][0]["columns"]["monetary_value"] == "monetary_value_cal"


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (("--time-unit", "day"), "--time-unit chooses"),
        (("--calibration-end", "2024-01-01"), "--calibration-end chooses"),
        (("--time-unit", "week", "--calibration-end", "2024-01-01"), "--calibration-end and"),
    ],
)
def test_the_workspaces_options_beside_a_summary_are_refused(
    tmp_path: Path, extra: tuple[str, ...], named: str
) -> None:
    # a summary is in its own time unit: --time-unit day had been ignored without a word
    path = write(tmp_path, "lifetimes")
    done = patron_here("fit", "--summary", str(path), *extra, cwd=tmp_path)
    assert done.returncode == 2 and named in done.stderr
    assert "already in their own time unit" in " ".join(done.stderr.split())
