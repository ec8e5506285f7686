"""The HTML report: its numbers and sentences, and how it renders offline in headless Chromium."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
from playwright.sync_api import Browser, Page, Route, sync_playwright

from patron import InputError, Workspace
from patron.errors import PatronWarning
from patron.insights.affinity import gateways as gateway_rows
from patron.insights.ideal import ideal_profile
from patron.report import format as fmt
from patron.report import write_report
from patron.report.acquisition_data import gather_acquisition
from patron.report.data import ReportData, gather, months_before
from patron.report.findings import findings
from patron.report.model_data import calibration_end, predictions
from patron.report.render import CHARTS, render
from patron.report.theme import MODEL_LABELS
from patron.samples.synthetic import generate

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SECTIONS = (
    "KPI dashboard",
    "Key findings",
    "KPI trends",
    "Cohorts",
    "Seasonal cohorts",
    "Revenue concentration",
    "Segments",
    "Lifecycle flows",
    "CLV by acquisition channel",
    "Predicted customer value",
    "Acquisition guidance",
    "Customer insights",
    "Experiments",
    "Glossary",
)


@dataclass
class Loaded:
    """A report opened in the browser, with every request it made and every error it raised."""

    page: Page
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """14 months of a 1,500-person synthetic retailer: two holiday seasons, four channels."""
    folder = tmp_path_factory.mktemp("report")
    files = generate(
        folder / "data", customers=1500, seed=5, start=date(2023, 11, 1), end=date(2024, 12, 31)
    )
    with Workspace.init(folder / "ws", timezone="America/New_York", currency="EUR") as ws:
        for table, name in (
            ("products", "products"),
            ("orders", "orders"),
            ("lines", "order_lines"),
            ("events", "events"),
        ):
            with warnings.catch_warnings():  # the sample's dollars, read here as euros
                warnings.simplefilter("ignore", PatronWarning)
                ws.load(table, files[name])
        yield ws


@pytest.fixture(scope="module")
def data(workspace: Workspace) -> ReportData:
    return gather(workspace)


@pytest.fixture(scope="module")
def report(data: ReportData, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("out") / "report.html"
    out.write_text(render(data), encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium is missing at {CHROMIUM}: the report tests need it; install it with "
            "`apt-get install -y chromium` (`make test` does this)"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def loaded(browser: Browser, report: Path) -> Iterator[Loaded]:
    """The synthetic retailer's report, opened once for the tests that only read the page."""
    opened = open_report(browser, report)
    yield opened
    opened.page.close()


def open_report(browser: Browser, path: Path) -> Loaded:
    """Load ``path`` with every request outside file:// recorded and aborted."""
    loaded = Loaded(browser.new_page(viewport={"width": 1280, "height": 900}))

    def route(route: Route) -> None:
        loaded.requests.append(route.request.url)
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            route.abort()

    loaded.page.route("**/*", route)
    loaded.page.on("console", lambda m: loaded.errors.append(m.text) if m.type == "error" else None)
    loaded.page.on("pageerror", lambda e: loaded.errors.append(str(e)))
    loaded.page.goto(path.as_uri(), wait_until="load")
    return loaded


def plots(page: Page) -> dict[str, bool]:
    """Each plotly chart's id and whether it drew an SVG."""
    found: dict[str, bool] = dict(
        page.eval_on_selector_all(
            ".js-plotly-plot", "els => els.map(e => [e.id, !!e.querySelector('svg.main-svg')])"
        )
    )
    return found


def test_report_renders_every_chart_offline(loaded: Loaded) -> None:
    assert [url for url in loaded.requests if not url.startswith("file://")] == []
    assert loaded.errors == []
    drawn = {f"chart-{name}": True for name in CHARTS if not name.startswith("experiment-")}
    assert plots(loaded.page) == drawn  # no experiments here: tests/experiments cover those
    headings = loaded.page.eval_on_selector_all("h2", "els => els.map(e => e.textContent)")
    assert headings == list(SECTIONS)
    glossary = loaded.page.inner_text("#glossary")
    terms = ("Leaky-bucket ratio", "Early repeat rate", "Champions", "Defecting", "P(alive)")
    for term in (*terms, "Customers by repeat purchases"):
        assert term in glossary


def test_predictions_section_shows_what_the_api_says(
    workspace: Workspace, data: ReportData, loaded: Loaded
) -> None:
    models = data.models
    assert models is not None
    day = data.as_of
    assert models.validation["calibration_end"] == "2024-08-11"  # 142 days: a third of 426
    api = workspace.validate(date(2024, 8, 11), day)
    assert models.validation["best"] == api["best"]
    assert [m["mae"] for m in models.validation["models"]] == [m["mae"] for m in api["models"]]
    # (sorted unique rows make the fits, and so the errors, identical to the last bit)
    table = workspace.predict(as_of=day)
    equity = table.clv.sum().to_pyarrow().as_py()
    at_risk = table.filter(table.churn_risk == "at_risk").count().to_pyarrow().as_py()
    assert models.value.equity == pytest.approx(equity, rel=1e-9)
    assert models.value.groups["churn_risk"]["at_risk"]["customers"] == at_risk
    assert sum(b["customers"] for b in models.value.bins) == models.value.customers
    page = loaded.page
    assert page.inner_text("#predictions tr.best td:first-child").startswith(
        MODEL_LABELS[api["best"]]
    )
    assert fmt.money(equity, "EUR", compact=True) in page.inner_text("#predictions .tiles")
    assert fmt.count(at_risk) in page.inner_text("#findings")
    traces = page.evaluate(
        "id => document.getElementById(id).data.map(t => t.name)", "chart-model-tracking"
    )
    assert traces == ["Actual", "BG/NBD", "Pareto/NBD", "MBG/NBD", "Naive baseline"]
    bars = page.evaluate(
        "id => document.getElementById(id).data.map(t => [t.name, t.y.reduce((a, b) => a + b)])",
        "chart-model-frequencies",
    )
    customers = api["customers"]  # every model's bars, as the actual ones, hold every customer
    assert [name for name, _ in bars] == ["Actual", "BG/NBD", "Pareto/NBD", "MBG/NBD"]
    assert [total for _, total in bars] == pytest.approx([customers] * 4)
    cells = page.evaluate(
        "() => document.querySelectorAll('#chart-alive-matrix .hm, #chart-alive-matrix image')"
        ".length"
    )
    assert cells > 0  # the heatmap is painted, not just its axes


def test_acquisition_section_shows_what_the_api_says(
    workspace: Workspace, data: ReportData, loaded: Loaded
) -> None:
    section = data.acquisition
    assert section is not None
    by_channel = workspace.acquisition(as_of=data.as_of)
    by_month = workspace.acquisition(as_of=data.as_of, by="month", months=12)
    assert section.channels == by_channel["channels"]
    assert section.months == by_month["channels"]
    settings = ("horizon", "time_unit", "margin", "target_ratio")
    assert [getattr(section, k) for k in settings] == [by_channel[k] for k in settings]
    assert section.periods[0] == "2024-01" and section.periods[-1] == "2024-12"
    assert not section.partial_month
    page = loaded.page
    cells = page.eval_on_selector_all(
        "#acquisition tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))"
    )
    rows = by_channel["channels"]
    assert [c[0] for c in cells] == [r["channel"] for r in rows]
    assert [(c[1], c[4], c[6]) for c in cells] == [
        (
            fmt.count(r["new_customers"]),
            *(fmt.money(r[k], "EUR") for k in ("lifetime_value", "max_cac")),
        )
        for r in rows
    ]
    bars = page.evaluate(
        "id => document.getElementById(id).data.map(t => Array.from(t.y))",
        "chart-acquisition-value",
    )
    assert bars == [[r["lifetime_value"] for r in rows], [r["max_cac"] for r in rows]]
    months = page.evaluate(
        "id => document.getElementById(id).data.map(t => [t.type, Array.from(t.y)])",
        "chart-acquisition-months",
    )
    new = sum(sum(y) for kind, y in months if kind == "bar")
    assert new == sum(r["new_customers"] for r in by_month["channels"])
    assert sum(kind == "scatter" for kind, _ in months) == len(rows)
    assert "lifetime value" in page.inner_text("#findings")


def test_stored_predictions_are_shown_only_as_of_the_report_day(
    workspace: Workspace, data: ReportData
) -> None:
    assert data.models is not None and not data.models.stored
    day = data.as_of
    workspace.predict(as_of=day - timedelta(days=30), store=True)
    assert not predictions(workspace, day)[1]
    workspace.predict(as_of=day, store=True)
    table, stored = predictions(workspace, day)
    assert stored
    assert table.clv.sum().to_pyarrow().as_py() == pytest.approx(data.models.value.equity)
    # their margin is not stored, so acquisition guidance computes its own predictions
    assert gather_acquisition(workspace, day, predictions(workspace, day)) == data.acquisition


@pytest.mark.parametrize(
    ("first", "as_of", "expected"),
    [
        (date(2024, 1, 1), date(2024, 3, 24), None),  # 83 days: under 12 weeks
        (date(2024, 1, 1), date(2024, 3, 25), date(2024, 2, 26)),  # a third: 28 days
        (date(2022, 1, 1), date(2024, 12, 31), date(2024, 7, 2)),  # at most 26 weeks
    ],
)
def test_the_holdout_is_a_third_of_the_history_up_to_26_weeks(
    first: date, as_of: date, expected: date | None
) -> None:
    assert calibration_end(first, as_of) == expected


def test_report_is_one_offline_file(data: ReportData, report: Path) -> None:
    html = report.read_text(encoding="utf-8")
    assert html == render(data)  # fixed chart ids: same numbers, same bytes
    assert html.count("plotly.js v") == 1
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=", html)
    assert "Currency <b>EUR</b>" in html
    assert "Not enough data" not in html
    assert 4_000_000 < len(html.encode()) < 6_000_000


def test_tiles_and_findings_follow_the_numbers(data: ReportData) -> None:
    early = {**data.kpis, "early_repeat_rate": 0.23}
    prior = {**(data.prior or {}), "early_repeat_rate": 0.26}
    texts = [f.text for f in findings(replace(data, kpis=early, prior=prior))]
    assert "Early repeat rate fell from 26% to 23% over the last 12 months." in texts
    leaking = {**data.kpis, "leaky_bucket_ratio": 1.25, "lost_customers": 500, "new_customers": 400}
    first = findings(replace(data, kpis=leaking))
    assert any(f.tone == "bad" and "1.25" in f.text and "500 lost" in f.text for f in first)
    channel = min(
        (g for g in data.channels if g["clv_365"]), key=lambda g: g["clv_365"], default=None
    )
    assert channel is not None
    assert any(f"{channel['group'].capitalize()} customers are worth" in t for t in texts)
    assert data.acquisition is not None
    rows = data.acquisition.channels
    best = max(rows, key=lambda r: r["lifetime_value"])
    assert any(t.startswith(f"A customer acquired via {best['channel']} brings") for t in texts)
    alone = replace(data.acquisition, channels=[best])
    assert not any("acquired via" in f.text for f in findings(replace(data, acquisition=alone)))


def test_insights_section_shows_what_the_api_says(
    workspace: Workspace, data: ReportData, loaded: Loaded
) -> None:
    section = data.insights
    assert section.timing == workspace.insights.timing(as_of=data.as_of)
    discount = workspace.insights.discount(as_of=data.as_of)  # sums in any order: approx
    assert section.discount["bands"] == discount["bands"]
    for got, want in zip(section.discount["segments"], discount["segments"], strict=True):
        assert got == {k: pytest.approx(v) if isinstance(v, float) else v for k, v in want.items()}
    found = workspace.insights.affinity(as_of=data.as_of, top=2)
    leaning = [g for g in found["groups"] if g["shrunk_lift"] > 1]
    assert section.affinity is not None and section.affinity["groups"] == leaning
    assert len(leaning) < len(found["groups"])  # some top items sit below the base rate
    # gathered before another test stored predictions: no predicted CLV in the gateways then
    plain = gateway_rows(workspace.insights.baskets(), data.as_of)
    assert section.affinity["gateways"]["items"] == plain["items"][:5]
    page = loaded.page
    text = page.inner_text("[data-insight=timing]")
    t = section.timing
    assert f"{fmt.count(t['second_purchases'])} of {fmt.count(t['customers'])}" in text
    window = t["nudge_window"]
    assert f"between day {window['from_day']} and day {window['to_day']}" in text
    cells = page.eval_on_selector_all(
        "[data-insight=affinity] tbody tr", "rows => rows.map(r => r.cells[1].textContent)"
    )
    assert cells == [g["item"] for g in leaning]
    shares = page.evaluate(
        "id => Array.from(document.getElementById(id).data[0].x)", "chart-insight-discount"
    )
    rows = section.discount["segments"]
    assert sorted(shares) == sorted(r["discount_share"] for r in rows)
    gateways = page.evaluate(
        "id => document.getElementById(id).data.map(t => t.y.length)", "chart-insight-gateways"
    )
    assert sum(gateways) == len(found["gateways"]["channels"]) + len(found["gateways"]["items"][:5])
    # gathered before another test stored predictions: by first-year revenue, as the API was then
    assert section.profile is not None and section.profile["measure"] == "net_revenue"
    baskets, people = workspace.insights.baskets(), workspace.table("customers")
    profile = ideal_profile(baskets, people, data.as_of, currency=workspace.config.currency)
    assert section.profile is not None and section.profile["findings"] == profile["findings"][:5]
    listed = page.eval_on_selector_all(
        "[data-insight=profile] li", "items => items.map(i => i.textContent.trim())"
    )
    assert listed == profile["findings"][:5] and listed
    channels = workspace.insights.channels(as_of=data.as_of)
    assert [e["segment"] for e in section.channels["experience"]] == [
        e["segment"] for e in channels["experience"]
    ]
    nps = page.eval_on_selector_all(
        "[data-insight=channels] tbody tr", "rows => rows.map(r => r.cells[5].textContent)"
    )
    assert nps == [fmt.count(e["respondents"]) for e in channels["experience"]]
    assert sum(e["respondents"] for e in channels["experience"]) > 0
    refills = workspace.insights.replenishment(as_of=data.as_of)["products"]
    assert section.refills is not None
    assert section.refills["products"] == [p for p in refills if p["regular"]][:5]
    shown = page.eval_on_selector_all(
        "[data-insight=refills] tbody tr", "rows => rows.map(r => r.cells[2].textContent)"
    )
    assert shown == [fmt.count(p["customers"]) for p in section.refills["products"]]
    tested = workspace.insights.backtest(as_of=data.as_of)
    assert section.backtest == tested and tested["customers"] > 0
    cells = page.eval_on_selector_all(
        "[data-insight=backtest] tbody td", "cells => cells.map(c => c.textContent)"
    )
    assert cells[1] == fmt.pct(tested["model"]["precision"], 1)
    assert cells[5] == fmt.pct(tested["popularity"]["precision"], 1)


def test_a_workspace_with_a_handful_of_orders_still_renders(
    browser: Browser, tmp_path: Path
) -> None:
    with Workspace.init(tmp_path / "ws", currency="EUR") as ws:
        ws.load("orders", _orders())
        out = write_report(ws, tmp_path / "out" / "tiny.html")
    loaded = open_report(browser, out)
    assert loaded.errors == []
    assert [url for url in loaded.requests if not url.startswith("file://")] == []
    assert all(plots(loaded.page).values())
    empty = loaded.page.eval_on_selector_all(
        "[data-empty-chart]", "els => els.map(e => e.dataset.emptyChart)"
    )
    assert {"cohort-heatmap", "season-comparison", "clv-by-channel"} <= set(empty)
    assert "Not enough data yet" in loaded.page.inner_text("#cohorts")
    assert "no year before" in loaded.page.inner_text("#dashboard")
    assert "Not enough history yet" in loaded.page.inner_text("#predictions")
    assert "Not enough history yet" in loaded.page.inner_text("#acquisition")
    assert "insight-gateways" in set(empty)  # no order lines in this workspace
    assert not any(name.startswith(("chart-model", "chart-acq")) for name in plots(loaded.page))
    loaded.page.close()


def test_nothing_to_report_is_a_one_line_error(tmp_path: Path) -> None:
    with Workspace.init(tmp_path / "empty") as ws, pytest.raises(InputError, match="no purchases"):
        write_report(ws, tmp_path / "r.html")
    with Workspace.init(tmp_path / "ws") as ws:
        ws.load("orders", _orders())
        with pytest.raises(InputError, match="choose a later as_of day"):
            write_report(ws, tmp_path / "r.html", as_of=date(2020, 1, 1))
    assert not (tmp_path / "r.html").exists()


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2024, 12, 31), 3, date(2024, 9, 30)),
        (date(2024, 5, 31), 3, date(2024, 2, 29)),
        (date(2024, 2, 15), 3, date(2023, 11, 15)),
    ],
)
def test_months_before_clamps_to_the_month_end(day: date, months: int, expected: date) -> None:
    assert months_before(day, months) == expected


def test_numbers_read_the_same_everywhere() -> None:
    assert fmt.money(3_319_568.49, "USD", compact=True) == "USD 3.3M"
    assert fmt.money(59.97, "EUR") == "EUR 59.97"
    assert fmt.money(1_839_826.54, "EUR") == "EUR 1,839,827"
    assert fmt.count(28_998, compact=True) == "29.0k"
    assert (fmt.pct(0.2318), fmt.pct(None)) == ("23%", "–")
    assert (fmt.signed_pct(-0.031, 1), fmt.signed_points(0.015)) == ("−3.1%", "+1.5 pts")


def _orders() -> pd.DataFrame:
    """Four orders from three customers over two months."""
    return pd.DataFrame(
        {
            "order_id": ["a", "b", "c", "d"],
            "email": ["x@shop.example", "y@shop.example", "x@shop.example", "z@shop.example"],
            "ordered_at": [
                "2024-03-01 10:00",
                "2024-03-05 11:00",
                "2024-04-20 12:00",
                "2024-05-02",
            ],
            "channel": ["web", "store", "web", None],
            "revenue": ["10", "20", "30", "5"],
        }
    )


def test_refunds_of_people_without_a_purchase_are_no_acquisition_channel(tmp_path: Path) -> None:
    """The KPIs keep such refunds in a ``no_purchase`` group so the groups add up; the report's
    channel table compares channels that won customers, and had shown it as one."""
    returned = pd.DataFrame(
        {"order_id": ["r"], "email": ["w@shop.example"], "ordered_at": ["2024-04-01"],
         "revenue": ["-8"], "status": ["refunded"]}
    )  # fmt: skip
    with Workspace.init(tmp_path / "ws", currency="EUR") as ws:
        ws.load("orders", _orders())
        ws.load("orders", returned)
        groups = ws.kpis(by="acquisition_channel")["groups"]
        assert "no_purchase" in [g["group"] for g in groups]
        data = gather(ws)
    assert [g["group"] for g in data.channels] == ["store", "unknown", "web"]
