"""What every customer-base model shares: weighted maximum likelihood on log parameters.

A model supplies its per-row log-likelihood and its gradient with respect to the (natural)
parameters; this module turns them into a fit. Rows are *unique* sufficient statistics with a
``weights`` count of the customers they stand for, so 10 million customers cost what their
distinct histories cost. Parameters are optimized on the log scale (they are all positive) with
BFGS and an optional L2 penalty ``penalizer * sum(params ** 2)``; standard errors come from the
observed information (the Hessian of the unpenalized log-likelihood at the optimum: the model's
analytic one where it has it, else forward differences of the analytic gradient).

The surface follows scikit-learn: ``__init__`` stores options, ``fit`` returns ``self``, fitted
values end in ``_`` and anything read before ``fit`` raises :class:`NotFittedError`.
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable
from itertools import pairwise
from numbers import Real
from typing import Any, ClassVar, Self

import numpy as np
from scipy.optimize import OptimizeResult, minimize
from scipy.special import zeta

from patron.arguments import as_whole
from patron.errors import (
    ConvergenceError,
    ConvergenceWarning,
    InputError,
    LooseFitWarning,
    NotFittedError,
)

Array = np.ndarray
Likelihood = Callable[[Array], tuple[float, Array]]  # parameters -> value and gradient
Blocks = list[tuple[dict[str, Array], Array]]  # rows and their weights: see _blocks
BLOCK_ROWS = 8192  # about this many rows per likelihood call, at most 12,288 (96 KiB): _blocks
UNIDENTIFIED = 5.0
"""A standard error this many times its estimate (or none) means the data do not pin the
parameter down: its 95% interval spans more than a factor of e^20."""
SCRATCH_BYTES = 112 * 1024
"""The most one temporary array of a model's inner loop may take. glibc's malloc maps each
allocation of 128 KiB or more fresh from the system and hands it back when freed, so a loop
that makes bigger temporaries faults every page of every one of them in again: the demo's
``patron predict --model pnbd`` took 2 million page faults and 9.1 s with 256 KiB matrices,
5.5 s under this size. Pareto/NBD's chunks and BG/BB's groups are cut to it."""
SAMPLE_STEP = 4  # a fit on this many samples' worth of rows or more starts from one: Model._start
SAMPLE_SHRINK = 8  # a sample's climb starts where one on an eighth of its rows ends
SMALLEST_SAMPLE = 1024  # rows below which a climb is not worth a sample of its own


class Model(ABC):
    """A likelihood model fitted on weighted unique rows of sufficient statistics.

    Parameters
    ----------
    penalizer:
        L2 penalty on the parameters (0: plain maximum likelihood). A small value keeps
        parameters finite on data that cannot pin them down.
    """

    param_names: ClassVar[tuple[str, ...]]
    block_rows: ClassVar[int] = BLOCK_ROWS
    """About how many rows each call of :meth:`loglik_rows` in a fit gets (:func:`_blocks`)."""
    sample_rows: ClassVar[int] = BLOCK_ROWS
    """Rows in the sample a fit on many rows starts from (:meth:`_start`); 0: no sample."""
    exact_hessian: ClassVar[bool] = False
    """Whether the model gives its Hessian (:meth:`hessian_rows`); else forward differences."""
    curved_start: ClassVar[bool] = False
    """Whether a climb that starts without a sample's curvature starts from the exact one
    (:meth:`_curvature`, one Hessian): worth it where evaluations are dear."""
    merges_rows: ClassVar[bool] = True
    """Whether a fit first merges equal rows into weighted ones (:func:`_merged`)."""
    observed: ClassVar[tuple[str, str] | None] = None
    """The data column of each customer's time observed and its argument's name, as
    (``T``, ``T``): where it is 0 for everyone the likelihood is 1 whatever the parameters,
    and a fit would return its starting values as if they were estimates."""

    def __init__(self, *, penalizer: float = 0.0) -> None:
        self.penalizer = _penalty(penalizer)

    @classmethod
    def from_params(cls, params: dict[str, float]) -> Self:
        """A model with the given parameters (published ones, a draw), for predictions only."""
        model = cls()
        model._params = np.array([float(params[name]) for name in cls.param_names])
        return model

    def to_dict(self) -> dict[str, Any]:
        """The fit as plain values that ``json.dump`` takes: the parameters, their covariance
        and information, the log-likelihood and the counts. :meth:`from_dict` rebuilds the
        fitted model from them, intervals included, without the data: fit once, score later."""
        return {
            "model": type(self).__name__,
            "params": self.params_,
            "penalizer": self.penalizer,
            "loglik": self.loglik_,
            "n_customers": self.n_customers_,
            "unique_rows": self.unique_rows_,
            "covariance": self.covariance_.tolist(),
            "information": self.information_.tolist(),
        }

    @classmethod
    def from_dict(cls, saved: dict[str, Any]) -> Model:
        """The fitted model :meth:`to_dict` gave. Called on ``Model`` itself, of whichever
        model ``saved`` names; on a model class, only of that one."""
        kind = _saved_kind(saved, cls)
        k = len(kind.param_names)
        model = kind(penalizer=float(saved.get("penalizer", 0.0)))
        try:
            model._params = np.array([float(saved["params"][name]) for name in kind.param_names])
            model._loglik = float(saved["loglik"])
            model._n_customers = float(saved["n_customers"])
            model._unique_rows = int(saved["unique_rows"])
            model._cov = np.array(saved["covariance"], dtype=float).reshape(k, k)
            model._information = np.array(saved["information"], dtype=float).reshape(k, k)
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"not a saved {kind.__name__}: {type(exc).__name__} {exc}") from exc
        return model

    @abstractmethod
    def loglik_rows(self, params: Array, data: dict[str, Array]) -> tuple[Array, Array]:
        """Per-row log-likelihood (n,) and its gradient in the natural parameters (n, k)."""

    def loglik_sum(self, params: Array, data: dict[str, Array], w: Array) -> tuple[float, Array]:
        """The rows' log-likelihood and gradient weighted by ``w`` and summed: what a fit climbs
        on. A model may sum some terms per distinct value instead of per row."""
        ll, grad = self.loglik_rows(params, data)
        return float(w @ ll), w @ grad

    def hessian_rows(self, params: Array, data: dict[str, Array], w: Array) -> Array:
        """The Hessian (k, k) of the rows' log-likelihood weighted by ``w``, in the natural
        parameters; only where :attr:`exact_hessian` says the model has one."""
        raise NotImplementedError(f"{type(self).__name__} has no analytic Hessian")

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
    def information_(self) -> Array:
        """The observed information: minus the log-likelihood's Hessian at the fit. Unlike
        its inverse it is defined where the data leave a direction flat (a singular matrix)."""
        return np.array(self._fitted("_information"))

    @property
    def n_customers_(self) -> int:
        """Customers the fit stands for (the sum of the weights)."""
        return int(self._fitted("_n_customers"))

    @property
    def unique_rows_(self) -> int:
        """Rows the likelihood was evaluated on: the distinct histories of one row per
        customer, the rows as given when they come with weights (already grouped)."""
        return int(self._fitted("_unique_rows"))

    def summary(self, level: float = 0.95) -> Any:
        """The fit as a pandas DataFrame, one row per parameter: ``estimate``, ``std_error``
        and a ``level`` interval (``lower``, ``upper``). The interval is the normal one on the
        log scale, where the fit climbs, mapped back: estimate x exp(-/+ z se / estimate), so
        it stays positive as every parameter is (lifetimes' estimate -/+ z se can go below 0)."""
        import pandas as pd
        from scipy.stats import norm

        if not 0 < level < 1:
            raise InputError(f"level must be between 0 and 1, got {level!r}")
        estimate = np.array(list(self.params_.values()))
        error = np.array(list(self.std_errors_.values()))
        spread = np.exp(norm.ppf((1 + level) / 2) * error / estimate)
        columns = {"estimate": estimate, "std_error": error}
        columns |= {"lower": estimate / spread, "upper": estimate * spread}
        return pd.DataFrame(columns, index=pd.Index(self.param_names, name="parameter"))

    def __repr__(self) -> str:
        """What a notebook shows: the parameters and what they were fitted on, "given" for a
        model made by :meth:`from_params` (it has no fit to show), or "not fitted"."""
        name = type(self).__name__
        penalty = f", penalizer={self.penalizer:g}" if self.penalizer else ""
        if not hasattr(self, "_params"):
            return f"{name}(not fitted{penalty})"
        shown = ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
        if not hasattr(self, "_loglik"):
            return f"{name}({shown}{penalty}; given, not fitted)"
        counts = f"{self.n_customers_:,} customers in {self.unique_rows_:,} rows"
        return f"{name}({shown}{penalty}; {counts}, log-likelihood {self.loglik_:,.2f})"

    def aic(self) -> float:
        return 2 * len(self.param_names) - 2 * self.loglik_

    def bic(self) -> float:
        """k ln(n) - 2 LL, n the customers as a float: a cohort of 1e20 is past int64."""
        customers = float(self._fitted("_n_customers"))
        return len(self.param_names) * float(np.log(customers)) - 2 * self.loglik_

    def _fitted(self, name: str) -> Any:
        if not hasattr(self, name):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet; call fit first")
        return getattr(self, name)

    def _fit(self, data: dict[str, Array], weights: Array | None, start: Array) -> Self:
        """Maximize the weighted log-likelihood from ``start`` and store the fitted values.

        BFGS on the log parameters climbs to scipy's default gradient of 1e-5 per customer
        where the model has an analytic Hessian, and up to three Newton steps with it finish
        the climb (near the top they converge quadratically: one or two do). Without one, BFGS
        goes on to 1e-8, since its 1e-5 leaves a million-customer fit's parameters off in the
        fourth digit and its standard errors in the third, and one Newton step with the Hessian
        the standard errors need anyway (forward differences) finishes it. On many rows the
        climb starts where a fit on a sample of them ends (:meth:`_start`).
        """
        w = _weights(weights, len(next(iter(data.values()))))  # the first column is the rows'
        if self.merges_rows:
            data, w = _merged(data, w) if weights is None else _by_frequency(data, w)
        self._check_observed(data, w)
        blocks = _blocks(data, w, self.block_rows)
        loglik = self._likelihood(blocks)
        gtol, steps = (1e-5, 3) if self.exact_hessian else (1e-8, 1)
        # BFGS's line search probes far points where the likelihood overflows and backs off
        # from them; numpy's warnings there would only print noise on the user's terminal,
        # and what matters (no finite optimum, parameters the data leave free) is checked
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            theta, inverse = self._start(data, w, np.log(start))
            if inverse is None and self.curved_start:
                inverse = self._curvature(blocks, loglik, theta, w.sum())
            found = self._climb(loglik, w.sum(), theta, inverse, gtol=gtol)
            params, hessian, polished = self._polish(blocks, loglik, np.exp(found.x), steps)
        climbed = found.success or np.max(np.abs(found.jac)) <= 1e-5  # scipy's default: a fit
        self._params = params
        self._loglik = loglik(params)[0]
        self._information = -hessian
        self._cov = _inverse(hessian)
        self._n_customers = w.sum()
        self._unique_rows = len(w)
        self._warn_doubts(None if climbed or polished else found.message)
        return self

    def _check_observed(self, data: dict[str, Array], w: Array) -> None:
        """Refuse a fit with nothing to fit on: no customers, or none observed for any time."""
        name = type(self).__name__
        if not w.sum() > 0:
            raise InputError(f"{name} needs at least one customer to fit on")
        if self.observed and not np.any((data[self.observed[0]] > 0) & (w > 0)):
            column = self.observed[1]
            raise InputError(
                f"{name}: every customer's {column} is 0 (observed for no time yet), so there is "
                "nothing to fit; use a later calibration end or a longer history"
            )

    def _warn_doubts(self, unconverged: str | None) -> None:
        """Say when a fit is not to be trusted: the climb stopped short (``unconverged``, the
        optimizer's message; a ConvergenceWarning), or a standard error is not finite or, on
        the log scale (se / value), above ``UNIDENTIFIED``: the data leave that parameter all
        but free (a LooseFitWarning)."""
        name = type(self).__name__
        if unconverged:
            warnings.warn(f"{name}: {unconverged}", ConvergenceWarning, stacklevel=4)
        loose = [k for k, v in self.std_errors_.items() if not v <= UNIDENTIFIED * self.params_[k]]
        if loose:
            message = (
                f"{name}: the data do not pin down {', '.join(loose)} (a standard error of "
                f"more than {UNIDENTIFIED:g} times the value, or none); fit on more customers "
                "or a longer history, or pass a penalizer"
            )
            warnings.warn(message, LooseFitWarning, stacklevel=4)

    def _likelihood(self, blocks: Blocks) -> Likelihood:
        """The weighted log-likelihood and its gradient as a function of the parameters, summed
        over blocks of rows (:func:`_blocks`). It remembers the points it was asked for: the
        Hessian and the Newton step start where the climb ended, and the fit stores the value
        where the Newton step ended."""
        seen: dict[bytes, tuple[float, Array]] = {}

        def loglik(params: Array) -> tuple[float, Array]:
            key = params.tobytes()
            if key not in seen:
                value, slope = 0.0, np.zeros(len(params))
                for rows, weight in blocks:
                    block_value, block_slope = self.loglik_sum(params, rows, weight)
                    value += block_value
                    slope += block_slope
                seen[key] = value, slope
            return seen[key]

        return loglik

    def _hessian(self, blocks: Blocks, loglik: Likelihood, params: Array) -> Array:
        """The log-likelihood's Hessian at ``params``: the model's own (:meth:`hessian_rows`)
        summed over blocks, else forward differences of the gradient (one per parameter)."""
        if not self.exact_hessian:
            return _forward_hessian(lambda p: loglik(p)[1], params, loglik(params)[1])
        k = len(params)
        return sum((self.hessian_rows(params, *block) for block in blocks), np.zeros((k, k)))

    def _curvature(
        self, blocks: Blocks, loglik: Likelihood, theta: Array, total: float
    ) -> Array | None:
        """BFGS's first inverse Hessian at the log parameters ``theta``: the inverse of the
        climb's exact curvature there (the penalized log-likelihood's over ``total``, in log
        parameters), so BFGS takes Newton-like steps from the start instead of learning the
        curvature over dozens of evaluations. Away from the top the curvature may bend the
        wrong way in some direction; its eigenvalues' magnitudes keep the steps' scale there
        (the default start (1, 1, 1, 1) on the demo is such a point). None (the identity)
        where it is singular or not finite."""
        params = np.exp(theta)
        slope = self._penalized(loglik)(params)[1]
        hessian = self._hessian(blocks, loglik, params) - 2 * self.penalizer * np.eye(len(theta))
        curvature = -(np.outer(params, params) * hessian + np.diag(params * slope)) / total
        if not np.all(np.isfinite(curvature)):
            return None
        values, vectors = np.linalg.eigh(curvature)
        values = np.abs(values)
        if values.min() <= 1e-8 * values.max():
            return None
        inverse = (vectors / values) @ vectors.T
        inverse = (inverse + inverse.T) / 2  # symmetric to the last bit, as BFGS checks
        try:
            np.linalg.cholesky(inverse)  # BFGS refuses what is not positive definite
        except np.linalg.LinAlgError:
            return None
        return inverse

    def _polish(
        self, blocks: Blocks, loglik: Likelihood, params: Array, steps: int
    ) -> tuple[Array, Array, bool]:
        """Up to ``steps`` Newton steps from ``params`` (:func:`_newton_step`), until one is
        refused or lands on a stationary point: the parameters, the Hessian at the point the
        last step started from (the standard errors'), and whether they are stationary."""
        penalized = self._penalized(loglik)
        for _ in range(steps):
            hessian = self._hessian(blocks, loglik, params)
            moved, polished = _newton_step(penalized, params, hessian, self.penalizer)
            if polished or moved is params:
                break
            params = moved
        return moved, hessian, polished

    def _penalized(self, loglik: Likelihood) -> Likelihood:
        """The log-likelihood less the L2 penalty, and its gradient."""

        def penalized(params: Array) -> tuple[float, Array]:
            value, slope = loglik(params)
            return value - self.penalizer * np.sum(params**2), slope - 2 * self.penalizer * params

        return penalized

    def _climb(
        self, loglik: Likelihood, total: float, theta: Array, inverse: Array | None, *, gtol: float
    ) -> OptimizeResult:
        """BFGS on the log parameters from ``theta``, with ``inverse`` as its first inverse
        Hessian (None: the identity). BFGS, not L-BFGS-B: with a handful of parameters the
        limited memory buys nothing, and scipy's L-BFGS-B calls the threaded BLAS for 4-by-4
        algebra, which costs milliseconds per iteration on a busy machine.

        Where the likelihood keeps rising toward a parameter's infinity (nobody in the data
        drops out, say), BFGS can end on a point that overflows; the climb then ends at the
        best finite point it saw, which the fit reports as unconverged and whose standard
        errors say the data do not pin the parameters down. Only a climb that never saw a
        finite likelihood is an error."""
        penalized = self._penalized(loglik)
        best: list[Any] = [np.inf, theta, np.zeros(len(theta))]  # value, point, gradient

        def objective(theta: Array) -> tuple[float, Array]:
            value, slope = penalized(np.exp(theta))
            here = -value / total, -slope * np.exp(theta) / total  # chain rule: d/dlog p
            if here[0] < best[0] and np.all(np.isfinite(here[1])):
                best[:] = [here[0], theta.copy(), here[1]]
            return here

        options = {"hess_inv0": inverse, "gtol": gtol}
        found = minimize(objective, theta, jac=True, method="BFGS", options=options)
        if np.all(np.isfinite(found.x)) and np.isfinite(found.fun):
            return found
        name = type(self).__name__
        if not np.isfinite(best[0]):
            raise ConvergenceError(f"{name} found no finite likelihood: {found.message}")
        return OptimizeResult(
            x=best[1],
            fun=best[0],
            jac=best[2],
            hess_inv=np.eye(len(theta)),
            success=False,
            message=f"the likelihood rose toward an infinite parameter ({found.message})",
        )

    def _start(
        self, data: dict[str, Array], w: Array, theta: Array, size: int | None = None
    ) -> tuple[Array, Array | None]:
        """Where the climb on all rows starts, and BFGS's first inverse Hessian there.

        On many rows: the end of a climb on every k-th row by frequency (``size`` of them,
        ``sample_rows`` unless given, weighted up to all customers; :func:`_stratified`) and
        BFGS's inverse Hessian there. The sample's climb costs about two evaluations on all
        rows and ends near the top (parameters within 10-25% on the bench's million customers),
        and its curvature spares BFGS the dozens of evaluations it would spend learning it on
        all rows (BG/NBD's r and alpha move together along a long ridge): the climb on all
        rows then takes four to ten. The sample's own climb starts the same way, from one on
        an eighth of it: BG/NBD's 28 evaluations from the default start cost 28 on 1,040 rows
        and 4 on 8,318 instead of 28 on 8,318 (a block's fixed cost dominates below a few
        thousand rows, so smaller samples than ``SMALLEST_SAMPLE`` save nothing).
        Few rows, or a sample that cannot pin the parameters down: ``theta`` and None.
        """
        size = self.sample_rows if size is None else size
        step = len(w) // size if size >= SMALLEST_SAMPLE else 0
        if step < SAMPLE_STEP:
            return theta, None
        rows = _stratified(next(iter(data.values())), step)
        if not w[rows].sum() > 0:
            return theta, None
        sample = {name: values[rows] for name, values in data.items()}
        weight = w[rows] * (w.sum() / w[rows].sum())
        loglik = self._likelihood(_blocks(sample, weight, self.block_rows))
        theta, inverse = self._start(sample, weight, theta, size // SAMPLE_SHRINK)
        try:
            found = self._climb(loglik, w.sum(), theta, inverse, gtol=1e-5)
            inverse = (found.hess_inv + found.hess_inv.T) / 2
            np.linalg.cholesky(inverse)  # raises unless positive definite
        except (ConvergenceError, np.linalg.LinAlgError):
            return theta, None
        return found.x, inverse


def _penalty(value: object) -> float:
    """The L2 penalty as a float, refused unless finite and 0 or more: a negative one rewards
    large parameters, and the climb ran off to r = 8e41 without a word."""
    if isinstance(value, bool) or not (isinstance(value, Real) and 0 <= float(value) < np.inf):
        raise InputError(f"penalizer must be a finite number, 0 (none) or more, not {value!r}")
    return float(value)


def _saved_kind(saved: object, asked: type[Model]) -> type[Model]:
    """The model class a saved fit names, which must be ``asked`` or one of its kind."""
    name = saved.get("model") if isinstance(saved, dict) else None
    kinds = {kind.__name__: kind for kind in _concrete(Model)}
    kind = kinds.get(name) if isinstance(name, str) else None
    if kind is None:
        raise InputError(f"not a saved model: its 'model' is {name!r}; one of {sorted(kinds)}")
    if not issubclass(kind, asked):
        raise InputError(f"the saved model is a {name}, not a {asked.__name__}")
    return kind


def _concrete(kind: type) -> list[type[Model]]:
    """Every model class below ``kind`` that can be made (no abstract methods left)."""
    below: list[type[Model]] = []
    sub: type[Model]
    for sub in kind.__subclasses__():
        below += [sub, *_concrete(sub)]
    return [k for k in below if not getattr(k, "__abstractmethods__", None)]


def _stratified(column: Array, step: int) -> Array:
    """Every ``step``-th row in the order of ``column`` (the frequency, or its whole part):
    each frequency gets its share of the sample. Every ``step``-th row as the rows come
    (DuckDB groups them in no set order) left BG/NBD's climb on all rows 6 to about 50
    evaluations on the bench's million customers, as the few heavy buyers fell in or out of
    the sample; by frequency, 6 or 7."""
    small = column.max(initial=0) < 2**15  # 16-bit keys: numpy's stable sort is a radix sort
    return np.argsort(column.astype(np.int16) if small else column, kind="stable")[::step]


def _newton_step(
    penalized: Likelihood, params: Array, hessian: Array, penalizer: float
) -> tuple[Array, bool]:
    """One Newton step on the penalized log-likelihood from ``params``, kept when it stays
    positive and does not lower the value; whether the result sits at a stationary point."""
    value, slope = penalized(params)
    try:
        step = np.linalg.solve(hessian - 2 * penalizer * np.eye(len(params)), -slope)
    except np.linalg.LinAlgError:
        step = np.full(len(params), np.nan)  # singular: no step
    moved = params + step
    if np.all(moved > 0):
        new_value, new_slope = penalized(moved)
        if np.isfinite(new_value) and new_value >= value:
            params, value, slope = moved, new_value, new_slope
    return params, bool(np.max(np.abs(slope * params)) < 1e-6 * max(1, abs(value)))


def _weights(weights: Array | None, n: int) -> Array:
    if weights is None:
        return np.ones(n)
    w = np.asarray(weights, dtype=float)
    if w.shape != (n,) or np.any(w < 0) or not np.all(np.isfinite(w)):
        raise InputError("weights must be one non-negative count per row")
    return w


def _merged(data: dict[str, Array], w: Array) -> tuple[dict[str, Array], Array]:
    """Equal rows as one row weighing their weights' sum. The likelihood is a weighted sum over
    rows, so a fit on one row per customer (the summary lifetimes takes) costs what their
    distinct histories cost, as the engine's grouped rows do: on a million simulated customers
    (108k distinct rows) BG/NBD's fit took 0.48 s per customer and takes 0.14 s, Pareto/NBD's
    13 s and 3.9 s, finding the equal rows 0.05 s of that."""
    row, index = distinct_rows(*data.values())
    if len(row) == len(w):
        return data, w
    merged = {name: values[row] for name, values in data.items()}
    return merged, np.bincount(index, weights=w, minlength=len(row))


def _by_frequency(data: dict[str, Array], w: Array) -> tuple[dict[str, Array], Array]:
    """Weighted rows as given, in order of frequency. Weights mean the rows were grouped
    already (the engine's GROUP BY), and looking for equal rows among a million customers'
    108k distinct ones cost a quarter of BG/NBD's fit (9 of 35 ms); equal rows left in
    cost their evaluations, not the answer. The order keeps each block's frequencies few."""
    order = _stratified(next(iter(data.values())), 1)
    return {name: values[order] for name, values in data.items()}, w[order]


def _blocks(data: dict[str, Array], w: Array, size: int) -> Blocks:
    """The rows and their weights cut into equal blocks of about ``size`` (half to one and a
    half times it): numpy's elementwise passes over a block's temporaries stay in the CPU
    cache, several times faster than one pass over every row, and each block keeps its own
    memo of :func:`levels`. Equal, not ``size`` and a remainder: each block costs a fixed
    ~70 us of calls besides its rows, and a fit's sample of 8,318 rows was two blocks."""
    count = max(1, round(len(w) / size))
    bounds = [len(w) * k // count for k in range(count + 1)]
    return [
        ({name: values[i:j] for name, values in data.items()}, w[i:j]) for i, j in pairwise(bounds)
    ]


def _forward_hessian(score: Callable[[Array], Array], params: Array, slope: Array) -> Array:
    """The Hessian of the log-likelihood from forward differences of its analytic gradient
    ``score``, which is ``slope`` at ``params``: one gradient per parameter. Steps of 2e-8
    relative balance the differences' truncation against rounding; on the CDNOW and 1M-customer
    fits the standard errors agree with central differences' to 6e-6 or better."""
    k = len(params)
    hessian = np.empty((k, k))
    for i in range(k):
        up = params.copy()
        up[i] += 2e-8 * params[i]  # relative: every evaluation stays at positive parameters
        hessian[:, i] = (score(up) - slope) / (up[i] - params[i])
    return (hessian + hessian.T) / 2


def _inverse(hessian: Array) -> Array:
    """Inverse of minus the Hessian (the asymptotic covariance); NaN where it is singular."""
    try:
        return np.linalg.inv(-hessian)
    except np.linalg.LinAlgError:
        return np.full(hessian.shape, np.nan)


def levels(data: dict[str, Array], name: str) -> tuple[Array, Array]:
    """The distinct values of ``data[name]``, a column of whole non-negative numbers (the
    frequency), and each row's index into them, memoized in ``data``: a fit evaluates the
    likelihood dozens of times on the same rows, and terms that depend on the frequency alone
    (its special functions) are computed once per distinct value, a few hundred, instead of
    once per row."""
    key = f"{name}:levels"
    if key not in data:
        values, index = _distinct_whole(data[name].astype(np.intp))
        data[key], data[f"{name}:index"] = values.astype(float), index
    return data[key], data[f"{name}:index"]


def weighted_levels(data: dict[str, Array], name: str, w: Array) -> tuple[Array, Array]:
    """The distinct values of ``data[name]`` (:func:`levels`) and the weight ``w`` summed on
    each: a weighted sum of terms of the frequency alone is then one product per value. The
    sums are memoized in ``data`` for the ``w`` they were made from (the same array object):
    a fit passes each block's weights to every evaluation, and numpy's weighted ``bincount``
    costs as much as a third of an evaluation's elementwise work on a block."""
    values, index = levels(data, name)
    if data.get(f"{name}:weights") is not w:
        data[f"{name}:weights"] = w
        data[f"{name}:weighted"] = np.bincount(index, weights=w, minlength=len(values))
    return values, data[f"{name}:weighted"]


def distinct_rows(*columns: Array) -> tuple[Array, Array]:
    """One row number for each distinct row of ``columns`` (equal-length arrays), and each
    row's index into those: a prediction that depends on a few of a customer's statistics
    (BG/NBD's hypergeometric term reads x and T alone: a few thousand pairs among a hundred
    thousand (x, t_x, T) rows) is computed once per distinct combination."""
    code, bound = np.zeros(len(columns[0]), dtype=np.intp), 1  # every code is below bound
    for column in columns:
        count, index = _codes(column)
        if bound * count > 2**62:  # renumber the combinations so far before the product overflows
            values, code = _distinct_whole(code)
            bound = len(values)
        code, bound = code * count + index, bound * count
    values, index = _distinct_whole(code)
    row = np.empty(len(values), dtype=np.intp)
    row[index] = np.arange(len(index))  # any row of each will do
    return row, index


def _codes(column: Array) -> tuple[int, Array]:
    """How many distinct values ``column`` holds and each row's number among them, in no
    particular order: counted for whole numbers (:func:`_distinct_whole`), hashed otherwise."""
    if column.max(initial=0) < 2**53 and np.array_equal(np.trunc(column), column):
        values, index = _distinct_whole(column.astype(np.intp))
        return len(values), index
    return _hashed_codes(column)


HASH_BITS = 12  # buckets of _hashed_codes: 4096, a 32 KiB table that stays in the L1 cache
FIBONACCI = np.uint64(0x9E3779B97F4A7C15)  # 2^64 over the golden ratio


def _hashed_codes(column: Array) -> tuple[int, Array]:
    """:func:`_codes` of a float column by hashing its bit patterns into 4,096 buckets
    (Fibonacci hashing: the top bits of the pattern times 2^64 / phi) instead of sorting it.
    The recency and T of a summary in weeks are a few hundred values like 30/7: numpy's
    ``unique`` sorts a hundred thousand of them in 5 ms, the buckets find them in under 1 ms.
    Each bucket keeps one value; rows whose value lost its bucket to another are sorted apart,
    and a column with too many of them (thousands of distinct values) is sorted whole."""
    bits = (column + 0.0).view(np.uint64)  # + 0.0 turns -0.0 into 0.0, the same value
    bucket = ((bits * FIBONACCI) >> np.uint64(64 - HASH_BITS)).astype(np.intp)
    owner = np.empty(1 << HASH_BITS, dtype=np.uint64)
    owner[bucket] = bits  # one of the values in each bucket, whichever numpy writes last
    stray = owner.take(bucket) != bits
    strays = np.count_nonzero(stray)
    if strays > len(column) // 8:
        values, index = _sorted_distinct(column)
        return len(values), index
    present = np.zeros(1 << HASH_BITS, dtype=bool)
    present[bucket] = True
    rank = np.cumsum(present) - 1
    index, count = rank.take(bucket), int(rank[-1]) + 1
    if strays:
        values, apart = _sorted_distinct(column[stray])
        index[stray] = count + apart
        count += len(values)
    return count, index


def _distinct_whole(whole: Array) -> tuple[Array, Array]:
    """The sorted distinct values of whole non-negative numbers and each one's index."""
    if whole.max(initial=0) < 4 * len(whole) + 1024:  # counts find them in one pass
        present = np.bincount(whole) > 0
        return np.flatnonzero(present), (np.cumsum(present) - 1)[whole]
    return _sorted_distinct(whole)  # a few rows of large values


def _sorted_distinct(column: Array) -> tuple[Array, Array]:
    values, index = np.unique(column, return_inverse=True)
    return values, index.reshape(-1)


def trigamma(values: object) -> Array:
    """The trigamma function psi'(v), as the Hurwitz zeta function zeta(2, v): scipy's
    ``polygamma(1, v)`` gives the same through some 10 us of Python per call, and an analytic
    Hessian takes a handful per block of rows."""
    return np.asarray(zeta(2, values))


def as_array(values: object, name: str, *, integer: bool = False, rows: int | None = None) -> Array:
    """A 1-d float array of finite, non-negative values (:func:`floats`), or an InputError
    naming ``name``."""
    array = floats(values, name, rows=rows)
    if not np.all(np.isfinite(array)) or np.any(array < 0):
        raise InputError(f"{name} must be a list of finite, non-negative numbers")
    if integer and np.any(array != np.round(array)):
        raise InputError(f"{name} must be whole numbers")
    return array


def floats(values: object, name: str, *, rows: int | None = None) -> Array:
    """``values`` as a 1-d float array: a single number is one customer, or ``rows`` of them
    when given (one n for everyone), so a question about one customer needs no list. A 2-d
    array is refused with a hint: pandas' ``df.T`` is the transpose, not the T column."""
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a list of numbers") from None
    if array.ndim > 1:
        hint = " (df.T is the transpose)" if name == "T" else ""
        raise InputError(
            f"{name} must be a list of numbers, got a {array.ndim}-D array; "
            f"pass one column, such as df[{name!r}]{hint}"
        )
    if array.ndim == 0:
        return np.full(1 if rows is None else rows, float(array))
    return array


def row_count(**columns: Any) -> int:
    """How many rows ``columns`` (a model's per-customer arguments) stand for: the length the
    lists among them share, 1 when all are single numbers. Only a single number stands for
    every row (:func:`floats`); lists of other lengths are an InputError."""
    try:
        shapes = [np.shape(values) for values in columns.values()]
    except ValueError:  # a ragged list
        raise InputError(f"{', '.join(columns)} must be lists of numbers") from None
    lengths = {shape[0] for shape in shapes if len(shape) == 1}
    if len(lengths) > 1:
        *most, last = columns
        raise InputError(f"{', '.join(most)} and {last} must have the same length")
    return lengths.pop() if lengths else 1


def ahead(t: object) -> Array:
    """The time ``t`` ahead, a number or an array that broadcasts against the rows: finite and
    0 or more, or an InputError (a negative t gave negative expected purchases)."""
    try:
        value = np.asarray(t, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"t must be a number of time units ahead, not {t!r}") from None
    if not np.all(np.isfinite(value)) or np.any(value < 0):
        raise InputError("t must be finite and 0 or more time units ahead")
    return value


def as_count(value: object, name: str) -> int:
    """A non-negative whole number of periods or purchases (numpy's integers too), or an
    InputError naming ``name``."""
    count = as_whole(value, name)
    if count < 0:
        raise InputError(f"{name} must be 0 or more, not {count}")
    return count


def as_counts(value: object, name: str) -> Array:
    """Whole numbers of 0 or more as integers: a single one (:func:`as_count`) as a 0-d
    array, or a 1-d list or array of them; else an InputError naming ``name``."""
    try:
        array = np.asarray(value)
    except ValueError:  # a ragged list
        array = np.asarray(None)
    if array.ndim == 0:
        return np.asarray(as_count(value, name))
    whole = array.ndim == 1 and array.dtype.kind in "iuf"
    if not (whole and np.all(np.isfinite(array)) and np.all(array == np.round(array))):
        raise InputError(f"{name} must be a whole number or a list of them, not {value!r}")
    if np.any(array < 0):
        raise InputError(f"{name} must be 0 or more, not {array.min():g}")
    return array.astype(np.int64)
