"""Recommendations on a hand-computed fixture, every business rule, and the synthetic backtest."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date
from typing import Any

import ibis
import numpy as np
import pytest
from scipy import sparse

from insights.support import baskets, csv_workspace, ids, keys, sample_workspace
from patron import InputError, Workspace
from patron.insights import item_similarity, ranking
from patron.insights import recommend as rec
from patron.insights.backtest import backtest
from patron.insights.item_similarity import similarity
from patron.insights.recommend import purchases, recommend

AS_OF = date(2024, 12, 31)

PRODUCTS = """sku,name,category,brand,price,in_stock
A1,Tee,Apparel,Acme,10,true
A2,Coat,Apparel,Acme,40,
S1,Boot,Shoes,Acme,50,true
B1,Novel,Books,Inkwell,5,true
B2,Atlas,Books,Inkwell,15,false
E1,Radio,Electronics,Zed,100,true
"""
ORDERS = """order_id,customer_id,ordered_at,channel,revenue,status
o1,c1,2024-03-01,web,65,
o2,c2,2024-06-01,web,10,
o3,c2,2024-12-20,web,50,
o4,c3,2024-02-01,store,15,
o5,c4,2024-04-01,store,50,
o6,c4,2024-05-01,store,100,
o7,c5,2024-07-01,app,10,
r1,c5,2024-07-05,app,-50,returned
o8,c6,2024-08-01,web,18,
o9,c5,2025-01-15,app,105,
o10,c4,2025-02-01,store,10,
o11,c7,2025-02-10,web,10,
"""
LINES = """order_id,line_id,sku,quantity,unit_price,category,brand
o1,1,A1,1,10,Apparel,Acme
o1,2,S1,1,50,Shoes,Acme
o1,3,B1,1,5,Books,Inkwell
o2,1,A1,1,10,Apparel,Acme
o3,1,S1,1,50,Shoes,Acme
o4,1,A1,1,10,Apparel,Acme
o4,2,B1,1,5,Books,Inkwell
o5,1,S1,1,50,Shoes,Acme
o6,1,E1,1,100,Electronics,Zed
o7,1,A1,1,10,Apparel,Acme
r1,1,S1,1,50,Shoes,Acme
o8,1,B2,1,15,Books,Inkwell
o8,2,X9,1,3,,
o9,1,B1,1,5,Books,Inkwell
o9,2,E1,1,100,Electronics,Zed
o10,1,A1,1,10,Apparel,Acme
o11,1,A1,1,10,Apparel,Acme
"""
# Bought by 2024-12-31 (r1 is a return, o9-o11 come later):
#   c1 {A1, S1, B1}, c2 {A1 (06-01), S1 (12-20: in the last 30 days)}, c3 {A1, B1},
#   c4 {S1, E1}, c5 {A1}, c6 {B2 (out of stock), X9 (not in the catalog)}; c7 buys in 2025 only.
# Buyers: A1 4, S1 3, B1 2, B2 = E1 = X9 = 1, A2 0: the item order is A1 S1 B1 B2 E1 X9 A2.
# Co-buyers c: A1-S1 2, A1-B1 2, S1-B1 1, S1-E1 1, B2-X9 1. With shrink 0, s_ij is the cosine
# c_ij / sqrt(n_i n_j) over its row's sum; n_i cancels, so row i is c_ij / sqrt(n_j) normalized:
#   A1: S1 2/r3, B1 2/r2 (r = square root);  S1: A1 2/2, B1 1/r2, E1 1/1;  B1: A1 2/2, S1 1/r3;
#   E1: S1 1;  B2: X9 1;  X9: B2 1.
# Eligible anywhere: A1 S1 B1 E1 A2 (B2 is out of stock, X9 is not in the catalog; A2's
# in_stock is empty: stock not tracked, so it counts as available).
R2, R3 = math.sqrt(2), math.sqrt(3)
A1_S1, A1_B1 = (2 / R3) / (2 / R3 + 2 / R2), (2 / R2) / (2 / R3 + 2 / R2)
S1_A1, S1_B1 = 1 / (2 + 1 / R2), (1 / R2) / (2 + 1 / R2)  # S1 -> E1 = S1 -> A1
SETS = {"c1": "A1 S1 B1", "c2": "A1 S1", "c3": "A1 B1", "c4": "S1 E1", "c5": "A1", "c6": "B2 X9"}


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    folder = tmp_path_factory.mktemp("recommend")
    return csv_workspace(folder, {"products": PRODUCTS, "orders": ORDERS, "lines": LINES})


def lists(ws: Workspace, table: ibis.Table) -> dict[str, list[tuple[str, float, str]]]:
    """customer_id -> [(sku, score, reason)] in rank order."""
    name = ids(ws)
    out: dict[str, list[tuple[str, float, str]]] = {}
    for r in table.to_pyarrow().to_pylist():
        out.setdefault(name[r["customer_key"]], []).append((r["sku"], r["score"], r["reason"]))
    return out


def skus(ws: Workspace, **options: Any) -> dict[str, list[str]]:
    table = recommend(baskets(ws), AS_OF, shrink=0, **options)
    return {c: [sku for sku, _, _ in top] for c, top in lists(ws, table).items()}


def test_similarity_by_hand(shop: Workspace) -> None:
    p = purchases(baskets(shop), AS_OF)
    assert p.items.sku.to_pylist() == ["A1", "S1", "B1", "B2", "E1", "X9", "A2"]
    at = {sku: i for i, sku in enumerate(p.items.sku.to_pylist())}
    s = similarity(p, shrink=0).toarray()
    expected = {
        ("A1", "S1"): A1_S1,
        ("A1", "B1"): A1_B1,
        ("S1", "A1"): S1_A1,
        ("S1", "B1"): S1_B1,
        ("S1", "E1"): S1_A1,
        ("B1", "A1"): 1 / (1 + 1 / R3),
        ("B1", "S1"): (1 / R3) / (1 + 1 / R3),
        ("E1", "S1"): 1.0,
        ("B2", "X9"): 1.0,
        ("X9", "B2"): 1.0,
    }
    got = {(i, j): s[at[i], at[j]] for i in at for j in at if s[at[i], at[j]]}
    assert got == pytest.approx(expected)  # and no other pair: s_ii = 0, A2 alone


def test_shrunk_similarity_matches_an_independent_numpy_computation(shop: Workspace) -> None:
    p = purchases(baskets(shop), AS_OF)
    order = p.items.sku.to_pylist()
    x = np.array([[sku in SETS[c].split() for sku in order] for c in sorted(SETS)], dtype=float)
    co = x.T @ x
    n = np.diag(co).copy()
    np.fill_diagonal(co, 0)
    cosine = np.divide(co, np.sqrt(np.outer(n, n)), out=np.zeros_like(co), where=co > 0)
    w = cosine * co / (co + 2.0)
    total = w.sum(axis=1, keepdims=True)
    expected = np.divide(w, total, out=np.zeros_like(w), where=total > 0)
    got = similarity(p, shrink=2.0).toarray()
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    # S1 -> B1: the cosines of A1, B1, E1 are 2/r12, 1/r6, 1/r3, shrunk by 2/4, 1/3, 1/3.
    w = [2 / math.sqrt(12) / 2, 1 / math.sqrt(6) / 3, 1 / R3 / 3]
    assert got[order.index("S1"), order.index("B1")] == pytest.approx(w[1] / sum(w))


def test_top_k_scores_reasons_and_popularity_ties_by_hand(shop: Workspace) -> None:
    got = lists(shop, recommend(baskets(shop), AS_OF, k=3, shrink=0, recent_days=0))
    # c2 {A1, S1}: B1 = A1 -> B1 + S1 -> B1, most from A1 (the Tee); S1 = A1 -> S1; A1 and E1
    # tie at S1 -> A1 = S1 -> E1: the tie goes to the more popular A1.
    assert got["c2"] == [
        ("B1", pytest.approx(A1_B1 + S1_B1, abs=1e-6), "bought with Tee"),
        ("S1", pytest.approx(A1_S1, abs=1e-6), "bought with Tee"),
        ("A1", pytest.approx(S1_A1, abs=1e-6), "bought with Boot"),
    ]
    # c4 {S1, E1}: S1 = E1 -> S1 = 1 (from the Radio), then the A1 = E1 tie, A1 more popular.
    assert [sku for sku, _, _ in got["c4"]] == ["S1", "A1", "E1"]
    assert got["c4"][0] == ("S1", 1.0, "bought with Radio")
    # c5 {A1}: B1 then S1, then A1 itself with score 0: popularity.
    assert got["c5"] == [
        ("B1", pytest.approx(A1_B1, abs=1e-6), "bought with Tee"),
        ("S1", pytest.approx(A1_S1, abs=1e-6), "bought with Tee"),
        ("A1", 0.0, "popular"),
    ]


def test_out_of_stock_and_off_catalog_items_are_never_offered(shop: Workspace) -> None:
    # c6's best scores are B2 and X9 (1 each); neither can be offered, so c6 gets popularity.
    got = lists(shop, recommend(baskets(shop), AS_OF, k=3, shrink=0, recent_days=0))
    assert got["c6"] == [("A1", 0.0, "popular"), ("S1", 0.0, "popular"), ("B1", 0.0, "popular")]
    every = recommend(baskets(shop), AS_OF, k=7, recent_days=0).to_pyarrow()
    assert {"B2", "X9"}.isdisjoint(every["sku"].to_pylist())
    assert "A2" in every["sku"].to_pylist()  # in_stock not given: stock is not tracked


def test_items_bought_in_the_last_days_are_left_out(shop: Workspace) -> None:
    # c2 bought S1 on 12-20, 11 days before: out with the default 30 days, E1 comes in; A1
    # (bought 06-01) stays. The last N days are the N days ending on A: 12 reach back to
    # 12-20, 11 only to 12-21, so S1 is back.
    assert skus(shop, k=3)["c2"] == ["B1", "A1", "E1"]
    assert skus(shop, k=3, recent_days=12)["c2"] == ["B1", "A1", "E1"]
    assert skus(shop, k=3, recent_days=11)["c2"] == ["B1", "S1", "A1"]
    assert skus(shop, k=3, recent_days=300)["c2"] == ["B1", "E1", "A2"]


def test_excluded_categories_are_left_out(shop: Workspace) -> None:
    assert skus(shop, k=3, recent_days=0, exclude_categories=["Books"])["c2"] == ["S1", "A1", "E1"]
    with pytest.raises(InputError, match="did you mean 'Books'"):
        recommend(baskets(shop), AS_OF, exclude_categories=["Bokks"])


def test_popularity_baseline_follows_the_same_rules(shop: Workspace) -> None:
    top = skus(shop, k=3, popularity=True)
    assert top["c5"] == ["A1", "S1", "B1"]  # A1 is theirs, bought long ago: it may come back
    assert top["c2"] == ["A1", "B1", "E1"]  # S1 was bought 11 days ago
    assert top["c6"] == ["A1", "S1", "B1"]
    table = recommend(baskets(shop), AS_OF, k=3, popularity=True).to_pyarrow()
    assert set(table["reason"].to_pylist()) == {"popular"}


def test_given_customers_and_customers_without_purchases(shop: Workspace) -> None:
    key = keys(shop)
    wanted = ibis.memtable({"customer_key": [key["c7"], key["c5"]]})
    table = recommend(baskets(shop), AS_OF, customers=wanted, k=2, recent_days=0)
    got = lists(shop, table)
    assert set(got) == {"c5", "c7"}
    assert got["c7"] == [("A1", 0.0, "popular"), ("S1", 0.0, "popular")]  # no purchase by A
    assert table.to_pyarrow().column_names == [
        "customer_key",
        "rank",
        "sku",
        "name",
        "category",
        "score",
        "because_sku",
        "reason",
    ]
    with pytest.raises(InputError, match="customer_key"):
        recommend(baskets(shop), AS_OF, customers=ibis.memtable({"id": [1]}))


def test_returns_and_later_purchases_are_not_purchases(shop: Workspace) -> None:
    p = purchases(baskets(shop), AS_OF)
    # c5 returned S1 (r1) and bought B1 and E1 in 2025: their row still holds A1 alone.
    row = int(np.searchsorted(p.customers, keys(shop)["c5"]))
    assert [p.items.sku[i].as_py() for i in p.bought[[row]].indices] == ["A1"]
    assert keys(shop)["c7"] not in p.customers


def test_results_do_not_depend_on_chunking(
    shop: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = recommend(baskets(shop), AS_OF, k=4).to_pyarrow()
    monkeypatch.setattr(ranking, "CHUNK_CELLS", 8)  # one customer per chunk
    assert recommend(baskets(shop), AS_OF, k=4).to_pyarrow().equals(whole)
    monkeypatch.setattr(item_similarity, "DENSE_ITEMS", 0)  # similarity kept sparse
    assert recommend(baskets(shop), AS_OF, k=4).to_pyarrow().equals(whole)


def test_backtest_by_hand(shop: Workspace) -> None:
    result = backtest(baskets(shop), date(2025, 3, 31), split=AS_OF, k=2, recent_days=0, shrink=0)
    # Holdout: c5 {B1, E1}, c4 {A1}; c7 bought nothing before the split. Model: c5 gets B1, S1
    # (1 hit), c4 gets S1, A1 (1 hit). Popularity: A1, S1 for both: c4's A1 is its only hit.
    assert (result["customers"], result["holdout_items"], result["k"]) == (2, 3, 2)
    assert result["model"] == {
        "precision": 0.5,
        "recall": 0.75,
        "hit_rate": 1.0,
        "hits": 2,
        "customers_hit": 2,
    }
    assert result["popularity"] == {
        "precision": 0.25,
        "recall": 0.5,
        "hit_rate": 0.5,
        "hits": 1,
        "customers_hit": 1,
    }
    assert result["split"] == "2024-12-31"


def test_bad_options_say_what_to_do(shop: Workspace) -> None:
    for options in ({"k": 0}, {"recent_days": -1}, {"shrink": -1.0}):
        with pytest.raises(InputError):
            recommend(baskets(shop), AS_OF, **options)
    with pytest.raises(InputError, match="before the as-of day"):
        backtest(baskets(shop), AS_OF, split=AS_OF)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    ws, _ = sample_workspace(tmp_path_factory.mktemp("sample"), customers=3_000, seed=3)
    return ws


Pick = tuple[int, int, float, int, int]
"""(row, item, score, rank, because) of one recommendation."""


def picks(top: ranking.Ranked) -> list[Pick]:
    columns = (top.at, top.item, top.score, top.rank, top.because)
    return [
        (int(r), int(i), float(s), int(n), int(b)) for r, i, s, n, b in zip(*columns, strict=True)
    ]


def full_sort(
    p: rec.Purchases, sim: Any, rows: np.ndarray, k: int, allowed: Callable[..., Any]
) -> list[Pick]:
    """The ranking by brute force: every allowed item's float64 score (the sparse product
    over the whole similarity), sorted by score, then index; reasons by a plain argmax."""
    x = p.bought[rows].astype(np.float64)
    weights = np.zeros((x.shape[1],) * 2) if sim is None else sim.toarray()
    scores, ok = x @ weights, allowed(rows)
    out: list[Pick] = []
    for row in range(rows.size):
        items = np.flatnonzero(ok[row])
        best = items[np.lexsort((items, -scores[row, items]))][:k]
        bought = x[[row]].indices
        for place, item in enumerate(best):
            why = bought[np.argmax(weights[bought, item])] if scores[row, item] > 0 else -1
            out.append((row, int(item), float(scores[row, item]), place + 1, int(why)))
    return out


def test_fast_ranking_gives_what_a_full_sort_gives(
    sample: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The ranking screens scores in float32, scores only the candidates exactly and fills
    # short lists (and the popularity baseline) with the first allowed items: a full float64
    # sort of every row must give the same picks, scores, ranks and reasons. A thinned rule
    # leaves many rows fewer than k positive scores.
    monkeypatch.setattr(ranking, "CHUNK_CELLS", 200_000)  # several chunks, on several threads
    p = purchases(baskets(sample), sample.as_of())
    sim = similarity(p)
    rules = rec.eligible(p, sample.as_of(), recent_days=60, exclude_categories=())
    thin = np.random.default_rng(1).random(p.bought.shape) < 0.1
    rows = np.arange(p.customers.size)
    for allowed in (rules, lambda r: rules(r) & thin[r]):
        for k in (1, 3, 10):
            for weights in (sim, None):
                expected = full_sort(p, weights, rows, k, allowed)
                assert picks(ranking.rank(p, weights, rows, k, allowed)) == expected


def rank_one(
    p: rec.Purchases, bought: list[int], weights: dict[tuple[int, int], float], k: int
) -> list[Pick]:
    """The top k of one customer who bought ``bought``, under the similarity ``weights``."""
    m = len(p.items.sku)
    sim = np.zeros((m, m))
    for (i, j), w in weights.items():
        sim[i, j] = w
    x = sparse.csr_array(([True] * len(bought), bought, [0, len(bought)]), shape=(1, m))
    one = rec.Purchases(p.customers[:1], p.items, x, x, x)
    everything = np.ones((1, m), dtype=bool)
    return picks(ranking.rank(one, sparse.csr_array(sim), np.arange(1), k, lambda r: everything))


def test_scores_float32_cannot_tell_apart_rank_as_in_float64(shop: Workspace) -> None:
    p = purchases(baskets(shop), AS_OF)
    # Item 0 bought: items 1 and 2 score 0.3 and 0.3 + 1e-12, one float32; items 3 and 4
    # 0.2 each, a true tie: the lower index first.
    assert np.float32(0.3) == np.float32(0.3 + 1e-12)
    weights = {(0, 1): 0.3, (0, 2): 0.3 + 1e-12, (0, 3): 0.2, (0, 4): 0.2}
    assert rank_one(p, [0], weights, 4) == [
        (0, 2, 0.3 + 1e-12, 1, 0),
        (0, 1, 0.3, 2, 0),
        (0, 3, 0.2, 3, 0),
        (0, 4, 0.2, 4, 0),
    ]
    # Items 0 and 3 bought: item 1 scores 1e-12 more than item 2 in float64, but its float32
    # sum is the smaller; the screen's slack must keep it a candidate.
    a0, a3, b0, b3 = (
        0.1485835358831789,
        0.18894878343490004,
        0.1494516229150914,
        0.18808069640198755,
    )
    f32 = np.float32
    assert a0 + a3 > b0 + b3 and f32(f32(a0) + f32(a3)) < f32(f32(b0) + f32(b3))
    weights = {(0, 1): a0, (3, 1): a3, (0, 2): b0, (3, 2): b3}
    assert rank_one(p, [0, 3], weights, 1) == [(0, 1, a0 + a3, 1, 3)]


def test_backtest_beats_popularity_on_the_synthetic_sample(sample: Workspace) -> None:
    # The generator plants each person's category mix: items bought with theirs say which
    # categories they will buy from next, where popularity only knows what sells overall.
    result = backtest(baskets(sample), sample.as_of())
    model, popular = result["model"], result["popularity"]
    assert result["customers"] > 200
    assert model["precision"] > 1.1 * popular["precision"]
    assert model["hit_rate"] > popular["hit_rate"]
    assert model["recall"] > popular["recall"]


def test_recommendations_are_deterministic(sample: Workspace) -> None:
    first = recommend(baskets(sample), sample.as_of()).to_pyarrow()
    assert recommend(baskets(sample), sample.as_of()).to_pyarrow().equals(first)
