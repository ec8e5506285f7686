"""Random CSV files and data frames of every table: a load either succeeds or fails with one
clear line, and a failed one changes nothing.

The cells come from a vocabulary of the awkward values real exports carry (amounts in every
notation, dates in other layouts, quoted commas and newlines, Persian digits, BOMs, bytes that
are not UTF-8); headers are random subsets of each table's columns with strays; records may
have a field too many or too few and lines may end in CRLF. This found two loads that failed
with DuckDB's own multi-line error: a bare LF inside a quoted cell of a CRLF file, and a
header that is not UTF-8. The frames' object columns mix Python values as spreadsheet imports
do; they found loads stopped by pyarrow (a column of dates and text) and by a cast (a date
field of numbers).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ingest_support import NOW, write

from patron import InputError, Workspace
from patron.warehouse import TABLE_NAMES

COLUMNS = {
    "orders": [
        "order_id", "customer_id", "email", "phone", "ordered_at", "revenue", "discount", "cost",
        "currency", "status", "channel", "return_of", "note",
    ],
    "lines": ["order_id", "product_id", "quantity", "price", "discount", "line_id"],
    "products": ["product_id", "name", "category", "brand", "price"],
    "customers": [
        "customer_id", "email", "phone", "loyalty_id", "signed_up_at", "birthday",
        "email_consent", "sms_consent",
    ],
    "events": [
        "event_id", "customer_id", "email", "occurred_at", "event_type", "channel", "properties",
    ],
}  # fmt: skip
CELLS = [
    "", " ", "0", "-1", "12,5", "1,234.50", "1e5", "abc", "NaN", "2024-01-05", "2024-13-45",
    "05/01/2024", "2024-01-05T10:00:00+01:00", "2099-01-01", "1800-01-01", "ana@example.com",
    " Ana@Example.COM ", "+1 212 555 0143", "0000000000", "۱۲۳", "٣٫٥", "NULL", "true",
    '"{""nps"": 9}"', "{bad", '"quoted, comma"', '"two\nlines"', "é", "😀", "\t", "returned",
    "O1", "C1", "-0.00", "99999999999999999999", "   12.50  ", "\u00a0", 'a"b',
]  # fmt: skip


VALUES = [
    None, 0, -1, 1.5, 10**20, float("nan"), float("inf"), True, "abc", "2024-01-05", "",
    "ana@example.com", "۱۲۳", Decimal("12.50"), date(2024, 1, 5), datetime(2024, 1, 5, 10),
    date(2099, 1, 1), [1, 2], {"nps": 9}, "O1", "C1",
]  # fmt: skip


@st.composite
def frames(draw: st.DrawFn) -> tuple[str, pd.DataFrame]:
    table = draw(st.sampled_from(sorted(COLUMNS)))
    names = draw(st.lists(st.sampled_from(COLUMNS[table]), min_size=1, unique=True))
    rows = draw(st.integers(1, 5))
    cells = st.lists(st.sampled_from(VALUES), min_size=rows, max_size=rows)
    return table, pd.DataFrame({name: draw(cells) for name in names}, dtype=object)


@st.composite
def csv_files(draw: st.DrawFn) -> tuple[str, bytes]:
    table = draw(st.sampled_from(sorted(COLUMNS)))
    header = draw(st.lists(st.sampled_from(COLUMNS[table]), min_size=1, unique=True))
    header += draw(st.lists(st.sampled_from(["Weird Col", "όνομα", "dup"]), max_size=1))
    width = len(header) + draw(st.sampled_from([-1, 0, 0, 0, 1]))
    row = st.lists(st.sampled_from(CELLS), min_size=max(width, 1), max_size=max(width, 1))
    records = draw(st.lists(row, max_size=6))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    text = newline.join(",".join(cells) for cells in [header, *records])
    data = (draw(st.sampled_from(["", "\ufeff"])) + text).encode()
    if draw(st.integers(0, 9)) == 0:  # a stray Latin-1 byte somewhere
        at = draw(st.integers(0, len(data)))
        data = data[:at] + b"\xe9" + data[at:]
    return table, data


def _state(ws: Workspace) -> dict[str, int]:
    con = ws.warehouse.duckdb
    return {
        name: con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0] for name in TABLE_NAMES
    }


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """One workspace for every example: later loads meet what earlier ones left."""
    return Workspace.init(tmp_path_factory.mktemp("random") / "ws", phone_region="US")


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(file=csv_files())
def test_a_random_file_loads_or_fails_in_one_line_and_changes_nothing(
    shared: Workspace, tmp_path: Path, file: tuple[str, bytes]
) -> None:
    table, data = file
    _loads_or_fails_cleanly(shared, table, write(tmp_path / "random.csv", data), str(tmp_path))


@settings(max_examples=40, deadline=None)
@given(frame=frames())
def test_a_random_frame_loads_or_fails_in_one_line_and_changes_nothing(
    shared: Workspace, frame: tuple[str, pd.DataFrame]
) -> None:
    _loads_or_fails_cleanly(shared, *frame, "")


def _loads_or_fails_cleanly(ws: Workspace, table: str, source: object, name: str) -> None:
    before = _state(ws)
    try:
        result = ws.load(table, source, now=NOW)
    except InputError as exc:
        assert "\n" not in str(exc) and str(exc).startswith(name)
        assert _state(ws) == before
    else:
        loaded = result.inserted + result.duplicates + result.quarantined + result.updated
        assert result.rows_read == loaded
