"""Prior sections: scaled continuous priors and unscaled integer priors.

* ``gaussian`` / ``uniform`` (:class:`ScaledPrior`): weights of variance ``sigma_w**2 / fan_in``,
  biases of variance ``sigma_b**2`` (uniform: the same variances on a symmetric interval).
* ``ternary`` / ``integer`` (:class:`DiscretePrior`): every weight and bias uniform on the integers
  ``-max_abs .. max_abs``, unscaled (``ternary`` is ``max_abs = 1``).

Example:
    >>> parse_prior({"kind": "uniform", "sigma_w": 2.0})
    ScaledPrior(kind='uniform', sigma_w=2.0, sigma_b=1.0)
    >>> parse_prior({"kind": "ternary"}).discrete
    True
"""

from __future__ import annotations

from dataclasses import dataclass

from counting.spec.errors import SpecError, check_keys, integer, kind_of, number

PRIOR_KINDS = ("gaussian", "uniform", "ternary", "integer")
CONTINUOUS_PRIORS = ("gaussian", "uniform")
DISCRETE_PRIORS = ("ternary", "integer")


@dataclass(frozen=True)
class ScaledPrior:
    """``gaussian`` or ``uniform`` parameters with fan-in scaled weight variance."""

    kind: str = "gaussian"
    sigma_w: float = 1.0
    sigma_b: float = 1.0

    @property
    def discrete(self) -> bool:
        return False


@dataclass(frozen=True)
class DiscretePrior:
    """Every parameter uniform on ``-max_abs .. max_abs`` (``ternary``: ``max_abs = 1``)."""

    kind: str = "ternary"
    max_abs: int = 1

    @property
    def discrete(self) -> bool:
        return True


PriorSpec = ScaledPrior | DiscretePrior


def parse_prior(t: dict, where: str = "prior") -> PriorSpec:
    """Validate a ``[prior]`` table."""
    kind = kind_of(t, where, PRIOR_KINDS, "gaussian")
    if kind in CONTINUOUS_PRIORS:
        check_keys(t, {"kind", "sigma_w", "sigma_b"}, where, f" for kind {kind!r}")
        return ScaledPrior(kind, number(t.get("sigma_w", 1.0), f"{where}.sigma_w"),
                           number(t.get("sigma_b", 1.0), f"{where}.sigma_b", positive=False))
    check_keys(t, {"kind", "max_abs"}, where, f" for kind {kind!r} (unscaled: no sigma_w/sigma_b)")
    if kind == "ternary" and t.get("max_abs", 1) != 1:
        raise SpecError(f"{where}.max_abs", "1 for 'ternary' (use kind = 'integer' for more levels)", t["max_abs"])
    return DiscretePrior(kind, integer(t.get("max_abs", 1), f"{where}.max_abs", 1, 7))


def describe_prior(p: PriorSpec) -> str:
    """A short human description, e.g. ``'gaussian prior (sigma_w=1, sigma_b=1)'``."""
    if p.discrete:
        return f"{p.kind} prior (integers -{p.max_abs}..{p.max_abs})"
    return f"{p.kind} prior (sigma_w={p.sigma_w:g}, sigma_b={p.sigma_b:g})"
