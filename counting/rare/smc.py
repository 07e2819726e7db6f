"""Tempered sequential Monte Carlo with gradient moves, in Gaussian coordinates: written once.

With ``E = -score >= 0`` (0 exactly where the condition holds) and the tempered measures
``pi_b(g) ∝ N(g; 0, I) exp(-b E(g))``,

    P(holds) = Z_b * pi_b(holds)        for every b,   Z_b = E_prior[exp(-b E)],

because ``exp(-b E) = 1`` on the set where the condition holds. A run raises ``b`` from 0 in
stages chosen so that the effective sample size of the incremental weights ``exp(-(b' - b) E)`` is
``ess_target`` times the number of particles (:func:`next_beta`), multiplies the mean incremental
weights into ``Z_b`` (Del Moral, Doucet & Jasra 2006), resamples, and moves every particle
``steps`` times with a kernel that leaves ``pi_b`` invariant
(:class:`~counting.rare.kernels.Tempered`): ``hmc`` (``leapfrog`` steps per move) or ``mala``.
The step size is shared by the population and adapted between moves from its acceptance rate
(towards 0.65 for ``hmc``, 0.57 for ``mala``). The run stops at the first stage where at least
``stop_fraction`` of the particles satisfy the condition, or where the next ``b`` is infinite, and
returns ``log Z_b + log pi_b(holds)``; poor mixing biases it low, and the spread of independent
replicates is the warning sign. Network evaluations count forward passes (a gradient costs about
two more).

The method is :func:`init`, :func:`step` and :func:`active` on a :class:`SMCState` (``SMC``), all
in ``jax.numpy`` with float32 adaptive choices; :mod:`counting.rare.drive` runs it from the host
(:func:`smc_run`, :func:`smc_sample`: one replicate, a batch of one) or with every stage on the
device (:func:`smc_runs`, :func:`smc_samples`: a batch of replicates), with the same numbers for
the same batch of keys.

Key use: the particles start from ``fold_in(key, 0)``; stage ``k`` resamples from
``fold_in(fold_in(key, k), 0)`` and moves from ``fold_in(fold_in(key, k), 1)``.

Example:
    >>> import jax, math
    >>> from counting.spec import MLPSpec, ScaledPrior, SMCSettings
    >>> from counting.mechanisms.predicates import computes
    >>> from counting.rare.coordinates import GaussianProblem
    >>> from counting.rare.replicates import replicate_keys
    >>> problem = GaussianProblem.of(MLPSpec(n_inputs=2, widths=()), ScaledPrior(), computes(0x8, 2))
    >>> settings = SMCSettings(particles=128, kernel="mala", steps=2)
    >>> run = smc_run(jax.random.key(0), problem, settings)
    >>> -1.8 < run.log_p / math.log(10) < -1.0, run.log_z >= run.log_p    # exact: log10(1/24) = -1.380
    (True, True)
    >>> runs = smc_runs(replicate_keys(0, 0, 3), problem, settings)
    >>> [-1.8 < r.log_p / math.log(10) < -1.0 for r in runs]
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

from counting.rare.coordinates import GaussianProblem, prior_population
from counting.rare.drive import Method, on_device, on_host
from counting.rare.kernels import Particles, Tempered, hmc, mala
from counting.spec.errors import choice
from counting.spec.estimator import SMCSettings

TARGET_ACCEPT = {"hmc": 0.65, "mala": 0.57}
BISECTIONS = 60
MAX_BETA = 1e30  # float32: a bracket past this means more than ess_target of the particles tie at the least energy


def effective_fraction(e: Float[Array, "N"], d: Float[Array, ""]) -> Float[Array, ""]:
    """ESS / N of the weights ``exp(-d e)`` (``e >= 0``, least 0, ``inf`` allowed).

    >>> float(effective_fraction(jnp.zeros(4), jnp.float32(3.0)))
    1.0
    """
    w = jnp.exp(-d * e)
    return jnp.sum(w) ** 2 / jnp.sum(w * w) / e.shape[0]


def next_beta(energy: Float[Array, "N"], beta: Float[Array, ""], ess_target: float) -> Float[Array, ""]:
    """The ``b' > beta`` at which the incremental weights ``exp(-(b' - beta) E)`` have effective
    sample size ``ess_target * N``: a bracket from ``1 / max E`` (the finite energies; an infinite
    one, a network whose output overflowed, gets weight 0 at every ``b' > beta``) doubled until
    the ESS falls to the target, then 60 bisections; ``inf`` once every energy ties at the least
    one (or more than ``ess_target`` of them do).

    >>> b = next_beta(jnp.array([0.0, 1.0, 2.0, 3.0]), jnp.float32(0.25), 0.5)
    >>> round(float(effective_fraction(jnp.array([0.0, 1.0, 2.0, 3.0]), b - 0.25)), 4)
    0.5
    """
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


class SMCRun(NamedTuple):
    """One run: natural log of the estimate (``-inf`` if the condition was never reached), network
    evaluations, stages, and the last tempering stage's ``log Z_b`` and ``b``. Since
    ``exp(-b E) >= 1[holds]``, ``Z_b >= P(holds)``: a run that stops short still bounds the volume
    from above, as far as its moves mixed."""

    log_p: float
    evaluations: int
    stages: int
    log_z: float
    beta: float


class SMCState(NamedTuple):
    """One run between stages: its population (coordinates, scores, which hold), the running
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


def leapfrog_steps(settings: SMCSettings) -> int:
    """Leapfrog steps per move: ``leapfrog`` for ``hmc``, one for ``mala``."""
    return 1 if settings.kernel == "mala" else settings.leapfrog


@partial(jax.jit, static_argnames=("problem", "kernel", "n_moves", "leapfrog"))
def stage_moves(key: Key[Array, ""], p: Particles, beta: Float[Array, ""], eps: Float[Array, ""], *,
                problem: GaussianProblem, kernel: str, n_moves: int, leapfrog: int
                ) -> tuple[Particles, Float[Array, ""], Float[Array, ""]]:
    """``n_moves`` moves leaving ``pi_beta`` invariant, the step size adapted after each; returns
    the particles, the step size and the mean acceptance."""
    step = mala if kernel == "mala" else partial(hmc, leapfrog=leapfrog)
    target, goal = Tempered(beta), TARGET_ACCEPT[kernel]

    impl = jax.random.key_impl(key)

    def body(carry, k):
        p, eps, acc = carry
        p, a = step(jax.random.wrap_key_data(k, impl=impl), p, target, eps, problem)
        return (p, eps * jnp.exp(a - goal), acc + a), None

    # the scan runs over the keys' raw words: JAX's key-reuse checker misreads a scan over typed
    # keys inside a vmapped while_loop as reuse; the keys are the same
    (p, eps, acc), _ = lax.scan(body, (p, eps, 0.0), jax.random.key_data(jax.random.split(key, n_moves)))
    return p, eps, acc / n_moves


def init(key: Key[Array, ""], problem: GaussianProblem, settings: SMCSettings) -> SMCState:
    """The prior population from ``fold_in(key, 0)``, before stage 1."""
    g, s, holds = prior_population(key, problem, settings.particles)
    f32 = partial(jnp.asarray, dtype=jnp.float32)
    return SMCState(g, s, holds, f32(0.0), f32(0.0), f32(0.5 / math.sqrt(problem.n_params) * 4),
                    jnp.int32(1), jnp.bool_(False), f32(-jnp.inf))


def reweigh_and_move(key: Key[Array, ""], st: SMCState, new_beta: Float[Array, ""], problem: GaussianProblem,
                     settings: SMCSettings) -> SMCState:
    """One stage from ``b`` to ``new_beta``: the ``log Z`` update, resampling, moves, evaluation."""
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


def active(st: SMCState, max_stages: Int[Array, ""]) -> Bool[Array, ""]:
    """Whether the run goes on: not stopped, and at most ``max_stages`` stages made."""
    return ~st.done & (st.stage <= max_stages)


def step(key: Key[Array, ""], st: SMCState, max_stages: Int[Array, ""], problem: GaussianProblem,
         settings: SMCSettings) -> SMCState:
    """One stage of the run of ``key``: it stops (``done``, ``log_p = log Z_b + log(fraction
    holding)``) if ``stop_fraction`` hold or the next ``b`` is infinite, else moves on to the next
    ``b``; an inactive state is returned unchanged."""
    frac = jnp.mean(st.holds.astype(jnp.float32))
    energy = jnp.where(jnp.isnan(st.s), jnp.inf, -st.s)  # an overflowed network is infinitely far
    new = next_beta(energy, st.beta, settings.ess_target)
    stop = (frac >= settings.stop_fraction) | jnp.isinf(new)
    # both outcomes, then a select (what vmap makes of a lax.cond anyway); a stopping run
    # advances at its own b, a finite stand-in, and keeps its state
    moved = reweigh_and_move(key, st, jnp.where(stop, st.beta, new), problem, settings)
    stopped = st._replace(done=True, log_p=st.log_z + jnp.log(frac))
    out = jax.tree.map(partial(jnp.where, stop), stopped, moved)
    return jax.tree.map(partial(jnp.where, active(st, max_stages)), out, st)


SMC = Method(init, step, active)


def static_settings(settings: SMCSettings) -> SMCSettings:
    """The settings the compiled stage depends on (validated): seed, replicates and max_stages
    left out, so one compilation serves every job of one algorithm."""
    choice(settings.kernel, "estimator.kernel", tuple(TARGET_ACCEPT))
    return dataclasses.replace(settings, seed=0, replicates=2, batch_replicates=0, max_stages=1)


def records(st: SMCState, settings: SMCSettings) -> list[SMCRun]:
    """Each run's :class:`SMCRun`: a run that never stopped has made ``max_stages`` stages and
    estimates ``-inf``; evaluations count ``particles`` forward passes at the start and
    ``particles * (steps * (leapfrog + 1) + 1)`` per stage."""
    done, stage = np.asarray(st.done), np.asarray(st.stage)
    log_p, log_z, beta = (np.asarray(a, np.float64) for a in (st.log_p, st.log_z, st.beta))
    n, per = settings.particles, settings.steps * (leapfrog_steps(settings) + 1) + 1
    out = []
    for r in range(len(done)):
        stages = int(stage[r]) - 1 if done[r] else settings.max_stages
        out.append(SMCRun(float(log_p[r]) if done[r] else -math.inf, n * (1 + per * stages), stages,
                          float(log_z[r]), float(beta[r])))
    return out


def final_states(keys: Key[Array, "R"], problem: GaussianProblem, settings: SMCSettings, *, device: bool) -> SMCState:
    """The runs of ``keys`` to their end, on the device or stepped from the host."""
    drive = on_device if device else on_host
    return drive(SMC, keys, settings.max_stages, problem, static_settings(settings))


class SMCSample(NamedTuple):
    """A run's record and ``coords``: the last population's particles that satisfy the condition."""

    run: SMCRun
    coords: Float[Array, "m n_params"]


def samples(st: SMCState, settings: SMCSettings) -> list[SMCSample]:
    """Per run, the record and the last population's networks that satisfy the condition (empty if
    the run never reached it). Since ``exp(-b E) = 1`` where it holds, they are distributed
    (approximately, by MCMC) as the prior restricted to the condition, whatever ``b`` the run
    stopped at."""
    g, holds = np.asarray(st.g), np.asarray(st.holds)
    return [SMCSample(run, jnp.asarray(g[r][holds[r]] if math.isfinite(run.log_p) else g[r][:0]))
            for r, run in enumerate(records(st, settings))]


def smc_runs(keys: Key[Array, "R"], problem: GaussianProblem, settings: SMCSettings) -> list[SMCRun]:
    """One record per key, all runs advancing together with every stage on the device."""
    return records(final_states(keys, problem, settings, device=True), settings)


def smc_samples(keys: Key[Array, "R"], problem: GaussianProblem, settings: SMCSettings) -> list[SMCSample]:
    """Per key, the record and the last population's networks that satisfy the condition."""
    return samples(final_states(keys, problem, settings, device=True), settings)


def smc_run(key: Key[Array, ""], problem: GaussianProblem, settings: SMCSettings) -> SMCRun:
    """One run stepped from the host (a batch of one: the record :func:`smc_runs` gives for
    ``key[None]``). A run that has not reached ``stop_fraction`` after ``max_stages`` returns ``-inf``."""
    return records(final_states(key[None], problem, settings, device=False), settings)[0]


def smc_sample(key: Key[Array, ""], problem: GaussianProblem, settings: SMCSettings) -> SMCSample:
    """One run stepped from the host and its last population's networks that satisfy the
    condition; same record as :func:`smc_run` with the same key."""
    return samples(final_states(key[None], problem, settings, device=False), settings)[0]
