"""The batched orthant probability (:mod:`counting.analytic.orthant_batched`) against closed forms and
against the host module (:func:`counting.analytic.orthant.orthant_probability`).

Every key is fixed, so each test is deterministic; the tolerances say how often a test would fail
for a *fresh* key. A randomised estimate is checked with ``T`` standard errors, ``T = t_{R-1,
0.9995}`` (5.41 for ``R = 8`` replicates), the two-sided 99.9% Student-t quantile of the replicate
mean: a correct estimator misses by chance with probability 1e-3 per check (the two estimators'
standard errors add in quadrature when both are random, which only makes the check more lenient).
A float32 floor (``1e-5`` relative) covers rounding in deterministic cases (one step per variable).
The ``d = 32`` cases (compiling the tilt's Newton solve for 62 unknowns takes most of a minute on a
small CPU) are marked slow.
"""

from __future__ import annotations

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import special, stats

from counting.analytic.orthant import orthant_probability
from counting.analytic.orthant_batched import (OrthantBatch, log_orthant, log_orthant_keys, ndtri_exp,
                                               network_keys)

R = 8
T = float(stats.t.ppf(0.9995, R - 1))  # 99.9% two-sided
FLOOR = 1e-5


def batched(cov, signs, seed=0, n_qmc=1024, tilt=True) -> OrthantBatch:
    return log_orthant(jax.random.key(seed), jnp.asarray(np.asarray(cov), jnp.float32),
                       jnp.asarray(np.asarray(signs), jnp.float32), n_qmc=n_qmc, replicates=R, tilt=tilt)


def assert_matches(out: OrthantBatch, exact):
    """``|p_hat / p - 1| <= T rel_se + FLOOR`` for every network."""
    ratio = np.exp(np.asarray(out.log_p, np.float64) - np.log(np.asarray(exact, np.float64)))
    bound = T * np.asarray(out.rel_se) + FLOOR
    assert np.all(np.abs(ratio - 1) <= bound), (ratio - 1, bound)


def random_corr(rng, d):
    x = rng.normal(size=(d, d + 2))
    c = x @ x.T
    sd = np.sqrt(np.diag(c))
    return c / np.outer(sd, sd)


def relu_cov(rng, n, width):
    """``K = H H^T / W + 1`` for a random relu layer's features ``H`` on the ``2^n`` cube points."""
    x = np.array(list(itertools.product([-1.0, 1.0], repeat=n)))
    h = np.maximum(x @ rng.normal(size=(n, width)) / math.sqrt(n) + rng.normal(size=width), 0.0)
    return h @ h.T / width + 1.0


# ----------------------------------------------------------------------------- closed forms
@pytest.mark.slow  # compile-dominated (6 to 50 s on 2 cores); the default run keeps the 4-bit check against the host
def test_one_dimension_is_one_half():
    out = batched([[[2.0]], [[0.3]]], [[1.0], [-1.0]])
    np.testing.assert_allclose(np.asarray(out.log_p), math.log(0.5), rtol=1e-6)


@pytest.mark.slow  # compile-dominated (6 to 50 s on 2 cores); the default run keeps the 4-bit check against the host
def test_identity_is_two_to_the_minus_d():
    """Independent variables: every step is ``log Phi(0)`` exactly, so only float32 rounding is left."""
    rng = np.random.default_rng(0)
    for d in (8, 16):
        cov = np.stack([np.diag(rng.uniform(0.5, 2.0, d)) for _ in range(2)])
        out = batched(cov, rng.choice([-1.0, 1.0], (2, d)), n_qmc=64, tilt=False)
        np.testing.assert_allclose(np.asarray(out.log_p) / (-d * math.log(2)), 1.0, rtol=FLOOR)


@pytest.mark.slow  # compile-dominated (6 to 50 s on 2 cores); the default run keeps the 4-bit check against the host
def test_two_and_three_dimensions_match_the_arcsine_formulas():
    rng = np.random.default_rng(1)
    c2 = np.stack([random_corr(rng, 2) * s for s in (1.0, 3.0, 0.2, 1.0)])
    s2 = rng.choice([-1.0, 1.0], (4, 2))
    r2 = c2[:, 0, 1] / np.sqrt(c2[:, 0, 0] * c2[:, 1, 1]) * s2[:, 0] * s2[:, 1]
    assert_matches(batched(c2, s2), 0.25 + np.arcsin(r2) / (2 * math.pi))

    c3 = np.stack([random_corr(rng, 3) for _ in range(6)])
    s3 = rng.choice([-1.0, 1.0], (6, 3))
    r3 = c3 * s3[:, :, None] * s3[:, None, :]
    exact = 0.125 + (np.arcsin(r3[:, 0, 1]) + np.arcsin(r3[:, 0, 2]) + np.arcsin(r3[:, 1, 2])) / (4 * math.pi)
    assert_matches(batched(c3, s3), exact)


@pytest.mark.parametrize("d", [pytest.param(4, marks=pytest.mark.slow), pytest.param(16, marks=pytest.mark.slow),
                               pytest.param(32, marks=pytest.mark.slow)])  # compile-dominated
def test_equicorrelated_one_half_is_one_over_d_plus_one(d):
    cov = np.full((d, d), 0.5) + 0.5 * np.eye(d)
    assert_matches(batched(cov[None], np.ones((1, d))), 1.0 / (d + 1))


@pytest.mark.slow  # compile-dominated (6 to 50 s on 2 cores); the default run keeps the 4-bit check against the host
def test_untilted_estimator_matches_a_closed_form_too():
    d = 8
    cov = np.full((d, d), 0.5) + 0.5 * np.eye(d)
    assert_matches(batched(cov[None], np.ones((1, d)), tilt=False), 1.0 / (d + 1))


# ----------------------------------------------------------------------------- against the host
def spread_patterns(cov, rng, targets):
    """Sign patterns whose (batched-estimated) log10 probabilities come closest to ``targets``."""
    d = cov.shape[0]
    cands = np.concatenate([rng.choice([-1.0, 1.0], (64, d))]
                           + [np.where(rng.random((16, d)) < q, -1.0, 1.0) for q in (0.05, 0.1, 0.2, 0.3)])
    l10 = np.asarray(batched(np.repeat(cov[None], len(cands), 0), cands, seed=9, n_qmc=256).log_p) / math.log(10)
    picks = sorted({int(np.argmin(np.abs(l10 - t))) for t in targets})
    return cands[picks]


@pytest.mark.parametrize("n,targets,deepest", [
    pytest.param(3, (-2, -4, -6), -4.5, marks=pytest.mark.slow),
    pytest.param(4, (-2, -5, -8, -11), -9.5, marks=pytest.mark.slow),  # compile-dominated: 30 s
    pytest.param(5, (-2, -5, -10, -15, -20), -18.5, marks=pytest.mark.slow),  # d = 32: minutes on 2 cores
])
def test_relu_covariances_match_the_host_module(n, targets, deepest):
    """``K = H H^T / 40 + 1`` on ``d = 2^n`` cube points, probabilities from 1e-2 down to ``targets[-1]``:
    ``|log p_batched - log p_host| <= T sqrt(rel_se_b^2 + rel_se_h^2)``."""
    rng = np.random.default_rng(100 + n)
    cov = relu_cov(rng, n, 40)
    signs = spread_patterns(cov, rng, targets)
    out = batched(np.repeat(cov[None], len(signs), 0), signs)
    host = [orthant_probability(cov, s, seed=3, n_qmc=1024, replicates=R) for s in signs]
    log_host = np.array([h.log10_value * math.log(10) for h in host])
    se_host = np.array([h.std_error_log10 * math.log(10) for h in host])
    assert log_host.min() / math.log(10) < deepest  # the patterns reach the deep tail they claim
    assert np.all(out.rank == 2**n)
    gap = np.abs(np.asarray(out.log_p) - log_host)
    assert np.all(gap <= T * np.sqrt(np.asarray(out.rel_se) ** 2 + se_host**2) + FLOOR), (gap, out.rel_se, se_host)


# ----------------------------------------------------------------------------- batching and jit
@pytest.mark.slow  # compile-dominated (6 to 50 s on 2 cores); the default run keeps the 4-bit check against the host
def test_a_network_does_not_depend_on_its_batch():
    rng = np.random.default_rng(5)
    cov = np.stack([relu_cov(rng, 3, 40) for _ in range(5)])
    signs = rng.choice([-1.0, 1.0], (5, 8))
    key = jax.random.key(11)
    whole = log_orthant(key, jnp.asarray(cov, jnp.float32), jnp.asarray(signs, jnp.float32), 256, R)
    keys = network_keys(key, 5)
    perm = np.array([3, 0, 4, 2, 1])
    shuffled = log_orthant_keys(keys[perm], jnp.asarray(cov[perm], jnp.float32),
                                jnp.asarray(signs[perm], jnp.float32), 256, R)
    np.testing.assert_allclose(np.asarray(shuffled.log_reps), np.asarray(whole.log_reps)[perm], rtol=1e-5)
    for i in (0, 2):
        alone = log_orthant_keys(keys[i:i + 1], jnp.asarray(cov[i:i + 1], jnp.float32),
                                 jnp.asarray(signs[i:i + 1], jnp.float32), 256, R)
        np.testing.assert_allclose(np.asarray(alone.log_reps)[0], np.asarray(whole.log_reps)[i], rtol=1e-5)
    # a larger batch from the same key leaves the first networks' results unchanged
    bigger = log_orthant(key, jnp.asarray(np.concatenate([cov, cov[:2]]), jnp.float32),
                         jnp.asarray(np.concatenate([signs, -signs[:2]]), jnp.float32), 256, R)
    np.testing.assert_allclose(np.asarray(bigger.log_reps)[:5], np.asarray(whole.log_reps), rtol=1e-5)


@pytest.mark.slow  # compile-dominated (6 to 50 s on 2 cores); the default run keeps the 4-bit check against the host
def test_jit_gives_the_same_numbers():
    rng = np.random.default_rng(6)
    cov = jnp.asarray(np.stack([random_corr(rng, 5) for _ in range(3)]), jnp.float32)
    signs = jnp.asarray(rng.choice([-1.0, 1.0], (3, 5)), jnp.float32)
    key = jax.random.key(2)
    jitted = jax.jit(log_orthant, static_argnames=("n_qmc", "replicates", "tilt"))
    a = jitted(key, cov, signs, n_qmc=128, replicates=4)
    b = log_orthant(key, cov, signs, n_qmc=128, replicates=4)
    np.testing.assert_allclose(np.asarray(a.log_reps), np.asarray(b.log_reps), rtol=1e-5)


# ----------------------------------------------------------------------------- pieces
def test_ndtri_exp_inverts_log_ndtr_far_into_the_tail():
    log_q = -np.logspace(-0.15, 4, 60)  # log(1/2) > log_q > -1e4 (q down to 1e-4343)
    got = np.asarray(ndtri_exp(jnp.asarray(log_q, jnp.float32)), np.float64)
    np.testing.assert_allclose(got, special.ndtri_exp(log_q), rtol=1e-6, atol=1e-7)  # float32 near 0


def test_bad_arguments_are_refused():
    cov, signs = jnp.eye(3)[None], jnp.ones((1, 3))
    with pytest.raises(ValueError, match="n_qmc"):
        log_orthant(jax.random.key(0), cov, signs, n_qmc=100, replicates=4)
    with pytest.raises(ValueError, match="replicates"):
        log_orthant(jax.random.key(0), cov, signs, n_qmc=64, replicates=1)


@pytest.mark.slow  # 37 s on two busy cores
def test_orthant_draws_are_a_weighted_sample_of_the_truncated_gaussian():
    """``orthant_draws_keys``: every draw lies in the orthant; the weights' mean is the orthant
    probability and the weighted first and second moments are those of rejection sampling, for a
    full-rank and a singular (rank 2 of 4) covariance. 200,000 weighted draws against 2,000,000
    rejection draws (about 40,000-100,000 kept): each compared within 5 combined standard errors
    (the weighted side's from its effective sample size), false-failure rate below 1e-5 per number."""
    from counting.analytic.orthant_batched import orthant_draws_keys
    rng = np.random.default_rng(0)
    sg = np.array([1.0, -1.0, 1.0, 1.0])
    for rank in (4, 2):
        f = rng.normal(size=(4, rank))
        k = f @ f.T / rank + 0.3
        out = orthant_draws_keys(jax.random.split(jax.random.key(1), 1), jnp.asarray(k[None], jnp.float32),
                                 jnp.asarray(sg[None], jnp.float32), 200_000)
        w = np.exp(np.asarray(out.log_w[0], np.float64))
        y = np.asarray(out.y[0], np.float64)
        assert (np.sign(y[w > 0]) == sg).all()
        ys = rng.multivariate_normal(np.zeros(4), k, size=2_000_000, method="eigh")
        kept = ys[(np.sign(ys) == sg).all(axis=1)]
        p = len(kept) / len(ys)
        assert abs(w.mean() - p) <= 5 * math.sqrt(w.var() / len(w) + p * (1 - p) / len(ys))
        ess = w.sum() ** 2 / (w * w).sum()
        wn = w / w.sum()
        for moment in (y, y * y):
            m = wn @ moment
            ref = kept[:, :] ** (1 if moment is y else 2)
            se = np.sqrt(((moment - m) ** 2 * wn[:, None]).sum(0) / ess + ref.var(0) / len(ref))
            assert (np.abs(m - ref.mean(0)) <= 5 * se).all(), (rank, m, ref.mean(0))
