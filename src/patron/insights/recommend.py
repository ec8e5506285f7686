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
  a customer without purchases gets the most popular items (reason "popular"); when nobody
  bought anything by A, nothing is popular and the lists are empty.
- *Business rules*: an item is eligible for a customer when it is in the catalog and in stock
  (``in_stock`` not false; null means stock is not tracked), its category is not excluded, and
  the customer did not buy it in the last N = ``recent_days`` days (on a day after A - N; 0
  turns the rule off). Items bought before that may come back: people buy again what they like.
- *Popularity baseline*: the same ranking with every score 0: the eligible items most bought.
- The backtest of this model against popularity is :mod:`patron.insights.backtest`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy import sparse

from patron.defaults import RECENT_DAYS, K
from patron.errors import InputError, did_you_mean, option, spelled
from patron.insights.affinity import Baskets, purchase_lines
from patron.insights.item_similarity import SHRINK, similarity
from patron.insights.ranking import Ranked, rank

if TYPE_CHECKING:
    from ibis import Table


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
    (days since 1970-01-01), ``bought`` is the 0/1 incidence x (as bool: 1 byte a pair).
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
    if not p.bought.nnz:  # nothing bought by A (no lines yet): no item is popular, so none
        rows = rows[:0]  # is offered as "popular" in catalog order
    allowed = eligible(p, as_of, recent_days=recent_days, exclude_categories=exclude_categories)
    sim = None if popularity else similarity(p, shrink=shrink)
    top = rank(p, sim, rows, k, allowed)
    keys, items = p.customers[rows], p.items
    del p, allowed, sim  # the purchase arrays go before the table's columns come
    return ibis.memtable(_table(keys, items, top))


def _table(keys: np.ndarray, items: Items, top: Ranked) -> pa.Table:
    """The recommendations of the rows with ``keys``; strings as dictionary codes into the
    items (see :func:`coded`)."""
    return pa.table(
        {
            "customer_key": keys[top.at],
            "rank": top.rank,
            "sku": coded(items.sku, top.item),
            "name": coded(items.name, top.item),
            "category": coded(items.category, top.item),
            "score": np.round(top.score, 6),
            "because_sku": coded(items.sku, top.because),
            "reason": coded(reason_texts(items), _reason_at(items, top.because)),
        }
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
    n_items = len(items.sku)
    keys = pairs["customer_key"].to_numpy()
    everyone, order, indices, indptr = _layout(keys, item, customers, n_items)
    shape = (everyone.size, n_items)

    def csr(values: np.ndarray) -> sparse.csr_array:
        return sparse.csr_array((values, indices, indptr), shape=shape)

    last = pairs["last"].cast(pa.int32()).to_numpy()
    return Purchases(
        customers=everyone.astype(np.int64),
        items=items,
        bought=csr(np.ones(indices.size, dtype=bool)),
        times=csr(pairs["times"].cast(pa.int32()).to_numpy()[order]),
        last=csr(last[order]),
    )


def _layout(
    keys: np.ndarray, item: np.ndarray, customers: np.ndarray | None, n_items: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The rows' sorted keys (buyers and ``customers``), the pairs' order (by row, then item),
    their items in that order and the row pointers, from pairs sorted by key (as
    :func:`bought_pairs` gives them); ``item`` may be reordered in place.

    The engine's sort (on both cores) and scipy's per-row sort of each row's few items stand
    in for a two-key lexsort of ten million pairs, which costs seconds.
    """
    starts = np.ones(keys.size, dtype=bool)
    starts[1:] = keys[1:] != keys[:-1]
    first = np.flatnonzero(starts)
    buyers = keys[first]
    everyone = buyers if customers is None else np.union1d(buyers, customers)
    counts = np.zeros(everyone.size, dtype=np.int64)
    counts[np.searchsorted(everyone, buyers)] = np.diff(np.append(first, keys.size))
    index = np.int64 if keys.size > np.iinfo(np.int32).max else np.int32  # 32-bit keeps 32-bit
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(index)
    grid = sparse.csr_array(
        (np.arange(keys.size, dtype=index), item, indptr), (everyone.size, n_items)
    )
    grid.sort_indices()
    return everyone, grid.data, grid.indices, indptr


def bought_pairs(baskets: Baskets, as_of: date, since: date | None) -> pa.Table:
    """customer_key, item (sku), times (days bought), last (day) of purchase lines, by key.

    The distinct (customer, item, day) rows come first and are then counted: the engine does
    that faster than a count of distinct days per pair; its sort by key (on both cores) is the
    one :func:`_layout` relies on.
    """
    lines = purchase_lines(baskets, as_of, "sku")
    if since is not None:
        lines = lines.filter(lines.order_date > since)
    days = lines.distinct()
    pairs = days.group_by(["customer_key", "item"]).agg(
        times=days.count(), last=days.order_date.max()
    )
    return pairs.order_by("customer_key").to_pyarrow()


def _items(products: Table, bought: pa.ChunkedArray) -> tuple[Items, np.ndarray]:
    """The catalog and every bought sku by popularity, and each purchase's item index.

    The bought skus are dictionary-encoded first, so only the few distinct ones are looked up.
    """
    catalog = products.select(
        "sku", "name", "category", price=products.price.cast("float64"), stock=products.in_stock
    ).to_pyarrow()
    encoded = pc.dictionary_encode(bought.cast(pa.string())).combine_chunks()
    sold, code = encoded.dictionary, encoded.indices.to_numpy()
    known = pc.unique(pa.concat_arrays([catalog["sku"].combine_chunks(), sold]))
    skus = known.take(pc.array_sort_indices(known))
    buyers = np.zeros(len(skus), dtype=np.int64)
    buyers[pc.index_in(sold, value_set=skus).to_numpy()] = np.bincount(code, minlength=len(sold))
    skus = skus.take(pa.array(np.argsort(-buyers, kind="stable")))
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
    return items, codes(items, sold)[code]


def codes(items: Items, skus: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """The item index of each sku, -1 for skus ``items`` does not know."""
    return pc.fill_null(pc.index_in(skus, value_set=items.sku), -1).to_numpy()


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


def reason_texts(items: Items) -> pa.Array:
    """Each item's reason, "bought with <name>" (or its sku), and "popular" after the last."""
    named = pc.coalesce(items.name, items.sku)
    texts = pc.binary_join_element_wise("bought with ", named, "")
    return pa.concat_arrays([texts, pa.array(["popular"], texts.type)])


def _reason_at(items: Items, because: np.ndarray) -> np.ndarray:
    """Indices into :func:`reason_texts`: the bought item, or "popular" for -1."""
    return np.where(because < 0, len(items.sku), because)


def reasons(items: Items, because: np.ndarray) -> pa.Array:
    """The reason of each item: "bought with <name>" (or its sku), "popular" for index -1."""
    return reason_texts(items).take(pa.array(_reason_at(items, because)))


def coded(values: pa.Array, index: np.ndarray) -> pa.DictionaryArray:
    """``values`` at ``index`` (null where negative or null) as a dictionary array: millions of
    rows keep 4-byte codes into the few distinct strings, not copies of them; without nulls
    the codes are ``index`` itself, shared by the columns of one item."""
    negative = index < 0
    at = np.where(negative, 0, index) if negative.any() else index
    at = at.astype(np.int32, copy=False)
    missing = negative | ~values.is_valid().to_numpy(zero_copy_only=False)[at]
    codes = pa.array(at, mask=missing if missing.any() else None)
    return pa.DictionaryArray.from_arrays(codes, pc.fill_null(values, ""))


def indices(index: np.ndarray) -> pa.Array:
    """Indices for ``take``, null where negative."""
    return pa.array(index, mask=index < 0)


def check(*, k: int, recent_days: int, shrink: float) -> None:
    """Refuse options that make no sense, with what to use instead."""
    if k < 1:
        raise InputError(f"{spelled('-k', 'k')} must be at least 1 item")
    if recent_days < 0:
        raise InputError(f"{option('recent_days')} must be 0 (rule off) or more")
    if shrink < 0:
        raise InputError("the shrinkage (shrink) must be 0 or more buyers")
