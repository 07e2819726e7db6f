"""Issue 24: counting functions or counting parameters? Generalization off the training set.

The counting argument counts functions: of the functions that fit a training set S of m of the
N = 2^n points, almost all disagree with the intended f* off S, so P(f* | S) = 2^-(N - m), the
expected error off S is 1/2, and the treacherous f_T (f* on S, its complement off S) is as likely
as f*. This experiment kind puts that next to the parameter count (the prior conditioned on S,
:mod:`counting.rare.readout_posterior`) and training (the training experiment's trained censuses),
for every cube size, network, target, m and draw of S (:mod:`~.config`, :mod:`~.plan`), in the
tables of :mod:`~.tables` and the figures of :mod:`~.figures`. A plain prior census per cube size
and network gives each setting the posterior by rejection as well, and the ``identity`` table checks
the parameter count against it where rejection is well sampled.

Example:
    >>> from counting.experiments.base.config import read_toml
    >>> exp = from_dict(read_toml(DEMO), "demo")
    >>> chunk_sizes(exp), len(passes(exp))
    ({'experiment.chunk_size': 16384, 'rejection.chunk_size': 16384}, 17)
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
    sizes = {"experiment.chunk_size": exp.chunk_size}
    if exp.rejection.samples:
        sizes["rejection.chunk_size"] = exp.rejection.chunk_size
    return sizes


def combine(exp: Experiment, tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The passes' tables, the function count's error rows added, and ``comparison``."""
    out = dict(tables)
    fc_comp, fc_err = tb.function_count_rows(tables["posterior"])
    out["errors"] = pd.concat([fc_err, tables.get("errors", pd.DataFrame())], ignore_index=True)
    out["comparison"] = tb.comparison(tables)
    if "rejection" in tables and not tables["rejection"].empty:
        out["identity"] = tb.identity(tables)
    return out


def identity_text(ident: pd.DataFrame) -> str:
    """The identity's line: per quantity, how many well-sampled settings' intervals overlap."""
    counts = tb.identity_counts(ident)
    parts = [f"{q}: {int(r['overlap'])} of {int(r['well_sampled'])}" for q, r in counts.iterrows()]
    return (f"the parameter count against rejection where rejection is well sampled (at least {tb.WELL_SAMPLED_KEPT} "
            f"draws kept, at least {tb.WELL_SAMPLED_HITS} hits of the function compared, m < N), intervals "
            f"overlapping (table identity): {'; '.join(parts) or 'no such setting'}; two independent exact 95% "
            "intervals miss each other with probability about 0.0056 at equal widths, up to 0.05 when one is much "
            "narrower (the parameter count's are t-intervals over a few replicates, not exact)")


def summary(exp: Experiment, tables: dict[str, pd.DataFrame]) -> str:
    """What ``counting run`` prints: per setting and method, accuracy off S and log10 P(f* | S), P(f_T | S)."""
    c = tables["comparison"]
    cols = ["n_inputs", "network", "target", "m", "draw", "method", "accuracy", "accuracy_lo", "accuracy_hi",
            "log10_p_target", "log10_p_target_lo", "log10_p_target_hi", "log10_p_treacherous"]
    text = ("the counts: expected accuracy off S, log10 P(f* | S), log10 P(f_T | S) (table comparison)\n"
            + c[cols].round(3).to_string(index=False))
    if "identity" in tables and not tables["identity"].empty:
        text += "\n\n" + identity_text(tables["identity"])
    return text


EXPERIMENT = Kind(KIND, from_dict, with_samples, chunk_sizes, passes, write_figures, summary, combine)
