"""What every customer-base model shares: weighted maximum likelihood on log parameters.

A model supplies its per-row log-likelihood and its gradient with respect to the (natural)
parameters; this module turns them into a fit. Rows are *unique* sufficient statistics with a
``weights`` count of the customers they stand for, so 10 million customers cost what their
distinct histories cost. Parameters are optimized on the log scale (they are all positive) with
L-BFGS and an optional L2 penalty ``penalizer * sum(params ** 2)``; standard errors come from the
observed information (the Hessian of the unpenalized log-likelihood at the optimum, by central
differences of the analytic gradient).

The surface follows scikit-learn: ``__init__`` stores options, ``fit`` returns ``self``, fitted
values end in ``_`` and anything read before ``fit`` raises :class:`NotFittedError`.
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar, Self

import numpy as np
from scipy.optimize import minimize

from patron.errors import ConvergenceError, ConvergenceWarning, InputError, NotFittedError

Array = np.ndarray


class Model(ABC):
    """A likelihood model fitted on weighted unique rows of sufficient statistics.

    Parameters
    ----------
    penalizer:
        L2 penalty on the parameters (0: plain maximum likelihood). A small value keeps
        parameters finite on data that cannot pin them down.
    """

    param_names: ClassVar[tuple[str, ...]]

    def __init__(self, *, penalizer: float = 0.0) -> None:
        self.penalizer = penalizer

    @classmethod
    def from_params(cls, params: dict[str, float]) -> Self:
        """A model with the given parameters (published ones, a draw), for predictions only."""
        model = cls()
        model._params = np.array([float(params[name]) for name in cls.param_names])
        return model

    @abstractmethod
    def loglik_rows(self, params: Array, data: dict[str, Array]) -> tuple[Array, Array]:
        """Per-row log-likelihood (n,) and its gradient in the natural parameters (n, k)."""

    @property
    def params_(self) -> dict[str, float]:
        """The fitted parameters by their names in the paper."""
        return dict(zip(self.param_names, self._fitted("_params").tolist(), strict=True))

    @property
    def loglik_(self) -> float:
        """The weighted log-likelihood at the fitted parameters (without the penalty)."""
        return float(self._fitted("_loglik"))

    @property
    def std_errors_(self) -> dict[str, float]:
        """Asymptotic standard errors: the square roots of the inverse information's diagonal."""
        variance = np.diag(self._fitted("_cov"))
        errors = np.sqrt(np.where(variance > 0, variance, np.nan))  # NaN: not identified
        return dict(zip(self.param_names, errors.tolist(), strict=True))

    @property
    def covariance_(self) -> Array:
        """The asymptotic covariance of the parameters (inverse observed information)."""
        return np.array(self._fitted("_cov"))

    @property
    def n_customers_(self) -> int:
        """Customers the fit stands for (the sum of the weights)."""
        return int(self._fitted("_n_customers"))

    @property
    def unique_rows_(self) -> int:
        """Distinct rows the likelihood was evaluated on."""
        return int(self._fitted("_unique_rows"))

    def aic(self) -> float:
        return 2 * len(self.param_names) - 2 * self.loglik_

    def bic(self) -> float:
        return len(self.param_names) * np.log(self.n_customers_) - 2 * self.loglik_

    def _fitted(self, name: str) -> Any:
        if not hasattr(self, name):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet; call fit first")
        return getattr(self, name)

    def _fit(self, data: dict[str, Array], weights: Array | None, start: Array) -> Self:
        """Maximize the weighted log-likelihood from ``start`` and store the fitted values.

        L-BFGS-B with scipy's default tolerances gets near the top fast but stops short on a
        large data set (the objective is a mean per customer: a million-customer fit ends
        about 0.002 of log-likelihood below the top, parameters off in the fourth digit). One
        Newton step with the Hessian the standard errors need anyway finishes the climb: the
        parameters then agree with lifetimes' optimum to six digits, for one more gradient.
        """
        w = _weights(weights, len(next(iter(data.values()))))  # the first column is the rows'
        total = w.sum()

        def penalized(params: Array) -> tuple[float, Array]:
            ll, grad = self.loglik_rows(params, data)
            value = w @ ll - self.penalizer * np.sum(params**2)
            return value, w @ grad - 2 * self.penalizer * params

        def objective(theta: Array) -> tuple[float, Array]:
            value, slope = penalized(np.exp(theta))
            return -value / total, -slope * np.exp(theta) / total  # chain rule: d/dlog p

        found = minimize(objective, np.log(start), jac=True, method="L-BFGS-B")
        name = type(self).__name__
        if not np.all(np.isfinite(found.x)) or not np.isfinite(found.fun):
            raise ConvergenceError(f"{name} found no finite likelihood: {found.message}")
        params = np.exp(found.x)
        hessian = _hessian(lambda p: w @ self.loglik_rows(p, data)[1], params)
        params, polished = _newton_step(penalized, params, hessian, self.penalizer)
        if not (found.success or polished):
            warnings.warn(f"{name}: {found.message}", ConvergenceWarning, stacklevel=3)
        self._params = params
        self._loglik = float(w @ self.loglik_rows(params, data)[0])
        self._cov = _inverse(hessian)
        self._n_customers = total
        self._unique_rows = len(w)
        return self


def _newton_step(
    penalized: Callable[[Array], tuple[float, Array]],
    params: Array,
    hessian: Array,
    penalizer: float,
) -> tuple[Array, bool]:
    """One Newton step on the penalized log-likelihood from ``params``, kept when it stays
    positive and does not lower the value; whether the result sits at a stationary point."""
    value, slope = penalized(params)
    try:
        step = np.linalg.solve(hessian - 2 * penalizer * np.eye(len(params)), -slope)
    except np.linalg.LinAlgError:
        return params, False
    moved = params + step
    if np.all(moved > 0):
        new_value, new_slope = penalized(moved)
        if np.isfinite(new_value) and new_value >= value:
            return moved, bool(np.max(np.abs(new_slope * moved)) < 1e-6 * max(1, abs(new_value)))
    return params, False


def _weights(weights: Array | None, n: int) -> Array:
    if weights is None:
        return np.ones(n)
    w = np.asarray(weights, dtype=float)
    if w.shape != (n,) or np.any(w < 0) or not np.all(np.isfinite(w)):
        raise InputError("weights must be one non-negative count per row")
    return w


def _hessian(score: Callable[[Array], Array], params: Array) -> Array:
    """The Hessian of the log-likelihood from central differences of its analytic gradient."""
    k = len(params)
    hessian = np.empty((k, k))
    for i in range(k):
        h = 1e-5 * max(abs(params[i]), 1e-3)
        up, down = params.copy(), params.copy()
        up[i] += h
        down[i] -= h
        hessian[:, i] = (score(up) - score(down)) / (2 * h)
    return (hessian + hessian.T) / 2


def _inverse(hessian: Array) -> Array:
    """Inverse of minus the Hessian (the asymptotic covariance); NaN where it is singular."""
    try:
        return np.linalg.inv(-hessian)
    except np.linalg.LinAlgError:
        return np.full(hessian.shape, np.nan)


def levels(data: dict[str, Array], name: str) -> tuple[Array, Array]:
    """The distinct values of ``data[name]`` and each row's index into them, memoized in
    ``data``: a fit evaluates the likelihood dozens of times on the same rows, and terms that
    depend on one column alone (special functions of the frequency) are computed once per
    distinct value, a few hundred, instead of once per row."""
    key = f"{name}:levels"
    if key not in data:
        values, index = np.unique(data[name], return_inverse=True)
        data[key], data[f"{name}:index"] = values, index.reshape(-1)
    return data[key], data[f"{name}:index"]


def as_array(values: object, name: str, *, integer: bool = False) -> Array:
    """A 1-d float array of finite, non-negative values, or an InputError naming ``name``."""
    array = np.asarray(values, dtype=float)
    if array.ndim != 1 or not np.all(np.isfinite(array)) or np.any(array < 0):
        raise InputError(f"{name} must be a list of finite, non-negative numbers")
    if integer and np.any(array != np.round(array)):
        raise InputError(f"{name} must be whole numbers")
    return array
