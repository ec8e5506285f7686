"""Each customer's top k items by item-item score, exact to the last bit, found fast.

Scores are the sums of float64 similarities over a customer's bought items. A float32 copy of
the similarity screens every item at half the memory traffic; only items that screen within a
proven error bound of the k-th best are scored exactly, in the sparse product's order of
addition, so the result is what a full float64 sort would give. Customers are ranked in chunks
on several threads.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import sparse

from patron.insights import item_similarity
from patron.insights.item_similarity import binary

if TYPE_CHECKING:
    from patron.insights.recommend import Purchases

CHUNK_CELLS = 1 << 22
"""Customer x item screening scores per chunk (16 MB of float32 a worker), whatever the
number of customers."""
WORKERS = min(4, os.cpu_count() or 1)
"""Threads that rank chunks of customers at once: numpy and scipy let go of the GIL."""


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
    if n_items == 0:  # orders without lines: nothing was bought that could be offered
        return Ranked(*(np.empty(0, dtype) for dtype in RANKED))
    weights = None if sim is None else _weights(sim, dense=n_items <= item_similarity.DENSE_ITEMS)
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
    screened = _dense(binary(x, weights.screen.dtype) @ weights.screen)
    np.multiply(screened, ok, out=screened)
    coarse, fine = _blocks(screened.shape[1], k)
    maxima = _block_maxima(screened, fine)
    floor = _floor(_kth(_block_maxima(maxima, coarse), k), _slack(np.diff(x.indptr), weights.unit))
    r, c = _candidates(screened, maxima, floor)
    score, because = _exact(x, weights.exact, r, c)
    return _zero_fill(_ordered(r, c, score, because, k), ok, screened, k)


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
