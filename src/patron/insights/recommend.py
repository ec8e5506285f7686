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

import math
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
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
"""Customer x item screening scores per chunk (16 MB of float32 a worker), whatever the
number of customers."""
DENSE_ITEMS = 4096
"""Up to this many items co-buyers are counted and the similarity is held dense (128 MB at
most, 64 MB more for its float32 copy): faster to count and to gather."""
WORKERS = min(4, os.cpu_count() or 1)
"""Threads that rank chunks of customers at once: numpy and scipy let go of the GIL."""
PAIR_CELLS = 1 << 22
"""Item pairs counted at a time when co-buyers are counted densely (32 MB of codes)."""


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


@dataclass(frozen=True)
class Ranked:
    """Top items in long form: the row's position ``at`` in the request, item, score, rank and
    ``because`` (the bought item behind the score, -1 when it is popularity)."""

    at: np.ndarray
    item: np.ndarray
    score: np.ndarray
    rank: np.ndarray
    because: np.ndarray


@dataclass(frozen=True)
class Weights:
    """The similarity twice: ``exact`` (float64) gives scores and reasons; ``screen``, float32
    where every weight is a normal float32 (else ``exact`` itself), finds the candidates at half
    the memory traffic. ``unit`` is the screen's unit roundoff."""

    exact: Any
    screen: Any
    unit: float


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


def similarity(p: Purchases, *, shrink: float = SHRINK) -> sparse.csr_array:
    """s_ij = w_ij / sum_j' w_ij', w_ij = c_ij / sqrt(n_i n_j) * c_ij / (c_ij + shrink), i != j."""
    n, i, j, c = _co_buyers(p.bought)
    w = c / np.sqrt(n[i] * n[j]) * c / (c + shrink)
    total = np.bincount(i, weights=w, minlength=n.size)
    return sparse.csr_array((w / total[i], (i, j)), shape=(n.size, n.size))


def _co_buyers(
    x: sparse.csr_array,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """n, and the pairs i != j with c_ij > 0 of X^T X: i, j and c_ij, each i's by ascending j.

    That order fixes the order in which each item's weights are added up, so its total is the
    same to the last bit however the counts were made: densely up to ``DENSE_ITEMS`` items,
    else by the sparse product, a csc array whose entries come column by column.
    """
    if x.shape[1] > DENSE_ITEMS:
        x = _binary(x, np.dtype(np.float64))
        co = sparse.coo_array(x.T @ x)
        off = co.row != co.col
        return co.diagonal(), co.row[off], co.col[off], co.data[off]
    counts = _pair_counts(x)
    n = np.diagonal(counts).astype(np.float64)
    np.fill_diagonal(counts, 0)
    i, j = np.nonzero(counts)
    return n, i, j, counts[i, j].astype(np.float64)


def _pair_counts(x: sparse.csr_array) -> np.ndarray:
    """X^T X as a dense integer matrix: each customer's item pairs i < j, counted by bincount.

    Customers of equal basket size go together, so their pairs come from one broadcast, and
    the pair codes of many sizes go to one bincount: the sparse product's per-pair linked-list
    bookkeeping costs more than twice as much.
    """
    m = x.shape[1]
    upper = np.zeros(m * m, dtype=np.int64)
    for codes in _batches(_pair_codes(x), PAIR_CELLS):
        upper += np.bincount(codes, minlength=m * m)
    counts = upper.reshape(m, m)
    counts += counts.T
    np.fill_diagonal(counts, np.bincount(x.indices, minlength=m))
    return counts


def _batches(parts: Iterable[np.ndarray], size: int) -> Iterator[np.ndarray]:
    """The parts joined into arrays of at least ``size`` (the last may be shorter): each
    bincount allocates and adds a whole m x m count array, so few large ones are cheaper."""
    pending: list[np.ndarray] = []
    held = 0
    for part in parts:
        pending.append(part)
        held += part.size
        if held >= size:
            yield np.concatenate(pending)
            pending, held = [], 0
    if pending:
        yield np.concatenate(pending)


def _pair_codes(x: sparse.csr_array) -> Iterator[np.ndarray]:
    """i m + j for the item pairs i < j of each customer, about ``PAIR_CELLS`` at a time."""
    m = x.shape[1]
    lengths = np.diff(x.indptr)
    by_size = np.argsort(lengths, kind="stable")
    for group in np.split(by_size, np.flatnonzero(np.diff(lengths[by_size])) + 1):
        size = int(lengths[group[0]]) if group.size else 0
        a, b = np.triu_indices(size, 1)
        step = max(1, PAIR_CELLS // max(a.size, 1))
        for start in range(0, group.size if a.size else 0, step):
            rows = group[start : start + step]
            bought = x.indices[x.indptr[rows][:, None] + np.arange(size)].astype(np.int64)
            yield (np.take(bought, a, axis=1) * m + np.take(bought, b, axis=1)).ravel()


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
    """The top ``k`` allowed items of each row in chunks; ``sim`` None ranks by popularity.

    Chunks are independent and numpy and scipy let go of the GIL while they work, so
    ``WORKERS`` threads rank them side by side; they are taken back in order.
    """
    n_items = len(p.items.sku)
    weights = None if sim is None else _weights(sim, dense=n_items <= DENSE_ITEMS)
    size = max(1, CHUNK_CELLS // max(n_items, 1))

    def top(start: int) -> Top:
        chunk = rows[start : start + size]
        ok = allowed(chunk)
        picks = _popular(ok, k) if weights is None else _best(p.bought[chunk], weights, ok, k)
        r, c, score, place, because = picks
        return r + start, c, score, place, because

    columns = [np.empty(rows.size * k, dtype) for dtype in RANKED]
    filled = 0
    with ThreadPoolExecutor(WORKERS) as pool:
        for part in pool.map(top, range(0, max(rows.size, 1), size)):  # at least one chunk
            for column, values in zip(columns, part, strict=True):
                column[filled : filled + values.size] = values
            filled += part[0].size
    return Ranked(*(column[:filled] for column in columns))


RANKED = (np.int32, np.int32, np.float64, np.int64, np.int32)
"""The dtypes of :class:`Ranked`'s columns, room for k a row made at once: ten million rows
take 280 MB, and the chunks' picks are copied in rather than joined at the end."""


def _weights(sim: sparse.csr_array, *, dense: bool) -> Weights:
    """The similarity, dense or sparse, with its screening copy (see :class:`Weights`)."""
    exact = sim.toarray() if dense else sim
    positive = sim.data[sim.data > 0]
    normal = positive.size == 0 or positive.min() >= np.finfo(np.float32).tiny
    screen = exact.astype(np.float32) if normal else exact
    return Weights(exact, screen, float(np.finfo(screen.dtype).eps) / 2)


Top = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]
"""(row, item, score, rank, because) of each pick, by row then rank."""


def _popular(ok: np.ndarray, k: int) -> Top:
    """Each row's first ``k`` allowed items: with every score 0 the ranking is the item order
    (popularity, then sku), so nothing needs sorting."""
    r, c, place = _first(ok, np.full(ok.shape[0], k))
    return r, c, np.zeros(r.size), place + 1, np.full(r.size, -1)


def _best(x: sparse.csr_array, weights: Weights, ok: np.ndarray, k: int) -> Top:
    """Each row's best ``k`` allowed items by score, then index (the more popular item).

    The screening product bounds every score within a relative error; only items whose screened
    score reaches a lower bound of the k-th best, less that error, can be in the top k, and only
    theirs are scored exactly, adding the bought items' weights in the product's order (the
    same float64 sums). Zero scores are exact in both, and come after the others by index.
    Items not allowed screen as 0 (a multiply: a masked copy costs several times more), which
    only positive scores get past.
    """
    screened = _dense(_binary(x, weights.screen.dtype) @ weights.screen)
    np.multiply(screened, ok, out=screened)
    coarse, fine = _blocks(screened.shape[1], k)
    maxima = _block_maxima(screened, fine)
    floor = _floor(_kth(_block_maxima(maxima, coarse), k), _slack(np.diff(x.indptr), weights.unit))
    r, c = _candidates(screened, maxima, floor)
    score, because = _exact(x, weights.exact, r, c)
    return _zero_fill(_ordered(r, c, score, because, k), ok, screened, k)


def _binary(x: sparse.csr_array, dtype: np.dtype) -> sparse.csr_array:
    """The 0/1 rows in ``dtype``: the screen's for the screening product, float64 for counts."""
    return sparse.csr_array((np.ones(x.nnz, dtype), x.indices, x.indptr), shape=x.shape)


def _dense(scores: Any) -> np.ndarray:
    """The product as an array: a sparse similarity gives a sparse one."""
    return scores.toarray() if sparse.issparse(scores) else np.asarray(scores)


def _slack(lengths: np.ndarray, unit: float) -> np.ndarray:
    """d, a bound on the relative error of a row's screened scores (sums of ``lengths``
    weights, each rounded to the screen's precision, unit roundoff ``unit``, and added there)
    and of its float64 scores, against the exact sums: gamma_(L+2) of Higham's analysis of
    sums of positive terms. An item in the exact top k then screens at least
    (1-d)^2/(1+d)^2 >= 1 - 4d of the k-th best screened score."""
    terms = (lengths + 2) * unit
    return np.where(terms < 0.2, terms / (1 - terms), 1.0)


def _floor(kth: np.ndarray, slack: np.ndarray) -> np.ndarray:
    """The candidates' floor, kth (1 - 5 delta) (a margin over 4 delta for rounding), or 0
    when delta is that large: then every positive score is a candidate."""
    return kth * np.maximum(1 - 5 * slack, 0.0)


def _blocks(m: int, k: int) -> tuple[int, int]:
    """Coarse blocks for the bound, about sqrt(k m) so that finding the k-th maximum is cheap,
    and up to four times as many fine ones (a multiple: each coarse block is a union of fine
    ones) to gather candidates from, so few items are read past the k best."""
    coarse = max(1, min(m, max(k, math.isqrt(k * m))))
    return coarse, coarse * max(1, min(4, m // coarse))


def _block_maxima(scores: np.ndarray, blocks: int) -> np.ndarray:
    """Each row's maximum over each block of columns, column j in block j mod ``blocks``."""
    maxima = scores[:, :blocks].copy()
    for start in range(blocks, scores.shape[1], blocks):
        part = scores[:, start : start + blocks]
        width = part.shape[1]
        np.maximum(maxima[:, :width], part, out=maxima[:, :width])
    return maxima


def _kth(maxima: np.ndarray, k: int) -> np.ndarray:
    """A lower bound of each row's k-th best screened score: the k-th best block maximum (k
    blocks reach it, so k items do), 0 when there are fewer than k blocks."""
    if k > maxima.shape[1]:
        return np.zeros(maxima.shape[0])
    kth = np.partition(maxima, maxima.shape[1] - k, axis=1)[:, maxima.shape[1] - k]
    return kth.astype(np.float64)


def _candidates(
    scores: np.ndarray, maxima: np.ndarray, floor: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(row, item) of the positive scores at or above each row's ``floor``, gathered from the
    few blocks whose maximum reaches it rather than by scanning every item."""
    blocks, m = maxima.shape[1], scores.shape[1]
    rb, b = np.divmod(np.flatnonzero((maxima >= floor[:, None]) & (maxima > 0)), blocks)
    columns = b[:, None] + blocks * np.arange(-(-m // blocks))
    inside = columns < m
    r, c = np.broadcast_to(rb[:, None], columns.shape)[inside], columns[inside]
    value = scores[r, c]
    keep = (value >= floor[r]) & (value > 0)
    return r[keep], c[keep]


def _exact(
    x: sparse.csr_array, sim: Any, r: np.ndarray, j: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The float64 score of each (row r, item j) and its reason, the bought item with the
    largest s_ij (ties: the more popular; -1: none)."""
    lengths = np.diff(x.indptr)[r]
    offset = np.cumsum(lengths) - lengths
    pair = np.repeat(np.arange(r.size), lengths)
    bought = x.indices[np.repeat(x.indptr[r] - offset, lengths) + np.arange(pair.size)]
    weight = np.asarray(sim[bought, j[pair]]).ravel()
    return _in_order(weight, offset, lengths), _because(weight, bought, pair, offset, lengths)


def _in_order(weight: np.ndarray, offset: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Each segment's sum added term by term from the first, as the sparse product adds:
    numpy's sums add pairwise, which can differ in the last bit. Longest segments first, so
    each step adds to a prefix of them."""
    by_length = np.argsort(-lengths, kind="stable")
    start, longest = offset[by_length], -lengths[by_length]
    total = np.zeros(lengths.size)
    for step in range(int(-longest[0]) if lengths.size else 0):
        live = int(np.searchsorted(longest, -step))  # segments longer than step
        total[:live] += weight[start[:live] + step]
    out = np.empty_like(total)
    out[by_length] = total
    return out


def _because(
    weight: np.ndarray,
    bought: np.ndarray,
    pair: np.ndarray,
    offset: np.ndarray,
    lengths: np.ndarray,
) -> np.ndarray:
    """For each segment, the bought item with the largest weight, the first of equals (-1:
    none): a row's items come by index, the more popular first."""
    if pair.size == 0:
        return np.full(lengths.size, -1)
    best = np.zeros(lengths.size)
    best[lengths > 0] = np.maximum.reduceat(weight, offset[lengths > 0])
    top = np.flatnonzero(weight == best[pair])
    first = np.minimum(np.searchsorted(pair[top], np.arange(lengths.size)), top.size - 1)
    return np.where(lengths > 0, bought[top[first]], -1)


def _ordered(r: np.ndarray, c: np.ndarray, score: np.ndarray, because: np.ndarray, k: int) -> Top:
    """The picks by row, score (best first) and index, at most ``k`` a row, ranked from 1."""
    order = np.lexsort((_narrow(c), -score, _narrow(r)))
    r, c, score, because = r[order], c[order], score[order], because[order]
    place = np.arange(r.size) - np.searchsorted(r, r)
    keep = place < k
    return r[keep], c[keep], score[keep], place[keep] + 1, because[keep]


def _narrow(index: np.ndarray) -> np.ndarray:
    """Non-negative indices in the smallest integer type: numpy sorts 16-bit ones by radix."""
    return index.astype(np.min_scalar_type(int(index.max(initial=0))), copy=False)


def _zero_fill(picks: Top, ok: np.ndarray, screened: np.ndarray, k: int) -> Top:
    """Rows with fewer than ``k`` positive scores go on with their allowed items of score 0 by
    index (popularity): zeros are exact in the screen too."""
    r, c, score, place, because = picks
    found = np.bincount(r, minlength=ok.shape[0])
    short = np.flatnonzero(found < k)
    zr, zc, zplace = _first(ok[short] & (screened[short] == 0), k - found[short])
    if zr.size == 0:
        return picks
    zr = short[zr]
    filled = (
        np.concatenate([r, zr]),
        np.concatenate([c, zc]),
        np.concatenate([score, np.zeros(zr.size)]),
        np.concatenate([place, found[zr] + zplace + 1]),
        np.concatenate([because, np.full(zr.size, -1)]),
    )
    order = np.lexsort((filled[3], filled[0]))
    r, c, score, place, because = (f[order] for f in filled)
    return r, c, score, place, because


def _first(ok: np.ndarray, quota: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's first ``quota`` True cells by column: (row, column, place from 0), by row.

    Reads a prefix of the columns, four times wider for the rows it does not fill: when most
    items are allowed a few columns serve every row, where sorting whole rows is m log m each.
    """
    m = ok.shape[1]
    pending = np.flatnonzero(quota > 0) if m else np.zeros(0, dtype=np.int64)
    width = min(m, 2 * int(quota.max(initial=0)) + 8)
    found = [(pending[:0], pending[:0], pending[:0])]
    while pending.size:
        seen = np.cumsum(ok[pending, :width], axis=1, dtype=np.int64)
        done = (seen[:, -1] >= quota[pending]) | (width == m)
        rows, seen = pending[done], seen[done]
        r, c = np.nonzero(ok[rows, :width] & (seen <= quota[rows, None]))
        found.append((rows[r], c, seen[r, c] - 1))
        pending, width = pending[~done], min(m, 4 * width)
    r, c, place = (np.concatenate([part[f] for part in found]) for f in range(3))
    order = np.lexsort((c, r))
    return r[order], c[order], place[order]


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
        raise InputError("-k must be at least 1 item")
    if recent_days < 0:
        raise InputError("recent_days must be 0 (rule off) or more")
    if shrink < 0:
        raise InputError("the shrinkage (shrink) must be 0 or more buyers")
