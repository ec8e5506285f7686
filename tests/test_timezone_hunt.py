"""Time zones, day boundaries and clock changes, as an analyst whose shop is not in UTC meets
them: orders at 23:30 on a month's last day (already the next month in UTC), zones at +03:30,
+14 and with a 30-minute clock change, the 23- and 25-hour days, a machine whose ``TZ`` is not
the shop's. Every figure is checked against a computation by hand in pandas on the same rows."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from cli_support import ok, patron, patron_here
from patron import Workspace
from patron.clv import customer_summary

# Naive times: the shop's own clock. Each month's last day at 23:30 is the next day (or month)
# in UTC west of it; 00:10 on the first is the previous day in UTC east of it.
ORDERS = """order_id,email,ordered_at,revenue
a1,a@x.com,2026-01-31 23:30:00,10.00
a2,a@x.com,2026-02-28 23:30:00,20.00
a3,a@x.com,2026-03-31 00:15:00,30.00
b1,b@x.com,2026-02-01 00:10:00,15.00
b2,b@x.com,2026-04-30 23:45:00,25.00
c1,c@x.com,2026-03-08 23:30:00,40.00
c2,c@x.com,2026-04-05 01:30:00,5.00
c3,c@x.com,2026-04-30 00:05:00,7.00
"""

ZONES = ["America/Los_Angeles", "Asia/Tehran", "Pacific/Kiritimati", "Australia/Lord_Howe"]


def _by_hand() -> pd.DataFrame:
    """The orders with their shop day, read straight off the naive text."""
    frame = pd.read_csv(io.StringIO(ORDERS), parse_dates=["ordered_at"])
    return frame.assign(day=frame.ordered_at.dt.date)


@pytest.mark.parametrize("zone", ZONES)
def test_days_months_and_recency_are_the_shops_in_every_zone(tmp_path: Path, zone: str) -> None:
    """Stored instants, order days, the monthly KPI trend, cohorts, recency, the models' T and
    the gaps between purchases all count the shop's days (these held: a guard)."""
    (tmp_path / "orders.csv").write_text(ORDERS)
    with Workspace.init(tmp_path / "ws", timezone=zone) as ws:
        ws.load("orders", [tmp_path / "orders.csv"])
        stored = ws.table("orders").select("order_id", "ordered_at", "order_date").to_pandas()
        keys = ws.table("customers").select("customer_key", "email").to_pandas()
        trend = ws.kpis(trend=True, window=30)["points"]
        cohorts = ws.cohorts(period="month", metric="customers")
        segments = ws.segments(as_of="2026-04-29").to_pandas()
        summary = customer_summary(ws.sales(), date(2026, 4, 29), time_unit="day").to_pandas()
        status = ws.status()
        steps = ws.insights.timing()["steps"]
    orders = _by_hand()
    stored = stored.set_index("order_id")
    # stored UTC, dated by the shop's clock
    local = stored.ordered_at.dt.tz_localize("UTC").dt.tz_convert(zone).dt.tz_localize(None)
    assert (local.sort_index() == orders.set_index("order_id").ordered_at.sort_index()).all()
    dated = {k: pd.Timestamp(v).date() for k, v in stored.order_date.items()}
    assert dated == dict(zip(orders.order_id, orders.day, strict=True))
    first = datetime.fromisoformat(status["first_order_at"]).astimezone(ZoneInfo(zone))
    assert first.replace(tzinfo=None) == orders.ordered_at.min()

    # KPI trend: each month end's 30-day window, in shop days
    for point in trend:
        end = date.fromisoformat(point["as_of"])
        window = orders[(orders.day > end - timedelta(days=30)) & (orders.day <= end)]
        firsts = orders.groupby("email").day.min()
        new = firsts[(firsts > end - timedelta(days=30)) & (firsts <= end)]
        assert point["active_customers"] == window.email.nunique(), point["as_of"]
        assert point["new_customers"] == len(new), point["as_of"]
        assert point["revenue"] == pytest.approx(window.revenue.sum()), point["as_of"]
    assert [p["as_of"] for p in trend] == ["2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30"]

    # cohorts: acquisition month by the shop's calendar
    months = orders.groupby("email").day.min().map(lambda d: f"{d:%Y-%m}").value_counts()
    assert {c["cohort"]: c["size"] for c in cohorts["cohorts"]} == dict(months)

    # recency and the models' T, in whole shop days to 2026-04-29
    cut = orders[orders.day <= date(2026, 4, 29)]
    per = cut.groupby("email").day.agg(["min", "max", "nunique"])
    email = dict(zip(keys.customer_key, keys.email, strict=True))
    day = date(2026, 4, 29)
    for row in segments.itertuples():
        assert row.recency_days == (day - per.loc[email[row.customer_key], "max"]).days
    for row in summary.itertuples():
        got = per.loc[email[row.customer_key]]
        assert row.T == (day - got["min"]).days  # noqa: SIM300
        assert row.recency == (got["max"] - got["min"]).days
        assert row.frequency == got["nunique"] - 1

    # insights timing: days from each purchase occasion to the next, in shop days
    days = orders.drop_duplicates(["email", "day"]).sort_values(["email", "day"])
    gaps = days.groupby("email").day.diff().dropna().map(lambda g: g.days)
    number = days.groupby("email").cumcount()
    first = next(s for s in steps if s["step"] == "1->2")
    assert (first["gaps"], first["median"]) == (3, gaps[number == 1].median())


def test_an_offset_in_the_file_is_an_instant_and_a_naive_time_the_shops_clock(
    tmp_path: Path,
) -> None:
    """``-08:00`` before the spring change, ``-07:00`` after it, and a naive 23:30 on the
    25-hour day: all the shop's own days, whatever the machine's ``TZ``."""
    (tmp_path / "o.csv").write_text(
        "order_id,email,ordered_at,revenue\n"
        "x1,x@x.com,2026-03-08T01:30:00-08:00,1\n"
        "x2,x@x.com,2026-03-08T23:30:00-07:00,1\n"
        "x3,x@x.com,2026-11-01 23:30:00,1\n"
        "x4,x@x.com,2026-11-01 00:30:00,1\n"
    )
    ok(patron_here("init", "ws", "--timezone", "America/Los_Angeles", cwd=tmp_path))
    ok(patron("-w", "ws", "load", "orders", "o.csv", cwd=tmp_path, env={"TZ": "Asia/Tokyo"}))
    with Workspace.open(tmp_path / "ws", read_only=True) as ws:
        rows = ws.table("orders").order_by("order_id").to_pandas()
    assert [str(t) for t in rows.ordered_at] == [
        "2026-03-08 09:30:00",
        "2026-03-09 06:30:00",
        "2026-11-02 07:30:00",
        "2026-11-01 07:30:00",
    ]
    assert [f"{d:%Y-%m-%d}" for d in rows.order_date] == [
        "2026-03-08",
        "2026-03-08",
        "2026-11-01",
        "2026-11-01",
    ]


def test_customer_show_prints_the_shops_clock_not_utc(tmp_path: Path) -> None:
    """An order placed at 23:30 on January 31 in Los Angeles is stored at 07:30 UTC on
    February 1; the 360 printed it there, a day and a month off what the shop saw."""
    (tmp_path / "orders.csv").write_text(ORDERS)
    (tmp_path / "events.csv").write_text(
        "email,occurred_at,type\na@x.com,2026-03-31 23:45:00,email_open\n"
    )
    ok(patron_here("init", "ws", "--timezone", "America/Los_Angeles", cwd=tmp_path))
    ok(patron_here("-w", "ws", "load", "orders", "orders.csv", cwd=tmp_path))
    ok(patron_here("-w", "ws", "load", "events", "events.csv", cwd=tmp_path))
    text = ok(patron_here("-w", "ws", "customer", "show", "a@x.com", cwd=tmp_path))
    assert "first 2026-01-31T23:30:00, last 2026-03-31T00:15:00 (America/Los_Angeles)" in text
    assert "  2026-01-31T23:30:00  a1 " in text
    assert "  2026-02-28T23:30:00  a2 " in text
    assert "  2026-03-31T23:45:00  email_open" in text
    assert "2026-02-01T07:30:00" not in text
    shown = ok(patron_here("-w", "ws", "customer", "show", "a@x.com", "--json", cwd=tmp_path))
    assert shown["totals"]["first_purchase"] == "2026-02-01T07:30:00+00:00"  # the JSON stays UTC


def _experiment_shop(root: Path) -> Workspace:
    """A Los Angeles shop: 24 customers acquired in January, buying again at 23:30 and 00:30
    local across March 1-12 (the clocks spring forward on March 8)."""
    rows = ["order_id,email,ordered_at,revenue"]
    for i in range(24):
        rows.append(f"p{i},c{i}@x.com,2026-01-15 12:00:00,10.00")
        day = 1 + i % 12
        clock = "23:30:00" if i % 2 else "00:30:00"
        rows.append(f"q{i},c{i}@x.com,2026-03-{day:02d} {clock},{5 + i}.00")
    (root / "o.csv").write_text("\n".join(rows) + "\n")
    ws = Workspace.init(root / "ws", timezone="America/Los_Angeles")
    ws.load("orders", [root / "o.csv"])
    return ws


def test_experiment_timeline_reads_out_at_the_end_of_each_shop_day(tmp_path: Path) -> None:
    """The curve's points stood 24-hour steps from exposure, labelled by the UTC date: in Los
    Angeles each was labelled the day after the one it read, the last one a day past the data,
    and after the clock change each took in the next day's first hour."""
    with _experiment_shop(tmp_path) as ws:
        ws.create_experiment("t", start="2026-03-01", metric="revenue", window=30)
        curve = ws.experiment_timeline("t")
        assigned = ws.experiment_assignments("t").select("customer_key", "variant").to_pandas()
        emails = ws.table("customers").select("customer_key", "email").to_pandas()
        readouts = {p["day"]: ws.analyze_experiment("t", as_of=p["day"]) for p in curve[-3:]}
    days = [p["day"] for p in curve]
    assert days == [f"2026-03-{d:02d}" for d in range(1, 13)]  # the data end on March 12

    orders = pd.read_csv(tmp_path / "o.csv", parse_dates=["ordered_at"])
    orders = orders.assign(day=orders.ordered_at.dt.date)
    people = assigned.merge(emails, on="customer_key")
    for point in curve:
        end = date.fromisoformat(point["day"])
        inside = orders[(orders.day >= date(2026, 3, 1)) & (orders.day <= end)]
        spent = inside.groupby("email").revenue.sum()
        means = people.assign(y=people.email.map(spent).fillna(0)).groupby("variant").y.mean()
        got = {v["name"]: v["mean"] for v in point["variants"]}
        assert got == pytest.approx(dict(means)), point["day"]
        if point["day"] in readouts:  # the same figures the readout of that day gives
            said = {v["name"]: v["mean"] for v in readouts[point["day"]]["variants"]}
            assert said == pytest.approx(got)


def test_an_experiment_without_start_is_exposed_on_the_shops_today(tmp_path: Path) -> None:
    """``experiment create`` without ``--start`` took the machine's date: with ``TZ`` at +14 and
    the shop at -11 that is always one or two days after the shop's today."""
    shop = "Pacific/Pago_Pago"
    (tmp_path / "orders.csv").write_text(ORDERS)
    ok(patron_here("init", "ws", "--timezone", shop, cwd=tmp_path))
    ok(patron_here("-w", "ws", "load", "orders", "orders.csv", cwd=tmp_path))
    before = datetime.now(ZoneInfo(shop)).date()
    made = ok(
        patron(
            "-w", "ws", "experiment", "create", "t", "--json", cwd=tmp_path,
            env={"TZ": "Pacific/Kiritimati"},
        )
    )  # fmt: skip
    after = datetime.now(ZoneInfo(shop)).date()
    assert date.fromisoformat(made["start"]) in {before, after}


@pytest.mark.parametrize(
    "now",
    [
        datetime(2026, 3, 1, 20, 0, tzinfo=ZoneInfo("Asia/Tokyo")),
        datetime(2026, 3, 1, 20, 0),  # naive: the shop's clock, as every naive time
    ],
)
def test_a_loads_time_in_the_shops_zone_stamps_the_instant_it_names(
    tmp_path: Path, now: datetime
) -> None:
    """``load(now=...)`` at 20:00 in Tokyo is 11:00 UTC: undated CRM records were stamped
    20:00 "UTC" (the zone dropped), nine hours late, so an export as of that day left out a
    person the shop had met that evening."""
    (tmp_path / "crm.csv").write_text("email,name\nk@x.com,Kei\n")
    (tmp_path / "o.csv").write_text(
        "order_id,email,ordered_at,revenue\n"
        "k1,k@x.com,2026-03-03 10:00:00,5\n"
        "z1,z@x.com,2026-02-20 10:00:00,5\n"
    )
    with Workspace.init(tmp_path / "ws", timezone="Asia/Tokyo") as ws:
        ws.load("customers", [tmp_path / "crm.csv"], now=now)
        ws.load("orders", [tmp_path / "o.csv"], now=datetime(2026, 4, 1, tzinfo=ZoneInfo("UTC")))
        kei = ws.customer("k@x.com")
        ws.export_customers(tmp_path / "c.csv", as_of="2026-03-01")
    assert kei["profile"]["first_seen"] == "2026-03-01T11:00:00+00:00"
    assert kei["identifiers"][0]["first_seen"] == "2026-03-01T11:00:00+00:00"
    exported = pd.read_csv(tmp_path / "c.csv")
    assert dict(zip(exported.email, exported.stage, strict=True)) == {
        "k@x.com": "prospect",
        "z@x.com": "first_time",
    }


def test_transactions_across_a_clock_change_count_the_days_they_were_written_on() -> None:
    """A Los Angeles shop's own export holds -08:00 before March 8 and -07:00 after:
    ``summary_from_transactions`` failed on it with pandas' "Mixed timezones detected", and a
    column of zoned timestamps in two zones called the odd ones "not a date or time"."""
    from patron.transactions import calibration_and_holdout, summary_from_transactions

    written = [
        "2026-03-01T23:30:00-08:00",
        "2026-03-10T23:30:00-07:00",  # already March 11 in UTC
        "2026-03-20T10:00:00-07:00",
        "2026-03-02T00:30:00+09:00",  # still March 1 in UTC
    ]
    frame = pd.DataFrame({"id": [1, 1, 1, 2], "at": written, "amount": [10.0, 20.0, 30.0, 5.0]})
    summary = summary_from_transactions(
        frame, customer="id", when="at", value="amount", time_unit="day"
    )
    assert summary.loc[1].to_dict() == {"frequency": 2, "recency": 19.0, "T": 19.0,
                                        "monetary_value": 25.0}  # fmt: skip
    assert summary.loc[2, "T"] == 18.0  # its day: March 2, as written
    split = calibration_and_holdout(
        frame, customer="id", when="at", calibration_end="2026-03-10", time_unit="day"
    )
    assert (split.loc[1, "frequency_cal"], split.loc[1, "frequency_holdout"]) == (1, 1)

    zoned = pd.DataFrame(
        {
            "id": [1, 1, 1],
            "at": [
                pd.Timestamp("2026-03-01 23:30", tz="America/Los_Angeles"),
                pd.Timestamp("2026-03-10 23:30", tz="America/Los_Angeles"),
                pd.Timestamp("2026-03-20 01:00", tz="Asia/Tokyo"),
            ],
        }
    )
    got = summary_from_transactions(zoned, customer="id", when="at", time_unit="day").loc[1]
    assert (got["frequency"], got["recency"], got["T"]) == (2, 19.0, 19.0)
