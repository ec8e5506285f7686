"""Seeded simulators of each model's generative story, written from the papers and not from the
models' likelihoods, so that fitting their output checks the likelihoods independently.

Continuous-time histories are drawn exactly without listing purchase times: given n Poisson
arrivals in a window, their times are n sorted uniforms on it, so the k-th is the window times
Beta(k, n - k + 1), and how many of them a customer lives to make does not depend on the times.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

Array = np.ndarray


class History(NamedTuple):
    """Per customer: calibration (frequency, recency, T) and the purchases in the next horizon."""

    frequency: Array
    recency: Array
    T: Array
    holdout: Array


class Opportunities(NamedTuple):
    """Per customer: calibration (frequency, recency, n) and transactions in the next horizon."""

    frequency: Array
    recency: Array
    n: Array
    holdout: Array


def bg_nbd(
    rng: np.random.Generator,
    T: Array,
    horizon: float,
    *,
    r: float,
    alpha: float,
    a: float,
    b: float,
) -> History:
    """BG/NBD (Fader, Hardie & Lee 2005): purchases at rate lambda ~ Gamma(r, alpha) while alive;
    after each repeat purchase the customer drops out with probability p ~ Beta(a, b)."""
    lam = rng.gamma(r, 1 / alpha, len(T))
    repeats = rng.geometric(rng.beta(a, b, len(T)))  # dies right after repeat purchase 1, 2, ...
    return _buys_until(rng, lam, repeats, T, horizon)


def mbg_nbd(
    rng: np.random.Generator,
    T: Array,
    horizon: float,
    *,
    r: float,
    alpha: float,
    a: float,
    b: float,
) -> History:
    """MBG/NBD (Batislam, Denizel & Filiztekin 2007): as BG/NBD, but the dropout coin is also
    flipped at the first purchase, so a customer can leave with no repeat purchase at all."""
    lam = rng.gamma(r, 1 / alpha, len(T))
    repeats = rng.geometric(rng.beta(a, b, len(T))) - 1  # dies right after purchase 0, 1, ...
    return _buys_until(rng, lam, repeats, T, horizon)


def pareto_nbd(
    rng: np.random.Generator,
    T: Array,
    horizon: float,
    *,
    r: float,
    alpha: float,
    s: float,
    beta: float,
) -> History:
    """Pareto/NBD (Schmittlein, Morrison & Colombo 1987): purchases at rate lambda ~ Gamma(r, alpha)
    during an exponential lifetime of rate mu ~ Gamma(s, beta)."""
    lam = rng.gamma(r, 1 / alpha, len(T))
    lifetime = rng.exponential(1 / rng.gamma(s, 1 / beta, len(T)))
    window = np.minimum(lifetime, T)
    x = rng.poisson(lam * window)
    holdout = rng.poisson(lam * np.clip(lifetime - T, 0, horizon))
    return History(x, _kth_arrival(rng, x, x, window), T, holdout)


def _buys_until(
    rng: np.random.Generator, lam: Array, repeats: Array, T: Array, horizon: float
) -> History:
    """A Poisson(lam) buyer who drops out right after repeat purchase ``repeats``."""
    arrivals = rng.poisson(lam * T)
    x = np.minimum(repeats, arrivals)
    holdout = np.minimum(repeats - x, rng.poisson(lam * horizon))  # 0 once dropped out
    return History(x, _kth_arrival(rng, x, arrivals, T), T, holdout)


def _kth_arrival(rng: np.random.Generator, k: Array, n: Array, window: Array) -> Array:
    """Time of the k-th of n Poisson arrivals in [0, window] (0 where k = 0)."""
    some = k > 0
    return np.where(some, window * rng.beta(np.where(some, k, 1), n - k + 1), 0.0)


def bg_bb(
    rng: np.random.Generator, n: Array, horizon: int, *, alpha, beta, gamma, delta
) -> Opportunities:
    """BG/BB (Fader, Hardie & Shang 2010): at each opportunity 1, 2, ... a customer first drops out
    for good with probability theta ~ Beta(gamma, delta), then, if alive, buys with probability
    p ~ Beta(alpha, beta)."""
    p = rng.beta(alpha, beta, len(n))
    death = rng.geometric(rng.beta(gamma, delta, len(n)))  # the first opportunity not alive
    j = np.arange(1, n.max() + horizon + 1)
    buys = (j < death[:, None]) & (rng.random((len(n), len(j))) < p[:, None])
    seen = buys & (j <= n[:, None])
    holdout = buys & (j > n[:, None]) & (j <= n[:, None] + horizon)
    return Opportunities(seen.sum(1), (seen * j).max(1), n, holdout.sum(1))


def sbg_survivors(
    rng: np.random.Generator, customers: int, periods: int, *, alpha: float, beta: float
) -> Array:
    """sBG (Fader & Hardie 2007): a cohort's alive counts at periods 0..``periods``, each customer
    churning at the end of each period with probability theta ~ Beta(alpha, beta)."""
    churn = rng.geometric(rng.beta(alpha, beta, customers))  # the period churned in
    return (churn[:, None] > np.arange(periods + 1)).sum(0)


def gamma_gamma(
    rng: np.random.Generator, frequency: Array, *, p: float, q: float, gamma: float
) -> tuple[Array, Array]:
    """Gamma-Gamma (Fader, Hardie & Lee 2005; Fader & Hardie 2013): transaction values
    Gamma(p, nu), nu ~ Gamma(q, gamma) per customer (shape, rate). Returns each customer's mean
    over ``frequency`` transactions and one further transaction's value."""
    nu = rng.gamma(q, 1 / gamma, len(frequency))
    mean = rng.gamma(p * frequency, 1 / nu) / frequency  # a sum of Gamma(p, nu) is Gamma(px, nu)
    return mean, rng.gamma(p, 1 / nu)
