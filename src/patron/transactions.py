"""The customer-base models for a data frame of transactions (pandas, polars or Arrow), without
a workspace.

A notebook coming from lifetimes holds one row per purchase: a customer, a time and maybe a
value. These functions turn such a frame into an in-memory Ibis table and run the workspace's
own code on it (:func:`patron.clv.customer_summary`, :func:`patron.validate.with_holdout`,
:func:`patron.predict.predictions`), so a notebook and a workspace define things alike:

- :func:`summary_from_transactions`: frequency, recency, T and monetary_value per customer
  (lifetimes' ``summary_data_from_transaction_data``);
- :func:`calibration_and_holdout`: the same to a calibration end D, with each customer's
  purchases in the holdout (D, E] (``calibration_and_holdout_data``);
- :func:`predictions_from_summary`: P(alive), expected purchases, spend and CLV with 90%
  intervals from such a summary (``customer_lifetime_value``, with its uncertainty).

A purchase is an occasion, a customer's day with a purchase: two rows of one day are one. Every
row is a purchase (a workspace's loads tell returns apart; here a negative value is just money).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import TYPE_CHECKING, Any

import ibis
import pyarrow as pa

from patron.arguments import DateLike, as_day, as_real, optional_day, reads
from patron.clv import check_rows, customer_summary, model_spec, unit_days
from patron.defaults import PREDICT_MODEL
from patron.errors import InputError
from patron.ingest.frames import collected
from patron.metrics.occasions import Sales
from patron.predict import PURCHASE_COLUMNS, predictions
from patron.predictions import Horizon
from patron.validate import with_holdout

if TYPE_CHECKING:
    import pandas as pd
    from ibis import Table

SUMMARY_COLUMNS = ("frequency", "recency", "T", "monetary_value")
"""A summary's columns, as :func:`summary_from_transactions` gives them."""

PREDICTED = tuple(
    f"{name}{end}"
    for name in (*PURCHASE_COLUMNS, "expected_spend", "clv")
    for end in ("", "_low", "_high")
)
"""The columns of :func:`predictions_from_summary`: each prediction with its 90% band."""


def summary_from_transactions(
    transactions: Any,
    *,
    customer: str,
    when: str,
    value: str | None = None,
    calibration_end: DateLike | None = None,
    time_unit: str = "week",
) -> pd.DataFrame:
    """:func:`patron.clv.customer_summary` of a data frame of transactions: one row per
    customer acquired by ``calibration_end`` (a date, datetime or ISO text; default: the last
    transaction's day), indexed by ``customer``, with frequency, recency, T and, when
    ``value`` names the purchases' amounts, monetary_value. ``when`` is a date or time column
    (its day counts), or numbers written YYYYMMDD."""
    sales, last = _sales(transactions, customer, when, value)
    end = optional_day(calibration_end, "calibration_end") or last
    return _by_customer(_summary(sales, end, time_unit, value), customer)


def calibration_and_holdout(
    transactions: Any,
    *,
    customer: str,
    when: str,
    value: str | None = None,
    calibration_end: DateLike,
    observation_end: DateLike | None = None,
    time_unit: str = "week",
) -> pd.DataFrame:
    """The summary to ``calibration_end`` (columns ``frequency_cal``, ``recency_cal``,
    ``T_cal``, ``monetary_value_cal`` with ``value``) of the customers acquired by then, and
    what they did after: ``frequency_holdout``, their purchase occasions after the calibration
    end up to and including ``observation_end`` (default: the last transaction's day), with
    ``value`` ``monetary_value_holdout``, their mean spend per holdout occasion (NaN without
    one, as ``monetary_value_cal`` without a repeat purchase), and ``duration_holdout``, the
    holdout's length in time units. Customers first seen in the holdout are not rows.
    ``ws.validate`` counts the holdout the same way."""
    sales, last = _sales(transactions, customer, when, value)
    start = as_day(calibration_end, "calibration_end")
    end = optional_day(observation_end, "observation_end") or last
    if end <= start:
        given = "" if observation_end is not None else " (the last transaction's day)"
        raise InputError(
            f"observation_end {end}{given} must be after calibration_end {start}: "
            "the holdout is the days after the calibration end"
        )
    summary = _summary(sales, start, time_unit, value)
    frame = _by_customer(with_holdout(summary, sales, start, end), customer)
    frame = frame.rename(columns={name: f"{name}_cal" for name in SUMMARY_COLUMNS})
    frame = frame.rename(columns={"holdout": "frequency_holdout"})
    spent = frame.pop("holdout_revenue")
    if value:
        frame["monetary_value_holdout"] = spent / frame["frequency_holdout"].where(lambda n: n > 0)
    frame["duration_holdout"] = (end - start).days / unit_days(time_unit)
    return frame


@reads(penalizer=as_real)
def predictions_from_summary(
    summary: pd.DataFrame,
    *,
    model: str = PREDICT_MODEL,
    horizon: Horizon | int | None = None,
    penalizer: float = 0.0,
) -> pd.DataFrame:
    """The predictions ``ws.predict()`` makes, per row of ``summary`` (one row per customer
    with frequency, recency, T and monetary_value, as :func:`summary_from_transactions` gives
    it), with its index: p_alive, expected_purchases, p_purchase, next_purchase_wait (in time
    units), expected_spend and clv, each with ``_low`` and ``_high`` (a 90% band). ``model`` is
    the purchase model (mbgnbd, bgnbd or pnbd), fitted on these rows with the L2
    ``penalizer`` beside a Gamma-Gamma fit; ``horizon`` is a number of time units ahead or a
    :class:`patron.predictions.Horizon` with a discount rate and margin (default: 52 units).
    See :mod:`patron.predict` for the definitions."""
    settings = Horizon.of(horizon)
    _require(summary, SUMMARY_COLUMNS, "summary")
    rows = summary.loc[:, list(SUMMARY_COLUMNS)].reset_index(drop=True)
    rows["row"] = range(len(rows))
    table = pa.Table.from_pandas(rows, preserve_index=False)
    for name in ("bgnbd", "gg"):  # the purchase models read their columns alike
        check_rows(table, model_spec(name), "summary")
    scored = predictions(ibis.memtable(table), settings, model=model, penalizer=penalizer)
    out = scored.select("row", *PREDICTED).order_by("row").to_pandas()
    return out.drop(columns="row").set_axis(summary.index)


def _sales(transactions: Any, customer: str, when: str, value: str | None) -> tuple[Sales, date]:
    """The transactions (pandas, polars or Arrow) as patron's orders and occasions, and the
    last transaction's day."""
    import pandas as pd

    transactions = collected(transactions)
    if not isinstance(transactions, pd.DataFrame) and hasattr(transactions, "to_pandas"):
        transactions = transactions.to_pandas()
    _require(transactions, [c for c in (customer, when, value) if c is not None], "transactions")
    moments = _moments(transactions[when], when)
    revenue = transactions[value] if value else 0.0
    frame = pd.DataFrame(
        {
            "customer_key": transactions[customer].to_numpy(),
            "ordered_at": moments.dt.tz_localize(None).to_numpy(),
            "order_date": moments.dt.date.to_numpy(),
            "order_id": pd.RangeIndex(len(moments)).astype(str),
            "channel": None,
            "revenue": pd.to_numeric(revenue, errors="raise"),
            "cost": float("nan"),
            "is_return": False,
        }
    )
    return Sales.of(ibis.memtable(frame)), frame["order_date"].max()


def _moments(column: pd.Series, name: str) -> pd.Series:
    """The ``when`` column as timestamps, or an InputError naming the first row that is none.

    Numbers are days written YYYYMMDD, as CDNOW's files and many exports hold them (lifetimes
    reads them with ``datetime_format="%Y%m%d"``): pandas would take 19970101 for nanoseconds
    after 1970, a moment Arrow then refused to store."""
    import pandas as pd

    numeric = pd.api.types.is_numeric_dtype(column)
    if numeric:
        eight_digits = (column == column.round()) & column.between(1e7, 1e8 - 1)
        whole = column.where(eight_digits)
        text = whole.astype("Int64").astype("string")
        moments = pd.to_datetime(text, errors="coerce", format="%Y%m%d")
    else:
        moments = _times(column)
    if moments.isna().any():
        row = int(moments.isna().to_numpy().argmax())
        hint = " (a number is read as a day written YYYYMMDD)" if numeric else ""
        raw = column.iloc[row]
        raise InputError(f"transaction {row}, column {name!r}: {raw!r} is not a date or time{hint}")
    return moments


def _times(column: pd.Series) -> pd.Series:
    """Times as timestamps, null where a value is none. Rows with different offsets (a shop's
    own export across a clock change holds -08:00 and -07:00), which pandas refuses to put in
    one column or turns to NaT, each keep the clock they were written on: its day counts."""
    import pandas as pd

    try:
        moments = pd.to_datetime(column, errors="coerce", format="mixed")
    except ValueError:  # text: "Mixed timezones detected"
        moments = None
    if moments is None or moments.isna().any():  # zoned objects: the odd zones made NaT
        moments = pd.to_datetime(column.map(_wall_clock))
    return moments


def _wall_clock(value: Any) -> Any:
    """One time as written, its offset dropped (not applied); NaT when it is not a time."""
    import pandas as pd

    try:
        moment = pd.Timestamp(value)
    except (ValueError, TypeError):
        return pd.NaT
    return moment.tz_localize(None) if moment.tzinfo is not None else moment


def _summary(sales: Sales, end: date, time_unit: str, value: str | None) -> Table:
    """The customer summary to ``end``, without a monetary value when there is no ``value``
    (every purchase would be worth 0)."""
    summary = customer_summary(sales, end, time_unit=time_unit)
    return summary if value else summary.drop("monetary_value")


def _by_customer(table: Table, customer: str) -> pd.DataFrame:
    """A per-customer table as a data frame indexed by the ``customer`` column, sorted."""
    frame = table.to_pandas().set_index("customer_key")
    return frame.rename_axis(customer).sort_index()  # named apart: a column may share it


def _require(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    """Refuse a frame without one of ``columns``, naming it and the columns there are."""
    missing = [name for name in columns if name not in frame]
    if missing:
        found = ", ".join(map(str, frame.columns))
        raise InputError(f"no column {missing[0]!r} in the {what}; found {found}")
