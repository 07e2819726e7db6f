"""The readout integrated out, tempered over the hidden layers: replicated runs of
:func:`counting.rare.readout_smc.readout_smc_runs`.

For the deep tail, where plain conditional Monte Carlo (``readout``) is carried by a few networks
and its Pareto k-hat says so. Replicate ``r`` runs from ``fold_in(key(seed), r)`` through the
replicate path every rare-event estimator shares (:func:`counting.rare.replicates.run_replicate_batches`:
checkpointed after each batch, resumable to the same numbers); the volume is the mean of the
replicates' unbiased estimates with its 95% Student-t interval in log10
(:func:`counting.estimators.replicated.replicates_estimate`). The cost is counted in orthant
probabilities (one per network evaluation: a hidden forward pass and a QMC orthant). Diagnostics
beside the replicates': the mean number of stages, the moves' mean acceptance, ``log10_bound``
(the largest last-stage ``log10 Z_b``; an upper bound, as far as the moves mixed, for a run that
stopped below ``b = 1``), and the final correction's log10 and effective sample fraction, worst
over replicates (the surrogate's quality: a correction far from 0, or a fraction near 0, says the
fixed QMC shifts misjudged the networks the population reached).

Example:
    >>> from counting.spec import parse_spec
    >>> spec = parse_spec('''
    ... [model]
    ... n_inputs = 2
    ... widths = []
    ... [target]
    ... name = "and"
    ... [estimator]
    ... kind = "readout_smc"
    ... particles = 32
    ... steps = 1
    ... slice_shrinks = 2
    ... replicates = 2
    ... ''')
    >>> est = estimate(Problem.of(spec), spec.estimator)
    >>> est.estimator, round(est.log10_volume, 2), est.diagnostics["reached"]   # exact: log10(1/24) = -1.38
    ('readout_smc', -1.38, 2)
"""

from __future__ import annotations

import math

import numpy as np

from counting.engine.run import RunOptions
from counting.estimators.problem import Problem
from counting.estimators.readout import check_readout
from counting.estimators.replicated import replicates_estimate
from counting.estimators.result import Estimate
from counting.rare.readout_smc import ReadoutSMCRun, readout_smc_runs
from counting.rare.replicates import run_replicate_batches
from counting.spec.estimator import ReadoutSMCSettings, replace_settings
from counting.spec.job import Spec

KIND = "readout_smc"


def diagnostics(runs: list[ReadoutSMCRun]) -> dict:
    """What the method reports beyond the replicates (see the module docstring)."""
    reached = [r for r in runs if np.isfinite(r.log_p)]
    return {"mean_stages": float(np.mean([r.stages for r in runs])),
            "acceptance": float(np.mean([r.acceptance for r in runs])),
            "log10_bound": float(max(r.log_z / math.log(10) for r in runs)),
            "worst_log10_correction": float(max((abs(r.log10_correction) for r in reached), default=math.nan)),
            "worst_correction_ess": float(min((r.correction_ess for r in reached), default=math.nan))}


def estimate(problem: Problem, settings: ReadoutSMCSettings, options: RunOptions = RunOptions(),
             points: tuple[int, ...] | None = None) -> Estimate:
    """``V(f)`` (or, with ``points``, the volume of "agrees with f on ``points``") from
    ``settings.replicates`` runs, ``settings.batch_replicates`` at a time on the device if not 0."""
    settings = replace_settings(settings)
    check_readout(problem, settings)
    tt, batch = problem.target.truth_table, settings.batch_replicates

    def runs(keys):
        return readout_smc_runs(keys, problem.model, problem.prior, tt, settings, points, device=bool(batch))

    reps = run_replicate_batches(runs, ReadoutSMCRun, settings.replicates, max(batch, 1), seed=settings.seed,
                                 key_impl=settings.key_impl, options=options,
                                 spec_json=Spec(problem.model, problem.prior, problem.target, settings).to_json(),
                                 kind=KIND if points is None else f"{KIND}:points:{','.join(map(str, points))}")
    return replicates_estimate(KIND, [r.log_p for r in reps.runs], sum(r.evaluations for r in reps.runs),
                               seconds=reps.seconds, seed=settings.seed, extra=diagnostics(list(reps.runs)))
