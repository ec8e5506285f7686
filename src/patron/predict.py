"""Per-customer predictions: scored on unique rows in numpy, joined back to customers in the engine.

For every customer acquired by the as-of day D, from their summary as of D (``patron.clv``), a
purchase model (MBG/NBD by default, or BG/NBD, Pareto/NBD) fitted on that summary and a
Gamma-Gamma fit on its repeat customers, over a horizon of H time units:

- ``p_alive``: P(alive | x, t_x, T);
- ``expected_purchases``: E[Y(H) | x, t_x, T], purchases in the next H units;
- ``p_purchase``: P(Y(H) > 0 | x, t_x, T), the chance of at least one purchase in them;
- ``next_purchase_wait``: the median wait, in units, until the next purchase of a customer who
  is still alive: the day by which they are as likely as not to have bought again (read it with
  ``p_alive``; ``patron.workspace`` turns it into ``next_purchase_date``);
- ``expected_spend``: E[M | x, m̄] per purchase (the population mean γp/(q−1) without repeats);
- ``clv``: margin × expected_spend × Σ_{k=1..H} (E[Y(k)] − E[Y(k−1)]) / (1 + d)^k, the discounted
  margin of the next H units at a discount rate d per unit (the discounted expected residual
  transactions of Fader, Hardie & Lee 2005, truncated at the horizon); its sum over customers is
  the customer equity.

Intervals (``_low``, ``_high``: 90%, i.e. 5th and 95th percentiles) come from parameter
uncertainty by the delta method: the log-parameters' asymptotic normal covariance (the fit's
inverse information) carried through each prediction's slopes, on a scale where the prediction
is unbounded (logit for probabilities, log for the rest) and mapped back, so a band never leaves
[0, 1] or goes negative. It costs 2k + 1 evaluations for k parameters where sampling costs one
per draw; Pareto/NBD's tail integrals make that the difference between seconds and minutes.
The discounted purchases' bounds scale with those of E[Y(H)], and the CLV bounds multiply the
bounds of its two factors, which come from separate fits: a conservative band.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import TYPE_CHECKING, Any

import ibis
import numpy as np
import pyarrow as pa
from scipy.special import expit

from patron import clv
from patron.defaults import PREDICT_MODEL
from patron.errors import ConvergenceWarning, InputError, option
from patron.models import GammaGammaModel, Model
from patron.models.history import HistoryModel
from patron.portable import round_half_up
from patron.predictions import (
    ALIVE_AT_RISK,
    ALIVE_LOST,
    RISK_GROUPS,
    STORED,
    VALUE_GROUPS,
    Horizon,
)

if TYPE_CHECKING:
    from ibis import Table

Z_90 = 1.6448536269514722  # the normal's 95th percentile: a two-sided 90% band
STEP = 1e-4  # central-difference step in log-parameters
KEYS = ("frequency", "recency", "T")


def predictions(
    summary: Table, horizon: Horizon, *, model: str = PREDICT_MODEL, penalizer: float = 0.0
) -> Table:
    """``summary`` (one row per customer) with the predictions of the module docstring; the
    purchase model is fitted with the L2 ``penalizer`` (see ``patron fit --penalizer``)."""
    horizon.check()
    model = clv.model_name(model)
    if model not in clv.HISTORY_MODELS:
        raise InputError(
            f"{option('model')} must be one of {', '.join(clv.HISTORY_MODELS)} to predict"
        )
    rows = clv.unique_rows(summary)
    fitted = clv.fit_rows(model, rows, penalizer=penalizer)
    _warn_unidentified(fitted, model)
    purchase = _purchase_table(fitted, rows, horizon)
    spend_fit = _spend_fit(summary)
    scored = summary.inner_join(ibis.memtable(purchase), list(KEYS))
    scored = scored.mutate(**expected_spend(spend_fit, scored.frequency, scored.monetary_value))
    value = {
        f"clv{end}": scored[f"discounted{end}"] * scored[f"expected_spend{end}"] * horizon.margin
        for end in ("", "_low", "_high")
    }
    return scored.mutate(**value).drop("discounted", "discounted_low", "discounted_high")


def _spend_fit(summary: Table) -> Model:
    """Gamma-Gamma on the repeat customers' mean spend, or an InputError that says what needs
    it: a shop where nobody has bought twice was told "the Gamma-Gamma model needs customers
    with repeat transactions" by ``patron predict``, which had asked for no such model."""
    try:
        return clv.fit_rows("gg", clv.unique_rows(summary, ("frequency", "monetary_value")))
    except InputError as exc:
        raise InputError(
            f"the expected spend and CLV come from a Gamma-Gamma fit on the customers with "
            f"repeat purchases, and it failed: {exc}. With no repeat customer yet, use a later "
            "as-of day, or `patron fit` for the purchase model alone"
        ) from exc


def _warn_unidentified(fitted: Model, name: str) -> None:
    """Say so when the data leave parameters of the purchase model free
    (:func:`patron.clv.unidentified`): its predictions are then not to be trusted."""
    free = clv.unidentified(fitted)
    if free:
        warnings.warn(
            f"{name}: the data do not pin down {', '.join(free)}; the predictions are "
            "unreliable. Predict on more customers or a longer history, or pass "
            f"{option('penalizer')}",
            ConvergenceWarning,
            stacklevel=3,
        )


def _purchase_table(model: Model, rows: pa.Table, horizon: Horizon) -> pa.Table:
    """Per unique (x, t_x, T): the purchase predictions with bounds, and discounted purchases."""
    assert isinstance(model, HistoryModel)
    x, t_x, big_t = (clv.column(rows, name) for name in KEYS)

    def point(m: HistoryModel) -> np.ndarray:
        return m.forecast(horizon.periods, x, t_x, big_t)

    estimate = point(model)
    bounds = _bounds(model, point, estimate, PURCHASE_SCALES)
    periods, rate = horizon.periods, horizon.discount_rate
    discounted = model.discounted_expected_purchases(periods, rate, x, t_x, big_t)
    ahead = estimate[1]
    columns: dict[str, Any] = {name: rows.column(name) for name in KEYS}
    for i, name in enumerate(PURCHASE_COLUMNS):
        columns |= {name: estimate[i], f"{name}_low": bounds[0][i], f"{name}_high": bounds[1][i]}
    for end, bound in (("", ahead), ("_low", bounds[0][1]), ("_high", bounds[1][1])):
        scale = np.divide(bound, ahead, out=np.ones_like(ahead), where=ahead > 0)
        columns[f"discounted{end}"] = discounted * scale
    return pa.table(columns)


PURCHASE_COLUMNS = ("p_alive", "expected_purchases", "p_purchase", "next_purchase_wait")
PURCHASE_SCALES = ("logit", "log", "logit", "log")


def expected_spend(
    model: Model, frequency: ibis.Value, monetary_value: ibis.Value
) -> dict[str, ibis.Value]:
    """Gamma-Gamma's E[M | x, m̄] = p (γ + x m̄) / (p x + q − 1) with its 90% band, as engine
    expressions (m̄ = 0 without repeats gives the population mean): the formula is closed, so
    no table of unique rows needs to be joined back.

    The band is the delta method of ``_bounds`` worked out by hand: the slopes of log E in
    (log p, log q, log γ) are 1 − p x / D, −q / D and γ / (γ + x m̄), with D = p x + q − 1.
    """
    assert isinstance(model, GammaGammaModel)
    p, q, g = model.params_.values()
    if q <= 1:
        raise InputError(f"the expected spend is infinite when q <= 1 (fitted q = {q:.4g})")
    x, m = frequency.cast("float64"), monetary_value.fill_null(0.0)
    denominator = p * x + q - 1
    slopes = (1 - p * x / denominator, -q / denominator, g / (g + x * m))
    cov = model.covariance_ / np.outer([p, q, g], [p, q, g])
    value = p * (g + x * m) / denominator
    if not np.all(np.isfinite(cov)):
        return {f"expected_spend{end}": value for end in ("", "_low", "_high")}
    variance = sum(float(cov[i, j]) * slopes[i] * slopes[j] for i in range(3) for j in range(3))
    spread = (Z_90 * variance.sqrt()).exp()
    return {
        "expected_spend": value,
        "expected_spend_low": value / spread,
        "expected_spend_high": value * spread,
    }


def interval(
    model: Model, predict: Callable[[Any], np.ndarray], *, probability: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Any prediction of a fitted ``model`` with its 90% band from parameter uncertainty, by
    the delta method of ``patron predict``'s bands (logit scale for a ``probability``, log
    otherwise): ``(estimate, low, high)``. ``predict`` maps a model to the prediction, so
    the ones ``patron predict`` does not store get bands too, e.g. P(2 purchases in the next
    39 units), ``interval(fitted, lambda m: m.probability_of_purchases(2, 39, x, t_x, T),
    probability=True)``."""
    estimate = np.asarray(predict(model), dtype=float)
    scales = ("logit" if probability else "log",)

    def stacked(m: Any) -> np.ndarray:
        return np.asarray(predict(m), dtype=float)[None]

    low, high = _bounds(model, stacked, estimate[None], scales)
    return estimate, low[0], high[0]


def _bounds(
    model: Model,
    predict: Callable[[Any], np.ndarray],
    estimate: np.ndarray,
    scales: tuple[str, ...],
) -> tuple[np.ndarray, np.ndarray]:
    """The 90% band of each row of ``predict`` (one scale per row) around its value
    ``estimate`` at the fitted parameters, by the delta method; the estimate when the
    covariance is not identified. A band always holds its estimate (a value at 0 or 1
    exactly is kept off them on the scale, so its bound would be a hair away)."""
    theta = np.array(list(model.params_.values()))
    center = _to_scale(estimate, scales)
    cov = model.covariance_
    if not np.all(np.isfinite(cov)):
        return estimate, estimate
    slopes = []
    for j in range(len(theta)):
        moved = [theta * np.exp(np.eye(len(theta))[j] * sign * STEP) for sign in (1, -1)]
        up, down = (_to_scale(predict(_with(model, m)), scales) for m in moved)
        slopes.append((up - down) / (2 * STEP))
    grad = np.stack(slopes)  # (k, ...): slopes in log-parameters
    cov_log = cov / np.outer(theta, theta)
    spread = np.sqrt(np.maximum(np.einsum("i...,ij,j...->...", grad, cov_log, grad), 0))
    low, high = (_from_scale(center + sign * Z_90 * spread, scales) for sign in (-1, 1))
    return np.minimum(low, estimate), np.maximum(high, estimate)


def _with(model: Model, params: np.ndarray) -> Model:
    return type(model).from_params(dict(zip(model.param_names, params, strict=True)))


_TINY = 1e-300
_BELOW_ONE = float(np.nextafter(1.0, 0.0))
_LOG_MAX = 700.0  # e^700 is finite in float64


def _to_scale(values: np.ndarray, scales: tuple[str, ...]) -> np.ndarray:
    """Each row of ``values`` on its unbounded scale (logit or log), kept off 0 and 1 by no
    more than they must be: a logit clipped at 1e-15 put a P(alive) of 1e-47 above both of
    its bounds (1e-15), a band that did not hold its own estimate."""
    out = np.log(np.maximum(values, _TINY))
    for i, scale in enumerate(scales):
        if scale == "logit":
            p = np.clip(values[i], _TINY, _BELOW_ONE)
            out[i] = np.log(p) - np.log1p(-p)
    return out


def _from_scale(values: np.ndarray, scales: tuple[str, ...]) -> np.ndarray:
    out = np.exp(np.minimum(values, _LOG_MAX))
    for i, scale in enumerate(scales):
        if scale == "logit":
            out[i] = expit(values[i])
    return out


def for_customers(
    scored: Table, *, as_of: date, time_unit: str, model: str, horizon: Horizon
) -> Table:
    """``predictions`` ready to store and join: dates, the groups below and what made them.

    - ``next_purchase_date`` (and ``_low``, ``_high``): the as-of day plus the median wait, in
      whole days; empty past 100 years (a customer who in effect will not buy again) and for a
      customer who has probably left (``likely_lost``): the wait is an alive customer's, and
      exports and campaigns read the date as the day to expect a purchase (a customer with
      P(alive) 2e-10 was due in 8 days);
    - ``predicted_value``: ``top_20pct`` of customers by predicted CLV (ties by customer key),
      ``next_30pct``, ``bottom_50pct``;
    - ``churn_risk``: ``active`` when P(alive) >= 0.7, ``at_risk`` from 0.3, else ``likely_lost``.
    """
    unit = clv.unit_days(time_unit)
    staying = scored.p_alive >= ALIVE_LOST
    dates = {
        f"next_purchase_date{end}": ibis.ifelse(
            staying, _date_after(as_of, scored[f"next_purchase_wait{end}"] * unit), None
        )
        for end in ("", "_low", "_high")
    }
    tiered = scored.mutate(**dates).inner_join(_value_tiers(scored), "customer_key")
    active, at_risk, likely_lost = RISK_GROUPS
    risk = ibis.cases(
        (tiered.p_alive >= ALIVE_AT_RISK, active),
        (tiered.p_alive >= ALIVE_LOST, at_risk),
        else_=likely_lost,
    )
    return tiered.mutate(
        churn_risk=risk,
        model=ibis.literal(model),
        as_of=ibis.literal(as_of),
        time_unit=ibis.literal(time_unit),
        horizon=ibis.literal(horizon.periods),
    )


def _value_tiers(scored: Table) -> Table:
    """``customer_key`` and ``predicted_value`` per customer. The ranking sorts these two
    columns alone and is joined back: a window over every prediction column made DuckDB sort
    and spill all of them (23 s of a 10M-customer scoring, against 2 s for the key and CLV)."""
    rank = ibis.row_number().over(order_by=[ibis.desc(scored.clv), scored.customer_key])
    size = scored.customer_key.count().over()  # a window: DuckDB plans a scalar count badly
    top, next_, bottom = VALUE_GROUPS
    value = ibis.cases(
        (rank < (size * 0.2).ceil(), top),
        (rank < (size * 0.5).ceil(), next_),
        else_=bottom,
    )
    return scored.select("customer_key", predicted_value=value)


def _date_after(day: date, days: ibis.Value) -> ibis.Value:
    """``day`` plus ``days`` rounded to whole days, a date (DuckDB's date + interval is a
    timestamp though Ibis types it a date: unstored, CSV read 1998-01-08 00:00:00)."""
    whole = round_half_up(days)
    later = (ibis.timestamp(day.isoformat()) + whole.as_interval("D")).date()
    return ibis.ifelse(whole <= 36_525, later, None)


def scores(
    summary: Table,
    horizon: Horizon,
    *,
    as_of: date,
    time_unit: str,
    model: str = PREDICT_MODEL,
    penalizer: float = 0.0,
) -> Table:
    """One row per customer of ``summary``: ``predictions`` with ``for_customers``' fields."""
    model = clv.model_name(model)  # "PNBD", "pareto": the stored rows name it as patron does
    scored = predictions(summary, horizon, model=model, penalizer=penalizer)
    return for_customers(scored, as_of=as_of, time_unit=time_unit, model=model, horizon=horizon)


def store(backend: Any, summary: Table, score: Callable[[Table], Table]) -> Table:
    """Score ``summary`` with ``score`` (:func:`scores` with its options) into the warehouse
    table ``STORED`` (replacing it) and return it.

    Scoring reads the summary three times (the two sets of unique rows, the join back), so it
    is computed once into a temporary table first (temporary tables work on a read-only
    warehouse too, and vanish if the process dies).
    """
    scratch = backend.create_table(SCRATCH, summary, temp=True, overwrite=True)
    scored = score(scratch)
    with _one_transaction(backend):
        backend.create_table(STORED, scored, overwrite=True)
    backend.drop_table(SCRATCH)
    return backend.table(STORED)


@contextmanager
def _one_transaction(backend: Any) -> Iterator[None]:
    """Ibis replaces a DuckDB table in four statements (create it under another name, fill
    it, drop the old one, rename), each its own transaction: a process killed between them
    left no stored predictions, or a stray full copy. Here they are one (PostgreSQL's already
    are)."""
    if backend.name != "duckdb":
        yield
        return
    backend.con.begin()
    try:
        yield
    except BaseException:
        backend.con.rollback()
        raise
    backend.con.commit()


SCRATCH = "patron_summary_scratch"
