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
"""

from __future__ import annotations

from counting.engine.tally import CensusTally
from counting.experiments.base.run import Pass
from counting.experiments.training.config import KIND, Experiment, target_table
from counting.spec.job import Spec, spec_from_dict
from counting.spec.model import describe_model
from counting.training.data import agrees_on_set
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


def passes(exp: Experiment) -> tuple[Pass, ...]:
    """Every pass, in order: per architecture, target and m, the posterior then each optimiser."""
    out = []
    for a, arch in enumerate(exp.architectures):
        for target in exp.targets:
            for m in exp.m:
                for opt in (None, *exp.optimizers):
                    spec = setting_spec(exp, arch, target, m, opt)
                    method = "posterior" if opt is None else opt["name"]
                    tally = CensusTally(exp.n_inputs, exp.chunk_size, spec.estimator.samples, agrees_on_set(spec))
                    about = {"architecture": f"a{a}", "model": describe_model(spec.model), "target": target["name"],
                             "m": m, "method": method}
                    out.append(Pass(f"{method}:a{a}:{target['name']}:m{m}", spec,
                                    tally if opt is None else TrainedCensus(tally), None, about))
    return tuple(out)


__all__ = ["KIND", "TrainedCensus", "passes", "setting_spec"]
