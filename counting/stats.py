"""Exact binomial intervals (Clopper-Pearson), reported in log10.

``hits`` successes in ``n`` independent draws: the two-sided ``conf`` interval is
``[Beta((1-conf)/2; k, n-k+1), Beta((1+conf)/2; k+1, n-k)]``. With zero hits the report is the
one-sided upper bound ``1 - (1-conf)**(1/n)`` (about ``3/n`` at 95%), and the lower end is 0.

Example:
    >>> lo, hi = clopper_pearson(5, 100)
    >>> round(lo, 4), round(hi, 4)
    (0.0164, 0.1128)
    >>> round(clopper_pearson(0, 1000)[1], 5)     # one-sided: 1 - 0.05**(1/1000)
    0.00299
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats


def clopper_pearson(hits: int, n: int, conf: float = 0.95) -> tuple[float, float]:
    """Exact interval for a binomial proportion (one-sided upper bound when ``hits == 0``)."""
    if n <= 0 or not 0 <= hits <= n:
        raise ValueError(f"hits: expected 0 <= hits <= n with n > 0, got hits={hits}, n={n}")
    alpha = 1.0 - conf
    if hits == 0:
        return 0.0, -math.expm1(math.log(alpha) / n)
    lo = float(stats.beta.ppf(alpha / 2, hits, n - hits + 1))
    hi = 1.0 if hits == n else float(stats.beta.ppf(1 - alpha / 2, hits + 1, n - hits))
    return lo, hi


def clopper_pearson_many(hits: np.ndarray, n: int, conf: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised :func:`clopper_pearson` for an array of hit counts out of the same ``n``."""
    k = np.asarray(hits, np.float64)
    alpha = 1.0 - conf
    with np.errstate(all="ignore"):
        lo = np.where(k > 0, stats.beta.ppf(alpha / 2, np.maximum(k, 1), n - k + 1), 0.0)
        hi = np.where(k < n, stats.beta.ppf(1 - alpha / 2, k + 1, np.maximum(n - k, 1)), 1.0)
    hi = np.where(k == 0, -math.expm1(math.log(alpha) / n), hi)
    return lo, hi


def log10_or_none(p: float) -> float | None:
    """``log10(p)``, or ``None`` for ``p == 0`` (JSON ``null``)."""
    return math.log10(p) if p > 0 else None


# Clustered hit counts: ``hist[k]`` clusters (independent draws) with ``k`` hits out of ``R = len(hist) - 1``
# correlated trials each (readouts sharing one draw of the hidden layers). See :func:`cluster_interval`.


def cluster_moments_interval(total, total_sq, clusters: int, size: int, conf: float = 0.95
                             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rate, design effect and Korn-Graubard interval of clustered trials from two moments,
    element by element: ``clusters`` independent clusters of ``size`` correlated trials, ``total``
    successes and ``total_sq`` the sum over clusters of the squared successes per cluster (arrays of
    one shape, e.g. one entry per llama). Returns ``(design effect, lo, hi)``, the same numbers as
    :func:`cluster_design_effect` and :func:`cluster_interval` on the histogram these moments summarise.

    >>> deff, lo, hi = cluster_moments_interval(np.array([8, 0]), np.array([32, 0]), 100, 4)
    >>> np.round(deff, 2).tolist(), round(float(hi[1]), 5)   # 2 of 100 clusters of 4 all hits; no hit
    ([4.04, 1.0], 0.02951)
    """
    t = np.asarray(total, np.float64)
    t2 = np.asarray(total_sq, np.float64)
    if clusters < 2:
        raise ValueError(f"clusters: expected at least 2, got {clusters}")
    n, r = float(clusters), float(size)
    alpha = 1.0 - conf
    p = t / (n * r)
    with np.errstate(all="ignore"):
        s2 = (t2 - n * (r * p) ** 2) / (n - 1)
        deff = np.where((p > 0) & (p < 1), np.maximum(1.0, s2 / (r * p * (1 - p))), 1.0)
        n_eff = n * r / deff * (stats.norm.ppf(1 - alpha / 2) / stats.t.ppf(1 - alpha / 2, n - 1)) ** 2
        k_eff = n_eff * p
        lo = np.where(t > 0, stats.beta.ppf(alpha / 2, np.maximum(k_eff, 1e-300), n_eff - k_eff + 1), 0.0)
        hi = np.where(p < 1, stats.beta.ppf(1 - alpha / 2, k_eff + 1, np.maximum(n_eff - k_eff, 1e-300)), 1.0)
    hi = np.where(t == 0, -math.expm1(math.log(alpha) / n), hi)
    return deff, lo, hi


def cluster_design_effect(hist: np.ndarray) -> float:
    """Design effect of clustered hits: the cluster variance of the hit rate over the binomial one,
    ``s_h**2 / (R p (1 - p))`` with ``s_h**2 = sum_c (h_c - R p)**2 / (N - 1)`` over ``N`` clusters,
    floored at 1 (trials that are independent given their cluster, as readouts given their hidden
    layers are, have a true design effect ``1 + (R - 1) Var(pi) / (p (1 - p)) >= 1``); 1 without hits.

    >>> round(cluster_design_effect(np.array([98, 0, 0, 0, 2])), 2)   # 2 clusters of 100 all hits: about R
    4.04
    >>> cluster_design_effect(np.array([92, 8, 0]))           # one hit per cluster at most
    1.0
    """
    total, total_sq, n_clusters, r = _hist_moments(hist)
    if n_clusters < 2:
        raise ValueError(f"hist: expected at least 2 clusters, got {n_clusters:g}")
    return float(cluster_moments_interval(total, total_sq, n_clusters, r)[0])


def _hist_moments(hist: np.ndarray) -> tuple[float, float, int, int]:
    h = np.asarray(hist, np.float64)
    k = np.arange(len(h), dtype=np.float64)
    return float((k * h).sum()), float((k * k * h).sum()), int(h.sum()), len(h) - 1


def cluster_interval(hist: np.ndarray, conf: float = 0.95) -> tuple[float, float]:
    """Interval for the hit rate of clustered trials (``hist`` as in :func:`cluster_design_effect`).

    With hits: the Korn-Graubard interval (Korn & Graubard 1998, Survey Methodology 24:193), a
    Clopper-Pearson interval on the effective count ``k* = p n*`` out of ``n* = N R / deff``, with
    ``n*`` scaled by ``(z / t_{N-1})**2`` for the cluster degrees of freedom (Beta quantiles take the
    non-integer counts). Without hits: the one-sided bound ``1 - (1-conf)**(1/N)`` over the ``N``
    clusters, which holds whatever the correlation (a cluster with mean ``R p`` hits has a hit with
    probability at least ``p``), so it is up to ``R`` times wider than for ``N R`` independent trials.

    >>> lo, hi = cluster_interval(np.array([900, 100]))     # R = 1: Clopper-Pearson to 4 places
    >>> round(lo, 4), round(hi, 4)
    (0.0821, 0.1203)
    >>> round(cluster_interval(np.array([1000, 0, 0]))[1], 5)          # zero hits: 1000 clusters, not 2000 trials
    0.00299
    """
    total, total_sq, n_clusters, r = _hist_moments(hist)
    if n_clusters < 2:  # no cluster variance: only the bound without hits stands
        return (0.0, -math.expm1(math.log(1.0 - conf) / max(n_clusters, 1))) if total == 0 else (math.nan, math.nan)
    _, lo, hi = cluster_moments_interval(total, total_sq, n_clusters, r, conf)
    return float(lo), float(hi)


# Sample sizes for a precision in decades: how many draws a 95% interval of +-``half_width`` decades
# needs, from a pilot's relative standard error (a mean of i.i.d. terms) or from Clopper-Pearson at a
# known volume (hit-or-miss).


def rel_se_for_decades(half_width: float = 0.1, conf: float = 0.95) -> float:
    """The relative standard error whose normal ``conf`` interval is ``+-half_width`` decades to first
    order (``log10(mean)`` moves by ``rel_se / ln 10`` per standard error): ``half_width ln 10 / z``.

    Example:
        >>> round(rel_se_for_decades(0.1), 4)      # 0.1 ln 10 / 1.96
        0.1175
    """
    return half_width * math.log(10) / float(stats.norm.ppf(0.5 + conf / 2))


def samples_for_rel_se(n: int, rel_se: float, target: float) -> int:
    """Draws a mean needs for a relative standard error ``target``, from ``rel_se`` measured at ``n``
    draws (the standard error falls as ``1/sqrt(n)``): ``ceil(n (rel_se / target)^2)``.

    Example:
        >>> samples_for_rel_se(1000, 0.2, 0.1)
        4000
    """
    if n <= 0 or not rel_se >= 0 or not target > 0:
        raise ValueError(f"expected n > 0, rel_se >= 0 and target > 0, got n={n}, rel_se={rel_se}, target={target}")
    return max(1, math.ceil(n * (rel_se / target) ** 2 * (1 - 1e-12)))


def hit_or_miss_samples(volume: float, width: float = 0.2, conf: float = 0.95, step: float = 1.05) -> int:
    """The smallest ``n`` on the grid ``n_k = step^k / volume`` whose Clopper-Pearson interval at the
    expected ``round(volume n)`` hits (at least 1) is narrower than ``width`` decades: what hit-or-miss
    needs to measure ``volume`` that precisely.

    Example:
        >>> n = hit_or_miss_samples(1e-3)      # about 77 hits: 1.96 / sqrt(77) is +-0.1 decade
        >>> 7e4 < n < 8e4
        True
    """
    if not 0 < volume < 1:
        raise ValueError(f"volume: expected 0 < volume < 1, got {volume}")
    n = 1.0 / volume
    while True:
        lo, hi = clopper_pearson(max(1, round(volume * n)), int(n), conf)
        if lo > 0 and math.log10(hi) - math.log10(lo) < width:
            return int(n)
        n *= step
