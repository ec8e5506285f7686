"""Values handed to the Python API: a day as a date, a datetime or pandas Timestamp, or ISO text
gives the same answers; counts as any kind of integer; names as one string or several; anything
else is a one-line error naming the parameter."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cli_support import ok, patron_here
from patron import Workspace
from patron.arguments import as_day, as_names, as_whole, optional_day
from patron.errors import InputError, NotFoundError, WorkspaceError, on_command_line, option
from patron.predictions import Horizon
from patron.samples.cdnow import write_orders
from workspaces import cdnow_workspace

END = date(1997, 9, 30)
SAME_DAY = ["1997-09-30", datetime(1997, 9, 30, 17, 45), pd.Timestamp("1997-09-30 08:00")]


@given(st.dates(), st.times())
def test_text_and_datetimes_become_their_calendar_day(day: date, at: time) -> None:
    moment = datetime.combine(day, at)
    assert as_day(day.isoformat(), "as_of") == day
    assert as_day(moment, "as_of") == day
    assert as_day(moment.isoformat(), "as_of") == day
    assert type(as_day(moment, "as_of")) is date  # not a datetime passing for one


@given(st.text(max_size=12))
def test_any_text_is_a_day_or_an_error_naming_the_parameter(text: str) -> None:
    try:
        day = as_day(text, "calibration_end")
    except InputError as error:
        assert str(error).startswith("calibration_end ")
        assert "2024-12-31" in str(error)
    else:
        assert type(day) is date


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1997-13-01", "as_of '1997-13-01' is not a date such as 2024-12-31"),
        ("30/09/1997", "as_of '30/09/1997' is not a date such as 2024-12-31"),
        (19970930, "as_of must be a date or text such as 2024-12-31, not int"),
        (1997.75, "as_of must be a date or text such as 2024-12-31, not float"),
    ],
)
def test_what_is_not_a_day_is_refused(value: object, message: str) -> None:
    with pytest.raises(InputError) as raised:
        as_day(value, "as_of")
    assert str(raised.value) == message


@given(st.integers(-(2**62), 2**62))
def test_any_integer_is_a_python_int(value: int) -> None:
    for given_as in (value, np.int64(value), float(value) if abs(value) < 2**52 else value):
        whole = as_whole(given_as, "window")
        assert whole == value and type(whole) is int


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (True, "window must be a whole number, not True"),
        (7.5, "window must be a whole number, not float 7.5"),
        ("7", "window must be a whole number, not str '7'"),
        (None, "window must be a whole number, not NoneType None"),
    ],
)
def test_what_is_not_a_whole_number_is_refused(value: object, message: str) -> None:
    with pytest.raises(InputError) as raised:
        as_whole(value, "window")
    assert str(raised.value) == message


def test_one_name_is_one_name_not_its_letters() -> None:
    assert as_names("Books", "exclude_categories") == ("Books",)
    assert as_names(["Books", "Toys"], "exclude_categories") == ("Books", "Toys")
    assert as_names(np.array(["Books"]), "exclude_categories") == ("Books",)
    with pytest.raises(InputError, match="exclude_categories must hold names"):
        as_names(["Books", 3], "exclude_categories")
    with pytest.raises(InputError, match="exclude_categories must be a name or a list"):
        as_names(3, "exclude_categories")  # type: ignore[arg-type]


def test_none_leaves_the_default_to_the_caller() -> None:
    assert optional_day(None, "as_of") is None
    assert optional_day("1997-09-30", "as_of") == END


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    yield from cdnow_workspace(tmp_path_factory.mktemp("dates"))


def answers(ws: Workspace, day: Any) -> dict[str, Any]:
    """Every public call that takes a day, asked with ``day``."""
    segments = ws.segments(as_of=day)
    return {
        "as_of": ws.as_of(day),
        "kpis": ws.kpis(as_of=day),
        "concentration": ws.concentration(as_of=day),
        "segments": sorted(segments.rfm_segment.value_counts().to_pyarrow().to_pylist(), key=str),
        "migration": ws.segment_migration("1997-06-30", as_of=day),
        "summary": ws.customer_summary(calibration_end=day).count().to_pyarrow().as_py(),
        "fit": ws.fit("bgnbd", calibration_end=day).params_,
        "timing": ws.insights.timing(as_of=day),
    }


def test_a_day_given_any_way_gives_the_same_answers(ws: Workspace) -> None:
    expected = answers(ws, END)
    assert expected["as_of"] == END and expected["kpis"]["as_of"] == "1997-09-30"
    for day in SAME_DAY:
        assert answers(ws, day) == expected, day


@pytest.mark.parametrize("text", [" 1997-09-30 ", "19970930", "1997-09-30T23:59:59+05:00"])
def test_iso_text_in_its_other_forms_is_the_same_day(text: str) -> None:
    assert as_day(text, "as_of") == END


def test_validate_takes_its_days_as_text(ws: Workspace) -> None:
    by_text = ws.validate("1997-09-30", "1998-06-30")
    by_date = ws.validate(END, date(1998, 6, 30))
    assert by_text == by_date
    assert by_text["calibration_end"] == "1997-09-30"


def test_an_experiment_starts_on_a_day_given_as_text(ws: Workspace) -> None:
    created = ws.create_experiment("winback", start="1997-10-01", end=pd.Timestamp("1997-12-31"))
    design = next(e for e in ws.experiments() if e["name"] == "winback")
    assert design["start"] == "1997-10-01" and design["end"] == "1997-12-31"
    assert sum(group["customers"] for group in created["groups"]) == 2357  # all, as of 09-30
    readout = ws.analyze_experiment("winback", as_of="1997-12-31")
    assert readout == ws.analyze_experiment("winback", as_of=date(1997, 12, 31))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda ws: ws.kpis(as_of="1997-02-30"), "as_of '1997-02-30' is not a date"),
        (lambda ws: ws.validate("end of Q3"), "calibration_end 'end of Q3' is not a date"),
        (lambda ws: ws.validate(END, holdout_end=5), "holdout_end must be a date or text"),
        (lambda ws: ws.fit(calibration_end="9/30/97"), "calibration_end '9/30/97' is not a date"),
        (lambda ws: ws.segment_migration("soon"), "start 'soon' is not a date"),
        (lambda ws: ws.insights.backtest(split="x"), "split 'x' is not a date"),
        (lambda ws: ws.create_experiment("t", start="1997-10-01", end="q4"), "end 'q4' is not"),
    ],
)
def test_a_bad_day_names_its_parameter(ws: Workspace, call: Any, message: str) -> None:
    with pytest.raises(InputError, match=message):
        call(ws)


def test_the_command_line_reads_days_the_same_way(tmp_path: Path) -> None:
    orders = write_orders(tmp_path / "data", sample=True)
    ok(patron_here("init", "ws", "--timezone", "UTC", cwd=tmp_path))
    ok(patron_here("load", "orders", str(orders), "--workspace", "ws", cwd=tmp_path))
    asked = ("kpis", "--workspace", "ws", "--json", "--as-of")
    shown = ok(patron_here(*asked, "1997-09-30T12:00:00", cwd=tmp_path))
    by_date = ok(patron_here(*asked, "1997-09-30", cwd=tmp_path))
    assert shown == by_date and shown["as_of"] == "1997-09-30"
    refused = patron_here(*asked, "1997-02-30", cwd=tmp_path)
    assert refused.returncode == 2  # a usage error, as the command line reports them
    assert "--as-of '1997-02-30' is not a date such as 2024-12-31" in refused.stderr


def test_a_customer_key_may_be_an_integer_of_any_kind(ws: Workspace) -> None:
    key = ws.customer("00001")["customer_key"]  # CDNOW's first customer id
    by_text = ws.customer(str(key))
    assert ws.customer(key) == ws.customer(np.int64(key)) == ws.customer(float(key)) == by_text
    with pytest.raises(InputError, match=r"identifier must be text .* not NoneType"):
        ws.customer(None)  # type: ignore[arg-type]


def test_counts_may_be_numpy_integers(ws: Workspace) -> None:
    kpis = ws.kpis(as_of=END, window=np.int64(180), early_days=np.int32(60))
    assert kpis == ws.kpis(as_of=END, window=180, early_days=60)
    assert type(kpis["window_days"]) is int
    summary = ws.segment_summary(as_of=END, bins=np.int64(4), window=np.int64(180))
    assert summary == ws.segment_summary(as_of=END, bins=4, window=180)
    assert ws.concentration(as_of=END, window=np.int64(90)) == ws.concentration(
        as_of=END, window=90
    )
    with pytest.raises(InputError, match="window must be a whole number, not str '180'"):
        ws.kpis(window="180")  # type: ignore[arg-type]


def test_a_horizon_may_be_a_number_of_periods(ws: Workspace) -> None:
    by_number = ws.predict(as_of=END, horizon=np.int64(13)).to_pyarrow()
    assert by_number.equals(ws.predict(as_of=END, horizon=Horizon(periods=13)).to_pyarrow())
    assert set(by_number.column("horizon").to_pylist()) == {13}
    with pytest.raises(InputError, match="horizon must be a whole number"):
        ws.predict(horizon="52")  # type: ignore[arg-type]


def test_the_derived_tables_are_tables_of_the_workspace(ws: Workspace) -> None:
    occasions = ws.table("purchase_occasions")
    assert (
        occasions.count().to_pyarrow().as_py() == ws.sales().occasions.count().to_pyarrow().as_py()
    )
    with pytest.raises(
        NotFoundError, match="no table 'customer_predictions' yet: run `patron predict`"
    ):
        ws.table("customer_predictions")
    with pytest.raises(NotFoundError, match="did you mean 'purchase_occasions'"):
        ws.table("purchase_ocasions")


@pytest.mark.parametrize(
    ("first", "second", "period"),
    [
        (date(1997, 1, 1), pd.Timestamp("1997-02-10"), "month"),
        ("1997-01-31", "1997-02-01", "month"),
        ("1997-1", "1997-2", "month"),
        (pd.Period("1997-01"), pd.Period("1997-02"), "month"),
    ],
)
def test_a_cohort_is_named_by_its_label_or_a_day_in_it(
    ws: Workspace, first: object, second: object, period: str
) -> None:
    compared = ws.compare_cohorts(first, second, as_of=END, period=period)
    assert [c["cohort"] for c in compared["cohorts"]] == ["1997-01", "1997-02"]
    assert compared == ws.compare_cohorts("1997-01", "1997-02", as_of=END)


def test_quarters_and_years_read_loosely(ws: Workspace) -> None:
    quarters = ws.compare_cohorts("1997q1", pd.Period("1997Q1"), as_of=END, period="quarter")
    assert [c["cohort"] for c in quarters["cohorts"]] == ["1997-Q1", "1997-Q1"]
    years = ws.compare_cohorts(1997, "1997-06-30", as_of=END, period="year")
    assert [c["cohort"] for c in years["cohorts"]] == ["1997", "1997"]
    with pytest.raises(InputError, match="no month cohort '1996-12'"):
        ws.compare_cohorts(date(1996, 12, 24), "1997-01", as_of=END)


def test_bad_windows_and_load_times_are_refused(ws: Workspace, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"^window must be at least 1 day, got 0"):
        ws.segments(as_of=END, window=0)
    with pytest.raises(InputError, match="now must be a datetime"):
        ws.load("orders", [tmp_path / "x.csv"], now="2030-01-01")  # type: ignore[arg-type]


def test_a_workspace_open_one_way_is_not_opened_the_other(ws: Workspace) -> None:
    with pytest.raises(WorkspaceError, match="this process has it open already the other way"):
        Workspace.open(ws.folder, read_only=True)


def test_home_folders_are_expanded_as_a_shell_would(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, elsewhere = tmp_path / "home", tmp_path / "cwd"
    home.mkdir(), elsewhere.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(elsewhere)
    write_orders(home / "data", sample=True)
    shop = Workspace.init("~/shop", timezone="UTC")
    try:
        loaded = shop.load("orders", "~/data/orders.csv", now=datetime(2025, 1, 1, tzinfo=UTC))
        assert loaded.inserted > 0
        assert shop.export_customers("~/out/customers.csv") == 2357
        assert (home / "out" / "customers.csv").is_file()
        assert Workspace.open("~/shop").folder == home / "shop"
    finally:
        shop.close()
    assert list(elsewhere.iterdir()) == []  # no folder named ~ made here


def test_a_message_names_a_parameter_as_its_user_typed_it() -> None:
    """From Python ``min_support``; in a command ``--min-support`` (commands run in
    ``on_command_line``), and back to Python's spelling after it."""
    assert option("min_support") == "min_support"
    with on_command_line():
        assert option("min_support") == "--min-support"
        assert option("within", "due-within") == "--due-within"
    assert option("window") == "window"
