"""Freeze lifetimes 0.11.3's answers on the CDNOW sample into tests/fixtures/lifetimes_cdnow.json.

Why: lifetimes is the reference implementation most users come from, so patron's fits and
predictions are checked against its own on the data of Fader, Hardie & Lee (2005). lifetimes is
a bench-only peer, so ``tests/models/test_lifetimes_agreement.py`` reads its answers from this
file instead of importing it.

What is written: each fitter's parameters (BG/NBD, Pareto/NBD, MBG/NBD, Gamma-Gamma) and two
log-likelihood totals: the one lifetimes reports (its ``_negative_log_likelihood_``, a mean per
customer except for Pareto/NBD, times the customers), which is on its internally rescaled time
(weeks / max T), and its own likelihood function evaluated on the data in weeks: the same
quantity as patron's ``loglik_``. Then, for ~40 histories (no repeat purchase, the heaviest
buyers, long silences, the paper's worked example, a few made-up extremes), P(alive) and the
expected purchases in the next 39 and 52 weeks under each history model, and Gamma-Gamma's
expected average profit for some (x, m).

Usage: ``python bench/lifetimes_reference.py`` (needs the ``bench`` extra)
"""

from __future__ import annotations

import json
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "models"))  # the tests' CDNOW loaders: the same data

from cdnow_data import cdnow_spend, cdnow_weeks  # noqa: E402
from lifetimes import (  # noqa: E402
    BetaGeoFitter,
    GammaGammaFitter,
    ModifiedBetaGeoFitter,
    ParetoNBDFitter,
)
from test_lifetimes_agreement import HORIZONS  # noqa: E402

OUT = ROOT / "tests" / "fixtures" / "lifetimes_cdnow.json"
HISTORY_FITTERS = {
    "bgnbd": (BetaGeoFitter, ("r", "alpha", "a", "b")),
    "pnbd": (ParetoNBDFitter, ("r", "alpha", "s", "beta")),
    "mbgnbd": (ModifiedBetaGeoFitter, ("r", "alpha", "a", "b")),
}
EXTREMES = [(2, 30.43, 38.86), (60, 38.5, 39.0), (20, 3.0, 39.0), (1, 0.14, 38.0), (0, 0, 0.5)]
"""The paper's worked example, then a heavier buyer than CDNOW has, a long-silent heavy buyer,
a one-day repeat and a brand-new customer."""


def chosen_rows(x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray) -> np.ndarray:
    """~40 distinct (x, t_x, T): x = 0 across ages, the heaviest buyers, the longest silences
    among repeat buyers, a seeded random sample, and ``EXTREMES``."""
    rows = np.unique(np.stack([x, t_x, big_t], axis=1), axis=0)
    none = rows[rows[:, 0] == 0]
    repeat = rows[rows[:, 0] >= 3]
    picks = [
        none[np.linspace(0, len(none) - 1, 5).astype(int)],
        rows[np.argsort(-rows[:, 0], kind="stable")[:10]],
        repeat[np.argsort(repeat[:, 1] - repeat[:, 2], kind="stable")[:10]],
        rows[np.random.default_rng(7).choice(len(rows), 10, replace=False)],
        np.array(EXTREMES, dtype=float),
    ]
    chosen = np.concatenate(picks)
    _, first = np.unique(chosen, axis=0, return_index=True)
    return chosen[np.sort(first)]


def history_reference(name: str, data: tuple[np.ndarray, ...], rows: np.ndarray) -> dict[str, Any]:
    """One history model's fit, log-likelihoods and predictions on ``rows``."""
    fitter_class, names = HISTORY_FITTERS[name]
    np.random.seed(0)  # Pareto/NBD starts Nelder-Mead from a random point
    fitter = fitter_class().fit(*data)
    params = np.array([fitter.params_[k] for k in names])
    weights = np.ones(len(data[0]))
    if name == "pnbd":  # natural parameters, -sum(w * ll) / mean(w)
        loglik = -fitter_class._negative_log_likelihood(params, *data, weights, 0.0)
        reported = -fitter._negative_log_likelihood_ * weights.mean()
    else:  # log parameters, -sum(w * ll) / sum(w)
        loglik = -fitter_class._negative_log_likelihood(np.log(params), *data, weights, 0.0)
        loglik *= weights.sum()
        reported = -fitter._negative_log_likelihood_ * weights.sum()
    x, t_x, big_t = rows.T
    predictions = {"p_alive": fitter.conditional_probability_alive(x, t_x, big_t)}
    for t in HORIZONS:
        ahead = fitter.conditional_expected_number_of_purchases_up_to_time(t, x, t_x, big_t)
        predictions[f"expected_{t}"] = ahead
    return {
        "params": dict(zip(names, params.tolist(), strict=True)),
        "loglik": float(loglik),
        "loglik_reported": float(reported),
        "time_scale": float(fitter._scale),
        "predictions": {k: np.asarray(v, dtype=float).tolist() for k, v in predictions.items()},
    }


def spend_reference() -> dict[str, Any]:
    """Gamma-Gamma's fit on the repeat customers and its expected average profit for some (x, m)."""
    x, m = cdnow_spend()
    repeat = x > 0
    fitter = GammaGammaFitter().fit(x[repeat], m[repeat])
    p, q, v = (float(fitter.params_[k]) for k in ("p", "q", "v"))
    ll = -GammaGammaFitter._negative_log_likelihood(
        np.log([p, q, v]), x[repeat], m[repeat], np.ones(repeat.sum()), 0.0
    )
    xs = np.array([0, 1, 1, 2, 3, 5, 8, 12, 20, 1, 4, 15])
    ms = np.array([0, 5.0, 250.0, 15.5, 40.0, 27.3, 100.0, 35.0, 12.0, 1.0, 500.0, 80.0])
    return {
        "params": {"p": p, "q": q, "gamma": v},
        "loglik": float(ll * repeat.sum()),
        "frequency": xs.tolist(),
        "monetary_value": ms.tolist(),
        "expected_average_profit": fitter.conditional_expected_average_profit(xs, ms).tolist(),
    }


def main() -> None:
    data = cdnow_weeks()
    rows = chosen_rows(*data)
    reference = {
        "source": "lifetimes on the CDNOW 1/10 sample, 39-week calibration (weeks); written by "
        "bench/lifetimes_reference.py",
        "versions": {p: version(p) for p in ("lifetimes", "numpy", "scipy", "autograd")},
        "rows": {"frequency": rows[:, 0].tolist(), "recency": rows[:, 1].tolist()}
        | {"T": rows[:, 2].tolist()},
        **{name: history_reference(name, data, rows) for name in HISTORY_FITTERS},
        "gg": spend_reference(),
    }
    OUT.write_text(json.dumps(reference, indent=1) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}: {len(rows)} rows")


if __name__ == "__main__":
    main()
