"""The sample as a data scientist uses it: any size, any folder, the same bytes in any process,
and the generating parameters recovered by patron's own models from the loaded files.

Recovery tolerances are the fits' standard errors (Fisher information at this sample size):
3.5 of them per parameter, so the seven parameters raise a false alarm for about 0.3% of seeds.
"""

from __future__ import annotations

import csv
import hashlib
from datetime import date
from pathlib import Path

import pytest

from cli_support import patron
from patron import Workspace
from patron.errors import InputError
from patron.models import BetaGeoModel
from patron.samples import cdnow, synthetic
from patron.samples.synthetic import params
from patron.transactions import summary_from_transactions

PEOPLE, SEED = 4_000, 21
END = date(2024, 12, 31)
KINDS = ("customer_id", "email", "phone", "loyalty_id")
TABLES = {"products": "products", "customers": "customers", "orders": "orders"}
TABLES |= {"lines": "order_lines", "events": "events"}


def _hashes(paths: dict[str, Path]) -> dict[str, str]:
    return {k: hashlib.sha256(p.read_bytes()).hexdigest() for k, p in paths.items()}


def _truth(paths: dict[str, Path]) -> list[dict[str, str]]:
    with paths["truth"].open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _load(folder: Path, paths: dict[str, Path], tables: dict[str, str]) -> Workspace:
    """A New York workspace holding the sample's ``tables``, every row loaded."""
    ws = Workspace.init(folder, timezone="America/New_York", phone_region="US")
    for table, name in tables.items():
        result = ws.load(table, paths[name])
        assert (result.quarantined, result.conflicts) == (0, 0), (name, ws.quarantine(limit=3))
    return ws


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, list[dict[str, str]]]:
    folder = tmp_path_factory.mktemp("shop")
    paths = synthetic.generate(folder / "data", customers=PEOPLE, seed=SEED)
    return _load(folder / "ws", paths, {"orders": "orders"}), _truth(paths)


@pytest.mark.parametrize(("people", "seed"), [(1, 6), (1, 11), (2, 4), (3, 12), (10, 0)])
def test_tiny_samples_generate_and_load_completely(tmp_path: Path, people: int, seed: int) -> None:
    """These seeds give nobody a CRM profile or an event: writing an empty column of times
    crashed with numpy's "zero-size array to reduction operation maximum". A file with no rows is
    a bare header, which ``patron load`` refuses by name, so it is left out."""
    paths = synthetic.generate(tmp_path / "data", customers=people, seed=seed)
    truth = _truth(paths)
    assert len(truth) == people
    filled = {t: n for t, n in TABLES.items() if paths[n].read_text().count("\n") > 1}
    ws = _load(tmp_path / "ws", paths, filled)
    assert ws.status()["orders"] == sum(int(p["n_orders"]) for p in truth)


def test_out_that_is_a_file_is_refused_with_what_to_do(tmp_path: Path) -> None:
    taken = tmp_path / "orders.csv"
    taken.write_text("mine\n")
    with pytest.raises(InputError, match="is a file, not a folder"):
        synthetic.generate(taken, customers=5)
    with pytest.raises(InputError, match="cannot create the folder"):
        cdnow.write_orders(taken / "below", sample=True)
    assert taken.read_text() == "mine\n"
    result = patron("sample", "synthetic", "--out", "orders.csv", "--customers", "5", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr


def test_a_users_own_files_are_never_replaced(tmp_path: Path) -> None:
    """Only files the sample wrote (its header on the first line) are replaced: pointing --out
    at a shop's export folder overwrote its orders.csv and customers.csv without a word."""
    theirs = tmp_path / "customers.csv"
    theirs.write_text("id,name\n1,Sara\n")
    with pytest.raises(InputError, match=r"customers\.csv.*not from an earlier run of this sample"):
        synthetic.generate(tmp_path, customers=5)
    with pytest.raises(InputError, match=r"orders\.csv.*not from an earlier run of this sample"):
        cdnow.write_orders(synthetic.generate(tmp_path / "s", customers=5)["orders"].parent)
    assert theirs.read_text() == "id,name\n1,Sara\n"
    assert not (tmp_path / "orders.csv").exists()


def test_a_second_run_into_the_same_folder_replaces_the_sample(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("kept\n")
    synthetic.generate(tmp_path, customers=40, seed=1)
    again = synthetic.generate(tmp_path, customers=30, seed=2)
    assert _hashes(again) == _hashes(synthetic.generate(tmp_path / "fresh", customers=30, seed=2))
    assert (tmp_path / "notes.txt").read_text() == "kept\n"


def test_same_bytes_in_other_processes_whatever_the_hash_seed(tmp_path: Path) -> None:
    here = _hashes(synthetic.generate(tmp_path / "here", customers=300, seed=9))
    for salt in ("0", "1"):
        args = ("sample", "synthetic", "--out", salt, "--customers", "300", "--seed", "9")
        assert patron(*args, cwd=tmp_path, env={"PYTHONHASHSEED": salt}).returncode == 0
        assert _hashes({k: tmp_path / salt / f"{k}.csv" for k in here}) == here


def _person_of_customer(ws: Workspace, truth: list[dict[str, str]]) -> dict[int, str]:
    """Each customer key's person, through the truth's identifiers (unlinked people own several
    keys: the truth unites what the files could not)."""
    rows = ws.table("identities").select("identifier_type", "value", "customer_key").to_pyarrow()
    key = {(r["identifier_type"], r["value"]): r["customer_key"] for r in rows.to_pylist()}
    return {key[(k, p[k])]: p["person_id"] for p in truth for k in KINDS if (k, p[k]) in key}


def test_bgnbd_recovers_the_purchase_and_dropout_parameters(
    shop: tuple[Workspace, list[dict[str, str]]],
) -> None:
    """Per person (the truth uniting unlinked people's customers), patron's summary of the loaded
    orders and its BG/NBD fit find the generating r, alpha, a, b. Per customer they do not: an
    unlinked person's pieces look like extra light buyers (50,000 people, seed 7: r 0.232 +- 0.002
    against 0.25; per person 0.2496 +- 0.0025)."""
    ws, truth = shop
    occasions = ws.sales().occasions.select("customer_key", "order_date").to_pandas()
    occasions["person"] = occasions["customer_key"].map(_person_of_customer(ws, truth))
    assert occasions["person"].notna().all()
    summary = summary_from_transactions(
        occasions, customer="person", when="order_date", calibration_end=END, time_unit="day"
    )
    assert len(summary) == PEOPLE
    fit = BetaGeoModel().fit(summary["frequency"], summary["recency"], summary["T"])
    planted = {
        "r": params.RATE_SHAPE,
        "alpha": params.RATE_ALPHA,
        "a": params.DROPOUT_A,
        "b": params.DROPOUT_B,
    }
    for name, value in planted.items():
        assert abs(fit.params_[name] - value) < 3.5 * fit.std_errors_[name], name


def test_gamma_gamma_recovers_the_spend_parameters(
    shop: tuple[Workspace, list[dict[str, str]]],
) -> None:
    ws, _ = shop
    fit = ws.fit("gg")
    planted = {"p": params.SPEND_P, "q": params.SPEND_Q, "gamma": params.SPEND_GAMMA}
    for name, value in planted.items():
        assert abs(fit.params_[name] - value) < 3.5 * fit.std_errors_[name], name


def test_the_last_email_campaign_went_only_to_customers_with_consent(tmp_path: Path) -> None:
    """A store's phone-only second profile wrote email_consent "false" for want of an email,
    and as the latest word it overruled the signup's "true": customers the sample's email tool
    mailed showed no consent (445 of the demo's last campaign). Only an unsubscribe or a
    bounce may leave a mailed customer without consent now."""
    paths = synthetic.generate(tmp_path / "data", customers=3_000, seed=SEED)
    tables = {"orders": "orders", "customers": "customers", "events": "events"}
    ws = _load(tmp_path / "ws", paths, tables)
    mailed = ws.warehouse.duckdb.sql(
        """WITH last AS (SELECT max(campaign_id) AS id FROM events WHERE type = 'email_sent'),
        sent AS (SELECT DISTINCT customer_key FROM events JOIN last ON campaign_id = last.id
                 WHERE type = 'email_sent'),
        gone AS (SELECT DISTINCT customer_key FROM events
                 WHERE type IN ('email_unsubscribe', 'email_bounce'))
        SELECT email_consent, customer_key IN (FROM gone) AS gone, count(*) AS n
        FROM sent JOIN customers USING (customer_key) GROUP BY ALL"""
    ).fetchall()
    assert sum(n for consent, _, n in mailed if consent) > 500
    assert [gone for consent, gone, _ in mailed if not consent] in ([], [True])
    ws.close()
