"""Jobs: a spec in, a result folder out. ``volume_job`` is an estimator lookup and a write;
``census_job`` is a counting pass with the census tally and a write.

Every file of a result folder is written atomically (:mod:`counting.io.files`) with a manifest of
its provenance (:mod:`counting.io.manifest`); a job's checkpoint is removed once its result is on
disk.

Example:
    >>> from counting.spec import parse_spec
    >>> spec = parse_spec("[model]\\nn_inputs=2\\nwidths=[]\\n[estimator]\\nsamples=3000\\nchunk_size=1024",
    ...                   need_target=False)
    >>> c, facts = census_job(spec)
    >>> c.samples, c.distinct <= 14, facts.chunks
    (3000, True, 3)
"""

from __future__ import annotations

from numbers import Number
from pathlib import Path

import pandas as pd

import counting.engine.checkpoint as checkpoint
from counting.engine.census import Census
from counting.engine.enumeration import Enumeration, enumerated_spec
from counting.engine.run import PassFacts, RunOptions, check_resume, run_pass
from counting.engine.spill import SPILL_FOLDER
from counting.engine.tally import CensusTally
from counting.estimators import ESTIMATORS
from counting.estimators.problem import Problem
from counting.estimators.result import Estimate
from counting.io.files import write_json, write_parquet
from counting.io.manifest import manifest
from counting.mechanisms.predicates import Predicate
from counting.spec.errors import SpecError
from counting.spec.job import Spec
from counting.training.data import agrees_on_set, training_points
from counting.training.posterior import given_s_frame
from counting.training.source import trained_source
from counting.training.tally import TrainingTally


def volume_row(est: Estimate, target: str | None) -> dict:
    """One table row: the target, then the estimate's columns (:meth:`Estimate.columns`: its scalar
    fields, its interval as two columns, its scalar diagnostics)."""
    columns = est.columns()
    columns.pop("target", None)  # a diagnostic of that name never replaces the target
    return {"target": target, **columns}


def _write(out: Path | None, kind: str, spec: Spec, table: pd.DataFrame, run: dict, result: dict) -> None:
    if out is None:
        return
    name = f"{kind}.parquet"
    write_parquet(Path(out) / name, table)
    m = manifest(kind, spec.to_dict(), run, {"seconds": run["seconds"]}, [name])
    m["result"] = result
    write_json(Path(out) / "manifest.json", m)
    checkpoint.clear(out)


def volume_job(spec: Spec, condition: Predicate | None = None, options: RunOptions = RunOptions()) -> Estimate:
    """The volume of ``condition`` (default: "computes the spec's target") by the spec's estimator;
    with ``options.out``, ``volume.parquet`` and ``manifest.json`` are written there."""
    if spec.training is not None:
        raise SpecError("training", "no [training] section for a volume job (count trained networks with "
                        "`counting census`)", "a [training] section")
    check_resume(options)
    problem = Problem.of(spec, condition)
    est = ESTIMATORS[spec.estimator.kind](problem, spec.estimator, options)
    target = None if problem.target is None else problem.target.hex
    run = {"estimator": est.estimator, "samples": est.samples, "cost_unit": est.cost_unit, "seconds": est.seconds,
           **{k: v for k, v in est.diagnostics.items() if isinstance(v, (Number, str, bool))}}
    _write(options.out, "volume", spec, pd.DataFrame([volume_row(est, target)]), run,
           {**est.as_dict(), "target": target})
    return est


def census_job(spec: Spec, options: RunOptions = RunOptions(), where: Predicate | None = None,
               memory: int | None = None) -> tuple[Census, PassFacts]:
    """Exact counts of every function computed by the spec's networks (``mc``) or configurations
    (``exact``), and the facts of the pass.

    With ``where`` (a predicate such as "layer 1 holds AND") only the networks satisfying it are
    counted, so each function's volume is the volume of "computes f and ``where``": the counts sum
    to the networks satisfying ``where``, while ``samples`` stays the number of networks drawn.
    ``memory``: bytes of distinct functions held before they spill to ``census-runs`` in
    ``options.out`` (see :class:`~counting.engine.tally.CensusTally`).

    With ``[training]`` every network is trained on S first (:mod:`counting.training`), and the
    manifest's result records S and how the runs went (``training``: runs, fitted, fitted_share,
    mean_steps, ...); with ``condition_on_train`` (or ``posterior``) only the networks agreeing with
    the target on S are counted and the table gains P(f | S) columns
    (:func:`counting.training.posterior.given_s_frame`).
    """
    kind = spec.estimator.kind
    if kind not in ("mc", "exact"):
        raise SpecError("estimator.kind", "'mc' or 'exact' for a census", kind)
    if getattr(spec.estimator, "readouts_per_draw", 1) != 1:  # shared draws are for volumes; a census counts networks
        raise SpecError("estimator.readouts_per_draw", "1 for a census (shared draws apply to volume jobs)",
                        spec.estimator.readouts_per_draw)
    check_resume(options)
    exact = kind == "exact"
    run_spec, source = (enumerated_spec(spec), Enumeration(spec)) if exact else (spec, trained_source(spec))
    est = run_spec.estimator
    spill = None if options.out is None else Path(options.out) / SPILL_FOLDER
    training = spec.training
    if training is not None and training.condition_on_train:  # only the networks that agree on S
        on_s, inner = agrees_on_set(spec), where
        where = on_s if inner is None else (lambda fwd: inner(fwd) & on_s(fwd))
    tally = CensusTally(spec.model.n_inputs, est.chunk_size, est.samples, where, exact, memory, spill)
    runs = TrainingTally(tally) if training is not None and not training.posterior else None
    facts = run_pass(run_spec, runs or tally, options, source)
    census = tally.finalize()
    summary = {"samples": census.samples, "distinct": census.distinct, "exact": exact,
               "top": census.top(10).to_dict(orient="records")}
    table = census.frame()
    if training is not None:
        summary["train_points"] = training_points(training, spec.model.n_inputs).tolist()
        summary["kept"] = census.kept
        if runs is not None:
            summary["training"] = runs.facts().as_dict()
        if training.condition_on_train:
            table = given_s_frame(census)
    _write(options.out, "census", spec, table, facts.as_dict(), summary)
    tally.cleanup()
    return census, facts


def estimate_volume(spec: Spec, condition: Predicate | None = None, options: RunOptions = RunOptions()
                    ) -> Estimate:
    """:func:`volume_job` (an alias kept for the notebooks' and users' scripts)."""
    return volume_job(spec, condition, options)


def run_census(spec: Spec, options: RunOptions = RunOptions(), where: Predicate | None = None) -> Census:
    """:func:`census_job` without the facts of the pass."""
    return census_job(spec, options, where)[0]
