"""Where a fit on many rows starts: a climb on a sample of them, stratified by frequency, so
that neither the sample nor the fit depends on the order the rows come in."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from simulate import bg_nbd

from patron.models import BetaGeoModel, ParetoNBDModel
from patron.models.base import BLOCK_ROWS, _blocks, _stratified
from patron.models.history import customer_data


@given(st.lists(st.integers(0, 40), min_size=1, max_size=400), st.integers(1, 9))
def test_each_frequency_gets_its_share_of_the_sample(values: list[int], step: int) -> None:
    column = np.array(values, dtype=float)
    rows = _stratified(column, step)
    assert len(rows) == len(range(0, len(values), step))
    sample = column[rows]
    assert np.all(np.diff(sample) >= 0)  # in frequency order
    for value in set(values):
        share = values.count(value) / step
        assert abs(np.count_nonzero(sample == value) - share) < 1 + 1e-9


def test_a_fit_does_not_depend_on_the_order_of_its_rows() -> None:
    # continuous times: nearly every customer is a row of their own, several blocks' worth,
    # so the fit starts from a sample of them
    rng = np.random.default_rng(5)
    history = bg_nbd(rng, rng.uniform(20, 40, 5 * BLOCK_ROWS), 0, r=0.25, alpha=4, a=0.8, b=2.5)
    rows = np.stack([history.frequency, history.recency, history.T])
    fits = [
        BetaGeoModel().fit(*rows[:, order]).params_
        for order in (np.arange(rows.shape[1]), rng.permutation(rows.shape[1]))
    ]
    assert fits[1] == pytest.approx(fits[0], rel=1e-6)


def test_a_climb_from_a_saddle_starts_from_the_curvature_made_positive() -> None:
    # the default start (1, 1, 1, 1) bends the wrong way in two directions on this shop; BFGS
    # is given the curvature's magnitudes there and ends where the identity's climb ends
    rng = np.random.default_rng(8)
    history = bg_nbd(rng, rng.integers(20, 60, 4000) / 1.0, 0, r=0.5, alpha=10, a=0.6, b=3)
    rows = (history.frequency, history.recency, history.T)
    model = ParetoNBDModel()
    data = customer_data(*rows)
    w = np.ones(len(history.T))
    blocks = _blocks(data, w, model.block_rows)
    loglik = model._likelihood(blocks)
    inverse = model._curvature(blocks, loglik, np.zeros(4), w.sum())
    assert inverse is not None
    np.linalg.cholesky(inverse)  # positive definite, as BFGS needs
    params = np.ones(4)
    exact = model._hessian(blocks, loglik, params)
    curvature = -(exact + np.diag(loglik(params)[1])) / w.sum()  # in log parameters at 1
    assert np.linalg.eigvalsh(curvature).min() < 0  # the case is a saddle
    assert np.abs(np.linalg.eigvalsh(np.linalg.inv(inverse))) == pytest.approx(
        np.sort(np.abs(np.linalg.eigvalsh(curvature)))
    )
    curved = model.fit(*rows).params_
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ParetoNBDModel, "curved_start", False)
        plain = ParetoNBDModel().fit(*rows).params_
    assert curved == pytest.approx(plain, rel=1e-6)
