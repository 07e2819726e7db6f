"""The one replicate path of the rare-event estimators: replicates run, checkpointed, classified and summarised.

:func:`replicate_runs` runs ``settings.replicates`` independent runs of the method ``settings.kind``
(``smc`` or ``subset``, :data:`METHODS`; replicate ``r`` from ``fold_in(key(seed), r)``,
``batch_replicates`` at a time on the device if not 0), checkpointed as they finish; with a
:class:`Classifier` each run also returns the networks of its last population that satisfy the
condition, and the classifier counts, per column, how many of them have a property (a route, a
placement, a llama held...): the record then carries ``solutions`` and ``counts``.
:func:`replicated_estimate` summarises the runs as an :class:`Estimate` (the mean of the replicate
estimates with its 95% t-interval in log10, the method's own diagnostics, and, with a classifier,
each replicate's solutions and counts and the shares with their interval over replicates,
:func:`counting.rare.conditional.share_summary`). Every caller that needs a rare volume, or shares
among its solutions, goes through here, by ``ESTIMATORS[kind]``.

Example:
    >>> import numpy as np
    >>> from counting.spec import parse_spec, SubsetSettings
    >>> spec = parse_spec('[model]\\nn_inputs = 2\\n[target]\\nname = "and"\\n[estimator]\\nseed = 5')
    >>> settings_for(spec, SubsetSettings, particles=200)
    SubsetSettings(particles=200, p0=0.1, steps=10, kernel='elliptical_slice', slice_shrinks=8, scale_moves=True, replicates=10, max_levels=200, seed=5, key_impl='threefry2x32', batch_replicates=0, kind='subset')
    >>> sign = Classifier("first weight positive", ("w0 > 0",), lambda g: np.array([(g[:, 0] > 0).sum()]))
    >>> spec = parse_spec('[model]\\nn_inputs = 2\\nwidths = []\\n[target]\\nname = "and"')
    >>> est = replicated_estimate(Problem.of(spec), SubsetSettings(particles=200, steps=4, replicates=4), classifier=sign)
    >>> est.diagnostics["shares"]["w0 > 0"], est.diagnostics["reached"]    # AND needs a positive weight
    (1.0, 4)
"""

from __future__ import annotations

import functools
import math
from typing import Callable, NamedTuple

import jax
import numpy as np

import counting.engine.memory as memory
from counting.engine.run import RunOptions
from counting.estimators.problem import Problem
from counting.estimators.result import Estimate
from counting.models import describe_model, n_params
from counting.rare.conditional import share_summary
from counting.rare.coordinates import GaussianProblem, require_score
from counting.rare.replicates import Replicates, run_replicate_batches, summarize_replicates
from counting.rare.smc import SMCRun, smc_run, smc_runs, smc_sample, smc_samples
from counting.rare.subset import SubsetRun, subset_run, subset_runs, subset_sample, subset_samples
from counting.spec.estimator import SMCSettings, SubsetSettings, replace_settings, settings_dict
from counting.spec.job import Spec

RareSettings = SubsetSettings | SMCSettings


class Classifier(NamedTuple):
    """Counts properties of a condition's solutions: ``count(coords) -> int array [len(columns)]``,
    how many of the networks (Gaussian coordinates ``[m, n_params]``) have each property; or, where
    ``count`` returns floats, the sum over the networks of a quantity per network (kept as float64,
    e.g. each network's ``P(f | hidden)``, :mod:`counting.estimators.hidden_event`). ``name`` enters
    the checkpoint's identity, so a classified job never resumes an unclassified one."""

    name: str
    columns: tuple[str, ...]
    count: Callable[[np.ndarray], np.ndarray]


class RareMethod(NamedTuple):
    """A rare-event method's run functions (one key, stepped from the host; a batch of keys on the
    device), with and without the last population, and its record type."""

    run: Callable
    runs: Callable
    sample: Callable
    samples: Callable
    record: type


METHODS = {"smc": RareMethod(smc_run, smc_runs, smc_sample, smc_samples, SMCRun),
           "subset": RareMethod(subset_run, subset_runs, subset_sample, subset_samples, SubsetRun)}


@functools.cache
def classified_record(record: type) -> type:
    """``record``'s fields, then ``solutions`` (networks of the last population satisfying the
    condition) and ``counts`` (a :class:`Classifier`'s counts over them)."""
    fields = [(f, record.__annotations__[f]) for f in record._fields] + [("solutions", int), ("counts", tuple)]
    return NamedTuple(f"Classified{record.__name__}", fields)


def classify_samples(samples: list, classifier: Classifier) -> list:
    """Each sample's record with its solutions counted by ``classifier``."""
    out = []
    for s in samples:
        coords = np.asarray(s.coords)
        counts = np.asarray(classifier.count(coords)) if len(coords) else np.zeros(len(classifier.columns), np.int64)
        if counts.shape != (len(classifier.columns),):
            raise ValueError(f"{classifier.name}: expected {len(classifier.columns)} counts, got shape {counts.shape}")
        sums = np.issubdtype(counts.dtype, np.floating)
        values = tuple(float(c) for c in counts.astype(np.float64)) if sums else tuple(int(c) for c in counts.astype(np.int64))
        out.append(classified_record(type(s.run))(*s.run, len(coords), values))
    return out


def replicate_runs(problem: Problem, settings: RareSettings, options: RunOptions = RunOptions(),
                   classifier: Classifier | None = None) -> Replicates:
    """``settings.replicates`` runs of ``settings.kind`` on ``problem.condition``, checkpointed in
    ``options.out`` (identity: the spec and the kind, with the classifier's name if any)."""
    settings = replace_settings(settings)  # validated as in a file
    batch = settings.batch_replicates
    # particles, their proposals and scores: a few copies of particles x parameters, refused before any work
    memory.check_floor(4 * 4 * max(batch, 1) * settings.particles * n_params(problem.model),
                       memory.available_bytes(jax.devices()),
                       f"{settings.particles} particles of {describe_model(problem.model)}", "estimator.particles",
                       "the particles")
    gp = GaussianProblem.of(problem.model, problem.prior, require_score(problem.condition, settings.kind))
    m = METHODS[settings.kind]
    if classifier is None:
        record = m.record
        runs = (lambda keys: m.runs(keys, gp, settings)) if batch else (lambda keys: [m.run(k, gp, settings) for k in keys])
    else:
        record = classified_record(m.record)
        draw = (lambda keys: m.samples(keys, gp, settings)) if batch else (lambda keys: [m.sample(k, gp, settings) for k in keys])
        runs = lambda keys: classify_samples(draw(keys), classifier)
    kind = settings.kind if classifier is None else f"{settings.kind}:{classifier.name}"
    return run_replicate_batches(runs, record, settings.replicates, max(batch, 1),
                                 seed=settings.seed, key_impl=settings.key_impl, options=options,
                                 spec_json=Spec(problem.model, problem.prior, problem.target, settings).to_json(),
                                 kind=kind)


def method_diagnostics(kind: str, runs: list) -> dict:
    """What each method reports of its runs: SMC the mean number of stages and ``log10_bound``
    (the largest last-stage ``log10 Z_b``: an upper bound on the volume as far as the moves mixed);
    subset simulation the mean number of levels."""
    if kind == "smc":
        return {"mean_stages": float(np.mean([r.stages for r in runs])),
                "log10_bound": float(max(r.log_z / math.log(10) for r in runs))}
    return {"mean_levels": float(np.mean([r.levels for r in runs]))}


def replicates_estimate(kind: str, log_ps: list[float], evaluations: int, *, seconds: float = 0.0,
                        seed: int | None = None, kernel: str | None = None, extra: dict | None = None) -> Estimate:
    """Replicate estimates (natural logs; ``-inf``: the replicate never reached the condition) as an
    :class:`Estimate`: their mean with its 95% t-interval in log10
    (:func:`counting.rare.replicates.summarize_replicates`), ``evaluations`` network evaluations,
    and the diagnostics every replicated estimate has (``kernel`` when given, ``replicates``,
    ``replicates_log10``, ``replicate_sd_log10``, ``reached``), then ``extra``."""
    s = summarize_replicates(list(log_ps))
    diag = {} if kernel is None else {"kernel": kernel}
    diag |= {"replicates": len(log_ps), "replicates_log10": list(s.replicates_log10),
             "replicate_sd_log10": s.replicate_sd_log10, "reached": s.reached, **(extra or {})}
    return Estimate(s.log10_volume, s.ci95, s.volume, kind, int(evaluations), "network_evaluations", None, seconds,
                    seed, False, diag)


def summarize_runs(settings: RareSettings, reps: Replicates, classifier: Classifier | None = None) -> Estimate:
    """Replicate runs as an :class:`Estimate` (:func:`replicates_estimate`) with the method's
    diagnostics (:func:`method_diagnostics`); with a classifier, ``columns``, each replicate's
    ``solutions`` and ``counts``, and the shares of each column among the solutions with their 95%
    intervals over replicates (``shares``, ``shares_ci95``)."""
    extra = method_diagnostics(settings.kind, reps.runs)
    if classifier is not None:
        solutions, counts = [r.solutions for r in reps.runs], [list(r.counts) for r in reps.runs]
        shares = share_summary(solutions, counts, classifier.columns)
        extra |= {"columns": list(classifier.columns), "solutions": solutions, "counts": counts,
                  "shares": shares.shares, "shares_ci95": shares.ci95}
    return replicates_estimate(settings.kind, [r.log_p for r in reps.runs], sum(r.evaluations for r in reps.runs),
                               seconds=reps.seconds, seed=settings.seed, kernel=settings.kernel, extra=extra)


def replicated_estimate(problem: Problem, settings: RareSettings, options: RunOptions = RunOptions(),
                        classifier: Classifier | None = None) -> Estimate:
    """The volume of ``problem.condition`` by ``settings.kind``: :func:`replicate_runs`, then
    :func:`summarize_runs`."""
    settings = replace_settings(settings)
    return summarize_runs(settings, replicate_runs(problem, settings, options, classifier), classifier)


def settings_for(spec: Spec, cls: type, **overrides) -> RareSettings:
    """The spec's settings if it is a job of ``cls``'s kind, else ``cls``'s defaults with the spec's
    seed; ``overrides`` replace fields by name, validated as in a file."""
    base = spec.estimator
    if not isinstance(base, cls):
        base = cls(**{k: v for k, v in settings_dict(base).items() if k in ("seed", "key_impl")})
    return replace_settings(base, **overrides)
