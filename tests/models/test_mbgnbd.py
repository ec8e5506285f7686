"""MBG/NBD against Batislam, Denizel & Filiztekin (2007) as BTYDplus fits it on CDNOW, and against
the model's closed forms written out independently of BG/NBD's shared code."""

from __future__ import annotations

import numpy as np
import pytest
from cdnow_data import cdnow_weeks
from checks import assert_gradient
from scipy.special import betaln, gammaln, hyp2f1

from patron.models import BetaGeoModel, ModifiedBetaGeoModel
from patron.models.history import customer_data

PARAMS = {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}


@pytest.fixture(scope="module")
def fitted() -> ModifiedBetaGeoModel:
    return ModifiedBetaGeoModel().fit(*cdnow_weeks())


def test_published_cdnow_estimates(fitted: ModifiedBetaGeoModel) -> None:
    # BTYDplus (mbgcnbd with k = 1) on the CDNOW sample: r 0.525, alpha 6.183, a 0.891, b 1.614
    assert fitted.params_ == pytest.approx(PARAMS, abs=5e-4)
    assert fitted.n_customers_ == 2357


def test_likelihood_matches_its_closed_form() -> None:
    # Batislam et al.'s likelihood, term by term, with the dropout at the first purchase
    r, alpha, a, b = PARAMS.values()
    x, t_x, big_t = np.array([0.0, 1, 7, 250]), np.array([0, 3.5, 20, 38]), np.array([40.0] * 4)
    x3, tx3, t3 = x[:3], t_x[:3], big_t[:3]  # the naive form underflows at x = 250
    expected = (
        gammaln(r + x3)
        - gammaln(r)
        + r * np.log(alpha)
        + np.log(
            np.exp(betaln(a, b + x3 + 1) - betaln(a, b) - (r + x3) * np.log(alpha + t3))
            + np.exp(betaln(a + 1, b + x3) - betaln(a, b) - (r + x3) * np.log(alpha + tx3))
        )
    )
    got, _ = ModifiedBetaGeoModel().loglik_rows(
        np.array(list(PARAMS.values())), customer_data(x, t_x, big_t)
    )
    assert got[:3] == pytest.approx(expected, rel=1e-12)
    assert np.isfinite(got[3])


def test_predictions_match_closed_forms() -> None:
    model = ModifiedBetaGeoModel.from_params(PARAMS)
    r, alpha, a, b = PARAMS.values()
    t = np.array([1.0, 39, 78])
    unconditional = (
        b / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b + 1, a + b, t / (alpha + t)))
    )
    assert model.expected_purchases(t) == pytest.approx(unconditional, rel=1e-10)
    x, t_x, big_t = np.array([0.0, 2, 2]), np.array([0, 30.43, 5]), np.array([38.86] * 3)
    odds = a / (b + x) * ((alpha + big_t) / (alpha + t_x)) ** (r + x)
    assert model.probability_alive(x, t_x, big_t) == pytest.approx(1 / (1 + odds), rel=1e-12)
    z = 39 / (alpha + big_t + 39)
    tail = 1 - ((alpha + big_t) / (alpha + big_t + 39)) ** (r + x) * hyp2f1(
        r + x, b + x + 1, a + b + x, z
    )
    conditional = (a + b + x) / (a - 1) * tail / (1 + odds)
    got = model.conditional_expected_purchases(39, x, t_x, big_t)
    assert got == pytest.approx(conditional, rel=1e-10)


def test_one_time_buyers_may_be_gone_unlike_bgnbd() -> None:
    # BG/NBD cannot lose a customer before their second purchase; MBG/NBD can
    params = {"r": 0.5, "alpha": 6.0, "a": 0.9, "b": 1.6}
    alive = ModifiedBetaGeoModel.from_params(params).probability_alive([0], [0], [30])
    assert alive[0] == pytest.approx(1 / (1 + 0.9 / 1.6 * (36 / 6) ** 0.5))
    assert BetaGeoModel.from_params(params).probability_alive([0], [0], [30])[0] == 1


def test_gradient_matches_finite_differences() -> None:
    data = customer_data([0, 1, 5, 300], [0, 2.5, 30, 99], [10, 20, 40, 100])
    assert_gradient(ModifiedBetaGeoModel(), np.array([0.7, 3.0, 1.2, 2.5]), data)
