"""Acquisition guidance: what customers acquired through each channel are worth, what they cost
and how fast they pay back, so acquisition spend can be set from CLV rather than from last
click's revenue (issue 4).

A customer's *acquisition channel* is the channel of their first purchase occasion
(:mod:`patron.metrics.base`). A *group* is the customers acquired through one channel on some
days (:mod:`patron.acquisition.plan`). By channel: all of them by the as-of day A, or, with a
spend file (:mod:`patron.acquisition.spend`), those whose first occasion falls in one of its
periods (start and end days included; a channel with several periods also gets a ``total``
group over all of them). By month: those whose first occasion falls in one calendar month
(shop-local days) of the last N ending with A's month, which is counted to A only; a spend row
covering the month gives its spend. Money is *margin*: net revenue
(purchases − refunds) times the margin rate m (``--margin``), as in ``patron predict``. A
*month* of a customer's life is 365/12 days: day d after the acquisition (d = 0 is its day) is
in month ⌊12d/365⌋ + 1, so the first twelve months are the first 365 days; a customer has
*completed* k months when their month k ended by A.

Per group:

- ``new_customers``: customers in the group.
- ``clv``, ``clv_low``, ``clv_high``: the mean over the group of :mod:`patron.predict`'s
  per-customer CLV as of A (discounted margin of the next H time units) and of its 90% bounds:
  value still to come.
- ``margin_to_date``: margin per customer from their orders through A, the acquisition order
  included.
- ``lifetime_value`` = margin_to_date + clv: what a customer of the group brings from the
  acquisition to the end of the horizon. It is the CLV of CLV:CAC and of max CAC, because the
  predicted ``clv`` alone leaves out the acquisition order, often most of a customer's value.
- ``margin_365``: mean margin in the first 365 days over the group's customers who have
  completed them (``margin_365_customers``): the observed check on the prediction.
- ``spend`` (from the spend file) and ``cac`` = spend / new_customers.
- ``clv_to_cac`` = lifetime_value / cac.
- ``payback_months``: the first month k at which the group's cumulative margin per customer
  through month k reaches cac, the mean taken over the customers who have completed k months
  (so recent acquisitions do not drag it down); null while it has not, within the
  ``months_observed`` (the most months any customer of the group has completed).
- ``max_cac`` = lifetime_value / R: the most a new customer may cost at the target CLV:CAC
  ratio R (``--target-ratio``, default 3, the common rule of thumb that a customer should bring
  three times their cost, leaving room for overheads and for the prediction's uncertainty).

Ratios with a zero or missing denominator are null. The engine reduces customers and orders to
cells of (group, months completed, month of the order); only those reach Python.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import TYPE_CHECKING, Any

import ibis
import pyarrow as pa

from patron.acquisition.plan import Group, acquired_by, check_by, groups
from patron.acquisition.spend import Spend, read_spend
from patron.defaults import MONTHS, TARGET_RATIO
from patron.errors import InputError, option
from patron.metrics.base import ratio, refunds
from patron.metrics.occasions import Sales, occasions

if TYPE_CHECKING:
    from ibis import Table

__all__ = [
    "MONTHS",
    "Group",
    "Spend",
    "check_by",
    "check_target",
    "groups",
    "guidance",
    "read_spend",
]

YEAR_MONTHS = 12
YEAR_DAYS = 365
SPANS = pa.schema(
    [
        ("g_channel", pa.string()),
        ("period", pa.string()),
        ("g_start", pa.date32()),
        ("g_end", pa.date32()),
    ]
)
"""The days each group's customers were acquired on, as the engine reads them."""


def guidance(
    sales: Sales,
    predicted: Table,
    as_of: date,
    plan: list[Group],
    *,
    margin: float = 1.0,
    target_ratio: float = TARGET_RATIO,
) -> list[dict[str, Any]]:
    """One row per group of ``plan`` with the figures of the module docstring.

    ``predicted`` has one row per customer with ``customer_key``, ``clv``, ``clv_low`` and
    ``clv_high`` (``Workspace.predict``'s table), already in margin.
    """
    check_target(target_ratio)
    members = _members(sales, as_of, plan)
    people = _people(members, predicted)
    money = _money(sales, as_of, members)
    return [
        _row(g, people.get(_key(g), {}), money.get(_key(g), {}), margin, target_ratio) for g in plan
    ]


def check_target(target_ratio: float) -> None:
    """Refuse a target CLV:CAC ratio that is not positive (before any model is fitted)."""
    if not target_ratio > 0:
        raise InputError(f"{option('target_ratio')} must be above 0, e.g. 3 for 3:1")


def _key(group: Group) -> tuple[str, str | None]:
    return group.channel, group.period


def _members(sales: Sales, as_of: date, plan: list[Group]) -> Table:
    """Each group's customers with the months they have completed by ``as_of``."""
    spans = [
        {"g_channel": g.channel, "period": g.period, "g_start": start, "g_end": end}
        for g in plan
        for start, end in g.spans
    ]
    windows = ibis.memtable(pa.Table.from_pylist(spans, schema=SPANS))
    acquired = acquired_by(sales, as_of)
    joined = acquired.inner_join(
        windows,
        [
            acquired.channel == windows.g_channel,
            acquired.first_date >= windows.g_start,
            acquired.first_date <= windows.g_end,
        ],
    )
    age = ibis.date(as_of).delta(joined.first_date, unit="day")
    completed = (age + 1) * YEAR_MONTHS // YEAR_DAYS
    return joined.select("customer_key", "channel", "period", "first_date", completed=completed)


def _people(members: Table, predicted: Table) -> dict[Any, dict[int, dict[str, float]]]:
    """{(channel, period): {months completed: {customers, clv sums}}}."""
    clv = predicted.select("customer_key", "clv", "clv_low", "clv_high")
    rows = members.left_join(clv, "customer_key")
    cells = rows.group_by(["channel", "period", "completed"]).agg(
        customers=rows.count(),
        clv=rows.clv.sum(),
        clv_low=rows.clv_low.sum(),
        clv_high=rows.clv_high.sum(),
    )
    out: dict[Any, dict[int, dict[str, float]]] = defaultdict(dict)
    for r in cells.to_pyarrow().to_pylist():
        out[r.pop("channel"), r.pop("period")][r.pop("completed")] = r
    return out


def _money(sales: Sales, as_of: date, members: Table) -> dict[Any, dict[tuple[int, int], float]]:
    """{(channel, period): {(months completed, month of the order): net revenue}}."""
    occ = occasions(sales, as_of)
    ret = refunds(sales.orders, as_of)
    amounts = occ.select("customer_key", "order_date", amount=occ.revenue).union(
        ret.select("customer_key", "order_date", amount=-ret.refund)
    )
    rows = amounts.inner_join(members, "customer_key")
    days = rows.order_date.delta(rows.first_date, unit="day")
    rows = rows.mutate(month=days * YEAR_MONTHS // YEAR_DAYS + 1)
    cells = rows.group_by(["channel", "period", "completed", "month"]).agg(amount=rows.amount.sum())
    out: dict[Any, dict[tuple[int, int], float]] = defaultdict(dict)
    for r in cells.to_pyarrow().to_pylist():
        out[r["channel"], r["period"]][r["completed"], r["month"]] = r["amount"]
    return out


def _row(
    group: Group,
    people: dict[int, dict[str, float]],
    money: dict[tuple[int, int], float],
    margin: float,
    target_ratio: float,
) -> dict[str, Any]:
    """The figures of one group from its cells."""
    new = sum(int(cell["customers"]) for cell in people.values())

    def per_customer(name: str) -> float | None:
        return ratio(sum(cell[name] or 0.0 for cell in people.values()), new)

    curve = [value * margin for value in _curve(people, money)]
    clv = per_customer("clv")
    to_date = ratio(margin * sum(money.values()), new)
    value = None if clv is None or to_date is None else to_date + clv
    cac = ratio(group.spend, new)
    spend_days = group.period is not None
    out = {
        "channel": group.channel,
        "period": group.period,
        "start": group.spans[0][0].isoformat() if spend_days else None,
        "end": group.spans[-1][1].isoformat() if spend_days else None,
        "new_customers": new,
        "spend": group.spend,
        "cac": cac,
        "clv": clv,
        "clv_low": per_customer("clv_low"),
        "clv_high": per_customer("clv_high"),
        "margin_to_date": to_date,
        "lifetime_value": value,
        "clv_to_cac": ratio(value, cac),
        "payback_months": _payback(curve, cac),
        "months_observed": len(curve),
        "margin_365": curve[YEAR_MONTHS - 1] if len(curve) >= YEAR_MONTHS else None,
        "margin_365_customers": sum(
            int(cell["customers"]) for done, cell in people.items() if done >= YEAR_MONTHS
        ),
        "max_cac": ratio(value, target_ratio),
    }
    return {k: round(v, 6) if isinstance(v, float) else v for k, v in out.items()}


def _curve(people: dict[int, dict[str, float]], money: dict[tuple[int, int], float]) -> list[float]:
    """Net revenue per customer through month k, k = 1.., over the customers who completed k."""
    out = []
    for k in range(1, max(people, default=0) + 1):
        reached = sum(cell["customers"] for done, cell in people.items() if done >= k)
        total = sum(a for (done, month), a in money.items() if done >= k and month <= k)
        out.append(total / reached)
    return out


def _payback(curve: list[float], cac: float | None) -> int | None:
    if cac is None:
        return None
    return next((k for k, value in enumerate(curve, 1) if value >= cac), None)
