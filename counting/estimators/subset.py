"""Subset simulation: replicated runs of :func:`counting.rare.subset.subset_run`.

Replicate ``r`` runs from ``fold_in(key(seed), r)``; the volume is the mean of the replicate
estimates with a 95% Student-t interval in log10 (:func:`counting.rare.replicates.combine_replicates`).
The cost is counted in network evaluations; ``diagnostics`` has the kernel, each replicate's
log10, their sd (far above the theory: the moves mix poorly and the estimate is biased low), the
mean number of levels and how many replicates reached the condition. With an output folder each
finished replicate is checkpointed, and ``resume`` continues a stopped job to the same numbers.
``batch_replicates = R`` (default 0: one replicate after another, each level stepped from the
host) runs R replicates per device call with every level on the device: the same step
(:mod:`counting.rare.subset`, driven by :mod:`counting.rare.drive`), each replicate's numbers a
function of its key and the batch size (``batch_replicates = 1`` gives the host path's numbers);
checkpointed after each batch.

Example:
    >>> from counting.spec import parse_spec
    >>> spec = parse_spec('''
    ... [model]
    ... n_inputs = 2
    ... widths = []
    ... [target]
    ... name = "and"
    ... [estimator]
    ... kind = "subset"
    ... particles = 300
    ... steps = 4
    ... replicates = 4
    ... ''')
    >>> est = estimate(Problem.of(spec), spec.estimator)
    >>> est.estimator, est.cost_unit, -1.8 < est.log10_volume < -1.0   # exact: log10(1/24) = -1.380
    ('subset', 'network_evaluations', True)
"""

from __future__ import annotations

from counting.engine.run import RunOptions
from counting.estimators.problem import Problem
from counting.estimators.replicated import Classifier, replicated_estimate, settings_for
from counting.estimators.result import Estimate
from counting.mechanisms.predicates import Predicate
from counting.spec.estimator import SubsetSettings
from counting.spec.job import Spec


def estimate(problem: Problem, settings: SubsetSettings, options: RunOptions = RunOptions(),
             classifier: Classifier | None = None) -> Estimate:
    """Subset-simulation volume of ``problem.condition`` (a condition with a score) from
    ``settings.replicates`` independent runs (``settings.batch_replicates`` at a time on the device
    if it is not 0); with a ``classifier``, also the shares of its columns among each run's last
    population (:func:`counting.estimators.replicated.replicated_estimate`)."""
    return replicated_estimate(problem, settings, options, classifier)


def subset_volume(spec: Spec, condition: Predicate | None = None, options: RunOptions = RunOptions(),
                  **overrides) -> Estimate:
    """Subset-simulation volume of ``condition`` (default: computes the spec's target).

    Settings: the spec's if it is a ``subset`` job, else :class:`SubsetSettings` with the spec's
    seed; ``overrides`` replace fields by name (``particles``, ``kernel``, ...), validated as in a file.
    """
    return estimate(Problem.of(spec, condition), settings_for(spec, SubsetSettings, **overrides), options)
