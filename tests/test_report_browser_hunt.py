"""The report as a marketer opens it: in Chromium, on a laptop and a phone, printed to PDF.

Three reports: a 2,000-customer synthetic shop (every table loaded), the same shop as of a day
three and a half months after its first sale, and a shop in a right-to-left language that loaded
its orders only (Persian channel names, rials, Tehran time).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from playwright.sync_api import Browser, Page, ViewportSize

from cli_support import ok, patron_here
from patron import Workspace
from patron.errors import PatronWarning
from patron.report import dashboard, write_report
from patron.samples.synthetic import generate
from test_report import Loaded, browser, open_report, plots

__all__ = ["browser"]  # the module-scoped Chromium of the report tests

EARLY = date(2022, 4, 15)
"""An as-of day before most of the data: the shop opened on 1 January 2022."""
PHONE: ViewportSize = {"width": 390, "height": 844}
LAPTOP: ViewportSize = {"width": 1280, "height": 900}
CHANNELS = {
    "web": "فروشگاه اینترنتی",
    "store": "فروشگاه",
    "app": "اپلیکیشن",
    "marketplace": "بازار",
}
WORDS = ("nan", "None", "NaT", "inf", "undefined", "[object Object]", "NaN", "Infinity")

CUT_TEXTS = """id => { const gd = document.getElementById(id), box = gd.getBoundingClientRect();
  return [...gd.querySelectorAll('svg text')].filter(t => t.textContent.trim()).map(t =>
    [t.textContent, t.getBoundingClientRect()]).filter(([, r]) => r.width > 0 && (
    r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1 ||
    r.bottom > box.bottom + 1)).map(([text]) => text); }"""
"""The texts of a chart (titles, axis and legend labels) that reach outside its box: cut off."""


def _load(ws: Workspace, table: str, path: Path) -> None:
    with warnings.catch_warnings():  # the sample's dollars, read in the workspace's currency
        warnings.simplefilter("ignore", PatronWarning)
        ws.load(table, path)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """``patron sample synthetic --customers 2000 --seed 1``, every table loaded; its reports
    as of the last day (``report.html``) and as of :data:`EARLY` (``early.html``)."""
    folder = tmp_path_factory.mktemp("browser")
    files = generate(folder / "data", customers=2000, seed=1)
    with Workspace.init(folder / "ws") as ws:
        for table, name in (
            ("products", "products"),
            ("orders", "orders"),
            ("lines", "order_lines"),
            ("customers", "customers"),
            ("events", "events"),
        ):
            _load(ws, table, files[name])
        write_report(ws, folder / "report.html")
        write_report(ws, folder / "early.html", as_of=EARLY)
    yield folder


@pytest.fixture(scope="module")
def rtl(shop: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shop's orders alone (no lines, products, events or CRM), its channels in Persian."""
    folder = tmp_path_factory.mktemp("rtl")
    orders = pd.read_csv(shop / "data" / "orders.csv", dtype=str)
    orders["channel"] = orders["channel"].map(CHANNELS)
    orders["currency"] = "IRR"
    orders.to_csv(folder / "orders.csv", index=False)
    with Workspace.init(folder / "فروشگاه", timezone="Asia/Tehran", currency="IRR") as ws:
        _load(ws, "orders", folder / "orders.csv")
        return write_report(ws, folder / "report.html")


@pytest.fixture(scope="module")
def laptop(browser: Browser, shop: Path) -> Iterator[Loaded]:
    """The shop's report in a 1280 px window, opened once for the tests that only read it."""
    opened = _open(browser, shop / "report.html", LAPTOP)
    yield opened
    opened.page.close()


@pytest.fixture(scope="module")
def phone(browser: Browser, shop: Path) -> Iterator[Loaded]:
    """The same report on a 390 px phone."""
    opened = _open(browser, shop / "report.html", PHONE)
    yield opened
    opened.page.close()


@pytest.fixture(scope="module")
def early(browser: Browser, shop: Path) -> Iterator[Loaded]:
    """The shop's report as of :data:`EARLY`, in a 1280 px window."""
    opened = _open(browser, shop / "early.html", LAPTOP)
    yield opened
    opened.page.close()


def _open(browser: Browser, path: Path, viewport: ViewportSize) -> Loaded:
    """:func:`test_report.open_report` at another window size."""
    opened = open_report(browser, path)
    opened.page.set_viewport_size(viewport)
    opened.page.wait_for_timeout(150)  # plotly follows the window after a debounce
    return opened


def _cut_texts(page: Page) -> dict[str, list[str]]:
    ids = [i for i in plots(page)]
    found = {i: page.evaluate(CUT_TEXTS, i) for i in ids}
    return {i: texts for i, texts in found.items() if texts}


def test_a_printed_report_keeps_every_chart_whole(laptop: Loaded) -> None:
    """The charts were drawn 1,102 px wide for the screen and kept that width on a 718 px
    printed page, whose cards cut off their right third (the 12-month CLV and leaky-bucket
    panels, the right half of the season comparison)."""
    page = laptop.page
    page.evaluate(
        """() => { window.printed = [];
          matchMedia('print').addEventListener('change', m => { if (m.matches)
            for (const gd of document.querySelectorAll('.js-plotly-plot'))
              printed.push([gd.id, gd.clientWidth,
                            +gd.querySelector('svg.main-svg').getAttribute('width')]); }); }"""
    )
    pdf = page.pdf()
    printed = page.evaluate("window.printed")
    assert len(printed) == len(plots(page)) == 20
    assert [(i, drawn) for i, room, drawn in printed if drawn > room] == []
    assert {room for _, room, _ in printed} == {718}  # Letter, default margins
    assert pdf.startswith(b"%PDF-")
    page.wait_for_timeout(200)
    after = page.evaluate(
        "() => [...document.querySelectorAll('.js-plotly-plot')].map(gd => [gd.clientWidth, "
        "+gd.querySelector('svg.main-svg').getAttribute('width'), gd.layout.width])"
    )
    assert after == [[1102, 1102, None]] * 20  # back on screen, following the window again


def test_a_printed_heading_stays_with_what_it_heads(laptop: Loaded) -> None:
    """A section's heading and lead were left alone at the foot of a page (Cohorts, Revenue
    concentration, KPI trends with half its lead), their chart on the next."""
    page = laptop.page
    page.emulate_media(media="print")
    try:
        style = page.evaluate(
            """() => ['h2', '.lead', 'ul.findings li'].map(s => {
                 const c = getComputedStyle(document.querySelector(s));
                 return [s, c.breakAfter, c.breakInside]; })"""
        )
    finally:
        page.emulate_media(media="screen")
    assert style == [
        ["h2", "avoid", "avoid"],
        [".lead", "avoid", "avoid"],
        ["ul.findings li", "auto", "avoid"],
    ]


@pytest.mark.parametrize("window", ["laptop", "phone"])
def test_no_chart_text_is_cut_off_on_a_laptop_or_a_phone(
    request: pytest.FixtureRequest, window: str
) -> None:
    """On a phone the charts were squeezed into 292 px: axis titles, subplot titles and a
    legend ran off their edges ("Leaky-bucket ratio (lost / new)", "Share who bought
    again"...). They now keep 640 px and scroll inside their card, as wide tables do."""
    opened: Loaded = request.getfixturevalue(window)
    page = opened.page
    assert _cut_texts(page) == {}
    width = page.viewport_size["width"] if page.viewport_size else 0
    assert page.evaluate("document.documentElement.scrollWidth") == width
    widths = page.eval_on_selector_all(".js-plotly-plot", "els => els.map(e => e.clientWidth)")
    assert set(widths) == {1102 if window == "laptop" else 640}
    assert opened.errors == []


def test_a_heatmap_of_few_cohorts_shows_its_axis_title_whole(early: Loaded) -> None:
    """Two cohorts made a 158 px heatmap, too short for its y-axis title."""
    assert "chart-cohort-heatmap" in plots(early.page)
    assert _cut_texts(early.page) == {}


def test_an_early_report_says_why_gateways_are_missing(early: Loaded) -> None:
    """As of a day when nobody had been a customer for a year, the gateways chart told a shop
    with order lines loaded to load its order lines."""
    empty = early.page.inner_text("[data-empty-chart=insight-gateways]")
    assert empty == (
        "Not enough data yet: it needs customers acquired 365 days or more before 2022-04-15, "
        "several to a channel or category."
    )


def test_headline_tiles_hold_their_values(laptop: Loaded) -> None:
    """ "USD 128.0k" (12 months' revenue) ran 2 px past its tile's edge at 1280 px."""
    assert laptop.page.inner_text("#dashboard .tile:nth-child(3) .value") == "USD 128.0k"
    spilled = laptop.page.eval_on_selector_all(
        ".tile", "els => els.filter(e => e.scrollWidth > e.clientWidth).map(e => e.innerText)"
    )
    assert spilled == []


def test_the_glossary_reads_on_a_phone(phone: Loaded) -> None:
    """Terms kept a 180 px column on a phone: definitions got 92 px and pushed the cards
    sideways. On a narrow screen each definition now sits under its term."""
    lists = phone.page.eval_on_selector_all(
        "dl.glossary", "els => els.map(e => [e.scrollWidth - e.clientWidth, e.clientWidth])"
    )
    assert lists and all(spill == 0 for spill, _ in lists)
    widths = phone.page.eval_on_selector_all(
        "dl.glossary dd", "els => els.map(e => e.getBoundingClientRect().width)"
    )
    assert min(widths) == max(width for _, width in lists)


@pytest.mark.parametrize("window", ["laptop", "phone"])
def test_a_contents_link_shows_its_section_heading(
    request: pytest.FixtureRequest, window: str
) -> None:
    """The sticky contents bar wrapped to two lines at 1280 px (66 px, over 56 px of scroll
    margin) and to five on a phone (114 px): a click on a link hid the heading it went to."""
    page = request.getfixturevalue(window).page
    hidden = page.evaluate(
        """() => [...document.querySelectorAll('nav.toc a')].filter(a => { a.click();
             const top = document.querySelector(a.hash + ' h2').getBoundingClientRect().top;
             return top < document.querySelector('nav.toc').getBoundingClientRect().bottom; })
           .map(a => a.hash)"""
    )
    assert hidden == []
    assert page.evaluate("document.querySelector('nav.toc').offsetHeight") < 56
    page.evaluate("window.scrollTo(0, 0)")


def test_muted_text_is_readable_in_light_and_dark_mode(
    browser: Browser, shop: Path, laptop: Loaded
) -> None:
    """Leads, hints and flat changes were #6b7280 on the page's grey: 4.47:1 and 4.39:1, under
    the 4.5:1 that WCAG AA asks of body text. The page has one palette: a dark system theme
    leaves it as it is, so it stays readable there too."""
    dark = browser.new_page(viewport=LAPTOP, color_scheme="dark")
    dark.goto((shop / "report.html").as_uri(), wait_until="load")
    ratios = {"light": laptop.page.evaluate(CONTRAST), "dark": dark.evaluate(CONTRAST)}
    dark.close()
    assert ratios["light"] == ratios["dark"]
    low = [(text, ratio) for text, ratio, needed in ratios["light"] if ratio < needed]
    assert low == []
    assert len(ratios["light"]) > 500


CONTRAST = r"""() => {
  const parse = c => { const p = c.match(/rgba?\(([^)]+)\)/)[1].split(',').map(Number);
                       return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; };
  const lum = rgb => rgb.map(v => { v /= 255; return v <= 0.03928 ? v / 12.92
                     : Math.pow((v + 0.055) / 1.055, 2.4); })
                   .reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i], 0);
  const behind = el => { const layers = [];
    for (let e = el; e; e = e.parentElement) { const c = parse(getComputedStyle(e).backgroundColor);
      if (c[3] > 0) { layers.push(c); if (c[3] >= 1) break; } }
    return layers.reverse().reduce((out, c) => out.map((v, i) => v * (1 - c[3]) + c[i] * c[3]),
                                   [255, 255, 255]); };
  const found = [], seen = new Set();
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walk.nextNode()) {
    const el = walk.currentNode.parentElement;
    if (!walk.currentNode.textContent.trim() || seen.has(el) || el.closest('svg')) continue;
    seen.add(el);
    if (!el.getBoundingClientRect().width) continue;
    const s = getComputedStyle(el), fg = parse(s.color), bg = behind(el);
    const ink = fg.slice(0, 3).map((v, i) => v * fg[3] + bg[i] * (1 - fg[3]));
    const [hi, lo] = [lum(ink), lum(bg)].sort((a, b) => b - a);
    const large = parseFloat(s.fontSize) >= 24 ||
                  (parseFloat(s.fontSize) >= 18.66 && parseInt(s.fontWeight) >= 700);
    found.push([el.textContent.trim().slice(0, 40), Math.round((hi + 0.05) / (lo + 0.05) * 100)
                / 100, large ? 3 : 4.5]);
  }
  return found; }"""
"""Each visible text's contrast ratio against what is behind it, and the ratio it needs."""


def test_the_report_says_what_the_cli_says(shop: Path, laptop: Loaded, early: Loaded) -> None:
    """The tiles and the header against ``patron kpis --json`` and ``patron status --json``,
    as of the last day and as of :data:`EARLY`."""
    status = ok(patron_here("-w", "ws", "status", "--json", cwd=shop))
    for opened, args in ((laptop, []), (early, ["--as-of", str(EARLY)])):
        kpis = ok(patron_here("-w", "ws", "kpis", "--json", *args, cwd=shop))
        tiles = opened.page.eval_on_selector_all(
            "#dashboard .tile",
            "els => els.map(e => [e.querySelector('.label').textContent, "
            "e.querySelector('.value').textContent])",
        )
        want = [
            [spec.label, dashboard.value_text(spec.kind, kpis[spec.key], kpis["currency"])]
            for spec in dashboard.TILES
        ]
        assert tiles == want
        header = opened.page.inner_text("header.top")
        assert f"{kpis['customers_total']:,} customers with a purchase" in header
        assert f"{status['orders']:,} orders loaded" in header


@pytest.mark.parametrize("window", ["laptop", "early"])
def test_the_page_works_offline_and_reads_cleanly(
    request: pytest.FixtureRequest, window: str
) -> None:
    """No request leaves the file, no script fails, every chart draws, and no missing value
    reads as "nan", "None", "undefined"... in the visible text."""
    opened: Loaded = request.getfixturevalue(window)
    assert [u for u in opened.requests if not u.startswith("file://")] == []
    assert opened.errors == []
    assert all(plots(opened.page).values())
    words = set(opened.page.inner_text("body").split())
    assert [w for w in WORDS if w in words] == []


def test_a_right_to_left_shop_with_orders_only(browser: Browser, rtl: Path) -> None:
    """Persian channel names: "فروشگاه (43%)" read "(%43)", the share's digits and percent
    sign swapped by the bidirectional algorithm; a <bdi> keeps the name apart."""
    opened = _open(browser, rtl, LAPTOP)
    page = opened.page
    assert opened.errors == []
    assert [u for u in opened.requests if not u.startswith("file://")] == []
    assert all(plots(page).values())
    assert "Currency IRR" in page.inner_text("header.top")
    empty = page.eval_on_selector_all(
        "[data-empty-chart]", "els => els.map(e => e.dataset.emptyChart)"
    )
    assert "insight-gateways" in empty
    cells = page.eval_on_selector_all(
        "[data-insight=channels] tbody tr",
        """rows => rows.map(r => { const cell = r.cells[2], text = cell.lastChild;
             const at = i => { const range = document.createRange();
               range.setStart(text, i); range.setEnd(text, i + 1);
               return range.getBoundingClientRect().left; };
             const s = text.textContent, percent = s.indexOf('%');
             return [cell.textContent, at(percent - 1) < at(percent)]; })""",
    )
    assert cells and all(name.split(" (")[0] in CHANNELS.values() for name, _ in cells)
    assert all(percent_after_digits for _, percent_after_digits in cells)
    opened.page.close()


def test_a_single_customer_is_not_counted_in_thousandths(browser: Browser, tmp_path: Path) -> None:
    """One customer's trend ticked its active customers at 0.2 steps, which the SI format
    wrote "200m", "400m", ... "800m": milli-customers that read as millions; and the page
    spoke of "1 customers"."""
    one = pd.DataFrame(
        {"order_id": ["a", "b", "c"], "email": ["x@shop.example"] * 3,
         "ordered_at": ["2024-03-01", "2024-04-10", "2024-06-01"], "revenue": ["10", "20", "15"]}
    )  # fmt: skip
    with Workspace.init(tmp_path / "ws", currency="EUR") as ws:
        ws.load("orders", one)
        out = write_report(ws, tmp_path / "one.html")
    opened = _open(browser, out, LAPTOP)
    page = opened.page
    assert opened.errors == []
    header = page.inner_text("header.top")
    assert "1 customer with a purchase" in header and "3 orders loaded" in header
    text = page.inner_text("#predictions")
    assert "predicted CLV of 1 customer\n" in text and "of the 1 customer acquired" in text
    ticks = page.eval_on_selector_all(
        "#chart-kpi-trends .yaxislayer-above .ytick text", "els => els.map(e => e.textContent)"
    )
    assert ticks == ["0", "1"]
    words = set(page.inner_text("body").split())
    assert [w for w in WORDS if w in words] == []
    page.close()
