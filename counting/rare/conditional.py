"""Shares among solutions of a rare condition: which mechanism the networks satisfying it use.

Each of ``R`` independent replicates of subset simulation or tempered SMC ends with a population
of networks satisfying the condition; a classifier counts how many of them have each property
(:class:`counting.estimators.replicated.Classifier`), so a replicate gives the share of every
property among its solutions. Particles of one replicate are correlated, so the interval of a
share is a Student-t interval over the replicates' shares (clipped to [0, 1]), the same rule as
the volume's interval. :func:`share_summary` is that rule, written once; the replicated
estimators report it (``shares``, ``shares_ci95``).

Example:
    >>> s = share_summary([100, 0, 50], [[30, 70], [0, 0], [20, 30]], ("a", "b"))
    >>> s.shares["a"], s.per_replicate[1].tolist()          # the second replicate found no solution
    (0.35, [nan, nan])
    >>> lo, hi = s.ci95["a"]
    >>> 0 <= lo < 0.35 < hi <= 1
    True
"""

from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import numpy as np
from scipy import stats


class ShareSummary(NamedTuple):
    """Shares of each column among the solutions: the mean over replicates that found solutions, its
    95% t-interval, and every replicate's shares ``[R, K]`` (rows of replicates without solutions
    are NaN)."""

    shares: dict[str, float]
    ci95: dict[str, tuple[float, float]]
    per_replicate: np.ndarray


def t_interval(values: np.ndarray, conf: float = 0.95) -> tuple[float, float]:
    """Student-t interval of the mean of ``values`` at level ``conf``, clipped to [0, 1]."""
    v = np.asarray(values, np.float64)
    if len(v) < 2:
        return (0.0, 1.0)
    half = stats.t.ppf(0.5 + conf / 2, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v))
    m = v.mean()
    return float(max(0.0, m - half)), float(min(1.0, m + half))


def share_summary(solutions: Sequence[int], counts: Sequence[Sequence[int]], columns: Sequence[str]) -> ShareSummary:
    """Per replicate, each column's count over its solutions; their mean over the replicates with
    solutions and its 95% t-interval (NaN where no replicate found any)."""
    k = len(columns)
    per = np.array([np.asarray(c, np.float64) / n if n else np.full(k, np.nan) for n, c in zip(solutions, counts)],
                   np.float64).reshape(len(solutions), k)
    ok = per[np.isfinite(per[:, 0])] if k else per
    shares = {c: (float(ok[:, i].mean()) if len(ok) else math.nan) for i, c in enumerate(columns)}
    ci = {c: (t_interval(ok[:, i]) if len(ok) else (math.nan, math.nan)) for i, c in enumerate(columns)}
    return ShareSummary(shares, ci, per)
