"""Tempered SMC over the hidden layers, the Gaussian readout integrated out.

Given a network's hidden layers ``h`` the readout's outputs are Gaussian, so ``L(h) = P(f | h)`` is
an orthant probability (:mod:`counting.estimators.readout`), and the volume is ``V(f) = E[L(h)]``
under the prior of the hidden layers. Where ``L`` spans many decades plain conditional Monte Carlo
is carried by a few networks (its Pareto k-hat says so); this method climbs to them. With ``g``
the Gaussian coordinates of the parameters (:func:`counting.rare.coordinates.gaussian_to_params`;
the readout's own coordinates are carried along but ``L`` does not depend on them), it tempers

    ``pi_b(g) ∝ N(g; 0, I) q(g)^b``,   ``b`` from 0 to 1,   ``Z_b = E[q^b]``,

in stages that keep an effective sample size of ``ess_target`` times the networks with ``q > 0``
(:func:`counting.rare.smc.next_beta` with the energy ``-log q >= 0``; a network with ``q = 0``, an
empty orthant, weighs 0 at every ``b > 0`` and is resampled away at the first stage), resampling and moving the population with elliptical slice moves
(:func:`counting.rare.kernels.elliptical_slice`: exact for a Gaussian prior times a likelihood,
no gradient needed, which ``q`` does not offer smoothly), multiplying the mean incremental weights
into ``Z`` (Del Moral, Doucet & Jasra 2006).

**The orthant's noise: a deterministic surrogate, then an unbiased correction.** ``L(h)`` is only
known through randomised QMC. During the tempering ``q(g)`` is the QMC estimate with one fixed set
of shifts (the same key for every network and stage), a deterministic function of ``g``, so every
stage targets a fixed distribution and the moves are exact Metropolis-type moves for it (a
pseudo-marginal treatment would need an unbiased estimate of ``q^b`` for ``b < 1``, which a QMC
estimate of ``q`` is not). At ``b = 1`` the population approximates ``pi_1 ∝ N q``, and the final
correction weighs each network by ``p_hat(g) / q(g)``, ``p_hat`` the QMC estimate with fresh shifts
(unbiased for ``L``):

    ``V_hat = Z_hat_1 * mean_i p_hat(g_i) / q(g_i)``.

Since ``Z_hat_1`` is unbiased for ``E[q]`` and the correction is conditionally unbiased for
``E_{pi_1}[L / q]``, ``V_hat`` is unbiased for ``E[L] = V(f)`` whatever the surrogate's error (as
long as ``q > 0`` wherever ``L > 0``: a network with ``q = 0`` is never reached; the QMC estimate
is 0 only where the orthant is empty or its mass underflows float32). Independent replicates give
the interval (:func:`counting.rare.replicates.combine_replicates`); each run also reports the
correction's log10 and its effective sample fraction (near 0 and 1 when the surrogate is good).
A run that stops at ``max_stages`` before ``b = 1`` estimates ``-inf``, and its ``Z_b`` bounds
the volume from above (``q^b >= q`` for ``q <= 1``), as far as its moves mixed.

The method is :func:`init`, :func:`step` and :func:`active` (:class:`counting.rare.drive.Method`)
then :func:`correct`; key use: the particles start from ``fold_in(key, 0)``, stage ``k`` resamples
from ``fold_in(fold_in(key, k), 0)`` and moves from ``fold_in(fold_in(key, k), 1)``, the
correction's shifts are network ``i``'s ``fold_in(fold_in(fold_in(key, 0), 2), i)``, and the
surrogate's fixed shifts come from ``fold_in(fold_in(key, 0), 3)`` (``key`` the replicate's).

Example:
    >>> import jax, math
    >>> from counting.spec import MLPSpec, ScaledPrior
    >>> from counting.spec.estimator import ReadoutSMCSettings
    >>> settings = ReadoutSMCSettings(particles=64, steps=2, slice_shrinks=3)
    >>> run = readout_smc_run(jax.random.key(0), MLPSpec(n_inputs=2, widths=()), ScaledPrior(), 0x8, settings)
    >>> round(run.log_p / math.log(10), 3), run.stages      # a perceptron: no hidden layer, one orthant
    (-1.38, 1)
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from functools import partial
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jaxtyping import Array, Bool, Float, Int, Key

from counting.analytic.orthant_batched import log_orthant_keys, network_keys
from counting.boolean.tables import signs_of
from counting.engine.priors import unflatten
from counting.rare.coordinates import check_continuous, gaussian_to_params
from counting.rare.drive import Method, on_device, on_host
from counting.rare.kernels import Particles, Tempered, elliptical_slice
from counting.rare.smc import next_beta
from counting.models import forward, model_inputs, supporting
from counting.spec.estimator import ReadoutSMCSettings
from counting.spec.model import ModelSpec
from counting.spec.prior import PriorSpec

SURROGATE, CORRECTION = 3, 2  # fold_in indices under fold_in(key, 0), next to the particles' draw (0)


@dataclass(frozen=True)
class ReadoutProblem:
    """``log L`` of a target seen from Gaussian coordinates ``g [B, P]`` (both functions jitted):
    ``log_p(keys [B], g)`` the QMC estimate with network ``b``'s shifts from ``keys[b]``; ``evaluate(g,
    key)`` (the surrogate ``log q`` with ``key``'s shifts for every network, and whether it is
    finite) in the shape :mod:`counting.rare.kernels` expects once ``key`` is bound."""

    log_p: Callable
    n_params: int
    points: int


def readout_log_p(model: ModelSpec, prior: PriorSpec, truth_table: int, points: tuple[int, ...] | None,
                  n_qmc: int, shifts: int, tilt: bool) -> Callable:
    """``log_p(keys, g)``: each network's ``log P(readout agrees with truth_table on points | hidden)``
    by randomised QMC (:func:`counting.analytic.orthant_batched.log_orthant_keys`), a NaN read as
    ``-inf`` (a network the orthant computation fails on is never reached)."""
    n = model.n_inputs
    sel = None if points is None else np.asarray(points)
    signs = jnp.asarray(signs_of(truth_table, n)[np.arange(2**n) if sel is None else sel].astype(np.float32))
    log_p_at = readout_log_p_at(model, prior, n_qmc, shifts, tilt)
    return lambda keys, g: log_p_at(keys, g, sel, signs)


def readout_log_p_at(model: ModelSpec, prior: PriorSpec, n_qmc: int, shifts: int, tilt: bool) -> Callable:
    """``log_p(keys, g, sel, signs)``: :func:`readout_log_p` with the points (``sel``: indices, or
    ``None`` for the whole cube) and their signs as arguments, which may be traced (one compiled
    function then serves every set of points of a size)."""
    from counting.estimators.readout import readout_covariance  # the covariance lives with the estimator

    arch = supporting(model, "readout_features", "a linear readout of named features to integrate out")
    x = jnp.asarray(model_inputs(model))

    def log_p(keys: Key[Array, "B"], g: Float[Array, "B P"], sel, signs: Float[Array, "m"]) -> Float[Array, "B"]:
        fwd = forward(model, unflatten(model, gaussian_to_params(g, model, prior)), x)
        cov = readout_covariance(arch.readout_features(model, fwd, x), prior)
        if sel is not None:
            cov = cov[:, sel][:, :, sel]
        out = log_orthant_keys(keys, cov, jnp.broadcast_to(signs, cov.shape[:2]), n_qmc, shifts, tilt)
        return jnp.where(jnp.isnan(out.log_p), -jnp.inf, out.log_p)

    return log_p


@functools.lru_cache(maxsize=16)
def readout_problem(model: ModelSpec, prior: PriorSpec, truth_table: int, points: tuple[int, ...] | None,
                    n_qmc: int, shifts: int, tilt: bool) -> ReadoutProblem:
    """The :class:`ReadoutProblem` of one target, built (and compiled) once per argument tuple."""
    from counting.engine.priors import scale_vector

    check_continuous(prior)
    log_p = readout_log_p(model, prior, truth_table, points, n_qmc, shifts, tilt)
    return ReadoutProblem(jax.jit(log_p), int(scale_vector(model, prior).shape[0]),
                          2**model.n_inputs if points is None else len(points))


class Surrogate(NamedTuple):
    """The moves' view of a :class:`ReadoutProblem` (what :func:`~counting.rare.kernels.elliptical_slice`
    calls ``problem``): ``evaluate(g) -> (log q, finite)`` with the fixed shifts of ``key_data``."""

    problem: ReadoutProblem
    key_data: Array
    impl: object

    def evaluate(self, g: Float[Array, "B P"]) -> tuple[Float[Array, "B"], Bool[Array, "B"]]:
        data = jnp.broadcast_to(self.key_data, (g.shape[0], *self.key_data.shape))
        lq = self.problem.log_p(jax.random.wrap_key_data(data, impl=self.impl), g)
        return lq, jnp.isfinite(lq)


class ReadoutSMCState(NamedTuple):
    """One run between stages: the population (coordinates, ``log q``), the running ``log Z_b``,
    ``b``, the next stage's number, whether it has reached ``b = 1``, and the summed mean
    acceptance of its moves. The run's key stays out of it."""

    g: Float[Array, "N P"]
    s: Float[Array, "N"]
    log_z: Float[Array, ""]
    beta: Float[Array, ""]
    stage: Int[Array, ""]
    done: Bool[Array, ""]
    acceptance: Float[Array, ""]


class ReadoutSMCRun(NamedTuple):
    """One run: natural log of the estimate (``-inf``: ``b = 1`` not reached, or ``q = 0`` for every
    network), orthant evaluations, stages, the last ``log Z_b`` and ``b``, the final correction's
    log10 (``log10 mean p_hat / q``) and effective sample fraction, and the moves' mean acceptance."""

    log_p: float
    evaluations: int
    stages: int
    log_z: float
    beta: float
    log10_correction: float
    correction_ess: float
    acceptance: float


def surrogate(key: Key[Array, ""], problem: ReadoutProblem) -> Surrogate:
    """The run of ``key``'s surrogate: its fixed shifts from ``fold_in(fold_in(key, 0), 3)``."""
    k = jax.random.fold_in(jax.random.fold_in(key, 0), SURROGATE)
    return Surrogate(problem, jax.random.key_data(k), jax.random.key_impl(k))


def init(key: Key[Array, ""], problem: ReadoutProblem, settings: ReadoutSMCSettings) -> ReadoutSMCState:
    """The prior population from ``fold_in(key, 0)`` with its ``log q``, before stage 1."""
    g = jax.random.normal(jax.random.fold_in(key, 0), (settings.particles, problem.n_params))
    s, _ = surrogate(key, problem).evaluate(g)
    f32 = partial(jnp.asarray, dtype=jnp.float32)
    return ReadoutSMCState(g, s, f32(0.0), f32(0.0), jnp.int32(1), ~jnp.isfinite(s).any(), f32(0.0))


def stage_moves(key: Key[Array, ""], p: Particles, beta: Float[Array, ""], sur: Surrogate, steps: int,
                shrinks: int) -> tuple[Particles, Float[Array, ""]]:
    """``steps`` elliptical slice moves leaving ``pi_beta`` invariant; the mean acceptance."""
    target = Tempered(beta)

    def body(carry, k):
        p, acc = carry
        p, a = elliptical_slice(jax.random.wrap_key_data(k, impl=sur.impl), p, target, sur, shrinks)
        return (p, acc + a), None

    (p, acc), _ = lax.scan(body, (p, 0.0), jax.random.key_data(jax.random.split(key, steps)))
    return p, acc / steps


def step(key: Key[Array, ""], st: ReadoutSMCState, max_stages: Int[Array, ""], problem: ReadoutProblem,
         settings: ReadoutSMCSettings) -> ReadoutSMCState:
    """One stage: the next ``b`` (at most 1), the ``log Z`` update, resampling and moves; the run is
    done once ``b = 1``. An inactive state is returned unchanged."""
    energy = jnp.where(jnp.isnan(st.s), jnp.inf, -st.s)
    # a network with q = 0 weighs 0 at every b > 0: the effective sample size is asked of the others
    finite = jnp.mean(jnp.isfinite(energy).astype(jnp.float32))
    new = jnp.minimum(next_beta(energy, st.beta, settings.ess_target * finite), 1.0)
    lw = -(new - st.beta) * energy
    m = jnp.max(lw)
    w = jnp.exp(lw - m)
    log_z = st.log_z + m + jnp.log(jnp.mean(w))
    k = jax.random.fold_in(key, st.stage)
    n = st.g.shape[0]
    idx = jax.random.choice(jax.random.fold_in(k, 0), n, (n,), p=w / jnp.sum(w))
    p, acc = stage_moves(jax.random.fold_in(k, 1), Particles(st.g[idx], st.s[idx]), new, surrogate(key, problem),
                         settings.steps, settings.slice_shrinks)
    moved = ReadoutSMCState(p.g, p.score, log_z, new, st.stage + 1, new >= 1.0, st.acceptance + acc)
    return jax.tree.map(partial(jnp.where, active(st, max_stages)), moved, st)


def active(st: ReadoutSMCState, max_stages: Int[Array, ""]) -> Bool[Array, ""]:
    """Whether the run goes on: below ``b = 1`` and at most ``max_stages`` stages made."""
    return ~st.done & (st.stage <= max_stages)


READOUT_SMC = Method(init, step, active)


class Correction(NamedTuple):
    """The final correction of each run: ``log mean p_hat / q`` and its effective sample fraction."""

    log_ratio: Float[Array, "R"]
    ess: Float[Array, "R"]


@partial(jax.jit, static_argnames=("problem",))
def correct(keys: Key[Array, "R"], st: ReadoutSMCState, *, problem: ReadoutProblem) -> Correction:
    """Each run's correction from fresh shifts (network ``i``: ``fold_in(fold_in(fold_in(key, 0), 2), i)``)."""

    def one(key, g, s):
        k = jax.random.fold_in(jax.random.fold_in(key, 0), CORRECTION)
        lp = problem.log_p(network_keys(k, g.shape[0]), g)
        lr = jnp.where(jnp.isfinite(s), lp - s, -jnp.inf)
        m = jnp.max(lr)
        w = jnp.exp(lr - jnp.where(jnp.isfinite(m), m, 0.0))
        ok = jnp.isfinite(m)
        return (jnp.where(ok, m + jnp.log(jnp.mean(w)), -jnp.inf),
                jnp.where(ok, jnp.sum(w) ** 2 / jnp.maximum(jnp.sum(w * w), 1e-30) / g.shape[0], 0.0))

    return Correction(*jax.vmap(one)(keys, st.g, st.s))


def static_settings(settings: ReadoutSMCSettings) -> ReadoutSMCSettings:
    """The settings the compiled stage depends on: seed, replicates and max_stages left out."""
    return dataclasses.replace(settings, seed=0, replicates=2, batch_replicates=0, max_stages=1)


def records(st: ReadoutSMCState, c: Correction, settings: ReadoutSMCSettings) -> list[ReadoutSMCRun]:
    """Each run's :class:`ReadoutSMCRun`: evaluations count orthant probabilities, ``particles`` at the
    start, ``particles * steps * slice_shrinks`` per stage (the slice loop evaluates every point), and
    ``particles`` for the correction of a run that reached ``b = 1``."""
    done, stage = np.asarray(st.done), np.asarray(st.stage)
    log_z, beta, acc = (np.asarray(a, np.float64) for a in (st.log_z, st.beta, st.acceptance))
    log_ratio, ess = np.asarray(c.log_ratio, np.float64), np.asarray(c.ess, np.float64)
    n = settings.particles
    out = []
    for r in range(len(done)):
        stages = int(stage[r]) - 1
        reached = bool(done[r]) and beta[r] >= 1.0
        log_p = float(log_z[r] + log_ratio[r]) if reached else -math.inf
        out.append(ReadoutSMCRun(log_p, n * (1 + settings.steps * settings.slice_shrinks * stages + int(reached)),
                                 stages, float(log_z[r]), float(beta[r]),
                                 float(log_ratio[r] / math.log(10)) if reached else math.nan,
                                 float(ess[r]) if reached else math.nan, float(acc[r] / max(stages, 1))))
    return out


def readout_smc_runs(keys: Key[Array, "R"], model: ModelSpec, prior: PriorSpec, truth_table: int,
                     settings: ReadoutSMCSettings, points: tuple[int, ...] | None = None, *,
                     device: bool = True) -> list[ReadoutSMCRun]:
    """The runs of ``keys`` to their end (every stage on the device, or stepped from the host), then
    each one's correction."""
    problem = readout_problem(model, prior, int(truth_table), points, settings.n_qmc, settings.shifts,
                              settings.tilt)
    drive = on_device if device else on_host
    st = drive(READOUT_SMC, keys, settings.max_stages, problem, static_settings(settings))
    return records(st, correct(keys, st, problem=problem), settings)


def readout_smc_run(key: Key[Array, ""], model: ModelSpec, prior: PriorSpec, truth_table: int,
                    settings: ReadoutSMCSettings, points: tuple[int, ...] | None = None) -> ReadoutSMCRun:
    """One run, its stages stepped from the host (a batch of one)."""
    return readout_smc_runs(key[None], model, prior, truth_table, settings, points, device=False)[0]
