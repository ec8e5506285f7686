"""The recommendations' backtest: does the item-item model find what customers bought next?

Definitions (a time holdout; the model, popularity baseline and rules of
:mod:`patron.insights.recommend`): with a split day s before the as-of day A, similarity,
popularity and rules come from the purchases by s; the holdout is (s, A]. Customers: buyers by s
who bought in the holdout. T_u is the set of distinct items u bought in the holdout, R_u their
top k, hits_u = |R_u & T_u|. precision@k = sum hits_u / (k customers) (a short list still has
k slots), recall@k = mean of hits_u / |T_u|, hit rate = share of customers with a hit. As in any
offline test of a live catalog, stock is today's.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import numpy as np
import pyarrow as pa

from patron.defaults import RECENT_DAYS, K
from patron.errors import InputError
from patron.insights.affinity import Baskets
from patron.insights.item_similarity import SHRINK, similarity
from patron.insights.ranking import Ranked, rank
from patron.insights.recommend import (
    Purchases,
    bought_pairs,
    check,
    codes,
    eligible,
    purchases,
)

HOLDOUT_DAYS = 90
"""The default holdout: the last 90 days before the as-of day."""


def backtest(
    baskets: Baskets,
    as_of: date,
    *,
    split: date | None = None,
    k: int = K,
    recent_days: int = RECENT_DAYS,
    exclude_categories: Sequence[str] = (),
    shrink: float = SHRINK,
) -> dict[str, Any]:
    """precision@k, recall@k and hit rate of the model and of popularity on a time holdout.

    Trains on purchases by ``split`` (default ``HOLDOUT_DAYS`` before ``as_of``) and tests on
    those after it, to ``as_of``, for customers active in both (module docstring).
    """
    split = split or as_of - timedelta(days=HOLDOUT_DAYS)
    if split >= as_of:
        raise InputError(f"the split ({split}) must be before the as-of day ({as_of})")
    check(k=k, recent_days=recent_days, shrink=shrink)
    train = purchases(baskets, split)
    rows, truth, sizes = _holdout(train, bought_pairs(baskets, as_of, split))
    allowed = eligible(train, split, recent_days=recent_days, exclude_categories=exclude_categories)
    scores = {
        "model": rank(train, similarity(train, shrink=shrink), rows, k, allowed),
        "popularity": rank(train, None, rows, k, allowed),
    }
    n_items = len(train.items.sku)
    return {
        "as_of": as_of.isoformat(),
        "split": split.isoformat(),
        "k": k,
        "customers": int(rows.size),
        "holdout_items": int(sizes.sum()),
        **{name: _metrics(top, rows, truth, sizes, k, n_items) for name, top in scores.items()},
    }


def _holdout(train: Purchases, test: pa.Table) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of training buyers who bought in the holdout, their (row, item) codes, set sizes."""
    keys = test["customer_key"].to_numpy()
    known = np.isin(keys, train.customers)
    row = np.searchsorted(train.customers, keys[known])
    item = codes(train.items, test["item"])[known]
    rows, at = np.unique(row, return_inverse=True)
    truth = row[item >= 0] * len(train.items.sku) + item[item >= 0]
    return rows, truth, np.bincount(at, minlength=rows.size)


def _metrics(
    top: Ranked, rows: np.ndarray, truth: np.ndarray, sizes: np.ndarray, k: int, n_items: int
) -> dict[str, Any]:
    """precision@k, recall@k, hit rate, hits and customers with a hit; the rates are None
    without customers to test on (a split before any purchase): no test is not a score of 0."""
    hit = np.isin(rows[top.at] * n_items + top.item, truth)
    hits = np.bincount(top.at[hit], minlength=rows.size)
    n = rows.size
    return {
        "precision": _rate(float(hits.sum()), k * n),
        "recall": _rate(float(np.sum(hits / np.maximum(sizes, 1))), n),
        "hit_rate": _rate(float(np.count_nonzero(hits)), n),
        "hits": int(hits.sum()),
        "customers_hit": int(np.count_nonzero(hits)),
    }


def _rate(part: float, whole: int) -> float | None:
    """part / whole to six places, None when whole is 0."""
    return round(part / whole, 6) if whole else None
