"""The posterior over functions given S (tempered SMC over the hidden layers, readout drawn given S)
against exact answers and rejection.

* No hidden layer (a 3-input perceptron): every posterior quantity is a ratio of exact perceptron
  volumes (``tests/exact_perceptron.py``).
* ``m = N``: ``P_B(f* | S) = 1`` and no error off S; ``m = 0``: ``P_B(f*) = V(f*)``.
* A 3-8-1 relu MLP with ``m = 4``: the draws' function shares, ``P_B(f* | S)`` and the treacherous
  function's ``P_B(f_T | S)`` against rejection from 2^21 prior networks (brute-force hit-or-miss).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from counting.boolean.tables import pack, rows_to_hex, to_bits, to_hex, treacherous
from counting.engine.priors import sample_params
from counting.estimators.problem import Problem
from counting.estimators.readout import estimate_many
from counting.models import forward, model_inputs
from counting.rare.readout_posterior import function_shares, posterior_runs, ratio_interval, weighted_quantile
from counting.spec.estimator import ReadoutSettings, ReadoutSMCSettings
from counting.spec.job import spec_from_dict
from counting.spec.model import MLPSpec
from counting.spec.prior import ScaledPrior
from exact_perceptron import perceptron_volumes

PRIOR = ScaledPrior()
MAJ3 = 0xE8


def keys(r: int, seed: int = 0):
    return jax.vmap(lambda i: jax.random.fold_in(jax.random.key(seed), i))(jnp.arange(r))


def agrees(f: int, g: int, points) -> bool:
    return all(((f >> p) & 1) == ((g >> p) & 1) for p in points)


def widened(est: float, lo: float, hi: float, factor: float = 2.0) -> tuple[float, float]:
    """A 95% t-interval (7 degrees of freedom) in log10 widened ``factor`` times about its estimate:
    twice is t = 4.73, two-sided p about 0.002 under the t law."""
    return est - factor * (est - lo), est + factor * (hi - est)


@pytest.mark.slow  # 67 to 110 s on two busy cores (compilation mostly)
def test_perceptron_posterior_is_an_exact_orthant_ratio():
    """No hidden layer: P_B(f | S) = V(f) / sum of V(g) over g agreeing on S, with exact perceptron
    volumes. Checked: P_B(f* | S) and P_B(f_T | S) from the whole-cube orthants (each inside its 95%
    interval widened twice: false-failure rate about 0.2% each), and every function's share of the
    draws with exact probability at least 0.01 (inside its mean over 8 replicates plus or minus
    t_7(1 - 0.001 / (2 k)) standard errors, k the functions checked: family-wise 0.1%); the
    weighted mean error off S against the exact one (the same bound)."""
    model = MLPSpec(n_inputs=3, widths=())
    vols = perceptron_volumes(3)
    S = (0, 3, 5, 6)
    v_set = sum(v for f, v in vols.items() if agrees(f, MAJ3, S))
    s = ReadoutSMCSettings(particles=256, steps=1, slice_shrinks=2, n_qmc=256)
    runs = posterior_runs(keys(8), model, PRIOR, MAJ3, S, s, draws=16)
    assert all(r.stages == 1 for r in runs)  # one network: q constant, b = 1 at once
    for log_v, f in ((lambda r: r.log_v_target, MAJ3), (lambda r: r.log_v_treacherous, treacherous(MAJ3, S, 3))):
        est, lo, hi = ratio_interval([log_v(r) for r in runs], [r.log_v_set for r in runs])
        exact = vols.get(f, 0.0) / v_set
        if exact == 0:
            assert est == -math.inf
        else:
            lo, hi = widened(est, lo, hi)
            assert lo <= math.log10(exact) <= hi, (hex(f), est, lo, hi, math.log10(exact))
    exact = {f: v / v_set for f, v in vols.items() if agrees(f, MAJ3, S) and v / v_set >= 0.01}
    shares = [function_shares(r) for r in runs]
    t = stats.t.ppf(1 - 0.001 / (2 * len(exact)), len(runs) - 1)
    for f, p in exact.items():
        v = np.array([d.get(to_hex(f, 3), 0.0) for d in shares])
        assert abs(v.mean() - p) <= t * v.std(ddof=1) / math.sqrt(len(v)), (hex(f), v.mean(), p)
    off = [i for i in range(8) if i not in S]
    exact_err = sum(p * np.mean([((f >> i) & 1) != ((MAJ3 >> i) & 1) for i in off])
                    for f, p in ((f, vols[f] / v_set) for f in vols if agrees(f, MAJ3, S)))
    errs = np.array([np.dot(r.weights, r.errors) / len(off) for r in runs])
    assert abs(errs.mean() - exact_err) <= t * errs.std(ddof=1) / math.sqrt(len(errs))


@pytest.mark.slow  # 90 to 171 s on two busy cores (compilation mostly)
def test_whole_cube_and_empty_set():
    """m = N: P_B(f* | S) = 1 exactly, every draw is f*, no error off S (an identity, no false
    failure). m = 0: the population is the prior, P_B(f*) is V(f*): against the readout estimator's
    V(f*) from 4,096 independent networks (the two 95% intervals, the posterior's widened twice,
    must overlap: false-failure rate below 0.5%)."""
    model = MLPSpec(n_inputs=3, widths=(8,))
    s = ReadoutSMCSettings(particles=128, steps=1, slice_shrinks=2, n_qmc=128)
    full = posterior_runs(keys(2), model, PRIOR, MAJ3, tuple(range(8)), s, draws=2)
    for r in full:
        assert r.log_v_target == r.log_v_set == r.log_v_treacherous
        assert set(r.functions) == {to_hex(MAJ3, 3)} and set(r.errors) == {0}
    empty = posterior_runs(keys(8), model, PRIOR, MAJ3, (), s, draws=2)
    assert all(r.log_v_set == 0.0 and r.stages == 0 for r in empty)
    est, lo, hi = ratio_interval([r.log_v_target for r in empty], [r.log_v_set for r in empty])
    lo, hi = widened(est, lo, hi)
    spec = spec_from_dict({"model": {"n_inputs": 3, "widths": [8]}, "target": {"truth_table": "0xe8"},
                           "estimator": {"kind": "readout", "samples": 4096, "seed": 3}})
    ref = estimate_many(Problem.of(spec), (MAJ3,), ReadoutSettings(samples=4096, seed=3))[0]
    assert lo <= ref.ci95[1] and ref.ci95[0] <= hi, (est, lo, hi, ref.log10_volume, ref.ci95)


def rejection(model, target: int, S, networks: int, seed: int) -> tuple[dict[str, int], int]:
    """Counts of the functions of prior networks agreeing with ``target`` on ``S`` (hit-or-miss)."""
    n = model.n_inputs
    x = jnp.asarray(model_inputs(model))
    bits = to_bits(target, n)[list(S)]
    fn = jax.jit(lambda k: pack(forward(model, sample_params(k, model, PRIOR, 1 << 18), x).output > 0))
    counts: dict[str, int] = {}
    for c in range(networks >> 18):
        for h in rows_to_hex(np.asarray(fn(jax.random.fold_in(jax.random.key(seed), c))), n):
            if (to_bits(int(h, 16), n)[list(S)] == bits).all():
                counts[h] = counts.get(h, 0) + 1
    return counts, networks


@pytest.mark.slow  # 186 to 287 s on two busy cores (the posterior most of it, 27 s the rejection)
def test_against_rejection_on_a_hidden_layer():
    """A 3-8-1 relu MLP, majority, S = 4 points (V(agrees on S) about 10^-1.49): rejection from
    2^21 prior networks keeps about 68,000. Each of its eight most frequent functions' share of the
    posterior draws (8 replicates of 1,024 networks, 8 readouts each) lies within
    ``t_7(1 - 0.001 / 16)`` replicate standard errors combined with rejection's binomial one of
    rejection's share (family-wise false-failure rate about 0.1%); P_B(f* | S) and the treacherous
    function's P_B(f_T | S) (here 0x7e, about 0.003) from the whole-cube orthants lie within their
    95% intervals widened twice around rejection's share (about 0.2% each), and V(agrees on S) from
    the draws' weights within the same widening of rejection's."""
    model = MLPSpec(n_inputs=3, widths=(8,))
    S = (0, 3, 5, 6)
    counts, total = rejection(model, MAJ3, S, 1 << 21, seed=7)
    kept = sum(counts.values())
    s = ReadoutSMCSettings(particles=1024, steps=3, slice_shrinks=4, n_qmc=128)
    runs = posterior_runs(keys(8), model, PRIOR, MAJ3, S, s, draws=8)
    shares = [function_shares(r) for r in runs]
    top = sorted(counts, key=lambda h: -counts[h])[:8]
    t = stats.t.ppf(1 - 0.001 / (2 * len(top)), len(runs) - 1)
    for h in top:
        v = np.array([d.get(h, 0.0) for d in shares])
        p = counts[h] / kept
        se = math.sqrt(v.var(ddof=1) / len(v) + p * (1 - p) / kept)
        assert abs(v.mean() - p) <= t * se, (h, v.mean(), p)
    for log_v, f in ((lambda r: r.log_v_target, MAJ3), (lambda r: r.log_v_treacherous, treacherous(MAJ3, S, 3))):
        est, lo, hi = ratio_interval([log_v(r) for r in runs], [r.log_v_set for r in runs])
        lo, hi = widened(est, lo, hi)
        p = counts[to_hex(f, 3)] / kept
        assert lo <= math.log10(p) <= hi, (hex(f), est, lo, hi, math.log10(p))
    v = np.exp([r.log_v_set for r in runs])
    half = stats.t.ppf(0.975, 7) * v.std(ddof=1) / math.sqrt(8)
    assert abs(v.mean() - kept / total) <= 2 * half + 3 * math.sqrt(kept) / total


def test_weighted_quantile():
    """The lower weighted quantile (deterministic)."""
    v, w = np.array([0.0, 0.5, 1.0]), np.array([0.2, 0.3, 0.5])
    assert [weighted_quantile(v, w, q) for q in (0.1, 0.2, 0.21, 0.5, 0.51, 1.0)] == [0.0, 0.0, 0.5, 0.5, 1.0, 1.0]
