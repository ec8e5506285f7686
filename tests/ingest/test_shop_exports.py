"""Files as shops' systems export them: Shopify's timestamps, Excel's encodings on Windows
(cp1252, UTF-16 "Unicode text"), gzip'ed exports, NUL-padded fields."""

from __future__ import annotations

import gzip
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest
from ingest_support import HEADER, NOW, orders, write

from patron import Workspace
from patron.errors import InputError
from patron.ingest.raw import reading


def quarantined(ws: Workspace) -> list[tuple[int, str | None, str]]:
    return sorted((r["line"], r["field"], r["reason"]) for r in ws.quarantine())


# --- Shopify -------------------------------------------------------------------------------------


def test_shopify_timestamps_with_a_space_before_the_offset(ws: Workspace, tmp_path: Path) -> None:
    """Shopify (and every Ruby app) writes ``2024-03-05 14:02:11 +0100``: a whole export
    was quarantined as not ISO 8601."""
    path = write(
        tmp_path / "shopify.csv",
        "Name,Email,Created at,Total\n"
        "#1001,anna@example.com,2024-03-05 14:02:11 +0100,49.95\n"
        "#1002,bob@example.com,2024-03-06 09:00:00 -05:00,30.00\n"
        "#1003,cy@example.com,2024-03-06 09:00:00  +0100,1.00\n",
    )
    result = ws.load("orders", path, mapping={"Name": "order_id"}, now=NOW)
    assert (result.inserted, result.quarantined) == (2, 1)
    loaded = orders(ws)
    assert loaded["#1001"]["ordered_at"] == pd.Timestamp("2024-03-05 13:02:11")
    assert loaded["#1002"]["ordered_at"] == pd.Timestamp("2024-03-06 14:00:00")
    assert quarantined(ws)[0][:2] == (4, "ordered_at")  # two spaces: not guessed


SHOPIFY_LINE_ITEMS = (
    "Name,Email,Financial Status,Subtotal,Total,Discount Amount,Created at,Lineitem quantity,"
    "Lineitem name,Lineitem price,Lineitem sku,Lineitem discount,Vendor,Id\n"
    "#1001,anna@example.com,paid,53.91,53.91,5.99,2024-03-05 09:50:26 +0200,3,Masque,14.90,"
    "MSK-1,0.00,Leaf,7410991464714\n"
    "#1001,anna@example.com,,,,,2024-03-05 09:50:26 +0200,1,Serum,19.00,SRM-2,0.00,Leaf,\n"
    "#1002,bob@example.com,paid,10.00,10.00,0.00,2024-03-06 10:00:00 +0200,1,Soap,10.00,SOAP,"
    "0.00,Leaf,7410991464715\n"
)


def test_shopify_orders_export_loads_as_orders_and_as_lines(ws: Workspace, tmp_path: Path) -> None:
    """One row per line item, the totals on an order's first row only (docs/loading.md): as
    orders the other rows are quarantined, as lines every row loads."""
    path = write(tmp_path / "orders_export.csv", SHOPIFY_LINE_ITEMS)
    result = ws.load("orders", path, mapping={"Name": "order_id"}, now=NOW)
    assert (result.inserted, result.quarantined) == (2, 1)
    assert orders(ws)["#1001"]["revenue"] == Decimal("53.91")
    assert quarantined(ws) == [(3, "revenue", "missing value")]
    lines = {
        "Name": "order_id",
        "Lineitem sku": "sku",
        "Lineitem quantity": "quantity",
        "Lineitem price": "unit_price",
        "Lineitem discount": "discount",
        "Vendor": "brand",
    }
    assert ws.load("lines", path, mapping=lines, now=NOW).inserted == 3


# --- encodings -----------------------------------------------------------------------------------

WINDOWS_ROWS = [
    "Bestelnummer;E-mail;Datum;Bedrag;Klant",
    "A-1;jose@example.com;05/03/2024;1.234,50;José “Pepe” Müller – 5 €",
    "A-2;zoe@example.com;06/03/2024;12,5;Zoë",
    ";;Totaal;1.247,00;",
    "",
]
WINDOWS_OPTIONS: dict[str, Any] = {
    "mapping": {"Bestelnummer": "order_id", "Datum": "ordered_at", "Bedrag": "revenue"},
    "decimal_comma": True,
    "date_format": "%d/%m/%Y",
    "now": NOW,
}


def windows_csv(tmp_path: Path) -> Path:
    """A CSV as Excel saves it on a Dutch Windows: cp1252, semicolons, CRLF, a total row."""
    return write(tmp_path / "excel.csv", "\r\n".join(WINDOWS_ROWS).encode("cp1252"))


@pytest.mark.parametrize("encoding", ["cp1252", "windows-1252"])
def test_excel_csv_saved_on_windows_loads_with_cp1252(
    ws: Workspace, tmp_path: Path, encoding: str
) -> None:
    result = ws.load("orders", windows_csv(tmp_path), encoding=encoding, **WINDOWS_OPTIONS)
    assert (result.inserted, result.quarantined) == (2, 1)
    loaded = orders(ws)
    assert loaded["A-1"]["revenue"] == Decimal("1234.50")
    assert loaded["A-1"]["attributes"] == {"Klant": "José “Pepe” Müller – 5 €"}
    assert quarantined(ws) == [(4, "ordered_at", "does not match date_format %d/%m/%Y")]
    assert ws.quarantine()[0]["file"] == str(tmp_path / "excel.csv")


def test_cp1252_text_read_as_latin1_says_to_pass_cp1252(ws: Workspace, tmp_path: Path) -> None:
    """DuckDB refuses bytes 0x80-0x9F as latin-1 ("File is not latin-1 encoded"): say what
    they are and which option reads them."""
    path = windows_csv(tmp_path)
    with pytest.raises(InputError) as info:
        ws.load("orders", path, encoding="latin-1", **WINDOWS_OPTIONS)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    assert "encoding='cp1252'" in message


def test_a_byte_cp1252_does_not_define_is_named_with_its_line(
    ws: Workspace, tmp_path: Path
) -> None:
    path = write(tmp_path / "bad.csv", HEADER.encode() + b"o1,a@example.com,2024-01-01,1\nx\x81\n")
    with pytest.raises(InputError) as info:
        ws.load("orders", path, encoding="cp1252", now=NOW)
    assert str(info.value).startswith(f"{path}: line 3 is not valid cp1252")


UNICODE_TEXT = (
    "order_id\temail\tordered_at\trevenue\tnote\r\n"
    'U-1\tali@example.com\t2024-03-05\t10.00\t"two\nlines"\r\n'
    "U-2\tbé@example.com\t2024-03-06\t11.00\tZoë 😀\r\n"
    "U-3\tcy@example.com\t2024-03-07\r\n"
    "U-4\tdi@example.com\t2024-03-07\toops\tx\r\n"
)


@pytest.mark.parametrize(
    ("codec", "bom"),
    [("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff")],
    ids=["little-endian", "big-endian"],
)
@pytest.mark.parametrize("encoding", ["utf-16", "utf-8"], ids=["option", "default"])
def test_excel_unicode_text_in_utf16(
    ws: Workspace, tmp_path: Path, codec: str, bom: bytes, encoding: str
) -> None:
    """Excel's "Unicode text" is UTF-16 with a byte-order mark and tabs. Big-endian read as
    no rows at all; a field spanning lines failed the file; the mark says what the file is,
    so the default encoding reads it too."""
    path = write(tmp_path / "unicode.txt", bom + UNICODE_TEXT.encode(codec))
    result = ws.load("orders", path, encoding=encoding, now=NOW)
    assert (result.rows_read, result.inserted, result.quarantined) == (4, 2, 2)
    loaded = orders(ws)
    assert loaded["U-1"]["attributes"] == {"note": "two\nlines"}
    assert loaded["U-2"]["email"] == "bé@example.com"
    assert loaded["U-2"]["attributes"] == {"note": "Zoë 😀"}
    assert [(line, field) for line, field, _ in quarantined(ws)] == [
        (5, "revenue"),
        (6, "revenue"),
    ]


# --- compression ---------------------------------------------------------------------------------


def test_gzipped_csv(ws: Workspace, tmp_path: Path) -> None:
    """``data.csv.gz`` is a CSV by its name; its header was checked as compressed bytes and
    the file refused as not UTF-8."""
    text = HEADER + "g1,ana@example.com,2024-01-05,10.00\n\ng2,bob@example.com,x,1\n"
    path = write(tmp_path / "orders.csv.gz", gzip.compress(text.encode()))
    result = ws.load("orders", path, now=NOW)
    assert (result.inserted, result.quarantined) == (1, 1)
    assert quarantined(ws)[0][:2] == (4, "ordered_at")
    assert ws.load("orders", path, now=NOW).duplicates == 1


def test_gzipped_csv_in_cp1252(ws: Workspace, tmp_path: Path) -> None:
    path = write(tmp_path / "excel.csv.gz", gzip.compress(windows_csv(tmp_path).read_bytes()))
    result = ws.load("orders", path, encoding="cp1252", **WINDOWS_OPTIONS)
    assert (result.inserted, result.quarantined) == (2, 1)


# --- NUL bytes -----------------------------------------------------------------------------------


def test_nul_padding_is_not_part_of_an_identifier(ws: Workspace, tmp_path: Path) -> None:
    """A NUL-padded field (fixed-width and C exports) kept its NULs, so the same email did not
    match the same person's other orders."""
    path = write(
        tmp_path / "pos.csv",
        (
            HEADER
            + "n1,ana@example.com\x00\x00,2024-01-05,10.00\nn2,ana@example.com,2024-01-06,5\n"
        ).encode(),
    )
    ws.load("orders", path, now=NOW)
    loaded = orders(ws)
    assert loaded["n1"]["email"] == "ana@example.com"
    assert loaded["n1"]["customer_key"] == loaded["n2"]["customer_key"]


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\x7f", "\x85"])
def test_a_control_character_inside_an_email_makes_it_invalid(
    ws: Workspace, tmp_path: Path, char: str
) -> None:
    """Trimmed at the edges, a NUL (or any control character) inside an email passed the
    check: no address has one, and it kept one person's email apart from itself. It is
    refused like any malformed email: kept in the row as ``invalid_email``, and the row
    quarantined when no other identifier is valid."""
    email = f"ana{char}@example.com"
    path = write(
        tmp_path / "ctl.csv",
        "order_id,email,customer_id,ordered_at,revenue\n"
        f"c1,{email},C1,2024-01-05,10.00\n"
        f"c2,{email},,2024-01-06,5.00\n",
    )
    result = ws.load("orders", path, now=NOW)
    assert (result.inserted, result.quarantined) == (1, 1)
    loaded = orders(ws)
    assert pd.isna(loaded["c1"]["email"])
    assert loaded["c1"]["attributes"] == {"invalid_email": email}
    assert quarantined(ws) == [
        (3, "customer identifier", "no valid customer identifier (invalid email or phone)")
    ]


# --- line numbers --------------------------------------------------------------------------------


def test_lines_of_rows_after_a_field_spanning_lines_and_a_short_row(
    ws: Workspace, tmp_path: Path
) -> None:
    """DuckDB numbers a record it cannot split without the line breaks inside quoted fields
    before it: the short row was quarantined a line early, and the good row on the line it
    named took the next line's number."""
    text = (
        "order_id,email,ordered_at,revenue,note\n"
        'm1,ana@example.com,2024-03-05,10.00,"an address\non two lines"\n'
        "\n"
        "m2,bob@example.com,2024-03-06,11.00,z\n"
        "m3,cy@example.com,2024-03-07\n"
        'm4,di@example.com,2024-03-07,12.00,"x\ny"\n'
        "m5,ed@example.com,2024-03-07,13.00,a,b\n"
        "m6,fi@example.com,2024-03-08,14.00,ok\n"
    )
    ws.load("orders", write(tmp_path / "notes.csv", text), now=NOW)
    loaded = orders(ws)
    assert {k: v["source_row"] for k, v in loaded.items()} == {"m1": 2, "m2": 5, "m4": 7, "m6": 10}
    assert [line for line, _, _ in quarantined(ws)] == [6, 9]


BROKEN_QUOTE = (
    "order_id,email,ordered_at,revenue\n"
    "U-1,a@x.com,2024-03-05,1\n"
    "U-2,b@x.com,2024-03-06,1\n"
    'U-3,"multi\nline"@x.com,2024-03-06,1\n'  # lines 4-5: a quote closed mid-field
    "U-5,z@x.com,2024-03-07\n"  # line 6: a field short
)


@pytest.mark.parametrize("newline", ["\r\n", "\n"], ids=["crlf", "lf"])
def test_a_broken_quoted_field_spanning_lines_and_a_short_row(
    ws: Workspace, tmp_path: Path, newline: str
) -> None:
    """A quoted field closed before its end (``"multi\nline"@x.com``) with a line break inside,
    and a short row: in a CRLF file DuckDB's sniffer found no dialect and the load failed; in
    an LF file it chose no quoting and quarantined the record as two pieces. Now the record
    is quarantined whole on its first line, the short row on its own, and the rest loads."""
    text = BROKEN_QUOTE.replace("\n", newline).replace(f"multi{newline}", "multi\n")
    result = ws.load("orders", write(tmp_path / "broken.csv", text), now=NOW)
    assert (result.rows_read, result.inserted, result.quarantined) == (4, 2, 2)
    assert {k: v["source_row"] for k, v in orders(ws).items()} == {"U-1": 2, "U-2": 3}
    rows = sorted(ws.quarantine(), key=lambda r: r["line"])
    assert [r["line"] for r in rows] == [4, 6]
    assert rows[0]["record"].startswith('U-3,"multi\nline"@x.com')
    assert rows[1]["record"] == "U-5,z@x.com,2024-03-07"


@pytest.mark.parametrize(
    ("rows", "lines", "note", "rejected"),
    [
        pytest.param(
            'q1,ana@example.com,2024-03-05,1.00,"two\nlines"\n'
            'q2,bob@example.com,2024-03-06,2.00,"Best" seller\n'
            "q3,cy@example.com,2024-03-07,3.00,ok\n",
            {"q1": 2, "q3": 5},
            "two\nlines",
            [4],
            id="a-field-spanning-lines-is-read-with-quoting",
        ),
        pytest.param(
            's1,ana@example.com,2024-03-05,1.00,"unterminated\n'
            's2,bob@example.com,2024-03-06,2.00,5" screen\n'
            "s3,cy@example.com,2024-03-07,3.00,ok\n"
            's4,di@example.com,2024-03-08,"4.00"\n',
            {"s1": 2, "s2": 3, "s3": 4},
            '"unterminated',
            [5],
            id="a-quote-never-closed-keeps-the-file-read-without",
        ),
    ],
)
def test_a_file_the_sniffer_reads_without_quoting(
    ws: Workspace, tmp_path: Path, rows: str, lines: dict[str, int], note: str, rejected: list[int]
) -> None:
    """DuckDB's sniffer gives up quoting for a whole file when one field breaks its rules; a
    well-quoted field spanning lines then fell apart into pieces. The file is read with quoting
    unless that leaves more of its lines in rejected records: the note on two lines loads
    whole and the field that goes on after closing its quote (``"Best" seller``) is
    quarantined; but a quote never closed would take the rest of the file into one rejected
    record, so that file stays read without quoting, and only its short row is quarantined."""
    text = "order_id,email,ordered_at,revenue,note\n" + rows
    result = ws.load("orders", write(tmp_path / "notes.csv", text), now=NOW)
    loaded = orders(ws)
    assert {k: v["source_row"] for k, v in loaded.items()} == lines
    assert loaded[min(lines)]["attributes"] == {"note": note}
    assert [line for line, _, _ in quarantined(ws)] == rejected
    assert result.rows_read == len(lines) + len(rejected)


def test_a_read_error_names_the_file_never_its_copy(tmp_path: Path) -> None:
    """UTF-16 and mixed line ends are read from a copy in the spill folder; DuckDB's messages
    named the copy. (No file is built to fail here: the copies made the ones that did, a bare
    CR beside a lone quote, readable.)"""
    original, copy = tmp_path / "unicode.txt", tmp_path / "spill" / "utf-8.csv"
    with pytest.raises(InputError) as info, reading(original, "CSV", copy):
        raise duckdb.InvalidInputException(f'Error when sniffing file "{copy}".')
    assert str(info.value).startswith(f"{original}: cannot read as CSV: DuckDB cannot tell how it ")
    assert "a quote that is never closed" in str(info.value)  # DuckDB's own said "sniffing"
    with pytest.raises(InputError) as info, reading(original, "CSV", copy):
        raise duckdb.InvalidInputException(f"Could not read {copy}: something else")
    assert str(copy) not in str(info.value) and f"Could not read {original}" in str(info.value)


def test_a_record_longer_than_duckdb_reads_is_explained(ws: Workspace, tmp_path: Path) -> None:
    """DuckDB's message was "CSV Error on Line: 1" whichever line it was."""
    long = "x" * 2_100_000
    text = HEADER + "o1,a@x.com,2024-01-01,1\n" + f'o2,b@x.com,2024-01-01,"{long}"\n'
    path = write(tmp_path / "products.csv", text)
    with pytest.raises(InputError) as info:
        ws.load("orders", path, now=NOW)
    assert str(info.value) == (
        f"{path}: cannot read as CSV: a record is longer than 2 MB, the most DuckDB reads as one "
        "line (its message blames line 1 whichever it is): shorten or drop its longest field"
    )
