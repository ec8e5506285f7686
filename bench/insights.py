"""Insights benchmark: every insight and offer over 1M customers / 10M order lines, against pandas.

Why: issue 6 asks for all insights and offers for 1 million customers and 10 million order
lines, with wall time and peak RSS. Each patron stage runs in a fresh process through the
public API (``patron.Workspace.open(path).insights``): ``timing()``, ``next_purchases()``,
``affinity()``, ``customer_affinities()``, ``discount()``, ``customer_discounts()``,
``customer_fields()`` and ``ws.export_customers``; per-customer tables are written to Parquet,
so the stage's time is the whole query. The newer methods (``replenishment()``,
``due(within=30)``, ``recommend()``, ``offers()``, ``backtest()``, ``profile()``, ``channels()``,
``customer_channels()``) and the per-customer functions no method returns alone
(``replenishment.customer_due``, ``ideal.first_purchases``, called on ``Baskets(ws.sales(),
ws.table("order_lines"), ws.table("products"))``) get a stage each when they exist; a missing
one is reported as skipped, and a stage that raises as failed, without stopping the others.

The peer is plain pandas in another fresh process: it reads the same orders, order lines and
catalog from Parquet (read time shown apart) and computes every buyer's top categories (the
Dirichlet-multinomial shrunk shares of ``patron.insights.affinity.customer_affinity``, with the
prior strength estimated by the same method of moments) and discount behaviour (the
beta-binomial score of ``patron.insights.discount.customer_discounts``), writing both to
Parquet, as patron's two stages do. The results are compared customer by customer: a speed
ratio between programs that disagree is worthless.

Data: a workspace made by ``patron.Workspace.init`` whose ``orders``, ``order_lines`` and
``products`` (with ``identities``, ``customers``, ``purchase_occasions`` and ``loads`` records)
are generated directly in DuckDB SQL with every column a load writes; see ``build``. Cached in
``bench/out/insights_<customers>_<seed>/``.

Usage: ``python bench/insights.py [--customers N] [--seed S] [--stages NAME,...]
[--profile STAGE]`` (default 1M customers: ~4M orders, ~10M order lines)
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from analytics import CHANNELS, START, _cores, _load, _size, _u, customer_plan, write_orders
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
DATA_VERSION = 1  # bump when build changes, so cached workspaces are rebuilt

# Sizes per customer: ~4 orders (3% of them refunds) and ~10 order lines.
ORDERS_PER_CUSTOMER, LINES_PER_CUSTOMER, RETURN_SHARE = 4, 10, 0.03
MAX_LINES = 20

# The catalog: 20 categories x 100 skus, 5 brands per category (100 brands).
CATEGORIES = (
    "coffee",
    "tea",
    "snacks",
    "skincare",
    "haircare",
    "vitamins",
    "pet food",
    "cleaning",
    "baby",
    "books",
    "toys",
    "kitchen",
    "garden",
    "outdoor",
    "apparel",
    "shoes",
    "electronics",
    "beauty",
    "home decor",
    "stationery",
)
SKUS_PER_CATEGORY, BRANDS_PER_CATEGORY = 100, 5
CATEGORY_SKEW, SKU_SKEW = 1.6, 2.2  # a draw from the population is floor(K * u ** skew)
PRICE_RANGE = (6.0, 90.0)  # category median prices, log-uniform; products lognormal around them
IN_STOCK, OUT_OF_STOCK = 0.92, 0.05  # the rest: stock not tracked (null)

# Customers: two favourite categories, a loyalty to them, a discount propensity.
LOYALTY = (2.0, 3.0)  # Beta: share of a customer's lines from their favourites (mean 0.4)
FIRST_FAVOURITE = 0.7  # of those lines, the share from the first favourite
DISCOUNT_PROPENSITY = (0.6, 1.4)  # Beta: chance that an order is on discount (mean 0.3)
DISCOUNT_OFF = (0.05, 0.30)  # a discounted order's share off every line
UNLABELLED = 0.25  # lines without category and brand (the catalog's count)
QUANTITY = (0.82, 0.95)  # cumulative P(quantity 1), P(quantity <= 2); else 3
COST_SHARE, EMAIL_SHARE = 0.9, 0.7


def data_dir(customers: int, seed: int) -> Path:
    return OUT / f"insights_{customers}_{seed}"


def ensure_data(customers: int, seed: int) -> Path:
    """The cached folder (workspace; orders, lines and catalog as Parquet), built when missing."""
    meta = {"customers": customers, "seed": seed, "version": DATA_VERSION}
    return ensure_built(data_dir(customers, seed), meta, Path(SCRIPT))


def catalog(seed: int) -> pa.Table:
    """The products: ``idx`` = category x 100 + rank in category (0 = most popular)."""
    rng = np.random.default_rng([seed, 6])
    k = len(CATEGORIES)
    low, high = np.log(PRICE_RANGE)
    median = np.exp(rng.uniform(low, high, k))
    c = np.repeat(np.arange(k), SKUS_PER_CATEGORY)
    j = np.tile(np.arange(SKUS_PER_CATEGORY), k)
    dollars = median[c] * np.exp(rng.normal(0.0, 0.35, c.size))
    price = np.maximum(np.floor(dollars), 1) + 0.99
    brand = c * BRANDS_PER_CATEGORY + (j * 7) % BRANDS_PER_CATEGORY
    stock = rng.random(c.size)
    in_stock = pa.array(stock < IN_STOCK, mask=stock >= IN_STOCK + OUT_OF_STOCK)
    launched = np.datetime64("2019-01-01") + rng.integers(0, 2465, c.size).astype("timedelta64[D]")
    return pa.table(
        {
            "idx": (c * SKUS_PER_CATEGORY + j).astype(np.int64),
            "sku": [f"SKU{i + 1:05d}" for i in range(c.size)],
            "name": [
                f"{CATEGORIES[a].title()} item {b + 1:03d}" for a, b in zip(c, j, strict=True)
            ],
            "category": [CATEGORIES[a] for a in c],
            "brand": [f"Brand {b + 1:03d}" for b in brand],
            "price": np.round(price, 2),
            "launched_at": launched,
            "in_stock": in_stock,
        }
    )


def plan(customers: int, seed: int) -> tuple[pa.Table, float]:
    """analytics.py's customer plan (arrival, lifetime, purchases, channel) plus favourites,
    loyalty and discount propensity; and the mean extra lines per purchase."""
    orders = ORDERS_PER_CUSTOMER * customers
    base = customer_plan(orders, customers, seed)
    rng = np.random.default_rng([seed, customers, 6])
    k = len(CATEGORIES)
    first = np.floor(k * rng.random(customers) ** CATEGORY_SKEW).astype(np.int64)
    second = np.floor(k * rng.random(customers) ** CATEGORY_SKEW).astype(np.int64)
    second = np.where(second == first, (first + 1) % k, second)
    table = (
        base.append_column("f1", pa.array(first))
        .append_column("f2", pa.array(second))
        .append_column("loyal", pa.array(rng.beta(*LOYALTY, customers)))
        .append_column("disc", pa.array(rng.beta(*DISCOUNT_PROPENSITY, customers)))
    )
    purchases = orders - round(orders * RETURN_SHARE)
    return table, LINES_PER_CUSTOMER * customers / purchases - 1


def _v(k: int, seed: int) -> str:
    """A uniform [0, 1) per (customer, order number, line number, k)."""
    return f"((hash(customer_key, i, l, {k}, {seed}) >> 11) / 9007199254740992.0)"


def build(folder: Path, customers: int, seed: int) -> None:
    """The workspace: orders, order lines, products, identities, customers, occasions, loads.

    Every column a load writes is filled as a load would (see ``analytics.build_orders``):
    orders with ids, identifiers, UTC ``ordered_at``, ``order_date``, DECIMAL(18,2) money
    (revenue and discount the sums of the order's lines), ``is_return`` (3% full refunds 1-30
    days later, without lines), ``customer_key``; lines with ``order_id``, ``line_id``, ``sku``,
    ``quantity``, ``unit_price``, ``discount`` and (75% of them) ``category`` and ``brand``;
    products with every catalog field; each with ``row_key``/``row_hash`` and load bookkeeping.
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
    people, extra = plan(customers, seed)
    con.register("plan", people)
    con.register("catalog_arrow", catalog(seed))
    con.execute("CREATE TEMP TABLE cat AS SELECT * FROM catalog_arrow")
    u = {k: _u(k, seed) for k in range(13)}
    v = {k: _v(k, seed) for k in range(5)}
    scale = 1 / math.log(1 + 1 / extra)  # floor(Exponential(scale)) has mean `extra`
    channels = "[" + ", ".join(f"'{c}'" for c in CHANNELS) + "]"
    off_low, off_high = DISCOUNT_OFF
    k, per = len(CATEGORIES), SKUS_PER_CATEGORY
    con.execute(
        f"""CREATE TEMP TABLE purchases AS
        WITH rows AS (SELECT customer_key, t0, span, pref, disc, unnest(range(n)) AS i FROM plan),
        gen AS (
          SELECT customer_key, i,
            TIMESTAMP '{START}' + to_seconds(CAST(t0 + CASE WHEN i = 0 THEN 0
              ELSE floor({u[0]} * span) END AS BIGINT)) AS ordered_at,
            {channels}[CASE WHEN {u[3]} < 0.7 THEN pref
              ELSE CAST(floor({u[4]} * 4) AS BIGINT) END + 1] AS channel,
            {u[5]} AS u_cost, {u[6]} AS u_margin, {u[7]} < disc AS discounted,
            {off_low} + {off_high - off_low} * {u[8]} AS off,
            {u[9]} < {EMAIL_SHARE} AS has_email, {u[10]} AS u_delay, {u[11]} AS u_return,
            1 + least(CAST(floor(-{scale} * ln(1 - {u[12]})) AS BIGINT), {MAX_LINES - 1})
              AS lines
          FROM rows)
        SELECT *, row_number() OVER (ORDER BY ordered_at, customer_key, i) AS seq FROM gen"""
    )
    population = f"CAST(floor({k} * pow({v[1]}, {CATEGORY_SKEW})) AS BIGINT)"
    con.execute(
        f"""CREATE TEMP TABLE lines AS
        WITH expanded AS (
          SELECT p.customer_key, p.i, p.seq, p.discounted, p.off, f1, f2, loyal,
            unnest(range(p.lines)) AS l
          FROM purchases p JOIN plan USING (customer_key)),
        drawn AS (
          SELECT seq, l, discounted, off,
            CASE WHEN {v[0]} < loyal * {FIRST_FAVOURITE} THEN f1 WHEN {v[0]} < loyal THEN f2
              ELSE {population} END * {per}
              + CAST(floor({per} * pow({v[2]}, {SKU_SKEW})) AS BIGINT) AS idx,
            CASE WHEN {v[3]} < {QUANTITY[0]} THEN 1.0 WHEN {v[3]} < {QUANTITY[1]} THEN 2.0
              ELSE 3.0 END AS quantity,
            {v[4]} < {UNLABELLED} AS unlabelled
          FROM expanded)
        SELECT seq, l, c.sku, quantity, CAST(c.price AS DECIMAL(18, 2)) AS unit_price,
          CAST(CASE WHEN discounted THEN round(quantity * c.price * off, 2) ELSE 0 END
            AS DECIMAL(18, 2)) AS discount,
          CASE WHEN NOT unlabelled THEN c.category END AS category,
          CASE WHEN NOT unlabelled THEN c.brand END AS brand
        FROM drawn JOIN cat c USING (idx)"""
    )
    con.execute(
        f"""CREATE TEMP TABLE priced AS
        WITH totals AS (
          SELECT seq, sum(CAST(round(quantity * unit_price, 2) AS DECIMAL(18, 2))) AS gross,
            sum(discount) AS discount
          FROM lines GROUP BY seq)
        SELECT p.*, t.gross - t.discount AS revenue, t.discount,
          CASE WHEN u_cost < {COST_SHARE} THEN CAST(round((t.gross - t.discount)
            * (0.45 + 0.25 * u_margin), 2) AS DECIMAL(18, 2)) END AS cost
        FROM purchases p JOIN totals t USING (seq)"""
    )
    con.execute("DROP TABLE purchases")
    returns = round(ORDERS_PER_CUSTOMER * customers * RETURN_SHARE)
    write_orders(con, "priced", returns, "bench/insights.py")
    con.execute("DROP TABLE priced")
    con.execute(
        """INSERT INTO order_lines BY NAME
        WITH rows AS (
          SELECT 'O' || lpad(CAST(seq AS VARCHAR), 10, '0') AS order_id,
            CAST(l + 1 AS VARCHAR) AS line_id, sku, quantity, unit_price, discount, category,
            brand, seq, l
          FROM lines)
        SELECT * EXCLUDE (seq, l), order_id || '/' || line_id AS row_key,
          CAST(md5_number(concat_ws('|', order_id, line_id, sku, quantity, unit_price,
            discount, category, brand)) >> 64 AS UBIGINT) AS row_hash,
          2 AS load_id, 'generated by bench/insights.py' AS source_file,
          row_number() OVER (ORDER BY seq, l) AS source_row
        FROM rows ORDER BY seq, l"""
    )
    con.execute("DROP TABLE lines")
    con.execute(
        """INSERT INTO products BY NAME
        SELECT sku, name, category, brand, CAST(price AS DECIMAL(18, 2)) AS price, launched_at,
          in_stock, sku AS row_key,
          CAST(md5_number(concat_ws('|', sku, name, category, brand, price, launched_at,
            in_stock)) >> 64 AS UBIGINT) AS row_hash,
          3 AS load_id, 'generated by bench/insights.py' AS source_file, idx + 1 AS source_row
        FROM cat ORDER BY idx"""
    )
    rebuild_customers(con)
    rebuild_occasions(con)
    log_generated_loads(con, ("orders", "order_lines", "products"), "insights.py")
    con.execute("CHECKPOINT")
    # The peer's input; money as float64, as patron casts it.
    exports = {
        "orders": """SELECT customer_key, order_id, order_date, is_return,
            CAST(revenue AS DOUBLE) AS revenue, CAST(discount AS DOUBLE) AS discount
            FROM orders""",
        "lines": "SELECT order_id, sku, category, brand FROM order_lines",
        "products": "SELECT sku, category, brand FROM products",
    }
    for name, query in exports.items():
        path = folder / f"{name}.parquet"
        con.execute(f"COPY ({query}) TO '{path}' (FORMAT parquet, COMPRESSION snappy)")
    con.close()
    shutil.rmtree(folder / "gen.tmp", ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Patron: one stage per fresh process, through the public API
# ---------------------------------------------------------------------------------------------

CORE = (
    "timing()",
    "next_purchases()",
    "affinity()",
    "customer_affinities()",
    "discount()",
    "customer_discounts()",
    "customer_fields()",
    "export_customers()",
)
"""``ws.insights`` methods and the customer export: these must exist."""

API = {
    "replenishment()": ("replenishment", {}),
    "due(within=30)": ("due", {"within": 30}),
    "recommend()": ("recommend", {}),
    "offers()": ("offers", {}),
    "backtest()": ("backtest", {}),
    "profile()": ("profile", {}),
    "channels()": ("channels", {}),
    "customer_channels()": ("customer_channels", {}),
}
"""Newer ``ws.insights`` methods: (method, keyword arguments), skipped when missing."""

MODULES = {
    "replenishment.customer_due()": ("replenishment", "customer_due"),
    "ideal.first_purchases()": ("ideal", "first_purchases"),
}
"""Per-customer functions of the newer ``patron.insights`` modules that no ``ws.insights``
method returns on their own: (module, function), called on ``Baskets(ws.sales(),
ws.table("order_lines"), ws.table("products"))``; skipped when missing."""

OPTIONAL = (*API, *MODULES)
STAGES = (*CORE, *OPTIONAL)
PARQUET = {
    "next_purchases()": "next_purchases",
    "customer_affinities()": "customer_affinities",
    "customer_discounts()": "customer_discounts",
    "customer_fields()": "customer_fields",
    "export_customers()": "customers",
    "due(within=30)": "due_30",
    "recommend()": "recommendations",
    "offers()": "offers",
    "customer_channels()": "customer_channels",
    "replenishment.customer_due()": "replenishment_due",
    "ideal.first_purchases()": "first_purchases",
}
"""Stages that write a per-customer table, and the Parquet file's name (``<name>.parquet``)."""

COMPARED = ("customer_affinities()", "customer_discounts()")
"""The stages whose work the pandas peer repeats."""


def stage_call(stage: str, ws: Any, out: Path) -> Callable[[], Any]:
    """The stage's work as a function of nothing; imports happen here, before the clock.

    Raises ImportError or AttributeError when a module or function is missing (skipped).
    """
    insights = ws.insights
    if stage in API:
        name, kwargs = API[stage]
        method = getattr(insights, name)
        if stage in PARQUET:
            return lambda: _write(method(**kwargs), out / f"{PARQUET[stage]}.parquet")
        return lambda: _brief(method(**kwargs))
    if stage in MODULES:
        from patron.insights.affinity import Baskets

        module, name = MODULES[stage]
        function = getattr(importlib.import_module(f"patron.insights.{module}"), name)
        day = ws.as_of()  # a small query: part of opening, as each method's as-of lookup is not
        baskets = Baskets(ws.sales(), ws.table("order_lines"), ws.table("products"))
        if module == "ideal":
            work = partial_call(function, baskets, ws.table("customers"), day)
        else:
            work = partial_call(function, baskets, day)
        return lambda: _write(work(), out / f"{PARQUET[stage]}.parquet")
    calls: dict[str, Callable[[], Any]] = {
        "timing()": lambda: _timing_summary(insights.timing()),
        "next_purchases()": lambda: _write(
            insights.next_purchases(), out / "next_purchases.parquet"
        ),
        "affinity()": lambda: _affinity_summary(insights.affinity()),
        "customer_affinities()": lambda: _write(
            insights.customer_affinities(), out / "customer_affinities.parquet"
        ),
        "discount()": lambda: _discount_summary(insights.discount()),
        "customer_discounts()": lambda: _write(
            insights.customer_discounts(), out / "customer_discounts.parquet"
        ),
        "customer_fields()": lambda: _write(
            insights.customer_fields(), out / "customer_fields.parquet"
        ),
        "export_customers()": lambda: {"rows": ws.export_customers(out / "customers.parquet")},
    }
    return calls[stage]


def partial_call(function: Callable[..., Any], *args: Any) -> Callable[[], Any]:
    return lambda: function(*args)


def _write(table: Any, path: Path) -> dict[str, Any]:
    """Run the Ibis table's query into Parquet; its rows, columns and size."""
    import pyarrow.parquet as pq

    table.to_parquet(path)
    meta = pq.ParquetFile(path).metadata
    return {"rows": meta.num_rows, "columns": meta.num_columns, "mib": _size(path)}


def _timing_summary(found: dict[str, Any]) -> dict[str, Any]:
    return {
        "customers": found["customers"],
        "second_purchases": found["second_purchases"],
        "nudge_window": found["nudge_window"],
        "hazard_peak_week": found["hazard_peak_week"],
        "hazard_drop_day": found["hazard_drop_day"],
        "median_gaps": {s["step"]: s["median"] for s in found["steps"]},
    }


def _affinity_summary(found: dict[str, Any]) -> dict[str, Any]:
    groups = found["groups"]
    return {
        "concentration": found["concentration"],
        "group_rows": len(groups),
        "top_of": {g["group"]: g["item"] for g in groups if g["rank"] == 1},
        "repeat_items": len(found["repeat"]["items"]),
        "gateway_items": len(found["gateways"]["items"]),
    }


def _discount_summary(found: dict[str, Any]) -> dict[str, Any]:
    return {
        "bands": found["bands"],
        "segments": {s["segment"]: round(s["discount_share"], 4) for s in found["segments"]},
    }


def _brief(found: dict[str, Any]) -> dict[str, Any]:
    """A summary's scalars and flat dicts, and the length of its lists (its rows)."""
    flat = (str, int, float, bool, type(None))
    return {
        k: len(v) if isinstance(v, list) else v
        for k, v in found.items()
        if not isinstance(v, dict) or all(isinstance(x, flat) for x in v.values())
    }


def child_patron(stage: str, workspace: str, out: str) -> None:
    """Open the workspace, run one stage, report its seconds, result and error (if any)."""
    import patron

    profiler = StepProfiler().start()
    opened = time.perf_counter()
    ws = patron.Workspace.open(workspace)
    ws.table("orders")  # imports Ibis, which every first call pays: counted as opening
    result: dict[str, Any] = {}
    try:
        call = stage_call(stage, ws, Path(out))
    except (ImportError, AttributeError) as exc:
        result["skipped"] = f"{type(exc).__name__}: {exc}"[:300]
        call = None
    result["open_seconds"] = time.perf_counter() - opened
    finish_stage(profiler, stage, call, ws, result)


def profile_stage(stage: str, workspace: str, out: str) -> None:
    """Run one stage under cProfile in this process and print where its time went."""
    import cProfile
    import pstats

    import patron

    ws = patron.Workspace.open(workspace)
    ws.table("orders")
    call = stage_call(stage, ws, Path(out))
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.runcall(call)
    print(f"{stage}: {time.perf_counter() - started:.2f} s under cProfile")
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
    ws.close()


# ---------------------------------------------------------------------------------------------
# The peer: the same per-customer top categories and discount behaviour in pandas
# ---------------------------------------------------------------------------------------------

TOP = 3  # customer_affinities()' default top
MIN_PRIOR, MAX_PRIOR = 0.1, 1000.0  # patron.insights.affinity's clamp of the prior strength
BANDS = (1 / 3, 2 / 3)  # patron.insights.discount's band thresholds


def child_pandas(folder: str, out: str) -> None:
    """Read the Parquet files, then top categories and discount scores, each step timed."""
    import pandas as pd

    profiler = StepProfiler().start()
    step = profiler.step

    def read() -> tuple[Any, Any, Any]:
        o = pd.read_parquet(
            Path(folder) / "orders.parquet",
            columns=["customer_key", "order_id", "order_date", "is_return", "revenue", "discount"],
            to_pandas_kwargs={"date_as_object": False},
        )
        # a line's sku only looks its category up where the line has none
        lines = pd.read_parquet(
            Path(folder) / "lines.parquet", columns=["order_id", "sku", "category"]
        )
        products = pd.read_parquet(Path(folder) / "products.parquet", columns=["sku", "category"])
        return o, lines, products

    orders, lines, products = step("read parquet", read)
    buys, as_of = step("purchases by the as-of day", lambda: pandas_purchases(orders))
    held = {"lines": lines}  # popped by the step, so the lines are freed after it
    del lines
    top, a = step(
        "top categories per customer",
        lambda: pandas_affinity(buys, held.pop("lines"), products),
    )
    step("write top categories", lambda: top.to_parquet(Path(out) / "pandas_affinities.parquet"))
    discounts, prior = step("discount share and score", lambda: pandas_discounts(buys))
    step("write discounts", lambda: discounts.to_parquet(Path(out) / "pandas_discounts.parquet"))
    profiler.stop()
    emit(
        {
            "seconds": profiler.seconds,
            "step_peak_mib": profiler.peak_mib,
            "as_of": str(as_of.date()),
            "prior_strength": a,
            "discount_prior": prior,
        }
    )


def pandas_purchases(orders: Any) -> tuple[Any, Any]:
    """Purchases (attributed, not returns) by the as-of day: patron's default, the last day of
    any order loaded (returns too)."""
    attributed = orders[orders.customer_key.notna()]
    as_of = orders["order_date"].max()
    buys = attributed[~attributed.is_return & (attributed.order_date <= as_of)]
    return buys, as_of


def pandas_affinity(buys: Any, lines: Any, products: Any) -> tuple[Any, float]:
    """Per buyer, the top 3 categories by shrunk share (x + a m) / (n + a), best first; ties to
    the first name. ``a`` by the method of moments (``patron.insights.affinity``)."""
    import pandas as pd

    catalog = products.drop_duplicates("sku").set_index("sku").category
    item = lines.category.fillna(lines.sku.map(catalog))
    named = pd.DataFrame({"order_id": lines.order_id, "item": item}).dropna(subset=["item"])
    bought = named.merge(buys[["order_id", "customer_key"]], on="order_id")
    x = bought.groupby(["customer_key", "item"], sort=False).size().rename("x").reset_index()
    n = x.groupby("customer_key").x.transform("sum")
    lines_of = x.groupby("item").x.sum()
    m = lines_of / lines_of.sum()
    per = pd.DataFrame({"customer_key": x.customer_key, "n": n, "same": x.x * (x.x - 1)})
    per = per.groupby("customer_key").agg(n=("n", "max"), same=("same", "sum"))
    pairs = float((per.n * (per.n - 1)).sum())
    same = float(per.same.sum())
    s = float((m * m).sum())
    if not pairs or same / pairs <= s:
        a = MAX_PRIOR
    else:
        rho = same / pairs
        a = min(MAX_PRIOR, max(MIN_PRIOR, (1 - rho) / (rho - s)))
    x["score"] = (x.x + a * x.item.map(m)) / (n + a)
    ranked = x.sort_values(["customer_key", "score", "item"], ascending=[True, False, True])
    ranked = ranked[ranked.groupby("customer_key").cumcount() < TOP]
    by = ranked.groupby("customer_key", sort=True)
    top = pd.DataFrame(
        {
            "top_categories": by.item.agg(", ".join),
            "top_category": by.item.first(),
            "category_affinity": by.score.max().round(6),
        }
    ).reset_index()
    return top, a


def pandas_discounts(buys: Any) -> tuple[Any, dict[str, float]]:
    """Per buyer: purchases, discounted purchases, their share, full-price and discounted AOV,
    the beta-binomial score and band (``patron.insights.discount``)."""
    import pandas as pd

    on = buys.discount.fillna(0) > 0
    frame = pd.DataFrame(
        {
            "customer_key": buys.customer_key,
            "on": on.astype("int64"),
            "full": buys.revenue.where(~on, 0.0),
            "disc": buys.revenue.where(on, 0.0),
        }
    )
    g = frame.groupby("customer_key").agg(
        purchases=("on", "size"),
        discounted_purchases=("on", "sum"),
        full_price_revenue=("full", "sum"),
        discounted_revenue=("disc", "sum"),
    )
    n = g.purchases.astype(float)
    k = g.discounted_purchases.astype(float)
    customers, total, discounted = len(g), float(n.sum()), float(k.sum())
    mean = discounted / total
    spread = mean * (1 - mean)
    scale = total - customers + 1 - float((n * n).sum()) / total
    if spread <= 0 or scale <= 1e-12:
        rho = 0.0
    else:
        s = float((k * k / n).sum()) - mean * discounted
        rho = min(max((s / spread - (customers - 1)) / scale, 0.0), 1.0)
    share = k / n
    weight = n * rho / (1 + (n - 1) * rho)
    score = mean + weight * (share - mean)
    full = n - k
    g["discount_share"] = share
    g["full_price_aov"] = (g.full_price_revenue / full).where(full > 0)
    g["discounted_aov"] = (g.discounted_revenue / k).where(k > 0)
    g["discount_score"] = score
    g["discount_band"] = np.where(
        score >= BANDS[1], "high", np.where(score >= BANDS[0], "medium", "low")
    )
    return g.reset_index(), {"mean": mean, "rho": rho}


# ---------------------------------------------------------------------------------------------
# Comparison and report
# ---------------------------------------------------------------------------------------------

SCORE_TOL = 2e-6  # absolute, for category_affinity (both sides round to 6 digits)
VALUE_TOL = 1e-9  # relative, for shares, AOVs and scores


def compare(out: Path) -> tuple[list[str], dict[str, Any]]:
    """Every difference between patron's and pandas' per-customer tables, and a few facts."""
    import pandas as pd

    diffs: list[str] = []
    facts: dict[str, Any] = {}
    pairs = (
        ("customer_affinities", "pandas_affinities", ["top_categories", "top_category"]),
        (
            "customer_discounts",
            "pandas_discounts",
            ["purchases", "discounted_purchases", "discount_band"],
        ),
    )
    for mine, theirs, exact in pairs:
        a_path, b_path = out / f"{mine}.parquet", out / f"{theirs}.parquet"
        if not a_path.exists() or not b_path.exists():
            diffs.append(f"{mine}: {'patron' if not a_path.exists() else 'pandas'} wrote nothing")
            continue
        a = pd.read_parquet(a_path)
        b = pd.read_parquet(b_path)
        both = a.merge(b, on="customer_key", how="outer", suffixes=("", "_peer"), indicator=True)
        only = both._merge.value_counts()
        for side, label in (("left_only", "patron"), ("right_only", "pandas")):
            if only.get(side, 0):
                diffs.append(f"{mine}: {only[side]:,} customers only in {label}'s table")
        both = both[both._merge == "both"]
        facts[mine] = len(both)
        for column in exact:
            x, y = both[column], both[f"{column}_peer"]
            numbers = pd.api.types.is_numeric_dtype(x) and pd.api.types.is_numeric_dtype(y)
            # numbers by value: patron's Parquet may hold a count as a double (see the README)
            bad = both[x.astype(float) != y.astype(float) if numbers else x.astype(str) != y]
            if len(bad):
                row = bad.iloc[0]
                diffs.append(
                    f"{mine}.{column}: {len(bad):,} customers differ, e.g. customer "
                    f"{row.customer_key}: patron {row[column]!r} pandas {row[column + '_peer']!r}"
                )
        numeric = (
            [("category_affinity", SCORE_TOL, False)]
            if mine == "customer_affinities"
            else [
                (c, VALUE_TOL, True)
                for c in ("discount_share", "full_price_aov", "discounted_aov", "discount_score")
            ]
        )
        for column, tol, relative in numeric:
            x = both[column].to_numpy(dtype=float)
            y = both[f"{column}_peer"].to_numpy(dtype=float)
            scale = np.maximum(np.abs(y), 1e-300) if relative else 1.0
            gap = np.where(np.isnan(x) & np.isnan(y), 0.0, np.abs(x - y) / scale)
            gap = np.where(np.isnan(gap), np.inf, gap)
            bad = int((gap > tol).sum())
            if bad:
                diffs.append(f"{mine}.{column}: {bad:,} customers differ (max {gap.max():.2e})")
            facts[f"{mine}.{column} max diff"] = float(gap.max()) if gap.size else 0.0
    return diffs, facts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--stages", help="comma-separated stage names (default: all)")
    parser.add_argument("--no-peer", action="store_true", help="skip the pandas peer")
    parser.add_argument("--profile", metavar="STAGE", help="run one stage under cProfile")
    parser.add_argument("--child", nargs=3, metavar=("STAGE", "SOURCE", "OUT"))
    parser.add_argument("--build", nargs=3, metavar=("CUSTOMERS", "SEED", "DIR"))
    args = parser.parse_args()
    if worker(args, build, child_patron, child_pandas):
        return

    print(f"uptime at start: {_uptime()}", flush=True)
    folder = ensure_data(args.customers, args.seed)
    workspace, out = folder / "workspace", folder / "results"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    if args.profile:
        profile_stage(args.profile, str(workspace), str(out))
        return
    counts = _counts(workspace)
    parquet = sum(_size(folder / f"{n}.parquet") for n in ("orders", "lines", "products"))
    print(
        f"  data: {workspace} ({_size(workspace):,.0f} MiB; {counts['orders']:,} orders, "
        f"{counts['order_lines']:,} order lines, {counts['products']:,} products); Parquet for "
        f"the peer {parquet:,.0f} MiB",
        flush=True,
    )
    stages = args.stages.split(",") if args.stages else list(STAGES)
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise SystemExit(f"unknown stages {unknown}; choose from {', '.join(STAGES)}")
    load = [_load()]
    runs: dict[str, dict[str, Any]] = {}
    for stage in stages:
        print(f"  patron: {stage} in a fresh process ...", flush=True)
        runs[stage] = run_child([SCRIPT, "--child", stage, str(workspace), str(out)])
    load.append(_load())
    peer: dict[str, Any] = {"not_run": "--no-peer"}
    if not set(COMPARED) <= set(stages):
        peer = {"not_run": f"--stages leaves out {' or '.join(COMPARED)}, the work it repeats"}
    elif not args.no_peer:
        print("  pandas: top categories and discount scores in one fresh process ...", flush=True)
        peer = run_child([SCRIPT, "--child", "pandas", str(folder), str(out)])
    load.append(_load())
    end = _uptime()
    report(args.customers, counts, runs, peer, " / ".join(load), out)
    print(f"\nuptime at end: {end}")


def report(
    customers: int,
    counts: dict[str, int],
    runs: dict[str, dict[str, Any]],
    peer: dict[str, Any],
    load: str,
    out: Path,
) -> None:
    print(
        f"\n== insights: {customers:,} customers, {counts['orders']:,} orders, "
        f"{counts['order_lines']:,} order lines; patron (DuckDB, {_cores()} cores, memory_limit "
        f"1GB) vs pandas (1 core); load average at start / before pandas / end {load} =="
    )
    table = []
    for name, run in runs.items():
        result = run.get("result") or {}
        rows = result.get("rows", "") if isinstance(result, dict) else ""
        table.append(
            [
                name,
                "" if "skipped" in run else run.get("seconds", ""),
                run.get("open_seconds", ""),
                run["peak_mib"],
                rows,
                _note(run),
            ]
        )
    done = [r for r in runs.values() if _ok(r)]
    table.append(
        [
            "total (stages that ran)",
            sum(r.get("seconds", 0.0) for r in done),
            sum(r.get("open_seconds", 0.0) for r in done),
            max((r["peak_mib"] for r in runs.values()), default=0.0),
            "",
            f"{len(done)}/{len(runs)} succeeded",
        ]
    )
    print_table(["stage", "call s", "open + import s", "peak MiB", "rows written", "note"], table)
    for name, run in runs.items():
        result = run.get("result")
        if isinstance(result, dict) and "mib" not in result and _ok(run):
            print(f"  {name}: {json.dumps(result)[:400]}")

    diffs: list[str] = []
    ratio = 0.0
    if peer.get("not_run"):
        print(f"\npandas peer not run ({peer['not_run']})")
    elif "error" in peer:
        print(f"\npandas peer FAILED: {peer['error']}")
        diffs.append("pandas peer did not run: nothing to compare")
    else:
        sec, peaks = peer["seconds"], peer.get("step_peak_mib", {})
        compute = sum(v for k, v in sec.items() if k != "read parquet")
        print(f"\npandas (peak {peer['peak_mib']:,.0f} MiB; as of {peer['as_of']}):")
        print_table(
            ["pandas step", "seconds", "peak MiB"],
            [[k, v, peaks.get(k, 0.0)] for k, v in sec.items()]
            + [["compute + write (without the read)", compute, ""]],
        )
        prior = peer["discount_prior"]
        print(
            f"  prior strength of the category mix a = {peer['prior_strength']:.4f} lines; "
            f"discount prior mean {prior['mean']:.4f}, rho {prior['rho']:.4f}"
        )
        mine = [runs[s] for s in COMPARED]
        if all(_ok(r) for r in mine):
            patron_seconds = sum(r["seconds"] for r in mine)
            ratio = compute / patron_seconds
            read = sec["read parquet"]
            print(
                f"\nsame work: patron {patron_seconds:.2f} s (customer_affinities() + "
                f"customer_discounts() to Parquet); pandas {compute:.2f} s compute and write + "
                f"{read:.2f} s Parquet read; pandas / patron = {ratio:.2f}x "
                f"({(compute + read) / patron_seconds:.2f}x with the read)"
            )
            found, facts = compare(out)
            diffs += found
            for key, value in facts.items():
                print(
                    f"  {key}: {value:,.3g}" if isinstance(value, float) else f"  {key}: {value:,}"
                )
        else:
            diffs.append("patron's customer_affinities() or customer_discounts() failed")
    print()
    if peer.get("not_run"):
        pass
    elif diffs:
        print(f"!!! RESULTS DIFFER: patron and the peer disagree in {len(diffs)} places !!!")
        for line in diffs[:40]:
            print(f"  {line}")
    else:
        print(
            "results match: every buyer's top 3 categories (in order), top category and its "
            "affinity (2e-6), purchases, discounted purchases, discount share, AOVs and score "
            "(1e-9 relative) and band"
        )
    print()
    failed = {s: f"{s}: {_note(r)}" for s, r in runs.items() if r.get("failed") or r.get("error")}
    core_failed = [why for s, why in failed.items() if s in CORE]
    other_failed = [why for s, why in failed.items() if s not in CORE]
    skipped = [s for s, r in runs.items() if "skipped" in r]
    checks = [
        (
            "every ws.insights stage and the export succeeded"
            + (f" (failed: {'; '.join(core_failed)})" if core_failed else ""),
            not core_failed,
        ),
    ]
    if not peer.get("not_run"):
        label = "patron's top categories and discount scores equal pandas'"
        checks.append((label + (f" ({len(diffs)} differences)" if diffs else ""), not diffs))
    if any(s in runs for s in OPTIONAL):
        label = "every newer insight method's and module's stage ran and succeeded"
        if skipped:
            label += f" ({len(skipped)} skipped: {', '.join(skipped)})"
        if other_failed:
            label += f" (failed: {'; '.join(other_failed)})"
        checks.insert(1, (label, not other_failed and not skipped))
    for label, passed in checks:
        print(f"[{'PASS' if passed else 'FAIL'}] {label}")
    if ratio:
        print(f"speed on the same work: pandas / patron = {ratio:.2f}x")


def _ok(run: dict[str, Any]) -> bool:
    """A stage that ran (``--stages`` may have left it out) and succeeded."""
    return "seconds" in run and not any(k in run for k in ("failed", "error", "skipped"))


def _note(run: dict[str, Any]) -> str:
    if "skipped" in run:
        return f"SKIPPED {run['skipped']}"
    if "failed" in run or "error" in run:
        return f"FAILED {run.get('failed') or run.get('error')}"
    return ""


def _counts(workspace: Path) -> dict[str, int]:
    import duckdb

    con = duckdb.connect(str(workspace / "warehouse.duckdb"), read_only=True)
    try:
        return {
            t: int(con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0])
            for t in ("orders", "order_lines", "products", "customers")
        }
    finally:
        con.close()


def _uptime() -> str:
    done = subprocess.run(["uptime"], capture_output=True, text=True, check=False)
    return done.stdout.strip()


if __name__ == "__main__":
    main()
