"""Subset simulation (multilevel splitting) under the prior, in Gaussian coordinates.

With a condition's continuous ``score`` (0 where it holds, negative elsewhere) the volume factors as

    P(holds) = P(S >= L_1) P(S >= L_2 | S >= L_1) ... P(holds | S >= L_K),

with levels ``L_k`` set adaptively so each factor is about ``p0``. Each level keeps the particles
above its threshold and refills the population by ``steps`` moves that leave the prior restricted
to ``{S >= L_k}`` invariant (:class:`~counting.rare.kernels.Level`): a ``pcn`` move (its step
adapted towards 30% acceptance between levels) or an ``elliptical_slice`` move, each followed by the
layer-rescaling moves if ``scale_moves``. The estimate of one run is the product of the level
fractions. Splitting is biased low when moves mix poorly: a replicate spread far above the theory
is the warning sign.

The method is :func:`init`, :func:`step` and :func:`active` on a :class:`SubsetState`
(``SUBSET``), all in ``jax.numpy`` (the threshold is the ``n_keep``-th largest score; the
survivors, in index order, are cycled to refill the population; float32 ``log p``);
:mod:`counting.rare.drive` runs it from the host (:func:`subset_run`, :func:`subset_sample`: one
replicate, a batch of one) or with every level on the device (:func:`subset_runs`: a batch of
replicates), with the same numbers for the same batch of keys.

Key use: the particles start from ``fold_in(key, 0)``, level ``i`` moves from ``fold_in(key, i + 1)``
and its move ``j`` from ``split`` of that key; a move's key ``k`` drives ``pcn`` through
``split(k)[0]`` and ``elliptical_slice`` through ``k``'s first three splits, the rescaling through the next split.

Example:
    >>> import jax, math
    >>> from counting.spec import MLPSpec, ScaledPrior, SubsetSettings
    >>> from counting.mechanisms.predicates import computes
    >>> from counting.rare.coordinates import GaussianProblem
    >>> problem = GaussianProblem.of(MLPSpec(n_inputs=2, widths=()), ScaledPrior(), computes(0x8, 2))
    >>> run = subset_run(jax.random.key(0), problem, SubsetSettings(particles=400, steps=4))
    >>> -1.8 < run.log_p / math.log(10) < -1.0, run.levels         # exact: log10(1/24) = -1.380
    (True, 1)
    >>> from counting.rare.replicates import replicate_keys
    >>> runs = subset_runs(replicate_keys(0, 0, 3), problem, SubsetSettings(particles=400, steps=4))
    >>> subset_runs(replicate_keys(0, 1, 3), problem, SubsetSettings(particles=400, steps=4))[0] == runs[1]
    True
"""

from __future__ import annotations

import dataclasses
import math
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jaxtyping import Array, Bool, Float, Int, Key

from counting.rare.coordinates import GaussianProblem, prior_population
from counting.rare.drive import Method, on_device, on_host
from counting.rare.kernels import Level, Particles, elliptical_slice, pcn, rescaling
from counting.spec.errors import choice
from counting.spec.estimator import SubsetSettings

PCN_TARGET_ACCEPT = 0.3


class SubsetRun(NamedTuple):
    """One run: natural log of the estimate (``-inf`` if no level reached the condition), network
    evaluations, and levels."""

    log_p: float
    evaluations: int
    levels: int


def _pcn_move(k: Key[Array, ""], p: Particles, target: Level, step: float, problem: GaussianProblem, shrinks: int):
    """A ``pcn`` move from ``split(k)[0]``; the rescaling key is ``split(k)[1]``."""
    k_move, k_scale = jax.random.split(k)
    p, acc = pcn(k_move, p, target, step, problem)
    return p, acc, k_scale


def _slice_move(k: Key[Array, ""], p: Particles, target: Level, step: float, problem: GaussianProblem, shrinks: int):
    """An ``elliptical_slice`` move from ``k`` (its first three splits); the rescaling key is the fourth split."""
    p, acc = elliptical_slice(k, p, target, problem, shrinks)
    return p, acc, jax.random.fold_in(k, 3)


MOVES = {"pcn": _pcn_move, "elliptical_slice": _slice_move}  # each returns (particles, acceptance, rescaling key)


@partial(jax.jit, static_argnames=("problem", "kernel", "n_steps", "shrinks", "rescale"))
def level_moves(key: Key[Array, ""], p: Particles, level: float, step: float, *, problem: GaussianProblem,
                kernel: str, n_steps: int, shrinks: int, rescale: bool) -> tuple[Particles, Float[Array, ""]]:
    """``n_steps`` moves leaving the prior restricted to ``{score >= level}`` invariant, and their mean
    acceptance (``step``: the ``pcn`` step; ``shrinks``: the elliptical slice's bracket)."""
    target, move, impl = Level(level), MOVES[kernel], jax.random.key_impl(key)

    def body(carry, k):
        p, acc = carry
        p, a, k_scale = move(jax.random.wrap_key_data(k, impl=impl), p, target, step, problem, shrinks)
        if rescale:
            p, _ = rescaling(k_scale, p, target, problem)
        return (p, acc + a), None

    # over the keys' raw words, as counting.rare.smc.stage_moves (the key-reuse checker under vmap)
    (p, acc), _ = lax.scan(body, (p, 0.0), jax.random.key_data(jax.random.split(key, n_steps)))
    return p, acc / n_steps


def evaluations_per_level(settings: SubsetSettings, n_groups: int) -> int:
    """Network evaluations of one level's moves and the final check of its particles."""
    per_move = (1 if settings.kernel == "pcn" else settings.slice_shrinks) + (n_groups if settings.scale_moves else 0)
    return settings.particles * (settings.steps * per_move + 1)


class SubsetState(NamedTuple):
    """One run between levels: its population (coordinates, scores, which hold), ``log p`` so far,
    the ``pcn`` step, the levels made, whether it has stopped and its estimate (``-inf`` until it
    stops)."""

    g: Float[Array, "N P"]
    s: Float[Array, "N"]
    holds: Bool[Array, "N"]
    log_p: Float[Array, ""]
    step: Float[Array, ""]
    level: Int[Array, ""]
    done: Bool[Array, ""]
    estimate: Float[Array, ""]


def n_keep(settings: SubsetSettings) -> int:
    """Particles kept at each level: ``round(p0 * particles)``, at least one."""
    return max(1, int(round(settings.p0 * settings.particles)))


def survivors(s: Float[Array, "N"], keep: int) -> tuple[Float[Array, ""], Int[Array, "N"], Int[Array, ""]]:
    """The level (the ``keep``-th largest score), the indices refilling the population (those at or
    above it, in index order, cycled) and how many are at or above it.

    >>> level, idx, count = survivors(jnp.array([0.25, -1.0, 0.5, 0.125]), 2)
    >>> float(level), idx.tolist(), int(count)
    (0.25, [0, 2, 0, 2], 2)
    """
    n = s.shape[0]
    level = jnp.sort(s)[n - keep]
    above = s >= level
    count = jnp.sum(above)
    order = jnp.nonzero(above, size=n, fill_value=0)[0]
    return level, order[jnp.arange(n) % count], count


def init(key: Key[Array, ""], problem: GaussianProblem, settings: SubsetSettings) -> SubsetState:
    """The prior population from ``fold_in(key, 0)``, before the first level."""
    g, s, holds = prior_population(key, problem, settings.particles)
    f32 = partial(jnp.asarray, dtype=jnp.float32)
    return SubsetState(g, s, holds, f32(0.0), f32(0.5), jnp.int32(0), jnp.bool_(False), f32(-jnp.inf))


def active(c: SubsetState, max_levels: Int[Array, ""]) -> Bool[Array, ""]:
    """Whether the run goes on: not stopped, fewer than ``max_levels`` levels made."""
    return ~c.done & (c.level < max_levels)


def step(key: Key[Array, ""], c: SubsetState, max_levels: Int[Array, ""], problem: GaussianProblem,
         settings: SubsetSettings) -> SubsetState:
    """One level of the run of ``key``: it stops (``done``, ``estimate = log p + log(fraction
    holding)``) once ``n_keep`` particles hold, else keeps those at or above the next threshold and
    refills the population by moves; an inactive state is returned unchanged."""
    n, keep = settings.particles, n_keep(settings)
    n_hold = jnp.sum(c.holds)
    level, idx, count = survivors(c.s, keep)
    p, acc = level_moves(jax.random.fold_in(key, c.level + 1), Particles(c.g[idx], c.s[idx]), level, c.step,
                         problem=problem, kernel=settings.kernel, n_steps=settings.steps,
                         shrinks=settings.slice_shrinks, rescale=settings.scale_moves)
    new_step = jnp.clip(c.step * jnp.exp(acc - PCN_TARGET_ACCEPT), 0.01, 1.0) if settings.kernel == "pcn" else c.step
    _, held = problem.evaluate(p.g)
    moved = SubsetState(p.g, p.score, held, c.log_p + jnp.log(count / n), new_step, c.level + 1, c.done, c.estimate)
    stopped = c._replace(done=True, estimate=c.log_p + jnp.log(n_hold / n))
    out = jax.tree.map(partial(jnp.where, n_hold >= keep), stopped, moved)
    return jax.tree.map(partial(jnp.where, active(c, max_levels)), out, c)


SUBSET = Method(init, step, active)


def static_settings(settings: SubsetSettings) -> SubsetSettings:
    """The settings the compiled level depends on (validated): seed, replicates and max_levels left
    out, so one compilation serves every job of one algorithm."""
    choice(settings.kernel, "estimator.kernel", tuple(MOVES))
    return dataclasses.replace(settings, seed=0, replicates=2, batch_replicates=0, max_levels=1)


def final_states(keys: Key[Array, "R"], problem: GaussianProblem, settings: SubsetSettings, *, device: bool
                 ) -> SubsetState:
    """The runs of ``keys`` to their end, on the device or stepped from the host."""
    drive = on_device if device else on_host
    return drive(SUBSET, keys, settings.max_levels, problem, static_settings(settings))


def records(c: SubsetState, problem: GaussianProblem, settings: SubsetSettings) -> list[SubsetRun]:
    """Each run's :class:`SubsetRun`; a run that never stopped has made ``max_levels`` levels and
    estimates ``-inf``."""
    done, level, estimate = np.asarray(c.done), np.asarray(c.level), np.asarray(c.estimate, np.float64)
    per = evaluations_per_level(settings, len(problem.groups))
    out = []
    for r in range(len(done)):
        levels = int(level[r]) if done[r] else settings.max_levels
        out.append(SubsetRun(float(estimate[r]) if done[r] else -math.inf, settings.particles + levels * per, levels))
    return out


def subset_runs(keys: Key[Array, "R"], problem: GaussianProblem, settings: SubsetSettings) -> list[SubsetRun]:
    """One record per key, all runs climbing together with every level on the device."""
    return records(final_states(keys, problem, settings, device=True), problem, settings)


def subset_run(key: Key[Array, ""], problem: GaussianProblem, settings: SubsetSettings) -> SubsetRun:
    """One run stepped from the host (a batch of one: the record :func:`subset_runs` gives for
    ``key[None]``). A run that reaches ``max_levels`` without the condition holding returns ``-inf``."""
    return records(final_states(key[None], problem, settings, device=False), problem, settings)[0]


class SubsetSample(NamedTuple):
    """A run's record and ``coords``: Gaussian coordinates of networks distributed (approximately, by
    MCMC) as the prior restricted to the condition; empty when the run did not reach it."""

    run: SubsetRun
    coords: Float[Array, "m n_params"]


def samples(keys: Key[Array, "R"], c: SubsetState, problem: GaussianProblem, settings: SubsetSettings
            ) -> list[SubsetSample]:
    """Per run, its record and, if it reached the condition, ``settings.steps`` more moves of the
    whole population inside the condition's region (from ``fold_in(key, max_levels + 1)``, a key
    no level uses), refilled from the particles that hold (in index order, cycled): the networks
    that satisfy the condition after those moves."""
    out = []
    for r, run in enumerate(records(c, problem, settings)):
        g, s = c.g[r], c.s[r]
        if not math.isfinite(run.log_p):
            out.append(SubsetSample(run, g[:0]))
            continue
        held = np.flatnonzero(np.asarray(c.holds[r]))
        idx = held[np.arange(settings.particles) % len(held)]
        p, _ = level_moves(jax.random.fold_in(keys[r], settings.max_levels + 1), Particles(g[idx], s[idx]), 0.0,
                           c.step[r], problem=problem, kernel=settings.kernel, n_steps=settings.steps,
                           shrinks=settings.slice_shrinks, rescale=settings.scale_moves)
        _, holds = problem.evaluate(p.g)
        out.append(SubsetSample(run, p.g[np.asarray(holds)]))
    return out


def subset_samples(keys: Key[Array, "R"], problem: GaussianProblem, settings: SubsetSettings) -> list[SubsetSample]:
    """Per key, the record and the networks satisfying the condition (:func:`samples`), every level
    on the device."""
    return samples(keys, final_states(keys, problem, settings, device=True), problem, settings)


def subset_sample(key: Key[Array, ""], problem: GaussianProblem, settings: SubsetSettings) -> SubsetSample:
    """One run stepped from the host, then the networks satisfying the condition (:func:`samples`),
    for shares of mechanisms among solutions. They are correlated (every particle descends from a
    few at the last level), so intervals on such shares come from independent replicates, not from
    the particle count. Same record as :func:`subset_run` with the same key."""
    keys = key[None]
    return samples(keys, final_states(keys, problem, settings, device=False), problem, settings)[0]
