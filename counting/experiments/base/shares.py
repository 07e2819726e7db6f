"""Share, cost and volume columns of result tables, each with its 95% interval.

A *share* is ``k / n``: of ``n`` networks (those computing a target, say), the ``k`` that also
satisfy something. Sampled, its interval is the exact Clopper-Pearson one; enumerated (``exact``),
it is the point itself. Its *cost* is ``-log2(share)`` bits, the interval reversed
(:func:`cost_bits`, the one place this is computed: ``inf`` for a share of 0, NaN for an unknown
one). With ``n = 0`` every share is NaN (nothing to divide), never an error.

A cost can also come from two independent volume estimates, ``V(f)`` and ``V(f and g)``
(:func:`volumes_cost`): ``log2 V(f) - log2 V(f and g)`` bits, its interval joining the two
volumes' intervals end to end, so that it covers whenever both do.

A *volume* is ``hits / samples / orbit_size`` (hits symmetrized over an orbit of ``orbit_size``
functions count once per function): with zero hits ``log10_volume`` and the lower end are ``None``,
and the upper end is the one-sided bound when sampled (``None`` when enumerated: it is 0).

Example:
    >>> c = share_columns([0, 5, 10], 10, exact=False)
    >>> [round(float(x), 3) for x in c["share_lo"]], [float(x) for x in c["cost_bits"]]
    ([0.0, 0.187, 0.692], [inf, 1.0, -0.0])
    >>> share_columns([0], 0, exact=False)["share"].tolist()
    [nan]
    >>> v = volume_columns(0, 1000)
    >>> v["log10_volume"], v["ci95_lo"], round(v["ci95_hi"], 3)
    (None, None, -2.524)
    >>> [float(x) for x in cost_bits(np.array([0.25, 0.0, np.nan]))]
    [2.0, inf, nan]
    >>> [round(x, 3) for x in volumes_cost((-4.0, -4.1, -3.9), (-5.0, -5.3, -4.8))]
    [3.322, 2.325, 4.651]
"""

from __future__ import annotations

import math

import numpy as np
from jaxtyping import Float, Int

from counting.estimators.result import VOLUME_COLUMNS, binomial_estimate, exact_estimate
from counting.stats import clopper_pearson_many


LOG2_10 = math.log2(10)


def cost_bits(share: Float[np.ndarray, "*S"] | float) -> Float[np.ndarray, "*S"]:
    """The cost in bits of holding a share, ``-log2(share)``, elementwise: ``inf`` where the share
    is 0, NaN where it is NaN (unknown). A share's interval ``[lo, hi]`` gives the cost's interval
    ``[cost_bits(hi), cost_bits(lo)]``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.log2(np.asarray(share, np.float64))


def volumes_cost(f: tuple[float | None, float | None, float | None],
                 fg: tuple[float | None, float | None, float | None]) -> tuple[float, float, float]:
    """Cost in bits ``log2 V(f) - log2 V(f and g)`` from two independent ``(log10, lo, hi)`` volume
    estimates (``None``: unknown); its interval joins theirs end to end (the lower end from the
    upper end of ``V(f and g)`` and the lower end of ``V(f)``, and the other way round), NaN where
    an end is unknown."""
    g = [math.nan if v is None else v for v in (*f, *fg)]
    return (LOG2_10 * (g[0] - g[3]), LOG2_10 * (g[1] - g[5]), LOG2_10 * (g[2] - g[4]))


def share_columns(k: Int[np.ndarray, "J"], n: int, exact: bool) -> dict[str, Float[np.ndarray, "J"]]:
    """Share ``k / n`` with its 95% interval, and the cost in bits ``-log2(share)`` (interval reversed)."""
    k = np.asarray(k, np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = k / n if n > 0 else np.full(k.shape, np.nan)
        if exact or n == 0:
            lo, hi = share, share
        else:
            lo, hi = clopper_pearson_many(k, int(n))
    return {"share": share, "share_lo": lo, "share_hi": hi, "cost_bits": cost_bits(share),
            "cost_bits_lo": cost_bits(hi), "cost_bits_hi": cost_bits(lo)}


def volume_columns(hits: int, samples: int, orbit_size: int = 1, exact: bool = False) -> dict:
    """``volume``, ``log10_volume``, ``ci95_lo`` and ``ci95_hi`` (log10) of ``hits`` among ``samples``
    networks (or enumerated configurations), each hit counting once per function of its orbit: the
    columns of the estimate (:func:`~counting.estimators.result.binomial_estimate`, or
    :func:`~counting.estimators.result.exact_estimate` when enumerated)."""
    e = (exact_estimate(hits, samples, orbit_size=orbit_size) if exact
         else binomial_estimate(hits, samples, orbit_size=orbit_size))
    return e.columns(names=VOLUME_COLUMNS)
