"""The Pareto/NBD model of Schmittlein, Morrison & Colombo (1987), "Counting your customers: who
are they and what will they do next?", in the form of Fader, Hardie & Lee (2005), "A note on
deriving the Pareto/NBD model and related expressions".

While alive, a customer buys as a Poisson process with rate lambda ~ Gamma(r, alpha); their
lifetime is exponential with rate mu ~ Gamma(s, beta). A customer's data are ``x`` repeat
purchases (frequency), ``t_x`` the time of the last one (recency) and ``T`` the time since the
first purchase, all in one time unit. The likelihood is

    L = Gamma(r + x) alpha^r beta^s / Gamma(r)
        * [ (alpha + T)^-(r + x) (beta + T)^-s
            + s int_{t_x}^T (alpha + u)^-(r + x) (beta + u)^-(s + 1) du ]

the first term for a customer alive at ``T``, the integral over a death at ``u`` after the last
purchase. Fader & Hardie's note on implementing the model in MATLAB writes the integral as a
difference of two Gauss hypergeometric terms, 2F1(r + s + x, s + 1; r + s + x + 1; z) with
z = (alpha - beta) / (alpha + y) at y = t_x and y = T when alpha >= beta (and with the roles of
(r + x, alpha) and (s + 1, beta) exchanged otherwise); for heavy buyers those terms overflow and
cancel. Integrating the first term by parts instead gives a sum of two positive tails,

    [...] = (r + x) P(T; r + x + 1, s) + s P(t_x; r + x, s + 1),
    P(y; p, q) = int_y^inf (alpha + u)^-p (beta + u)^-q du
               = A^(1 - k) / k * 2F1(k, q'; k + 1; 1 - B / A),        k = p + q - 1,

with A the larger of alpha + y and beta + y, B the smaller and q' the exponent of B (the MATLAB
note's branch). The hypergeometric function is 1 + k int_0^1 t^(k - 1) [(1 - zt)^-q' - 1] dt,
a positive integral that the trapezoid rule on the logit scale, over a window fitted to each row,
evaluates in log space (log-sum-exp). Against 40-digit values (mpmath), log P is within 2e-13
(relative where |log P| > 1) for frequencies up to 20,000 and (alpha + y) / (beta + y) from 1e-7
to 1e8. The gradient is analytic: the same sum over the integrand's slopes, no finite differences.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy.special import digamma, expit, gammaln, polygamma, xlogy

from patron.models.base import SCRATCH_BYTES, Array, ahead, as_counts, distinct_rows
from patron.models.history import HistoryModel, customer_data, per_distinct_history

_NODES = 128  # trapezoid nodes per tail integral
_ORDER = [0, 2, 1, 3]  # a tail's slopes in (p, q, a, b), read as (r, alpha, s, beta)
_SPAN = 36.0  # the integrand is below e^-36 of its mass outside each row's window


class ParetoNBDModel(HistoryModel):
    """Pareto/NBD: ``r``, ``alpha`` (purchase rate) and ``s``, ``beta`` (dropout rate)."""

    param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "s", "beta")
    exact_hessian: ClassVar[bool] = True
    curved_start: ClassVar[bool] = True
    """Its evaluations are dear (the tail integrals) and its climb from the default start
    long: on the demo's 16k rows 31 evaluations from the identity, 23 from the curvature."""
    block_rows: ClassVar[int] = 2**62
    """All rows in one block: the cost is in the tail integrals of the distinct (x, T) and
    (x, t_x) pairs, which blocks of rows would each compute again (a million customers' 108k
    rows hold 7.5k pairs, their 14 blocks 21k); :func:`_log_tail` works through the pairs in
    cache-sized chunks instead."""
    sample_rows: ClassVar[int] = 0
    """No starting sample: a sample of rows holds about half the pairs, so its climb costs
    about what it saves, and its (s, beta) ridge can send it far off (to s = 11, beta = 422 on
    the bench's million customers, the answer being 1 and 27)."""

    def loglik_rows(self, params: Array, data: dict[str, Array]) -> tuple[Array, Array]:
        r, alpha, s, beta = params
        x = data["x"]
        mix, shares, slopes, _ = self._terms(params, data)
        grad = sum(share * slope for share, slope in zip(shares, slopes, strict=True))
        grad[0] += digamma(r + x) - digamma(r) + np.log(alpha)
        grad[1] += r / alpha
        grad[2] += np.log(beta)
        grad[3] += s / beta
        common = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
        return common + mix, grad.T

    def hessian_rows(self, params: Array, data: dict[str, Array], w: Array) -> Array:
        """The weighted Hessian. L is the common terms times the sum of the two tails' terms
        e^A and e^B, so log L's Hessian is the common terms' (trigamma in r, 1 / alpha and
        1 / beta) plus w_A H_A + w_B H_B + w_A w_B (g_A - g_B)(g_A - g_B)', with w the terms'
        shares of the sum and g, H their gradients and Hessians; a tail's Hessian comes per
        distinct pair (:func:`_log_tail`) and is summed there with its rows' weights."""
        r, alpha, s, beta = params
        x, total = data["x"], w.sum()
        _, shares, slopes, curvatures = self._terms(params, data, second=True)
        hessian = np.zeros((4, 4))
        for share, (curvature, inverse) in zip(shares, curvatures, strict=True):
            at_pair = np.bincount(inverse, weights=w * share, minlength=curvature.shape[2])
            hessian += curvature[_ORDER][:, _ORDER] @ at_pair
        spread = slopes[0] - slopes[1]
        hessian += (spread * (w * shares[0] * shares[1])) @ spread.T
        hessian[0, 0] += w @ (polygamma(1, r + x) - shares[0] / (r + x) ** 2) - total * polygamma(
            1, r
        )
        hessian[2, 2] -= (w @ shares[1]) / s**2
        hessian[0, 1] += total / alpha
        hessian[1, 1] -= r * total / alpha**2
        hessian[2, 3] += total / beta
        hessian[3, 3] -= s * total / beta**2
        return np.triu(hessian) + np.triu(hessian, 1).T

    def _terms(
        self, params: Array, data: dict[str, Array], *, second: bool = False
    ) -> tuple[Array, list[Array], list[Array], list[tuple[Array, Array]]]:
        """The likelihood's bracket per row: log of the sum of its two terms, the alive-at-T
        one (r + x) P(T; r + x + 1, s) and the death-after-t_x one s P(t_x; r + x, s + 1); each
        term's share of the sum; their gradients (4, n) in (r, alpha, s, beta); and with
        ``second``, each tail's Hessians per distinct pair with the rows' index into them."""
        r, alpha, s, beta = params
        x = data["x"]
        after_t, d_t, c_t = _log_tails(r + 1, s, alpha, beta, data, "T", second=second)
        after_tx, d_tx, c_tx = _log_tails(r, s + 1, alpha, beta, data, "t_x", second=second)
        after_t += np.log(r + x)
        after_tx += np.log(s)
        d_t, d_tx = d_t[_ORDER], d_tx[_ORDER]  # the tails' (p, q, a, b) as (r, alpha, s, beta)
        d_t[0] += 1 / (r + x)
        d_tx[2] += 1 / s
        mix = np.logaddexp(after_t, after_tx)
        shares = [np.exp(after_t - mix), np.exp(after_tx - mix)]
        return mix, shares, [d_t, d_tx], [c_t, c_tx] if second else []

    def expected_purchases(self, t: object) -> Array:
        """E[X(t)]: expected purchases of a new customer in a period of length t.

        r beta / (alpha (s - 1)) [1 - (beta / (beta + t))^(s - 1)], its limit at s = 1.
        """
        r, alpha, s, beta = self._fitted("_params")
        return r / alpha * _lifetime_within(s, beta, ahead(t))

    def probability_of_purchases(
        self, n: object, t: object, frequency: object, recency: object, T: object
    ) -> Array:
        """P(Y(t) = n | x, t_x, T): exactly n purchases in the next t, per row; for a list of
        n, (len(n), rows).

        A customer alive at T with rates (lambda, mu) buys Poisson(lambda) until death at an
        exponential(mu) time u from now: n purchases with probability e^-(mu t) Poi(n; lambda t)
        + int_0^t mu e^-(mu u) Poi(n; lambda u) du. Averaged over the posteriors
        Gamma(r + x, alpha + T) and Gamma(s, beta + T) the Poisson becomes a negative binomial
        NB(n; u) and the death density s beta'^s (beta' + u)^-(s + 1); the integral is taken
        by :func:`_death_within`. A customer already gone makes none.
        """
        r, alpha, s, beta = self._fitted("_params")
        counts, span = as_counts(n, "n"), ahead(t)
        k = counts.reshape(*counts.shape, 1).astype(float)  # (len(n), 1): against the rows
        d = customer_data(frequency, recency, T)
        rx, a, b = r + d["x"], alpha + d["T"], beta + d["T"]
        log_nb = gammaln(rx + k) - gammaln(rx) - gammaln(k + 1)  # NB(n; v)'s constant
        at_t = log_nb + rx * np.log(a / (a + span)) + xlogy(k, span / (a + span))
        exact = np.exp(s * np.log(b / (b + span)) + at_t)  # alive after t, n by then
        exact += _death_within(k, span, rx, a, s, b, log_nb)
        alive = self._alive(d)
        # the quadrature's rounding can take P(0) an ulp or two past 1
        return np.minimum(alive * exact + (1 - alive) * (k == 0), 1.0)

    def _alive(self, d: dict[str, Array]) -> Array:
        """P(alive at T | x, t_x, T): the likelihood's alive-at-T term over the whole."""
        params = np.asarray(self._fitted("_params"))
        r, alpha, s, beta = params
        x, big_t = d["x"], d["T"]
        alive = (
            gammaln(r + x)
            - gammaln(r)
            + r * np.log(alpha / (alpha + big_t))
            + s * np.log(beta / (beta + big_t))
            - x * np.log(alpha + big_t)
        )
        # the alive term is part of the likelihood: the ratio is <= 1 but for rounding
        return np.minimum(np.exp(alive - self.loglik_rows(params, d)[0]), 1.0)

    def _expected_if_alive_rows(self, t: Array, x: Array, big_t: Array) -> Array:
        """The posterior rate (r + x) / (alpha + T) times the expected lifetime within t,
        (beta + T) / (s - 1) [1 - ((beta + T) / (beta + T + t))^(s - 1)]."""
        r, alpha, s, beta = self._fitted("_params")
        return (r + x) / (alpha + big_t) * _lifetime_within(s, beta + big_t, t)

    def _purchase_if_alive(self, t: Array, d: dict[str, Array]) -> Array:
        """An alive customer with rates (lambda, mu) buys first at u < t with density
        lambda e^-((lambda + mu) u); averaged over the posteriors Gamma(r', alpha') and
        Gamma(s, beta') (r' = r + x, alpha' = alpha + T, beta' = beta + T) that is
        r' alpha'^r' beta'^s int_0^t (alpha' + u)^-(r' + 1) (beta' + u)^-s du, the integral a
        difference of two of the likelihood's tails, computed once per distinct (x, T)
        (:func:`per_distinct_history`)."""
        return per_distinct_history(self._purchase_if_alive_rows, t, d)

    def _purchase_if_alive_rows(self, t: Array, x: Array, big_t: Array) -> Array:
        r, alpha, s, beta = self._fitted("_params")
        t = np.broadcast_to(t, x.shape)
        rx, a, b = r + x, alpha + big_t, beta + big_t
        shape = np.full(x.shape, s)
        scale = np.log(rx) + rx * np.log(a) + s * np.log(b)
        from_now = _log_tail(rx + 1, shape, a, b)[0]
        after_t = _log_tail(rx + 1, shape, a + t, b + t)[0]
        return np.exp(scale + from_now) * -np.expm1(after_t - from_now)


_WITHIN_NODES, _WITHIN_WEIGHTS = np.polynomial.legendre.leggauss(64)  # each side of the peak
_DROP = 40.0  # the integrand is below e^-40 of its peak outside each row's window
_HALVINGS = 24  # bisection steps for the peak and the window's ends


def _death_within(
    n: Array, t: Array, rx: Array, a: Array, s: float, b: Array, log_nb: Array
) -> Array:
    """int_0^t s b^s (b + u)^-(s + 1) NB(n; u) du with NB(n; u) = e^log_nb (a / (a + u))^rx
    (u / (a + u))^n: n purchases of a customer alive at T before a death at u < t (the
    arguments broadcast together).

    In xi = log u the integrand is e^phi, phi = log C + (n + 1) xi - (rx + n) log(a + e^xi)
    - (s + 1) log(b + e^xi), concave in xi (the logs are convex), so it has one peak, where
    phi' = (n + 1) - (rx + n) e^xi / (a + e^xi) - (s + 1) e^xi / (b + e^xi) falls through 0,
    and falls away from it on both sides. Bisection finds the peak (or log t, if the peak lies
    beyond) and where phi has fallen ``_DROP`` below it on either side (up to log t), and
    64-node Gauss-Legendre integrates each side. 64 nodes on all of [0, t], as this was, missed
    the mass of a narrow peak near u = 0 (a heavy buyer seen briefly, or a high s):
    P(Y = 0) was off by 1e-4 at r = 20.3, alpha = s = beta = 1 and t = 85, and the counts of
    r = alpha = beta = 1, s = 10 summed to 1 - 2e-6 at t = 66.
    """
    shape = np.broadcast_shapes(n.shape, t.shape, rx.shape, a.shape, b.shape, log_nb.shape)
    n, t, rx, a, b, log_nb = (np.broadcast_to(v, shape).ravel() for v in (n, t, rx, a, b, log_nb))
    out = np.zeros(len(n))
    chunk = SCRATCH_BYTES // (8 * len(_WITHIN_NODES))
    some = np.flatnonzero(t > 0)
    for i in range(0, len(some), chunk):
        rows = some[i : i + chunk]
        out[rows] = _death_within_chunk(
            n[rows], t[rows], rx[rows], a[rows], s, b[rows], log_nb[rows]
        )
    return out.reshape(shape)


def _death_within_chunk(
    n: Array, t: Array, rx: Array, a: Array, s: float, b: Array, log_nb: Array
) -> Array:
    """:func:`_death_within` for 1-d rows with t > 0, worked on as columns (rows, 1) that the
    nodes (rows, 64) broadcast against."""
    n, t, rx, a, b, log_nb = (v[:, None] for v in (n, t, rx, a, b, log_nb))
    log_a, log_b, top = np.log(a), np.log(b), np.log(t)
    heavy, tail = rx + n + s + 1, rx + s  # phi' runs from n + 1 down to -(rx + s)

    def phi(xi: Array) -> Array:  # xi <= log t: e^xi is finite
        u = np.exp(xi)
        return (n + 1) * xi - (rx + n) * np.log(a + u) - (s + 1) * np.log(b + u)

    def slope(xi: Array) -> Array:
        return n + 1 - (rx + n) * expit(xi - log_a) - (s + 1) * expit(xi - log_b)

    # phi' >= (n + 1) / 2 below rising and <= -(rx + s) / 2 above falling
    rising = np.minimum(log_a, log_b) + np.log((n + 1) / (2 * heavy))
    falling = np.maximum(log_a, log_b) + np.log(2 * heavy / tail)
    peak = _bisect(lambda xi: slope(xi) > 0, rising, falling)
    centre = np.minimum(peak, top)
    floor = phi(centre) - _DROP
    left = _bisect(
        lambda xi: phi(xi) < floor, np.minimum(rising, centre) - 2 * _DROP / (n + 1), centre
    )
    end = np.minimum(np.maximum(falling, centre) + 2 * _DROP / tail, top)
    right = np.where(phi(end) >= floor, end, _bisect(lambda xi: phi(xi) >= floor, centre, end))
    peak_value = phi(centre)
    total = np.zeros((len(n), 1))
    for lo, hi in ((left, centre), (centre, right)):
        half = (hi - lo) / 2
        xi = lo + half * (_WITHIN_NODES + 1)
        total += half * (np.exp(phi(xi) - peak_value) @ _WITHIN_WEIGHTS)[:, None]
    log_c = np.log(s) + s * log_b + rx * log_a + log_nb
    return (np.exp(log_c + peak_value) * total)[:, 0]


def _bisect(below: Callable[[Array], Array], low: Array, high: Array) -> Array:
    """Where ``below`` turns from true (at ``low``) to false (at ``high``), per row."""
    for _ in range(_HALVINGS):
        middle = (low + high) / 2
        inside = below(middle)
        low, high = np.where(inside, middle, low), np.where(inside, high, middle)
    return (low + high) / 2


def _lifetime_within(s: float, beta: Array | float, t: Array) -> Array:
    """E[min(lifetime, t)] with dropout rate mu ~ Gamma(s, beta), finite at s = 1:
    beta / (s - 1) [1 - (beta / (beta + t))^(s - 1)]."""
    log_growth = np.log1p(t / beta)
    if s == 1:
        return beta * log_growth
    return beta * -np.expm1(-(s - 1) * log_growth) / (s - 1)


def _log_tails(
    shift: float,
    q: float,
    alpha: float,
    beta: float,
    data: dict[str, Array],
    y: str,
    *,
    second: bool = False,
) -> tuple[Array, Array, tuple[Array, Array]]:
    """log P(y; shift + x, q) per row and its slopes (4, n), each distinct (x, y) computed once
    (y the column ``y`` of ``data``); with ``second``, the Hessians (4, 4, pairs) per distinct
    pair and each row's index into them."""
    kx, ky, inverse = _pairs(data, y)
    p = shift + kx
    value, slopes, curvature = _log_tail(p, np.full(len(kx), q), alpha + ky, beta + ky, second)
    return value[inverse], slopes[:, inverse], (curvature, inverse)


def _pairs(data: dict[str, Array], y: str) -> tuple[Array, Array, Array]:
    """The distinct (x, y) pairs of ``data`` and each row's index into them, memoized in
    ``data``: a fit asks for them at every evaluation."""
    key = f"x,{y}:pairs"
    if key not in data:
        row, data[key] = distinct_rows(data["x"], data[y])
        data[f"{key}:x"], data[f"{key}:y"] = data["x"][row], data[y][row]
    return data[f"{key}:x"], data[f"{key}:y"], data[key]


_CHUNK = SCRATCH_BYTES // (8 * _NODES)
"""Pairs per trapezoid matrix: each of a chunk's temporaries (_CHUNK x _NODES doubles) stays
within :data:`~patron.models.base.SCRATCH_BYTES`."""


def _log_tail(
    p: Array, q: Array, a: Array, b: Array, second: bool = False
) -> tuple[Array, Array, Array]:
    """:func:`_log_tail_chunk` over chunks of ``_CHUNK`` rows."""
    if len(p) <= _CHUNK:
        return _log_tail_chunk(p, q, a, b, second)
    value, slopes = np.empty(len(p)), np.empty((4, len(p)))
    curvature = np.empty((4, 4, len(p) if second else 0))
    for i in range(0, len(p), _CHUNK):
        part = slice(i, i + _CHUNK)
        found = _log_tail_chunk(p[part], q[part], a[part], b[part], second)
        value[part], slopes[:, part] = found[:2]
        if second:
            curvature[..., part] = found[2]
    return value, slopes, curvature


def _log_tail_chunk(
    p: Array, q: Array, a: Array, b: Array, second: bool = False
) -> tuple[Array, Array, Array]:
    """log int_0^inf (a + u)^-p (b + u)^-q du, its slopes in (p, q, a, b) stacked (4, n), and
    with ``second`` its Hessians (4, 4, n) (else an empty array).

    With a >= b (else the pairs (p, a) and (q, b) swap), z = 1 - b / a and k = p + q - 1 it is
    (1 - p - q) log a - log k + log H with H = 1 + k int_0^1 t^(k - 1) [(1 - zt)^-q - 1] dt;
    in w = logit(t) the integrand k t^k (1 - t) [(1 - zt)^-q - 1] rises like e^((1 + k) w) and,
    for large k, stays negligible until w ~ log k; it falls like e^-w past both log k and the
    bend of (1 - zt)^-q at 1 - t ~ b / a.
    """
    swap = a < b
    p, q, a, b = np.where(swap, [q, p, b, a], [p, q, a, b])
    k, ratio = p + q - 1, b / a
    g = _SPAN / k
    low = np.maximum(-_SPAN, -g - np.log(-np.expm1(-g)))  # t^k < e^-SPAN left of low
    high = np.log(np.maximum(np.maximum(k, 1 / ratio), 1)) + _SPAN
    step = (high - low) / (_NODES - 1)
    w = low[:, None] + step[:, None] * np.arange(_NODES)
    e = np.exp(-w)
    t = 1 / (1 + e)
    log_t = -np.log1p(e)
    t_ratio = t * ratio[:, None]
    u = e * t + t_ratio  # 1 - zt as (1 - t) + t b / a: no cancellation
    log_u = np.log(u)
    c = np.maximum(-q[:, None] * log_u, 0)  # log (1 - zt)^-q
    excess = -np.expm1(-c)  # [(1 - zt)^-q - 1] / (1 - zt)^-q
    # node weight times k t^k (1 - t) (1 - zt)^-q, in logs; a node's term is this times excess
    log_f = np.log(k * step)[:, None] + (k + 1)[:, None] * log_t - w + c
    top = np.maximum(log_f.max(axis=1), 0)  # H >= 1, so e^-top cannot overflow
    scaled = np.exp(log_f - top[:, None])
    log_h = top + np.log(np.exp(-top) + np.sum(scaled * excess, axis=1))
    share_c = scaled * np.exp(top - log_h)[:, None]  # a term's slope in c, over H
    nodes = _Nodes(k, q, log_t, log_u, t_ratio / u, share_c, share_c * excess)
    d_k = np.sum(nodes.share_h * log_t, axis=1) - np.expm1(-log_h) / k
    d_q = -np.sum(share_c * log_u, axis=1)
    d_log_ratio = -q * np.sum(share_c * nodes.s, axis=1)
    log_a = np.log(a)
    d_p = -log_a - 1 / k + d_k
    slopes = np.stack([d_p, d_p + d_q, -(k + d_log_ratio) / a, d_log_ratio / b])
    slopes = np.where(swap, slopes[[1, 0, 3, 2]], slopes)
    value = -k * log_a - np.log(k) + log_h
    if not second:
        return value, slopes, np.empty((4, 4, 0))
    curvature = _tail_curvature(nodes, (d_k, d_q, d_log_ratio), a, b)
    return value, slopes, np.where(swap, curvature[[1, 0, 3, 2]][:, [1, 0, 3, 2]], curvature)


@dataclass
class _Nodes:
    """A chunk's trapezoid nodes, as the slopes and Hessians of log H read them (rows: pairs)."""

    k: Array
    q: Array
    log_t: Array
    log_u: Array  # log(1 - zt)
    s: Array  # t b / a over 1 - zt: the slope of log(1 - zt) in log(b / a), negated
    share_c: Array  # a node's k t^(k - 1) (1 - zt)^-q dt over H
    share_h: Array  # its part of H - 1 (the above times the excess), over H


def _tail_curvature(nodes: _Nodes, first: tuple[Array, Array, Array], a: Array, b: Array) -> Array:
    """The Hessian (4, 4, n) of log P in (p, q, a, b) with a >= b.

    log P = -k log a - log k + G(k, q, l), G = log H and l = log(b / a). H's node terms h and
    their derivatives in (k, q, l) are sums over the nodes (h times 1 / k + log t for k, minus
    the c-share times log(1 - zt) for q, minus q times the c-share times s for l, and so on),
    and G's Hessian is H's over H less the outer product of G's slopes ``first``."""
    k, q, log_t, log_u, s = nodes.k, nodes.q, nodes.log_t, nodes.log_u, nodes.s
    g_k, g_q, g_l = first
    m = 1 / k[:, None] + log_t
    c, h = nodes.share_c, nodes.share_h

    def total(values: Array) -> Array:
        return np.sum(values, axis=1)

    g_kk = total(h * log_t * (log_t + 2 / k[:, None])) - g_k**2
    g_kq = -total(c * m * log_u) - g_k * g_q
    g_kl = -q * total(c * m * s) - g_k * g_l
    g_qq = total(c * log_u**2) - g_q**2
    g_ql = total(c * s * (q[:, None] * log_u - 1)) - g_q * g_l
    g_ll = q * total(c * s * ((q + 1)[:, None] * s - 1)) - g_l**2
    inv_k2 = 1 / k**2
    hessian = np.empty((4, 4, len(k)))
    hessian[0, 0] = inv_k2 + g_kk
    hessian[0, 1] = hessian[1, 0] = inv_k2 + g_kk + g_kq
    hessian[1, 1] = inv_k2 + g_kk + 2 * g_kq + g_qq
    hessian[0, 2] = hessian[2, 0] = -(1 + g_kl) / a
    hessian[0, 3] = hessian[3, 0] = g_kl / b
    hessian[1, 2] = hessian[2, 1] = -(1 + g_kl + g_ql) / a
    hessian[1, 3] = hessian[3, 1] = (g_kl + g_ql) / b
    hessian[2, 2] = (k + g_l + g_ll) / a**2
    hessian[2, 3] = hessian[3, 2] = -g_ll / (a * b)
    hessian[3, 3] = (g_ll - g_l) / b**2
    return hessian
