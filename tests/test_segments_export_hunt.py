"""Segments and the customer export as a demanding analyst uses them: as-of days before, inside
and after the data, merged customers, cancelled orders, returns, unicode names, both formats
checked against an independent pandas computation, and files that cannot be written."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import ibis
import pandas as pd
import pyarrow.parquet as pq
import pytest

from cli_support import ok, patron_here
from patron import Workspace
from patron.export import customer_table, write_table

# Berlin shop. Anna (c1) also buys as ANNA@ without her id (merged by email), one order is
# cancelled, one returned; Bob's second order comes by phone only (merged), a third is voided;
# Zoë buys twice on one day (one occasion); c4's first order is refunded after the last
# purchase day; c5 only cancelled, c7 only returned, c8 is a CRM record: no purchases.
ORDERS = """order_id,customer_id,email,phone,ordered_at,revenue,discount,status,channel,return_of
a1,c1,anna@example.com,,2024-01-05T10:00:00+01:00,100.10,0,paid,web,
a2,,ANNA@example.com,,2024-02-10T23:30:00Z,49.95,5.00,paid,app,
a3,c1,,,2024-02-11T08:00:00+01:00,10.01,0,paid,store,
a4,c1,,,2024-03-01T12:00:00+01:00,70.00,0,Cancelled,web,
a5,c1,,,2024-03-05T12:00:00+01:00,-10.01,0,,store,a3
b1,c2,bob@example.com,+49 30 1234567,2024-01-20T12:00:00+01:00,25.50,2.5,,store,
b2,,,030 1234567,2024-04-01T00:30:00+02:00,35.25,0,,store,
b3,c2,,,2024-04-15T12:00:00+02:00,12.00,0,voided,web,
z1,c3,zoe@example.com,,2024-02-29T12:00:00+01:00,0.00,0,,web,
z2,c3,,,2024-02-29T18:00:00+01:00,19.99,19.99,,web,
d1,c4,,,2024-03-31T23:59:59+02:00,99.99,0,,web,
d2,c4,,,2024-05-01T09:00:00+02:00,1.00,0,,web,
d3,c4,,,2024-05-02T09:00:00+02:00,-99.99,0,refunded,web,d1
e1,c5,,,2024-05-03T09:00:00+02:00,80.00,10,canceled,app,
f1,c6,,,2023-12-31T23:30:00Z,5.55,0,,web,
g1,c7,,,2024-05-05T09:00:00+02:00,-20.00,0,,web,
"""
CUSTOMERS = """customer_id,email,name,email_consent,country
c1,anna@example.com,Änna Ölsen-Łukasz,true,DE
c2,bob@example.com,"Bob ""Bobby"", Jr.",false,DE
c3,zoe@example.com,Zoë 山田 🎉,true,JP
c8,new@example.com,Ñoño,true,ES
"""
PERSON = {"anna@example.com": "c1", "030 1234567": "c2"}
"""Rows without a customer id, by the identifier identity resolution merges them on."""
NAMES = {"c1": "Änna Ölsen-Łukasz", "c2": 'Bob "Bobby", Jr.', "c3": "Zoë 山田 🎉", "c8": "Ñoño"}
COMPARED = (
    "first_date",
    "last_date",
    "occasions",
    "orders",
    "revenue",
    "refunds",
    "monetary",
    "recency_days",
    "window_revenue",
)


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    """The folder holding the loaded workspace ``ws`` and the source files."""
    (tmp_path / "orders.csv").write_text(ORDERS, encoding="utf-8")
    (tmp_path / "customers.csv").write_text(CUSTOMERS, encoding="utf-8")
    with Workspace.init(tmp_path / "ws", timezone="Europe/Berlin", phone_region="DE") as ws:
        for table in ("orders", "customers"):
            assert ws.load(table, tmp_path / f"{table}.csv").quarantined == 0
    return tmp_path


def orders_by_pandas() -> pd.DataFrame:
    """The orders from the CSV text alone: the person (``who``), the shop's day, and whether
    each row is a return or a cancelled order."""
    from io import StringIO

    o = pd.read_csv(StringIO(ORDERS), dtype=str)
    o["who"] = o.customer_id.fillna(o.email.str.lower().map(PERSON)).fillna(o.phone.map(PERSON))
    o["revenue"] = o.revenue.astype(float)
    local = pd.to_datetime(o.ordered_at, utc=True).dt.tz_convert("Europe/Berlin")
    o["day"] = local.dt.date
    status = o.status.fillna("").str.lower()
    o["is_return"] = (o.revenue < 0) | status.isin(["returned", "return", "refunded", "refund"])
    o["cancelled"] = status.isin(["cancelled", "canceled", "voided", "void", "failed"])
    return o


def known_by_pandas(as_of: date) -> list[str]:
    """Everyone (c1 to c8) but the buyers whose first purchase came after ``as_of``: no buyer
    of this shop shows up earlier in another record."""
    o = orders_by_pandas()
    firsts = o[~o.is_return & ~o.cancelled].groupby("who").day.min()
    return sorted({f"c{i}" for i in range(1, 9)} - set(firsts[firsts > as_of].index))


def by_pandas(as_of: date) -> pd.DataFrame:
    """The purchase fields per customer id, computed from the CSV text alone."""
    o = orders_by_pandas()
    o = o[o.day <= as_of]
    buys = o[~o.is_return & ~o.cancelled]
    refunds = o[o.is_return].groupby("who").revenue.sum().abs()
    recent = buys[buys.day > as_of - timedelta(days=365)].groupby("who").revenue.sum()
    g = buys.groupby("who").agg(
        first_date=("day", "min"),
        last_date=("day", "max"),
        occasions=("day", "nunique"),
        orders=("order_id", "count"),
        revenue=("revenue", "sum"),
    )
    g["refunds"] = refunds.reindex(g.index).fillna(0.0)
    g["monetary"] = g.revenue - g.refunds
    g["recency_days"] = [(as_of - d).days for d in g.last_date]
    g["window_revenue"] = recent.reindex(g.index).fillna(0.0)
    return g


def exported(shop: Path, name: str, *args: str) -> dict[str, Any]:
    """``patron export customers --out NAME ARGS`` through the CLI, and its JSON answer."""
    return ok(
        patron_here("-w", "ws", "export", "customers", "--out", name, *args, "--json", cwd=shop)
    )


def rows(path: Path) -> pd.DataFrame:
    """An export read back by customer id: CSV as text, so nothing is re-typed by pandas."""
    if path.suffix == ".csv":
        table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    else:
        table = pq.read_table(path).to_pandas()
    return table.set_index("customer_id")


@pytest.mark.parametrize(
    "as_of",
    [date(2023, 6, 1), date(2024, 1, 3), date(2024, 3, 31), date(2024, 5, 2), date(2030, 1, 1)],
)
def test_the_export_matches_pandas_in_both_formats(shop: Path, as_of: date) -> None:
    """Before the shop's first purchase (the discount prior had refused the whole export),
    before most customers' first, mid-data, after the last purchase (with a refund) and long
    after: purchase fields as pandas computes them, prospects without any, names intact.
    Buyers the shop first met after the day are left out (they had been listed as prospects)."""
    expected, known = by_pandas(as_of), known_by_pandas(as_of)
    for name in ("c.csv", "c.parquet"):
        assert exported(shop, name, "--as-of", as_of.isoformat())["rows"] == len(known)
    text, typed = rows(shop / "c.csv"), rows(shop / "c.parquet")
    assert sorted(typed.index) == sorted(text.index) == known
    buyers = typed[typed.stage != "prospect"]
    assert sorted(buyers.index) == sorted(expected.index)
    for column in COMPARED:
        got = buyers[column].sort_index()
        want = expected[column].sort_index()
        written = text.loc[got.index, column]
        if column in ("first_date", "last_date"):
            assert list(got) == list(want) == [date.fromisoformat(d) for d in written], column
        else:
            assert list(got) == pytest.approx(list(want), abs=1e-9), column
            assert [float(v) for v in written] == pytest.approx(list(want), abs=1e-9), column
    assert set(typed.loc[~typed.index.isin(expected.index), "first_date"].isna()) == {True}
    names = {k: v for k, v in NAMES.items() if k in known}
    assert {k: typed.loc[k, "name"] for k in names} == names
    assert {k: text.loc[k, "name"] for k in names} == names


def test_an_export_before_any_purchase_is_everyone_a_prospect(shop: Path) -> None:
    """Who had not bought yet: the CRM-only person and those who never bought (c5's order was
    cancelled, c7 only returned); the buyers of later days are left out."""
    with Workspace.open(shop / "ws", read_only=True) as ws:
        assert ws.export_customers(shop / "early.parquet", as_of="2023-12-31") == 3
    table = rows(shop / "early.parquet")
    assert sorted(table.index) == ["c5", "c7", "c8"] == known_by_pandas(date(2023, 12, 31))
    assert set(table.stage) == {"prospect"}
    assert table[["rfm_segment", "discount_score", "next_purchase_date"]].isna().all().all()


def test_crm_records_alone_export_without_an_as_of_day(tmp_path: Path) -> None:
    """A shop that loaded its CRM before any order (a welcome campaign's list) was told "no
    orders are loaded yet" unless it made up an --as-of day."""
    (tmp_path / "customers.csv").write_text(CUSTOMERS, encoding="utf-8")
    with Workspace.init(tmp_path / "ws", timezone="Europe/Berlin") as ws:
        ws.load("customers", tmp_path / "customers.csv")
    written = exported(tmp_path, "crm.csv")
    assert written["rows"] == 4
    table = rows(tmp_path / "crm.csv")
    assert set(table.stage) == {"prospect"} and table.name.tolist() == list(NAMES.values())


def test_parquet_counts_are_integers(shop: Path) -> None:
    """DuckDB sums order counts to 128-bit integers, which Parquet had stored as doubles."""
    exported(shop, "c.parquet", "--as-of", "2024-05-02")
    schema = pq.read_schema(shop / "c.parquet")
    assert {str(schema.field(c).type) for c in ("occasions", "orders", "recency_days")} == {"int64"}


@pytest.mark.parametrize(
    ("out", "reason"),
    [
        ("afile/c.csv", "afile is a file, not a folder"),
        ("afile/more/c.parquet", "afile is a file, not a folder"),
        ("adir.csv", "it is a folder; name a file"),
    ],
)
def test_an_unwritable_out_is_one_line_error(shop: Path, out: str, reason: str) -> None:
    """A traceback had come from the folder's creation or from the engine."""
    (shop / "afile").write_text("not a folder")
    (shop / "adir.csv").mkdir()
    result = patron_here("-w", "ws", "export", "customers", "--out", out, cwd=shop)
    assert result.returncode == 2
    assert result.stderr == f"error: cannot write {out}: {reason}\n"
    assert [p.name for p in shop.iterdir() if p.name.startswith(".")] == []


def test_a_failed_export_keeps_the_previous_file(
    shop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine failing half way through the file left a cut export in place of the last
    good one."""
    out = shop / "c.csv"
    out.write_text("the last good export\n")

    def cut(table: object, path: Path) -> None:
        path.write_text("customer_key,cust")
        raise MemoryError("out of memory")

    monkeypatch.setattr("patron.portable.to_csv", cut)
    with pytest.raises(MemoryError):
        write_table(ibis.memtable({"customer_key": [1]}), out)
    assert out.read_text() == "the last good export\n"
    assert [p.name for p in shop.iterdir() if p.name.startswith(".")] == []


def test_predicted_clv_is_exported_in_cents(shop: Path) -> None:
    with Workspace.open(shop / "ws", read_only=True) as ws:
        segments = ws.segments().mutate(
            clv=ibis.literal(36.910001), clv_low=ibis.literal(1 / 3), clv_high=ibis.literal(99.999)
        )
        table = customer_table(ws.table("customers"), segments, currency="USD").to_pyarrow()
    values = {
        c: set(table.column(c).drop_null().to_pylist()) for c in ("clv", "clv_low", "clv_high")
    }
    assert values == {"clv": {36.91}, "clv_low": {0.33}, "clv_high": {100.0}}


@pytest.mark.parametrize("since", [(), ("--from", "2022-01-01")])
def test_segments_before_any_purchase_say_so(shop: Path, since: tuple[str, ...]) -> None:
    """Three empty tables (or an empty migration table) had been all the answer."""
    args = ("-w", "ws", "segments", "--as-of", "2023-06-01", *since)
    assert ok(patron_here(*args, cwd=shop)) == (
        "No customer had a purchase by 2023-06-01: no segments yet\n"
    )


def test_a_buyer_met_earlier_by_an_event_is_a_prospect_before_buying(tmp_path: Path) -> None:
    """first_seen decides for a later buyer: an e-mail click before the day shows the shop knew
    them (a prospect then); a buyer with nothing earlier is left out."""
    with Workspace.init(tmp_path / "ws", timezone="Europe/Berlin") as ws:
        orders = pd.DataFrame(
            {
                "order_id": ["o1", "o2", "o3"],
                "email": ["old@x.com", "clicked@x.com", "new@x.com"],
                "ordered_at": ["2024-01-05T10:00:00", "2024-03-01T10:00:00", "2024-03-02T10:00"],
                "revenue": [10.0, 20.0, 30.0],
            }
        )
        ws.load("orders", orders)
        clicks = {"email": ["clicked@x.com"], "occurred_at": ["2024-01-10T09:00:00"]}
        ws.load("events", pd.DataFrame({**clicks, "type": ["email_click"]}))
        assert ws.export_customers(tmp_path / "feb.csv", as_of="2024-02-01") == 2
    table = pd.read_csv(tmp_path / "feb.csv").set_index("email")
    assert table.stage.to_dict() == {"old@x.com": "first_time", "clicked@x.com": "prospect"}
