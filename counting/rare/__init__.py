"""Rare-event volumes: subset simulation and tempered SMC, built from shared pieces.

Both methods work in the prior's standard Gaussian coordinates and share:

* :mod:`~counting.rare.coordinates`: the problem there (:class:`GaussianProblem`: score, holds,
  energy gradient, weight groups), built once per estimate;
* :mod:`~counting.rare.kernels`: move kernels ``step(key, particles, target, ...)`` (``pcn``,
  ``elliptical_slice``, ``rescaling``, ``hmc``, ``mala``) for either target, a level (:class:`Level`) or a
  tempered prior (:class:`Tempered`);
* :mod:`~counting.rare.replicates`: the replicate loop (keys, progress, checkpoints), one
  replicate or a batch of them per call, and the replicate summary.

:mod:`~counting.rare.subset` and :mod:`~counting.rare.smc` each write their method once, as
pure ``init`` / ``step`` / ``active`` functions on a NamedTuple state (:class:`~counting.rare.drive.Method`),
and :mod:`~counting.rare.drive` runs either from the host (a Python loop over stages) or on the
device (a ``lax.while_loop``), replicates batched with ``vmap``, with the same numbers:
``subset_run(key, problem, settings)`` and ``smc_run(key, ...)`` step one run from the host,
``subset_runs(keys, ...)`` and ``smc_runs(keys, ...)`` a batch on the device (``settings`` from
:mod:`counting.spec.estimator`). The estimators ``subset`` and ``smc``
(:mod:`counting.estimators.subset`, :mod:`counting.estimators.smc`) replicate them.

Example:
    >>> import math
    >>> from counting.spec import MLPSpec, ScaledPrior, SubsetSettings
    >>> from counting.mechanisms.predicates import computes
    >>> problem = GaussianProblem.of(MLPSpec(n_inputs=2, widths=()), ScaledPrior(), computes(0x8, 2))
    >>> settings = SubsetSettings(particles=300, steps=4, replicates=4)
    >>> reps = run_replicates(lambda key: subset_run(key, problem, settings), SubsetRun, 4, seed=0)
    >>> s = summarize_replicates([r.log_p for r in reps.runs])
    >>> -1.8 < s.log10_volume < -1.0, s.reached       # exact: log10(1/24) = -1.380
    (True, 4)
"""

from counting.rare.conditional import ShareSummary, share_summary
from counting.rare.coordinates import GaussianProblem, gaussian_to_params, weight_groups
from counting.rare.drive import Method, on_device, on_host
from counting.rare.kernels import Level, Particles, Tempered, elliptical_slice, hmc, mala, pcn, rescaling
from counting.rare.replicates import (ReplicateSummary, Replicates, combine_replicates, replicate_key, replicate_keys,
                                      run_replicate_batches, run_replicates, summarize_replicates)
from counting.rare.smc import SMCRun, SMCSample, next_beta, smc_run, smc_runs, smc_sample, smc_samples
from counting.rare.subset import SubsetRun, SubsetSample, subset_run, subset_runs, subset_sample, subset_samples

__all__ = ["GaussianProblem", "Level", "Method", "on_device", "on_host", "Particles", "ReplicateSummary", "Replicates", "SMCRun", "SMCSample", "ShareSummary", "SubsetRun", "SubsetSample",
           "Tempered", "combine_replicates", "elliptical_slice", "gaussian_to_params", "hmc", "mala", "next_beta", "pcn",
           "replicate_key", "replicate_keys", "share_summary", "rescaling", "run_replicate_batches",
           "run_replicates", "smc_run", "smc_runs", "smc_sample", "smc_samples",
           "subset_run", "subset_runs", "subset_sample", "subset_samples", "summarize_replicates",
           "weight_groups"]
