"""Components of an edge stream, batch by batch, equal scipy's on the whole graph."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from patron.identity.components import component_labels


def _whole(nodes: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """scipy's labels, renamed to each component's smallest node."""
    graph = coo_matrix((np.ones(len(a)), (a, b)), shape=(nodes, nodes))
    _, label = connected_components(graph, directed=False)
    smallest = np.full(label.max() + 1, nodes)
    np.minimum.at(smallest, label, np.arange(nodes))
    return smallest[label]


def _chunks(a: np.ndarray, b: np.ndarray, size: int) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(a[i : i + size], b[i : i + size]) for i in range(0, len(a), size)]


@settings(max_examples=200, deadline=None)
@given(
    nodes=st.integers(min_value=1, max_value=60),
    data=st.data(),
    chunk=st.integers(min_value=1, max_value=9),
    batch=st.integers(min_value=1, max_value=20),
)
def test_batches_find_the_whole_graphs_components(
    nodes: int, data: st.DataObject, chunk: int, batch: int
) -> None:
    ends = st.lists(st.integers(min_value=0, max_value=nodes - 1), max_size=80)
    a = np.array(data.draw(ends), dtype=np.int32)
    b = np.array(data.draw(st.lists(st.integers(0, nodes - 1), min_size=len(a), max_size=len(a))))
    b = b.astype(np.int32)
    labels = component_labels(nodes, _chunks(a, b, chunk), batch=batch)
    assert labels.tolist() == _whole(nodes, a, b).tolist()


@pytest.mark.parametrize("batch", [1, 2, 1 << 20])
def test_a_chain_met_from_its_far_end_is_one_component(batch: int) -> None:
    """Edges of a path 0-1-...-99 in reverse order, one per batch: every batch merges a
    component built by the batches before it, and all take node 0's name."""
    a = np.arange(98, -1, -1, dtype=np.int32)
    labels = component_labels(100, _chunks(a, a + 1, 1), batch=batch)
    assert labels.tolist() == [0] * 100


def test_nodes_without_edges_are_their_own_components() -> None:
    labels = component_labels(5, [(np.array([3], np.int32), np.array([1], np.int32))])
    assert labels.tolist() == [0, 1, 2, 1, 4]
    assert component_labels(3, []).tolist() == [0, 1, 2]
