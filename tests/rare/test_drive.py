"""Tempered SMC and subset simulation with replicates batched on the device, and the host driver
against the device driver (``counting.rare.drive``, ``batch_replicates``).

Known answers as in ``test_smc.py`` and ``test_subset.py``: AND on 3 bits under a perceptron prior with small ``sigma_b``
(exact volumes by quadrature in ``exact_perceptron.perceptron_volumes``, 1e-4 down to 1e-13),
each check asking the exact value to lie in a 99.9% Student-t interval built from the
replicates (on log10 values): a correct, unbiased estimator with an honest replicate spread fails
a check with probability about 1e-3 over keys; the keys are fixed.

A replicate's record is a function of its key and the batch size: the tests ask for bit-identical
records whatever other replicates share the batch and wherever the replicate sits in it, and
from either driver (host loop or device loop) for the same keys.
"""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import and3_spec, hit_or_miss, t_interval
from counting.engine import checkpoint
from counting.engine.run import RunOptions
from counting.estimators import replicated, smc, subset
from counting.estimators.problem import Problem
from counting.rare import smc as tempered
from counting.rare import subset as splitting
from counting.rare.coordinates import GaussianProblem
from counting.rare.drive import on_device, on_host
from counting.rare.replicates import replicate_key, replicate_keys
from counting.rare.smc import next_beta, smc_run, smc_runs, smc_samples
from counting.rare.subset import subset_run, subset_runs
from counting.spec import SMCSettings, SpecError, SubsetSettings, parse_spec
from counting.spec.estimator import settings_dict
from counting.stats import clopper_pearson
from exact_perceptron import perceptron_volumes

AND3_SPEC = and3_spec(0.1)
AND3_PROBLEM = Problem.of(AND3_SPEC)  # one condition object, so the estimator reuses the compiled problem
AND3 = GaussianProblem.of(AND3_SPEC.model, AND3_SPEC.prior, AND3_PROBLEM.condition)
SMALL = SMCSettings(particles=100, kernel="mala", steps=2)


class Interrupted(Exception):
    pass


def test_a_replicate_gives_the_same_record_whatever_shares_its_batch():
    """Replicate 2 in a batch of 4 with replicates 0..3 (slot 2), with 9, 10, 11 (slot 0) and four
    times over: the same record and the same last population, bit for bit."""
    first = replicate_keys(5, 0, 4)
    assert bool((jax.random.key_data(first[3]) == jax.random.key_data(replicate_key(5, 3))).all())
    batches = [first, jnp.stack([replicate_key(5, r) for r in (2, 9, 10, 11)]), jnp.stack([replicate_key(5, 2)] * 4)]
    runs = [smc_samples(k, AND3, SMALL)[s] for k, s in zip(batches, [2, 0, 3])]
    assert runs[0].run == runs[1].run == runs[2].run
    assert bool((runs[0].coords == runs[1].coords).all()) and bool((runs[0].coords == runs[2].coords).all())
    assert math.isfinite(runs[0].run.log_p) and runs[0].run.stages > 3 and len(runs[0].coords) >= 50


def test_the_estimator_runs_batches_stops_and_resumes_to_the_same_estimate(tmp_path, monkeypatch):
    """6 replicates in batches of 4 (the last filled up with replicates 6 and 7) give the records
    of replicates 0..5 each run in a batch of 4. A job stopped during its second batch has
    checkpointed the first; resumed, it ends with exactly the estimate of an uninterrupted run, and
    the host path refuses to resume it. The default (host path) job identity is unchanged."""
    spec = and3_spec(0.1, 'kind = "smc"\nkernel = "mala"\nparticles = 100\nsteps = 2\nreplicates = 6\n'
                           'batch_replicates = 4')
    problem = AND3_PROBLEM
    whole = smc.estimate(problem, spec.estimator, RunOptions(out=tmp_path / "whole", progress=False))
    assert checkpoint.load(tmp_path / "whole", spec.to_json(), "smc").next == 6
    alone = [smc_runs(jnp.stack([replicate_key(5, r)] * 4), AND3, SMALL)[0] for r in range(6)]
    assert whole.diagnostics["replicates_log10"] == [r.log_p / math.log(10) for r in alone]
    assert whole.samples == sum(r.evaluations for r in alone)

    method, calls = replicated.METHODS["smc"], []

    def stop_at_second(keys, gp, settings):
        calls.append(len(keys))
        if len(calls) == 2:
            raise Interrupted
        return method.runs(keys, gp, settings)

    out = tmp_path / "stopped"
    monkeypatch.setitem(replicated.METHODS, "smc", method._replace(runs=stop_at_second))
    with pytest.raises(Interrupted):
        smc.estimate(problem, spec.estimator, RunOptions(out=out, progress=False))
    monkeypatch.undo()
    assert calls == [4, 4] and checkpoint.load(out, spec.to_json(), "smc").next == 4
    resumed = smc.estimate(problem, spec.estimator, RunOptions(out=out, resume=True, progress=False))
    assert dataclasses.replace(resumed, seconds=0.0) == dataclasses.replace(whole, seconds=0.0)
    host = dataclasses.replace(spec.estimator, batch_replicates=0)
    with pytest.raises(SpecError, match="estimator.batch_replicates"):
        smc.estimate(problem, host, RunOptions(out=out, resume=True, progress=False))
    assert "batch_replicates" not in settings_dict(host) and settings_dict(spec.estimator)["batch_replicates"] == 4


# the subset case compiles both loops again (20 s): slow; test_a_subset_batch_follows_the_host_path_level_for_level
# ties subset's two drivers in the default run
@pytest.mark.parametrize("method,settings", [pytest.param(tempered.SMC, SMALL, marks=pytest.mark.slow), pytest.param(
    splitting.SUBSET, SubsetSettings(particles=200, steps=3), marks=pytest.mark.slow)])  # SMC's case: both loops, ~20 s
def test_host_and_device_drivers_give_the_same_runs(method, settings):
    """One step, two loops: for the same batch of keys the host loop and the device loop end in
    the same states, bit for bit (every field: population, scores, log Z or log p, b, step size,
    stage count); a replicate stepped alone from the host (``smc_run``, ``subset_run``, the
    default path) has the record of a device batch of one."""
    keys = replicate_keys(5, 0, 3)
    mod = tempered if method is tempered.SMC else splitting
    static = mod.static_settings(settings)
    limit = settings.max_stages if method is tempered.SMC else settings.max_levels
    host, dev = on_host(method, keys, limit, AND3, static), on_device(method, keys, limit, AND3, static)
    for a, b in zip(host, dev):
        assert bool((np.asarray(a) == np.asarray(b)).all())
    assert bool(np.asarray(dev.done).all())
    alone = (smc_run if method is tempered.SMC else subset_run)(replicate_key(5, 1), AND3, settings)
    assert alone == (smc_runs if method is tempered.SMC else subset_runs)(replicate_keys(5, 1, 1), AND3, settings)[0]


@pytest.mark.slow  # the host path's estimate beside a batch of one: two compiles (about 10 s)
def test_the_default_host_path_estimate_is_the_batch_of_one():
    """``batch_replicates = 0`` (each replicate stepped from the host) and ``= 1`` (one replicate per
    device call): the same estimate."""
    spec = and3_spec(0.1, 'kind = "smc"\nkernel = "mala"\nparticles = 100\nsteps = 2\nreplicates = 3\n')
    host = smc.estimate(AND3_PROBLEM, spec.estimator, RunOptions(progress=False))
    one = smc.estimate(AND3_PROBLEM, dataclasses.replace(spec.estimator, batch_replicates=1), RunOptions(progress=False))
    assert host.diagnostics["replicates_log10"] == one.diagnostics["replicates_log10"] and host.samples == one.samples


def test_records_count_stages_and_evaluations_as_the_host_path():
    """Evaluations: particles at the start and particles * (steps * (leapfrog + 1) + 1) per stage;
    a run cut at max_stages estimates -inf and its Z_b still bounds the volume from above."""
    run = smc_runs(replicate_keys(5, 0, 4), AND3, SMALL)[0]
    assert run.evaluations == 100 * (1 + run.stages * (2 * 2 + 1))
    short = dataclasses.replace(SMALL, max_stages=3)
    cut = smc_runs(replicate_keys(5, 0, 4), AND3, short)[0]
    exact = math.log(perceptron_volumes(3, 1.0, 0.1)[0x80])
    assert cut.log_p == -math.inf and cut.stages == 3 and cut.evaluations == 100 * (1 + 3 * 5)
    assert cut.log_z > exact and 0 < cut.beta < math.inf


def float64_next_beta(energy: np.ndarray, beta: float, ess_target: float) -> float:
    """A reference in float64 (numpy): the same bracket (from 1 / max finite E, doubled), 60 bisections."""
    e = energy - energy.min()

    def ess(d):
        w = np.exp(-d * e)
        return w.sum() ** 2 / (w * w).sum() / len(e)

    lo, hi = 0.0, 1.0 / e[np.isfinite(e)].max()
    while ess(hi) > ess_target:
        lo, hi = hi, 2.0 * hi
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if ess(mid) > ess_target else (lo, mid)
    return beta + hi


def test_next_beta_matches_a_float64_bisection():
    """float32 on the device against a float64 reference: the same b' to float32 precision, and
    the effective sample size at it on target; all-tied energies give inf."""
    rng = np.random.default_rng(0)
    for scale, beta in [(3.0, 0.25), (1e-8, 5e7), (1e3, 0.0)]:
        e = rng.exponential(scale, 1000)
        e[:3] = np.inf  # overflowed networks
        dev = float(jax.jit(next_beta, static_argnums=2)(jnp.asarray(e, jnp.float32), jnp.float32(beta), 0.5))
        host = float64_next_beta(e.astype(np.float32).astype(np.float64), beta, 0.5)
        assert abs(dev - host) <= 1e-5 * host, (dev, host)
        w = np.exp(-(dev - beta) * (e - e.min()))
        assert abs(w.sum() ** 2 / (w * w).sum() / 1000 - 0.5) < 1e-3
    tied = jnp.concatenate([jnp.zeros(700), jnp.ones(300)])
    assert math.isinf(float(next_beta(jnp.zeros(10), jnp.float32(1.0), 0.5)))
    assert math.isinf(float(next_beta(tied, jnp.float32(1.0), 0.5)))  # 70% tie at the least energy


@pytest.mark.parametrize("sigma_b,kernel", [
    (1e-3, "hmc"),
    pytest.param(0.1, "hmc", marks=pytest.mark.slow),  # the host test's other cases, about 5 s each
    pytest.param(0.1, "mala", marks=pytest.mark.slow),
    pytest.param(1e-4, "hmc", marks=pytest.mark.slow)])
def test_batched_smc_matches_exact_perceptron_tail(sigma_b, kernel):
    """The host test's cases (10 replicates of 500 particles, 5 moves per stage), all 10 replicates
    in one batch."""
    exact = math.log10(perceptron_volumes(3, 1.0, sigma_b)[0x80])
    r = smc.smc_volume(and3_spec(sigma_b), kernel=kernel, replicates=10, particles=500, steps=5,
                       batch_replicates=10)
    d = r.diagnostics
    assert d["reached"] == 10 and all(np.isfinite(d["replicates_log10"]))
    lo, hi = t_interval(d["replicates_log10"])
    assert lo <= exact <= hi, (d["replicates_log10"], exact)
    assert abs(r.log10_volume - exact) < 0.3
    assert r.samples > 0 and r.ci95[0] < r.log10_volume < r.ci95[1]
    assert d["log10_bound"] >= r.log10_volume - 0.5  # Z_b bounds the volume (up to noise)


@pytest.mark.slow  # as the host test of the same name (about 20 s)
def test_batched_smc_agrees_with_hit_or_miss_on_a_deep_network():
    """3-bit majority on a 3-16-16-1 relu net: MC (5e5 networks) and batched SMC agree, each with a
    99.9% interval (SMC: t on replicates; MC: Clopper-Pearson), so the intervals overlap."""
    text = ('[model]\nn_inputs = 3\nwidths = [16, 16]\n[target]\nname = "majority"\n'
            '[estimator]\nsamples = 500000\nseed = 2\nchunk_size = 65536\n')
    est = hit_or_miss(parse_spec(text))
    lo_mc, hi_mc = (math.log10(v) for v in clopper_pearson(est.hits, est.samples, 0.999))
    r = smc.smc_volume(parse_spec(text), replicates=10, particles=500, steps=5, batch_replicates=5)
    lo, hi = t_interval(r.diagnostics["replicates_log10"])
    assert lo <= hi_mc and lo_mc <= hi, (lo, hi, lo_mc, hi_mc)


@pytest.mark.parametrize("value,expected", [("-1", "an integer >= 0"), ("true", "an integer"),
                                            ("11", "at most replicates = 10")])
def test_batch_replicates_bad_input(value, expected):
    with pytest.raises(SpecError, match=f"estimator.batch_replicates: expected {expected}"):
        and3_spec(0.1, f'kind = "smc"\nbatch_replicates = {value}')


# ----------------------------------------------------------------------------- subset simulation
SUBSET = SubsetSettings(particles=200, steps=3)


def test_a_subset_replicate_gives_the_same_record_whatever_shares_its_batch():
    batches = [replicate_keys(5, 0, 4), jnp.stack([replicate_key(5, r) for r in (2, 9, 10, 11)]),
               jnp.stack([replicate_key(5, 2)] * 4)]
    runs = [subset_runs(k, AND3, SUBSET)[s] for k, s in zip(batches, [2, 0, 3])]
    assert runs[0] == runs[1] == runs[2] and math.isfinite(runs[0].log_p) and runs[0].levels >= 3


@pytest.mark.parametrize("kernel", ["elliptical_slice", pytest.param("pcn", marks=pytest.mark.slow)])  # another compile, 6 s
def test_a_subset_batch_follows_the_host_path_level_for_level(kernel):
    """The host loop and the device loop on the same batch: the same records, bit for bit."""
    settings = dataclasses.replace(SUBSET, kernel=kernel)
    host = on_host(splitting.SUBSET, replicate_keys(5, 0, 4), settings.max_levels, AND3,
                   splitting.static_settings(settings))
    assert splitting.records(host, AND3, settings) == subset_runs(replicate_keys(5, 0, 4), AND3, settings)


# slow (6 to 9 s each): in the default run, test_a_subset_batch_follows_the_host_path_level_for_level
# ties the batched path to the host path, whose known-answer test runs there
@pytest.mark.slow
@pytest.mark.parametrize("sigma_b,kernel", [(0.1, "elliptical_slice"), pytest.param(0.1, "pcn", marks=pytest.mark.slow),
                                            pytest.param(1e-3, "elliptical_slice", marks=pytest.mark.slow), (1e-4, "elliptical_slice")])  # slow: 3 s each
def test_batched_subset_matches_exact_perceptron_tail(sigma_b, kernel):
    """The host test's cases (10 replicates of 1000 particles), in two batches of 5."""
    exact = math.log10(perceptron_volumes(3, 1.0, sigma_b)[0x80])
    r = subset.subset_volume(and3_spec(sigma_b), kernel=kernel, replicates=10, particles=1000, batch_replicates=5)
    l10 = r.diagnostics["replicates_log10"]
    assert all(np.isfinite(l10))
    lo, hi = t_interval(l10)
    assert lo <= exact <= hi, (l10, exact)
    assert abs(r.log10_volume - exact) < 0.3
    assert r.samples > 0 and r.ci95[0] < r.log10_volume < r.ci95[1]


def test_subset_batch_replicates_bad_input():
    with pytest.raises(SpecError, match="estimator.batch_replicates: expected at most replicates = 10"):
        and3_spec(0.1, 'kind = "subset"\nbatch_replicates = 11')
