"""Experiment 4: does training find functions in proportion to their volume? P_SGD(f | S) against P_B(f | S).

An experiment kind (:class:`counting.experiments.base.run.Kind`): for every architecture, target
and training-set size m (:mod:`~counting.experiments.training.config`), a posterior census by
rejection and one trained census per optimiser (:mod:`~counting.experiments.training.plan`), each
over the networks agreeing with the target on S; then the tables
(:mod:`~counting.experiments.training.tables`: ``functions``, ``runs``, ``comparison``,
``agreement``, ``ratios``; with ``[ratios.readout]``, ``readout``, from one readout job per setting,
:mod:`~counting.experiments.training.readout`; with ``[mechanisms]``, ``mechanisms``) and the figures
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
    (['posterior:a0:majority:m4', 'adam:a0:majority:m4'], {'experiment.chunk_size': 16384})
"""

from __future__ import annotations

import pandas as pd

from counting.experiments.base.run import Kind
from counting.experiments.training import tables as tb
from counting.experiments.training.config import KIND, Experiment, from_dict, with_samples
from counting.experiments.training.figures import write_figures
from counting.experiments.training.plan import passes, setting_sets

__all__ = ["EXPERIMENT", "KIND", "Experiment", "chunk_sizes", "combine", "from_dict", "passes", "summary",
           "with_samples", "write_figures"]


def chunk_sizes(exp: Experiment) -> dict[str, int]:
    return {"experiment.chunk_size": exp.chunk_size}


def combine(exp: Experiment, tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The passes' tables with ``comparison``, ``agreement`` and ``ratios`` (both methods of a
    setting side by side, each setting's network named by :func:`~counting.experiments.training.plan.network_label`;
    none for an experiment of mechanisms alone) and ``mechanisms``."""
    out = {k: v for k, v in tables.items() if k != "mechanism_counts"}
    if "mechanism_counts" in tables:
        out["mechanisms"] = tb.mechanisms(tables["mechanism_counts"])
    if "functions" not in tables:
        return out
    sets = setting_sets(exp)
    comp = tb.comparison(tables["functions"])
    comp.insert(1, "network", comp["architecture"].map(dict(zip(sets["architecture"], sets["network"]))))
    return {**out, "comparison": comp, "agreement": tb.agreement(comp, seed=exp.seed),
            "ratios": tb.ratios(comp, sets, tables.get("readout"), exp.ratios.top)}


def summary(exp: Experiment, tables: dict[str, pd.DataFrame]) -> str:
    """What ``counting run`` prints: the runs, then the agreement of P_SGD with P_B."""
    runs = tables["runs"][[c for c in ["target", "m", "method", "drawn", "kept", "fitted_share", "mean_steps",
                                       "log10_volume"] if c in tables["runs"]]]
    parts = ["runs\n" + runs.round(3).to_string(index=False)]
    if "agreement" in tables and not tables["agreement"].empty:
        a = tables["agreement"][["network", "target", "m", "method", "kept_b", "spearman", "spearman_p",
                                 "mean_log10_ratio", "mean_log10_ratio_p", "tv", "tv_p", "g_p", "tv_cells_bc",
                                 "tv_cells_bc_lo", "tv_cells_bc_hi"]]
        parts.append("P_SGD(f | S) against P_B(f | S): statistics with p-values against P_SGD = P_B, tests, "
                     "distance over pooled cells\n" + a.round(3).to_string(index=False))
    if "ratios" in tables and not tables["ratios"].empty:
        r = tables["ratios"]
        r = r[r["role"].str.contains("target|treacherous")][
            ["network", "target", "m", "method", "role", "n_sgd", "n_b", "ratio", "ratio_lo", "ratio_hi",
             "ratio_readout", "ratio_readout_lo", "ratio_readout_hi", "reliable"]]
        parts.append("P_SGD(f | S) / P_B(f | S) of the target and the treacherous function (table ratios: "
                     "every function chosen)\n" + r.round(3).to_string(index=False))
    if "mechanisms" in tables and not tables["mechanisms"].empty:
        m = tables["mechanisms"]
        m = m[~m["mechanism"].str.startswith("llama ")]  # the families and routes; every llama is in the table
        m = m[["setting", "target", "method", "mechanism", "layer", "trained_solutions", "trained_share",
               "prior_estimator", "prior_solutions", "prior_share", "prior_share_lo", "prior_share_hi", "ratio"]]
        parts.append("mechanisms: share among trained solutions against prior solutions\n"
                     + m.round(3).to_string(index=False))
    return "\n\n".join(parts)


EXPERIMENT = Kind(KIND, from_dict, with_samples, chunk_sizes, passes, write_figures, summary, combine)
