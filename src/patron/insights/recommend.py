"""Recommendations: each customer's next best products, from what other customers buy together.

Definitions, as of a day A (purchase lines as in :mod:`patron.insights.affinity`: lines of
attributed purchase orders, never returns, dated on or before A). An *item* is a line's ``sku``;
its name, category, price and stock are the catalog's (``products``).

- *Incidence*: x_ui = 1 when customer u has a purchase line of item i, else 0. Binary, as for
  implicit feedback in item-based top-N recommendation (Deshpande & Karypis 2004): quantities
  and repeat purchases do not count, so one heavy buyer cannot make two items look alike. An
  item's *popularity* n_i = sum_u x_ui is its number of buyers.
- *Similarity* of item j to item i != j: with c_ij = sum_u x_ui x_uj the buyers of both (X^T X,
  whose diagonal is n), the cosine c_ij / sqrt(n_i n_j) of item-based collaborative filtering
  (Sarwar et al. 2001; Linden, Smith & York 2003) times Koren's (2008) shrinkage factor
  c_ij / (c_ij + lambda), normalized so that each item's similarities sum to 1 (Deshpande &
  Karypis 2004): w_ij = c_ij / sqrt(n_i n_j) * c_ij / (c_ij + lambda), s_ij = w_ij / sum_j' w_ij'.
  Shrinkage: two items of two buyers who both bought both have cosine 1 on no evidence; a pair
  counts fully only once well over lambda (``shrink``, 10) buyers share it. Normalization: each
  bought item casts one vote, so an item bought with everything does not outvote a customer's
  other items. s_ii = 0: an item does not recommend itself.
- *Score* of item j for customer u: the sum of s_ij over the items i they bought (the item-based
  top-N score of Deshpande & Karypis 2004). Its *reason* is "bought with i*", the bought item
  with the largest s_i*j (ties: the more popular).
- *Ranking*: eligible items by score, ties by popularity, then sku. An item nothing of theirs
  was bought with scores 0, so popularity fills the list of a customer with a thin history, and
  a customer without purchases gets the most popular items (reason "popular").
- *Business rules*: an item is eligible for a customer when it is in the catalog and in stock
  (``in_stock`` not false; null means stock is not tracked), its category is not excluded, and
  the customer did not buy it in the last N = ``recent_days`` days (on a day after A - N; 0
  turns the rule off). Items bought before that may come back: people buy again what they like.
- *Popularity baseline*: the same ranking with every score 0: the eligible items most bought.
- The backtest of this model against popularity is :mod:`patron.insights.backtest`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy import sparse

from patron.errors import InputError, did_you_mean
from patron.insights.affinity import Baskets, purchase_lines

if TYPE_CHECKING:
    from ibis import Table

K = 10
SHRINK = 10.0
"""lambda of the shrinkage factor, in buyers."""
RECENT_DAYS = 30
CHUNK_CELLS = 1 << 22
"""Customer x item scores per chunk (32 MB of float64), whatever the number of customers."""
DENSE_ITEMS = 4096
"""Up to this many items the similarity is held dense (128 MB at most): faster to gather."""


@dataclass(frozen=True)
class Items:
    """The item columns, most popular first, then by sku; catalog fields are null off-catalog."""

    sku: pa.Array
    name: pa.Array
    category: pa.Array
    price: np.ndarray
    available: np.ndarray
    """In the catalog and not out of stock."""


@dataclass(frozen=True)
class Purchases:
    """Who bought what: sorted customer keys x items, as sparse arrays of one structure.

    ``times`` counts the days each customer bought each item on, ``last`` is the last of them
    (days since 1970-01-01), ``bought`` is the 0/1 incidence x.
    """

    customers: np.ndarray
    items: Items
    bought: sparse.csr_array
    times: sparse.csr_array
    last: sparse.csr_array


@dataclass(frozen=True)
class Eligible:
    """What each customer may be offered: the ``items`` anyone may, less their ``recent`` buys."""

    items: np.ndarray
    recent: sparse.csr_array
    """Same structure as :attr:`Purchases.times`: True where bought in the last N days."""

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        return self.items & ~self.recent[rows].toarray()


@dataclass(frozen=True)
class Ranked:
    """Top items in long form: the row's position ``at`` in the request, item, score, rank and
    ``because`` (the bought item behind the score, -1 when it is popularity)."""

    at: np.ndarray
    item: np.ndarray
    score: np.ndarray
    rank: np.ndarray
    because: np.ndarray


def recommend(
    baskets: Baskets,
    as_of: date,
    *,
    customers: Table | None = None,
    k: int = K,
    recent_days: int = RECENT_DAYS,
    exclude_categories: Sequence[str] = (),
    popularity: bool = False,
    shrink: float = SHRINK,
) -> Table:
    """Each buyer's (or each of ``customers``') top ``k`` items by item-item score.

    Columns: customer_key, rank (1..k), sku, name, category, score; because_sku, the bought
    item behind the score (null when it is 0), and reason, "bought with <its name>" or
    "popular". ``popularity`` ranks by the baseline instead. The table is built in customer,
    then rank order; a customer has fewer than k rows when fewer items are eligible.
    """
    check(k=k, recent_days=recent_days, shrink=shrink)
    p, rows = load(baskets, as_of, customers)
    allowed = eligible(p, as_of, recent_days=recent_days, exclude_categories=exclude_categories)
    sim = None if popularity else similarity(p, shrink=shrink)
    top = rank(p, sim, rows, k, allowed)
    items = p.items
    picked = pa.array(top.item)
    return ibis.memtable(
        pa.table(
            {
                "customer_key": p.customers[rows[top.at]],
                "rank": top.rank,
                "sku": items.sku.take(picked),
                "name": items.name.take(picked),
                "category": items.category.take(picked),
                "score": np.round(top.score, 6),
                "because_sku": items.sku.take(indices(top.because)),
                "reason": reasons(items, top.because),
            }
        )
    )


def load(baskets: Baskets, as_of: date, customers: Table | None) -> tuple[Purchases, np.ndarray]:
    """Purchases by ``as_of`` and the rows to score: every buyer, or ``customers`` in key order."""
    if customers is None:
        p = purchases(baskets, as_of)
        return p, np.arange(p.customers.size)
    if "customer_key" not in customers.columns:
        raise InputError("the customers to recommend for need a customer_key column")
    keys = customers.select("customer_key").distinct().to_pyarrow()["customer_key"]
    wanted = np.sort(keys.drop_null().to_numpy())
    p = purchases(baskets, as_of, customers=wanted)
    return p, np.searchsorted(p.customers, wanted)


def purchases(
    baskets: Baskets,
    as_of: date,
    *,
    since: date | None = None,
    customers: np.ndarray | None = None,
) -> Purchases:
    """Purchase lines by ``as_of`` (after ``since``) as arrays; ``customers`` get a row anyway.

    Only (customer, item) pairs with their day count and last day leave the engine.
    """
    pairs = bought_pairs(baskets, as_of, since)
    items, item = _items(baskets.products, pairs["item"])
    keys = pairs["customer_key"].to_numpy()
    everyone = np.unique(keys) if customers is None else np.union1d(keys, customers)
    row = np.searchsorted(everyone, keys)
    order = np.lexsort((item, row))
    counts = np.bincount(row, minlength=everyone.size)
    indptr = np.concatenate([[0], np.cumsum(counts)])
    shape = (everyone.size, len(items.sku))

    def csr(values: np.ndarray) -> sparse.csr_array:
        return sparse.csr_array((values[order], item[order], indptr), shape=shape)

    last = pairs["last"].cast(pa.int32()).to_numpy()
    return Purchases(
        customers=everyone.astype(np.int64),
        items=items,
        bought=csr(np.ones(keys.size)),
        times=csr(pairs["times"].to_numpy()),
        last=csr(last),
    )


def bought_pairs(baskets: Baskets, as_of: date, since: date | None) -> pa.Table:
    """customer_key, item (sku), times (days bought), last (day) of purchase lines."""
    lines = purchase_lines(baskets, as_of, "sku")
    if since is not None:
        lines = lines.filter(lines.order_date > since)
    pairs = lines.group_by(["customer_key", "item"]).agg(
        times=lines.order_date.nunique(), last=lines.order_date.max()
    )
    return pairs.to_pyarrow()


def _items(products: Table, bought: pa.ChunkedArray) -> tuple[Items, np.ndarray]:
    """The catalog and every bought sku by popularity, and each purchase's item index."""
    catalog = products.select(
        "sku", "name", "category", price=products.price.cast("float64"), stock=products.in_stock
    ).to_pyarrow()
    bought = bought.cast(pa.string())
    known = pc.unique(pa.concat_arrays([catalog["sku"].combine_chunks(), bought.combine_chunks()]))
    skus = known.take(pc.array_sort_indices(known))
    buyers = np.bincount(pc.index_in(bought, value_set=skus).to_numpy(), minlength=len(skus))
    by_pop = np.argsort(-buyers, kind="stable")
    skus = skus.take(pa.array(by_pop))
    at = pc.index_in(skus, value_set=catalog["sku"])
    fields = {name: catalog[name].take(at).combine_chunks() for name in catalog.column_names}
    stocked = pc.fill_null(fields["stock"], True)
    items = Items(
        sku=skus,
        name=fields["name"],
        category=fields["category"],
        price=fields["price"].to_numpy(zero_copy_only=False),
        available=pc.and_kleene(at.is_valid(), stocked).to_numpy(zero_copy_only=False),
    )
    return items, codes(items, bought)


def codes(items: Items, skus: pa.ChunkedArray) -> np.ndarray:
    """The item index of each sku, -1 for skus ``items`` does not know."""
    return pc.fill_null(pc.index_in(skus, value_set=items.sku), -1).to_numpy()


def similarity(p: Purchases, *, shrink: float = SHRINK) -> sparse.csr_array:
    """s_ij = w_ij / sum_j' w_ij', w_ij = c_ij / sqrt(n_i n_j) * c_ij / (c_ij + shrink), i != j."""
    co = sparse.coo_array(p.bought.T @ p.bought)
    n = co.diagonal()
    off = co.row != co.col
    i, j, c = co.row[off], co.col[off], co.data[off]
    w = c / np.sqrt(n[i] * n[j]) * c / (c + shrink)
    total = np.bincount(i, weights=w, minlength=n.size)
    return sparse.csr_array((w / total[i], (i, j)), shape=co.shape)


def eligible(
    p: Purchases, as_of: date, *, recent_days: int, exclude_categories: Sequence[str]
) -> Eligible:
    """The business rules: in stock, category not excluded, not bought in the last N days."""
    known = set(pc.unique(p.items.category).drop_null().to_pylist())
    for name in exclude_categories:
        if name not in known:
            raise InputError(f"no category {name!r} to exclude{did_you_mean(name, known)}")
    excluded = pc.is_in(p.items.category, value_set=pa.array(exclude_categories, pa.string()))
    cutoff = (as_of - date(1970, 1, 1)).days - recent_days
    last = p.last
    recent = sparse.csr_array((last.data > cutoff, last.indices, last.indptr), shape=last.shape)
    return Eligible(p.items.available & ~excluded.to_numpy(zero_copy_only=False), recent)


def rank(
    p: Purchases,
    sim: sparse.csr_array | None,
    rows: np.ndarray,
    k: int,
    allowed: Callable[[np.ndarray], np.ndarray],
) -> Ranked:
    """The top ``k`` allowed items of each row in chunks; ``sim`` None ranks by popularity."""
    n_items = len(p.items.sku)
    weights = sim.toarray() if sim is not None and n_items <= DENSE_ITEMS else sim
    size = max(1, CHUNK_CELLS // max(n_items, 1))
    parts = []
    for start in range(0, max(rows.size, 1), size):  # always a chunk, if an empty one
        chunk = rows[start : start + size]
        x = p.bought[chunk]
        scores = np.zeros((chunk.size, n_items)) if weights is None else x @ weights
        at, item, score, place = _top(_dense(scores), allowed(chunk), k)
        because = np.full_like(at, -1) if weights is None else _because(x, weights, at, item)
        parts.append((at + start, item, score, place, np.where(score > 0, because, -1)))
    return Ranked(*(np.concatenate([part[f] for part in parts]) for f in range(5)))


def _dense(scores: Any) -> np.ndarray:
    return scores.toarray() if sparse.issparse(scores) else np.asarray(scores)


def _top(
    scores: np.ndarray, ok: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(row, item, score, rank) of each row's best ``k`` allowed items: by score, then index.

    A partition finds each row's k-th best score; only items at or above it are sorted, so
    ties at the cut go to the lower index (the more popular item) exactly.
    """
    masked = np.where(ok, scores, -np.inf)
    if k < masked.shape[1]:
        kth = -np.partition(-masked, k - 1, axis=1)[:, k - 1 : k]
        ok = ok & (masked >= kth)
    r, c = np.nonzero(ok)
    s = masked[r, c]
    order = np.lexsort((c, -s, r))
    r, c, s = r[order], c[order], s[order]
    place = np.arange(r.size) - np.searchsorted(r, r)
    keep = place < k
    return r[keep], c[keep], s[keep], place[keep] + 1


def _because(x: sparse.csr_array, sim: Any, r: np.ndarray, j: np.ndarray) -> np.ndarray:
    """For each (row r, item j), the item the row bought with the largest s_ij (-1: none)."""
    lengths = np.diff(x.indptr)[r]
    pair = np.repeat(np.arange(r.size), lengths)
    if pair.size == 0:
        return np.full(r.size, -1)
    offset = np.cumsum(lengths) - lengths
    bought = x.indices[np.repeat(x.indptr[r] - offset, lengths) + np.arange(pair.size)]
    weight = np.asarray(sim[bought, j[pair]]).ravel()
    best = np.zeros(r.size)
    best[lengths > 0] = np.maximum.reduceat(weight, offset[lengths > 0])
    top = np.flatnonzero(weight == best[pair])  # a row's items come by index: popular first
    first = np.minimum(np.searchsorted(pair[top], np.arange(r.size)), top.size - 1)
    return np.where(lengths > 0, bought[top[first]], -1)


def reasons(items: Items, because: np.ndarray) -> pa.Array:
    """The reason of each item: "bought with <name>" (or its sku), "popular" for index -1."""
    names = pc.coalesce(items.name, items.sku).take(indices(because))
    return pc.coalesce(pc.binary_join_element_wise("bought with ", names, ""), "popular")


def indices(index: np.ndarray) -> pa.Array:
    """Indices for ``take``, null where negative."""
    return pa.array(index, mask=index < 0)


def check(*, k: int, recent_days: int, shrink: float) -> None:
    """Refuse options that make no sense, with what to use instead."""
    if k < 1:
        raise InputError("-k must be at least 1 item")
    if recent_days < 0:
        raise InputError("recent_days must be 0 (rule off) or more")
    if shrink < 0:
        raise InputError("the shrinkage (shrink) must be 0 or more buyers")
