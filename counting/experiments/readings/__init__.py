"""The two readings of "holds", compared on the same networks: the ``readings`` experiment kind.

The llamaizer experiment says a layer holds a llama ``g`` when one of its units has sign pattern
``g`` (or ``not g``). A weaker reading asks only that ``g`` be a linear readout of the layer's
activations (:mod:`counting.mechanisms.readout`). This kind measures both on the same networks
(README, "Llamaizers at width"): for each architecture and target, the first ``networks`` prior
networks computing the target's orbit (:func:`~counting.experiments.readings.decide.solutions`),
and for every hidden layer and every llama of the families, whether a unit holds it and whether it
is a readout, decided exactly: a rank shortcut (``[A 1]`` of full row rank reads everything, so the
reading is vacuous at large width), a clash shortcut, or a linear program
(:func:`~counting.experiments.readings.decide.count_readings`). One table, ``readout``: a row per
architecture, target, layer and llama with the networks kept and drawn, the counts ``sign``,
``readout``, ``both``, how each was decided (``rank``, ``clash``, ``lp``), ``readout_share`` with
its Clopper-Pearson interval and ``sign_share``. Config: :mod:`~counting.experiments.readings.config`.

It is a kind of its own, not a part of the llamaizer's config: its work is a search for solutions
followed by exact decisions per network, not a counting pass, and it reads its architectures,
targets and families with the llamaizer's own parsers, so a llamaizer file's tables copy over.
Each (architecture, target) is one pass (a job: no checkpoint within it; a resumed run keeps the
tables of the passes it finished).

Example:
    >>> from counting.experiments import parse_experiment, run_experiment
    >>> exp = parse_experiment('''
    ... [experiment]
    ... kind = "readings"
    ... n_inputs = 3
    ... networks = 3
    ... chunk_size = 256
    ... [[architecture]]
    ... widths = [2]
    ... [[target]]
    ... name = "and01"
    ... truth_table = "0x88"
    ... [[family]]
    ... kind = "ignored_bits"
    ... ''')
    >>> [p.name for p in passes(exp)]
    ['3-2-1:and01']
    >>> t = run_experiment(exp, progress=False)["readout"]
    >>> t[["layer", "llama", "networks", "rank"]].values.tolist()    # 2 units: never full rank on 8 points
    [[1, '0xf0', 3, 0]]
"""

from __future__ import annotations

import math
import time
from functools import partial

import pandas as pd

from counting.engine.progress import Progress, default_mode
from counting.engine.run import PassFacts, RunOptions
from counting.experiments.base.run import Kind, Pass
from counting.experiments.readings.config import KIND, Experiment, from_dict, with_samples
from counting.experiments.readings.decide import count_readings, plan_target, readout_rows, solutions
from counting.spec.estimator import MCSettings
from counting.spec.job import Spec
from counting.spec.model import MLPSpec
from counting.spec.target import Target

__all__ = ["EXPERIMENT", "KIND", "Experiment", "chunk_sizes", "from_dict", "passes", "summary", "with_samples",
           "write_figures"]


def chunk_sizes(exp: Experiment) -> dict[str, int]:
    """No counting pass: ``--batch-size`` has nothing to divide."""
    return {}


def readings_job(exp: Experiment, a_index: int, target: Target, name: str):
    """One architecture and target as a pass job: its solutions, then the readings of each."""

    def job(options: RunOptions) -> tuple[pd.DataFrame, PassFacts]:
        t0 = time.perf_counter()
        plan = plan_target(target, exp.families, exp.n_inputs)
        nets, drawn = solutions(exp, a_index, plan)
        with Progress(len(nets), desc=name, mode=default_mode(options.progress), every=options.progress_seconds,
                      forecast_seconds=math.inf) as bar:
            counts = count_readings(exp, a_index, plan, nets, bar.update)
        rows = pd.DataFrame(readout_rows(exp, a_index, plan, counts, len(nets), drawn))
        seconds = time.perf_counter() - t0
        return rows, PassFacts(drawn, math.ceil(drawn / exp.chunk_size), exp.chunk_size, exp.chunk_size, 1, 0,
                               seconds, drawn / seconds if seconds > 0 else math.nan)

    return job


def readout_tables(rows: pd.DataFrame, facts: PassFacts) -> dict[str, pd.DataFrame]:
    return {"readout": rows}


def passes(exp: Experiment) -> tuple[Pass, ...]:
    """One job per architecture and target, in the config's order."""
    out = []
    for a_index, arch in enumerate(exp.architectures):
        model = MLPSpec(n_inputs=exp.n_inputs, widths=arch.widths, activation=arch.activation)
        for target in exp.targets:
            name = f"{arch.name}:{target.name}"
            spec = Spec(model, exp.prior, target, MCSettings(seed=exp.seed, chunk_size=exp.chunk_size))
            out.append(Pass(name, spec, None, None, {"architecture": arch.name, "target": target.name},
                            readings_job(exp, a_index, target, name), tables=readout_tables))
    return tuple(out)


def write_figures(tables: dict[str, pd.DataFrame], out, spec=None) -> list[str]:
    """No figure: the table is read in ``notebooks/llamaizer.ipynb``."""
    return []


def summary(exp: Experiment, tables: dict[str, pd.DataFrame]) -> str:
    """What ``counting run`` prints: the readout and sign shares per architecture, target, layer and llama."""
    t = tables["readout"][["architecture", "target", "layer", "llama", "networks", "readout_share", "sign_share",
                           "rank", "clash", "lp"]]
    return t.round(3).to_string(index=False)


EXPERIMENT = Kind(KIND, from_dict, with_samples, chunk_sizes, passes, write_figures, summary)
