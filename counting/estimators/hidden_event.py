"""A target joined to a rare hidden-layer event: ``V(f and L) = V(L) * E[P(f | hidden) | L]``.

The readout estimator (:mod:`counting.estimators.readout`) integrates out the readout, not the
hidden layers: "computes f and layer l holds g" is ``E[1{L} P(f | hidden)]`` over prior draws of the
hidden layers, so where the hidden event ``L`` itself is rare (10^-7 of all networks, say) no draw
holds it and only a bound comes out. Tempered SMC reaches ``L`` (a condition on the hidden layers
alone, far shallower than "computes f and L"), and its last population is drawn, as far as its
moves mix, from the prior restricted to ``L``. With the readout integrated out on that population,

    ``V(f and L) = V(L) * E[P(f | hidden) | L]``,

one replicate's estimate being ``Z_b * (1/N) * sum_i 1{L}_i P(f | hidden_i)`` over its last
population of ``N`` particles, that is ``P_hat(L) * mean of P(f | hidden)`` over the particles
that hold ``L`` (``P_hat(L) = Z_b * fraction holding``: :mod:`counting.rare.smc`). So the deep part,
the target's readout, is exact given the hidden layers, and the tempering only climbs to ``L``.

**How.** The SMC job of ``L`` classifies its last populations with :func:`readout_classifier`: the
sum of each holding network's ``P(f | hidden)`` (an unbiased randomised-QMC estimate: the compiled
``log_p`` of :func:`counting.rare.readout_smc.readout_problem`, with the readout settings' ``n_qmc``
points and ``shifts`` shifts, evaluated ``BLOCK`` networks at a time), kept in the replicate's
checkpoint like any classifier's counts. :func:`joint_estimate` turns the classified replicates into an
:class:`~counting.estimators.result.Estimate` of ``V(f and L)``: the mean of the replicates'
products with its 95% Student-t interval over replicates
(:func:`counting.estimators.replicated.replicates_estimate`), as every replicated estimate.

**Keys.** Network ``i`` of a population (in its order) takes its QMC shifts from
``fold_in(fold_in(key(seed), STREAM), i)``, ``seed`` the SMC job's: ``STREAM`` (2^31 - 1) is no
replicate's index, so these keys are not the replicates' ``fold_in(key(seed), r)``. The replicates
share those shifts (a classifier sees the networks only); each ``P(f | hidden)`` stays unbiased, so
each replicate's product does, and the QMC error (a few percent at most, against a replicate
spread of tenths of a decade) is common to the replicates rather than averaged over them.

**Trust.** The interval is over replicates, so it sees the SMC's spread in ``V(L)`` and the
population's spread in the mean of ``P(f | hidden)``; it does not see what no replicate's moves
reach (a mode of ``L`` where ``P(f | hidden)`` is large but which the tempering misses), nor a mean
over a population carried by a few networks. ``diagnostics`` carries each replicate's ``log10``
of ``V(L)`` and of the conditional mean, and the largest share one network has of a replicate's
sum, per replicate (``max_network_share``).

Example:
    >>> from counting.spec import MLPSpec, ScaledPrior, SMCSettings
    >>> from counting.spec.estimator import ReadoutSettings
    >>> from counting.mechanisms.sites import holds
    >>> from counting.estimators.problem import Problem
    >>> from counting.estimators.replicated import replicate_runs
    >>> model, prior = MLPSpec(n_inputs=2, widths=(4,)), ScaledPrior()
    >>> smc = SMCSettings(particles=64, kernel="mala", steps=2, replicates=3, seed=3)
    >>> event = Problem(model, prior, holds("layer1", 0x8, 2), None)      # a unit of layer 1 is AND
    >>> clf = readout_classifier(model, prior, 0x6, ReadoutSettings(), smc.seed)   # f: XOR
    >>> est = joint_estimate(replicate_runs(event, smc, classifier=clf))
    >>> est.estimator, est.diagnostics["reached"], -4.0 < est.log10_volume < -2.5   # about 10^-3.3
    ('hidden-event', 3, True)
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from counting.estimators.replicated import Classifier, method_diagnostics
from counting.estimators.replicated import replicates_estimate
from counting.estimators.result import Estimate
from counting.models import supporting
from counting.rare.readout_smc import readout_problem
from counting.rare.replicates import Replicates
from counting.spec.estimator import ReadoutSettings
from counting.spec.model import ModelSpec
from counting.spec.prior import PriorSpec

STREAM = 2**31 - 1  # the QMC shifts' stream under the SMC job's seed: no replicate's index
BLOCK = 256         # networks per orthant evaluation (the numbers depend on the block's shape)
KIND = "hidden-event"


def readout_classifier(model: ModelSpec, prior: PriorSpec, truth_table: int, settings: ReadoutSettings,
                       seed: int) -> Classifier:
    """A :class:`Classifier` whose columns are the sum and the largest, over a population's networks
    that hold the condition, of each one's ``P(readout computes truth_table | hidden)`` (float64);
    QMC shifts as the module docstring says, from ``seed`` (the SMC job's)."""
    supporting(model, "readout_features", "a linear readout of named features to integrate out")
    if prior.kind != "gaussian":
        raise ValueError(f"prior.kind: expected 'gaussian' to integrate the readout out, got {prior.kind!r}")
    log_p = readout_problem(model, prior, truth_table, None, settings.n_qmc, settings.shifts, settings.tilt).log_p
    base = jax.random.fold_in(jax.random.key(seed, impl=settings.key_impl), STREAM)

    def count(coords: np.ndarray) -> np.ndarray:
        total, largest = 0.0, 0.0
        for start in range(0, len(coords), BLOCK):
            block = np.zeros((BLOCK, coords.shape[1]), np.float32)
            part = coords[start:start + BLOCK]
            block[:len(part)] = part
            keys = jax.vmap(lambda i: jax.random.fold_in(base, i))(jnp.arange(start, start + BLOCK, dtype=jnp.uint32))
            lp = np.asarray(log_p(keys, jnp.asarray(block)), np.float64)[:len(part)]
            total += float(np.sum(np.exp(lp)))
            largest = max(largest, float(np.exp(lp.max())))
        return np.array([total, largest], np.float64)

    name = (f"readout-sum {truth_table:#x} n_qmc={settings.n_qmc} shifts={settings.shifts} "
            f"tilt={settings.tilt} seed={seed}")
    return Classifier(name, ("sum P(f | hidden)", "max P(f | hidden)"), count)


def joint_estimate(reps: Replicates, kind: str = "smc", seed: int | None = None) -> Estimate:
    """``V(f and L)`` from an SMC job of ``L`` classified by :func:`readout_classifier`: each
    replicate's ``P_hat(L)`` times the mean ``P(f | hidden)`` over its networks holding ``L``
    (``-inf`` where it reached none), then the replicates' mean and 95% t-interval."""
    log_ps, log_event, log_cond, top = [], [], [], []
    for r in reps.runs:
        total, largest = float(r.counts[0]), float(r.counts[1])
        top.append(largest / total if total > 0 else math.nan)
        cond = math.log(total / r.solutions) if r.solutions and total > 0 else -math.inf
        log_ps.append(r.log_p + cond if math.isfinite(r.log_p) else -math.inf)
        log_event.append(r.log_p / math.log(10))
        log_cond.append(cond / math.log(10))
    extra = method_diagnostics(kind, reps.runs) | {
        "event_replicates_log10": log_event, "conditional_mean_log10": log_cond,
        "solutions": [r.solutions for r in reps.runs], "max_network_share": top}
    return replicates_estimate(KIND, log_ps, sum(r.evaluations for r in reps.runs), seconds=reps.seconds,
                               seed=seed, extra=extra)
