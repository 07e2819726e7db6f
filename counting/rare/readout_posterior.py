"""The posterior over functions given a training set S: tempered SMC over the hidden layers, the
readout drawn from its truncated Gaussian.

The posterior of "count parameter configurations" is the prior conditioned on agreeing with the
target ``f*`` on the points ``S``: ``P_B(f | S) = V(f) / V(agrees with f* on S)`` for every ``f`` that
agrees on S. This module samples it, for one network, prior, target and S, in three steps:

1. **Hidden layers** ``h`` from ``pi(h) ∝ prior(h) L_S(h)``, ``L_S(h) = P(readout agrees on S | h)``
   (an orthant probability over the ``m`` points of S): the final population of the tempered SMC of
   :mod:`counting.rare.readout_smc` run on the target restricted to S (its ``points``), which
   targets ``prior(h) q_S(h)``, ``q_S`` the fixed-shift QMC surrogate of ``L_S``. With ``m = 0`` the
   population is a plain prior draw (``q_S = 1``) and no stage runs.
2. **The readout's outputs on S**: given ``h`` they are ``z_S ~ N(0, K_SS)`` restricted to the
   orthant of ``f*``'s signs on S. ``draws`` of them per network by separation of variables
   (:func:`counting.analytic.orthant_batched.orthant_draws_keys`: the GHK recursion with Botev's
   tilt, driven by independent uniforms), each with its weight ``w`` (the integrand: ``E[w] = L_S(h)``).
   These are *weighted* draws, not exact ones: with the networks' own weights ``1 / q_S(h)``
   (step 1 targets ``prior * q_S``), draw ``(i, j)`` of replicate ``r`` weighs
   ``w_ij / q_S(h_i)``, and the weighted draws are a self-normalised importance sample of the
   joint posterior of ``(h, z_S)``: ``prior(h) N(z_S; 0, K_SS(h)) 1{signs}``. The weights' mean is
   the same correction that makes :mod:`~counting.rare.readout_smc` unbiased, so
   ``Z_1 * mean_ij w_ij / q_S(h_i)`` estimates ``V(agrees on S)`` without bias.
3. **The outputs off S given those on S**: the readout ``v`` (``W`` weights and the bias, standard
   Gaussian after scaling: ``y = Phi v``, ``Phi = [sigma_w F / sqrt(W), sigma_b]``) drawn given
   ``Phi_S v = z_S`` by Matheron's rule, ``v = e + Phi_S^T K_SS^+ (z_S - Phi_S e)``, ``e ~ N(0, I)``
   (exact for any rank of ``K_SS``; ``K_SS^+`` the pseudo-inverse); the function off S is the sign of
   ``Phi_off v``, and on S it is ``f*`` by construction.

Each draw is a function (its truth table), its number of errors off S, and its weight. Besides
them a run gives, per replicate, ``V(f*)`` and ``V(f_T)`` (``f_T``: ``f*`` on S, its complement off
S) by the same importance weights, ``Z_1 * mean_i L_f(h_i) / q_S(h_i)`` with ``L_f`` the orthant over
the whole cube (:func:`counting.analytic.orthant_batched.log_orthant_keys` on ``Phi Phi^T``: a Rao-Blackwellised estimate,
far below what the draws' frequencies resolve), so ``P_B(f | S)`` is the ratio
``V(f) / V(agrees on S)`` of two estimates from the same population
(:func:`ratio_interval`).

Keys (``key`` a replicate's): the SMC's own (:mod:`counting.rare.readout_smc`), and under
``k0 = fold_in(key, 0)``: the readout draws of network ``i`` from ``fold_in(fold_in(k0, 4), i)``
and the whole-cube orthants from ``fold_in(fold_in(k0, 5 + t), i)`` (``t = 0`` the target, 1
the treacherous function). A record depends on its key and the batch's shape only.

Example:
    >>> import jax, math
    >>> from counting.spec import MLPSpec, ScaledPrior
    >>> from counting.spec.estimator import ReadoutSMCSettings
    >>> s = ReadoutSMCSettings(particles=64, steps=1, slice_shrinks=2, n_qmc=64)
    >>> rec = posterior_runs(jax.random.key(0)[None], MLPSpec(n_inputs=2, widths=()), ScaledPrior(), 0x8,
    ...                      (0, 1, 2, 3), s, draws=2)[0]              # S the whole cube: P_B(f* | S) = 1
    >>> round(rec.log_v_target - rec.log_v_set, 6), set(rec.errors), set(rec.functions)
    (0.0, {0}, {'0x8'})
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jaxtyping import Array, Float, Key
from scipy import stats
from scipy.special import logsumexp

from counting.analytic.orthant_batched import log_orthant_keys, network_keys, orthant_draws_keys
from counting.boolean.tables import pack, rows_to_hex, signs_of, treacherous
from counting.engine.priors import unflatten
from counting.models import forward, model_inputs, supporting
from counting.rare.coordinates import gaussian_to_params
from counting.rare.conditional import t_interval  # noqa: F401  (re-exported for the tables)
from counting.rare.readout_smc import READOUT_SMC, ReadoutProblem, ReadoutSMCState, readout_log_p_at, static_settings
from counting.spec.estimator import ReadoutSMCSettings
from counting.spec.model import ModelSpec
from counting.spec.prior import PriorSpec
from counting.tails import mean_summary

DRAWS, ORTHANTS = 4, 5  # fold_in indices under fold_in(key, 0), after readout_smc's 0, 2 and 3


class PosteriorRun(NamedTuple):
    """One replicate: the SMC's ``log_z`` (natural log of ``Z_1``), stages, last ``beta`` and mean
    acceptance; natural-log estimates of ``V(agrees on S)``, ``V(f*)`` and ``V(f_T)``, each with the
    Pareto k-hat of its importance terms; the draws' effective sample fraction; and the draws:
    truth tables (hex), self-normalised weights and errors off S (points where the draw differs from
    ``f*``). A run that did not reach ``beta = 1`` has ``-inf`` volumes and weights 0."""

    log_z: float
    stages: int
    beta: float
    acceptance: float
    log_v_set: float
    log_v_target: float
    log_v_treacherous: float
    khat_set: float
    khat_target: float
    khat_treacherous: float
    ess: float
    functions: tuple
    weights: tuple
    errors: tuple


def readout_basis(model: ModelSpec, prior: PriorSpec, g: Float[Array, "B P"]) -> Float[Array, "B N D"]:
    """``Phi``: the outputs on the cube are ``Phi v``, ``v ~ N(0, I)`` the readout (its ``W`` weights
    then the bias), so ``Phi Phi^T`` is :func:`counting.estimators.readout.readout_covariance`."""
    arch = supporting(model, "readout_features", "a linear readout of named features to draw")
    x = jnp.asarray(model_inputs(model))
    fwd = forward(model, unflatten(model, gaussian_to_params(g, model, prior)), x)
    feats = arch.readout_features(model, fwd, x)  # [B, W, N]
    w = feats.shape[1]
    scaled = jnp.swapaxes(feats, 1, 2) * (prior.sigma_w / math.sqrt(w))
    return jnp.concatenate([scaled, jnp.full(scaled.shape[:2] + (1,), prior.sigma_b, scaled.dtype)], axis=2)


def conditional_outputs(key: Key[Array, ""], phi: Float[Array, "N D"], on: np.ndarray, z_s: Float[Array, "J m"]
                        ) -> Float[Array, "J N"]:
    """Outputs on the whole cube given ``z_s`` on the points ``on`` (Matheron's rule, module docstring)."""
    e = jax.random.normal(key, (z_s.shape[0], phi.shape[1]), phi.dtype)
    free = e @ phi.T  # [J, N]: an unconditioned draw
    if len(on) == 0:
        return free
    ps = phi[on]
    k_ss = ps @ ps.T
    gain = phi @ ps.T @ jnp.linalg.pinv(k_ss, hermitian=True)  # [N, m]
    return free + (z_s - free[:, on]) @ gain.T


@functools.lru_cache(maxsize=16)
def compiled_draws(model: ModelSpec, prior: PriorSpec, m: int, draws: int, n_qmc: int, shifts: int, tilt: bool):
    """The jitted map from one replicate's key, population ``(g [N, P], log q_S [N])``, the points
    of S and off S (``on [m]``, ``off [N - m]``: traced, so one compilation serves every S of a size)
    and the signs of the target and the treacherous function on the cube (``[2, N]``) to its draws
    (log weights, packed truth tables, errors off S) and the whole-cube ``log L_f - log q_S`` of
    both functions."""

    def run(key, g, log_q, on, off, signs):
        k0 = jax.random.fold_in(key, 0)
        phi = readout_basis(model, prior, g)  # [N_h, N, D]
        nets = g.shape[0]
        keys = network_keys(jax.random.fold_in(k0, DRAWS), nets)
        bits = signs[0] > 0
        if m:
            ps = phi[:, on]
            ghk = orthant_draws_keys(jax.vmap(lambda k: jax.random.fold_in(k, 0))(keys),
                                     jnp.einsum("bpd,bqd->bpq", ps, ps),
                                     jnp.broadcast_to(signs[0][on], (nets, m)), draws, tilt)
            log_w, z_s = ghk.log_w, ghk.y
        else:
            log_w, z_s = jnp.zeros((nets, draws)), jnp.zeros((nets, draws, 0))
        y = jax.vmap(lambda k, p, z: conditional_outputs(jax.random.fold_in(k, 1), p, on, z))(keys, phi, z_s)
        out = (y > 0).at[:, :, on].set(bits[on])  # f* on S by construction
        errors = jnp.sum(out[:, :, off] != bits[off], axis=-1)
        ok = jnp.isfinite(log_q)
        log_w = jnp.where(ok[:, None], log_w - log_q[:, None], -jnp.inf)
        cov = jnp.einsum("bpd,bqd->bpq", phi, phi)
        lf = []
        for t in range(2):
            o = log_orthant_keys(network_keys(jax.random.fold_in(k0, ORTHANTS + t), nets), cov,
                                 jnp.broadcast_to(signs[t], cov.shape[:2]), n_qmc, shifts, tilt)
            lp = jnp.where(jnp.isnan(o.log_p), -jnp.inf, o.log_p)
            lf.append(jnp.where(ok, lp - log_q, -jnp.inf))
        return log_w, pack(out), errors, lf[0], lf[1]

    return jax.jit(jax.vmap(run, in_axes=(0, 0, 0, None, None, None)))


def weighted_ess(log_w: np.ndarray) -> float:
    """Effective sample fraction of self-normalised weights ``exp(log_w)`` (0 if all are 0)."""
    if not np.isfinite(log_w).any():
        return 0.0
    lw = log_w - np.max(log_w)
    w = np.exp(lw)
    return float(w.sum() ** 2 / (w * w).sum() / w.size)


def log_mean(log_terms: np.ndarray) -> float:
    """``log mean exp`` of the terms (``-inf`` if all are ``-inf``)."""
    if not np.isfinite(log_terms).any():
        return -math.inf
    return float(logsumexp(log_terms) - math.log(log_terms.size))


@functools.lru_cache(maxsize=16)
def compiled_population(model: ModelSpec, prior: PriorSpec, m: int, settings: ReadoutSMCSettings):
    """The jitted tempered SMC of every replicate of a batch to ``b = 1`` (or ``max_stages``) on "agrees
    with the signs ``signs_on [m]`` on the points ``on [m]``": :data:`counting.rare.readout_smc.READOUT_SMC`'s
    init and step in a ``lax.while_loop``, as :func:`counting.rare.drive.on_device` runs them, but
    with the points and signs traced (the drivers take the problem as a static argument, which
    would compile the run again for every S)."""
    from counting.engine.priors import scale_vector

    n_params = int(scale_vector(model, prior).shape[0])
    log_p_at = readout_log_p_at(model, prior, settings.n_qmc, settings.shifts, settings.tilt)

    def run(keys, limit, on, signs_on):
        problem = ReadoutProblem(lambda k, g: log_p_at(k, g, on, signs_on), n_params, m)

        def one(k):
            return lax.while_loop(lambda st: READOUT_SMC.active(st, limit),
                                  lambda st: READOUT_SMC.step(k, st, limit, problem, settings),
                                  READOUT_SMC.init(k, problem, settings))

        return jax.vmap(one)(keys)

    return jax.jit(run)


def population(keys: Key[Array, "R"], model: ModelSpec, prior: PriorSpec, truth_table: int,
               points: tuple[int, ...], settings: ReadoutSMCSettings) -> ReadoutSMCState:
    """Each replicate's final population: the tempered SMC on "agrees on S", or (``m = 0``) the prior."""
    n = model.n_inputs
    if points:
        run = compiled_population(model, prior, len(points), static_settings(settings))
        on = jnp.asarray(np.asarray(points, np.int32))
        return run(keys, jnp.int32(settings.max_stages), on, jnp.asarray(signs_of(truth_table, n)[list(points)]))
    from counting.engine.priors import scale_vector

    p = int(scale_vector(model, prior).shape[0])
    g = jax.vmap(lambda k: jax.random.normal(jax.random.fold_in(k, 0), (settings.particles, p)))(keys)
    r = g.shape[0]
    zero = jnp.zeros(r, jnp.float32)
    return ReadoutSMCState(g, jnp.zeros(g.shape[:2], jnp.float32), zero, zero + 1.0, jnp.ones(r, jnp.int32),
                           jnp.ones(r, bool), zero)


def posterior_runs(keys: Key[Array, "R"], model: ModelSpec, prior: PriorSpec, truth_table: int,
                   points: Sequence[int], settings: ReadoutSMCSettings, draws: int = 4) -> list[PosteriorRun]:
    """One :class:`PosteriorRun` per key: the posterior given agreement with ``truth_table`` on
    ``points`` (module docstring), ``settings.particles`` networks of ``draws`` readouts each."""
    points = tuple(sorted(int(p) for p in points))
    n = model.n_inputs
    st = population(keys, model, prior, truth_table, points, settings)
    fn = compiled_draws(model, prior, len(points), int(draws), settings.n_qmc, settings.shifts, settings.tilt)
    log_q = st.s if points else jnp.zeros(st.s.shape, st.s.dtype)
    on = np.asarray(points, np.int32)
    off = np.setdiff1d(np.arange(2**n), on).astype(np.int32)
    signs = np.stack([signs_of(truth_table, n), signs_of(treacherous(truth_table, points, n), n)])
    log_w, packed, errors, lf, lt = (np.asarray(a) for a in fn(keys, st.g, log_q, jnp.asarray(on), jnp.asarray(off),
                                                               jnp.asarray(signs)))
    done = np.asarray(st.done) & (np.asarray(st.beta) >= 1.0)
    stages, beta = np.asarray(st.stage) - 1, np.asarray(st.beta, np.float64)
    acc, log_z = np.asarray(st.acceptance, np.float64), np.asarray(st.log_z, np.float64)
    out = []
    for r in range(len(done)):
        lw = log_w[r].astype(np.float64).ravel() if done[r] else np.full(log_w[r].size, -np.inf)
        terms = [lw, lf[r].astype(np.float64), lt[r].astype(np.float64)]
        logs = [float(log_z[r]) + log_mean(t) if done[r] else -math.inf for t in terms]
        if len(points) == 2**n:  # S the whole cube: f* and f_T are "agrees on S" itself, exactly
            logs = [logs[0]] * 3
        khats = [mean_summary(t).khat if np.isfinite(t).any() else math.nan for t in terms]
        w = np.exp(lw - lw.max()) if np.isfinite(lw).any() else np.zeros_like(lw)
        w = w / w.sum() if w.sum() > 0 else w
        tables = rows_to_hex(packed[r].reshape(-1, packed.shape[-1]), n)
        out.append(PosteriorRun(float(log_z[r]), int(stages[r]), float(beta[r]),
                                float(acc[r] / max(int(stages[r]), 1)), *logs, *khats, weighted_ess(lw),
                                tuple(tables), tuple(float(x) for x in w), tuple(int(e) for e in errors[r].ravel())))
    return out


# ----------------------------------------------------------------------------- summaries over replicates
def ratio_interval(log_num: Sequence[float], log_den: Sequence[float]) -> tuple[float, float, float]:
    """``sum num / sum den`` over replicates (natural-log inputs) with a 95% interval by the delta
    method on the replicates (Student-t, ``R - 1`` degrees of freedom), in log10; a lower end at or
    below 0 is ``-inf``. The ratio of the replicates' means is consistent, not unbiased."""
    a, b = np.asarray(log_num, np.float64), np.asarray(log_den, np.float64)
    if not np.isfinite(b).any():
        return math.nan, math.nan, math.nan
    if not np.isfinite(a).any():
        return -math.inf, -math.inf, -math.inf
    shift_a, shift_b = a.max(), b.max()
    x, y = np.exp(a - shift_a), np.exp(b - shift_b)
    r = x.mean() / y.mean()  # times exp(shift_a - shift_b)
    est = math.log10(r) + (shift_a - shift_b) / math.log(10)
    if len(a) < 2:
        return est, math.nan, math.nan
    resid = (x - r * y) / y.mean()
    half = float(stats.t.ppf(0.975, len(a) - 1) * resid.std(ddof=1) / math.sqrt(len(a)))
    lo = math.log10(r - half) + (shift_a - shift_b) / math.log(10) if r - half > 0 else -math.inf
    return est, lo, math.log10(r + half) + (shift_a - shift_b) / math.log(10)


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """The smallest value whose weighted cumulative share reaches ``q`` (the lower quantile)."""
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order])
    if cum[-1] <= 0:
        return math.nan
    return float(values[order][min(np.searchsorted(cum / cum[-1], q - 1e-12), len(order) - 1)])


def function_shares(run: PosteriorRun) -> dict[str, float]:
    """Each drawn function's weighted share of one replicate's posterior draws."""
    shares: dict[str, float] = {}
    for f, w in zip(run.functions, run.weights):
        shares[f] = shares.get(f, 0.0) + w
    return shares
