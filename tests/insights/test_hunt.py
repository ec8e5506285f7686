"""Defects found by reading the insights' numbers as a CRM marketer would: each test failed
before its fix. Hand-made shops whose every answer is known."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from cli_support import ok, patron_here
from insights.support import csv_workspace
from patron import Workspace
from patron.errors import InputError

PRODUCTS = """sku,name,category,brand,price,in_stock
P1,One,A,X,10,true
P2,Two,A,,10,true
P3,Three,,,50,true
P5,Five,C,Z,100,
"""
ORDERS = """order_id,customer_id,ordered_at,channel,revenue,discount
r1a,r1,2024-01-01 10:00,web,20,5
r1b,r1,2024-02-01 10:00,web,20,5
r1c,r1,2024-03-01 10:00,store,30,0
r2a,r2,2024-01-10 10:00,app,10,0
r2b,r2,2024-02-20 10:00,app,10,2
f1a,f1,2024-02-25 10:00,web,60,0
f2a,f2,2024-02-26 10:00,store,40,0
f3a,f3,2023-06-01 10:00,web,15,0
"""
LINES = """order_id,line_id,sku,quantity,unit_price
r1a,1,P1,1,10
r1a,2,P2,1,10
r1b,1,P1,1,10
r1c,1,P1,1,10
r2a,1,P1,1,10
r2b,1,P3,1,10
f1a,1,P5,1,60
f2a,1,P3,1,40
f3a,1,P2,1,15
"""
REPEAT = "stage=repeat_active"


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Workspace, Path]]:
    """Two repeat buyers (r1, r2) and three one-order customers, as of 2024-03-01."""
    folder = tmp_path_factory.mktemp("hunt")
    csv_workspace(folder, {"products": PRODUCTS, "orders": ORDERS, "lines": LINES}).close()
    ws = Workspace.open(folder / "ws", read_only=True)  # as the commands open it
    yield ws, folder
    ws.close()


def _members(ws: Workspace, stage: str) -> set[int]:
    segments = ws.segments().to_pandas()
    return set(segments.loc[segments.stage == stage, "customer_key"])


def test_discount_summary_keeps_to_the_segment_asked_for(shop: tuple[Workspace, Path]) -> None:
    # `--segment` is "Only this segment"; the summary used to list every customer's groups.
    ws, folder = shop
    members = _members(ws, "repeat_active")
    assert len(members) == 2  # r1 and r2
    result = ok(
        patron_here("-w", "ws", "insights", "discount", "--segment", REPEAT, "--json", cwd=folder)
    )
    assert result["segment"] == REPEAT
    assert sum(row["customers"] for row in result["segments"]) == 2
    assert sum(result["bands"].values()) == 2
    # pooled over r1 and r2: 3 of their 5 purchases were discounted
    pooled = sum(r["discount_share"] * r["purchases"] for r in result["segments"])
    assert pooled == pytest.approx(3)
    everyone = ws.insights.discount()
    assert sum(everyone["bands"].values()) == 5


def test_channels_summary_keeps_to_the_segment_asked_for(shop: tuple[Workspace, Path]) -> None:
    _, folder = shop
    result = ok(
        patron_here("-w", "ws", "insights", "channels", "--segment", REPEAT, "--json", cwd=folder)
    )
    assert sum(row["customers"] for row in result["experience"]) == 2
    bought = [p for p in result["preferences"] if p["kind"] == "purchase"]
    assert {p["channel"] for p in bought} == {"web", "app"}  # r1 mostly web, r2 app
    text = ok(patron_here("-w", "ws", "insights", "channels", "--segment", REPEAT, cwd=folder))
    assert f"of {REPEAT}" in text


def test_replenishment_segment_without_a_due_list_is_refused(shop: tuple[Workspace, Path]) -> None:
    # The item table is the whole shop's; a segment there was silently ignored.
    _, folder = shop
    result = patron_here("-w", "ws", "insights", "replenishment", "--segment", REPEAT, cwd=folder)
    assert result.returncode == 2
    assert "--due-within" in result.stderr and "Traceback" not in result.stderr


def test_backtest_without_customers_has_no_rates(shop: tuple[Workspace, Path]) -> None:
    # Split before anyone bought: nobody to test on, which is no score, not a score of 0.
    ws, folder = shop
    result = ws.insights.backtest(split="2023-01-01")
    assert result["customers"] == 0
    for name in ("model", "popularity"):
        assert (result[name]["precision"], result[name]["recall"]) == (None, None)
        assert result[name]["hit_rate"] is None
    text = ok(patron_here("-w", "ws", "insights", "backtest", "--split", "2023-01-01", cwd=folder))
    assert "0.0%" not in text


def test_profile_top_is_read_as_a_number(shop: tuple[Workspace, Path]) -> None:
    ws, _ = shop
    with pytest.raises(InputError, match="top must be a number"):
        ws.insights.profile(top="0.2", days=10)  # type: ignore[arg-type]
    assert ws.insights.profile(top=np.float64(0.5), days=10)["top"] == 0.5


def test_messages_name_options_as_their_caller_spells_them(shop: tuple[Workspace, Path]) -> None:
    ws, folder = shop
    with pytest.raises(InputError, match=r"^k must be at least 1"):
        ws.insights.recommend("r1", k=0)
    with pytest.raises(InputError, match=r"^recent_days must be"):
        ws.insights.recommend("r1", recent_days=-1)
    with pytest.raises(InputError, match=r"fewer days$"):
        ws.insights.profile(days=5000)
    result = patron_here("-w", "ws", "recommend", "r1", "--recent-days", "-1", cwd=folder)
    assert result.returncode == 2 and "--recent-days must be" in result.stderr
    result = patron_here("-w", "ws", "recommend", "r1", "-k", "0", cwd=folder)
    assert result.returncode == 2 and "-k must be" in result.stderr
    result = patron_here("-w", "ws", "insights", "profile", "--days", "5000", cwd=folder)
    assert result.returncode == 2 and "fewer --days" in result.stderr


NO_DISCOUNTS = """order_id,customer_id,ordered_at,revenue
a,c1,2024-01-01 10:00,10
b,c2,2024-01-02 10:00,20
c,c3,2024-01-03 10:00,30
d,c4,2024-01-04 10:00,40
e,c5,2024-01-05 10:00,50
f,c6,2024-01-06 10:00,60
g,c1,2024-03-01 10:00,10
"""


def test_profile_text_of_a_shop_without_discounts(tmp_path: Path) -> None:
    # Nobody's first purchase was discounted: the discount share does not vary, so it has no
    # Cohen's d and no rank, and sorting the table by rank raised a TypeError.
    ws = csv_workspace(tmp_path, {"orders": NO_DISCOUNTS})
    ws.close()
    asked = ("-w", "ws", "insights", "profile", "--days", "10")
    found = ok(patron_here(*asked, "--json", cwd=tmp_path))
    numbers = {row["feature"]: row for row in found["numbers"]}
    assert numbers["first_discount_share"]["cohens_d"] is None
    assert numbers["first_discount_share"]["rank"] is None
    # top 20% of 6 judged customers: the first ceil(1.2) = 2 by first-10-day revenue
    assert (found["customers"], found["high_value"]) == (6, 2)
    text = ok(patron_here(*asked, cwd=tmp_path))
    assert "first_value" in text and "first_discount_share" in text


def test_nothing_bought_yet_makes_nothing_popular(shop: tuple[Workspace, Path]) -> None:
    # As of a day before any purchase every item has 0 buyers: the list was the catalog in
    # sku order, each item "popular".
    ws, folder = shop
    assert ws.insights.recommend("r1", as_of="2023-01-01").to_pyarrow().num_rows == 0
    assert ws.insights.recommend(as_of="2023-05-31").to_pyarrow().num_rows == 0
    first = ws.insights.recommend("r1", as_of="2023-06-01", k=1).to_pyarrow().to_pylist()
    assert [(r["sku"], r["reason"]) for r in first] == [("P2", "popular")]  # f3's, that day
    text = ok(patron_here("-w", "ws", "recommend", "r1", "--as-of", "2023-01-01", cwd=folder))
    assert "nothing to recommend" in text and "popular" not in text


def test_a_catalog_without_order_lines_recommends_nothing(tmp_path: Path) -> None:
    ws = csv_workspace(tmp_path, {"products": PRODUCTS, "orders": NO_DISCOUNTS})
    try:
        assert ws.insights.recommend("c1").to_pyarrow().num_rows == 0
        assert ws.insights.customer_fields().to_pyarrow().column("recommended_items").null_count
    finally:
        ws.close()


def test_a_segment_nobody_is_in_is_still_a_segment(tmp_path: Path) -> None:
    """One buyer ties every score, so nobody is a Champion: ``--segment Champions`` had said
    "'Champions' is no segment" where ``rfm_segment=Champions`` read an empty group."""
    orders = "order_id,customer_id,ordered_at,revenue\no1,k1,2024-03-01,10\no2,k1,2024-04-01,5\n"
    (tmp_path / "orders.csv").write_text(orders)
    with Workspace.init(tmp_path / "ws", timezone="UTC") as ws:
        ws.load("orders", tmp_path / "orders.csv")
        bare = ws.insights.timing(segment="Champions")
        named = ws.insights.timing(segment="rfm_segment=Champions")
        assert {**bare, "segment": None} == {**named, "segment": None}
        assert bare["customers"] == 0
        with pytest.raises(InputError, match=r"'Champs' is no segment \(did you mean 'Champions'"):
            ws.insights.timing(segment="Champs")


def test_discount_bands_come_low_medium_high(tmp_path: Path) -> None:
    """The bands came in the engine's grouping order, so the report's caption and the JSON's
    key order changed from run to run on the same data."""
    from patron.samples import synthetic

    paths = synthetic.generate(tmp_path / "data", customers=300, seed=2)
    with Workspace.init(tmp_path / "ws") as ws:
        ws.load("orders", paths["orders"])
        bands = list(ws.insights.discount()["bands"])
    assert bands == ["low", "medium", "high"]
