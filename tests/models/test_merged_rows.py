"""A fit merges equal rows into one weighted row: one row per customer (the summary lifetimes
takes) fits as the engine's weighted unique rows do, in any order. Weighted rows are taken as
given (grouped already): equal ones left in change the cost, not the fit. Gamma-Gamma does not
merge (``merges_rows``)."""

from __future__ import annotations

import numpy as np
import pytest
from simulate import bg_nbd

from patron.models import (
    BetaGeoBetaBinomModel,
    BetaGeoModel,
    ModifiedBetaGeoModel,
    ParetoNBDModel,
)
from patron.models.base import Model

RNG = np.random.default_rng(11)
N = 3000
DAYS = RNG.integers(200, 280, N)  # whole days, as daily data are: histories repeat
_DRAWN = bg_nbd(RNG, DAYS / 7, 0, r=0.25, alpha=4, a=0.8, b=2.5)
FREQUENCY = _DRAWN.frequency
HISTORY = (FREQUENCY, np.ceil(_DRAWN.recency * 7) / 7, DAYS / 7)
OPPORTUNITIES = RNG.integers(4, 7, N)
RECENT = np.where(FREQUENCY > 0, OPPORTUNITIES, 0)
CASES = [
    (BetaGeoModel, HISTORY),
    (ModifiedBetaGeoModel, HISTORY),
    (ParetoNBDModel, HISTORY),
    (BetaGeoBetaBinomModel, (np.minimum(FREQUENCY, RECENT), RECENT, OPPORTUNITIES)),
]


@pytest.mark.parametrize(("model", "columns"), CASES, ids=[model.__name__ for model, _ in CASES])
@pytest.mark.filterwarnings("ignore::patron.errors.LooseFitWarning")  # BG/BB's delta is loose
def test_one_row_per_customer_fits_as_the_weighted_unique_rows(
    model: type[Model], columns: tuple[np.ndarray, ...]
) -> None:
    stacked = np.stack(columns, axis=1).astype(float)
    rows, counts = np.unique(stacked, axis=0, return_counts=True)
    n = len(stacked)
    assert len(rows) < n / 2  # the case is one with many equal rows
    weighted = model().fit(*rows.T, weights=counts)
    shuffled = stacked[RNG.permutation(n)]
    every = model().fit(*shuffled.T)
    assert every.unique_rows_ == weighted.unique_rows_ == len(rows)
    assert every.n_customers_ == weighted.n_customers_ == n
    assert every.params_ == pytest.approx(weighted.params_, rel=1e-5)
    assert every.loglik_ == pytest.approx(weighted.loglik_, rel=1e-9)
    halves = np.concatenate([rows, rows]).T  # each row twice, its count split between them
    split = model().fit(*halves, weights=np.concatenate([counts // 2, counts - counts // 2]))
    assert split.unique_rows_ == 2 * len(rows)
    assert split.n_customers_ == n
    assert split.loglik_ == pytest.approx(weighted.loglik_, rel=1e-9)
    pinned = [k for k, se in weighted.std_errors_.items() if se <= weighted.params_[k]]
    assert pinned  # BG/BB's gamma and delta run off along a ridge here, wherever the climb stops
    assert {k: split.params_[k] for k in pinned} == pytest.approx(
        {k: weighted.params_[k] for k in pinned}, rel=1e-5
    )
