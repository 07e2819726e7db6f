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

A width whose ``[width.estimator]`` has ``kind = "readout"`` measures its volumes that include the
target otherwise: one pass of the readout estimator (:mod:`counting.estimators.readout`, a job
named ``readout:w<W>``, seeded by the experiment's seed + 1 + the place of that width's V(f) in the
plan) gives V(f) and every V(f and layer l holds g) at that width over the same hidden draws
(:func:`~counting.estimators.readout.estimate_sums` of ``ReadoutTarget(f, where=holds(...))``),
each with its reliability diagnostics (Pareto k-hat, largest network's share); each cost is the
share V(f and g) / V(f) of that one pass with a paired delta-method interval
(:func:`~counting.estimators.readout.restricted_share`: the two means are over the same networks,
so joining their intervals end to end would be needlessly wide). ``share`` does not apply there
(the readout cost is itself that share, read without tempering). The hidden-only volumes at that
width ("layer l holds g" without the target: no readout to integrate out) keep tempered SMC with
``[width.prior_estimator]``'s settings and the seeds they had; their last populations are also
classified by the target's ``P(f | hidden)``, which gives ``V(f and layer l holds g)`` by the
hidden event (:mod:`counting.estimators.hidden_event`: ``V(g) * E[P(f | hidden) | g]``, a
``hidden-event`` volume row and cost row), reaching the llamas that are themselves too rare in the
hidden layers for the readout pass to see (:func:`event_pass`).

Modules: :mod:`~counting.experiments.llama_rare.config` (the config), ``plan`` (the volumes, in
order, and their conditions), ``tally`` (:class:`MultiHits`), ``tables`` (rows, the two tables,
the markdown); this one holds the passes and the entry points :mod:`counting.experiments` calls.
``counting run experiments/llama_rare.toml --out results/llama-rare`` writes ``volumes.parquet``,
``costs.parquet``, ``llama_rare.md``, ``counts.npz`` (each replicate's log10 volume, the classified
networks' counts, the hit-or-miss counts, a readout pass's per-chunk sums) and ``manifest.json``;
``experiments/llama_rare_readout.toml`` is the same experiment with the readout at both widths.

Example:
    >>> from counting.experiments import parse_experiment
    >>> text = '''
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
    ... '''
    >>> exp = parse_experiment(text)
    >>> [p.name for p in passes(exp)]
    ['smc:w4:f', 'smc:w4:f_and_layer1_holds_x2', 'mc:w4']
    >>> [p.spec.estimator.seed for p in passes(exp)]
    [1, 2, 0]
    >>> ro = parse_experiment(text.replace("particles = 32\\nreplicates = 2", "kind = 'readout'\\nsamples = 2048"))
    >>> [(p.name, p.spec.estimator.kind, p.spec.estimator.seed) for p in passes(ro)]
    [('readout:w4', 'readout', 1), ('mc:w4', 'mc', 0)]
"""

from __future__ import annotations

import math
from functools import partial

import jax.numpy as jnp
import numpy as np
import pandas as pd

from counting.engine.run import PassFacts, RunOptions
from counting.estimators.problem import Problem
from counting.estimators.hidden_event import joint_estimate, readout_classifier
from counting.estimators.readout import ChunkSums, ReadoutTarget, estimate_sums, pass_facts, restricted_share
from counting.estimators.replicated import Classifier, replicate_runs, summarize_runs
from counting.estimators.result import Estimate
from counting.experiments.base.run import Kind, Pass
from counting.experiments.llama_rare import tables
from counting.experiments.llama_rare.config import KIND, Experiment, from_dict, with_samples
from counting.experiments.llama_rare.plan import Measure, condition, model, plan, shared
from counting.mechanisms.sites import holds
from counting.experiments.llama_rare.tally import MultiHits
from counting.io.files import atomic_write_bytes
from counting.rare.conditional import share_summary
from counting.rare.coordinates import GaussianProblem
from counting.rare.replicates import Replicates
from counting.spec.estimator import MCSettings, ReadoutSettings, SMCSettings, replace_settings
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


def event_job(problem: Problem, settings: SMCSettings, classifier: Classifier):
    """A hidden-only SMC volume at a readout width as a pass job: the replicates classified by the
    target's ``P(f | hidden)`` (:func:`counting.estimators.hidden_event.readout_classifier`), giving
    the volume of the hidden condition (the replicates' own estimates, as an unclassified job's)
    and ``V(f and condition)`` (:func:`counting.estimators.hidden_event.joint_estimate`)."""

    def job(options: RunOptions) -> tuple[tuple[Estimate, Estimate], PassFacts]:
        reps = replicate_runs(problem, settings, options, classifier)
        return (summarize_runs(settings, reps), joint_estimate(reps, settings.kind, settings.seed)), \
            job_facts(reps, settings)

    return job


def event_tables(exp: Experiment, m: Measure, settings: SMCSettings, result: tuple[Estimate, Estimate],
                 facts: PassFacts) -> dict[str, pd.DataFrame]:
    """The hidden-only volume's SMC row and the ``hidden-event`` row of ``V(f and condition)``."""
    n, (event, joint) = exp.n_inputs, result
    return {"volumes": pd.DataFrame([tables.smc_row(m, n, event, settings),
                                     tables.event_row(m._replace(and_f=True), n, joint, settings)])}


def event_counts(name: str, result: tuple[Estimate, Estimate]) -> dict[str, np.ndarray]:
    """Each replicate's log10 volume of the condition, of the conditional mean of ``P(f | hidden)``
    and of ``V(f and condition)``, and its networks holding the condition."""
    event, joint = result
    d = joint.diagnostics
    return {f"{name}|replicates_log10": np.asarray(event.diagnostics["replicates_log10"], np.float64),
            f"{name}|conditional_mean_log10": np.asarray(d["conditional_mean_log10"], np.float64),
            f"{name}|joint_replicates_log10": np.asarray(d["replicates_log10"], np.float64),
            f"{name}|solutions": np.asarray(d["solutions"], np.int64)}


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


def readout_targets(exp: Experiment, measures: list[Measure]) -> list[ReadoutTarget]:
    """The readout pass's targets: "computes f", then f with each measure's "site holds g" as ``where``."""
    tt, n = exp.target.truth_table, exp.n_inputs
    return [ReadoutTarget(tt, where=None if m.llama is None else holds(m.site, m.llama[1], n)) for m in measures]


def readout_job(problem: Problem, targets: list[ReadoutTarget], settings: ReadoutSettings):
    """A width's readout pass as a job (checkpointed in the pass's folder like a counting pass): its
    estimates, one per target, and the pass's sums."""

    def job(options: RunOptions) -> tuple[tuple[list[Estimate], ChunkSums], PassFacts]:
        est, sums = estimate_sums(problem, targets, settings, options)
        return (est, sums), pass_facts(est, settings)

    return job


def readout_tables(exp: Experiment, measures: list[Measure], result: tuple[list[Estimate], ChunkSums],
                   facts: PassFacts) -> dict[str, pd.DataFrame]:
    """A readout pass's volume rows (``measures[0]`` is V(f)) and a ``readout`` cost row per llama."""
    est, sums = result
    n = exp.n_inputs
    costs = [tables.readout_cost_row(m, n, restricted_share(sums, k, 0), est[0], est[k])
             for k, m in enumerate(measures) if k]
    return {"volumes": pd.DataFrame([tables.readout_row(m, n, e) for m, e in zip(measures, est)]),
            **({"readout_costs": pd.DataFrame(costs)} if costs else {})}


def readout_counts(name: str, result: tuple[list[Estimate], ChunkSums]) -> dict[str, np.ndarray]:
    """A readout pass's per-chunk sums (columns: its targets, in order) and largest terms."""
    return {f"{name}|{k}": np.asarray(v) for k, v in result[1]._asdict().items()}


def pass_name(m: Measure) -> str:
    return f"smc:w{m.width}:{m.label.replace(' ', '_')}"


def readout_pass(exp: Experiment, width: int, measures: list[Measure], settings: ReadoutSettings) -> Pass:
    """The readout pass of ``width``: every volume of ``measures`` (V(f) first) over the same hidden draws."""
    spec = Spec(model(exp, width), exp.prior, exp.target, settings)
    problem = Problem(spec.model, spec.prior, condition(exp, measures[0]), exp.target)
    name = f"readout:w{width}"
    return Pass(name, spec, None, about={"width": width, "conditions": [m.label for m in measures]},
                job=readout_job(problem, readout_targets(exp, measures), settings),
                tables=partial(readout_tables, exp, measures), counts=partial(readout_counts, name))


def event_pass(exp: Experiment, m: Measure, settings: SMCSettings, readout: ReadoutSettings) -> Pass:
    """The SMC pass of a hidden-only volume at a readout width, its last populations classified
    by the target's ``P(f | hidden)`` (:func:`event_job`)."""
    spec = Spec(model(exp, m.width), exp.prior, exp.target, settings)
    classifier = readout_classifier(spec.model, spec.prior, exp.target.truth_table, readout, settings.seed)
    problem = Problem(spec.model, spec.prior, condition(exp, m), exp.target)
    name = pass_name(m)
    return Pass(name, spec, None, about={"width": m.width, "condition": m.label},
                job=event_job(problem, settings, classifier), tables=partial(event_tables, exp, m, settings),
                counts=partial(event_counts, name))


def passes(exp: Experiment) -> tuple[Pass, ...]:
    """One job per SMC volume, in :func:`plan`'s order (a readout width's volumes with the target: one
    readout job, in the place of its V(f)), then one hit-or-miss pass per width that has one."""
    measures = plan(exp)
    by_width = {w.width: w for w in exp.widths}
    out = []
    for i, m in enumerate(measures):
        w = by_width[m.width]
        if w.readout and m.and_f:
            if m.llama is None:  # V(f): the width's readout pass, seeded by V(f)'s place
                here = [q for q in measures if q.width == m.width and q.and_f]
                out.append(readout_pass(exp, m.width, here, replace_settings(w.estimator, seed=exp.seed + 1 + i)))
            continue
        settings = replace_settings(w.smc, seed=exp.seed + 1 + i)
        if w.readout:  # a hidden-only volume at a readout width: also V(f and it), the readout integrated out
            out.append(event_pass(exp, m, settings, w.estimator))
            continue
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
                                    [w.width for w in exp.widths], parts.get("readout_costs"))
    return {"volumes": volumes, "costs": costs}


def write_figures(result: dict[str, pd.DataFrame], out, spec=None) -> list[str]:
    """The tables as text, ``llama_rare.md`` (no figure: a few numbers per width)."""
    atomic_write_bytes(out / REPORT, tables.markdown(result["volumes"], result["costs"]).encode())
    return [REPORT]


def summary(exp: Experiment, result: dict[str, pd.DataFrame]) -> str:
    """Both tables, 3 decimals (what ``counting run`` prints)."""
    return tables.markdown(result["volumes"], result["costs"])


EXPERIMENT = Kind(KIND, from_dict, with_samples, chunk_sizes, passes, write_figures, summary, combine)
