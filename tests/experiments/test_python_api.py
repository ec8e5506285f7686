"""Experiments from a notebook: the values an analyst hands over (numpy numbers, paths, lists,
data frames, dicts) work as meant or are refused in one line naming the parameter, and one bad
row in the store never breaks the listing of the others."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from patron import InputError, Workspace
from patron.errors import PatronWarning
from patron.experiments.analyze import Question
from patron.experiments.imported import read_assignments
from patron.experiments.readout import Settings

PEOPLE = 120
START = "2024-07-01"
EMAILS = [f"p{i}@shop.test" for i in range(PEOPLE)]


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """A shop whose customers bought from June to August and opened or clicked an email in
    July."""
    folder = tmp_path_factory.mktemp("api")
    workspace = Workspace.init(folder / "ws", timezone="UTC")
    days = [datetime(2024, 6 + i % 3, 1 + i % 28, 10) for i in range(PEOPLE)]
    orders = {"order_id": [f"o{i}" for i in range(PEOPLE)], "email": EMAILS, "ordered_at": days}
    workspace.load("orders", pd.DataFrame({**orders, "revenue": 20.0}), now=datetime(2025, 1, 1))
    events = {
        "email": EMAILS,
        "occurred_at": [datetime(2024, 7, 2 + i % 20, 9) for i in range(PEOPLE)],
        "type": ["email_open" if i % 3 else "email_click" for i in range(PEOPLE)],
    }
    workspace.load("events", pd.DataFrame(events), now=datetime(2025, 1, 1))
    yield workspace
    workspace.close()


@pytest.fixture
def created(ws: Workspace) -> Iterator[list[str]]:
    """Names of experiments a test creates, deleted after it."""
    names: list[str] = []
    yield names
    for name in names:
        ws.delete_experiment(name)


def create(ws: Workspace, created: list[str], name: str, **options: object) -> dict[str, object]:
    created.append(name)
    return ws.create_experiment(name, start=START, **options)  # type: ignore[arg-type]


def test_a_numpy_window_is_stored_as_a_number(ws: Workspace, created: list[str]) -> None:
    create(ws, created, "numpy", window=np.int64(14), holdout=np.float64(0.1))
    [listed] = ws.experiments()
    assert listed["window_days"] == 14 and type(listed["window_days"]) is int
    assert type(listed["holdout"]) is float


def test_an_unreadable_row_hides_no_other_experiment(ws: Workspace, created: list[str]) -> None:
    create(ws, created, "good")
    create(ws, created, "bad")
    with ws.store.engine.begin() as conn:  # what a numpy window was stored as before the fix
        conn.execute(
            sa.text("UPDATE experiments SET window_days = :blob WHERE name = 'bad'"),
            {"blob": np.int64(14).tobytes()},
        )
    with pytest.warns(PatronWarning, match="experiment 'bad' cannot be read from the store"):
        assert [e["name"] for e in ws.experiments()] == ["good"]
    with pytest.raises(InputError, match=r"'bad' cannot be read.*window must be a whole number"):
        ws.analyze_experiment("bad")
    ws.delete_experiment(created.pop())
    assert [e["name"] for e in ws.experiments()] == ["good"]


def test_an_audience_may_be_a_path_a_list_or_a_data_frame(
    ws: Workspace, created: list[str], tmp_path: Path
) -> None:
    file = tmp_path / "audience.csv"
    file.write_text("email\n" + "\n".join(EMAILS[:30]) + "\n")
    by_path = create(ws, created, "by-path", audience=file)
    assert (by_path["audience"], by_path["audience_size"]) == (str(file), 30)
    by_list = create(ws, created, "by-list", audience=[*EMAILS[:20], "nobody@shop.test"])
    assert by_list["audience_size"] == 20 and by_list["unmatched"] == 1
    frame = pd.DataFrame({"email": EMAILS[:10], "note": "vip"})
    by_frame = create(ws, created, "by-frame", audience=frame)
    assert (by_frame["audience"], by_frame["audience_size"]) == ("<DataFrame>", 10)
    with pytest.raises(InputError, match="audience must be a segment, 'all', a file"):
        ws.create_experiment("by-number", audience=7, start=START)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "variants", [{"control": np.int64(1), "treatment": 3}, ["control", "treatment"]]
)
def test_variants_may_be_a_mapping_or_names(
    ws: Workspace, created: list[str], variants: object
) -> None:
    summary = create(ws, created, "split", variants=variants)
    weights = [1, 3] if isinstance(variants, dict) else [1, 1]
    shares = [g["share"] for g in summary["groups"]]  # type: ignore[attr-defined]
    assert shares == pytest.approx([w / sum(weights) for w in weights])


@pytest.mark.parametrize(
    ("metric", "message"),
    [
        ("event:EMAIL_open", "no event has type 'EMAIL_open' (did you mean 'email_open'?)"),
        ("event:emial_click", "(did you mean 'email_click'?); the event types are email_click"),
    ],
)
def test_an_event_type_the_warehouse_lacks_is_refused(
    ws: Workspace, created: list[str], metric: str, message: str
) -> None:
    create(ws, created, "events")
    with pytest.raises(InputError) as refused:
        ws.analyze_experiment("events", question=Question(metric=metric))
    assert message in str(refused.value)
    opened = ws.analyze_experiment("events", question=Question(metric="event:email_open"))
    assert sum(v["mean"] * v["n"] for v in opened["variants"]) == 80  # two in three opened


def test_a_readout_of_numpy_settings_is_plain_json(ws: Workspace, created: list[str]) -> None:
    create(ws, created, "plain", window=np.int32(30))
    asked = Question(
        window_days=np.int64(20),
        pre_days=np.int16(90),
        horizon_days=np.int64(60),
        settings=Settings(alpha=np.float32(0.1), sequential=True, planned_n=np.int64(500)),
    )
    readout = ws.analyze_experiment("plain", question=asked)
    assert json.loads(json.dumps(readout)) == readout
    assert (readout["window_days"], readout["horizon_days"]) == (20, 60)
    assert readout["sequential"]["planned_n"] == 500 and type(readout["alpha"]) is float


def test_assignments_may_be_a_data_frame_but_not_beside_a_name(
    ws: Workspace, created: list[str], tmp_path: Path
) -> None:
    frame = pd.DataFrame({"email": EMAILS, "variant": ["a", "b"] * (PEOPLE // 2)})
    file = tmp_path / "assignments.csv"
    frame.to_csv(file, index=False)
    asked = Question(window_days=30)
    from_frame = ws.analyze_experiment(assignments_file=frame, start=START, question=asked)
    from_file = ws.analyze_experiment(assignments_file=file, start=START, question=asked)
    assert from_frame["variants"] == from_file["variants"] and from_frame["unmatched"] == 0
    create(ws, created, "named")
    with pytest.raises(InputError, match="not both"):
        ws.analyze_experiment("named", assignments_file=file, start=START)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Question(window_days=0), "window_days must be at least 1 day, got 0"),
        (lambda: Question(window_days=-3), "window_days must be at least 1 day, got -3"),
        (lambda: Question(horizon_days=0), "horizon_days must be at least 1 day, got 0"),
        (lambda: Question(pre_days=2.5), "pre_days must be a whole number"),
        (lambda: Settings(mde=-1), "mde must be a positive relative change"),
        (lambda: Settings(mde=0), "mde must be a positive relative change"),
        (lambda: Settings(alpha=1.5), "alpha must be between 0 and 1"),
        (lambda: Settings(sequential=True, planned_n=0), "planned_n must be a positive number"),
        (lambda: Settings(planned_n=1.5), "planned_n must be a whole number"),
    ],
)
def test_questions_and_settings_out_of_range_are_refused(make: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        make()  # type: ignore[operator]


def test_imported_exposure_times_are_the_shops_whatever_ran_before(tmp_path: Path) -> None:
    # orders at 22:00 on 30 June in New York (02:00 UTC on 1 July) come before an exposure at
    # New York's midnight, after one at UTC's: the file's text times are the shop's, in a
    # fresh session (where Ibis had set the engine's timezone to UTC) as after a load
    shop, people = tmp_path / "ws", EMAILS[:4]
    with Workspace.init(shop, timezone="America/New_York") as ws:
        orders = {"order_id": [f"o{i}" for i in range(4)], "email": people, "revenue": 20.0}
        late = [datetime(2024, 6, 30, 22)] * 4  # naive: the shop's time, as loads read it
        ws.load("orders", pd.DataFrame({**orders, "ordered_at": late}), now=datetime(2025, 1, 1))
        ws.load("events", pd.DataFrame({"email": people, "type": "x", "occurred_at": late}))
        later = {"order_id": ["o9"], "email": ["later@shop.test"], "revenue": 5.0}
        ws.load("orders", pd.DataFrame({**later, "ordered_at": [datetime(2024, 7, 2, 9)]}))
    sent = {"email": people, "variant": list("abab"), "assigned_at": "2024-07-01 00:00:00"}
    question = Question(metric="orders", window_days=3)

    def readout(ws: Workspace) -> list[float]:
        found = ws.analyze_experiment(assignments_file=pd.DataFrame(sent), question=question)
        return [v["mean"] for v in found["variants"]]

    with Workspace.open(shop) as fresh:
        first = readout(fresh)
    with Workspace.open(shop) as loaded:
        loaded.load("events", pd.DataFrame({"email": people, "type": "y", "occurred_at": late}))
        assert readout(loaded) == first == [0.0, 0.0]  # the 22:00 orders came before exposure


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_exported_assignments_read_back_at_the_same_instants(tmp_path: Path, suffix: str) -> None:
    with Workspace.init(tmp_path / "ws", timezone="America/New_York") as ws:
        orders = {"order_id": ["o0", "o1"], "email": EMAILS[:2], "revenue": 20.0}
        ws.load("orders", pd.DataFrame({**orders, "ordered_at": [datetime(2024, 6, 1)] * 2}))
        ws.create_experiment("nyc", audience="all", start="2024-07-01")
        out = tmp_path / f"nyc.{suffix}"
        ws.export_assignments("nyc", out)
        back = read_assignments(
            ws.warehouse, out, phone_region="US", timezone="America/New_York",
            start=None, weights=None, baseline=None,
        )  # fmt: skip
        stored = ws.experiment_assignments("nyc").assigned_at.execute().tolist()
        assert back.table.assigned_at.execute().tolist() == stored
        assert str(stored[0]) == "2024-07-01 04:00:00"  # New York's midnight, in UTC


def test_a_test_with_a_holdout_is_read_back_with_its_shares(
    ws: Workspace, created: list[str], tmp_path: Path
) -> None:
    # 10/45/45: read back with equal shares it fails the sample ratio check; its own pass
    create(ws, created, "held", audience="all", holdout=0.1)
    ws.export_assignments("held", tmp_path / "held.csv")
    shares = "holdout:10,control:45,treatment:45"
    back = ws.analyze_experiment(assignments_file=tmp_path / "held.csv", variants=shares)
    assert back["decision"] != "srm_failed"
    assert back["srm_p_value"] == ws.analyze_experiment("held")["srm_p_value"]
    equal = ws.analyze_experiment(assignments_file=tmp_path / "held.csv")
    assert equal["decision"] == "srm_failed"
    with pytest.raises(InputError, match="not 'holdout'"):
        ws.create_experiment("held2", variants=shares, start=START)
