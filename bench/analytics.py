"""Analytics benchmark: every KPI, cohort and segment call on one workspace, against pandas.

Why: issue 3 asks for all KPIs, cohorts and segments on 10M orders / 1M customers at least 5x
faster than plain pandas on the same data, with peak RSS under 4 GiB. Patron runs each public
call (``ws.kpis()``, by acquisition channel and by channel, ``concentration``, ``cohorts`` for
the five metrics, ``clv_curves``, ``segment_summary``, ``export_customers``) in one fresh
process; the peer is idiomatic vectorized pandas in another fresh process, reading the same
orders from a Parquet export (read time shown apart) and computing the overall KPIs, the monthly
cohort cells (all five metrics) and RFM scores, segments, lifecycle stages and value tiers per
the docstrings of ``patron.metrics.kpis``, ``patron.metrics.cohorts`` and ``patron.segments``.
The two results are compared value by value: a speed ratio between programs that disagree is
worthless, so a mismatch is printed loudly and fails the run.

Data: loading 10M rows through ``patron load`` takes minutes and is measured by ``load.py``, so
the workspace's ``orders`` (with ``identities``, ``customers`` and a ``loads`` record) is built
directly in DuckDB SQL inside a folder made by ``patron.Workspace.init``; see ``build_orders``.
It is cached in ``bench/out/analytics_<orders>_<customers>_<seed>/`` and reused.

Usage: ``python bench/analytics.py [--orders N] [--customers C] [--seed S]``
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from common import (
    MIB,
    OUT,
    StepProfiler,
    emit,
    first_line,
    log_generated_loads,
    print_table,
    run_child,
)
from patron.segments import RULES  # the rule table is the definition both sides follow

SCRIPT = str(Path(__file__).resolve())
TARGET_SPEEDUP, TARGET_RSS_MIB = 5.0, 4096
DATA_VERSION = 3  # bump when build_orders changes, so cached workspaces are rebuilt

# ---------------------------------------------------------------------------------------------
# Data: a workspace whose orders table is generated in the engine
# ---------------------------------------------------------------------------------------------

START, END = "2023-01-01 00:00:00", "2025-12-31 00:00:00"  # 3 years, like make_data.py
SPAN_SECONDS = 1095 * 86_400
YEAR_SECONDS = 365 * 86_400
CHANNELS = ("web", "store", "app", "marketplace")
CHANNEL_P = (0.5, 0.3, 0.15, 0.05)
DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "icloud.com", "example.org")
ACQUISITION_GROWTH = 1.5  # acquisitions grow over the 3 years (density ~ t ** 0.5)
ONE_AND_DONE = 0.35  # share of customers who drop out right after their first purchase
LIFETIME_YEARS = 1.5  # mean time to dropout of the others (exponential)
RATE_SHAPE = 0.6  # gamma shape of purchase rates: a few heavy buyers, many light ones
SPEND_LOG_MEAN, SPEND_LOG_SD, ORDER_LOG_SD = 3.8, 0.5, 0.6  # lognormal basket size
OWN_CHANNEL = 0.7  # share of a customer's orders in their preferred channel
RETURN_SHARE, COST_SHARE, DISCOUNT_SHARE, EMAIL_SHARE = 0.03, 0.9, 0.3, 0.7


def data_dir(orders: int, customers: int, seed: int) -> Path:
    return OUT / f"analytics_{orders}_{customers}_{seed}"


def ensure_workspace(orders: int, customers: int, seed: int) -> tuple[Path, Path]:
    """The cached workspace folder and its Parquet export, built only when missing."""
    folder = data_dir(orders, customers, seed)
    meta = {"orders": orders, "customers": customers, "seed": seed, "version": DATA_VERSION}
    parquet, workspace, meta_file = folder / "orders.parquet", folder / "workspace", folder / "meta"
    current = (
        meta_file.exists()
        and json.loads(meta_file.read_text()) == meta
        and pq.ParquetFile(parquet).metadata.num_rows == orders
    )
    if not current:
        started = time.perf_counter()
        shutil.rmtree(folder, ignore_errors=True)
        tmp = folder.with_name(folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        # In a child, so the measuring parent (whose process tree run_child polls) stays small.
        build = [sys.executable, SCRIPT, "--build", str(orders), str(customers), str(seed)]
        subprocess.run([*build, str(tmp)], check=True)
        (tmp / "meta").write_text(json.dumps(meta))
        tmp.rename(folder)
        print(
            f"built a workspace of {orders:,} orders / {customers:,} customers in "
            f"{time.perf_counter() - started:.0f} s",
            flush=True,
        )
    return workspace, parquet


def customer_plan(orders: int, customers: int, seed: int) -> pa.Table:
    """One row per customer: acquisition, active span, purchase count, basket size, channel.

    Buy-till-you-die in spirit: customers arrive over 3 years (more later), 35% drop out after
    their first purchase, the others after an exponential lifetime; while alive they buy at a
    gamma-distributed rate. The ``purchases - customers`` repeat purchases are shared out by
    one multinomial draw weighted by rate x span, so the total is exact.
    """
    purchases = orders - round(orders * RETURN_SHARE)
    if purchases < customers:
        raise SystemExit(f"--orders must be at least {math.ceil(customers / 0.97):,}")
    rng = np.random.default_rng([seed, orders, customers])
    t0 = np.floor(SPAN_SECONDS * rng.power(ACQUISITION_GROWTH, customers)).astype(np.int64)
    lifetime = rng.exponential(LIFETIME_YEARS * YEAR_SECONDS, customers)
    lifetime[rng.random(customers) < ONE_AND_DONE] = 0.0
    span = np.minimum(lifetime, SPAN_SECONDS - 1 - t0)
    weight = rng.gamma(RATE_SHAPE, 1.0, customers) * span
    extra = rng.multinomial(purchases - customers, weight / weight.sum())
    return pa.table(
        {
            "customer_key": np.arange(1, customers + 1, dtype=np.int64),
            "t0": t0,
            "span": span,
            "n": 1 + extra,
            "mu": rng.normal(SPEND_LOG_MEAN, SPEND_LOG_SD, customers),
            "pref": rng.choice(len(CHANNELS), customers, p=CHANNEL_P),
        }
    )


def _u(k: int, seed: int) -> str:
    """A uniform [0, 1) per (customer, order number, k): DuckDB's hash, so it is reproducible."""
    return f"((hash(customer_key, i, {k}, {seed}) >> 11) / 9007199254740992.0)"


def build_orders(folder: Path, orders: int, customers: int, seed: int) -> None:
    """A patron workspace whose orders table holds ``orders`` rows, generated in DuckDB.

    Every column the loader writes is filled as a load would: ids, identifiers, UTC timestamps,
    shop-local ``order_date``, 2-decimal money, ``is_return`` (negative revenue, status
    ``returned``, ``return_of`` naming the purchase), ``customer_key``, ``row_key``/``row_hash``
    and load bookkeeping. 3% of the rows are full refunds of a random purchase 1-30 days later;
    90% of purchases carry a cost, 30% a discount, 70% an email. ``identities`` gets each
    customer's id and email and ``customers`` is rebuilt by patron's own function.
    """
    import duckdb

    import patron
    from patron.ingest.customers import rebuild_customers
    from patron.metrics.occasions import rebuild_occasions

    patron.Workspace.init(folder, timezone="UTC", currency="USD", phone_region="US").close()
    con = duckdb.connect(str(folder / "warehouse.duckdb"))
    con.execute("SET memory_limit = '4GB'")
    con.execute("SET temp_directory = ?", [str(folder / "gen.tmp")])
    plan = customer_plan(orders, customers, seed)
    con.register("plan", plan)
    returns = round(orders * RETURN_SHARE)
    u = {k: _u(k, seed) for k in range(12)}
    channels = "[" + ", ".join(f"'{c}'" for c in CHANNELS) + "]"
    normal = f"sqrt(-2 * ln(1 - {u[1]})) * cos(2 * pi() * {u[2]})"  # Box-Muller
    con.execute(
        f"""CREATE TEMP TABLE gen AS
        WITH rows AS (SELECT customer_key, t0, span, mu, pref, unnest(range(n)) AS i FROM plan)
        SELECT customer_key, i,
          TIMESTAMP '{START}' + to_seconds(CAST(t0 + CASE WHEN i = 0 THEN 0
            ELSE floor({u[0]} * span) END AS BIGINT)) AS ordered_at,
          {channels}[CASE WHEN {u[3]} < {OWN_CHANNEL} THEN pref
            ELSE CAST(floor({u[4]} * 4) AS BIGINT) END + 1] AS channel,
          CAST(round(exp(mu + {ORDER_LOG_SD} * {normal}), 2) AS DECIMAL(18, 2)) AS revenue,
          {u[5]} AS u_cost, {u[6]} AS u_margin, {u[7]} AS u_discount, {u[8]} AS u_off,
          {u[9]} < {EMAIL_SHARE} AS has_email, {u[10]} AS u_delay, {u[11]} AS u_return
        FROM rows"""
    )
    con.execute(
        f"""CREATE TEMP TABLE purchases AS
        SELECT *, row_number() OVER (ORDER BY ordered_at, customer_key, i) AS seq,
          CASE WHEN u_cost < {COST_SHARE}
            THEN CAST(round(revenue * (0.45 + 0.25 * u_margin), 2) AS DECIMAL(18, 2)) END AS cost,
          CAST(CASE WHEN u_discount < {DISCOUNT_SHARE}
            THEN round(revenue * (0.05 + 0.25 * u_off), 2) ELSE 0 END AS DECIMAL(18, 2))
            AS discount
        FROM gen"""
    )
    con.execute("DROP TABLE gen")
    write_orders(con, "purchases", returns, "bench/analytics.py")
    rebuild_customers(con)
    rebuild_occasions(con)
    log_generated_loads(con, ("orders",), "analytics.py")
    con.execute("CHECKPOINT")
    con.close()
    shutil.rmtree(folder / "gen.tmp", ignore_errors=True)


def write_orders(con: Any, purchases: str, returns: int, source: str) -> None:
    """The generated ``purchases`` (a temp table's name; its columns as ``build_orders`` makes
    them) and full refunds of ``returns`` of them into ``orders``, and every customer's
    identifiers into ``identities``. A refund comes 1-30 days after its purchase, before END;
    every customer has a customer_id, those with ``has_email`` an email."""
    con.execute(
        f"""CREATE TEMP TABLE refunds AS
        SELECT * REPLACE (
            least(ordered_at + to_seconds(CAST(86400 * (1 + 29 * u_delay) AS BIGINT)),
              TIMESTAMP '{END}' - INTERVAL 1 SECOND) AS ordered_at,
            -revenue AS revenue, -cost AS cost, -discount AS discount),
          seq AS purchase_seq
        FROM {purchases} ORDER BY u_return LIMIT {returns}"""
    )
    domains = "[" + ", ".join(f"'{d}'" for d in DOMAINS) + "]"
    columns = f"""customer_key, ordered_at, channel, revenue, discount, cost,
        'C' || lpad(CAST(customer_key AS VARCHAR), 8, '0') AS customer_id,
        CASE WHEN has_email THEN 'customer.' || customer_key || '@'
          || {domains}[customer_key % {len(DOMAINS)} + 1] END AS email"""
    insert_orders(con, purchases, columns, source)
    con.execute("DROP TABLE refunds")
    insert_identities(con)


def insert_identities(con: Any) -> None:
    """Each customer's customer_id and email (where they have one) in ``identities``, first
    seen at their first order: what resolution would record for the generated orders."""
    con.execute(
        """INSERT INTO identities
        SELECT 'customer_id', any_value(customer_id), customer_key, 'orders', min(ordered_at)
        FROM orders GROUP BY customer_key
        UNION ALL
        SELECT 'email', email, customer_key, 'orders', min(ordered_at)
        FROM orders WHERE email IS NOT NULL GROUP BY customer_key, email"""
    )


def insert_orders(con: Any, purchases: str, columns: str, source: str) -> None:
    """The temp tables ``purchases`` (its name) and ``refunds`` into ``orders`` (``con``: a
    DuckDB connection) with every column a load writes: ids, ``order_date``, ``is_return`` and
    ``return_of``, ``row_key``/``row_hash``, load bookkeeping; ``columns`` selects the
    customer's and money columns from both."""
    con.execute(
        f"""INSERT INTO orders BY NAME
        WITH rows AS (
          SELECT {columns}, 'O' || lpad(CAST(seq AS VARCHAR), 10, '0') AS order_id,
            'completed' AS status, NULL AS return_of, false AS is_return
          FROM {purchases}
          UNION ALL
          SELECT {columns},
            'R' || lpad(CAST(row_number() OVER (ORDER BY ordered_at, purchase_seq) AS VARCHAR),
              10, '0') AS order_id,
            'returned', 'O' || lpad(CAST(purchase_seq AS VARCHAR), 10, '0'), true
          FROM refunds)
        SELECT *, CAST(ordered_at AS DATE) AS order_date, 'USD' AS currency,
          order_id AS row_key,
          CAST(md5_number(concat_ws('|', order_id, customer_id, email, ordered_at, channel,
            revenue, discount, cost, status, return_of)) >> 64 AS UBIGINT) AS row_hash,
          1 AS load_id, 'generated by {source}' AS source_file,
          row_number() OVER (ORDER BY ordered_at, order_id) AS source_row
        FROM rows ORDER BY ordered_at, order_id"""
    )


def export_parquet(workspace: Path, path: Path) -> None:
    """The peer's input: the orders table as Parquet, money as float64 (as patron casts it)."""
    import duckdb

    con = duckdb.connect(str(workspace / "warehouse.duckdb"), read_only=True)
    con.execute(
        f"""COPY (SELECT customer_key, order_date, ordered_at, order_id, channel,
            CAST(revenue AS DOUBLE) AS revenue, CAST(cost AS DOUBLE) AS cost, is_return
          FROM orders) TO '{path}' (FORMAT parquet, COMPRESSION snappy)"""
    )
    con.close()


# ---------------------------------------------------------------------------------------------
# Patron: every call, timed one by one in this (fresh) process
# ---------------------------------------------------------------------------------------------

COHORT_METRICS = ("retention", "revenue", "customers", "cumulative_revenue", "repeat")
DIMENSIONS = ("rfm_segment", "stage", "value_tier")
HEAD = ("as_of", "window_days", "early_days", "currency", "by", "group")


def child_patron(workspace: str, tmp: str) -> None:
    """Open the workspace and run each call; seconds, peak RSS and the results to compare."""
    profiler = StepProfiler().start()
    seconds: dict[str, float] = {}
    errors: dict[str, str] = {}

    def step(name: str, call: Callable[[], Any]) -> Any:
        profiler.current = name
        started = time.perf_counter()
        try:
            return call()
        except Exception as exc:
            errors[name] = f"{type(exc).__name__}: {first_line(exc)}"[:200]
            return None
        finally:
            seconds[name] = time.perf_counter() - started

    def opened() -> Any:
        import patron

        ws = patron.Workspace.open(workspace)
        ws.table("orders")  # imports Ibis: every first call pays it, so it is counted here
        return ws

    ws = step("open (incl. import ibis)", opened)
    kpis = step("kpis()", ws.kpis)
    by_acq = step("kpis(by=acquisition_channel)", lambda: ws.kpis(by="acquisition_channel"))
    by_channel = step("kpis(by=channel)", lambda: ws.kpis(by="channel"))
    curve = step("concentration()", ws.concentration)
    cohorts = {
        m: step(f"cohorts(month, {m})", partial(ws.cohorts, period="month", metric=m))
        for m in COHORT_METRICS
    }
    clv = step("clv_curves()", ws.clv_curves)
    summary = step("segment_summary()", ws.segment_summary)
    exported = step("export_customers()", lambda: ws.export_customers(Path(tmp) / "c.parquet"))
    profiler.current = "close"
    ws.close()
    profiler.stop()

    emit(
        {
            "seconds": seconds,
            "step_peak_mib": profiler.peak_mib,
            "errors": errors,
            "kpis": None if kpis is None else {k: v for k, v in kpis.items() if k not in HEAD},
            "as_of": None if kpis is None else kpis["as_of"],
            "cohorts": {m: _cohort_values(c) for m, c in cohorts.items() if c is not None},
            "segments": None if summary is None else _summary_values(summary),
            "shapes": {
                "kpis(by=acquisition_channel)": by_acq and len(by_acq["groups"]),
                "kpis(by=channel)": by_channel and len(by_channel["groups"]),
                "concentration()": curve and len(curve),
                "clv_curves()": clv and len(clv["curves"]),
                "export_customers()": exported,
            },
        }
    )


def _cohort_values(result: dict[str, Any]) -> dict[str, Any]:
    return {c["cohort"]: {"size": c["size"], "values": c["values"]} for c in result["cohorts"]}


def _summary_values(summary: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"customers": summary["customers"]}
    for dim in DIMENSIONS:
        out[dim] = {r["name"]: [r["customers"], r["revenue"]] for r in summary[dim]}
    return out


# ---------------------------------------------------------------------------------------------
# The peer: the same definitions in idiomatic pandas
# ---------------------------------------------------------------------------------------------

WINDOW, EARLY_DAYS, CLV_DAYS, BINS, PRIOR_GAPS = 365, 90, 365, 5, 2
DEFECT_AFTER, INACTIVE_AFTER = 2.0, 4.0


def child_pandas(parquet: str) -> None:
    """Read the Parquet export, then KPIs, cohorts and segments, each step timed."""
    import pandas as pd

    profiler = StepProfiler().start()
    step = profiler.step

    columns = ["customer_key", "order_date", "revenue", "cost", "is_return"]
    df = step(
        "read parquet",
        lambda: pd.read_parquet(
            parquet, columns=columns, to_pandas_kwargs={"date_as_object": False}
        ),
    )
    base = step("occasions and customer dates", lambda: pandas_base(df))
    kpis = step("kpis", lambda: pandas_kpis(*base))
    cohorts = step("cohorts (5 metrics)", lambda: pandas_cohorts(*base))
    segments = step("segments", lambda: pandas_segments(*base))
    profiler.stop()
    emit(
        {
            "seconds": profiler.seconds,
            "step_peak_mib": profiler.peak_mib,
            "kpis": kpis,
            "as_of": base[0].date().isoformat(),
            "cohorts": cohorts,
            "segments": segments,
        }
    )


DAY = np.timedelta64(1, "D")


def pandas_base(df: Any) -> tuple[Any, ...]:
    """As-of day, purchases, refunds, purchase occasions and per-customer dates.

    Shared by the three steps below (an idiomatic pandas user computes it once), which gives
    the peer its best case.
    """
    import pandas as pd

    as_of = df.loc[~df.is_return, "order_date"].max()
    df = df[df.customer_key.notna() & (df.order_date <= as_of)]
    buys, rets = df[~df.is_return], df[df.is_return]
    occ = (
        buys.groupby(["customer_key", "order_date"], sort=False)  # unsorted: twice as fast
        .agg(revenue=("revenue", "sum"), orders=("revenue", "size"))
        .reset_index()
    )
    occ["n"] = occ.groupby("customer_key").order_date.rank(method="first").astype("int64") - 1
    by_customer = occ.groupby("customer_key")
    cust = pd.DataFrame(
        {
            "first_date": by_customer.order_date.min(),
            "last_date": by_customer.order_date.max(),
            "occasions": by_customer.size(),
            "revenue": by_customer.revenue.sum(),
        }
    )
    cust["second_date"] = occ[occ.n == 1].set_index("customer_key").order_date
    rets = rets[rets.customer_key.isin(cust.index)]
    rets = rets.assign(refund=rets.revenue.abs(), recovered=rets.cost.abs().fillna(0.0))
    return as_of, buys, rets, occ, cust


def pandas_kpis(as_of: Any, buys: Any, rets: Any, occ: Any, cust: Any) -> dict[str, Any]:
    """``ws.kpis()`` overall: every key of ``patron.metrics.kpis``'s docstring."""
    start, previous = as_of - WINDOW * DAY, as_of - 2 * WINDOW * DAY
    key = occ.customer_key
    in_window = occ.order_date > start
    active = in_window.groupby(key).any()
    was_active = ((occ.order_date > previous) & ~in_window).groupby(key).any()
    window_revenue = occ.revenue.where(in_window, 0.0).groupby(key).sum()
    first = cust.first_date
    gap = (cust.second_date - first) / DAY
    is_new = first > start
    early_end, clv_end = as_of - EARLY_DAYS * DAY, as_of - CLV_DAYS * DAY
    in_early = (first > early_end - WINDOW * DAY) & (first <= early_end)
    early_repeat = gap.fillna(EARLY_DAYS + 1) <= EARLY_DAYS
    in_clv = (first > clv_end - WINDOW * DAY) & (first <= clv_end)
    year_end = key.map(first) + CLV_DAYS * DAY
    first_year = occ.revenue.where(occ.order_date < year_end, 0.0).groupby(key).sum()
    ret_year_end = rets.customer_key.map(first) + CLV_DAYS * DAY
    first_year_refunds = (
        rets.refund.where(rets.order_date < ret_year_end, 0.0)
        .groupby(rets.customer_key)
        .sum()
        .reindex(cust.index, fill_value=0.0)
    )
    clv = (first_year - first_year_refunds)[in_clv]

    window_buys = buys[buys.order_date > start]
    window_rets = rets[rets.order_date > start]
    revenue, orders = float(window_buys.revenue.sum()), len(window_buys)
    refunds, recovered = float(window_rets.refund.sum()), float(window_rets.recovered.sum())
    costed = window_buys.cost.notna()
    costed_revenue = float(window_buys.revenue[costed].sum())
    margin = None
    if costed.any():
        margin = costed_revenue - float(window_buys.cost.sum()) - refunds + recovered
    active_revenue = window_revenue[active]
    top = float(active_revenue.nlargest(math.ceil(len(active_revenue) * 0.1)).sum())
    n_active, n_new = int(active.sum()), int(is_new.sum())
    lost, was = int((was_active & ~active).sum()), int(was_active.sum())
    retention = _ratio(int((was_active & active).sum()), was)
    repeat = _ratio(int((cust.occasions >= 2).sum()), len(cust))
    revenue_new = float(window_revenue[is_new].sum())
    out = {
        "customers_total": len(cust),
        "active_customers": n_active,
        "new_customers": n_new,
        "lost_customers": lost,
        "retention_rate": retention,
        "attrition_rate": None if retention is None else 1 - retention,
        "leaky_bucket_ratio": _ratio(lost, n_new),
        "repeat_rate": repeat,
        "one_and_done_share": None if repeat is None else 1 - repeat,
        "early_repeat_rate": _ratio(int((in_early & early_repeat).sum()), int(in_early.sum())),
        "early_repeat_cohort": int(in_early.sum()),
        "days_to_second_purchase_median": _float(gap.median()),
        "days_to_second_purchase_mean": _float(gap.mean()),
        "revenue": revenue,
        "orders": orders,
        "aov": _ratio(revenue, orders),
        "purchase_frequency": _ratio(orders, n_active),
        "refunds": refunds,
        "net_revenue": revenue - refunds,
        "return_rate": _ratio(refunds, revenue),
        "revenue_new_customers": revenue_new,
        "revenue_returning_customers": revenue - revenue_new,
        "margin": margin,
        "margin_coverage": _ratio(costed_revenue, revenue),
        "top_10pct_revenue_share": _ratio(top, revenue),
        "clv_365": _float(clv.mean()),
        "clv_365_customers": len(clv),
    }
    return {k: round(v, 6) if isinstance(v, float) else v for k, v in out.items()}


def _ratio(num: float | None, den: float | None) -> float | None:
    return None if num is None or not den else num / den


def _float(value: Any) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def _month(days: Any) -> Any:
    return days.dt.year * 12 + days.dt.month - 1


def pandas_cohorts(as_of: Any, buys: Any, rets: Any, occ: Any, cust: Any) -> dict[str, Any]:
    """Monthly acquisition cohorts: the five metrics of ``patron.metrics.cohorts`` by age."""
    import pandas as pd

    cohort = _month(cust.first_date)
    cells = occ.assign(
        cohort=occ.customer_key.map(cohort),
        age=_month(occ.order_date) - occ.customer_key.map(cohort),
        second=occ.n == 1,
    )
    keys = ["cohort", "age"]
    grid = cells.groupby(keys).agg(revenue=("revenue", "sum"), second=("second", "sum"))
    grid["customers"] = cells.drop_duplicates(["customer_key", "age"]).groupby(keys).size()
    ret_cohort = rets.customer_key.map(cohort)
    refunded = rets.refund.groupby([ret_cohort, _month(rets.order_date) - ret_cohort]).sum()
    refunded.index.names = ["cohort", "age"]
    grid = grid.join(refunded.rename("refund"), how="outer").fillna(0.0).astype("float64")
    grid["revenue"] -= grid.refund
    grid = grid[grid.index.get_level_values("age") >= 0]
    size = cohort.value_counts().sort_index()
    last = as_of.year * 12 + as_of.month - 1
    ages = range(last - int(size.index.min()) + 1)
    wide = {m: grid[m].unstack(fill_value=0.0).reindex(columns=ages, fill_value=0.0) for m in grid}
    wide = {m: w.reindex(size.index, fill_value=0.0) for m, w in wide.items()}
    per_member = {
        "customers": wide["customers"].astype("int64"),
        "retention": (wide["customers"].div(size, axis=0)).round(6),
        "revenue": wide["revenue"].round(2),
        "cumulative_revenue": wide["revenue"].cumsum(axis=1).div(size, axis=0).round(6),
        "repeat": wide["second"].cumsum(axis=1).div(size, axis=0).round(6),
    }
    labels = pd.Index([f"{c // 12:04d}-{c % 12 + 1:02d}" for c in size.index])
    out: dict[str, Any] = {}
    for metric, frame in per_member.items():
        rows = frame.to_numpy().tolist()  # one list per cohort (a few dozen), not per customer
        out[metric] = {
            label: {"size": int(n), "values": row[: last - c + 1]}
            for label, n, c, row in zip(labels, size, size.index, rows, strict=True)
        }
    return out


def pandas_segments(as_of: Any, buys: Any, rets: Any, occ: Any, cust: Any) -> dict[str, Any]:
    """RFM scores and segments, lifecycle stages and value tiers (``patron.segments``)."""
    import pandas as pd

    refunds = rets.groupby("customer_key").refund.sum().reindex(cust.index, fill_value=0.0)
    # Money is whole cents: rounding makes equal net revenues equal doubles, so tied customers
    # share a score as the docstring requires (float sums in another order differ in the
    # last bit, and quintile boundaries fall on such ties).
    monetary = (cust.revenue - refunds).round(2)
    recency = (as_of - cust.last_date) / DAY
    in_window = occ.order_date > as_of - WINDOW * DAY
    window_revenue = occ.revenue.where(in_window, 0.0).groupby(occ.customer_key).sum()
    r, f, m = _score(-recency), _score(cust.occasions), _score(monetary)
    grid = np.empty((5, 5), dtype=object)
    for name, rs, fms in RULES:
        for rr in rs:
            for fm in fms:
                grid[rr - 1, fm - 1] = name
    fm = (f + m + 1) // 2
    segment = grid[r - 1, fm - 1]

    gap = (cust.second_date - cust.first_date) / DAY
    own = (cust.last_date - cust.first_date) / DAY
    cycle = ((own + PRIOR_GAPS * gap.median()) / (cust.occasions - 1 + PRIOR_GAPS)).fillna(1.0)
    overdue = recency / cycle.clip(lower=1.0)
    stage = np.select(
        [overdue > INACTIVE_AFTER, overdue > DEFECT_AFTER, cust.occasions == 1],
        ["inactive", "defecting", "first_time"],
        "repeat_active",
    )
    order = np.lexsort((cust.index.to_numpy(), -monetary.to_numpy()))
    position = np.empty(len(order), dtype=np.int64)
    position[order] = np.arange(len(order))
    n = len(cust)
    tier = np.select(
        [position < math.ceil(n * 0.1), position < math.ceil(n * 0.5)],
        ["top_10pct", "next_40pct"],
        "bottom_50pct",
    )
    table = pd.DataFrame(
        {
            "rfm_segment": segment,
            "stage": stage,
            "value_tier": tier,
            "window_revenue": window_revenue.to_numpy(),
            "monetary": monetary.to_numpy(),
            "recency_days": recency.to_numpy(),
        }
    )
    out: dict[str, Any] = {"customers": n}
    for dim in DIMENSIONS:
        groups = table.groupby(dim).agg(
            customers=("window_revenue", "size"),
            revenue=("window_revenue", "sum"),
            avg_value=("monetary", "mean"),
            avg_recency_days=("recency_days", "mean"),
        )
        out[dim] = {
            str(name): [int(row.customers), round(float(row.revenue), 2)]
            for name, row in groups.iterrows()  # a dozen groups
        }
    return out


def _score(values: Any) -> Any:
    """min(q, 1 + floor(q * percent_rank)); ties share the rank where they start."""
    rank = values.rank(method="min").to_numpy()
    pct = (rank - 1) / (len(rank) - 1) if len(rank) > 1 else np.zeros(len(rank))
    return np.minimum(BINS, 1 + np.floor(pct * BINS)).astype(np.int64)


# ---------------------------------------------------------------------------------------------
# Comparison and report
# ---------------------------------------------------------------------------------------------


def _close(a: Any, b: Any, abs_tol: float = 1e-6) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=1e-6, abs_tol=abs_tol)
    return bool(a == b)


def compare(ours: dict[str, Any], peer: dict[str, Any]) -> list[str]:
    """Every difference between patron's and pandas' results, as readable lines."""
    diffs: list[str] = []
    if ours.get("as_of") != peer.get("as_of"):
        diffs.append(f"as_of: patron {ours.get('as_of')} pandas {peer.get('as_of')}")
    kpis, peer_kpis = ours.get("kpis") or {}, peer["kpis"]
    if not kpis:
        diffs.append("kpis: patron returned nothing")
    for name in sorted(set(kpis) | set(peer_kpis)):
        a, b = kpis.get(name, "missing"), peer_kpis.get(name, "missing")
        if not _close(a, b):
            diffs.append(f"kpis.{name}: patron {a} pandas {b}")
    for metric in COHORT_METRICS:
        mine, theirs = ours["cohorts"].get(metric), peer["cohorts"][metric]
        if mine is None:
            diffs.append(f"cohorts.{metric}: patron returned nothing")
            continue
        if set(mine) != set(theirs):
            diffs.append(f"cohorts.{metric}: cohorts differ ({len(mine)} vs {len(theirs)})")
        tol = 0.011 if metric == "revenue" else 1e-6
        for label in sorted(set(mine) & set(theirs)):
            a, b = mine[label], theirs[label]
            bad = [
                i
                for i, (x, y) in enumerate(zip(a["values"], b["values"], strict=False))
                if not _close(x, y, tol)
            ]
            if a["size"] != b["size"] or len(a["values"]) != len(b["values"]) or bad:
                at = f"; first at age {bad[0]}: {a['values'][bad[0]]} vs {b['values'][bad[0]]}"
                diffs.append(
                    f"cohorts.{metric} {label}: size {a['size']} vs {b['size']}, "
                    f"{len(a['values'])} vs {len(b['values'])} ages, {len(bad)} cells differ"
                    + (at if bad else "")
                )
    segments, theirs = ours.get("segments"), peer["segments"]
    if not segments:
        diffs.append("segments: patron returned nothing")
        return diffs
    if segments["customers"] != theirs["customers"]:
        diffs.append(f"segments.customers: {segments['customers']} vs {theirs['customers']}")
    for dim in DIMENSIONS:
        for name in sorted(set(segments[dim]) | set(theirs[dim])):
            a, b = segments[dim].get(name, [0, 0.0]), theirs[dim].get(name, [0, 0.0])
            if a[0] != b[0] or not _close(a[1], b[1], 0.011):
                diffs.append(
                    f"segments.{dim}.{name}: patron {a[0]:,} customers / {a[1]:,.2f} revenue, "
                    f"pandas {b[0]:,} / {b[1]:,.2f}"
                )
    return diffs


MATCHED = {
    "kpis()": "kpis",
    "cohorts(month, retention)": "cohorts (5 metrics)",
    "segment_summary()": "segments",
}
"""Patron call -> the pandas step computing the same thing (one cohort call computes every
cell of all five metrics, as the pandas step does; the other four calls repeat that work)."""


def print_report(
    rows: int, customers: int, ours: dict[str, Any], peer: dict[str, Any], load: str
) -> None:
    """Patron's calls beside the pandas step computing the same thing, then the totals."""
    p_sec, p_peak = ours.get("seconds", {}), ours.get("step_peak_mib", {})
    q_sec, q_peak = peer.get("seconds", {}), peer.get("step_peak_mib", {})
    errors, shapes = ours.get("errors", {}), ours.get("shapes", {})
    shared = q_sec.get("occasions and customer dates", 0.0)
    table: list[list[Any]] = []
    for name, seconds in p_sec.items():
        twin = MATCHED.get(name, "")
        note = f"FAILED {errors[name]}" if name in errors else ""
        note = note or (f"{shapes[name]:,} rows" if shapes.get(name) else "")
        ratio = f"{q_sec[twin] / seconds:.2f}x" if twin in q_sec and seconds else ""
        twin_cells = [q_sec[twin], q_peak.get(twin, 0.0)] if twin in q_sec else ["", ""]
        table.append([name, seconds, p_peak.get(name, 0.0), twin, *twin_cells, ratio, note])
    for name in ("read parquet", "occasions and customer dates"):
        if name in q_sec:
            cells = [name, q_sec[name], q_peak.get(name, 0.0)]
            table.append(["", "", "", *cells, "", "pandas only"])
    total = sum(s for n, s in p_sec.items() if not n.startswith("open"))
    peer_total = sum(q_sec.values())
    table.append(
        [
            "total (every call)",
            total,
            ours.get("peak_mib", 0.0),
            "total (every step)",
            peer_total,
            peer.get("peak_mib", 0.0),
            "",
            "",
        ]
    )
    print(
        f"\n== analytics: {rows:,} orders / {customers:,} customers, patron (DuckDB, "
        f"{_cores()} cores) vs pandas (1 core); load average at start / between / end {load} =="
    )
    headers = ["patron call", "seconds", "peak MiB", "pandas step", "seconds", "peak MiB"]
    print_table([*headers, "pandas/patron", "note"], table)
    ours_matched = sum(p_sec.get(n, 0.0) for n in MATCHED)
    peer_compute = shared + sum(q_sec.get(n, 0.0) for n in MATCHED.values())
    peer_read = q_sec.get("read parquet", 0.0)
    print(
        f"\nsame work (overall KPIs, monthly cohort cells, segment summary): patron "
        f"{ours_matched:.2f} s; pandas {peer_compute:.2f} s compute (incl. {shared:.2f} s of "
        f"shared occasions) + {peer_read:.2f} s read = {peer_compute + peer_read:.2f} s"
    )
    print(
        f"peak RSS: patron {ours.get('peak_mib', 0.0):,.0f} MiB, pandas "
        f"{peer.get('peak_mib', 0.0):,.0f} MiB (process trees)"
    )


def _cores() -> int:
    return len(os.sched_getaffinity(0))


def _load() -> str:
    """1-minute load average: on a shared machine, the figures are only as good as this."""
    return f"{os.getloadavg()[0]:.1f}"


def check_targets(ours: dict[str, Any], peer: dict[str, Any], diffs: list[str]) -> list[Any]:
    p_sec, q_sec = ours.get("seconds", {}), peer.get("seconds", {})
    ours_matched = sum(p_sec.get(n, 0.0) for n in MATCHED)
    peer_compute = q_sec.get("occasions and customer dates", 0.0) + sum(
        q_sec.get(n, 0.0) for n in MATCHED.values()
    )
    peer_all = peer_compute + q_sec.get("read parquet", 0.0)
    speedup = peer_compute / ours_matched if ours_matched else 0.0
    with_read = peer_all / ours_matched if ours_matched else 0.0
    failed = sorted(ours.get("errors", {}))
    return [
        (
            f">= 5x faster than pandas on the same work ({speedup:.1f}x on pandas compute; "
            f"{with_read:.1f}x counting its Parquet read)",
            speedup >= TARGET_SPEEDUP and not diffs,
        ),
        (
            f"peak RSS < 4 GiB (patron {ours.get('peak_mib', 0.0):,.0f} MiB)",
            ours.get("peak_mib", math.inf) < TARGET_RSS_MIB and "error" not in ours,
        ),
        (
            "patron and pandas agree on every KPI, cohort cell and segment count"
            + (f" ({len(diffs)} differences)" if diffs else ""),
            not diffs,
        ),
        ("every patron call succeeded" + (f" (failed: {failed})" if failed else ""), not failed),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10_000_000)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--child", nargs=3, metavar=("KIND", "SOURCE", "TMP"))
    parser.add_argument("--build", nargs=4, metavar=("ORDERS", "CUSTOMERS", "SEED", "DIR"))
    args = parser.parse_args()
    if args.build:
        orders, customers, seed = map(int, args.build[:3])
        folder = Path(args.build[3])
        build_orders(folder / "workspace", orders, customers, seed)
        export_parquet(folder / "workspace", folder / "orders.parquet")
        return
    if args.child:
        kind, source, tmp = args.child
        if kind == "patron":
            child_patron(source, tmp)
        else:
            child_pandas(source)
        return
    workspace, parquet = ensure_workspace(args.orders, args.customers, args.seed)
    print(
        f"  data: {workspace} ({_size(workspace):,.0f} MiB), {parquet} ({_size(parquet):,.0f} MiB)",
        flush=True,
    )
    tmp = Path(tempfile.mkdtemp(prefix="analytics-", dir=OUT))
    load = [_load()]
    try:
        print("  patron: every call in one fresh process ...", flush=True)
        ours = run_child([SCRIPT, "--child", "patron", str(workspace), str(tmp)])
        print("  pandas: the same KPIs, cohorts and segments in one fresh process ...", flush=True)
        load.append(_load())
        peer = run_child([SCRIPT, "--child", "pandas", str(parquet), str(tmp)])
        load.append(_load())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if "error" in peer:
        print(f"pandas peer FAILED: {peer['error']}")
        diffs = ["pandas peer failed: nothing to compare"]
        peer = {"seconds": {}, "kpis": {}, "cohorts": {}, "segments": {}}
    elif "error" in ours:
        print(f"patron run FAILED: {ours['error']}")
        diffs = ["patron run failed: nothing to compare"]
        ours = {"seconds": {}, "errors": {"run": ours["error"]}, "peak_mib": ours["peak_mib"]}
    else:
        diffs = compare(ours, peer)
    print_report(args.orders, args.customers, ours, peer, " / ".join(load))
    print()
    if diffs:
        print(f"!!! RESULTS DIFFER: patron and pandas disagree in {len(diffs)} places !!!")
        for line in diffs[:40]:
            print(f"  {line}")
        if len(diffs) > 40:
            print(f"  ... and {len(diffs) - 40} more")
    else:
        print("results match: every overall KPI, all 5 monthly cohort metrics (every cell) and")
        print("the segment, stage and tier counts (and window revenue) equal pandas'")
    print()
    for label, ok in check_targets(ours, peer, diffs):
        print(f"[{'PASS' if ok else 'FAIL'}] {label}")


def _size(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / MIB


if __name__ == "__main__":
    main()
