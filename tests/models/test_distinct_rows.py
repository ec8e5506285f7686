"""``distinct_rows``: the distinct combinations a prediction is computed on, and the gather
back to every row, against Python's own set of tuples."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from patron.models.base import distinct_rows

WHOLE = st.integers(0, 6) | st.integers(0, 10**12)  # small counts, or a sort for large ones
VALUES = st.floats(0, 100, allow_nan=False) | st.sampled_from([0.0, 1 / 7, 2 / 7, 1e300])


@given(st.lists(st.tuples(WHOLE, VALUES), max_size=60))
def test_distinct_rows_gather_back_every_row(pairs: list[tuple[int, float]]) -> None:
    x = np.array([p[0] for p in pairs], dtype=float)
    big_t = np.array([p[1] for p in pairs], dtype=float)
    row, index = distinct_rows(x, big_t)
    assert len(row) == len(set(pairs))
    assert np.array_equal(x[row][index], x) and np.array_equal(big_t[row][index], big_t)
