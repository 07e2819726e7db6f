"""The ``readout-check`` experiment kind: shared readouts of any linear readout (the same pairs as the
MLP's shared draws, exact prior networks for a residual MLP), the comparison's statistics, the
config's errors, and the kind end to end on 2-bit functions of a perceptron, where the readout
estimator is exact up to its QMC noise (every network has the same features: the inputs)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from counting.engine.priors import unflatten
from counting.engine.readouts import hidden_size
from counting.engine.run import RunOptions
from counting.estimators import ESTIMATORS, Problem
from counting.experiments import parse_experiment, run_experiment
from counting.experiments.readout_check import check_rows, headline, pair_statistics
from counting.experiments.readout_check.config import HM_CHUNK
from counting.experiments.readout_check.hits import FeatureReadouts, hit_or_miss, pair_codes, pair_outputs, pass_spec
from counting.mechanisms.predicates import computes
from counting.models import forward, model_inputs
from counting.spec.errors import SpecError
from counting.spec.estimator import MCSettings
from counting.spec.model import MLPSpec, ResMLPSpec
from counting.spec.prior import ScaledPrior


@pytest.mark.slow  # five passes, each compiled: about 30 s on the shared 2-core CPU
def test_feature_readouts_of_an_mlp_are_its_shared_draws():
    """Same seed and chunk size: every target's histogram equals the shared-draws estimator's."""
    m, prior = MLPSpec(n_inputs=3, widths=(6, 6)), ScaledPrior(sigma_w=1.3, sigma_b=0.7)
    s = MCSettings(samples=32 * 64, seed=11, chunk_size=16, readouts_per_draw=32)
    targets = [0x00, 0xE8, 0x0F, 0x01]
    est, facts = hit_or_miss(m, prior, targets, s)
    assert facts.samples == 64  # hidden draws
    for f, e in zip(targets, est):
        ref = ESTIMATORS["mc"](Problem(m, prior, computes(f, 3)), s, RunOptions(progress=False))
        assert (e.hits, e.samples) == (ref.hits, ref.samples)
        assert e.diagnostics["hits_per_cluster"] == ref.diagnostics["hits_per_cluster"]
    assert all(e.hits > 0 for e in est)


@pytest.mark.slow  # about 21 s on busy cores
def test_feature_readouts_of_a_resmlp_are_prior_networks():
    """Each (hidden draw, readout) pair computes what the residual MLP with those parameters computes."""
    m = ResMLPSpec(n_inputs=3, width=5, depth=2, hidden=4)
    prior, r = ScaledPrior(), 8
    spec = pass_spec(m, prior, MCSettings(samples=4 * r, chunk_size=4, readouts_per_draw=r))
    src = FeatureReadouts(spec, r)
    keys = jax.random.split(jax.random.key(3), 4)
    flat, facts = src.params(keys)
    x = jnp.asarray(model_inputs(m))
    out = pair_outputs(m, forward(m, unflatten(m, flat), x), facts["readouts"], x)  # [4, R, 8]
    nh = hidden_size(m)
    for b in range(4):
        pairs = jnp.concatenate([jnp.broadcast_to(flat[b, :nh], (r, nh)), facts["readouts"][b]], axis=1)
        ref = forward(m, unflatten(m, pairs), x).output
        np.testing.assert_allclose(np.asarray(out[b]), np.asarray(ref), rtol=1e-5, atol=1e-5)
        assert (np.asarray(pair_codes(out[b])) == np.asarray(pair_codes(ref))).all()
    assert float(jnp.std(facts["readouts"][..., -1])) > 0.3  # biases drawn, scale sigma_b = 1


def test_pair_statistics():
    same = pair_statistics((-3.0, -3.1, -2.9), (-3.0, -3.1, -2.9))
    assert same["overlap"] and same["z"] == 0 and math.isclose(same["p_false_failure"], 0.00557, abs_tol=5e-5)
    up = pair_statistics((-2.0, -2.05, -1.95), (-2.5, -2.6, -2.4))  # readout above, apart
    down = pair_statistics((-2.5, -2.55, -2.45), (-2.0, -2.1, -1.9))
    assert not up["overlap"] and up["z"] > 0 and not down["overlap"] and down["z"] < 0
    touching = pair_statistics((-2.0, -2.05, -1.95), (-2.15, -2.25, -2.05))  # a + b = |d|: the boundary
    assert touching["overlap"]
    assert math.isclose(abs(touching["z"]), 1.96 * 0.15 / math.hypot(0.05, 0.1), rel_tol=1e-3)
    for s in (same, up, down, touching):
        assert 0.0055 < s["p_false_failure"] < 0.05
    bound = pair_statistics((-7.0, -7.1, -6.9), (math.nan, math.nan, -6.5))  # no hits: a bound, no z
    assert bound["overlap"] and math.isnan(bound["z"])


def test_check_rows_factors():
    ro = pd.DataFrame({"model": ["a"], "architecture": ["x"], "prior": ["p"], "target": ["0x1"], "networks": [100],
                       "log10_volume": [-2.0], "ci95_lo": [-2.01], "ci95_hi": [-1.99], "volume": [0.01],
                       "rel_se": [0.02], "khat": [0.1], "khat_threshold": [0.5], "reliable": [True], "seconds": [10.0],
                       "targets_in_pass": [2]})
    hm = pd.DataFrame({"model": ["a"], "target": ["0x1"], "readouts": [10**6], "readouts_per_draw": [100],
                       "hits": [10**4], "design_effect": [3.0], "log10_volume": [-2.0], "ci95_lo": [-2.02],
                       "ci95_hi": [-1.98], "seconds": [4.0]})
    t = check_rows(ro, hm)
    var_net = (0.02 * 0.01) ** 2 * 100
    assert math.isclose(t["vrf_network"][0], 0.01 * 0.99 / var_net)
    assert math.isclose(t["vrf_time"][0], (0.01 * 0.99 * 3 / 10**6 * 4.0) / ((0.02 * 0.01) ** 2 * 10.0 / 2))
    assert bool(t["overlap"][0]) and t["z"][0] == 0
    assert "1 of 1 pairs" in headline(t)


CONFIG = """
[experiment]
kind = "readout-check"
seed = 2
[readout]
samples = 256
chunk_size = 256
[hit_or_miss]
samples = 262144
readouts_per_draw = 512
chunk_size = 32
[[model]]
name = "perceptron"
n_inputs = 2
widths = []
targets = ["0x0", "0x8", "0x1"]
"""


@pytest.mark.slow  # the kind end to end (about 34 s on busy cores)
def test_kind_on_a_perceptron():
    """A perceptron's readout integrates out every parameter: the exact volume (1/24 for AND, for
    AND of the negations likewise), which hit-or-miss's interval holds."""
    exp = parse_experiment(CONFIG)
    m = exp.models[0]
    assert (m.readout.seed, m.hit_or_miss.seed) == (2, 3)
    res = run_experiment(exp, progress=False)
    t = res["check"]
    assert t["target"].tolist() == ["0x0", "0x8", "0x1"]
    assert t["overlap"].all() and t["hm_hits"].gt(1000).all()
    assert t[["z", "vrf_network", "vrf_time", "p_false_failure"]].notna().all().all()
    exact = math.log10(1 / 24)
    for target in ("0x8", "0x1"):
        r = t[t["target"] == target].iloc[0]
        assert abs(r["ro_log10_volume"] - exact) < 0.01
        assert r["hm_ci95_lo"] <= exact <= r["hm_ci95_hi"]
    assert (t["vrf_network"] > 100).all()  # P(f | hidden) is the same for every network: QMC noise only
    assert res["hit_or_miss"]["hidden_draws"].tolist() == [512] * 3


HEAD = '[experiment]\nkind = "readout-check"\n'
MODEL = '[[model]]\nname = "m"\nn_inputs = 2\nwidths = [4]\ntargets = ["0x8"]\n'


@pytest.mark.parametrize("text, message", [
    (HEAD + '[prior]\nkind = "uniform"\n' + MODEL, "prior.kind: expected 'gaussian'"),
    (HEAD.replace("\n", "\nchunk_size = 64\n", 1) + MODEL, "experiment.chunk_size: expected no chunk_size here"),
    (HEAD + '[hit_or_miss]\nsamples = 1000\nreadouts_per_draw = 64\n' + MODEL,
     "model[0].hit_or_miss.samples: expected a multiple of readouts_per_draw = 64"),
    (HEAD + '[readout]\nseed = 4\n' + MODEL, "model[0].readout.seed: expected no seed here"),
    (HEAD + MODEL.replace('["0x8"]', '["0x8", "0x8"]'), "model[0].targets: expected distinct names"),
    (HEAD + MODEL.replace('["0x8"]', '["0xe8"]'), "model[0].targets[0]: expected a '0x' string"),
    (HEAD + MODEL.replace('"m"', '"a/b"'), "model[0].name: expected a name usable as a folder name"),
    (HEAD + MODEL + MODEL, "model.name: expected distinct names"),
    (HEAD + '[readout]\nkind = "mc"\n' + MODEL, "readout.kind: expected no kind here"),
])
def test_config_errors(text, message):
    with pytest.raises(SpecError, match=message.replace("(", r"\(").replace("[", r"\[")):
        parse_experiment(text)


def test_default_hit_or_miss_chunk():
    exp = parse_experiment(HEAD + '[hit_or_miss]\nsamples = 4096\nreadouts_per_draw = 64\n' + MODEL)
    assert exp.models[0].hit_or_miss.chunk_size == HM_CHUNK
