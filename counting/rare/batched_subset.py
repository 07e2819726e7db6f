"""Subset simulation with every level on the device, replicates batched: R replicates x P particles per call.

The algorithm and keys are :mod:`counting.rare.subset`'s (particles from ``fold_in(key, 0)``,
level ``i`` moves from ``fold_in(key, i + 1)`` through
:func:`~counting.rare.subset.level_moves`), with the level loop a ``lax.while_loop`` and each
level's choices made on the device: the threshold (the ``n_keep``-th largest score), the
survivors (in index order, cycled to refill the population, as the host's ``flatnonzero``), the
``pcn`` step adaptation and ``log p`` (float32 here, float64 on the host). :func:`subset_batch`
maps one run over a batch of keys with ``jax.vmap``. As for :mod:`counting.rare.batched`, a
replicate's record depends on its key and the batch size only, never on which replicates share
its batch; ``[estimator] batch_replicates = R`` selects this path (the default 0 keeps the host
path and its numbers).

Example:
    >>> import math
    >>> from counting.spec import MLPSpec, ScaledPrior, SubsetSettings
    >>> from counting.mechanisms.predicates import computes
    >>> from counting.rare.coordinates import GaussianProblem
    >>> from counting.rare.replicates import replicate_keys
    >>> problem = GaussianProblem.of(MLPSpec(n_inputs=2, widths=()), ScaledPrior(), computes(0x8, 2))
    >>> settings = SubsetSettings(particles=400, steps=4)
    >>> runs = subset_runs(replicate_keys(0, 0, 3), problem, settings)
    >>> [-1.8 < r.log_p / math.log(10) < -1.0 for r in runs]    # exact: log10(1/24) = -1.380
    [True, True, True]
    >>> subset_runs(replicate_keys(0, 1, 3), problem, settings)[0] == runs[1]   # other neighbours, same record
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

from counting.rare.coordinates import GaussianProblem
from counting.rare.kernels import Particles
from counting.rare.subset import MOVES, PCN_TARGET_ACCEPT, SubsetRun, evaluations_per_level, level_moves
from counting.spec.errors import choice
from counting.spec.estimator import SubsetSettings


class Climb(NamedTuple):
    """One replicate between levels: its population (coordinates, scores, which hold), ``log p``
    so far, the ``pcn`` step, the levels made, whether it has stopped and its estimate (``-inf``
    until it stops)."""

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
    above it, in index order, cycled) and how many are at or above it."""
    n = s.shape[0]
    level = jnp.sort(s)[n - keep]
    above = s >= level
    count = jnp.sum(above)
    order = jnp.nonzero(above, size=n, fill_value=0)[0]
    return level, order[jnp.arange(n) % count], count


def climb(key: Key[Array, ""], max_levels: Int[Array, ""], problem: GaussianProblem, settings: SubsetSettings
          ) -> Climb:
    """One run's levels, from its key alone; it stops (``done``, ``estimate = log p + log(fraction
    holding)``) at the first level where ``n_keep`` particles hold, after ``level`` levels."""
    n, keep = settings.particles, n_keep(settings)
    g = jax.random.normal(jax.random.fold_in(key, 0), (n, problem.n_params))
    s, holds = problem.evaluate(g)
    f32 = partial(jnp.asarray, dtype=jnp.float32)

    def body(c: Climb) -> Climb:
        n_hold = jnp.sum(c.holds)
        level, idx, count = survivors(c.s, keep)
        p, acc = level_moves(jax.random.fold_in(key, c.level + 1), Particles(c.g[idx], c.s[idx]), level, c.step,
                             problem=problem, kernel=settings.kernel, n_steps=settings.steps,
                             shrinks=settings.ess_shrinks, rescale=settings.scale_moves)
        step = jnp.clip(c.step * jnp.exp(acc - PCN_TARGET_ACCEPT), 0.01, 1.0) if settings.kernel == "pcn" else c.step
        _, held = problem.evaluate(p.g)
        moved = Climb(p.g, p.score, held, c.log_p + jnp.log(count / n), step, c.level + 1, c.done, c.estimate)
        stopped = c._replace(done=True, estimate=c.log_p + jnp.log(n_hold / n))
        return jax.tree.map(partial(jnp.where, n_hold >= keep), stopped, moved)

    return lax.while_loop(lambda c: ~c.done & (c.level < max_levels), body,
                          Climb(g, s, holds, f32(0.0), f32(0.5), jnp.int32(0), jnp.bool_(False), f32(-jnp.inf)))


@partial(jax.jit, static_argnames=("problem", "settings"))
def subset_batch(keys: Key[Array, "R"], max_levels: Int[Array, ""], problem: GaussianProblem,
                 settings: SubsetSettings) -> Climb:
    """:func:`climb` for each key, batched (``jax.vmap``)."""
    return jax.vmap(lambda k: climb(k, max_levels, problem, settings))(keys)


def subset_runs(keys: Key[Array, "R"], problem: GaussianProblem, settings: SubsetSettings) -> list[SubsetRun]:
    """One subset-simulation record per key, all replicates climbing together on the device; a run
    that never stopped has made ``max_levels`` levels and estimates ``-inf``. Compiled once per
    algorithm (seed, replicates and max_levels are left out of the static settings)."""
    choice(settings.kernel, "estimator.kernel", tuple(MOVES))
    static = dataclasses.replace(settings, seed=0, replicates=2, batch_replicates=0, max_levels=1)
    c = subset_batch(keys, jnp.int32(settings.max_levels), problem, static)
    done, level, estimate = np.asarray(c.done), np.asarray(c.level), np.asarray(c.estimate, np.float64)
    per = evaluations_per_level(settings, len(problem.groups))
    out = []
    for r in range(len(done)):
        levels = int(level[r]) if done[r] else settings.max_levels
        out.append(SubsetRun(float(estimate[r]) if done[r] else -math.inf, settings.particles + levels * per, levels))
    return out
