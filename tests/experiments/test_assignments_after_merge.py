"""An experiment's assignments, exported after a merge, still reach every person.

Ann was assigned twice, once as her web account (email) and once as her store receipts
(phone); a later load linked the two and merged the younger key into the older. ``experiment
assign --out`` then listed the merged-away key with every identifier empty: the email tool
could not reach her under that row, though ``experiment analyze`` follows merges."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from cli_support import ok, patron_here
from patron import Workspace

ORDERS = """order_id,email,phone,ordered_at,revenue
W1,ann@example.com,,2024-03-01 10:00,40
S1,,+12125550143,2024-03-02 11:00,25
W2,bob@example.com,,2024-03-03 12:00,30
"""
LINK = (
    "order_id,email,phone,ordered_at,revenue\nA1,ann@example.com,+12125550143,2024-03-05 09:00,15\n"
)


def test_a_merged_away_key_keeps_its_row_with_its_survivors_identifiers(tmp_path: Path) -> None:
    (tmp_path / "orders.csv").write_text(ORDERS)
    (tmp_path / "link.csv").write_text(LINK)
    with Workspace.init(tmp_path / "ws") as ws:
        ws.load("orders", tmp_path / "orders.csv")
        ws.create_experiment("spring", start="2024-03-04", variants="a:50,b:50", salt="s")
        before = ws.experiment_assignments("spring").to_pandas()
        assert len(before) == 3
        assert ws.load("orders", tmp_path / "link.csv").merges == 1
        after = ws.experiment_assignments("spring").to_pandas()

    assert after.customer_key.tolist() == before.customer_key.tolist()  # as assigned
    assert after.variant.tolist() == before.variant.tolist()
    assert not after.email.isna().any()
    ann = after[after.email == "ann@example.com"]
    assert len(ann) == 2 and set(ann.phone) == {"+12125550143"}

    ok(patron_here("-w", "ws", "experiment", "assign", "spring", "--out", "a.csv", cwd=tmp_path))
    written = pd.read_csv(tmp_path / "a.csv", dtype=str)
    assert sorted(written.email) == ["ann@example.com", "ann@example.com", "bob@example.com"]
