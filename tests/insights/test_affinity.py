"""Affinity insights on hand-computed fixtures, invariants, and recovery of planted affinities."""

from __future__ import annotations

import csv
from datetime import date
from typing import Any

import ibis
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.proportion import proportion_confint

from insights.support import baskets, by_id, csv_workspace, keys, sample_workspace, segments
from patron import InputError, Workspace
from patron.insights.affinity import (
    Baskets,
    concentration,
    customer_affinity,
    gateways,
    group_affinity,
    repeat_affinity,
    shrunk_lift,
)
from patron.metrics.occasions import Sales

AS_OF = date(2024, 12, 31)

PRODUCTS = """sku,name,category,brand,price
A1,Tee,Apparel,Acme,10
A2,Coat,Apparel,Zed,20
S1,Boot,Shoes,Acme,50
B1,Novel,Books,Inkwell,5
T1,Robot,Toys,Zed,8
"""
# T1 (Toys) is never bought; X9 is in no catalog and its line has no category: left out.
ORDERS = """order_id,customer_id,ordered_at,channel,revenue,status
o1,c1,2024-01-10,web,60,
o2,c1,2024-03-01,web,20,
o3,c1,2024-06-01,web,20,
o4,c2,2024-01-20,store,50,
o5,c2,2024-02-10,store,55,
o6,c3,2024-02-01,web,15,
o7,c4,2024-05-01,app,8,
r1,c4,2024-05-05,app,-50,returned
o8,c5,2024-12-01,store,20,
o9,c5,2025-01-15,store,50,
o10,c6,2024-04-01,web,30,
"""
LINES = """order_id,line_id,sku,quantity,unit_price,category,brand
o1,1,A1,1,10,Apparel,Acme
o1,2,S1,1,50,Shoes,Acme
o2,1,A1,2,10,Apparel,Acme
o3,1,A2,1,20,Apparel,Zed
o4,1,S1,1,50,Shoes,Acme
o5,1,S1,1,50,Shoes,Acme
o5,2,B1,1,5,Books,Inkwell
o6,1,A1,1,10,,
o6,2,B1,1,5,Books,Inkwell
o7,1,B1,1,5,Books,Inkwell
o7,2,X9,1,3,,
r1,1,S1,1,50,Shoes,Acme
o8,1,A2,1,20,Apparel,Zed
o9,1,S1,1,50,Shoes,Acme
"""
# Purchase lines by 2024-12-31 (r1 is a return, o9 is after the day, o10 has no lines, o6's A1
# takes Apparel/Acme from the catalog), as (occasion: items):
#   c1: 01-10 Apparel+Shoes, 03-01 Apparel, 06-01 Apparel   (3 occasions, 4 lines)
#   c2: 01-20 Shoes, 02-10 Shoes+Books                      (2 occasions, 3 lines)
#   c3: 02-01 Apparel+Books;  c4: 05-01 Books;  c5: 12-01 Apparel   (1 occasion each)
#   c6 bought (o10) but no lines: not a buyer. Buyers N = 5.
# Occasion shares f: c1 Apparel 1, Shoes 1/3; c2 Shoes 1, Books 1/2; c3 Apparel 1, Books 1;
# c4 Books 1; c5 Apparel 1. Base shares: Apparel 3/5, Shoes (1/3 + 1)/5 = 4/15, Books 5/2/5 = 1/2.
GROUPS = {"c1": "loyal", "c2": "loyal", "c3": "new", "c4": "new", "c5": "solo", "c6": "ghost"}


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    folder = tmp_path_factory.mktemp("affinity")
    return csv_workspace(folder, {"products": PRODUCTS, "orders": ORDERS, "lines": LINES})


def cells(rows: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["group"], r["item"]): r for r in rows}


def test_group_lift_support_shrinkage_and_rank_by_hand(shop: Workspace) -> None:
    rows = group_affinity(
        baskets(shop), segments(shop, GROUPS), "segment", AS_OF, min_support=1, prior=2
    )
    got = cells(rows)
    # loyal (c1, c2; 2 buyers): Shoes hits 1/3 + 1 = 4/3, share 2/3, lift (2/3) / (4/15) = 2.5,
    # shrunk (4/3 + 2 * 4/15) / ((2 + 2) * 4/15) = (28/15) / (16/15) = 1.75.
    shoes = got[("loyal", "Shoes")]
    assert (shoes["support"], shoes["buyers"]) == (2, 2)
    assert shoes["share"] == pytest.approx(2 / 3, abs=1e-6)
    assert shoes["base_share"] == pytest.approx(4 / 15, abs=1e-6)
    assert shoes["lift"] == pytest.approx(2.5)
    assert shoes["shrunk_lift"] == pytest.approx(1.75)
    # loyal Apparel: share 1/2, lift 5/6, shrunk (1 + 1.2) / (4 * 0.6) = 11/12;
    # loyal Books: share 1/4, lift 1/2, shrunk (1/2 + 1) / (4 * 1/2) = 3/4.
    assert got[("loyal", "Apparel")]["shrunk_lift"] == pytest.approx(11 / 12, abs=1e-6)
    assert got[("loyal", "Books")]["lift"] == pytest.approx(0.5)
    assert got[("loyal", "Books")]["shrunk_lift"] == pytest.approx(0.75)
    # new (c3, c4): Books hits 2, share 1, lift 2, shrunk (2 + 1) / (4 * 1/2) = 1.5;
    # Apparel hits 1, shrunk 11/12.
    assert got[("new", "Books")]["shrunk_lift"] == pytest.approx(1.5)
    ranks = {(r["group"], r["rank"]): r["item"] for r in rows}
    assert [ranks[("loyal", k)] for k in (1, 2, 3)] == ["Shoes", "Apparel", "Books"]
    assert [ranks[("new", k)] for k in (1, 2)] == ["Books", "Apparel"]


def test_a_one_buyer_group_is_shrunk_below_real_evidence(shop: Workspace) -> None:
    rows = group_affinity(
        baskets(shop), segments(shop, GROUPS), "segment", AS_OF, min_support=1, prior=2
    )
    solo = cells(rows)[("solo", "Apparel")]
    # c5 alone: share 1, raw lift 1 / 0.6 = 5/3; shrunk (1 + 1.2) / (3 * 0.6) = 11/9, below new's
    # Books (raw lift 2, shrunk 1.5 from two buyers): one buyer is little evidence.
    assert (solo["support"], solo["buyers"], solo["rank"]) == (1, 1, 1)
    assert solo["lift"] == pytest.approx(5 / 3, abs=1e-6)
    assert solo["shrunk_lift"] == pytest.approx(11 / 9, abs=1e-6)
    # The minimum support rule drops it (and every cell below 2 buyers) altogether.
    strict = cells(
        group_affinity(baskets(shop), segments(shop, GROUPS), "segment", AS_OF, min_support=2)
    )
    assert set(strict) == {("loyal", "Shoes"), ("new", "Books")}


def test_no_rows_for_unbought_items_groups_without_buyers_or_below_top(shop: Workspace) -> None:
    rows = group_affinity(
        baskets(shop), segments(shop, GROUPS), "segment", AS_OF, min_support=1, top=1
    )
    assert {r["group"] for r in rows} == {"loyal", "new", "solo"}  # ghost (c6) has no lines
    assert all(r["rank"] == 1 for r in rows)
    every = group_affinity(baskets(shop), segments(shop, GROUPS), "segment", AS_OF, min_support=1)
    assert "Toys" not in {r["item"] for r in every}


def test_the_whole_population_has_lift_one(shop: Workspace) -> None:
    everyone = shop.table("customers").mutate(all=ibis.literal("all"))
    rows = group_affinity(baskets(shop), everyone, "all", AS_OF, min_support=1)
    assert {r["item"]: r["buyers"] for r in rows} == {"Apparel": 5, "Shoes": 5, "Books": 5}
    assert all(r["lift"] == pytest.approx(1) == r["shrunk_lift"] for r in rows)


def test_customer_top_items_with_a_given_prior_by_hand(shop: Workspace) -> None:
    # Lines: Apparel 5, Shoes 3, Books 3 of 11: mix 5/11, 3/11, 3/11. Prior a = 2 lines.
    table = customer_affinity(baskets(shop), AS_OF, prior=2)
    rows = by_id(shop, table)
    assert set(rows) == {"c1", "c2", "c3", "c4", "c5"}  # c6 has no lines
    # c1: Apparel (3 + 10/11) / (4 + 2) = 43/66, Shoes (1 + 6/11) / 6 = 17/66.
    assert rows["c1"]["top_categories"] == "Apparel, Shoes"
    assert rows["c1"]["top_category"] == "Apparel"
    assert rows["c1"]["category_affinity"] == pytest.approx(43 / 66, abs=1e-6)
    # c2: Shoes (2 + 6/11) / 5 = 28/55 over Books 17/55.
    assert (rows["c2"]["top_categories"], rows["c2"]["category_affinity"]) == (
        "Shoes, Books",
        pytest.approx(28 / 55, abs=1e-6),
    )
    # c3 bought one Apparel and one Books line: the tie goes to the more popular Apparel,
    # (1 + 10/11) / 4 = 21/44, under 1/2: no confident favourite from one order.
    assert rows["c3"]["top_categories"] == "Apparel, Books"
    assert rows["c3"]["category_affinity"] == pytest.approx(21 / 44, abs=1e-6)
    # c4's return of Shoes never counts; its X9 line has no category.
    assert rows["c4"]["top_categories"] == "Books"
    assert rows["c4"]["category_affinity"] == pytest.approx(17 / 33, abs=1e-6)
    # c5's Shoes on 2025-01-15 is after the day.
    assert rows["c5"]["top_categories"] == "Apparel"
    top1 = customer_affinity(baskets(shop), AS_OF, prior=2, top=1).to_pyarrow().to_pylist()
    assert {r["top_categories"] for r in top1} <= {"Apparel", "Shoes", "Books"}


def test_estimated_prior_by_hand(shop: Workspace) -> None:
    # Same-item line pairs: c1 Apparel 3*2 + c2 Shoes 2*1 = 8; all pairs: c1 4*3 + c2 3*2 +
    # c3 2*1 = 20, rho = 0.4. S = (25 + 9 + 9) / 121 = 43/121. a = 0.6 / (0.4 - 43/121) = 121/9.
    assert concentration(baskets(shop), AS_OF) == pytest.approx(121 / 9)
    table = customer_affinity(baskets(shop), AS_OF)
    scores = by_id(shop, table)
    a = 121 / 9  # c5: one Apparel line, (1 + a 5/11) / (1 + a)
    assert scores["c5"]["category_affinity"] == pytest.approx((1 + a * 5 / 11) / (1 + a), abs=1e-6)


def test_brands_fall_back_to_the_catalog(shop: Workspace) -> None:
    table = customer_affinity(baskets(shop), AS_OF, by="brand", prior=2)
    rows = by_id(shop, table)
    # c3's A1 line has no brand: Acme from the catalog; Acme 6 of 11 lines beats Inkwell 3.
    assert rows["c3"]["top_brands"] == "Acme, Inkwell"
    assert rows["c3"]["top_brand"] == "Acme"
    assert "brand_affinity" in table.columns


def test_the_as_of_day_cuts_lines(shop: Workspace) -> None:
    table = customer_affinity(baskets(shop), date(2024, 3, 1), prior=0)
    rows = by_id(shop, table)
    # By 03-01: c1 (Apparel 2, Shoes 1), c2, c3; with no prior the score is the raw share.
    assert set(rows) == {"c1", "c2", "c3"}
    assert rows["c1"]["category_affinity"] == pytest.approx(2 / 3, abs=1e-6)


def test_repeat_versus_one_and_done_by_hand(shop: Workspace) -> None:
    result = repeat_affinity(baskets(shop), AS_OF, min_support=1)
    # Repeat: c1 and c2; one-and-done: c3, c4 (its return is no occasion), c5.
    assert (result["repeat_customers"], result["once_customers"]) == (2, 3)
    items = {r["item"]: r for r in result["items"]}
    assert [r["item"] for r in result["items"]] == ["Shoes", "Apparel", "Books"]
    # Shoes: repeat f = (1/3, 1): mean 2/3, variance 2/9; one-and-done none: lift infinite
    # (None); se = sqrt(2/9 / 2) = 1/3, z = 2, p = 2 (1 - Phi(2)) = 0.0455.
    shoes = items["Shoes"]
    assert (shoes["repeat_buyers"], shoes["once_buyers"], shoes["lift"]) == (2, 0, None)
    assert shoes["difference"] == pytest.approx(2 / 3, abs=1e-6)
    assert shoes["p_value"] == pytest.approx(0.0455003, abs=1e-6)
    assert shoes["difference_low"] == pytest.approx(2 / 3 - 1.959964 / 3, abs=1e-6)
    # Apparel: repeat (1, 0) mean 1/2 var 1/2; once (1, 0, 1) mean 2/3 var 1/3; lift 3/4.
    assert items["Apparel"]["lift"] == pytest.approx(0.75)
    # Books: repeat (0, 1/2) mean 1/4 var 1/8; once (1, 1, 0) mean 2/3 var 1/3: lift 3/8,
    # se = sqrt(1/16 + 1/9) = 5/12 = -difference, so z = -1 and p = 0.3173.
    assert items["Books"]["lift"] == pytest.approx(0.375)
    assert items["Books"]["p_value"] == pytest.approx(0.3173105, abs=1e-6)
    # At least 3 buyers: Shoes (2) goes.
    strict = repeat_affinity(baskets(shop), AS_OF, min_support=3)
    assert [r["item"] for r in strict["items"]] == ["Apparel", "Books"]


def test_the_api_shares_one_computation_and_answers_the_same(shop: Workspace) -> None:
    answer = shop.insights.affinity(as_of=AS_OF, min_support=1, top=None)
    b = baskets(shop)
    groups = shop.segments(as_of=AS_OF)
    assert answer["repeat"] == repeat_affinity(b, AS_OF, min_support=1)
    assert answer["groups"] == group_affinity(b, groups, "rfm_segment", AS_OF, min_support=1)
    temps = "SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE '_insight_part%'"
    assert shop.warehouse.duckdb.execute(temps).fetchall() == [(0,)]


def test_gateways_by_hand(shop: Workspace) -> None:
    result = gateways(baskets(shop), AS_OF, days=180, min_support=1)
    # Acquired by 2024-07-04: c1, c2, c3, c4, c6 (c5 came on 12-01). Second occasion within 180
    # days: c1 (day 51), c2 (day 21). Net revenue in the window: c1 60 + 20 + 20 = 100,
    # c2 105, c3 15, c4 8 - 50 refund = -42, c6 30.
    assert (result["acquired_by"], result["customers"]) == ("2024-07-04", 5)
    channels = {r["name"]: r for r in result["channels"]}
    web = channels["web"]  # c1, c3, c6: 1 of 3 repeat; values 100, 15, 30
    assert (web["customers"], web["repeaters"]) == (3, 1)
    assert (web["repeat_low"], web["repeat_high"]) == pytest.approx(
        proportion_confint(1, 3, method="wilson"), abs=1e-6
    )
    # mean 145/3; sample variance ((155/3)^2 + (100/3)^2 + (55/3)^2) / 2 = 6175/3
    half = 1.959964 * (6175 / 3 / 3) ** 0.5
    assert web["avg_revenue"] == pytest.approx(145 / 3, abs=1e-6)
    assert web["revenue_low"] == pytest.approx(145 / 3 - half, abs=1e-5)
    assert channels["app"]["avg_revenue"] == pytest.approx(-42)
    assert channels["app"]["revenue_low"] is None  # one customer: no interval
    # By the Wilson lower ends: store 1/1 (0.21) > web 1/3 (0.06) > app 0/1 (0).
    assert [r["name"] for r in result["channels"]] == ["store", "web", "app"]
    assert [channels[c]["revenue_rank"] for c in ("web", "app", "store")] == [1, 2, 3]
    items = {r["name"]: r for r in result["items"]}
    # First occasions: c1 Apparel+Shoes, c2 Shoes, c3 Apparel+Books, c4 Books; c6 none.
    assert {k: (r["customers"], r["repeaters"]) for k, r in items.items()} == {
        "Apparel": (2, 1),
        "Shoes": (2, 2),
        "Books": (2, 0),
    }
    assert items["Shoes"]["avg_revenue"] == pytest.approx(102.5)
    assert items["Books"]["avg_revenue"] == pytest.approx(-13.5)
    assert [r["name"] for r in result["items"]] == ["Shoes", "Apparel", "Books"]
    assert [items[c]["revenue_rank"] for c in ("Shoes", "Apparel", "Books")] == [1, 2, 3]
    assert [r["name"] for r in gateways(baskets(shop), AS_OF, days=180)["channels"]] == []


def test_gateways_with_predicted_clv(shop: Workspace) -> None:
    key = keys(shop)
    clv = {"c1": 40.0, "c3": 10.0, "c4": 7.0, "c2": 90.0}  # c6 has none: it counts as 0
    predictions = ibis.memtable({"customer_key": [key[c] for c in clv], "clv": list(clv.values())})
    result = gateways(baskets(shop), AS_OF, days=180, min_support=1, predictions=predictions)
    channels = {r["name"]: r for r in result["channels"]}
    web = channels["web"]  # c1, c3, c6: 40, 10, 0
    assert web["avg_clv"] == pytest.approx(50 / 3, abs=1e-6)
    # sample variance ((70/3)^2 + (20/3)^2 + (50/3)^2) / 2 = 1300/3
    half = 1.959964 * (1300 / 3 / 3) ** 0.5
    assert (web["clv_low"], web["clv_high"]) == pytest.approx(
        (50 / 3 - half, 50 / 3 + half), abs=1e-5
    )
    assert channels["app"]["avg_clv"] == 7.0 and channels["app"]["clv_low"] is None
    items = {r["name"]: r for r in result["items"]}
    assert items["Shoes"]["avg_clv"] == pytest.approx(65.0)  # c1 40, c2 90
    assert sorted(r["clv_rank"] for r in result["items"]) == [1, 2, 3]
    plain = gateways(baskets(shop), AS_OF, days=180, min_support=1)
    assert "avg_clv" not in plain["channels"][0]
    same = {k: v for k, v in web.items() if not k.startswith(("avg_clv", "clv"))}
    assert same == {k: v for k, v in plain["channels"][1].items()}


def test_gateways_before_anyone_had_the_window(shop: Workspace) -> None:
    result = gateways(baskets(shop), AS_OF)  # 365 days: nobody was acquired by 2024-01-01
    assert (result["customers"], result["channels"], result["items"]) == (0, [], [])


def test_bad_options_say_what_to_do(shop: Workspace) -> None:
    b = baskets(shop)
    with pytest.raises(InputError, match="did you mean 'brand'"):
        customer_affinity(b, AS_OF, by="brnd")
    with pytest.raises(InputError, match="did you mean 'segment'"):
        group_affinity(b, segments(shop, GROUPS), "segmnt", AS_OF)
    with pytest.raises(InputError, match="at least 1"):
        repeat_affinity(b, AS_OF, min_support=0)
    with pytest.raises(InputError, match=r"gateway window \(days\)"):
        gateways(b, AS_OF, days=0)
    with pytest.raises(InputError, match=r"^top must be at least 1"):
        customer_affinity(b, AS_OF, top=0)
    # the whole answer (``patron insights affinity``) checks before its first query
    with pytest.raises(InputError, match="did you mean 'brand'"):
        shop.insights.affinity(as_of=AS_OF, by="brnd")


@given(
    buyers=st.integers(1, 10_000),
    data=st.data(),
    base=st.floats(0.001, 1.0),
    prior=st.floats(0.0, 1_000.0),
)
def test_shrunk_lift_lies_between_one_and_the_raw_lift(
    buyers: int, data: st.DataObject, base: float, prior: float
) -> None:
    hits = data.draw(st.floats(0.0, float(buyers)))
    raw = hits / (buyers * base)
    shrunk = shrunk_lift(hits, buyers, base, prior)
    assert min(1.0, raw) - 1e-9 <= shrunk <= max(1.0, raw) + 1e-9


@pytest.fixture(scope="module")
def engine() -> Any:
    return ibis.duckdb.connect()


LINE = st.tuples(st.integers(0, 5), st.integers(0, 8), st.sampled_from("abcd"))
"""(customer, day, category) of one purchase line, each line its own order."""


@settings(max_examples=25, deadline=None)
@given(lines=st.lists(LINE, min_size=1, max_size=25), labels=st.lists(st.sampled_from("xyz")))
def test_group_shares_average_to_the_base_and_everyone_has_lift_one(
    engine: Any, lines: list[tuple[int, int, str]], labels: list[str]
) -> None:
    b = _tiny_baskets(engine, lines)
    people = sorted({c for c, _, _ in lines})
    label = {c: (labels[c] if c < len(labels) else "w") for c in people}
    parts = pa.table({"customer_key": people, "g": [label[c] for c in people]})
    table = engine.create_table("groups", parts, overwrite=True)
    whole = group_affinity(b, table.mutate(all=ibis.literal("all")), "all", AS_OF, min_support=1)
    assert all(r["lift"] == pytest.approx(1) for r in whole)
    base = {r["item"]: r["share"] for r in whole}
    rows = group_affinity(b, table, "g", AS_OF, min_support=1)
    for item, share in base.items():
        weighted = sum(r["share"] * r["buyers"] for r in rows if r["item"] == item)
        assert weighted == pytest.approx(share * len(people), abs=1e-4)
    for r in rows:
        assert min(1, r["lift"]) - 1e-6 <= r["shrunk_lift"] <= max(1, r["lift"]) + 1e-6


def _tiny_baskets(engine: Any, lines: list[tuple[int, int, str]]) -> Baskets:
    """Warehouse tables (not memtables) of one order and one line per (customer, day, item)."""
    days = [date(2024, 1, 1 + d) for _, d, _ in lines]
    orders = pa.table(
        {
            "order_id": [f"o{i}" for i in range(len(lines))],
            "customer_key": [c for c, _, _ in lines],
            "ordered_at": pa.array(days, pa.date32()).cast(pa.timestamp("us")),
            "order_date": days,
            "channel": ["web"] * len(lines),
            "revenue": [10.0] * len(lines),
            "cost": pa.nulls(len(lines), pa.float64()),
            "is_return": [False] * len(lines),
        }
    )
    order_lines = pa.table(
        {
            "order_id": [f"o{i}" for i in range(len(lines))],
            "sku": [item for _, _, item in lines],
            "category": [item for _, _, item in lines],
            "brand": pa.nulls(len(lines), pa.string()),
        }
    )
    products = pa.table({"sku": list("abcd"), "category": list("abcd"), "brand": list("abcd")})
    tables = {"orders": orders, "order_lines": order_lines, "products": products}
    made = {k: engine.create_table(f"tiny_{k}", v, overwrite=True) for k, v in tables.items()}
    return Baskets(Sales.of(made["orders"]), made["order_lines"], made["products"])


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, list[dict[str, str]]]:
    ws, paths = sample_workspace(tmp_path_factory.mktemp("planted"), customers=3_000, seed=7)
    with paths["truth"].open(encoding="utf-8") as handle:
        return ws, list(csv.DictReader(handle))


def test_recovers_each_persons_planted_top_category(planted: tuple[Workspace, list]) -> None:
    ws, truth = planted
    table = customer_affinity(baskets(ws), ws.as_of()).to_pyarrow().to_pylist()
    top = {r["customer_key"]: r["top_category"] for r in table}
    orders = dict(
        ws.warehouse.duckdb.execute(
            "SELECT customer_key, count(*) FROM orders WHERE NOT is_return GROUP BY 1"
        ).fetchall()
    )
    key = {
        (r["identifier_type"], r["value"]): r["customer_key"]
        for r in ws.table("identities").to_pyarrow().to_pylist()
    }
    kinds = ("customer_id", "email", "phone", "loyalty_id")
    hits = total = popular = 0
    for person in truth:
        keys = {key[(k, person[k])] for k in kinds if (k, person[k]) in key}
        if len(keys) != 1 or orders.get(next(iter(keys)), 0) < 3:
            continue
        total += 1
        hits += top.get(next(iter(keys))) == person["top_category"]
        popular += person["top_category"] == "Apparel"  # the most bought category
    # Seed 7: 561 people with 3+ orders, 71.8% recovered (seeds 3 and 5: 71.1%, 76.0%), against
    # 22% for "everyone's favourite is the most popular category".
    assert total > 400
    assert hits / total > 0.65
    assert popular / total < 0.4
    # The generator draws mixes from a Dirichlet of total strength 0.3 x 8 = 2.4 (estimate 2.48).
    assert concentration(baskets(ws), ws.as_of()) == pytest.approx(2.4, rel=0.15)
