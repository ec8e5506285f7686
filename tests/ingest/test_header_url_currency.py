"""Bad input the last hunt found: a header naming one column twice (in any case), a warehouse
URL patron cannot use, a currency code no one issues.

Each had passed silently: the second ``email`` loaded as ``email_1`` in ``attributes``, a
``sqlite://`` warehouse failed later in Ibis's words and ``duckdb://:memory:`` made a file named
``:memory:``, and ``--currency UDS`` labelled every report.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from ingest_support import HEADER, NOW, orders, write

from patron import InputError, Workspace
from patron.config import CONFIG_FILE

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cli_support import patron_here

ROW = "o1,ana@example.com,2024-01-05 10:00,10.00"


def _json_lines(*objects: str) -> str:
    return "".join(line + "\n" for line in objects)


def _parquet(path: Path, names: list[str]) -> Path:
    columns = [pa.array(["o1"]), pa.array(["2024-01-05"]), pa.array(["1"])]
    columns += [pa.array([f"{i}@example.com"]) for i in range(len(names) - 3)]
    pq.write_table(pa.Table.from_arrays(columns, names=names), path)  # pyarrow keeps repeats
    return path


# --- one name twice ----------------------------------------------------------------------------

SAME = r"two columns have the name 'email' \(the warehouse takes names in any case as one\)"
CASES = r"two columns have 'Email' and 'email' .*; rename or drop one"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("twice.csv", f"{HEADER.strip()},email\n{ROW},bo@example.com\n", SAME),
        ("cases.csv", f"order_id,Email,ordered_at,revenue,email\n{ROW},bo@example.com\n", CASES),
        (
            "cases.tsv",
            "order_id\tEmail\temail\tordered_at\tamount\no1\ta@x.io\tb@x.io\t2024\t1\n",
            CASES,
        ),
        (
            "cases.jsonl",
            _json_lines('{"order_id": "o1", "Email": "a@x.io", "email": "b@x.io", "revenue": 1}'),
            "row 1: " + CASES,
        ),
        (
            "twice.jsonl",  # JSON allows a key twice; DuckDB reads the first, Python the last
            _json_lines('{"order_id": "o0"}', "", '{"order_id": "o1", "email": "a", "email": "b"}'),
            "row 3: " + SAME,
        ),
        (
            "apart.jsonl",  # the same key in two cases, on two lines: half the rows lose it
            _json_lines(
                '{"order_id": "o1", "Email": "a@x.io"}', '{"order_id": "o2", "email": "b@x.io"}'
            ),
            CASES,
        ),
        (
            "empty_key.jsonl",
            _json_lines('{"order_id": "o1", "": "x"}'),
            r'row 1: .*empty key \(""\)',
        ),
    ],
)
def test_a_file_naming_a_column_twice_is_refused_naming_both(
    ws: Workspace, tmp_path: Path, name: str, content: str, message: str
) -> None:
    path = write(tmp_path / name, content)
    with pytest.raises(InputError, match=message) as info:
        ws.load("orders", path, now=NOW)
    assert str(info.value).startswith(str(path)) and "\n" not in str(info.value)
    assert ws.status()["orders"] == 0 and ws.status()["quarantined"] == 0


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["order_id", "ordered_at", "revenue", "email", "email"], SAME),
        (["order_id", "ordered_at", "revenue", "Email", "email"], CASES),
        (["order_id", "ordered_at", "revenue", "", ""], "two columns have the name ''"),
    ],
)
def test_a_parquet_file_naming_a_column_twice_is_refused(
    ws: Workspace, tmp_path: Path, names: list[str], message: str
) -> None:
    path = _parquet(tmp_path / "twice.parquet", names)
    with pytest.raises(InputError, match=f"^{path}: {message}"):
        ws.load("orders", path, now=NOW)


def test_map_cannot_pick_one_of_two_columns_the_warehouse_takes_as_one(
    tmp_path: Path,
) -> None:
    """``--map Email=email`` named the first, and the second went to attributes as
    ``email_1``: the same header, one value lost from the field."""
    path = write(tmp_path / "o.csv", f"order_id,Email,ordered_at,revenue,email\n{ROW},b@x.io\n")
    answer = patron_here("init", "ws", cwd=tmp_path)
    assert answer.returncode == 0, answer.stderr
    answer = patron_here(
        "-w", "ws", "load", "orders", str(path), "--map", "Email=email", cwd=tmp_path
    )
    assert answer.returncode == 2
    assert answer.stderr.strip().splitlines() == [
        f"error: {path}: two columns have 'Email' and 'email' (the warehouse takes names in any "
        "case as one); rename or drop one"
    ]


def test_empty_names_and_a_name_like_a_renamed_one_still_load(
    ws: Workspace, tmp_path: Path
) -> None:
    """Not refused: empty names (a trailing delimiter, a spreadsheet's stray cells), which keep
    their values under DuckDB's names by position; and a column really named ``email_1``."""
    path = write(
        tmp_path / "o.csv",
        f"{HEADER.strip()},email_1,,\n{ROW},other@x.io,left,right\n",
    )
    assert ws.load("orders", path, now=NOW).inserted == 1
    assert orders(ws)["o1"]["attributes"] == {
        "email_1": "other@x.io",
        "column5": "left",
        "column6": "right",
    }


# --- warehouse URLs ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown", "why"),
    [
        ("sqlite:///x.db", "sqlite:///x.db", "Ibis's SQLite backend cannot create"),
        ("sqlite://me:s3cret@host/x.db", "sqlite://me:***@host/x.db", "SQLite"),
        ("duckdb://:memory:", "duckdb://:memory:", "in-memory DuckDB .* must persist"),
        ("polars://x", "polars://x", "in memory"),
        ("nosuch://me:s3cret@x/db", "nosuch://me:***@x/db", "names no Ibis backend"),
        ("postgres//me:s3cret@x/db", "postgres//me:***@x/db", "is not a URL"),
    ],
)
def test_init_refuses_a_warehouse_patron_cannot_use(
    tmp_path: Path, url: str, shown: str, why: str
) -> None:
    answer = patron_here("init", "ws", "--warehouse", url, cwd=tmp_path)
    assert answer.returncode == 2
    (line,) = answer.stderr.strip().splitlines()
    assert line.startswith(f"error: warehouse URL {shown!r}") and "s3cret" not in line
    assert "duckdb://FILE (the default: a file in the workspace) or postgres://" in line
    assert re.search(why, line)
    assert not any(tmp_path.iterdir())  # no folder, no file named ':memory:'


def _edited(folder: Path, setting: str, value: str) -> Path:
    """A new workspace in ``folder`` whose ``patron.toml`` has ``setting = "value"``."""
    Workspace.init(folder).close()
    config = folder / CONFIG_FILE
    text = config.read_text(encoding="utf-8")
    config.write_text(re.sub(f'^{setting} = ".*"$', f'{setting} = "{value}"', text, flags=re.M))
    return config


def test_opening_refuses_a_warehouse_edited_to_one_patron_cannot_use(tmp_path: Path) -> None:
    _edited(tmp_path / "ws", "warehouse", "sqlite:///w.db")
    with pytest.raises(InputError, match=r"'sqlite:///w\.db' cannot hold a workspace"):
        Workspace.open(tmp_path / "ws")


# --- currency codes ----------------------------------------------------------------------------


def test_init_refuses_a_currency_iso_4217_does_not_list(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"'UDS' is not .* \(did you mean 'USD' or 'UZS'\?\)"):
        Workspace.init(tmp_path / "a", currency="uds")
    answer = patron_here("init", "b", "--currency", "EUD", cwd=tmp_path)
    assert answer.returncode == 2
    assert answer.stderr.strip() == (
        "error: currency 'EUD' is not a 3-letter ISO 4217 code (did you mean 'AUD' or 'EUR'?); "
        "use one such as 'USD' or 'EUR'"
    )
    assert not any(tmp_path.iterdir())
    with Workspace.init(tmp_path / "c", currency="hrk") as ws:  # withdrawn in 2023: old orders
        assert ws.config.currency == "HRK"


@pytest.mark.parametrize(("written", "read"), [("XYZ", None), ("eur", "EUR")])
def test_a_hand_edited_currency_is_checked_and_upper_cased(
    tmp_path: Path, written: str, read: str | None
) -> None:
    config = _edited(tmp_path / "ws", "currency", written)
    if read is None:
        with pytest.raises(InputError, match=f"^{config}: currency 'XYZ' is not a 3-letter ISO"):
            Workspace.open(tmp_path / "ws")
        return
    with Workspace.open(tmp_path / "ws") as ws:
        assert ws.config.currency == read


def test_orders_with_an_unknown_currency_are_quarantined_naming_the_code(
    ws: Workspace, tmp_path: Path
) -> None:
    rows = ["o1,a@x.io,2024-01-05,1,usd", "o2,b@x.io,2024-01-05,2,UDS", "o3,c@x.io,2024-01-05,3,"]
    rows += ["o4,d@x.io,2024-01-05,4,XYZ", "o5,e@x.io,2024-01-05,5, eur "]
    path = write(
        tmp_path / "o.csv", "order_id,email,ordered_at,revenue,currency\n" + "\n".join(rows)
    )
    with pytest.warns(UserWarning, match="1 in EUR"):  # known, but not the workspace's
        result = ws.load("orders", path, now=NOW)
    assert (result.inserted, result.quarantined) == (3, 2)
    assert {k: row["currency"] for k, row in orders(ws).items()} == {
        "o1": "USD", "o3": "USD", "o5": "EUR"
    }  # fmt: skip
    quarantined: list[dict[str, Any]] = ws.quarantine()
    assert [(q["line"], q["field"], q["value"], q["reason"]) for q in quarantined] == [
        (
            3,
            "currency",
            "UDS",
            "unknown currency UDS, not an ISO 4217 code (did you mean USD or UZS?)",
        ),
        (5, "currency", "XYZ", "unknown currency XYZ, not an ISO 4217 code"),
    ]


def test_orders_in_another_currency_are_told_not_converted(ws: Workspace, tmp_path: Path) -> None:
    """A shop selling in EUR beside USD had its euros added to the dollars without a word:
    the load warns, and status counts them, since patron does not convert."""
    import warnings

    from patron.errors import PatronWarning

    text = "order_id,email,ordered_at,revenue,currency\n"
    text += "c1,a@x.com,2024-03-01,5,usd\nc2,b@x.com,2024-03-01,7,EUR\nc3,c@x.com,2024-03-02,9,\n"
    with pytest.warns(
        PatronWarning, match=r"other currencies than the workspace's USD \(1 in EUR\)"
    ):
        ws.load("orders", write(tmp_path / "mixed.csv", text), now=NOW)
    assert ws.status()["other_currencies"] == {"EUR": 1}
    with warnings.catch_warnings():
        warnings.simplefilter("error", PatronWarning)  # dollars alone say nothing
        ws.load("orders", write(tmp_path / "usd.csv", text.split("c2")[0]), now=NOW)
