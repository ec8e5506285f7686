"""Ideal customer profile: first-purchase features, effect sizes by hand, planted effects found."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import ibis
import numpy as np
import pytest
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_effectsize

from insights.support import baskets, by_id, csv_workspace, keys, sample_workspace
from patron import InputError, Workspace
from patron.insights.ideal import cohens_d, effect_size, first_purchases, ideal_profile
from patron.metrics.occasions import last_order_date

AS_OF = date(2024, 12, 31)
DAYS = 180  # judged: acquired by 2024-07-04; value: net revenue of the first 180 days

PRODUCTS = """sku,name,category,price
SH,Boot,Shoes,80
BO,Novel,Books,10
AP,Tee,Apparel,20
"""
# First purchases (first day's orders) and the value of the first 180 days:
#   c1 web 01-10: 100, full price; lines Shoes 80 + Books 2x10 -> Shoes, 3 items; +200 -> 300
#   c2 web 01-15: 90 + 10 off (share 0.1); Shoes 100 -> Shoes, 1 item; +150 -> 240
#   c3 store 09:00 50 and web 15:00 20 on 02-01 (one first purchase: 70, channel store); Books
#      2x25 vs Apparel 20 -> Books, 3 items; refund 20 on 02-10 -> 50
#   c4 store 02-10: 40; Apparel 40 -> 40
#   c5 app 03-01: 60 + 20 off (share 0.25); Apparel 40 and Books 40 tie -> Apparel, 2 items -> 60
#   c6 app 03-05: 30; no lines (category and items unknown) -> 30
#   c7 web 04-01: 20; a line without category takes the product's: Books -> 20
#   c8 marketplace 04-10: 25; Apparel, quantity missing (1 item) -> 25
#   c9 store 05-01: 35; Shoes -> 35
#   c10 web 06-01: 10; Books; its 500 on 12-20 is past its 180 days -> 10
#   c11 web 11-01: 1000, acquired too late to be judged.
# Top 30% of 10 judged customers = 3: c1 (300), c2 (240), c5 (60).
ORDERS = """order_id,customer_id,ordered_at,channel,revenue,discount,status
o1,c1,2024-01-10 10:00,web,100,0,
o1b,c1,2024-02-01 10:00,web,200,0,
o2,c2,2024-01-15 10:00,web,90,10,
o2b,c2,2024-03-01 10:00,web,150,0,
o3,c3,2024-02-01 09:00,store,50,,
o3b,c3,2024-02-01 15:00,web,20,,
r3,c3,2024-02-10 10:00,store,-20,,returned
o4,c4,2024-02-10 10:00,store,40,0,
o5,c5,2024-03-01 10:00,app,60,20,
o6,c6,2024-03-05 10:00,app,30,0,
o7,c7,2024-04-01 10:00,web,20,0,
o8,c8,2024-04-10 10:00,marketplace,25,0,
o9,c9,2024-05-01 10:00,store,35,0,
o10,c10,2024-06-01 10:00,web,10,0,
o10b,c10,2024-12-20 10:00,web,500,0,
o11,c11,2024-11-01 10:00,web,1000,0,
"""
LINES = """order_id,line_id,sku,quantity,unit_price,category
o1,1,SH,1,80,Shoes
o1,2,BO,2,10,Books
o1b,1,SH,2,100,Shoes
o2,1,SH,1,100,Shoes
o3,1,BO,2,25,Books
o3b,1,AP,1,20,Apparel
o4,1,AP,1,40,Apparel
o5,1,AP,1,40,Apparel
o5,2,BO,1,40,Books
o7,1,BO,1,20,
o8,1,AP,,25,Apparel
o9,1,SH,1,35,Shoes
o10,1,BO,1,10,Books
"""
# Region (country) where known: c5's is blank; c7-c11 have no record.
CUSTOMERS = """customer_id,country
c1,DE
c2,FR
c3,DE
c4,DE
c5,
c6,FR
"""
FEATURES = {
    "c1": ("web", "Shoes", "full price", 0.0, 3.0, 100.0, "DE"),
    "c2": ("web", "Shoes", "discounted", 0.1, 1.0, 90.0, "FR"),
    "c3": ("store", "Books", "full price", 0.0, 3.0, 70.0, "DE"),
    "c4": ("store", "Apparel", "full price", 0.0, 1.0, 40.0, "DE"),
    "c5": ("app", "Apparel", "discounted", 0.25, 2.0, 60.0, None),
    "c6": ("app", None, "full price", 0.0, None, 30.0, "FR"),
    "c7": ("web", "Books", "full price", 0.0, 1.0, 20.0, None),
    "c8": ("marketplace", "Apparel", "full price", 0.0, 1.0, 25.0, None),
    "c9": ("store", "Shoes", "full price", 0.0, 1.0, 35.0, None),
    "c10": ("web", "Books", "full price", 0.0, 1.0, 10.0, None),
    "c11": ("web", None, "full price", 0.0, None, 1000.0, None),
}
COLUMNS = (
    "acquisition_channel",
    "first_category",
    "first_discount",
    "first_discount_share",
    "first_items",
    "first_value",
    "region",
)
HIGH = {"c1", "c2", "c5"}


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    data = {"products": PRODUCTS, "orders": ORDERS, "lines": LINES, "customers": CUSTOMERS}
    return csv_workspace(tmp_path_factory.mktemp("ideal"), data)


def test_first_purchase_features_by_hand(shop: Workspace) -> None:
    table = first_purchases(baskets(shop), shop.table("customers"), AS_OF)
    got = {c: tuple(r[k] for k in COLUMNS) for c, r in by_id(shop, table).items()}
    assert got == {c: pytest.approx(f) for c, f in FEATURES.items()}


def _sides(feature: str, level: Any) -> tuple[int, int, int, int]:
    """x1, n1, x0, n0 of a level, counted from FEATURES (customers with the feature known)."""
    index = COLUMNS.index(feature)
    judged = {c: f[index] for c, f in FEATURES.items() if c != "c11" and f[index] is not None}
    high = [v for c, v in judged.items() if c in HIGH]
    rest = [v for c, v in judged.items() if c not in HIGH]
    return high.count(level), len(high), rest.count(level), len(rest)


@pytest.fixture(scope="module")
def profile(shop: Workspace) -> dict[str, Any]:
    return ideal_profile(
        baskets(shop), shop.table("customers"), AS_OF, top=0.3, days=DAYS, min_support=3
    )


def test_the_judged_and_the_high_value(profile: dict[str, Any]) -> None:
    assert profile["acquired_by"] == "2024-07-04" and profile["measure"] == "net_revenue"
    assert (profile["customers"], profile["high_value"], profile["threshold"]) == (10, 3, 60.0)


def test_levels_against_independent_computations(profile: dict[str, Any]) -> None:
    levels = {(r["feature"], r["level"]): r for r in profile["levels"]}
    # Every known level of every feature with two or more levels; c6's category and the
    # regions of c5, c7-c10 are unknown and left out.
    assert set(levels) == {
        ("acquisition_channel", c) for c in ("web", "store", "app", "marketplace")
    } | {("first_category", c) for c in ("Shoes", "Books", "Apparel")} | {
        ("first_discount", "discounted"),
        ("first_discount", "full price"),
        ("region", "DE"),
        ("region", "FR"),
    }
    for (feature, level), row in levels.items():
        x1, n1, x0, n0 = _sides(feature, level)
        assert (row["high_customers"], row["other_customers"]) == (x1, x0)
        assert row["cohens_h"] == pytest.approx(proportion_effectsize(x1 / n1, x0 / n0), abs=1e-6)
        low, high = confint_proportions_2indep(x1, n1, x0, n0, method="newcomb", compare="diff")
        assert (row["difference_low"], row["difference_high"]) == pytest.approx(
            (low, high), abs=1e-6
        )
        assert row["lift"] == pytest.approx((x1 / (x1 + x0)) / (n1 / (n1 + n0)), abs=1e-6)
    # By hand: web is 2 of the 3 high-value and 2 of the 7 others: h = 2 asin sqrt(2/3) - 2 asin
    # sqrt(2/7); half of web customers are high-value against 3 in 10 overall: lift 5/3.
    web = levels[("acquisition_channel", "web")]
    assert web["cohens_h"] == pytest.approx(
        2 * math.asin(math.sqrt(2 / 3)) - 2 * math.asin(math.sqrt(2 / 7)), abs=1e-6
    )
    assert (web["high_rate"], web["lift"]) == pytest.approx((0.5, 5 / 3), abs=1e-6)
    # Shoes: 2 of 3 high, 1 of 6 others with a known category: 2 of 3 Shoes starters are high
    # against 3 of 9 overall, lift 2.
    assert levels[("first_category", "Shoes")]["lift"] == pytest.approx(2.0)
    assert levels[("acquisition_channel", "marketplace")]["small_support"]  # 1 customer < 3


def test_numbers_against_numpy(profile: dict[str, Any]) -> None:
    numbers = {r["feature"]: r for r in profile["numbers"]}
    for feature, row in numbers.items():
        index = COLUMNS.index(feature)
        values = {c: f[index] for c, f in FEATURES.items() if c != "c11" and f[index] is not None}
        high = np.array([v for c, v in values.items() if c in HIGH])
        rest = np.array([v for c, v in values.items() if c not in HIGH])
        pooled = ((len(high) - 1) * high.var(ddof=1) + (len(rest) - 1) * rest.var(ddof=1)) / (
            len(high) + len(rest) - 2
        )
        d = (high.mean() - rest.mean()) / math.sqrt(pooled)
        assert row["cohens_d"] == pytest.approx(d, abs=1e-6)
        assert (row["high_median"], row["other_median"]) == (np.median(high), np.median(rest))
        assert (row["high_customers"], row["other_customers"]) == (len(high), len(rest))
    # first_value by hand: high 100, 90, 60 (mean 250/3), the rest 70, 40, 30, 20, 25, 35, 10.
    assert numbers["first_value"]["high_mean"] == pytest.approx(250 / 3, abs=1e-6)
    # The interval of d: d -+ 1.96 sqrt((n1 + n0) / (n1 n0) + d^2 / (2 (n1 + n0))).
    d = numbers["first_value"]["cohens_d"]
    half = 1.959964 * math.sqrt(10 / 21 + d * d / 20)
    assert numbers["first_value"]["cohens_d_low"] == pytest.approx(d - half, abs=1e-5)


def test_ranking_flags_and_sentences(profile: dict[str, Any]) -> None:
    rows = [*profile["levels"], *profile["numbers"]]
    ranked = sorted(rows, key=lambda r: r["rank"])
    assert [r["rank"] for r in ranked] == list(range(1, len(rows) + 1))
    supported = [r for r in ranked if not r["small_support"]]
    assert ranked[: len(supported)] == supported  # small-support levels come last
    effects = [abs(r.get("cohens_h", r.get("cohens_d"))) for r in supported]
    assert effects == sorted(effects, reverse=True)
    shoes = next(r for r in rows if r.get("level") == "Shoes")
    assert shoes["sentence"].startswith(
        "Customers whose first purchase was mostly Shoes are 2.0x as likely as average to be "
        "in the top 30% by net revenue in their first 180 days (67% vs 33%"
    )
    # Ten customers prove little: only the first purchase's value, full price (8 customers, 1
    # high-value) and the discount share have 95% intervals that leave out 0.
    by_sentence = {r["sentence"]: (r["feature"], r.get("level")) for r in rows}
    assert [by_sentence[s] for s in profile["findings"]] == [
        ("first_value", None),
        ("first_discount", "full price"),
        ("first_discount_share", None),
    ]


def test_effect_helpers() -> None:
    assert cohens_d(1, 1.0, 0.0, 5, 0.0, 1.0) == (None, None, None)  # one value: no spread
    assert cohens_d(3, 1.0, 0.0, 3, 1.0, 0.0) == (None, None, None)  # nothing varies
    assert [effect_size(e) for e in (0.1, -0.3, 0.6, -1.2, None)] == [
        "negligible",
        "small",
        "medium",
        "large",
        None,
    ]


def test_predictions_decide_who_is_high_value(shop: Workspace) -> None:
    key = keys(shop)
    clv = {"c10": 90.0, "c9": 80.0, "c8": 70.0, "c1": 1.0, "c2": 2.0, "c3": 3.0, "c4": 4.0}
    predictions = ibis.memtable({"customer_key": [key[c] for c in clv], "clv": list(clv.values())})
    result = ideal_profile(
        baskets(shop),
        shop.table("customers"),
        AS_OF,
        predictions=predictions,
        top=0.3,
        days=DAYS,
        min_support=1,
    )
    # c5, c6, c7 have no prediction: 7 judged; top 30% = ceil(2.1) = 3: c10, c9, c8.
    assert (result["measure"], result["customers"], result["high_value"]) == ("predicted_clv", 7, 3)
    levels = {(r["feature"], r["level"]): r for r in result["levels"]}
    assert levels[("acquisition_channel", "marketplace")]["high_customers"] == 1
    assert "by predicted CLV (" in levels[("acquisition_channel", "web")]["sentence"]


def test_bad_options_and_too_few_customers(shop: Workspace) -> None:
    args = (baskets(shop), shop.table("customers"), AS_OF)
    with pytest.raises(InputError, match=r"^top must be a share"):
        ideal_profile(*args, top=1.0)
    with pytest.raises(InputError, match=r"^days must be at least 1 day"):
        ideal_profile(*args, days=0)
    with pytest.raises(InputError, match="customer_key and clv"):
        ideal_profile(*args, predictions=ibis.memtable({"customer_key": [1], "value": [2.0]}))
    with pytest.raises(InputError, match="too few customers acquired by 2023-12-31"):
        ideal_profile(*args, days=366)


@pytest.fixture(scope="module")
def synthetic_profiles(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """Profiles of a synthetic retailer by first-year net revenue and by predicted CLV."""
    folder = tmp_path_factory.mktemp("synthetic")
    ws, _ = sample_workspace(folder, customers=4_000, seed=3, clean=False)
    as_of = last_order_date(ws.sales())
    ws.predict(store=True)
    return [
        ideal_profile(baskets(ws), ws.table("customers"), as_of, predictions=predictions)
        for predictions in (None, ws.stored_predictions())
    ]


def test_recovers_what_the_generator_planted(synthetic_profiles: list[dict[str, Any]]) -> None:
    for profile in synthetic_profiles:
        # Each person's orders scatter around their own mean spend (gamma-gamma): a big first
        # basket marks a big spender, the strongest sign there is.
        numbers = {r["feature"]: r for r in profile["numbers"]}
        assert numbers["first_value"]["rank"] == 1
        assert numbers["first_value"]["cohens_d_low"] > 0
        # Marketplace buyers buy at 0.6x the rate and drop out 1.5x as often: the worst channel.
        channels = {
            r["level"]: r["lift"]
            for r in profile["levels"]
            if r["feature"] == "acquisition_channel"
        }
        assert min(channels, key=lambda c: channels[c]) == "marketplace"
        assert channels["marketplace"] < 1
        assert profile["findings"][0] == numbers["first_value"]["sentence"]
