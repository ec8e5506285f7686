"""``patron fit`` end to end: the real CLI on the bundled CDNOW sample, loaded through the real
loader, reproduces the published BG/NBD fit; ``--summary`` fits a precomputed table.

A few calls run ``patron`` in a subprocess (fit, ``fit --summary``, validate); the set-up and the
other calls run the same app in this process (``patron_here``), without the start-up."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import ibis
import pyarrow as pa
import pyarrow.csv as pcsv
import pytest

from cli_support import ok, patron, patron_here
from patron import Workspace, clv
from patron.cli.models import _totals

PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}  # Fader, Hardie & Lee 2005


@pytest.fixture(scope="module")
def cdnow(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cdnow")
    ok(patron_here("sample", "cdnow", "--sample", "--out", "data", cwd=root))
    ok(patron_here("init", "ws", "--timezone", "UTC", cwd=root))
    ok(patron_here("-w", "ws", "load", "orders", "data/orders.csv", cwd=root))
    return root


def test_fit_on_the_workspace_reproduces_the_paper(cdnow: Path) -> None:
    args = ("-w", "ws", "fit", "--calibration-end", "1997-09-30", "--time-unit", "week", "--json")
    report = ok(patron(*args, cwd=cdnow))
    assert report["model"] == "bgnbd"
    assert report["params"] == pytest.approx(PUBLISHED, abs=5e-4)
    assert report["loglik"] == pytest.approx(-9582.4, abs=0.05)
    assert report["n_customers"] == 2357
    assert report["unique_rows"] < 2357  # customers with equal histories share a row
    assert set(report["std_errors"]) == set(PUBLISHED)
    assert (report["calibration_end"], report["time_unit"]) == ("1997-09-30", "week")


def test_fit_prints_a_table(cdnow: Path) -> None:
    text = ok(patron_here("-w", "ws", "fit", "--calibration-end", "1997-09-30", cwd=cdnow))
    assert "2,357 customers" in text and "-9,582.4" in text
    assert "alpha" in text and "4.414" in text


def test_fit_on_a_summary_file_with_counts(cdnow: Path) -> None:
    # the same customers as unique rows with a count column, as a warehouse export would give
    args = ("-w", "ws", "fit", "--calibration-end", "1997-09-30", "--json")
    report = ok(patron_here(*args, cwd=cdnow))
    summary = cdnow / "summary.csv"
    with Workspace.open(cdnow / "ws") as ws:
        s = ws.customer_summary(calibration_end=date(1997, 9, 30))
        pcsv.write_csv(clv.unique_rows(s), summary)
    again = ok(patron_here("fit", "--summary", str(summary), "--json", cwd=cdnow))
    assert again["params"] == pytest.approx(report["params"], rel=1e-6)
    assert again["n_customers"] == 2357


def test_fit_errors_are_one_line(cdnow: Path, tmp_path: Path) -> None:
    wrong = patron_here("-w", "ws", "fit", "--model", "bgnb", cwd=cdnow)
    assert wrong.returncode != 0 and "did you mean 'bgnbd'" in wrong.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text("frequency,recency\n1,2\n")
    missing = patron_here("fit", "--summary", str(bad), cwd=cdnow)
    assert missing.returncode != 0
    assert "missing column(s) T" in missing.stderr and "found frequency, recency" in missing.stderr
    early = patron_here("-w", "ws", "fit", "--calibration-end", "1990-01-01", cwd=cdnow)
    assert early.returncode != 0 and "no customers to fit on" in early.stderr


def test_gamma_gamma_on_the_workspace_reproduces_the_note(cdnow: Path) -> None:
    args = ("-w", "ws", "fit", "--model", "gg", "--calibration-end", "1997-09-30", "--json")
    report = ok(patron_here(*args, cwd=cdnow))
    # Fader & Hardie (2013): p = 6.25, q = 3.74, gamma = 15.44 on the 946 repeat customers
    assert report["params"] == pytest.approx({"p": 6.25, "q": 3.74, "gamma": 15.44}, abs=5e-3)
    assert report["n_customers"] == 946
    assert report["loglik"] == pytest.approx(-4055.92, abs=0.05)


def test_bgbb_on_the_donations_summary(cdnow: Path) -> None:
    # the file names its columns periods and weights: read as T and count
    donations = Path(__file__).parent / "fixtures" / "donations.csv"
    report = ok(patron("fit", "--model", "bgbb", "--summary", str(donations), "--json", cwd=cdnow))
    published = {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783}
    assert report["params"] == pytest.approx(published, abs=1e-3)
    assert report["loglik"] == pytest.approx(-33225.6, abs=0.05)
    assert report["n_customers"] == 11104


def test_bgbb_on_the_workspace_counts_whole_periods(cdnow: Path) -> None:
    args = ("-w", "ws", "fit", "--model", "bgbb", "--time-unit", "month", "--json")
    report = ok(patron_here(*args, "--calibration-end", "1997-09-30", cwd=cdnow))
    assert report["n_customers"] == 2357
    assert report["unique_rows"] < 100  # (x, t_x, n) in months: few distinct histories


def test_validate_prints_the_holdout_comparison(cdnow: Path) -> None:
    args = ("-w", "ws", "validate", "--calibration-end", "1997-09-30")
    report = ok(patron(*args, "--json", cwd=cdnow))
    assert report["holdout_end"] == "1998-06-30"  # default: the last purchase day
    assert [m["model"] for m in report["models"]] == ["bgnbd", "pnbd", "mbgnbd", "naive"]
    assert report["models"][0]["holdout_actual"] == 1882
    assert report["best"] in ("bgnbd", "pnbd", "mbgnbd")
    text = ok(patron_here(*args, cwd=cdnow))
    assert "2,357 customers; holdout 1997-09-30 to 1998-06-30 (39 weeks)" in text
    assert "7+" in text
    assert report["frequencies"][0]["actual"] == 1411  # customers without a repeat purchase
    counts = text[text.index("Customers by repeat purchases") :]
    assert "1,411" in counts and "1,408" in counts  # actual, and BG/NBD's expectation


def test_pareto_nbd_on_the_workspace_reproduces_the_paper(cdnow: Path) -> None:
    args = ("-w", "ws", "fit", "--model", "pnbd", "--calibration-end", "1997-09-30", "--json")
    report = ok(patron_here(*args, cwd=cdnow))
    published = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
    assert report["params"] == pytest.approx(published, rel=1e-3)
    assert report["loglik"] == pytest.approx(-9595.0, abs=0.05)


def test_sbg_on_survivor_counts(cdnow: Path) -> None:
    survivors = "1000,631,468,382,326,289,262,241"  # Fader & Hardie (2007), "regular" customers
    args = ("fit", "--model", "sbg", "--survival", survivors, "--json")
    report = ok(patron_here(*args, cwd=cdnow))
    assert report["params"] == pytest.approx({"alpha": 0.704, "beta": 1.182}, abs=5e-4)
    assert report["n_customers"] == 1000
    wrong = patron_here("fit", "--survival", survivors, cwd=cdnow)
    assert wrong.returncode != 0 and "--survival goes with --model sbg" in wrong.stderr
    rising = patron_here("fit", "--model", "sbg", "--survival", "100,120,90", cwd=cdnow)
    assert (
        rising.returncode == 2 and "--survival '100,120,90': must be two or more" in rising.stderr
    )


def test_fit_all_ranks_the_purchase_models_by_bic(cdnow: Path) -> None:
    args = ("-w", "ws", "fit", "--model", "all", "--calibration-end", "1997-09-30")
    report = ok(patron_here(*args, "--json", cwd=cdnow))
    fits = {m["model"]: m for m in report["models"]}
    assert list(fits) == ["bgnbd", "pnbd", "mbgnbd", "gg", "bgbb"]
    assert fits["bgnbd"]["params"] == pytest.approx(PUBLISHED, abs=5e-4)
    assert fits["mbgnbd"]["params"] == pytest.approx(
        {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}, abs=5e-4
    )
    purchase = [fits[name] for name in ("bgnbd", "pnbd", "mbgnbd")]
    assert report["best"] == min(purchase, key=lambda m: m["bic"])["model"]
    text = ok(patron_here(*args, cwd=cdnow))
    assert f"{report['best']} (best)" in text and "Lowest BIC" in text


def test_fit_all_on_a_summary_file(cdnow: Path, tmp_path: Path) -> None:
    summary = tmp_path / "summary.csv"
    summary.write_text("frequency,recency,T,count\n0,0,30,50\n1,10,30,20\n3,25,30,10\n6,28,30,5\n")
    args = ("fit", "--model", "all", "--summary", str(summary), "--json")
    report = ok(patron_here(*args, cwd=cdnow))
    assert [m["model"] for m in report["models"]] == ["bgnbd", "pnbd", "mbgnbd"]
    assert all(m["n_customers"] == 85 for m in report["models"])


def test_predict_with_pareto_nbd_without_storing(cdnow: Path) -> None:
    args = ("-w", "ws", "predict", "--as-of", "1997-09-30", "--model", "Pareto", "--no-store")
    report = ok(patron_here(*args, "--json", cwd=cdnow))
    assert (report["model"], report["stored"], report["customers"]) == ("pnbd", False, 2357)
    assert report["at_risk"] + report["likely_lost"] < 2357
    wrong = patron_here("-w", "ws", "predict", "--model", "gg", cwd=cdnow)
    assert wrong.returncode == 2 and "--model must be one of" in wrong.stderr


def test_unidentified_parameters_are_named_and_a_penalty_reins_them_in(tmp_path: Path) -> None:
    # ten customers, all still buying at T: nothing shows dropout or the spread of rates
    summary = tmp_path / "tiny.csv"
    summary.write_text("frequency,recency,T,count\n0,0,30,4\n1,29,30,3\n2,29.5,30,2\n3,29.8,30,1\n")
    free = ok(patron_here("fit", "--summary", str(summary), "--json", cwd=tmp_path))
    # r runs off along the ridge (where the climb stops on it is arbitrary; CDNOW's r is 0.24)
    assert free["unidentified"] == ["r", "alpha", "a", "b"] and free["params"]["r"] > 100
    text = patron("fit", "--summary", str(summary), cwd=tmp_path)
    assert text.returncode == 0 and "do not pin down" not in text.stdout
    assert "note: bgnbd: the data do not pin down r, alpha, a, b" in " ".join(text.stderr.split())
    args = ("fit", "--summary", str(summary), "--penalizer", "0.01", "--json")
    held = ok(patron_here(*args, cwd=tmp_path))
    assert held["params"]["r"] < 1 and "r" not in held["unidentified"]
    bad = patron_here("fit", "--summary", str(summary), "--penalizer", "-1", cwd=tmp_path)
    assert bad.returncode == 2 and "--penalizer must be 0 (none) or more" in bad.stderr
    sbg = ("fit", "--model", "sbg", "--survival", "1000,631,468", "--penalizer", "-1")
    bad = patron_here(*sbg, cwd=tmp_path)
    assert bad.returncode == 2 and "--penalizer must be 0 (none) or more" in bad.stderr
    assert ok(patron_here("fit", "--summary", str(summary), "--json", cwd=tmp_path)) == free


def test_a_convergence_warning_is_one_line(tmp_path: Path) -> None:
    summary = tmp_path / "five.csv"  # five customers: the climb ends in precision loss
    summary.write_text(
        "frequency,recency,T\n3,11.05,20.33\n2,33.91,36.27\n2,31.21,38.26\n1,0.09,32.13\n"
        "1,29.66,34.59\n"
    )
    done = patron("fit", "--summary", str(summary), cwd=tmp_path)
    assert done.returncode == 0
    assert "warning: BetaGeoModel: Desired error not necessarily achieved" in done.stderr
    assert "ConvergenceWarning" not in done.stderr and "warnings.warn" not in done.stderr


def test_a_published_fit_has_every_parameter_identified(cdnow: Path) -> None:
    args = ("-w", "ws", "fit", "--calibration-end", "1997-09-30", "--json")
    assert ok(patron_here(*args, cwd=cdnow))["unidentified"] == []


def test_predict_takes_the_fits_penalizer(cdnow: Path) -> None:
    args = ("-w", "ws", "predict", "--as-of", "1997-09-30", "--no-store", "--json")
    plain = ok(patron_here(*args, cwd=cdnow))
    held = ok(patron_here(*args, "--penalizer", "0.5", cwd=cdnow))
    assert (plain["penalizer"], held["penalizer"]) == (0.0, 0.5)
    assert held["customers"] == plain["customers"] == 2357
    assert held["p_alive_mean"] != pytest.approx(plain["p_alive_mean"], rel=1e-3)
    bad = patron_here(*args, "--penalizer", "-0.1", cwd=cdnow)
    assert bad.returncode == 2 and "--penalizer must be 0 (none) or more" in bad.stderr


def test_predict_warns_when_the_data_leave_the_model_free(tmp_path: Path) -> None:
    # ten customers buying every week up to the as-of day: no sign of anyone dropping out
    rows = [
        f"o{c}-{w},c{c},{date(2024, 1, 1 + c) + timedelta(weeks=w)},10"
        for c in range(10)
        for w in range(10)
    ]
    header = "order_id,customer_id,ordered_at,revenue\n"
    (tmp_path / "orders.csv").write_text(header + "\n".join(rows))
    ok(patron_here("init", "ws", "--timezone", "UTC", cwd=tmp_path))
    ok(patron_here("-w", "ws", "load", "orders", "orders.csv", cwd=tmp_path))
    done = patron("-w", "ws", "predict", "--no-store", cwd=tmp_path)
    assert done.returncode == 0
    assert "warning: mbgnbd: the data do not pin down" in done.stderr
    assert "pass --penalizer" in done.stderr
    # scipy's hyp2f1 gives NaN for such parameters; the series of BG/NBD's eq. 10 does not:
    # weekly buyers with no sign of dropping out are expected to go on about weekly
    totals = ok(patron_here("-w", "ws", "predict", "--no-store", "--json", cwd=tmp_path))
    assert totals["customers"] == 10 and totals["unscored"] == 0
    assert 10 * 40 < totals["expected_purchases"] < 10 * 53
    held = ok(patron_here("-w", "ws", "predict", "--no-store", "--json", "--penalizer", "0.01",
                          cwd=tmp_path))  # fmt: skip
    assert held["unscored"] == 0 and held["expected_purchases"] > 0


def test_predict_totals_leave_out_customers_without_a_number() -> None:
    # a NaN prediction (a model's special function failing) is counted, not summed into NaN
    table = ibis.memtable(
        pa.table(  # NaN kept as NaN, not turned into a null as from pandas
            {
                "expected_purchases": [1.0, float("nan")],
                "clv": [10.0, float("nan")],
                "clv_low": [5.0, float("nan")],
                "clv_high": [20.0, float("nan")],
                "p_alive": [0.5, 0.9],
                "churn_risk": ["at_risk", "active"],
            }
        )
    )
    totals = _totals(table)
    assert (totals["customers"], totals["unscored"]) == (2, 1)
    assert (totals["expected_purchases"], totals["customer_equity"]) == (1.0, 10.0)
    assert totals["p_alive_mean"] == 0.5
