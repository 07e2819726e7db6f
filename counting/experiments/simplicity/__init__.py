"""Experiment 3: does the prior track parameters constrained or program length?

An experiment kind (:class:`counting.experiments.base.run.Kind`) with three optional parts
(:mod:`~counting.experiments.simplicity.config`), each cut into passes:

* ``census:n<n>:<prior>`` then ``classes:n<n>:<prior>``: a census of every function of ``n`` bits,
  pooled over NPN classes (:mod:`~counting.experiments.simplicity.classes`); tempered SMC for the
  classes seen too rarely and NNGP for all (:mod:`~counting.experiments.simplicity.jobs`); the
  class volumes next to every complexity measure, and which measure predicts log V best
  (:mod:`~counting.experiments.simplicity.compare`).
* ``ladder:n<n>:<method>``: n-bit parity on one network by each method.
* ``reproduction:<encoding>``: the 7-bit census; rank-frequency and LZ tables
  (:mod:`~counting.experiments.simplicity.zipf`).

Example:
    >>> from counting.experiments import parse_experiment, run_experiment
    >>> exp = parse_experiment('''
    ... [experiment]
    ... kind = "simplicity"
    ... chunk_size = 1024
    ... [[prior]]
    ... name = "relu-8"
    ... widths = [8]
    ... [volumes]
    ... n_inputs = [2]
    ... samples = 4096
    ... min_hits = 0
    ... crosscheck = 0
    ... [volumes.nngp]
    ... n_qmc = 256
    ... replicates = 8
    ... ''')
    >>> [p.name for p in passes(exp)]
    ['census:n2:relu-8', 'classes:n2:relu-8']
    >>> t = run_experiment(exp, progress=False)
    >>> t["classes"][["representative", "size", "method"]].values.tolist()
    [['0x0', 2, 'census'], ['0x1', 8, 'census'], ['0x3', 4, 'census'], ['0x6', 2, 'census']]
"""

from __future__ import annotations

import dataclasses
from functools import partial

import numpy as np
import pandas as pd

from counting.boolean.complexity import all_measures
from counting.boolean.tables import named_truth_table
from counting.engine.run import PassFacts
from counting.engine.tally import CensusTally, Hits
from counting.estimators.result import binomial_estimate
from counting.experiments.base.run import Kind, Pass
from counting.experiments.simplicity import compare, zipf
from counting.experiments.simplicity.classes import parity_class
from counting.experiments.simplicity.config import KIND, Experiment, from_dict, with_samples
from counting.experiments.simplicity.figures import write_figures
from counting.experiments.simplicity.jobs import class_job, derived_seed, estimate_columns, estimator_job, seeded
from counting.mechanisms.predicates import computes
from counting.models import describe_model
from counting.spec.estimator import MCSettings
from counting.spec.job import Spec, sampling_spec
from counting.spec.model import MLPSpec
from counting.spec.prior import ScaledPrior, describe_prior

__all__ = ["EXPERIMENT", "KIND", "Experiment", "chunk_sizes", "from_dict", "passes", "summary", "with_samples",
           "write_figures"]


def chunk_sizes(exp: Experiment) -> dict[str, int]:
    return {"experiment.chunk_size": exp.chunk_size}


def _with_measures(classes: pd.DataFrame, n: int) -> pd.DataFrame:
    m = all_measures(n).iloc[[int(h, 16) for h in classes["representative"]]].reset_index(drop=True)
    m = m.drop(columns=["truth_table"])
    out = pd.concat([classes.reset_index(drop=True), m], axis=1)
    out["points"] = 1 << n
    return out


def class_tables(exp: Experiment, about: dict, result, facts: PassFacts) -> dict[str, pd.DataFrame]:
    """The class volumes of one census: ``classes`` with the measures, and ``volume_checks`` (the
    measures' correlations are made from them at the end: :func:`combine`)."""
    n, prior = about["n"], about["prior"]
    head = {"n": n, "prior": prior, "model": about["model"], "prior_spec": about["prior_text"]}
    classes = _with_measures(result, n)
    size = classes["size"].to_numpy(np.float64)
    vol = 10.0 ** classes["log10_volume"].to_numpy(np.float64)
    check = {**head, "sum_volume": float(np.nansum(size * vol)),
             "sum_lo": float(np.nansum(size * 10.0 ** classes["ci95_lo"].to_numpy(np.float64))),
             "sum_hi": float(np.nansum(size * 10.0 ** classes["ci95_hi"].to_numpy(np.float64))),
             "smc_classes": int((classes["method"] == "smc").sum()),
             "readout_classes": int((classes["method"] == "readout").sum()),
             **compare.parity_position(classes, parity_class(n))}
    return {"classes": _tagged(head, classes), "volume_checks": pd.DataFrame([check])}


def _tagged(head: dict, df: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([pd.DataFrame([head] * len(df)), df.reset_index(drop=True)], axis=1)


HEAD = ["n", "prior", "model", "prior_spec"]


def combine(exp: Experiment, tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The measures' ``correlations``, ``partial`` and ``regression`` of each (n, prior)'s classes
    (:func:`counting.experiments.simplicity.compare.correlations`, 1,000 resamples seeded from the
    experiment's seed, n and prior), made once every class volume is in."""
    if "classes" not in tables:
        return tables
    parts: dict[str, list] = {"correlations": [], "partial": [], "regression": []}
    for key, classes in tables["classes"].groupby(["n", "prior"], sort=False):
        n, prior = key
        head = dict(zip(HEAD, classes[HEAD].iloc[0]))
        body = classes.drop(columns=HEAD).reset_index(drop=True)
        out = compare.correlations(body, boot=1000, seed=derived_seed(exp.seed, "boot", int(n), prior))
        for name, df in zip(parts, out):
            parts[name].append(_tagged(head, df))
    return {**tables, **{k: pd.concat(v, ignore_index=True) for k, v in parts.items()}}


def ladder_tables(exp: Experiment, about: dict, result, facts: PassFacts) -> dict[str, pd.DataFrame]:
    """One ``ladder`` row: parity's volume at one n by one method."""
    e = binomial_estimate(int(result), facts.samples, seconds=facts.seconds, seed=exp.seed) \
        if about["method"] == "mc" else result
    row = {"n": about["n"], "model": about["model"], "method": about["method"],
           **estimate_columns(e), "upper_bound_only": bool(e.one_sided_upper_bound or e.log10_volume is None),
           "cost": e.samples, "cost_unit": e.cost_unit, "seconds": e.seconds,
           "replicates": e.diagnostics.get("replicates", np.nan) if about["method"] != "mc" else np.nan,
           "reached": e.diagnostics.get("reached", np.nan) if about["method"] != "mc" else np.nan,
           "khat": e.diagnostics.get("khat", np.nan), "reliable": e.diagnostics.get("reliable")}
    return {"ladder": pd.DataFrame([row])}


def reproduction_tables(about: dict, result, facts: PassFacts) -> dict[str, pd.DataFrame]:
    """The 7-bit reproduction's tables of one encoding's census: ``frequency``, ``lz``,
    ``top_functions`` and its ``reproduction`` row."""
    census = result
    n = census.n_inputs
    lz = zipf.census_lz(census, n)
    head = {"encoding": about["encoding"], "model": about["model"]}
    freq, lzt, top = zipf.frequency_table(census), zipf.lz_table(census, lz), zipf.top_table(census, lz)
    seen_twice = int((census.counts >= 2).sum())
    summary_row = {**head, "samples": census.samples, "distinct": census.distinct, "seen_at_least_twice": seen_twice,
                   "top_function": top["truth_table"].iloc[0], "top_log10_probability": top["log10_volume"].iloc[0],
                   "spearman_lz_log10p": compare.spearman(lz, np.log10(census.counts), np.ones(len(lz)))}
    tag = partial(_tagged, head)
    return {"frequency": tag(freq), "lz": tag(lzt), "top_functions": tag(top),
            "reproduction": pd.DataFrame([summary_row])}


def census_counts(name: str, result) -> dict[str, np.ndarray]:
    """A census pass's exact counts for ``counts.npz``: its tables and their counts."""
    return {f"{name}|tables": result.tables, f"{name}|counts": result.counts}


def hits_counts(name: str, result) -> dict[str, np.ndarray]:
    """A hit-or-miss ladder pass's hits."""
    return {f"{name}|hits": np.asarray(result)}


def reproduction_counts(name: str, result) -> dict[str, np.ndarray]:
    """A reproduction census's per-count histogram (not its tables)."""
    c, k = np.unique(result.counts, return_counts=True)
    return {f"{name}|count_values": c, f"{name}|functions_with_count": k}


def passes(exp: Experiment) -> tuple[Pass, ...]:
    """Every pass, in order: volumes (census, classes), ladder, reproduction."""
    out: list[Pass] = []
    tag = exp.digest()
    if exp.volumes is not None:
        v = exp.volumes
        for n in v.n_inputs:
            for p in exp.priors:
                m = dataclasses.replace(p.model, n_inputs=n)
                spec = sampling_spec(m, p.prior, v.samples, seed=exp.seed, chunk_size=exp.chunk_size)
                # the spec (network, prior, samples, seed, chunks) says the rest of the tally's identity
                tally = CensusTally(n, exp.chunk_size, v.samples, kind=f"{KIND}:census")
                name = f"census:n{n}:{p.name}"
                out.append(Pass(name, spec, tally, None, {"part": "census", "n": n, "prior": p.name},
                                counts=partial(census_counts, name)))
                job = class_job(tally, m, p.prior, v.min_hits, v.crosscheck, v.smc, v.nngp, exp.seed,
                                ("volumes", n, p.name), v.readout)
                about = {"part": "classes", "n": n, "prior": p.name, "model": describe_model(m),
                         "prior_text": describe_prior(p.prior)}
                out.append(Pass(f"classes:n{n}:{p.name}", Spec(m, p.prior, None, MCSettings(seed=exp.seed)), None,
                                None, about, job, tables=partial(class_tables, exp, about)))
    if exp.ladder is not None:
        lad = exp.ladder
        prior = exp.priors[0].prior
        for n in lad.n:
            m = dataclasses.replace(exp.priors[0].model, n_inputs=n, widths=lad.widths, activation=lad.activation)
            tt = named_truth_table("parity", n)
            for method in lad.methods:
                if not lad.runs_at(method, n):
                    continue
                name = f"ladder:n{n}:{method}"
                about = {"part": "ladder", "n": n, "model": describe_model(m), "method": method}
                tables = partial(ladder_tables, exp, about)
                if method == "mc":
                    spec = sampling_spec(m, prior, lad.samples, seed=exp.seed, chunk_size=exp.chunk_size)
                    out.append(Pass(name, spec, Hits(computes(tt, n), f"{KIND}:ladder:{tag}"), None, about,
                                    tables=tables, counts=partial(hits_counts, name)))
                    continue
                part = {"smc": lad.smc, "subset": lad.subset, "nngp": lad.nngp, "readout": lad.readout,
                        "readout_smc": lad.readout_smc}[method]  # [ladder.<method>]
                s = seeded(part, derived_seed(exp.seed, "ladder", n, method))
                out.append(Pass(name, Spec(m, prior, None, s), None, None, about, estimator_job(m, prior, tt, s),
                                tables=tables))
    if exp.reproduction is not None:
        r = exp.reproduction
        prior = exp.priors[0].prior if exp.priors else ScaledPrior()
        for enc in r.encodings:
            m = MLPSpec(r.n_inputs, r.widths, r.activation, inputs=enc)
            spec = sampling_spec(m, prior, r.samples, seed=exp.seed, chunk_size=exp.chunk_size)
            name, about = f"reproduction:{enc}", {"part": "reproduction", "encoding": enc, "model": describe_model(m)}
            out.append(Pass(name, spec, CensusTally(r.n_inputs, exp.chunk_size, r.samples, kind=f"{KIND}:census"),
                            None, about, tables=partial(reproduction_tables, about),
                            counts=partial(reproduction_counts, name)))
    return tuple(out)


def summary(exp: Experiment, result: dict[str, pd.DataFrame]) -> str:
    """What ``counting run`` prints: the best predictors, the parity ladder and the reproduction."""
    parts = []
    if "correlations" in result:
        c = result["correlations"]
        t = c.pivot_table(index="measure", columns=["n", "prior"], values="spearman", sort=False)
        parts.append("Spearman rho of log10 V(f) with each measure (over all functions)\n" + t.round(3).to_string())
        parts.append("checks and parity\n" + result["volume_checks"].round(4).to_string(index=False))
    if "ladder" in result:
        lad = result["ladder"][["n", "method", "log10_volume", "ci95_lo", "ci95_hi", "upper_bound_only"]]
        parts.append("parity ladder\n" + lad.round(3).to_string(index=False))
    if "reproduction" in result:
        parts.append("7-bit reproduction\n" + result["reproduction"].round(3).to_string(index=False))
    return "\n\n".join(parts)


EXPERIMENT = Kind(KIND, from_dict, with_samples, chunk_sizes, passes, write_figures, summary, combine=combine)
