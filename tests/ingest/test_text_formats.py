"""Real-world text and file formats load faithfully: encodings, line endings, quoting, scripts,
digits, timestamps and timezones, Parquet, JSON lines, data frames, and returns."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st
from ingest_support import HEADER, NOW, orders, write

from patron import Workspace
from patron.errors import InputError


def quarantined(ws: Workspace) -> list[dict[str, Any]]:
    return sorted(ws.quarantine(), key=lambda r: (r["file"], r["line"]))


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


# --- encodings, line endings, quoting ----------------------------------------------------------


def test_utf8_bom_does_not_hide_the_first_column(ws: Workspace, tmp_path: Path) -> None:
    path = write(
        tmp_path / "bom.csv",
        (
            "\ufeff" + HEADER + "b1,ana@example.com,2024-01-05,10.00\nb2,bob@example.com,x,1\n"
        ).encode(),
    )
    result = ws.load("orders", path, now=NOW)
    assert (result.inserted, result.quarantined) == (1, 1)
    assert orders(ws)["b1"]["revenue"] == Decimal("10.00")
    assert orders(ws)["b1"]["attributes"] is None  # order_id mapped, nothing kept as an extra
    row = quarantined(ws)[0]
    assert row["line"] == 3
    assert list(json.loads(row["record"])) == ["order_id", "email", "ordered_at", "revenue"]


def test_lines_ending_in_a_mix_of_bare_cr_lf_and_crlf(ws: Workspace, tmp_path: Path) -> None:
    # DuckDB stopped in "an invalid state" on such a mix (read leniently, A2 came out as 2)
    text = (
        "order_id,email,ordered_at,revenue\r\n"
        "m1,ana@example.com,2024-01-05,10.00\r"
        "m2,bob@example.com,2024-01-06,oops\n"
        "m3,cy@example.com,2024-01-07,30.00\r\n"
        "m4,dee@example.com,2024-01-08,40.00\r"
    )
    path = write(tmp_path / "mixed.csv", text.encode())
    result = ws.load("orders", path, now=NOW)
    assert (result.inserted, result.quarantined) == (3, 1)
    assert set(orders(ws)) == {"m1", "m3", "m4"}
    assert orders(ws)["m4"]["revenue"] == Decimal("40.00")
    row = quarantined(ws)[0]
    assert (row["line"], row["field"], row["value"]) == (3, "revenue", "oops")
    assert row["file"] == str(path)  # the file's name, never the copy's


@given(st.lists(st.sampled_from([b"a", b"\r", b"\n", b"\r\n"]), max_size=12), st.integers(1, 5))
def test_a_mix_of_line_ends_is_found_across_chunks(pieces: list[bytes], chunk: int) -> None:
    # whatever the chunk size, a CR LF split between chunks is one line end, not a bare CR
    import tempfile

    from patron.ingest import encodings

    data = b"".join(pieces)
    bare = data.replace(b"\r\n", b"").count(b"\r") > 0
    mixed = bare and b"\n" in data
    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as patch:
        path = Path(folder) / "x.csv"
        path.write_bytes(data)
        patch.setattr(encodings, "_CHUNK", chunk)
        assert encodings._mixes_bare_cr(path) == mixed


def test_crlf_line_endings(ws: Workspace, tmp_path: Path) -> None:
    text = (
        "order_id,email,ordered_at,revenue,note\r\n"
        "c1,ana@example.com,2024-01-05 10:00,10.00,first\r\n"
        "c2,bob@example.com,2024-01-06 10:00,oops,second\r\n"
        "c3,cy@example.com,2024-01-07 10:00,30.00,third\r\n"
    )
    path = write(tmp_path / "crlf.csv", text)
    result = ws.load("orders", path, now=NOW)
    assert (result.inserted, result.quarantined) == (2, 1)
    loaded = orders(ws)
    assert loaded["c3"]["attributes"] == {"note": "third"}  # no stray \r
    assert loaded["c3"]["revenue"] == Decimal("30.00")
    assert loaded["c3"]["source_row"] == 4
    row = quarantined(ws)[0]
    assert (row["line"], row["field"], row["value"]) == (3, "revenue", "oops")
    assert json.loads(row["record"])["note"] == "second"


def test_quoted_fields_with_commas_quotes_and_newlines(ws: Workspace, tmp_path: Path) -> None:
    path = write(
        tmp_path / "quoted.csv",
        "order_id,email,ordered_at,revenue,note\n"
        'q1,ana@example.com,2024-01-05,"1,234.50","gift, wrapped"\n'
        'q2,bob@example.com,2024-01-06,2.00,"line one\nline two"\n'
        'q3,cy@example.com,2024-01-07,3.00,"she said ""hi"""\n',
    )
    result = ws.load("orders", path, now=NOW)
    assert (result.rows_read, result.inserted, result.quarantined) == (3, 3, 0)
    loaded = orders(ws)
    assert loaded["q1"]["revenue"] == Decimal("1234.50")
    assert loaded["q1"]["attributes"] == {"note": "gift, wrapped"}
    assert loaded["q2"]["attributes"] == {"note": "line one\nline two"}
    assert loaded["q3"]["attributes"] == {"note": 'she said "hi"'}


def test_line_numbers_after_a_multiline_field(ws: Workspace, tmp_path: Path) -> None:
    path = write(
        tmp_path / "multi.csv",
        "order_id,email,ordered_at,revenue,note\n"
        'm1,ana@example.com,2024-01-05,1.00,"line one\nline two"\n'  # lines 2-3
        "m2,bob@example.com,2024-01-06,zz,x\n",  # line 4
    )
    ws.load("orders", path, now=NOW)
    assert quarantined(ws)[0]["line"] == 4


def test_crlf_file_with_a_bare_newline_inside_a_quoted_field(ws: Workspace, tmp_path: Path) -> None:
    """A spreadsheet writes CRLF between records and keeps a bare LF inside a cell: the line
    count that places rows must not stop at it (it used to fail the load with DuckDB's
    "state machine reached an invalid state")."""
    path = write(
        tmp_path / "mixed.csv",
        "order_id,email,ordered_at,revenue,note\r\n"
        'x1,ana@example.com,2024-01-05,1.00,"line one\nline two"\r\n'  # lines 2-3
        "x2,bob@example.com,2024-01-06,zz,x\r\n",  # line 4
    )
    result = ws.load("orders", path, now=NOW)
    assert (result.inserted, result.quarantined) == (1, 1)
    assert orders(ws)["x1"]["attributes"] == {"note": "line one\nline two"}
    assert quarantined(ws)[0]["line"] == 4


def test_latin1_file_with_encoding_option(ws: Workspace, tmp_path: Path) -> None:
    path = write(
        tmp_path / "latin.csv",
        "order_id,email,ordered_at,revenue,city\nl1,ana@example.com,2024-01-05,1.00,Zürich\n".encode(
            "latin-1"
        ),
    )
    ws.load("orders", path, encoding="latin-1", now=NOW)
    assert orders(ws)["l1"]["attributes"] == {"city": "Zürich"}


# --- scripts and digits ------------------------------------------------------------------------


def test_persian_and_arabic_text_kept_intact(ws: Workspace, tmp_path: Path) -> None:
    path = write(
        tmp_path / "fa.csv",
        "order_id,email,ordered_at,revenue,name,شهر\n"
        "f1,ali@example.com,2024-01-05,1.00,علی رضایی,تهران\n"
        'f2,mona@example.com,2024-01-06,2.00,"منى، العلي",القاهرة\n',
    )
    result = ws.load("orders", path, now=NOW)
    assert (result.inserted, result.quarantined) == (2, 0)
    loaded = orders(ws)
    assert loaded["f1"]["attributes"] == {"name": "علی رضایی", "شهر": "تهران"}
    assert loaded["f2"]["attributes"] == {"name": "منى، العلي", "شهر": "القاهرة"}


def test_persian_and_arabic_text_kept_in_quarantine_record(ws: Workspace, tmp_path: Path) -> None:
    path = write(
        tmp_path / "fa.csv",
        "order_id,email,ordered_at,revenue,name\nf1,ali@example.com,2024-01-05,دوازده,علی\n",
    )
    ws.load("orders", path, now=NOW)
    row = quarantined(ws)[0]
    assert (row["field"], row["value"], row["reason"]) == ("revenue", "دوازده", "not a number")
    assert json.loads(row["record"])["name"] == "علی"


def test_persian_and_arabic_digits_in_amounts_and_dates(ws: Workspace, tmp_path: Path) -> None:
    path = write(
        tmp_path / "digits.csv",
        HEADER + "d1,ana@example.com,۲۰۲۴-۰۱-۰۵,۱۲٫۵\n"  # Persian digits, Arabic decimal sep
        "d2,bob@example.com,٢٠٢٤-٠١-٠٦ ١٠:٣٠,١٢٣\n"  # Arabic-Indic digits
        'd3,cy@example.com,2024-01-07,"١٬٢٣٤٫٥٠"\n'  # Arabic thousands separator
        "d4,dee@example.com,2024-01-08,۱۲.۵۰\n",  # Persian digits, ASCII point
    )
    result = ws.load("orders", path, now=NOW)
    assert (result.inserted, result.quarantined) == (4, 0)
    loaded = orders(ws)
    assert loaded["d1"]["revenue"] == Decimal("12.50")
    assert loaded["d2"]["revenue"] == Decimal("123.00")
    assert loaded["d3"]["revenue"] == Decimal("1234.50")
    assert loaded["d4"]["revenue"] == Decimal("12.50")
    assert loaded["d1"]["order_date"] == ts("2024-01-05")
    assert loaded["d1"]["ordered_at"] == ts("2024-01-05 05:00")  # local midnight in UTC
    assert loaded["d2"]["ordered_at"] == ts("2024-01-06 15:30")


# --- timestamps and timezones ------------------------------------------------------------------


def test_naive_timestamps_are_in_the_workspace_timezone(ws: Workspace, tmp_path: Path) -> None:
    path = write(
        tmp_path / "naive.csv",
        HEADER + "n1,ana@example.com,2024-01-05 10:00,1\n"  # EST, UTC-5
        "n2,bob@example.com,2024-07-05 10:00,1\n"  # EDT, UTC-4
        "n3,cy@example.com,2024-01-05 21:30,1\n",  # next UTC day, same shop day
    )
    ws.load("orders", path, now=NOW)
    loaded = orders(ws)
    assert loaded["n1"]["ordered_at"] == ts("2024-01-05 15:00")
    assert loaded["n1"]["order_date"] == ts("2024-01-05")
    assert loaded["n2"]["ordered_at"] == ts("2024-07-05 14:00")
    assert loaded["n3"]["ordered_at"] == ts("2024-01-06 02:30")
    assert loaded["n3"]["order_date"] == ts("2024-01-05")


def test_timestamps_with_offsets_are_exact_instants(ws: Workspace, tmp_path: Path) -> None:
    path = write(
        tmp_path / "offsets.csv",
        HEADER + "t1,ana@example.com,2024-01-05T23:30:00-05:00,1\n"
        "t2,bob@example.com,2024-01-05T10:00:00Z,1\n"
        "t3,cy@example.com,2024-01-06T01:00:00+03:30,1\n"
        "t4,dee@example.com,2024-01-05T10:00:00.250+01:00,1\n",
    )
    result = ws.load("orders", path, now=NOW)
    assert (result.inserted, result.quarantined) == (4, 0)
    loaded = orders(ws)
    assert loaded["t1"]["ordered_at"] == ts("2024-01-06 04:30")  # UTC day 2024-01-06
    assert loaded["t1"]["order_date"] == ts("2024-01-05")  # shop day 2024-01-05
    assert loaded["t2"]["ordered_at"] == ts("2024-01-05 10:00")
    assert loaded["t3"]["ordered_at"] == ts("2024-01-05 21:30")
    assert loaded["t3"]["order_date"] == ts("2024-01-05")
    assert loaded["t4"]["ordered_at"] == ts("2024-01-05 09:00:00.250")


def test_date_format_option(ws: Workspace, tmp_path: Path) -> None:
    path = write(
        tmp_path / "dmy.csv",
        HEADER + "a1,ana@example.com,05/01/2024 10:00,1\n"
        "a2,bob@example.com,13/01/2024 23:15,1\n"
        "a3,cy@example.com,2024-01-05,1\n",
    )
    result = ws.load("orders", path, date_format="%d/%m/%Y %H:%M", now=NOW)
    assert (result.inserted, result.quarantined) == (2, 1)
    loaded = orders(ws)
    assert loaded["a1"]["ordered_at"] == ts("2024-01-05 15:00")  # day first, New York time
    assert loaded["a2"]["ordered_at"] == ts("2024-01-14 04:15")
    assert loaded["a2"]["order_date"] == ts("2024-01-13")
    row = quarantined(ws)[0]
    assert (row["line"], row["field"], row["value"]) == (4, "ordered_at", "2024-01-05")
    assert row["reason"] == "does not match date_format %d/%m/%Y %H:%M"


# --- Parquet, JSON lines, data frames ----------------------------------------------------------


def test_parquet_with_typed_columns(ws: Workspace, tmp_path: Path) -> None:
    table = pa.table(
        {
            "order_id": ["p1", "p2"],
            "email": ["ana@example.com", "bob@example.com"],
            "ordered_at": pa.array(
                [datetime(2024, 1, 5, 10, 0), datetime(2024, 7, 5, 10, 0)], pa.timestamp("us")
            ),
            "revenue": pa.array([Decimal("12.50"), Decimal("-3.25")], pa.decimal128(10, 2)),
            "qty": [1, 2],
        }
    )
    path = tmp_path / "typed.parquet"
    pq.write_table(table, path)
    result = ws.load("orders", path, now=NOW)
    assert (result.rows_read, result.inserted, result.quarantined) == (2, 2, 0)
    loaded = orders(ws)
    assert loaded["p1"]["ordered_at"] == ts("2024-01-05 15:00")  # naive -> workspace time
    assert loaded["p2"]["ordered_at"] == ts("2024-07-05 14:00")
    assert loaded["p1"]["revenue"] == Decimal("12.50")
    assert loaded["p2"]["revenue"] == Decimal("-3.25")
    assert loaded["p2"]["is_return"]
    assert loaded["p2"]["attributes"] == {"qty": 2}


def test_parquet_with_aware_timestamps_and_a_bad_text_value(ws: Workspace, tmp_path: Path) -> None:
    aware = pa.table(
        {
            "order_id": ["z1"],
            "email": ["ana@example.com"],
            "ordered_at": pa.array(
                [datetime(2024, 1, 6, 3, 0, tzinfo=UTC)], pa.timestamp("us", "UTC")
            ),
            "revenue": [10.0],
        }
    )
    pq.write_table(aware, tmp_path / "aware.parquet")
    text = pa.table(
        {
            "order_id": ["s1", "s2", "s3"],
            "email": ["ana@example.com", "bob@example.com", "cy@example.com"],
            "ordered_at": ["2024-01-05", "soon", "2024-01-07"],
            "revenue": ["1.50", "2", "3"],
        }
    )
    pq.write_table(text, tmp_path / "text.parquet")
    result = ws.load("orders", [tmp_path / "aware.parquet", tmp_path / "text.parquet"], now=NOW)
    assert (result.rows_read, result.inserted, result.quarantined) == (4, 3, 1)
    loaded = orders(ws)
    assert loaded["z1"]["ordered_at"] == ts("2024-01-06 03:00")
    assert loaded["z1"]["order_date"] == ts("2024-01-05")
    assert loaded["z1"]["revenue"] == Decimal("10.00")
    row = quarantined(ws)[0]
    assert row["file"] == str(tmp_path / "text.parquet")
    assert (row["line"], row["field"], row["value"]) == (2, "ordered_at", "soon")
    assert json.loads(row["record"])["order_id"] == "s2"


def _jsonl(path: Path, lines: list[str]) -> Path:
    return write(path, "\n".join(lines) + "\n")


def test_json_lines(ws: Workspace, tmp_path: Path) -> None:
    path = _jsonl(
        tmp_path / "orders.jsonl",
        [
            json.dumps(
                {
                    "order_id": "j1",
                    "email": "ana@example.com",
                    "ordered_at": "2024-01-05T10:00:00Z",
                    "revenue": 3.25,
                    "meta": {"coupon": "WELCOME", "items": [1, 2]},
                }
            ),
            "",
            json.dumps(
                {
                    "order_id": "j2",
                    "email": "bob@example.com",
                    "ordered_at": "2024-01-06",
                    "revenue": "4",
                    "name": "مریم",
                },
                ensure_ascii=False,
            ),
            "[1, 2]",
            json.dumps({"order_id": "j3", "email": "cy@example.com", "ordered_at": "2024-01-07"}),
        ],
    )
    result = ws.load("orders", path, now=NOW)
    assert (result.rows_read, result.inserted, result.quarantined) == (4, 2, 2)
    loaded = orders(ws)
    assert loaded["j1"]["revenue"] == Decimal("3.25")
    assert json.loads(loaded["j1"]["attributes"]["meta"]) == {
        "coupon": "WELCOME",
        "items": [1, 2],
    }
    assert loaded["j1"]["source_row"] == 1
    assert loaded["j2"]["source_row"] == 3
    assert loaded["j2"]["attributes"]["name"] == "مریم"
    rows = quarantined(ws)
    assert [(r["line"], r["field"]) for r in rows] == [(4, None), (5, "revenue")]
    assert rows[0]["record"] == "[1, 2]"
    assert rows[0]["reason"] == "invalid json: not a JSON object"
    assert rows[1]["reason"] == "missing value"


def test_a_value_nested_in_a_json_object_maps_by_its_path(ws: Workspace, tmp_path: Path) -> None:
    # shops' JSON exports nest the buyer: {"customer": {"email": ..., "phone": ...}}
    def order(order_id: str, customer: dict[str, object]) -> str:
        return json.dumps(
            {"id": order_id, "created_at": "2024-01-05", "total_price": 9.5, "customer": customer}
        )

    lines = [
        order("n1", {"email": "Ana@Example.com", "tags": ["vip"]}),
        order("n2", {"phone": "+12125550143"}),  # no email: the email column is NULL there
        order("n3", {"email": "not an email"}),
    ]
    path = _jsonl(tmp_path / "shop.jsonl", lines)
    mapping: dict[str, str] = {}  # id, created_at and total_price are synonyms of the fields
    nested = {"customer.email": "email", "customer.phone": "phone"}
    result = ws.load("orders", path, mapping=nested, now=NOW)
    assert (result.inserted, result.quarantined) == (2, 1)
    loaded = orders(ws)
    assert json.loads(loaded["n1"]["attributes"]["customer"])["tags"] == ["vip"]  # kept whole
    table = ws.table("identities").select("identifier_type", "value").to_pyarrow()
    identifiers = set(zip(*table.to_pydict().values(), strict=True))
    assert identifiers == {("email", "ana@example.com"), ("phone", "+12125550143")}
    row = quarantined(ws)[0]
    assert (row["line"], row["field"]) == (3, "customer identifier")
    assert json.loads(row["record"])["customer.email"] == "not an email"  # in the file's words

    with pytest.raises(InputError, match=r"no object in it has a value at customer\.mail"):
        ws.load("orders", path, mapping={**mapping, "customer.mail": "email"}, now=NOW)
    # the object is never taken for a customer_id because "customer" is that field's synonym
    inside = r"customer holds objects or lists: .* as mapping=\{'customer.email': 'email'\}$"
    with pytest.raises(InputError, match=inside):
        ws.load("orders", path, mapping=mapping, now=NOW)


@pytest.mark.parametrize("kind", ["parquet", "pandas"])
def test_a_field_of_a_struct_maps_by_its_path(ws: Workspace, tmp_path: Path, kind: str) -> None:
    # a Parquet struct column, or a data frame column of dicts (Arrow makes both structs)
    frame = pd.DataFrame(
        {
            "order_id": ["s1", "s2"],
            "ordered_at": ["2024-01-05", "2024-01-06"],
            "revenue": [3.5, 4.0],
            "buyer": [{"contact": {"email": "Ana@Example.com"}}, {"contact": {"email": None}}],
        }
    )
    source: Any = frame
    if kind == "parquet":
        source = tmp_path / "nested.parquet"
        pq.write_table(pa.Table.from_pandas(frame), source)
    result = ws.load("orders", source, mapping={"buyer.contact.email": "email"}, now=NOW)
    assert (result.inserted, result.quarantined) == (1, 1)
    assert orders(ws)["s1"]["customer_key"] is not None
    with pytest.raises(InputError, match=r"no value at buyer\.phone: buyer has no such field"):
        ws.load("orders", source, mapping={"buyer.phone": "phone"}, now=NOW)
    with pytest.raises(InputError, match=r"buyer holds objects or lists"):
        ws.load("orders", source, now=NOW)


def test_malformed_json_line_is_quarantined_and_others_load(ws: Workspace, tmp_path: Path) -> None:
    good = {"email": "ana@example.com", "ordered_at": "2024-01-05", "revenue": 1}
    path = _jsonl(
        tmp_path / "broken.jsonl",
        [
            json.dumps({"order_id": "k1", **good}),
            '{"order_id": "k2", "email": "bob@example.com", oops',
            json.dumps({"order_id": "k3", **good}),
        ],
    )
    result = ws.load("orders", path, now=NOW)
    assert (result.rows_read, result.inserted, result.quarantined) == (3, 2, 1)
    row = quarantined(ws)[0]
    assert row["line"] == 2
    assert row["record"] == '{"order_id": "k2", "email": "bob@example.com", oops'
    assert "json" in row["reason"].lower()
    assert set(orders(ws)) == {"k1", "k3"}


def test_pandas_data_frame(ws: Workspace) -> None:
    frame = pd.DataFrame(
        {
            "order_id": ["x1", "x2", "x3"],
            "Email": ["Ana@Example.com", "bob@example.com", "cy@example.com"],
            "ordered_at": pd.to_datetime(
                ["2024-01-05 10:00", "2024-07-05 10:00", "2024-01-07 00:00"]
            ),
            "amount": [1.25, 2.5, None],
            "segment": ["vip", None, "new"],
        }
    )
    result = ws.load("orders", frame, now=NOW)
    assert result.files == ["<DataFrame>"]
    assert (result.rows_read, result.inserted, result.quarantined) == (3, 2, 1)
    loaded = orders(ws)
    assert loaded["x1"]["email"] == "ana@example.com"
    assert loaded["x1"]["ordered_at"] == ts("2024-01-05 15:00")
    assert loaded["x2"]["ordered_at"] == ts("2024-07-05 14:00")
    assert loaded["x1"]["revenue"] == Decimal("1.25")
    assert loaded["x1"]["attributes"] == {"segment": "vip"}
    row = quarantined(ws)[0]
    assert (row["line"], row["field"]) == (3, "revenue")
    assert json.loads(row["record"])["order_id"] == "x3"


def test_a_frame_indexed_by_a_column_loads_that_column(ws: Workspace) -> None:
    frame = pd.DataFrame(
        {
            "order_id": ["i1", "i2"],
            "email": ["ana@example.com", "bob@example.com"],
            "ordered_at": pd.to_datetime(["2024-01-05 10:00", "2024-01-06 10:00"]),
            "revenue": [10.5, 3.0],
        }
    )
    result = ws.load("orders", frame.set_index("order_id"), now=NOW)
    assert result.inserted == 2
    assert set(orders(ws)) == {"i1", "i2"}  # by the order id, not a natural key
    again = ws.load("orders", frame.set_index(["order_id", "email"]).iloc[::-1], now=NOW)
    assert (again.inserted, again.duplicates) == (0, 2)


def test_pandas_text_frame_uses_the_same_parsers(ws: Workspace) -> None:
    frame = pd.DataFrame(
        {
            "order_id": ["y1", "y2"],
            "email": ["ana@example.com", "bob@example.com"],
            "ordered_at": ["2024-01-05 10:00", "۲۰۲۴-۰۱-۰۶"],
            "revenue": ["1,234.50", "1,234"],
        }
    )
    result = ws.load("orders", frame, now=NOW)
    assert (result.inserted, result.quarantined) == (1, 1)
    assert orders(ws)["y1"]["revenue"] == Decimal("1234.50")
    assert quarantined(ws)[0]["reason"].startswith("ambiguous amount")


def test_a_frame_whose_columns_mix_types_is_read_as_text(ws: Workspace) -> None:
    """A spreadsheet import leaves object columns of dates beside text, numbers beside
    booleans: Arrow cannot type them, so they are read as text and checked like CSV cells
    (they used to stop the load with pyarrow's error)."""
    frame = pd.DataFrame(
        {
            "order_id": ["m1", "m2", "m3"],
            "email": ["ana@example.com", "bob@example.com", True],
            "ordered_at": [datetime(2024, 1, 5, 10, 0), "2024-01-06 11:00", "2024-01-07"],
            "revenue": [Decimal("1.50"), "2,5", 10**20],
            "note": [date(2024, 1, 5), "gift", {"wrap": True}],
        },
        dtype=object,
    )
    result = ws.load("orders", frame, now=NOW)
    assert (result.inserted, result.quarantined) == (1, 2)
    loaded = orders(ws)["m1"]
    assert (loaded["revenue"], loaded["ordered_at"]) == (Decimal("1.50"), ts("2024-01-05 15:00"))
    assert loaded["attributes"] == {"note": "2024-01-05"}
    reasons = {row["line"]: (row["field"], row["value"]) for row in quarantined(ws)}
    assert reasons == {2: ("revenue", "2,5"), 3: ("revenue", str(10**20))}
    assert json.loads(quarantined(ws)[1]["record"])["note"] == '{"wrap": true}'


def test_typed_columns_of_the_wrong_kind_are_quarantined(ws: Workspace) -> None:
    """A boolean amount is not 1.00 and a number is not a date: both are read as their text
    and quarantined (a date field of numbers used to fail the load with a cast error); the CRM
    records load without them."""
    table = pa.table(
        {
            "customer_id": ["c1", "c2", "c3"],
            "birthday": pa.array([19900105.0, None, 3.5]),
            "signed_up_at": pa.array([True, None, False]),
        }
    )
    result = ws.load("customers", table, now=NOW)
    assert (result.inserted, result.quarantined, result.set_aside) == (3, 0, 2)
    fields = sorted((row["line"], row["field"]) for row in quarantined(ws))
    assert fields == [(1, "birthday, signed_up_at"), (3, "birthday, signed_up_at")]
    money = pa.table(
        {
            "order_id": ["b1"],
            "email": ["ana@example.com"],
            "ordered_at": ["2024-01-05"],
            "revenue": [True],
        }
    )
    assert ws.load("orders", money, now=NOW).quarantined == 1
    row = next(r for r in quarantined(ws) if r["field"] == "revenue")
    assert (row["value"], row["reason"].startswith("not a number")) == ("true", True)


# --- returns -----------------------------------------------------------------------------------

RETURNS = (
    "order_id,email,ordered_at,revenue,status,return_of\n"
    "o1,ana@example.com,2024-01-01,100.00,,\n"
    "o2,ana@example.com,2024-01-10,30.00,,\n"
    "o3,ana@example.com,2024-01-20,20.00,,\n"
    "r1,ana@example.com,2024-01-25,-50.00,,\n"  # covered by o1 only
    "r2,ana@example.com,2024-01-26,-5.00,returned,o2\n"  # names its order
    "r3,ana@example.com,2024-01-27,-10.00,,\n"  # latest covering: o3
    "r4,ana@example.com,2024-01-28,12.00,Returned,o1\n"  # by status, positive amount
    "r5,bob@example.com,2024-01-28,-5.00,,\n"  # no purchase to link to
    "o4,ana@example.com,2024-02-01,500.00,,\n"  # later purchase: never linked back
)


def test_returns_are_excluded_from_orders_and_revenue(ws: Workspace, tmp_path: Path) -> None:
    path = write(tmp_path / "returns.csv", RETURNS)
    result = ws.load("orders", path, now=NOW)
    assert (result.inserted, result.quarantined) == (9, 0)
    loaded = orders(ws)
    assert {k for k, row in loaded.items() if row["is_return"]} == {"r1", "r2", "r3", "r4", "r5"}
    status = ws.status()
    assert status["orders"] == 4
    assert status["revenue"] == pytest.approx(650.0)
    assert status["returns"] == 5
    assert status["customers"] == 2


def test_returns_are_linked_to_their_purchase(ws: Workspace, tmp_path: Path) -> None:
    path = write(tmp_path / "returns.csv", RETURNS)
    ws.load("orders", path, now=NOW)
    links = {
        k: (None if pd.isna(row["return_of"]) else row["return_of"])
        for k, row in orders(ws).items()
    }
    assert links["r2"] == "o2"  # named in the file
    assert links["r4"] == "o1"
    assert links["r1"] == "o1"  # latest earlier purchase that covers 50.00
    assert links["r3"] == "o3"  # latest earlier purchase that covers 10.00
    assert links["r5"] is None  # bob has no purchase
    assert all(links[k] is None for k in ("o1", "o2", "o3", "o4"))


def test_return_linked_to_a_purchase_from_an_earlier_load(ws: Workspace, tmp_path: Path) -> None:
    ws.load("orders", write(tmp_path / "a.csv", RETURNS.split("r1,")[0]), now=NOW)
    second = write(
        tmp_path / "b.csv", "order_id,email,ordered_at,revenue\nr9,ana@example.com,2024-03-01,-25\n"
    )
    ws.load("orders", second, now=NOW)
    assert orders(ws)["r9"]["return_of"] == "o2"  # o3 (20.00) is too small


def test_a_return_loaded_before_its_purchase_is_linked_when_it_comes(
    ws: Workspace, tmp_path: Path
) -> None:
    # files out of date order: February's refunds arrive before January's sales
    refund = "order_id,email,ordered_at,revenue\nr1,ana@example.com,2024-02-01,-40\n"
    ws.load("orders", write(tmp_path / "feb.csv", refund), now=NOW)
    assert pd.isna(orders(ws)["r1"]["return_of"])
    sales = "order_id,email,ordered_at,revenue\no1,ana@example.com,2024-01-10,60\n"
    ws.load("orders", write(tmp_path / "jan.csv", sales), now=NOW)
    assert orders(ws)["r1"]["return_of"] == "o1"


def test_a_return_is_linked_once_a_record_ties_its_customer_to_the_buyer(
    ws: Workspace, tmp_path: Path
) -> None:
    # bought online by email, returned in a store by phone: one person once the CRM says so
    orders_csv = (
        "order_id,email,phone,ordered_at,revenue,status\n"
        "o1,ana@example.com,,2024-01-10,60,\n"
        "r1,,+12125550143,2024-01-20,60,returned\n"
    )
    ws.load("orders", write(tmp_path / "orders.csv", orders_csv), now=NOW)
    assert pd.isna(orders(ws)["r1"]["return_of"])
    crm = "email,phone\nana@example.com,+12125550143\n"
    assert ws.load("customers", write(tmp_path / "crm.csv", crm), now=NOW).merges == 1
    assert orders(ws)["r1"]["return_of"] == "o1"


def test_status_return_with_positive_amount_is_linked(ws: Workspace, tmp_path: Path) -> None:
    path = write(
        tmp_path / "pos.csv",
        "order_id,email,ordered_at,revenue,status\n"
        "o1,ana@example.com,2024-01-01,100.00,\n"
        "o2,ana@example.com,2024-01-10,30.00,\n"
        "r1,ana@example.com,2024-01-20,25.00,returned\n",
    )
    ws.load("orders", path, now=NOW)
    loaded = orders(ws)
    assert loaded["r1"]["is_return"]
    assert loaded["r1"]["return_of"] == "o2"
