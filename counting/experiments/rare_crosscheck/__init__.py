"""Rare-event methods measured against each other on one network or several: the ``rare-crosscheck`` experiment kind.

Splitting estimators go wrong quietly where the moves mix poorly (biased low by orders of
magnitude, with a replicate spread far above the theoretical one), so a rare volume is trusted
where independent methods agree. This kind measures every ``[[target]]`` by every ``[[method]]``
on one ``[model]`` and ``[prior]`` (:mod:`~counting.experiments.rare_crosscheck.config`): each
method is an estimator of :data:`counting.estimators.ESTIMATORS` with its own ``[estimator]``
settings and its own seed, e.g. subset simulation (:mod:`counting.estimators.subset`, kernels
``elliptical_slice`` and ``pcn``) and tempered SMC (:mod:`counting.estimators.smc`, kernels
``hmc`` and ``mala``), whose replicates are checkpointed in the pass's work folder (a stopped run
resumes at the next replicate with the same numbers). An infinite-width (``nngp``) method gives
context, not a cross-check; ``mc`` or ``exact`` give the answer where it is reachable. A target no
method reaches can get fewer replicates and a cap on levels and stages (``[target.override]``):
its rows then record how far each method got (``mean_levels_or_stages``, and for SMC the
last-stage ``log10_upper_bound``, a bound only as far as the moves mixed).

One pass per (target, method), a job; one table, ``crosscheck``: a row per target and method with
the volume and its 95% interval, the replicates' spread and how many reached the target, the
levels or stages, the cost in ``evaluations`` (``cost_unit``: SMC counts a gradient as one) and
the seconds; ``crosscheck.md`` is the same table as text.

Several networks (``[[model]]`` tables, each named, with its own estimator overrides) measure the
same targets, resolved for each model's ``n_inputs``, on each: one pass per (model, target,
method), and the table's rows gain, after the columns above, the model's ``name``, ``n_inputs``,
hidden ``width`` and ``architecture`` and the readout's tail diagnostics (``khat``, its
threshold, ``reliable``, ``max_share``; :func:`model_columns`). The figure ``width.png``
(:mod:`~counting.experiments.rare_crosscheck.figures`) puts each (``n_inputs``, target)'s volumes
against the width beside the infinite-width (``nngp``) value: finite width against its limit.

Example:
    >>> from counting.experiments import parse_experiment, run_experiment
    >>> exp = parse_experiment('''
    ... [experiment]
    ... kind = "rare-crosscheck"
    ... [model]
    ... n_inputs = 2
    ... widths = []
    ... [[target]]
    ... name = "and"
    ... [[method]]
    ... [method.estimator]
    ... kind = "subset"
    ... particles = 200
    ... steps = 3
    ... replicates = 3
    ... [[method]]
    ... [method.estimator]
    ... kind = "nngp"
    ... n_qmc = 256
    ... replicates = 4
    ... ''')
    >>> [p.name for p in passes(exp)]
    ['and:subset-elliptical_slice', 'and:nngp']
    >>> t = run_experiment(exp, progress=False)["crosscheck"]
    >>> t[["method", "estimator", "seed", "reached"]].values.tolist()
    [['subset-elliptical_slice', 'subset', 0, 3.0], ['nngp', 'nngp', 1, nan]]
"""

from __future__ import annotations

import math
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from counting.engine.run import PassFacts, RunOptions
from counting.estimators import ESTIMATORS, Estimate, Problem
from counting.experiments.base.run import Kind, Pass
from counting.experiments.rare_crosscheck.config import (KIND, Experiment, Method, Model, from_dict, settings_for,
                                                         with_samples)
from counting.experiments.rare_crosscheck.figures import width_figure
from counting.io.files import atomic_write_bytes
from counting.mechanisms.predicates import computes
from counting.models import architecture, describe_model, has
from counting.spec.estimator import EstimatorSettings, MCSettings
from counting.spec.job import Spec
from counting.spec.target import Target

__all__ = ["EXPERIMENT", "KIND", "Experiment", "Model", "chunk_sizes", "crosscheck_row", "from_dict", "model_columns",
           "passes", "summary", "with_samples", "write_figures"]


def chunk_sizes(exp: Experiment) -> dict[str, int]:
    """The hit-or-miss methods' chunk sizes (``--batch-size`` must divide them), and a model's
    override of them."""
    out = {f"method[{i}].estimator.chunk_size": m.settings.chunk_size for i, m in enumerate(exp.methods)
           if isinstance(m.settings, MCSettings)}
    if out:
        out.update({f"model[{j}].override.chunk_size": m.override["chunk_size"] for j, m in enumerate(exp.models)
                    if "chunk_size" in m.override})
    return out


def estimate_job(problem: Problem, settings: EstimatorSettings):
    """One volume by ``settings.kind`` (:data:`counting.estimators.ESTIMATORS`) as a pass job,
    checkpointed in the pass's work folder."""

    def job(options: RunOptions) -> tuple[Estimate, PassFacts]:
        e = ESTIMATORS[settings.kind](problem, settings, options)
        rate = e.samples / e.seconds if e.seconds > 0 else math.nan
        return e, PassFacts(e.samples, 1, 1, 1, 1, 0, e.seconds, rate)

    return job


def crosscheck_row(target: Target, method: Method, settings: EstimatorSettings, e: Estimate) -> dict:
    """One row of ``crosscheck``: ``e``, the estimate of ``target`` by ``method`` with ``settings``
    (NaN where a column does not apply, or where no replicate reached the target)."""
    d = e.diagnostics
    nan = lambda v: np.nan if v is None else v  # noqa: E731
    cap = getattr(settings, "max_levels", getattr(settings, "max_stages", None))
    return {"target": target.name, "method": method.name, "estimator": settings.kind,
            "kernel": getattr(settings, "kernel", None), "seed": getattr(settings, "seed", None),
            "log10_volume": nan(e.log10_volume), "ci95_lo": nan(e.ci95[0]), "ci95_hi": nan(e.ci95[1]),
            "replicate_sd_log10": nan(d.get("replicate_sd_log10")), "replicates": nan(d.get("replicates")),
            "reached": nan(d.get("reached")),
            "mean_levels_or_stages": nan(d.get("mean_levels", d.get("mean_stages"))),
            "max_levels_or_stages": nan(cap), "log10_upper_bound": nan(d.get("log10_bound")),
            "evaluations": e.samples, "cost_unit": e.cost_unit, "seconds": e.seconds}


def model_columns(model: Model, e: Estimate) -> dict:
    """The columns a row gains when the experiment has several models (appended after
    :func:`crosscheck_row`'s): the model's ``name``, ``n_inputs``, ``width`` (its hidden width, 0
    for a perceptron, NaN for an architecture without one) and ``architecture``, and the tail
    diagnostics where the estimator gives them (the readout's Pareto ``khat``, its threshold,
    ``reliable`` and the largest network's share ``max_share``; NaN or None otherwise)."""
    arch = architecture(model.spec)
    if not has(arch, "width"):
        width = np.nan
    else:
        width = arch.width(model.spec) if not has(arch, "depth") or arch.depth(model.spec) > 0 else 0
    d = e.diagnostics
    nan = lambda v: np.nan if v is None else v  # noqa: E731
    return {"model": model.name, "n_inputs": model.spec.n_inputs, "width": width,
            "architecture": describe_model(model.spec), "khat": nan(d.get("khat")),
            "khat_threshold": nan(d.get("khat_threshold")), "reliable": d.get("reliable"),
            "max_share": nan(d.get("max_share"))}


def crosscheck_tables(target: Target, method: Method, settings: EstimatorSettings, model: Model | None, e: Estimate,
                      facts: PassFacts) -> dict[str, pd.DataFrame]:
    row = crosscheck_row(target, method, settings, e)
    if model is not None:
        row.update(model_columns(model, e))
    return {"crosscheck": pd.DataFrame([row])}


def passes(exp: Experiment) -> tuple[Pass, ...]:
    """One job per target and method, in the config's order (targets outer); with several models,
    per model, target and method (models outermost), each pass named ``model:target:method``."""
    out = []
    cells = [(None, exp.model, exp.targets)] if not exp.models else [(m, m.spec, m.targets) for m in exp.models]
    for model, spec, targets in cells:
        for ti, target in enumerate(targets):
            problem = Problem(spec, exp.prior, computes(target.truth_table, spec.n_inputs), target)
            for m in exp.methods:
                s = settings_for(exp, ti, m, model)
                name, about = f"{target.name}:{m.name}", {"target": target.name, "method": m.name}
                if model is not None:
                    name, about = f"{model.name}:{name}", {"model": model.name, **about}
                out.append(Pass(name, Spec(spec, exp.prior, target, s), None, None, about, estimate_job(problem, s),
                                tables=partial(crosscheck_tables, target, m, s, model)))
    return tuple(out)


def write_figures(tables: dict[str, pd.DataFrame], out: Path, spec=None) -> list[str]:
    """``crosscheck.md``: the table as text; with several models (a ``model`` column) also
    ``width.png`` (:func:`~counting.experiments.rare_crosscheck.figures.width_figure`)."""
    t = tables["crosscheck"]
    atomic_write_bytes(Path(out) / "crosscheck.md", (t.to_string(index=False) + "\n").encode())
    if "model" not in t.columns:
        return ["crosscheck.md"]
    prior = ((spec or {}).get("experiment") or {}).get("prior")
    return ["crosscheck.md", width_figure(t, Path(out) / "width.png", prior)]


def summary(exp: Experiment, tables: dict[str, pd.DataFrame]) -> str:
    """What ``counting run`` prints: each target's volume by each method (on each model)."""
    t = tables["crosscheck"]
    cols = ["target", "method", "log10_volume", "ci95_lo", "ci95_hi", "replicate_sd_log10", "reached",
            "mean_levels_or_stages", "log10_upper_bound", "evaluations"]
    if "model" in t.columns:
        cols = ["model"] + cols + ["khat", "reliable"]
    return t[cols].round(3).to_string(index=False)


EXPERIMENT = Kind(KIND, from_dict, with_samples, chunk_sizes, passes, write_figures, summary)
