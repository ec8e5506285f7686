"""P(Y(t) = n | history) of every purchase model: a distribution whose mass, mean and zero agree
with the model's other predictions (Pareto/NBD's zero comes from its tail integrals, its counts
from quadrature: two independent routes), and BG/NBD's eq. 8 for a new customer."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import betaln, gammaln

from patron.models import BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel
from patron.models.history import HistoryModel

MODELS = [
    BetaGeoModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}),
    ModifiedBetaGeoModel.from_params({"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}),
    ParetoNBDModel.from_params({"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}),
]
HISTORY = ([0, 2, 10, 40], [0, 30.43, 35, 38], [38.86] * 4)


@pytest.mark.parametrize("model", MODELS, ids=["bgnbd", "mbgnbd", "pnbd"])
def test_a_distribution_with_the_models_mean_and_zero(model: HistoryModel) -> None:
    counts = np.arange(400)
    pmf = np.stack([model.probability_of_purchases(int(n), 39, *HISTORY) for n in counts])
    assert np.all(pmf >= 0)
    assert pmf.sum(axis=0) == pytest.approx(1, abs=1e-12)
    assert counts @ pmf == pytest.approx(model.conditional_expected_purchases(39, *HISTORY))
    assert 1 - pmf[0] == pytest.approx(model.probability_of_purchase(39, *HISTORY))


def test_new_customer_is_the_papers_equation_8() -> None:
    # Fader, Hardie & Lee (2005), eq. 8, written out for x = 0..5 at t = 39
    model = MODELS[0]
    r, alpha, a, b = model.params_.values()
    t, q = 39.0, 39 / (alpha + 39)
    nbd = [np.exp(gammaln(r + j) - gammaln(r) - gammaln(j + 1)) * q**j for j in range(6)]
    for x in range(6):
        expected = np.exp(betaln(a, b + x) - betaln(a, b)) * nbd[x] * (alpha / (alpha + t)) ** r
        if x > 0:
            tail = 1 - (alpha / (alpha + t)) ** r * sum(nbd[:x])
            expected += np.exp(betaln(a + 1, b + x - 1) - betaln(a, b)) * tail
        got = model.probability_of_purchases(x, t, [0], [0], [0])[0]
        assert got == pytest.approx(expected, rel=1e-10)
