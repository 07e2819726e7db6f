"""The price of expensive llamas by tempered SMC, where hit-or-miss sees none: the ``llama-rare`` kind.

For ``n-W-W-1`` MLPs (``experiments/llama_rare.toml``: 5-W-W-1 relu, Gaussian prior,
``sigma_w = sigma_b = 1``, fan-in scaling) and one target f (there ``and(x0,x1)``, 0x88888888,
itself, not its orbit), tempered SMC (:mod:`counting.estimators.replicated`, independent
replicates, 95% Student-t interval over them) measures ``log10 V(f)``, ``log10 V(f and layer l
holds g)`` and the cost in bits ``-log2 V(f and g) / V(f)`` (README, "Llamaizers at width"):

* a cheap llama, the dictator x2 (0xf0f0f0f0), in layer 1 and layer 2 at the first width,
  cross-checked against one hit-or-miss pass of the same networks counting every condition at once
  (:class:`~counting.experiments.llama_rare.tally.MultiHits`: exactly the counts separate ``mc``
  jobs with that seed would give);
* an expensive llama that is not a threshold function, x3 xor x4 (0x00ffff00), in layer 2 at every
  width; and, at the first width, "layer 2 holds x3 xor x4" for any network (no f), whose
  hit-or-miss count in results/llamaizer is 1 in 2e7.

Every SMC volume is its own pass (a job: the estimator's replicates, checkpointed one by one, so a
stopped run resumes at the next replicate) with its own seed (the experiment's seed + 1 + its
place in :func:`~counting.experiments.llama_rare.plan.plan`), so the two volumes of a cost are
independent. A cost's interval joins the two volumes' 95% intervals end to end (lower end of the
cost from the upper end of V(f and g) and the lower of V(f), and the other way round): it covers
whenever both intervals do. V(f)'s passes classify their last SMC populations (networks computing
f, drawn as the prior restricted to f as far as the moves mix) with a
:class:`~counting.estimators.replicated.Classifier` counting the networks that hold each llama
marked ``share``: the share holding it is a second SMC reading of its cost (``method =
smc-share``; 95% t-interval over replicates). Each width with ``mc_samples`` has one hit-or-miss
pass (seed: the experiment's).

Modules: :mod:`~counting.experiments.llama_rare.config` (the config), ``plan`` (the volumes, in
order, and their conditions), ``tally`` (:class:`MultiHits`), ``tables`` (rows, the two tables,
the markdown); this one holds the passes and the entry points :mod:`counting.experiments` calls.
``counting run experiments/llama_rare.toml --out results/llama-rare`` writes ``volumes.parquet``,
``costs.parquet``, ``llama_rare.md``, ``counts.npz`` (each replicate's log10 volume, the classified
networks' counts, the hit-or-miss counts) and ``manifest.json``.

Example:
    >>> from counting.experiments import parse_experiment
    >>> exp = parse_experiment('''
    ... [experiment]
    ... kind = "llama-rare"
    ... n_inputs = 3
    ... [[target]]
    ... name = "and(x0,x1)"
    ... truth_table = "0x88"
    ... [[llama]]
    ... name = "x2"
    ... truth_table = "0xf0"
    ... layers = [1]
    ... share = true
    ... [[width]]
    ... width = 4
    ... mc_samples = 4096
    ... [width.estimator]
    ... particles = 32
    ... replicates = 2
    ... ''')
    >>> [p.name for p in passes(exp)]
    ['smc:w4:f', 'smc:w4:f_and_layer1_holds_x2', 'mc:w4']
    >>> [p.spec.estimator.seed for p in passes(exp)]
    [1, 2, 0]
"""

from __future__ import annotations

import math
from functools import partial

import jax.numpy as jnp
import numpy as np
import pandas as pd

from counting.engine.run import PassFacts, RunOptions
from counting.estimators.problem import Problem
from counting.estimators.replicated import Classifier, replicate_runs, summarize_runs
from counting.estimators.result import Estimate
from counting.experiments.base.run import Kind, Pass
from counting.experiments.llama_rare import tables
from counting.experiments.llama_rare.config import KIND, Experiment, from_dict, with_samples
from counting.experiments.llama_rare.plan import Measure, condition, model, plan, shared
from counting.experiments.llama_rare.tally import MultiHits
from counting.io.files import atomic_write_bytes
from counting.rare.conditional import share_summary
from counting.rare.coordinates import GaussianProblem
from counting.rare.replicates import Replicates
from counting.spec.estimator import MCSettings, SMCSettings, replace_settings
from counting.spec.job import Spec

__all__ = ["EXPERIMENT", "KIND", "Experiment", "chunk_sizes", "combine", "from_dict", "passes", "summary",
           "with_samples", "write_figures"]

REPORT = "llama_rare.md"


def chunk_sizes(exp: Experiment) -> dict[str, int]:
    return {"experiment.chunk_size": exp.chunk_size}


def share_classifier(exp: Experiment, width: int, llamas: list[Measure]) -> Classifier:
    """Counts, among a population's networks, those satisfying each of ``llamas``' conditions."""
    checks = [GaussianProblem.of(model(exp, width), exp.prior, condition(exp, q)) for q in llamas]
    return Classifier("llamas " + ", ".join(q.label for q in llamas), tuple(q.label for q in llamas),
                      lambda coords: np.array([int(np.sum(np.asarray(c.evaluate(jnp.asarray(coords))[1])))
                                               for c in checks]))


def job_facts(reps: Replicates, settings: SMCSettings) -> PassFacts:
    """An SMC job's facts: its network evaluations (as ``samples``), replicates (as chunks) and time."""
    evals = sum(r.evaluations for r in reps.runs)
    rate = evals / reps.seconds if reps.seconds > 0 else math.nan
    return PassFacts(evals, len(reps.runs), settings.particles, settings.particles, 1, reps.resumed_from,
                     reps.seconds, rate)


def volume_job(problem: Problem, settings: SMCSettings, classifier: Classifier | None):
    """One SMC volume as a pass job: the estimator's replicates
    (:func:`counting.estimators.replicated.replicate_runs`, checkpointed in the pass's folder) and
    their :class:`~counting.estimators.result.Estimate`."""

    def job(options: RunOptions) -> tuple[Estimate, PassFacts]:
        reps = replicate_runs(problem, settings, options, classifier)
        return summarize_runs(settings, reps, classifier), job_facts(reps, settings)

    return job


def volume_tables(exp: Experiment, m: Measure, settings: SMCSettings, llamas: list[Measure], est: Estimate,
                  facts: PassFacts) -> dict[str, pd.DataFrame]:
    """One SMC volume's row and, for V(f) with ``llamas`` read among its last populations, their
    ``smc-share`` cost rows."""
    n = exp.n_inputs
    out = {"volumes": pd.DataFrame([tables.smc_row(m, n, est, settings)])}
    if llamas:
        d = est.diagnostics
        per = share_summary(d["solutions"], d["counts"], d["columns"]).per_replicate
        out["share_costs"] = pd.DataFrame([tables.share_cost_row(q, n, per[:, k], settings.seed)
                                           for k, q in enumerate(llamas)])
    return out


def volume_counts(name: str, est: Estimate) -> dict[str, np.ndarray]:
    """Each replicate's log10 volume and, when classified, its solutions and their counts."""
    d = est.diagnostics
    out = {f"{name}|replicates_log10": np.asarray(d["replicates_log10"], np.float64)}
    if "counts" in d:
        out |= {f"{name}|solutions": np.asarray(d["solutions"], np.int64),
                f"{name}|counts": np.asarray(d["counts"], np.int64).reshape(len(d["solutions"]), -1)}
    return out


def mc_tables(exp: Experiment, measures: list[Measure], samples: int, hits: np.ndarray,
              facts: PassFacts) -> dict[str, pd.DataFrame]:
    """A width's hit-or-miss pass: a volume row per condition and an ``mc`` cost row per llama given f."""
    n, k_f = exp.n_inputs, int(hits[0])  # measures[0] is V(f)
    vrows = [tables.mc_row(m, n, k, samples, exp.seed, facts.seconds) for m, k in zip(measures, hits)]
    crows = [tables.mc_cost_row(m, k_f, int(k), exp.seed, n) for m, k in zip(measures, hits)
             if m.llama is not None and m.and_f]
    return {"volumes": pd.DataFrame(vrows), **({"mc_costs": pd.DataFrame(crows)} if crows else {})}


def hits_counts(name: str, hits: np.ndarray) -> dict[str, np.ndarray]:
    return {f"{name}|hits": np.asarray(hits)}


def pass_name(m: Measure) -> str:
    return f"smc:w{m.width}:{m.label.replace(' ', '_')}"


def passes(exp: Experiment) -> tuple[Pass, ...]:
    """One job per SMC volume, in :func:`plan`'s order, then one hit-or-miss pass per width that has one."""
    measures = plan(exp)
    by_width = {w.width: w for w in exp.widths}
    out = []
    for i, m in enumerate(measures):
        settings = replace_settings(by_width[m.width].estimator, seed=exp.seed + 1 + i)
        llamas = shared(exp, measures, m.width) if m.llama is None else []
        classifier = share_classifier(exp, m.width, llamas) if llamas else None
        spec = Spec(model(exp, m.width), exp.prior, exp.target, settings)
        problem = Problem(spec.model, spec.prior, condition(exp, m), exp.target)
        name = pass_name(m)
        out.append(Pass(name, spec, None, about={"width": m.width, "condition": m.label},
                        job=volume_job(problem, settings, classifier),
                        tables=partial(volume_tables, exp, m, settings, llamas),
                        counts=partial(volume_counts, name)))
    for w in exp.widths:
        if not w.mc_samples:
            continue
        here = [m for m in measures if m.width == w.width]
        spec = Spec(model(exp, w.width), exp.prior, exp.target,
                    MCSettings(samples=w.mc_samples, seed=exp.seed, chunk_size=exp.chunk_size))
        name = f"mc:w{w.width}"
        out.append(Pass(name, spec, MultiHits([condition(exp, m) for m in here], f"{KIND}:hits:{exp.digest()}"),
                        about={"width": w.width}, tables=partial(mc_tables, exp, here, w.mc_samples),
                        counts=partial(hits_counts, name)))
    return tuple(out)


def combine(exp: Experiment, parts: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The ``volumes`` and ``costs`` tables from the passes' rows (:func:`tables.combine`)."""
    volumes, costs = tables.combine(parts["volumes"], parts.get("share_costs"), parts.get("mc_costs"),
                                    [w.width for w in exp.widths])
    return {"volumes": volumes, "costs": costs}


def write_figures(result: dict[str, pd.DataFrame], out, spec=None) -> list[str]:
    """The tables as text, ``llama_rare.md`` (no figure: a few numbers per width)."""
    atomic_write_bytes(out / REPORT, tables.markdown(result["volumes"], result["costs"]).encode())
    return [REPORT]


def summary(exp: Experiment, result: dict[str, pd.DataFrame]) -> str:
    """Both tables, 3 decimals (what ``counting run`` prints)."""
    return tables.markdown(result["volumes"], result["costs"])


EXPERIMENT = Kind(KIND, from_dict, with_samples, chunk_sizes, passes, write_figures, summary, combine)
