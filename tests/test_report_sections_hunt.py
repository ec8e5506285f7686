"""The report's model-validation and acquisition sections as a reader sees them in a browser.

One synthetic shop in yen (a currency without decimals) that opened nine months before the
as-of day, so the acquisition months chart could reach back before its first sale.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from patron import Workspace
from patron.errors import PatronWarning
from patron.report import format as fmt
from patron.report import model_charts
from patron.report.data import ReportData, gather
from patron.report.render import render
from patron.samples.synthetic import generate
from test_report import browser, open_report

__all__ = ["browser"]  # the module-scoped Chromium of the report tests

START = date(2024, 1, 1)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    folder = tmp_path_factory.mktemp("hunt")
    files = generate(folder / "data", customers=1000, seed=11, start=START, end=date(2024, 9, 30))
    with Workspace.init(folder / "ws", timezone="Asia/Tokyo", currency="JPY") as ws:
        with pytest.warns(PatronWarning, match="in USD"):  # the sample's dollars, read as yen
            ws.load("orders", files["orders"])
        yield ws


@pytest.fixture(scope="module")
def data(workspace: Workspace) -> ReportData:
    return gather(workspace)


@pytest.fixture(scope="module")
def page(
    browser: Browser, data: ReportData, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Page]:
    path = tmp_path_factory.mktemp("page") / "report.html"
    path.write_text(render(data), encoding="utf-8")
    loaded = open_report(browser, path)
    assert loaded.errors == []
    yield loaded.page
    loaded.page.close()


@pytest.fixture(scope="module")
def quiet_phone(
    browser: Browser, data: ReportData, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Page]:
    """The report on a phone, as if no calibration customer had bought in the holdout: every
    correlation is then undefined (NaN)."""
    assert data.models is not None
    validation = data.models.validation
    models = [m | {"correlation": math.nan} for m in validation["models"]]
    quiet = replace(data.models, validation=validation | {"models": models})
    path = tmp_path_factory.mktemp("phone") / "report.html"
    path.write_text(render(replace(data, models=quiet)), encoding="utf-8")
    phone = browser.new_page(viewport={"width": 390, "height": 844})
    phone.goto(path.as_uri(), wait_until="load")
    yield phone
    phone.close()


def _chart(page: Page, name: str) -> dict[str, Any]:
    """A drawn chart's traces (name, x, y, hover) and layout, as plotly holds them."""
    found: dict[str, Any] = page.evaluate(
        """id => { const gd = document.getElementById(id);
          return {traces: gd.data.map(t => ({name: t.name, x: t.x ? Array.from(t.x) : null,
                    y: t.y ? Array.from(t.y) : null, hover: t.hovertemplate || '',
                    hoverongaps: t.hoverongaps})),
                  layout: JSON.parse(JSON.stringify(gd.layout))}; }""",
        f"chart-{name}",
    )
    return found


def test_tracking_marks_the_calibration_end_and_the_baseline(
    workspace: Workspace, data: ReportData, page: Page
) -> None:
    assert data.models is not None
    validation = data.models.validation
    end = date.fromisoformat(validation["calibration_end"])
    api = workspace.validate(end, data.as_of)
    chart = _chart(page, "model-tracking")
    shade = chart["layout"]["shapes"][0]
    assert shade["type"] == "rect" and shade["layer"] == "below"  # the lines stay in view
    notes = [a["text"] for a in chart["layout"]["annotations"]]
    assert any(f"{end:%d %b %Y}" in note for note in notes)
    assert chart["layout"]["xaxis"]["title"]["text"] == "Date (end of each week)"
    traces = {t["name"]: t for t in chart["traces"]}
    naive = next(m for m in api["models"] if m["model"] == "naive")
    actual = api["tracking"][-1]["actual"]
    baseline = traces["Naive baseline"]
    assert baseline["x"][0] == end.isoformat()
    assert baseline["y"][0] == pytest.approx(actual - naive["holdout_actual"])
    assert baseline["y"][-1] == pytest.approx(
        actual - naive["holdout_actual"] + naive["holdout_predicted"]
    )


def test_conditional_axis_says_how_long_the_holdout_is(data: ReportData, page: Page) -> None:
    assert data.models is not None
    weeks = fmt.number(data.models.validation["holdout_periods"], 0)
    title = _chart(page, "model-conditional")["layout"]["yaxis"]["title"]["text"]
    assert title == f"Mean purchases per customer<br>in the {weeks}-week holdout"


@pytest.mark.parametrize("name", ["alive-matrix", "expected-matrix"])
def test_a_history_that_cannot_happen_shows_no_value(page: Page, name: str) -> None:
    """The top-left cell (most repeat purchases, recency 0) is blank: the mouse on it reads
    nothing rather than a P(alive) of 0%."""
    page.locator(f"#chart-{name}").scroll_into_view_if_needed()
    x, y = page.evaluate(
        """id => { const gd = document.getElementById(id), box = gd.getBoundingClientRect();
          const {xaxis, yaxis} = gd._fullLayout, heat = gd.data[0];
          return [box.left + xaxis._offset + xaxis.l2p(heat.x[0]),
                  box.top + yaxis._offset + yaxis.l2p(heat.y[heat.y.length - 1])]; }""",
        f"chart-{name}",
    )
    page.mouse.move(x + 2, y + 2)
    page.wait_for_timeout(100)
    assert page.text_content(f"#chart-{name} .hoverlayer") == ""


def test_yen_reads_without_decimals(page: Page) -> None:
    assert fmt.money(38.29, "JPY") == "JPY 38"
    assert fmt.money(38.29, "EUR") == "EUR 38.29"
    for section in ("predictions", "acquisition"):
        text = page.inner_text(f"#{section}")
        assert not re.search(r"JPY [\d,]+\.\d+\b", text), section
    bands = page.eval_on_selector_all("#acquisition .band", "els => els.map(e => e.textContent)")
    assert bands and not any("." in band for band in bands)
    for name in ("acquisition-value", "acquisition-months", "clv-distribution"):
        chart = _chart(page, name)
        assert not any(".2f" in t["hover"] for t in chart["traces"]), name


def test_clv_bins_under_one_yen_stay_apart(data: ReportData) -> None:
    """Bin edges keep three significant digits: a yen's whole units would read 0–0."""
    assert data.models is not None
    value = data.models.value
    small = [b | {"low": b["low"] / 1000, "high": b["high"] / 1000} for b in value.bins]
    models = replace(data.models, value=replace(value, bins=small))
    figure = model_charts.clv_distribution(replace(data, models=models))
    assert figure is not None
    spans = [text.split(":")[0] for text in figure.data[0].hovertext]
    assert spans[1] == "JPY 0.0158–JPY 0.0251"
    assert len(set(spans)) == len(spans)


def test_an_undefined_correlation_reads_as_a_dash(quiet_phone: Page) -> None:
    cells = quiet_phone.eval_on_selector(
        "#predictions table", "t => [...t.tBodies[0].rows].map(r => r.cells[3].textContent)"
    )
    assert cells == [fmt.MISSING] * 4  # three models and the baseline
    assert "nan" not in quiet_phone.inner_text("#predictions").lower()


def test_the_page_fits_a_phone(quiet_phone: Page) -> None:
    """Wide tables scroll inside their cards; the page itself never scrolls sideways."""
    assert quiet_phone.evaluate("document.documentElement.scrollWidth") <= 390


def test_months_before_the_first_sale_are_left_out(data: ReportData, page: Page) -> None:
    section = data.acquisition
    assert section is not None
    first = f"{START:%Y-%m}"
    assert section.periods[0] == first and section.periods[-1] == "2024-09"
    assert {r["period"] for r in section.months} == set(section.periods)
    bars = _chart(page, "acquisition-months")["traces"]
    assert all(t["x"][0] == first for t in bars)
    assert "of the last 9" in page.inner_text("#acquisition")


def test_glossary_defines_the_terms_of_the_sections(page: Page) -> None:
    terms = page.eval_on_selector_all("#glossary dt", "els => els.map(e => e.textContent)")
    for term in ("Holdout MAE", "Correlation", "90% band", "New customers (acquisition)"):
        assert term in terms


def test_gateway_hovers_write_yen_without_decimals() -> None:
    """The first purchases' chart wrote revenue and CLV with two decimals and no currency."""
    from patron.report.insights_charts import _gateway_bars

    rows = [{"name": "web", "repeat_rate": 0.3, "repeat_low": 0.2, "repeat_high": 0.4,
             "customers": 10, "avg_revenue": 1234.0, "avg_clv": 99.0}]  # fmt: skip
    hover = _gateway_bars("channel", rows, "JPY").hovertemplate
    assert "JPY %{customdata[1]:,.0f}" in hover and "JPY %{customdata[2]:,.0f}" in hover
