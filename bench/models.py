"""Model benchmark: BG/NBD and Gamma-Gamma fitting and scoring against lifetimes and PyMC-Marketing.

Why: issue 4 asks patron's models to be at least 100x faster than lifetimes at 1M customers and
a 10M-customer summary to be scored in under a minute, with the same answers. Every tool gets
the same simulated customers (BG/NBD histories with the CDNOW estimates, Gamma-Gamma spend), and
each (size, tool) runs in a fresh child process for its own seconds and peak RSS:

- patron: the engine's way. DuckDB groups the customers into weighted unique (x, t_x, T) rows
  (counted in the fit), the model fits and scores those rows, and DuckDB joins the scores back
  to every customer (counted in the scoring); Gamma-Gamma fits on unique (x, m) rows.
- patron per customer: the same models called as lifetimes' users call theirs, on numpy arrays
  of one row per customer (a fit merges equal rows itself; scores are per customer).
- lifetimes 0.11.3, per customer, as its users call it; and "weighted": the same grouping and
  join-back as patron with lifetimes' ``weights=``, so that ratio isolates the model code.
- PyMC-Marketing 1.3.0: ``clv.BetaGeoModel().fit(data, method="map")`` per customer, default
  priors. It needs Python >= 3.12, so when this interpreter cannot import it the bench makes a
  venv for it under ``bench/out/`` from the first ``python3.12``/``python3.13`` it finds.

A second stage fits Pareto/NBD on the same data (no scoring, no spend): patron's
``ParetoNBDModel`` on the weighted unique rows and per customer, lifetimes' ``ParetoNBDFitter``
per customer (up to ``PARETO_CAP`` customers; extrapolated above) and weighted, each with its
log-likelihood at its own optimum. PyMC-Marketing is left out of this stage. The data are
BG/NBD draws, but every tool fits the same Pareto/NBD model to them, so the parameters must
agree all the same.

A peer is skipped at a size where its time or memory, extrapolated linearly from the size
before, would pass the caps, and a child that runs past 1.5x the time cap stops itself. Any
tool's run shorter than ``REPEAT_UNDER`` seconds is made three times and the median kept.

The pipeline figure is patron alone at the largest size: a DuckDB file holding the customer
summary to the stored predictions table (``patron.predict.store``, what ``patron predict``
runs, with its default model and ``Horizon()``), and the same from the orders through
``patron.clv.customer_summary``.

Usage: ``python bench/models.py [--customers 100000,1000000,10000000] [--quick] [--seed S]``
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from common import OUT, emit, print_table, run_child

SCRIPT = str(Path(__file__).resolve())
SIZES = (100_000, 1_000_000, 10_000_000)
R, ALPHA, A, B = 0.243, 4.414, 0.793, 2.426  # BG/NBD on CDNOW (Fader, Hardie & Lee 2005)
P, Q, GAMMA = 6.25, 3.74, 15.44  # Gamma-Gamma on CDNOW (Fader & Hardie 2013)
T_DAYS = (27 * 7, 39 * 7)  # customers' ages: uniform from 27 to 39 weeks, in whole days
HORIZON = 52  # weeks scored ahead, as patron's default Horizon
CALIBRATION_END = date(2025, 12, 31)
CAP_SECONDS, CAP_MIB = 600.0, 16 * 1024  # a peer run expected past these is skipped
REPEATS, REPEAT_UNDER = 3, 30.0  # runs shorter than this many seconds: median of REPEATS
PEERS = ("lifetimes", "lifetimes weighted", "pymc-marketing")
SELF = "patron per customer"  # patron on lifetimes' input, beside its engine's way
PARETO = ("patron pareto", "lifetimes pareto", "lifetimes weighted pareto")  # fits only
SELF_PARETO = "patron per customer pareto"
PARETO_CAP = 1_000_000  # lifetimes' per-customer Pareto/NBD runs up to here, extrapolated above
PYMC = "pymc-marketing==1.3.0"
PYMC_VENV = OUT / "pymc-marketing-1.3.0-venv"
TARGET_PIPELINE, TARGET_RATIO = 60.0, 100.0

# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------


def simulate(n: int, seed: int) -> dict[str, np.ndarray]:
    """``n`` BG/NBD customers observed for T weeks, with Gamma-Gamma mean repeat spend.

    Purchases while alive are Poisson(lambda), lambda ~ Gamma(r, alpha); after each repeat
    purchase the customer drops out with probability p ~ Beta(a, b), so a lifetime holds a
    Geometric(p) number of them. Given ``k`` Poisson events in [0, T] the x-th is the x-th of k
    uniform order statistics, T * Beta(x, k - x + 1). Days are whole, as daily data are: T and
    t_x are days / 7 (t_x at least a day after the first purchase). Spend: nu ~ Gamma(q, gamma),
    and the mean of x Gamma(p, nu) values is Gamma(p x, nu x), in cents.
    """
    rng = np.random.default_rng([seed, n])
    rate = rng.gamma(R, 1 / ALPHA, n)
    dropout = rng.beta(A, B, n)
    t_days = rng.integers(T_DAYS[0], T_DAYS[1] + 1, n)
    events = rng.poisson(rate * t_days / 7)
    x = np.minimum(events, rng.geometric(dropout))
    repeat = x > 0
    last = np.zeros(n)
    last[repeat] = t_days[repeat] * rng.beta(x[repeat], events[repeat] - x[repeat] + 1)
    tx_days = np.where(repeat, np.clip(np.round(last), 1, t_days), 0).astype(np.int64)
    nu = rng.gamma(Q, 1 / GAMMA, n)
    spend = np.full(n, np.nan)
    spend[repeat] = rng.gamma(P * x[repeat], 1 / (nu[repeat] * x[repeat]))
    spend = np.maximum(np.round(spend, 2), 0.01)
    return {
        "x": x.astype(np.int64),
        "tx_days": tx_days,
        "t_days": t_days.astype(np.int64),
        "m": np.where(repeat, spend, np.nan),
        "first_spend": np.maximum(np.round(rng.gamma(P, 1 / nu), 2), 0.01),
    }


def data_file(n: int, seed: int) -> Path:
    """The cached simulation (``.npz``), made when missing."""
    path = OUT / f"models_{n}_{seed}.npz"
    if not path.exists():
        OUT.mkdir(exist_ok=True)
        started = time.perf_counter()
        tmp = path.with_name(path.stem + ".tmp.npz")
        np.savez(tmp, **simulate(n, seed))
        tmp.rename(path)
        print(f"  simulated {n:,} customers in {time.perf_counter() - started:.1f} s", flush=True)
    return path


def load(path: str) -> dict[str, np.ndarray]:
    """Per-customer frequency, recency and T in weeks, mean repeat spend (NaN without repeats)."""
    with np.load(path) as data:
        return {
            "x": data["x"],
            "t_x": data["tx_days"] / 7,
            "T": data["t_days"] / 7,
            "m": data["m"],
        }


# ---------------------------------------------------------------------------------------------
# Children: one tool on one data file, timed stage by stage
# ---------------------------------------------------------------------------------------------


class Stages:
    """Seconds per stage; past the hard cap the child stops with the stage it was in."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.current = "import"
        signal.signal(signal.SIGALRM, self._expired)
        signal.alarm(int(1.5 * CAP_SECONDS))

    def _expired(self, *_: object) -> None:
        raise TimeoutError(f"stopped after {1.5 * CAP_SECONDS:.0f} s, in {self.current}")

    def run(self, name: str, call: Callable[[], Any]) -> Any:
        self.current = name
        started = time.perf_counter()
        result = call()
        self.seconds[name] = time.perf_counter() - started
        return result


def child(tool: str, path: str) -> None:
    """Run ``tool`` on the data at ``path`` and print its figures as JSON."""
    stages = Stages()
    started = time.perf_counter()
    try:
        result = RUNS[tool](stages, path)
    except Exception as exc:  # a peer failing at scale is a finding, not a crash
        result = {"error": f"{type(exc).__name__}: {str(exc).strip()[:200]}"}
    signal.alarm(0)
    emit({**result, "seconds": stages.seconds, "wall": time.perf_counter() - started})


def summarize(p_alive: np.ndarray, expected: np.ndarray) -> dict[str, float]:
    """Two numbers every tool's scores must share, so a fast wrong answer shows."""
    return {"mean_p_alive": float(np.mean(p_alive)), "expected_total": float(np.sum(expected))}


def run_grouped(stages: Stages, path: str, models: Callable[[], Any]) -> dict[str, Any]:
    """Fit and score on DuckDB's weighted unique rows, join the scores back to every customer.

    A Pareto/NBD ``models`` gives no spend model: then only the fit is timed, and its second
    value is the log-likelihood (a callable, run untimed) instead of the scoring.
    """
    import duckdb
    import pyarrow as pa

    fit_bg, fit_gg = stages.run("import", models)
    data = load(path)
    customers = pa.table(
        {
            "customer_key": np.arange(len(data["x"])),
            "frequency": data["x"],
            "recency": data["t_x"],
            "T": data["T"],
            "monetary_value": data["m"],
        }
    )
    con = duckdb.connect()
    con.register("customers", customers)
    # DuckDB finishes starting up at a connection's first query (10-15 ms in a fresh process);
    # a workspace's connection has run many before it fits, so that is set-up, not the fit's
    con.sql("SELECT 1").fetchall()

    def fit() -> tuple[dict[str, np.ndarray], Any, dict[str, float]]:
        rows = con.sql(
            'SELECT frequency, recency, "T", count(*) AS n FROM customers GROUP BY ALL'
        ).fetchnumpy()
        params, score = fit_bg(rows["frequency"], rows["recency"], rows["T"], rows["n"])
        return rows, score, params

    def score() -> pa.Table:
        keys = {k: rows[k] for k in ("frequency", "recency", "T")}
        p_alive, expected = bg_score(*keys.values())
        con.register("scores", pa.table({**keys, "p_alive": p_alive, "expected": expected}))
        return con.sql(
            "SELECT customer_key, p_alive, expected FROM customers "
            'JOIN scores USING (frequency, recency, "T")'
        ).to_arrow_table()

    def fit_spend() -> tuple[dict[str, float], int]:
        spend = con.sql(
            "SELECT frequency, monetary_value, count(*) AS n FROM customers "
            "WHERE frequency > 0 GROUP BY ALL"
        ).fetchnumpy()
        return fit_gg(spend["frequency"], spend["monetary_value"], spend["n"]), len(spend["n"])

    rows, bg_score, params = stages.run("fit", fit)
    if fit_gg is None:
        return {"params": params, "loglik": bg_score(), "unique_rows": len(rows["n"])}
    scored = stages.run("score", score)
    gg_params, spend_rows = stages.run("gg_fit", fit_spend)
    return {
        "params": params,
        "gg_params": gg_params,
        "unique_rows": len(rows["n"]),
        "spend_rows": spend_rows,
        "scored": scored.num_rows,
        **summarize(scored["p_alive"].to_numpy(), scored["expected"].to_numpy()),
    }


def patron_models() -> tuple[Callable[..., Any], Callable[..., Any]]:
    from patron.models import BetaGeoModel, GammaGammaModel

    def fit_bg(x: Any, t_x: Any, big_t: Any, w: Any = None) -> tuple[dict[str, float], Any]:
        model = BetaGeoModel().fit(x, t_x, big_t, weights=w)

        def score(*row: Any) -> tuple[np.ndarray, np.ndarray]:
            return model.probability_alive(*row), model.conditional_expected_purchases(
                HORIZON, *row
            )

        return model.params_, score

    def fit_gg(x: Any, m: Any, w: Any = None) -> dict[str, float]:
        return GammaGammaModel().fit(x, m, weights=w).params_

    return fit_bg, fit_gg


def lifetimes_models() -> tuple[Callable[..., Any], Callable[..., Any]]:
    from lifetimes import BetaGeoFitter, GammaGammaFitter

    def fit_bg(x: Any, t_x: Any, big_t: Any, w: Any = None) -> tuple[dict[str, float], Any]:
        model = BetaGeoFitter().fit(x, t_x, big_t, weights=w)

        def score(*row: Any) -> tuple[np.ndarray, np.ndarray]:
            alive = model.conditional_probability_alive(*row)
            ahead = model.conditional_expected_number_of_purchases_up_to_time(HORIZON, *row)
            return np.asarray(alive), np.asarray(ahead)

        return {k: float(v) for k, v in model.params_.items()}, score

    def fit_gg(x: Any, m: Any, w: Any = None) -> dict[str, float]:
        fitted = GammaGammaFitter().fit(x, m, weights=w).params_
        return {"p": float(fitted["p"]), "q": float(fitted["q"]), "gamma": float(fitted["v"])}

    return fit_bg, fit_gg


def patron_pareto() -> tuple[Callable[..., Any], None]:
    from patron.models import ParetoNBDModel

    def fit(x: Any, t_x: Any, big_t: Any, w: Any = None) -> tuple[dict[str, float], Any]:
        model = ParetoNBDModel().fit(x, t_x, big_t, weights=w)
        return model.params_, lambda: model.loglik_

    return fit, None


def lifetimes_pareto() -> tuple[Callable[..., Any], None]:
    from lifetimes import ParetoNBDFitter

    def fit(x: Any, t_x: Any, big_t: Any, w: Any = None) -> tuple[dict[str, float], Any]:
        np.random.seed(0)  # lifetimes starts Nelder-Mead from a random point
        model = ParetoNBDFitter().fit(x, t_x, big_t, weights=w)
        params = {k: float(model.params_[k]) for k in ("r", "alpha", "s", "beta")}
        weights = np.ones(len(x)) if w is None else np.asarray(w, dtype=float)

        def loglik() -> float:  # its total on unscaled time: -sum(w * ll) / mean(w) there
            found = np.array(list(params.values()))
            nll = ParetoNBDFitter._negative_log_likelihood(found, x, t_x, big_t, weights, 0.0)
            return -float(nll) * float(weights.mean())

        return params, loglik

    return fit, None


def run_per_customer(
    stages: Stages, path: str, models: Callable[[], Any] = lifetimes_models
) -> dict[str, Any]:
    """A tool on one row per customer, as lifetimes' users call it (Pareto/NBD: the fit alone)."""
    fit_bg, fit_gg = stages.run("import", models)
    d = load(path)
    params, score = stages.run("fit", lambda: fit_bg(d["x"], d["t_x"], d["T"]))
    if fit_gg is None:
        return {"params": params, "loglik": score()}
    p_alive, expected = stages.run("score", lambda: score(d["x"], d["t_x"], d["T"]))
    repeat = d["x"] > 0
    gg_params = stages.run("gg_fit", lambda: fit_gg(d["x"][repeat], d["m"][repeat]))
    return {"params": params, "gg_params": gg_params, **summarize(p_alive, expected)}


def run_pymc(stages: Stages, path: str) -> dict[str, Any]:
    """PyMC-Marketing's MAP fits on one row per customer, its default priors."""

    def imported() -> Any:
        from pymc_marketing import clv

        return clv

    clv = stages.run("import", imported)
    import pandas as pd

    d = load(path)
    frame = pd.DataFrame(
        {"customer_id": np.arange(len(d["x"])), "frequency": d["x"], "recency": d["t_x"]}
    ).assign(T=d["T"])
    repeat = d["x"] > 0
    spend = pd.DataFrame(
        {
            "customer_id": np.flatnonzero(repeat),
            "frequency": d["x"][repeat],
            "monetary_value": d["m"][repeat],
        }
    )

    def map_params(model: Any, names: dict[str, str]) -> dict[str, float]:
        return {
            ours: float(model.fit_result[theirs].values.squeeze()) for ours, theirs in names.items()
        }

    def fit() -> Any:
        model = clv.BetaGeoModel()
        model.fit(frame, method="map", progressbar=False)
        return model

    def score() -> tuple[np.ndarray, np.ndarray]:
        alive = model.expected_probability_alive(frame).values.ravel()
        ahead = model.expected_purchases(frame, future_t=HORIZON).values.ravel()
        return alive, ahead

    def fit_spend() -> Any:
        spending = clv.GammaGammaModel()
        spending.fit(spend, method="map", progressbar=False)
        return spending

    model = stages.run("fit", fit)
    p_alive, expected = stages.run("score", score)
    spending = stages.run("gg_fit", fit_spend)
    return {
        "params": map_params(model, {k: k for k in ("r", "alpha", "a", "b")}),
        "gg_params": map_params(spending, {"p": "p", "q": "q", "gamma": "v"}),
        **summarize(p_alive, expected),
    }


RUNS: dict[str, Callable[[Stages, str], dict[str, Any]]] = {
    "patron": lambda stages, path: run_grouped(stages, path, patron_models),
    SELF: lambda stages, path: run_per_customer(stages, path, patron_models),
    "lifetimes": run_per_customer,
    "lifetimes weighted": lambda stages, path: run_grouped(stages, path, lifetimes_models),
    "pymc-marketing": run_pymc,
    "patron pareto": lambda stages, path: run_grouped(stages, path, patron_pareto),
    SELF_PARETO: lambda stages, path: run_per_customer(stages, path, patron_pareto),
    "lifetimes pareto": lambda stages, path: run_per_customer(stages, path, lifetimes_pareto),
    "lifetimes weighted pareto": lambda stages, path: run_grouped(stages, path, lifetimes_pareto),
}

# ---------------------------------------------------------------------------------------------
# The pipeline: a 10M-customer warehouse to a predictions table
# ---------------------------------------------------------------------------------------------


def warehouse(n: int, seed: int) -> Path:
    """The cached DuckDB file with ``customer_summary`` and ``orders``, built when missing."""
    folder = OUT / f"models_pipeline_{n}_{seed}"
    db = folder / "warehouse.duckdb"
    if not db.exists():
        started = time.perf_counter()
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        tmp = db.with_suffix(".building")
        # in a child, so the parent stays small
        build = [sys.executable, SCRIPT, "--build", str(data_file(n, seed)), str(tmp)]
        subprocess.run(build, check=True)
        tmp.rename(db)
        print(f"  built {db} in {time.perf_counter() - started:.0f} s", flush=True)
    return db


def build_warehouse(path: str, db: str) -> None:
    """``customer_summary`` as ``patron.clv.customer_summary`` gives it, and orders behind it.

    Each customer's first order is ``T`` days before the calibration end, the last repeat order
    ``t_x`` days after the first and the others on hashed days in between, each of ``m``, so
    the orders give back the summary except where two repeat orders fall on one day.
    """
    import duckdb
    import pyarrow as pa

    with np.load(path) as data:
        sim = pa.table({name: data[name] for name in data.files})
    sim = sim.append_column("customer_key", pa.array(np.arange(1, sim.num_rows + 1)))
    con = duckdb.connect(db)
    con.register("sim", sim)
    con.execute(
        """CREATE TABLE customer_summary AS SELECT customer_key, x AS frequency,
          tx_days / 7 AS recency, t_days / 7 AS "T",
          CASE WHEN x > 0 THEN m END AS monetary_value FROM sim"""
    )
    day = "(1 + floor(((hash(customer_key, i) >> 11) / 9007199254740992.0) * (tx_days - 1)))"
    con.execute(
        f"""CREATE TABLE orders AS
        WITH rows AS (SELECT *, unnest(range(x + 1)) AS i FROM sim)
        SELECT customer_key * 1000 + i AS order_id, customer_key,
          DATE '{CALIBRATION_END}' - CAST(t_days AS INTEGER) + CAST(CASE WHEN i = 0 THEN 0
            WHEN i = x THEN tx_days ELSE {day} END AS INTEGER) AS order_date,
          CAST(order_date AS TIMESTAMP) + INTERVAL 12 HOUR AS ordered_at, 'web' AS channel,
          CAST(CASE WHEN i = 0 THEN first_spend ELSE m END AS DECIMAL(18, 2)) AS revenue,
          CAST(NULL AS DECIMAL(18, 2)) AS cost, false AS is_return
        FROM rows"""
    )
    con.execute("CHECKPOINT")
    con.close()


def run_pipeline(stages: Stages, db: str, source: str) -> dict[str, Any]:
    """``patron.predict.store`` (what ``patron predict`` runs) from the summary (or the orders)
    to the stored predictions table."""
    import duckdb

    def imported() -> Any:
        import ibis

        from patron.clv import customer_summary
        from patron.metrics.occasions import Sales
        from patron.predict import scores, store
        from patron.predictions import Horizon

        return ibis, customer_summary, Sales, Horizon, scores, store

    ibis, customer_summary, sales, horizon, scores, store = stages.run("import", imported)
    con = duckdb.connect(db)
    con.execute("SET memory_limit = '1GB'")  # a workspace's default
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET temp_directory = ?", [str(Path(db).with_suffix(".tmp"))])
    backend = ibis.duckdb.from_connection(con)

    def predict() -> None:
        if source == "orders":
            summary = customer_summary(
                sales.of(backend.table("orders")), CALIBRATION_END, time_unit="week"
            )
        else:
            summary = backend.table("customer_summary")
        store(
            backend,
            summary,
            lambda table: scores(table, horizon(), as_of=CALIBRATION_END, time_unit="week"),
        )

    stages.run("predict", predict)
    rows, alive, clv = con.execute(
        "SELECT count(*), avg(p_alive), sum(clv) FROM customer_predictions"
    ).fetchone()
    orders = con.execute("SELECT count(*) FROM orders").fetchone()[0]
    con.execute("DROP TABLE customer_predictions")
    con.execute("CHECKPOINT")
    return {"scored": rows, "mean_p_alive": alive, "clv_total": clv, "orders": orders}


RUNS["pipeline summary"] = lambda stages, db: run_pipeline(stages, db, "summary")
RUNS["pipeline orders"] = lambda stages, db: run_pipeline(stages, db, "orders")

# ---------------------------------------------------------------------------------------------
# The parent: which runs, where, and the report
# ---------------------------------------------------------------------------------------------

EXEC = "import os, sys; os.execv(sys.argv[1], sys.argv[1:])"
"""Replaces the child ``run_child`` starts by another interpreter (same process: its RSS is
still polled, and the high-water mark starts afresh at exec)."""


def pymc_python() -> tuple[str | None, str]:
    """An interpreter that imports PyMC-Marketing 1.3.0, or None and why not.

    This one if it can; otherwise a venv under ``bench/out/`` made once from a Python >= 3.12
    (PyMC-Marketing 1.x requires it and patron's venv may be older).
    """
    from importlib.metadata import PackageNotFoundError, version

    try:
        if version("pymc-marketing") == PYMC.split("==")[1]:
            return sys.executable, ""
    except PackageNotFoundError:
        pass
    python, ready = PYMC_VENV / "bin" / "python", PYMC_VENV / "installed"
    if ready.exists():
        return str(python), ""
    base = _python312()
    if base is None:
        return None, f"{PYMC} needs Python >= 3.12 and none was found"
    print(f"  installing {PYMC} into {PYMC_VENV} (once, a few minutes) ...", flush=True)
    shutil.rmtree(PYMC_VENV, ignore_errors=True)
    made = subprocess.run([base, "-m", "venv", str(PYMC_VENV)], check=False).returncode == 0
    install = [str(python), "-m", "pip", "install", "-q", PYMC, "psutil"]
    if not made or subprocess.run(install, check=False).returncode:
        return None, f"could not install {PYMC} into {PYMC_VENV}"
    ready.touch()
    return str(python), ""


def _python312() -> str | None:
    """The first Python >= 3.12 on PATH or among pyenv's versions."""
    found = [shutil.which(name) for name in ("python3.13", "python3.12")]
    pyenv = Path.home() / ".pyenv" / "versions"
    found += sorted(glob.glob(str(pyenv / "3.1[2-9]*" / "bin" / "python3")), reverse=True)
    for python in filter(None, found):
        check = [python, "-c", "import sys; sys.exit(sys.version_info < (3, 12))"]
        if subprocess.run(check, capture_output=True, check=False).returncode == 0:
            return python
    return None


def total(result: dict[str, Any]) -> float:
    """Seconds of the measured work: BG/NBD fit and scoring and the Gamma-Gamma fit."""
    return sum(result["seconds"].get(k, 0.0) for k in ("fit", "score", "gg_fit"))


def skip_reason(tool: str, n: int, done: dict[tuple[int, str], dict[str, Any]]) -> str:
    """Why ``tool`` should not run at ``n``: it failed before, or would pass the caps."""
    if tool == "lifetimes pareto" and n > PARETO_CAP:
        guess = total({"seconds": extrapolated(tool, n, done)})
        return f"capped at {PARETO_CAP:,} customers; ~{guess:,.0f} s extrapolated"
    before = [m for (m, t), r in done.items() if t == tool and m < n and "skipped" not in r]
    if not before:
        return ""
    m = max(before)
    last = done[m, tool]
    if "error" in last:
        return f"failed at {m:,}"
    seconds = total(last) * n / m + last["seconds"].get("import", 0.0)
    mib = last["peak_mib"] * n / m
    if seconds > CAP_SECONDS:
        return f"~{seconds:,.0f} s extrapolated from {m:,} > {CAP_SECONDS:.0f} s cap"
    if mib > CAP_MIB:
        return f"~{mib:,.0f} MiB extrapolated from {m:,} > {CAP_MIB:,} MiB cap"
    return ""


def extrapolated(
    tool: str, n: int, done: dict[tuple[int, str], dict[str, Any]]
) -> dict[str, float]:
    """The tool's stage seconds at its largest measured size, scaled linearly to ``n``."""
    measured = [
        m for (m, t), r in done.items() if t == tool and "seconds" in r and "error" not in r
    ]
    if not measured:
        return {}
    m = max(measured)
    return {k: v * n / m for k, v in done[m, tool]["seconds"].items()}


def run_tool(tool: str, args: list[str], python: str | None) -> dict[str, Any]:
    """The tool's run on ``args``, each in a fresh process. A run whose measured work takes
    under ``REPEAT_UNDER`` seconds is made ``REPEATS`` times and the one with the median work
    is kept (``runs`` holds every run's seconds): between fresh processes on this machine a
    tenth of a second moves by a third, a quarter minute by a few percent. Every tool gets
    the same rule."""
    command = [SCRIPT, "--child", tool, *args]
    if python and python != sys.executable:
        command = ["-c", EXEC, python, *command]
    runs = [run_child(command)]
    while len(runs) < REPEATS and "error" not in runs[-1] and work(runs[0]) < REPEAT_UNDER:
        runs.append(run_child(command))
    if any("error" in r for r in runs):
        return next(r for r in runs if "error" in r)
    kept = sorted(runs, key=work)[len(runs) // 2]
    return {**kept, "runs": [round(work(r), 3) for r in runs]}


def work(result: dict[str, Any]) -> float:
    """Seconds of a run's timed stages (the import not counted)."""
    return sum(v for k, v in result.get("seconds", {}).items() if k != "import")


def max_rel_diff(ours: dict[str, float], theirs: dict[str, float] | None) -> float | str:
    if not theirs:
        return ""
    return max(abs(theirs[k] - v) / abs(v) for k, v in ours.items())


def ratio(peer: float, ours: float) -> str:
    return f"{peer / ours:,.1f}x" if ours > 0 else ""


def print_size(n: int, done: dict[tuple[int, str], dict[str, Any]]) -> None:
    """One table per size: every tool's seconds, peak RSS, ratios and agreement with patron."""
    ours = done[n, "patron"]
    if "error" in ours:
        print(f"\npatron FAILED at {n:,}: {ours['error']}")
        return
    print(
        f"\n== {n:,} customers: {ours['unique_rows']:,} unique (x, t_x, T) rows, "
        f"{ours['spend_rows']:,} unique (x, m) rows; load average {os.getloadavg()[0]:.1f} =="
    )
    mine = ours["seconds"]
    table = []
    for tool in ("patron", SELF, *PEERS):
        r = done[n, tool]
        if "seconds" not in r or "error" in r:
            note = f"skipped ({r['skipped']})" if "skipped" in r else f"FAILED {r.get('error')}"
            table.append([tool, *[""] * 14, note])
            continue
        s = r["seconds"]
        cells = [s["fit"], s["score"], s["gg_fit"], total(r), r["peak_mib"], s["import"]]
        ratios = [ratio(s[k], mine[k]) for k in ("fit", "score", "gg_fit")]
        ratios.append(ratio(total(r), total(ours)))
        agree = [
            max_rel_diff(ours["params"], r["params"]),
            max_rel_diff(ours["gg_params"], r["gg_params"]),
        ]
        agree = [f"{a:.1e}" if isinstance(a, float) else a for a in agree]
        scores = [f"{r['mean_p_alive']:.4f}", f"{r['expected_total']:,.0f}"]
        table.append([tool, *cells, *ratios, *agree, *scores, _median_note(r)])
    headers = ["tool", "fit s", "score s", "GG fit s", "total s", "peak MiB", "import s"]
    headers += ["fit x", "score x", "GG x", "total x", "BG params", "GG params"]
    print_table([*headers, "mean P(alive)", f"E[Y({HORIZON})] sum", "note"], table)
    print_like_for_like(done[n, SELF], done[n, "lifetimes"], "BG/NBD + scoring + GG")
    print(f"patron's BG/NBD: {_rounded(ours['params'])}")
    print(f"patron's Gamma-Gamma: {_rounded(ours['gg_params'])}")


def print_pareto(n: int, done: dict[tuple[int, str], dict[str, Any]]) -> None:
    """Pareto/NBD fits: seconds, ratios, and agreement with patron's parameters and optimum."""
    ours = done[n, "patron pareto"]
    if "params" not in ours:
        print(f"\npatron's Pareto/NBD did not run at {n:,}: {ours.get('error', ours)}")
        return
    print(f"\n== {n:,} customers: Pareto/NBD fit on {ours['unique_rows']:,} unique rows ==")
    table = []
    for tool in (PARETO[0], SELF_PARETO, *PARETO[1:]):
        r = done[n, tool]
        if "params" not in r:
            note = f"skipped ({r['skipped']})" if "skipped" in r else f"FAILED {r.get('error')}"
            table.append([tool, "", "", "", "", "", "", note])
            continue
        s = r["seconds"]
        agree = max_rel_diff(ours["params"], r["params"])
        table.append(
            [
                tool,
                s["fit"],
                r["peak_mib"],
                s["import"],
                ratio(s["fit"], ours["seconds"]["fit"]),
                f"{agree:.1e}" if isinstance(agree, float) else agree,
                f"{r['loglik'] - ours['loglik']:+.1e}",
                _median_note(r),
            ]
        )
    headers = ["tool", "fit s", "peak MiB", "import s", "fit x", "params", "loglik - patron's"]
    print_table([*headers, "note"], table)
    print_like_for_like(done[n, SELF_PARETO], done[n, "lifetimes pareto"], "Pareto/NBD fit")
    print(f"patron's Pareto/NBD: {_rounded(ours['params'])}, log-likelihood {ours['loglik']:,.3f}")


def print_like_for_like(ours: dict[str, Any], theirs: dict[str, Any], what: str) -> None:
    """lifetimes per customer against patron per customer: the same numpy arrays in, the same
    per-customer answers out."""
    if all("seconds" in r and "error" not in r for r in (ours, theirs)):
        times = f"{total(theirs):.3g} s / {total(ours):.3g} s"
        print(
            f"like for like, one row per customer ({what}): lifetimes / patron = {times} = "
            f"{ratio(total(theirs), total(ours))}"
        )


def _median_note(result: dict[str, Any]) -> str:
    """Which run a row shows when the tool ran more than once."""
    runs = result.get("runs", [])
    if len(runs) < 2:
        return ""
    return f"median of {len(runs)}: {', '.join(f'{s:.3g}' for s in runs)} s"


def _rounded(params: dict[str, float]) -> str:
    return ", ".join(f"{k} = {v:.4f}" for k, v in params.items())


def print_ratios(
    sizes: list[int],
    done: dict[tuple[int, str], dict[str, Any]],
    tools: tuple[str, ...] = ("patron", *PEERS),
    what: str = "BG/NBD fit + scoring + GG fit",
) -> None:
    """Peer seconds / patron seconds (``tools[0]``), extrapolated where skipped."""
    print(f"\n== ratios: peer seconds / patron seconds ({what}) ==")
    table = []
    for n in sizes:
        ours = done[n, tools[0]]
        row: list[Any] = [f"{n:,}"]
        for tool in tools[1:]:
            r = done[n, tool]
            if "error" in ours:
                row.append("")
            elif "seconds" in r and "error" not in r:
                row.append(ratio(total(r), total(ours)))
            else:
                guess = extrapolated(tool, n, done)
                row.append(
                    f"~{ratio(total({'seconds': guess}), total(ours))} (extrapolated)"
                    if guess
                    else ""
                )
        table.append(row)
    print_table(["customers", *tools[1:]], table)


def targets(
    done: dict[tuple[int, str], dict[str, Any]], pipe: dict[str, Any]
) -> list[tuple[str, bool | None]]:
    """The issue's two aims: (label, passed), None where this run did not measure it."""
    checks: list[tuple[str, bool | None]] = []
    summary = pipe.get("pipeline summary", {})
    if pipe.get("customers", 0) >= 10_000_000 and "error" not in summary:
        seconds = summary["seconds"]["predict"]
        checks.append(
            (
                f"pipeline < {TARGET_PIPELINE:.0f} s (10M summary -> predictions: {seconds:.1f} s)",
                seconds < TARGET_PIPELINE,
            )
        )
    else:
        checks.append(
            (f"pipeline < {TARGET_PIPELINE:.0f} s: not measured at 10M in this run", None)
        )
    n = 1_000_000
    if (n, "patron") in done and "error" not in done[n, "patron"]:
        peer = done[n, "lifetimes"]
        measured = "seconds" in peer and "error" not in peer
        seconds = (
            total(peer) if measured else total({"seconds": extrapolated("lifetimes", n, done)})
        )
        speedup = seconds / total(done[n, "patron"])
        how = "" if measured else ", lifetimes extrapolated"
        checks.append(
            (
                f"{TARGET_RATIO:.0f}x faster than lifetimes at 1M ({speedup:,.0f}x{how})",
                speedup >= TARGET_RATIO,
            )
        )
    else:
        checks.append(
            (f"{TARGET_RATIO:.0f}x faster than lifetimes at 1M: not measured in this run", None)
        )
    return checks


def print_pipeline(pipe: dict[str, Any]) -> None:
    n = pipe["customers"]
    print(
        f"\n== pipeline: {n:,} customers in a DuckDB file -> a predictions table "
        "(default Horizon(), 1 GB memory limit) =="
    )
    table = []
    for name, source in (
        ("pipeline summary", "customer_summary table"),
        ("pipeline orders", "orders via customer_summary()"),
    ):
        r = pipe[name]
        if "error" in r:
            table.append([source, "", "", "", "", f"FAILED {r['error']}"])
            continue
        rows = (
            f"{r['orders']:,} orders" if name == "pipeline orders" else f"{r['scored']:,} customers"
        )
        alive = f"{r['mean_p_alive']:.4f}"
        table.append([source, rows, r["seconds"]["predict"], r["peak_mib"], alive, _median_note(r)])
    print_table(["from", "input", "seconds", "peak MiB", "mean P(alive)", "note"], table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--customers", default=",".join(map(str, SIZES)), help="comma-separated sizes"
    )
    parser.add_argument("--quick", action="store_true", help="100k customers only")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--child", nargs=2, metavar=("TOOL", "DATA"))
    parser.add_argument("--build", nargs=2, metavar=("DATA", "DB"))
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    if args.build:
        build_warehouse(*args.build)
        return
    sizes = [SIZES[0]] if args.quick else sorted(int(s) for s in args.customers.split(","))
    python, why = pymc_python()
    print(
        f"  pymc-marketing runs under {python}" if python else f"  pymc-marketing: {why}",
        flush=True,
    )
    done: dict[tuple[int, str], dict[str, Any]] = {}
    for n in sizes:
        path = str(data_file(n, args.seed))
        for tool in ("patron", SELF, *PEERS, PARETO[0], SELF_PARETO, *PARETO[1:]):
            reason = why if tool == "pymc-marketing" and not python else skip_reason(tool, n, done)
            if reason:
                done[n, tool] = {"skipped": reason}
                continue
            print(f"  {tool}: {n:,} customers ...", flush=True)
            done[n, tool] = run_tool(tool, [path], python if tool == "pymc-marketing" else None)
        print_size(n, done)
        print_pareto(n, done)
    print_ratios(sizes, done)
    print_ratios(sizes, done, PARETO, "Pareto/NBD fit; PyMC-Marketing not run for it")
    db = str(warehouse(sizes[-1], args.seed))
    pipe: dict[str, Any] = {"customers": sizes[-1]}
    for name in ("pipeline summary", "pipeline orders"):
        print(f"  {name}: {sizes[-1]:,} customers ...", flush=True)
        pipe[name] = run_tool(name, [db], None)
    print_pipeline(pipe)
    print()
    for label, ok in targets(done, pipe):
        print(f"[{'SKIP' if ok is None else 'PASS' if ok else 'FAIL'}] {label}")


if __name__ == "__main__":
    main()
