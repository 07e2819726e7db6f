"""Tempered SMC with every stage on the device, replicates batched: R replicates x P particles per call.

The algorithm is :mod:`counting.rare.smc`'s, stage for stage and with the same keys (particles from
``fold_in(key, 0)``; stage ``k`` resamples from ``fold_in(fold_in(key, k), 0)`` and moves from
``fold_in(fold_in(key, k), 1)``), but the stage loop is a ``lax.while_loop`` and the adaptive
choices are made on the device in float32: the next temperature by bisection on the effective
sample size (:func:`next_beta`, the host's bracket and 60 bisections), ``log Z_b``, the stop test.
:func:`smc_batch` maps one run over a batch of keys with ``jax.vmap``; a replicate that has
stopped keeps its state while the others go on, so no replicate sees another's numbers.

What a replicate's record depends on: its key and the batch's shape (R). Which replicates share
its batch, and its place in it, never matter. R does: XLA may round a row reduction (the score's
sum over the cube) differently for another array shape, and SMC's adaptive choices turn one
rounding difference into another trajectory. So the batch size is part of a job's definition, as
``chunk_size`` is for ``mc`` (:func:`counting.rare.replicates.run_replicate_batches` fills the
last batch up to R), and a replicate run alone is a batch of R holding it. The host path works in
float64 for ``b`` and ``log Z_b``; this one in float32: the two agree in distribution, not bit for
bit (``[estimator] batch_replicates = R`` selects this path; the default 0 keeps the host path).

Example:
    >>> import jax, math
    >>> from counting.spec import MLPSpec, ScaledPrior, SMCSettings
    >>> from counting.mechanisms.predicates import computes
    >>> from counting.rare.coordinates import GaussianProblem
    >>> from counting.rare.replicates import replicate_keys
    >>> problem = GaussianProblem.of(MLPSpec(n_inputs=2, widths=()), ScaledPrior(), computes(0x8, 2))
    >>> settings = SMCSettings(particles=128, kernel="mala", steps=2)
    >>> runs = smc_runs(replicate_keys(0, 0, 3), problem, settings)
    >>> [-1.8 < r.log_p / math.log(10) < -1.0 for r in runs]    # exact: log10(1/24) = -1.380
    [True, True, True]
    >>> smc_runs(replicate_keys(0, 1, 3), problem, settings)[0] == runs[1]   # other neighbours, same record
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
from counting.rare.smc import TARGET_ACCEPT, SMCRun, SMCSample, leapfrog_steps, stage_moves
from counting.spec.errors import choice
from counting.spec.estimator import SMCSettings

BISECTIONS = 60  # as the host's next_beta
MAX_BETA = 1e30  # float32: a bracket past this means more than ess_target of the particles tie at the least energy


def effective_fraction(e: Float[Array, "N"], d: Float[Array, ""]) -> Float[Array, ""]:
    """ESS / N of the weights ``exp(-d e)`` (``e >= 0``, least 0, ``inf`` allowed)."""
    w = jnp.exp(-d * e)
    return jnp.sum(w) ** 2 / jnp.sum(w * w) / e.shape[0]


def next_beta(energy: Float[Array, "N"], beta: Float[Array, ""], ess_target: float) -> Float[Array, ""]:
    """The ``b' > beta`` at which ``exp(-(b' - beta) E)`` has effective sample size
    ``ess_target * N``, in float32 on the device: the bracket of
    :func:`counting.rare.smc.next_beta` (from ``1 / max E``, doubled until the ESS falls to the
    target) and 60 bisections; ``inf`` once every energy ties at the least one (or more than
    ``ess_target`` of them do)."""
    e = energy - jnp.min(energy)
    finite = jnp.isfinite(e)
    top = jnp.max(jnp.where(finite, e, 0.0))
    hi0 = 1.0 / jnp.maximum(top, jnp.finfo(e.dtype).tiny)

    def widen(c):
        lo, hi = c
        return hi, 2.0 * hi

    lo, hi = lax.while_loop(lambda c: (effective_fraction(e, c[1]) > ess_target) & (c[1] <= MAX_BETA), widen,
                            (jnp.zeros_like(hi0), hi0))

    def halve(_, c):
        lo, hi = c
        mid = 0.5 * (lo + hi)
        up = effective_fraction(e, mid) > ess_target
        return jnp.where(up, mid, lo), jnp.where(up, hi, mid)

    lo, hi = lax.fori_loop(0, BISECTIONS, halve, (lo, hi))
    return jnp.where((top > 0) & (hi <= MAX_BETA), beta + hi, jnp.inf)


class Stage(NamedTuple):
    """One replicate between stages: its population (coordinates, scores, which hold), the running
    ``log Z_b``, ``b``, step size, the next stage's number, whether it has stopped and its estimate
    (``-inf`` until it stops). The run's key stays out of it (a loop invariant)."""

    g: Float[Array, "N P"]
    s: Float[Array, "N"]
    holds: Bool[Array, "N"]
    log_z: Float[Array, ""]
    beta: Float[Array, ""]
    eps: Float[Array, ""]
    stage: Int[Array, ""]
    done: Bool[Array, ""]
    log_p: Float[Array, ""]


def start(key: Key[Array, ""], problem: GaussianProblem, particles: int) -> Stage:
    """The prior population from ``fold_in(key, 0)``, before stage 1."""
    g = jax.random.normal(jax.random.fold_in(key, 0), (particles, problem.n_params))
    s, holds = problem.evaluate(g)
    f32 = partial(jnp.asarray, dtype=jnp.float32)
    return Stage(g, s, holds, f32(0.0), f32(0.0), f32(0.5 / math.sqrt(problem.n_params) * 4),
                 jnp.int32(1), jnp.bool_(False), f32(-jnp.inf))


def advance(key: Key[Array, ""], st: Stage, new_beta: Float[Array, ""], problem: GaussianProblem, settings: SMCSettings) -> Stage:
    """One stage from ``b`` to ``new_beta``: ``log Z`` update, resampling, moves, evaluation."""
    n = st.g.shape[0]
    energy = jnp.where(jnp.isnan(st.s), jnp.inf, -st.s)
    lw = -(new_beta - st.beta) * energy
    m = jnp.max(lw)
    w = jnp.exp(lw - m)
    log_z = st.log_z + m + jnp.log(jnp.mean(w))
    k = jax.random.fold_in(key, st.stage)
    idx = jax.random.choice(jax.random.fold_in(k, 0), n, (n,), p=w / jnp.sum(w))
    p, eps, _ = stage_moves(jax.random.fold_in(k, 1), Particles(st.g[idx], st.s[idx]), new_beta, st.eps,
                            problem=problem, kernel=settings.kernel, n_moves=settings.steps,
                            leapfrog=leapfrog_steps(settings))
    s, holds = problem.evaluate(p.g)
    return st._replace(g=p.g, s=s, holds=holds, log_z=log_z, beta=new_beta, eps=eps, stage=st.stage + 1)


def temper(key: Key[Array, ""], max_stages: Int[Array, ""], problem: GaussianProblem, settings: SMCSettings
           ) -> Stage:
    """One run's stages, from its key alone: the stage loop with :func:`next_beta` on the device.
    The run stops (``done``, ``log_p = log Z_b + log(fraction holding)``) at the first stage where
    ``stop_fraction`` hold or the next ``b`` is infinite; ``stage - 1`` moves were made. At most
    ``max_stages`` stages (an argument, not ``settings.max_stages``: one compiled loop serves any)."""
    def body(st: Stage) -> Stage:
        frac = jnp.mean(st.holds.astype(jnp.float32))
        energy = jnp.where(jnp.isnan(st.s), jnp.inf, -st.s)  # an overflowed network is infinitely far
        new = next_beta(energy, st.beta, settings.ess_target)
        stop = (frac >= settings.stop_fraction) | jnp.isinf(new)
        # both outcomes, then a select (what vmap makes of a lax.cond anyway); a stopping run
        # advances at its own b, a finite stand-in, and keeps its state
        moved = advance(key, st, jnp.where(stop, st.beta, new), problem, settings)
        stopped = st._replace(done=True, log_p=st.log_z + jnp.log(frac))
        return jax.tree.map(partial(jnp.where, stop), stopped, moved)

    return lax.while_loop(lambda st: ~st.done & (st.stage <= max_stages), body,
                          start(key, problem, settings.particles))


@partial(jax.jit, static_argnames=("problem", "settings"))
def smc_batch(keys: Key[Array, "R"], max_stages: Int[Array, ""], problem: GaussianProblem, settings: SMCSettings
              ) -> Stage:
    """:func:`temper` for each key, batched (``jax.vmap``): R replicates x P particles per step."""
    return jax.vmap(lambda k: temper(k, max_stages, problem, settings))(keys)


def records(st: Stage, settings: SMCSettings) -> list[SMCRun]:
    """Each replicate's :class:`~counting.rare.smc.SMCRun`: a run that never stopped has made
    ``max_stages`` stages and estimates ``-inf``; evaluations count ``particles`` forward passes
    at the start and ``particles * (steps * (leapfrog + 1) + 1)`` per stage."""
    done, stage = np.asarray(st.done), np.asarray(st.stage)
    log_p, log_z, beta = (np.asarray(a, np.float64) for a in (st.log_p, st.log_z, st.beta))
    n, per = settings.particles, settings.steps * (leapfrog_steps(settings) + 1) + 1
    out = []
    for r in range(len(done)):
        stages = int(stage[r]) - 1 if done[r] else settings.max_stages
        out.append(SMCRun(float(log_p[r]) if done[r] else -math.inf, n * (1 + per * stages), stages,
                          float(log_z[r]), float(beta[r])))
    return out


def run_batch(keys: Key[Array, "R"], problem: GaussianProblem, settings: SMCSettings) -> Stage:
    """:func:`smc_batch` with ``settings.max_stages``, compiled once per algorithm: the fields that
    do not change the compiled loop (seed, replicates, max_stages) are left out of its static settings."""
    choice(settings.kernel, "estimator.kernel", tuple(TARGET_ACCEPT))
    static = dataclasses.replace(settings, seed=0, replicates=2, batch_replicates=0, max_stages=1)
    return smc_batch(keys, jnp.int32(settings.max_stages), problem, static)


def smc_runs(keys: Key[Array, "R"], problem: GaussianProblem, settings: SMCSettings) -> list[SMCRun]:
    """One tempered-SMC record per key, all replicates advancing together on the device."""
    return records(run_batch(keys, problem, settings), settings)


def smc_samples(keys: Key[Array, "R"], problem: GaussianProblem, settings: SMCSettings) -> list[SMCSample]:
    """Per key, the record and the last population's networks that satisfy the condition (empty if
    the run never reached it), as :func:`counting.rare.smc.smc_sample` but batched."""
    st = run_batch(keys, problem, settings)
    g, holds = np.asarray(st.g), np.asarray(st.holds)
    return [SMCSample(run, jnp.asarray(g[r][holds[r]] if math.isfinite(run.log_p) else g[r][:0]))
            for r, run in enumerate(records(st, settings))]
