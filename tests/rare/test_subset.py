"""Subset simulation against exact perceptron volumes (1e-4 down to 1e-13) and hit-or-miss.

Exact values: AND on 3 bits (positive on exactly one input) under a perceptron prior with small
``sigma_b`` lies deep in the tail (its volume scales as ``sigma_b**3``: 8.3e-5 at 0.1, 8.8e-11 at
1e-3, 8.8e-14 at 1e-4); ``exact_perceptron.perceptron_volumes`` gives it by quadrature, stable to
better than 1e-6 relative across quadrature orders.

Each check asks the exact value to lie in a 99.9% Student-t interval built from the estimator's own
replicates (on log10 values), so a correct, unbiased estimator whose replicate spread is honest
fails a check with probability about 1e-3 over keys; the keys here are fixed.
"""

import dataclasses
import math
from functools import partial

import jax

import numpy as np
import pytest
from scipy import stats

from conftest import and3_spec, hit_or_miss, t_interval
from counting.engine import checkpoint
from counting.engine.run import RunOptions
from counting.estimators import replicated, subset
from counting.estimators.problem import Problem
from counting.estimators.result import ESTIMATE_KEYS
from counting.jobs import volume_job
from counting.mechanisms.predicates import Condition
from counting.rare.coordinates import GaussianProblem
from counting.rare.kernels import Level, Particles, Tempered, elliptical_slice, hmc, mala, pcn, rescaling
from counting.rare.replicates import combine_replicates
from counting.spec import MLPSpec, ScaledPrior, SpecError, parse_spec
from counting.stats import clopper_pearson
from exact_perceptron import perceptron_volumes


# 1e-3 in the slow step (about 3.5 s): 0.1 and the deeper 1e-4 stay in the default run
@pytest.mark.parametrize("sigma_b,kernel", [pytest.param(0.1, "elliptical_slice", marks=pytest.mark.slow), (0.1, "pcn"),
                                            pytest.param(1e-3, "elliptical_slice", marks=pytest.mark.slow),  # slow ones: 4 s each
                                            pytest.param(1e-4, "elliptical_slice", marks=pytest.mark.slow)])  # ~7 s
def test_subset_matches_exact_perceptron_tail(sigma_b, kernel):
    exact = math.log10(perceptron_volumes(3, 1.0, sigma_b)[0x80])
    r = subset.subset_volume(and3_spec(sigma_b), kernel=kernel, replicates=10, particles=1000)
    l10 = r.diagnostics["replicates_log10"]
    assert all(np.isfinite(l10))
    lo, hi = t_interval(l10)
    assert lo <= exact <= hi, (l10, exact)
    assert abs(r.log10_volume - exact) < 0.3
    assert r.samples > 0 and r.ci95[0] < r.log10_volume < r.ci95[1]


@pytest.mark.slow  # 5e5 networks of 3-16-16-1 by hit-or-miss, then subset replicates (about 20 s)
def test_subset_agrees_with_hit_or_miss_on_a_deep_network():
    """3-bit majority on a 3-16-16-1 relu net: MC (5e5 networks) and subset agree, each with a
    99.9% interval (subset: t on replicates; MC: Clopper-Pearson), so the intervals overlap."""
    text = ('[model]\nn_inputs = 3\nwidths = [16, 16]\n[target]\nname = "majority"\n'
            '[estimator]\nsamples = 500000\nseed = 2\nchunk_size = 65536\n')
    est = hit_or_miss(parse_spec(text))
    lo_mc, hi_mc = (math.log10(v) for v in clopper_pearson(est.hits, est.samples, 0.999))
    r = subset.subset_volume(parse_spec(text), replicates=10, particles=1000)
    lo, hi = t_interval(r.diagnostics["replicates_log10"])
    assert lo <= hi_mc and lo_mc <= hi, (lo, hi, lo_mc, hi_mc)
    assert 1e-5 < est.volume < 1e-2  # the overlap range the issue names


def test_subset_through_the_volume_job_has_the_standard_fields(tmp_path):
    spec = and3_spec(0.1, 'kind = "subset"\nreplicates = 3\nparticles = 200')
    est = volume_job(spec, options=RunOptions(out=tmp_path / "o", progress=False))
    d = est.as_dict()
    assert sorted(d) == sorted(ESTIMATE_KEYS)
    assert d["estimator"] == "subset" and d["cost"] == {"network_evaluations": est.samples} and d["hits"] is None
    assert d["seed"] == 5 and not d["one_sided_upper_bound"] and d["seconds"] > 0
    diag = d["diagnostics"]
    assert diag["kernel"] == "elliptical_slice" and diag["replicates"] == 3 and len(diag["replicates_log10"]) == 3
    for k in ("replicate_sd_log10", "mean_levels", "reached"):
        assert k in diag
    assert (tmp_path / "o" / "volume.parquet").exists() and not checkpoint.path(tmp_path / "o").exists()


def test_subset_needs_a_condition_with_a_score():
    spec = and3_spec(0.1, 'kind = "subset"\nreplicates = 2\nparticles = 20')
    with pytest.raises(SpecError, match="a condition with a score for 'subset'"):
        subset.estimate(Problem.of(spec, lambda fwd: fwd.output[:, 0] > 0), spec.estimator)


class Interrupted(Exception):
    pass


@pytest.mark.slow  # an interrupted and a whole run (about 17 s on busy cores)
def test_subset_resumes_from_a_checkpoint_to_the_same_estimate(tmp_path, monkeypatch):
    """A job stopped after replicate 2 (of 4) refuses to be restarted over, and resumes to exactly
    the estimate of an uninterrupted run."""
    spec = and3_spec(0.1, 'kind = "subset"\nreplicates = 4\nparticles = 100\nsteps = 3')
    problem = Problem.of(spec)
    whole = subset.estimate(problem, spec.estimator, RunOptions(out=tmp_path / "whole", progress=False))
    assert checkpoint.load(tmp_path / "whole", spec.to_json(), "subset").next == 4

    method, calls = replicated.METHODS["subset"], []

    def stop_at_third(key, gp, settings):
        calls.append(1)
        if len(calls) == 3:
            raise Interrupted
        return method.run(key, gp, settings)

    out = tmp_path / "stopped"
    monkeypatch.setitem(replicated.METHODS, "subset", method._replace(run=stop_at_third))
    with pytest.raises(Interrupted):
        subset.estimate(problem, spec.estimator, RunOptions(out=out, progress=False))
    monkeypatch.undo()
    assert checkpoint.load(out, spec.to_json(), "subset").next == 2
    with pytest.raises(SpecError, match="^out: expected a folder without an unfinished job"):
        subset.estimate(problem, spec.estimator, RunOptions(out=out, progress=False))
    resumed = subset.estimate(problem, spec.estimator, RunOptions(out=out, resume=True, progress=False))
    assert dataclasses.replace(resumed, seconds=0.0) == dataclasses.replace(whole, seconds=0.0)
    other = dataclasses.replace(spec.estimator, particles=101)
    with pytest.raises(SpecError, match="estimator.particles"):
        subset.estimate(problem, other, RunOptions(out=out, resume=True, progress=False))


KERNELS = {"pcn": partial(pcn, step=0.5), "elliptical_slice": partial(elliptical_slice, shrinks=8), "rescaling": rescaling,
           "hmc": partial(hmc, eps=0.3, leapfrog=5), "mala": partial(mala, eps=0.3)}


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_kernels_leave_a_level_and_a_tempered_prior_invariant(name):
    """Every kernel under either target, on a case with known answers: the perceptron's output at
    one point is ``z = a.g`` with ``|a|**2 = 2``, and the score is ``-z**2``. Tempered by ``beta = 1``,
    ``z ~ N(0, 2 / 5)``; restricted to the level -2, ``z`` is ``N(0, 2)`` truncated to ``|z| <= sqrt(2)``
    (``E z**2 = 2 (1 - 2 phi(1) / (2 Phi(1) - 1))``). 4000 particles start from the exact target; after
    five moves the mean of ``z**2`` is within 5 standard errors of its value, and levels are kept."""
    cond = Condition(lambda fwd: fwd.output[:, 0] > 1e3, lambda fwd: -fwd.output[:, 0] ** 2)
    problem = GaussianProblem.of(MLPSpec(n_inputs=2, widths=()), ScaledPrior(), cond)
    a = np.array([-1, -1, math.sqrt(2)]) / math.sqrt(2)  # z = a.g: inputs (-1, -1), weights scaled 1/sqrt(2)
    xi = np.asarray(jax.random.normal(jax.random.key(0), (16000, 3)), np.float64)
    c = (1 - 1 / math.sqrt(5)) / 2  # g = xi - c (a.xi) a has Var(a.g) = 2 / 5
    tilted = (xi - c * (xi @ a)[:, None] * a)[:4000]
    inside = xi[np.abs(xi @ a) <= math.sqrt(2)][:4000]
    truncated = 2 * (1 - 2 * stats.norm.pdf(1) / (2 * stats.norm.cdf(1) - 1))
    step = jax.jit(partial(KERNELS[name], problem=problem))
    for i, (target, g, want) in enumerate([(Tempered(np.float32(1.0)), tilted, 0.4), (Level(-2.0), inside, truncated)]):
        g = jax.numpy.asarray(g, jax.numpy.float32)
        p = Particles(g, problem.evaluate(g)[0])
        for k in range(5):
            p, acc = step(jax.random.fold_in(jax.random.key(i + 1), k), p, target)
        z2 = -np.asarray(p.score, np.float64)
        assert np.allclose(p.score, problem.evaluate(p.g)[0], rtol=1e-4, atol=1e-6)
        assert abs(z2.mean() - want) < 5 * z2.std() / math.sqrt(len(z2)), (name, target, z2.mean(), want)
        assert 0.05 < float(acc) <= 1.0
        if isinstance(target, Level):
            assert (p.score >= -2.0).all()


def test_combine_replicates_interval():
    est, (lo, hi) = combine_replicates([math.log(1e-10), math.log(2e-10), math.log(1.5e-10)])
    half = stats.t.ppf(0.975, 2) * 0.5e-10 / math.sqrt(3)
    assert est == pytest.approx(math.log10(1.5e-10))
    assert (lo, hi) == pytest.approx((math.log10(1.5e-10 - half), math.log10(1.5e-10 + half)))


def test_combine_replicates_dispersed_fallback():
    """One replicate dominates: the linear lower end would be negative, so it comes from log10 values."""
    logs = [math.log(x) for x in (1e-12, 1e-12, 1e-12, 1e-8)]
    est, (lo, hi) = combine_replicates(logs)
    mean = (3e-12 + 1e-8) / 4
    sd = float(np.std([1e-12, 1e-12, 1e-12, 1e-8], ddof=1))
    assert est == pytest.approx(math.log10(mean))
    assert hi == pytest.approx(math.log10(mean + stats.t.ppf(0.975, 3) * sd / 2))
    l10 = np.array([-12, -12, -12, -8.0])
    assert lo == pytest.approx(l10.mean() - stats.t.ppf(0.975, 3) * l10.std(ddof=1) / 2)


@pytest.mark.slow
def test_subset_interval_coverage_over_200_runs():
    """The 95% interval covers the exact volume in at least 90% of 200 independent runs.

    Case: AND on 3 bits, sigma_b = 0.01 (exact volume 8.77e-8, about 7 levels), 10 replicates of
    500 particles per run. With true coverage 95%, fewer than 180 of 200 covers has probability
    about 1e-3 (binomial tail), so that is this test's false-failure rate.
    """
    exact = math.log10(perceptron_volumes(3, 1.0, 0.01)[0x80])
    covered = 0
    for run in range(200):
        spec = parse_spec('[model]\nn_inputs = 3\nwidths = []\n[prior]\nsigma_b = 0.01\n'
                          f'[target]\ntruth_table = "0x80"\n[estimator]\nseed = {1000 + run}\n')
        r = subset.subset_volume(spec, replicates=10, particles=500, options=RunOptions(progress=False))
        lo, hi = r.ci95
        covered += (lo is None or lo <= exact) and hi is not None and exact <= hi
    print(f"coverage {covered}/200")
    assert covered >= 180


@pytest.mark.slow  # several runs (about 16 s on busy cores)
def test_runs_of_one_target_with_new_seeds_compile_once():
    """A fresh spec of the same target (only the seed differs) finds the compiled problem of the
    first: before, every run compiled its own and kept it, and a long job or test session ran out
    of memory mappings (a segfault inside the compiler)."""
    from counting.mechanisms.predicates import computes
    from counting.rare import coordinates

    assert computes(0x80, 3) is computes(0x80, 3)
    runs = []
    for seed in (7, 8):
        spec = parse_spec('[model]\nn_inputs = 3\nwidths = []\n[prior]\nsigma_b = 0.1\n'
                          f'[target]\ntruth_table = "0x80"\n[estimator]\nseed = {seed}\n')
        before = coordinates.gaussian_problem.cache_info()
        subset.subset_volume(spec, replicates=2, particles=100, options=RunOptions(progress=False))
        after = coordinates.gaussian_problem.cache_info()
        runs.append(after.misses - before.misses)
    assert runs[1] == 0, runs


@pytest.mark.parametrize("extra,message", [
    ('kernel = "ess"', "estimator.kernel: expected 'elliptical_slice' for kind 'subset' (renamed from 'ess'), got 'ess'"),
    ("ess_shrinks = 4", "estimator.ess_shrinks: expected estimator.slice_shrinks for kind 'subset' (renamed; ess means "
                        "only the effective sample size), got 4")])
def test_the_old_names_of_the_slice_sampler_are_refused_in_one_line(extra, message):
    from counting.spec import SpecError, parse_spec
    with pytest.raises(SpecError) as e:
        parse_spec(f'[model]\nn_inputs = 2\n[target]\nname = "and"\n[estimator]\nkind = "subset"\n{extra}\n')
    assert str(e.value) == message
