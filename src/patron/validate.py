"""Calibration / holdout validation: does a model fitted up to D predict what came after?

Customers acquired by the calibration end D are fitted on their history to D (``patron.clv``);
their purchase occasions in (D, E] (E = the holdout end, by default the last day of the orders
loaded) are the truth. Every purchase model (BG/NBD, Pareto/NBD, MBG/NBD) is fitted and scored,
so the user sees which one fits their business; ``best`` is the one with the lowest holdout MAE.
Per model:

- ``loglik`` and ``bic`` of the calibration fit;
- ``mae``: mean absolute error of predicted vs actual holdout purchases per customer;
- ``correlation``: Pearson correlation of the two over customers;
- ``holdout_predicted`` / ``holdout_actual``: total holdout purchases.

Beside the models the naive baseline predicts each customer's calibration repeat rate carried
forward (x / T per unit, 0 when T = 0). ``conditional`` averages actual and predicted holdout
purchases by calibration frequency (0 to 6, and 7+), ``frequencies`` counts the customers by
their repeat purchases in the calibration period, actual and as each model expects them
(:func:`frequency_counts`: the models' fit to the period itself, lifetimes' "period
transactions"), and ``tracking`` gives cumulative repeat purchases at the end of each time unit
from the first acquisition to E, actual and expected (each model's E[X(t)] summed over
customers by acquisition day), as in Fader, Hardie & Lee (2005).

The engine groups customers by (frequency, recency, T, holdout purchases) and counts them; only
those rows reach Python.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from patron import clv
from patron.errors import InputError, option
from patron.metrics.occasions import Sales, occasions
from patron.models.base import as_array, as_count, row_count
from patron.models.history import HistoryModel

if TYPE_CHECKING:
    from ibis import Table

FREQUENCY_CAP = 7


def validate(
    sales: Sales, calibration_end: date, holdout_end: date, *, time_unit: str = "week"
) -> dict[str, Any]:
    """The validation report of the module docstring (JSON-ready)."""
    if holdout_end <= calibration_end:
        raise InputError(
            f"{option('holdout_end')} {holdout_end} must be after "
            f"{option('calibration_end')} {calibration_end}"
        )
    _check_loaded(sales, holdout_end)
    unit = clv.unit_days(time_unit)
    summary = clv.customer_summary(sales, calibration_end, time_unit=time_unit)
    rows = _with_holdout(summary, sales, calibration_end, holdout_end)
    horizon = (holdout_end - calibration_end).days / unit
    unique = clv.unique_rows(summary)
    models = {name: _history_fit(name, unique) for name in clv.HISTORY_MODELS}
    x, t_x, big_t, actual, count = (clv.column(rows, c) for c in _COLUMNS)
    predicted = {
        name: m.conditional_expected_purchases(horizon, x, t_x, big_t) for name, m in models.items()
    }
    predicted["naive"] = np.divide(x, big_t, out=np.zeros_like(x), where=big_t > 0) * horizon
    fits = {
        name: {"loglik": m.loglik_, "bic": m.bic(), "params": m.params_}
        for name, m in models.items()
    }
    scores: list[dict[str, Any]] = [
        {"model": name, **_errors(values, actual, count), **fits.get(name, {})}
        for name, values in predicted.items()
    ]
    return {
        "calibration_end": calibration_end.isoformat(),
        "holdout_end": holdout_end.isoformat(),
        "time_unit": time_unit,
        "holdout_periods": horizon,
        "customers": int(count.sum()),
        "models": scores,
        "best": min(scores[: len(models)], key=lambda score: score["mae"])["model"],
        "conditional": _conditional(x, actual, predicted, count),
        "frequencies": frequency_rows(models, x, big_t, count),
        "tracking": tracking(sales, models, calibration_end, holdout_end, unit),
    }


def _check_loaded(sales: Sales, holdout_end: date) -> None:
    """Refuse a holdout that runs past the orders loaded: its days without data would count
    as days without purchases, and every model would seem to over-predict."""
    clv.check_loaded(sales, holdout_end, "holdout_end", "end the holdout by")


def _history_fit(name: str, rows: pa.Table) -> HistoryModel:
    fitted = clv.fit_rows(name, rows)
    assert isinstance(fitted, HistoryModel)
    return fitted


_COLUMNS = ("frequency", "recency", "T", "holdout", "count")


def with_holdout(summary: Table, sales: Sales, start: date, end: date) -> Table:
    """``summary`` (one row per customer) with each customer's ``holdout`` purchases, their
    occasions in (``start``, ``end``], 0 for none, and ``holdout_revenue``, what they spent on
    them."""
    occ = occasions(sales, end)
    later = occ.filter(occ.order_date > start)
    counts = later.group_by("customer_key").agg(
        holdout=later.count(), holdout_revenue=later.revenue.sum()
    )
    joined = summary.left_join(counts, "customer_key").drop("customer_key_right")
    return joined.mutate(
        holdout=joined.holdout.fill_null(0), holdout_revenue=joined.holdout_revenue.fill_null(0)
    )


def _with_holdout(summary: Table, sales: Sales, start: date, end: date) -> pa.Table:
    """Unique (frequency, recency, T, holdout purchases) rows of the calibration customers."""
    joined = with_holdout(summary, sales, start, end)
    keys = ["frequency", "recency", "T", "holdout"]
    grouped = joined.group_by(keys).agg(count=joined.count())
    return grouped.order_by(keys).to_pyarrow()  # sorted: the same sums to the last bit


def _errors(predicted: np.ndarray, actual: np.ndarray, count: np.ndarray) -> dict[str, float]:
    """Weighted MAE, correlation and totals of predicted vs actual holdout purchases."""
    n = count.sum()
    mean_p, mean_a = count @ predicted / n, count @ actual / n
    cov = count @ ((predicted - mean_p) * (actual - mean_a))
    spread = np.sqrt((count @ (predicted - mean_p) ** 2) * (count @ (actual - mean_a) ** 2))
    return {
        "mae": float(count @ np.abs(predicted - actual) / n),
        "correlation": float(cov / spread) if spread > 0 else float("nan"),
        "holdout_predicted": float(count @ predicted),
        "holdout_actual": float(count @ actual),
    }


def _conditional(
    x: np.ndarray, actual: np.ndarray, predicted: dict[str, np.ndarray], count: np.ndarray
) -> list[dict[str, Any]]:
    """Mean holdout purchases by calibration frequency, actual and per model."""
    group = np.minimum(x, FREQUENCY_CAP)
    out = []
    for g in np.unique(group):
        mask = group == g
        n = count[mask].sum()
        label = f"{int(g)}+" if g == FREQUENCY_CAP else str(int(g))
        means = {name: float(count[mask] @ v[mask] / n) for name, v in predicted.items()}
        row = {"frequency": label, "customers": int(n)}
        out.append(row | {"actual": float(count[mask] @ actual[mask] / n)} | means)
    return out


def frequency_rows(
    models: dict[str, HistoryModel],
    x: object,
    big_t: object,
    count: object = None,
    *,
    top: int = FREQUENCY_CAP,
) -> list[dict[str, Any]]:
    """Customers by calibration repeat purchases 0 .. ``top`` - 1 and ``top``+: ``actual`` and
    per model (:func:`frequency_counts`)."""
    counted = {
        name: frequency_counts(m, x, big_t, weights=count, top=top) for name, m in models.items()
    }
    actual = next(iter(counted.values()))[0]
    labels = [str(k) for k in range(len(actual) - 1)] + [f"{len(actual) - 1}+"]
    return [
        {"frequency": label, "actual": float(actual[k])}
        | {name: float(expected[k]) for name, (_, expected) in counted.items()}
        for k, label in enumerate(labels)
    ]


def frequency_counts(
    model: HistoryModel,
    frequency: object,
    T: object,
    *,
    weights: object = None,
    top: int = FREQUENCY_CAP,
) -> tuple[np.ndarray, np.ndarray]:
    """Customers with 0, 1, ..., ``top - 1`` and ``top`` or more repeat purchases: counted in
    ``frequency``, and expected by ``model``: sum_i P(X(T_i) = x), the chance that a customer
    seen only at their first purchase makes x repeat purchases in their T_i units since (BG/NBD's
    eq. 8), summed over customers. Exact where lifetimes simulates; both sum to the customers."""
    top = as_count(top, "max_frequency")
    if top < 1:
        raise InputError(f"{option('max_frequency')} must be at least 1")
    rows = row_count(frequency=frequency, T=T)
    x = as_array(frequency, "frequency", integer=True, rows=rows)
    age = as_array(T, "T", rows=rows)
    w = np.ones(rows) if weights is None else as_array(weights, "weights", rows=rows)
    actual = np.bincount(np.minimum(x, top).astype(int), weights=w, minlength=top + 1)
    ages, at = np.unique(age, return_inverse=True)
    per_age = np.bincount(at, weights=w)
    seen = ages > 0  # acquired on the last day: no time for a repeat purchase, x = 0 surely
    zero = np.zeros(seen.sum())
    chances = model.probability_of_purchases(np.arange(top), ages[seen], zero, zero, zero)
    below = chances @ per_age[seen]  # (top,): expected customers with 0 .. top - 1
    below[0] += per_age[~seen].sum()
    rest = max(per_age.sum() - below.sum(), 0.0)  # rounding left -1e-15 where none: "-0"
    return actual, np.append(below, rest)


def tracking(
    sales: Sales,
    models: dict[str, HistoryModel],
    calibration_end: date,
    holdout_end: date,
    unit: float,
) -> list[dict[str, Any]]:
    """Cumulative repeat purchases of the calibration customers at each unit's end, actual and
    expected by each model (E[X(t)] summed over customers by acquisition day)."""
    occ = occasions(sales, holdout_end)
    cohort = occ.filter(occ.first_date <= calibration_end)
    first, later = cohort.filter(cohort.n == 0), cohort.filter(cohort.n > 0)
    firsts = first.group_by("first_date").agg(customers=first.count())
    repeats = later.group_by("order_date").agg(purchases=later.count())
    acquired = firsts.order_by("first_date").to_pyarrow().to_pylist()
    bought = repeats.order_by("order_date").to_pyarrow().to_pylist()
    if not acquired:
        raise InputError("no customers were acquired by the calibration end")
    origin = acquired[0]["first_date"]
    days = np.array([(r["first_date"] - origin).days for r in acquired], dtype=float)
    sizes = np.array([r["customers"] for r in acquired], dtype=float)
    sold = np.array([(r["order_date"] - origin).days for r in bought], dtype=float)
    volume = np.array([r["purchases"] for r in bought], dtype=float)
    points = []
    span = (holdout_end - origin).days
    for k in range(1, int(np.ceil(span / unit)) + 1):
        at = min(np.floor(k * unit), span)  # a whole day: the date shown, purchases through it
        age = np.clip(at - days, 0, None) / unit
        points.append(
            {
                "period": k,
                "date": (origin + timedelta(days=int(at))).isoformat(),
                "actual": float(volume[sold <= at].sum()),
                **{name: float(sizes @ m.expected_purchases(age)) for name, m in models.items()},
                "holdout": origin + timedelta(days=int(at)) > calibration_end,
            }
        )
    return points
