"""The Python API as a data scientist uses it in a notebook: read-only opens, closed
workspaces, repr, date arguments and the help a method gives."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

import patron
from patron import InputError, Workspace, WorkspaceError
from patron.experiments import registry

ORDERS = pd.DataFrame(
    {
        "order_id": ["o1", "o2", "o3", "o4", "o5"],
        "customer_id": ["a", "a", "b", "c", "a"],
        "order_date": pd.to_datetime(
            ["2024-01-05", "2024-03-01", "2024-02-01", "2024-02-10", "2024-04-01"]
        ),
        "revenue": [10.0, 20.0, 5.5, 7.0, 12.0],
    }
)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small workspace with orders and one experiment, closed."""
    folder = tmp_path_factory.mktemp("notebook") / "ws"
    with Workspace.init(folder, timezone="UTC", currency="USD") as ws:
        ws.load("orders", ORDERS)
        ws.create_experiment("test", start="2024-04-02")
    return folder


@pytest.fixture
def copy(shop: Path, tmp_path: Path) -> Iterator[Path]:
    yield Path(shutil.copytree(shop, tmp_path / "ws"))


@pytest.mark.parametrize(
    "write",
    [
        lambda ws: ws.load("orders", ORDERS),
        lambda ws: ws.publish(),
        lambda ws: ws.predict(store=True),
        lambda ws: ws.close_quarantine(note="gone", table="orders"),
        lambda ws: ws.create_experiment("second", start="2024-04-02"),
        lambda ws: ws.delete_experiment("test"),
    ],
    ids=["load", "publish", "predict", "close_quarantine", "create", "delete"],
)
def test_a_read_only_workspace_refuses_writes_in_its_words(copy: Path, write) -> None:
    with Workspace.open(copy, read_only=True) as ws:
        with pytest.raises(WorkspaceError, match="open read-only"):
            write(ws)
        # nothing changed on the way: the experiment's record is still in the store
        assert [e["name"] for e in ws.experiments()] == ["test"]
        assert ws.experiment_assignments("test").count().execute() > 0


def test_a_read_only_delete_leaves_the_store_whole(copy: Path) -> None:
    with Workspace.open(copy, read_only=True) as ws, pytest.raises(WorkspaceError):
        ws.delete_experiment("test")
    with Workspace.open(copy) as ws:
        assert registry.find(ws.store, "test")["name"] == "test"


@pytest.mark.filterwarnings("ignore::patron.errors.ConvergenceWarning")  # three customers
def test_a_read_only_workspace_reads(copy: Path) -> None:
    with Workspace.open(copy, read_only=True) as ws:
        assert ws.read_only
        assert ws.kpis()["customers_total"] == 3
        assert ws.predict().count().execute() == 3  # scored, not stored
        assert ws.segments().count().execute() == 3
        assert ws.analyze_experiment("test")["variants"]


def test_repr_names_the_folder_warehouse_and_state(copy: Path) -> None:
    ws = Workspace.open(copy, read_only=True)
    assert (
        repr(ws)
        == f"<patron.Workspace {str(copy)!r} warehouse='duckdb://warehouse.duckdb' read-only>"
    )
    ws.close()
    assert ws.closed
    assert repr(ws).endswith("read-only closed>")


def test_a_closed_workspace_does_not_read_its_store(copy: Path) -> None:
    ws = Workspace.open(copy)
    assert ws.experiments()  # the store opened
    ws.close()
    with pytest.raises(WorkspaceError, match="closed"):
        ws.experiments()
    fresh = Workspace.open(copy)
    fresh.close()
    with pytest.raises(WorkspaceError, match="closed"):
        fresh.experiments()  # never opened before the close


@pytest.mark.parametrize("missing", [pd.NaT, pd.Timestamp("NaT")])
def test_a_missing_day_is_an_input_error(copy: Path, missing: pd.Timestamp) -> None:
    """``as_of=df.order_date.max()`` of an empty frame is NaT, a datetime that is no day:
    it ran every metric and answered ``"as_of": "NaT"``."""
    with (
        Workspace.open(copy, read_only=True) as ws,
        pytest.raises(InputError, match="as_of is missing"),
    ):
        ws.kpis(as_of=missing)


@pytest.mark.parametrize(
    "day", [date(2024, 3, 1), "2024-03-01", pd.Timestamp("2024-03-01 15:00"), "2024-03-01T08:00"]
)
def test_days_as_dates_timestamps_and_text_agree(copy: Path, day: date | str) -> None:
    with Workspace.open(copy, read_only=True) as ws:
        assert ws.kpis(as_of=day)["as_of"] == "2024-03-01"


def test_opening_while_another_process_reads_says_how_to_read(copy: Path) -> None:
    held = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, patron; ws = patron.Workspace.open(sys.argv[1], read_only=True); "
            "print('held', flush=True); sys.stdin.read()",
            str(copy),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert held.stdout is not None and held.stdout.readline().strip() == "held"
        with pytest.raises(WorkspaceError) as caught:
            Workspace.open(copy)
        assert "read_only=True" in str(caught.value)
        assert "-readonly" not in str(caught.value)  # DuckDB's shell flag
        with Workspace.open(copy, read_only=True) as ws:
            assert ws.kpis()["customers_total"] == 3
    finally:
        held.communicate("")


def test_the_errors_and_read_only_are_documented() -> None:
    for name in ("InputError", "WorkspaceError", "NotFoundError"):
        assert name in (patron.__doc__ or "")
    assert "read_only" in (Workspace.open.__doc__ or "")
    assert "window" in (Workspace.kpis.__doc__ or "") and "by" in (Workspace.kpis.__doc__ or "")
    assert Workspace.close.__doc__


def test_tab_completion_offers_the_lazy_names() -> None:
    """``patron.<Tab>`` in a notebook lists ``dir(patron)``, which missed ``Workspace``."""
    assert {"Workspace", "LoadResult", "InputError"} <= set(dir(patron))


def test_python_users_are_told_of_penalizer_not_a_flag(copy: Path) -> None:
    """Three customers pin nothing down; the warning told Python users to "pass --penalizer"."""
    with Workspace.open(copy) as ws, pytest.warns(Warning) as caught:
        ws.predict(store=False)
    said = " ".join(str(w.message) for w in caught)
    assert "pass penalizer" in said and "--penalizer" not in said


@pytest.mark.parametrize("values", [pd.Series([1, 2]), pd.Index([1, 2])], ids=["series", "index"])
def test_a_column_alone_is_refused_in_words(copy: Path, values: object) -> None:
    """A pandas Series gave pyarrow's "Cannot import schema: ArrowSchema describes non-struct
    type int64"."""
    import pyarrow as pa

    with Workspace.open(copy) as ws:
        for column in (values, pa.array([1, 2])):
            with pytest.raises(InputError, match=r"cannot load a .*; pass a file path"):
                ws.load("orders", column)
