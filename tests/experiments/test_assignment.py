"""Assignment by salted hash: the engine matches the definition, buckets are uniform, the split is
stable across runs and machines, and experiments with different salts are independent."""

from __future__ import annotations

import hashlib
from datetime import date

import ibis
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from patron import InputError
from patron.experiments.assignment import assign, group_of, position
from patron.experiments.design import Design, format_variants, parse_variants

KEYS = 60_000


def design(variants: str = "control:50,treatment:50", **options: object) -> Design:
    return Design(
        name=str(options.pop("name", "exp")),
        variants=parse_variants(variants),
        salt=str(options.pop("salt", "exp")),
        start=date(2024, 1, 1),
        **options,  # type: ignore[arg-type]
    )


def engine_groups(d: Design, n: int = KEYS) -> np.ndarray:
    keys = ibis.memtable({"customer_key": np.arange(1, n + 1, dtype=np.int64)})
    table = assign(keys, d).order_by("customer_key").to_pyarrow()
    return np.array(table.column("variant").to_pylist())


def test_position_is_the_first_48_bits_of_the_salted_md5() -> None:
    digest = hashlib.md5(b"spring:42").hexdigest()
    assert position("spring", 42) == int(digest[:12], 16) / 16**12
    # md5("exp:1") = 777ad22d26d0...: a constant of the definition, the same on every machine.
    assert position("exp", 1) == 0x777AD22D26D0 / 16**12
    # Golden groups: if these change, every recorded experiment would be reshuffled.
    groups = [group_of(design(), k) for k in range(1, 9)]
    golden = "control treatment control control treatment treatment control control"
    assert groups == golden.split()


def test_the_engine_assigns_exactly_as_the_python_definition() -> None:
    d = design("a:20,b:30,c:50", holdout=0.1)
    groups = engine_groups(d, 5_000)
    assert list(groups) == [group_of(d, k) for k in range(1, 5_001)]


def test_buckets_are_uniform_by_chi_square() -> None:
    d = design("a:20,b:30,c:50", holdout=0.1)
    groups = engine_groups(d)
    names, counts = np.unique(groups, return_counts=True)
    expected = np.array([d.shares[str(n)] for n in names]) * KEYS
    assert stats.chisquare(counts, expected).pvalue > 0.001
    assert set(names) == {"holdout", "a", "b", "c"}


def test_different_salts_are_independent_and_the_same_salt_is_stable() -> None:
    first = engine_groups(design(salt="first"))
    again = engine_groups(design(salt="first"))
    other = engine_groups(design(salt="second"))
    assert (first == again).all()
    table = np.array(
        [
            [np.sum((first == a) & (other == b)) for b in ("control", "treatment")]
            for a in ("control", "treatment")
        ]
    )
    assert stats.chi2_contingency(table).pvalue > 0.001
    assert 0.45 < np.mean(first == other) < 0.55


def test_the_same_customers_keep_their_group_when_the_audience_grows() -> None:
    d = design()
    assert (engine_groups(d, 1_000) == engine_groups(d, 3_000)[:1_000]).all()


@given(st.lists(st.integers(1, 1000), min_size=2, max_size=6))
def test_weights_are_relative_and_sum_to_one(weights: list[int]) -> None:
    text = ",".join(f"v{i}:{w}" for i, w in enumerate(weights))
    parsed = parse_variants(text)
    assert sum(w for _, w in parsed) == pytest.approx(1.0)
    assert [w for _, w in parsed] == pytest.approx([w / sum(weights) for w in weights])
    again = parse_variants(format_variants(parsed))
    assert [n for n, _ in again] == [n for n, _ in parsed]
    assert [w for _, w in again] == pytest.approx([w for _, w in parsed], rel=1e-3)


def test_a_bare_list_splits_evenly_and_the_holdout_is_the_baseline() -> None:
    assert parse_variants("a,b,c") == (("a", 1 / 3), ("b", 1 / 3), ("c", 1 / 3))
    d = design("control:50,treatment:50", holdout=0.2)
    assert d.groups == ("holdout", "control", "treatment")
    assert d.baseline == "holdout"
    assert d.shares == pytest.approx({"holdout": 0.2, "control": 0.4, "treatment": 0.4})
    assert design().baseline == "control"


def test_variants_may_be_a_mapping_of_weights_or_a_list_of_names() -> None:
    assert parse_variants({"a": np.int64(1), "b": 3.0}) == parse_variants("a:1,b:3")
    assert parse_variants({"a": "1", "b": "3"}) == parse_variants("a:1,b:3")
    assert parse_variants(("a", "b", "c")) == parse_variants("a,b,c")
    assert all(type(w) is float for _, w in parse_variants({"a": np.int64(1), "b": 1}))


@pytest.mark.parametrize(
    ("variants", "message"),
    [
        ("control", "at least two"),
        (["control"], "at least two"),
        ("a:50,a:50", "distinct"),
        ("holdout:10,b:90", "(use holdout)"),
        ("a:x,b:1", "not a number"),
        ({"a": True, "b": 1}, "weight True is not a number"),
        ("a:0,b:1", "positive"),
        ({"a": float("inf"), "b": 1}, "positive"),
        ("a b:1,c:1", "letters"),
        ({1: 50, 2: 50}, "variant name 1"),
        (["a", 2], "must hold names"),
        (50, "variants must be a name or a list of names"),
    ],
)
def test_bad_variants_say_what_is_wrong(variants: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_variants(variants)  # type: ignore[arg-type]


def test_bad_designs_say_what_is_wrong() -> None:
    with pytest.raises(InputError, match="holdout"):
        design(holdout=1.0)
    with pytest.raises(InputError, match=r"a share from 0 to under 1 \(0.1 = 10%\), got 10 \("):
        design(holdout=10)
    with pytest.raises(InputError, match="holdout must be a number, not str"):
        design(holdout="10%")
    with pytest.raises(InputError, match="window must be at least 1 day, got 0"):
        design(window_days=np.int64(0))
    with pytest.raises(InputError, match=r"^end \S+ is before start"):
        design(end=date(2023, 1, 1))
    with pytest.raises(InputError, match="experiment name"):
        design(name="no spaces")


def test_a_design_holds_plain_python_values() -> None:
    pairs = (("a", np.float64(0.5)), ("b", np.float64(0.5)))
    d = Design("e", pairs, "e", "2024-01-01", holdout=np.float32(0.25), window_days=np.int64(14))
    assert (type(d.holdout), type(d.window_days), d.start) == (float, int, date(2024, 1, 1))
    assert all(type(w) is float for _, w in d.variants)
