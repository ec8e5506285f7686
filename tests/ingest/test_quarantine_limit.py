"""``--max-quarantined``: a load that would quarantine more rows than allowed changes nothing.

A nightly load whose source changed its export (every date in another layout) used to succeed
with every row quarantined; with a limit it exits non-zero, says what failed most, and leaves
the workspace as it was, so the fixed file (or ``--date-format``) loads it whole."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ingest_support import NOW, write

from cli_support import patron
from patron import Workspace
from patron.errors import InputError
from patron.ingest.limit import QuarantineLimit

ROWS = "order_id,email,ordered_at,revenue\n"
SLASHED = ROWS + "".join(f"o{n},c{n}@example.com,01/0{n}/2024,5\n" for n in range(1, 10))
"""Nine orders dated as a US export writes them, which ISO 8601 reading quarantines."""


def _state(ws: Workspace) -> tuple[dict[str, object], int]:
    status = ws.status()
    return {k: status[k] for k in ("orders", "customers", "quarantined")}, len(ws.quarantine())


def test_an_export_whose_dates_all_fail_changes_nothing(ws: Workspace, tmp_path: Path) -> None:
    """Nine of nine rows fail against a 2% limit: the load raises, naming the count, the limit
    and the failure with its field, file and first line; no order, customer or quarantine
    entry is left, and the same file with its date layout then loads whole under the limit."""
    ws.load("orders", write(tmp_path / "good.csv", ROWS + "g1,g@example.com,2024-01-01,9\n"))
    before = _state(ws)
    path = write(tmp_path / "slashed.csv", SLASHED)
    with pytest.raises(InputError) as refused:
        ws.load("orders", path, max_quarantined="2%", now=NOW)
    message = str(refused.value)
    assert message.startswith("9 of 9 rows failed validation, more than max_quarantined 2%")
    assert "nothing was loaded; most often: ordered_at in " in message
    assert "slashed.csv (9 rows from line 2): not an ISO 8601 date" in message
    assert _state(ws) == before
    done = ws.load("orders", path, max_quarantined="2%", date_format="%m/%d/%Y", now=NOW)
    assert (done.inserted, done.quarantined) == (9, 0)


@pytest.mark.parametrize(
    ("limit", "loads"), [(1, True), (0, False), ("11.2%", True), ("11%", False), ("100%", True)]
)
def test_the_limit_counts_rows_or_a_share_of_those_read(
    ws: Workspace, tmp_path: Path, limit: int | str, loads: bool
) -> None:
    """One bad row in nine (11.1%): a limit of one row or 11.2% lets it load, 0 or 11% not."""
    rows = SLASHED.replace("01/0", "2024-01-0").replace("/2024,", ",")
    path = write(tmp_path / "one_bad.csv", rows.replace("2024-01-03", "someday"))
    if loads:
        assert ws.load("orders", path, max_quarantined=limit, now=NOW).quarantined == 1
    else:
        with pytest.raises(InputError, match=r"^1 of 9 rows failed validation"):
            ws.load("orders", path, max_quarantined=limit, now=NOW)
        assert ws.status()["orders"] == 0


def test_conflicts_count_and_set_aside_crm_values_do_not(ws: Workspace, tmp_path: Path) -> None:
    """An order loaded again with another amount is a quarantined row like any; a CRM record
    that loads with its bad birthday set aside is not quarantined, so it passes a 0 limit."""
    first = write(tmp_path / "a.csv", ROWS + "o1,a@example.com,2024-01-01,5\n")
    ws.load("orders", first, now=NOW)
    changed = write(tmp_path / "b.csv", ROWS + "o1,a@example.com,2024-01-01,6\n")
    with pytest.raises(InputError, match="conflict"):
        ws.load("orders", changed, max_quarantined=0, now=NOW)
    crm = write(tmp_path / "c.csv", "email,birthday,email_consent\na@example.com,1990-02-31,no\n")
    result = ws.load("customers", crm, max_quarantined=0, now=NOW)
    assert (result.inserted, result.set_aside) == (1, 1)


@given(rows=st.integers(0, 10**9), share=st.decimals(0, 100, places=3))
def test_a_limit_reads_back_what_was_written(rows: int, share: object) -> None:
    assert QuarantineLimit.parse(rows).rows == rows
    assert QuarantineLimit.parse(str(rows)).rows == rows
    parsed = QuarantineLimit.parse(f"{share}%")
    assert parsed.share == pytest.approx(float(str(share)) / 100)


@given(st.text(max_size=12).filter(lambda t: not t.strip().isdigit() and "%" not in t))
def test_anything_else_is_refused_in_the_option_s_words(text: str) -> None:
    with pytest.raises(InputError, match="max_quarantined takes a number of rows"):
        QuarantineLimit.parse(text)


@pytest.mark.parametrize("bad", [-1, "-5", "101%", "5 rows", "%", "1e3", True, "٣"])
def test_a_limit_out_of_range_or_in_words_is_refused(bad: object) -> None:
    with pytest.raises(InputError):
        QuarantineLimit.parse(bad)  # type: ignore[arg-type]


def test_the_command_exits_2_in_one_line(tmp_path: Path) -> None:
    """The real ``patron load``: exit code 2, one line on stderr, nothing on stdout."""
    write(tmp_path / "slashed.csv", SLASHED)
    Workspace.init(tmp_path / "ws").close()
    result = patron(
        "-w", "ws", "load", "orders", "slashed.csv", "--max-quarantined", "0", cwd=tmp_path
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: 9 of 9 rows failed validation, more than ")
    assert "--max-quarantined 0 allows" in result.stderr
