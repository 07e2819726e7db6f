"""The mean of positive, heavy-tailed terms, and how far to trust it.

A conditional Monte Carlo volume is the mean of ``n`` per-network probabilities ``p_i`` that span
many decades; a few networks can carry most of the sum. Its summary (:func:`mean_summary`) is the
mean, the standard error from the sample variance and a normal 95% interval, and three diagnostics
that say whether the central limit theorem has taken hold:

* **Pareto k-hat** (:func:`pareto_khat`): the shape of a generalized Pareto distribution fitted to
  the largest ``M = ceil(min(n / 5, 3 sqrt(n)))`` terms, by the method of Zhang & Stephens (2009,
  "A new and efficient estimation method for the generalized Pareto distribution", Technometrics
  51:316-325) with the weakly informative prior of Vehtari, Simpson, Gelman, Yao & Gabry (2024,
  "Pareto smoothed importance sampling", JMLR 25(72)), as PSIS does. ``k < 1/2``: the terms have a
  finite variance; ``1/2 <= k < 1``: a finite mean but no variance, and the normal interval is too
  narrow; ``k >= 1``: not even the mean converges.
* **Reliability** (:func:`khat_threshold`): Vehtari et al.'s sample-size-dependent threshold
  ``min(1 - 1 / log10(n), 0.7)``; above it the mean is not yet reliable whatever its interval says.
* the **largest term's share** of the sum and Kish's **effective sample size**
  ``(sum p)^2 / sum p^2``.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> round(pareto_khat(np.log(rng.pareto(1 / 0.3, 20_000) + 1)), 1)     # a Pareto tail of shape 0.3
    0.3
    >>> s = mean_summary(np.log(rng.uniform(size=10_000)))
    >>> round(s.mean, 2), s.reliable, round(s.khat, 1) <= 0
    (0.5, True, True)
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy.special import logsumexp


def tail_size(n: int) -> int:
    """Terms in the Pareto fit of ``n`` terms: ``ceil(min(n / 5, 3 sqrt(n)))``."""
    return math.ceil(min(n / 5, 3 * math.sqrt(n)))


def khat_threshold(n: int) -> float:
    """The largest k-hat at which a mean of ``n`` terms is reliable: ``min(1 - 1 / log10(n), 0.7)``."""
    return min(1 - 1 / math.log10(n), 0.7) if n > 10 else 0.0


def gpd_shape(x: np.ndarray) -> float:
    """Shape ``k`` of a generalized Pareto distribution fitted to exceedances ``x > 0`` (sorted
    ascending): Zhang & Stephens' posterior-mean estimate, then shrunk towards 1/2 by a prior worth
    10 observations, as in PSIS."""
    x = np.asarray(x, np.float64)
    n = len(x)
    m = 30 + int(math.sqrt(n))
    b = 1 - np.sqrt(m / (np.arange(1, m + 1) - 0.5))
    b = b / (3 * x[int(n / 4 + 0.5) - 1]) + 1 / x[-1]
    k = np.log1p(-b[:, None] * x).mean(axis=1)
    log_lik = n * (np.log(-b / k) - k - 1)
    w = 1 / np.exp(log_lik - log_lik[:, None]).sum(axis=1)
    keep = w >= 10 * np.finfo(float).eps
    w, b = w[keep] / w[keep].sum(), b[keep]
    k_post = float(np.log1p(-np.sum(b * w) * x).mean())
    return (n * k_post + 10 * 0.5) / (n + 10)


def pareto_khat(log_terms: np.ndarray) -> float:
    """k-hat of the terms ``exp(log_terms)`` (any order; ``-inf`` terms are zeros): the shape of a
    generalized Pareto fit to the largest :func:`tail_size` terms' excesses over the next largest;
    ``nan`` where fewer than 5 distinct tail terms exist."""
    lw = np.sort(np.asarray(log_terms, np.float64))[::-1]
    m = tail_size(len(lw))
    if m < 5 or len(lw) <= m or not np.isfinite(lw[m]):
        return math.nan
    return khat_from_top(lw[: m + 1])


def khat_from_top(top: np.ndarray) -> float:
    """k-hat from the ``M + 1`` largest log terms (descending; ``top[M]`` is the cut-off)."""
    top = np.asarray(top, np.float64)
    m = len(top) - 1
    if m < 5 or not np.isfinite(top[m]):
        return math.nan
    excess = np.exp(top[:m][::-1] - top[0]) - math.exp(top[m] - top[0])  # ascending, scaled by the largest
    if excess[-1] <= 0 or np.all(excess == excess[0]):
        return math.nan
    return gpd_shape(np.maximum(excess, np.finfo(float).tiny))


class MeanSummary(NamedTuple):
    """A mean of ``n`` positive terms: ``log_mean`` (natural log; ``-inf`` for an all-zero sum),
    ``rel_se`` (standard error over the mean), the 95% interval ``lo``/``hi`` (linear;
    ``lo = 0`` where the normal interval reaches 0), ``khat``, ``threshold``, ``reliable``,
    ``max_share`` and ``ess``."""

    n: int
    log_mean: float
    rel_se: float
    lo: float
    hi: float
    khat: float
    threshold: float
    reliable: bool
    max_share: float
    ess: float

    @property
    def mean(self) -> float:
        return math.exp(self.log_mean)


Z95 = 1.959963984540054


def summary_from_sums(n: int, log_sum: float, log_sum_sq: float, log_max: float, top: np.ndarray) -> MeanSummary:
    """:class:`MeanSummary` from ``n``, ``log(sum p)``, ``log(sum p^2)``, ``log(max p)`` and the
    ``tail_size(n) + 1`` largest log terms (descending) -- what a pass keeps."""
    if not np.isfinite(log_sum):
        return MeanSummary(n, -math.inf, math.nan, 0.0, 0.0, math.nan, khat_threshold(n), False, math.nan, 0.0)
    log_mean = log_sum - math.log(n)
    rel_var = max(math.exp(log_sum_sq - 2 * log_sum + math.log(n)) - 1.0, 0.0) * n / (n - 1)  # var(p) / mean^2
    rel_se = math.sqrt(rel_var / n)
    mean = math.exp(log_mean)
    k = khat_from_top(top)
    thr = khat_threshold(n)
    return MeanSummary(n, log_mean, rel_se, max(mean * (1 - Z95 * rel_se), 0.0), mean * (1 + Z95 * rel_se), k, thr,
                       bool(np.isfinite(k) and k < thr), math.exp(log_max - log_sum),
                       math.exp(2 * log_sum - log_sum_sq))


def mean_summary(log_terms: np.ndarray) -> MeanSummary:
    """:class:`MeanSummary` of the terms ``exp(log_terms)``."""
    lw = np.asarray(log_terms, np.float64)
    top = np.sort(lw)[::-1][: tail_size(len(lw)) + 1]
    return summary_from_sums(len(lw), float(logsumexp(lw)), float(logsumexp(2 * lw)), float(lw.max()), top)
