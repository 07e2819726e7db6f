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
