"""Rare-event volumes by tempered sequential Monte Carlo with gradient moves.

A second rare-event method next to subset simulation (:mod:`counting.rare`), built on a different
identity. With ``E = -score >= 0`` (0 exactly where the condition holds) and the tempered measures
``pi_b(g) ∝ N(g; 0, I) exp(-b E(g))`` in the prior's standard Gaussian coordinates ``g``,

    P(holds) = Z_b * pi_b(holds)        for every b,   Z_b = E_prior[exp(-b E)],

because ``exp(-b E) = 1`` on the set where the condition holds. The run raises ``b`` from 0 in
stages chosen so that the effective sample size of the incremental weights ``exp(-(b' - b) E)`` is
``ess_target`` times the number of particles, multiplies the mean incremental weights into
``Z_b`` (Del Moral, Doucet & Jasra 2006), resamples, and moves every particle with a Markov
kernel that leaves ``pi_b`` invariant:

* ``hmc``: Hamiltonian Monte Carlo, ``leapfrog`` steps per move;
* ``mala``: the Metropolis-adjusted Langevin algorithm (one leapfrog step per move).

The step size is adapted between moves from the population's acceptance rate (towards 0.65 for
``hmc``, 0.57 for ``mala``). The run stops at the first stage where at least ``stop_fraction``
of the particles satisfy the condition and returns ``log Z_b + log pi_b(holds)``. Each run is an
unbiased estimate of the volume when the moves mix; as in subset simulation, poor mixing biases it
low, and the spread of independent replicates is the warning sign. Intervals come from
independent replicates exactly as in :func:`counting.rare.combine_replicates`.

The gradient moves need a score that is differentiable almost everywhere (every score in
:mod:`counting.predicates` and :mod:`counting.sites` is). Network evaluations are counted as
forward passes; a gradient costs about two more.

Example:
    >>> from counting.spec import parse_spec
    >>> spec = parse_spec('''
    ... [model]
    ... n_inputs = 2
    ... widths = []
    ... [target]
    ... name = "and"
    ... ''')
    >>> r = smc_volume(spec, n_particles=256, replicates=4)
    >>> -1.8 < r.log10_volume < -1.0      # exact: log10(1/24) = -1.380
    True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jaxtyping import Array, Float

from counting.domain import cube
from counting.models import forward
from counting.predicates import Condition, computes
from counting.priors import scale_vector, unflatten
from counting.rare import gaussian_to_params, summarize_replicates
from counting.spec import SMC_KERNELS, Spec, SpecError


_TARGET_ACCEPT = {"hmc": 0.65, "mala": 0.57}


@dataclass(frozen=True)
class SMCResult:
    """A tempered-SMC volume with its replicate-based interval and cost (fields as in subset).

    ``reached``: replicates that reached the condition. ``log10_bound``: the largest last-stage
    ``log10 Z_b`` over replicates, an upper bound on the volume as far as the moves mixed (the
    useful figure when no replicate reached the condition).
    """

    log10_volume: float | None
    ci95: tuple[float | None, float | None]
    volume: float
    replicates_log10: tuple[float, ...]
    replicate_sd_log10: float
    evaluations: int
    stages: float
    kernel: str
    reached: int = 0
    log10_bound: float | None = None
    estimator: str = "smc"

    def as_dict(self) -> dict:
        return {
            "log10_volume": self.log10_volume,
            "ci95": list(self.ci95),
            "volume": self.volume,
            "estimator": self.estimator,
            "kernel": self.kernel,
            "samples": self.evaluations,
            "evaluations": self.evaluations,
            "hits": None,
            "replicates": len(self.replicates_log10),
            "replicates_log10": list(self.replicates_log10),
            "replicate_sd_log10": self.replicate_sd_log10,
            "mean_stages": self.stages,
            "reached": self.reached,
            "log10_bound": self.log10_bound,
        }


@dataclass(frozen=True)
class Tempered:
    """Energy, holds and energy gradient of a condition on ``g [B, P]`` (compiled once per run set)."""

    energy_holds: object
    value_and_grad: object
    n_params: int

    @staticmethod
    def build(spec: Spec, cond: Condition) -> "Tempered":
        x = jnp.asarray(cube(spec.model.n_inputs))

        def fwd(g):
            return forward(spec.model, unflatten(spec.model, gaussian_to_params(g, spec)), x)

        def energy_holds(g):
            f = fwd(g)
            return -cond.score(f), cond.holds(f)

        def total(g):
            e = -cond.score(fwd(g))
            return jnp.sum(e), e

        def value_and_grad(g):
            (_, e), grad = jax.value_and_grad(total, has_aux=True)(g)
            return e, grad

        n_par = scale_vector(spec.model, spec.prior).shape[0]
        return Tempered(jax.jit(energy_holds), value_and_grad, n_par)


@partial(jax.jit, static_argnames=("value_and_grad", "n_moves", "leapfrog", "target_accept"))
def _moves(key, g: Float[Array, "B P"], beta, eps, *, value_and_grad, n_moves: int, leapfrog: int,
           target_accept: float):
    """``n_moves`` HMC moves (``leapfrog`` steps each) leaving ``pi_beta`` invariant; the step
    size is shared by the population and adapted between moves. Returns (g, step size, mean acceptance)."""

    def logp_grad(q):
        e, ge = value_and_grad(q)
        return -0.5 * jnp.sum(q * q, axis=1) - beta * e, -q - beta * ge

    def move(carry, k):
        q, eps, acc_sum = carry
        k_p, k_u = jax.random.split(k)
        p = jax.random.normal(k_p, q.shape)
        lp0, gr0 = logp_grad(q)
        h0 = lp0 - 0.5 * jnp.sum(p * p, axis=1)

        def leap(i, c):
            qn, pn, gr, _ = c
            pn = pn + 0.5 * eps * gr
            qn = qn + eps * pn
            lp, gr = logp_grad(qn)
            pn = pn + 0.5 * eps * gr
            return qn, pn, gr, lp

        qn, pn, _, lp1 = lax.fori_loop(0, leapfrog, leap, (q, p, gr0, lp0))
        h1 = lp1 - 0.5 * jnp.sum(pn * pn, axis=1)
        log_a = jnp.where(jnp.isfinite(h1), jnp.minimum(h1 - h0, 0.0), -jnp.inf)
        a = jnp.exp(log_a)
        ok = jnp.log(jax.random.uniform(k_u, a.shape)) < log_a
        q = jnp.where(ok[:, None], qn, q)
        eps = eps * jnp.exp(jnp.mean(a) - target_accept)
        return (q, eps, acc_sum + jnp.mean(a)), None

    (g, eps, acc), _ = lax.scan(move, (g, eps, 0.0), jax.random.split(key, n_moves))
    return g, eps, acc / n_moves


def next_beta(energy: np.ndarray, beta: float, ess_target: float) -> float:
    """The ``b' > beta`` at which the incremental weights ``exp(-(b' - beta) E)`` have effective
    sample size ``ess_target * len(E)`` (bisection; ``inf`` once every energy is 0)."""
    e = energy - energy.min()
    if not np.any(e > 0):
        return math.inf
    n = len(e)

    def ess(d):
        w = np.exp(-d * e)
        return w.sum() ** 2 / (w * w).sum() / n

    lo, hi = 0.0, 1.0 / max(float(e.max()), 1e-300)
    while ess(hi) > ess_target:
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


def smc_run(key, problem: Tempered, *, n_particles: int = 500, kernel: str = "hmc", n_moves: int = 5,
            leapfrog: int = 8, ess_target: float = 0.5, stop_fraction: float = 0.5,
            max_stages: int = 200) -> SMCRun:
    """One tempered-SMC run.

    Stage ``k`` draws its resampling and move keys from ``fold_in(key, k)``. A run that has not
    reached ``stop_fraction`` after ``max_stages`` returns ``-inf``.
    """
    steps = 1 if kernel == "mala" else leapfrog
    g = jax.random.normal(jax.random.fold_in(key, 0), (n_particles, problem.n_params))
    e, holds = problem.energy_holds(g)
    evals, log_z, beta, eps = n_particles, 0.0, 0.0, jnp.asarray(0.5 / math.sqrt(problem.n_params) * 4)
    for stage in range(1, max_stages + 1):
        frac = float(jnp.mean(holds))
        if frac >= stop_fraction:
            return SMCRun(log_z + math.log(frac), evals, stage - 1, log_z, beta)
        e_np = np.asarray(e, np.float64)
        new = next_beta(e_np, beta, ess_target)
        if math.isinf(new):  # every energy is 0 yet too few hold: only the measure-zero boundary
            return SMCRun(log_z + (math.log(frac) if frac > 0 else -math.inf), evals, stage - 1, log_z, beta)
        lw = -(new - beta) * e_np
        m = lw.max()
        w = np.exp(lw - m)
        log_z += m + math.log(w.mean())
        k = jax.random.fold_in(key, stage)
        idx = jax.random.choice(jax.random.fold_in(k, 0), n_particles, (n_particles,),
                                p=jnp.asarray(w / w.sum(), jnp.float32))
        g, beta = g[idx], new
        g, eps, _ = _moves(jax.random.fold_in(k, 1), g, jnp.float32(beta), eps,
                           value_and_grad=problem.value_and_grad, n_moves=n_moves, leapfrog=steps,
                           target_accept=_TARGET_ACCEPT[kernel])
        e, holds = problem.energy_holds(g)
        evals += n_particles * (n_moves * (steps + 1) + 1)
    return SMCRun(-math.inf, evals, max_stages, log_z, beta)


def smc_volume(spec: Spec, condition: Condition | None = None, *, n_particles: int = 500,
               kernel: str = "hmc", n_moves: int = 5, leapfrog: int = 8, ess_target: float = 0.5,
               replicates: int = 10, max_stages: int = 200, progress: bool | None = False) -> SMCResult:
    """Volume of ``condition`` (default: computes the spec's target) from independent replicates.

    Replicate ``r`` uses ``fold_in(key(seed), r)``.
    """
    if kernel not in SMC_KERNELS:
        raise SpecError("estimator.kernel", f"one of {list(SMC_KERNELS)} for 'smc'", kernel)
    if replicates < 2:
        raise SpecError("estimator.replicates", "an integer >= 2 (intervals come from replicates)", replicates)
    if spec.prior.kind not in ("gaussian", "uniform"):
        raise SpecError("prior.kind", "a continuous prior ('gaussian' or 'uniform') for 'smc'", spec.prior.kind)
    if condition is None:
        from counting.jobs import target_truth_table

        condition = computes(target_truth_table(spec), spec.model.n_inputs)
    from tqdm.auto import tqdm

    problem = Tempered.build(spec, condition)
    root = jax.random.key(spec.estimator.seed, impl=spec.estimator.key_impl)
    log_ps, evals, stages, bounds = [], 0, [], []
    for r in tqdm(range(replicates), desc="replicates", disable=(None if progress is None else not progress)):
        lp, ev, st, lz, _ = smc_run(jax.random.fold_in(root, r), problem, n_particles=n_particles, kernel=kernel,
                             n_moves=n_moves, leapfrog=leapfrog, ess_target=ess_target, max_stages=max_stages)
        log_ps.append(lp)
        evals += ev
        stages.append(st)
        bounds.append(lz / math.log(10))
    r = summarize_replicates(log_ps)
    return SMCResult(*r[:5], evals, float(np.mean(stages)), kernel, r.reached, float(max(bounds)))
