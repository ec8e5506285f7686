"""KPIs on small hand-made order files, each expected number worked out by hand.

The definitions are the module docstrings of ``patron.metrics.base`` and ``patron.metrics.kpis``.
Unless a test says otherwise the as-of day A is 2024-06-30 and the window W is 30 days, so

- the window (A-W, A] is 2024-06-01 .. 2024-06-30 (A-W = 2024-05-31 is outside it),
- the previous window (A-2W, A-W] is 2024-05-02 .. 2024-05-31 (A-2W = 2024-05-01 is outside).

Each scenario below is a little shop of its own. To keep the suite fast they are written into one
file and loaded once through the real loader; every id is prefixed with the scenario's name, and
a test passes ``kpis`` the orders and occasions of its scenario (``scenarios.shop``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from scenarios import shop

from patron import Workspace
from patron.errors import InputError
from patron.metrics.kpis import concentration, kpis, month_ends, trend
from patron.metrics.occasions import Sales, last_order_date

HEADER = "order_id,customer_id,ordered_at,channel,revenue,cost,status,return_of\n"
NOW = datetime(2025, 6, 1, tzinfo=UTC)  # the load's clock: every order below is before it
AS_OF = date(2024, 6, 30)
KEYS = {
    "group",
    "customers_total",
    "active_customers",
    "new_customers",
    "lost_customers",
    "retention_rate",
    "attrition_rate",
    "leaky_bucket_ratio",
    "repeat_rate",
    "one_and_done_share",
    "early_repeat_rate",
    "early_repeat_cohort",
    "days_to_second_purchase_median",
    "days_to_second_purchase_mean",
    "revenue",
    "orders",
    "aov",
    "purchase_frequency",
    "refunds",
    "net_revenue",
    "return_rate",
    "revenue_new_customers",
    "revenue_returning_customers",
    "margin",
    "margin_coverage",
    "top_10pct_revenue_share",
    "clv_365",
    "clv_365_customers",
}

Row = list[str]
SCENARIOS: dict[str, list[Row]] = {}


def scenario(name: str, rows: list[Row]) -> str:
    """Register a scenario's rows (loaded once for the module) and return its name."""
    SCENARIOS[name] = rows
    return name


def buy(
    order_id: str,
    customer: str,
    when: str,
    revenue: float,
    *,
    cost: float | None = None,
    channel: str = "web",
) -> Row:
    """A purchase row; ``when`` is a day (10:00 that day) or a full timestamp."""
    at = f"{when} 10:00" if len(when) == 10 else when
    cost_text = "" if cost is None else f"{cost:.2f}"
    return [order_id, customer, at, channel, f"{revenue:.2f}", cost_text, "completed", ""]


def refund(
    order_id: str,
    customer: str,
    when: str,
    amount: float,
    of: str,
    *,
    cost: float | None = None,
    channel: str = "web",
    sign: int = -1,
) -> Row:
    """A return row with status returned: negative revenue and cost, or positive with sign=1."""
    at = f"{when} 12:00" if len(when) == 10 else when
    cost_text = "" if cost is None else f"{sign * cost:.2f}"
    return [order_id, customer, at, channel, f"{sign * amount:.2f}", cost_text, "returned", of]


def csv_lines(rows: list[Row], prefix: str = "") -> str:
    """CSV text of ``rows`` with order, customer and return_of ids prefixed."""
    out = []
    for order_id, customer, at, channel, revenue, cost, status, of in rows:
        of = f"{prefix}{of}" if of else ""
        ids = [f"{prefix}{order_id}", f"{prefix}{customer}"]
        out.append(",".join([*ids, at, channel, revenue, cost, status, of]) + "\n")
    return "".join(out)


def load(folder: Path, text: str, rows: int, *, timezone: str = "UTC") -> Sales:
    """The orders and occasions of a fresh workspace in ``folder`` loaded from the CSV ``text``."""
    csv = folder / "orders.csv"
    csv.write_text(HEADER + text, encoding="utf-8")
    ws = Workspace.init(folder / "ws", timezone=timezone, phone_region="US")
    result = ws.load("orders", [csv], now=NOW)
    assert result.quarantined == 0, ws.quarantine()
    assert result.inserted == rows
    return ws.sales()


@pytest.fixture(scope="module")
def sales(tmp_path_factory: pytest.TempPathFactory) -> Sales:
    """Every scenario of this module in one workspace (UTC)."""
    text = "".join(csv_lines(rows, f"{name}.") for name, rows in SCENARIOS.items())
    count = sum(len(rows) for rows in SCENARIOS.values())
    return load(tmp_path_factory.mktemp("kpis"), text, count)


def one(sales: Sales, name: str, as_of: date = AS_OF, **options: Any) -> dict[str, Any]:
    """The single ``all`` group of ``kpis`` for scenario ``name`` (window 30 unless given)."""
    rows = kpis(shop(sales, name), as_of, **{"window": 30, **options})
    assert [row["group"] for row in rows] == ["all"]
    assert set(rows[0]) == KEYS
    return rows[0]


def by_group(sales: Sales, name: str, by: str) -> dict[str, dict[str, Any]]:
    """``kpis`` of scenario ``name`` by ``by``, keyed by group, in the order returned."""
    return {row["group"]: row for row in kpis(shop(sales, name), AS_OF, window=30, by=by)}


def check(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    """``actual`` has ``expected``'s values (floats to the 6 decimals kpis rounds to)."""
    assert {k: actual[k] for k in expected} == pytest.approx(expected, abs=1e-6)


SINGLE = scenario("single", [buy("o1", "c1", "2024-06-10", 50, cost=30)])


def test_single_customer_every_kpi(sales: Sales) -> None:
    assert one(sales, SINGLE) == pytest.approx(
        {
            "group": "all",
            "customers_total": 1,
            "active_customers": 1,
            "new_customers": 1,  # first occasion 06-10 is in the window
            "lost_customers": 0,
            "retention_rate": None,  # nobody was active in the previous window
            "attrition_rate": None,
            "leaky_bucket_ratio": 0.0,  # 0 lost / 1 new
            "repeat_rate": 0.0,  # 0 of 1 with two occasions
            "one_and_done_share": 1.0,
            "early_repeat_rate": None,  # cohort (A-30-90, A-90] = 03-03..04-01 is empty
            "early_repeat_cohort": 0,
            "days_to_second_purchase_median": None,
            "days_to_second_purchase_mean": None,
            "revenue": 50.0,
            "orders": 1,
            "aov": 50.0,
            "purchase_frequency": 1.0,  # 1 order / 1 active
            "refunds": 0.0,
            "net_revenue": 50.0,
            "return_rate": 0.0,  # 0 / 50
            "revenue_new_customers": 50.0,
            "revenue_returning_customers": 0.0,
            "margin": 20.0,  # 50 - 30
            "margin_coverage": 1.0,
            "top_10pct_revenue_share": 1.0,  # ceil(10% of 1) = 1 customer holds it all
            "clv_365": None,  # nobody first bought in
            "clv_365_customers": 0,
        },
        abs=1e-6,
    )


SAME_DAY = scenario(
    "sameday",
    [
        buy("o1", "c1", "2024-06-10 09:00", 10),
        buy("o2", "c1", "2024-06-10 18:00", 20),
        buy("o3", "c2", "2024-06-10", 5),
        buy("o4", "c2", "2024-06-12", 5),
    ],
)


def test_two_orders_on_one_day_are_one_occasion(sales: Sales) -> None:
    check(
        one(sales, SAME_DAY),
        {
            "customers_total": 2,
            "repeat_rate": 0.5,  # c1 has one occasion (06-10), c2 two (06-10, 06-12): 1/2
            "one_and_done_share": 0.5,
            "days_to_second_purchase_median": 2.0,  # only c2: 06-10 -> 06-12
            "days_to_second_purchase_mean": 2.0,
            "orders": 4,  # orders are orders, not occasions
            "revenue": 40.0,  # 10 + 20 + 5 + 5
            "aov": 10.0,  # 40 / 4
            "purchase_frequency": 2.0,  # 4 orders / 2 active customers
        },
    )


RETURNS = scenario(
    "returns",
    [
        # c1: a purchase in the previous window, returned exactly on A-W = 05-31 (outside)
        buy("p0", "c1", "2024-05-20", 10, cost=5),
        refund("r0", "c1", "2024-05-31", 10, "p0", cost=5),
        # c1: a purchase in the window, partly returned (negative revenue and cost)
        buy("p1", "c1", "2024-06-05", 100, cost=60),
        refund("r1", "c1", "2024-06-08", 40, "p1", cost=24),
        # c2: new in the window; a return written as positive amounts with status returned
        buy("p2", "c2", "2024-06-06", 50, cost=30),
        refund("r2", "c2", "2024-06-07", 50, "p2", cost=30, sign=1),
    ],
)


def test_returns_reduce_money_never_count_as_occasions(sales: Sales) -> None:
    check(
        one(sales, RETURNS),
        {
            "customers_total": 2,
            "active_customers": 2,
            "new_customers": 1,  # c2 (first 06-06); c1 first bought 05-20
            "lost_customers": 0,
            "retention_rate": 1.0,  # previous window {c1}, still active
            "leaky_bucket_ratio": 0.0,  # 0 lost / 1 new
            # occasions: c1 05-20, 06-05; c2 06-06 (the return on 06-07 is no occasion)
            "repeat_rate": 0.5,
            "days_to_second_purchase_mean": 16.0,  # c1: 05-20 -> 06-05
            "orders": 2,  # p1, p2: returns are never orders
            "revenue": 150.0,  # 100 + 50
            "refunds": 90.0,  # r1 40 + r2 50; r0 is dated A-W, outside the window
            "net_revenue": 60.0,  # 150 - 90
            "return_rate": 0.6,  # 90 / 150
            "revenue_new_customers": 50.0,  # c2
            "revenue_returning_customers": 100.0,  # c1
            # (100 - 60) + (50 - 30) - [(40 - 24) + (50 - 30)] = 60 - 36
            "margin": 24.0,
            "margin_coverage": 1.0,
            "top_10pct_revenue_share": 100 / 150,  # ceil(0.2) = 1 customer: c1 with 100
        },
    )


ZERO = scenario("zero", [buy("o1", "c1", "2024-06-01", 0), buy("o2", "c1", "2024-06-15", 0)])


def test_zero_value_orders_are_occasions(sales: Sales) -> None:
    check(
        one(sales, ZERO),
        {
            "customers_total": 1,
            "active_customers": 1,
            "new_customers": 1,
            "repeat_rate": 1.0,  # two zero-value occasions: 06-01 and 06-15
            "days_to_second_purchase_median": 14.0,
            "orders": 2,
            "revenue": 0.0,
            "aov": 0.0,  # 0 / 2 orders: the denominator is not empty
            "purchase_frequency": 2.0,
            "return_rate": None,  # refunds / revenue with revenue 0
            "top_10pct_revenue_share": None,  # share of 0 revenue
        },
    )


# c1 bought long before the previous window; nobody bought in either window
QUIET = scenario("quiet", [buy("o1", "c1", "2024-01-10", 10, cost=4)])


def test_empty_window_gives_null_ratios_not_zero(sales: Sales) -> None:
    assert one(sales, QUIET) == pytest.approx(
        {
            "group": "all",
            "customers_total": 1,
            "active_customers": 0,
            "new_customers": 0,
            "lost_customers": 0,
            "retention_rate": None,  # 0 / 0 previously active
            "attrition_rate": None,
            "leaky_bucket_ratio": None,  # 0 / 0 new
            "repeat_rate": 0.0,  # 0 / 1 customer: a real zero
            "one_and_done_share": 1.0,
            "early_repeat_rate": None,
            "early_repeat_cohort": 0,
            "days_to_second_purchase_median": None,
            "days_to_second_purchase_mean": None,
            "revenue": 0.0,
            "orders": 0,
            "aov": None,  # 0 / 0 orders
            "purchase_frequency": None,  # 0 / 0 active
            "refunds": 0.0,
            "net_revenue": 0.0,
            "return_rate": None,  # 0 / 0 revenue
            "revenue_new_customers": 0.0,
            "revenue_returning_customers": 0.0,
            "margin": None,  # no window purchase carries a cost
            "margin_coverage": None,  # 0 / 0 revenue
            "top_10pct_revenue_share": None,
            "clv_365": None,
            "clv_365_customers": 0,
        },
        abs=1e-6,
    )


LOST = scenario("lost", [buy("o1", "c1", "2024-05-15", 10)])  # previous window only


def test_everyone_lost_retention_is_zero_and_leaky_bucket_null(sales: Sales) -> None:
    check(
        one(sales, LOST),
        {
            "active_customers": 0,
            "new_customers": 0,
            "lost_customers": 1,
            "retention_rate": 0.0,  # 0 of the 1 previously active: a real zero
            "attrition_rate": 1.0,
            "leaky_bucket_ratio": None,  # 1 lost / 0 new
        },
    )


ON_AS_OF = scenario(
    "asof",
    [
        buy("o1", "c1", "2024-06-30 23:59", 10, cost=6),  # the last minute of A
        buy("o2", "c1", "2024-07-01 00:00", 1000, cost=1),  # after A: never read
        refund("r1", "c1", "2024-07-02", 10, "o1", cost=6),  # after A: never read
        buy("o3", "c2", "2024-07-01", 7),  # only after A: not a customer yet
    ],
)


def test_customer_acquired_on_the_as_of_day_and_nothing_later_is_read(sales: Sales) -> None:
    check(
        one(sales, ON_AS_OF),
        {
            "customers_total": 1,
            "active_customers": 1,
            "new_customers": 1,
            "repeat_rate": 0.0,
            "revenue": 10.0,
            "orders": 1,
            "refunds": 0.0,
            "net_revenue": 10.0,
            "revenue_new_customers": 10.0,
            "margin": 4.0,
        },
    )


def test_as_of_is_the_end_of_the_shop_local_day(tmp_path: Path) -> None:
    # 2024-07-01 02:00 UTC is 2024-06-30 22:00 in New York: inside as of 2024-06-30
    # 2024-06-01 03:00 UTC is 2024-05-31 23:00 in New York: A-W, outside the window
    rows = [
        buy("o1", "c1", "2024-07-01T02:00:00+00:00", 10),
        buy("o2", "c2", "2024-06-01T03:00:00+00:00", 20),
    ]
    table = load(tmp_path, csv_lines(rows), 2, timezone="America/New_York")
    check(
        kpis(table, AS_OF, window=30)[0],
        {"customers_total": 2, "active_customers": 1, "new_customers": 1, "revenue": 10.0},
    )


BOUNDS = scenario(
    "bounds",
    [
        buy("o1", "c1", "2024-05-31", 1),  # A-W: previous window, not the window
        buy("o2", "c2", "2024-06-30", 2),  # A: the window
        buy("o3", "c3", "2024-05-01", 4),  # A-2W: neither window
        buy("o4", "c4", "2024-05-02", 8),  # A-2W+1: previous window
        buy("o5", "c5", "2024-05-10", 16),  # c5: both windows (retained)
        buy("o6", "c5", "2024-06-01", 32),  # A-W+1: the window
    ],
)


def test_window_boundaries_lost_and_retained(sales: Sales) -> None:
    check(
        one(sales, BOUNDS),
        {
            "customers_total": 5,
            "active_customers": 2,  # c2, c5
            "new_customers": 1,  # c2 (c1's first occasion 05-31 is not in the window)
            "lost_customers": 2,  # c1, c4 (c3 was not active in the previous window)
            "retention_rate": 1 / 3,  # previous window {c1, c4, c5}; c5 still active
            "attrition_rate": 2 / 3,
            "leaky_bucket_ratio": 2.0,  # 2 lost / 1 new
            "revenue": 34.0,  # 2 + 32
            "orders": 2,
            "revenue_new_customers": 2.0,  # c2
            "revenue_returning_customers": 32.0,  # c5
        },
    )


# E = 10: the cohort first bought in (A-W-E, A-E] = (05-21, 06-20]
EARLY = scenario(
    "early",
    [
        buy("a1", "e1", "2024-05-21", 1),  # A-W-E: outside the cohort
        buy("a2", "e1", "2024-05-25", 1),  # gap 4
        buy("b1", "e2", "2024-05-22", 1),  # first day of the cohort
        buy("b2", "e2", "2024-06-01", 1),  # gap 10 = E: an early repeat
        buy("c1", "e3", "2024-06-20", 1),  # A-E: last day of the cohort
        buy("c2", "e3", "2024-06-30", 1),  # gap 10: an early repeat
        buy("d1", "e4", "2024-06-01", 1),
        buy("d2", "e4", "2024-06-12", 1),  # gap 11 > E
        buy("f1", "e5", "2024-06-10", 1),  # no second occasion
        buy("g1", "e6", "2024-06-21", 1),  # A-E+1: outside the cohort
        buy("g2", "e6", "2024-06-22", 1),  # gap 1
        buy("h1", "e7", "2024-06-05 09:00", 1),
        buy("h2", "e7", "2024-06-05 17:00", 1),  # same day: not a second occasion
        buy("h3", "e7", "2024-06-20", 1),  # gap 15 > E
    ],
)


def test_early_repeat_rate_cohort_boundaries(sales: Sales) -> None:
    check(
        one(sales, EARLY, early_days=10),
        {
            "early_repeat_cohort": 5,  # e2, e3, e4, e5, e7
            "early_repeat_rate": 0.4,  # e2, e3 of 5
            "repeat_rate": 6 / 7,  # all but e5
            # gaps of everyone with a second occasion: 4, 10, 10, 11, 1, 15
            "days_to_second_purchase_median": 10.0,  # sorted 1 4 10 10 11 15
            "days_to_second_purchase_mean": 51 / 6,
        },
    )


EVEN = scenario(
    "even",
    [
        buy("a1", "c1", "2024-06-01", 1),
        buy("a2", "c1", "2024-06-04", 1),  # gap 3
        buy("b1", "c2", "2024-06-01", 1),
        buy("b2", "c2", "2024-06-09", 1),  # gap 8
        buy("b3", "c2", "2024-06-10", 1),  # a third occasion does not matter
    ],
)


def test_days_to_second_purchase_median_of_an_even_count(sales: Sales) -> None:
    check(
        one(sales, EVEN),
        {"days_to_second_purchase_median": 5.5, "days_to_second_purchase_mean": 5.5},
    )


def _top_rows() -> list[Row]:
    # one channel per case; customer i of a channel spends i in the window
    rows = []
    for size in (1, 10, 11, 30):
        channel = f"n{size:02d}"
        rows += [
            buy(f"{channel}o{i}", f"{channel}c{i}", "2024-06-15", i, channel=channel)
            for i in range(1, size + 1)
        ]
    # n10 also has five customers active only before the window: they do not count
    rows += [buy(f"n10x{i}", f"n10c{i}", "2024-04-01", 99, channel="n10") for i in range(11, 16)]
    return rows


TOP = scenario("top", _top_rows())


def test_top_10pct_revenue_share_takes_ceil_of_the_active_customers(sales: Sales) -> None:
    shares = {
        k: row["top_10pct_revenue_share"] for k, row in by_group(sales, TOP, "channel").items()
    }
    assert shares == pytest.approx(
        {
            "n01": 1.0,  # ceil(0.1) = 1 of 1
            "n10": 10 / 55,  # ceil(1.0) = 1: the top spender 10 of 1+..+10 = 55
            "n11": 21 / 66,  # ceil(1.1) = 2: 11 + 10 of 66
            "n30": 87 / 465,  # ceil(3.0) = 3: 30 + 29 + 28 of 465
        },
        abs=1e-6,
    )


# 11 active customers, so the top 2; three tie at the top with 5 each
TIES = scenario(
    "ties",
    [buy(f"t{i}", f"c{i:02d}", "2024-06-15", 5) for i in range(3)]
    + [buy(f"u{i}", f"d{i:02d}", "2024-06-15", 1) for i in range(8)],
)


def test_top_10pct_revenue_share_with_ties(sales: Sales) -> None:
    check(one(sales, TIES), {"top_10pct_revenue_share": 10 / 23})  # 5 + 5 of 3*5 + 8*1


# the CLV cohort first bought in (A-W-365, A-365] = (2023-06-01, 2023-07-01] (2024 is leap)
CLV = scenario(
    "clv",
    [
        buy("k1a", "k1", "2023-06-01", 500),  # A-W-365: outside the cohort
        buy("k2a", "k2", "2023-06-02", 100),  # first day of the cohort
        refund("k2r", "k2", "2023-06-12", 20, "k2a"),  # day 10: a first-year refund
        buy("k2b", "k2", "2024-05-31", 50),  # 2023-06-02 + 364 days: day 364 counts
        buy("k3a", "k3", "2023-07-01", 40),  # last day of the cohort
        buy("k3b", "k3", "2024-06-30 10:00", 1000),  # 2023-07-01 + 365 days: day 365
        refund("k3r", "k3", "2024-06-30 11:00", 300, "k3b"),  # day 365 too
        buy("k4a", "k4", "2023-07-02", 700),  # A-365+1: outside the cohort
    ],
)


def test_clv_365_counts_day_0_to_day_364(sales: Sales) -> None:
    check(
        one(sales, CLV),
        {
            "clv_365_customers": 2,  # k2, k3
            "clv_365": 85.0,  # k2: 100 - 20 + 50 = 130; k3: 40; (130 + 40) / 2
        },
    )


MARGIN = scenario(
    "margin",
    [
        buy("o1", "c1", "2024-01-01", 500),  # outside the window: no part of the margin
        buy("o2", "c1", "2024-06-05", 100, cost=70),
        buy("o3", "c2", "2024-06-06", 50),  # no cost: left out of the margin
        refund("r2", "c1", "2024-06-07", 20, "o2", cost=14),  # recovers 14 of cost
        refund("r3", "c2", "2024-06-08", 10, "o3"),  # no cost recovered
    ],
)


def test_margin_with_partial_costs(sales: Sales) -> None:
    check(
        one(sales, MARGIN),
        {
            "margin": 14.0,  # (100 - 70) - (20 - 14) - (10 - 0)
            "margin_coverage": 100 / 150,  # costed revenue 100 of window revenue 150
            "refunds": 30.0,
            "net_revenue": 120.0,
        },
    )


NO_COST = scenario(
    "nocost",
    [
        buy("o1", "c1", "2024-01-01", 10, cost=5),  # a cost, but outside the window
        buy("o2", "c1", "2024-06-05", 100),
    ],
)


def test_margin_without_costs_is_null(sales: Sales) -> None:
    assert one(sales, NO_COST)["margin"] is None


def test_margin_coverage_without_costs_is_zero(sales: Sales) -> None:
    # the share of window revenue 100 that carries a cost: 0 / 100 (the denominator is not empty)
    assert one(sales, NO_COST)["margin_coverage"] == 0.0


def test_no_customers_yet_gives_one_all_group(sales: Sales) -> None:
    rows = kpis(shop(sales, SINGLE), date(2024, 1, 1), window=30)  # its only order is 06-10
    assert [(row["group"], row["customers_total"], row["repeat_rate"]) for row in rows] == [
        ("all", 0, None)
    ]


CHANNELS = scenario(
    "channels",
    [
        buy("o1", "c1", "2024-06-05 09:00", 10, channel="web"),
        buy("o2", "c1", "2024-06-05 18:00", 20, channel="store"),
        buy("o3", "c1", "2024-06-20", 5, channel="store"),
        buy("o4", "c2", "2024-06-10", 40, channel="store"),
        refund("r4", "c2", "2024-06-11", 4, "o4", channel="store"),
        buy("o5", "c3", "2024-06-15", 7, channel=""),  # no channel: "unknown"
    ],
)


def test_by_channel_counts_a_customer_in_every_channel(sales: Sales) -> None:
    rows = by_group(sales, CHANNELS, "channel")
    assert list(rows) == ["store", "unknown", "web"]
    check(
        rows["store"],
        {
            "customers_total": 2,  # c1, c2
            "active_customers": 2,
            "repeat_rate": 0.5,  # c1 has two store occasions (06-05, 06-20), c2 one
            "orders": 3,
            "revenue": 65.0,  # 20 + 5 + 40
            "refunds": 4.0,
            "net_revenue": 61.0,
            "aov": 65 / 3,
        },
    )
    check(
        rows["web"],
        {"customers_total": 1, "repeat_rate": 0.0, "orders": 1, "revenue": 10.0, "refunds": 0.0},
    )
    check(rows["unknown"], {"customers_total": 1, "revenue": 7.0})


ACQUIRED = scenario(
    "acquired",
    [
        buy("o1", "c1", "2024-06-05 09:00", 10, channel="store"),  # c1 acquired in store
        buy("o2", "c1", "2024-06-05 18:00", 20, channel="web"),
        buy("o3", "c1", "2024-06-20", 5, channel="web"),
        buy("o4", "c2", "2024-06-10", 40, channel="web"),  # c2 acquired on the web
        buy("o5", "c3", "2024-05-11", 7, channel=""),  # c3: unknown
        buy("o6", "c3", "2024-06-12", 3, channel="web"),
    ],
)


def test_by_acquisition_channel_uses_the_first_order_of_the_first_day(sales: Sales) -> None:
    rows = by_group(sales, ACQUIRED, "acquisition_channel")
    assert list(rows) == ["store", "unknown", "web"]
    # every order of a customer counts in their acquisition channel
    check(rows["store"], {"customers_total": 1, "orders": 3, "revenue": 35.0, "repeat_rate": 1.0})
    check(rows["web"], {"customers_total": 1, "orders": 1, "revenue": 40.0, "repeat_rate": 0.0})
    check(
        rows["unknown"],
        {
            "customers_total": 1,
            "new_customers": 0,  # c3 was acquired 05-11, before the window
            "lost_customers": 0,
            "retention_rate": 1.0,
            "revenue": 3.0,
            "revenue_returning_customers": 3.0,
        },
    )


COHORT = scenario(
    "cohort",
    [
        buy("o1", "c1", "2024-05-20", 10),
        buy("o2", "c1", "2024-06-03", 20),
        buy("o3", "c2", "2024-06-03", 40),
        buy("o4", "c3", "2024-06-30", 1),
        buy("o5", "c3", "2024-07-01", 1),  # after A
    ],
)


def test_by_cohort_groups_by_acquisition_month(sales: Sales) -> None:
    rows = by_group(sales, COHORT, "cohort")
    assert list(rows) == ["2024-05", "2024-06"]
    check(
        rows["2024-05"],
        {
            "customers_total": 1,
            "active_customers": 1,
            "new_customers": 0,
            "retention_rate": 1.0,
            "revenue": 20.0,  # the window part of c1's spend
            "repeat_rate": 1.0,
        },
    )
    check(
        rows["2024-06"],
        {
            "customers_total": 2,  # c2, c3
            "new_customers": 2,
            "revenue": 41.0,
            "revenue_new_customers": 41.0,
            "repeat_rate": 0.0,
            "top_10pct_revenue_share": 40 / 41,  # ceil(0.2) = 1: c2
        },
    )


# c2's only row by A is a return (of an order from before the data began): not a customer yet,
# but an attributed return row dated in the window all the same
ORPHAN = scenario(
    "orphan",
    [
        buy("o1", "c1", "2024-06-05", 100, cost=60),
        refund("r2", "c2", "2024-06-10", 30, "", cost=20),
        buy("o3", "c2", "2024-06-20", 50),  # after the as-of day 06-15 below
    ],
)


def test_refund_of_a_customer_without_purchases_counts(sales: Sales) -> None:
    check(
        one(sales, ORPHAN, as_of=date(2024, 6, 15)),
        {
            "customers_total": 1,  # c1; c2 has no occasion by 06-15
            "revenue": 100.0,
            "refunds": 30.0,  # r2 is dated 06-10, in the window (05-16, 06-15]
            "net_revenue": 70.0,
            "return_rate": 0.3,
            "margin": 30.0,  # (100 - 60) - (30 - 20)
        },
    )


def test_refund_of_a_customer_who_buys_later_counts_once_they_are_a_customer(
    sales: Sales,
) -> None:
    # as of 06-30, c2 has bought (06-20): the window (05-31, 06-30] holds o1, r2 and o3
    check(
        one(sales, ORPHAN),
        {
            "customers_total": 2,
            "revenue": 150.0,
            "refunds": 30.0,
            "net_revenue": 120.0,
            "margin": 30.0,  # o3 has no cost: (100 - 60) - (30 - 20)
            "margin_coverage": 100 / 150,
        },
    )


def test_unattributed_orders_are_left_out(tmp_path: Path) -> None:
    # with max_links=1 the email shared by c1 and c2 is blocked, so o3 and its return r3
    # (which carry only that email) have no customer_key
    text = (
        "order_id,customer_id,email,ordered_at,channel,revenue,cost,status,return_of\n"
        "o1,c1,shared@example.com,2024-06-05 10:00,web,10.00,,completed,\n"
        "o2,c2,shared@example.com,2024-06-06 10:00,web,20.00,,completed,\n"
        "o3,,shared@example.com,2024-06-07 10:00,web,400.00,,completed,\n"
        "r3,,shared@example.com,2024-06-08 10:00,web,-400.00,,returned,o3\n"
        "o4,c3,,2024-06-09 10:00,web,30.00,,completed,\n"
        "r4,c3,,2024-06-10 10:00,web,-5.00,,returned,o4\n"
    )
    (tmp_path / "orders.csv").write_text(text, encoding="utf-8")
    ws = Workspace.init(tmp_path / "ws", timezone="UTC", phone_region="US", max_links=1)
    result = ws.load("orders", [tmp_path / "orders.csv"], now=NOW)
    assert (result.inserted, result.blocked_identifiers) == (6, 1)
    table = ws.table("orders")
    assert table.filter(table.customer_key.isnull()).order_id.to_pyarrow().to_pylist() == [
        "o3",
        "r3",
    ]
    check(
        kpis(ws.sales(), AS_OF, window=30)[0],
        {
            "customers_total": 3,  # c1, c2, c3
            "orders": 3,  # o1, o2, o4
            "revenue": 60.0,  # 10 + 20 + 30
            "refunds": 5.0,  # r4
            "top_10pct_revenue_share": 0.5,  # ceil(0.3) = 1: c3's 30 of 60
        },
    )


def test_last_order_date_is_the_last_day_of_the_orders(sales: Sales) -> None:
    # the returns scenario's last purchase is p2 on 06-06; the return r1 on 06-08 is no purchase
    # but the orders cover its day (the default as-of had left the refund out)
    assert last_order_date(shop(sales, RETURNS)) == date(2024, 6, 8)
    with pytest.raises(InputError, match="no purchases are loaded yet"):
        last_order_date(shop(sales, "no-such-scenario"))


def test_trend_is_kpis_as_of_each_month_end(sales: Sales) -> None:
    points = trend(shop(sales, BOUNDS), AS_OF, first=date(2024, 5, 15), window=30)
    assert [(p["as_of"], p["group"]) for p in points] == [
        ("2024-05-31", "all"),
        ("2024-06-30", "all"),
    ]
    # as of 05-31 the window is (05-01, 05-31]: c1 (05-31), c4 (05-02), c5 (05-10) are active and
    # new; c3's only order is on 05-01 = A-W
    check(
        points[0],
        {"customers_total": 4, "active_customers": 3, "new_customers": 3, "revenue": 25.0},
    )
    check(
        points[1],  # as test_window_boundaries_lost_and_retained
        {"customers_total": 5, "active_customers": 2, "new_customers": 1, "revenue": 34.0},
    )


def test_month_ends() -> None:
    assert month_ends(date(2023, 11, 15), date(2024, 2, 10)) == [
        date(2023, 11, 30),
        date(2023, 12, 31),
        date(2024, 1, 31),
        date(2024, 2, 10),  # the as-of day is the last point
    ]
    assert month_ends(date(2024, 1, 5), date(2024, 2, 29)) == [date(2024, 1, 31), date(2024, 2, 29)]
    assert month_ends(date(2024, 2, 1), date(2024, 2, 10)) == [date(2024, 2, 10)]


def test_concentration_curve(sales: Sales) -> None:
    # the ties scenario: 11 active customers, three spend 5 and eight spend 1 (23 in all).
    # With 4 points, rank r falls in bucket ceil(4r / 11): ranks 1-2, 3-5, 6-8, 9-11.
    curve = concentration(shop(sales, TIES), AS_OF, window=30, points=4)
    assert [(p["customer_share"], p["revenue_share"]) for p in curve] == [
        (round(2 / 11, 6), round(10 / 23, 6)),  # 5 + 5
        (round(5 / 11, 6), round(17 / 23, 6)),  # + 5 + 1 + 1
        (round(8 / 11, 6), round(20 / 23, 6)),  # + 1 + 1 + 1
        (1.0, 1.0),
    ]


def test_bad_options_are_input_errors(sales: Sales) -> None:
    table = shop(sales, SINGLE)
    with pytest.raises(InputError, match="did you mean 'channel'"):
        kpis(table, AS_OF, by="chanel")
    with pytest.raises(InputError, match="at least 1 day"):
        kpis(table, AS_OF, window=0)
    with pytest.raises(InputError, match="at least 1 day"):
        kpis(table, AS_OF, early_days=0)
