"""Acquisition guidance: CAC, CLV:CAC, payback and max CAC worked out by hand on a small shop,
spend files that fail with their file, row and column, and ``patron acquisition`` end to end.

The shop (UTC, as of A = 2024-06-30, margin 0.5) has three acquisition channels. A month of a
customer's life is 365/12 days: day d after the acquisition is in month ⌊12d/365⌋ + 1, and a
customer acquired a days before A has completed ⌊12(a + 1)/365⌋ months.

- search: s1 buys 100 on 01-05 (day 0, month 1) and 100 on the web on 02-20 (day 46, month 2);
  s2 buys 50 on 01-10 and returns 20 on 01-25 (month 1); s3 buys 40 on 02-03. s1 and s2 have
  completed 5 months (177 and 172 days), s3 4 (148 days). s4 arrives after A.
- social: so1 buys 80 on 03-10 and 20 on 03-25; so2 buys 40 on 03-15; both have completed 3
  months (112 and 107 days).
- email: e1 buys 200 on 2023-03-01, 100 on 2024-02-15 (day 351, month 12) and 60 on 2024-04-01
  (day 397, month 14): 16 months completed (487 days); e2 buys 30 on 2024-05-01: 2 months.

Predicted CLVs (low, high) are given rather than fitted, so every figure is checkable:
s1 30 (20, 40), s2 10 (5, 15), s3 8 (4, 12), so1 20 (10, 30), so2 10 (5, 15), e1 5 (1, 9),
e2 15 (5, 25).

By month, the twelve acquisition months to A are 2023-07 .. 2024-06: e1 (2023-03) is outside
them unless ``months`` reaches back 16. Calendar-month edges in shop-local days are checked on a
second shop in New York time.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import ibis
import pytest

from cli_support import ok, patron, patron_here
from patron import Workspace
from patron.acquisition import groups, guidance, read_spend
from patron.errors import InputError
from patron.predictions import Horizon

AS_OF = date(2024, 6, 30)
MARGIN = 0.5
ORDERS = """order_id,customer_id,ordered_at,channel,revenue,status,return_of
o1,s1,2024-01-05 10:00,search,100.00,completed,
o2,s1,2024-02-20 10:00,web,100.00,completed,
o3,s2,2024-01-10 10:00,search,50.00,completed,
r3,s2,2024-01-25 12:00,search,-20.00,returned,o3
o4,s3,2024-02-03 10:00,search,40.00,completed,
o5,s4,2024-07-05 10:00,search,70.00,completed,
o6,so1,2024-03-10 10:00,social,80.00,completed,
o7,so1,2024-03-25 10:00,social,20.00,completed,
o8,so2,2024-03-15 10:00,social,40.00,completed,
o9,e1,2023-03-01 10:00,email,200.00,completed,
o10,e1,2024-02-15 10:00,email,100.00,completed,
o11,e1,2024-04-01 10:00,email,60.00,completed,
o12,e2,2024-05-01 10:00,email,30.00,completed,
"""
PREDICTED = {
    "s1": (30, 20, 40),
    "s2": (10, 5, 15),
    "s3": (8, 4, 12),
    "so1": (20, 10, 30),
    "so2": (10, 5, 15),
    "e1": (5, 1, 9),
    "e2": (15, 5, 25),
}
SPEND = """channel,spend,month,start,end
search,90,2024-01,,
search,60,2024-02,,
social,100,,2024-03-01,2024-03-31
social,50,,2024-04-01,2024-04-30
"""


def loaded(factory: pytest.TempPathFactory, orders: str, timezone: str) -> Iterator[Workspace]:
    """A new workspace in ``timezone`` with the ``orders`` CSV loaded, closed afterwards."""
    root = factory.mktemp("acquisition")
    (root / "orders.csv").write_text(orders, encoding="utf-8")
    workspace = Workspace.init(root / "ws", timezone=timezone)
    result = workspace.load("orders", [root / "orders.csv"], now=datetime(2025, 1, 1, tzinfo=UTC))
    assert result.quarantined == 0, workspace.quarantine()
    yield workspace
    workspace.close()


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    yield from loaded(tmp_path_factory, ORDERS, "UTC")


def predicted(ws: Workspace) -> ibis.Table:
    """The hand-given CLVs by customer key, as ``Workspace.predict`` would give them."""
    given = ibis.memtable(
        [
            {"customer_id": c, "clv": v[0], "clv_low": v[1], "clv_high": v[2]}
            for c, v in PREDICTED.items()
        ]
    )
    return ws.table("customers").inner_join(given, "customer_id")


def rows(
    ws: Workspace, tmp_path: Path, spend: str | None, *, as_of: date = AS_OF, **options: Any
) -> dict[Any, dict[str, Any]]:
    """``guidance`` on the shop, keyed by (channel, period); ``options`` go to ``groups``."""
    spends = ()
    if spend is not None:
        (tmp_path / "spend.csv").write_text(spend, encoding="utf-8")
        spends = read_spend(tmp_path / "spend.csv")
    plan = groups(ws.sales(), as_of, spends, **options)
    result = guidance(ws.sales(), predicted(ws), as_of, plan, margin=MARGIN)
    return {(r["channel"], r["period"]): r for r in result}


def check(row: dict[str, Any], expected: dict[str, Any]) -> None:
    assert {k: row[k] for k in expected} == pytest.approx(expected, abs=1e-6)


def test_spend_periods_by_hand(ws: Workspace, tmp_path: Path) -> None:
    got = rows(ws, tmp_path, SPEND)
    assert list(got) == [
        ("email", None),  # no spend rows: everyone acquired by A, no CAC
        ("search", "2024-01"),
        ("search", "2024-02"),
        ("search", "total"),
        ("social", "2024-03-01/2024-03-31"),
        ("social", "2024-04-01/2024-04-30"),
        ("social", "total"),
    ]
    # s1, s2. CAC = 90 / 2 = 45. Margin per customer through month 1: 0.5 (100 + 50 - 20) / 2
    # = 32.5 < 45; through month 2: 0.5 (130 + 100) / 2 = 57.5 >= 45, so payback in month 2.
    # clv = (30 + 10) / 2 = 20, value = 57.5 + 20 = 77.5, CLV:CAC = 77.5 / 45, max = 77.5 / 3.
    check(
        got["search", "2024-01"],
        {
            "start": "2024-01-01",
            "end": "2024-01-31",
            "new_customers": 2,
            "spend": 90.0,
            "cac": 45.0,
            "clv": 20.0,
            "clv_low": 12.5,
            "clv_high": 27.5,
            "margin_to_date": 57.5,
            "lifetime_value": 77.5,
            "clv_to_cac": 77.5 / 45,
            "payback_months": 2,
            "months_observed": 5,
            "margin_365": None,  # nobody has completed 12 months
            "margin_365_customers": 0,
            "max_cac": 77.5 / 3,
        },
    )
    # s3 alone: 20 of margin a month against a CAC of 60: not paid back in 4 months
    check(
        got["search", "2024-02"],
        {"cac": 60.0, "payback_months": None, "months_observed": 4, "clv_to_cac": 28 / 60},
    )
    # s1, s2, s3: CAC = 150 / 3 = 50. Through months 1-4 all three count: 0.5 * 170 / 3 = 28.33,
    # then 0.5 * 270 / 3 = 45 (months 2-4); month 5 is completed by s1 and s2 only:
    # 0.5 * 230 / 2 = 57.5 >= 50, so payback in month 5. value = 0.5 * 270 / 3 + 48 / 3 = 61.
    check(
        got["search", "total"],
        {
            "start": "2024-01-01",
            "end": "2024-02-29",
            "new_customers": 3,
            "spend": 150.0,
            "cac": 50.0,
            "margin_to_date": 45.0,
            "lifetime_value": 61.0,
            "clv_to_cac": 61 / 50,
            "payback_months": 5,
            "months_observed": 5,
        },
    )
    # so1, so2: CAC 50, margin 0.5 (100 + 40) / 2 = 35 from month 1 on: not paid back in 3
    # months. value = 35 + (20 + 10) / 2 = 50.
    check(
        got["social", "2024-03-01/2024-03-31"],
        {"cac": 50.0, "lifetime_value": 50.0, "clv_to_cac": 1.0, "payback_months": None},
    )
    # spend without acquisitions is reported, with nothing to divide by
    check(
        got["social", "2024-04-01/2024-04-30"],
        {"new_customers": 0, "spend": 50.0, "cac": None, "clv": None, "months_observed": 0},
    )
    check(got["social", "total"], {"new_customers": 2, "cac": 75.0, "clv_to_cac": 50 / 75})
    # e1, e2: margin to date 0.5 (360 + 30) / 2 = 97.5; value 97.5 + (5 + 15) / 2 = 107.5.
    # Only e1 has completed 12 months: 0.5 (200 + 100) = 150 in the first 365 days.
    check(
        got["email", None],
        {
            "start": None,
            "new_customers": 2,
            "cac": None,
            "clv_to_cac": None,
            "payback_months": None,
            "lifetime_value": 107.5,
            "months_observed": 16,
            "margin_365": 150.0,
            "margin_365_customers": 1,
            "max_cac": 107.5 / 3,
        },
    )


def test_without_spend_every_channel_gets_its_max_cac(ws: Workspace, tmp_path: Path) -> None:
    got = rows(ws, tmp_path, None)
    assert list(got) == [("email", None), ("search", None), ("social", None)]
    # search: s1, s2, s3 (s4 comes after A): value 61 as in the total above; 61 / 3
    check(got["search", None], {"new_customers": 3, "cac": None, "max_cac": 61 / 3})
    check(got["social", None], {"new_customers": 2, "max_cac": 50 / 3})


def test_target_ratio_sets_max_cac(ws: Workspace) -> None:
    plan = groups(ws.sales(), AS_OF)
    result = guidance(ws.sales(), predicted(ws), AS_OF, plan, margin=MARGIN, target_ratio=2)
    assert result[0]["max_cac"] == pytest.approx(107.5 / 2)
    with pytest.raises(InputError, match=r"^target_ratio must be above 0"):
        guidance(ws.sales(), predicted(ws), AS_OF, plan, target_ratio=0)


LAST_12 = [f"2023-{m:02d}" for m in range(7, 13)] + [f"2024-{m:02d}" for m in range(1, 7)]


def test_months_by_hand(ws: Workspace, tmp_path: Path) -> None:
    got = rows(ws, tmp_path, SPEND, by="month")
    # every channel, every month of the window, empty months included
    assert list(got) == [(c, m) for c in ("email", "search", "social") for m in LAST_12]
    # A month group is a spend-period group whose days are a calendar month: search's January
    # (s1, s2) is the spend row worked out above, CAC 45, payback in month 2, value 77.5.
    by_period = rows(ws, tmp_path, SPEND)
    assert got["search", "2024-01"] == by_period["search", "2024-01"]
    # s3 alone (2024-02-03): CAC 60, value 0.5 * 40 + 8 = 28, not paid back in 4 months
    check(
        got["search", "2024-02"],
        {
            "start": "2024-02-01",
            "end": "2024-02-29",
            "new_customers": 1,
            "spend": 60.0,
            "cac": 60.0,
            "margin_to_date": 20.0,
            "lifetime_value": 28.0,
            "clv_to_cac": 28 / 60,
            "payback_months": None,
            "months_observed": 4,
            "max_cac": 28 / 3,
        },
    )
    # social's start/end rows cover whole calendar months, so they give March's and April's
    # spend: so1, so2 value 50 against a CAC of 100 / 2 = 50; April spent 50 on nobody.
    spent_march = by_period["social", "2024-03-01/2024-03-31"]
    assert got["social", "2024-03"] == {**spent_march, "period": "2024-03"}
    check(got["social", "2024-03"], {"cac": 50.0, "lifetime_value": 50.0, "clv_to_cac": 1.0})
    check(got["social", "2024-04"], {"new_customers": 0, "spend": 50.0, "cac": None})
    # e2, acquired on the first day of May: 60 days to A, ⌊12 · 61 / 365⌋ = 2 months completed.
    # margin to date 0.5 * 30 = 15, clv 15 (5, 25), value 30, max CAC 30 / 3; no spend row.
    check(
        got["email", "2024-05"],
        {
            "start": "2024-05-01",
            "end": "2024-05-31",
            "new_customers": 1,
            "spend": None,
            "cac": None,
            "clv": 15.0,
            "clv_low": 5.0,
            "clv_high": 25.0,
            "margin_to_date": 15.0,
            "lifetime_value": 30.0,
            "payback_months": None,
            "months_observed": 2,
            "margin_365": None,  # too young: nobody has had 365 days
            "margin_365_customers": 0,
            "max_cac": 10.0,
        },
    )
    # e1 (2023-03-01) is before the window: email's other months are empty
    assert sum(got["email", m]["new_customers"] for m in LAST_12) == 1
    check(
        got["search", "2023-07"],
        {
            "start": "2023-07-01",
            "end": "2023-07-31",
            "new_customers": 0,
            "clv": None,
            "lifetime_value": None,
            "months_observed": 0,
            "margin_365": None,
            "max_cac": None,
        },
    )
    # A = 2024-06-30 is June's last day: the as-of month is whole
    check(got["search", "2024-06"], {"end": "2024-06-30", "new_customers": 0})


def test_month_window_edges(ws: Workspace, tmp_path: Path) -> None:
    # 16 months reach back to 2023-03, and e1 bought on its first day: margin to date
    # 0.5 (200 + 100 + 60) = 180, clv 5, value 185; 487 days: 16 months completed, and the
    # first 365 days brought 0.5 (200 + 100) = 150 (the 60 is on day 397).
    got = rows(ws, tmp_path, None, by="month", months=16)
    assert [m for c, m in got if c == "email"][:2] == ["2023-03", "2023-04"]
    check(
        got["email", "2023-03"],
        {
            "start": "2023-03-01",
            "new_customers": 1,
            "margin_to_date": 180.0,
            "lifetime_value": 185.0,
            "months_observed": 16,
            "margin_365": 150.0,
            "margin_365_customers": 1,
            "max_cac": 185 / 3,
        },
    )
    # 15 months start on 2023-04-01, a day after e1 was acquired
    got = rows(ws, tmp_path, None, by="month", months=15)
    assert sum(r["new_customers"] for (c, _), r in got.items() if c == "email") == 1
    # As of 2024-03-12 the as-of month runs to A: so1 (03-10) counts, so2 (03-15) does not
    # yet. so1: margin 0.5 * 80 = 40 (the 20 of 03-25 is after A), clv 20, value 60; acquired
    # 2 days before A: ⌊12 · 3 / 365⌋ = 0 months completed.
    got = rows(ws, tmp_path, None, as_of=date(2024, 3, 12), by="month", months=1)
    assert list(got) == [("email", "2024-03"), ("search", "2024-03"), ("social", "2024-03")]
    check(
        got["social", "2024-03"],
        {
            "start": "2024-03-01",
            "end": "2024-03-12",
            "new_customers": 1,
            "margin_to_date": 40.0,
            "lifetime_value": 60.0,
            "months_observed": 0,
        },
    )


EDGE_ORDERS = """order_id,customer_id,ordered_at,channel,revenue
j,jan,2024-01-31T17:00:00Z,web,1
f,feb,2024-03-01T04:59:00Z,web,2
m1,mar1,2024-03-01T05:00:00Z,web,4
m31,mar31,2024-04-01T03:59:00Z,web,8
a,apr,2024-04-15T20:00:00Z,web,16
al,apr_late,2024-04-16T03:30:00Z,web,32
n,next,2024-04-16T04:00:00Z,web,64
"""


@pytest.fixture(scope="module")
def new_york(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """A shop in New York time whose customers arrive on the edges of months (UTC instants)."""
    yield from loaded(tmp_path_factory, EDGE_ORDERS, "America/New_York")


def test_months_are_shop_local_calendar_months(new_york: Workspace) -> None:
    # As of 2024-04-15 in New York (EST = UTC-5 to 03-10, EDT = UTC-4 after), each customer's
    # one order of 1, 2, 4, ... is their margin, so each month's sum names its customers:
    # jan 01-31 12:00 (last day of January); feb 02-29 23:59 (UTC: March 1st);
    # mar1 03-01 00:00 (first day of March); mar31 03-31 23:59 (UTC: April 1st);
    # apr 04-15 16:00 and apr_late 04-15 23:30 (UTC: 04-16), both on A in the partial April;
    # next 04-16 00:00, after A.
    sales = new_york.sales()
    clv = ibis.literal(0.0)
    given = new_york.table("customers").select("customer_key", clv=clv, clv_low=clv, clv_high=clv)
    as_of = date(2024, 4, 15)
    plan = groups(sales, as_of, by="month", months=3)  # February to April: jan is outside
    got = {r["period"]: r for r in guidance(sales, given, as_of, plan)}
    assert {p: (r["start"], r["end"]) for p, r in got.items()} == {
        "2024-02": ("2024-02-01", "2024-02-29"),
        "2024-03": ("2024-03-01", "2024-03-31"),
        "2024-04": ("2024-04-01", "2024-04-15"),
    }
    assert {p: (r["new_customers"], r["margin_to_date"]) for p, r in got.items()} == {
        "2024-02": (1, 2.0),  # feb
        "2024-03": (2, (4 + 8) / 2),  # mar1, mar31
        "2024-04": (2, (16 + 32) / 2),  # apr, apr_late
    }
    plan = groups(sales, as_of, by="month", months=4)  # one month more: jan, on January's last day
    january = guidance(sales, given, as_of, plan)[0]
    assert (january["period"], january["new_customers"], january["margin_to_date"]) == (
        "2024-01",
        1,
        1.0,
    )


@pytest.mark.parametrize(
    ("text", "as_of", "options", "row", "field", "message"),
    [
        (
            SPEND,
            AS_OF,
            {"months": 3},
            1,
            "month",
            "2024-01 is before the months reported (2024-04 to 2024-06); pass months 6",
        ),
        (
            "channel,spend,start,end\nsearch,10,2024-01-05,2024-02-04\n",
            AS_OF,
            {},
            1,
            "start",
            "2024-01-05/2024-02-04 is not one calendar month",
        ),
        (  # the partial as-of month's customers are not all counted yet
            "channel,spend,month\nsocial,10,2024-03\n",
            date(2024, 3, 12),
            {},
            1,
            "month",
            "2024-03 ends after the as-of day 2024-03-12",
        ),
    ],
)
def test_bad_spend_by_month(
    ws: Workspace,
    tmp_path: Path,
    text: str,
    as_of: date,
    options: dict[str, Any],
    row: int,
    field: str,
    message: str,
) -> None:
    path = tmp_path / "spend.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        groups(ws.sales(), as_of, read_spend(path), by="month", **options)
    error = caught.value
    assert (error.file, error.row, error.field) == (str(path), row, field)
    assert message in str(error)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"by": "mnth"}, "by 'mnth': acquisition groups by 'channel' or 'month' (did you mean"),
        ({"months": 6}, "months goes with by month"),
        ({"by": "month", "months": 0}, "months 0: report 1 or more months"),
    ],
)
def test_bad_grouping(ws: Workspace, options: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError) as caught:
        groups(ws.sales(), AS_OF, **options)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("text", "row", "field", "message"),
    [
        ("channel,spend\nsearch,10\n", None, None, "missing column(s) month (or start and end)"),
        ("channel,month\nsearch,2024-01\n", None, None, "missing column(s) spend"),
        ("channel,spend,month\n", None, None, "no spend rows"),
        ("channel,spend,month\nsearch,10,2024-01\nsearch,abc,2024-02\n", 2, "spend", "'abc'"),
        ("channel,spend,month\nsearch,-5,2024-01\n", 1, "spend", "an amount of 0 or more"),
        ('channel,spend,month\nsearch,"1,250",2024-01\n', 1, "spend", "'1,250' is not"),
        ("channel,spend,month\n,10,2024-01\n", 1, "channel", "is not an acquisition channel"),
        ("channel,spend,month\nsearch,10,2024-13\n", 1, "month", "a month such as 2024-03"),
        ("channel,spend,month\nsearch,10,March\n", 1, "month", "'March' is not"),
        ("channel,spend,start,end\nsearch,10,2024-01-01,\n", 1, "end", "a date such as"),
        ("channel,spend,start,end\nsearch,10,2024-02-01,2024-01-31\n", 1, "end", "before"),
        ("channel,spend,month\nserch,10,2024-01\n", 1, "channel", "did you mean 'search'?"),
        ("channel,spend,month\nweb,10,2024-01\n", 1, "channel", "channels are email, search"),
        ("channel,spend,month\nsearch,10,2024-06\nsearch,10,2024-07\n", 2, "month", "after"),
        (
            "channel,spend,month,start,end\nsearch,10,2024-01,,\nsearch,5,,2024-01-20,2024-02-10\n",
            2,
            "start",
            "overlaps 2024-01 (row 1)",
        ),
    ],
)
def test_bad_spend_files_say_file_row_and_column(
    ws: Workspace, tmp_path: Path, text: str, row: int | None, field: str | None, message: str
) -> None:
    path = tmp_path / "spend.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        groups(ws.sales(), AS_OF, read_spend(path))
    error = caught.value
    assert (error.file, error.row, error.field) == (str(path), row, field)
    assert message in str(error)


def test_unreadable_spend_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read the spend file"):
        read_spend(tmp_path / "nope.csv")
    latin = tmp_path / "latin.csv"
    latin.write_bytes("channel,spend,month\nmarch\u00e9,10,2024-01\n".encode("latin-1"))
    with pytest.raises(InputError, match="not a UTF-8 CSV file"):
        read_spend(latin)
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(InputError, match="found no header"):
        read_spend(empty)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic retailer's real files (500 people, 2022-2024) loaded through the CLI."""
    root = tmp_path_factory.mktemp("shop")
    args = ("sample", "synthetic", "--out", "data", "--customers", "500", "--seed", "11")
    ok(patron_here(*args, cwd=root))
    ok(patron_here("init", "ws", "--phone-region", "US", "--currency", "EUR", cwd=root))
    ok(patron_here("-w", "ws", "load", "orders", "data/orders.csv", cwd=root))
    (root / "spend.csv").write_text(
        "channel,month,spend\nweb,2024-01,900\nweb,2024-02,800\napp,2024-02,500\n",
        encoding="utf-8",
    )
    return root


def cli(shop: Path, *args: str) -> Any:
    """``patron -w ws acquisition *args`` in this process (no start-up)."""
    return ok(patron_here("-w", "ws", "acquisition", *args, cwd=shop))


def test_cli_without_spend(shop: Path) -> None:
    # the real command, in a subprocess; the other acquisition tests call the app in this process
    args = ("--margin", "0.3", "--horizon", "26", "--json")
    report = ok(patron("-w", "ws", "acquisition", *args, cwd=shop))
    assert {k: report[k] for k in ("as_of", "horizon", "margin", "currency", "spend")} == {
        "as_of": "2024-12-31",
        "horizon": 26,
        "margin": 0.3,
        "currency": "EUR",
        "spend": None,
    }
    channels = {r["channel"]: r for r in report["channels"]}
    kpis = ok(patron_here("-w", "ws", "kpis", "--by", "acquisition_channel", "--json", cwd=shop))
    assert {g["group"]: g["customers_total"] for g in kpis["groups"]} == {
        name: r["new_customers"] for name, r in channels.items()
    }
    with Workspace.open(shop / "ws", read_only=True) as ws:
        table = ws.predict(horizon=Horizon(periods=26, margin=0.3))
        sales = ws.sales().occasions
        first = sales.filter(sales.n == 0).select("customer_key", "acquisition_channel")
        joined = table.inner_join(first, "customer_key")
        means = joined.group_by("acquisition_channel").agg(clv=joined.clv.mean()).to_pyarrow()
    for name, clv in zip(*means.to_pydict().values(), strict=True):
        assert channels[name]["clv"] == pytest.approx(clv, abs=1e-5)
    for r in channels.values():
        assert r["clv_low"] <= r["clv"] <= r["clv_high"]
        assert r["lifetime_value"] == pytest.approx(r["margin_to_date"] + r["clv"], abs=1e-5)
        assert r["max_cac"] == pytest.approx(r["lifetime_value"] / 3, abs=1e-5)
        assert r["cac"] is None and r["payback_months"] is None


def test_cli_with_spend(shop: Path) -> None:
    report = cli(shop, "--spend", "spend.csv", "--target-ratio", "4", "--json")
    got = {(r["channel"], r["period"]): r for r in report["channels"]}
    assert {("web", "2024-01"), ("web", "2024-02"), ("web", "total"), ("app", "2024-02")} <= set(
        got
    )
    assert got["store", None]["cac"] is None  # a channel without spend keeps its max CAC
    for key, spend in ((("web", "2024-01"), 900), (("app", "2024-02"), 500)):
        r = got[key]
        assert r["cac"] == pytest.approx(spend / r["new_customers"], abs=1e-5)
        assert r["clv_to_cac"] == pytest.approx(r["lifetime_value"] / r["cac"], abs=1e-5)
        assert r["max_cac"] == pytest.approx(r["lifetime_value"] / 4, abs=1e-5)
    months = [got["web", m]["new_customers"] for m in ("2024-01", "2024-02")]
    assert got["web", "total"]["new_customers"] == sum(months)
    text = cli(shop, "--spend", "spend.csv")
    assert "payback" in text and "web" in text and "total" in text


def test_cli_errors_are_one_line(shop: Path) -> None:
    (shop / "bad.csv").write_text("channel,month,spend\nweb,2024-01,lots\n", encoding="utf-8")
    bad = patron("-w", "ws", "acquisition", "--spend", "bad.csv", cwd=shop)
    assert bad.returncode == 2
    assert bad.stderr.strip() == (
        "error: bad.csv, row 1, column 'spend': "
        "'lots' is not an amount of 0 or more such as 1250.50"
    )
    ratio = patron_here("-w", "ws", "acquisition", "--target-ratio", "0", cwd=shop)
    assert ratio.returncode == 2 and "--target-ratio must be above 0" in ratio.stderr


def test_cli_by_month(shop: Path) -> None:
    report = cli(shop, "--by", "month", "--spend", "spend.csv", "--json")
    assert (report["by"], report["months"], report["as_of"]) == ("month", 12, "2024-12-31")
    months = [f"2024-{m:02d}" for m in range(1, 13)]
    got = {(r["channel"], r["period"]): r for r in report["channels"]}
    channels = sorted({c for c, _ in got})
    assert list(got) == [(c, m) for c in channels for m in months]
    by_channel = cli(shop, "--json")["channels"][0]
    assert all(r.keys() == by_channel.keys() for r in report["channels"])  # same keys
    for key, spend in ((("web", "2024-01"), 900), (("app", "2024-02"), 500)):
        r = got[key]
        assert r["spend"] == spend
        assert r["cac"] == pytest.approx(spend / r["new_customers"], abs=1e-5)
        assert r["clv_to_cac"] == pytest.approx(r["lifetime_value"] / r["cac"], abs=1e-5)
    assert got["web", "2024-03"]["spend"] is None and got["web", "2024-03"]["cac"] is None
    # each month's new customers over all channels are that acquisition cohort's customers
    kpis = ok(patron_here("-w", "ws", "kpis", "--by", "cohort", "--json", cwd=shop))
    cohorts = {g["group"]: g["customers_total"] for g in kpis["groups"]}
    for month in months:
        assert sum(got[c, month]["new_customers"] for c in channels) == cohorts.get(month, 0)


def test_cli_by_month_text_marks_the_partial_month(shop: Path) -> None:
    text = cli(shop, "--by", "month", "--months", "2", "--as-of", "2024-12-15")
    assert "2024-11" in text and "2024-12" in text and "2024-10" not in text
    assert "2024-12 counts to 2024-12-15 only" in " ".join(text.split())


def test_month_report_fits_the_models_once(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Workspace.open(shop / "ws", read_only=True) as ws:
        calls: list[dict[str, Any]] = []
        fit = ws.predict

        def predict(**options: Any) -> ibis.Table:
            calls.append(options)
            return fit(**options)

        monkeypatch.setattr(ws, "predict", predict)
        report = ws.acquisition(by="month", months=12, spend=shop / "spend.csv")
    assert len(calls) == 1
    assert len(report["channels"]) == 12 * len({r["channel"] for r in report["channels"]})


def test_cli_grouping_errors_are_one_line(shop: Path) -> None:
    for args, message in (
        (("--by", "mnth"), "error: --by 'mnth': acquisition groups by 'channel' or 'month'"),
        (("--months", "6"), "error: --months goes with --by month"),
    ):
        bad = patron_here("-w", "ws", "acquisition", *args, cwd=shop)
        assert bad.returncode == 2 and bad.stderr.startswith(message)
