"""Money, as a finance-minded analyst checks it: every amount patron prints or exports is exact
to the cent, agrees across commands, and is the same whether the orders came as CSV or Parquet.

The book of orders is built here, so every expected figure is computed independently with
``Decimal`` from the rows themselves, never from patron's own answers.
"""

from __future__ import annotations

import csv
import random
import shutil
import warnings
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cli_support import ok, patron, patron_here
from patron import Workspace
from patron.errors import PatronWarning
from patron.report import format as fmt

FIELDS = (
    "order_id",
    "email",
    "ordered_at",
    "channel",
    "revenue",
    "discount",
    "cost",
    "status",
    "return_of",
)
AMOUNTS = ("0.10", "0.20", "19.99", "0.00", "5.55", "100.01", "33.33", "1234.56", "0.01", "7.77")
RETURN_STATUSES = {"returned", "return", "refunded", "refund"}
SOURCES = ("orders.csv", "orders_decimal.parquet", "orders_double.parquet")
CENT = Decimal("0.01")


def _order(order_id: str, email: str, at: str, channel: str, revenue: str, **more: str) -> dict:
    row = dict.fromkeys(FIELDS, "")
    row.update(order_id=order_id, email=email, ordered_at=at, channel=channel, revenue=revenue)
    return row | more


def book() -> list[dict[str, str]]:
    """Forty customers' purchases of amounts whose float sums drift (0.1 + 0.2, 19.99, ...),
    a billion-dollar order with a cost, a full refund, a refund larger than any purchase, a
    positive amount with a returned status, a return of an order never loaded (its customer
    bought nothing), a cancelled order, zero-revenue orders and costs on some orders only."""
    rng = random.Random(11)
    rows, n, start = [], 0, datetime(2024, 1, 1, 12)
    for c in range(1, 41):
        for _ in range(rng.randint(1, 5)):
            n += 1
            at = start + timedelta(days=rng.randint(0, 300), hours=rng.randint(0, 8))
            rows.append(
                _order(
                    f"o{n}",
                    f"c{c:02d}@x.com",
                    at.isoformat(sep=" "),
                    rng.choice(["web", "store"]),
                    rng.choice(AMOUNTS),
                    discount=rng.choice(["", "0.00", "1.00", "0.33"]),
                    cost=rng.choice(["", "", "1.10", "0.07", "50.00"]),
                )
            )
    return [
        *rows,
        _order("r1", "c01@x.com", "2024-10-20 10:00:00", "web", "-19.99", cost="-1.10"),
        _order("r2", "c02@x.com", "2024-10-21 10:00:00", "web", "-5000.00", status="refunded"),
        _order("r3", "c03@x.com", "2024-10-22 10:00", "store", "12.34", status="returned"),
        _order("x1", "c04@x.com", "2024-10-23 10:00:00", "store", "999.99", status="cancelled"),
        _order(
            "big", "c05@x.com", "2024-10-24 10:00:00", "web", "1000000000.00", cost="900000000.00"
        ),
        _order("z1", "c41@x.com", "2024-10-25 10:00:00", "web", "-3.00", return_of="zzz"),
        _order("last", "c06@x.com", "2024-10-30 10:00:00", "web", "0.30"),
    ]


def _money(text: str) -> Decimal | None:
    return Decimal(text) if text else None


def write_sources(folder: Path, rows: list[dict[str, str]]) -> None:
    """The book as CSV, as Parquet with DECIMAL(18,2) money and as Parquet with DOUBLE revenue."""
    with (folder / "orders.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    texts = {
        k: [r[k] or None for r in rows] for k in FIELDS if k not in ("revenue", "discount", "cost")
    }
    money = {
        k: pa.array([_money(r[k]) for r in rows], pa.decimal128(18, 2))
        for k in ("revenue", "discount", "cost")
    }
    table = pa.table(texts | money)
    pq.write_table(table, folder / "orders_decimal.parquet")
    floats = pa.array([float(r["revenue"]) for r in rows], pa.float64())
    pq.write_table(
        table.set_column(table.schema.get_field_index("revenue"), "revenue", floats),
        folder / "orders_double.parquet",
    )


@dataclass(frozen=True)
class Expected:
    """The book's figures, by hand: purchases are neither returns nor cancelled; a refund is a
    return's absolute revenue; margin is revenue - cost over costed purchases, less refunds,
    plus recovered cost (docs/metrics.md)."""

    revenue: Decimal
    orders: int
    refunds: Decimal
    margin: Decimal
    by_customer: dict[str, dict[str, Decimal]]
    purchases: list[dict[str, Any]]


def expected(rows: list[dict[str, str]]) -> Expected:
    buys, refunds = [], []
    for r in rows:
        revenue = Decimal(r["revenue"])
        if revenue < 0 or r["status"] in RETURN_STATUSES:
            refunds.append(r | {"amount": abs(revenue)})
        elif r["status"] != "cancelled":
            buys.append(r | {"amount": revenue})
    refunded = sum((r["amount"] for r in refunds), Decimal(0))
    recovered = sum((abs(Decimal(r["cost"])) for r in refunds if r["cost"]), Decimal(0))
    costed = sum((r["amount"] - Decimal(r["cost"]) for r in buys if r["cost"]), Decimal(0))
    people: dict[str, dict[str, Decimal]] = defaultdict(
        lambda: {"revenue": Decimal(0), "refunds": Decimal(0)}
    )
    for r in buys:
        people[r["email"]]["revenue"] += r["amount"]
    for r in refunds:
        people[r["email"]]["refunds"] += r["amount"]
    return Expected(
        revenue=sum((r["amount"] for r in buys), Decimal(0)),
        orders=len(buys),
        refunds=refunded,
        margin=costed - refunded + recovered,
        by_customer=dict(people),
        purchases=buys,
    )


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One USD workspace per source file of the same book, loaded through the CLI."""
    root = tmp_path_factory.mktemp("money")
    write_sources(root, book())
    for source in SOURCES:
        ok(patron_here("init", f"ws-{source}", "--currency", "USD", cwd=root))
        ok(patron_here("-w", f"ws-{source}", "load", "orders", source, cwd=root))
    return root


def cli(shop: Path, *args: str, source: str = SOURCES[0]) -> Any:
    return ok(patron_here("-w", f"ws-{source}", *args, cwd=shop))


def cents(value: float) -> Decimal:
    """A printed amount as the decimal it says, which must already be whole cents."""
    exact = Decimal(repr(value))
    assert exact == exact.quantize(CENT), f"{value!r} is not a whole number of cents"
    return exact


def test_status_and_kpis_are_exact_to_the_cent(shop: Path) -> None:
    """``kpis --json`` printed ``"margin": 99999883.889999`` for 99,999,883.89: the float sum
    of a billion and some cents, rounded to six places instead of to the cent."""
    want = expected(book())
    status = ok(patron("-w", f"ws-{SOURCES[0]}", "status", "--json", cwd=shop))
    assert cents(status["revenue"]) == want.revenue
    kpis = cli(shop, "kpis", "--json")
    assert kpis["orders"] == want.orders
    assert cents(kpis["revenue"]) == want.revenue == Decimal("1000009058.92")
    assert cents(kpis["refunds"]) == want.refunds == Decimal("5035.33")
    assert cents(kpis["net_revenue"]) == want.revenue - want.refunds
    assert cents(kpis["margin"]) == want.margin == Decimal("99999883.89")
    assert cents(kpis["revenue_new_customers"]) + cents(kpis["revenue_returning_customers"]) == (
        want.revenue
    )
    aov = (want.revenue / want.orders).quantize(Decimal("0.000001"))
    assert Decimal(repr(kpis["aov"])) == aov
    text = cli(shop, "kpis")
    assert "99,999,883.89" in text and "1,000,009,058.92" in text


def test_kpis_by_channel_add_up_to_the_total_to_the_cent(shop: Path) -> None:
    total = cli(shop, "kpis", "--json")
    groups = cli(shop, "kpis", "--by", "channel", "--json")["groups"]
    for key in ("revenue", "refunds", "net_revenue", "margin"):
        assert sum(cents(g[key]) for g in groups) == cents(total[key]), key


def test_csv_and_parquet_give_identical_figures(shop: Path) -> None:
    """Revenue read from text, from DECIMAL(18,2) and from DOUBLE lands on the same cents."""
    commands = (
        ("status", "--json"),
        ("kpis", "--json"),
        ("kpis", "--by", "channel", "--json"),
        ("segments", "--json"),
        ("cohorts", "--metric", "revenue", "--json"),
        ("insights", "discount", "--json"),
    )
    for args in commands:
        answers = [cli(shop, *args, source=source) for source in SOURCES]
        for answer in answers:  # what differs by the load itself: its file and time
            answer.pop("last_load", None)
        assert answers[0] == answers[1] == answers[2], args
    exports = []
    for source in SOURCES:
        cli(shop, "export", "customers", "--out", f"{source}.csv", source=source)
        exports.append((shop / f"{source}.csv").read_bytes())
    assert exports[0] == exports[1] == exports[2]


def _export(shop: Path, name: str) -> list[dict[str, Any]]:
    cli(shop, "export", "customers", "--out", name)
    if name.endswith(".parquet"):
        return pq.read_table(shop / name).to_pylist()
    with (shop / name).open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_export_customer_show_and_segments_agree_with_the_book(shop: Path) -> None:
    """Per customer: purchase revenue, refunds and monetary (net) to the cent, in the CSV, in
    the Parquet file and in ``customer show``; the segments' revenue adds up to the window's."""
    want = expected(book())
    buyers = {e: v for e, v in want.by_customer.items() if v["revenue"] or e != "c41@x.com"}
    for name in ("customers.csv", "customers.parquet"):
        rows = {r["email"]: r for r in _export(shop, name) if r["revenue"] not in ("", None)}
        assert set(rows) == set(buyers)
        for email, money in buyers.items():
            row = rows[email]
            assert Decimal(str(row["revenue"])) == money["revenue"], (name, email)
            assert Decimal(str(row["refunds"])) == money["refunds"], (name, email)
            assert Decimal(str(row["monetary"])) == money["revenue"] - money["refunds"]
    for email in ("c01@x.com", "c02@x.com", "c03@x.com", "c05@x.com"):
        totals = cli(shop, "customer", "show", email, "--json")["totals"]
        assert cents(totals["revenue"]) == want.by_customer[email]["revenue"]
        assert cents(totals["refunded"]) == want.by_customer[email]["refunds"]
    segments = cli(shop, "segments", "--json")
    assert cents(segments["window_revenue"]) == want.revenue
    for dimension in ("rfm_segment", "stage", "value_tier"):
        assert sum(cents(r["revenue"]) for r in segments[dimension]) == want.revenue


def test_cohort_revenue_adds_up_to_net_revenue(shop: Path) -> None:
    """Every cohort cell is net revenue (purchases less refunds) of its period; the return of
    an order never loaded, by someone who never bought, belongs to no cohort."""
    want = expected(book())
    cohorts = cli(shop, "cohorts", "--metric", "revenue", "--json")["cohorts"]
    total = sum(cents(v) for c in cohorts for v in c["values"])
    assert total == want.revenue - want.refunds + Decimal("3.00")


def test_discount_insight_averages_carry_no_float_noise(shop: Path) -> None:
    """``insights discount --json`` printed ``"full_price_aov": 20.549999999999997`` (and
    ``248.50599999999994``): raw float quotients, where every other average is rounded."""
    want = expected(book())
    segment = {r["email"]: r["rfm_segment"] for r in _export(shop, "for-discount.csv")}
    pools: dict[tuple[str, bool], list[Decimal]] = defaultdict(list)
    for r in want.purchases:
        discounted = bool(r["discount"]) and Decimal(r["discount"]) > 0
        pools[(segment[r["email"]], discounted)].append(r["amount"])
    found = cli(shop, "insights", "discount", "--json")["segments"]
    assert found
    for row in found:
        for key, discounted in (("full_price_aov", False), ("discounted_aov", True)):
            amounts = pools.get((row["segment"], discounted))
            if not amounts:
                assert row[key] is None
                continue
            mean = (sum(amounts) / len(amounts)).quantize(Decimal("0.000001"))
            assert Decimal(repr(row[key])) == mean, (row["segment"], key, row[key])
    # The table printed AOVs in whole units: 0.15 read "0", 9.34 read "9".
    text = cli(shop, "insights", "discount")
    small = [
        r["discounted_aov"] for r in found if r["discounted_aov"] and r["discounted_aov"] < 100
    ]
    assert small and all(f"{aov:,.2f}" in text for aov in small)


AMOUNT_TEXTS = (
    # (text, decimal comma, stored revenue or None when quarantined)
    ("$12.50", False, "12.50"),
    ("$-5.00", False, "-5.00"),
    ("-$5.00", False, "-5.00"),
    ("-$1,234.50", False, "-1234.50"),
    ("+£3.00", False, "3.00"),
    ("1,234.50", False, "1234.50"),
    ("12,345,678.90", False, "12345678.90"),
    ("12.3456", False, "12.35"),
    ("0.005", False, "0.01"),
    ("1,234", False, None),
    ("12,50 €", False, None),
    ("1.2e3", False, None),
    ("99999999999999999.99", False, None),
    ("99999999999999999,99", True, None),
    ("12,50 €", True, "12.50"),
    ("-€12,50", True, "-12.50"),
    ("1.234,50", True, "1234.50"),
    ("1.234", True, "1234.00"),
    ("12.5", True, None),
)


@pytest.mark.parametrize("decimal_comma", [False, True])
def test_amount_text_is_read_to_the_cent_or_quarantined(
    tmp_path: Path, decimal_comma: bool
) -> None:
    """``-$5.00`` (the sign before the symbol, as US exports write a refund) was quarantined
    as "not a number" while ``$-5.00`` loaded: a symbol around the number is ignored, and the
    sign belongs to the number wherever the symbol stands."""
    cases = [(text, want) for text, comma, want in AMOUNT_TEXTS if comma == decimal_comma]
    with (tmp_path / "amounts.csv").open("w", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(["order_id", "email", "ordered_at", "revenue"])
        for i, (text, _) in enumerate(cases):
            writer.writerow([f"a{i}", "p@x.com", f"2024-01-{i + 1:02d}", text])
    ok(patron_here("init", "ws", cwd=tmp_path))
    flags = ["--decimal-comma"] if decimal_comma else []
    ok(patron_here("-w", "ws", "load", "orders", "amounts.csv", *flags, cwd=tmp_path))
    with Workspace.open(tmp_path / "ws", read_only=True) as ws:
        rows = ws.table("orders").select("order_id", "revenue").to_pyarrow().to_pylist()
        quarantined = ws.quarantine()
    stored = {r["order_id"]: r["revenue"] for r in rows}
    for i, (text, want) in enumerate(cases):
        got = stored.get(f"a{i}")
        assert (None if got is None else str(got)) == want, text
    # An amount too big for DECIMAL(18,2) was "not a number", which sent users to find a typo.
    reasons = {r["value"]: r["reason"] for r in quarantined}
    assert reasons[next(t for t, _ in cases if t.startswith("9999"))] == "number out of range"


def test_orders_in_another_currency_are_stated_wherever_they_are_added(tmp_path: Path) -> None:
    """patron does not convert (docs/loading.md): euros in a dollar workspace are added as
    dollars. The load warned and ``patron status`` said so, but the report, the document a
    shop hands on, headed its figures "Currency USD" with the euros inside them."""
    (tmp_path / "mixed.csv").write_text(
        "order_id,email,ordered_at,revenue,currency\n"
        "m1,a@x.com,2024-01-05,10.00,USD\n"
        "m2,a@x.com,2024-02-05,20.00,eur\n"
        "m3,b@x.com,2024-02-06,30.00,\n"
        "m4,b@x.com,2024-03-06,40.00,EUR\n"
        "m5,c@x.com,2024-03-07,50.00,UDS\n"
    )
    ok(patron_here("init", "ws", "--currency", "USD", cwd=tmp_path))
    loaded = patron_here("-w", "ws", "load", "orders", "mixed.csv", cwd=tmp_path)
    assert loaded.returncode == 0 and "(2 in EUR)" in loaded.stderr
    status = ok(patron_here("-w", "ws", "status", "--json", cwd=tmp_path))
    assert status["other_currencies"] == {"EUR": 2}
    assert status["quarantined"] == 1  # UDS is no currency: never guessed
    assert cents(status["revenue"]) == Decimal("100.00")  # as documented: not converted
    ok(patron_here("-w", "ws", "report", "--out", "report.html", cwd=tmp_path))
    html = (tmp_path / "report.html").read_text()
    assert "2 orders in EUR, counted as USD: not converted" in html


def test_refunds_in_another_currency_are_counted_and_warned(tmp_path: Path) -> None:
    """Refunds in euros were subtracted from dollar revenue (net revenue 100 - 130 = -30) while
    the load said nothing and ``status`` counted no other currency: only purchases were
    counted. A cancelled order, which no figure reads, is not."""
    (tmp_path / "refunds.csv").write_text(
        "order_id,email,ordered_at,revenue,currency,status\n"
        "u1,a@x.com,2024-01-05,100.00,USD,\n"
        "e1,a@x.com,2024-01-06,-80.00,EUR,\n"
        "e2,a@x.com,2024-01-07,50.00,EUR,returned\n"
        "e3,a@x.com,2024-01-08,70.00,EUR,cancelled\n"
    )
    ok(patron_here("init", "ws", "--currency", "USD", cwd=tmp_path))
    loaded = patron_here("-w", "ws", "load", "orders", "refunds.csv", cwd=tmp_path)
    assert loaded.returncode == 0 and "(2 in EUR)" in loaded.stderr
    status = ok(patron_here("-w", "ws", "status", "--json", cwd=tmp_path))
    assert status["other_currencies"] == {"EUR": 2}
    kpis = ok(patron_here("-w", "ws", "kpis", "--as-of", "2024-01-08", "--json", cwd=tmp_path))
    assert (kpis["revenue"], kpis["refunds"], kpis["net_revenue"]) == (100.0, 130.0, -30.0)


def test_channel_experience_revenue_and_refunds_are_whole_cents(shop: Path) -> None:
    """``insights channels --json`` printed a segment's revenue as 1582.0799999999997 and
    15.749999999999998: float sums of cents."""
    want = expected(book())
    segment = {r["email"]: r["rfm_segment"] for r in _export(shop, "for-channels.csv")}
    money: dict[str, dict[str, Decimal]] = defaultdict(
        lambda: {"revenue": Decimal(0), "refunds": Decimal(0)}
    )
    for email, amounts in want.by_customer.items():
        if segment.get(email):
            for key in ("revenue", "refunds"):
                money[segment[email]][key] += amounts[key]
    rows = cli(shop, "insights", "channels", "--json")["experience"]
    assert {r["segment"] for r in rows} == set(money)
    for row in rows:
        assert cents(row["revenue"]) == money[row["segment"]]["revenue"], row
        assert cents(row["refunds"]) == money[row["segment"]]["refunds"], row


def test_discount_scores_file_holds_revenue_in_cents(shop: Path) -> None:
    """``insights discount --out`` wrote a customer's discounted revenue as
    0.12000000000000001 (three orders of 0.04, summed as floats)."""
    want = expected(book())
    cli(shop, "insights", "discount", "--out", "scores.csv")
    keys = {r["customer_key"]: r["email"] for r in _export(shop, "for-scores.csv")}
    sums: dict[tuple[str, bool], Decimal] = defaultdict(Decimal)
    for r in want.purchases:
        sums[(r["email"], bool(r["discount"]) and Decimal(r["discount"]) > 0)] += r["amount"]
    with (shop / "scores.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 40
    for row in rows:
        email = keys[row["customer_key"]]
        assert Decimal(row["full_price_revenue"]) == sums[(email, False)], row
        assert Decimal(row["discounted_revenue"]) == sums[(email, True)], row
        for key in ("full_price_revenue", "discounted_revenue"):
            assert Decimal(row[key]) == Decimal(row[key]).quantize(CENT), row


def test_experiment_revenue_means_are_net_revenue_in_each_window(
    shop: Path, tmp_path: Path
) -> None:
    """A revenue readout's group means: purchases less refunds (a positive amount with a
    returned status subtracts too) in the 30 days from exposure, cancelled orders left out,
    every assigned customer counted, buyers or not."""
    shutil.copytree(shop / f"ws-{SOURCES[0]}", tmp_path / "ws")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PatronWarning)
        with Workspace.open(tmp_path / "ws") as ws:
            ws.create_experiment(
                "t", audience="all", holdout=0.5, metric="revenue", start="2024-06-01"
            )
            readout = ws.analyze_experiment("t")
            assigned = ws.table("experiment_assignments").to_pyarrow().to_pylist()
            keys = ws.table("identities").to_pyarrow().to_pylist()
    email = {k["customer_key"]: k["value"] for k in keys if k["identifier_type"] == "email"}
    through = datetime(2024, 10, 31)
    groups: dict[str, list[Decimal]] = defaultdict(list)
    for a in assigned:
        end = min(a["assigned_at"] + timedelta(days=30), through)
        net = Decimal(0)
        for r in book():
            at = datetime.fromisoformat(r["ordered_at"])
            if r["email"] != email[a["customer_key"]] or r["status"] == "cancelled":
                continue
            if a["assigned_at"] <= at < end:
                amount = Decimal(r["revenue"])
                returned = amount < 0 or r["status"] in RETURN_STATUSES
                net += -abs(amount) if returned else amount
        groups[a["variant"]].append(net)
    found = {v["name"]: v for v in readout["variants"]}
    assert set(found) == set(groups) == {"holdout", "control", "treatment"}
    for name, nets in groups.items():
        assert found[name]["n"] == len(nets)
        assert found[name]["mean"] == pytest.approx(float(sum(nets) / len(nets)), abs=1e-9)


@pytest.mark.parametrize(
    ("value", "currency", "shown"),
    [
        (0.3 - 0.1 - 0.2, "USD", "USD 0.00"),  # -2.8e-17: read "USD -0.00"
        (-0.004, "EUR", "EUR 0.00"),
        (-0.4, "JPY", "JPY 0"),  # read "JPY -0"
        (99.999, "USD", "USD 100"),  # read "USD 100.00", cents on a hundred
        (-12.345, "USD", "USD -12.35"),
        (1234.56, "USD", "USD 1,235"),
    ],
)
def test_report_amounts_have_no_negative_zero(value: float, currency: str, shown: str) -> None:
    assert fmt.money(value, currency) == shown


def test_discounts_exported_as_negative_amounts_count_as_discounts(tmp_path: Path) -> None:
    """Magento writes ``discount_amount`` negative: every such order had counted as full
    price (a discount share of 0 everywhere) and a first purchase's discount share was below
    0. The same orders with positive discounts give the same answers."""
    header = "order_id,email,ordered_at,revenue,discount\n"
    rows = [
        ("m1", "a@x.com", "2024-01-05", "90.00", "10.00"),
        ("m2", "a@x.com", "2024-02-05", "45.00", "5.00"),
        ("m3", "b@x.com", "2024-01-06", "50.00", "0"),
        ("m4", "b@x.com", "2024-02-06", "80.00", "20.00"),
        ("m5", "c@x.com", "2024-01-07", "30.00", ""),
    ]
    answers = []
    for sign in ("", "-"):
        folder = tmp_path / f"shop{sign}"
        folder.mkdir()
        body = "".join(
            ",".join((*r[:4], sign + r[4] if r[4] not in ("", "0") else r[4])) + "\n" for r in rows
        )
        (folder / "orders.csv").write_text(header + body, encoding="utf-8")
        with Workspace.init(folder / "ws", timezone="UTC") as ws:
            ws.load("orders", folder / "orders.csv")
            scores = ws.insights.customer_discounts().to_pyarrow().to_pylist()
            shares = {r["customer_key"]: r["discount_share"] for r in scores}
            answers.append((shares, ws.insights.profile(top=0.34, days=1)))
    assert answers[0] == answers[1]
    assert sorted(answers[1][0].values()) == [0.0, 0.5, 1.0]


MILLS_ORDERS = (
    "order_id,email,ordered_at,revenue,cost\n"
    "k1,a@x.com,2024-01-05,1.234,0.617\n"
    "k2,a@x.com,2024-02-05,0.005,\n"
    "k3,b@x.com,2024-01-06,2.999,1.001\n"
    "k4,b@x.com,2024-02-05,-0.001,\n"
)


def test_a_mill_currency_keeps_its_thousandths(tmp_path: Path) -> None:
    """A Kuwaiti shop's 1.234 KWD was stored as 1.23 (money had two places whatever the
    currency): revenue 4.238 read 4.24 everywhere, without a word. A workspace in a currency
    counted in thousandths stores three places, and every figure keeps them."""
    (tmp_path / "orders.csv").write_text(MILLS_ORDERS, encoding="utf-8")
    ok(patron_here("init", "ws", "--currency", "KWD", "--timezone", "UTC", cwd=tmp_path))
    load = ("-w", "ws", "load", "orders", "orders.csv", "--json")
    assert ok(patron_here(*load, cwd=tmp_path))["inserted"] == 4
    assert ok(patron_here(*load, cwd=tmp_path))["duplicates"] == 4  # a reload changes nothing
    status = ok(patron_here("-w", "ws", "status", "--json", cwd=tmp_path))
    assert status["revenue"] == 4.238
    kpis = ok(patron_here("-w", "ws", "kpis", "--json", cwd=tmp_path))
    assert (kpis["revenue"], kpis["refunds"], kpis["net_revenue"]) == (4.238, 0.001, 4.237)
    assert kpis["margin"] == pytest.approx(4.233 - 0.617 - 1.001 - 0.001)
    shown = ok(patron_here("-w", "ws", "customer", "show", "b@x.com", "--json", cwd=tmp_path))
    assert (shown["totals"]["revenue"], shown["totals"]["refunded"]) == (2.999, 0.001)
    ok(patron_here("-w", "ws", "export", "customers", "--out", "c.csv", cwd=tmp_path))
    with open(tmp_path / "c.csv", encoding="utf-8") as f:
        exported = {r["email"]: (r["revenue"], r["monetary"]) for r in csv.DictReader(f)}
    assert exported == {"a@x.com": ("1.239", "1.239"), "b@x.com": ("2.999", "2.998")}


def test_a_workspace_keeps_the_scale_it_was_made_with(tmp_path: Path) -> None:
    """A workspace made in cents (here in USD, its file's orders in KWD) and later set to a
    mill currency still reads its files in cents, so loading them again finds every row:
    three places would hash them as new content (conflicts)."""
    header, *rows = MILLS_ORDERS.splitlines()
    in_kwd = "".join(f"{line},KWD\n" for line in rows)
    (tmp_path / "orders.csv").write_text(f"{header},currency\n{in_kwd}", encoding="utf-8")
    made = Workspace.init(tmp_path / "ws", currency="USD", timezone="UTC")
    with made as ws, warnings.catch_warnings():
        warnings.simplefilter("ignore", PatronWarning)  # orders in another currency
        assert ws.load("orders", tmp_path / "orders.csv").inserted == 4
    toml = tmp_path / "ws" / "patron.toml"
    toml.write_text(toml.read_text().replace('"USD"', '"KWD"'))
    with Workspace.open(tmp_path / "ws") as ws:
        again = ws.load("orders", tmp_path / "orders.csv")
        assert (again.duplicates, again.quarantined) == (4, 0)
        assert ws.status()["revenue"] == 4.24


def test_a_profile_finding_writes_money_in_the_shops_currency() -> None:
    """The ideal-customer finding wrote "had 92.36 of net revenue" in every shop, a yen shop
    with two decimals ("13,853.88"): money now carries its currency and its decimals."""
    from patron.insights.ideal import _sentence

    row = {"feature": "first_value", "high_mean": 13853.88, "other_mean": 7541.2, "cohens_d": 0.4}
    assert _sentence(row, "the top 20%", "JPY") == (
        "The top 20% had JPY 13,854 of net revenue in their first purchase on average, "
        "against JPY 7,541 for the rest (Cohen's d +0.40)."
    )
    assert "KWD 1.235 " in str(_sentence({**row, "high_mean": 1.2346}, "the top 20%", "KWD"))
