"""Every command that writes, as a user who kills it half way, runs two at once, runs it twice.

A killed command leaves the workspace as it was: the same tables and rows, the same store
records, no output file cut short under its name; the warehouse and the operational store
agree after a failure between their two writes; run again, it gives the same result without
doubled rows; while another command holds the workspace it fails in one line.

The kills are exact, not timed: a child process runs the real command with its DuckDB
connection and SQLAlchemy engine watched (``KILLER``), and SIGKILLs itself before (or after) the
first statement matching ``KILL_BEFORE`` (``KILL_AFTER``), or half way through writing a file
whose name holds ``KILL_WRITING``; ``PAUSE_AT`` instead stops at each match until told to go.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
import sqlalchemy as sa

from cli_support import ok, patron_here
from patron import Workspace
from patron.samples import synthetic

KILLER = r"""
import io, os, re, signal, sys
import duckdb
import sqlalchemy as sa
import patron.warehouse

def pattern(name):
    return re.compile(os.environ[name]) if os.environ.get(name) else None

BEFORE, AFTER, PAUSE = pattern("KILL_BEFORE"), pattern("KILL_AFTER"), pattern("PAUSE_AT")
WRITING = os.environ.get("KILL_WRITING")

def kill():
    os.kill(os.getpid(), signal.SIGKILL)

def before(text):
    if BEFORE and BEFORE.search(text):
        kill()
    if PAUSE and PAUSE.search(text):
        print("paused", flush=True)
        sys.stdin.readline()

def after(text):
    if AFTER and AFTER.search(text):
        kill()

class Watched:
    def __init__(self, con):
        self._con = con
    def __getattr__(self, name):
        return getattr(self._con, name)
    def execute(self, sql, *args, **kwargs):
        before(str(sql))
        done = self._con.execute(sql, *args, **kwargs)
        after(str(sql))
        return self if done is self._con else done

connect = duckdb.connect
def watched_connect(*args, **kwargs):
    before("connect")
    return Watched(connect(*args, **kwargs))
patron.warehouse.duckdb.connect = watched_connect

@sa.event.listens_for(sa.engine.Engine, "before_cursor_execute")
def _statement(conn, cursor, statement, *args):
    before("store: " + statement)

@sa.event.listens_for(sa.engine.Engine, "commit")
def _commit(conn):
    before("store: COMMIT")

class HalfWriter:
    def __init__(self, handle):
        self._handle = handle
    def __getattr__(self, name):
        return getattr(self._handle, name)
    def __enter__(self):
        return self
    def __exit__(self, *exc):
        return self._handle.__exit__(*exc)
    def write(self, data):
        self._handle.write(data[: len(data) // 2])
        self._handle.flush()
        kill()

real_open = io.open
def watched_open(file, mode="r", *args, **kwargs):
    handle = real_open(file, mode, *args, **kwargs)
    writes = any(flag in mode for flag in "wax")
    return HalfWriter(handle) if WRITING and writes and WRITING in str(file) else handle
io.open = watched_open

if os.environ.get("QUICK_REPORT"):  # the file's writing is tested, not the report's numbers
    import patron.report.render as render
    render.render_report = lambda ws, **options: "<html>" + "new report " * 200_000 + "</html>"

from patron.cli import app
app(args=sys.argv[1:], prog_name="patron")
"""


def start(*args: str, cwd: Path, **hooks: str) -> subprocess.Popen[str]:
    """``patron *args`` in a child process watched by ``KILLER`` with ``hooks`` set."""
    return subprocess.Popen(
        [sys.executable, "-c", KILLER, *args],
        cwd=cwd,
        env={**os.environ, **hooks},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def killed(*args: str, cwd: Path, **hooks: str) -> None:
    """Run ``patron *args`` and check it was killed where ``hooks`` say."""
    child = start(*args, cwd=cwd, **hooks)
    out, err = child.communicate(timeout=120)
    assert child.returncode == -signal.SIGKILL, f"not killed ({child.returncode}): {out}{err}"


def snapshot(folder: Path) -> dict[str, Any]:
    """Everything a workspace holds: each warehouse table's rows, each store table's rows, and
    the folder's files (the engine's write-ahead log aside: the next opening replays it)."""
    with duckdb.connect(str(folder / "warehouse.duckdb")) as con:
        names = [n for (n,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        warehouse = {
            n: sorted(map(repr, con.execute(f'SELECT * FROM "{n}"').fetchall())) for n in names
        }
    engine = sa.create_engine(f"sqlite:///{folder / 'store.sqlite'}")
    with engine.connect() as conn:
        store = {
            n: sorted(map(repr, conn.execute(sa.text(f'SELECT * FROM "{n}"')).fetchall()))
            for n in sa.inspect(conn).get_table_names()
        }
    engine.dispose()
    files = sorted(p.name for p in folder.iterdir() if not p.name.endswith(".wal"))
    return {"warehouse": warehouse, "store": store, "files": files}


def assignments(folder: Path, name: str) -> tuple[int, int, bool]:
    """Experiment ``name``'s assignment rows in the warehouse and in the store, and whether the
    store lists it."""
    state = snapshot(folder)
    warehouse = sum(f"'{name}'" in row for row in state["warehouse"]["experiment_assignments"])
    store = sum(row.startswith(f"('{name}'") for row in state["store"]["experiment_assignments"])
    listed = any(row.startswith(f"('{name}'") for row in state["store"]["experiments"])
    return warehouse, store, listed


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A closed workspace of 200 synthetic customers with stored predictions and experiment
    ``first``; each test works on a copy (:func:`copy`)."""
    root = tmp_path_factory.mktemp("shop")
    paths = synthetic.generate(root / "data", customers=200, seed=3)
    with Workspace.init(root / "ws", timezone="UTC") as ws:
        ws.load("orders", [paths["orders"]], now=datetime(2025, 1, 1, tzinfo=UTC))
        ws.predict(store=True)
        ws.create_experiment("first", start="2024-06-01")
    return root / "ws"


@pytest.fixture
def copy(shop: Path, tmp_path: Path) -> Iterator[Path]:
    yield Path(shutil.copytree(shop, tmp_path / "ws"))


@pytest.mark.parametrize(
    "statement",
    [r"^DROP TABLE.*customer_predictions", r'RENAME TO "customer_predictions"'],
    ids=["before-dropping-the-last-run", "before-renaming-the-new-one"],
)
def test_predict_killed_while_storing_leaves_the_last_run(copy: Path, statement: str) -> None:
    """Ibis replaced the table in four statements, each its own transaction: killed before the
    old one was dropped, a stray full copy stayed in the warehouse; killed before the rename,
    the workspace had no predictions at all."""
    before = snapshot(copy)
    killed("-w", "ws", "predict", "--horizon", "10", cwd=copy.parent, KILL_BEFORE=statement)
    assert snapshot(copy) == before


def test_predict_twice_stores_the_same_rows_once(copy: Path) -> None:
    ok(patron_here("-w", "ws", "predict", cwd=copy.parent))
    first = snapshot(copy)["warehouse"]["customer_predictions"]
    ok(patron_here("-w", "ws", "predict", cwd=copy.parent))
    assert snapshot(copy)["warehouse"]["customer_predictions"] == first
    assert len(first) == len(set(first)) > 0


def test_an_experiment_killed_before_the_store_committed_can_be_created_again(copy: Path) -> None:
    """The warehouse's insert commits before the store's: killed between them, the warehouse
    kept assignments the store never recorded, and creating the experiment again doubled
    them (every readout counted each customer twice)."""
    insert = r'^INSERT INTO "?(\w+"?\.)*"?experiment_assignments'
    args = ("-w", "ws", "experiment", "create", "again", "--start", "2024-06-01")
    killed(*args, cwd=copy.parent, KILL_AFTER=insert)
    assert assignments(copy, "again")[1:] == (0, False)  # never recorded
    created = ok(patron_here(*args, "--json", cwd=copy.parent))
    size = created["audience_size"]
    assert assignments(copy, "again") == (size, size, True)


def test_an_experiment_deletion_killed_half_way_leaves_no_record_without_assignments(
    copy: Path,
) -> None:
    """Deleting removed the warehouse's rows before the store's record was committed: killed
    between them, ``experiment list`` showed ``first`` with no one assigned."""
    warehouse, store, _ = assignments(copy, "first")
    assert warehouse == store > 0
    delete = r"^DELETE FROM experiment_assignments"
    killed("-w", "ws", "experiment", "delete", "first", cwd=copy.parent, KILL_AFTER=delete)
    assert assignments(copy, "first") in ((warehouse, store, True), (0, 0, False))


def test_init_killed_half_way_can_be_run_again(tmp_path: Path) -> None:
    """A killed init left a folder with a warehouse and no settings: no command opened it
    ("create one with: patron init ws") and init refused it ("not an empty folder")."""
    killed("init", "ws", cwd=tmp_path, KILL_BEFORE="^store: ")
    assert (tmp_path / "ws" / "warehouse.duckdb").exists()
    ok(patron_here("init", "ws", "--timezone", "Europe/Berlin", cwd=tmp_path))
    with Workspace.open(tmp_path / "ws") as ws:
        assert ws.config.timezone == "Europe/Berlin"
        assert ws.status()["customers"] == 0
    assert sorted(p.name for p in (tmp_path / "ws").iterdir()) == [
        "patron.toml",
        "store.sqlite",
        "warehouse.duckdb",
    ]


def test_two_inits_at_once_never_delete_each_others_files(tmp_path: Path) -> None:
    """Both found the folder empty; the second could not open the warehouse the first held
    and, cleaning up after its failure, deleted the first's files: the first then finished a
    workspace without its warehouse."""
    first = start("init", "ws", cwd=tmp_path, PAUSE_AT="^connect$|^store: ")
    assert first.stdout and first.stdout.readline() == "paused\n"  # the folder is empty
    second = start("init", "ws", cwd=tmp_path, PAUSE_AT="^connect$")
    assert second.stdin and second.stdout and first.stdin
    if second.stdout.readline() == "paused\n":  # it found the folder empty too
        first.stdin.write("go\n")
        first.stdin.flush()
        assert first.stdout.readline() == "paused\n"  # the warehouse is open and locked
        second.stdin.write("go\n")
        second.stdin.flush()
    _, err = second.communicate(timeout=120)
    first.stdin.write("go\n" * 5)
    first.stdin.flush()
    first.communicate(timeout=120)
    assert first.returncode == 0
    assert second.returncode == 2 and err.count("\n") == 1, err
    assert "another `patron init` is creating ws" in err
    with Workspace.open(tmp_path / "ws") as ws:
        assert ws.status()["customers"] == 0


def test_a_report_killed_while_writing_leaves_the_last_one_whole(tmp_path: Path) -> None:
    Workspace.init(tmp_path / "ws").close()
    (tmp_path / "r.html").write_text("<html>the last report</html>")
    args = ("-w", "ws", "report", "--out", "r.html")
    killed(*args, cwd=tmp_path, QUICK_REPORT="1", KILL_WRITING="r.html")
    assert (tmp_path / "r.html").read_text() == "<html>the last report</html>"


@pytest.mark.parametrize(
    ("out", "message"),
    [(".", "it is a folder"), ("taken/r.html", "taken/r.html: taken is a file, not a folder")],
)
def test_a_report_to_a_path_it_cannot_write_fails_in_one_line(
    shop: Path, tmp_path: Path, out: str, message: str
) -> None:
    """Before, after the whole report was computed, with Python's traceback."""
    (tmp_path / "taken").write_text("a file, not a folder")
    result = patron_here("-w", str(shop), "report", "--out", out, cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert message in result.stderr


HOLDER = """
import sys
from patron import Workspace
with Workspace.open(sys.argv[1]):
    print("open", flush=True)
    sys.stdin.readline()
"""


@pytest.mark.parametrize(
    "args",
    [
        ("predict",),
        ("experiment", "create", "second"),
        ("experiment", "delete", "first"),
        ("experiment", "assign", "first", "--out", "a.csv"),
        ("export", "customers", "--out", "c.csv"),
        ("report", "--out", "r.html"),
    ],
    ids=" ".join,
)
def test_a_command_while_another_holds_the_workspace_fails_in_one_line(
    holder: Path, args: tuple[str, ...]
) -> None:
    result = patron_here("-w", "ws", *args, cwd=holder.parent)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "is another patron command using this workspace?" in result.stderr
    assert not list(holder.parent.glob("*.*"))  # no output file begun


@pytest.fixture(scope="module")
def holder(shop: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A copy of the shop that another process holds open."""
    folder = Path(shutil.copytree(shop, tmp_path_factory.mktemp("held") / "ws"))
    before = snapshot(folder)
    other = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(folder)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert other.stdout and other.stdout.readline() == "open\n"
    yield folder
    assert other.stdin
    other.communicate("done\n", timeout=60)
    assert snapshot(folder) == before
