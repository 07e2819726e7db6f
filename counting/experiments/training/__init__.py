"""Experiment 4: does training find functions in proportion to their volume? P_SGD(f | S) against P_B(f | S).

An experiment kind (:class:`counting.experiments.base.run.Kind`): for every architecture, target
and training-set size m (:mod:`~counting.experiments.training.config`), a posterior census by
rejection and one trained census per optimiser (:mod:`~counting.experiments.training.plan`), each
over the networks agreeing with the target on S; then the tables
(:mod:`~counting.experiments.training.tables`: ``functions``, ``runs``, ``comparison``,
``agreement``) and the figure (:mod:`~counting.experiments.training.figures`).

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
from counting.experiments.training import tables as tb
from counting.experiments.training.config import KIND, Experiment, from_dict, with_samples
from counting.experiments.training.figures import write_figures
from counting.experiments.training.plan import passes
from counting.spec.estimator import MCSettings
from counting.training.posterior import given_s_frame

__all__ = ["KIND", "Experiment", "chunk_sizes", "combine", "from_dict", "manifest_config", "pass_counts",
           "pass_tables", "passes", "summary", "with_samples", "write_figures"]


def chunk_sizes(exp: Experiment) -> dict[str, int]:
    return {"experiment.chunk_size": exp.chunk_size}


def pass_tables(exp: Experiment, p: Pass, result, facts: PassFacts) -> dict[str, pd.DataFrame]:
    """``functions`` and ``runs`` of one pass (``result``: a census, or a census and training facts)."""
    census, runs = result if isinstance(result, tuple) else (result, None)
    about = {k: p.about[k] for k in ("architecture", "model", "target", "m", "method")}
    return {"functions": tb.function_rows(about, given_s_frame(census)),
            "runs": pd.DataFrame([tb.run_row(about, census.samples, census.kept,
                                             None if runs is None else runs.as_dict())])}


def combine(exp: Experiment, tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The passes' tables with ``comparison`` and ``agreement`` (both methods of a setting side by side)."""
    comp = tb.comparison(tables["functions"])
    return {**tables, "comparison": comp, "agreement": tb.agreement(comp, seed=exp.seed)}


def pass_counts(exp: Experiment, p: Pass, result) -> dict[str, np.ndarray]:
    """The pass's census counts for ``counts.npz`` (its truth tables are in ``functions``)."""
    census = result[0] if isinstance(result, tuple) else result
    return {f"{p.name}|counts": np.asarray(census.counts)}


def manifest_config(exp: Experiment) -> dict:
    """The experiment as the manifest records it, with the seed and key implementation of its draws."""
    return {"experiment": exp.to_dict(), "estimator": {"seed": exp.seed, "key_impl": MCSettings().key_impl}}


def summary(exp: Experiment, tables: dict[str, pd.DataFrame]) -> str:
    """What ``counting run`` prints: the runs, then the agreement of P_SGD with P_B."""
    runs = tables["runs"][[c for c in ["target", "m", "method", "drawn", "kept", "fitted_share", "mean_steps"]
                           if c in tables["runs"]]]
    parts = ["runs\n" + runs.round(3).to_string(index=False)]
    if "agreement" in tables and not tables["agreement"].empty:
        a = tables["agreement"][["target", "m", "method", "common", "spearman", "spearman_lo", "spearman_hi",
                                 "mean_log10_ratio", "ratio_lo", "ratio_hi"]]
        parts.append("P_SGD(f | S) against P_B(f | S), over the functions both saw\n" + a.round(3).to_string(index=False))
    return "\n\n".join(parts)
