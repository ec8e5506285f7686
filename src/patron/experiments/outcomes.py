"""Per-customer outcomes after exposure, summed per group into the moments the statistics need.

Each assigned customer is measured over their own window: from their ``assigned_at`` (exposure)
for ``window`` days, cut at the end of the data (``through``) while the test still runs. Every
assigned customer counts, buyers or not (zeros included), so the groups stay the randomized ones.

Metrics, per customer over the window (orders are attributed rows; returns are return rows):

- ``conversion``: 1 when they made a purchase, else 0 (a rate).
- ``orders``: purchase orders.
- ``revenue``: net revenue, purchases less refunds dated in the window (a refund is a return
  row's absolute revenue, so a return exported with a positive amount still subtracts).
- ``margin``: revenue - cost over purchases that carry a cost, less refunds net of recovered
  cost (orders without a cost add nothing; the same rule holds in every group).
- ``aov``: revenue per purchase order, a ratio metric: sum over the group's purchases divided by
  its orders (delta method for its variance).
- ``returns``: return rows (a guardrail).
- ``unsubscribe``: 1 when an ``*unsubscribe`` event (email or SMS, any case) happened, else 0 (a
  guardrail).
- ``event:TYPE``: 1 when an event of ``TYPE`` happened (``event:email_click``), else 0.

The pre-period covariate for CUPED is a metric over the ``pre_days`` before exposure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import ibis

from patron.defaults import METRICS, ORDER_METRICS
from patron.errors import InputError, did_you_mean, option
from patron.experiments.stats import Moments, RatioMoments
from patron.metrics.base import sales_only
from patron.portable import any_of

if TYPE_CHECKING:
    from ibis import Table
    from ibis.expr.types import NumericValue

BINARY = ("conversion", "unsubscribe")
MONEY = ("revenue", "margin", "aov")
GUARDRAILS = ("unsubscribe", "returns")
"""Shown beside every goal metric: a test that sells more but drives people away is no win."""
RATIO = {"aov": ("revenue", "orders")}


@dataclass(frozen=True)
class Window:
    """When outcomes count: ``window`` days after each exposure, cut at ``through``; the
    covariate reads the ``pre_days`` before exposure."""

    days: int
    through: datetime
    pre_days: int = 365

    def __post_init__(self) -> None:
        if self.days < 1 or self.pre_days < 1:
            raise InputError(
                f"{option('window_days', 'window')} and {option('pre_days')} must be at least 1 day"
            )


def check_metric(metric: str) -> str:
    """A metric name a user typed, checked (the type of ``event:TYPE`` against the warehouse
    by :func:`check_event_types`)."""
    if not isinstance(metric, str):
        raise InputError(f"metric must be text, not {type(metric).__name__} {metric!r}")
    if metric in METRICS or (metric.startswith("event:") and len(metric) > 6):
        return metric
    raise InputError(
        f"unknown metric {metric!r}{did_you_mean(metric, METRICS)}; choose one of "
        f"{', '.join(METRICS)} or event:TYPE"
    )


def check_event_types(events: Table, metrics: list[str | None]) -> None:
    """Each ``event:TYPE`` among ``metrics`` names a type the warehouse has: a misspelt one
    would read out zeros for everyone."""
    wanted = sorted({m[6:] for m in metrics if m and m.startswith("event:")})
    if not wanted:
        return
    types = sorted(events.select("type").distinct().to_pyarrow().column(0).to_pylist())
    for kind in (k for k in wanted if k not in types):
        known = f"the event types are {', '.join(types)}" if types else "no events are loaded"
        raise InputError(
            f"metric 'event:{kind}': no event has type {kind!r}"
            f"{did_you_mean(kind.lower(), types)}; {known}"
        )


def is_binary(metric: str) -> bool:
    return metric in BINARY or metric.startswith("event:")


def per_customer(
    assigned: Table,
    orders: Table,
    events: Table,
    metrics: list[str],
    window: Window,
    *,
    covariate: str | None = None,
) -> Table:
    """One row per assigned customer: ``variant`` and each metric's value (ratio metrics as
    their numerator and denominator), plus ``_pre`` for the covariate when asked."""
    needed = _components(metrics)
    columns: dict[str, Any] = {}
    post = _measured(assigned, orders, events, needed, window, after=True)
    table = assigned.select("customer_key", "variant").left_join(post, "customer_key")
    table = table.drop("customer_key_right")
    if covariate is not None:
        pre = _measured(assigned, orders, events, _components([covariate]), window, after=False)
        pre = pre.select("customer_key", _pre=_value(pre, covariate))
        table = table.left_join(pre, "customer_key").drop("customer_key_right")
        columns["_pre"] = table._pre.fill_null(0)
    for name in needed:
        columns[name] = table[name].fill_null(0)
    return table.mutate(**columns)


def moments(outcomes: Table, metric: str, *, covariate: bool = False) -> dict[str, Moments]:
    """Per group, the sufficient statistics of ``metric`` (and of the covariate ``_pre``)."""
    y = _value(outcomes, metric)
    sums: dict[str, Any] = {"n": outcomes.count(), "total": y.sum(), "squares": (y * y).sum()}
    if covariate:
        x = outcomes._pre.cast("float64")
        sums |= {"covariate": x.sum(), "covariate_squares": (x * x).sum(), "cross": (x * y).sum()}
    rows = outcomes.group_by("variant").agg(**sums).to_pyarrow().to_pylist()
    return {r.pop("variant"): Moments(**{k: _number(v) for k, v in r.items()}) for r in rows}


def ratio_moments(outcomes: Table, metric: str) -> dict[str, RatioMoments]:
    """Per group, the sufficient statistics of ratio ``metric`` (numerator, denominator)."""
    num, den = RATIO[metric]
    a, b = outcomes[num].cast("float64"), outcomes[den].cast("float64")
    sums = outcomes.group_by("variant").agg(
        n=outcomes.count(),
        numerator=a.sum(),
        numerator_squares=(a * a).sum(),
        denominator=b.sum(),
        denominator_squares=(b * b).sum(),
        cross=(a * b).sum(),
    )
    rows = sums.to_pyarrow().to_pylist()
    return {r.pop("variant"): RatioMoments(**{k: _number(v) for k, v in r.items()}) for r in rows}


def _number(value: Any) -> Any:
    return 0.0 if value is None else value


def _components(metrics: list[str]) -> list[str]:
    """The per-customer columns the metrics are made of (a ratio metric needs two)."""
    names: list[str] = []
    for metric in metrics:
        for name in RATIO.get(metric, (metric,)):
            if name not in names:
                names.append(name)
    return names


def _value(table: Table, metric: str) -> NumericValue:
    """The per-customer value of a (non-ratio) metric from its component columns."""
    if metric in RATIO:
        raise InputError(f"{metric} is a ratio metric; it has no per-customer value to adjust by")
    return table[metric].cast("float64")


def _measured(
    assigned: Table,
    orders: Table,
    events: Table,
    names: list[str],
    window: Window,
    *,
    after: bool,
) -> Table:
    """Per customer with any activity in the window: the component columns ``names``."""
    order_names = [n for n in names if n in ORDER_METRICS]
    event_names = [n for n in names if n not in ORDER_METRICS]
    parts = []
    if order_names:
        parts.append(_order_values(assigned, orders, order_names, window, after))
    if event_names:
        parts.append(_event_values(assigned, events, event_names, window, after))
    table = parts[0]
    for part in parts[1:]:
        table = table.outer_join(part, "customer_key")
        table = table.mutate(customer_key=table.customer_key.fill_null(table.customer_key_right))
        table = table.drop("customer_key_right")
    return table


def _in_window(a: Table, at: Any, window: Window, after: bool) -> Any:
    start = a.assigned_at
    if after:
        end = ibis.least(start + ibis.interval(days=window.days), ibis.literal(window.through))
        return (at >= start) & (at < end)
    return (at >= start - ibis.interval(days=window.pre_days)) & (at < start)


def _order_values(
    assigned: Table, orders: Table, names: list[str], window: Window, after: bool
) -> Table:
    orders = sales_only(orders)  # a cancelled order is neither a purchase nor a refund
    o = orders.filter(orders.customer_key.notnull()).select(
        "customer_key",
        "ordered_at",
        "is_return",
        revenue=orders.revenue.cast("float64"),
        cost=orders.cost.cast("float64"),
    )
    a = assigned.select("customer_key", "assigned_at")
    j = a.inner_join(o, "customer_key")
    j = j.filter(_in_window(j, j.ordered_at, window, after))
    buy = ~j.is_return
    margin = ibis.cases(
        (buy, j.revenue - j.cost), else_=j.cost.abs().fill_null(0) - j.revenue.abs()
    )
    # a refund is the return row's |revenue| (docs/metrics.md), whatever sign the shop wrote
    net = ibis.cases((buy, j.revenue), else_=-j.revenue.abs())
    values = {
        "conversion": any_of(buy),
        "orders": buy.sum(),
        "revenue": net.sum(),
        "margin": margin.fill_null(0).sum(),
        "returns": j.is_return.sum(),
    }
    return j.group_by("customer_key").agg(**{n: values[n] for n in names})


def _event_values(
    assigned: Table, events: Table, names: list[str], window: Window, after: bool
) -> Table:
    e = events.filter(events.customer_key.notnull()).select("customer_key", "occurred_at", "type")
    a = assigned.select("customer_key", "assigned_at")
    j = a.inner_join(e, "customer_key")
    j = j.filter(_in_window(j, j.occurred_at, window, after))
    hits = {
        name: (
            j.type.lower().endswith("unsubscribe") if name == "unsubscribe" else j.type == name[6:]
        )
        for name in names
    }
    return j.group_by("customer_key").agg(**{name: any_of(hit) for name, hit in hits.items()})
