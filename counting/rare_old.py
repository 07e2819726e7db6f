"""Rare-event volumes by subset simulation (multilevel splitting) under the prior.

Every continuous prior is a transform of a standard Gaussian vector ``g`` (``gaussian``: scaled
``g``; ``uniform``: scaled ``sqrt(3) erf(g / sqrt(2))``), so the estimator works in ``g``-space
where moves that leave ``N(0, I)`` invariant are known. With a condition's continuous ``score``
(0 where it holds, negative elsewhere) the volume factors as

    P(holds) = P(S >= L_1) P(S >= L_2 | S >= L_1) ... P(holds | S >= L_K),

with levels ``L_k`` set adaptively so each factor is about ``p0``. Each level keeps the particles
above its threshold and refills the population by a Markov chain that leaves the prior restricted
to ``{S >= L_k}`` invariant:

* ``pcn``: preconditioned Crank-Nicolson, ``g' = sqrt(1 - beta**2) g + beta xi``, accepted iff it
  stays above the level (``beta`` adapted towards 30% acceptance between levels);
* ``ess``: elliptical slice sampling restricted to the level (Murray, Adams & MacKay 2010): points
  on the ellipse ``g cos t + nu sin t`` with a shrinking bracket, at most ``ess_shrinks`` tries.

The estimate of one run is the product of the level fractions. Intervals come from ``replicates``
independent runs (keys split from the seed): the volume is the mean of the replicate
estimates and its 95% interval a Student-t interval on that mean, in log10 (if its lower end is not
positive, the lower end comes from a t-interval on the log10 replicate values instead). The result
states the network evaluations spent. Splitting is biased low when moves mix poorly: a replicate
spread far above the theory is the warning sign, so ``replicate_sd_log10`` is reported.

Example:
    >>> from counting.spec import parse_spec
    >>> spec = parse_spec('''
    ... [model]
    ... n_inputs = 2
    ... widths = []
    ... [target]
    ... name = "and"
    ... ''')
    >>> r = subset_volume(spec, n_particles=500, replicates=4)
    >>> -1.8 < r.log10_volume < -1.0      # exact: log10(1/24) = -1.380
    True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from scipy import stats

from counting.domain import cube
from counting.models import forward, param_layout
from counting.predicates import Condition, computes
from counting.priors import scale_vector, unflatten
from counting.spec import Spec, SpecError

KERNELS = ("pcn", "ess")


@dataclass(frozen=True)
class SubsetResult:
    """A rare-event volume with its replicate-based interval and cost."""

    log10_volume: float | None
    ci95: tuple[float | None, float | None]
    volume: float
    replicates_log10: tuple[float, ...]
    replicate_sd_log10: float
    evaluations: int
    levels: float
    kernel: str
    estimator: str = "subset"

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
            "mean_levels": self.levels,
        }


def gaussian_to_params(g, spec: Spec):
    """Flat prior parameters from standard Gaussian coordinates ``g [B, P]``."""
    scale = jnp.asarray(scale_vector(spec.model, spec.prior))
    if spec.prior.kind == "gaussian":
        return g * scale
    if spec.prior.kind == "uniform":
        return math.sqrt(3.0) * jax.scipy.special.erf(g / math.sqrt(2.0)) * scale
    raise SpecError("prior.kind", "a continuous prior ('gaussian' or 'uniform') for 'subset'", spec.prior.kind)


class _Groups(tuple):
    """Hashable tuple of boolean masks (a static argument of the jitted level functions)."""

    def __hash__(self):
        return hash(tuple(m.tobytes() for m in self))

    def __eq__(self, other):
        return len(self) == len(other) and all(np.array_equal(a, b) for a, b in zip(self, other))


def weight_groups(spec: Spec) -> _Groups:
    """One boolean mask over the flat parameters per weight matrix (biases excluded)."""
    masks, o = [], 0
    total = scale_vector(spec.model, spec.prior).shape[0]
    for slot in param_layout(spec.model):
        size = int(np.prod(slot.shape))
        if slot.fan_in is not None:
            m = np.zeros(total, bool)
            m[o : o + size] = True
            masks.append(m)
        o += size
    return _Groups(masks)


def _evaluator(spec: Spec, cond: Condition):
    x = jnp.asarray(cube(spec.model.n_inputs))

    def evaluate(g):
        fwd = forward(spec.model, unflatten(spec.model, gaussian_to_params(g, spec)), x)
        return cond.score(fwd), cond.holds(fwd)

    return evaluate


def _scale_moves(key, g, s, level, evaluate, groups, log_step=0.5):
    """Metropolis moves that rescale one weight group (a layer's weights): ``g_G <- lam g_G``.

    With ``log lam ~ N(0, log_step**2)`` (symmetric in ``log lam``) the acceptance ratio for the
    standard Gaussian restricted to the level is ``lam**|G| exp(-(lam**2 - 1) |g_G|**2 / 2)`` times
    the level indicator. These moves reach the thin, scale-defined regions (weights small next to
    biases, one layer small next to another) that isotropic moves cross only slowly.
    """
    keys = jax.random.split(key, 2 * len(groups))
    for j, mask in enumerate(groups):
        m = jnp.asarray(mask, g.dtype)
        log_lam = log_step * jax.random.normal(keys[2 * j], (g.shape[0],))
        lam = jnp.exp(log_lam)
        sq = jnp.sum((g * m) ** 2, axis=1)
        log_ratio = float(mask.sum()) * log_lam - 0.5 * (lam**2 - 1.0) * sq
        prop = g * (1.0 + (lam[:, None] - 1.0) * m)
        sp, _ = evaluate(prop)
        u = jax.random.uniform(keys[2 * j + 1], (g.shape[0],))
        ok = (sp >= level) & (jnp.log(u) < log_ratio)
        g, s = jnp.where(ok[:, None], prop, g), jnp.where(ok, sp, s)
    return g, s


@partial(jax.jit, static_argnames=("evaluate", "n_steps", "groups"))
def _pcn_level(key, g, s, level, beta, *, evaluate, n_steps, groups):
    def step(carry, k):
        g, s, acc = carry
        k1, k2 = jax.random.split(k)
        prop = jnp.sqrt(1.0 - beta**2) * g + beta * jax.random.normal(k1, g.shape)
        sp, _ = evaluate(prop)
        ok = sp >= level
        g, s = jnp.where(ok[:, None], prop, g), jnp.where(ok, sp, s)
        g, s = _scale_moves(k2, g, s, level, evaluate, [np.asarray(m) for m in groups])
        return (g, s, acc + ok.mean()), None

    (g, s, acc), _ = lax.scan(step, (g, s, 0.0), jax.random.split(key, n_steps))
    return g, s, acc / n_steps


@partial(jax.jit, static_argnames=("evaluate", "n_steps", "shrinks", "groups"))
def _ess_level(key, g, s, level, *, evaluate, n_steps, shrinks, groups):
    def step(carry, k):
        g, s, acc = carry
        k_nu, k_t, k_shr, k_sc = jax.random.split(k, 4)
        nu = jax.random.normal(k_nu, g.shape)
        t = jax.random.uniform(k_t, (g.shape[0],), maxval=2 * jnp.pi)
        lo, hi = t - 2 * jnp.pi, t
        done = jnp.zeros(g.shape[0], bool)
        new_g, new_s = g, s

        def shrink(i, c):
            t, lo, hi, done, new_g, new_s = c
            prop = g * jnp.cos(t)[:, None] + nu * jnp.sin(t)[:, None]
            sp, _ = evaluate(prop)
            ok = (sp >= level) & ~done
            new_g = jnp.where(ok[:, None], prop, new_g)
            new_s = jnp.where(ok, sp, new_s)
            done = done | ok
            lo = jnp.where(t < 0, t, lo)
            hi = jnp.where(t >= 0, t, hi)
            u = jax.random.uniform(jax.random.fold_in(k_shr, i), t.shape)
            return lo + u * (hi - lo), lo, hi, done, new_g, new_s

        _, _, _, done, new_g, new_s = lax.fori_loop(0, shrinks, shrink, (t, lo, hi, done, new_g, new_s))
        new_g, new_s = _scale_moves(k_sc, new_g, new_s, level, evaluate, [np.asarray(m) for m in groups])
        return (new_g, new_s, acc + done.mean()), None

    (g, s, acc), _ = lax.scan(step, (g, s, 0.0), jax.random.split(key, n_steps))
    return g, s, acc / n_steps


@dataclass(frozen=True)
class Problem:
    """What one run needs, built once per estimate so every replicate reuses the compiled code."""

    evaluate: Callable
    n_params: int
    groups: _Groups

    @staticmethod
    def build(spec: Spec, cond: Condition, scale_moves: bool = True) -> "Problem":
        n_par = scale_vector(spec.model, spec.prior).shape[0]
        return Problem(jax.jit(_evaluator(spec, cond)), n_par, weight_groups(spec) if scale_moves else _Groups())


def subset_run(key, problem: Problem, *, n_particles: int = 1000, p0: float = 0.1, n_steps: int = 10,
               kernel: str = "ess", max_levels: int = 200, ess_shrinks: int = 8) -> tuple[float, int, int]:
    """One subset-simulation run: (natural log of the estimate, network evaluations, levels).

    A run that reaches ``max_levels`` without the condition holding returns ``-inf``.
    """
    evaluate, n_par, groups = problem.evaluate, problem.n_params, problem.groups
    n_groups = len(groups)
    keys = jax.random.split(key, max_levels + 1)
    g = jax.random.normal(keys[0], (n_particles, n_par))
    s, holds = evaluate(g)
    evals, log_p, beta = n_particles, 0.0, 0.5
    n_keep = max(1, int(round(p0 * n_particles)))
    for level_i in range(max_levels):
        n_hold = int(jnp.sum(holds))
        if n_hold >= n_keep:
            return log_p + math.log(n_hold / n_particles), evals, level_i
        s_np = np.asarray(s)
        level = float(np.sort(s_np)[n_particles - n_keep])
        above = np.flatnonzero(s_np >= level)
        log_p += math.log(len(above) / n_particles)
        idx = above[np.arange(n_particles) % len(above)]
        g, s = g[idx], s[idx]
        if kernel == "pcn":
            g, s, acc = _pcn_level(keys[level_i + 1], g, s, level, beta, evaluate=evaluate, n_steps=n_steps,
                                   groups=groups)
            beta = float(np.clip(beta * math.exp(float(acc) - 0.3), 0.01, 1.0))
            evals += n_particles * n_steps * (1 + n_groups)
        else:
            g, s, acc = _ess_level(keys[level_i + 1], g, s, level, evaluate=evaluate, n_steps=n_steps,
                                   shrinks=ess_shrinks, groups=groups)
            evals += n_particles * n_steps * (ess_shrinks + n_groups)
        _, holds = evaluate(g)
        evals += n_particles
    return -math.inf, evals, max_levels


def combine_replicates(log_ps: list[float]) -> tuple[float | None, tuple[float | None, float | None]]:
    """log10 of the mean of replicate estimates (given as natural logs) and a 95% t-interval on it."""
    p = np.exp(np.asarray(log_ps, np.float64) - max(log_ps)) if np.isfinite(max(log_ps)) else None
    r = len(log_ps)
    if p is None:
        return None, (None, None)
    shift = max(log_ps) / math.log(10)
    mean, sd = p.mean(), p.std(ddof=1)
    t = stats.t.ppf(0.975, r - 1)
    lo, hi = mean - t * sd / math.sqrt(r), mean + t * sd / math.sqrt(r)
    est = math.log10(mean) + shift
    if lo > 0:
        return est, (math.log10(lo) + shift, math.log10(hi) + shift)
    finite = np.asarray([x for x in log_ps if np.isfinite(x)]) / math.log(10)
    if len(finite) < 2:
        return est, (None, math.log10(hi) + shift)
    m, sdl = finite.mean(), finite.std(ddof=1)
    half = stats.t.ppf(0.975, len(finite) - 1) * sdl / math.sqrt(len(finite))
    # replicates too dispersed for a positive lower end on the linear scale: take the lower end
    # from the log10 values (a t-interval on their mean) and keep the linear-scale upper end
    return est, (min(m - half, est), math.log10(hi) + shift)


class ReplicateSummary(NamedTuple):
    """What every replicate-based estimator reports: log10 volume and 95% interval (as
    :func:`combine_replicates`), the volume, each replicate's log10, their sd, and how many
    replicates reached the condition (finite estimates)."""

    log10_volume: float | None
    ci95: tuple[float | None, float | None]
    volume: float
    replicates_log10: tuple[float, ...]
    replicate_sd_log10: float
    reached: int


def summarize_replicates(log_ps: list[float]) -> ReplicateSummary:
    """Summary of replicate estimates given as natural logs (``-inf``: did not reach the condition)."""
    est, ci = combine_replicates(log_ps)
    est = None if est is None else float(est)
    ci = tuple(None if c is None else float(c) for c in ci)
    l10 = tuple(float(x / math.log(10)) for x in log_ps)
    finite = [x for x in l10 if np.isfinite(x)]
    sd = float(np.std(finite, ddof=1)) if len(finite) > 1 else float("nan")
    return ReplicateSummary(est, ci, 10**est if est is not None else 0.0, l10, sd, len(finite))


def subset_volume(spec: Spec, condition: Condition | None = None, *, n_particles: int = 1000,
                  p0: float = 0.1, n_steps: int = 10, kernel: str = "ess", replicates: int = 10,
                  max_levels: int = 200, ess_shrinks: int = 8, scale_moves: bool = True,
                  progress: bool | None = False) -> SubsetResult:
    """Volume of ``condition`` (default: computes the spec's target) from independent replicates.

    Replicate ``r`` uses the ``r``-th key of ``split(key(seed), replicates)``.
    """
    if kernel not in KERNELS:
        raise SpecError("estimator.kernel", f"one of {list(KERNELS)}", kernel)
    if replicates < 2:
        raise SpecError("estimator.replicates", "an integer >= 2 (intervals come from replicates)", replicates)
    if condition is None:
        from counting.jobs import target_truth_table

        condition = computes(target_truth_table(spec), spec.model.n_inputs)
    from tqdm.auto import tqdm

    problem = Problem.build(spec, condition, scale_moves)
    root = jax.random.key(spec.estimator.seed, impl=spec.estimator.key_impl)
    keys = jax.random.split(root, replicates)
    log_ps, evals, levels = [], 0, []
    for r in tqdm(range(replicates), desc="replicates", disable=(None if progress is None else not progress)):
        lp, ev, lv = subset_run(keys[r], problem, n_particles=n_particles, p0=p0, n_steps=n_steps,
                                kernel=kernel, max_levels=max_levels, ess_shrinks=ess_shrinks)
        log_ps.append(lp)
        evals += ev
        levels.append(lv)
    r = summarize_replicates(log_ps)
    return SubsetResult(*r[:5], evals, float(np.mean(levels)), kernel)
