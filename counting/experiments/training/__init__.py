"""Experiment 4: does training find functions in proportion to their volume? P_SGD(f | S) against P_B(f | S).

An experiment kind (:class:`counting.experiments.base.run.Kind`): for every architecture, target
and training-set size m (:mod:`~counting.experiments.training.config`), a posterior census by
rejection and one trained census per optimiser (:mod:`~counting.experiments.training.plan`), each
over the networks agreeing with the target on S; then the tables
(:mod:`~counting.experiments.training.tables`: ``functions``, ``runs``, ``comparison``,
``agreement``; with ``[mechanisms]``, ``mechanisms``) and the figures
(:mod:`~counting.experiments.training.figures`).

Example:
    >>> from counting.experiments import parse_experiment
    >>> exp = parse_experiment('''
    ... [experiment]
    ... kind = "training"
    ... n_inputs = 3
    ... m = [4]
    ... samples = 1024
    ... posterior_samples = 2048
    ... [[architecture]]
    ... widths = [8]
    ... [[target]]
    ... name = "majority"
    ... [[optimizer]]
    ... name = "adam"
    ... learning_rate = 0.05
    ... ''')
    >>> [p.name for p in passes(exp)], chunk_sizes(exp)
    (['posterior:a0:majority:m4', 'adam:a0:majority:m4'], {'experiment.chunk_size': 1024})
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from counting.engine.run import PassFacts
from counting.experiments.base.run import Pass
from counting.experiments.depth.tables import smc_volume_columns
from counting.mechanisms.routes import DECOMPOSITIONS, never
from counting.experiments.training import tables as tb
from counting.experiments.training.config import KIND, Experiment, from_dict, with_samples
from counting.experiments.training.figures import write_figures
from counting.experiments.training.plan import passes
from counting.rare.replicates import Replicates
from counting.spec.estimator import MCSettings
from counting.training.posterior import given_s_frame

__all__ = ["KIND", "Experiment", "chunk_sizes", "combine", "from_dict", "manifest_config", "pass_counts",
           "pass_tables", "passes", "summary", "with_samples", "write_figures"]


def chunk_sizes(exp: Experiment) -> dict[str, int]:
    return {"experiment.chunk_size": exp.chunk_size}


def smc_mechanism_tables(p: Pass, result: Replicates, facts: PassFacts) -> dict[str, pd.DataFrame]:
    """A rare route's SMC prior pass: its ``mechanism_counts`` and ``runs`` row (``drawn``: network
    evaluations, ``kept``: solutions in the last populations, with the replicates' volume)."""
    about = {k: p.about[k] for k in ("setting", "model", "method", "estimator")}
    d = DECOMPOSITIONS[p.about["target"]]
    rows = tb.smc_route_counts(about, d, [np.asarray(r.joint, np.int64) for r in result.runs], never(p.spec.model))
    row = tb.run_row({"architecture": p.about["setting"], "model": p.about["model"], "target": d.name,
                      "m": 2 ** d.n, "method": "mechanisms:prior-smc"}, facts.samples,
                     sum(r.solutions for r in result.runs), None)
    vol = smc_volume_columns([r.log_p for r in result.runs])
    row.update({"kept_share": np.nan,  # solutions per evaluation says nothing here: the volume does
                "replicates": len(result.runs), "log10_volume": vol["log10_volume"],
                "log10_volume_lo": vol["ci95_lo"], "log10_volume_hi": vol["ci95_hi"]})
    return {"mechanism_counts": rows, "runs": pd.DataFrame([row])}


def mechanism_tables(p: Pass, result, facts: PassFacts) -> dict[str, pd.DataFrame]:
    """A ``[mechanisms]`` pass's ``mechanism_counts`` and ``runs`` row (``kept``: its solutions)."""
    if p.about.get("estimator") == "smc":
        return smc_mechanism_tables(p, result, facts)
    counts, runs = result if isinstance(result, tuple) else (result, None)
    about = {k: p.about[k] for k in ("setting", "model", "method")}
    inner = getattr(p.tally, "inner", p.tally)
    if p.about["setting"].startswith("llamas:"):
        rows = tb.llama_counts(about, inner.plans, counts, p.about["n_inputs"], inner.n_layers)
    else:
        rows = tb.route_counts(about, inner.decompositions, counts, never(p.spec.model))
    kept = rows.drop_duplicates("target")["solutions"].sum()
    row = tb.run_row({"architecture": p.about["setting"], "model": p.about["model"], "target": p.about["target"],
                      "m": 2 ** p.about["n_inputs"], "method": f"mechanisms:{p.about['method']}"},
                     facts.samples, int(kept), None if runs is None else runs.as_dict())
    return {"mechanism_counts": rows, "runs": pd.DataFrame([row])}


def pass_tables(exp: Experiment, p: Pass, result, facts: PassFacts) -> dict[str, pd.DataFrame]:
    """``functions`` and ``runs`` of one pass (``result``: a census, or a census and training facts);
    ``mechanism_counts`` and ``runs`` of a ``[mechanisms]`` pass."""
    if isinstance(p.about, dict) and p.about.get("part") == "mechanisms":
        return mechanism_tables(p, result, facts)
    census, runs = result if isinstance(result, tuple) else (result, None)
    about = {k: p.about[k] for k in ("architecture", "model", "target", "m", "method")}
    return {"functions": tb.function_rows(about, given_s_frame(census)),
            "runs": pd.DataFrame([tb.run_row(about, census.samples, census.kept,
                                             None if runs is None else runs.as_dict())])}


def combine(exp: Experiment, tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The passes' tables with ``comparison`` and ``agreement`` (both methods of a setting side by
    side; none for an experiment of mechanisms alone) and ``mechanisms``."""
    out = {k: v for k, v in tables.items() if k != "mechanism_counts"}
    if "mechanism_counts" in tables:
        out["mechanisms"] = tb.mechanisms(tables["mechanism_counts"])
    if "functions" not in tables:
        return out
    comp = tb.comparison(tables["functions"])
    return {**out, "comparison": comp, "agreement": tb.agreement(comp, seed=exp.seed)}


def pass_counts(exp: Experiment, p: Pass, result) -> dict[str, np.ndarray]:
    """The pass's census counts for ``counts.npz`` (its truth tables are in ``functions``); a
    ``[mechanisms]`` pass's counts: a route histogram, or per target its llama counts."""
    if isinstance(p.about, dict) and p.about.get("estimator") == "smc":  # as the depth experiment's rare passes
        return {f"{p.name}|log_p": np.array([r.log_p for r in result.runs]),
                f"{p.name}|solutions": np.array([r.solutions for r in result.runs]),
                f"{p.name}|joint": np.array([r.joint for r in result.runs], np.int64)}
    if isinstance(p.about, dict) and p.about.get("part") == "mechanisms":
        counts = result[0] if isinstance(result, tuple) else result
        if not isinstance(counts, dict):
            return {f"{p.name}|hist": np.asarray(counts)}
        return {f"{p.name}|{t}|{k}": np.asarray(v) for t, c in counts.items()
                for k, v in [("n_f", c.n_f), ("held", c.held), *((f"union:{f}", u) for f, u in c.unions.items())]}
    census = result[0] if isinstance(result, tuple) else result
    return {f"{p.name}|counts": np.asarray(census.counts)}


def manifest_config(exp: Experiment) -> dict:
    """The experiment as the manifest records it, with the seed and key implementation of its draws."""
    return {"experiment": exp.to_dict(), "estimator": {"seed": exp.seed, "key_impl": MCSettings().key_impl}}


def summary(exp: Experiment, tables: dict[str, pd.DataFrame]) -> str:
    """What ``counting run`` prints: the runs, then the agreement of P_SGD with P_B."""
    runs = tables["runs"][[c for c in ["target", "m", "method", "drawn", "kept", "fitted_share", "mean_steps",
                                       "log10_volume"] if c in tables["runs"]]]
    parts = ["runs\n" + runs.round(3).to_string(index=False)]
    if "agreement" in tables and not tables["agreement"].empty:
        a = tables["agreement"][["target", "m", "method", "common", "spearman", "spearman_lo", "spearman_hi",
                                 "mean_log10_ratio", "ratio_lo", "ratio_hi"]]
        parts.append("P_SGD(f | S) against P_B(f | S), over the functions both saw\n" + a.round(3).to_string(index=False))
    if "mechanisms" in tables and not tables["mechanisms"].empty:
        m = tables["mechanisms"]
        m = m[~m["mechanism"].str.startswith("llama ")]  # the families and routes; every llama is in the table
        m = m[["setting", "target", "method", "mechanism", "layer", "trained_solutions", "trained_share",
               "prior_estimator", "prior_solutions", "prior_share", "prior_share_lo", "prior_share_hi", "ratio"]]
        parts.append("mechanisms: share among trained solutions against prior solutions\n"
                     + m.round(3).to_string(index=False))
    return "\n\n".join(parts)
