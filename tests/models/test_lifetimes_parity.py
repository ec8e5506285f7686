"""What a lifetimes 0.11.3 user reaches for, and gets from patron with the same numbers.

Each test names the lifetimes call it stands in for. The expected values are lifetimes' own,
computed once with lifetimes' fitted parameters on the CDNOW sample in days (its default
``freq="D"``) and frozen here, or worked out by hand; lifetimes itself is not imported.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from patron.errors import InputError
from patron.models import (
    BetaGeoBetaBinomModel,
    BetaGeoModel,
    GammaGammaModel,
    ModifiedBetaGeoModel,
    ParetoNBDModel,
)
from patron.models.history import HistoryModel
from patron.samples.cdnow import read_rows
from patron.transactions import calibration_and_holdout, summary_from_transactions

# lifetimes' fits on the CDNOW sample in days to 1997-09-30 (patron's agree to 3e-7, 2e-5 for
# Pareto/NBD, where lifetimes' Nelder-Mead stops short)
DAYS_BGNBD = {
    "r": 0.24259454342106734,
    "alpha": 30.8952190125417,
    "a": 0.7929218333479818,
    "b": 2.4259057287221752,
}
DAYS_PNBD = {
    "r": 0.5532851207572168,
    "alpha": 74.0439007000766,
    "s": 0.6062547509220818,
    "beta": 81.68171744689951,
}
SPEND = {"p": 6.24957227763445, "q": 3.744224674758553, "gamma": 15.443521018367175}


@pytest.fixture(scope="module")
def days() -> pd.DataFrame:
    """lifetimes' ``summary_data_from_transaction_data(..., freq="D")`` of the CDNOW sample to
    1997-09-30, which patron's summary in days equals (one-time buyers' spend 0, as there)."""
    rows = pd.DataFrame(read_rows(sample=True), columns=["id", "day", "cds", "amount"])
    summary = summary_from_transactions(
        rows, customer="id", when="day", value="amount", calibration_end="1997-09-30",
        time_unit="day",
    )  # fmt: skip
    return summary.fillna({"monetary_value": 0.0})


def test_whole_number_days_read_as_yyyymmdd() -> None:
    """CDNOW's files, and many exports, hold days as the numbers 19970101: pandas reads them as
    int64, which lifetimes takes with ``datetime_format="%Y%m%d"``. They used to end in
    pyarrow's "Casting from timestamp[ns] to timestamp[us] would lose data"."""
    rows = pd.DataFrame(read_rows(sample=True), columns=["id", "day", "cds", "amount"])
    numbers = rows.assign(day=rows["day"].str.replace("-", "").astype(int))
    as_text = summary_from_transactions(
        rows, customer="id", when="day", calibration_end="1997-09-30"
    )
    as_numbers = summary_from_transactions(
        numbers, customer="id", when="day", calibration_end="1997-09-30"
    )
    pd.testing.assert_frame_equal(as_numbers, as_text)
    assert as_numbers.loc["00004"].tolist() == pytest.approx([2, 30.428571, 38.857143])
    floats = numbers.assign(day=numbers["day"].astype(float))  # a column with a gap reads so
    split = calibration_and_holdout(floats, customer="id", when="day", calibration_end="1997-09-30")
    assert split["frequency_holdout"].sum() == 1882


@pytest.mark.parametrize("day", [1.5, 20241340, -20240101])
def test_numbers_that_are_no_yyyymmdd_day_are_named(day: float) -> None:
    frame = pd.DataFrame({"who": ["a", "a"], "day": [20240101, day]})
    with pytest.raises(InputError, match=r"transaction 1, column 'day'.*YYYYMMDD"):
        summary_from_transactions(frame, customer="who", when="day")


@pytest.mark.parametrize("column", ["frequency", "recency", "T", "monetary_value"])
def test_a_customer_column_may_share_a_summary_columns_name(column: str) -> None:
    """The customer column is the index, apart from the summary's columns: one named like
    them used to fail in pandas' ``set_index`` ("Index data must be 1-dimensional")."""
    frame = pd.DataFrame(
        {column: ["a", "a", "b"], "day": ["2024-01-01", "2024-01-08", "2024-01-15"], "v": 1.0}
    )
    summary = summary_from_transactions(frame, customer=column, when="day", value="v")
    assert summary.index.name == column and summary.index.tolist() == ["a", "b"]
    assert summary["T"].tolist() == pytest.approx([2, 0])
    assert summary["recency"].tolist() == pytest.approx([1, 0])


@pytest.mark.parametrize(
    ("kind", "in_a_week"),
    [(BetaGeoModel, 0.053180925098560664), (ModifiedBetaGeoModel, 0.04038619728394844)],
)
def test_no_purchases_in_no_time_is_a_plain_zero(
    kind: type[BetaGeoModel], in_a_week: float
) -> None:
    """``expected_number_of_purchases_up_to_time(np.arange(8) / 7)``, a week's days in weeks,
    starts at -0.0 in lifetimes and did in patron (the short horizons' series carried its
    sign), which a data frame prints as "-0.0"; a week ahead both give lifetimes' value."""
    model = kind.from_params({"r": 0.2426, "alpha": 4.414, "a": 0.7929, "b": 2.426})
    expected = model.expected_purchases(np.arange(8) / 7)
    assert expected[0] == 0 and not np.signbit(expected[0])
    assert expected[7] == pytest.approx(in_a_week, rel=1e-12)


@pytest.mark.parametrize(
    ("kind", "params", "total", "some"),
    [
        (BetaGeoModel, DAYS_BGNBD, 70726.72160307021, [35.86658031554855, 490.11325474801356]),
        (ParetoNBDModel, DAYS_PNBD, 71514.14048923875, [42.58889480828431, 488.62303184710163]),
    ],
)
def test_customer_lifetime_value_in_months_of_a_model_in_days(
    days: pd.DataFrame,
    kind: type[HistoryModel],
    params: dict[str, float],
    total: float,
    some: list[float],
) -> None:
    """``GammaGammaFitter.customer_lifetime_value(model, x, t_x, T, m, time=12,
    discount_rate=0.01, freq="D")`` discounts each of 12 months of 30 days at 1% a month.
    patron discounted per time unit only, so a model in days was discounted daily: 71,070
    where lifetimes gives 70,727 for BG/NBD (0.5% apart). ``step=30`` is lifetimes' month."""
    history = (days["frequency"], days["recency"], days["T"])
    spend = GammaGammaModel.from_params(SPEND).conditional_expected_average_profit(
        days["frequency"], days["monetary_value"]
    )
    purchases = kind.from_params(params).discounted_expected_purchases(12, 0.01, *history, step=30)
    clv = pd.Series(spend * purchases, index=days.index)
    assert clv.sum() == pytest.approx(total, rel=1e-10)
    assert clv.loc[["00004", "00619"]].tolist() == pytest.approx(some, rel=1e-10)


@pytest.mark.parametrize("step", [0, -30, [30, 30], float("nan")])
def test_a_discount_period_is_one_positive_length(step: object) -> None:
    model = BetaGeoModel.from_params(DAYS_BGNBD)
    with pytest.raises(InputError, match="step"):
        model.discounted_expected_purchases(12, 0.01, 2, 30, 60, step=step)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def donations() -> pd.DataFrame:
    return pd.read_csv(Path(__file__).resolve().parents[1] / "fixtures" / "donations.csv")


DONORS = {  # lifetimes' fit on the donations (patron's agrees to 1e-7)
    "alpha": 1.2035223936080381,
    "beta": 0.7497163581757634,
    "gamma": 0.6567181695499512,
    "delta": 2.7834419828876076,
}


@pytest.mark.parametrize(
    ("ahead", "alive"),
    [
        (0, [0.11621815648476039, 0.07465530769305298, 0.27375401506533537, 0.5173456543652346]),
        (1, [0.10813327510958216, 0.06946180501686049, 0.25470992759461214, 0.4813557679996277]),
        (3, [0.09551447038545756, 0.061355836225989085, 0.22498609989814092, 0.4251831011395624]),
    ],
)
def test_bgbb_alive_some_opportunities_ahead(
    donations: pd.DataFrame, ahead: int, alive: list[float]
) -> None:
    """``BetaGeoBetaBinomFitter.conditional_probability_alive(m, x, t_x, n)`` is P(alive at
    opportunity n + m); patron had the next opportunity's (m = 1) alone."""
    model = BetaGeoBetaBinomModel.from_params(DONORS)
    first = donations.iloc[:4]
    history = (first["frequency"], first["recency"], first["periods"])
    assert model.probability_alive(*history, ahead=ahead) == pytest.approx(alive, rel=1e-12)
    if ahead == 1:
        assert model.probability_alive(*history) == pytest.approx(alive, rel=1e-12)


def test_bgbb_customers_expected_at_each_frequency(donations: pd.DataFrame) -> None:
    """``expected_number_of_transactions_in_first_n_periods(6)`` on the donations: 3,455,
    1,889, 1,349, 1,113, 1,018, 1,027 and 1,253 donors with 0..6 repeat donations, against
    3,464, 1,823, 1,430, 1,085, 1,036, 1,063 and 1,203 seen (Fader, Hardie & Shang 2010)."""
    model = BetaGeoBetaBinomModel.from_params(DONORS)
    chances = model.frequency_distribution(6)
    expected = [
        3454.8819794154397,
        1888.6543427566319,
        1348.8823303701517,
        1113.378533281444,
        1017.9224125512334,
        1027.166049034031,
        1253.1143525910882,
    ]
    assert chances * donations["weights"].sum() == pytest.approx(expected, rel=1e-12)
    assert model.frequency_distribution(0).tolist() == [1.0]
    many = model.frequency_distribution(400)
    assert many.sum() == pytest.approx(1, rel=1e-12) and np.all(many >= 0)


def test_lifetimes_penalizer_in_patrons_terms(days: pd.DataFrame) -> None:
    """``BetaGeoFitter(penalizer_coef=0.01)`` on the CDNOW days gives r = 0.242942,
    alpha = 31.0275, a = 0.285643, b = 0.658459; patron's ``penalizer=0.01`` gives 0.230,
    27.6, 0.796, 2.37. lifetimes adds its penalty to the mean negative log-likelihood, with
    time divided by the longest T; patron to the summed one, in the data's own time unit.
    Its penalty times the customers, on times so divided, is lifetimes' fit."""
    scale = days["T"].max()
    model = BetaGeoModel(penalizer=0.01 * len(days))
    model.fit(days["frequency"], days["recency"] / scale, days["T"] / scale)
    params = model.params_ | {"alpha": model.params_["alpha"] * scale}
    lifetimes = {"r": 0.2429420027, "alpha": 31.0275449713, "a": 0.2856428013, "b": 0.6584593861}
    assert params == pytest.approx(lifetimes, rel=2e-5)
