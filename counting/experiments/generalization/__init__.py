"""Issue 24: counting functions or counting parameters? Generalization off the training set.

The counting argument counts functions: of the functions that fit a training set S of m of the
N = 2^n points, almost all disagree with the intended f* off S, so P(f* | S) = 2^-(N - m), the
expected error off S is 1/2, and the treacherous f_T (f* on S, its complement off S) is as likely
as f*. This experiment kind puts that next to the parameter count (the prior conditioned on S,
:mod:`counting.rare.readout_posterior`) and training (the training experiment's trained censuses),
for every cube size, network, target, m and draw of S (:mod:`~.config`, :mod:`~.plan`), in the
tables of :mod:`~.tables` and the figures of :mod:`~.figures`.

Example:
    >>> from counting.experiments.base.config import read_toml
    >>> exp = from_dict(read_toml(DEMO), "demo")
    >>> chunk_sizes(exp), len(passes(exp))
    ({'experiment.chunk_size': 16384}, 16)
"""

from __future__ import annotations

import pandas as pd

from counting.experiments.base.run import Kind
from counting.experiments.generalization import tables as tb
from counting.experiments.generalization.config import DEMO, KIND, Experiment, from_dict, with_samples
from counting.experiments.generalization.figures import write_figures
from counting.experiments.generalization.plan import passes

__all__ = ["DEMO", "EXPERIMENT", "KIND", "Experiment", "chunk_sizes", "combine", "from_dict", "passes", "summary",
           "with_samples", "write_figures"]


def chunk_sizes(exp: Experiment) -> dict[str, int]:
    return {"experiment.chunk_size": exp.chunk_size}


def combine(exp: Experiment, tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The passes' tables, the function count's error rows added, and ``comparison``."""
    out = dict(tables)
    fc_comp, fc_err = tb.function_count_rows(tables["posterior"])
    out["errors"] = pd.concat([fc_err, tables.get("errors", pd.DataFrame())], ignore_index=True)
    out["comparison"] = tb.comparison(tables)
    return out


def summary(exp: Experiment, tables: dict[str, pd.DataFrame]) -> str:
    """What ``counting run`` prints: per setting and method, accuracy off S and log10 P(f* | S), P(f_T | S)."""
    c = tables["comparison"]
    cols = ["n_inputs", "network", "target", "m", "draw", "method", "accuracy", "accuracy_lo", "accuracy_hi",
            "log10_p_target", "log10_p_target_lo", "log10_p_target_hi", "log10_p_treacherous"]
    return ("the three counts: expected accuracy off S, log10 P(f* | S), log10 P(f_T | S) (table comparison)\n"
            + c[cols].round(3).to_string(index=False))


EXPERIMENT = Kind(KIND, from_dict, with_samples, chunk_sizes, passes, write_figures, summary, combine)
