"""Connected components of a graph whose edges arrive in batches.

Identity resolution's graph can hold tens of millions of edges; handing them to
``scipy.sparse.csgraph`` at once costs some 30 bytes of Python memory per edge and node beside
the engine's capped pool, so a load's peak memory grew with its file. Here only two int32
arrays the size of the node count live across batches, and each batch of edges is solved on
its own (with scipy) against the components found so far.
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
    relabel = np.arange(nodes, dtype=np.int32)
    held: list[tuple[Array, Array]] = []
    for a, b in edges:
        held.append((np.asarray(a), np.asarray(b)))
        if sum(len(x) for x, _ in held) >= batch:
            _unite(roots, relabel, *_joined(held))
            held = []
    if held:
        _unite(roots, relabel, *_joined(held))
    return roots


def _joined(chunks: list[tuple[Array, Array]]) -> tuple[Array, Array]:
    return np.concatenate([a for a, _ in chunks]), np.concatenate([b for _, b in chunks])


def _unite(roots: Array, relabel: Array, a: Array, b: Array) -> None:
    """Merge the components the edges ``(a, b)`` join, in place.

    ``roots[i]`` is the smallest node of ``i``'s component so far, and so a root itself. The
    batch's edges become edges between roots; their components (a small graph: only the roots
    the batch touches) each take their smallest root, and every node of a merged root moves to
    it, by a lookup in ``relabel`` (no search): there every root is itself and each root the
    batch touches its new root; entries of nodes that are no longer roots are never read.
    """
    ends_a, ends_b = roots[a], roots[b]
    joined = ends_a != ends_b
    if not joined.any():
        return
    old, index = np.unique(np.concatenate([ends_a[joined], ends_b[joined]]), return_inverse=True)
    edges = len(index) // 2
    graph = coo_matrix(
        (np.ones(edges, dtype=np.int8), (index[:edges], index[edges:])), shape=(len(old),) * 2
    )
    count, component = connected_components(graph, directed=False)
    smallest = np.full(count, np.iinfo(np.int32).max, dtype=np.int32)
    np.minimum.at(smallest, component, old)
    relabel[old] = smallest[component]
    roots[:] = relabel[roots]
