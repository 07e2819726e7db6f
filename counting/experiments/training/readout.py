"""The training experiment's readout part: P_B(f | S) with the readout integrated out.

Rejection keeps the prior draws that agree with the target on S, about V(agrees on S) of them
(12 of 1,048,576 for 5-bit majority at m = 16 on a 5-40-40-1 MLP), too few to give P_B(f | S) for
any one function. With ``[ratios.readout]`` each setting gets one more pass after its censuses, a
job (:func:`readout_job`): it reads the posterior and trained censuses just counted, picks the
``ratios`` table's functions from them (:func:`~counting.experiments.training.tables.chosen_functions`:
the target, the treacherous function and each census's most frequent), and estimates, from one
pass over the same hidden layers (:func:`counting.estimators.readout.estimate_many`), V(agrees
with the target on S) and V(f) for each of them. The ``ratios`` table divides them
(:func:`~counting.experiments.training.tables.readout_share`).

Seeds: each setting's readout pass is seeded by :func:`readout_seed` (a hash of the experiment's
seed and the setting), so no two settings share hidden draws.

The mechanisms part's rare routes (``[mechanisms.routes.estimator] kind = "readout"``) use the
readout too (:func:`route_readout_job`): the prior share of each route mechanism of a decomposition
is E[1{mechanism} P(f | hidden)] / V(f), both means over the same hidden draws of one pass, with the
paired delta-method interval (:func:`counting.estimators.readout.restricted_share`); the pass is
seeded by the experiment's seed, as the SMC it replaces.

Example:
    >>> readout_seed(0, "a0", "majority", 16) == readout_seed(0, "a0", "majority", 16) != readout_seed(0, "a1", "majority", 16)
    True
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping, Sequence

import pandas as pd

from counting.boolean.tables import to_hex
from counting.engine.run import PassFacts, RunOptions
from counting.estimators.problem import Problem
from counting.estimators.readout import ChunkSums, ReadoutTarget, estimate_many, estimate_sums, pass_facts
from counting.estimators.result import Estimate
import counting.experiments.training.tables as tb
from counting.experiments.simplicity.jobs import derived_seed
from counting.mechanisms.predicates import Predicate, computes
from counting.mechanisms.routes import Decomposition, route_condition
from counting.spec.estimator import ReadoutSettings
from counting.spec.job import Spec
from counting.spec.model import ModelSpec
from counting.spec.prior import PriorSpec
from counting.spec.target import Target
from counting.training.data import training_points


def readout_seed(seed: int, architecture: str, target: str, m: int) -> int:
    """The readout pass's seed of one setting (:func:`counting.experiments.simplicity.jobs.derived_seed`)."""
    return derived_seed(seed, "training-readout", architecture, target, m)


def census_counts(result: Any) -> pd.Series:
    """A posterior or trained census's counts by truth table (hex), from its tally's result."""
    census = result[0] if isinstance(result, tuple) else result
    f = census.frame()
    return pd.Series(f["count"].to_numpy(), index=f["truth_table"].to_numpy())


def readout_targets(spec: Spec, chosen: Sequence[str]) -> list[ReadoutTarget]:
    """V(agrees with the target on S) first, then V(f) of each chosen function (hex truth tables).

    >>> from counting.spec.job import spec_from_dict
    >>> spec = spec_from_dict({"model": {"n_inputs": 2, "widths": [4]}, "target": {"name": "and"},
    ...                        "training": {"m": 2, "train_seed": 0, "posterior": True}})
    >>> [(t.truth_table, t.points) for t in readout_targets(spec, ["0x8", "0x9"])]
    [(8, (1, 3)), (8, None), (9, None)]
    """
    points = tuple(int(p) for p in training_points(spec.training, spec.model.n_inputs))
    return [ReadoutTarget(spec.target.truth_table, points=points)] + [ReadoutTarget(int(h, 16)) for h in chosen]


def readout_job(spec: Spec, settings: ReadoutSettings, censuses: Mapping[str, Callable[[], Any]], top: int
                ) -> Callable[[RunOptions], tuple[pd.DataFrame, PassFacts]]:
    """One setting's readout pass as a job: ``spec`` the posterior pass's (its model, prior, target
    and S), ``censuses`` each method's finished census (``posterior`` first; a function giving the
    tally's result, read when the job runs, after those passes). Its result is the ``readout``
    rows (:func:`~counting.experiments.training.tables.readout_rows`, without the setting's columns)."""
    n = spec.model.n_inputs

    def job(options: RunOptions) -> tuple[pd.DataFrame, PassFacts]:
        tt = spec.target.truth_table
        points = training_points(spec.training, n)
        counts = {method: census_counts(result()) for method, result in censuses.items()}
        chosen = list(tb.chosen_functions(counts, to_hex(tt, n), to_hex(tb.treacherous(tt, points, n), n), top))
        est = estimate_many(Problem.of(spec), readout_targets(spec, chosen), settings, options)
        rows = tb.readout_rows({}, [to_hex(tt, n)] + chosen, ["S"] + ["all"] * len(chosen), est)
        return rows, pass_facts(est, settings)

    return job


ROUTE_MECHANISMS = ("chain", "tree", "both", "chain only", "tree only", "neither")


def route_wheres(d: Decomposition, model: ModelSpec) -> dict[str, Predicate]:
    """Each route mechanism of ``d`` as a predicate of the hidden sites (``chain``, ``tree``: taken,
    whatever else, :func:`counting.mechanisms.routes.route_condition`; then the four classes)."""
    c, t = (route_condition(d, r, model) for r in d.routes)
    return {"chain": c, "tree": t, "both": lambda fwd: c(fwd) & t(fwd), "chain only": lambda fwd: c(fwd) & ~t(fwd),
            "tree only": lambda fwd: ~c(fwd) & t(fwd), "neither": lambda fwd: ~c(fwd) & ~t(fwd)}


def route_readout_job(model: ModelSpec, prior: PriorSpec, d: Decomposition, settings: ReadoutSettings
                      ) -> Callable[[RunOptions], tuple[tuple[list[Estimate], ChunkSums], PassFacts]]:
    """The prior side of a rare decomposition ``d`` with the readout integrated out, as a job: one
    readout pass (:func:`counting.estimators.readout.estimate_sums`) of V(f) then
    E[1{mechanism} P(f | hidden)] for each of :data:`ROUTE_MECHANISMS`, over the same hidden draws
    (one orthant probability per network serves all seven); its result is the estimates and the
    pass's sums, whose shares :func:`counting.estimators.readout.restricted_share` reads."""
    wheres = route_wheres(d, model)
    targets = [ReadoutTarget(d.target)] + [ReadoutTarget(d.target, where=wheres[k]) for k in ROUTE_MECHANISMS]
    problem = Problem(model, prior, computes(d.target, d.n), Target(d.target, d.n))

    def job(options: RunOptions):
        est, sums = estimate_sums(problem, targets, settings, options)
        return (est, sums), pass_facts(est, settings)

    return job


def seeded(settings: ReadoutSettings, seed: int, architecture: str, target: str, m: int) -> ReadoutSettings:
    """``[ratios.readout]`` with one setting's seed (:func:`readout_seed`)."""
    return dataclasses.replace(settings, seed=readout_seed(seed, architecture, target, m))
