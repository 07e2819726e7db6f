"""Tempered sequential Monte Carlo with gradient moves, in Gaussian coordinates.

With ``E = -score >= 0`` (0 exactly where the condition holds) and the tempered measures
``pi_b(g) ∝ N(g; 0, I) exp(-b E(g))``,

    P(holds) = Z_b * pi_b(holds)        for every b,   Z_b = E_prior[exp(-b E)],

because ``exp(-b E) = 1`` on the set where the condition holds. A run raises ``b`` from 0 in
stages chosen so that the effective sample size of the incremental weights ``exp(-(b' - b) E)`` is
``ess_target`` times the number of particles, multiplies the mean incremental weights into
``Z_b`` (Del Moral, Doucet & Jasra 2006), resamples, and moves every particle ``steps`` times with
a kernel that leaves ``pi_b`` invariant (:class:`~counting.rare.kernels.Tempered`): ``hmc``
(``leapfrog`` steps per move) or ``mala``. The step size is shared by the population and adapted
between moves from its acceptance rate (towards 0.65 for ``hmc``, 0.57 for ``mala``). The run
stops at the first stage where at least ``stop_fraction`` of the particles satisfy the condition
and returns ``log Z_b + log pi_b(holds)``; poor mixing biases it low, and the spread of
independent replicates is the warning sign. Network evaluations count forward passes (a gradient
costs about two more).

Key use: the particles start from ``fold_in(key, 0)``; stage ``k`` resamples from
``fold_in(fold_in(key, k), 0)`` and moves from ``fold_in(fold_in(key, k), 1)``.

Example:
    >>> import jax, math
    >>> from counting.spec import MLPSpec, ScaledPrior, SMCSettings
    >>> from counting.mechanisms.predicates import computes
    >>> from counting.rare.coordinates import GaussianProblem
    >>> problem = GaussianProblem.of(MLPSpec(n_inputs=2, widths=()), ScaledPrior(), computes(0x8, 2))
    >>> run = smc_run(jax.random.key(0), problem, SMCSettings(particles=128, kernel="mala", steps=2))
    >>> -1.8 < run.log_p / math.log(10) < -1.0, run.log_z >= run.log_p    # exact: log10(1/24) = -1.380
    (True, True)
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
from counting.rare.kernels import Particles, Tempered, hmc, mala
from counting.spec.errors import choice
from counting.spec.estimator import SMCSettings

TARGET_ACCEPT = {"hmc": 0.65, "mala": 0.57}


def next_beta(energy: np.ndarray, beta: float, ess_target: float) -> float:
    """The ``b' > beta`` at which the incremental weights ``exp(-(b' - beta) E)`` have effective
    sample size ``ess_target * len(E)`` (bisection; ``inf`` once every energy is 0)."""
    energy = np.where(np.isnan(energy), np.inf, energy)  # an overflowed network counts as infinitely far
    e = energy - energy.min()
    if not np.any(e > 0):
        return math.inf
    n = len(e)

    def ess(d):
        w = np.exp(-d * e)
        return w.sum() ** 2 / (w * w).sum() / n

    # an infinite energy (a network whose output overflowed) gets weight 0 at every b' > beta;
    # the first bracket comes from the finite ones
    lo, hi = 0.0, 1.0 / max(float(e[np.isfinite(e)].max()), 1e-300)
    while ess(hi) > ess_target:
        if hi > 1e300:  # more than ess_target of the particles tie at the least energy: b' is infinite
            return math.inf
        lo, hi = hi, 2.0 * hi
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if ess(mid) > ess_target else (lo, mid)
    return beta + hi


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
    # keys inside a vmapped while_loop (counting.rare.batched) as reuse; the keys are the same
    (p, eps, acc), _ = lax.scan(body, (p, eps, 0.0), jax.random.key_data(jax.random.split(key, n_moves)))
    return p, eps, acc / n_moves


def _temper(key: Key[Array, ""], problem: GaussianProblem, settings: SMCSettings):
    """The stages of one run: its record, and the last population (coordinates, which hold)."""
    choice(settings.kernel, "estimator.kernel", tuple(TARGET_ACCEPT))
    n, steps = settings.particles, leapfrog_steps(settings)
    g = jax.random.normal(jax.random.fold_in(key, 0), (n, problem.n_params))
    s, holds = problem.evaluate(g)
    evals, log_z, beta, eps = n, 0.0, 0.0, jnp.float32(0.5 / math.sqrt(problem.n_params) * 4)
    for stage in range(1, settings.max_stages + 1):
        frac = float(jnp.mean(holds))
        if frac >= settings.stop_fraction:
            return SMCRun(float(log_z + math.log(frac)), evals, stage - 1, float(log_z), beta), (g, holds)
        e_np = -np.asarray(s, np.float64)
        new = next_beta(e_np, beta, settings.ess_target)
        if math.isinf(new):  # every energy is 0 yet too few hold: only the measure-zero boundary
            return SMCRun(float(log_z + (math.log(frac) if frac > 0 else -math.inf)), evals, stage - 1,
                          float(log_z), beta), (g, holds)
        lw = -(new - beta) * e_np
        m = lw.max()
        w = np.exp(lw - m)
        log_z += m + math.log(w.mean())
        k = jax.random.fold_in(key, stage)
        idx = jax.random.choice(jax.random.fold_in(k, 0), n, (n,), p=jnp.asarray(w / w.sum(), jnp.float32))
        beta = new
        p, eps, _ = stage_moves(jax.random.fold_in(k, 1), Particles(g[idx], s[idx]), jnp.float32(beta), eps,
                                problem=problem, kernel=settings.kernel, n_moves=settings.steps, leapfrog=steps)
        g = p.g
        s, holds = problem.evaluate(g)
        evals += n * (settings.steps * (steps + 1) + 1)
    return SMCRun(-math.inf, evals, settings.max_stages, float(log_z), beta), (g, holds)


def smc_run(key: Key[Array, ""], problem: GaussianProblem, settings: SMCSettings) -> SMCRun:
    """One tempered-SMC run (``settings``: particles, kernel, steps, leapfrog, ess_target,
    stop_fraction, max_stages). A run that has not reached ``stop_fraction`` after ``max_stages``
    returns ``-inf``."""
    return _temper(key, problem, settings)[0]


class SMCSample(NamedTuple):
    """A run's record and ``coords``: the last population's particles that satisfy the condition."""

    run: SMCRun
    coords: Float[Array, "m n_params"]


def smc_sample(key: Key[Array, ""], problem: GaussianProblem, settings: SMCSettings) -> SMCSample:
    """One run and the networks of its last population that satisfy the condition. Since
    ``exp(-b E) = 1`` where it holds, they are distributed (approximately, by MCMC) as the prior
    restricted to the condition, whatever ``b`` the run stopped at; empty if it never reached it.
    Same record as :func:`smc_run` with the same key."""
    run, (g, holds) = _temper(key, problem, settings)
    if not math.isfinite(run.log_p):
        return SMCSample(run, g[:0])
    return SMCSample(run, g[np.asarray(holds)])
