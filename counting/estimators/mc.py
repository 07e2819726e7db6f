"""Hit-or-miss: draw networks from the prior and count those satisfying the condition.

The volume is ``hits / networks`` with an exact Clopper-Pearson interval; with zero hits the report
is the one-sided 95% upper bound ``1 - 0.05**(1/networks)`` and ``log10_volume`` is ``None``.
``readouts_per_draw > 1`` hands over to shared draws (:mod:`counting.estimators.shared`).

Example:
    >>> from counting.spec import parse_spec
    >>> spec = parse_spec('''
    ... [model]
    ... n_inputs = 2
    ... widths = []
    ... [target]
    ... name = "and"
    ... [estimator]
    ... samples = 4096
    ... chunk_size = 4096
    ... ''')
    >>> est = estimate(Problem.of(spec), spec.estimator)
    >>> est.samples, est.cost_unit, 0.02 < est.volume < 0.07    # exact volume is 1/24
    (4096, 'networks', True)
"""

from __future__ import annotations

import counting.estimators.shared as shared
from counting.engine.run import RunOptions, run_pass
from counting.engine.tally import Hits
from counting.estimators.problem import Problem
from counting.estimators.result import Estimate, binomial_estimate
from counting.spec.estimator import MCSettings
from counting.spec.job import Spec


def estimate(problem: Problem, settings: MCSettings, options: RunOptions = RunOptions()) -> Estimate:
    """Hit-or-miss volume of ``problem.condition`` over ``settings.samples`` prior draws (with
    ``readouts_per_draw > 1``, shared draws: :mod:`counting.estimators.shared`)."""
    if settings.readouts_per_draw > 1:
        return shared.estimate(problem, settings, options)
    spec = Spec(problem.model, problem.prior, problem.target, settings)
    tally = Hits(problem.condition)
    facts = run_pass(spec, tally, options)
    return binomial_estimate(tally.finalize(), settings.samples, seconds=facts.seconds, seed=settings.seed,
                             diagnostics={"chunks": facts.chunks, "networks_per_second": facts.networks_per_second,
                                          "resumed_from_chunk": facts.resumed_from_chunk})
