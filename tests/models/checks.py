"""Checks every model's tests share."""

from __future__ import annotations

import numpy as np
import pytest

from patron.models import Model


def assert_gradient(model: Model, params: np.ndarray, data: dict[str, np.ndarray]) -> None:
    """The analytic gradient of each row's log-likelihood equals central differences."""
    _, grad = model.loglik_rows(params, data)
    for k, h in enumerate(1e-6 * params):
        step = np.eye(len(params))[k] * h
        up, down = model.loglik_rows(params + step, data), model.loglik_rows(params - step, data)
        slope = (up[0] - down[0]) / (2 * h)
        assert grad[:, k] == pytest.approx(slope, rel=1e-5, abs=1e-7)


def assert_hessian(
    model: Model,
    params: np.ndarray,
    data: dict[str, np.ndarray],
    w: np.ndarray,
    *,
    step: float = 1e-6,
) -> None:
    """The analytic weighted Hessian equals central differences of the weighted gradient, taken
    ``step`` (relative) either side: a gradient that is itself a sum over quadrature nodes
    rounds at 1e-14 or so, which a smaller step's differences would magnify."""
    hessian = model.hessian_rows(params, dict(data), w)
    assert np.array_equal(hessian, hessian.T)
    for k, h in enumerate(step * params):
        step = np.eye(len(params))[k] * h
        up = w @ model.loglik_rows(params + step, dict(data))[1]
        down = w @ model.loglik_rows(params - step, dict(data))[1]
        assert hessian[:, k] == pytest.approx((up - down) / (2 * h), rel=1e-5, abs=1e-6)


def assert_summed(
    model: Model, params: np.ndarray, data: dict[str, np.ndarray], w: np.ndarray
) -> None:
    """The fit's summed log-likelihood and gradient equal the weighted per-row ones."""
    value, slope = model.loglik_sum(params, dict(data), w)
    ll, grad = model.loglik_rows(params, dict(data))
    assert value == pytest.approx(w @ ll, rel=1e-12)
    assert slope == pytest.approx(w @ grad, rel=1e-10, abs=1e-9)
