"""``V(f and L) = V(L) * E[P(f | hidden) | L]`` from an SMC job of the hidden event ``L``
(:mod:`counting.estimators.hidden_event`): the combination's arithmetic, the classifier against
the readout's own ``P(f | hidden)``, a checkpointed job resuming to the same record, and agreement
with hit-or-miss on a small network.

False-failure rates: the arithmetic and resume tests are exact (none). The hit-or-miss check asks
the two 95% intervals to overlap, on fixed keys; if both covered independently they would fail to
overlap with probability under 0.3% (two intervals that each cover meet whenever both do: 1 -
0.95^2 = 9.75% bounds the chance that either misses, and missing by a full width is far rarer);
the SMC interval is a t-interval over 8 replicates, so its coverage is itself approximate.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from counting.engine.run import RunOptions
from counting.estimators.hidden_event import joint_estimate, readout_classifier
from counting.estimators.mc import estimate as mc_estimate
from counting.estimators.problem import Problem
from counting.estimators.replicated import classified_record, replicate_runs
from counting.mechanisms.predicates import all_of, computes
from counting.mechanisms.sites import holds
from counting.rare.readout_smc import readout_log_p
from counting.rare.replicates import Replicates
from counting.rare.smc import SMCRun
from counting.spec import MCSettings, MLPSpec, ScaledPrior, SMCSettings
from counting.spec.estimator import ReadoutSettings

import jax
import jax.numpy as jnp


def test_joint_estimate_is_the_mean_of_event_times_conditional_mean():
    rec = classified_record(SMCRun)
    runs = (rec(math.log(1e-7), 100, 10, 0.0, 1.0, 50, (50 * 2e-5, 1e-4)),
            rec(math.log(4e-7), 100, 10, 0.0, 1.0, 20, (20 * 1e-5, 2e-5)),
            rec(-math.inf, 100, 60, 0.0, 1.0, 0, (0, 0)))
    est = joint_estimate(Replicates(runs, 1.0, 0), seed=7)
    # replicates: 1e-7 * 2e-5, 4e-7 * 1e-5, 0 -> mean 2e-12
    assert est.estimator == "hidden-event" and est.seed == 7
    assert math.isclose(est.volume, 2e-12, rel_tol=1e-12)
    assert est.diagnostics["reached"] == 2 and est.diagnostics["solutions"] == [50, 20, 0]
    assert np.allclose(est.diagnostics["conditional_mean_log10"][:2], [math.log10(2e-5), -5.0])
    assert np.allclose(est.diagnostics["max_network_share"][:2], [0.1, 0.1])


def test_classifier_sums_the_readouts_probabilities():
    model, prior = MLPSpec(n_inputs=3, widths=(4, 4)), ScaledPrior()
    settings = ReadoutSettings(n_qmc=128, shifts=2)
    clf = readout_classifier(model, prior, 0xE8, settings, seed=3)
    g = np.asarray(jax.random.normal(jax.random.key(0), (300, 41)), np.float32)  # 3*4+4 + 4*4+4 + 4+1 = 41
    total, largest = clf.count(g)
    # the same orthant probabilities, each network with its own key: fold_in(fold_in(key(3), 2^31-1), i)
    base = jax.random.fold_in(jax.random.key(3), 2**31 - 1)
    log_p = jax.jit(readout_log_p(model, prior, 0xE8, None, 128, 2, True))
    ref = []
    for start in (0, 256):  # blocks of 256, padded with zeros
        block = np.zeros((256, 41), np.float32)
        block[:len(g[start:start + 256])] = g[start:start + 256]
        keys = jax.vmap(lambda i: jax.random.fold_in(base, i))(jnp.arange(start, start + 256, dtype=jnp.uint32))
        ref += list(np.exp(np.asarray(log_p(keys, jnp.asarray(block)), np.float64))[:len(g[start:start + 256])])
    assert len(ref) == 300 and total == pytest.approx(sum(ref), rel=1e-12) and largest == max(ref)
    assert 0 < total < 300 and clf.columns == ("sum P(f | hidden)", "max P(f | hidden)")


def test_refuses_a_non_gaussian_prior():
    with pytest.raises(ValueError, match="prior.kind"):
        readout_classifier(MLPSpec(n_inputs=2, widths=(4,)), ScaledPrior(kind="uniform"), 0x6, ReadoutSettings(), 0)


@pytest.mark.slow  # 8 SMC replicates of 200 particles on 3-4-4-1 and 2^22 hit-or-miss networks: about 1 min
def test_agrees_with_hit_or_miss_and_resumes(tmp_path):
    model, prior = MLPSpec(n_inputs=3, widths=(4, 4)), ScaledPrior()
    f, g = 0x80, 0xC0  # f: x0 & x1 & x2; layer 2 holds x1 & x2 (about 10^-1.4 of all networks)
    smc = SMCSettings(particles=200, kernel="hmc", steps=5, replicates=8, seed=11)
    clf = readout_classifier(model, prior, f, ReadoutSettings(), smc.seed)
    event = Problem(model, prior, holds("layer2", g, 3), None)
    reps = replicate_runs(event, smc, RunOptions(out=tmp_path), clf)
    est = joint_estimate(reps, seed=smc.seed)
    hm = mc_estimate(Problem(model, prior, all_of(computes(f, 3), holds("layer2", g, 3)), None),
                     MCSettings(samples=2**22, seed=5, chunk_size=2**16))
    assert hm.hits > 500
    assert est.ci95[0] <= hm.ci95[1] and hm.ci95[0] <= est.ci95[1], (est, hm)
    # a finished job read back from its checkpoint: the same records, bit for bit
    again = replicate_runs(event, smc, RunOptions(out=tmp_path, resume=True), clf)
    assert again.runs == reps.runs and again.resumed_from == smc.replicates
