"""Shared draws (``readouts_per_draw > 1``): exact draws, exact counts, unbiased volumes, honest intervals.

Exact answers: a ternary-prior 2-2-1 relu MLP enumerated (19683 configurations) by the ``exact``
estimator, and the Gaussian perceptron's AND on two bits (exactly 1/24). Statistical tests state
their false-failure rate; their keys are fixed, so each outcome is deterministic.
"""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from counting.engine.draws import network_keys, seed_key
from counting.engine.priors import scale_vector, standard_draw, unflatten
from counting.engine.readouts import (cluster_histogram, draw_keys, hidden_size, pair_flat, pair_forward,
                                      readout_size, shared_flat, widened)
from counting.engine.run import RunOptions
from counting.estimators import exact, mc
from counting.estimators.problem import Problem
from counting.estimators.shared import cluster_estimate
from counting.mechanisms.predicates import computes
from counting.models import forward, model_inputs
from counting.spec import parse_spec
from counting.spec.errors import SpecError
from counting.spec.model import MLPSpec
from counting.spec.prior import DiscretePrior, ScaledPrior
from counting.stats import clopper_pearson, cluster_design_effect, cluster_interval

TERNARY_221 = '[model]\nn_inputs = 2\nwidths = [2]\n[prior]\nkind = "ternary"\n'


def spec_text(model: str, target: str, estimator: str) -> str:
    return f'{model}[target]\ntruth_table = "{target}"\n[estimator]\n{estimator}'


def hist_of(est) -> np.ndarray:
    h = np.zeros(est.diagnostics["readouts_per_draw"] + 1, np.int64)
    for k, c in est.diagnostics["hits_per_cluster"]:
        h[k] = c
    return h


# --- the setting ---------------------------------------------------------------------------------


def test_readouts_per_draw_is_validated_and_left_out_of_the_job_identity_at_one():
    base = spec_text("[model]\nn_inputs = 2\nwidths = [3]\n", "0x8", "samples = 64\n")
    plain, one = parse_spec(base), parse_spec(base + "readouts_per_draw = 1\n")
    assert one.to_json() == plain.to_json() and "readouts_per_draw" not in plain.to_json()
    assert parse_spec(base + "readouts_per_draw = 8\n").to_dict()["estimator"]["readouts_per_draw"] == 8
    with pytest.raises(SpecError, match=r"^estimator.samples: expected a multiple of readouts_per_draw = 5, got 64$"):
        parse_spec(base + "readouts_per_draw = 5\n")
    with pytest.raises(SpecError, match=r"^estimator.readouts_per_draw: expected an integer"):
        parse_spec(base + "readouts_per_draw = 0\n")
    res = parse_spec(spec_text('[model]\nkind = "resmlp"\nn_inputs = 2\n', "0x8", "samples = 64\nreadouts_per_draw = 8\n"))
    with pytest.raises(SpecError, match=r"^estimator.readouts_per_draw: expected 1 for a model of kind other than"):
        mc.estimate(Problem.of(res), res.estimator)  # refused before any work
    one_draw = parse_spec(base + "readouts_per_draw = 64\n")
    with pytest.raises(SpecError, match=r"^estimator.samples: expected at least 2 \* readouts_per_draw = 128, got 64$"):
        mc.estimate(Problem.of(one_draw), one_draw.estimator)


# --- keys and parameters -------------------------------------------------------------------------


def test_each_pair_is_a_prior_draw_from_disjoint_fold_in_keys():
    m, prior, r = MLPSpec(n_inputs=3, widths=(4, 5)), ScaledPrior(sigma_w=1.5, sigma_b=0.5), 6
    key = lambda: jax.random.fold_in(seed_key(7), 3)  # noqa: E731  (a fresh copy for each use)
    scale = scale_vector(m, prior)
    nh = hidden_size(m)
    assert readout_size(m) == 6 and nh + 6 == len(scale)
    for j in (0, 5):
        want = np.concatenate([np.asarray(standard_draw(jax.random.fold_in(key(), 0), "gaussian", nh)),
                               np.asarray(standard_draw(jax.random.fold_in(key(), 1 + j), "gaussian", 6))]) * scale
        np.testing.assert_array_equal(np.asarray(pair_flat(key(), m, prior, r, j)), want)
    # the hidden key, the readout keys and the network key itself are all distinct
    data = np.concatenate([jax.random.key_data(draw_keys(key(), r)), jax.random.key_data(key())[None]])
    assert len({tuple(d.tolist()) for d in data}) == r + 2


@pytest.mark.slow  # op-by-op evaluation of a dozen networks; the count test checks the same pairs' hits
def test_widened_forward_gives_every_pair_network_with_its_sites():
    m, prior, r = MLPSpec(n_inputs=3, widths=(4, 5), activation="tanh"), ScaledPrior(), 3
    keys = lambda: network_keys(seed_key(1), jnp.arange(2, dtype=jnp.uint32))  # noqa: E731  (fresh copies)
    w, x = widened(m, r), model_inputs(m)
    pairs = pair_forward(forward(w, unflatten(w, jax.vmap(lambda k: shared_flat(k, m, prior, r))(keys())), x), m, r)
    flat = jnp.stack([pair_flat(keys()[b], m, prior, r, j) for b in range(2) for j in range(r)])
    ref = forward(m, unflatten(m, flat), x)
    np.testing.assert_allclose(pairs.output, ref.output, atol=1e-5)
    for name in ("layer1", "layer2", "output"):
        np.testing.assert_allclose(pairs.sites[name], ref.sites[name], atol=1e-5)


# --- counts ---------------------------------------------------------------------------------------


def reference_hist(spec, condition, clusters, r):
    """Per-cluster hits, chunk by chunk, straight from the draw functions (no engine)."""
    est, hist = spec.estimator, np.zeros(r + 1, np.int64)
    w, x = widened(spec.model, r), model_inputs(spec.model)

    @jax.jit
    def hits(c):  # every hidden draw of chunk c
        keys = network_keys(jax.random.fold_in(seed_key(est.seed), c), jnp.arange(est.chunk_size, dtype=jnp.uint32))
        flat = jax.vmap(lambda k: shared_flat(k, spec.model, spec.prior, r))(keys)
        return condition(pair_forward(forward(w, unflatten(w, flat), x), spec.model, r))

    for c in range(-(-clusters // est.chunk_size)):
        n = min(est.chunk_size, clusters - c * est.chunk_size)
        hist += np.bincount(np.asarray(hits(c)).reshape(-1, r)[:n].sum(1), minlength=r + 1)
    return hist


COUNT_SPEC = ("[model]\nn_inputs = 3\nwidths = [5]\n[estimator]\nsamples = 480\nchunk_size = 32\n"
              "readouts_per_draw = 8\nseed = 3\n")


def site_and_output(fwd):  # reads the output and a hidden site: the pairs' sites must line up with their outputs
    return (fwd.output[:, 0] > 0) ^ (fwd.sites["layer1"][:, 0, 1] > 0)


@pytest.mark.parametrize("batch", [4, pytest.param(32, marks=pytest.mark.slow)])  # 32: one more pass, ~5 s
def test_counts_equal_the_draws_evaluated_without_the_engine_whatever_the_batch(batch):
    # 60 hidden draws in chunks of 32 (the second one partial), 8 readouts each
    spec = parse_spec(COUNT_SPEC, need_target=False)
    a = mc.estimate(Problem.of(spec, site_and_output), spec.estimator, RunOptions(batch_size=batch, progress=False))
    want = reference_hist(spec, site_and_output, 60, 8)
    np.testing.assert_array_equal(hist_of(a), want)
    assert a.hits == int((np.arange(9) * want).sum()) and a.samples == 480 and a.diagnostics["clusters"] == 60
    assert (want > 0).sum() >= 4  # the histogram is not trivial


@pytest.mark.slow  # two further passes (compiles); the dispatch is one line of mc.estimate
def test_readouts_per_draw_one_is_plain_hit_or_miss():
    text = spec_text("[model]\nn_inputs = 3\nwidths = [4]\n", "0x00", "samples = 2048\nchunk_size = 512\n")
    plain, one = parse_spec(text), parse_spec(text + "readouts_per_draw = 1\n")
    a = mc.estimate(Problem.of(plain), plain.estimator, RunOptions(progress=False))
    b = mc.estimate(Problem.of(one), one.estimator, RunOptions(progress=False))
    assert (a.hits, a.samples, a.ci95) == (b.hits, b.samples, b.ci95) and a.hits > 0
    assert "readouts_per_draw" not in b.diagnostics


# --- unbiased against exact answers ---------------------------------------------------------------


def exact_volume(target: str) -> float:
    spec = parse_spec(spec_text(TERNARY_221, target, 'kind = "exact"\n'))
    return exact.estimate(Problem.of(spec), spec.estimator, RunOptions(progress=False)).volume


@pytest.mark.slow  # an enumeration and a pass of 262144 networks per target
@pytest.mark.parametrize("target", ["0x8", "0x6"])  # AND 3.3%, XOR 0.11%
def test_shared_volume_contains_the_exact_ternary_volume(target):
    # a correct estimator misses at most 0.1% of the time at this level (Korn-Graubard at 99.9%)
    truth = exact_volume(target)
    spec = parse_spec(spec_text(TERNARY_221, target, "samples = 262144\nchunk_size = 4096\nreadouts_per_draw = 32\n"))
    est = mc.estimate(Problem.of(spec), spec.estimator, RunOptions(progress=False))
    lo, hi = cluster_interval(hist_of(est), 0.999)
    assert lo <= truth <= hi, (lo, truth, hi)
    assert est.diagnostics["design_effect"] > 1.5  # the readouts really share their hidden layers
    assert est.hits > 100


@pytest.mark.slow  # a further pass (compile and 65536 networks); the ternary cases cover the default run
def test_gaussian_perceptron_and_is_one_in_twenty_four():
    # no hidden layers: the readouts are whole perceptrons; false-failure rate 0.1% (99.9% interval)
    spec = parse_spec(spec_text("[model]\nn_inputs = 2\nwidths = []\n", "0x8",
                                "samples = 65536\nchunk_size = 1024\nreadouts_per_draw = 16\n"))
    est = mc.estimate(Problem.of(spec), spec.estimator, RunOptions(progress=False))
    lo, hi = cluster_interval(hist_of(est), 0.999)
    assert lo <= 1 / 24 <= hi
    assert est.diagnostics["design_effect"] < 1.2  # independent pairs: about 1


# --- the statistics -------------------------------------------------------------------------------


def test_design_effect_is_the_cluster_variance_over_the_binomial_one():
    h = np.array([50, 20, 10, 0, 5, 15])
    per = np.repeat(np.arange(6), h)
    p = per.sum() / (len(per) * 5)
    assert math.isclose(cluster_design_effect(h), per.var(ddof=1) / (5 * p * (1 - p)))
    assert cluster_design_effect(np.array([10, 0, 0])) == 1.0
    assert math.isclose(cluster_design_effect(np.array([90, 10])), 100 / 99)  # R = 1: N / (N - 1)
    assert cluster_design_effect(np.array([98, 2, 0])) == 1.0  # below 1 (negative correlation): floored


def test_cluster_estimate_reports_effective_samples():
    e = cluster_estimate(np.array([90, 0, 0, 0, 10]), seconds=2.0, seed=5)
    d = e.diagnostics
    assert (e.samples, e.hits, e.volume, d["clusters"], d["readouts_per_draw"]) == (400, 40, 0.1, 100, 4)
    assert math.isclose(d["design_effect"], 400 / 99, rel_tol=1e-12)  # all-or-nothing clusters: about R
    assert math.isclose(d["effective_samples"], 99) and math.isclose(d["effective_samples_per_second"], 49.5)
    z = cluster_estimate(np.array([1000, 0, 0, 0, 0]))
    assert z.log10_volume is None and z.one_sided_upper_bound
    assert math.isclose(10 ** z.ci95[1], clopper_pearson(0, 1000)[1])  # 1000 clusters, not 4000 pairs


def synthetic_hists(rng, trials, clusters, r, share, rate):
    """Hidden draws hitting with probability ``rate`` for a ``share`` of them, 0 otherwise."""
    pi = np.where(rng.random((trials, clusters)) < share, rate, 0.0)
    h = rng.binomial(r, pi)
    return [np.bincount(x, minlength=r + 1) for x in h]


SLOW = pytest.mark.slow  # further cases of the same check, about a second each


@pytest.mark.parametrize("share,rate", [(1.0, 2.3e-5), pytest.param(0.02, 0.012, marks=SLOW),
                                        pytest.param(0.05, 0.1, marks=SLOW), (0.002, 0.5),
                                        pytest.param(0.003, 1.0, marks=SLOW), (0.001, 0.05)])
def test_cluster_interval_covers_on_clustered_data(share, rate):
    # 2000 clusters of 64, a share of them hitting at a rate (expected hits 3, 30, 640, 128, 384, 6).
    # Korn-Graubard is approximate: in 1000-trial simulations of these cases it missed 2.4% to 5.9%
    # (the one-sided bound at zero hits may miss 5%); more than 39 misses of 400 has probability
    # < 1e-3 at a 6% miss rate
    rng = np.random.default_rng(0)
    clusters, r = 2000, 64
    p = share * rate
    misses = naive = 0
    for h in synthetic_hists(rng, 400, clusters, r, share, rate):
        lo, hi = cluster_interval(h)
        misses += not lo <= p <= hi
        k = int((np.arange(r + 1) * h).sum())
        nlo, nhi = clopper_pearson(k, clusters * r)
        naive += not nlo <= p <= nhi
    assert misses <= stats.binom.ppf(1 - 1e-3, 400, 0.06), misses
    if share < 0.01 and rate > 0.1:  # strongly clustered: ignoring the clusters misses far more often (the test has teeth)
        assert naive > 100, naive


# --- coverage of the whole method over many seeds ---------------------------------------------------


def direct_hists(seeds, model, prior, condition, clusters, r):
    """Histograms of ``clusters`` hidden draws (one chunk) per seed, straight from the draw functions."""
    w, x = widened(model, r), model_inputs(model)

    def one(seed):
        keys = network_keys(jax.random.fold_in(jax.random.key(seed), 0), jnp.arange(clusters, dtype=jnp.uint32))
        fwd = forward(w, unflatten(w, jax.vmap(lambda k: shared_flat(k, model, prior, r))(keys)), x)
        return cluster_histogram(condition(pair_forward(fwd, model, r)), jnp.ones(clusters, bool), r)

    return np.asarray(jax.jit(jax.vmap(one))(jnp.asarray(seeds, jnp.uint32)))


@pytest.mark.slow  # an enumeration, then 300 seeds of up to 8192 networks: about 15 s
@pytest.mark.parametrize("target,clusters", [("0x8", 64), ("0x6", 512)])
def test_interval_coverage_over_seeds_on_the_exact_ternary_case(target, clusters):
    # 300 seeds of R = 16 readouts: a correct 95% interval misses at most 5% (2.5% a side, 5% for the
    # bound at zero hits); more than 27 misses of 300 has probability < 1e-3 at a 5% miss rate
    truth = exact_volume(target)
    cond = computes(int(target, 16), 2)
    hists = direct_hists(np.arange(300), MLPSpec(n_inputs=2, widths=(2,)), DiscretePrior(), cond, clusters, 16)
    ests = [cluster_estimate(h) for h in hists]
    misses = sum(not (10 ** (e.ci95[0] if e.ci95[0] is not None else -math.inf) <= truth <= 10 ** e.ci95[1])
                 for e in ests)
    assert misses <= stats.binom.ppf(1 - 1e-3, 300, 0.05), misses
    # and the mean of the estimates is the exact volume (unbiased): a 99.9% t interval
    v = np.array([e.volume for e in ests])
    half = stats.t.ppf(1 - 5e-4, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v))
    assert abs(v.mean() - truth) <= half, (v.mean(), truth, half)
    assert np.mean([e.diagnostics["design_effect"] for e in ests]) > 1.3


# --- against a large plain run (slow) ---------------------------------------------------------------


@pytest.mark.slow  # 2**21 networks each way on a 3-16-16-1 relu MLP: about a minute on 2 cores
def test_shared_agrees_with_a_large_plain_run_on_a_hidden_layer_gaussian_mlp():
    # the difference of two independent estimates within 3.29 combined standard errors (false failure 1e-3)
    text = spec_text("[model]\nn_inputs = 3\nwidths = [16, 16]\n", "0xe8", "samples = 2097152\nchunk_size = 65536\n")
    plain = parse_spec(text)
    shared = dataclasses.replace(plain, estimator=dataclasses.replace(plain.estimator, readouts_per_draw=64, seed=1))
    a = mc.estimate(Problem.of(plain), plain.estimator, RunOptions(progress=False))
    b = mc.estimate(Problem.of(shared), shared.estimator, RunOptions(progress=False))
    se_a = math.sqrt(a.volume * (1 - a.volume) / a.samples)
    se_b = math.sqrt(b.volume * (1 - b.volume) / b.diagnostics["effective_samples"])
    assert abs(a.volume - b.volume) <= 3.29 * math.hypot(se_a, se_b), (a.volume, b.volume)
    assert b.diagnostics["design_effect"] > 1.05  # 1.17 here: the readouts do share their hidden layers


def test_a_census_refuses_shared_draws_in_one_line():
    from counting.jobs import census_job
    from counting.spec import parse_spec
    from counting.spec.errors import SpecError

    spec = parse_spec("[model]\nn_inputs=2\nwidths=[4]\n[estimator]\nsamples=64\nchunk_size=32\n"
                      "readouts_per_draw=4", need_target=False)
    with pytest.raises(SpecError, match="estimator.readouts_per_draw: expected 1 for a census"):
        census_job(spec)
