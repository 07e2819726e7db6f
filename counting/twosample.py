"""Two censuses of functions compared: tests of one distribution, distances, and ratios of shares.

Two samples count how often each function came up: ``n_s`` (``k_s`` draws from a distribution
``q``, trained runs, say) and ``n_b`` (``k_b`` draws from ``p``, the prior's posterior), aligned
function by function. This module asks whether ``p = q`` and how far apart they are.

* :func:`homogeneity_g`: the G-test of homogeneity of the 2 x K table, with sparse cells pooled by
  :func:`pooled_cells` (a function is its own cell where both expected counts under homogeneity
  are at least ``min_expected``; every other function goes into one pooled cell); the p-value is
  the chi-square one (:func:`scipy.stats.chi2_contingency`, ``lambda_="log-likelihood"``).
* :func:`permutation_null`: the total variation distance over the functions, with its
  distribution when the pooled labels are shuffled at the two sample sizes (a multivariate
  hypergeometric draw of ``k_s`` of the ``k_s + k_b`` draws); :func:`permutation_p` its p-value,
  ``(1 + #{null >= observed}) / (1 + rounds)``: exact, whatever the sparsity.
* :func:`distance_intervals`: total variation and Hellinger distance over the pooled cells (a
  coarsening: never more than the distances over the functions, so a lower bound on them), bias
  corrected, with intervals that keep their coverage where the distance is near 0 (where a plain
  bootstrap of a distance does not: 117 of 200 at distance 0); :func:`basic_interval`, the
  bootstrap bias-corrected estimate ``2 t - mean(t*)`` with the basic interval
  ``[2 t - q97.5(t*), 2 t - q2.5(t*)]``, which contains that estimate whenever the resamples' mean
  lies between their 2.5% and 97.5% points.
* :func:`ratio_interval`: ``(a / n1) / (c / n2)`` with Katz's log interval
  (:func:`scipy.stats.contingency.relative_risk`); where one count is 0 the ratio is 0 (or
  infinite), the interval starts at 0 (or ends at infinity), and its other end is Katz's after 0.5
  is added to both counts.
* :func:`quotient_interval` and :func:`mover_ratio`: a ratio of two estimates with intervals, by
  the conservative quotient of the two intervals, or by MOVER on the log scale (Zou and Donner
  2008: the ends of a difference of two independent estimates from the ends of their own
  intervals).

Example:
    >>> n_s, n_b = np.array([60, 25, 15, 0]), np.array([500, 300, 190, 10])
    >>> g, dof, p, cells = homogeneity_g(n_s, n_b)
    >>> cells, dof, round(p, 3)
    (3, 2, 0.153)
    >>> round(float(total_variation(n_s, n_b)), 3)
    0.1
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats
from scipy.stats.contingency import relative_risk

MIN_EXPECTED = 5.0


def shares(n: np.ndarray) -> np.ndarray:
    """Counts as shares along the last axis (0 where a census is empty)."""
    n = np.asarray(n, np.float64)
    k = n.sum(axis=-1, keepdims=True)
    return np.divide(n, k, out=np.zeros_like(n), where=k > 0)


def total_variation(n_s: np.ndarray, n_b: np.ndarray) -> np.ndarray:
    """Total variation distance between the shares of two censuses (last axis: functions), in [0, 1].

    >>> float(total_variation(np.array([3, 1, 0]), np.array([0, 1, 3])))
    0.75
    """
    return 0.5 * np.abs(shares(n_s) - shares(n_b)).sum(axis=-1)


def hellinger(n_s: np.ndarray, n_b: np.ndarray) -> np.ndarray:
    """Hellinger distance ``sqrt(1 - sum sqrt(q_i p_i))`` between the shares of two censuses, in [0, 1].

    >>> float(hellinger(np.array([1, 0]), np.array([0, 1]))), float(hellinger(np.array([2, 2]), np.array([5, 5])))
    (1.0, 0.0)
    """
    bc = np.sqrt(shares(n_s) * shares(n_b)).sum(axis=-1)
    return np.sqrt(np.clip(1.0 - bc, 0.0, 1.0))


def pooled_cells(n_s: np.ndarray, n_b: np.ndarray, min_expected: float = MIN_EXPECTED) -> np.ndarray:
    """Each function's cell (``0..K-1``) for a test of homogeneity. The rule: a function is a cell of
    its own where both of its expected counts under homogeneity, ``k_s t / N`` and ``k_b t / N``
    (``t`` its count in both censuses together, ``N = k_s + k_b``), are at least ``min_expected``;
    the others form one pooled cell (the last); if that pooled cell's own smaller expected count is
    below ``min_expected`` it joins the single-function cell of the smallest total. Cells are
    numbered by decreasing total (ties: the functions' order).

    >>> pooled_cells(np.array([60, 25, 15, 0]), np.array([500, 300, 190, 10])).tolist()
    [0, 1, 2, 2]
    >>> pooled_cells(np.array([3, 1]), np.array([2, 2])).tolist()   # nothing reaches 5: one cell
    [0, 0]
    """
    n_s, n_b = np.asarray(n_s, np.int64), np.asarray(n_b, np.int64)
    t = n_s + n_b
    big = t.sum()
    small = min(n_s.sum(), n_b.sum())
    expected = t * small / max(big, 1)
    own = np.flatnonzero(expected >= min_expected)
    own = own[np.argsort(-t[own], kind="stable")]
    cells = np.full(len(t), len(own), np.int64)
    cells[own] = np.arange(len(own))
    rest = cells == len(own)
    if rest.any() and len(own) and t[rest].sum() * small / big < min_expected:
        cells[rest] = len(own) - 1  # the smallest own cell takes the pooled remainder
    return cells


def cell_counts(n: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """Counts summed per cell (last axis: functions; :func:`pooled_cells`).

    >>> cell_counts(np.array([[1, 2, 3], [4, 5, 6]]), np.array([0, 1, 1])).tolist()
    [[1, 5], [4, 11]]
    """
    n = np.asarray(n)
    k = int(cells.max()) + 1 if len(cells) else 0
    onehot = np.zeros((len(cells), k), np.int64)
    onehot[np.arange(len(cells)), cells] = 1
    return n @ onehot


def homogeneity_g(n_s: np.ndarray, n_b: np.ndarray, min_expected: float = MIN_EXPECTED
                  ) -> tuple[float, int, float, int]:
    """The G-test of homogeneity of two censuses over :func:`pooled_cells`: ``(G, degrees of freedom,
    p-value, cells)``; NaN (and 0 degrees of freedom) with fewer than two cells or an empty census.

    >>> g, dof, p, cells = homogeneity_g(np.array([90, 10]), np.array([50, 50]))
    >>> round(g, 2), dof, p < 1e-8, cells
    (40.7, 1, True, 2)
    """
    cells = pooled_cells(n_s, n_b, min_expected)
    k = int(cells.max()) + 1 if len(cells) else 0
    if k < 2 or min(np.sum(n_s), np.sum(n_b)) == 0:
        return math.nan, 0, math.nan, k
    table = cell_counts(np.vstack([n_s, n_b]), cells)
    res = stats.chi2_contingency(table, correction=False, lambda_="log-likelihood")
    return float(res.statistic), int(res.dof), float(res.pvalue), k


def permutation_null(rng: np.random.Generator, n_s: np.ndarray, n_b: np.ndarray, rounds: int) -> np.ndarray:
    """``[rounds, 2]``: the total variation distance of censuses made by shuffling the pooled draws'
    labels, ``k_s`` of them to the first census (a multivariate hypergeometric draw), and the number
    of distinct functions in that first census: what ``p = q`` gives at the two sample sizes,
    conditional on the pooled counts.

    >>> null = permutation_null(np.random.default_rng(0), np.array([60, 25, 15]), np.array([50, 30, 20]), 200)
    >>> null.shape, bool((null[:, 0] >= 0).all() and (null[:, 0] <= 1).all()), set(null[:, 1].tolist())
    ((200, 2), True, {3.0})
    """
    n_s, n_b = np.asarray(n_s, np.int64), np.asarray(n_b, np.int64)
    pooled = n_s + n_b
    s = rng.multivariate_hypergeometric(pooled, int(n_s.sum()), size=rounds, method="count")
    return np.stack([total_variation(s, pooled - s), (s > 0).sum(axis=1)], axis=1)


def permutation_p(observed: float, null: np.ndarray) -> float:
    """One-sided permutation p-value of a distance, ``(1 + #{null >= observed}) / (1 + rounds)``
    (a relative tolerance of 1e-12 counts ties as ties); NaN where the observed value is.

    >>> permutation_p(0.3, np.array([0.1, 0.2, 0.3, 0.4]))
    0.6
    """
    if not np.isfinite(observed):
        return math.nan
    null = np.asarray(null, np.float64)
    return float((1 + np.sum(null >= observed * (1 - 1e-12))) / (1 + len(null)))


def basic_interval(estimate: float, boot: np.ndarray, conf: float = 0.95, lo: float = -math.inf,
                   hi: float = math.inf, min_defined: float = 0.9) -> tuple[float, float, float]:
    """The bootstrap bias-corrected estimate ``2 t - mean(t*)`` and the basic interval
    ``[2 t - q_hi(t*), 2 t - q_lo(t*)]`` of a statistic ``t`` from its resamples ``t*`` (NaN where
    a resample leaves it undefined), all three clipped to the statistic's range ``[lo, hi]``
    (a monotone map: the interval still contains the estimate). NaN all three where ``t`` is
    undefined or fewer than ``min_defined`` of the resamples define it.

    >>> boot = np.array([0.30, 0.32, 0.34, 0.36, 0.38])
    >>> [round(x, 3) for x in basic_interval(0.30, boot, conf=0.5)]
    [0.26, 0.24, 0.28]
    >>> basic_interval(math.nan, boot)
    (nan, nan, nan)
    """
    boot = np.asarray(boot, np.float64)
    ok = boot[np.isfinite(boot)]
    if not np.isfinite(estimate) or len(ok) == 0 or len(ok) < min_defined * len(boot):
        return math.nan, math.nan, math.nan
    a = (1 - conf) / 2
    q_lo, q_hi = np.quantile(ok, [a, 1 - a])
    clip = lambda x: float(min(max(x, lo), hi))
    return clip(2 * estimate - ok.mean()), clip(2 * estimate - q_hi), clip(2 * estimate - q_lo)


KAPPA = 2.0  # a cell's difference counts as clearly nonzero beyond KAPPA resampling standard deviations


def distance_intervals(rng: np.random.Generator, c_s: np.ndarray, c_b: np.ndarray, rounds: int,
                       conf: float = 0.95, kappa: float = KAPPA) -> dict[str, float]:
    """Total variation and Hellinger distance between two censuses over a few cells (counts ``c_s``,
    ``c_b``: :func:`cell_counts`), each bias corrected, with an interval that holds near 0 too.
    Each census is resampled ``rounds`` times from its own counts; ``h*`` is a resample's error in
    the cell differences ``d = q - p``.

    * Total variation ``T = sum |d_i| / 2`` is not differentiable where a ``d_i`` is 0, where the
      plain bootstrap fails (Fang and Santos 2019). Its error ``T(d + h) - T(d)`` is
      ``sign(d_i) h_i / 2`` in a cell whose difference is clearly nonzero (``|d_i|`` beyond ``kappa``
      resampling standard deviations) and lies between ``-|h_i| / 2`` and ``|h_i| / 2`` in any
      other cell. With ``E_hi`` and ``E_lo`` the resamples' errors taking those ends, the interval
      is ``[T - q_hi(E_hi), T - q_lo(E_lo)]`` (conservative where cells are ambiguous) and the
      estimate ``T - mean(E_hi)`` (ambiguous cells taken as equal, their mean ``|h_i|`` removed).
    * Hellinger ``H = sqrt(sum (sqrt q_i - sqrt p_i)**2 / 2)``: on the squared scale, smooth, the
      bootstrap bias-corrected ``H**2`` with the basic interval (:func:`basic_interval`), then the
      square root of each.

    All clipped to [0, 1]; each estimate lies in its interval whenever the resampled errors' mean
    lies between their ``(1 - conf) / 2`` and ``(1 + conf) / 2`` points. NaN with fewer than two cells.
    Measured coverage: ``tests/experiments/training/test_statistics.py``.

    >>> d = distance_intervals(np.random.default_rng(0), np.array([600, 300, 124]), np.array([300, 300, 400]), 500)
    >>> round(d["tv"], 3), d["tv_bc_lo"] <= d["tv_bc"] <= d["tv_bc_hi"], d["hellinger_bc_lo"] > 0
    (0.286, True, True)
    """
    keys = ("tv", "tv_bc", "tv_bc_lo", "tv_bc_hi", "hellinger", "hellinger_bc", "hellinger_bc_lo", "hellinger_bc_hi")
    c_s, c_b = np.asarray(c_s, np.int64), np.asarray(c_b, np.int64)
    if len(c_s) < 2 or c_s.sum() == 0 or c_b.sum() == 0:
        return dict.fromkeys(keys, math.nan)
    q, p = shares(c_s), shares(c_b)
    s = shares(rng.multinomial(int(c_s.sum()), q, size=rounds))
    b = shares(rng.multinomial(int(c_b.sum()), p, size=rounds))
    a = (1 - conf) / 2
    d = q - p
    h = (s - b) - d
    clear = np.abs(d) > kappa * h.std(axis=0)
    lin = 0.5 * (np.sign(d[clear]) * h[:, clear]).sum(axis=1)
    amb = 0.5 * np.abs(h[:, ~clear]).sum(axis=1)
    tv = 0.5 * float(np.abs(d).sum())
    clip = lambda x: float(min(max(x, 0.0), 1.0))
    out = {"tv": tv, "tv_bc": clip(tv - (lin + amb).mean()), "tv_bc_lo": clip(tv - np.quantile(lin + amb, 1 - a)),
           "tv_bc_hi": clip(tv - np.quantile(lin - amb, a))}
    h2 = 0.5 * float(((np.sqrt(q) - np.sqrt(p)) ** 2).sum())
    boot = 0.5 * ((np.sqrt(s) - np.sqrt(b)) ** 2).sum(axis=1)
    bc, lo, hi = basic_interval(h2, boot, conf, lo=0.0, hi=1.0)
    out.update({"hellinger": math.sqrt(h2), "hellinger_bc": math.sqrt(bc), "hellinger_bc_lo": math.sqrt(lo),
                "hellinger_bc_hi": math.sqrt(hi)})
    return out


def ratio_interval(a: int, n1: int, c: int, n2: int, conf: float = 0.95) -> tuple[float, float, float, bool]:
    """The ratio of two binomial proportions ``(a / n1) / (c / n2)`` with its Katz log interval
    (:func:`scipy.stats.contingency.relative_risk`), and whether the zero-count rule applied: where
    ``a = 0`` the ratio is 0 and the interval ``[0, U]``, where ``c = 0`` the ratio is infinite and
    the interval ``[L, inf]``, ``U`` and ``L`` Katz's ends after adding 0.5 to both counts (the
    totals unchanged); NaN where both are 0 or a total is.

    >>> r, lo, hi, zero = ratio_interval(381, 1024, 240, 6494)
    >>> round(r, 2), round(lo, 2), round(hi, 2), zero
    (10.07, 8.69, 11.67, False)
    >>> r, lo, hi, zero = ratio_interval(0, 1024, 41, 6494)
    >>> r, lo, round(hi, 3), zero
    (0.0, 0.0, 1.241, True)
    """
    if n1 <= 0 or n2 <= 0 or (a == 0 and c == 0):
        return math.nan, math.nan, math.nan, False
    if a > 0 and c > 0:
        rr = relative_risk(int(a), int(n1), int(c), int(n2))
        ci = rr.confidence_interval(conf)
        return float(rr.relative_risk), float(ci.low), float(ci.high), False
    aa, cc = a + 0.5, c + 0.5
    z = stats.norm.ppf(0.5 + conf / 2)
    log_r = math.log((aa / n1) / (cc / n2))
    se = math.sqrt(1 / aa - 1 / n1 + 1 / cc - 1 / n2)
    if a == 0:
        return 0.0, 0.0, math.exp(log_r + z * se), True
    return math.inf, math.exp(log_r - z * se), math.inf, True


def quotient_interval(x: float, x_lo: float, x_hi: float, y: float, y_lo: float, y_hi: float
                      ) -> tuple[float, float, float]:
    """``x / y`` with the conservative interval ``[x_lo / y_hi, x_hi / y_lo]``: with each interval at
    level ``1 - a/2``, at least ``1 - a`` (both hold at once with probability at least ``1 - a``);
    ``y_lo = 0`` leaves it unbounded above.

    >>> quotient_interval(2.0, 1.0, 3.0, 4.0, 2.0, 8.0)
    (0.5, 0.125, 1.5)
    """
    with np.errstate(divide="ignore"):
        hi = x_hi / y_lo if y_lo > 0 else math.inf
    return x / y, x_lo / y_hi, float(hi)


def mover_ratio(x: float, x_lo: float, x_hi: float, y: float, y_lo: float, y_hi: float
                ) -> tuple[float, float, float]:
    """``x / y`` of two independent positive estimates with 95% intervals, by MOVER on the log scale
    (Zou and Donner 2008): ``log(x / y) - sqrt(log(x / x_lo)**2 + log(y_hi / y)**2)`` to
    ``log(x / y) + sqrt(log(x_hi / x)**2 + log(y / y_lo)**2)``. Where ``x = 0`` the ratio is 0 and
    the interval ``[0, x_hi / y_lo]`` (the quotient of the ends); an end of ``y`` at 0 leaves the
    upper end infinite; NaN where ``y`` is not positive.

    >>> [round(v, 3) for v in mover_ratio(0.4, 0.3, 0.5, 0.1, 0.05, 0.2)]
    [4.0, 1.889, 8.285]
    >>> [round(v, 3) for v in mover_ratio(0.0, 0.0, 0.01, 0.1, 0.05, 0.2)]
    [0.0, 0.0, 0.2]
    """
    if not (y > 0 and np.isfinite(y)) or not np.isfinite(x):
        return math.nan, math.nan, math.nan
    if x == 0:
        return 0.0, 0.0, (x_hi / y_lo if y_lo > 0 else math.inf)
    r = math.log(x / y)
    down = math.hypot(math.log(x / x_lo), math.log(y_hi / y)) if x_lo > 0 else math.inf
    up = math.hypot(math.log(x_hi / x), math.log(y / y_lo)) if y_lo > 0 else math.inf
    return x / y, math.exp(r - down), math.exp(r + up)
