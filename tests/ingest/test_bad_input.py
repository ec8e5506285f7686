"""Bad input never corrupts the workspace: clear one-line errors, or quarantine with the line.

Each test feeds one kind of bad input and checks two things: what the user is told (an
``InputError`` naming the file, or a quarantine row with line, field and reason) and that nothing
was lost or changed (table contents identical after a failed load; quarantined rows keep the
original values in ``record``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from ingest_support import HEADER, NOW, orders, write

from patron import InputError, Workspace, WorkspaceError
from patron.errors import PatronWarning
from patron.warehouse import TABLE_NAMES

GOOD_ROWS = (
    "o1,ana@example.com,2024-01-05 10:00,10.00\n"
    "o2,bob@example.com,2024-01-06 11:00,20.00\n"
    "o3,cy@example.com,2024-01-07 12:00,30.00\n"
)
PATRON = [sys.executable, "-m", "patron"]


# --- helpers -----------------------------------------------------------------------------------


@pytest.fixture
def seeded(ws: Workspace, tmp_path: Path) -> Workspace:
    """A workspace that already holds a load (with one quarantined row), so 'unchanged' bites."""
    path = write(tmp_path / "seed.csv", HEADER + GOOD_ROWS + "o9,dee@example.com,2024-01-08,abc\n")
    result = ws.load("orders", path, now=NOW)
    assert (result.inserted, result.quarantined) == (3, 1)
    return ws


def snapshot(ws: Workspace) -> dict[str, Any]:
    """Row counts of every workspace table plus the exact content of orders and quarantine."""
    con = ws.warehouse.duckdb
    state: dict[str, Any] = {
        name: con.execute(f"SELECT count(*) FROM {name}").fetchone()[0] for name in TABLE_NAMES
    }
    state["orders_rows"] = con.execute(
        "SELECT row_key, row_hash, customer_key, load_id FROM orders ORDER BY row_key"
    ).fetchall()
    state["quarantine_rows"] = con.execute(
        "SELECT load_id, file, row, field, value, reason, record FROM quarantine "
        "ORDER BY load_id, file, row, reason"
    ).fetchall()
    state["identities_rows"] = con.execute(
        "SELECT identifier_type, value, customer_key FROM identities ORDER BY 1, 2"
    ).fetchall()
    return state


def quarantined(ws: Workspace, file: Path | None = None) -> list[dict[str, Any]]:
    rows = ws.quarantine()
    if file is not None:
        rows = [r for r in rows if r["file"] == str(file)]
    return sorted(rows, key=lambda r: (r["line"], r["reason"]))


def only_row(rows: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(rows) == 1, rows
    return rows[0]


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PATRON, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def assert_one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert "Traceback" not in proc.stderr
    return lines[0]


# --- files that cannot be read: the load fails, the workspace is untouched ---------------------


def test_missing_file_names_it_and_changes_nothing(seeded: Workspace, tmp_path: Path) -> None:
    before = snapshot(seeded)
    missing = tmp_path / "nope.csv"
    with pytest.raises(InputError, match="no such file") as info:
        seeded.load("orders", missing, now=NOW)
    assert info.value.file == str(missing)
    assert str(missing) in str(info.value)
    assert "\n" not in str(info.value)
    assert snapshot(seeded) == before


def test_folder_instead_of_a_file_says_so(seeded: Workspace, tmp_path: Path) -> None:
    folder = tmp_path / "exports.csv"
    folder.mkdir()
    write(folder / "orders.csv", HEADER + GOOD_ROWS)
    before = snapshot(seeded)
    with pytest.raises(InputError, match="is a folder") as info:
        seeded.load("orders", folder, now=NOW)
    assert info.value.file == str(folder)
    assert "pass the files inside it" in str(info.value)
    plain = tmp_path / "exports"
    plain.mkdir()
    with pytest.raises(InputError, match="is a folder"):
        seeded.load("orders", plain, format="csv", now=NOW)
    assert snapshot(seeded) == before


@pytest.mark.parametrize(
    ("make_folder", "expected"), [(True, "is a folder"), (False, "no such file")]
)
def test_path_without_suffix_reports_folder_or_missing_first(
    ws: Workspace, tmp_path: Path, make_folder: bool, expected: str
) -> None:
    path = tmp_path / "exports"
    if make_folder:
        path.mkdir()
    before = snapshot(ws)
    with pytest.raises(InputError) as info:
        ws.load("orders", path, now=NOW)
    assert snapshot(ws) == before
    assert expected in str(info.value)


def test_latin1_bytes_in_utf8_load_name_file_and_line(seeded: Workspace, tmp_path: Path) -> None:
    path = write(
        tmp_path / "latin.csv",
        b"order_id,email,ordered_at,revenue,note\n"
        b"l1,eve@example.com,2024-02-01,5.00,cafe\n"
        b"l2,fay@example.com,2024-02-02,6.00,caf\xe9\n",
    )
    before = snapshot(seeded)
    with pytest.raises(InputError) as info:
        seeded.load("orders", path, now=NOW)
    message = str(info.value)
    assert info.value.file == str(path)
    assert message.startswith(str(path))
    assert "line 3" in message
    assert "UTF-8" in message and "encoding='latin-1'" in message  # Python's spelling
    assert "\n" not in message
    assert snapshot(seeded) == before
    # The read had turned file order on for itself; the connection is left as it was found.
    setting = "SELECT current_setting('preserve_insertion_order')"
    assert seeded.warehouse.duckdb.execute(setting).fetchone() == (False,)
    # Doing what the message says works, and keeps the text intact.
    result = seeded.load("orders", path, encoding="latin-1", now=NOW)
    assert result.inserted == 2
    assert orders(seeded)["l2"]["attributes"] == {"note": "café"}


@pytest.mark.parametrize("multiline", [False, True], ids=["one-line-records", "multiline-field"])
def test_a_header_that_is_not_utf8_is_named_as_such(
    seeded: Workspace, tmp_path: Path, multiline: bool
) -> None:
    """DuckDB skips such a header and reads the first record as one, so the message used to
    blame the column names (or, with a field spanning lines, was DuckDB's own)."""
    note = b'"x\ny"' if multiline else b"x"
    path = write(
        tmp_path / "latin-header.csv",
        b"order_id,email,ordered_at,revenue,caf\xe9\nl1,eve@example.com,2024-02-01,5.00," + note,
    )
    before = snapshot(seeded)
    with pytest.raises(InputError) as info:
        seeded.load("orders", path, now=NOW)
    assert str(info.value) == (
        f"{path}: line 1, the header, is not valid UTF-8; re-save the file as UTF-8, "
        "or pass encoding='latin-1' (or utf-16) if that is what it is"
    )
    assert snapshot(seeded) == before
    result = seeded.load("orders", path, encoding="latin-1", now=NOW)
    assert orders(seeded)["l1"]["attributes"] == {"café": "x\ny" if multiline else "x"}
    assert result.inserted == 1


def test_an_unknown_encoding_is_named(seeded: Workspace, tmp_path: Path) -> None:
    path = write(tmp_path / "orders.csv", HEADER + GOOD_ROWS)
    before = snapshot(seeded)
    with pytest.raises(InputError, match="unknown encoding 'klingon'; pass utf-8, utf-16"):
        seeded.load("orders", path, encoding="klingon", now=NOW)
    assert snapshot(seeded) == before


def test_header_that_does_not_map_lists_found_and_needed(seeded: Workspace, tmp_path: Path) -> None:
    path = write(tmp_path / "weird.csv", "ref,mail,when_,total_amt\nx1,a@b.co,2024-01-01,3\n")
    before = snapshot(seeded)
    with pytest.raises(InputError) as info:
        seeded.load("orders", path, now=NOW)
    message = str(info.value)
    assert info.value.file == str(path)
    assert "does not map to orders" in message
    assert "found columns ref, mail, when_, total_amt" in message
    assert "needs ordered_at, revenue, one of customer_id/email/phone/loyalty_id" in message
    assert "mapping={'SOURCE': 'ordered_at'}" in message
    assert snapshot(seeded) == before


def test_header_missing_only_the_date_names_just_that(ws: Workspace, tmp_path: Path) -> None:
    path = write(tmp_path / "nodate.csv", "order_id,email,revenue\no1,a@b.co,3\n")
    with pytest.raises(InputError) as info:
        ws.load("orders", path, now=NOW)
    message = str(info.value)
    assert "found columns order_id, email, revenue" in message
    assert "needs ordered_at." in message
    assert "mapping={'SOURCE': 'ordered_at'}" in message


def test_two_columns_for_one_field_name_both(seeded: Workspace, tmp_path: Path) -> None:
    """``Order ID`` and ``order_id `` both normalize to order_id: the first silently won."""
    path = write(
        tmp_path / "twice.csv",
        "Order ID,order_id ,email,ordered_at,revenue\nA1,B1,a@b.co,2024-01-01,3\n",
    )
    before = snapshot(seeded)
    with pytest.raises(InputError) as info:
        seeded.load("orders", path, now=NOW)
    assert str(info.value) == (
        f"{path}: columns 'Order ID' and 'order_id' both map to order_id; choose one with "
        "mapping={'Order ID': 'order_id'}; the other is kept in attributes"
    )
    assert snapshot(seeded) == before
    seeded.load("orders", path, mapping={"order_id": "order_id"}, now=NOW)
    assert orders(seeded)["B1"]["attributes"] == {"Order ID": "A1"}


def test_two_synonyms_for_one_field_name_both(ws: Workspace, tmp_path: Path) -> None:
    """``Total`` and ``Amount`` both stand for revenue; a column named ``revenue`` would win."""
    header = "order_id,email,ordered_at,Total,Amount"
    path = write(tmp_path / "sums.csv", f"{header}\no1,a@b.co,2024-01-01,3,4\n")
    with pytest.raises(InputError, match="columns 'Total' and 'Amount' both map to revenue"):
        ws.load("orders", path, now=NOW)
    named = write(tmp_path / "named.csv", f"{header},revenue\no1,a@b.co,2024-01-01,3,4,5\n")
    ws.load("orders", named, now=NOW)
    assert orders(ws)["o1"]["revenue"] == Decimal("5")
    assert orders(ws)["o1"]["attributes"] == {"Total": "3", "Amount": "4"}


def test_empty_file(seeded: Workspace, tmp_path: Path) -> None:
    path = write(tmp_path / "empty.csv", b"")
    before = snapshot(seeded)
    with pytest.raises(InputError, match="the file is empty") as info:
        seeded.load("orders", path, now=NOW)
    assert info.value.file == str(path)
    assert snapshot(seeded) == before


@pytest.mark.parametrize("newline", ["\n", "\r\n", ""])
def test_header_only_file(seeded: Workspace, tmp_path: Path, newline: str) -> None:
    """A quiet day's export (a header, no rows) loads nothing and says so: it had failed the
    nightly job, and with it every other file of the load. Its header must still map."""
    path = write(tmp_path / "header.csv", HEADER.strip() + newline)
    good = write(tmp_path / "good.csv", HEADER + "n1,new@example.com,2024-03-01,1.00\n")
    before = snapshot(seeded)
    with pytest.warns(PatronWarning, match="header.csv: a header and no rows, nothing to load"):
        result = seeded.load("orders", [path, good], now=NOW)
    assert (result.rows_read, result.inserted, result.quarantined) == (1, 1, 0)
    after = snapshot(seeded)
    assert (after["orders"], after["loads"]) == (before["orders"] + 1, before["loads"] + 1)
    with pytest.warns(PatronWarning), pytest.raises(InputError, match="does not map") as info:
        seeded.load("orders", write(tmp_path / "odd.csv", "foo,bar" + newline), now=NOW)
    assert info.value.file.endswith("odd.csv") and snapshot(seeded) == after


def test_one_bad_file_among_several_loads_none_of_them(seeded: Workspace, tmp_path: Path) -> None:
    good = write(tmp_path / "good.csv", HEADER + "n1,new@example.com,2024-03-01,1.00\n")
    bad = write(tmp_path / "bad.csv", "foo,bar\n1,2\n")
    before = snapshot(seeded)
    with pytest.raises(InputError) as info:
        seeded.load("orders", [good, bad], now=NOW)
    assert info.value.file == str(bad)
    assert snapshot(seeded) == before
    # The failed load left no debris: the good file alone now loads normally.
    assert seeded.load("orders", good, now=NOW).inserted == 1
    assert "n1" in orders(seeded)


# --- rows that cannot be split into fields -----------------------------------------------------


@pytest.mark.parametrize(
    ("bad_line", "reason"),
    [
        ("o2,bob@example.com,2024-01-06,1,234.00", "too many columns"),
        ("o2,bob@example.com,2024-01-06", "missing columns"),
    ],
)
def test_row_with_wrong_field_count_is_quarantined_with_its_line(
    ws: Workspace, tmp_path: Path, bad_line: str, reason: str
) -> None:
    path = write(
        tmp_path / "fields.csv",
        HEADER + "o1,ana@example.com,2024-01-05,10.00\n" + bad_line + "\n"
        "o3,cy@example.com,2024-01-07,30.00\n",
    )
    result = ws.load("orders", path, now=NOW)
    assert (result.rows_read, result.inserted, result.quarantined) == (3, 2, 1)
    row = only_row(quarantined(ws, path))
    assert row["line"] == 3
    assert reason in row["reason"]
    assert row["record"] == bad_line  # the original line, nothing lost
    loaded = orders(ws)
    assert set(loaded) == {"o1", "o3"}
    assert loaded["o3"]["source_row"] == 4  # lines after the bad one stay exact


def test_a_lone_trailing_delimiter_is_a_field_too_many(ws: Workspace, tmp_path: Path) -> None:
    """``1,234,`` read as revenue 1 and channel "234": DuckDB takes one empty field past the
    header for a trailing delimiter. Where the other lines have none it is a value holding
    the delimiter unquoted, quarantined with its line, also after a line rejected before it."""
    lines = [
        "o1,ana@example.com,2024-01-05,10.00,web",
        "o2,bob@example.com,2024-01-06,1,234,store,x",  # too many: DuckDB's own reject
        "o3,cy@example.com,2024-01-07,1,234,",  # one too many, the last empty
        "o4,dee@example.com,2024-01-08,40.00,",  # an empty last column: fine
        "o5,eve@example.com,2024-01-09,50.00,app",
    ]
    path = write(
        tmp_path / "shifted.csv",
        "order_id,email,ordered_at,revenue,channel\n" + "\n".join(lines) + "\n",
    )
    result = ws.load("orders", path, now=NOW)
    assert (result.rows_read, result.inserted, result.quarantined) == (5, 3, 2)
    rows = {r["line"]: r for r in quarantined(ws, path)}
    assert set(rows) == {3, 4} and rows[4]["record"] == lines[2]
    assert "too many columns" in rows[4]["reason"] and "unquoted" in rows[4]["reason"]
    loaded = orders(ws)
    assert set(loaded) == {"o1", "o4", "o5"}
    assert (loaded["o4"]["source_row"], loaded["o5"]["source_row"]) == (5, 6)
    assert loaded["o5"]["revenue"] == Decimal("50.00")


@pytest.mark.parametrize("header_end", ["", ","])
def test_a_trailing_delimiter_on_every_line_is_the_files_way(
    ws: Workspace, tmp_path: Path, header_end: str
) -> None:
    """Exporters that end every line (or the header too) with the delimiter write no field."""
    body = "o1,ana@example.com,2024-01-05,10.00,\no2,bob@example.com,2024-01-06,20.00,\n"
    path = write(tmp_path / "ended.csv", HEADER.rstrip("\n") + header_end + "\n" + body)
    result = ws.load("orders", path, now=NOW)
    assert (result.inserted, result.quarantined) == (2, 0)
    assert orders(ws)["o2"]["revenue"] == Decimal("20.00")


def test_row_missing_two_fields_is_quarantined_once(ws: Workspace, tmp_path: Path) -> None:
    path = write(
        tmp_path / "fewer.csv", HEADER + "o1,ana@example.com,2024-01-05,10.00\no2,bob@example.com\n"
    )
    result = ws.load("orders", path, now=NOW)
    assert set(orders(ws)) == {"o1"}
    row = only_row(quarantined(ws, path))
    assert (row["line"], row["record"]) == (3, "o2,bob@example.com")
    assert "missing columns" in row["reason"]
    assert (result.rows_read, result.inserted, result.quarantined) == (2, 1, 1)


def test_line_numbers_stay_exact_after_a_blank_line(ws: Workspace, tmp_path: Path) -> None:
    path = write(
        tmp_path / "blank.csv",
        HEADER + "o1,ana@example.com,2024-01-05,10.00\n\no2,bob@example.com,2024-01-06,zz\n",
    )
    ws.load("orders", path, now=NOW)
    assert only_row(quarantined(ws, path))["line"] == 4


# --- rows that fail validation: quarantined with line, field, reason and the original record ---


def _load_one_bad_row(ws: Workspace, tmp_path: Path, bad: str, **options: Any) -> dict[str, Any]:
    """Load three good rows around ``bad`` (line 3); return its quarantine row."""
    path = write(
        tmp_path / "rows.csv",
        HEADER
        + "o1,ana@example.com,2024-01-05 10:00,10.00\n"
        + bad
        + "\n"
        + "o3,cy@example.com,2024-01-07 12:00,30.00\n",
    )
    result = ws.load("orders", path, now=NOW, **options)
    assert (result.rows_read, result.inserted, result.quarantined) == (3, 2, 1)
    assert set(orders(ws)) == {"o1", "o3"}
    row = only_row(quarantined(ws, path))
    assert row["line"] == 3
    assert row["file"] == str(path)
    assert row["table"] == "orders"
    assert row["load_id"] == result.load_id
    return row


def _record(row: dict[str, Any]) -> dict[str, Any]:
    return json.loads(row["record"])


def test_missing_identifier(ws: Workspace, tmp_path: Path) -> None:
    row = _load_one_bad_row(ws, tmp_path, "o2,,2024-01-06,20.00")
    assert row["field"] == "customer identifier"
    assert row["reason"].startswith("missing customer identifier")
    assert "customer_id/email/phone/loyalty_id" in row["reason"]
    assert _record(row) == {
        "order_id": "o2",
        "email": None,
        "ordered_at": "2024-01-06",
        "revenue": "20.00",
    }


def test_invalid_identifier_only(ws: Workspace, tmp_path: Path) -> None:
    row = _load_one_bad_row(ws, tmp_path, "o2,not-an-email,2024-01-06,20.00")
    assert (row["field"], row["value"]) == ("customer identifier", "not-an-email")
    assert row["reason"] == "no valid customer identifier (invalid email or phone)"
    assert _record(row)["email"] == "not-an-email"


def test_unparseable_date(ws: Workspace, tmp_path: Path) -> None:
    row = _load_one_bad_row(ws, tmp_path, "o2,bob@example.com,yesterday,20.00")
    assert row["field"] == "ordered_at"
    assert row["value"] == "yesterday"
    assert row["reason"].startswith("not an ISO 8601 date")
    assert "pass date_format for other layouts" in row["reason"]  # as the load was called
    assert _record(row) == {
        "order_id": "o2",
        "email": "bob@example.com",
        "ordered_at": "yesterday",
        "revenue": "20.00",
    }


def test_impossible_calendar_date(ws: Workspace, tmp_path: Path) -> None:
    row = _load_one_bad_row(ws, tmp_path, "o2,bob@example.com,2024-02-30,20.00")
    assert (row["field"], row["value"]) == ("ordered_at", "2024-02-30")
    assert row["reason"].startswith("not an ISO 8601 date")


def test_future_date(ws: Workspace, tmp_path: Path) -> None:
    # NOW is 2025-06-01 00:00 UTC = 2025-05-31 20:00 in New York.
    row = _load_one_bad_row(ws, tmp_path, "o2,bob@example.com,2025-05-31 21:00,20.00")
    assert row["field"] == "ordered_at"
    assert row["value"] == "2025-05-31 21:00"
    assert row["reason"] == "in the future (after the time of this load)"
    assert _record(row)["ordered_at"] == "2025-05-31 21:00"


def test_date_just_before_now_is_not_future(ws: Workspace, tmp_path: Path) -> None:
    path = write(tmp_path / "edge.csv", HEADER + "o1,ana@example.com,2025-05-31 19:59,1.00\n")
    result = ws.load("orders", path, now=NOW)
    assert (result.inserted, result.quarantined) == (1, 0)


def test_implausibly_old_date(ws: Workspace, tmp_path: Path) -> None:
    row = _load_one_bad_row(ws, tmp_path, "o2,bob@example.com,1899-12-31,20.00")
    assert row["field"] == "ordered_at"
    assert row["reason"] == "implausibly old (before 1900)"


def test_non_numeric_amount(ws: Workspace, tmp_path: Path) -> None:
    row = _load_one_bad_row(ws, tmp_path, "o2,bob@example.com,2024-01-06,twenty")
    assert (row["field"], row["value"], row["reason"]) == ("revenue", "twenty", "not a number")
    assert _record(row)["revenue"] == "twenty"


def test_missing_amount(ws: Workspace, tmp_path: Path) -> None:
    row = _load_one_bad_row(ws, tmp_path, "o2,bob@example.com,2024-01-06,")
    assert (row["field"], row["reason"]) == ("revenue", "missing value")


def test_ambiguous_amount_is_quarantined_not_guessed(ws: Workspace, tmp_path: Path) -> None:
    row = _load_one_bad_row(ws, tmp_path, 'o2,bob@example.com,2024-01-06,"1,234"')
    assert (row["field"], row["value"]) == ("revenue", "1,234")
    assert row["reason"].startswith("ambiguous amount")
    assert "pass decimal_comma=True if decimal" in row["reason"]
    assert _record(row)["revenue"] == "1,234"


def test_decimal_comma_reads_european_amounts(ws: Workspace, tmp_path: Path) -> None:
    path = write(
        tmp_path / "eu.csv",
        HEADER + 'e1,ana@example.com,2024-01-05,"12,5"\n'
        'e2,bob@example.com,2024-01-06,"1.234,50"\n'
        "e3,cy@example.com,2024-01-07,12.5\n",
    )
    result = ws.load("orders", path, decimal_comma=True, now=NOW)
    assert (result.inserted, result.quarantined) == (2, 1)
    loaded = orders(ws)
    assert loaded["e1"]["revenue"] == Decimal("12.50")
    assert loaded["e2"]["revenue"] == Decimal("1234.50")
    row = only_row(quarantined(ws, path))
    assert (row["line"], row["field"], row["value"]) == (4, "revenue", "12.5")
    assert row["reason"].startswith("ambiguous amount")
    assert _record(row)["revenue"] == "12.5"


def test_grouped_amount_with_decimals_is_read(ws: Workspace, tmp_path: Path) -> None:
    path = write(tmp_path / "us.csv", HEADER + 'g1,ana@example.com,2024-01-05,"1,234.50"\n')
    assert ws.load("orders", path, now=NOW).inserted == 1
    assert orders(ws)["g1"]["revenue"] == Decimal("1234.50")


# --- duplicates, conflicts, reloads ------------------------------------------------------------


def test_conflicting_order_id_in_the_same_file(ws: Workspace, tmp_path: Path) -> None:
    path = write(
        tmp_path / "dup.csv",
        HEADER + "o1,ana@example.com,2024-01-05,10.00\n"
        "o2,bob@example.com,2024-01-06,20.00\n"
        "o1,ana@example.com,2024-01-05,99.00\n",
    )
    result = ws.load("orders", path, now=NOW)
    assert (result.inserted, result.conflicts, result.quarantined) == (2, 1, 1)
    assert orders(ws)["o1"]["revenue"] == Decimal("10.00")  # the first one wins, unchanged
    row = only_row(quarantined(ws, path))
    assert (row["line"], row["field"], row["value"]) == (4, "order_id", "o1")
    assert row["reason"] == f"same key as {path} line 2 with different content"
    assert _record(row)["revenue"] == "99.00"


def test_conflicting_order_id_against_an_earlier_load(ws: Workspace, tmp_path: Path) -> None:
    first = write(tmp_path / "first.csv", HEADER + GOOD_ROWS)
    ws.load("orders", first, now=NOW)
    before = orders(ws)["o2"]
    second = write(
        tmp_path / "second.csv",
        HEADER + "o4,dee@example.com,2024-01-09,40.00\no2,bob@example.com,2024-01-06 11:00,21.00\n",
    )
    result = ws.load("orders", second, now=NOW)
    assert (result.inserted, result.conflicts, result.quarantined) == (1, 1, 1)
    after = orders(ws)["o2"]
    assert after["revenue"] == Decimal("20.00")
    assert (after["row_hash"], after["load_id"]) == (before["row_hash"], before["load_id"])
    row = only_row(quarantined(ws, second))
    assert (row["line"], row["field"], row["value"]) == (3, "order_id", "o2")
    assert row["reason"] == f"already loaded with different content (from {first} line 3)"
    assert _record(row)["revenue"] == "21.00"


def test_exact_duplicate_rows_are_counted_not_inserted(ws: Workspace, tmp_path: Path) -> None:
    path = write(
        tmp_path / "twice.csv",
        HEADER + "o1,ana@example.com,2024-01-05,10.00\n"
        "o1,ana@example.com,2024-01-05,10.00\n"
        ",bob@example.com,2024-01-06,20.00\n"  # no order id: natural key
        ",bob@example.com,2024-01-06,20.00\n"
        ",bob@example.com,2024-01-06,21.00\n",
    )
    result = ws.load("orders", path, now=NOW)
    assert (result.rows_read, result.inserted, result.duplicates) == (5, 3, 2)
    assert (result.quarantined, result.conflicts) == (0, 0)
    assert ws.status()["orders"] == 3
    assert ws.quarantine() == []


def test_reloading_the_same_file_changes_nothing(ws: Workspace, tmp_path: Path) -> None:
    path = write(
        tmp_path / "mixed.csv",
        HEADER + GOOD_ROWS + "o4,dee@example.com,2024-01-08,abc\n"  # invalid
        "o5,eve@example.com,2024-01-09,1,2\n"  # too many fields
        "o1,ana@example.com,2024-01-05 10:00,11.00\n"  # conflict
        "o2,bob@example.com,2024-01-06 11:00,20.00\n"  # duplicate
        ",fay@example.com,2024-01-10,7.00\n",  # natural key
    )
    first = ws.load("orders", path, now=NOW)
    assert (first.inserted, first.duplicates, first.quarantined) == (4, 1, 3)
    before = snapshot(ws)
    second = ws.load("orders", path, now=datetime(2025, 6, 2, tzinfo=UTC))
    after = snapshot(ws)
    assert after.pop("loads") == before.pop("loads") + 1  # the reload itself is logged
    assert after == before
    assert (second.inserted, second.updated, second.new_customers) == (0, 0, 0)
    assert second.duplicates == first.inserted + first.duplicates


def test_overlapping_files_insert_only_new_rows(ws: Workspace, tmp_path: Path) -> None:
    rows = [f"o{i},c{i}@example.com,2024-01-{i:02d} 09:00,{i}.50\n" for i in range(1, 21)]
    a = write(tmp_path / "a.csv", HEADER + "".join(rows[:10]))
    b = write(tmp_path / "b.csv", HEADER + "".join(rows[5:15]))
    first = ws.load("orders", a, now=NOW)
    assert first.inserted == 10
    second = ws.load("orders", b, now=NOW)
    assert (second.rows_read, second.inserted, second.duplicates) == (10, 5, 5)
    assert (second.quarantined, second.conflicts) == (0, 0)
    loaded = orders(ws)
    assert set(loaded) == {f"o{i}" for i in range(1, 16)}
    # Rows already there keep their original provenance.
    assert loaded["o6"]["source_file"] == str(a)
    assert loaded["o11"]["source_file"] == str(b)
    # New rows written beside skipped ones still get their person's key: one each here.
    keys = [row["customer_key"] for row in loaded.values()]
    assert None not in keys and len(set(keys)) == 15
    assert ws.status()["revenue"] == pytest.approx(sum(i + 0.5 for i in range(1, 16)))


# --- options and workspace folders -------------------------------------------------------------


def test_map_to_unknown_field_suggests_the_right_one(seeded: Workspace, tmp_path: Path) -> None:
    path = write(tmp_path / "amt.csv", "order_id,email,ordered_at,Amount\no1,a@b.co,2024-01-01,3\n")
    before = snapshot(seeded)
    with pytest.raises(InputError) as info:
        seeded.load("orders", path, mapping={"Amount": "revenu"}, now=NOW)
    message = str(info.value)
    assert "'revenu' is not a column of orders" in message
    assert "(did you mean 'revenue'?)" in message
    assert snapshot(seeded) == before


def test_map_from_unknown_source_column_suggests(ws: Workspace, tmp_path: Path) -> None:
    path = write(tmp_path / "amt.csv", "order_id,email,ordered_at,Amount\no1,a@b.co,2024-01-01,3\n")
    with pytest.raises(InputError) as info:
        ws.load("orders", path, mapping={"Amont": "revenue"}, now=NOW)
    assert "the file has no column 'Amont' (did you mean 'Amount'?)" in str(info.value)


def test_map_option_maps_a_column(ws: Workspace, tmp_path: Path) -> None:
    path = write(tmp_path / "amt.csv", "ref,email,ordered_at,Paid\nR1,a@b.co,2024-01-01,3.25\n")
    ws.load("orders", path, mapping={"Paid": "revenue", "ref": "order_id"}, now=NOW)
    assert orders(ws)["R1"]["revenue"] == Decimal("3.25")


def test_open_a_folder_that_is_not_a_workspace(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    with pytest.raises(WorkspaceError) as info:
        Workspace.open(folder)
    message = str(info.value)
    assert "is not a patron workspace" in message
    assert f"patron init {folder}" in message
    assert list(folder.iterdir()) == []  # opening did not create anything


# --- the command line --------------------------------------------------------------------------


@pytest.fixture
def cli_ws(tmp_path: Path) -> Path:
    folder = tmp_path / "cliws"
    Workspace.init(folder, timezone="America/New_York").close()
    return folder


def test_cli_missing_file_prints_one_error_line(cli_ws: Path, tmp_path: Path) -> None:
    proc = run_cli("-w", str(cli_ws), "load", "orders", "nope.csv", cwd=tmp_path)
    line = assert_one_error_line(proc)
    assert line == "error: nope.csv: no such file; check the path"
    assert proc.stdout == ""


def test_cli_bad_header_prints_one_error_line(cli_ws: Path, tmp_path: Path) -> None:
    write(tmp_path / "weird.csv", "foo,bar\n1,2\n")
    proc = run_cli("-w", str(cli_ws), "load", "orders", "weird.csv", cwd=tmp_path)
    line = assert_one_error_line(proc)
    assert line.startswith("error: weird.csv: the header does not map to orders")
    assert "found columns foo, bar" in line and "needs ordered_at, revenue" in line
    assert line.endswith("pass --map SOURCE=ordered_at")  # the option, where Python says mapping=
    with Workspace.open(cli_ws) as ws:
        assert ws.status()["loads"] == 0


def test_cli_map_unknown_field_did_you_mean(cli_ws: Path, tmp_path: Path) -> None:
    write(tmp_path / "amt.csv", "order_id,email,ordered_at,Amount\no1,a@b.co,2024-01-01,3\n")
    proc = run_cli(
        "-w", str(cli_ws), "load", "orders", "amt.csv", "--map", "Amount=revnue", cwd=tmp_path
    )
    line = assert_one_error_line(proc)
    assert "--map Amount=revnue: 'revnue' is not a column of orders" in line
    assert "(did you mean 'revenue'?)" in line


def test_cli_not_a_workspace_suggests_init(tmp_path: Path) -> None:
    write(tmp_path / "o.csv", HEADER + GOOD_ROWS)
    proc = run_cli("-w", "plain", "load", "orders", "o.csv", cwd=tmp_path)
    line = assert_one_error_line(proc)
    assert "plain is not a patron workspace" in line
    assert line.endswith("patron init plain")


def test_cli_quarantine_list_json(cli_ws: Path, tmp_path: Path) -> None:
    write(
        tmp_path / "o.csv",
        HEADER + "o1,ana@example.com,2024-01-05,10.00\no2,bob@example.com,2024-01-06,zz\n",
    )
    loaded = run_cli("-w", str(cli_ws), "load", "orders", "o.csv", "--json", cwd=tmp_path)
    assert loaded.returncode == 0, loaded.stderr
    assert json.loads(loaded.stdout)["quarantined"] == 1
    listed = run_cli("-w", str(cli_ws), "quarantine", "list", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    row = only_row(json.loads(listed.stdout)["rows"])
    assert (row["file"], row["line"], row["field"], row["value"]) == ("o.csv", 3, "revenue", "zz")
    assert row["reason"] == "not a number"
    assert json.loads(row["record"])["order_id"] == "o2"
