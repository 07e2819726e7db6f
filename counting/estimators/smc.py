"""Tempered SMC: replicated runs of :func:`counting.rare.smc.smc_run`.

Replicate ``r`` runs from ``fold_in(key(seed), r)``; the volume and its interval come from the
replicates exactly as for ``subset`` (:func:`counting.rare.replicates.combine_replicates`). The
cost is counted in network evaluations (forward passes); ``diagnostics`` has the kernel, each
replicate's log10 and their sd, the mean number of stages, how many replicates reached the
condition, and ``log10_bound``: the largest last-stage ``log10 Z_b`` over replicates, an upper
bound on the volume as far as the moves mixed (the useful figure when no replicate reached the
condition). With an output folder each finished replicate is checkpointed, and ``resume``
continues a stopped job to the same numbers.

``batch_replicates = R`` (default 0: one replicate after another, each stage stepped from the
host) runs R replicates per device call with every stage on the device: the same step
(:mod:`counting.rare.smc`, driven by :mod:`counting.rare.drive`), each replicate's numbers a
function of its key and the batch size (the host path is a batch of one: ``batch_replicates = 1``
gives its numbers); checkpointed after each batch.

Example:
    >>> from counting.spec import parse_spec
    >>> spec = parse_spec('''
    ... [model]
    ... n_inputs = 2
    ... widths = []
    ... [target]
    ... name = "and"
    ... [estimator]
    ... kind = "smc"
    ... kernel = "mala"
    ... particles = 256
    ... steps = 3
    ... replicates = 4
    ... ''')
    >>> est = estimate(Problem.of(spec), spec.estimator)
    >>> est.estimator, -1.8 < est.log10_volume < -1.0, est.diagnostics["reached"]   # exact: -1.380
    ('smc', True, 4)
"""

from __future__ import annotations

from counting.engine.run import RunOptions
from counting.estimators.problem import Problem
from counting.estimators.replicated import Classifier, replicated_estimate, settings_for
from counting.estimators.result import Estimate
from counting.mechanisms.predicates import Predicate
from counting.spec.estimator import SMCSettings
from counting.spec.job import Spec


def estimate(problem: Problem, settings: SMCSettings, options: RunOptions = RunOptions(),
             classifier: Classifier | None = None) -> Estimate:
    """Tempered-SMC volume of ``problem.condition`` (a condition with a score) from
    ``settings.replicates`` independent runs (``settings.batch_replicates`` at a time on the device
    if it is not 0); with a ``classifier``, also the shares of its columns among each run's last
    population (:func:`counting.estimators.replicated.replicated_estimate`)."""
    return replicated_estimate(problem, settings, options, classifier)


def smc_volume(spec: Spec, condition: Predicate | None = None, options: RunOptions = RunOptions(),
               **overrides) -> Estimate:
    """Tempered-SMC volume of ``condition`` (default: computes the spec's target).

    Settings: the spec's if it is an ``smc`` job, else :class:`SMCSettings` with the spec's seed;
    ``overrides`` replace fields by name (``particles``, ``kernel``, ``steps``, ...), validated as in a file.
    """
    return estimate(Problem.of(spec, condition), settings_for(spec, SMCSettings, **overrides), options)
