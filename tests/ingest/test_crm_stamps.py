"""CRM records with ``updated_at`` are as late as the CRM says, not as their load.

Without a stamp a record is as late as the load that brought it, so a catch-up export of last
month's records, loaded after this week's, gave back the consent a customer had since withdrawn:
the email tool, reading ``email_consent`` from patron's export, would mail someone who opted
out. With the CRM's ``updated_at`` every order of loading the same exports ends alike."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import permutations
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ingest_support import NOW, write

from patron import Workspace
from patron.ingest.contract import TABLES
from patron.ingest.stage import _content_sql

HEADER = "email,name,email_consent,updated_at\n"
EXPORTS = {
    "march.csv": "ann@example.com,Ann,yes,2024-03-01 10:00\n"
    "bob@example.com,Bob,no,2024-03-02 10:00\n",
    "may.csv": "ann@example.com,Ann,no,2024-05-01 10:00\n",
    "july.csv": "ann@example.com,Ann Lee,yes,2024-07-01 10:00\n"
    "bob@example.com,Bob,yes,2024-04-01 10:00\n",
}
"""Ann opts in, out and in again (renamed in July); Bob's April record comes in July's file."""
LATEST = {"ann@example.com": ("Ann Lee", True), "bob@example.com": ("Bob", True)}


def _profiles(ws: Workspace) -> dict[str, tuple[str, bool]]:
    rows = ws.table("customers").to_pyarrow().to_pylist()
    return {r["email"]: (r["name"], r["email_consent"]) for r in rows}


def _files(folder: Path, names: tuple[str, ...]) -> list[Path]:
    return [write(folder / name, HEADER + EXPORTS[name]) for name in names]


@pytest.mark.parametrize("order", list(permutations(EXPORTS))[::2])
def test_any_order_of_loads_ends_at_the_latest_stamps(
    ws: Workspace, tmp_path: Path, order: tuple[str, ...]
) -> None:
    """March, May and July loaded in three different orders, a file per load: each person's
    latest record by ``updated_at`` wins, whichever load came last."""
    for path in _files(tmp_path, order):
        ws.load("customers", path, now=NOW)
    assert _profiles(ws) == LATEST


def test_a_catch_up_export_loaded_last_does_not_give_back_a_withdrawn_consent(
    ws: Workspace, tmp_path: Path
) -> None:
    """May's opt-out, then March's export loaded again as a catch-up: Ann stays opted out;
    the same files in one load end the same."""
    may, march = _files(tmp_path, ("may.csv", "march.csv"))
    ws.load("customers", may, now=NOW)
    catch_up = ws.load("customers", march, now=NOW)
    assert catch_up.inserted == 2
    assert _profiles(ws)["ann@example.com"] == ("Ann", False)

    together = Workspace.init(tmp_path / "together", timezone="America/New_York")
    together.load("customers", [may, march], now=NOW)
    assert _profiles(together) == _profiles(ws)


def test_a_record_without_a_stamp_is_as_late_as_its_load(ws: Workspace, tmp_path: Path) -> None:
    """A hand-made file without ``updated_at`` loaded on 2024-06-01 is newer than May's stamp
    and older than July's, wherever its load comes in the order of loads."""
    fix = write(tmp_path / "fix.csv", "email,email_consent\nann@example.com,no\n")
    march, july = _files(tmp_path, ("march.csv", "july.csv"))
    ws.load("customers", july, now=NOW)
    ws.load("customers", fix, now=datetime(2024, 6, 1, tzinfo=UTC))
    assert _profiles(ws)["ann@example.com"] == ("Ann Lee", True)
    ws.load("customers", march, now=NOW)
    assert _profiles(ws)["ann@example.com"] == ("Ann Lee", True)

    later = Workspace.init(tmp_path / "later", timezone="America/New_York")
    later.load("customers", march, now=NOW)
    later.load("customers", fix, now=datetime(2024, 6, 1, tzinfo=UTC))
    assert _profiles(later)["ann@example.com"] == ("Ann", False)


def test_the_same_stamped_file_again_is_duplicates_and_a_new_stamp_a_new_record(
    ws: Workspace, tmp_path: Path
) -> None:
    """Reloading an export finds every record; the same fields under a later stamp are a new
    sighting of the person (inserted), which changes nothing they say."""
    (march,) = _files(tmp_path, ("march.csv",))
    ws.load("customers", march, now=NOW)
    again = ws.load("customers", march, now=NOW)
    assert (again.inserted, again.duplicates, again.conflicts) == (0, 2, 0)
    restamped = write(tmp_path / "r.csv", HEADER + EXPORTS["march.csv"].replace("03-0", "04-0"))
    assert ws.load("customers", restamped, now=NOW).inserted == 2
    assert _profiles(ws) == {"ann@example.com": ("Ann", True), "bob@example.com": ("Bob", False)}


def test_a_stamp_is_read_as_any_time_and_a_bad_one_set_aside(ws: Workspace, tmp_path: Path) -> None:
    """``updated_at`` is a time like the others: naive in the shop's zone, with an offset as
    given; one that does not parse is set aside and the record loads without it."""
    rows = (
        "email,email_consent,updated_at\n"
        "ann@example.com,no,2024-05-01T10:00:00+02:00\n"
        "bob@example.com,yes,last tuesday\n"
    )
    result = ws.load("customers", write(tmp_path / "c.csv", rows), now=NOW)
    assert (result.inserted, result.quarantined, result.set_aside) == (2, 0, 1)
    stamps = dict(
        ws.warehouse.duckdb.execute("SELECT email, updated_at FROM customer_records").fetchall()
    )
    assert stamps == {"ann@example.com": datetime(2024, 5, 1, 8, 0), "bob@example.com": None}
    assert [e["field"] for e in ws.quarantine()] == ["updated_at"]


def test_records_of_a_workspace_from_before_the_stamp_are_found_again(
    ws: Workspace, tmp_path: Path
) -> None:
    """Keys and hashes of records without a stamp are what they were before the field: an
    older workspace (no ``updated_at`` column) finds its file, loaded in April, again after
    the upgrade, and May's stamped opt-out is later than it."""
    path = write(tmp_path / "old.csv", "email,name,email_consent\nann@example.com,Ann,yes\n")
    ws.load("customers", path, now=datetime(2024, 4, 1, tzinfo=UTC))
    con = ws.warehouse.duckdb
    spec = TABLES["customers"]
    before = tuple(n for n in spec.natural_key if n != spec.stamp)
    old_key = f"'nk-' || md5({_content_sql(before)})"
    assert con.execute(
        f"SELECT bool_and(row_key = {old_key}) FROM customer_records"
    ).fetchone() == (True,)
    con.execute("ALTER TABLE customer_records DROP COLUMN updated_at")
    again = ws.load("customers", path, now=NOW)
    assert (again.inserted, again.duplicates) == (0, 1)
    (may,) = _files(tmp_path, ("may.csv",))
    ws.load("customers", may, now=NOW)
    assert _profiles(ws)["ann@example.com"] == ("Ann", False)


def test_a_warehouse_table_from_before_the_stamp_is_sent_whole(server: str, tmp_path: Path) -> None:
    """A PostgreSQL warehouse whose ``customer_records`` an earlier version made (no
    ``updated_at``) gets the table whole at the next load: appending rows with the new column
    to it had failed the copy ("could not copy table customer_records")."""
    import psycopg

    import pg_server

    url = pg_server.create_database(server, "stamps")
    march, may = _files(tmp_path, ("march.csv", "may.csv"))
    with Workspace.init(tmp_path / "pg", warehouse=url) as ws:
        ws.load("customers", march, now=NOW)
    with psycopg.connect(url, autocommit=True) as con:
        con.execute("ALTER TABLE customer_records DROP COLUMN updated_at")
    with Workspace.open(tmp_path / "pg") as ws:
        ws.load("customers", may, now=NOW)
        stored = ws.warehouse.ibis.table("customer_records").to_pyarrow()
        assert stored.num_rows == 3
        assert sorted(map(str, stored["updated_at"].to_pylist()))[0].startswith("2024-03-01")
        assert _profiles(ws)["ann@example.com"] == ("Ann", False)


@pytest.mark.parametrize("header", ["Last Modified Date", "LastModifiedDate", "last_updated"])
def test_a_crm_s_own_name_for_the_stamp_maps_without_map(
    ws: Workspace, tmp_path: Path, header: str
) -> None:
    """HubSpot's, Salesforce's and other CRMs' spellings of the stamp are read as it."""
    rows = f"email,email_consent,{header}\nann@example.com,no,2024-05-01 10:00\n"
    ws.load("customers", write(tmp_path / "c.csv", rows), now=NOW)
    (stamp,) = ws.warehouse.duckdb.execute("SELECT updated_at FROM customer_records").fetchone()
    assert stamp == datetime(2024, 5, 1, 14, 0)  # 10:00 in New York


RECORD = st.tuples(
    st.sampled_from(["ann@example.com", "bob@example.com", "cy@example.com"]),
    st.sampled_from(["yes", "no", ""]),
    st.sampled_from(["", "Ann", "Bo"]),
)


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    records=st.lists(RECORD, min_size=1, max_size=8),
    days=st.permutations(range(1, 21)),
    files=st.lists(st.integers(0, 2), min_size=8, max_size=8),
    loads=st.permutations(range(3)),
)
def test_profiles_are_each_field_s_latest_stamped_value_in_python(
    tmp_path_factory: pytest.TempPathFactory,
    records: list[tuple[str, str, str]],
    days: list[int],
    files: list[int],
    loads: list[int],
) -> None:
    """Records with distinct stamps, spread over three files loaded in any order: each
    person's name and consent are the value of their latest stamped record that has one,
    computed here in Python (blank values say nothing)."""
    folder = tmp_path_factory.mktemp("stamps")
    rows = [(*r, f"2024-05-{days[i]:02d} 10:00") for i, r in enumerate(records)]
    texts = ["email,email_consent,name,updated_at\n"] * 3
    for row, file in zip(rows, files, strict=False):
        texts[file] += ",".join(row) + "\n"
    with Workspace.init(folder / "ws") as ws:
        for file in (f for f in loads if texts[f].count("\n") > 1):  # header-only files warn
            ws.load("customers", write(folder / f"{file}.csv", texts[file]), now=NOW)
        got = {r[0]: (r[1], r[2]) for r in _rows(ws)}
    expected = {}
    for email, consent, name, _ in sorted(rows, key=lambda row: row[3]):
        was_name, was_consent = expected.get(email, (None, None))
        expected[email] = (name or was_name, {"yes": True, "no": False}.get(consent, was_consent))
    assert got == expected


def _rows(ws: Workspace) -> list[tuple[str, str | None, bool | None]]:
    query = "SELECT email, name, email_consent FROM customers"
    return ws.warehouse.duckdb.execute(query).fetchall()
