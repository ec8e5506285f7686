"""The day figures are "as of", as an analyst who backtests meets it: the default day when the
shop's latest rows are refunds or cancelled orders, every command agreeing on that default, a
day before the first order, the first day, a day with only a return, a day after the data, and
a shop west of UTC. Figures as of a day D are checked against an independent computation: a
second workspace loaded with only the orders dated by D (no test reads ../shared/data)."""

from __future__ import annotations

import random
import warnings
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from cli_support import ok, patron_here
from patron import Workspace
from patron.errors import InputError, PatronWarning

# A purchase is refunded five days after the last sale, and an order on the day after that
# is cancelled: the data run to 2026-02-11 though nobody bought after 2026-02-05.
ORDERS = """order_id,email,ordered_at,revenue,status,return_of
a1,a@x.com,2026-01-10 10:00:00,100.00,,
b1,b@x.com,2026-01-20 10:00:00,50.00,,
a2,a@x.com,2026-02-05 10:00:00,30.00,,
ra2,a@x.com,2026-02-10 00:30:00,-30.00,returned,a2
c1,b@x.com,2026-02-11 00:30:00,70.00,cancelled,
"""
LAST_DAY = date(2026, 2, 11)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """ORDERS in a Berlin shop: the refund and the cancelled order, at 00:30, are on the day
    before in UTC."""
    folder = tmp_path_factory.mktemp("small")
    (folder / "orders.csv").write_text(ORDERS)
    with Workspace.init(folder / "ws", timezone="Europe/Berlin") as ws:
        ws.load("orders", [folder / "orders.csv"])
        yield ws


def test_the_default_day_reads_refunds_dated_after_the_last_sale(small: Workspace) -> None:
    """Without --as-of, KPIs stopped at the last purchase day: the shop's latest refund (30 of
    180) was in no figure, net revenue showed 180 and the return rate 0."""
    kpis = small.kpis()
    assert kpis == small.kpis(as_of=LAST_DAY)
    assert (kpis["as_of"], kpis["revenue"], kpis["refunds"]) == ("2026-02-11", 180.0, 30.0)
    assert (kpis["net_revenue"], kpis["return_rate"]) == (150.0, 0.166667)  # 30 / 180
    monetary = small.segments().to_pandas().set_index("customer_key").monetary
    assert sorted(monetary) == [50.0, 100.0]  # a's 130 less the 30 refunded
    cohort = small.cohorts(metric="cumulative_revenue")["cohorts"][0]
    assert cohort["values"][-1] == pytest.approx(150 / 2)


def test_every_view_of_the_workspace_names_the_same_default_day(small: Workspace) -> None:
    """``patron status`` spanned purchases alone (to 02-05 10:00) while nothing said which day
    the figures were as of; now its span ends at the last row and ``default_as_of`` is the day
    every command takes, the shop's (the cancelled order's UTC day is 02-10)."""
    status = small.status()
    assert status["default_as_of"] == LAST_DAY.isoformat()
    assert status["last_order_at"] == "2026-02-10T23:30:00+00:00"
    days = {
        "kpis": small.kpis()["as_of"],
        "trend": small.kpis(trend=True)["points"][-1]["as_of"],
        "cohorts": small.cohorts()["as_of"],
        "clv_curves": small.clv_curves()["as_of"],
        "segments": small.segment_summary()["as_of"],
        "model": small.as_of().isoformat(),
    }
    assert set(days.values()) == {LAST_DAY.isoformat()}, days


def test_a_day_after_the_data_warns(small: Workspace) -> None:
    """``--as-of 2062-01-01`` (2026 mistyped) showed every customer lost, a retention of 0 and
    no revenue, without a word, while the models refuse such a day; now every metric says
    the day is past the data. The last day, a day with only a cancelled order, does not."""
    with pytest.warns(PatronWarning, match="2062-01-01 is after the last day of the orders lo"):
        assert small.kpis(as_of="2062-01-01")["active_customers"] == 0
    for view in (small.cohorts, small.segments, small.clv_curves, small.segment_summary):
        with pytest.warns(PatronWarning, match="after the last day of the orders loaded"):
            view(as_of="2026-02-12")
    with warnings.catch_warnings():
        warnings.simplefilter("error", PatronWarning)
        small.kpis(as_of=LAST_DAY)
        small.segments()


def test_no_purchase_at_all_has_no_default_day(tmp_path: Path) -> None:
    """A workspace with only a cancelled order and a refund has nothing to be as of: the
    default is refused with what to do, and ``default_as_of`` is empty (a guard)."""
    (tmp_path / "o.csv").write_text(
        "order_id,email,ordered_at,revenue,status\nc,a@x.com,2026-01-01 10:00:00,9,cancelled\n"
        "r,a@x.com,2026-01-02 10:00:00,-9,returned\n"
    )
    with Workspace.init(tmp_path / "ws") as ws:
        ws.load("orders", [tmp_path / "o.csv"])
        assert ws.status()["default_as_of"] is None
        with pytest.raises(InputError, match="no purchases are loaded yet"):
            ws.kpis()
        assert ws.kpis(as_of="2026-01-02")["refunds"] == 9.0


ZONE = "America/Los_Angeles"
COLUMNS = ["order_id", "email", "ordered_at", "channel", "revenue", "cost", "status", "return_of"]


def _shop(customers: int = 120, seed: int = 11) -> pd.DataFrame:
    """A shop's orders on its own clock (naive times, many late in the evening, which is the
    next day in UTC): repeat purchases, full and partial refunds up to 40 days later,
    cancelled orders, three channels. Each customer has one email, so identity plays no part."""
    rng = random.Random(seed)
    rows: list[list[Any]] = []
    for c in range(customers):
        at = datetime(2024, 1, 1) + timedelta(days=rng.randrange(400), hours=rng.choice([10, 23]))
        for i in range(1 + int(rng.expovariate(0.6))):
            order = f"o{c}-{i}"
            revenue = round(rng.uniform(5, 120), 2)
            status = "cancelled" if rng.random() < 0.06 else "completed"
            channel = rng.choice(["web", "store", "app"])
            rows.append(
                [order, f"c{c}@x.com", at, channel, revenue, round(revenue / 2, 2), status, ""]
            )
            if status == "completed" and rng.random() < 0.2:
                back = at + timedelta(days=rng.randint(1, 40), minutes=rng.randrange(60))
                refund = -revenue if rng.random() < 0.7 else -round(revenue / 3, 2)
                rows.append(
                    [f"r{order}", f"c{c}@x.com", back, channel, refund, "", "returned", order]
                )
            at += timedelta(days=rng.randint(0, 120), minutes=rng.randrange(90))
    return pd.DataFrame(rows, columns=COLUMNS).sort_values("ordered_at", ignore_index=True)


def _loaded(folder: Path, orders: pd.DataFrame) -> Workspace:
    ws = Workspace.init(folder, timezone=ZONE)
    if len(orders):
        orders.to_csv(folder.with_suffix(".csv"), index=False)
        assert ws.load("orders", [folder.with_suffix(".csv")]).quarantined == 0
    return ws


def _views(ws: Workspace, day: date) -> dict[str, Any]:
    """What an analyst reads as of ``day``; segments per email, since keys differ by workspace."""
    views: dict[str, Any] = {"kpis": ws.kpis(as_of=day, window=90)}
    for by in ("channel", "cohort"):
        views[f"kpis by {by}"] = ws.kpis(as_of=day, window=90, by=by)
    for metric in ("revenue", "repeat"):
        views[metric] = ws.cohorts(as_of=day, metric=metric, period="quarter")
    emails = ws.table("customers").select("customer_key", "email")
    table = ws.segments(as_of=day, window=90).inner_join(emails, "customer_key")
    rows = table.drop("customer_key").to_pandas().sort_values("email").to_dict("records")
    views["segments"] = rows
    return views


def _same(a: Any, b: Any, where: str = "") -> None:
    """Equal, floats to 1e-6: sums over other rows may differ in the last rounded digit."""
    if isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            _same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-6, abs=1e-6) or (a != a and b != b), where
    else:
        assert a == b, where


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder holding workspace ``all``, :func:`_shop` loaded (closed, for the CLI)."""
    folder = tmp_path_factory.mktemp("shop")
    _loaded(folder / "all", _shop()).close()
    return folder


def test_every_command_is_as_of_the_last_refund_by_default(shop: Path) -> None:
    """The shop's last row is a refund on 2026-01-19, two weeks after its last sale: the
    models' calibration end, validate's holdout end, acquisition, the export and the report
    were all as of 2026-01-03 and left it out; now they agree with the KPIs."""
    last = "2026-01-19"
    assert ok(patron_here("-w", "all", "fit", "--json", cwd=shop))["calibration_end"] == last
    for args in (["predict"], ["acquisition"]):
        assert ok(patron_here("-w", "all", *args, "--json", cwd=shop))["as_of"] == last
    checked = ok(
        patron_here("-w", "all", "validate", "--calibration-end", "2025-06-30", "--json", cwd=shop)
    )
    assert checked["holdout_end"] == last
    for name, day in (
        ("default", []),
        ("last", ["--as-of", last]),
        ("sale", ["--as-of", "2026-01-03"]),
    ):
        ok(patron_here("-w", "all", "export", "customers", "--out", f"{name}.csv", *day, cwd=shop))
    exported = {name: (shop / f"{name}.csv").read_text() for name in ("default", "last", "sale")}
    assert exported["default"] == exported["last"] != exported["sale"]
    done = patron_here("-w", "all", "report", "--out", "report.html", cwd=shop)
    assert (done.returncode, done.stderr.count("after the last day")) == (0, 0), done.stderr
    assert "As of <b>19 Jan 2026</b>" in (shop / "report.html").read_text()
    late = patron_here("-w", "all", "segments", "--as-of", "2026-01-20", cwd=shop).stderr
    assert "warning: --as-of 2026-01-20 is after the last day of the orders loaded, " in late


def test_a_model_may_end_on_a_day_with_only_refunds(shop: Path) -> None:
    """A calibration end on the last refund's day was refused as "after the last purchase day
    loaded, 2026-01-03", though the orders cover it; a day after the data is still refused."""
    with Workspace.open(shop / "all") as ws:
        assert ws.fit(calibration_end="2026-01-19").params_
        with pytest.raises(InputError, match="after the last day of the orders loaded, 2026-01-19"):
            ws.fit(calibration_end="2026-01-20")


# The orders cut at D end before D when nobody ordered on D: that workspace warns, rightly.
@pytest.mark.filterwarnings("ignore:.*after the last day of the orders loaded")
def test_as_of_a_day_is_what_the_orders_to_that_day_give(tmp_path: Path) -> None:
    """KPIs (overall, by channel and by cohort), cohorts and segments as of a day before the
    first order, the first day, a day with only refunds and a day in the middle equal those of
    a workspace loaded with only the orders dated by that day (these held: a guard, in a zone
    where the evening is tomorrow in UTC)."""
    orders = _shop()
    day = orders.ordered_at.dt.date
    returns = set(day[orders.status == "returned"]) - set(day[orders.status != "returned"])
    first = day.min()
    days = [first - timedelta(days=1), first, min(returns), date(2024, 9, 30)]
    with _loaded(tmp_path / "all", orders) as whole:
        for i, at in enumerate(days):
            with _loaded(tmp_path / f"to{i}", orders[day <= at]) as cut:
                _same(_views(whole, at), _views(cut, at), at.isoformat())
