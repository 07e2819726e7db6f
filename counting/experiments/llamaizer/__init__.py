"""Experiment 1, inner llamaizers versus direct solutions: the ``llamaizer`` experiment kind.

For each architecture, one counting pass over the prior (or an exact enumeration of a discrete
prior) counts, for every target ``f`` and every llama ``g`` of its families, the networks
computing ``f`` and, of those, the ones whose hidden layers hold ``g``
(:mod:`~counting.experiments.llamaizer.tally`); the counts become five tables
(:mod:`~counting.experiments.llamaizer.tables`) and three figures
(:mod:`~counting.experiments.llamaizer.figures`). Every share is a ratio of two exact counts, with
an exact (Clopper-Pearson) interval given the ``n_f`` networks that compute ``f``.

Modules: :mod:`~counting.experiments.llamaizer.config` (the dataclasses and their parsing),
:mod:`~counting.experiments.llamaizer.plan` (llamas per target, their orbit transport), ``tally``,
``tables``, ``figures``; this one holds the entry points :mod:`counting.experiments` calls
(:class:`counting.experiments.base.run.Kind`).

Example:
    >>> from counting.experiments.base.config import read_toml
    >>> exp = from_dict(read_toml('''
    ... [experiment]
    ... n_inputs = 3
    ... samples = 2048
    ... chunk_size = 1024
    ... [[architecture]]
    ... widths = [4]
    ... [[target]]
    ... name = "and01"
    ... truth_table = "0x88"
    ... [[family]]
    ... name = "ignored"
    ... kind = "ignored_bits"
    ... '''))
    >>> counts, facts = count_pass(exp, exp.architectures[0])
    >>> c = counts["and01"]
    >>> c.held.shape, facts.samples, bool(c.n_f > 0), bool((c.held <= c.n_f).all())   # rows: layer 1, any
    ((2, 1), 2048, True, True)
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd

from counting.engine.enumeration import Enumeration, enumerated_spec, enumeration_plan
from counting.engine.run import PassFacts, RunOptions, run_pass
from counting.experiments.base.run import Kind, Pass
from counting.experiments.llamaizer.config import KIND, Architecture, Experiment, from_dict, with_samples
import counting.experiments.llamaizer.figures as figures
from counting.experiments.llamaizer.plan import TargetPlan, plan_targets
from counting.experiments.llamaizer.tables import summary as volumes_summary
from counting.experiments.llamaizer.tables import tables as make_tables
from counting.experiments.llamaizer.tally import LlamaizerTally, TargetCounts
from counting.experiments.llamaizer.width import crossing_table
from counting.experiments.llamaizer.width_figures import write_width_figures
from counting.spec.estimator import ExactSettings
from counting.spec.job import Spec, sampling_spec
from counting.spec.model import MLPSpec

__all__ = ["EXPERIMENT", "KIND", "Experiment", "architecture_counts", "architecture_tables", "chunk_sizes", "combine",
           "count_pass", "from_dict", "job_spec", "make_pass", "passes", "summary", "with_samples", "write_figures"]


def job_spec(exp: Experiment, arch: Architecture) -> Spec:
    """The job spec of one architecture's pass (for ``exact``: before enumeration, see :func:`make_pass`)."""
    model = MLPSpec(n_inputs=exp.n_inputs, widths=arch.widths, activation=arch.activation)
    if exp.estimator == "exact":
        return Spec(model, exp.prior, None, ExactSettings())
    return sampling_spec(model, exp.prior, exp.samples_of(arch), seed=exp.seed, chunk_size=exp.chunk_size)


def chunk_sizes(exp: Experiment) -> dict[str, int]:
    """``experiment.chunk_size``, or for ``exact`` each architecture's enumeration chunk (a power of the base)."""
    if exp.estimator == "exact":
        return {f"the enumeration chunk of {a.name}": enumeration_plan(job_spec(exp, a)).chunk_size
                for a in exp.architectures}
    return {"experiment.chunk_size": exp.chunk_size}


def architecture_tables(exp: Experiment, arch: Architecture, plans: tuple[TargetPlan, ...],
                        result: dict[str, TargetCounts], facts: PassFacts) -> dict[str, pd.DataFrame]:
    """The tables of one architecture's pass (:mod:`~counting.experiments.llamaizer.tables`)."""
    return make_tables(arch, plans, result, facts.samples, exp.n_inputs, exp.estimator == "exact")


def architecture_counts(name: str, result: dict[str, TargetCounts]) -> dict[str, np.ndarray]:
    """Every count of the pass, named ``<architecture>|<target>|<count>``, for ``counts.npz``."""
    raw = {}
    for t, c in result.items():
        key = f"{name}|{t}|"
        raw.update({key + "n_f": np.array(c.n_f), key + "held": c.held, key + "kept": c.kept,
                    key + "prior_held": c.prior_held, **{f"{key}union:{k}": u for k, u in c.unions.items()}})
    return raw


def make_pass(exp: Experiment, arch: Architecture, plans: tuple[TargetPlan, ...]) -> Pass:
    """One architecture's pass: the engine's spec and source (an enumeration for ``exact``), a fresh
    tally, and its tables and counts."""
    spec = job_spec(exp, arch)
    tally = LlamaizerTally(plans, len(arch.widths), exp.n_inputs, kind=f"{KIND}:{exp.digest()}")
    out = partial(architecture_tables, exp, arch, plans), partial(architecture_counts, arch.name)
    if exp.estimator == "exact":
        return Pass(arch.name, enumerated_spec(spec), tally, Enumeration(spec), arch, tables=out[0], counts=out[1])
    return Pass(arch.name, spec, tally, None, arch, tables=out[0], counts=out[1])


def passes(exp: Experiment) -> tuple[Pass, ...]:
    """Every architecture's pass, in the config's order."""
    plans = plan_targets(exp)
    return tuple(make_pass(exp, a, plans) for a in exp.architectures)


def count_pass(exp: Experiment, arch: Architecture, options: RunOptions = RunOptions()
               ) -> tuple[dict[str, TargetCounts], PassFacts]:
    """Run one architecture's pass: the counts per target and the run's facts (``samples``: the
    networks, or configurations, counted)."""
    p = make_pass(exp, arch, plan_targets(exp))
    facts = run_pass(p.spec, p.tally, options, p.source)
    return p.tally.finalize(), facts


def combine(exp: Experiment, tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The tables across passes: ``crossing`` (:mod:`~counting.experiments.llamaizer.width`) when
    architectures of one depth sweep two widths or more."""
    if "units" not in tables:
        return tables
    crossing = crossing_table(tables["units"], tables.get("discard"))
    return {**tables, "crossing": crossing} if not crossing.empty else tables


def write_figures(result: dict[str, pd.DataFrame], out, spec=None) -> list[str]:
    """The figures (file names returned): :func:`counting.experiments.llamaizer.figures.write_figures`'s
    three and, with a width sweep, :mod:`~counting.experiments.llamaizer.width_figures`'; then the three
    show only the width-32 architectures (a panel for each of many architectures would not be read).
    ``spec``: the run's settings as the manifest records them (the figures' titles)."""
    names = write_width_figures(result, out, spec)
    if names:
        widths = result["units"].groupby("architecture")["width"].agg(["min", "max"])
        keep = set(widths.index[(widths["min"] == 32) & (widths["max"] == 32)])
        if not keep:
            return names
        result = {k: v[v["architecture"].isin(keep)] if "architecture" in v else v for k, v in result.items()}
    return figures.write_figures(result, out, spec) + names


def summary(exp: Experiment, result: dict[str, pd.DataFrame]) -> str:
    """The volumes table, 3 decimals (what ``counting run`` prints)."""
    return volumes_summary(result["volumes"])


EXPERIMENT = Kind(KIND, from_dict, with_samples, chunk_sizes, passes, write_figures, summary, combine)
