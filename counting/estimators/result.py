"""The one result type of every volume estimator.

An :class:`Estimate` has the same fields whatever the method: the volume and its log10 with a 95%
interval, the estimator's kind, its cost in a named unit (``networks`` drawn, ``configurations``
enumerated, ``network_evaluations`` of a rare-event method, ``integrand_evaluations`` of the
infinite-width limit), the hits where counting applies, the seconds spent, the seed, and a
``diagnostics`` mapping for numbers that only one method has (replicate spread, levels, ...).

Every table row and every sentence made of an estimate starts here: :attr:`Estimate.case` says once
whether it is ``exact`` (enumerated), a sampled ``bound`` (no hit: ``log10_volume`` is ``None`` and
only the one-sided 95% upper end is known), ``none`` (nothing reached, no bound) or an ``interval``;
:meth:`Estimate.columns` gives its table columns (the interval as ``ci95_lo`` / ``ci95_hi``, the
scalar diagnostics after the fields), and :meth:`Estimate.from_dict` reads back what
:meth:`Estimate.as_dict` wrote (a manifest's result).

Example:
    >>> e = Estimate(log10_volume=-2.0, ci95=(-2.1, -1.9), volume=0.01, estimator="mc", samples=1000,
    ...              cost_unit="networks", hits=10, seconds=0.5, seed=0)
    >>> sorted(e.as_dict()) == sorted(ESTIMATE_KEYS)
    True
    >>> e.as_dict()["cost"]
    {'networks': 1000}
    >>> e.case, binomial_estimate(0, 1000).case, exact_estimate(3, 8).case
    ('interval', 'bound', 'exact')
    >>> e.columns("mc_", ("log10_volume", "ci95_lo", "ci95_hi"))
    {'mc_log10_volume': -2.0, 'mc_ci95_lo': -2.1, 'mc_ci95_hi': -1.9}
    >>> Estimate.from_dict(e.as_dict()) == e
    True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from numbers import Number
from typing import Any, Mapping

from counting.stats import clopper_pearson, log10_or_none

COST_UNITS = ("networks", "configurations", "network_evaluations", "integrand_evaluations")
ESTIMATE_KEYS = ("log10_volume", "ci95", "volume", "estimator", "samples", "cost", "hits", "one_sided_upper_bound",
                 "seconds", "seed", "diagnostics")
COLUMNS = ("estimator", "log10_volume", "ci95_lo", "ci95_hi", "volume", "samples", "cost_unit", "hits",
           "one_sided_upper_bound", "seconds", "seed")
VOLUME_COLUMNS = ("volume", "log10_volume", "ci95_lo", "ci95_hi")
INTERVAL_COLUMNS = ("log10_volume", "ci95_lo", "ci95_hi")
CASES = ("exact", "bound", "none", "interval")


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

    @property
    def case(self) -> str:
        """What the value is, one of :data:`CASES`: ``exact`` (enumerated; its interval is the point,
        which may be 0), ``bound`` (sampled with no hit: ``log10_volume`` is ``None`` and ``ci95[1]``
        is the one-sided 95% upper bound), ``none`` (no value and no bound: nothing reached) or
        ``interval`` (a value with its 95% interval)."""
        if self.estimator == "exact":
            return "exact"
        if self.one_sided_upper_bound or (self.log10_volume is None and self.ci95[1] is not None):
            return "bound"
        return "none" if self.log10_volume is None else "interval"

    @property
    def counts_hits(self) -> bool:
        """Whether the cost is a count of trials with ``hits`` among them (hit-or-miss, enumeration)."""
        return self.estimator in ("mc", "exact") and self.hits is not None

    def columns(self, prefix: str = "", names: tuple[str, ...] | None = None) -> dict:
        """The estimate as table columns, each name after ``prefix``: :data:`COLUMNS` (the interval
        as ``ci95_lo`` and ``ci95_hi``), then every scalar diagnostic (number, string, bool or
        ``None``) whose name is not taken; ``names`` picks some of them, in that order."""
        row = {"estimator": self.estimator, "log10_volume": self.log10_volume, "ci95_lo": self.ci95[0],
               "ci95_hi": self.ci95[1], "volume": self.volume, "samples": self.samples,
               "cost_unit": self.cost_unit, "hits": self.hits, "one_sided_upper_bound": self.one_sided_upper_bound,
               "seconds": self.seconds, "seed": self.seed}
        for k, v in self.diagnostics.items():
            if isinstance(v, (Number, str, bool)) or v is None:
                row.setdefault(k, v)
        return {f"{prefix}{k}": row[k] for k in (row if names is None else names)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Estimate:
        """The estimate :meth:`as_dict` wrote (a manifest's ``result``); without ``cost`` (an older
        layout) the cost is unknown (``samples`` is ``None``), a missing flag is false and other
        missing fields are ``None``."""
        cost = d.get("cost") or {"networks": None}
        unit, samples = next(iter(cost.items()))
        ci = d.get("ci95") or (None, None)
        return cls(d.get("log10_volume"), (ci[0], ci[1]), d.get("volume"), d["estimator"], samples, unit,
                   d.get("hits"), d.get("seconds", 0.0), d.get("seed"), bool(d.get("one_sided_upper_bound")),
                   dict(d.get("diagnostics") or {}))

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
                      diagnostics: Mapping[str, Any] | None = None, conf: float = 0.95,
                      orbit_size: int = 1) -> Estimate:
    """Hit-or-miss volume ``hits / samples`` with its Clopper-Pearson interval (zero hits: the
    one-sided upper bound, ``log10_volume = None``). With ``orbit_size``, the hits are those of any
    function of an orbit of that many, so the volume of each is ``hits / samples / orbit_size``
    (the interval's ends divided alike)."""
    lo, hi = clopper_pearson(hits, samples, conf)
    lo, hi, v = lo / orbit_size, hi / orbit_size, hits / samples / orbit_size  # x / 1 == x: no rounding
    return Estimate(log10_or_none(v), (log10_or_none(lo), math.log10(hi)), v, "mc",
                    int(samples), "networks", int(hits), seconds, seed, hits == 0, dict(diagnostics or {}))


def exact_estimate(count: int, total: int, *, seconds: float = 0.0, diagnostics: Mapping[str, Any] | None = None,
                   orbit_size: int = 1) -> Estimate:
    """An enumerated volume ``count / total``: exact, so its interval is the point itself (with
    ``orbit_size``, of each function of an orbit counted together: ``count / total / orbit_size``)."""
    v = count / total / orbit_size
    lv = log10_or_none(v)
    return Estimate(lv, (lv, lv), v, "exact", int(total), "configurations", int(count), seconds, None, False,
                    dict(diagnostics or {}))
