"""The one result type of every volume estimator.

An :class:`Estimate` has the same fields whatever the method: the volume and its log10 with a 95%
interval, the estimator's kind, its cost in a named unit (``networks`` drawn, ``configurations``
enumerated, ``network_evaluations`` of a rare-event method, ``integrand_evaluations`` of the
infinite-width limit), the hits where counting applies, the seconds spent, the seed, and a
``diagnostics`` mapping for numbers that only one method has (replicate spread, levels, ...).

Example:
    >>> e = Estimate(log10_volume=-2.0, ci95=(-2.1, -1.9), volume=0.01, estimator="mc", samples=1000,
    ...              cost_unit="networks", hits=10, seconds=0.5, seed=0)
    >>> sorted(e.as_dict()) == sorted(ESTIMATE_KEYS)
    True
    >>> e.as_dict()["cost"]
    {'networks': 1000}
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

from counting.stats import clopper_pearson, log10_or_none

COST_UNITS = ("networks", "configurations", "network_evaluations", "integrand_evaluations")
ESTIMATE_KEYS = ("log10_volume", "ci95", "volume", "estimator", "samples", "cost", "hits", "one_sided_upper_bound",
                 "seconds", "seed", "diagnostics")


@dataclass(frozen=True)
class Estimate:
    """A volume with its 95% interval (``ci95 = (lo, hi)`` in log10; an end is ``None`` where it is
    unbounded or unknown) and how it was obtained. ``samples`` is the cost in ``cost_unit``."""

    log10_volume: float | None
    ci95: tuple[float | None, float | None]
    volume: float
    estimator: str
    samples: int
    cost_unit: str
    hits: int | None = None
    seconds: float = 0.0
    seed: int | None = None
    one_sided_upper_bound: bool = False
    diagnostics: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if self.cost_unit not in COST_UNITS:
            raise ValueError(f"cost_unit: expected one of {list(COST_UNITS)}, got {self.cost_unit!r}")

    def as_dict(self) -> dict:
        """The same keys for every estimator (:data:`ESTIMATE_KEYS`), JSON-ready."""
        return {
            "log10_volume": self.log10_volume,
            "ci95": list(self.ci95),
            "volume": self.volume,
            "estimator": self.estimator,
            "samples": self.samples,
            "cost": {self.cost_unit: self.samples},
            "hits": self.hits,
            "one_sided_upper_bound": self.one_sided_upper_bound,
            "seconds": self.seconds,
            "seed": self.seed,
            "diagnostics": dict(self.diagnostics),
        }


def binomial_estimate(hits: int, samples: int, *, seconds: float = 0.0, seed: int | None = 0,
                      diagnostics: Mapping[str, Any] | None = None, conf: float = 0.95) -> Estimate:
    """Hit-or-miss volume ``hits / samples`` with its Clopper-Pearson interval (zero hits: the
    one-sided upper bound, ``log10_volume = None``)."""
    lo, hi = clopper_pearson(hits, samples, conf)
    return Estimate(log10_or_none(hits / samples), (log10_or_none(lo), math.log10(hi)), hits / samples, "mc",
                    int(samples), "networks", int(hits), seconds, seed, hits == 0, dict(diagnostics or {}))


def exact_estimate(count: int, total: int, *, seconds: float = 0.0, diagnostics: Mapping[str, Any] | None = None
                   ) -> Estimate:
    """An enumerated volume ``count / total``: exact, so its interval is the point itself."""
    v = count / total
    lv = log10_or_none(v)
    return Estimate(lv, (lv, lv), v, "exact", int(total), "configurations", int(count), seconds, None, False,
                    dict(diagnostics or {}))
