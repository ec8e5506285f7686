"""From orders to fitted customer-base models: sufficient statistics in the engine, fits in numpy.

Per customer acquired by the calibration end D (a purchase occasion on or before it, see
``patron.metrics.occasions``), in the chosen time unit (day, week = 7 days, month = 365.25 / 12
days), as in Fader, Hardie & Lee (2005):

- ``frequency`` x: repeat occasions by D (occasions after the first);
- ``recency`` t_x: time from the first occasion to the last one by D (0 when x = 0);
- ``T``: time from the first occasion to D (a customer acquired on D has T = 0);
- ``monetary_value``: mean purchase revenue of the repeat occasions (null when x = 0), for
  Gamma-Gamma.

The engine groups customers with identical rows and counts them (``count``); only those unique
rows reach Python, so the fit costs what the distinct histories cost.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis
import numpy as np
import pyarrow as pa

from patron.arguments import as_whole
from patron.errors import InputError, LooseFitWarning, did_you_mean, option
from patron.metrics.occasions import Sales, last_order_date, occasions
from patron.models import (
    BetaGeoBetaBinomModel,
    BetaGeoModel,
    GammaGammaModel,
    Model,
    ModifiedBetaGeoModel,
    ParetoNBDModel,
    ShiftedBetaGeoModel,
    from_survivors,
)
from patron.models.base import UNIDENTIFIED
from patron.models.bgbb import MORE_THAN_OPPORTUNITIES
from patron.models.history import NO_REPEATS_RECENCY
from patron.predictions import MAX_PERIODS

if TYPE_CHECKING:
    from ibis import Table

TIME_UNITS = {"day": 1.0, "week": 7.0, "month": 365.25 / 12}


@dataclass(frozen=True)
class ModelSpec:
    """How ``patron fit`` builds a model and which summary columns its ``fit`` takes."""

    make: Callable[..., Any]
    columns: tuple[str, ...] = ("frequency", "recency", "T")
    discrete: bool = False  # counts whole periods (BG/BB) instead of continuous time


MODELS = {
    "bgnbd": ModelSpec(BetaGeoModel),
    "pnbd": ModelSpec(ParetoNBDModel),
    "mbgnbd": ModelSpec(ModifiedBetaGeoModel),
    "gg": ModelSpec(GammaGammaModel, ("frequency", "monetary_value")),
    "bgbb": ModelSpec(BetaGeoBetaBinomModel, discrete=True),
}
"""Models ``patron fit`` knows, by their command-line names."""

HISTORY_MODELS = ("bgnbd", "pnbd", "mbgnbd")
"""The continuous-time purchase models: same data, so their log-likelihoods and BICs compare."""


MODEL_ALIASES = {"pareto": "pnbd", "paretonbd": "pnbd", "gammagamma": "gg"}
"""Other spellings of the models' names, once lowercased and without ``_``, ``-``, ``/`` or
spaces (so "BG/NBD", "bg_nbd" and "MBG-NBD" need no entry)."""


def model_name(name: object) -> str:
    """The name in :data:`MODELS` of the model ``name`` means: any case, with or without
    separators, a few aliases ("pareto", "gamma_gamma"), or the model class itself."""
    if isinstance(name, type):
        named = [key for key, spec in MODELS.items() if spec.make is name]
        if named:
            return named[0]
    key = "".join(c for c in str(name).lower() if c not in "_-/ ")
    key = MODEL_ALIASES.get(key, key)
    if key in MODELS:
        return key
    if key == "sbg":
        raise InputError(
            "sbg fits a cohort's survivors, not purchase histories: "
            "ShiftedBetaGeoModel().fit(...) or `patron fit --model sbg --survival ...`"
        )
    shown = name.__name__ if isinstance(name, type) else repr(name)
    hint = did_you_mean(key, MODELS)
    raise InputError(f"unknown model {shown}{hint}; the models are {', '.join(MODELS)}")


def model_spec(name: object) -> ModelSpec:
    """How to fit the model ``name`` means (:func:`model_name`)."""
    return MODELS[model_name(name)]


def customer_summary(
    sales: Sales, calibration_end: date, *, time_unit: str = "week", discrete: bool = False
) -> Table:
    """One row per customer acquired by ``calibration_end``: frequency, recency, T, monetary.

    ``discrete`` counts whole periods of the time unit since the acquisition's (period 0), as
    BG/BB reads them: T is the number of periods that have ended by the calibration end (the
    opportunities), frequency those with a purchase and recency the last of them. The period
    still running on that day is no opportunity yet, and its purchases wait for a later fit.
    """
    unit = unit_days(time_unit)
    occ = occasions(sales, calibration_end)
    age = occ.order_date.delta(occ.first_date, unit="day") / unit
    occ = occ.mutate(age=age.floor() if discrete else age)
    if discrete:
        occ = occ.filter(occ.age <= _ended_periods(occ.first_date, calibration_end, unit))
    per = occ.group_by("customer_key").agg(
        first_date=occ.first_date.min(),
        frequency=(occ.age.nunique() - 1) if discrete else occ.count() - 1,
        recency=occ.age.max(),
        repeat_revenue=occ.revenue.sum(where=occ.n > 0),
        repeats=occ.count() - 1,
    )
    span = ibis.date(calibration_end).delta(per.first_date, unit="day") / unit
    return per.select(
        "customer_key",
        "frequency",
        "recency",
        T=_ended_periods(per.first_date, calibration_end, unit) if discrete else span,
        monetary_value=per.repeat_revenue / ibis.ifelse(per.repeats > 0, per.repeats, None),
    )


def check_loaded(sales: Sales, day: date, name: str, advice: str = "use a day up to") -> None:
    """Refuse a calibration end (or as-of day, holdout end) ``day`` after the last day of the
    orders loaded (:func:`~patron.metrics.occasions.last_order_date`): the days between are
    days without data, which the models would read as days without purchases, so every
    customer would look longer gone (as of 2030, the CDNOW sample's customer equity was 0.09).
    ``name`` is the option, ``advice`` what to do instead."""
    last = last_order_date(sales)
    if day > last:
        raise InputError(
            f"{option(name)} {day} is after the last day of the orders loaded, {last}: load "
            f"the later orders or {advice} {last}"
        )


def _ended_periods(first: ibis.Value, calibration_end: date, unit: float) -> ibis.Value:
    """Periods after the acquisition's that have ended by ``calibration_end``: period k holds
    the days [k, k + 1) units after ``first``, and the days 0 .. D - first have been seen."""
    seen = ibis.date(calibration_end).delta(first, unit="day") + 1
    return ibis.greatest((seen / unit).floor() - 1, 0)


def unique_rows(
    summary: Table, columns: tuple[str, ...] = ("frequency", "recency", "T")
) -> pa.Table:
    """The distinct rows of ``columns`` with their ``count`` of customers, sorted: the engine
    groups in any order, and float sums over rows in another order differ in the last bits, so
    a sorted input makes every fit of the same data bit-identical."""
    grouped = summary.group_by(list(columns)).agg(count=summary.count())
    return grouped.order_by(list(columns)).to_pyarrow()


def fit_rows(model: str, rows: pa.Table, *, penalizer: float = 0.0) -> Model:
    """Fit the model named ``model`` on rows of its columns and an optional ``count``, with
    an L2 ``penalizer`` on its parameters (0: plain maximum likelihood)."""
    spec = model_spec(model)
    if rows.num_rows == 0:
        raise InputError("no customers to fit on: is the calibration end before the first order?")
    arrays = [column(rows, name) for name in spec.columns]  # Gamma-Gamma reads NaN spend
    count = column(rows, "count") if "count" in rows.column_names else None
    return _fit_quietly(spec.make(penalizer=penalizer), *arrays, weights=count)


def fit_survival(counts: str | Sequence[float], *, penalizer: float = 0.0) -> ShiftedBetaGeoModel:
    """sBG on one cohort's survivors per period, written ``1000,631,468,...`` or a list."""
    try:
        periods, churned, weights = from_survivors(_counts(counts))
    except InputError as exc:  # the library names its argument; the user typed --survival
        raise InputError(f"--survival {counts!r}: {exc}".replace("alive_counts ", "")) from exc
    model = ShiftedBetaGeoModel(penalizer=penalizer)
    _fit_quietly(model, periods, churned=churned, weights=weights)
    return model


PROJECTED_PERIODS = 5
"""Periods :func:`survival_projection` looks past a cohort's survivors unless told."""


def survival_projection(
    fitted: ShiftedBetaGeoModel,
    counts: str | Sequence[float],
    *,
    horizon: int = PROJECTED_PERIODS,
    discount_rate: float | None = None,
) -> dict[str, Any]:
    """The cohort fitted on ``counts`` projected, as Fader & Hardie (2007) do, over its periods
    0..k and ``horizon`` more: each period's survivors observed (None past the data) and
    projected (N0 S(t)), S(t) and r(t) (None at period 0), so the fit shows beside the
    projection; the ``expected_lifetime`` over periods 1..k + horizon; and with a
    ``discount_rate`` its ``discounted_expected_lifetime`` without a horizon (DEL)."""
    observed = _counts(counts)
    periods = _projected(horizon)
    last = len(observed) - 1 + periods
    report = {
        "horizon": periods,
        "projection": _projection_rows(fitted, observed, last),
        "expected_lifetime": _lifetime(fitted, last),
    }
    if discount_rate is not None:
        discounted = _lifetime(fitted, None, discount_rate)
        report |= {"discount_rate": discount_rate, "discounted_expected_lifetime": discounted}
    return report


def _projection_rows(
    fitted: ShiftedBetaGeoModel, observed: list[float], last: int
) -> list[dict[str, Any]]:
    """One row a period 0..``last``: see :func:`survival_projection`."""
    t = np.arange(last + 1)
    retention = [None, *fitted.retention_rate(t[1:]).tolist()]
    return [
        {
            "period": period,
            "observed": int(observed[period]) if period < len(observed) else None,
            "projected": observed[0] * share,
            "survival": share,
            "retention": rate,
        }
        for period, share, rate in zip(
            t.tolist(), fitted.survival(t).tolist(), retention, strict=True
        )
    ]


def _projected(horizon: int) -> int:
    """``horizon``, checked: the periods past the data to project."""
    periods = as_whole(horizon, option("horizon"))
    if not 0 <= periods <= MAX_PERIODS:
        raise InputError(f"{option('horizon')} must be from 0 to {MAX_PERIODS:,} periods")
    return periods


def _lifetime(fitted: ShiftedBetaGeoModel, periods: int | None, rate: float = 0.0) -> float:
    """:meth:`ShiftedBetaGeoModel.expected_lifetime`, with a negative rate named as typed."""
    if not rate >= 0:
        raise InputError(f"{option('discount_rate')} must be 0 or more, not {rate!r}")
    return fitted.expected_lifetime(periods, discount=rate)


def _counts(counts: str | Sequence[float]) -> list[float]:
    """The survivor counts, one a period: ``--survival``'s text, or numbers from Python."""
    parts = counts.split(",") if isinstance(counts, str) else list(counts)
    return [_count(part) for part in parts]


def _count(part: object) -> float:
    """One survivor count of ``--survival``, or an InputError that names the part."""
    try:
        return float(str(part))
    except ValueError:
        raise InputError(
            f"{str(part).strip()!r} is not a count; write the customers still active at periods "
            "0, 1, 2, ... separated by commas, e.g. 1000,631,468"
        ) from None


def _fit_quietly(model: Any, *data: object, **options: object) -> Model:
    """``model.fit(*data, **options)`` without its LooseFitWarning: the commands report
    :func:`unidentified` in their own words."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LooseFitWarning)
        fitted: Model = model.fit(*data, **options)
    return fitted


def read_summary(path: Path, model: str) -> pa.Table:
    """A precomputed summary table (CSV or Parquet) with the model's columns[, count].

    Only the columns :func:`summary_columns` finds are kept, under patron's names: an id or
    row-name column, or a holdout's, is never read as data.
    """
    table = _read_table(path)
    found = _source_columns(table.column_names, str(path))
    missing = [c for c in model_spec(model).columns if c not in found]
    if missing:
        raise InputError(
            f"missing column(s) {', '.join(missing)}; found {', '.join(table.column_names)}; "
            "rename the ones that hold them (docs/models.md lists the spellings read)",
            file=str(path),
        )
    if table.num_rows == 0:
        raise InputError("no customers in it, only the column names", file=str(path))
    table = table.select(list(found.values())).rename_columns(list(found))
    check_rows(table, model_spec(model), str(path))
    return table


def summary_columns(path: Path) -> dict[str, str]:
    """Which column of the file patron reads as each of its own (``{"frequency": "x", ...}``):
    the fit reports it, so a file read under another tool's spelling shows how it was read."""
    return _source_columns(_read_table(path).column_names, str(path))


def _read_table(path: Path) -> pa.Table:
    """A CSV or Parquet file as it is, or an InputError that names it. A file that is not
    UTF-8 text (a spreadsheet, a Parquet file under another name) fails where the CSV reader
    reads its header as text: that is the user's file, not a bug, so it is one line too. A
    leading ``~`` is the home folder, as for every file patron reads (no shell in cron)."""
    import pyarrow.parquet as pq

    path = path.expanduser()
    if not path.is_file():
        raise InputError("no such file; check the path", file=str(path))
    try:
        return pq.read_table(path) if path.suffix == ".parquet" else _read_csv(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"cannot read it: {str(exc).splitlines()[0]}", file=str(path)) from exc
    except UnicodeDecodeError as exc:
        message = f"not a UTF-8 CSV file ({exc}); save it as CSV UTF-8 or as .parquet"
        raise InputError(message, file=str(path)) from exc


def _read_csv(path: Path) -> pa.Table:
    """A CSV file; one whose rows are each a field longer than its header is R's
    ``write.table(..., sep = ",")``, which writes row names without a header field: that first
    field is read as an unnamed row-name column (as ``write.csv``'s ``""`` is), never as data."""
    import csv

    import pyarrow.csv as pcsv

    try:
        return pcsv.read_csv(path)
    except pa.ArrowInvalid as exc:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            header = next(csv.reader(handle), [])
        if f"Expected {len(header)} columns, got {len(header) + 1}" not in str(exc):
            raise
        names = pcsv.ReadOptions(column_names=["", *header], skip_rows=1)
        return pcsv.read_csv(path, read_options=names)


def _source_columns(names: list[str], file: str) -> dict[str, str]:
    """patron's column -> the file's, for those found: its own name first, else the one other
    spelling of :data:`SUMMARY_ALIASES` present, in any case (``Frequency``, ``X``; two of
    them are refused: which is meant?)."""
    found = {}
    for column, others in SUMMARY_ALIASES.items():
        spellings = {spelling.casefold() for spelling in (column, *others)}
        present = [name for name in names if name.casefold() in spellings]
        if column in present:
            present = [column]
        if len(present) > 1:
            both = " and ".join(present)
            raise InputError(f"{both} could both be {column}: rename one to {column}", file=file)
        if present:
            found[column] = present[0]
    return found


def check_rows(table: pa.Table, spec: ModelSpec, file: str) -> None:
    """Refuse the first bad value with its row and column: a number that is not one, missing,
    negative or fractional where a count is meant, recency past T, or (Gamma-Gamma) a repeat
    customer without a positive mean spend."""
    columns = [*spec.columns, *(["count"] if "count" in table.column_names else [])]
    values = {name: _numbers(table, name, file) for name in columns}
    rules = [
        (name, ~np.isfinite(v) | (v < 0), "must be a non-negative number")
        for name, v in values.items()
        if name != "monetary_value"
    ]
    rules += [
        (name, values[name] != np.round(values[name]), "must be a whole number")
        for name in ("frequency", "count", *(("recency", "T") if spec.discrete else ()))
        if name in values
    ]
    if "recency" in values:
        rules.append(("recency", values["recency"] > values["T"], "cannot exceed T"))
        unrepeated = (values["frequency"] == 0) & (values["recency"] > 0)
        rules.append(("recency", unrepeated, NO_REPEATS_RECENCY))
    if spec.discrete:
        many = values["frequency"] > values["recency"]
        rules.append(("frequency", many, MORE_THAN_OPPORTUNITIES))
    if "monetary_value" in values:
        spent = values["monetary_value"]
        bad = (values["frequency"] > 0) & ~(np.isfinite(spent) & (spent >= 0))
        rules.append(("monetary_value", bad, "must be 0 or more for a customer with repeats"))
    found = [(int(np.argmax(bad)) + 1, name, message) for name, bad, message in rules if bad.any()]
    if found:
        row, name, message = min(found)  # the earliest row, as a reader scans the file
        raise InputError(message, file=file, row=row, field=name)


def _numbers(table: pa.Table, name: str, file: str) -> np.ndarray:
    """A column as float64 (empty cells as NaN), or an InputError at its first non-number."""
    try:
        return column(table, name)
    except (ValueError, pa.ArrowInvalid):
        cells = table.column(name).to_pylist()
        row = next(i for i, cell in enumerate(cells, 1) if not _is_number(cell))
        message = f"{cells[row - 1]!r} is not a number"
        raise InputError(message, file=file, row=row, field=name) from None


def _is_number(cell: object) -> bool:
    try:
        float(cell)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return cell is None
    return True


def summary_models(path: Path) -> tuple[str, ...]:
    """The models ``--model all`` fits on a summary file: the purchase models, and Gamma-Gamma
    when it has ``monetary_value`` (BG/BB needs whole periods, which such a file rarely has)."""
    names = read_summary(path, "bgnbd").column_names
    return HISTORY_MODELS + (("gg",) if "monetary_value" in names else ())


def best_by_bic(reports: list[dict[str, Any]]) -> str | None:
    """The purchase model with the lowest BIC among ``reports`` (None when there is none)."""
    ranked = [r for r in reports if r["model"] in HISTORY_MODELS]
    return min(ranked, key=lambda r: r["bic"])["model"] if ranked else None


SUMMARY_ALIASES = {
    "frequency": ("x", "frequency_cal"),
    "recency": ("t.x", "recency_cal"),
    "T": ("periods", "n_periods", "T.cal", "T_cal", "n.cal"),
    "monetary_value": ("monetary_value_cal",),
    "count": ("weights", "weight", "custs"),
}
"""Other tools' names for a summary's columns, read when the file lacks patron's own: x, t.x,
T.cal (BTYD, BTYDplus, CLVTools), the ``_cal`` columns of a calibration / holdout split
(lifetimes, ``patron.transactions``), BG/BB's number of periods (n.cal in BTYD) and a row's
customer count (custs). Their spend columns (sales, Spending) are other quantities than the
mean spend of the repeats, so they are not read."""


def column(rows: pa.Table, name: str) -> np.ndarray:
    """A column of a small (unique-rows) table as float64, nulls as NaN."""
    return np.asarray(rows.column(name).to_numpy(zero_copy_only=False), dtype=float)


def fit_report(fitted: Model, name: str, **context: Any) -> dict[str, Any]:
    """The ``patron fit --json`` document of one fitted model."""
    return {
        "model": name,
        "params": fitted.params_,
        "loglik": fitted.loglik_,
        "std_errors": fitted.std_errors_,
        "n_customers": fitted.n_customers_,
        "unique_rows": fitted.unique_rows_,
        "bic": fitted.bic(),
        "unidentified": unidentified(fitted),
        **context,
    }


def unidentified(fitted: Model) -> list[str]:
    """The parameters the data leave free, typically run off toward 0 or infinity (few
    customers, or no sign of dropout): predictions from such a fit are not to be trusted.

    A parameter is free when its standard error on the log scale exceeds ``UNIDENTIFIED``,
    read from the eigen-decomposition of the information on the log scale: the variance of
    log theta_i is sum_k v_ik^2 / lambda_k, and a direction without curvature (lambda_k <= 0,
    where the inverse information is meaningless) makes it infinite for every parameter it
    moves. A near-singular information's inverse can give such a parameter a small error.
    """
    scale = np.array(list(fitted.params_.values()))
    information = fitted.information_ * np.outer(scale, scale)  # d2 / dlog theta_i dlog theta_j
    if not np.all(np.isfinite(information)):
        return list(fitted.params_)
    curvature, directions = np.linalg.eigh(information)
    moved = directions**2
    flat = np.where(moved > 1e-12, np.inf, 0.0)  # along a direction with no curvature
    spread = np.where(curvature > 0, moved / np.where(curvature > 0, curvature, 1), flat)
    variance = spread.sum(axis=1)
    return [
        name for name, v in zip(fitted.params_, variance, strict=True) if not v <= UNIDENTIFIED**2
    ]


def unit_days(time_unit: str) -> float:
    """Days in one time unit (day, week, month); pandas' and lifetimes' letters (``"D"``,
    ``"W"``) are refused with the names, since lifetimes' ``freq="W"`` counts weeks with a
    purchase where patron counts purchase days in weeks."""
    if time_unit not in TIME_UNITS:
        raise InputError(
            f"unknown time unit {time_unit!r}{did_you_mean(time_unit, TIME_UNITS)}; "
            f"use one of {', '.join(TIME_UNITS)}"
        )
    return TIME_UNITS[time_unit]
