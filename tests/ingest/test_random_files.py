"""Random CSV files of every table: a load either succeeds or fails with one clear line, and a
failed one changes nothing.

The cells come from a vocabulary of the awkward values real exports carry (amounts in every
notation, dates in other layouts, quoted commas and newlines, Persian digits, BOMs, bytes that
are not UTF-8); headers are random subsets of each table's columns with strays; records may
have a field too many or too few and lines may end in CRLF. This found two loads that failed
with DuckDB's own multi-line error: a bare LF inside a quoted cell of a CRLF file, and a
header that is not UTF-8.
"""

from __future__ import annotations

from pathlib import Path

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
    path = write(tmp_path / "random.csv", data)
    before = _state(shared)
    try:
        result = shared.load(table, path, now=NOW)
    except InputError as exc:
        assert "\n" not in str(exc) and str(exc).startswith(str(path))
        assert _state(shared) == before
    else:
        assert (
            result.rows_read
            == result.inserted + result.duplicates + result.quarantined + result.updated
        )
