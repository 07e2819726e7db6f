"""What the replicated rare-event estimators share: the replicate loop turned into an :class:`Estimate`,
and the settings a Python caller gets from a spec plus overrides.

Example:
    >>> from counting.spec import parse_spec, SubsetSettings
    >>> spec = parse_spec('[model]\\nn_inputs = 2\\n[target]\\nname = "and"\\n[estimator]\\nseed = 5')
    >>> settings_for(spec, SubsetSettings, particles=200)
    SubsetSettings(particles=200, p0=0.1, steps=10, kernel='ess', ess_shrinks=8, scale_moves=True, replicates=10, max_levels=200, seed=5, key_impl='threefry2x32', batch_replicates=0, kind='subset')
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax

import counting.engine.memory as memory
from counting.engine.run import RunOptions
from counting.estimators.problem import Problem
from counting.estimators.result import Estimate
from counting.models import describe_model, n_params
from counting.rare.coordinates import GaussianProblem, require_score
from counting.rare.replicates import run_replicate_batches, summarize_replicates
from counting.spec.estimator import SMCSettings, SubsetSettings, replace_settings, settings_dict
from counting.spec.job import Spec

RareSettings = SubsetSettings | SMCSettings


def replicated_estimate(problem: Problem, settings: RareSettings, options: RunOptions,
                        run: Callable[[Any, GaussianProblem, RareSettings], NamedTuple], record: type,
                        diagnostics: Callable[[list], dict], batch: int = 0) -> Estimate:
    """``settings.replicates`` runs of ``run(key, gaussian_problem, settings)`` (records of type
    ``record`` with ``log_p`` and ``evaluations``), summarised: the mean of the replicate estimates
    with its 95% t-interval in log10, the evaluations spent, and ``diagnostics(runs)`` next to the
    replicate values, their spread and how many reached the condition. ``batch > 0``:
    ``run(keys, gaussian_problem, settings) -> records`` takes ``batch`` replicates' keys per call."""
    settings = replace_settings(settings)  # validated as in a file
    # particles, their proposals and scores: a few copies of particles x parameters, refused before any work
    memory.check_floor(4 * 4 * max(batch, 1) * settings.particles * n_params(problem.model),
                       memory.available_bytes(jax.devices()),
                       f"{settings.particles} particles of {describe_model(problem.model)}", "estimator.particles",
                       "the particles")
    gp = GaussianProblem.of(problem.model, problem.prior, require_score(problem.condition, settings.kind))
    runs = (lambda keys: run(keys, gp, settings)) if batch else (lambda keys: [run(k, gp, settings) for k in keys])
    reps = run_replicate_batches(runs, record, settings.replicates, max(batch, 1),
                                 seed=settings.seed, key_impl=settings.key_impl, options=options,
                                 spec_json=Spec(problem.model, problem.prior, problem.target, settings).to_json(),
                                 kind=settings.kind)
    s = summarize_replicates([r.log_p for r in reps.runs])
    diag = {"kernel": settings.kernel, "replicates": len(reps.runs), "replicates_log10": list(s.replicates_log10),
            "replicate_sd_log10": s.replicate_sd_log10, "reached": s.reached, **diagnostics(reps.runs)}
    return Estimate(s.log10_volume, s.ci95, s.volume, settings.kind, sum(r.evaluations for r in reps.runs),
                    "network_evaluations", None, reps.seconds, settings.seed, False, diag)


def settings_for(spec: Spec, cls: type, **overrides) -> RareSettings:
    """The spec's settings if it is a job of ``cls``'s kind, else ``cls``'s defaults with the spec's
    seed; ``overrides`` replace fields by name, validated as in a file."""
    base = spec.estimator
    if not isinstance(base, cls):
        base = cls(**{k: v for k, v in settings_dict(base).items() if k in ("seed", "key_impl")})
    return replace_settings(base, **overrides)
