"""Exact enumeration: every configuration of a discrete prior, each counted once.

Under the ``ternary`` (or ``integer``) prior every configuration is equally likely, so the volume
is exactly ``count / (2m+1)**P`` and its interval is the point itself.

Example:
    >>> from counting.spec import parse_spec
    >>> spec = parse_spec('''
    ... [model]
    ... n_inputs = 2
    ... widths = []
    ... activation = "step"
    ... [prior]
    ... kind = "ternary"
    ... [target]
    ... name = "and"
    ... [estimator]
    ... kind = "exact"
    ... ''')
    >>> est = estimate(Problem.of(spec), spec.estimator)
    >>> est.hits, est.samples, est.cost_unit      # w = (1, 1) with b = -1 or b = 0
    (2, 27, 'configurations')
"""

from __future__ import annotations

from counting.engine.enumeration import Enumeration, enumerated_spec
from counting.engine.run import RunOptions, run_pass
from counting.engine.tally import Hits
from counting.estimators.problem import Problem
from counting.estimators.result import Estimate, exact_estimate
from counting.spec.estimator import ExactSettings
from counting.spec.job import Spec


def estimate(problem: Problem, settings: ExactSettings, options: RunOptions = RunOptions()) -> Estimate:
    """The exact volume of ``problem.condition`` under a discrete prior."""
    spec = Spec(problem.model, problem.prior, problem.target, settings)
    run_spec = enumerated_spec(spec)
    tally = Hits(problem.condition, kind="exact")
    facts = run_pass(run_spec, tally, options, Enumeration(spec))
    return exact_estimate(tally.finalize(), run_spec.estimator.samples, seconds=facts.seconds,
                          diagnostics={"chunks": facts.chunks,
                                       "configurations_per_second": facts.networks_per_second,
                                       "resumed_from_chunk": facts.resumed_from_chunk})
