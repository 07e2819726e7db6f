"""Volume estimators: one signature, one result type, found by ``kind``.

Every estimator is a function ``estimate(problem, settings, options) -> Estimate``:
``problem`` (:class:`~counting.estimators.problem.Problem`) says what to measure, ``settings`` are
the estimator section of the spec (its own dataclass in :mod:`counting.spec.estimator`), ``options``
(:class:`~counting.engine.run.RunOptions`) how to run (folder, resume, batching, progress), which
never changes a number. :data:`ESTIMATORS` maps each kind to its function; a new estimator is one
module here, one settings class in :mod:`counting.spec.estimator`, and one line below.

* ``mc``: hit-or-miss (:mod:`~counting.estimators.mc`);
* ``exact``: enumeration of a discrete prior (:mod:`~counting.estimators.exact`);
* ``subset``: subset simulation (:mod:`~counting.estimators.subset`, built from :mod:`counting.rare`);
* ``smc``: tempered sequential Monte Carlo (:mod:`~counting.estimators.smc`, from :mod:`counting.rare`);
* ``nngp``: the infinite-width limit (:mod:`~counting.estimators.nngp`, from :mod:`counting.analytic`);
* ``readout``: hidden layers drawn, the Gaussian readout integrated out (:mod:`~counting.estimators.readout`).
* ``readout_smc``: the readout integrated out, tempered over the hidden layers (:mod:`~counting.estimators.readout_smc`).

Example:
    >>> from counting.spec import parse_spec
    >>> spec = parse_spec('[model]\\nn_inputs = 2\\nwidths = []\\n[target]\\nname = "and"\\n'
    ...                   '[estimator]\\nkind = "nngp"\\nn_qmc = 256\\nreplicates = 4')
    >>> est = estimate(Problem.of(spec), spec.estimator)
    >>> est.estimator, est.cost_unit, round(est.volume * 24, 2)     # a perceptron's AND: exactly 1/24
    ('nngp', 'integrand_evaluations', 1.0)
"""

from __future__ import annotations

from typing import Callable

from counting.engine.run import RunOptions
import counting.estimators.exact as exact
import counting.estimators.mc as mc
import counting.estimators.nngp as nngp
import counting.estimators.readout as readout
import counting.estimators.readout_smc as readout_smc
import counting.estimators.smc as smc
import counting.estimators.subset as subset
from counting.estimators.problem import Problem
from counting.estimators.result import ESTIMATE_KEYS, Estimate
from counting.spec.estimator import EstimatorSettings

Estimator = Callable[[Problem, EstimatorSettings, RunOptions], Estimate]

ESTIMATORS: dict[str, Estimator] = {
    "mc": mc.estimate,
    "exact": exact.estimate,
    "subset": subset.estimate,
    "smc": smc.estimate,
    "nngp": nngp.estimate,
    "readout": readout.estimate,
    "readout_smc": readout_smc.estimate,
}


def estimate(problem: Problem, settings: EstimatorSettings, options: RunOptions = RunOptions()) -> Estimate:
    """The volume of ``problem`` by the estimator ``settings.kind``."""
    return ESTIMATORS[settings.kind](problem, settings, options)


__all__ = ["ESTIMATE_KEYS", "ESTIMATORS", "Estimate", "Estimator", "Problem", "estimate"]
