"""Cohort tables, cohort comparison and CLV curves on hand-made order files.

The definitions are the module docstrings of ``patron.metrics.base`` and
``patron.metrics.cohorts``; every expected number is worked out by hand in a comment. The
scenarios are written into one file and loaded once through the real loader; ids are prefixed
with the scenario's name and a test passes the orders and occasions of its scenario
(``scenarios.shop``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from scenarios import shop

from patron import Workspace
from patron.errors import InputError
from patron.metrics.base import period_label, period_of
from patron.metrics.cohorts import clv_curves, cohorts, compare
from patron.metrics.occasions import Sales

HEADER = "order_id,customer_id,ordered_at,channel,revenue,cost,status,return_of\n"
NOW = datetime(2025, 6, 1, tzinfo=UTC)  # the load's clock: every order below is before it

# scenario -> rows of (order_id, customer, ordered_at, channel, revenue, status, return_of)
SCENARIOS: dict[str, list[tuple[str, ...]]] = {
    # As of 2024-03-15 (a partly observed March):
    #   c1: acquired 01-10 on the web; second occasion 01-20; back in March (store)
    #   c2: acquired 01-25 in store; a refund of 10 in February, when c2 did not buy
    #   c3: acquired 02-14 on the web (09:00; a store order the same evening is the same
    #       occasion); second occasion on the as-of day 03-15; an order on 03-16 is not read
    "main": [
        ("o1", "c1", "2024-01-10 10:00", "web", "10.00", "completed", ""),
        ("o2", "c1", "2024-01-20 10:00", "web", "5.00", "completed", ""),
        ("o3", "c1", "2024-03-05 10:00", "store", "20.00", "completed", ""),
        ("o4", "c2", "2024-01-25 10:00", "store", "30.00", "completed", ""),
        ("r4", "c2", "2024-02-03 10:00", "store", "-10.00", "returned", "o4"),
        ("o5", "c3", "2024-02-14 09:00", "web", "8.00", "completed", ""),
        ("o6", "c3", "2024-02-14 18:00", "store", "2.00", "completed", ""),
        ("o7", "c3", "2024-03-15 23:00", "web", "4.00", "completed", ""),
        ("o8", "c3", "2024-03-16 10:00", "web", "100.00", "completed", ""),
    ],
    # first purchases on the first and last day of every retail season of 2023, as of 2024-01-01
    "seasons": [
        ("o1", "s1", "2023-02-28 10:00", "web", "1.00", "completed", ""),  # 2023-winter
        ("o2", "s2", "2023-03-01 10:00", "web", "1.00", "completed", ""),  # 2023-spring
        ("o3", "s3", "2023-05-31 10:00", "web", "1.00", "completed", ""),  # 2023-spring
        ("o4", "s4", "2023-06-01 10:00", "web", "1.00", "completed", ""),  # 2023-summer
        ("o5", "s5", "2023-08-31 10:00", "web", "1.00", "completed", ""),  # 2023-summer
        ("o6", "s6", "2023-09-01 10:00", "web", "1.00", "completed", ""),  # 2023-autumn
        ("o7", "s7", "2023-10-31 10:00", "web", "1.00", "completed", ""),  # 2023-autumn
        ("o8", "s8", "2023-11-01 10:00", "web", "1.00", "completed", ""),  # 2023-holiday
        ("o9", "s9", "2023-12-31 10:00", "web", "1.00", "completed", ""),  # 2023-holiday
        ("o10", "s8", "2024-01-01 10:00", "web", "1.00", "completed", ""),  # s8 back in winter
        ("o11", "s10", "2024-01-01 11:00", "web", "1.00", "completed", ""),  # 2024-winter
    ],
}


@pytest.fixture(scope="module")
def sales(tmp_path_factory: pytest.TempPathFactory) -> Sales:
    folder = tmp_path_factory.mktemp("cohorts")
    lines = []
    for name, rows in SCENARIOS.items():
        for order_id, customer, at, channel, revenue, status, of in rows:
            of = f"{name}.{of}" if of else ""
            lines.append(
                f"{name}.{order_id},{name}.{customer},{at},{channel},{revenue},,{status},{of}\n"
            )
    (folder / "orders.csv").write_text(HEADER + "".join(lines), encoding="utf-8")
    ws = Workspace.init(folder / "ws", timezone="UTC", phone_region="US")
    result = ws.load("orders", [folder / "orders.csv"], now=NOW)
    assert (result.inserted, result.quarantined) == (len(lines), 0)
    return ws.sales()


def r6(value: Any) -> Any:
    """``value`` with every float rounded to the 6 decimals the cohort functions round to."""
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict):
        return {k: r6(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(r6(v) for v in value)
    return value


AS_OF = date(2024, 3, 15)


def table(sales: Sales, period: str, metric: str, as_of: date = AS_OF) -> list[Any]:
    """(cohort, size, values) rows of the main scenario."""
    out = cohorts(shop(sales, "main"), as_of, period=period, metric=metric)
    assert (out["period"], out["metric"], out["as_of"]) == (period, metric, as_of.isoformat())
    return [(c["cohort"], c["size"], c["values"]) for c in out["cohorts"]]


# Monthly, as of 2024-03-15: cohort 2024-01 = {c1, c2} has ages Jan, Feb, Mar;
# cohort 2024-02 = {c3} has ages Feb, Mar.
MONTHLY: dict[str, list[tuple[str, int, list[Any]]]] = {
    # active: Jan {c1, c2}, Feb {}, Mar {c1} / Feb {c3}, Mar {c3}
    "customers": [("2024-01", 2, [2, 0, 1]), ("2024-02", 1, [1, 1])],
    # customers / size; age 0 is 1 by definition
    "retention": [("2024-01", 2, [1.0, 0.0, 0.5]), ("2024-02", 1, [1.0, 1.0])],
    # Jan 10 + 5 + 30 = 45, Feb: c2's refund -10, Mar 20 / Feb 8 + 2 = 10, Mar 4 (not the 100)
    "revenue": [("2024-01", 2, [45.0, -10.0, 20.0]), ("2024-02", 1, [10.0, 4.0])],
    # running net revenue / size: 45/2, 35/2, 55/2 / 10, 14
    "cumulative_revenue": [("2024-01", 2, [22.5, 17.5, 27.5]), ("2024-02", 1, [10.0, 14.0])],
    # c1's second occasion is in Jan (age 0), c2 has none / c3's is 03-15 (age 1): the same-day
    # store order on 02-14 is not a second occasion
    "repeat": [("2024-01", 2, [0.5, 0.5, 0.5]), ("2024-02", 1, [0.0, 1.0])],
}


@pytest.mark.parametrize("metric", list(MONTHLY))
def test_monthly_cohorts(sales: Sales, metric: str) -> None:
    assert r6(table(sales, "month", metric)) == r6(MONTHLY[metric])


# Every customer of the main scenario was acquired in 2024-Q1 (and 2024), the as-of quarter:
# one cohort of 3 with age 0 only. Net revenue 45 - 10 + 20 + 10 + 4 = 69; c1 and c3 repeat.
Q1 = {
    "customers": [3],
    "retention": [1.0],
    "revenue": [69.0],
    "cumulative_revenue": [23.0],
    "repeat": [2 / 3],
}


@pytest.mark.parametrize(
    ("period", "label", "metric"),
    [
        *[("quarter", "2024-Q1", metric) for metric in Q1],
        ("year", "2024", "revenue"),
        ("year", "2024", "repeat"),
    ],
)
def test_quarter_and_year_cohorts(sales: Sales, period: str, label: str, metric: str) -> None:
    assert r6(table(sales, period, metric)) == r6([(label, 3, Q1[metric])])


# Seasons: Jan-Feb is winter, March spring. Cohort 2024-winter = {c1, c2, c3}, ages winter, spring.
SEASONAL = {
    "customers": [3, 2],  # spring: c1 (03-05), c3 (03-15)
    "retention": [1.0, 2 / 3],
    "revenue": [45.0, 24.0],  # winter 15 + (30 - 10) + 10; spring 20 + 4
    "cumulative_revenue": [15.0, 23.0],  # 45 / 3, 69 / 3
    "repeat": [1 / 3, 2 / 3],  # c1 repeats in winter, c3 in spring
}


@pytest.mark.parametrize("metric", list(SEASONAL))
def test_season_cohorts(sales: Sales, metric: str) -> None:
    expected = [("2024-winter", 3, SEASONAL[metric])]
    assert r6(table(sales, "season", metric)) == r6(expected)


@pytest.mark.parametrize(
    ("period", "expected"),
    [
        (
            "season",
            [
                ("2023-winter", 1, 6),  # winter, spring, summer, autumn, holiday, 2024-winter
                ("2023-spring", 2, 5),
                ("2023-summer", 2, 4),
                ("2023-autumn", 2, 3),
                ("2023-holiday", 2, 2),
                ("2024-winter", 1, 1),
            ],
        ),
        (
            "quarter",
            [
                ("2023-Q1", 2, 5),
                ("2023-Q2", 2, 4),
                ("2023-Q3", 2, 3),
                ("2023-Q4", 3, 2),
                ("2024-Q1", 1, 1),
            ],
        ),
        ("year", [("2023", 9, 2), ("2024", 1, 1)]),
        (
            "month",
            [
                ("2023-02", 1, 12),  # Feb 2023 .. Jan 2024
                ("2023-03", 1, 11),
                ("2023-05", 1, 9),
                ("2023-06", 1, 8),
                ("2023-08", 1, 6),
                ("2023-09", 1, 5),
                ("2023-10", 1, 4),
                ("2023-11", 1, 3),
                ("2023-12", 1, 2),
                ("2024-01", 1, 1),
            ],
        ),
    ],
)
def test_cohort_labels_sizes_and_ages(sales: Sales, period: str, expected: list[Any]) -> None:
    out = cohorts(shop(sales, "seasons"), date(2024, 1, 1), period=period, metric="retention")
    assert [(c["cohort"], c["size"], len(c["values"])) for c in out["cohorts"]] == expected
    assert all(c["values"][0] == 1.0 for c in out["cohorts"])  # age 0 is 1 by definition


def test_holiday_cohort_retention(sales: Sales) -> None:
    out = cohorts(shop(sales, "seasons"), date(2024, 1, 1), period="season", metric="retention")
    by_label = {c["cohort"]: c["values"] for c in out["cohorts"]}
    # 2023-holiday = {s8, s9}; in 2024-winter only s8 is back: 1/2
    assert by_label["2023-holiday"] == [1.0, 0.5]
    assert by_label["2023-winter"] == [1.0, 0.0, 0.0, 0.0, 0.0, 0.0]


@pytest.mark.parametrize(
    ("day", "labels"),
    [
        # (month, quarter, year, season)
        (date(2023, 1, 1), ("2023-01", "2023-Q1", "2023", "2023-winter")),
        (date(2024, 2, 29), ("2024-02", "2024-Q1", "2024", "2024-winter")),
        (date(2023, 3, 1), ("2023-03", "2023-Q1", "2023", "2023-spring")),
        (date(2023, 4, 1), ("2023-04", "2023-Q2", "2023", "2023-spring")),
        (date(2023, 5, 31), ("2023-05", "2023-Q2", "2023", "2023-spring")),
        (date(2023, 6, 1), ("2023-06", "2023-Q2", "2023", "2023-summer")),
        (date(2023, 8, 31), ("2023-08", "2023-Q3", "2023", "2023-summer")),
        (date(2023, 9, 1), ("2023-09", "2023-Q3", "2023", "2023-autumn")),
        (date(2023, 10, 31), ("2023-10", "2023-Q4", "2023", "2023-autumn")),
        (date(2023, 11, 1), ("2023-11", "2023-Q4", "2023", "2023-holiday")),
        (date(2023, 12, 31), ("2023-12", "2023-Q4", "2023", "2023-holiday")),
    ],
)
def test_period_labels(day: date, labels: tuple[str, ...]) -> None:
    periods = ("month", "quarter", "year", "season")
    assert tuple(period_label(period_of(day, p), p) for p in periods) == labels


def test_consecutive_periods_have_consecutive_numbers() -> None:
    # the age of a cohort is a difference of period numbers: 2023-holiday -> 2024-winter is 1
    assert period_of(date(2024, 1, 1), "season") - period_of(date(2023, 12, 31), "season") == 1
    assert period_of(date(2024, 1, 1), "month") - period_of(date(2023, 12, 31), "month") == 1
    assert period_of(date(2024, 1, 1), "quarter") - period_of(date(2023, 12, 31), "quarter") == 1
    with pytest.raises(InputError, match="did you mean 'season'"):
        period_of(date(2024, 1, 1), "sesaon")


@pytest.mark.parametrize(
    ("as_of", "period", "partial"),
    [
        (date(2024, 3, 15), "month", True),
        (date(2024, 3, 31), "month", False),
        (date(2024, 3, 31), "quarter", False),
        (date(2024, 3, 31), "year", True),
        (date(2024, 2, 28), "season", True),  # 2024 is leap: winter runs to 02-29
        (date(2024, 2, 29), "season", False),
        (date(2024, 12, 31), "year", False),
    ],
)
def test_partial_last(sales: Sales, as_of: date, period: str, partial: bool) -> None:
    out = cohorts(shop(sales, "main"), as_of, period=period, metric="customers")
    assert out["partial_last"] is partial


def test_compare_two_cohorts(sales: Sales) -> None:
    out = compare(shop(sales, "main"), AS_OF, "2024-02", "2024-01", period="month")
    assert out["period"] == "month"
    assert out["as_of"] == "2024-03-15"
    first, second = out["cohorts"]
    assert r6(first) == r6(
        {"cohort": "2024-02", "size": 1, **{m: v[1][2] for m, v in MONTHLY.items()}}
    )
    assert r6(second) == r6(
        {"cohort": "2024-01", "size": 2, **{m: v[0][2] for m, v in MONTHLY.items()}}
    )


def test_compare_unknown_cohort_suggests_a_known_one(sales: Sales) -> None:
    seasons = shop(sales, "seasons")
    with pytest.raises(
        InputError, match=r"no season cohort '2023-holliday'.*did you mean '2023-holiday'"
    ):
        compare(seasons, date(2024, 1, 1), "2023-winter", "2023-holliday", period="season")
    # a month written loosely is read as its label, and it is that label the error names
    with pytest.raises(InputError, match=r"no month cohort '2024-03'.*did you mean"):
        compare(shop(sales, "main"), AS_OF, "2024-3", "2024-01", period="month")


def test_unknown_metric_or_period(sales: Sales) -> None:
    main = shop(sales, "main")
    with pytest.raises(InputError, match="did you mean 'retention'"):
        cohorts(main, AS_OF, period="month", metric="retension")
    with pytest.raises(InputError, match="did you mean 'quarter'"):
        cohorts(main, AS_OF, period="quater", metric="retention")
    with pytest.raises(InputError, match="did you mean 'season'"):
        clv_curves(main, AS_OF, period="seasons")
    with pytest.raises(InputError, match="did you mean 'month'"):
        compare(main, AS_OF, "2024-01", "2024-02", period="monht")


def test_clv_curves_by_acquisition_channel(sales: Sales) -> None:
    # acquisition channels: c1 web (Jan), c2 store (Jan), c3 web (Feb; 09:00 web before 18:00 store)
    # net revenue by age: c1 15, 0, 20; c2 30, -10, 0; c3 10, 4 (the Feb cohort reaches age 1 only)
    out = clv_curves(shop(sales, "main"), AS_OF, period="month")
    assert (out["period"], out["as_of"]) == ("month", "2024-03-15")
    assert r6(out["curves"]) == r6(
        [
            {
                "group": "all",
                "customers": [3, 3, 2],  # age 2 is reached by the January cohort only
                # (15 + 30 + 10) / 3, (15 + 20 + 14) / 3, (35 + 20) / 2
                "values": [55 / 3, 49 / 3, 27.5],
            },
            {"group": "store", "customers": [1, 1, 1], "values": [30.0, 20.0, 20.0]},
            # (15 + 10) / 2, (15 + 14) / 2, 35 / 1
            {"group": "web", "customers": [2, 2, 1], "values": [12.5, 14.5, 35.0]},
        ]
    )


def test_clv_curves_by_quarter(sales: Sales) -> None:
    out = clv_curves(shop(sales, "main"), AS_OF, period="quarter")
    assert r6(out["curves"]) == r6(
        [
            {"group": "all", "customers": [3], "values": [23.0]},  # 69 / 3
            {"group": "store", "customers": [1], "values": [20.0]},  # 30 - 10
            {"group": "web", "customers": [2], "values": [24.5]},  # (35 + 14) / 2
        ]
    )


def test_nothing_bought_yet(sales: Sales) -> None:
    main = shop(sales, "main")
    assert cohorts(main, date(2023, 12, 31), period="month", metric="retention")["cohorts"] == []
    assert clv_curves(main, date(2023, 12, 31), period="month")["curves"] == []
