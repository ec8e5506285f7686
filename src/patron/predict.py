"""Per-customer predictions: scored on unique rows in numpy, joined back to customers in the engine.

For every customer acquired by the as-of day D, from their summary as of D (``patron.clv``), a
BG/NBD fit on that summary and a Gamma-Gamma fit on its repeat customers, over a horizon of H
time units:

- ``p_alive``: P(alive | x, t_x, T);
- ``expected_purchases``: E[Y(H) | x, t_x, T], purchases in the next H units;
- ``expected_spend``: E[M | x, m̄] per purchase (the population mean γp/(q−1) without repeats);
- ``clv``: margin × expected_spend × Σ_{k=1..H} (E[Y(k)] − E[Y(k−1)]) / (1 + d)^k, the discounted
  margin of the next H units at a discount rate d per unit (the discounted expected residual
  transactions of Fader, Hardie & Lee 2005, truncated at the horizon); its sum over customers is
  the customer equity.

Intervals (``_low``, ``_high``: 5th and 95th percentiles) come from parameter uncertainty: each
fit's parameters are drawn from their asymptotic normal distribution and the predictions are
recomputed. The discounted purchases' bounds scale with those of E[Y(H)], and the CLV bounds
multiply the bounds of its two factors, which come from separate fits: a conservative band.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import ibis
import numpy as np
import pyarrow as pa

from patron import clv
from patron.errors import InputError
from patron.models import BetaGeoModel, GammaGammaModel, Model

if TYPE_CHECKING:
    from ibis import Table

QUANTILES = (0.05, 0.95)
KEYS = ("frequency", "recency", "T")


@dataclass(frozen=True)
class Horizon:
    """What to predict: ``periods`` time units ahead, discounted at ``discount_rate`` per unit."""

    periods: int = 52
    discount_rate: float = 0.0
    margin: float = 1.0
    draws: int = 100
    seed: int = 0

    def check(self) -> None:
        if self.periods < 1 or self.draws < 2:
            raise InputError("--horizon must be at least 1 period (and draws at least 2)")
        if self.discount_rate < 0 or not 0 < self.margin <= 1:
            raise InputError("--discount-rate must be >= 0 and --margin in (0, 1]")


def predictions(summary: Table, horizon: Horizon) -> Table:
    """``summary`` (one row per customer) with the predictions of the module docstring."""
    horizon.check()
    rows = clv.unique_rows(summary)
    spends = clv.unique_rows(summary, ("frequency", "monetary_value"))
    purchase = _purchase_table(clv.fit_rows("bgnbd", rows), rows, horizon)
    spend = _spend_table(clv.fit_rows("gg", spends), spends, horizon)
    # customers without repeat purchases have no mean spend: they join the spend row of m = 0
    scored = summary.mutate(spend_key=summary.monetary_value.fill_null(0.0))
    scored = scored.inner_join(ibis.memtable(purchase), list(KEYS))
    scored = scored.inner_join(ibis.memtable(spend), ["frequency", "spend_key"])
    value = {
        f"clv{end}": scored[f"discounted{end}"] * scored[f"expected_spend{end}"] * horizon.margin
        for end in ("", "_low", "_high")
    }
    return scored.mutate(**value).drop(
        "spend_key", "discounted", "discounted_low", "discounted_high"
    )


def _purchase_table(model: Model, rows: pa.Table, horizon: Horizon) -> pa.Table:
    """Per unique (x, t_x, T): P(alive), expected and discounted purchases, with bounds."""
    assert isinstance(model, BetaGeoModel)
    x, t_x, big_t = (clv.column(rows, name) for name in KEYS)

    def point(m: BetaGeoModel) -> np.ndarray:
        ahead = m.conditional_expected_purchases(horizon.periods, x, t_x, big_t)
        return np.stack([m.probability_alive(x, t_x, big_t), ahead])

    (alive, ahead), (low, high) = point(model), _bounds(model, point, horizon)
    steps = np.arange(horizon.periods + 1)
    path = np.stack([model.conditional_expected_purchases(k, x, t_x, big_t) for k in steps])
    discounted = (np.diff(path, axis=0) / (1 + horizon.discount_rate) ** steps[1:, None]).sum(0)
    scale = [np.divide(b[1], ahead, out=np.ones_like(ahead), where=ahead > 0) for b in (low, high)]
    columns = {name: rows.column(name) for name in KEYS}
    return pa.table(
        columns
        | {
            "p_alive": alive,
            "p_alive_low": low[0],
            "p_alive_high": high[0],
            "expected_purchases": ahead,
            "expected_purchases_low": low[1],
            "expected_purchases_high": high[1],
            "discounted": discounted,
            "discounted_low": discounted * scale[0],
            "discounted_high": discounted * scale[1],
        }
    )


def _spend_table(model: Model, rows: pa.Table, horizon: Horizon) -> pa.Table:
    """Per unique (x, m̄): the expected spend per purchase, with bounds."""
    assert isinstance(model, GammaGammaModel)
    x, m = clv.column(rows, "frequency"), np.nan_to_num(clv.column(rows, "monetary_value"))

    def point(g: GammaGammaModel) -> np.ndarray:
        return g.conditional_expected_average_profit(x, m)

    low, high = _bounds(model, point, horizon)
    return pa.table(
        {
            "frequency": rows.column("frequency"),
            "spend_key": m,
            "expected_spend": point(model),
            "expected_spend_low": low,
            "expected_spend_high": high,
        }
    )


def _bounds(
    model: Model, predict: Callable[[Any], np.ndarray], horizon: Horizon
) -> tuple[np.ndarray, np.ndarray]:
    """5th and 95th percentiles of ``predict`` over parameter draws (the point estimate when
    the covariance is not identified, or no draw is valid)."""
    mean = np.array(list(model.params_.values()))
    cov = model.covariance_
    rng = np.random.default_rng(horizon.seed)
    draws = np.empty((0, len(mean)))
    if np.all(np.isfinite(cov)):
        draws = rng.multivariate_normal(mean, cov, size=horizon.draws, check_valid="ignore")
        draws = draws[np.all(draws > 0, axis=1)]
    if len(draws) < 2:
        value = predict(model)
        return value, value
    drawn = [type(model).from_params(dict(zip(model.param_names, d, strict=True))) for d in draws]
    values = np.stack([predict(m) for m in drawn])
    low, high = np.quantile(values, QUANTILES, axis=0)
    return low, high
