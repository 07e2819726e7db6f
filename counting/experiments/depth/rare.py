"""Targets too rare for hit-or-miss: their volume by tempered SMC, and their routes from its last populations.

:func:`smc_volume_job` (the depth-bias sweep's rare targets): the SMC estimator's replicates
(:func:`counting.estimators.replicated.replicate_runs`) for "computes the target", each record an
:class:`~counting.rare.smc.SMCRun` (log volume, evaluations, stages, last ``log Z_b`` and ``b``).

:func:`route_job`: the same replicates with a classifier: each run's volume estimate and the
networks of its last population that compute the target (distributed, up to the MCMC's mixing, as
the prior restricted to the solutions), classified exactly as the hit-or-miss solutions are
(:func:`counting.experiments.depth.tally.route_codes`), giving one joint placement histogram and
one joint order-level histogram per replicate. Replicates run from ``fold_in(key(seed), r)`` and are checkpointed one by one, so a
stopped job resumes at the next replicate with identical numbers.

Example:
    >>> from counting.mechanisms.routes import DECOMPOSITIONS
    >>> from counting.spec import ResMLPSpec, ScaledPrior
    >>> from counting.spec.estimator import SMCSettings
    >>> m = ResMLPSpec(n_inputs=4, width=4, depth=2, hidden=4)
    >>> s = SMCSettings(particles=32, steps=1, replicates=2, max_stages=6)
    >>> res, facts = route_job(m, ScaledPrior(), DECOMPOSITIONS["and4"], s)(RunOptions(progress=False))
    >>> len(res.runs), len(res.runs[0].joint) == joint_size(m), len(res.runs[0].order), facts.chunks
    (2, True, 25, 2)
    >>> res, facts = smc_volume_job(m, ScaledPrior(), 0x8000, 4, s)(RunOptions(progress=False))
    >>> [r.stages >= 0 and r.log_p < 0 for r in res.runs]     # 4-bit AND: 10**-2.6 or so
    [True, True]
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import jax.numpy as jnp
import numpy as np

from counting.engine.priors import unflatten
from counting.engine.run import PassFacts, RunOptions
from counting.experiments.depth.tally import joint_size, route_codes
from counting.mechanisms.predicates import computes
from counting.mechanisms.routes import LEVELS, Decomposition
from counting.models import forward, model_inputs
from counting.estimators.problem import Problem
from counting.estimators.replicated import Classifier, replicate_runs
from counting.rare.coordinates import gaussian_to_params
from counting.rare.replicates import Replicates
from counting.spec.estimator import SMCSettings
from counting.spec.model import ModelSpec
from counting.spec.prior import PriorSpec
from counting.spec.target import Target


class RouteRecord(NamedTuple):
    """One replicate: its log volume (natural log), network evaluations, the solutions in its last
    population, their joint placement histogram and their joint order-level histogram
    (:class:`~counting.experiments.depth.tally.RouteTally`'s ``hist`` and ``order`` cells)."""

    log_p: float
    evaluations: int
    solutions: int
    joint: tuple
    order: tuple = ()


def classify(model: ModelSpec, prior: PriorSpec, d: Decomposition, coords: np.ndarray) -> np.ndarray:
    """The joint placement histogram of networks given by Gaussian coordinates ``coords``, then
    their joint order-level histogram (``joint_size(model) + LEVELS**2`` counts)."""
    size = joint_size(model)
    if coords.shape[0] == 0:
        return np.zeros(size + LEVELS ** 2, np.int64)
    params = unflatten(model, gaussian_to_params(jnp.asarray(coords), model, prior))
    codes, levels = route_codes(forward(model, params, jnp.asarray(model_inputs(model))), model, d)
    return np.concatenate([np.bincount(np.asarray(codes), minlength=size),
                           np.bincount(np.asarray(levels), minlength=LEVELS ** 2)]).astype(np.int64)


def _facts(reps: Replicates, settings: SMCSettings) -> PassFacts:
    """A job's facts: its network evaluations (as ``samples``), replicates (as chunks) and time."""
    evals = sum(r.evaluations for r in reps.runs)
    rate = evals / reps.seconds if reps.seconds > 0 else math.nan
    return PassFacts(evals, len(reps.runs), settings.particles, settings.particles, 1, reps.resumed_from,
                     reps.seconds, rate)


def smc_volume_job(model: ModelSpec, prior: PriorSpec, target: int, n: int, settings: SMCSettings
                   ) -> Callable[[RunOptions], tuple[Replicates, PassFacts]]:
    """The SMC volume of "computes ``target``" (an ``n``-bit truth table) on one network, as a
    :class:`~counting.experiments.base.run.Pass` job: the estimator's replicates
    (:func:`counting.estimators.replicated.replicate_runs`), checkpointed one by one."""
    problem = Problem(model, prior, computes(target, n), Target(target, n))

    def job(options: RunOptions) -> tuple[Replicates, PassFacts]:
        reps = replicate_runs(problem, settings, options)
        return reps, _facts(reps, settings)

    return job


def route_classifier(model: ModelSpec, prior: PriorSpec, d: Decomposition) -> Classifier:
    """Counts a population's networks in each cell of the joint placement histogram and of the
    joint order-level histogram (:func:`classify`; columns ``<cell>`` and ``order <cell>``)."""
    return Classifier(f"routes+order {d.name}", tuple(str(c) for c in range(joint_size(model)))
                      + tuple(f"order {c}" for c in range(LEVELS ** 2)),
                      lambda coords: classify(model, prior, d, coords))


def route_job(model: ModelSpec, prior: PriorSpec, d: Decomposition, settings: SMCSettings
              ) -> Callable[[RunOptions], tuple[Replicates, PassFacts]]:
    """The work of one (decomposition, network) by SMC, as a :class:`~counting.experiments.base.run.Pass`
    job: the estimator's replicates with their last populations classified
    (:func:`counting.estimators.replicated.replicate_runs` with :func:`route_classifier`), each
    replicate as a :class:`RouteRecord`."""
    problem = Problem(model, prior, computes(d.target, d.n), Target(d.target, d.n))

    def job(options: RunOptions) -> tuple[Replicates, PassFacts]:
        reps = replicate_runs(problem, settings, options, route_classifier(model, prior, d))
        size = joint_size(model)
        runs = tuple(RouteRecord(float(r.log_p), int(r.evaluations), int(r.solutions), tuple(r.counts[:size]),
                                 tuple(r.counts[size:])) for r in reps.runs)
        reps = reps._replace(runs=runs)
        return reps, _facts(reps, settings)

    return job


def route_record_counts(name: str, result: Replicates) -> dict[str, np.ndarray]:
    """An SMC route job's counts for ``counts.npz``: each replicate's log volume, solutions and joint
    placement histogram and joint order-level histogram, named ``<pass>|log_p``, ``<pass>|solutions``,
    ``<pass>|joint``, ``<pass>|order``."""
    return {f"{name}|log_p": np.array([r.log_p for r in result.runs]),
            f"{name}|solutions": np.array([r.solutions for r in result.runs]),
            f"{name}|joint": np.array([r.joint for r in result.runs], np.int64),
            f"{name}|order": np.array([r.order for r in result.runs], np.int64)}
