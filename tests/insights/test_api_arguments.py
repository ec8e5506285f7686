"""The insights' Python API reads what a notebook hands it: customer keys as integers, counts as
numpy integers, one category as a string; and results already taken stay usable after an
export."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from insights.support import sample_workspace
from patron import Workspace
from patron.errors import InputError

CATEGORY = "Grocery"


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    folder = tmp_path_factory.mktemp("api_arguments")
    tables = ("products", "customers", "orders", "lines")
    workspace, _ = sample_workspace(folder, customers=800, seed=5, tables=tables, clean=False)
    yield workspace
    workspace.close()


def test_a_customer_is_named_by_the_integer_key_tables_give(ws: Workspace) -> None:
    key = ws.table("order_lines").select("order_id").limit(1).execute()  # someone with lines
    order = ws.table("orders").filter(ws.table("orders").order_id == key.order_id[0])
    customer = int(order.customer_key.execute()[0])
    by_text = ws.insights.recommend(str(customer)).to_pyarrow()
    assert by_text.num_rows > 0
    assert ws.insights.recommend(np.int64(customer)).to_pyarrow().equals(by_text)


def test_one_category_to_exclude_is_one_category(ws: Workspace) -> None:
    categories = set(ws.table("products").category.execute().dropna())
    assert CATEGORY in categories
    one = ws.insights.offers(exclude_categories=CATEGORY).to_pyarrow()
    assert one.equals(ws.insights.offers(exclude_categories=[CATEGORY]).to_pyarrow())
    picked = ws.insights.recommend(exclude_categories=CATEGORY).to_pyarrow()
    assert CATEGORY not in set(picked.column("category").to_pylist())


def test_counts_may_be_numpy_integers_and_echo_as_python_ones(ws: Workspace) -> None:
    backtest = ws.insights.backtest(k=np.int64(5))
    assert backtest["k"] == 5 and type(backtest["k"]) is int
    json.dumps(backtest)  # a numpy integer echoed back would not serialize
    assert ws.insights.channels(window=np.int64(90)) == ws.insights.channels(window=90)
    assert ws.insights.profile(days=np.int64(90)) == ws.insights.profile(days=90)
    due = ws.insights.due(within=np.int64(14)).to_pyarrow()
    assert due.equals(ws.insights.due(within=14).to_pyarrow())


def test_fields_taken_before_an_export_still_read_after_it(ws: Workspace, tmp_path: Path) -> None:
    fields = ws.insights.customer_fields()
    before = fields.to_pyarrow()
    everyone = ws.table("customers").count().to_pyarrow().as_py()
    assert ws.export_customers(tmp_path / "customers.csv") == everyone
    assert fields.to_pyarrow().equals(before)
    ws.insights.release()  # the documented way to let them go


@pytest.mark.parametrize("segment", [["Champions", "Loyal"], {"stage": "first_time"}])
def test_a_segment_is_one_group_named_as_text(ws: Workspace, segment: object) -> None:
    with pytest.raises(InputError, match="segment must be one group as text"):
        ws.insights.timing(segment=segment)  # type: ignore[arg-type]
