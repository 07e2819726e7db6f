"""Targets too rare for hit-or-miss: their volume by tempered SMC or with the readout integrated
out, and their routes from SMC's last populations.

:func:`smc_volume_job` (the depth-bias sweep's rare targets): the SMC estimator's replicates
(:func:`counting.estimators.replicated.replicate_runs`) for "computes the target", each record an
:class:`~counting.rare.smc.SMCRun` (log volume, evaluations, stages, last ``log Z_b`` and ``b``).
:func:`estimator_volume_job`: the same volume by any estimator of the registry
(:data:`counting.estimators.ESTIMATORS`: ``readout_smc``, say), its result the
:class:`~counting.estimators.result.Estimate` itself, checkpointed in the pass's work folder.
:func:`readout_volumes_job`: the volumes of several targets on one network with the readout
integrated out, from one pass over the same hidden draws
(:func:`counting.estimators.readout.estimate_many`: one compile, one forward per network), a list
of estimates.

:func:`route_readout_targets`: with the readout integrated out instead, a decomposition's volume
and the volume of each of its four route classes, ``E[1{class} P(f | hidden)]`` with the class read
from the hidden layers (:func:`counting.mechanisms.routes.route_condition`), for
:func:`readout_volumes_job`: the route shares are their ratios.

:func:`route_job`: the same replicates with a classifier: each run's volume estimate and the
networks of its last population that compute the target (distributed, up to the MCMC's mixing, as
the prior restricted to the solutions), classified exactly as the hit-or-miss solutions are
(:func:`counting.experiments.depth.tally.route_codes`), giving one joint placement histogram and
one joint order-level histogram per replicate. Replicates run from ``fold_in(key(seed), r)`` and are checkpointed one by one, so a
stopped job resumes at the next replicate with identical numbers.

Example:
    >>> from counting.mechanisms.routes import DECOMPOSITIONS
    >>> from counting.spec import ResMLPSpec, ScaledPrior
    >>> from counting.spec.estimator import EstimatorSettings, ReadoutSettings, SMCSettings
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
from typing import Callable, NamedTuple, Sequence

import jax.numpy as jnp
import numpy as np

from counting.engine.priors import unflatten
from counting.engine.run import PassFacts, RunOptions
from counting.experiments.depth.tally import joint_size, route_codes
from counting.mechanisms.predicates import computes
from counting.mechanisms.routes import LEVELS, Decomposition, route_condition
from counting.models import forward, model_inputs
from counting.estimators import ESTIMATORS, Estimate
from counting.estimators.problem import Problem
from counting.estimators.readout import ReadoutTarget, estimate_many, pass_facts
from counting.estimators.replicated import Classifier, replicate_runs
from counting.rare.coordinates import gaussian_to_params
from counting.rare.replicates import Replicates
from counting.spec.estimator import EstimatorSettings, ReadoutSettings, SMCSettings
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


def estimator_volume_job(model: ModelSpec, prior: PriorSpec, target: int, n: int, settings: EstimatorSettings
                         ) -> Callable[[RunOptions], tuple[Estimate, PassFacts]]:
    """The volume of "computes ``target``" (an ``n``-bit truth table) on one network by the
    estimator ``settings.kind`` (:data:`counting.estimators.ESTIMATORS`), as a
    :class:`~counting.experiments.base.run.Pass` job checkpointed in the pass's work folder; its
    facts count the estimate's cost (``samples``: networks for ``readout``, orthant probabilities
    for ``readout_smc``)."""
    problem = Problem(model, prior, computes(target, n), Target(target, n))

    def job(options: RunOptions) -> tuple[Estimate, PassFacts]:
        e = ESTIMATORS[settings.kind](problem, settings, options)
        rate = e.samples / e.seconds if e.seconds > 0 else math.nan
        return e, PassFacts(e.samples, int(e.diagnostics.get("chunks", 1)), 1, 1, 1,
                            int(e.diagnostics.get("resumed_from_chunk", 0)), e.seconds, rate)

    return job


def readout_volumes_job(model: ModelSpec, prior: PriorSpec, targets: Sequence[int | ReadoutTarget],
                        settings: ReadoutSettings) -> Callable[[RunOptions], tuple[list[Estimate], PassFacts]]:
    """The volumes of ``targets`` (truth tables, or :class:`~counting.estimators.readout.ReadoutTarget`
    with a hidden-layer condition) on one network with the readout integrated out, from one pass over
    ``settings.samples`` hidden draws (:func:`counting.estimators.readout.estimate_many`; a target's
    QMC shifts depend on its place in the list), as a :class:`~counting.experiments.base.run.Pass`
    job checkpointed in the pass's work folder.

    Example (compile-heavy: run in the slow step):
        >>> from counting.spec import ResMLPSpec, ScaledPrior
        >>> from counting.spec.estimator import ReadoutSettings
        >>> m = ResMLPSpec(n_inputs=4, width=4, depth=2, hidden=4)
        >>> job = readout_volumes_job(m, ScaledPrior(), [0x8000, 0x6996], ReadoutSettings(samples=512, chunk_size=256))
        >>> es, facts = job(RunOptions(progress=False))
        >>> [(e.estimator, e.samples) for e in es], facts.samples, facts.chunks, -3.5 < es[0].log10_volume < -2
        ([('readout', 512), ('readout', 512)], 512, 2, True)
    """
    problem = Problem(model, prior, None, None)

    def job(options: RunOptions) -> tuple[list[Estimate], PassFacts]:
        es = estimate_many(problem, list(targets), settings, options)
        return es, pass_facts(es, settings)

    return job


ROUTE_CLASSES = ("both", "chain only", "tree only", "neither")
"""The four route classes of :func:`route_readout_targets` (route 0 the chain, route 1 the tree), in
the order of :data:`counting.experiments.depth.tables.CLASS_NAMES`."""


def route_readout_targets(model: ModelSpec, d: Decomposition) -> list[ReadoutTarget]:
    """"Computes ``d.target``", then "computes it and takes both routes", "the chain only", "the
    tree only", "neither" (:data:`ROUTE_CLASSES`): the readout's targets whose volumes give a
    decomposition's route shares, each class read from the hidden layers by
    :func:`counting.mechanisms.routes.route_condition` (intermediates held at any stage, in any
    order: the unordered reading)."""
    chain, tree = (route_condition(d, r, model) for r in d.routes)
    where = {"both": lambda f: chain(f) & tree(f), "chain only": lambda f: chain(f) & ~tree(f),
             "tree only": lambda f: ~chain(f) & tree(f), "neither": lambda f: ~(chain(f) | tree(f))}
    return [ReadoutTarget(d.target)] + [ReadoutTarget(d.target, where=where[c]) for c in ROUTE_CLASSES]


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
