"""``distinct_rows``: the distinct combinations a prediction is computed on, and the gather
back to every row, against Python's own set of tuples."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from patron.models.base import FIBONACCI, HASH_BITS, _codes, distinct_rows

WHOLE = st.integers(0, 6) | st.integers(0, 10**12)  # small counts, or a sort for large ones
VALUES = st.floats(0, 100, allow_nan=False) | st.sampled_from([0.0, 1 / 7, 2 / 7, 1e300])


@given(st.lists(st.tuples(WHOLE, VALUES), max_size=60))
def test_distinct_rows_gather_back_every_row(pairs: list[tuple[int, float]]) -> None:
    x = np.array([p[0] for p in pairs], dtype=float)
    big_t = np.array([p[1] for p in pairs], dtype=float)
    row, index = distinct_rows(x, big_t)
    assert len(row) == len(set(pairs))
    assert np.array_equal(x[row][index], x) and np.array_equal(big_t[row][index], big_t)


def _same_partition(column: np.ndarray) -> None:
    """``_codes`` numbers the distinct values 0..count-1, equal values alike."""
    count, index = _codes(column)
    first = np.full(count, np.nan)
    first[index] = column
    assert not np.isnan(first).any()  # every number is used
    assert np.array_equal(first[index], column)  # a number stands for one value
    assert len(np.unique(first)) == count  # and a value for one number


@given(st.lists(st.integers(0, 600), max_size=3000), st.sampled_from([7.0, 3.0, 1.0]))
def test_codes_of_weeks_number_each_value_once(days: list[int], unit: float) -> None:
    # a summary's recency and T: whole days over the time unit, a few hundred values
    _same_partition(np.array(days, dtype=float) / unit)


def test_codes_resolve_values_that_share_a_bucket() -> None:
    values = np.arange(1, 20_000) / 7
    bucket = (values.view(np.uint64) * FIBONACCI) >> np.uint64(64 - HASH_BITS)
    first, second = np.flatnonzero(bucket == bucket[0])[:2]  # two values, one bucket
    column = np.repeat(values[[0, first, second, 5, 6]], [3, 2, 1, 500, 400])  # few strays
    _same_partition(np.random.default_rng(0).permutation(column))
    _same_partition(np.array([0.0, -0.0, 0.5, 0.5]))  # -0.0 is 0.0


def test_codes_of_thousands_of_distinct_values() -> None:
    # more values than buckets: they are sorted instead
    _same_partition(np.random.default_rng(1).uniform(0, 50, 20_000).round(3))


def test_distinct_rows_of_many_wide_columns_do_not_overflow() -> None:
    # 2 x 65,536^4 combinations pass 2^64: multiplied out in int64 the first column dropped out
    # of the code and rows differing only there were taken for one
    wide = np.random.default_rng(2).permutation(2**16).astype(float)
    columns = [np.repeat([0.0, 1.0], 2**16), *(np.tile(np.roll(wide, k), 2) for k in range(4))]
    row, index = distinct_rows(*columns)
    assert len(row) == 2**17
    assert all(np.array_equal(column[row][index], column) for column in columns)
