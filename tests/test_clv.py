"""The model inputs the engine computes (``patron.clv``), checked by hand on a tiny shop."""

from __future__ import annotations

import tempfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from patron import Workspace, clv
from patron.errors import InputError, did_you_mean
from patron.models import BetaGeoModel, GammaGammaModel, ShiftedBetaGeoModel

ORDERS = (
    "order_id,customer_id,ordered_at,revenue,status,return_of\n"
    "a1,A,2024-01-01 09:00,10.00,,\n"
    "a2,A,2024-01-01 17:00,5.00,,\n"  # same day: one occasion
    "a3,A,2024-01-15 09:00,20.00,,\n"
    "a4,A,2024-02-20 09:00,40.00,,\n"
    "r4,A,2024-02-21 09:00,-40.00,returned,a4\n"  # a return is never a purchase
    "b1,B,2024-02-01 09:00,7.00,,\n"
    "c1,C,2024-03-05 09:00,9.00,,\n"  # after the calibration end: not a customer yet
)
END = date(2024, 2, 29)


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    folder = tmp_path_factory.mktemp("clv")
    (folder / "orders.csv").write_text(ORDERS, encoding="utf-8")
    workspace = Workspace.init(folder / "ws", timezone="UTC")
    workspace.load("orders", [folder / "orders.csv"], now=datetime(2025, 1, 1, tzinfo=UTC))
    return workspace


def summary(ws: Workspace, **options: Any) -> dict[str, dict[str, Any]]:
    table = ws.customer_summary(calibration_end=END, **options)
    customers = ws.table("customers").select("customer_key", "customer_id")
    rows = table.join(customers, "customer_key").to_pyarrow().to_pylist()
    return {r["customer_id"]: r for r in rows}


def test_weeks_from_the_first_occasion(ws: Workspace) -> None:
    got = summary(ws, time_unit="week")
    assert set(got) == {"A", "B"}
    a, b = got["A"], got["B"]
    # A: occasions Jan 1, Jan 15, Feb 20; Jan 1 -> Feb 20 is 50 days, Jan 1 -> Feb 29 is 59
    assert (a["frequency"], a["recency"], a["T"]) == (
        2,
        pytest.approx(50 / 7),
        pytest.approx(59 / 7),
    )
    assert a["monetary_value"] == pytest.approx((20 + 40) / 2)  # repeat occasions only
    assert (b["frequency"], b["recency"], b["T"], b["monetary_value"]) == (0, 0, 4, None)


def test_days_and_months(ws: Workspace) -> None:
    days = summary(ws, time_unit="day")["A"]
    assert (days["recency"], days["T"]) == (50, 59)
    months = summary(ws, time_unit="month")["A"]
    assert months["T"] == pytest.approx(59 / (365.25 / 12))


def test_discrete_periods_count_whole_periods(ws: Workspace) -> None:
    got = summary(ws, time_unit="month", discrete=True)
    # A's occasions are 0, 14 and 50 days after the first: months 0, 0 and 1 (30.44 days each),
    # but month 1 (days 30-60) is still running on Feb 29 (day 59): no opportunity yet
    assert {k: got["A"][k] for k in ("frequency", "recency", "T")} == {
        "frequency": 0,
        "recency": 0,
        "T": 0,
    }
    assert {k: got["B"][k] for k in ("frequency", "recency", "T")} == {
        "frequency": 0,
        "recency": 0,
        "T": 0,
    }


def test_unknown_time_unit_and_model(ws: Workspace) -> None:
    with pytest.raises(InputError, match="did you mean 'week'"):
        ws.customer_summary(calibration_end=END, time_unit="weeks")
    with pytest.raises(InputError, match="did you mean 'bgnbd'"):
        ws.fit("bgnb", calibration_end=END)


@pytest.mark.parametrize(
    ("name", "meant"),
    [
        ("BGNBD", "bgnbd"),
        ("BG/NBD", "bgnbd"),
        ("bg_nbd", "bgnbd"),
        ("bg-nbd", "bgnbd"),
        ("pareto", "pnbd"),
        ("Pareto_NBD", "pnbd"),
        ("paretonbd", "pnbd"),
        ("PNBD", "pnbd"),
        ("gamma_gamma", "gg"),
        ("GammaGamma", "gg"),
        ("mbg_nbd", "mbgnbd"),
        ("bg_bb", "bgbb"),
        (BetaGeoModel, "bgnbd"),
        *((name, name) for name in clv.MODELS),  # the CLI's names
    ],
)
def test_a_model_by_any_obvious_name(name: object, meant: str) -> None:
    assert clv.model_name(name) == meant
    assert clv.model_spec(name) is clv.MODELS[meant]


def test_an_unknown_model_lists_every_name(ws: Workspace) -> None:
    every = "; the models are bgnbd, pnbd, mbgnbd, gg, bgbb$"
    with pytest.raises(InputError, match=every):
        ws.fit("weibull", calibration_end=END)
    with pytest.raises(InputError, match=f"unknown model ShiftedBetaGeoModel{every}"):
        clv.model_spec(ShiftedBetaGeoModel)  # a class, not a name: no TypeError
    with pytest.raises(InputError, match="survivors"):
        clv.model_spec("sbg")
    assert ws.fit(BetaGeoModel, calibration_end=END).params_ == ws.fit(calibration_end=END).params_


def test_did_you_mean_takes_anything() -> None:
    assert did_you_mean(BetaGeoModel, ["bgnbd"]) == ""
    assert did_you_mean(7, [8, "week"]) == ""
    assert did_you_mean("bgnb", clv.MODELS) == " (did you mean 'bgnbd'?)"


def test_a_history_where_everyone_was_just_acquired_has_nothing_to_fit(ws: Workspace) -> None:
    # by 2024-01-01 only A has bought, on that very day: T = 0, a likelihood of 1 whatever
    # the parameters, which a fit returned as r = alpha = a = b = 1 without a word
    with pytest.raises(InputError, match="every customer's T is 0"):
        ws.fit(calibration_end=date(2024, 1, 1))


def test_gamma_gamma_scores_the_workspaces_own_summary(ws: Workspace) -> None:
    # B's monetary_value is empty (no repeat purchase): read as 0, it scores the mean
    rows = ws.customer_summary(calibration_end=END).to_pyarrow()
    frequency, spend = clv.column(rows, "frequency"), clv.column(rows, "monetary_value")
    assert np.isnan(spend).any()
    fitted = GammaGammaModel.from_params({"p": 6.25, "q": 3.74, "gamma": 15.44})
    expected = fitted.conditional_expected_average_profit(frequency, spend)
    assert expected[frequency == 0] == pytest.approx(6.25 * 15.44 / 2.74)


SUMMARY_ERRORS = [
    ("bgnbd", "frequency,recency,T\n1,5,10\n0,0,abc\n", 2, "T", "'abc' is not a number"),
    ("bgnbd", "frequency,recency,T\n1,5,10\n2,12,10\n-1,0,4\n", 2, "recency", "cannot exceed T"),
    ("bgnbd", "frequency,recency,T\n1,5,10\n-1,0,4\n", 2, "frequency", "non-negative"),
    ("bgnbd", "frequency,recency,T,count\n1,5,10,2.5\n", 1, "count", "whole number"),
    ("bgnbd", "frequency,recency,T\n1.5,5,10\n", 1, "frequency", "whole number"),
    ("bgnbd", "frequency,recency,T\n1,,10\n", 1, "recency", "non-negative"),
    ("gg", "frequency,monetary_value\n0,\n2,\n", 2, "monetary_value", "0 or more"),
    ("bgbb", "frequency,recency,periods\n1,2.5,6\n", 1, "recency", "whole number"),
]


@pytest.mark.parametrize(("model", "text", "row", "field", "message"), SUMMARY_ERRORS)
def test_a_bad_summary_file_names_its_row_and_column(
    tmp_path: Path, model: str, text: str, row: int, field: str, message: str
) -> None:
    path = tmp_path / "summary.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=message) as caught:
        clv.read_summary(path, model)
    assert (caught.value.file, caught.value.row, caught.value.field) == (str(path), row, field)


def test_an_unreadable_summary_file_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "summary.csv"
    path.write_bytes(b"")
    with pytest.raises(InputError, match="cannot read it") as caught:
        clv.read_summary(path, "bgnbd")
    assert caught.value.file == str(path)


@settings(deadline=None)  # a first example on a busy machine took 593 ms, the next 2 ms
@given(
    st.lists(
        st.tuples(st.integers(0, 50), st.floats(0, 60), st.floats(0, 60)), min_size=1, max_size=20
    )
)
def test_valid_summaries_pass_and_impossible_recencies_are_caught(
    rows: list[tuple[int, float, float]],
) -> None:
    # any whole frequency and non-negative times read back; the first recency past T, or above
    # 0 without repeat purchases, is named
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "summary.csv"
        lines = [f"{x},{r!r},{t!r}" for x, r, t in rows]
        path.write_text("frequency,recency,T\n" + "\n".join(lines) + "\n", encoding="utf-8")
        late = [i for i, (x, r, t) in enumerate(rows, 1) if r > t or (x == 0 and r > 0)]
        if not late:
            assert clv.read_summary(path, "bgnbd").num_rows == len(rows)
            return
        with pytest.raises(InputError) as caught:
            clv.read_summary(path, "bgnbd")
        assert (caught.value.row, caught.value.field) == (late[0], "recency")


def _with_information(information: list[list[float]]) -> BetaGeoModel:
    """A BG/NBD at parameters 1, 2, 0.5, 4 with the given observed information."""
    fitted = BetaGeoModel.from_params({"r": 1.0, "alpha": 2.0, "a": 0.5, "b": 4.0})
    fitted._information = np.array(information)
    fitted._cov = np.linalg.pinv(fitted._information)
    return fitted


def test_unidentified_by_the_log_scale_spread() -> None:
    # Diagonal information: the log-scale variance of theta_i is 1 / (I_ii theta_i^2); a
    # standard error above 5 times the estimate (variance above 25) leaves it free.
    pinned = _with_information([[1.0, 0, 0, 0], [0, 1.0, 0, 0], [0, 0, 4.0, 0], [0, 0, 0, 1.0]])
    assert clv.unidentified(pinned) == []
    loose = _with_information([[1.0, 0, 0, 0], [0, 1.0, 0, 0], [0, 0, 0.1, 0], [0, 0, 0, 1.0]])
    assert clv.unidentified(loose) == ["a"]  # variance 1 / (0.1 * 0.25) = 40


def test_a_flat_direction_frees_every_parameter_it_moves() -> None:
    # a and b only through a/b: the information is singular along (a, b) -> (ka, kb), and its
    # pseudo-inverse gives both a modest variance; both are free all the same
    direction = [0.0, 0.0, 1 / 0.5, -1 / 4.0]  # d log-likelihood / d(a, b) along a/b
    information = [[2.0, 0.3, 0, 0], [0.3, 1.0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    for i in (2, 3):
        for j in (2, 3):
            information[i][j] = 10 * direction[i] * direction[j]
    fitted = _with_information(information)
    assert max(fitted.std_errors_["a"] / 0.5, fitted.std_errors_["b"] / 4.0) < 5
    assert clv.unidentified(fitted) == ["a", "b"]
