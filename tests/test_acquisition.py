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
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import ibis
import pytest

from cli_support import ok, patron
from patron import Workspace
from patron.acquisition import groups, guidance, read_spend
from patron.errors import InputError
from patron.predict import Horizon

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


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    root = tmp_path_factory.mktemp("acquisition")
    (root / "orders.csv").write_text(ORDERS, encoding="utf-8")
    workspace = Workspace.init(root / "ws", timezone="UTC")
    result = workspace.load("orders", [root / "orders.csv"], now=datetime(2025, 1, 1, tzinfo=UTC))
    assert result.quarantined == 0, workspace.quarantine()
    yield workspace
    workspace.close()


def predicted(ws: Workspace) -> ibis.Table:
    """The hand-given CLVs by customer key, as ``Workspace.predict`` would give them."""
    given = ibis.memtable(
        [
            {"customer_id": c, "clv": v[0], "clv_low": v[1], "clv_high": v[2]}
            for c, v in PREDICTED.items()
        ]
    )
    return ws.table("customers").inner_join(given, "customer_id")


def rows(ws: Workspace, tmp_path: Path, spend: str | None) -> dict[Any, dict[str, Any]]:
    """``guidance`` on the shop, keyed by (channel, period)."""
    spends = ()
    if spend is not None:
        (tmp_path / "spend.csv").write_text(spend, encoding="utf-8")
        spends = read_spend(tmp_path / "spend.csv")
    plan = groups(ws.sales(), AS_OF, spends)
    result = guidance(ws.sales(), predicted(ws), AS_OF, plan, margin=MARGIN)
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
    with pytest.raises(InputError, match="--target-ratio must be above 0"):
        guidance(ws.sales(), predicted(ws), AS_OF, plan, target_ratio=0)


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
    ok(patron(*args, cwd=root))
    ok(patron("init", "ws", "--phone-region", "US", "--currency", "EUR", cwd=root))
    ok(patron("-w", "ws", "load", "orders", "data/orders.csv", cwd=root))
    (root / "spend.csv").write_text(
        "channel,month,spend\nweb,2024-01,900\nweb,2024-02,800\napp,2024-02,500\n",
        encoding="utf-8",
    )
    return root


def cli(shop: Path, *args: str) -> Any:
    return ok(patron("-w", "ws", "acquisition", *args, cwd=shop))


def test_cli_without_spend(shop: Path) -> None:
    report = cli(shop, "--margin", "0.3", "--horizon", "26", "--json")
    assert {k: report[k] for k in ("as_of", "horizon", "margin", "currency", "spend")} == {
        "as_of": "2024-12-31",
        "horizon": 26,
        "margin": 0.3,
        "currency": "EUR",
        "spend": None,
    }
    channels = {r["channel"]: r for r in report["channels"]}
    kpis = ok(patron("-w", "ws", "kpis", "--by", "acquisition_channel", "--json", cwd=shop))
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
    ratio = patron("-w", "ws", "acquisition", "--target-ratio", "0", cwd=shop)
    assert ratio.returncode == 2 and "--target-ratio must be above 0" in ratio.stderr
