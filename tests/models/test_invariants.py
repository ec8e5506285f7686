"""What must hold of every customer-base model whatever its parameters and customers.

Hypothesis draws parameters log-uniformly from 1e-2 to 1e2 (it favours 0.01, 1 and 100, where
scipy's special functions have their special cases) and customers with up to 300 repeat
purchases over up to 300 periods (t_x <= T, t_x = 0 when x = 0), and checks that the predictions
are probabilities and distributions that agree with each other: P(alive) in [0, 1] and monotone
in T and t_x, the purchase counts summing to 1 with the conditional expectation as their mean
and 1 - P(0) as the chance of a purchase, expectations growing from 0, the forecast's rows equal
to the separate methods, discounting never adding purchases; finite log-likelihoods with their
analytic gradient, and weights as repeated rows; Gamma-Gamma's spend a weighted average, sBG's
survival a survival curve, BG/BB's likelihood a distribution over the histories it can see.

Customers make at most 7 repeat purchases a period (purchase days in weeks), to keep the file
fast: hundreds of purchases within a fraction of a period make the purchase counts' sums run to
hundreds of thousands of terms. The properties hold there too (600 examples each, unrestricted,
when this file was written), in minutes instead of seconds.

The tests at the end pin what the properties found, each against a route of its own.
"""

from __future__ import annotations

import warnings
from math import comb

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.special import betaln
from scipy.stats import nbinom

from patron.errors import InputError
from patron.models import (
    BetaGeoBetaBinomModel,
    BetaGeoModel,
    GammaGammaModel,
    ModifiedBetaGeoModel,
    ParetoNBDModel,
    ShiftedBetaGeoModel,
)
from patron.models.base import Model
from patron.models.history import HistoryModel
from patron.models.sbg import lifetime_data

FEW = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
HISTORY_KINDS = [BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel]


def log_uniform(low: float = 1e-2, high: float = 1e2) -> st.SearchStrategy[float]:
    """A positive number whose logarithm is uniform between those of ``low`` and ``high``."""
    return st.floats(np.log10(low), np.log10(high)).map(lambda e: float(10.0**e))


@st.composite
def history_models(
    draw: st.DrawFn, kinds: list[type[HistoryModel]] = HISTORY_KINDS
) -> HistoryModel:
    kind = draw(st.sampled_from(kinds))
    values = [draw(log_uniform()) for _ in kind.param_names]
    return kind.from_params(dict(zip(kind.param_names, values, strict=True)))


@st.composite
def histories(draw: st.DrawFn, max_x: int = 300, max_t: float = 300.0) -> tuple[int, float, float]:
    """One customer's (x, t_x, T), with at most 7 repeat purchases a period (the module's
    docstring says why)."""
    big_t = draw(st.floats(0, max_t))
    x = draw(st.integers(0, min(max_x, int(7 * big_t))))
    t_x = 0.0 if x == 0 else draw(st.floats(0, 1)) * big_t
    return x, t_x, big_t


def close(a: object, b: object, rel: float = 1e-9, abs_: float = 1e-12) -> bool:
    return bool(np.all(np.abs(np.asarray(a) - np.asarray(b)) <= rel * np.abs(b) + abs_))


# --- the history models: BG/NBD, MBG/NBD, Pareto/NBD ---------------------------------------


@FEW
@given(history_models(), histories(), st.floats(0, 300), st.floats(0, 1))
def test_probability_alive_is_a_probability_falling_with_T_rising_with_t_x(
    model: HistoryModel, history: tuple[int, float, float], later: float, share: float
) -> None:
    x, t_x, big_t = history
    alive = model.probability_alive(x, t_x, big_t)[0]
    assert 0 <= alive <= 1
    if isinstance(model, BetaGeoModel) and not isinstance(model, ModifiedBetaGeoModel) and x == 0:
        assert alive == 1  # no repeat purchase: no dropout was possible yet
    assert model.probability_alive(x, t_x, big_t + later)[0] <= alive * (1 + 1e-9) + 1e-15
    if x > 0:
        more_recent = t_x + share * (big_t - t_x)
        assert model.probability_alive(x, more_recent, big_t)[0] >= alive * (1 - 1e-9) - 1e-15


def purchase_counts(model: HistoryModel, t: float, x: int, t_x: float, big_t: float) -> np.ndarray:
    """P(Y(t) = n) for n = 0 up to where the tail beyond is below 1e-12: a customer alive all
    along buys more than one who may drop out, and the former's count in t is negative binomial
    under the rate's posterior Gamma(r + x, alpha + T)."""
    r, alpha = model.params_["r"], model.params_["alpha"]
    top = nbinom.isf(1e-12, r + x, (alpha + big_t) / (alpha + big_t + t))
    return model.probability_of_purchases(np.arange(top + 2), t, x, t_x, big_t)[:, 0]


@FEW
@given(history_models(), histories(), st.floats(0, 100))
def test_purchase_counts_are_a_distribution_with_the_models_mean_and_zero(
    model: HistoryModel, history: tuple[int, float, float], t: float
) -> None:
    pmf = purchase_counts(model, t, *history)
    assert np.all((pmf >= 0) & (pmf <= 1 + 1e-12))  # 1 but for rounding
    assert pmf.sum() == pytest.approx(1, abs=1e-6)
    mean = np.arange(len(pmf)) @ pmf
    assert mean == pytest.approx(
        model.conditional_expected_purchases(t, *history)[0], rel=1e-6, abs=1e-9
    )
    assert 1 - pmf[0] == pytest.approx(
        model.probability_of_purchase(t, *history)[0], rel=1e-6, abs=1e-9
    )


@FEW
@given(history_models(), histories(), st.lists(st.floats(0, 300), min_size=2, max_size=5))
def test_expectations_grow_from_zero_and_agree(
    model: HistoryModel, history: tuple[int, float, float], times: list[float]
) -> None:
    t = np.sort(np.array([0.0, *times]))
    expected = model.conditional_expected_purchases(t, *(np.full(len(t), v) for v in history))
    assert np.all(np.isfinite(expected))
    assert expected[0] == 0
    # non-decreasing to 1e-9: BG/NBD's expectation near a = 1 is read off a line (to ~1e-9)
    assert np.all(np.diff(expected) >= -1e-9 * expected[1:])
    buys = model.probability_of_purchase(t, *(np.full(len(t), v) for v in history))
    alive = model.probability_alive(*history)[0]
    assert buys[0] == 0
    assert np.all((buys >= 0) & (buys <= alive * (1 + 1e-12)))
    assert np.all(np.diff(buys) >= -1e-12)
    new = model.conditional_expected_purchases(t, *np.zeros((3, len(t))))
    assert close(model.expected_purchases(t), new, rel=1e-9)


@FEW
@given(history_models(), st.lists(histories(), min_size=1, max_size=5), st.floats(0, 300))
def test_forecast_rows_are_the_separate_predictions(
    model: HistoryModel, rows: list[tuple[int, float, float]], t: float
) -> None:
    x, t_x, big_t = (np.array(column, dtype=float) for column in zip(*rows, strict=True))
    forecast = model.forecast(t, x, t_x, big_t)
    assert np.array_equal(forecast[0], model.probability_alive(x, t_x, big_t))
    assert close(forecast[1], model.conditional_expected_purchases(t, x, t_x, big_t), rel=1e-12)
    assert close(forecast[2], model.probability_of_purchase(t, x, t_x, big_t), rel=1e-12)
    assert np.array_equal(forecast[3], model.median_time_to_purchase(x, big_t))
    assert np.all(forecast[3] >= 0)


@FEW
@given(
    history_models(),
    st.lists(histories(), min_size=1, max_size=5),
    st.integers(0, 200),
    st.floats(1e-4, 1),
)
def test_discounting_never_adds_purchases(
    model: HistoryModel, rows: list[tuple[int, float, float]], periods: int, rate: float
) -> None:
    x, t_x, big_t = (np.array(column, dtype=float) for column in zip(*rows, strict=True))
    expected = model.conditional_expected_purchases(periods, x, t_x, big_t)
    undiscounted = model.discounted_expected_purchases(periods, 0.0, x, t_x, big_t)
    assert close(undiscounted, expected, rel=1e-9)
    discounted = model.discounted_expected_purchases(periods, rate, x, t_x, big_t)
    assert np.all((discounted >= 0) & (discounted <= expected * (1 + 1e-12)))
    assert np.all(discounted >= expected / (1 + rate) ** periods * (1 - 1e-9))


# --- likelihoods: finite, with the analytic gradient, and weights as repeated rows ----------


@st.composite
def likelihood_cases(draw: st.DrawFn) -> tuple[Model, np.ndarray, dict[str, np.ndarray]]:
    """A model kind, parameters and a few rows of its data."""
    kind = draw(
        st.sampled_from(
            [*HISTORY_KINDS, BetaGeoBetaBinomModel, ShiftedBetaGeoModel, GammaGammaModel]
        )
    )
    params = np.array([draw(log_uniform()) for _ in kind.param_names])
    size = draw(st.integers(1, 5))
    if issubclass(kind, HistoryModel):
        rows = [draw(histories()) for _ in range(size)]
        columns = dict(zip(("x", "t_x", "T"), zip(*rows, strict=True), strict=True))
    elif kind is BetaGeoBetaBinomModel:
        rows = [draw(opportunity_histories()) for _ in range(size)]
        columns = dict(zip(("x", "t_x", "n"), zip(*rows, strict=True), strict=True))
    elif kind is ShiftedBetaGeoModel:
        churned = draw(st.lists(st.booleans(), min_size=size, max_size=size))
        periods = [draw(st.integers(1 if c else 0, 300)) for c in churned]
        columns = {"t": periods, "churned": churned}
    else:
        columns = {
            "x": draw(st.lists(st.integers(1, 300), min_size=size, max_size=size)),
            "m": draw(st.lists(log_uniform(1e-2, 1e4), min_size=size, max_size=size)),
        }
    data = {name: np.array(values, dtype=float) for name, values in columns.items()}
    return kind(), params, data


@st.composite
def opportunity_histories(draw: st.DrawFn, max_n: int = 300) -> tuple[int, int, int]:
    """One BG/BB customer's (x, t_x, n): x <= t_x <= n, t_x = 0 exactly when x = 0."""
    n = draw(st.integers(0, max_n))
    t_x = draw(st.integers(0, n))
    x = draw(st.integers(min(t_x, 1), t_x))
    return x, t_x, n


@FEW
@given(likelihood_cases())
def test_loglik_is_finite_with_its_analytic_gradient(
    case: tuple[Model, np.ndarray, dict[str, np.ndarray]],
) -> None:
    model, params, data = case
    loglik, grad = model.loglik_rows(params, dict(data))
    assert np.all(np.isfinite(loglik)) and np.all(np.isfinite(grad))
    if isinstance(model, BetaGeoBetaBinomModel | ShiftedBetaGeoModel):
        assert np.all(loglik <= 1e-12)  # a probability's log (the others are densities')
    # slopes in log parameters by the five-point stencil, 1e-3 apart: its truncation error
    # (h^4) and rounding (1e-16 of the likelihood's largest terms, such as log Gamma(p x) of
    # a few hundred thousand, over h) both stay near 1e-9
    h = 1e-3
    for k in range(len(params)):
        at = [
            model.loglik_rows(params * np.exp(j * h * np.eye(len(params))[k]), dict(data))[0]
            for j in (-2, -1, 1, 2)
        ]
        slope = (at[0] - 8 * at[1] + 8 * at[2] - at[3]) / (12 * h)
        assert params[k] * grad[:, k] == pytest.approx(slope, rel=1e-6, abs=1e-6)


@FEW
@given(likelihood_cases(), st.data())
def test_weights_count_repeated_rows(
    case: tuple[Model, np.ndarray, dict[str, np.ndarray]], data_: st.DataObject
) -> None:
    model, params, data = case
    rows = len(next(iter(data.values())))
    counts = np.array(data_.draw(st.lists(st.integers(0, 4), min_size=rows, max_size=rows)))
    value, slope = model.loglik_sum(params, dict(data), counts.astype(float))
    repeated = {name: np.repeat(values, counts) for name, values in data.items()}
    loglik, grad = model.loglik_rows(params, repeated)
    assert value == pytest.approx(loglik.sum(), rel=1e-10, abs=1e-10)
    assert slope == pytest.approx(grad.sum(axis=0), rel=1e-8, abs=1e-8)


# --- BG/BB: discrete opportunities ------------------------------------------------------------


def bgbb_models() -> st.SearchStrategy[BetaGeoBetaBinomModel]:
    return st.tuples(*[log_uniform()] * 4).map(
        lambda v: BetaGeoBetaBinomModel.from_params(
            dict(zip(BetaGeoBetaBinomModel.param_names, v, strict=True))
        )
    )


@FEW
@given(bgbb_models(), st.integers(0, 12))
def test_bgbb_likelihood_is_a_distribution_over_the_histories(
    model: BetaGeoBetaBinomModel, n: int
) -> None:
    """Over n opportunities a customer's history is which of them had a transaction: the
    likelihood of (x, t_x, n) is that of each of the C(t_x - 1, x - 1) histories with x
    transactions, the last at t_x, and these sum to 1."""
    rows = [(0, 0)] + [(x, t_x) for t_x in range(1, n + 1) for x in range(1, t_x + 1)]
    x, t_x = (np.array(column, dtype=float) for column in zip(*rows, strict=True))
    data = {"x": x, "t_x": t_x, "n": np.full(len(rows), float(n))}
    loglik, _ = model.loglik_rows(np.array(list(model.params_.values())), data)
    ways = np.array([comb(int(b) - 1, int(a) - 1) if a else 1 for a, b in rows])
    assert ways @ np.exp(loglik) == pytest.approx(1, rel=1e-10)


@FEW
@given(bgbb_models(), opportunity_histories(), st.integers(1, 50), st.integers(0, 40))
def test_bgbb_alive_and_expectations(
    model: BetaGeoBetaBinomModel, history: tuple[int, int, int], later: int, n_star: int
) -> None:
    x, t_x, n = history
    alive = model.probability_alive(x, t_x, n)[0]
    assert 0 <= alive <= 1
    assert model.probability_alive(x, t_x, n + later)[0] <= alive * (1 + 1e-9)
    if x > 0 and t_x < n:  # the same transactions, the last one later
        assert model.probability_alive(x, n, n)[0] >= alive * (1 - 1e-9)
    steps = np.arange(n_star + 1)
    expected = np.array([model.conditional_expected_purchases(k, x, t_x, n)[0] for k in steps])
    assert expected[0] == 0 and np.all(np.isfinite(expected))
    # each opportunity adds E[p 1{alive then}], at most P(alive at n + 1), and less each time
    step = np.diff(expected)
    assert np.all((step >= 0) & (step <= alive * (1 + 1e-9)))
    assert np.all(np.diff(step) <= 1e-12 * alive)


# --- sBG: contracts ---------------------------------------------------------------------------


@FEW
@given(log_uniform(), log_uniform(), st.integers(1, 300), st.floats(1e-3, 1))
def test_sbg_survival_is_a_survival_curve(
    alpha: float, beta: float, periods: int, discount: float
) -> None:
    model = ShiftedBetaGeoModel.from_params({"alpha": alpha, "beta": beta})
    t = np.arange(periods + 1)
    survival = model.survival(t)
    assert survival[0] == pytest.approx(1, rel=1e-12)
    assert np.all((survival >= 0) & (survival <= 1 + 1e-12))
    assert np.all(np.diff(survival) <= 0)
    retention = model.retention_rate(t[1:])
    assert np.all((retention >= 0) & (retention <= 1)) and np.all(np.diff(retention) >= 0)
    assert close(survival[1:], survival[:-1] * retention, rel=1e-9)
    churn = lifetime_data(t[1:], np.ones(periods))
    still = lifetime_data([periods], [0])
    params = np.array([alpha, beta])
    total = np.exp(model.loglik_rows(params, churn)[0]).sum()
    assert total + np.exp(model.loglik_rows(params, still)[0][0]) == pytest.approx(1, rel=1e-9)
    lifetime = model.expected_lifetime(periods)
    assert lifetime == pytest.approx(survival[:-1].sum(), rel=1e-9) and 1 <= lifetime <= periods
    assert model.expected_lifetime(periods, discount=discount) <= lifetime


# --- Gamma-Gamma: spend -----------------------------------------------------------------------


@FEW
@given(
    log_uniform(),
    log_uniform(1.001, 1e2),
    log_uniform(),
    st.lists(st.tuples(st.integers(0, 300), log_uniform(1e-2, 1e4)), min_size=1, max_size=5),
)
def test_expected_spend_is_between_the_population_and_the_customer(
    p: float, q: float, gamma: float, rows: list[tuple[int, float]]
) -> None:
    """q > 1: the population mean gamma p / (q - 1) is finite only then."""
    model = GammaGammaModel.from_params({"p": p, "q": q, "gamma": gamma})
    x, m = (np.array(column, dtype=float) for column in zip(*rows, strict=True))
    spend = model.conditional_expected_average_profit(x, m)
    population = gamma * p / (q - 1)
    own = np.where(x > 0, m, population)  # a one-time buyer has no mean of their own
    low, high = np.minimum(population, own), np.maximum(population, own)
    assert np.all((spend >= low * (1 - 1e-12)) & (spend <= high * (1 + 1e-12)))
    more = model.conditional_expected_average_profit(x + 1, m)  # one more purchase at m
    repeat = x > 0  # more purchases at m weigh m more
    closer = np.abs(more - m) <= np.abs(spend - m) * (1 + 1e-12) + 1e-12 * m
    assert np.all(closer[repeat])


# --- what the properties found, pinned ---------------------------------------------------------


def expected_by_purchases(model: BetaGeoModel, t: float, x: int, big_t: float) -> float:
    """E[Y(t) | alive at T] of BG/NBD or MBG/NBD summed purchase by purchase, a route without
    2F1: the j-th purchase comes when the count of a customer who never leaves reaches j (a
    negative binomial under the rate's posterior Gamma(r + x, alpha + T)) and the customer
    stayed after the j - 1 before it, E[(1 - p)^(j - 1)] with p ~ Beta(a, b + n)."""
    r, alpha, a, b = model.params_.values()
    b_post = b + x + model.first_purchase_dropout
    p = (alpha + big_t) / (alpha + big_t + t)
    j = np.arange(1, nbinom.isf(1e-18, r + x, p) + 2)
    stayed = np.exp(betaln(a, b_post + j - 1) - betaln(a, b_post))
    return float(nbinom.sf(j - 1, r + x, p) @ stayed)


BGNBD_CASES = [
    # a = 1: the closed form was 0 / 0 (NaN, as in lifetimes); here E = log(1 + t / alpha)
    (BetaGeoModel, (1.0, 1.0, 1.0, 1.0), 0, 0.0, 0.0, 50.0),
    (ModifiedBetaGeoModel, (0.7, 2.0, 1.0, 3.0), 4, 20.0, 30.0, 52.0),
    # a - r a whole number: scipy's 2F1 was wrong near z = 1 (11.81 for 11.97, as in lifetimes)
    (BetaGeoModel, (1.0, 1.0, 10.0, 100.0), 5, 8.0, 10.0, 100.0),
    (BetaGeoModel, (0.1, 1.0, 10.1, 100.0), 5, 8.0, 10.0, 100.0),
    (ModifiedBetaGeoModel, (2.0, 1.0, 10.0, 100.0), 5, 8.0, 10.0, 100.0),
    # a heavy buyer seen briefly: the power underflowed as 2F1 overflowed (NaN)
    (ModifiedBetaGeoModel, (0.1903, 0.0247, 27.6175, 10.204), 209, 3.2, 3.24, 287.57),
    (BetaGeoModel, (47.795, 1.4528, 0.0258, 0.2924), 266, 21.0, 21.39, 293.78),
    # a short horizon: the bracket's difference lost 4 of 6 digits
    (BetaGeoModel, (1.915, 0.101, 1.01, 0.023), 161, 280.0, 286.38, 2.7632e-6),
]


@pytest.mark.parametrize(("kind", "params", "x", "t_x", "big_t", "t"), BGNBD_CASES)
def test_bgnbd_expectation_equals_the_sum_over_purchases(
    kind: type[BetaGeoModel],
    params: tuple[float, ...],
    x: int,
    t_x: float,
    big_t: float,
    t: float,
) -> None:
    model = kind.from_params(dict(zip(kind.param_names, params, strict=True)))
    alive = model.probability_alive(x, t_x, big_t)[0]
    expected = model.conditional_expected_purchases(t, x, t_x, big_t)[0]
    assert expected == pytest.approx(alive * expected_by_purchases(model, t, x, big_t), rel=1e-7)


def test_bgnbd_at_a_equal_to_one_is_the_log() -> None:
    model = BetaGeoModel.from_params({"r": 1.0, "alpha": 2.0, "a": 1.0, "b": 1.0})
    t = np.array([0.0, 0.5, 1.0, 10.0, 100.0])
    # r = b = 1: sum_j (t / (alpha + t))^j / j
    assert model.expected_purchases(t) == pytest.approx(np.log1p(t / 2), rel=1e-8)


@pytest.mark.parametrize(
    ("params", "t"),
    [
        ((20.3, 1.0, 1.0, 1.0), 85.0),  # P(Y = 0) was off by 1.3e-4
        ((1.0, 1.0, 10.0, 1.0), 66.0),  # the counts summed to 1 - 2.2e-6
        ((0.553, 10.578, 0.606, 11.669), 39.0),
    ],
)
def test_pareto_counts_of_a_sharply_peaked_integrand(params: tuple[float, ...], t: float) -> None:
    """Pareto/NBD's counts integrate over the time of death; where the integrand has a narrow
    peak (a high purchase rate or death rate) 64 nodes on all of [0, t] missed its mass. P(0)
    and P(Y > 0) come by independent routes (quadrature, the likelihood's tails)."""
    model = ParetoNBDModel.from_params(dict(zip(ParetoNBDModel.param_names, params, strict=True)))
    rows = ([0, 3, 40], [0.0, 2.0, 9.0], [0.0, 5.0, 10.0])
    pmf = model.probability_of_purchases(np.arange(20_000), t, *rows)
    assert pmf.sum(axis=0) == pytest.approx(1, abs=1e-12)
    assert 1 - pmf[0] == pytest.approx(model.probability_of_purchase(t, *rows), abs=1e-12)
    mean = np.arange(len(pmf)) @ pmf
    assert mean == pytest.approx(model.conditional_expected_purchases(t, *rows), rel=1e-10)


@pytest.mark.parametrize("kind", HISTORY_KINDS)
def test_purchase_counts_for_a_list_of_n(kind: type[HistoryModel]) -> None:
    values = [0.6, 4.0, 0.8, 2.5] if kind is not ParetoNBDModel else [0.6, 4.0, 0.8, 9.0]
    model = kind.from_params(dict(zip(kind.param_names, values, strict=True)))
    rows = ([0, 2, 10, 40], [0.0, 30.0, 35.0, 38.0], 39.0)
    t = np.array([1.0, 10.0, 39.0, 52.0])  # a horizon per row, as patron.validate asks
    counts = np.array([0, 1, 2, 5, 17])
    table = model.probability_of_purchases(counts, t, *rows)
    assert table.shape == (5, 4)
    each = np.stack([model.probability_of_purchases(int(n), t, *rows) for n in counts])
    assert np.array_equal(table, each)
    assert model.probability_of_purchases([3], 10.0, 2, 30.0, 39.0).shape == (1, 1)
    assert model.probability_of_purchases(np.int64(3), 10.0, 2, 30.0, 39.0).shape == (1,)
    for bad in ([1, 2.5], [-1, 2], [[1, 2]], "12", [True]):
        with pytest.raises(InputError, match="n must be"):
            model.probability_of_purchases(bad, 10.0, *rows)


def test_a_long_gone_heavy_buyer_is_dead_without_a_warning() -> None:
    model = BetaGeoModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # exp overflowed in the odds: a RuntimeWarning
        assert model.probability_alive(300, 1.0, 300.0)[0] == 0


@pytest.mark.parametrize("kind", [*HISTORY_KINDS, BetaGeoBetaBinomModel, GammaGammaModel])
def test_a_model_from_given_parameters_shows_itself(kind: type[Model]) -> None:
    model = kind.from_params({name: 1.5 for name in kind.param_names})
    shown = ", ".join(f"{name}=1.5" for name in kind.param_names)
    assert repr(model) == f"{kind.__name__}({shown}; given, not fitted)"  # was NotFittedError
