"""Offers: a challenge per customer, two things they buy again and again plus one stretch item.

A challenge-style offer ("buy these three and earn the reward") pairs items a customer is sure
to buy with one that widens their range. Definitions, as of a day A (items, business rules,
scores and ranking as in :mod:`patron.insights.recommend`):

- *Anchors*: the customer's two items bought on the most days, at least two days each (what
  they buy repeatedly); ties go to the more recently bought, then to the more popular item.
  Anchors must be in stock and outside the excluded categories, but may have been bought in
  the last N days: the recency rule keeps recommendations from repeating a purchase, and
  repeating one is what an anchor asks. A customer with one repeated item gets one anchor,
  with none no anchor, and the offer is the stretch item with what anchors there are: a
  one-off purchase is not a habit, so it never fills an anchor slot.
- *Category value* v_c: the mean catalog price of category c's products. A customer's *usual
  value* is the mean of v_c over the items they bought, weighted by the days they bought each.
- *Stretch item*: the best-ranked eligible item (every business rule; recommendation score,
  then popularity) of a category the customer has never bought whose value is above their
  usual value: new to them and dearer than what they buy. Its reason is "new <category>,
  bought with <item>" (or "new <category>, popular"); without such an item ``stretch_sku`` is
  null and the reason says why.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import TYPE_CHECKING

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy import sparse

from patron.defaults import RECENT_DAYS
from patron.insights.affinity import Baskets
from patron.insights.item_similarity import SHRINK, similarity
from patron.insights.ranking import Ranked, rank
from patron.insights.recommend import (
    Eligible,
    Items,
    Purchases,
    check,
    eligible,
    indices,
    load,
    reasons,
)
from patron.money import decimals

if TYPE_CHECKING:
    from ibis import Table

NO_STRETCH = "no new category above the usual value has an eligible item"


def offers(
    baskets: Baskets,
    as_of: date,
    *,
    customers: Table | None = None,
    recent_days: int = RECENT_DAYS,
    exclude_categories: Sequence[str] = (),
    shrink: float = SHRINK,
    currency: str = "USD",
) -> Table:
    """One offer per buyer (or per one of ``customers``), in customer order.

    Columns: customer_key; anchor_1, anchor_1_purchases, anchor_2, anchor_2_purchases (skus
    and the days each was bought; null when missing); usual_value; stretch_sku,
    stretch_category, stretch_value (its category's value), stretch_score; reason. The two
    values are money, in ``currency``'s decimals (:func:`patron.money.decimals`): cut to cents
    they lost a dinar's mills, and a yen's read 35.6.
    """
    check(k=1, recent_days=recent_days, shrink=shrink)
    p, rows = load(baskets, as_of, customers)
    allowed = eligible(p, as_of, recent_days=recent_days, exclude_categories=exclude_categories)
    anchor, bought = _anchors(p, allowed.items)
    category, value = _categories(p.items)
    usual = _usual(p, value[category])
    rule = _stretch_rule(p, allowed, category, value, usual)
    top = rank(p, similarity(p, shrink=shrink), rows, 1, rule)
    places = decimals(currency)
    return ibis.memtable(
        pa.table(
            {
                "customer_key": p.customers[rows],
                **_anchor_columns(p.items, anchor[rows], bought[rows]),
                "usual_value": _floats(usual[rows], places),
                **_stretch_columns(p.items, top, rows.size, value[category], places),
            }
        )
    )


def _anchors(p: Purchases, offered: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per customer row, anchors 1 and 2 (item indices, -1: none) and the days each was bought.

    ``offered``: the items the rules let anyone be offered (stock, categories).
    """
    t = p.times
    row = np.repeat(np.arange(t.shape[0]), np.diff(t.indptr))
    ok = (t.data >= 2) & offered[t.indices]
    row, item, days, last = row[ok], t.indices[ok], t.data[ok], p.last.data[ok]
    order = np.lexsort((item, -last, -days, row))
    row, item, days = row[order], item[order], days[order]
    place = np.arange(row.size) - np.searchsorted(row, row)
    kept = place < 2
    anchor, bought = np.full((t.shape[0], 2), -1), np.zeros((t.shape[0], 2), dtype=np.int64)
    anchor[row[kept], place[kept]] = item[kept]
    bought[row[kept], place[kept]] = days[kept]
    return anchor, bought


def _anchor_columns(items: Items, anchor: np.ndarray, bought: np.ndarray) -> dict[str, pa.Array]:
    """anchor_1, anchor_1_purchases, anchor_2, anchor_2_purchases; null where there is none."""
    columns = {}
    for slot in (0, 1):
        columns[f"anchor_{slot + 1}"] = items.sku.take(indices(anchor[:, slot]))
        days = bought[:, slot]
        columns[f"anchor_{slot + 1}_purchases"] = pa.array(days, mask=days == 0)
    return columns


def _stretch_columns(
    items: Items, top: Ranked, n: int, item_value: np.ndarray, places: int
) -> dict[str, pa.Array]:
    """Each row's stretch item (ranked alone), its category, value, score and reason."""
    item, because, score = np.full(n, -1), np.full(n, -1), np.full(n, np.nan)
    item[top.at], because[top.at], score[top.at] = top.item, top.because, top.score
    new = items.category.take(indices(item))
    why = pc.binary_join_element_wise("new ", new, ", ", reasons(items, because), "")
    return {
        "stretch_sku": items.sku.take(indices(item)),
        "stretch_category": new,
        "stretch_value": _floats(np.append(item_value, np.nan)[item], places),
        "stretch_score": _floats(score, 6),
        "reason": pc.coalesce(why, NO_STRETCH),
    }


def _categories(items: Items) -> tuple[np.ndarray, np.ndarray]:
    """Each item's category index (-1: none) and the values v_c, with a NaN for index -1."""
    names = pc.unique(items.category).drop_null()
    code = pc.fill_null(pc.index_in(items.category, value_set=names), -1).to_numpy()
    priced = (code >= 0) & ~np.isnan(items.price)
    total = np.bincount(code[priced], weights=items.price[priced], minlength=len(names))
    count = np.bincount(code[priced], minlength=len(names))
    value = np.divide(total, count, out=np.full(len(names), np.nan), where=count > 0)
    return code, np.append(value, np.nan)


def _usual(p: Purchases, item_value: np.ndarray) -> np.ndarray:
    """Each customer's mean category value over the items they bought, weighted by days."""
    known = ~np.isnan(item_value)
    weighted = p.times @ np.where(known, item_value, 0.0)
    days = p.times @ known.astype(np.float64)
    return np.divide(weighted, days, out=np.full(days.shape, np.nan), where=days > 0)


def _stretch_rule(
    p: Purchases, allowed: Eligible, category: np.ndarray, value: np.ndarray, usual: np.ndarray
) -> Callable[[np.ndarray], np.ndarray]:
    """The eligible items of categories a row never bought whose value is above its usual."""
    has = np.flatnonzero(category >= 0)
    member = sparse.csr_array(
        (np.ones(has.size), (has, category[has])), shape=(category.size, value.size)
    )

    def rule(rows: np.ndarray) -> np.ndarray:
        tried = (p.bought[rows] @ member).toarray() > 0
        fits = ~tried & (value[None, :] > usual[rows, None])  # the NaN column never fits
        return allowed(rows) & np.take(fits, category, axis=1)  # twice as fast as fits[:, c]

    return rule


def _floats(values: np.ndarray, digits: int) -> pa.Array:
    """Rounded floats, null where NaN."""
    return pa.array(np.round(values, digits), mask=np.isnan(values))
