"""End-to-end: kpis, cohorts, segments and export through the real ``patron`` command.

Each command's first call runs ``patron`` in a subprocess; the other calls on the same workspace,
the set-up and the bad options run the same app in this process (``patron_here``)."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from cli_support import ok, patron, patron_here
from patron.metrics.kpis import month_ends
from patron.segments import SEGMENTS, STAGES, TIERS

KPI_KEYS = {
    "customers_total",
    "active_customers",
    "new_customers",
    "lost_customers",
    "retention_rate",
    "attrition_rate",
    "leaky_bucket_ratio",
    "repeat_rate",
    "early_repeat_rate",
    "revenue",
    "orders",
    "aov",
    "purchase_frequency",
    "top_10pct_revenue_share",
    "clv_365",
}


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic retailer (600 people, 3 years) loaded through the CLI."""
    root = tmp_path_factory.mktemp("shop")
    args = ("sample", "synthetic", "--out", "data", "--customers", "600", "--seed", "4")
    ok(patron_here(*args, cwd=root))
    ok(patron_here("init", "ws", "--phone-region", "US", "--currency", "EUR", cwd=root))
    for table, name in (("customers", "customers"), ("orders", "orders")):
        ok(patron_here("-w", "ws", "load", table, f"data/{name}.csv", cwd=root))
    return root


def cli(shop: Path, *args: str) -> Any:
    """``patron -w ws *args`` in this process."""
    return ok(patron_here("-w", "ws", *args, cwd=shop))


def real(shop: Path, *args: str) -> Any:
    """``patron -w ws *args`` in a subprocess: the real command."""
    return ok(patron("-w", "ws", *args, cwd=shop))


def test_kpis_overall_by_group_and_trend(shop: Path) -> None:
    overall = real(shop, "kpis", "--json")
    assert set(overall) >= KPI_KEYS
    assert (overall["currency"], overall["as_of"], overall["window_days"]) == (
        "EUR",
        "2024-12-31",
        365,
    )
    assert overall["attrition_rate"] == pytest.approx(1 - overall["retention_rate"])

    by_channel = cli(shop, "kpis", "--by", "acquisition_channel", "--json")["groups"]
    assert {g["group"] for g in by_channel} <= {"web", "store", "app", "marketplace"}
    # Acquisition channels partition the customers, so their counts add up to the total.
    for key in ("customers_total", "active_customers", "new_customers", "lost_customers"):
        assert sum(g[key] for g in by_channel) == overall[key]
    assert sum(g["revenue"] for g in by_channel) == pytest.approx(overall["revenue"])

    trend = cli(shop, "kpis", "--trend", "month", "--as-of", "2024-06-15", "--json")["points"]
    ends = month_ends(date(2022, 1, 1), date(2024, 6, 15))
    assert [p["as_of"] for p in trend] == [d.isoformat() for d in ends]
    last = cli(shop, "kpis", "--as-of", "2024-06-15", "--json")
    assert trend[-1]["customers_total"] == last["customers_total"]
    totals = [p["customers_total"] for p in trend]
    assert totals == sorted(totals)  # customers ever acquired never shrink


def test_the_monthly_trend_reads_on_a_terminal(shop: Path) -> None:
    """Three years of month ends as columns left every cell an ellipsis at 150 columns."""
    args = ("-w", "ws", "kpis", "--trend", "month", "--as-of", "2024-06-15")
    text = ok(patron(*args, cwd=shop, env={"COLUMNS": "80"}))  # the real command's terminal
    assert "…" not in text
    rows = [line.split() for line in text.splitlines() if line.strip().startswith("20")]
    assert [r[0] for r in rows][-2:] == ["2024-05-31", "2024-06-15"]
    points = cli(shop, *args[2:], "--json")["points"]
    assert len(rows) == len(points)
    assert rows[-1][1] == f"{points[-1]['customers_total']:,}"


def test_cohorts_json_shape_compare_and_clv_by_channel(shop: Path) -> None:
    result = real(shop, "cohorts", "--period", "quarter", "--json")
    rows = result["cohorts"]
    assert rows[0]["cohort"] == "2022-Q1" and rows[-1]["cohort"] == "2024-Q4"
    assert all(r["values"][0] == 1.0 for r in rows)
    assert [len(r["values"]) for r in rows] == list(range(len(rows), 0, -1))
    kpis = cli(shop, "kpis", "--json")
    assert sum(r["size"] for r in rows) == kpis["customers_total"]

    both = cli(
        shop, "cohorts", "--period", "season", "--compare", "2023-holiday", "2022-holiday", "--json"
    )
    assert [c["cohort"] for c in both["cohorts"]] == ["2023-holiday", "2022-holiday"]
    assert len(both["cohorts"][1]["retention"]) == len(both["cohorts"][0]["retention"]) + 5

    curves = {
        c["group"]: c
        for c in cli(shop, "cohorts", "--by", "acquisition_channel", "--json")["curves"]
    }
    assert curves["all"]["customers"][0] == kpis["customers_total"]
    assert set(curves) >= {"all", "web", "store"}
    assert (
        sum(c["customers"][0] for g, c in curves.items() if g != "all") == kpis["customers_total"]
    )


def test_segments_summary_and_migration(shop: Path) -> None:
    summary = real(shop, "segments", "--json")
    for dim, names in (("rfm_segment", SEGMENTS), ("stage", STAGES), ("value_tier", TIERS)):
        rows = summary[dim]
        assert {r["name"] for r in rows} <= set(names)
        assert sum(r["customers"] for r in rows) == summary["customers"]
        assert sum(r["revenue_share"] for r in rows) == pytest.approx(1.0)
        assert all("of customers" in r["sentence"] for r in rows)
    flows = cli(shop, "segments", "--from", "2024-06-30", "--dimension", "stage", "--json")["flows"]
    assert sum(f["customers"] for f in flows) == summary["customers"]
    first_time_then = cli(shop, "segments", "--as-of", "2024-06-30", "--json")["stage"]
    first_time = next(r["customers"] for r in first_time_then if r["name"] == "first_time")
    assert sum(f["customers"] for f in flows if f["from"] == "first_time") == first_time
    assert not any(f["to"] == "first_time" and f["from"] != "new" for f in flows)


def test_export_customers_parquet_and_csv(shop: Path) -> None:
    status = cli(shop, "status", "--json")
    done = real(shop, "export", "customers", "--out", "out/customers.parquet", "--json")
    assert done["rows"] == status["customers"]
    table = pq.read_table(shop / "out" / "customers.parquet")
    assert table.num_rows == status["customers"]
    names = set(table.column_names)
    assert {
        "customer_key",
        "email",
        "email_consent",
        "r_score",
        "rfm_segment",
        "stage",
        "value_tier",
        "monetary",
        "next_contact_date",
        "top_categories",
        "discount_score",
    } <= names
    assert set(table.column("stage").to_pylist()) <= {*STAGES, "prospect"}
    cli(shop, "export", "customers", "--out", "out/customers.csv")
    with open(shop / "out" / "customers.csv", newline="", encoding="utf-8") as f:
        assert sum(1 for _ in csv.DictReader(f)) == status["customers"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("kpis", "--by", "chanel"), "did you mean 'channel'"),
        (("kpis", "--as-of", "2024-02-30"), "is not a date"),
        (("kpis", "--window", "0"), "at least 1 day"),
        (("kpis", "--trend", "week"), "only 'month'"),
        (("cohorts", "--period", "decade"), "unknown period"),
        (("cohorts", "--metric", "retension"), "did you mean 'retention'"),
        (("cohorts", "--compare", "2031-01", "2022-01"), "no month cohort '2031-01'"),
        (("segments", "--from", "2025-01-01", "--as-of", "2024-01-01"), "before its --as-of"),
        (("export", "customers", "--out", "c.xlsx"), "use a .parquet or .csv"),
    ],
)
def test_bad_options_give_one_line_errors(shop: Path, args: tuple[str, ...], message: str) -> None:
    result = patron_here("-w", "ws", *args, cwd=shop)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_metrics_on_an_empty_workspace_say_what_to_do(tmp_path: Path) -> None:
    ok(patron_here("init", "ws", cwd=tmp_path))
    result = patron("-w", "ws", "kpis", cwd=tmp_path)
    assert result.returncode == 2
    assert "no purchases are loaded yet" in result.stderr
