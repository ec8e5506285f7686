"""``patron report --spend FILE --margin M``: the acquisition section with each channel's CAC,
CLV:CAC and payback, equal to ``patron acquisition``'s for the same file and margin, read in
the browser. The shop: a synthetic one in yen that opened in January 2024; web spent every
month, the store once over the whole year, the app and marketplace nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from cli_support import patron
from patron import Workspace
from patron.errors import PatronWarning
from patron.predictions import Horizon
from patron.report import format as fmt
from patron.samples.synthetic import generate
from test_report import browser, open_report

__all__ = ["browser"]  # the module-scoped Chromium of the report tests

MARGIN = 0.4
SPEND = "channel,month,spend\n" + "".join(
    f"web,2024-{m:02},{90_000 + 1_000 * m}\n" for m in range(1, 10)
)
STORE = "channel,start,end,spend\nstore,2024-01-01,2024-09-30,2500000\n"


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("spend")
    files = generate(folder / "data", customers=1000, seed=11, end=date(2024, 9, 30),
                     start=date(2024, 1, 1))  # fmt: skip
    dollars = pytest.warns(PatronWarning, match="in USD")  # the sample's dollars, read as yen
    with Workspace.init(folder / "ws", timezone="Asia/Tokyo", currency="JPY") as ws, dollars:
        ws.load("orders", files["orders"])
    (folder / "spend.csv").write_text(SPEND)
    (folder / "store.csv").write_text(STORE)
    yield folder


@pytest.fixture(scope="module")
def page(browser: Browser, shop: Path) -> Iterator[Page]:
    done = patron("-w", "ws", "report", "--spend", "spend.csv", "--margin", str(MARGIN),
                  "--out", "report.html", cwd=shop)  # fmt: skip
    assert done.returncode == 0, done.stderr
    loaded = open_report(browser, shop / "report.html")
    assert loaded.errors == []
    yield loaded.page
    loaded.page.close()


def _table(page: Page) -> dict[str, dict[str, str]]:
    """The acquisition table's cells by channel and column heading."""
    heads = page.eval_on_selector_all("#acquisition thead th", "els => els.map(e => e.textContent)")
    rows = page.eval_on_selector_all(
        "#acquisition tbody tr", "rows => rows.map(r => Array.from(r.cells, c => c.textContent))"
    )
    return {cells[0]: dict(zip(heads, cells, strict=True)) for cells in rows}


def test_each_channel_shows_what_patron_acquisition_says(shop: Path, page: Page) -> None:
    with Workspace.open(shop / "ws", read_only=True) as ws:
        expected = ws.acquisition(spend=shop / "spend.csv", horizon=Horizon(margin=MARGIN))
    web = next(r for r in expected["channels"] if r["channel"] == "web" and r["period"] == "total")
    shown = _table(page)["web"]
    assert shown["New customers"] == fmt.count(web["new_customers"])
    assert shown["Spend"] == fmt.money(web["spend"], "JPY")
    assert shown["CAC"] == fmt.money(web["cac"], "JPY")
    assert shown["CLV:CAC"] == fmt.number(web["clv_to_cac"], 1)
    assert shown["Lifetime value"] == fmt.money(web["lifetime_value"], "JPY")
    assert shown["Payback (months)"] == (
        str(web["payback_months"]) if web["payback_months"] else "not yet"
    )
    store = _table(page)["store"]  # no spend: everyone, and nothing to divide
    assert (store["Spend"], store["CAC"], store["Payback (months)"]) == ("–", "–", "–")
    assert "margin (net revenue × 40%)" in page.inner_text("#acquisition .lead")


def test_the_value_chart_sets_cac_beside_max_cac(page: Page) -> None:
    names = page.evaluate(
        "document.getElementById('chart-acquisition-value').data.map(t => t.name)"
    )
    assert names == ["Lifetime value", "Max CAC at 3:1", "CAC (spend per new customer)"]


def test_one_spend_period_is_the_channels_row(shop: Path, browser: Browser) -> None:
    """The store's one period (January to September) is its row: the customers it acquired
    then, its spend over them."""
    done = patron("-w", "ws", "report", "--spend", "store.csv", "--out", "store.html", cwd=shop)
    assert done.returncode == 0, done.stderr
    with Workspace.open(shop / "ws", read_only=True) as ws:
        rows = ws.acquisition(spend=shop / "store.csv")["channels"]
    store = next(r for r in rows if r["channel"] == "store")
    loaded = open_report(browser, shop / "store.html")
    assert _table(loaded.page)["store"]["CAC"] == fmt.money(store["cac"], "JPY")
    loaded.page.close()


def test_without_spend_the_report_says_how_to_add_it(shop: Path) -> None:
    done = patron("-w", "ws", "report", "--out", "plain.html", cwd=shop)
    assert done.returncode == 0, done.stderr
    html = (shop / "plain.html").read_text(encoding="utf-8")
    assert "patron report --spend FILE --margin M" in html and "<th>CAC</th>" not in html


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("channel,month,spend\nweb,2024-13,5\n", "spend.csv, row 1, column 'month'"),
        ("channel,month,spend\ntv,2024-01,5\n", "'tv'"),
    ],
)
def test_a_bad_spend_file_is_an_error_not_an_empty_section(
    shop: Path, tmp_path: Path, text: str, says: str
) -> None:
    (tmp_path / "spend.csv").write_text(text)
    done = patron("-w", str(shop / "ws"), "report", "--spend", "spend.csv", "--out", "r.html",
                  cwd=tmp_path)  # fmt: skip
    assert done.returncode == 2 and says in done.stderr, done.stderr
    assert not (tmp_path / "r.html").exists()


def test_a_margin_outside_0_to_1_is_refused_before_the_work(shop: Path) -> None:
    done = patron("-w", "ws", "report", "--margin", "40", "--out", "m.html", cwd=shop)
    assert done.returncode == 2 and "--margin" in done.stderr


def test_the_models_are_checked_at_the_split_the_user_gives(shop: Path) -> None:
    """`patron report --calibration-end D` shows what `patron validate --calibration-end D
    --holdout-end <the report's day>` prints; the report had always split on its own."""
    from patron.report.data import gather

    with Workspace.open(shop / "ws", read_only=True) as ws:
        data = gather(ws, calibration_end="2024-06-30")
        assert data.models is not None
        assert data.models.validation == ws.validate("2024-06-30", data.as_of)
        assert data.models.validation["calibration_end"] == "2024-06-30"


@pytest.mark.parametrize("split", ["2024-09-30", "2023-12-01"])
def test_a_split_outside_the_history_is_refused(shop: Path, split: str) -> None:
    done = patron("-w", "ws", "report", "--calibration-end", split, "--out", "x.html", cwd=shop)
    assert done.returncode == 2 and f"--calibration-end {split} must fall after" in done.stderr
