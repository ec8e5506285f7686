"""Load the synthetic retailer and recover its generating truth: who is one person."""

from __future__ import annotations

import csv

import pytest

from patron import Workspace
from patron.samples import synthetic

TABLES = [
    ("products", "products.csv"),
    ("customers", "customers.csv"),
    ("orders", "orders.csv"),
    ("lines", "order_lines.csv"),
    ("events", "events.csv"),
]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, list[dict[str, str]]]:
    folder = tmp_path_factory.mktemp("synthetic")
    paths = synthetic.generate(folder / "data", customers=2_000, seed=11)
    ws = Workspace.init(folder / "ws", timezone="America/New_York", phone_region="US")
    for table, name in TABLES:
        result = ws.load(table, folder / "data" / name)
        assert result.quarantined == 0, ws.quarantine(limit=5)
    with paths["truth"].open(encoding="utf-8") as handle:
        return ws, list(csv.DictReader(handle))


def _keys_of(ws: Workspace, person: dict[str, str]) -> set[int]:
    keys = set()
    for kind in ("customer_id", "email", "phone", "loyalty_id"):
        if person[kind]:
            rows = ws.warehouse.duckdb.execute(
                "SELECT customer_key FROM identities WHERE identifier_type = ? AND value = ?",
                [kind, person[kind]],
            ).fetchall()
            keys.update(r[0] for r in rows)
    return keys


def test_linked_people_become_exactly_one_customer(loaded: tuple[Workspace, list]) -> None:
    ws, truth = loaded
    linked = [p for p in truth if p["linked"] == "true"]
    assert len(linked) > 0.8 * len(truth)
    assert all(len(_keys_of(ws, p)) == 1 for p in linked)


def test_no_customer_holds_two_people(loaded: tuple[Workspace, list]) -> None:
    ws, truth = loaded
    owner: dict[int, str] = {}
    for person in truth:
        for key in _keys_of(ws, person):
            assert owner.setdefault(key, person["person_id"]) == person["person_id"]


def test_customer_count_is_people_plus_unlinked_splits(loaded: tuple[Workspace, list]) -> None:
    ws, truth = loaded
    expected = sum(len(_keys_of(ws, p)) for p in truth)
    status = ws.status()
    assert status["customers"] == expected
    assert status["customers"] >= len(truth)
    assert status["blocked"][0]["value"] == "noreply@store.example"


def test_orders_per_person_match_the_truth(loaded: tuple[Workspace, list]) -> None:
    ws, truth = loaded
    counts = dict(
        ws.warehouse.duckdb.execute(
            "SELECT customer_key, count(*) FROM orders WHERE NOT is_return GROUP BY 1"
        ).fetchall()
    )
    linked = [p for p in truth if p["linked"] == "true"]
    matches = sum(counts.get(next(iter(_keys_of(ws, p))), 0) == int(p["n_orders"]) for p in linked)
    assert matches == len(linked)
