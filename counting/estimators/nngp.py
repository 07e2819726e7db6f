"""The infinite-width limit: the volume of a function under the NNGP of a relu/erf MLP.

As every hidden width goes to infinity the outputs on the cube are Gaussian with the NNGP kernel
(:mod:`counting.analytic.kernel`), and the volume of ``f`` is the orthant probability
``P(s_i y_i > 0 for all i)`` (:mod:`counting.analytic.orthant`), ``s_i = +1`` where bit ``i`` of
``f``'s truth table is set. This is the limit of the spec's network, not the finite network itself.
Its interval is a Student-t interval over independently scrambled quasi-Monte Carlo replicates.

Example:
    >>> from counting.spec import MLPSpec, NNGPSettings, ScaledPrior
    >>> o = nngp_orthant(MLPSpec(n_inputs=2, widths=()), ScaledPrior(), 0x8, NNGPSettings(n_qmc=256, replicates=8))
    >>> o.evaluations, round(o.value * 24, 2)    # AND on 2 bits: exactly 1/24
    (2048, 1.0)
"""

from __future__ import annotations

import time

import numpy as np

from counting.analytic.kernel import nngp_kernel
from counting.analytic.orthant import OrthantEstimate, orthant_probability
from counting.boolean.tables import signs_of
import counting.engine.checkpoint as checkpoint
from counting.engine.run import RunOptions
from counting.estimators.problem import Problem
from counting.estimators.result import Estimate
from counting.spec.errors import SpecError
from counting.spec.estimator import NNGPSettings
from counting.spec.model import ModelSpec
from counting.spec.prior import PriorSpec


def nngp_orthant(model: ModelSpec, prior: PriorSpec, truth_table: int, settings: NNGPSettings = NNGPSettings()
                 ) -> OrthantEstimate:
    """The NNGP volume of ``truth_table`` with all the orthant diagnostics."""
    signs = signs_of(truth_table, model.n_inputs).astype(np.float64)
    return orthant_probability(nngp_kernel(model, prior), signs, seed=settings.seed, n_qmc=settings.n_qmc,
                               replicates=settings.replicates)


def estimate(problem: Problem, settings: NNGPSettings, options: RunOptions = RunOptions()) -> Estimate:
    """The infinite-width volume of ``problem.target`` (a custom condition has no NNGP volume).

    The cost is in integrand evaluations (``n_qmc * replicates``); a volume that is 0 at every
    point (a non-threshold function of a perceptron) gives ``log10_volume = None`` and
    ``ci95 = (None, None)``. The job is short and keeps no checkpoint, but like every job it
    refuses a folder that holds another job's unfinished checkpoint.
    """
    if problem.target is None:
        raise SpecError("estimator.kind", "a target truth table for 'nngp'", "a custom condition")
    checkpoint.claim(options.out, options.resume)
    t0 = time.perf_counter()
    o = nngp_orthant(problem.model, problem.prior, problem.target.truth_table, settings)
    return Estimate(o.log10_value, tuple(o.ci95), o.value, "nngp", o.evaluations, "integrand_evaluations", None,
                    time.perf_counter() - t0, settings.seed, False,
                    {"limit": "infinite width", "replicates": o.replicates, "std_error": o.std_error,
                     "std_error_log10": o.std_error_log10, "replicate_log10": list(o.replicate_log10),
                     "rank": o.rank, "dimension": o.dimension, "tilted": o.tilted})
