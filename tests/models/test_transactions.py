"""A lifetimes user's entry points: the RFM summary of a data frame of transactions, its
calibration / holdout split and the predictions on a summary, without a workspace, checked
against independent computations on the CDNOW sample and by hand."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import ibis
import numpy as np
import pandas as pd
import pytest
from cdnow_data import CALIBRATION_END, cdnow_spend, cdnow_weeks
from hypothesis import given, settings
from hypothesis import strategies as st

from patron.errors import InputError
from patron.models import BetaGeoModel
from patron.predict import predictions
from patron.predictions import Horizon
from patron.samples.cdnow import read_rows
from patron.transactions import (
    PREDICTED,
    SUMMARY_COLUMNS,
    calibration_and_holdout,
    predictions_from_summary,
    summary_from_transactions,
)


@pytest.fixture(scope="module")
def transactions() -> pd.DataFrame:
    return pd.DataFrame(read_rows(sample=True), columns=["customer", "day", "cds", "dollars"])


@pytest.fixture(scope="module")
def summary(transactions: pd.DataFrame) -> pd.DataFrame:
    return summary_from_transactions(
        transactions, customer="customer", when="day", value="dollars",
        calibration_end=CALIBRATION_END,
    )  # fmt: skip


def test_the_cdnow_summary_is_the_papers(transactions: pd.DataFrame, summary: pd.DataFrame) -> None:
    assert len(summary) == 2357 and summary.index.name == "customer"
    x, t_x, big_t = cdnow_weeks()  # in the order of first appearance; the summary sorts by id
    order = np.argsort(pd.unique(transactions["customer"]), kind="stable")
    assert summary["frequency"].to_numpy() == pytest.approx(x[order])
    assert summary["recency"].to_numpy() == pytest.approx(t_x[order])
    assert summary["T"].to_numpy() == pytest.approx(big_t[order])
    _, spend = cdnow_spend()
    assert summary["monetary_value"].fillna(0).to_numpy() == pytest.approx(spend[order])
    fitted = BetaGeoModel().fit(summary["frequency"], summary["recency"], summary["T"])
    assert fitted.loglik_ == pytest.approx(-9582.4, abs=0.05)  # Fader, Hardie & Lee (2005)
    assert summary.loc["00004"].tolist()[:3] == pytest.approx([2, 30.428571, 38.857143])


def test_purchases_of_one_day_are_one_occasion_and_the_end_defaults_to_the_last_day() -> None:
    days = ["2024-01-01 09:00", "2024-01-01 18:00", "2024-01-15", "2024-01-08"]  # mixed forms
    frame = pd.DataFrame({"who": ["a", "a", "a", "b"], "at": days})
    summary = summary_from_transactions(frame, customer="who", when="at", time_unit="day")
    assert summary.loc["a"].tolist()[:3] == [1, 14, 14]  # two orders on 1 January: one occasion
    assert summary.loc["b"].tolist() == [0, 0, 7]  # T to 15 January, the last day
    assert list(summary.columns) == ["frequency", "recency", "T"]  # no value, no spend
    early = summary_from_transactions(
        frame, customer="who", when="at", calibration_end=date(2024, 1, 7)
    )
    assert list(early.index) == ["a"]  # b was acquired after the calibration end


def test_bad_transactions_are_named() -> None:
    frame = pd.DataFrame({"who": ["a", "b"], "at": ["2024-01-01", "soon"]})
    with pytest.raises(InputError, match="no column 'when' in the transactions; found who, at"):
        summary_from_transactions(frame, customer="who", when="when")
    with pytest.raises(InputError, match="transaction 1, column 'at': 'soon' is not a date"):
        summary_from_transactions(frame, customer="who", when="at")
    # lifetimes' freq="W" counts weeks with a purchase, patron purchase days in weeks: refused
    with pytest.raises(InputError, match="unknown time unit 'W'; use one of day, week, month"):
        summary_from_transactions(frame.iloc[:1], customer="who", when="at", time_unit="W")


def test_the_cdnow_holdout_counts_purchase_days_after_the_calibration(
    transactions: pd.DataFrame, summary: pd.DataFrame
) -> None:
    split = calibration_and_holdout(
        transactions, customer="customer", when="day", value="dollars",
        calibration_end=CALIBRATION_END,
    )  # fmt: skip
    calibration = split[[f"{name}_cal" for name in SUMMARY_COLUMNS]]
    pd.testing.assert_frame_equal(calibration.set_axis(SUMMARY_COLUMNS, axis=1), summary)
    # independently: distinct purchase days per customer in (1997-09-30, 1998-06-30]
    days = transactions.assign(day=pd.to_datetime(transactions["day"]))
    days = days.drop_duplicates(["customer", "day"])
    later = days[days["day"] > pd.Timestamp(CALIBRATION_END)]
    expected = later.groupby("customer").size().reindex(split.index, fill_value=0)
    assert split["frequency_holdout"].tolist() == expected.tolist()
    assert split["frequency_holdout"].sum() == 1882
    assert set(split["duration_holdout"]) == {39.0}  # 273 days to the last one, 30 June 1998
    shorter = calibration_and_holdout(
        transactions, customer="customer", when="day",
        calibration_end="1997-09-30", observation_end="1998-03-31",
    )  # fmt: skip
    kept = later[later["day"] <= pd.Timestamp(1998, 3, 31)]
    expected = kept.groupby("customer").size().reindex(shorter.index, fill_value=0)
    assert shorter["frequency_holdout"].tolist() == expected.tolist()
    assert set(shorter["duration_holdout"]) == {26.0}  # 182 days
    assert "monetary_value_cal" not in shorter  # no value column given


def test_a_hand_made_holdout() -> None:
    frame = pd.DataFrame(
        {
            "who": ["a", "a", "a", "a", "a", "a", "a", "b", "b", "c"],
            "at": [
                "2024-01-01 09:00", "2024-01-01 18:00", "2024-01-05", "2024-01-12",
                "2024-01-12 09:00", "2024-01-20", "2024-01-30", "2024-01-10", "2024-01-24",
                "2024-01-15",
            ],
            "amount": [10, 5, 20, 1, 1, 1, 1, 7, 1, 1],
        }
    )  # fmt: skip
    split = calibration_and_holdout(
        frame, customer="who", when="at", value="amount", time_unit="day",
        calibration_end=date(2024, 1, 10), observation_end="2024-01-24",
    )  # fmt: skip
    assert list(split.index) == ["a", "b"]  # c was first seen in the holdout
    # a: days 1 and 5 by the end (1 January's two orders are one); 12 and 20 January after it,
    # 30 January past the observation end. b: acquired on the calibration end, back on the 24th
    # a's holdout spend: 1 + 1 on 12 January, 1 on the 20th, over its two occasions
    assert split.loc["a"].tolist() == [1, 4, 9, 20, 2, 1.5, 14]
    b = split.loc["b"]
    assert b.drop("monetary_value_cal").tolist() == [0, 0, 0, 1, 1.0, 14]
    assert np.isnan(b["monetary_value_cal"])  # no repeat purchase to average
    to_the_end = calibration_and_holdout(
        frame, customer="who", when="at", calibration_end=datetime(2024, 1, 10, 23, 59)
    )
    assert to_the_end["frequency_holdout"].tolist() == [3, 1]
    assert "monetary_value_holdout" not in to_the_end  # no value column given
    assert to_the_end["duration_holdout"].tolist() == [20 / 7] * 2  # to 30 January, in weeks


@given(
    bought=st.lists(st.tuples(st.integers(0, 4), st.integers(0, 30)), min_size=1, max_size=25),
    calibration=st.integers(0, 30),
    holdout=st.integers(1, 10),
)
@settings(max_examples=25, deadline=None)
def test_every_occasion_of_an_acquired_customer_is_counted_once(
    bought: list[tuple[int, int]], calibration: int, holdout: int
) -> None:
    origin = date(2024, 1, 1)
    frame = pd.DataFrame(
        {
            "who": [f"c{who}" for who, _ in bought],
            "at": [origin + timedelta(days=day) for _, day in bought],
        }
    )
    split = calibration_and_holdout(
        frame, customer="who", when="at",
        calibration_end=origin + timedelta(days=calibration),
        observation_end=origin + timedelta(days=calibration + holdout),
    )  # fmt: skip
    pairs = set(bought)
    first = {who: min(day for w, day in pairs if w == who) for who, _ in pairs}
    occasions = [day for who, day in pairs if first[who] <= calibration]
    counted = (split["frequency_cal"] + 1).sum() + split["frequency_holdout"].sum()
    assert counted == sum(day <= calibration + holdout for day in occasions)


def test_the_holdout_must_follow_the_calibration() -> None:
    frame = pd.DataFrame({"who": ["a", "a"], "at": ["2024-01-01", "2024-01-10"]})
    with pytest.raises(InputError, match=r"^observation_end 2024-01-10 must be after "):
        calibration_and_holdout(
            frame, customer="who", when="at", calibration_end="2024-01-10",
            observation_end=date(2024, 1, 10),
        )  # fmt: skip
    with pytest.raises(InputError, match=r"2024-01-10 \(the last transaction's day\) must be "):
        calibration_and_holdout(frame, customer="who", when="at", calibration_end="2024-01-12")
    with pytest.raises(InputError, match="no column 'amount' in the transactions; found who, at"):
        calibration_and_holdout(
            frame, customer="who", when="at", value="amount", calibration_end="2024-01-05"
        )
    with pytest.raises(InputError, match="calibration_end 'soon' is not a date"):
        calibration_and_holdout(frame, customer="who", when="at", calibration_end="soon")


def test_predictions_on_a_summary_are_the_workspaces(summary: pd.DataFrame) -> None:
    horizon = Horizon(periods=39, discount_rate=0.01, margin=0.3)
    predicted = predictions_from_summary(summary, model="BG/NBD", horizon=horizon)
    assert list(predicted.columns) == list(PREDICTED) and predicted.index.equals(summary.index)
    scored = predictions(ibis.memtable(summary.reset_index()), horizon, model="bgnbd")
    direct = scored.to_pandas().set_index("customer").loc[summary.index, list(PREDICTED)]
    pd.testing.assert_frame_equal(predicted, direct, check_exact=True)
    # the same as the purchase model fitted on the summary's rows
    x, t_x, big_t = (summary[name].to_numpy() for name in ("frequency", "recency", "T"))
    fitted = BetaGeoModel().fit(x, t_x, big_t)
    ahead = fitted.conditional_expected_purchases(39, x, t_x, big_t)
    assert predicted["expected_purchases"].to_numpy() == pytest.approx(ahead, rel=1e-9)
    assert predicted.loc["00004", "expected_purchases"] == pytest.approx(1.226, abs=5e-4)
    discounted = fitted.discounted_expected_purchases(39, 0.01, x, t_x, big_t)
    value = 0.3 * predicted["expected_spend"] * discounted
    assert predicted["clv"].to_numpy() == pytest.approx(value.to_numpy(), rel=1e-9)
    assert predicted["clv"].sum() == pytest.approx(15020.44, abs=0.01)  # the customer equity
    for name in PREDICTED[::3]:  # a P(alive) of 1 has bands of 1 - 1e-15 (logit's clip)
        low, high = predicted[f"{name}_low"], predicted[f"{name}_high"]
        estimate = predicted[name]
        assert (low <= estimate + 1e-12).all() and (estimate <= high + 1e-12).all()
        assert (low < high).any()


def test_predictions_on_a_summary_refuse_what_they_cannot_use(summary: pd.DataFrame) -> None:
    with pytest.raises(InputError, match=r"unknown model 'bgnb' \(did you mean 'bgnbd'\?\)"):
        predictions_from_summary(summary, model="bgnb")
    with pytest.raises(InputError, match="must be one of bgnbd, pnbd, mbgnbd to predict"):
        predictions_from_summary(summary, model="gg")
    with pytest.raises(InputError, match="horizon must be from 1 to"):
        predictions_from_summary(summary, horizon=0)
    with pytest.raises(InputError, match="horizon must be a whole number, not str 'a year'"):
        predictions_from_summary(summary, horizon="a year")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="penalizer must be a number"):
        predictions_from_summary(summary, penalizer="none")  # type: ignore[arg-type]
    found = "found frequency, recency, T$"
    with pytest.raises(InputError, match=f"no column 'monetary_value' in the summary; {found}"):
        predictions_from_summary(summary.drop(columns="monetary_value"))
    late = summary.assign(recency=summary["T"] + 1)
    with pytest.raises(InputError, match=r"^summary, row 1, column 'recency': cannot exceed T$"):
        predictions_from_summary(late)
