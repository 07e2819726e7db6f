"""The training experiment's passes: per architecture, target and S, one posterior census and one
trained census per optimiser, each restricted to the networks that agree with the target on S.

A posterior pass draws ``posterior_samples`` prior networks and keeps those agreeing on S (P_B(f | S)
by rejection); a trained pass trains ``samples`` networks from the same prior (the same seed, so
its initialisations are the posterior pass's first networks) and keeps the runs whose function
agrees on S (P_SGD(f | S)), with the training facts of every run.

Example:
    >>> from counting.experiments.base.config import read_toml
    >>> from counting.experiments.training.config import from_dict
    >>> exp = from_dict(read_toml('''
    ... [experiment]
    ... kind = "training"
    ... m = [2, 4]
    ... [[architecture]]
    ... widths = [8]
    ... [[target]]
    ... name = "majority"
    ... [[optimizer]]
    ... name = "sgd"
    ... optimizer = "sgd"
    ... learning_rate = 0.1
    ... '''), "demo")
    >>> [p.name for p in passes(exp)]
    ['posterior:a0:majority:m2', 'sgd:a0:majority:m2', 'posterior:a0:majority:m4', 'sgd:a0:majority:m4']
    >>> passes(exp)[1].spec.training.optimizer, passes(exp)[1].spec.training.m
    ('sgd', 2)

With ``[mechanisms]`` (:class:`~counting.experiments.training.config.Mechanisms`) come, per setting,
one prior pass (untrained draws, every target's mechanisms counted at once) and one trained pass
per target (S the whole cube, so every run that fits computes the target), each counting with the
mechanism experiments' own tallies: :class:`counting.experiments.llamaizer.tally.LlamaizerTally`
for llamas, :class:`counting.experiments.depth.tally.RouteTally` for chain against tree (wrapped in
:class:`TrainedMechanisms` when trained). Both condition on computing the target themselves.

    >>> exp = from_dict(read_toml(MECHANISMS_DEMO), "demo")
    >>> [p.name for p in mechanism_passes(exp)][1:]
    ['mechanisms:adam:routes:resmlp-L3-w8:and4', 'mechanisms:adam:routes:resmlp-L3-w8:parity4']
    >>> t = mechanism_passes(exp)[2].spec.training
    >>> t.m, t.optimizer, mechanism_passes(exp)[0].spec.training
    (16, 'adam', None)

A decomposition in ``[mechanisms.routes] rare`` (too rare for the prior's hit-or-miss) leaves the
prior pass; its prior side is a job instead (:func:`rare_prior_pass`): the depth experiment's
tempered-SMC replicates (:func:`counting.experiments.depth.rare.route_job`), whose last
populations are classified into the same routes.

    >>> exp = from_dict(read_toml(MECHANISMS_DEMO + 'rare = ["parity4"]'), "demo")
    >>> [(p.name, p.job is not None) for p in mechanism_passes(exp)][:2]
    [('mechanisms:prior:routes:resmlp-L3-w8', False), ('mechanisms:prior-smc:routes:resmlp-L3-w8:parity4', True)]
    >>> mechanism_passes(exp)[0].tally.decompositions[0].name, len(mechanism_passes(exp)[0].tally.decompositions)
    ('and4', 1)
"""

from __future__ import annotations

from functools import partial
from typing import Callable

import numpy as np
import pandas as pd

from counting.boolean.tables import to_hex
from counting.engine.tally import CensusTally
from counting.experiments.base.config import config_digest
from counting.experiments.base.run import Pass
from counting.experiments.depth.plan import model_name
from counting.experiments.depth.rare import route_job, route_record_counts
from counting.experiments.depth.tally import RouteTally
from counting.experiments.llamaizer.plan import TargetPlan, plan_target
from counting.experiments.llamaizer.tally import LlamaizerTally
import counting.experiments.training.pass_tables as pt
import counting.experiments.training.readout as rd
from counting.experiments.training.config import KIND, Experiment, target_table
from counting.experiments.training.tables import treacherous
from counting.mechanisms.routes import DECOMPOSITIONS, Decomposition
from counting.models import describe_model
from counting.spec.estimator import ReadoutSettings, SMCSettings
from counting.spec.target import Target
from counting.spec.job import Spec, spec_from_dict
from counting.spec.prior import describe_prior
from counting.training.data import agrees_on_set, training_points
from counting.training.source import trained_source
from counting.training.tally import TrainingTally


class TrainedCensus(TrainingTally):
    """A trained census whose result is ``(census, training facts)`` (what the tables need)."""

    def finalize(self):
        return self.inner.finalize(), self.facts()


def setting_spec(exp: Experiment, arch: dict, target: dict, m: int, optimizer: dict | None) -> Spec:
    """The job spec of one pass (``optimizer=None``: the posterior)."""
    s = {"m": m, "train_seed": exp.train_seed, "condition_on_train": True}
    training = {**s, "posterior": True} if optimizer is None else {
        **{k: v for k, v in optimizer.items() if k != "name"}, **s}
    samples = exp.posterior_samples if optimizer is None else exp.samples
    return spec_from_dict({"model": {**arch, "n_inputs": exp.n_inputs}, "prior": exp.prior,
                           "target": target_table(target), "training": training,
                           "estimator": {"samples": samples, "chunk_size": exp.chunk_size, "seed": exp.seed}})


MECHANISMS_DEMO = """
[experiment]
kind = "training"
m = [4]
[[architecture]]
widths = [8]
[[target]]
name = "majority"
[[optimizer]]
name = "adam"
[mechanisms]
samples = 64
[mechanisms.routes]
decompositions = ["and4", "parity4"]
"""


def target_only(plan: TargetPlan) -> TargetPlan:
    """``plan`` counting the networks that compute its target itself, not any member of its orbit."""
    i = int(np.searchsorted(plan.orbit, plan.target.truth_table))  # the identity's row: f itself
    return plan._replace(orbit=plan.orbit[i:i + 1], transported=plan.transported[i:i + 1])


class TrainedMechanisms(TrainingTally):
    """A trained mechanism tally whose result is ``(its result, training facts)``."""

    def finalize(self):
        return self.inner.finalize(), self.facts()


def mechanism_spec(exp: Experiment, model: dict, n: int, target: int | None) -> Spec:
    """A mechanism pass's spec: ``target`` trained on the whole cube by the chosen optimiser, or
    (``None``) the untrained prior; the same seed and chunks, so the trained runs start from the
    prior pass's first networks."""
    mech = exp.mechanisms
    est = {"samples": mech.prior_samples, "chunk_size": mech.chunk_size, "seed": exp.seed}
    d = {"model": {**model, "n_inputs": n}, "prior": exp.prior}
    if target is None:
        return spec_from_dict({**d, "estimator": est}, need_target=False)
    opt = next(o for o in exp.optimizers if o["name"] == mech.optimizer)
    training = {**{k: v for k, v in opt.items() if k != "name"}, "m": 2**n, "train_seed": exp.train_seed}
    return spec_from_dict({**d, "target": {"truth_table": to_hex(target, n)}, "training": training,
                           "estimator": {**est, "samples": mech.samples}})


def mechanism_pass(exp: Experiment, setting: str, model: dict, n: int, target: tuple[str, int] | None,
                   tally, tables: Callable, counts: Callable) -> Pass:
    """One mechanism pass: the prior (``target=None``) or ``target`` (name, truth table) trained;
    ``tables(about, result, facts)`` and ``counts(name, result)`` make its tables and raw counts
    (:mod:`~counting.experiments.training.pass_tables`)."""
    method = "prior" if target is None else exp.mechanisms.optimizer
    spec = mechanism_spec(exp, model, n, None if target is None else target[1])
    about = {"part": "mechanisms", "setting": setting, "model": describe_model(spec.model), "n_inputs": n,
             "target": None if target is None else target[0], "method": method}
    name = f"mechanisms:{method}:{setting}" + ("" if target is None else f":{target[0]}")
    return Pass(name, spec, tally if target is None else TrainedMechanisms(tally), trained_source(spec), about,
                tables=partial(tables, about), counts=partial(counts, name))


def smc_settings(exp: Experiment) -> SMCSettings | ReadoutSettings:
    """The estimator of the ``rare`` routes' prior side (seeded by the experiment's seed, as the depth
    experiment's, so the same SMC settings give the depth experiment's replicates)."""
    return exp.mechanisms.routes.estimator  # [mechanisms.routes.estimator]


def rare_prior_pass(exp: Experiment, setting: str, prior_spec: Spec, d: Decomposition) -> Pass:
    """The prior side of ``d`` by tempered SMC (``prior_spec``: the prior pass's spec, for its model
    and prior): a job of ``replicates`` runs, each last population's solutions classified by route;
    or, with ``kind = "readout"``, one readout pass (:func:`readout_prior_pass`)."""
    s, model, prior = smc_settings(exp), prior_spec.model, prior_spec.prior
    if s.kind == "readout":
        return readout_prior_pass(setting, model, prior, d, s)
    about = {"part": "mechanisms", "setting": setting, "model": describe_model(model), "n_inputs": d.n,
             "target": d.name, "method": "prior", "estimator": "smc"}
    name = f"mechanisms:prior-smc:{setting}:{d.name}"
    return Pass(name, Spec(model, prior, None, s), None, None, about, route_job(model, prior, d, s),
                tables=partial(pt.smc_mechanism_tables, about, model=model), counts=partial(route_record_counts, name))


def readout_prior_pass(setting: str, model, prior, d: Decomposition, s: ReadoutSettings) -> Pass:
    """The prior side of ``d`` with the readout integrated out: one pass giving V(f) and each route
    mechanism's E[1{mechanism} P(f | hidden)] (:func:`counting.experiments.training.readout.route_readout_job`)."""
    about = {"part": "mechanisms", "setting": setting, "model": describe_model(model), "n_inputs": d.n,
             "target": d.name, "method": "prior", "estimator": "readout"}
    name = f"mechanisms:prior-readout:{setting}:{d.name}"
    return Pass(name, Spec(model, prior, Target(d.target, d.n), s), None, None, about,
                rd.route_readout_job(model, prior, d, s),
                tables=partial(pt.readout_mechanism_tables, about, mechanisms=rd.ROUTE_MECHANISMS),
                counts=partial(pt.readout_route_counts, name))


def mechanism_passes(exp: Experiment) -> tuple[Pass, ...]:
    """The ``[mechanisms]`` passes: per setting, the prior (hit-or-miss; for routes then each rare
    decomposition by SMC), then each target trained."""
    mech = exp.mechanisms
    if mech is None:
        return ()
    out, tag = [], f"{KIND}:mechanisms:{config_digest(mech)}"
    if mech.llamas is not None:
        ll, n = mech.llamas, exp.n_inputs
        model = {"widths": list(ll.widths), "activation": ll.activation}
        setting = "llamas:" + "-".join(map(str, (n, *ll.widths, 1)))
        plans = tuple(plan_target(t, ll.families, n) for t in ll.targets)
        prior = plans if ll.orbit else tuple(map(target_only, plans))
        runs = [(None, prior)] + [((t.name, t.truth_table), (target_only(p),)) for t, p in zip(ll.targets, plans)]
        for target, ps in runs:
            out.append(mechanism_pass(exp, setting, model, n, target,
                                      LlamaizerTally(ps, len(ll.widths), n, kind=f"{tag}:llamas"),
                                      partial(pt.llama_mechanism_tables, plans=ps, n_layers=len(ll.widths)),
                                      pt.llama_mechanism_counts))
    if mech.routes is not None:
        r, n = mech.routes, 4
        model = {"kind": "resmlp", "width": r.width, "depth": r.depth, "hidden": r.width, "activation": r.activation}
        prior_spec = mechanism_spec(exp, model, n, None)
        m = prior_spec.model
        decs = [DECOMPOSITIONS[d] for d in r.decompositions]
        counted = [d for d in decs if d.name not in r.rare]  # the prior's hit-or-miss
        setting = "routes:" + model_name(m)
        def routes_pass(target, counted_decs):
            return mechanism_pass(exp, setting, model, n, target, RouteTally(m, counted_decs, f"{tag}:routes"),
                                  partial(pt.route_mechanism_tables, decompositions=counted_decs, model=m),
                                  pt.route_mechanism_counts)

        if counted:
            out.append(routes_pass(None, counted))
        out += [rare_prior_pass(exp, setting, prior_spec, DECOMPOSITIONS[name]) for name in r.rare]
        for d in decs:
            out.append(routes_pass((d.name, d.target), [d]))
    return tuple(out)


def network_label(exp: Experiment, architecture: int) -> str:
    """How tables and figures name ``[[architecture]]`` number ``architecture``: its citation
    description (``'5-40-40-1 relu MLP'``), never the ``a0`` of the passes' names.

    >>> from counting.experiments.base.config import read_toml
    >>> from counting.experiments.training.config import from_dict
    >>> exp = from_dict(read_toml(MECHANISMS_DEMO.replace("m = [4]", "m = [4]\\nn_inputs = 5")), "demo")
    >>> network_label(exp, 0)
    '5-8-1 relu MLP'
    """
    spec = setting_spec(exp, exp.architectures[architecture], exp.targets[0], exp.m[0], None)
    return describe_model(spec.model, "citation")


def readout_pass(exp: Experiment, a: int, arch: dict, target: dict, m: int, censuses: dict[str, Pass]) -> Pass:
    """One setting's readout job (:mod:`~counting.experiments.training.readout`), after its censuses
    (``censuses``: method to pass, the posterior first)."""
    spec = setting_spec(exp, arch, target, m, None)
    settings = rd.seeded(exp.ratios.readout, exp.seed, f"a{a}", target["name"], m)
    results = {k: p.tally.finalize for k, p in censuses.items()}
    about = {"architecture": f"a{a}", "model": describe_model(spec.model), "target": target["name"], "m": m,
             "method": "readout"}
    return Pass(f"readout:a{a}:{target['name']}:m{m}", Spec(spec.model, spec.prior, spec.target, settings), None,
                None, about, rd.readout_job(spec, settings, results, exp.ratios.top),
                tables=partial(pt.readout_tables, about))


def passes(exp: Experiment) -> tuple[Pass, ...]:
    """Every pass, in order: per architecture, target and m, the posterior then each optimiser (then,
    with ``[ratios.readout]``, the setting's readout job); then the ``[mechanisms]`` passes, if any."""
    out = []
    for a, arch in enumerate(exp.architectures):
        for target in exp.targets:
            for m in exp.m:
                censuses = {}
                for opt in (None, *exp.optimizers):
                    spec = setting_spec(exp, arch, target, m, opt)
                    method = "posterior" if opt is None else opt["name"]
                    tally = CensusTally(exp.n_inputs, exp.chunk_size, spec.estimator.samples, agrees_on_set(spec))
                    about = {"architecture": f"a{a}", "model": describe_model(spec.model), "target": target["name"],
                             "m": m, "method": method}
                    name = f"{method}:a{a}:{target['name']}:m{m}"
                    censuses[method] = Pass(name, spec, tally if opt is None else TrainedCensus(tally),
                                            trained_source(spec), about, tables=partial(pt.census_tables, about),
                                            counts=partial(pt.census_counts, name))
                out += censuses.values()
                if exp.ratios.readout is not None:
                    out.append(readout_pass(exp, a, arch, target, m, censuses))
    return tuple(out) + mechanism_passes(exp)


def setting_sets(exp: Experiment) -> pd.DataFrame:
    """Per architecture, target and m: the network's name (:func:`network_label`), the prior, the
    target's truth table, S (its points, space-separated) and the treacherous function (hex).

    >>> from counting.experiments.base.config import read_toml
    >>> from counting.experiments.training.config import from_dict
    >>> exp = from_dict(read_toml(MECHANISMS_DEMO.replace("m = [4]", "m = [4]\\nn_inputs = 3")), "demo")
    >>> setting_sets(exp)[["network", "target_table", "S", "treacherous_table"]].values.tolist()
    [['3-8-1 relu MLP', '0xe8', '1 3 5 6', '0x7d']]
    """
    rows = []
    for a, arch in enumerate(exp.architectures):
        for target in exp.targets:
            for m in exp.m:
                spec = setting_spec(exp, arch, target, m, None)
                n, tt = exp.n_inputs, spec.target.truth_table
                points = training_points(spec.training, n)
                rows.append({"architecture": f"a{a}", "target": target["name"], "m": m,
                             "network": network_label(exp, a), "prior": describe_prior(spec.prior),
                             "target_table": to_hex(tt, n),
                             "S": " ".join(map(str, points)),
                             "treacherous_table": to_hex(treacherous(tt, points, n), n)})
    return pd.DataFrame(rows)


__all__ = ["KIND", "TrainedCensus", "TrainedMechanisms", "mechanism_pass", "mechanism_passes", "mechanism_spec",
           "network_label", "passes", "rare_prior_pass", "readout_pass", "setting_sets", "setting_spec", "smc_settings"]
