"""Loading CRM records, catalogs, order lines and events as a demanding user would: several
files at once, daily exports that overlap or revert, frames as well as files."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from ingest_support import NOW, write

from patron import Workspace

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cli_support import ok, patron_here

CRM = "email,name,email_consent\n"


def profile(ws: Workspace, email: str) -> tuple[Any, ...]:
    """The ``customers`` row of the person with ``email``: name and email consent."""
    rows = ws.warehouse.duckdb.execute(
        "SELECT name, email_consent FROM customers WHERE email = ?", [email]
    ).fetchall()
    assert len(rows) == 1, rows
    return rows[0]


def _init(path: Path) -> Workspace:
    return Workspace.init(path, timezone="UTC")


# --- CRM records: the later file, then the later line, wins ----------------------------------


def test_a_later_file_of_one_load_wins_over_a_longer_earlier_file(tmp_path: Path) -> None:
    """``patron load customers a.csv b.csv``: Ann on line 10 of a.csv and line 3 of b.csv.
    The latest value was picked by line number across files, so a.csv's won."""
    filler = "".join(f"x{i}@x.com,X{i},yes\n" for i in range(8))
    a = write(tmp_path / "a.csv", CRM + filler + "ann@x.com,Ann Old,yes\n")
    b = write(tmp_path / "b.csv", CRM + "bob@x.com,Bob,yes\nann@x.com,Ann New,no\n")
    ws = _init(tmp_path / "ws")
    ws.load("customers", [a, b], now=NOW)
    assert profile(ws, "ann@x.com") == ("Ann New", False)


def test_a_later_frame_of_one_load_wins(tmp_path: Path) -> None:
    """Two data frames in one load were both named ``<DataFrame>``: nothing told their rows
    apart but the row number. The second frame's record wins, and it is named apart."""
    first = pd.DataFrame({"email": ["x@x.com", "y@x.com", "ann@x.com"], "name": ["X", "Y", "A1"]})
    second = pd.DataFrame({"email": ["ann@x.com"], "name": ["A2"]})
    ws = _init(tmp_path / "ws")
    result = ws.load("customers", [first, second], now=NOW)
    assert result.files == ["<DataFrame>", "<DataFrame> #2"]
    assert profile(ws, "ann@x.com")[0] == "A2"


def test_a_record_that_comes_back_is_the_newest_again(tmp_path: Path) -> None:
    """Daily CRM exports: consent yes, then no (revoked), then yes again (given again). The
    third day's record is the first day's exactly, so it was skipped as a duplicate and the
    revoked consent stood; the reverse (no, yes, no) kept mailing someone who said no."""
    days = [CRM + f"ann@x.com,Ann,{c}\n" for c in ("yes", "no", "yes")]
    paths = [write(tmp_path / f"d{i}.csv", text) for i, text in enumerate(days)]
    ws = _init(tmp_path / "ws")
    for path in paths:
        ws.load("customers", [path], now=NOW)
    assert profile(ws, "ann@x.com") == ("Ann", True)
    again = ws.load("customers", [paths[2]], now=NOW)  # the same file again changes nothing
    assert (again.inserted, again.updated, again.duplicates) == (0, 0, 1)
    whole = _init(tmp_path / "whole")
    result = whole.load("customers", paths, now=NOW)
    assert (result.inserted, result.updated, result.duplicates) == (2, 0, 1)
    assert profile(whole, "ann@x.com") == ("Ann", True)
    reverse = _init(tmp_path / "reverse")
    reverse.load("customers", [paths[1]], now=NOW)
    reverse.load("customers", [paths[0]], now=NOW)
    renewed = reverse.load("customers", [paths[1]], now=NOW)
    assert (renewed.inserted, renewed.updated, renewed.duplicates) == (0, 1, 0)
    assert profile(reverse, "ann@x.com") == ("Ann", False)


RECORDS = st.lists(
    st.tuples(
        st.sampled_from(["a@x.com", "b@x.com"]),
        st.sampled_from(["", "Ann", "Bo"]),
        st.sampled_from(["", "yes", "no"]),
    ),
    min_size=1,
    max_size=4,
)


def _expected(files: list[list[tuple[str, str, str]]]) -> dict[str, tuple[Any, Any]]:
    """Each person's latest non-empty name and consent, files in order, then lines."""
    latest: dict[str, dict[str, Any]] = {}
    for records in files:
        for email, name, consent in records:
            seen = latest.setdefault(email, {"name": None, "consent": None})
            if name:
                seen["name"] = name
            if consent:
                seen["consent"] = consent == "yes"
    return {e: (v["name"], v["consent"]) for e, v in latest.items()}


A, B = ("a@x.com", "Ann", "yes"), ("a@x.com", "Bo", "no")
C = ("a@x.com", "Cy", "no")


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files=st.lists(RECORDS, min_size=1, max_size=4), cut=st.integers(0, 4))
@example(files=[[B, A], [B, A]], cut=0)  # an export again: its no had been made the newest
@example(files=[[A], [B], [C], [A, C]], cut=2)  # A renewed, so C must be too: it comes after
def test_crm_files_in_one_load_or_many_end_alike(
    tmp_path_factory: pytest.TempPathFactory, files: list[list[tuple[str, str, str]]], cut: int
) -> None:
    """Files loaded one by one, all at once, or split in two loads: each person's profile is
    their latest non-empty values, the later file winning, then the later line."""
    root = tmp_path_factory.mktemp("crm")
    paths = [
        write(root / f"f{i}.csv", CRM + "".join(f"{e},{n},{c}\n" for e, n, c in records))
        for i, records in enumerate(files)
    ]
    expected = _expected(files)
    ways = {
        "one by one": [[p] for p in paths],
        "at once": [paths],
        "in two": [paths[:cut], paths[cut:]],
    }
    for way, loads in ways.items():
        ws = _init(root / way)
        for batch in loads:
            if batch:
                ws.load("customers", batch, now=NOW)
        found = {email: profile(ws, email) for email in expected}
        ws.close()
        assert found == expected, way


# --- consent and (un)subscribe events ---------------------------------------------------------


def test_an_unsubscribe_spelled_as_exports_spell_it_is_an_opt_out(tmp_path: Path) -> None:
    """Email tools export opt-outs as ``email_unsubscribed``, ``Email Unsubscribe``, or an
    ``unsubscribe`` on the ``email`` channel: each was taken for some other event, and the
    CRM's stale yes kept mailing the person."""
    ws = _init(tmp_path / "ws")
    people = ["a@x.com", "b@x.com", "c@x.com", "d@x.com", "e@x.com"]
    crm = CRM + "".join(f"{p},P,yes\n" for p in people)
    ws.load("customers", [write(tmp_path / "crm.csv", crm)], now=NOW)
    events = write(
        tmp_path / "ev.csv",
        "email,occurred_at,type,channel\n"
        "a@x.com,2024-03-01 10:00,email_unsubscribed,\n"
        "b@x.com,2024-03-01 10:00,Email Unsubscribe,\n"
        "c@x.com,2024-03-01 10:00,unsubscribe,E-mail\n"
        "d@x.com,2024-03-01 10:00,email-unsubscribe,email\n"
        "e@x.com,2024-03-01 10:00,unsubscribe,sms\n",
    )
    ws.load("events", [events], now=NOW)
    assert [profile(ws, p)[1] for p in people] == [False, False, False, False, True]


def test_consent_as_email_tools_export_it(tmp_path: Path) -> None:
    """Klaviyo's and Mailchimp's consent states were "not true/false": the whole record went
    to quarantine and an earlier yes stood. ``pending`` (not confirmed) is still no answer:
    set aside, the record loads without it."""
    states = ["SUBSCRIBED", "Unsubscribed", "NEVER_SUBSCRIBED", "never subscribed", "Opted-In"]
    people = [f"p{i}@x.com" for i in range(len(states))]
    crm = CRM + "".join(f"{p},P,{s}\n" for p, s in zip(people, states, strict=True))
    ws = _init(tmp_path / "ws")
    result = ws.load("customers", [write(tmp_path / "crm.csv", crm + "q@x.com,Q,pending\n")])
    assert [profile(ws, p)[1] for p in people] == [True, False, False, False, True]
    assert (result.quarantined, result.set_aside) == (0, 1)
    assert profile(ws, "q@x.com")[1] is None
    assert ws.quarantine()[0]["reason"].startswith("not true/false")


def test_the_command_shows_the_later_file_and_the_renewed_record(tmp_path: Path) -> None:
    """Through ``patron load``, ``status`` and ``customer show``: the later file's consent,
    a record that came back counted as updated, nothing counted twice."""
    write(tmp_path / "a.csv", CRM + "x@x.com,X,yes\nann@x.com,Ann,yes\n")
    write(tmp_path / "b.csv", CRM + "ann@x.com,Ann,no\n")
    ok(patron_here("init", "ws", "--timezone", "UTC", cwd=tmp_path))
    load = ("-w", "ws", "load", "customers")
    ok(patron_here(*load, "a.csv", "b.csv", "--json", cwd=tmp_path))
    shown = ok(patron_here("-w", "ws", "customer", "show", "ann@x.com", "--json", cwd=tmp_path))
    assert shown["profile"]["email_consent"] is False
    again = ok(patron_here(*load, "a.csv", "--json", cwd=tmp_path))
    assert [again[k] for k in ("inserted", "updated", "duplicates")] == [0, 1, 1]
    shown = ok(patron_here("-w", "ws", "customer", "show", "ann@x.com", "--json", cwd=tmp_path))
    assert shown["profile"]["email_consent"] is True
    status = ok(patron_here("-w", "ws", "status", "--json", cwd=tmp_path))
    assert (status["customer_records"], status["customers"], status["duplicates"]) == (3, 2, 1)


# --- birthdays ----------------------------------------------------------------------------------


def test_birthdays_the_calendar_has_or_not(tmp_path: Path) -> None:
    """Feb 29 of a leap year loads; of another year, without a year, in another layout or in
    the Persian calendar the birthday is quarantined with its file, line, field and a reason
    that says what to do, and the record loads without it. ``۱۳۷۰-۰۲-۱۵`` (a Solar Hijri
    birthday in 1991) was only "implausibly old"."""
    path = write(
        tmp_path / "crm.csv",
        "email,birthday\n"
        "a@x.com,2000-02-29\n"
        "b@x.com,2001-02-29\n"
        "c@x.com,--05-17\n"
        "d@x.com,17.05.1990\n"
        "e@x.com,۱۳۷۰-۰۲-۱۵\n"
        "f@x.com,۱۹۹۰-۰۵-۱۷\n",
    )
    ws = _init(tmp_path / "ws")
    result = ws.load("customers", [path], now=NOW)
    assert (result.inserted, result.quarantined, result.set_aside) == (6, 0, 4)
    found = ws.warehouse.duckdb.execute("SELECT email, birthday FROM customers ORDER BY 1")
    assert [(e, str(b)) for e, b in found.fetchall()] == [
        ("a@x.com", "2000-02-29"),
        *((f"{p}@x.com", "None") for p in "bcde"),
        ("f@x.com", "1990-05-17"),
    ]
    entries = {r["line"]: r for r in ws.quarantine()}
    assert {(r["file"], r["field"]) for r in entries.values()} == {(str(path), "birthday")}
    assert "no such day" in entries[3]["reason"]
    assert "pass date_format" in entries[4]["reason"] and "pass date_format" in entries[5]["reason"]
    assert "Solar Hijri" in entries[6]["reason"]


def test_status_counts_lines_whose_order_is_not_loaded(tmp_path: Path) -> None:
    """Lines of an order not loaded belong to no one; status had only counted all lines."""
    ws = _init(tmp_path / "ws")
    lines = "order_id,sku,quantity,unit_price\nO1,A,2,5.00\nO1,B,1,3.00\nO9,C,1,1.00\n"
    ws.load("lines", [write(tmp_path / "lines.csv", lines)], now=NOW)
    orders = "order_id,email,ordered_at,revenue\nO1,a@x.com,2024-03-01 10:00,13.00\n"
    ws.load("orders", [write(tmp_path / "orders.csv", orders)], now=NOW)
    assert (ws.status()["order_lines"], ws.status()["lines_without_order"]) == (3, 1)
    ws.close()
    text = ok(patron_here("-w", "ws", "status", cwd=tmp_path))
    assert "(1 of them without their order: load it)" in text


# --- a CRM record keeps what parses -------------------------------------------------------------


def test_an_opt_out_with_a_mistyped_birthday_still_opts_out(tmp_path: Path) -> None:
    """A record with one bad value (a birthday of 31 February) went to quarantine whole, so the
    person's "no" was lost and the earlier "yes" stood: they kept being mailed. The record now
    loads without the bad value, which is in the quarantine with its file, line, field and
    reason; loading the file again adds nothing; a record without a valid identifier is still
    refused whole."""
    write(tmp_path / "before.csv", "email,name,birthday,email_consent\nann@x.com,Ann,,yes\n")
    write(
        tmp_path / "after.csv",
        "email,name,birthday,email_consent\n"
        "ann@x.com,Ann B,1990-02-31,no\n"
        "not-an-email,Bo,1990-01-01,no\n",
    )
    ok(patron_here("init", "ws", "--timezone", "UTC", cwd=tmp_path))
    load = ("-w", "ws", "load", "customers")
    ok(patron_here(*load, "before.csv", "--json", cwd=tmp_path))
    first = ok(patron_here(*load, "after.csv", "--json", cwd=tmp_path))
    assert [first[k] for k in ("inserted", "quarantined", "set_aside")] == [1, 1, 1]
    shown = ok(patron_here("-w", "ws", "customer", "show", "ann@x.com", "--json", cwd=tmp_path))
    assert (shown["profile"]["email_consent"], shown["profile"]["name"]) == (False, "Ann B")
    assert shown["profile"]["birthday"] is None
    entries = ok(patron_here("-w", "ws", "quarantine", "list", "--json", cwd=tmp_path))["rows"]
    by_line = {(e["file"], e["line"]): (e["field"], e["value"], e["reason"]) for e in entries}
    assert by_line[("after.csv", 2)][:2] == ("birthday", "1990-02-31")
    assert by_line[("after.csv", 2)][2].endswith("(the rest of the record loaded)")
    assert by_line[("after.csv", 3)][0] == "customer identifier"
    text = patron_here(*load, "after.csv", cwd=tmp_path)
    assert "1 record loaded without a value that did not parse" in text.stdout
    again = ok(patron_here("-w", "ws", "quarantine", "list", "--json", cwd=tmp_path))["rows"]
    assert len(again) == len(entries) == 2
