"""A lifetimes user's entry point: the RFM summary of a data frame of transactions, without a
workspace, checked against the CDNOW sample's independent computation."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from cdnow_data import CALIBRATION_END, cdnow_spend, cdnow_weeks

from patron.clv import summary_from_transactions
from patron.errors import InputError
from patron.models import BetaGeoModel
from patron.samples.cdnow import read_rows


@pytest.fixture(scope="module")
def transactions() -> pd.DataFrame:
    return pd.DataFrame(read_rows(sample=True), columns=["customer", "day", "cds", "dollars"])


def test_the_cdnow_summary_is_the_papers(transactions: pd.DataFrame) -> None:
    summary = summary_from_transactions(
        transactions, customer="customer", when="day", value="dollars",
        calibration_end=CALIBRATION_END,
    )  # fmt: skip
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
    assert summary.loc["b"].tolist()[:3] == [0, 0, 7]  # T to 15 January, the last day
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
