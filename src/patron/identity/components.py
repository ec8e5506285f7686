"""Connected components of a graph whose edges arrive in batches.

Identity resolution's graph can hold tens of millions of edges; handing them to
``scipy.sparse.csgraph`` at once costs some 30 bytes of Python memory per edge and node beside
the engine's capped pool, so a load's peak memory grew with its file. Here one int32 array
the size of the node count lives across batches (and a copy while a batch updates it), and
each batch of edges is solved on its own (with scipy) against the components found so far.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

Array = np.ndarray


BATCH_EDGES = 1 << 20
"""Edges solved at a time: some 60 MB of scratch. Each batch also passes once over every
node's label, so much smaller batches cost time on a big graph."""


def component_labels(
    nodes: int, edges: Iterable[tuple[Array, Array]], *, batch: int = BATCH_EDGES
) -> Array:
    """Each node's component, named by the component's smallest node, for nodes
    ``0 .. nodes - 1`` and the undirected edges ``(a[i], b[i])`` of every chunk ``(a, b)`` of
    ``edges`` (chunks of any size: they are gathered into batches of about ``batch``)."""
    if nodes >= 2**31:
        raise ValueError(f"{nodes:,} nodes do not fit the int32 labels")
    roots = np.arange(nodes, dtype=np.int32)
    held: list[tuple[Array, Array]] = []
    count = 0
    for a, b in edges:
        held.append((np.asarray(a), np.asarray(b)))
        count += len(held[-1][0])
        if count >= batch:
            _unite(roots, *_joined(held))
            held, count = [], 0
    if held:
        _unite(roots, *_joined(held))
    return roots


def _joined(chunks: list[tuple[Array, Array]]) -> tuple[Array, Array]:
    return np.concatenate([a for a, _ in chunks]), np.concatenate([b for _, b in chunks])


def _unite(roots: Array, a: Array, b: Array) -> None:
    """Merge the components the edges ``(a, b)`` join, in place.

    ``roots[i]`` is the smallest node of ``i``'s component so far, and so a root, whose own
    entry is itself. The batch's edges become edges between roots; their components (a small
    graph: only the roots the batch touches) each take their smallest root, which each touched
    root's entry then names, and every node follows its root's entry one step.
    """
    ends_a, ends_b = roots[a], roots[b]
    joined = ends_a != ends_b
    if not joined.any():
        return
    old, index = _numbered(np.concatenate([ends_a[joined], ends_b[joined]]), roots)
    edges = len(index) // 2
    graph = coo_matrix(
        (np.ones(edges, dtype=np.int8), (index[:edges], index[edges:])), shape=(len(old),) * 2
    )
    count, component = connected_components(graph, directed=False)
    smallest = np.full(count, np.iinfo(np.int32).max, dtype=np.int32)
    np.minimum.at(smallest, component, old)
    roots[old] = smallest[component]
    roots[:] = roots[roots]


def _numbered(ends: Array, roots: Array) -> tuple[Array, Array]:
    """The distinct roots among ``ends`` in ascending order, and each end's place among them.

    Found by marking, not sorting (``np.unique`` took 0.3 s a batch): a pass over a byte per
    node; the places are written into these roots' own entries of ``roots``, which the caller
    sets to their new roots next.
    """
    marked = np.zeros(len(roots), dtype=bool)
    marked[ends] = True
    old = np.flatnonzero(marked).astype(np.int32)
    roots[old] = np.arange(len(old), dtype=np.int32)
    return old, roots[ends]
