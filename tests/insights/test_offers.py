"""Challenge offers on a hand-computed fixture: anchors, stretch items, rules, fallbacks."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import ibis
import pytest

from insights.support import baskets, by_id, csv_workspace, keys, sample_workspace
from patron import InputError, Workspace
from patron.insights.offers import NO_STRETCH, offers

AS_OF = date(2024, 12, 31)

PRODUCTS = """sku,name,category,brand,price,in_stock
G1,Coffee,Grocery,Bean,10,true
G2,Tea,Grocery,Leaf,6,true
Y1,Cream,Beauty,Glow,20,true
Y2,Serum,Beauty,Glow,40,false
E1,Radio,Electronics,Zed,100,false
E2,Lamp,Electronics,Zed,60,true
B1,Novel,Books,Ink,4,true
T1,Robot,Toys,Kite,30,true
"""
ORDERS = """order_id,customer_id,ordered_at,channel,revenue,status
p1,d1,2024-03-01,web,20,
p2,d1,2024-06-01,web,36,
p3,d1,2024-09-01,web,20,
p4,d1,2024-12-20,web,10,
p5,d2,2024-04-01,web,34,
p6,d3,2024-05-01,web,50,
p7,d4,2024-02-01,web,40,
p8,d4,2024-03-01,web,140,
p9,d5,2024-04-01,web,100,
p10,d6,2024-05-01,web,160,
p11,d7,2024-07-01,web,26,
p12,d7,2024-08-01,web,26,
"""
LINES = """order_id,line_id,sku,quantity,unit_price,category,brand
p1,1,G1,1,10,Grocery,Bean
p1,2,G2,1,6,Grocery,Leaf
p1,3,B1,1,4,Books,Ink
p2,1,G1,1,10,Grocery,Bean
p2,2,G2,1,6,Grocery,Leaf
p2,3,Y1,1,20,Beauty,Glow
p3,1,Y1,1,20,Beauty,Glow
p4,1,G1,1,10,Grocery,Bean
p5,1,B1,1,4,Books,Ink
p5,2,T1,1,30,Toys,Kite
p6,1,Y1,1,20,Beauty,Glow
p6,2,T1,1,30,Toys,Kite
p7,1,Y2,1,40,Beauty,Glow
p8,1,Y2,1,40,Beauty,Glow
p8,2,E1,1,100,Electronics,Zed
p9,1,E1,1,100,Electronics,Zed
p10,1,E1,1,100,Electronics,Zed
p10,2,E2,1,60,Electronics,Zed
p11,1,G2,1,6,Grocery,Leaf
p11,2,Y1,1,20,Beauty,Glow
p12,1,G2,1,6,Grocery,Leaf
p12,2,Y1,1,20,Beauty,Glow
"""
# Days bought: d1 G1 3 (last 12-20), G2 2 (last 06-01), Y1 2 (last 09-01), B1 1; d2 {B1, T1};
# d3 {Y1, T1}; d4 Y2 2 (out of stock), E1 1; d5 {E1}; d6 {E1, E2}; d7 G2 2, Y1 2 (same days).
# Category values (mean catalog price): Grocery 8, Beauty 30, Electronics 80, Books 4, Toys 30.
# Buyers: G1 1, G2 2, Y1 3, B1 2, T1 2, Y2 1, E1 3, E2 1. With shrink 0 row i of the similarity
# is c_ij / sqrt(n_j) normalized (see test_recommend); the rows that matter here:
#   Y1: G1 1/1, G2 2/r2, B1 1/r2, T1 1/r2 (sum 1 + 2 r2);  B1: G1 1, G2 1/r2, Y1 1/r3, T1 1/r2;
#   T1: B1 1/r2, Y1 1/r3.  (r = square root)
R2, R3 = math.sqrt(2), math.sqrt(3)
Y1_T1 = (1 / R2) / (1 + 2 * R2)
B1_T1, B1_Y1 = (1 / R2) / (1 + R2 + 1 / R3), (1 / R3) / (1 + R2 + 1 / R3)
T1_Y1 = (1 / R3) / (1 / R2 + 1 / R3)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    folder = tmp_path_factory.mktemp("offers")
    return csv_workspace(folder, {"products": PRODUCTS, "orders": ORDERS, "lines": LINES})


def by_customer(ws: Workspace, **options: Any) -> dict[str, dict[str, Any]]:
    return by_id(ws, offers(baskets(ws), AS_OF, shrink=0, **options))


def test_anchors_stretch_and_reason_by_hand(shop: Workspace) -> None:
    d1 = by_customer(shop)["d1"]
    # Anchors: G1 (3 days; its last one 11 days ago does not matter), then Y1 over G2 (both 2
    # days, Y1 bought more recently). Usual value (3 x 8 + 2 x 8 + 2 x 30 + 4) / 8 = 13.
    # Stretch among never-bought, dearer Toys (30) and Electronics (80; E1 is out of stock):
    # T1 = B1 -> T1 + Y1 -> T1, most from the Novel; E2 scores 0.
    assert d1 == {
        "customer_key": keys(shop)["d1"],
        "anchor_1": "G1",
        "anchor_1_purchases": 3,
        "anchor_2": "Y1",
        "anchor_2_purchases": 2,
        "usual_value": 13.0,
        "stretch_sku": "T1",
        "stretch_category": "Toys",
        "stretch_value": 30.0,
        "stretch_score": pytest.approx(B1_T1 + Y1_T1, abs=1e-6),
        "reason": "new Toys, bought with Novel",
    }


def test_anchor_ties_go_to_the_more_popular_item(shop: Workspace) -> None:
    d7 = by_customer(shop)["d7"]
    # G2 and Y1 on the same two days: Y1 has 3 buyers, G2 2. Usual (2 x 8 + 2 x 30) / 4 = 19;
    # the stretch is T1 (Y1 -> T1; G2 was never bought with it) over E2 (0).
    assert (d7["anchor_1"], d7["anchor_2"]) == ("Y1", "G2")
    assert (d7["stretch_sku"], d7["stretch_score"]) == ("T1", pytest.approx(Y1_T1, abs=1e-6))
    assert d7["reason"] == "new Toys, bought with Cream"


def test_customers_without_repeats_get_fewer_anchors(shop: Workspace) -> None:
    got = by_customer(shop)
    # d2 bought B1 and T1 once each: no anchor. Usual (4 + 30) / 2 = 17: Beauty (30) and
    # Electronics (80) are new and dearer; Y1 = B1 -> Y1 + T1 -> Y1, most from T1.
    d2 = got["d2"]
    assert (d2["anchor_1"], d2["anchor_1_purchases"], d2["anchor_2"]) == (None, None, None)
    assert (d2["stretch_sku"], d2["stretch_score"]) == (
        "Y1",
        pytest.approx(B1_Y1 + T1_Y1, abs=1e-6),
    )
    assert d2["reason"] == "new Beauty, bought with Robot"
    # d3 {Y1, T1}: usual 30; only Electronics is dearer; E1 is out of stock, E2 scores 0.
    assert (got["d3"]["stretch_sku"], got["d3"]["reason"]) == ("E2", "new Electronics, popular")


def test_out_of_stock_items_are_neither_anchors_nor_stretch(shop: Workspace) -> None:
    d4 = by_customer(shop)["d4"]
    # Y2 was bought on two days but is out of stock; E1 once. Usual (2 x 30 + 80) / 3 = 46.67:
    # no category they never bought (Grocery 8, Books 4, Toys 30) is dearer.
    assert d4["anchor_1"] is None
    assert d4["usual_value"] == pytest.approx(46.67)
    assert (d4["stretch_sku"], d4["stretch_value"], d4["stretch_score"]) == (None, None, None)
    assert d4["reason"] == NO_STRETCH
    assert all(r["stretch_sku"] not in ("Y2", "E1") for r in by_customer(shop).values())


def test_excluded_categories_and_stock_pick_the_next_stretch(shop: Workspace) -> None:
    d1 = by_customer(shop, exclude_categories=["Toys"])["d1"]
    # Without Toys the stretch comes from Electronics: E1 is the popular one but out of stock.
    assert (d1["stretch_sku"], d1["stretch_score"], d1["reason"]) == (
        "E2",
        0.0,
        "new Electronics, popular",
    )
    grocery = by_customer(shop, exclude_categories=["Grocery"])["d1"]
    assert (grocery["anchor_1"], grocery["anchor_2"]) == ("Y1", None)  # G1 and G2 excluded
    with pytest.raises(InputError, match="did you mean 'Toys'"):
        offers(baskets(shop), AS_OF, exclude_categories=["Toyz"])


def test_one_row_per_buyer_or_per_given_customer(shop: Workspace) -> None:
    assert set(by_customer(shop)) == {f"d{i}" for i in range(1, 8)}
    wanted = ibis.memtable({"customer_key": [keys(shop)["d2"]]})
    table = offers(baskets(shop), AS_OF, customers=wanted).to_pyarrow()
    assert table["customer_key"].to_pylist() == [keys(shop)["d2"]]


def test_offers_are_deterministic(shop: Workspace) -> None:
    first = offers(baskets(shop), AS_OF).to_pyarrow()
    assert offers(baskets(shop), AS_OF).to_pyarrow().equals(first)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    ws, _ = sample_workspace(tmp_path_factory.mktemp("sample"), customers=1_000, seed=5)
    return ws


def test_every_offer_keeps_its_promises_on_the_synthetic_sample(sample: Workspace) -> None:
    as_of = sample.as_of()
    rows = offers(baskets(sample), as_of).to_pyarrow().to_pylist()
    history = sample.warehouse.duckdb.execute(
        """SELECT o.customer_key, l.sku, p.category, count(DISTINCT o.order_date) AS days
        FROM order_lines l JOIN orders o USING (order_id) JOIN products p USING (sku)
        WHERE NOT o.is_return AND o.customer_key IS NOT NULL GROUP BY ALL"""
    ).fetchall()
    bought: dict[int, dict[str, int]] = {}
    categories: dict[int, set[str]] = {}
    for key, sku, category, days in history:
        bought.setdefault(key, {})[sku] = days
        categories.setdefault(key, set()).add(category)
    stock = dict(sample.warehouse.duckdb.execute("SELECT sku, in_stock FROM products").fetchall())
    assert len(rows) == len(bought)
    stretched = anchored = 0
    for r in rows:
        mine = bought[r["customer_key"]]
        for slot in ("anchor_1", "anchor_2"):
            if r[slot] is not None:
                assert mine[r[slot]] == r[f"{slot}_purchases"] >= 2
                assert stock[r[slot]] is not False
        assert r["anchor_2"] is None or r["anchor_1"] not in (None, r["anchor_2"])
        if r["stretch_sku"] is not None:
            stretched += 1
            assert r["stretch_category"] not in categories[r["customer_key"]]
            assert r["stretch_value"] >= r["usual_value"]  # rounded to cents
            assert stock[r["stretch_sku"]] is not False
        anchored += r["anchor_1"] is not None
    assert stretched > 0.5 * len(rows)
    assert anchored > 0.1 * len(rows)
