"""Item-item similarity from co-buying, as :mod:`patron.insights.recommend` defines it.

The counts c_ij of customers who bought both items (X^T X of the 0/1 incidence) are made
densely, pair codes counted by ``bincount``, up to ``DENSE_ITEMS`` items, and by the sparse
product beyond; both give every weight and every row total to the last bit.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import numpy as np
from scipy import sparse

if TYPE_CHECKING:
    from patron.insights.recommend import Purchases

SHRINK = 10.0
"""lambda of the shrinkage factor, in buyers."""
DENSE_ITEMS = 4096
"""Up to this many items co-buyers are counted and the similarity is held dense (128 MB at
most, 64 MB more for its float32 copy): faster to count and to gather."""
PAIR_CELLS = 1 << 22
"""Item pairs counted at a time when co-buyers are counted densely (32 MB of codes)."""


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
        x = binary(x, np.dtype(np.float64))
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


def binary(x: sparse.csr_array, dtype: np.dtype) -> sparse.csr_array:
    """The 0/1 rows in ``dtype``: the screen's for the screening product, float64 for counts."""
    return sparse.csr_array((np.ones(x.nnz, dtype), x.indices, x.indptr), shape=x.shape)
