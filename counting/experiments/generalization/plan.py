"""The generalization experiment's passes: per cube size and network one prior census (the
rejection count), then per target, m and draw of S the posterior job and one trained census per
optimiser.

* ``rejection:n<n>:a<a>``: a plain hit-or-miss census of ``[rejection] samples`` prior networks
  (every network's truth table over the whole cube, counted by function), seeded by
  :func:`rejection_seed`; one census serves every target, m and draw of S of its cube size and
  network, each keeping the functions that agree with f* on S
  (:func:`~counting.experiments.generalization.tables.rejection_tables`).
* ``posterior:...``: a job of ``[posterior] replicates`` runs of
  :func:`counting.rare.readout_posterior.posterior_runs` (checkpointed after each batch of
  replicates by :func:`counting.rare.replicates.run_replicate_batches`, so a killed run resumes at
  the next replicate with the same numbers), seeded by :func:`posterior_seed`.
* ``<optimizer>:...``: the training experiment's trained census (its spec, tally and source:
  :func:`counting.experiments.training.plan.setting_spec`'s fields, S from ``train_seed + draw``),
  the runs that fit S counted by function.

Example:
    >>> from counting.experiments.base.config import read_toml
    >>> from counting.experiments.generalization.config import DEMO, from_dict
    >>> exp = from_dict(read_toml(DEMO), "demo")
    >>> [p.name for p in passes(exp)][:4]
    ['rejection:n3:a0', 'posterior:n3:a0:dictator:m0:s0', 'adam:n3:a0:dictator:m0:s0', 'posterior:n3:a0:dictator:m4:s0']
    >>> len(passes(exp)), passes(exp)[4].spec.training.m, passes(exp)[4].spec.training.train_seed
    (17, 4, 0)
"""

from __future__ import annotations

import dataclasses
from functools import partial
from typing import Callable

import numpy as np

from counting.engine.census import Census
from counting.engine.run import PassFacts, RunOptions
from counting.engine.tally import CensusTally
from counting.experiments.base.run import Pass
from counting.experiments.generalization.config import KIND, Experiment, m_values, s_draws, target_table
import counting.experiments.generalization.tables as tb
from counting.experiments.simplicity.jobs import derived_seed
from counting.experiments.training.plan import TrainedCensus
from counting.models import describe_model
from counting.rare.readout_posterior import PosteriorRun, posterior_runs
from counting.rare.replicates import run_replicate_batches
from counting.spec.estimator import ReadoutSMCSettings
from counting.spec.job import Spec, sampling_spec, spec_from_dict
from counting.spec.prior import describe_prior
from counting.training.data import agrees_on_set, training_points
from counting.training.source import trained_source


def posterior_seed(seed: int, n: int, architecture: str, target: str, m: int, draw: int) -> int:
    """The posterior job's seed of one setting (a hash: no two settings share draws)."""
    return derived_seed(seed, KIND, n, architecture, target, m, draw)


def rejection_seed(seed: int, n: int, architecture: str) -> int:
    """The rejection census's seed of one cube size and network (a hash of its own name: its draws
    are none of the posterior's or the training runs')."""
    return derived_seed(seed, KIND, "rejection", n, architecture)


def census_counts(name: str, census: Census) -> dict[str, np.ndarray]:
    """The rejection census's exact counts for ``counts.npz``: its packed tables and their counts."""
    return {f"{name}|tables": census.tables, f"{name}|counts": census.counts}


def setting_spec(exp: Experiment, n: int, arch: dict, tt: int, m: int, draw: int, optimizer: dict | None) -> Spec:
    """A setting's job spec: its model, prior, target and S (``train_seed + draw``), trained by
    ``optimizer`` (``None``: the posterior's spec, whose estimator is ``[posterior]``)."""
    training = {"m": m, "train_seed": exp.train_seed + draw, "condition_on_train": True}
    if optimizer is not None:
        training = {**{k: v for k, v in optimizer.items() if k != "name"}, **training}
    else:
        training["posterior"] = True
    est = {"samples": max(exp.samples, 1), "chunk_size": exp.chunk_size, "seed": exp.seed}
    return spec_from_dict({"model": {**arch, "n_inputs": n}, "prior": exp.prior,
                           "target": {"truth_table": hex(tt)}, "training": training, "estimator": est})


def posterior_job(spec: Spec, settings: ReadoutSMCSettings, readouts: int
                  ) -> Callable[[RunOptions], tuple[tuple, PassFacts]]:
    """The posterior of one setting as a job: its replicates' :class:`PosteriorRun` records."""
    n = spec.model.n_inputs
    points = tuple(int(p) for p in training_points(spec.training, n))
    batch = settings.batch_replicates

    def runs(keys):
        return posterior_runs(keys, spec.model, spec.prior, spec.target.truth_table, points, settings, readouts)

    def job(options: RunOptions) -> tuple[tuple, PassFacts]:
        reps = run_replicate_batches(runs, PosteriorRun, settings.replicates, max(batch, 1), seed=settings.seed,
                                     key_impl=settings.key_impl, options=options,
                                     spec_json=json_of(spec, settings, readouts), kind=f"{KIND}:posterior")
        nets = settings.particles * len(reps.runs)
        facts = PassFacts(nets, len(reps.runs), settings.particles, settings.particles, 1, reps.resumed_from,
                          reps.seconds, nets / reps.seconds if reps.seconds > 0 else 0.0)
        return reps.runs, facts

    return job


def json_of(spec: Spec, settings: ReadoutSMCSettings, readouts: int) -> str:
    """The posterior job's checkpoint identity."""
    return Spec(spec.model, spec.prior, spec.target, settings, spec.training).to_json() + f"|readouts={readouts}"


def passes(exp: Experiment) -> tuple[Pass, ...]:
    """Every pass, in order: per cube size and network the rejection census (unless ``[rejection]
    samples = 0``), then per target, m and draw the posterior then each optimiser."""
    out = []
    for n in exp.n_inputs:
        for a, arch in enumerate(exp.architectures):
            block, abouts = [], []
            for t in exp.targets:
                tt = target_table(t, n)
                for m in m_values(exp, n):
                    for draw in s_draws(exp, n, m):
                        tag = f"n{n}:a{a}:{t.name}:m{m}:s{draw}"
                        spec = setting_spec(exp, n, arch, tt, m, draw, None)
                        points = tuple(int(p) for p in training_points(spec.training, n))
                        about = {"n_inputs": n, "architecture": f"a{a}",
                                 "network": describe_model(spec.model, "citation"),
                                 "prior": describe_prior(spec.prior), "target": t.name, "function": t.function,
                                 "target_table": tt, "m": m, "draw": draw, "S": points}
                        abouts.append(about)
                        settings = dataclasses.replace(
                            exp.posterior, seed=posterior_seed(exp.seed, n, f"a{a}", t.name, m, draw))
                        block.append(Pass(f"posterior:{tag}", Spec(spec.model, spec.prior, spec.target, settings,
                                                                   spec.training), None, None,
                                          {**about, "method": "posterior"},
                                          posterior_job(spec, settings, exp.readouts),
                                          tables=partial(tb.posterior_tables, {**about, "method": "parameters"},
                                                         settings=settings, readouts=exp.readouts)))
                        if not exp.samples:
                            continue
                        for opt in exp.optimizers:
                            s = setting_spec(exp, n, arch, tt, m, draw, opt)
                            tally = CensusTally(n, exp.chunk_size, exp.samples, agrees_on_set(s))
                            block.append(Pass(f"{opt['name']}:{tag}", s, TrainedCensus(tally), trained_source(s),
                                              {**about, "method": opt["name"]},
                                              tables=partial(tb.training_tables,
                                                             {**about, "method": f"training ({opt['name']})"})))
            r = exp.rejection
            if r.samples and abouts:
                name = f"rejection:n{n}:a{a}"
                spec = sampling_spec(block[0].spec.model, block[0].spec.prior, r.samples,
                                     seed=rejection_seed(exp.seed, n, f"a{a}"), chunk_size=r.chunk_size)
                tally = CensusTally(n, r.chunk_size, r.samples, kind=f"{KIND}:census")
                out.append(Pass(name, spec, tally, None, {"n_inputs": n, "architecture": f"a{a}", "method": "rejection"},
                                tables=partial(tb.rejection_tables, [{**x, "method": "rejection"} for x in abouts]),
                                counts=partial(census_counts, name)))
            out += block
    return tuple(out)
