"""Hit-or-miss with shared draws: each draw of an MLP's hidden layers serves ``readouts_per_draw`` readouts.

With ``[estimator] readouts_per_draw = R`` (``R > 1``; the default 1 is plain :mod:`~counting.estimators.mc`),
``samples`` networks are ``samples / R`` hidden draws times ``R`` readouts, each readout's weights
and bias drawn fresh from the prior (keys in :mod:`counting.engine.readouts`). Every pair is an
exact draw from the prior, so ``hits / samples`` is unbiased; pairs that share hidden layers are
correlated, so the interval treats hidden draws as clusters: the design effect ``deff`` (cluster
variance over binomial variance, :func:`counting.stats.cluster_design_effect`), ``samples / deff``
effective samples, and the Korn-Graubard interval (:func:`counting.stats.cluster_interval`); with
zero hits, the one-sided bound over the hidden draws, valid whatever the correlation. The chunks
of the pass count hidden draws (``chunk_size`` of them each).

``diagnostics`` holds ``readouts_per_draw``, ``clusters`` (hidden draws), ``design_effect``,
``effective_samples``, ``effective_samples_per_second``, ``networks_per_second`` (pairs) and the
histogram ``hits_per_cluster`` (``[k, clusters with k hits]`` for each ``k`` seen).

Example:
    >>> from counting.spec import parse_spec
    >>> spec = parse_spec('''
    ... [model]
    ... n_inputs = 2
    ... widths = [4]
    ... [target]
    ... name = "and"
    ... [estimator]
    ... samples = 8192
    ... chunk_size = 512
    ... readouts_per_draw = 16
    ... ''')
    >>> est = estimate(Problem.of(spec), spec.estimator)
    >>> est.samples, est.diagnostics["clusters"], est.diagnostics["design_effect"] > 1
    (8192, 512, True)
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping

import numpy as np

from counting.engine.readouts import ClusterHits, SharedReadouts, widened
from counting.engine.run import RunOptions, run_pass
from counting.estimators.problem import Problem
from counting.estimators.result import Estimate
from counting.models import architecture, kinds_with
from counting.spec.errors import SpecError
from counting.spec.estimator import MCSettings
from counting.spec.job import Spec
from counting.stats import cluster_design_effect, cluster_interval, log10_or_none


def check_shared(problem: Problem, settings: MCSettings) -> None:
    """Shared draws need an architecture whose readout is drawn apart (an MLP), two hidden draws at least
    and keyed draws: a one-line error otherwise."""
    if not architecture(problem.model).shared_readouts:
        kinds = ", ".join(map(repr, kinds_with("shared_readouts")))
        raise SpecError("estimator.readouts_per_draw", f"1 for a model of kind other than {kinds}",
                        settings.readouts_per_draw)
    if settings.samples < 2 * settings.readouts_per_draw:  # a cluster variance needs two clusters
        raise SpecError("estimator.samples", f"at least 2 * readouts_per_draw = {2 * settings.readouts_per_draw}",
                        settings.samples)
    if getattr(settings, "sampler", "threefry") != "threefry":
        raise SpecError("estimator.readouts_per_draw", "1 with sampler other than 'threefry'",
                        settings.readouts_per_draw)


def pass_spec(problem: Problem, settings: MCSettings) -> Spec:
    """The spec of the pass: the widened model, one "sample" per hidden draw (its identity in checkpoints)."""
    clusters = dataclasses.replace(settings, samples=settings.samples // settings.readouts_per_draw)
    return Spec(widened(problem.model, settings.readouts_per_draw), problem.prior, problem.target, clusters)


def cluster_estimate(hist: np.ndarray, *, seconds: float = 0.0, seed: int | None = 0,
                     diagnostics: Mapping[str, Any] | None = None, conf: float = 0.95) -> Estimate:
    """The estimate from ``hist[k]`` (clusters with ``k`` hits out of ``R = len(hist) - 1``)."""
    hist = np.asarray(hist, np.int64)
    r, clusters = len(hist) - 1, int(hist.sum())
    samples, hits = clusters * r, int((np.arange(r + 1) * hist).sum())
    deff = cluster_design_effect(hist)
    lo, hi = cluster_interval(hist, conf)
    eff = samples / deff
    diag = {"readouts_per_draw": r, "clusters": clusters, "design_effect": deff, "effective_samples": eff,
            "effective_samples_per_second": eff / seconds if seconds > 0 else math.nan,
            "hits_per_cluster": [[int(k), int(c)] for k, c in enumerate(hist) if c], **dict(diagnostics or {})}
    return Estimate(log10_or_none(hits / samples), (log10_or_none(lo), math.log10(hi)), hits / samples, "mc",
                    samples, "networks", hits, seconds, seed, hits == 0, diag)


def estimate(problem: Problem, settings: MCSettings, options: RunOptions = RunOptions()) -> Estimate:
    """Hit-or-miss volume of ``problem.condition`` over ``settings.samples`` (hidden draw, readout) pairs."""
    check_shared(problem, settings)
    tally = ClusterHits(problem.condition, problem.model, settings.readouts_per_draw)
    spec = pass_spec(problem, settings)
    facts = run_pass(spec, tally, options, source=SharedReadouts(Spec(problem.model, problem.prior, None, settings),
                                                                 settings.readouts_per_draw))
    return cluster_estimate(tally.finalize(), seconds=facts.seconds, seed=settings.seed,
                            diagnostics={"chunks": facts.chunks, "resumed_from_chunk": facts.resumed_from_chunk,
                                         "networks_per_second": facts.networks_per_second
                                         * settings.readouts_per_draw})
