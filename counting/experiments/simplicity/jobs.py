"""The simplicity experiment's jobs that are not counting passes: rare classes and the ladder's estimators.

* :func:`class_job`: after a census pass, one row per NPN class: the census volume, tempered SMC
  (and, with ``[volumes.readout]``, the readout-integrated estimate) for the classes the census saw
  fewer than ``min_hits`` times (and for ``crosscheck`` classes above that, so the methods meet
  where all apply), and the infinite-width (NNGP) value; :func:`chosen_columns` publishes one of
  them per class.
* :func:`estimator_job`: one volume of one target by ``smc``, ``subset``, ``nngp`` or ``readout``.

Each estimate runs in its own subfolder of the pass's work folder, so a stopped job resumes at the
next replicate. Seeds are derived from the experiment's seed and the estimate's name
(:func:`derived_seed`), so no two estimates share a key.

Example:
    >>> derived_seed(0, "volumes", 4, "relu-40-40", 12) == derived_seed(0, "volumes", 4, "relu-40-40", 12)
    True
    >>> seeded(NNGPSettings(n_qmc=256), 7)
    NNGPSettings(n_qmc=256, replicates=16, seed=7, kind='nngp')
    >>> derived_seed(0, "a") != derived_seed(0, "b")
    True
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from counting.analytic.kernel import NNGP_ACTIVATIONS
from counting.engine.run import PassFacts, RunOptions
from counting.engine.tally import CensusTally
from counting.estimators import Problem, estimate
from counting.estimators.readout import estimate_many
from counting.estimators.result import INTERVAL_COLUMNS, Estimate
from counting.experiments.simplicity.classes import class_volumes
from counting.mechanisms.predicates import computes
from counting.spec.estimator import EstimatorSettings, NNGPSettings, ReadoutSettings, SMCSettings
from counting.spec.model import ModelSpec
from counting.spec.prior import PriorSpec
from counting.spec.target import Target


def derived_seed(seed: int, *name: Any) -> int:
    """A seed for one named estimate: a hash of the experiment's seed and the name, below 2**31."""
    text = "|".join(str(x) for x in (seed, *name))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little") >> 1


def seeded(settings: EstimatorSettings, seed: int) -> EstimatorSettings:
    """A part's estimator settings (``[ladder.smc]``, say) with one estimate's derived seed."""
    return dataclasses.replace(settings, seed=seed)


def one_estimate(model: ModelSpec, prior: PriorSpec, tt: int, settings, options: RunOptions,
                 folder: str) -> Estimate:
    """The volume of "computes ``tt``" by ``settings.kind``, checkpointed in ``options.out / folder``."""
    n = model.n_inputs
    sub = None if options.out is None else Path(options.out) / folder
    opts = dataclasses.replace(options, out=sub)
    return estimate(Problem(model, prior, computes(tt, n), Target(tt, n)), settings, opts)


def estimate_columns(e: Estimate | None, prefix: str = "") -> dict:
    """``<prefix>log10_volume``, ``<prefix>ci95_lo``, ``<prefix>ci95_hi`` of an estimate
    (:meth:`Estimate.columns`; NaN where unknown: no estimate, no hit, or an unbounded end)."""
    if e is None:
        return {f"{prefix}{k}": np.nan for k in INTERVAL_COLUMNS}
    return {k: np.nan if v is None else v for k, v in e.columns(prefix, INTERVAL_COLUMNS).items()}


RARE_METHODS = ("smc", "readout")


def published_method(counts: np.ndarray, min_hits: int, readout_reliable: np.ndarray | None) -> np.ndarray:
    """Which estimate each class publishes: ``census`` where the census saw at least ``min_hits``
    pooled hits; else ``readout`` where a readout estimate exists and its diagnostics call it
    reliable (k-hat below its threshold), else ``smc``.

    >>> published_method(np.array([50, 1, 0]), 3, np.array([False, True, False])).tolist()
    ['census', 'readout', 'smc']
    """
    rare = np.asarray(counts) < min_hits
    if readout_reliable is None:
        return np.where(rare, "smc", "census")
    return np.where(rare, np.where(np.asarray(readout_reliable, bool), "readout", "smc"), "census")


def chosen_columns(table: pd.DataFrame, method: np.ndarray) -> pd.DataFrame:
    """``table`` (census columns ``volume``, ``log10_volume``, ``ci95_*`` and ``smc_*`` / ``readout_*``
    ones) with the published estimate of each class, ``method`` (``census``, ``smc`` or ``readout``:
    :func:`published_method`), in ``volume``, ``log10_volume``, ``ci95_*`` and ``method``; the
    census's own are kept as ``census_*``. A rare row's ``volume`` is ``10**log10_volume`` (NaN where
    the method did not reach the class); a census row's is the census fraction ``count / (size *
    samples)`` itself.

    Example:
        >>> t = pd.DataFrame({"volume": [0.25, 0.0], "log10_volume": [np.log10(0.25), np.nan],
        ...                   "ci95_lo": [-0.7, np.nan], "ci95_hi": [-0.5, -4.0],
        ...                   "smc_log10_volume": [np.nan, -6.0], "smc_ci95_lo": [np.nan, -6.5],
        ...                   "smc_ci95_hi": [np.nan, -5.5]})
        >>> c = chosen_columns(t, np.array(["census", "smc"]))
        >>> c[["method", "volume", "census_volume", "log10_volume"]].values.tolist()
        [['census', 0.25, 0.25, -0.6020599913279624], ['smc', 1e-06, 0.0, -6.0]]
    """
    out = table.copy()
    method = np.asarray(method, dtype=object)
    out["method"] = method
    for c in ("volume", "log10_volume", "ci95_lo", "ci95_hi"):
        out[f"census_{c}"] = out[c]
    for c in ("log10_volume", "ci95_lo", "ci95_hi"):
        col = out[f"census_{c}"].to_numpy(np.float64).copy()
        for m in RARE_METHODS:
            if f"{m}_{c}" in out:
                col = np.where(method == m, out[f"{m}_{c}"].to_numpy(np.float64), col)
        out[c] = col
    out["volume"] = np.where(method == "census", out["census_volume"], 10.0 ** out["log10_volume"])
    return out


def readout_columns(e: Estimate | None) -> dict:
    """A class's ``readout_*`` columns: the interval columns, ``readout_khat`` and ``readout_reliable``."""
    cols = estimate_columns(e, "readout_")
    cols["readout_khat"] = np.nan if e is None else float(e.diagnostics.get("khat", np.nan))
    cols["readout_reliable"] = False if e is None else bool(e.diagnostics.get("reliable", False))
    return cols


def _facts(evaluations: int, jobs: int, seconds: float) -> PassFacts:
    return PassFacts(int(evaluations), jobs, 1, 1, 1, 0, seconds, evaluations / seconds if seconds > 0 else math.nan)


def class_job(census: CensusTally, model: ModelSpec, prior: PriorSpec, min_hits: int, crosscheck: int,
              smc_settings: SMCSettings, nngp_settings: NNGPSettings, seed: int, name: tuple,
              readout_settings: ReadoutSettings | None = None
              ) -> Callable[[RunOptions], tuple[pd.DataFrame, PassFacts]]:
    """Every NPN class's volume after ``census`` (the pass run just before this job) has finished.

    Columns: the census's (:func:`~counting.experiments.simplicity.classes.class_volumes`), then
    ``smc_*`` (where run), ``readout_*`` (where run, with ``readout_settings``) and ``nngp_*``, and the
    chosen ``volume`` / ``log10_volume`` / ``ci95_*`` / ``method`` (:func:`published_method`), with
    the census's own in ``census_*`` (:func:`chosen_columns`). ``smc_settings`` and ``nngp_settings``:
    the settings of every class's estimates, each seeded by :func:`derived_seed` from ``seed`` and its
    name. The readout estimates of the classes that get SMC come from one pass over the same hidden
    draws (one compile; its seed derived from the name and ``"readout"``; each class's QMC shifts its
    own: :class:`~counting.estimators.readout.ReadoutTally`), checkpointed in ``readout/``."""
    n = model.n_inputs

    def job(options: RunOptions) -> tuple[pd.DataFrame, PassFacts]:
        t0 = time.perf_counter()
        cls = class_volumes(census.finalize(), n)
        counts = cls["count"].to_numpy()
        rare_ids = set(np.flatnonzero(counts < min_hits).tolist())
        above = np.flatnonzero(counts >= min_hits)
        checks = set(above[np.argsort(counts[above], kind="stable")][:crosscheck].tolist())
        evaluations = 0
        reps = [int(r, 16) for r in cls["representative"]]
        readouts: dict[int, Estimate] = {}
        chosen = sorted(rare_ids | checks)
        if readout_settings is not None and chosen:
            s = seeded(readout_settings, derived_seed(seed, *name, "readout"))
            sub = None if options.out is None else Path(options.out) / "readout"
            got = estimate_many(Problem(model, prior, None, None), [reps[i] for i in chosen], s,
                                dataclasses.replace(options, out=sub))
            readouts = dict(zip(chosen, got))
            evaluations += got[0].samples
        rows = []
        for i, rep in enumerate(cls["representative"]):
            tt = int(rep, 16)
            row: dict = {}
            smc = None
            if i in rare_ids or i in checks:
                s = seeded(smc_settings, derived_seed(seed, *name, "smc", i))
                smc = one_estimate(model, prior, tt, s, options, f"smc-{i}")
                evaluations += smc.samples
            row.update(estimate_columns(smc, "smc_"))
            if readout_settings is not None:
                row.update(readout_columns(readouts.get(i)))
            nngp = None
            if model.activation in NNGP_ACTIVATIONS:
                s = seeded(nngp_settings, derived_seed(seed, *name, "nngp", i))
                nngp = one_estimate(model, prior, tt, s, options, f"nngp-{i}")
            row.update(estimate_columns(nngp, "nngp_"))
            rows.append(row)
        table = pd.concat([cls, pd.DataFrame(rows)], axis=1)
        reliable = table["readout_reliable"].to_numpy(bool) if readout_settings is not None else None
        out = chosen_columns(table, published_method(counts, min_hits, reliable))
        return out, _facts(evaluations, len(cls), time.perf_counter() - t0)

    return job


def estimator_job(model: ModelSpec, prior: PriorSpec, tt: int, settings
                  ) -> Callable[[RunOptions], tuple[Estimate, PassFacts]]:
    """One volume by ``settings.kind`` as a pass job."""

    def job(options: RunOptions) -> tuple[Estimate, PassFacts]:
        t0 = time.perf_counter()
        e = estimate(Problem(model, prior, computes(tt, model.n_inputs), Target(tt, model.n_inputs)), settings,
                     options)
        return e, _facts(e.samples, 1, time.perf_counter() - t0)

    return job
