"""Spend files as people write them: semicolons, a byte-order mark, months as Jan 2024 or a
month's first or last day, channel names in another case or with spaces, empty rows, a month
left out; and the messages for what is still refused. The shop is ``test_acquisition``'s, its
search channel renamed ``paid_search``: s1 and s2, acquired in January 2024, CAC 90 / 2 = 45,
margin per customer 32.5 through month 1 and 57.5 through month 2 (payback in month 2),
value 77.5 with the hand-given CLVs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from patron import Workspace
from patron.acquisition import groups, guidance, read_spend
from patron.acquisition.spend import known_channels, written_month
from patron.errors import InputError
from test_acquisition import AS_OF, MARGIN, ORDERS, loaded, predicted

SHOP = ORDERS.replace(",search,", ",paid_search,")


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    yield from loaded(tmp_path_factory, SHOP, "UTC")


def report(ws: Workspace, path: Path, text: str, encoding: str = "utf-8") -> dict[Any, Any]:
    path.write_text(text, encoding=encoding)
    plan = groups(ws.sales(), AS_OF, read_spend(path))
    rows = guidance(ws.sales(), predicted(ws), AS_OF, plan, margin=MARGIN)
    return {(r["channel"], r["period"]): r for r in rows}


def test_a_spreadsheet_export_reads_as_the_plain_file(ws: Workspace, tmp_path: Path) -> None:
    plain = report(ws, tmp_path / "plain.csv", "channel,month,spend\npaid_search,2024-01,90\n")
    written = report(
        ws,
        tmp_path / "excel.csv",
        "Channel;Month;Spend\nPaid Search;Jan 2024;90\n;;\n",
        encoding="utf-8-sig",
    )
    assert written == plain
    row = written["paid_search", "2024-01"]
    assert (row["new_customers"], row["cac"], row["payback_months"]) == (2, 45.0, 2)
    assert row["lifetime_value"] == pytest.approx(77.5)


def test_a_month_left_out_is_left_out_of_the_total(ws: Workspace, tmp_path: Path) -> None:
    """January and March with spend, February (s3) without: the total pools s1 and s2 only,
    CAC (90 + 30) / 2 = 60, and their 57.5 per customer never reaches it in 5 months."""
    text = "channel,month,spend\npaid_search,2024-01-01,90\nPAID_SEARCH,2024-03-31,30\n"
    got = report(ws, tmp_path / "spend.csv", text)
    assert got["paid_search", "2024-03"]["new_customers"] == 0
    total = got["paid_search", "total"]
    assert (total["new_customers"], total["spend"], total["cac"]) == (2, 120.0, 60.0)
    assert (total["payback_months"], total["months_observed"]) == (None, 5)


@pytest.mark.parametrize(
    ("text", "month"),
    [
        ("2024-03", (date(2024, 3, 1), date(2024, 3, 31))),
        ("2024-3", (date(2024, 3, 1), date(2024, 3, 31))),
        ("Mar 2024", (date(2024, 3, 1), date(2024, 3, 31))),
        ("september 2023", (date(2023, 9, 1), date(2023, 9, 30))),
        ("Sept-2023", (date(2023, 9, 1), date(2023, 9, 30))),
        ("2024-02-01", (date(2024, 2, 1), date(2024, 2, 29))),
        ("2024-02-29", (date(2024, 2, 1), date(2024, 2, 29))),
    ],
)
def test_months_as_people_write_them(text: str, month: tuple[date, date]) -> None:
    assert written_month(text) == month


@pytest.mark.parametrize("text", ["March", "2024-02-15", "Ma 2024", "Jan-24", "2024-13", "03/2024"])
def test_months_that_are_not_guessed(text: str) -> None:
    with pytest.raises(ValueError):
        written_month(text)


def test_a_channel_two_channels_could_be_is_not_guessed(tmp_path: Path) -> None:
    path = tmp_path / "spend.csv"
    path.write_text("channel,month,spend\nWEB,2024-01,5\n", encoding="utf-8")
    (spend,) = read_spend(path)
    assert known_channels([spend], ["Web", "web"])[0].channel == "WEB"  # refused later
    assert known_channels([spend], ["web", "app"])[0].channel == "web"


@pytest.mark.parametrize(
    ("text", "row", "field", "message"),
    [
        (
            'channel,month,spend\npaid_search,2024-01,"1,900"\n',
            1,
            "spend",
            "'1,900' is not an amount of 0 or more such as 1250.50, without thousands "
            "separators or currency signs",
        ),
        (
            "channel,month,spend\npaid_search,2024-01,60\npaid_search,Jan 2024,30\n",
            2,
            "month",
            "2024-01 of 'paid_search' already has a row (row 1); put the channel's spend for a "
            "period on one row (add up its campaigns)",
        ),
        (
            "channel,month,spend\npaid_search,2024-01-15,60\n",
            1,
            "month",
            "'2024-01-15' is not a month such as 2024-03 or Mar 2024",
        ),
        (
            "channel,month,spend\n\npaid search,2024-01,5\ntiktok,2024-01,5\n",
            3,
            "channel",
            "tiktok",
        ),
    ],
)
def test_what_is_refused_says_file_row_field_and_what_to_do(
    ws: Workspace, tmp_path: Path, text: str, row: int, field: str, message: str
) -> None:
    path = tmp_path / "spend.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        groups(ws.sales(), AS_OF, read_spend(path))
    assert (caught.value.file, caught.value.row, caught.value.field) == (str(path), row, field)
    assert message in str(caught.value)
