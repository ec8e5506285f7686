"""RFM scores, named segments, lifecycle stages and value tiers on hand-computed fixtures."""

from __future__ import annotations

from datetime import date
from itertools import product
from pathlib import Path
from typing import Any

import pytest

from cli_support import ok, patron_here
from patron import InputError, Workspace
from patron.segments import RULES, customer_segments, migration, summary

AS_OF = date(2024, 12, 31)

# Six customers (as of 2024-12-31). Second purchases: c1 after 10 days, c2 after 20, c3 after
# 30, so the population's median time to a second purchase P = 20 days.
ORDERS = """order_id,customer_id,ordered_at,revenue
a1,c1,2024-12-01,50
a2,c1,2024-12-11,50
b1,c2,2024-11-01,30
b2,c2,2024-11-21,30
d1,c3,2024-06-01,100
d2,c3,2024-07-01,100
e1,c4,2024-12-20,10
f1,c5,2024-11-11,20
g1,c6,2023-01-01,30
"""
# recency (days): c4 11, c1 20, c2 40, c5 50, c3 183, c6 730
# R by percent_rank of -recency: c6 0 -> 1, c3 .2 -> 2, c5 .4 -> 3, c2 .6 -> 4, c1 .8 -> 5,
# c4 1 -> 5
# F: one occasion (c4, c5, c6) rank 1 -> pr 0 -> 1; two (c1, c2, c3) rank 4 -> pr .6 -> 4
# M: c4 10 -> 1, c5 20 -> 2, c6 30 -> 3, c2 60 -> 4, c1 100 -> 5, c3 200 -> 5
# FM = (F + M + 1) // 2: c1 5, c2 4, c3 5, c4 1, c5 2, c6 2
EXPECTED_RFM = {
    "c1": ("545", "Champions"),
    "c2": ("444", "Loyal"),
    "c3": ("245", "Can't lose them"),
    "c4": ("511", "New"),
    "c5": ("312", "Need attention"),
    "c6": ("113", "Lost"),
}
# cycle = (own span + 2 P) / (gaps + 2); overdue = recency / cycle
# c1 (10 + 40) / 3 = 16.7, 20 / 16.7 = 1.2 -> repeat_active; next purchase 12-11 + 17 days
# c2 (20 + 40) / 3 = 20, 40 / 20 = 2.0 (not above 2) -> repeat_active
# c3 (30 + 40) / 3 = 23.3, 183 / 23.3 = 7.8 -> inactive
# c4 P = 20, 11 / 20 -> first_time;  c5 50 / 20 = 2.5 -> defecting;  c6 730 / 20 -> inactive
EXPECTED_STAGE = {
    "c1": "repeat_active",
    "c2": "repeat_active",
    "c3": "inactive",
    "c4": "first_time",
    "c5": "defecting",
    "c6": "inactive",
}
# monetary desc: c3 200, c1 100, c2 60, c6 30, c5 20, c4 10; top ceil(0.6) = 1, top half ceil(3)
EXPECTED_TIER = {
    "c3": "top_10pct",
    "c1": "next_40pct",
    "c2": "next_40pct",
    "c6": "bottom_50pct",
    "c5": "bottom_50pct",
    "c4": "bottom_50pct",
}


def shop(tmp_path: Path, orders: str = ORDERS) -> Workspace:
    ws = Workspace.init(tmp_path / "ws", timezone="UTC")
    (tmp_path / "orders.csv").write_text(orders)
    ws.load("orders", [tmp_path / "orders.csv"])
    return ws


def by_customer(ws: Workspace, **options: Any) -> dict[str, dict[str, Any]]:
    table = customer_segments(ws.sales(), AS_OF, **options)
    ids = ws.table("customers").select("customer_key", "customer_id")
    rows = table.inner_join(ids, "customer_key").to_pyarrow().to_pylist()
    return {row["customer_id"]: row for row in rows}


def test_the_rule_table_names_every_cell_once() -> None:
    cells = [(r, fm) for _, rs, fms in RULES for r, fm in product(rs, fms)]
    assert sorted(cells) == sorted(product(range(1, 6), range(1, 6)))


def test_rfm_scores_and_segments_by_hand(tmp_path: Path) -> None:
    rows = by_customer(shop(tmp_path))
    assert {c: (r["rfm"], r["rfm_segment"]) for c, r in rows.items()} == EXPECTED_RFM
    assert rows["c3"]["recency_days"] == 183
    assert rows["c1"]["monetary"] == pytest.approx(100.0)


def test_lifecycle_stages_and_cycles_by_hand(tmp_path: Path) -> None:
    rows = by_customer(shop(tmp_path))
    assert {c: r["stage"] for c, r in rows.items()} == EXPECTED_STAGE
    assert rows["c1"]["cycle_days"] == pytest.approx(16.7)
    assert rows["c4"]["cycle_days"] == pytest.approx(20.0)
    assert "expected_next_purchase" not in rows["c1"]  # one definition: insights' timing


def test_value_tiers_by_hand(tmp_path: Path) -> None:
    rows = by_customer(shop(tmp_path))
    assert {c: r["value_tier"] for c, r in rows.items()} == EXPECTED_TIER


def test_ties_share_a_score_and_returns_reduce_monetary(tmp_path: Path) -> None:
    # c3's refund of 150 leaves 50: M order c4 10, c5 20, c6 30, c3 50, c2 60, c1 100.
    ws = shop(tmp_path, ORDERS + "r1,c3,2024-07-05,-150\nh1,c7,2024-12-20,10\n")
    rows = by_customer(ws)
    assert rows["c3"]["monetary"] == pytest.approx(50.0)
    assert rows["c3"]["occasions"] == 2  # the return is not an occasion
    # c4 and c7 tie on recency (11 days) and on monetary (10): equal scores.
    assert rows["c4"]["rfm"] == rows["c7"]["rfm"]
    assert rows["c4"]["m_score"] == 1


def test_other_score_levels_read_the_rule_table_rescaled(tmp_path: Path) -> None:
    rows = by_customer(shop(tmp_path), bins=3)
    assert {r["r_score"] for r in rows.values()} <= {1, 2, 3}
    # c1 is top on recency and value with 3 levels too: R 3 -> 5, FM 3 -> 5 -> Champions.
    assert (rows["c1"]["r_score"], rows["c1"]["rfm_segment"]) == (3, "Champions")
    for bins in (1, 10):  # 100 overflowed the one-byte scores; 10 and up made codes ambiguous
        with pytest.raises(InputError, match=f"from 2 to 9, got {bins}"):
            customer_segments(shop(tmp_path / f"b{bins}").sales(), AS_OF, bins=bins)


def test_summary_shares_and_sentence(tmp_path: Path) -> None:
    ws = shop(tmp_path)
    result = summary(customer_segments(ws.sales(), AS_OF))
    stages = {r["name"]: r for r in result["stage"]}
    # Window revenue (last 365 days): 100 + 60 + 200 + 10 + 20 = 390 (c6 is older); repeat_active
    # c1 + c2 = 160.
    assert result["window_revenue"] == pytest.approx(390.0)
    assert stages["repeat_active"]["revenue_share"] == pytest.approx(160 / 390)
    assert stages["repeat_active"]["customer_share"] == pytest.approx(2 / 6)
    assert stages["repeat_active"]["sentence"] == (
        "33% of customers (repeat_active) bring 41% of the last 365 days' revenue"
    )


def test_migration_between_two_dates(tmp_path: Path) -> None:
    ws = shop(tmp_path)
    flows = migration(ws.sales(), date(2024, 11, 15), AS_OF, dimension="stage")["flows"]
    counts = {(f["from"], f["to"]): f["customers"] for f in flows}
    # By 2024-11-15 only c6 (inactive), c3 and c5 (first purchase 11-11), c2 (one occasion on
    # 11-01) existed; c1 and c4 are new after it.
    assert counts[("new", "repeat_active")] == 1  # c1
    assert counts[("new", "first_time")] == 1  # c4
    assert counts[("inactive", "inactive")] >= 1  # c6
    assert sum(counts.values()) == 6


def test_before_anyone_buys_twice_the_cycle_is_the_window(tmp_path: Path) -> None:
    ws = shop(
        tmp_path, "order_id,customer_id,ordered_at,revenue\nx,k1,2024-12-23,5\ny,k2,2024-01-10,5\n"
    )
    rows = by_customer(ws)
    assert rows["k1"]["cycle_days"] == pytest.approx(365.0)
    assert rows["k1"]["stage"] == "first_time"  # 8 days after a first purchase is not defecting
    assert rows["k2"]["stage"] == "first_time"  # 356 days: within two cycles


def test_migration_reads_its_window_as_the_segments_do(tmp_path: Path) -> None:
    """``segments --from D --window W`` ignored W: the migration's stages were 365 days'."""
    ws = shop(
        tmp_path, "order_id,customer_id,ordered_at,revenue\nx,k1,2024-06-01,5\ny,k2,2024-12-01,5\n"
    )
    short = ws.segment_migration("2024-07-01", dimension="stage", window=30)
    ws.close()
    # k1 at 183 days is 6 cycles of 30 days overdue, half a cycle of 365
    assert {(f["from"], f["to"]) for f in short["flows"]} == {
        ("first_time", "inactive"),
        ("new", "first_time"),
    }
    cli = ok(
        patron_here(
            "-w", "ws", "segments", "--from", "2024-07-01", "--dimension", "stage", "--window",
            "30", "--json", cwd=tmp_path,
        )
    )  # fmt: skip
    assert cli == short


def test_equal_money_gets_equal_scores_whatever_the_float_sums(tmp_path: Path) -> None:
    # 0.1 + 0.2 is 0.30000000000000004 in floating point; in money it is 0.30.
    orders = "order_id,customer_id,ordered_at,revenue\n"
    orders += "p1,split,2024-12-01,0.10\np2,split,2024-12-05,0.20\nq1,whole,2024-12-05,0.30\n"
    orders += "".join(f"z{i},other{i},2024-12-0{i},{i}.00\n" for i in range(1, 6))
    rows = by_customer(shop(tmp_path, orders))
    assert rows["split"]["monetary"] == rows["whole"]["monetary"] == pytest.approx(0.3)
    assert rows["split"]["m_score"] == rows["whole"]["m_score"]
