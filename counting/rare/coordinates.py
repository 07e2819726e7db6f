"""The rare-event problem in the prior's standard Gaussian coordinates, built once per estimate.

Every continuous prior is a transform of a standard Gaussian vector ``g`` (``gaussian``: ``g``
times the per-parameter scale; ``uniform``: ``sqrt(3) erf(g / sqrt(2))`` times the scale), so
rare-event methods work in ``g``-space, where moves that leave ``N(0, I)`` invariant are known.
A :class:`GaussianProblem` holds what every method needs there, compiled once so that every
replicate reuses it (and remembered per model, prior and condition, so that estimates of the same
problem, e.g. a job and its resumption, share their compiled functions): the condition's ``score`` and ``holds`` on ``g``, the energy ``-score`` with
its gradient, the number of parameters, and the weight groups that rescaling moves act on.

Example:
    >>> import jax
    >>> from counting.spec import MLPSpec, ScaledPrior
    >>> from counting.mechanisms.predicates import computes
    >>> p = GaussianProblem.of(MLPSpec(n_inputs=2, widths=(3,)), ScaledPrior(), computes(0x8, 2))
    >>> p.n_params, [int(m.sum()) for m in p.groups]      # 2x3 + 3 + 3x1 + 1; two weight matrices
    (13, [6, 3])
    >>> g = jax.random.normal(jax.random.key(0), (5, p.n_params))
    >>> score, holds = p.evaluate(g)
    >>> energy, grad = p.energy_and_grad(g)
    >>> bool((energy == -score).all()), grad.shape, bool((score[holds] == 0).all())
    (True, (5, 13), True)
    >>> c = computes(0x8, 2)
    >>> GaussianProblem.of(MLPSpec(n_inputs=2), ScaledPrior(), c) is GaussianProblem.of(MLPSpec(n_inputs=2), ScaledPrior(), c)
    True
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float

from counting.engine.priors import scale_vector, unflatten
from counting.mechanisms.predicates import Condition
from counting.models import forward, model_inputs, param_layout
from counting.spec.errors import SpecError
from counting.spec.model import ModelSpec
from counting.spec.prior import CONTINUOUS_PRIORS, PriorSpec

Evaluate = Callable[[Float[Array, "B P"]], tuple[Float[Array, "B"], Bool[Array, "B"]]]
EnergyAndGrad = Callable[[Float[Array, "B P"]], tuple[Float[Array, "B"], Float[Array, "B P"]]]


def check_continuous(prior: PriorSpec) -> None:
    """Gaussian coordinates exist for the continuous priors only."""
    if prior.kind not in CONTINUOUS_PRIORS:
        raise SpecError("prior.kind", f"a continuous prior {list(CONTINUOUS_PRIORS)} for a rare-event method",
                        prior.kind)


def require_score(condition, kind: str) -> Condition:
    """The condition, if it has the score that rare-event method ``kind`` climbs."""
    if not isinstance(condition, Condition):
        raise SpecError("estimator.kind", f"a condition with a score for '{kind}'", "a bare predicate")
    return condition


def gaussian_to_params(g: Float[Array, "B P"], model: ModelSpec, prior: PriorSpec) -> Float[Array, "B P"]:
    """Flat prior parameters from standard Gaussian coordinates ``g [B, P]``."""
    check_continuous(prior)
    scale = jnp.asarray(scale_vector(model, prior))
    if prior.kind == "gaussian":
        return g * scale
    return math.sqrt(3.0) * jax.scipy.special.erf(g / math.sqrt(2.0)) * scale


class WeightGroups(tuple):
    """Boolean masks over the flat parameters, one per weight matrix; hashable, so that a problem
    holding them can be a static argument of compiled functions."""

    def __hash__(self):
        return hash(tuple(m.tobytes() for m in self))

    def __eq__(self, other):
        return len(self) == len(other) and all(np.array_equal(a, b) for a, b in zip(self, other))


def weight_groups(model: ModelSpec) -> WeightGroups:
    """One boolean mask over the flat parameters per weight matrix (biases excluded)."""
    slots = param_layout(model)
    total = sum(math.prod(s.shape) for s in slots)
    masks, o = [], 0
    for slot in slots:
        size = math.prod(slot.shape)
        if slot.fan_in is not None:
            m = np.zeros(total, bool)
            m[o : o + size] = True
            masks.append(m)
        o += size
    return WeightGroups(masks)


@dataclass(frozen=True)
class GaussianProblem:
    """A condition on networks, seen from Gaussian coordinates ``g [B, P]`` (both functions jitted).

    ``evaluate(g) -> (score [B], holds [B])``; ``energy_and_grad(g) -> (energy [B], grad [B, P])``
    with ``energy = -score`` (0 exactly where the condition holds, positive elsewhere);
    ``n_params``: ``P``; ``groups``: the weight groups of :func:`weight_groups`.
    """

    evaluate: Evaluate
    energy_and_grad: EnergyAndGrad
    n_params: int
    groups: WeightGroups

    @staticmethod
    def of(model: ModelSpec, prior: PriorSpec, condition: Condition) -> "GaussianProblem":
        check_continuous(prior)
        try:
            hash((model, prior, condition))
        except TypeError:  # an unhashable condition: built afresh
            return gaussian_problem.__wrapped__(model, prior, condition)
        return gaussian_problem(model, prior, condition)


@functools.lru_cache(maxsize=16)
def gaussian_problem(model: ModelSpec, prior: PriorSpec, condition: Condition) -> GaussianProblem:
    """The :class:`GaussianProblem` of a condition, built (and compiled) once per argument triple."""
    x = jnp.asarray(model_inputs(model))

    def fwd(g):
        return forward(model, unflatten(model, gaussian_to_params(g, model, prior)), x)

    def evaluate(g):
        f = fwd(g)
        return condition.score(f), condition.holds(f)

    def total(g):
        e = -condition.score(fwd(g))
        return jnp.sum(e), e

    def energy_and_grad(g):
        (_, e), grad = jax.value_and_grad(total, has_aux=True)(g)
        return e, grad

    n_par = int(scale_vector(model, prior).shape[0])
    return GaussianProblem(jax.jit(evaluate), jax.jit(energy_and_grad), n_par, weight_groups(model))


def prior_population(key, problem: "GaussianProblem", particles: int
                     ) -> tuple[Float[Array, "N P"], Float[Array, "N"], Bool[Array, "N"]]:
    """A rare-event run's first population: ``particles`` prior draws in Gaussian coordinates from
    ``fold_in(key, 0)``, with their scores and whether each satisfies the condition."""
    g = jax.random.normal(jax.random.fold_in(key, 0), (particles, problem.n_params))
    s, holds = problem.evaluate(g)
    return g, s, holds
