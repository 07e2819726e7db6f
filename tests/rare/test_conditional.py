"""Shares among the solutions of a condition, from subset-simulation and tempered-SMC populations, against hit-or-miss.

The mechanism share "the second hidden layer holds XOR, given the network computes XOR" on a 2-8-8-1
relu network (about 1.3e-3 of the prior computes XOR, and about 9% of those build it in layer 2) is measured twice: among the solutions found by hit-or-miss on fixed
keys (an exact binomial share with its Clopper-Pearson interval), and by the replicated estimators
with a classifier (a Student-t interval over independent replicates), from subset simulation and from tempered SMC. The two 99.9% intervals must overlap: the
false-failure rate is below 0.2% if both are calibrated.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from counting.boolean.cube import cube
from counting.engine.priors import sample_params, unflatten
from counting.mechanisms.predicates import computes, truth_tables
from counting.mechanisms.routes import first_stages
from counting.models import forward
from counting.estimators.problem import Problem
from counting.estimators.replicated import Classifier, replicated_estimate
from counting.rare.conditional import t_interval
from counting.rare.coordinates import GaussianProblem, gaussian_to_params
from counting.rare.replicates import replicate_key
from counting.rare.smc import smc_run
from counting.spec.estimator import SMCSettings, SubsetSettings
from counting.spec.model import MLPSpec
from counting.spec.prior import ScaledPrior
from counting.stats import clopper_pearson

N, XOR = 2, 0x6
MODEL, PRIOR = MLPSpec(n_inputs=N, widths=(8, 8)), ScaledPrior()


def holds_xor(params: dict) -> np.ndarray:
    fwd = forward(MODEL, params, jnp.asarray(cube(N)))
    first = np.asarray(first_stages(fwd, MODEL, (XOR,), N))
    return np.where(first[:, 0] <= 2, "layer 2 holds xor", "it does not")


def test_t_interval_is_clipped_and_widens_with_spread():
    assert t_interval(np.array([1.0, 1.0, 1.0])) == (1.0, 1.0)
    lo, hi = t_interval(np.array([0.1, 0.3, 0.2, 0.25]))
    assert 0 < lo < 0.2125 < hi < 1


def test_smc_populations_are_solutions_and_keep_the_run_record():
    model = MLPSpec(n_inputs=2, widths=())
    problem = GaussianProblem.of(model, PRIOR, computes(0x8, 2))
    settings = SMCSettings(particles=200, steps=4, replicates=3, seed=2)
    sign = Classifier("sign of w0", ("w0 > 0", "w0 <= 0"),
                      lambda g: np.array([(np.asarray(g)[:, 0] > 0).sum(), (np.asarray(g)[:, 0] <= 0).sum()]))
    est = replicated_estimate(Problem(model, PRIOR, computes(0x8, 2)), settings, classifier=sign)
    d = est.diagnostics
    assert d["reached"] == 3 and d["shares"] == {"w0 > 0": 1.0, "w0 <= 0": 0.0}  # AND needs w0 > 0
    run = smc_run(replicate_key(2, 0), problem, settings)
    assert d["replicates_log10"][0] == run.log_p / np.log(10) and min(d["solutions"]) >= 100


@pytest.mark.slow  # a hit-or-miss reference of 2^20 networks and 8 replicates of each method (about 1.5 min)
@pytest.mark.parametrize("settings", [SubsetSettings(particles=500, replicates=8, seed=4),
                                      SMCSettings(particles=500, replicates=8, seed=4)])
def test_population_shares_agree_with_hit_or_miss_shares(settings):
    hits, held = 0, 0
    for c in range(16):
        params = sample_params(jax.random.fold_in(jax.random.key(123), c), MODEL, PRIOR, batch=2**16)
        fwd = forward(MODEL, params, jnp.asarray(cube(N)))
        ok = np.asarray(jnp.all(truth_tables(fwd) == XOR, axis=-1))
        if ok.any():
            sub = jax.tree.map(lambda a: a[ok], params)
            hits += int(ok.sum())
            held += int((holds_xor(sub) == "layer 2 holds xor").sum())
    assert hits > 1000
    ref_lo, ref_hi = clopper_pearson(held, hits, 0.999)

    def count(coords):
        params = unflatten(MODEL, gaussian_to_params(jnp.asarray(coords), MODEL, PRIOR))
        return np.array([(holds_xor(params) == "layer 2 holds xor").sum()])

    est = replicated_estimate(Problem(MODEL, PRIOR, computes(XOR, N)), settings,
                              classifier=Classifier("layer 2 holds xor", ("layer 2 holds xor",), count))
    d = est.diagnostics
    assert d["reached"] == 8
    v = np.array(d["counts"])[:, 0] / np.array(d["solutions"])
    half = stats.t.ppf(0.9995, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))
    assert v.mean() - half <= ref_hi and ref_lo <= v.mean() + half, (v, held, hits)
    # and the volume from the same replicates agrees with the hit rate (log10, generous)
    assert abs(est.log10_volume - np.log10(hits / 2**20)) < 0.5
