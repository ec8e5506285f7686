"""Experiments benchmark: assign and read out a test over every customer, against pandas + scipy.

Why: issue 5 asks for assignment and a full readout (conversion, revenue with CUPED, guardrails)
of an experiment over 10 million customers in the warehouse, with wall time and peak RSS, and
for the peer on the same data in the same run. Each patron stage runs in a fresh process through
the public API: ``ws.create_experiment`` (the salted-hash assignment of the whole audience,
recorded in the operational store and the warehouse), ``ws.analyze_experiment`` for conversion
and for revenue with CUPED (both carry the unsubscribe and returns guardrails), then
``ws.delete_experiment`` (shown, not counted). The peer is plain pandas + scipy in another fresh
process: it reads the exported assignments, orders and events from Parquet (read time shown
apart), computes every assigned customer's outcomes in [assigned_at, assigned_at + 30 days) and
pre-period revenue, then the z test, Welch's t and CUPED by hand, per the docstrings of
``patron.experiments.outcomes`` and ``patron.experiments.stats``. The two readouts are compared
number by number: a speed ratio between programs that disagree is worthless.

Data: a workspace made by ``patron.Workspace.init`` whose ``orders`` (with ``identities``,
``customers``, ``purchase_occasions``, ``events`` and ``loads`` records) are generated directly in
DuckDB SQL; see ``build``. About 2 orders per customer over 2024, ~15% of customers buying in
January 2025, and a planted effect: the customers the experiment will put in ``treatment`` buy in
January with a 10% higher propensity, so the readout has a real lift to find (and ``control``
against ``holdout`` has none). Cached in ``bench/out/experiments_<customers>_<seed>/``.

Usage: ``python bench/experiments.py [--customers N] [--seed S]`` (default 10M customers)
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import time
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from analytics import (
    CHANNELS,
    DOMAINS,
    _cores,
    _load,
    _size,
    _u,
    export_parquet,
    insert_identities,
    insert_orders,
)
from common import (
    OUT,
    StepProfiler,
    emit,
    ensure_built,
    finish_stage,
    log_generated_loads,
    print_table,
    run_child,
    worker,
)

SCRIPT = str(Path(__file__).resolve())
DATA_VERSION = 2  # bump when build changes, so cached workspaces are rebuilt

# The experiment every run creates, reads out twice and deletes.
NAME = "bench"
VARIANTS = "control:50,treatment:50"
HOLDOUT = 0.1
START = date(2025, 1, 1)
WINDOW = 30
PRE_DAYS = 365  # Question's default pre-period for CUPED's covariate
ALPHA = 0.05

# Data: 2024 history, then January 2025 (the test's first month).
YEAR_START, JANUARY = "2024-01-01 00:00:00", "2025-01-01 00:00:00"
RATE_SHAPE = 0.5  # gamma purchase propensity (mean 1): 2024 orders are 1 + Poisson(rate)
JANUARY_SHARE = 0.15  # P(buy in January) = 1 - exp(-c * rate), c set so 15% of customers buy
JANUARY_C = RATE_SHAPE * (1 - JANUARY_SHARE) ** (-1 / RATE_SHAPE) - RATE_SHAPE
PLANTED_LIFT = 0.10  # treatment's January propensity is 10% higher
SPEND_LOG_MEAN, SPEND_LOG_SD, ORDER_LOG_SD = 3.8, 0.5, 0.6  # lognormal basket size
RETURN_SHARE = 0.03  # full refunds of random purchases, 1-30 days later
UNSUBSCRIBE_2024, UNSUBSCRIBE_JANUARY = 0.02, 0.01  # email_unsubscribe events per customer


def data_dir(customers: int, seed: int) -> Path:
    return OUT / f"experiments_{customers}_{seed}"


def ensure_data(customers: int, seed: int) -> Path:
    """The cached folder (workspace, orders and events as Parquet), built only when missing."""
    meta = {"customers": customers, "seed": seed, "version": DATA_VERSION}
    return ensure_built(data_dir(customers, seed), meta, Path(SCRIPT))


def customer_plan(customers: int, seed: int) -> pa.Table:
    """One row per customer: 2024 orders (1 + Poisson(rate)), basket size, January propensity."""
    rng = np.random.default_rng([seed, customers, 5])
    rate = rng.gamma(RATE_SHAPE, 1 / RATE_SHAPE, customers)
    return pa.table(
        {
            "customer_key": np.arange(1, customers + 1, dtype=np.int64),
            "n": 1 + rng.poisson(rate),
            "mu": rng.normal(SPEND_LOG_MEAN, SPEND_LOG_SD, customers),
            "c": JANUARY_C * rate,
        }
    )


def treatment_floor() -> float:
    """Where ``treatment``'s slice of [0, 1) starts (holdout, control, treatment in order)."""
    from patron.experiments.design import Design, parse_variants

    design = Design(
        name=NAME, variants=parse_variants(VARIANTS), salt=NAME, start=START, holdout=HOLDOUT
    )
    return 1 - design.shares["treatment"]


def build(folder: Path, customers: int, seed: int) -> None:
    """The workspace: orders, identities, customers, occasions, events and loads records.

    Every order column a load writes is filled as a load would (see ``analytics.build_orders``):
    ids, identifiers, UTC ``ordered_at``, ``order_date``, DECIMAL(18,2) money, ``is_return``
    (negative revenue, status ``returned``, ``return_of``), ``customer_key``,
    ``row_key``/``row_hash`` and load bookkeeping. The treatment slice is computed with the
    assignment's own formula (md5 of ``salt:customer_key``, 48 bits), so the planted effect lands
    on the customers the experiment will call ``treatment``.
    """
    import duckdb

    import patron
    from patron.ingest.customers import rebuild_customers
    from patron.metrics.occasions import rebuild_occasions

    workspace = folder / "workspace"
    patron.Workspace.init(workspace, timezone="UTC", currency="USD", phone_region="US").close()
    con = duckdb.connect(str(workspace / "warehouse.duckdb"))
    con.execute("SET memory_limit = '4GB'")
    con.execute("SET temp_directory = ?", [str(folder / "gen.tmp")])
    con.register("plan", customer_plan(customers, seed))
    u = {k: _u(k, seed) for k in range(12)}
    channels = "[" + ", ".join(f"'{c}'" for c in CHANNELS) + "]"
    domains = "[" + ", ".join(f"'{d}'" for d in DOMAINS) + "]"
    normal = f"sqrt(-2 * ln(1 - {u[1]})) * cos(2 * pi() * {u[2]})"  # Box-Muller
    position = (
        f"CAST('0x' || substr(md5('{NAME}:' || CAST(customer_key AS VARCHAR)), 1, 12) AS BIGINT)"
        f" / {16**12}.0"
    )
    common = f"""customer_key,
          {channels}[CAST(floor({u[3]} * 4) AS BIGINT) + 1] AS channel,
          CAST(round(exp(mu + {ORDER_LOG_SD} * {normal}), 2) AS DECIMAL(18, 2)) AS revenue,
          {u[5]} AS u_margin, {u[6]} AS u_delay, {u[7]} AS u_return"""
    con.execute(
        f"""CREATE TEMP TABLE purchases AS
        WITH rows AS (SELECT customer_key, mu, unnest(range(n)) AS i FROM plan),
        january AS (
          SELECT customer_key, mu, -1 AS i,
            {position} >= {treatment_floor()} AS treated, {u[8]} AS u_buy, c
          FROM plan),
        gen AS (
          SELECT {common},
            TIMESTAMP '{YEAR_START}' + to_seconds(CAST(floor({u[0]} * 366 * 86400) AS BIGINT))
              AS ordered_at
          FROM rows
          UNION ALL
          SELECT {common},
            TIMESTAMP '{JANUARY}' + to_seconds(CAST(floor({u[0]} * 31 * 86400) AS BIGINT))
          FROM january
          WHERE u_buy < 1 - exp(-c * CASE WHEN treated THEN {1 + PLANTED_LIFT} ELSE 1 END))
        SELECT *, row_number() OVER (ORDER BY ordered_at, customer_key) AS seq,
          CAST(round(revenue * (0.45 + 0.25 * u_margin), 2) AS DECIMAL(18, 2)) AS cost
        FROM gen"""
    )
    returns = int(con.execute("SELECT count(*) FROM purchases").fetchall()[0][0] * RETURN_SHARE)
    con.execute(
        f"""CREATE TEMP TABLE refunds AS
        SELECT * REPLACE (
            ordered_at + to_seconds(CAST(86400 * (1 + 29 * u_delay) AS BIGINT)) AS ordered_at,
            -revenue AS revenue, -cost AS cost),
          seq AS purchase_seq
        FROM purchases ORDER BY u_return LIMIT {returns}"""
    )
    columns = f"""customer_key, ordered_at, channel, revenue, cost,
        CAST(0 AS DECIMAL(18, 2)) AS discount,
        'C' || lpad(CAST(customer_key AS VARCHAR), 9, '0') AS customer_id,
        'customer.' || customer_key || '@' || {domains}[customer_key % {len(DOMAINS)} + 1]
          AS email"""
    insert_orders(con, "purchases", columns, "bench/experiments.py")
    con.execute("DROP TABLE purchases")
    con.execute("DROP TABLE refunds")
    insert_identities(con)
    # Unsubscribes: some in 2024 (before the test), some in January 2025 (a guardrail outcome).
    con.execute(
        f"""INSERT INTO events BY NAME
        WITH p AS (SELECT customer_key, -2 AS i FROM plan),
        ev AS (
          SELECT customer_key, TIMESTAMP '{YEAR_START}'
            + to_seconds(CAST(floor({u[1]} * 366 * 86400) AS BIGINT)) AS occurred_at
          FROM p WHERE {u[0]} < {UNSUBSCRIBE_2024}
          UNION ALL
          SELECT customer_key, TIMESTAMP '{JANUARY}'
            + to_seconds(CAST(floor({u[3]} * 31 * 86400) AS BIGINT))
          FROM p WHERE {u[2]} < {UNSUBSCRIBE_JANUARY}),
        numbered AS (
          SELECT *, row_number() OVER (ORDER BY occurred_at, customer_key) AS seq FROM ev)
        SELECT 'E' || lpad(CAST(seq AS VARCHAR), 10, '0') AS event_id,
          'C' || lpad(CAST(customer_key AS VARCHAR), 9, '0') AS customer_id,
          occurred_at, 'email_unsubscribe' AS type, 'email' AS channel, customer_key,
          'E' || lpad(CAST(seq AS VARCHAR), 10, '0') AS row_key,
          CAST(md5_number('E' || seq || occurred_at) >> 64 AS UBIGINT) AS row_hash, 2 AS load_id,
          'generated by bench/experiments.py' AS source_file, seq AS source_row
        FROM numbered ORDER BY seq"""
    )
    rebuild_customers(con)
    rebuild_occasions(con)
    log_generated_loads(con, ("orders", "events"), "experiments.py")
    con.execute("CHECKPOINT")
    con.execute(
        f"""COPY (SELECT customer_key, occurred_at, type FROM events)
        TO '{folder / "events.parquet"}' (FORMAT parquet, COMPRESSION snappy)"""
    )
    con.close()
    shutil.rmtree(folder / "gen.tmp", ignore_errors=True)
    export_parquet(workspace, folder / "orders.parquet")  # money as float64, as patron casts it


# ---------------------------------------------------------------------------------------------
# Patron: one stage per fresh process, through the public API
# ---------------------------------------------------------------------------------------------

STAGES = ("create", "readout conversion", "readout revenue + CUPED")
"""The measured stages, in order; ``delete`` and ``export`` run too but are not counted."""


def child_patron(stage: str, workspace: str, out: str) -> None:
    """Open the workspace, run one stage, report its seconds, result and error (if any)."""
    import patron
    from patron.experiments.analyze import Question

    profiler = StepProfiler().start()
    opened = time.perf_counter()
    ws = patron.Workspace.open(workspace)
    ws.table("orders")  # imports Ibis, which every first call pays: counted as opening
    result: dict[str, Any] = {"open_seconds": time.perf_counter() - opened}
    calls = {
        "cleanup": lambda: _cleanup(ws),
        "create": lambda: ws.create_experiment(
            NAME,
            audience="all",
            variants=VARIANTS,
            holdout=HOLDOUT,
            start=START,
            metric="revenue",
            window=WINDOW,
        ),
        "export": lambda: ws.export_assignments(NAME, out),
        "readout conversion": lambda: ws.analyze_experiment(
            NAME, question=Question(metric="conversion")
        ),
        "readout revenue + CUPED": lambda: ws.analyze_experiment(
            NAME, question=Question(metric="revenue", cuped=True)
        ),
        "delete": lambda: ws.delete_experiment(NAME),
    }
    finish_stage(profiler, stage, calls[stage], ws, result)


def _cleanup(ws: Any) -> bool:
    """Delete a ``bench`` experiment a crashed run left behind (not measured)."""
    if any(e["name"] == NAME for e in ws.experiments()):
        ws.delete_experiment(NAME)
        return True
    return False


# ---------------------------------------------------------------------------------------------
# The peer: the same readouts in pandas + scipy, by hand
# ---------------------------------------------------------------------------------------------


def child_pandas(folder: str, assignments: str) -> None:
    """Read the Parquet files, compute the outcomes once, then both readouts, each step timed."""
    import pandas as pd
    import scipy.stats  # noqa: F401  (imported before the clock starts, as patron's are)

    profiler = StepProfiler().start()
    step = profiler.step

    def read() -> tuple[Any, Any, Any]:
        a = pd.read_parquet(assignments, columns=["customer_key", "variant", "assigned_at"])
        o = pd.read_parquet(
            Path(folder) / "orders.parquet",
            columns=["customer_key", "ordered_at", "revenue", "is_return"],
        )
        e = pd.read_parquet(Path(folder) / "events.parquet")
        return a, o, e

    a, o, e = step("read parquet", read)
    outcomes, through = step("outcomes per customer", partial(pandas_outcomes, a, o, e))
    del o, e
    conversion = step("conversion readout", lambda: pandas_readout(outcomes, "conversion"))
    revenue = step("revenue + CUPED readout", lambda: pandas_readout(outcomes, "revenue"))
    profiler.stop()
    emit(
        {
            "seconds": profiler.seconds,
            "step_peak_mib": profiler.peak_mib,
            "through": str(through),
            "conversion": conversion,
            "revenue": revenue,
            "sums": group_sums(outcomes),  # for the GrowthBook cross-check; not timed
        }
    )


def group_sums(table: Any) -> dict[str, dict[str, float]]:
    """Per group, the sums GrowthBook's engine takes: n, Σy, Σy² per metric, Σx, Σx², Σxy."""
    t = table.assign(
        revenue_sq=table.revenue**2,
        pre_sq=table.pre_revenue**2,
        cross=table.revenue * table.pre_revenue,
        returns_sq=table.returns.astype(float) ** 2,
    )
    columns = ["conversion", "revenue", "revenue_sq", "pre_revenue", "pre_sq", "cross"]
    columns += ["unsubscribe", "returns", "returns_sq"]
    sums = t.groupby("variant")[columns].sum().astype(float)
    sums["n"] = t.groupby("variant").size().astype(float)
    return {g: sums.loc[g].to_dict() for g in GROUPS}


def pandas_outcomes(a: Any, o: Any, e: Any) -> tuple[Any, Any]:
    """One row per assigned customer: variant, conversion, revenue, returns, unsubscribe and
    pre-period revenue (``patron.experiments.outcomes``). Outcomes count in
    [assigned_at, min(assigned_at + window, through)), ``through`` being midnight after the last
    purchase day; the covariate in [assigned_at - 365 days, assigned_at)."""
    import pandas as pd

    day = pd.Timedelta(days=1)
    through = o.loc[~o.is_return, "ordered_at"].max().normalize() + day
    exposure = a[["customer_key", "assigned_at"]]
    j = o[o.customer_key.notna()].merge(exposure, on="customer_key")
    end = (j.assigned_at + WINDOW * day).clip(upper=through)
    post = j[(j.ordered_at >= j.assigned_at) & (j.ordered_at < end)]
    pre = j[(j.ordered_at >= j.assigned_at - PRE_DAYS * day) & (j.ordered_at < j.assigned_at)]
    key = post.customer_key
    bought = ~post.is_return
    per = pd.DataFrame(
        {
            "conversion": bought.groupby(key).any().astype("int64"),
            "revenue": post.revenue.groupby(key).sum(),
            "returns": post.is_return.groupby(key).sum(),
        }
    )
    ev = e[e.customer_key.notna() & e.type.str.endswith("unsubscribe")].merge(
        exposure, on="customer_key"
    )
    ev_end = (ev.assigned_at + WINDOW * day).clip(upper=through)
    ev = ev[(ev.occurred_at >= ev.assigned_at) & (ev.occurred_at < ev_end)]
    unsubscribed = pd.Series(1, index=pd.Index(ev.customer_key.unique(), name="customer_key"))
    table = a[["customer_key", "variant"]].set_index("customer_key")
    table = table.join(per).join(unsubscribed.rename("unsubscribe"))
    table = table.join(pre.groupby("customer_key").revenue.sum().rename("pre_revenue"))
    table = table.fillna(0)
    for name in ("conversion", "returns", "unsubscribe"):
        table[name] = table[name].astype("int64")
    return table, through


GROUPS = ("holdout", "control", "treatment")


def pandas_readout(table: Any, metric: str) -> dict[str, Any]:
    """A readout by hand: per group n and mean, each treatment against the holdout (the
    baseline), intervals at alpha / 2 (two comparisons, Bonferroni), Holm-adjusted p-values,
    the sample ratio check and the two guardrails; revenue is CUPED-adjusted by its pre-period."""
    from scipy import stats

    counts = table.variant.value_counts()
    shares = {"holdout": HOLDOUT, "control": (1 - HOLDOUT) / 2, "treatment": (1 - HOLDOUT) / 2}
    n = np.array([counts[g] for g in GROUPS], dtype=float)
    srm = stats.chisquare(n, n.sum() * np.array([shares[g] for g in GROUPS])).pvalue
    out: dict[str, Any] = {"srm_p_value": float(srm), "guardrails": {}}
    if metric == "revenue":
        out["variants"], out["cuped"] = _cuped(table)
    else:
        out["variants"] = _compare(table, "conversion", binary=True)
    out["guardrails"]["unsubscribe"] = _compare(table, "unsubscribe", binary=True)
    out["guardrails"]["returns"] = _compare(table, "returns", binary=False)
    return out


def _compare(table: Any, column: str, *, binary: bool) -> list[dict[str, Any]]:
    """Unpooled Wald z for rates, Welch's t (``scipy.stats.ttest_ind``) for means."""
    from scipy import stats

    values = {g: table.loc[table.variant == g, column].to_numpy(dtype=float) for g in GROUPS}
    rows = [_row("holdout", values["holdout"], None)]
    base = values["holdout"]
    for g in GROUPS[1:]:
        y = values[g]
        if binary:
            var_c = base.mean() * (1 - base.mean()) / len(base)
            var_t = y.mean() * (1 - y.mean()) / len(y)
            z = (y.mean() - base.mean()) / math.sqrt(var_c + var_t)
            p, df = 2 * stats.norm.sf(abs(z)), math.inf
        else:
            test = stats.ttest_ind(y, base, equal_var=False)
            var_c, var_t = base.var(ddof=1) / len(base), y.var(ddof=1) / len(y)
            p, df = float(test.pvalue), float(test.df)
        rows.append(_row(g, y, (base.mean(), var_c, var_t, p, df)))
    return _holm(rows)


def _cuped(table: Any) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """CUPED (Deng et al. 2013): theta pooled over the groups' within-group centered sums, each
    customer's residual y - theta x; the adjusted lift and its Welch test are the residuals'."""
    from scipy import stats

    y, x = table.revenue.to_numpy(dtype=float), table.pre_revenue.to_numpy(dtype=float)
    centered = table[["revenue", "pre_revenue"]] - table.groupby("variant")[
        ["revenue", "pre_revenue"]
    ].transform("mean")
    s_xy = float((centered.revenue * centered.pre_revenue).sum())
    s_xx = float((centered.pre_revenue**2).sum())
    s_yy = float((centered.revenue**2).sum())
    theta = s_xy / s_xx
    grand_x = x.mean()
    residual = y - theta * x
    groups = {g: (table.variant == g).to_numpy() for g in GROUPS}
    adjusted = {g: y[m].mean() - theta * (x[m].mean() - grand_x) for g, m in groups.items()}
    base = residual[groups["holdout"]]
    rows = [_row("holdout", base, None, mean=adjusted["holdout"])]
    for g in GROUPS[1:]:
        r = residual[groups[g]]
        test = stats.ttest_ind(r, base, equal_var=False)
        var_c, var_t = base.var(ddof=1) / len(base), r.var(ddof=1) / len(r)
        parts = (adjusted["holdout"], var_c, var_t, float(test.pvalue), float(test.df))
        rows.append(_row(g, r, parts, mean=adjusted[g]))
    s_rr = sum(float(((residual[m] - residual[m].mean()) ** 2).sum()) for m in groups.values())
    return _holm(rows), {"theta": theta, "variance_reduction": 1 - s_rr / s_yy}


def _row(name: str, y: Any, parts: Any, *, mean: float | None = None) -> dict[str, Any]:
    from scipy import stats

    mean = float(y.mean()) if mean is None else float(mean)
    if parts is None:
        return {"name": name, "n": len(y), "mean": mean, "lift": 0.0, "p_value": None}
    base_mean, var_c, var_t, p, df = parts
    lift, se = mean - base_mean, math.sqrt(var_c + var_t)
    level = ALPHA / 2
    critical = stats.norm.ppf(1 - level / 2) if math.isinf(df) else stats.t.ppf(1 - level / 2, df)
    relative_se = math.hypot(math.sqrt(var_t), mean / base_mean * math.sqrt(var_c)) / base_mean
    relative = mean / base_mean - 1
    return {
        "name": name,
        "n": len(y),
        "mean": mean,
        "lift": lift,
        "lift_ci": [lift - critical * se, lift + critical * se],
        "relative_lift": relative,
        "relative_lift_ci": [relative - critical * relative_se, relative + critical * relative_se],
        "p_value": float(p),
    }


def _holm(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Holm's step-down adjustment of the treatments' p-values (two of them here)."""
    p = [r["p_value"] for r in rows[1:]]
    order = sorted(range(len(p)), key=lambda i: p[i])
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p) - rank) * p[i]))
        rows[1 + i]["p_value_adjusted"] = running
    rows[0]["p_value_adjusted"] = None
    return rows


# ---------------------------------------------------------------------------------------------
# Cross-check: GrowthBook's stats engine (gbstats 0.8.0) on the same per-group sums
# ---------------------------------------------------------------------------------------------

GBSTATS = "gbstats==0.8.0"
GBSTATS_VENV = OUT / "gbstats-0.8.0-venv"
GBSTATS_CODE = """
import json, sys
from gbstats.frequentist.tests import FrequentistConfig, TwoSidedTTest
from gbstats.models.statistics import (
    ProportionStatistic, RegressionAdjustedStatistic, SampleMeanStatistic)
spec = json.load(open(sys.argv[1]))
sums, theta, alpha = spec["sums"], spec["theta"], spec["alpha"]
def stat(s, metric):
    n = int(s["n"])
    if metric in ("conversion", "unsubscribe"):
        return ProportionStatistic(n=n, sum=s[metric])
    if metric == "returns":
        return SampleMeanStatistic(n=n, sum=s["returns"], sum_squares=s["returns_sq"])
    post = SampleMeanStatistic(n=n, sum=s["revenue"], sum_squares=s["revenue_sq"])
    pre = SampleMeanStatistic(n=n, sum=s["pre_revenue"], sum_squares=s["pre_sq"])
    return RegressionAdjustedStatistic(n=n, post_statistic=post, pre_statistic=pre,
        post_pre_sum_of_products=s["cross"], theta=theta)
out = {}
for metric in ("conversion", "unsubscribe", "returns", "revenue", "revenue_own"):
    for g in ("control", "treatment"):
        out[metric + "." + g] = {}
        for kind in ("absolute", "relative"):
            config = FrequentistConfig(alpha=alpha, difference_type=kind)
            test = TwoSidedTTest(stat(sums["holdout"], metric), stat(sums[g], metric), config)
            if metric == "revenue":  # the test set its own theta; use patron's
                test.stat_a.theta = test.stat_b.theta = theta
            r = test.compute_result()
            out[metric + "." + g][kind] = [r.expected, list(r.ci), r.p_value]
        if metric == "revenue_own":
            out[metric + "." + g]["theta"] = test.stat_b.theta
print(json.dumps(out))
"""
"""Absolute and relative two-sided tests of each treatment against the holdout, at alpha / 2
(patron's Bonferroni level for two comparisons). Revenue is CUPED (``RegressionAdjustedStatistic``)
twice: with patron's theta (pooled within all three groups), which gbstats' test replaces by its
own on construction and is set back before computing, and with gbstats' own theta (pooled over
the two groups compared, around their joint mean), shown apart."""


def gbstats_python() -> Path | None:
    """The throwaway venv's python with gbstats installed (made once), or None if it fails."""
    python = GBSTATS_VENV / "bin" / "python"
    if not python.exists():
        print(f"  making {GBSTATS_VENV} for {GBSTATS} (once) ...", flush=True)
        base = getattr(sys, "_base_executable", None) or "python3"
        try:
            subprocess.run([base, "-m", "venv", str(GBSTATS_VENV)], check=True, timeout=300)
            install = [str(python), "-m", "pip", "install", "-q", GBSTATS]
            subprocess.run(install, check=True, timeout=900)
        except (subprocess.SubprocessError, OSError) as exc:
            print(f"  {GBSTATS} could not be installed ({exc}); skipping the cross-check")
            shutil.rmtree(GBSTATS_VENV, ignore_errors=True)
            return None
    return python


def run_gbstats(folder: Path, sums: dict[str, Any], theta: float) -> dict[str, Any] | None:
    python = gbstats_python()
    if python is None:
        return None
    spec = folder / "gbstats_in.json"
    spec.write_text(json.dumps({"sums": sums, "theta": theta, "alpha": ALPHA / 2}))
    done = subprocess.run(
        [str(python), "-c", GBSTATS_CODE, str(spec)], capture_output=True, text=True, check=False
    )
    if done.returncode:
        print(f"  gbstats failed: {done.stderr.strip().splitlines()[-1:]}")
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def check_gbstats(readouts: dict[str, Any], gb: dict[str, Any]) -> tuple[list[Any], bool]:
    """Patron's rows beside gbstats' results: table rows and whether they agree. Lifts to 1e-9
    relative; for Welch/CUPED rows intervals to 1e-9 and p-values to 1e-6 relative; for rates
    (gbstats' t against patron's z) intervals to 1e-3 and p-values to 1e-2 relative."""
    rows, ok = [], True
    sources = {
        "conversion": readouts["conversion"]["variants"],
        "revenue": readouts["revenue"]["variants"],
        **{g["metric"]: g["variants"] for g in readouts["conversion"]["guardrails"]},
    }
    for key, result in gb.items():
        metric, group = key.split(".")
        if metric == "revenue_own":
            continue
        mine = next(r for r in sources[metric] if r["name"] == group)
        # gbstats tests proportions with Welch's t, patron with z: their tails differ by O(1/df).
        binary = metric in ("conversion", "unsubscribe")
        (lift, ci, p), (rel, rel_ci, _) = result["absolute"], result["relative"]
        pairs = list(zip(mine["lift_ci"], ci, strict=True))
        ci_tol = 1e-3 if binary else 1e-9
        if metric != "revenue":
            pairs += list(zip(mine["relative_lift_ci"], rel_ci, strict=True))
        # relative to the interval's half-width: an end near 0 has no relative precision
        centers = [lift, lift, rel, rel][: len(pairs)]
        ci_diff = max(abs(a - b) / abs(a - m) for (a, b), m in zip(pairs, centers, strict=True))
        rel_diff = abs(mine["relative_lift"] - rel) / abs(rel)
        good = _close(mine["lift"], lift, VALUE_TOL) and ci_diff < ci_tol
        # gbstats' p is 2 (1 - cdf): no digits below 1e-16
        tol = 1e-2 if binary else P_TOL
        good = good and math.isclose(mine["p_value"], p, rel_tol=tol, abs_tol=1e-12)
        if metric != "revenue":  # CUPED's relative lift: see the note printed below
            good = good and rel_diff < 1e-9
        ok = ok and good
        rows.append(
            [
                key + (" (CUPED)" if metric == "revenue" else ""),
                f"{abs(mine['lift'] - lift) / abs(lift):.1e}",
                f"{ci_diff:.1e}",
                f"{mine['p_value']:.6g}",
                f"{p:.6g}",
                f"{mine['relative_lift']:+.4%}",
                f"{rel:+.4%}",
                "ok" if good else "DIFFERS",
            ]
        )
    for group in ("control", "treatment"):
        own = gb.get(f"revenue_own.{group}")
        if own:
            lift, ci, p = own["absolute"]
            rows.append(
                [
                    f"revenue.{group} (CUPED, gbstats' theta {own['theta']:.4f})",
                    "",
                    "",
                    "",
                    f"{p:.6g}",
                    "",
                    f"{own['relative'][0]:+.4%}",
                    "not judged",
                ]
            )
    return rows, ok


# ---------------------------------------------------------------------------------------------
# Comparison and report
# ---------------------------------------------------------------------------------------------

VALUE_TOL = 1e-9  # relative, for n, means, lifts, intervals, theta and variance reduction
P_TOL = 1e-6  # relative, for p-values


def _close(a: Any, b: Any, rel: float) -> bool:
    if a is None or b is None:
        return a is b
    if isinstance(a, list):
        return len(a) == len(b) and all(_close(x, y, rel) for x, y in zip(a, b, strict=True))
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-300)


def compare(readout: dict[str, Any], peer: dict[str, Any], label: str) -> list[str]:
    """Every difference between patron's readout and the peer's, as readable lines."""
    diffs: list[str] = []

    def rows(where: str, mine: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> None:
        by_name = {r["name"]: r for r in mine}
        for t in theirs:
            m = by_name.get(t["name"])
            if m is None:
                diffs.append(f"{where}.{t['name']}: missing in patron's readout")
                continue
            for key, value in t.items():
                rel = P_TOL if key.startswith("p_value") else VALUE_TOL
                if key != "name" and not _close(m.get(key), value, rel):
                    diffs.append(f"{where}.{t['name']}.{key}: patron {m.get(key)} peer {value}")

    rows(f"{label}.variants", readout["variants"], peer["variants"])
    guards = {g["metric"]: g["variants"] for g in readout["guardrails"]}
    for metric, theirs in peer["guardrails"].items():
        rows(f"{label}.guardrail {metric}", guards.get(metric, []), theirs)
    if not _close(readout["srm_p_value"], peer["srm_p_value"], P_TOL):
        diffs.append(f"{label}.srm_p_value: {readout['srm_p_value']} vs {peer['srm_p_value']}")
    for key, value in (peer.get("cuped") or {}).items():
        mine = (readout.get("cuped") or {}).get(key)
        if not _close(mine, value, VALUE_TOL):
            diffs.append(f"{label}.cuped.{key}: patron {mine} peer {value}")
    return diffs


def print_readout(title: str, readout: dict[str, Any]) -> None:
    """The numbers that make a run checkable: per group n, mean, lift, p; SRM; CUPED."""
    print(f"\n{title}: decision {readout['decision']!r}; srm_p_value {readout['srm_p_value']:.4f}")
    cuped = readout.get("cuped")
    if cuped:
        print(
            f"  CUPED on {cuped['covariate']}: theta {cuped['theta']:.4f}, variance reduction "
            f"{cuped['variance_reduction']:.1%}"
        )
    table = []
    for where, rows in [
        (readout["metric"], readout["variants"]),
        *((g["metric"], g["variants"]) for g in readout["guardrails"]),
    ]:
        for r in rows:
            table.append(
                [
                    where,
                    r["name"],
                    r["n"],
                    f"{r['mean']:.6g}",
                    f"{r['lift']:+.5g}",
                    "" if r["relative_lift"] is None else f"{r['relative_lift']:+.2%}",
                    "" if r["p_value"] is None else f"{r['p_value']:.3g}",
                    "" if r["p_value_adjusted"] is None else f"{r['p_value_adjusted']:.3g}",
                ]
            )
    print_table(["metric", "group", "n", "mean", "lift", "relative", "p", "p (Holm)"], table)
    print(f"  verdict: {readout['verdict']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--child", nargs=3, metavar=("STAGE", "WORKSPACE", "OUT"))
    parser.add_argument("--build", nargs=3, metavar=("CUSTOMERS", "SEED", "DIR"))
    args = parser.parse_args()
    if worker(args, build, child_patron, child_pandas):
        return

    folder = ensure_data(args.customers, args.seed)
    workspace, assignments = folder / "workspace", folder / "assignments.parquet"
    rows = _orders(folder)
    print(
        f"  data: {workspace} ({_size(workspace):,.0f} MiB, {rows:,} order rows); orders and "
        f"events as Parquet ({_size(folder / 'orders.parquet'):,.0f} MiB)",
        flush=True,
    )
    load = [_load()]

    def patron(stage: str) -> dict[str, Any]:
        print(f"  patron: {stage} in a fresh process ...", flush=True)
        return run_child([SCRIPT, "--child", stage, str(workspace), str(assignments)])

    left = patron("cleanup")
    if left.get("result"):
        print("  (deleted a 'bench' experiment an earlier run left behind)")
    runs = {"create": patron("create")}
    exported = patron("export")  # the peer's input; not measured
    runs["readout conversion"] = patron("readout conversion")
    runs["readout revenue + CUPED"] = patron("readout revenue + CUPED")
    load.append(_load())
    print("  pandas: the same two readouts in one fresh process ...", flush=True)
    peer = (
        run_child([SCRIPT, "--child", "pandas", str(folder), str(assignments)])
        if "failed" not in exported and "error" not in exported
        else {"error": "no assignments were exported"}
    )
    load.append(_load())
    deleted = patron("delete")

    report(folder, args.customers, rows, runs, exported, deleted, peer, " / ".join(load))


def report(
    folder: Path,
    customers: int,
    rows: int,
    runs: dict[str, dict[str, Any]],
    exported: dict[str, Any],
    deleted: dict[str, Any],
    peer: dict[str, Any],
    load: str,
) -> None:
    print(
        f"\n== experiments: {customers:,} customers, {rows:,} order rows, patron (DuckDB, "
        f"{_cores()} cores, memory_limit 1GB) vs pandas + scipy (1 core); load average at start "
        f"/ before pandas / end {load} =="
    )
    table = []
    for name, run in [*runs.items(), ("export assignments (not counted)", exported)]:
        table.append(_stage_row(name, run))
    table.append(_stage_row("delete (not counted)", deleted))
    ok = [r for r in runs.values() if "seconds" in r and "failed" not in r]
    table.append(
        [
            "total (create + 2 readouts)",
            sum(r.get("seconds", 0.0) for r in runs.values()),
            "",
            max(r["peak_mib"] for r in runs.values()),
            f"{len(ok)}/{len(runs)} succeeded",
        ]
    )
    print_table(["stage", "call s", "open + import ibis s", "peak MiB", "note"], table)

    created = runs["create"].get("result") or {}
    if created:
        groups = ", ".join(f"{g['name']} {g['customers']:,}" for g in created.get("groups", []))
        print(f"\ncreated {created.get('audience_size', 0):,} assignments: {groups}")
    readouts = {
        "conversion": runs["readout conversion"].get("result"),
        "revenue": runs["readout revenue + CUPED"].get("result"),
    }
    for metric, readout in readouts.items():
        if readout:
            print_readout(f"readout {metric}", readout)

    diffs: list[str] = []
    patron_readouts = sum(runs[s].get("seconds", 0.0) for s in STAGES[1:])
    if "error" in peer:
        print(f"\npandas peer FAILED: {peer['error']}")
        diffs.append("pandas peer failed: nothing to compare")
        speedup = 0.0
    else:
        sec, peaks = peer["seconds"], peer.get("step_peak_mib", {})
        compute = sum(v for k, v in sec.items() if k != "read parquet")
        print(f"\npandas + scipy (peak {peer['peak_mib']:,.0f} MiB):")
        print_table(
            ["pandas step", "seconds", "peak MiB"],
            [[k, v, peaks.get(k, 0.0)] for k, v in sec.items()]
            + [["compute (without the read)", compute, ""]],
        )
        for metric, readout in readouts.items():
            if readout is None:
                diffs.append(f"{metric}: patron's readout failed")
            else:
                diffs += compare(readout, peer[metric], metric)
                if readout["through"] != peer["through"]:
                    diffs.append(f"{metric}.through: {readout['through']} vs {peer['through']}")
        speedup = compute / patron_readouts if patron_readouts else 0.0
        read = sec["read parquet"]
        print(
            f"\nreadout work: patron {patron_readouts:.2f} s (two analyze_experiment calls, each "
            f"computing its own outcomes); pandas {compute:.2f} s compute (outcomes once for "
            f"both) + {read:.2f} s Parquet read = {compute + read:.2f} s; pandas / patron = "
            f"{speedup:.2f}x on compute, {(compute + read) / patron_readouts:.2f}x with the read"
        )
    gb_ok = None
    if "error" not in peer and readouts["conversion"] and readouts["revenue"]:
        gb = run_gbstats(folder, peer["sums"], readouts["revenue"]["cuped"]["theta"])
        if gb is not None:
            rows, gb_ok = check_gbstats(readouts, gb)
            print(f"\ncross-check against GrowthBook's engine ({GBSTATS}, same per-group sums):")
            headers = ["comparison with holdout", "lift diff", "CI diff", "p patron", "p gbstats"]
            print_table([*headers, "rel. lift patron", "rel. lift gbstats", ""], rows)
            print(
                "  (gbstats tests proportions with Welch's t, patron with z: intervals differ in "
                "the 4th-6th digit; CUPED's relative lift: gbstats divides the adjusted difference "
                "by the unadjusted baseline mean, patron by the adjusted one)"
            )
    print()
    if diffs:
        print(f"!!! RESULTS DIFFER: patron and the peer disagree in {len(diffs)} places !!!")
        for line in diffs[:40]:
            print(f"  {line}")
    else:
        print(
            "results match: n, means, lifts and intervals (1e-9 relative), p-values, Holm "
            "p-values and the SRM p-value (1e-6), CUPED's theta and variance reduction, both "
            "guardrails, in both readouts"
        )
    print()
    failed = [s for s, r in runs.items() if "failed" in r or "error" in r]
    conversion = readouts["conversion"]
    planted = bool(conversion) and any(
        r["name"] == "treatment" and r["lift"] > 0 and (r["p_value_adjusted"] or 1) < ALPHA
        for r in conversion["variants"]
    )
    why = "; ".join(f"{s}: {_why(runs[s])}" for s in failed)
    checks = [
        ("every patron stage succeeded" + (f" (failed: {why})" if failed else ""), not failed),
        (
            "patron's readouts equal pandas + scipy's"
            + (f" ({len(diffs)} differences)" if diffs else ""),
            not diffs,
        ),
        ("the planted conversion lift of treatment is found (Holm p < 0.05)", planted),
        (
            "no sample ratio mismatch (p >= 0.001)",
            bool(conversion) and conversion["srm_p_value"] >= 0.001,
        ),
    ]
    if gb_ok is not None:
        checks.append((f"lifts, intervals and p-values agree with {GBSTATS}", gb_ok))
    for label, passed in checks:
        print(f"[{'PASS' if passed else 'FAIL'}] {label}")
    if speedup:
        print(f"speed on the readout work: pandas / patron = {speedup:.2f}x")


def _stage_row(name: str, run: dict[str, Any]) -> list[Any]:
    note = f"FAILED {_why(run)}" if "failed" in run or "error" in run else ""
    return [name, run.get("seconds", ""), run.get("open_seconds", ""), run["peak_mib"], note]


def _why(run: dict[str, Any]) -> str:
    return str(run.get("failed") or run.get("error"))


def _orders(folder: Path) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(folder / "orders.parquet").metadata.num_rows


if __name__ == "__main__":
    main()
