"""The report says what the CLI's answers say on the same workspace and as-of day."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from cli_support import ok, patron_here
from patron import Workspace
from patron.errors import PatronWarning
from patron.experiments.design import last_day
from patron.report.data import gather
from patron.report.render import render
from patron.samples.synthetic import generate

TABLES = (
    ("orders", "orders"),
    ("lines", "order_lines"),
    ("products", "products"),
    ("customers", "customers"),
    ("events", "events"),
)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """500 synthetic customers to the end of 2024, with a test exposed on 1 October."""
    folder = tmp_path_factory.mktemp("agrees")
    files = generate(folder / "data", customers=500, seed=5)
    with Workspace.init(folder / "ws") as ws:
        for table, name in TABLES:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", PatronWarning)
                ws.load(table, files[name])
        ws.create_experiment(
            "promo", audience="all", holdout=0.1, start=date(2024, 10, 1), metric="revenue"
        )
    yield folder


def test_experiment_outcomes_end_on_the_day_the_cli_says(shop: Path) -> None:
    """``through`` is the next day's midnight; the report printed its date, a day late."""
    with Workspace.open(shop / "ws") as ws:
        data = gather(ws)
        html = render(data)
    text = ok(patron_here("-w", "ws", "experiment", "analyze", "promo", cwd=shop))
    cli = re.search(r"\(data through (\d{4}-\d{2}-\d{2})\)", text)
    shown = re.search(r"outcomes to (\d{4}-\d{2}-\d{2})", html)
    assert cli and shown
    assert shown.group(1) == cli.group(1) == str(data.as_of)


def test_the_report_words_its_counts_as_the_cli_does(shop: Path) -> None:
    """The header's "customers" were buyers where ``patron status`` counts CRM-only people too;
    bands read "low 1616"; "up to two categorys"; "1 products are"."""
    with Workspace.open(shop / "ws") as ws:
        data = gather(ws)
        html = render(data)
    assert f"<b>{data.kpis['customers_total']:,}</b> customers with a purchase</li>" in html
    bands = ", ".join(f"{k} {v:,}" for k, v in data.insights.discount["bands"].items())
    assert f"Customers by band: {bands}." in html
    assert re.search(r"up to two (categories|brands) per segment", html)
    assert not re.search(r"\b1 products are", html)


@pytest.mark.parametrize(
    ("through", "timezone", "day"),
    [
        ("2025-01-01 00:00:00", "UTC", date(2024, 12, 31)),
        ("2025-01-01 05:00:00", "America/New_York", date(2024, 12, 31)),
        ("2024-12-31 15:00:00", "Asia/Tokyo", date(2024, 12, 31)),
    ],
)
def test_last_day_is_the_shops_day_before_through(through: str, timezone: str, day: date) -> None:
    assert last_day(through, timezone) == day
