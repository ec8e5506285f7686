"""Discount sensitivity: shares, AOVs, the shrunk score, segments, measured lifts, recovery."""

from __future__ import annotations

import csv
from datetime import date, datetime, timedelta
from typing import Any

import ibis
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import rankdata

from insights.support import by_id, csv_workspace, sample_workspace
from patron import InputError, Workspace
from patron.insights.discount import (
    Lift,
    customer_discounts,
    fit_prior,
    segment_discounts,
    with_measured_response,
)
from patron.metrics.occasions import last_order_date

AS_OF = date(2024, 12, 31)

# As of 2024-12-31 (an empty discount is full price; d2's 2025 order and d5's return are not
# purchases):
# d1 n 4, k 2: discounted 40, 60 -> AOV 50; full price 100, 80 -> 90
# d2 n 2, k 0: full price 50, 70 -> 60;    d3 n 1, k 1: 30
# d4 n 3, k 3: 20 each;                    d5 n 2, k 0: 10, 30 -> 20
ORDERS = """order_id,customer_id,ordered_at,revenue,discount
a1,d1,2024-03-01,40,5
a2,d1,2024-04-01,100,0
a3,d1,2024-05-01,60,5
a4,d1,2024-06-01,80,
b1,d2,2024-03-01,50,0
b2,d2,2024-04-01,70,
b3,d2,2025-02-01,70,10
c1,d3,2024-07-01,30,3
e1,d4,2024-01-01,20,2
e2,d4,2024-02-01,20,2
e3,d4,2024-03-01,20,2
f1,d5,2024-08-01,10,0
f2,d5,2024-09-01,30,0
f3,d5,2024-09-05,-30,0
"""
# Prior: N = 5, sum n = 12, sum k = 6 -> mu = 1/2. S = sum n (p - mu)^2 = 0 + .5 + .25 + .75 + .5
# = 2, so S / (mu (1 - mu)) = 8; sum n^2 = 34. rho = (8 - 4) / (12 - 5 + 1 - 34/12) = 24/31.
RHO = 24 / 31
# w = n rho / (1 + (n - 1) rho): n 1 -> 24/31, 2 -> 48/55, 3 -> 72/79, 4 -> 96/103.
# score = 1/2 + w (p - 1/2): d1 1/2; d2, d5 1/2 - 24/55 = 7/110; d3 1/2 + 12/31 = 55/62;
# d4 1/2 + 36/79 = 151/158.
EXPECTED = {
    "d1": (4, 2, 0.5, 90.0, 50.0, 0.5, "medium"),
    "d2": (2, 0, 0.0, 60.0, None, 7 / 110, "low"),
    "d3": (1, 1, 1.0, None, 30.0, 55 / 62, "high"),
    "d4": (3, 3, 1.0, None, 20.0, 151 / 158, "high"),
    "d5": (2, 0, 0.0, 20.0, None, 7 / 110, "low"),
}
COLUMNS = (
    "purchases",
    "discounted_purchases",
    "discount_share",
    "full_price_aov",
    "discounted_aov",
    "discount_score",
    "discount_band",
)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return csv_workspace(tmp_path_factory.mktemp("discount"), {"orders": ORDERS}, clean=False)


def test_per_customer_shares_aovs_and_scores_by_hand(shop: Workspace) -> None:
    rows = by_id(shop, customer_discounts(shop.table("orders"), AS_OF))
    got = {c: tuple(r[k] for k in COLUMNS) for c, r in rows.items()}
    assert got == {c: pytest.approx(e) for c, e in EXPECTED.items()}


def test_the_prior_by_hand() -> None:
    # The five sums of the fixture: N, sum n, sum k, sum n^2, sum k^2 / n = 1 + 0 + 1 + 3 + 0.
    prior = fit_prior(5, 12, 6, 34, 5)
    assert (prior.mean, prior.rho) == pytest.approx((0.5, RHO))


def test_segments_by_hand_and_measured_lifts_override(shop: Workspace) -> None:
    ids = shop.table("customers").select("customer_key", "customer_id")
    groups = ids.mutate(group=ibis.ifelse(ids.customer_id.isin(["d1", "d2"]), "A", "B"))
    scores = customer_discounts(shop.table("orders"), AS_OF)
    table = segment_discounts(scores, groups, "group")
    rows = {r["segment"]: r for r in table.to_pyarrow().to_pylist()}
    # A = d1 + d2: 6 purchases, 2 discounted; full price (100 + 80 + 50 + 70) / 4 = 75,
    # discounted (40 + 60) / 2 = 50; mean score (1/2 + 7/110) / 2 = 31/110 -> low.
    assert rows["A"]["customers"] == 2
    assert (rows["A"]["discount_share"], rows["A"]["mean_score"]) == pytest.approx(
        (1 / 3, 31 / 110)
    )
    assert (rows["A"]["full_price_aov"], rows["A"]["discounted_aov"]) == (75.0, 50.0)
    assert (rows["A"]["discount_response"], rows["A"]["high_share"]) == ("low", 0.0)
    # B = d3, d4, d5: 4 of 6 discounted; full (10 + 30) / 2 = 20; discounted (30 + 60) / 4.
    mean_b = (55 / 62 + 151 / 158 + 7 / 110) / 3
    assert (rows["B"]["mean_score"], rows["B"]["high_share"]) == pytest.approx((mean_b, 2 / 3))
    assert (rows["B"]["discounted_aov"], rows["B"]["discount_response"]) == (22.5, "medium")

    measured = with_measured_response(table, {"B": Lift(0.12, 0.03, 0.21)})
    out = {r["segment"]: r for r in measured.to_pyarrow().to_pylist()}
    assert (out["B"]["discount_response"], out["B"]["response_source"]) == ("high", "experiment")
    assert out["B"]["measured_lift_low"] == 0.03
    assert (out["A"]["discount_response"], out["A"]["response_source"]) == (
        "low",
        "observational",
    )
    # An interval that holds 0 is no measured lift: low, whatever the observations say.
    straddling = with_measured_response(table, {"B": Lift(0.05, -0.02, 0.12)})
    assert straddling.filter(ibis._.segment == "B").discount_response.to_pyarrow().to_pylist() == [
        "low"
    ]
    unmeasured = with_measured_response(table, {}).to_pyarrow().to_pylist()
    assert {r["response_source"] for r in unmeasured} == {"observational"}


def test_bad_groups_and_lifts_are_refused(shop: Workspace) -> None:
    ids = shop.table("customers").select("customer_key", "customer_id")
    scores = customer_discounts(shop.table("orders"), AS_OF)
    with pytest.raises(InputError, match="did you mean 'customer_id'"):
        segment_discounts(scores, ids, "customer_ids")
    table = segment_discounts(scores, ids, "customer_id")
    with pytest.raises(InputError, match="no segment 'd9'"):
        with_measured_response(table, {"d9": Lift(0.1, 0.0, 0.2)})
    with pytest.raises(InputError, match="interval"):
        with_measured_response(table, {"d1": Lift(0.3, 0.0, 0.2)})
    with pytest.raises(InputError, match="no purchases"):
        customer_discounts(shop.table("orders"), date(2023, 1, 1))


def _orders(histories: list[list[bool]]) -> ibis.Table:
    """An in-memory orders table: one customer per history, one order per flag (discounted?)."""
    rows = [(c, i, flag) for c, flags in enumerate(histories) for i, flag in enumerate(flags)]
    start = datetime(2024, 1, 1)
    return ibis.memtable(
        pa.table(
            {
                "customer_key": [c for c, _, _ in rows],
                "order_date": [(start + timedelta(days=i)).date() for _, i, _ in rows],
                "revenue": pa.array([10] * len(rows), pa.decimal128(18, 2)),
                "discount": pa.array([2 if f else 0 for *_, f in rows], pa.decimal128(18, 2)),
                "is_return": [False] * len(rows),
            }
        )
    )


def _scores(histories: list[list[bool]]) -> list[dict[str, Any]]:
    table = customer_discounts(_orders(histories), AS_OF).order_by("customer_key")
    return table.to_pyarrow().to_pylist()


def test_without_evidence_of_differences_everyone_scores_the_shop_share() -> None:
    # One purchase each: nothing tells customers apart (rho = 0), so all score mu = 1/4.
    rows = _scores([[True], [False], [False], [False]])
    assert [r["discount_score"] for r in rows] == [0.25] * 4
    # No discounts at all: every score is 0, every band low.
    rows = _scores([[False, False], [False]])
    assert {(r["discount_score"], r["discount_band"]) for r in rows} == {(0.0, "low")}


@settings(max_examples=25, deadline=None)
@given(st.lists(st.lists(st.booleans(), min_size=1, max_size=8), min_size=2, max_size=15))
def test_scores_shrink_each_share_toward_the_shop_share(histories: list[list[bool]]) -> None:
    rows = _scores(histories)
    mu = sum(map(sum, histories)) / sum(map(len, histories))
    for r in rows:
        share, score = r["discount_share"], r["discount_score"]
        assert 0 <= score <= 1
        assert min(share, mu) - 1e-9 <= score <= max(share, mu) + 1e-9


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 30), st.integers(0, 30)), min_size=1, max_size=30))
def test_the_prior_is_a_proper_beta(pairs: list[tuple[int, int]]) -> None:
    n = np.array([p[0] for p in pairs], dtype=float)
    k = np.minimum([p[1] for p in pairs], n)
    prior = fit_prior(len(n), n.sum(), k.sum(), (n * n).sum(), (k * k / n).sum())
    assert 0 <= prior.mean <= 1 and 0 <= prior.rho <= 1


@pytest.fixture(scope="module")
def synthetic_scores(tmp_path_factory: pytest.TempPathFactory) -> tuple[np.ndarray, np.ndarray]:
    """Scores of linked synthetic people, and whether the generator made them discount-driven."""
    folder = tmp_path_factory.mktemp("synthetic")
    ws, paths = sample_workspace(folder, customers=3_000, seed=7, tables=["orders"], clean=False)
    table = customer_discounts(ws.table("orders"), last_order_date(ws.sales()))
    scores = {r["customer_key"]: r["discount_score"] for r in table.to_pyarrow().to_pylist()}
    owners = ws.warehouse.duckdb.execute(
        "SELECT identifier_type, value, customer_key FROM identities"
    ).fetchall()
    key_of = {(kind, value): key for kind, value, key in owners}
    driven, score = [], []
    with paths["truth"].open(encoding="utf-8") as handle:
        for person in csv.DictReader(handle):
            kinds = ("customer_id", "email", "phone", "loyalty_id")
            keys = {key_of.get((kind, person[kind])) for kind in kinds if person[kind]} - {None}
            if person["linked"] == "true" and len(keys) == 1 and (key := keys.pop()) in scores:
                driven.append(person["discount_driven"] == "true")
                score.append(scores[key])
    return np.array(score), np.array(driven)


def test_the_score_finds_the_discount_driven_people(
    synthetic_scores: tuple[np.ndarray, np.ndarray],
) -> None:
    score, driven = synthetic_scores
    assert len(score) > 2_000 and 0.1 < driven.mean() < 0.3  # 20% are driven in the generator
    ranks = rankdata(score)
    positives, negatives = driven.sum(), (~driven).sum()
    auc = (ranks[driven].sum() - positives * (positives + 1) / 2) / (positives * negatives)
    assert auc > 0.8
    assert score[driven].mean() > 2 * score[~driven].mean()
