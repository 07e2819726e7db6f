"""Subset simulation (multilevel splitting) under the prior, in Gaussian coordinates.

With a condition's continuous ``score`` (0 where it holds, negative elsewhere) the volume factors as

    P(holds) = P(S >= L_1) P(S >= L_2 | S >= L_1) ... P(holds | S >= L_K),

with levels ``L_k`` set adaptively so each factor is about ``p0``. Each level keeps the particles
above its threshold and refills the population by ``steps`` moves that leave the prior restricted
to ``{S >= L_k}`` invariant (:class:`~counting.rare.kernels.Level`): a ``pcn`` move (its step
adapted towards 30% acceptance between levels) or an ``ess`` move, each followed by the
layer-rescaling moves if ``scale_moves``. The estimate of one run is the product of the level
fractions. Splitting is biased low when moves mix poorly: a replicate spread far above the theory
is the warning sign.

Key use: the particles start from ``fold_in(key, 0)``, level ``i`` moves from ``fold_in(key, i + 1)``
and its move ``j`` from ``split`` of that key; a move's key ``k`` drives ``pcn`` through
``split(k)[0]`` and ``ess`` through ``k``'s first three splits, the rescaling through the next split.

Example:
    >>> import jax, math
    >>> from counting.spec import MLPSpec, ScaledPrior, SubsetSettings
    >>> from counting.mechanisms.predicates import computes
    >>> from counting.rare.coordinates import GaussianProblem
    >>> problem = GaussianProblem.of(MLPSpec(n_inputs=2, widths=()), ScaledPrior(), computes(0x8, 2))
    >>> run = subset_run(jax.random.key(0), problem, SubsetSettings(particles=400, steps=4))
    >>> -1.8 < run.log_p / math.log(10) < -1.0, run.levels         # exact: log10(1/24) = -1.380
    (True, 1)
"""

from __future__ import annotations

import math
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jaxtyping import Array, Float, Key

from counting.rare.coordinates import GaussianProblem
from counting.rare.kernels import Level, Particles, ess, pcn, rescaling
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


def _ess_move(k: Key[Array, ""], p: Particles, target: Level, step: float, problem: GaussianProblem, shrinks: int):
    """An ``ess`` move from ``k`` (its first three splits); the rescaling key is the fourth split."""
    p, acc = ess(k, p, target, problem, shrinks)
    return p, acc, jax.random.fold_in(k, 3)


MOVES = {"pcn": _pcn_move, "ess": _ess_move}  # each returns (particles, acceptance, rescaling key)


@partial(jax.jit, static_argnames=("problem", "kernel", "n_steps", "shrinks", "rescale"))
def level_moves(key: Key[Array, ""], p: Particles, level: float, step: float, *, problem: GaussianProblem,
                kernel: str, n_steps: int, shrinks: int, rescale: bool) -> tuple[Particles, Float[Array, ""]]:
    """``n_steps`` moves leaving the prior restricted to ``{score >= level}`` invariant, and their mean
    acceptance (``step``: the ``pcn`` step; ``shrinks``: the ``ess`` bracket)."""
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
    per_move = (1 if settings.kernel == "pcn" else settings.ess_shrinks) + (n_groups if settings.scale_moves else 0)
    return settings.particles * (settings.steps * per_move + 1)


def _climb(key: Key[Array, ""], problem: GaussianProblem, settings: SubsetSettings):
    """The levels of one run: its record, and the last population (coordinates, scores, which hold)
    with the ``pcn`` step it ended at."""
    choice(settings.kernel, "estimator.kernel", tuple(MOVES))
    n = settings.particles
    g = jax.random.normal(jax.random.fold_in(key, 0), (n, problem.n_params))
    s, holds = problem.evaluate(g)
    evals, log_p, step = n, 0.0, 0.5
    n_keep = max(1, int(round(settings.p0 * n)))
    for level_i in range(settings.max_levels):
        n_hold = int(jnp.sum(holds))
        if n_hold >= n_keep:
            return SubsetRun(log_p + math.log(n_hold / n), evals, level_i), (g, s, holds, step)
        s_np = np.asarray(s)
        level = float(np.sort(s_np)[n - n_keep])
        above = np.flatnonzero(s_np >= level)
        log_p += math.log(len(above) / n)
        idx = above[np.arange(n) % len(above)]
        p, acc = level_moves(jax.random.fold_in(key, level_i + 1), Particles(g[idx], s[idx]), level, step,
                             problem=problem, kernel=settings.kernel, n_steps=settings.steps,
                             shrinks=settings.ess_shrinks, rescale=settings.scale_moves)
        g, s = p
        if settings.kernel == "pcn":
            step = float(np.clip(step * math.exp(float(acc) - PCN_TARGET_ACCEPT), 0.01, 1.0))
        _, holds = problem.evaluate(g)
        evals += evaluations_per_level(settings, len(problem.groups))
    return SubsetRun(-math.inf, evals, settings.max_levels), (g, s, holds, step)


def subset_run(key: Key[Array, ""], problem: GaussianProblem, settings: SubsetSettings) -> SubsetRun:
    """One subset-simulation run (``settings``: particles, p0, steps, kernel, ess_shrinks,
    scale_moves, max_levels). A run that reaches ``max_levels`` without the condition holding
    returns ``-inf``."""
    return _climb(key, problem, settings)[0]


class SubsetSample(NamedTuple):
    """A run's record and ``coords``: Gaussian coordinates of networks distributed (approximately, by
    MCMC) as the prior restricted to the condition; empty when the run did not reach it."""

    run: SubsetRun
    coords: Float[Array, "m n_params"]


def subset_sample(key: Key[Array, ""], problem: GaussianProblem, settings: SubsetSettings) -> SubsetSample:
    """One run, then ``settings.steps`` more moves of the whole population inside the condition's
    region (from ``fold_in(key, max_levels + 1)``, a key no level uses): the networks that satisfy
    the condition, for shares of mechanisms among solutions. They are correlated (every particle
    descends from a few at the last level), so intervals on such shares come from independent
    replicates, not from the particle count. Same record as :func:`subset_run` with the same key."""
    run, (g, s, holds, step) = _climb(key, problem, settings)
    if not math.isfinite(run.log_p):
        return SubsetSample(run, g[:0])
    held = np.flatnonzero(np.asarray(holds))
    idx = held[np.arange(settings.particles) % len(held)]
    p, _ = level_moves(jax.random.fold_in(key, settings.max_levels + 1), Particles(g[idx], s[idx]), 0.0, step,
                       problem=problem, kernel=settings.kernel, n_steps=settings.steps,
                       shrinks=settings.ess_shrinks, rescale=settings.scale_moves)
    _, holds = problem.evaluate(p.g)
    return SubsetSample(run, p.g[np.asarray(holds)])
