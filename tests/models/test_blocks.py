"""How a fit cuts its rows: equal blocks of about the block size, and the per-frequency
weight sums each block keeps for the weights it was given."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from patron.models.base import _blocks, weighted_levels


@given(st.integers(0, 5000), st.integers(1, 700))
def test_blocks_cover_the_rows_in_order_at_about_the_size(rows: int, size: int) -> None:
    data, w = {"x": np.arange(rows, dtype=float)}, np.arange(rows, dtype=float)
    blocks = _blocks(data, w, size)
    assert np.array_equal(np.concatenate([b["x"] for b, _ in blocks]), data["x"])
    assert all(np.array_equal(b["x"], bw) for b, bw in blocks)  # weights travel with rows
    lengths = [len(bw) for _, bw in blocks]
    assert max(lengths) - min(lengths) <= 1  # equal, not a size and a remainder
    if rows >= size / 2:
        assert all(size / 2 - 1 < n < 1.5 * size + 1 for n in lengths)
    else:
        assert len(blocks) == 1  # a few rows are one block


def test_weighted_levels_follow_the_weights_they_are_given() -> None:
    data = {"x": np.array([0.0, 2.0, 2.0, 5.0])}
    first, second = np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 1.0, 1.0, 1.0])
    values, sums = weighted_levels(data, "x", first)
    assert np.array_equal(values, [0, 2, 5]) and np.array_equal(sums, [1, 5, 4])
    assert weighted_levels(data, "x", first)[1] is sums  # the same weights: remembered
    assert np.array_equal(weighted_levels(data, "x", second)[1], [1, 2, 1])
