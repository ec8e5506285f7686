"""The files patron writes for other tools (an email tool, a spreadsheet, a notebook): money in
the workspace currency's decimals, the same columns however a command was run, the same
``--json`` key for the file written, and a file that cannot be written refused before a
command changes anything. One small synthetic shop, loaded in a dollar, a yen and a Kuwaiti
dinar workspace."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from cli_support import ok, patron, patron_here
from patron import Workspace
from patron.predictions import MONEY

PLACES = {"usd": 2, "jpy": 0, "kwd": 3}
"""Each workspace's currency decimals (:func:`patron.money.decimals`)."""
FILES = {"orders": "orders.csv", "lines": "order_lines.csv", "products": "products.csv"}


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A folder with workspaces ``usd``, ``jpy`` and ``kwd``: the same 300 synthetic customers'
    orders, order lines and products (amounts count in each workspace's currency); ``usd``
    has their CRM records and events (consent, unsubscribes) too."""
    root = tmp_path_factory.mktemp("outputs")
    sample = ("sample", "synthetic", "--out", "data", "--customers", "300", "--seed", "1")
    ok(patron_here(*sample, cwd=root))
    for name in PLACES:
        ok(patron_here("init", name, "--currency", name.upper(), cwd=root))
        for table, file in FILES.items():
            ok(patron_here("-w", name, "load", table, f"data/{file}", cwd=root))
    for table in ("customers", "events"):
        ok(patron_here("-w", "usd", "load", table, f"data/{table}.csv", cwd=root))
    yield root
    shutil.rmtree(root, ignore_errors=True)


def _places(values: pd.Series) -> int:
    """The most decimals any of ``values`` has, as a spreadsheet would show them."""
    return max(len(f"{v:.12g}".partition(".")[2]) for v in values.dropna())


@pytest.mark.parametrize("ws", list(PLACES))
def test_predict_out_writes_money_in_the_currencys_decimals(shop: Path, ws: str) -> None:
    """``patron predict --out`` wrote every money column as the model computed it: a mean
    spend of 74.35166666666667 dollars, a yen's CLV of 126.19963304303572, and the JSON's
    customer equity 12944.760289383556, where patron writes money with its currency's
    decimals (cents, none for a yen, mills for a dinar)."""
    args = ("-w", ws, "predict", "--no-store", "--out", f"{ws}.csv", "--json")
    report = ok(patron_here(*args, cwd=shop))
    written = pd.read_csv(shop / f"{ws}.csv")
    assert {column: _places(written[column]) for column in MONEY} == dict.fromkeys(
        MONEY, PLACES[ws]
    )
    assert report["currency"] == ws.upper()
    for total in ("customer_equity", "customer_equity_low", "customer_equity_high"):
        assert report[total] == round(report[total], PLACES[ws]) > 0


def test_predict_out_has_the_same_columns_stored_or_not(shop: Path) -> None:
    """A stored run's file had a ``load`` column (the warehouse's bookkeeping of which load
    it scored after) that a ``--no-store`` run's lacked: the email tool's import mapping for
    the file broke with the option. CSV and Parquet name the same columns too."""
    names = {}
    for store in ("--store", "--no-store"):
        for suffix in ("csv", "parquet"):
            out = f"p{store}.{suffix}"
            ok(patron_here("-w", "usd", "predict", store, "--out", out, cwd=shop))
            path = shop / out
            names[out] = (
                pq.read_schema(path).names
                if suffix == "parquet"
                else pd.read_csv(path, nrows=0).columns.tolist()
            )
    assert "load" not in names["p--store.csv"]
    assert len({tuple(columns) for columns in names.values()}) == 1, names


def test_predict_out_into_a_blocked_folder_keeps_the_stored_predictions(shop: Path) -> None:
    """``patron predict --as-of D --out blocked/p.csv``, with a file named ``blocked`` in the
    way, scored and replaced the stored predictions, then failed on the folder: the error
    said nothing was written, yet segments and exports had lost the earlier day's scores."""
    ok(patron_here("-w", "usd", "predict", "--as-of", "2024-12-31", cwd=shop))
    (shop / "blocked").write_text("a file, not a folder\n")
    args = ("-w", "usd", "predict", "--as-of", "2024-06-30", "--out", "blocked/p.csv")
    result = patron_here(*args, cwd=shop)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: cannot write blocked/p.csv: blocked is a file, not a folder"
    ]
    with Workspace.open(shop / "usd", read_only=True) as ws:
        assert ws.predictions_as_of("2024-12-31") is not None


def test_every_command_names_the_file_it_wrote_out(shop: Path) -> None:
    """``patron offers --json`` named the file it wrote ``file`` (and the insights' ``--out``
    their ``written`` entry's), where ``predict``, ``export customers``, ``experiment assign``
    and ``report`` say ``out``: a script reading one key found None for some commands. The
    real command, for offers."""
    offers = ok(patron("-w", "usd", "offers", "--out", "offers.csv", "--json", cwd=shop))
    timing = ("-w", "usd", "insights", "timing", "--out", "next.csv", "--json")
    written = ok(patron_here(*timing, cwd=shop))["written"]
    export = ("-w", "usd", "export", "customers", "--out", "c.parquet", "--json")
    customers = ok(patron_here(*export, cwd=shop))
    assert (offers["out"], written["out"], customers["out"]) == (
        "offers.csv",
        "next.csv",
        "c.parquet",
    )
    assert "file" not in offers and "file" not in written
    assert offers["customers"] == len(pd.read_csv(shop / "offers.csv"))
    assert written["rows"] == len(pd.read_csv(shop / "next.csv"))


@pytest.mark.parametrize("ws", ["jpy", "kwd"])
def test_offers_write_values_in_the_currencys_decimals(shop: Path, ws: str) -> None:
    """``patron offers`` cut ``usual_value`` and ``stretch_value`` to cents whatever the
    currency: a yen shop's offers said a usual basket of 35.6 yen, a dinar shop's lost the
    mills of 1.235 dinars."""
    ok(patron_here("-w", ws, "offers", "--out", f"offers-{ws}.csv", cwd=shop))
    offers = pd.read_csv(shop / f"offers-{ws}.csv")
    assert _places(offers.usual_value) == _places(offers.stretch_value) == PLACES[ws]


def test_offers_name_each_customer_as_an_email_tool_knows_them(shop: Path) -> None:
    """``patron offers``, "written for the email tool", gave each offer patron's own
    ``customer_key`` alone: no email tool could match a row to a profile, nor tell who had
    opted out, without a join against ``export customers`` first. It now carries
    ``customer_id``, ``email`` and ``email_consent`` as ``customers`` has them."""
    ok(patron_here("-w", "usd", "offers", "--out", "offers.parquet", cwd=shop))
    offers = pq.read_table(shop / "offers.parquet").to_pandas()
    named = ["customer_key", "customer_id", "email", "email_consent"]
    assert offers.columns[:4].tolist() == named
    with Workspace.open(shop / "usd", read_only=True) as ws:
        people = ws.table("customers").select(*named).to_pandas()
    known = offers[named].merge(people, on="customer_key", suffixes=("", "_known"))
    assert len(known) == len(offers) and offers.email.notna().any()
    assert set(offers.email_consent.dropna()) == {True, False}
    for name in named[1:]:
        assert known[name].astype(str).tolist() == known[f"{name}_known"].astype(str).tolist()
    assert offers.customer_key.is_monotonic_increasing


@pytest.mark.parametrize("ws", list(PLACES))
def test_discount_scores_file_writes_averages_in_the_currencys_decimals(
    shop: Path, ws: str
) -> None:
    """``patron insights discount --out`` wrote each customer's average order values as the
    engine divided them: a full-price AOV of 27.654444444444444 dollars (and of yen with
    cents) in a file meant for a spreadsheet."""
    args = ("-w", ws, "insights", "discount", "--out", f"discount-{ws}.csv", "--json")
    assert ok(patron_here(*args, cwd=shop))["written"]["rows"] > 0
    scores = pd.read_csv(shop / f"discount-{ws}.csv")
    assert _places(scores.full_price_aov) == _places(scores.discounted_aov) == PLACES[ws]


def test_a_file_written_again_keeps_its_permissions(shop: Path) -> None:
    """A customer export the user had made private (``chmod 600``: emails and phones inside)
    came back readable by everyone (0644) after the next run: the file written beside it
    replaced it with a new file's permissions."""
    for out in ("private.csv", "private.parquet"):
        (shop / out).write_text("old\n")
        (shop / out).chmod(0o600)
        ok(patron_here("-w", "usd", "offers", "--out", out, cwd=shop))
        assert (shop / out).stat().st_mode & 0o777 == 0o600
        assert (shop / out).stat().st_size > 100


def test_the_refill_due_list_names_each_customer_as_an_email_tool_knows_them(
    tmp_path: Path,
) -> None:
    """``patron insights replenishment --due-within D --out due.csv``, the list for a refill
    reminder, gave patron's own ``customer_key`` alone: an email tool could not tell whom to
    remind, nor who had opted out. Six customers buy the same refill every 30 days."""
    orders, lines = ["order_id,email,ordered_at,revenue"], ["order_id,sku,quantity,unit_price"]
    for i in range(6):
        for n, day in enumerate((i * 3, i * 3 + 30, i * 3 + 60)):
            when = pd.Timestamp("2024-01-01") + pd.Timedelta(days=day)
            orders.append(f"o{i}-{n},c{i}@x.com,{when.date()} 10:00:00,9.90")
            lines.append(f"o{i}-{n},REFILL,1,9.90")
    (tmp_path / "orders.csv").write_text("\n".join(orders) + "\n")
    (tmp_path / "lines.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "crm.csv").write_text("email,email_consent\nc0@x.com,false\nc1@x.com,true\n")
    ok(patron_here("init", "ws", cwd=tmp_path))
    for table, file in (("orders", "orders.csv"), ("lines", "lines.csv"), ("customers", "crm.csv")):
        ok(patron_here("-w", "ws", "load", table, file, cwd=tmp_path))
    args = ("insights", "replenishment", "--due-within", "30", "--out", "due.csv", "--json")
    assert ok(patron_here("-w", "ws", *args, cwd=tmp_path))["written"]["rows"] == 6
    due = pd.read_csv(tmp_path / "due.csv")
    assert due.columns[:4].tolist() == ["customer_key", "customer_id", "email", "email_consent"]
    assert due.email.tolist() == [f"c{i}@x.com" for i in range(6)]  # by due date
    assert due.email_consent.tolist()[:2] == [False, True] and due.email_consent[2:].isna().all()


@pytest.mark.parametrize("ws", ["jpy", "kwd"])
def test_export_customers_writes_clv_in_the_currencys_decimals(shop: Path, ws: str) -> None:
    """``export customers`` cut the stored CLV and its band to cents in every currency: a yen
    shop's file read 126.2 yen, a dinar shop's lost its mills."""
    ok(patron_here("-w", ws, "predict", "--store", cwd=shop))
    ok(patron_here("-w", ws, "export", "customers", "--out", f"{ws}-customers.csv", cwd=shop))
    written = pd.read_csv(shop / f"{ws}-customers.csv")
    bands = ("clv", "clv_low", "clv_high")
    assert {c: _places(written[c]) for c in bands} == dict.fromkeys(bands, PLACES[ws])
