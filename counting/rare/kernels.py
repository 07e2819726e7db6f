"""Markov moves in Gaussian coordinates, for either rare-event target, as pure step functions.

Both rare-event methods move particles ``g`` (with their scores ``s``) under a tilt of the
standard Gaussian, ``N(g; 0, I) exp(w(s))``:

* :class:`Level` (subset simulation): ``w = 0`` where ``s >= level``, ``-inf`` elsewhere, i.e.
  the prior restricted to ``{score >= level}``;
* :class:`Tempered` (SMC): ``w = beta * s = -beta * E``, i.e. ``pi_beta ∝ N(0, I) exp(-beta E)``.

Every kernel is ``step(key, particles, target, ...) -> (particles, acceptance)`` and leaves the
target invariant; ``acceptance`` is the population's mean acceptance (probability for ``hmc``
and ``mala``). A :class:`Level` target is an indicator, so a proposal that leaves ``N(0, I)``
invariant is accepted exactly when it stays above the level and needs no uniform draw.

* :func:`pcn`: preconditioned Crank-Nicolson, ``g' = sqrt(1 - step**2) g + step xi``;
* :func:`elliptical_slice`: elliptical slice sampling (Murray, Adams & MacKay 2010) with at most ``shrinks``
  points on the ellipse ``g cos t + nu sin t``;
* :func:`rescaling`: Metropolis moves ``g_G <- lam g_G`` of each weight group ``G``;
* :func:`hmc`: Hamiltonian Monte Carlo with ``leapfrog`` steps of size ``eps``;
* :func:`mala`: the Metropolis-adjusted Langevin algorithm (``hmc`` with one leapfrog step).

Example:
    >>> import jax, jax.numpy as jnp
    >>> from counting.spec import MLPSpec, ScaledPrior
    >>> from counting.mechanisms.predicates import computes
    >>> from counting.rare.coordinates import GaussianProblem
    >>> problem = GaussianProblem.of(MLPSpec(n_inputs=2, widths=()), ScaledPrior(), computes(0x8, 2))
    >>> g = jax.random.normal(jax.random.key(0), (64, problem.n_params))
    >>> p = Particles(g, problem.evaluate(g)[0])
    >>> level = Level(float(p.score.min()))
    >>> q, acc = jax.jit(pcn, static_argnames="problem")(jax.random.key(1), p, level, 0.5, problem=problem)
    >>> bool((q.score >= level.level).all()), bool((problem.evaluate(q.g)[0] == q.score).all())
    (True, True)
    >>> step = jax.jit(elliptical_slice, static_argnames=("problem", "shrinks"))
    >>> q, acc = step(jax.random.key(2), p, Tempered(jnp.float32(1.0)), problem=problem, shrinks=4)
    >>> q.g.shape, 0.0 <= float(acc) <= 1.0
    ((64, 3), True)
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax
from jaxtyping import Array, Bool, Float, Key

from counting.rare.coordinates import GaussianProblem


class Particles(NamedTuple):
    """A population in Gaussian coordinates and the condition's score of each particle."""

    g: Float[Array, "B P"]
    score: Float[Array, "B"]


class Level(NamedTuple):
    """The prior restricted to ``{score >= level}`` (subset simulation)."""

    level: Float[Array, ""]

    hard = True  # an indicator: a prior-reversible proposal needs no uniform draw

    def log_weight(self, s: Float[Array, "B"]) -> Float[Array, "B"]:
        return jnp.where(s >= self.level, 0.0, -jnp.inf)

    @property
    def slope(self) -> float:
        """``d log_weight / d score`` almost everywhere."""
        return 0.0


class Tempered(NamedTuple):
    """The prior tilted by ``exp(beta * score) = exp(-beta E)`` (tempered SMC)."""

    beta: Float[Array, ""]

    hard = False

    def log_weight(self, s: Float[Array, "B"]) -> Float[Array, "B"]:
        return self.beta * s

    @property
    def slope(self) -> Float[Array, ""]:
        return self.beta


Target = Level | Tempered


def metropolis(key: Key[Array, ""] | None, log_ratio: Float[Array, "B"]) -> Bool[Array, "B"]:
    """Accept each proposal with probability ``min(1, exp(log_ratio))``. ``key=None``: the ratio is
    known to be 0 or 1 (an indicator target), so no uniform is drawn."""
    if key is None:
        return log_ratio >= 0
    return jnp.log(jax.random.uniform(key, log_ratio.shape)) < log_ratio


def _take(ok: Bool[Array, "B"], new: Particles, old: Particles) -> Particles:
    return Particles(jnp.where(ok[:, None], new.g, old.g), jnp.where(ok, new.score, old.score))


def _metropolis_move(key: Key[Array, ""] | None, p: Particles, prop_g: Float[Array, "B P"], target: Target,
                     problem: GaussianProblem, log_q: Float[Array, "B"] | float = 0.0
                     ) -> tuple[Particles, Bool[Array, "B"]]:
    """Accept or reject ``prop_g``: ``log_q`` is the proposal's log ratio under ``N(0, I)`` (0 for a
    proposal that leaves it invariant), times the target's weight ratio."""
    sp, _ = problem.evaluate(prop_g)
    log_ratio = log_q + target.log_weight(sp) - target.log_weight(p.score)
    ok = metropolis(key, log_ratio)
    return _take(ok, Particles(prop_g, sp), p), ok


def pcn(key: Key[Array, ""], p: Particles, target: Target, step: float, problem: GaussianProblem
        ) -> tuple[Particles, Float[Array, ""]]:
    """One preconditioned Crank-Nicolson move, ``g' = sqrt(1 - step**2) g + step xi``."""
    k_xi, k_u = (key, None) if target.hard else jax.random.split(key)
    prop = jnp.sqrt(1.0 - step**2) * p.g + step * jax.random.normal(k_xi, p.g.shape)
    p, ok = _metropolis_move(k_u, p, prop, target, problem)
    return p, ok.mean()


def elliptical_slice(key: Key[Array, ""], p: Particles, target: Target, problem: GaussianProblem, shrinks: int
        ) -> tuple[Particles, Float[Array, ""]]:
    """One elliptical slice move with at most ``shrinks`` points; a particle with no accepted point
    stays. Keys: ``split(key, 3)`` gives the ellipse direction, the first angle, and a stream whose
    draw ``i < shrinks`` is the angle after the ``i``-th shrink and draw ``shrinks`` the slice height."""
    g, s = p
    k_nu, k_t, k_shr = jax.random.split(key, 3)
    nu = jax.random.normal(k_nu, g.shape)
    t = jax.random.uniform(k_t, (g.shape[0],), maxval=2 * jnp.pi)
    log_y = target.log_weight(s) + jnp.log(jax.random.uniform(jax.random.fold_in(k_shr, shrinks), s.shape))
    lo, hi = t - 2 * jnp.pi, t
    done = jnp.zeros(g.shape[0], bool)

    def shrink(i, c):
        t, lo, hi, done, new_g, new_s = c
        prop = g * jnp.cos(t)[:, None] + nu * jnp.sin(t)[:, None]
        sp, _ = problem.evaluate(prop)
        ok = (target.log_weight(sp) > log_y) & ~done
        new_g = jnp.where(ok[:, None], prop, new_g)
        new_s = jnp.where(ok, sp, new_s)
        done = done | ok
        lo = jnp.where(t < 0, t, lo)
        hi = jnp.where(t >= 0, t, hi)
        u = jax.random.uniform(jax.random.fold_in(k_shr, i), t.shape)
        return lo + u * (hi - lo), lo, hi, done, new_g, new_s

    _, _, _, done, new_g, new_s = lax.fori_loop(0, shrinks, shrink, (t, lo, hi, done, g, s))
    return Particles(new_g, new_s), done.mean()


def rescaling(key: Key[Array, ""], p: Particles, target: Target, problem: GaussianProblem, log_step: float = 0.5
              ) -> tuple[Particles, Float[Array, ""]]:
    """Metropolis moves that rescale each weight group in turn: ``g_G <- lam g_G``.

    With ``log lam ~ N(0, log_step**2)`` (symmetric in ``log lam``) the ratio under ``N(0, I)`` is
    ``lam**|G| exp(-(lam**2 - 1) |g_G|**2 / 2)``, times the target's weight ratio. These moves reach
    the thin, scale-defined regions (weights small next to biases, one layer small next to another)
    that isotropic moves cross only slowly. Keys: ``split(key, 2 * groups)``, two per group.
    """
    groups = problem.groups
    keys = jax.random.split(key, 2 * len(groups))
    acc = 0.0
    for j, mask in enumerate(groups):
        m = jnp.asarray(mask, p.g.dtype)
        log_lam = log_step * jax.random.normal(keys[2 * j], (p.g.shape[0],))
        lam = jnp.exp(log_lam)
        sq = jnp.sum((p.g * m) ** 2, axis=1)
        log_q = float(mask.sum()) * log_lam - 0.5 * (lam**2 - 1.0) * sq
        prop = p.g * (1.0 + (lam[:, None] - 1.0) * m)
        p, ok = _metropolis_move(keys[2 * j + 1], p, prop, target, problem, log_q)
        acc = acc + ok.mean()
    return p, acc / max(len(groups), 1)


def _log_density(q: Float[Array, "B P"], target: Target, problem: GaussianProblem):
    """Log density of the tilted Gaussian (up to a constant), its gradient, and the score."""
    e, grad_e = problem.energy_and_grad(q)
    s = -e
    return -0.5 * jnp.sum(q * q, axis=1) + target.log_weight(s), -q - target.slope * grad_e, s


def hmc(key: Key[Array, ""], p: Particles, target: Target, eps: Float[Array, ""], problem: GaussianProblem,
        leapfrog: int) -> tuple[Particles, Float[Array, ""]]:
    """One Hamiltonian Monte Carlo move: ``leapfrog`` steps of size ``eps`` and a Metropolis test
    (a trajectory ending at a non-finite energy is rejected). Acceptance: the mean probability."""
    k_p, k_u = jax.random.split(key)
    q = p.g
    mom = jax.random.normal(k_p, q.shape)
    lp0, gr0, _ = _log_density(q, target, problem)
    h0 = lp0 - 0.5 * jnp.sum(mom * mom, axis=1)

    def leap(i, c):
        qn, pn, gr, _, _ = c
        pn = pn + 0.5 * eps * gr
        qn = qn + eps * pn
        lp, gr, s = _log_density(qn, target, problem)
        pn = pn + 0.5 * eps * gr
        return qn, pn, gr, lp, s

    qn, pn, _, lp1, s1 = lax.fori_loop(0, leapfrog, leap, (q, mom, gr0, lp0, p.score))
    h1 = lp1 - 0.5 * jnp.sum(pn * pn, axis=1)
    log_a = jnp.where(jnp.isfinite(h1), jnp.minimum(h1 - h0, 0.0), -jnp.inf)
    ok = metropolis(k_u, log_a)
    return _take(ok, Particles(qn, s1), p), jnp.mean(jnp.exp(log_a))


def mala(key: Key[Array, ""], p: Particles, target: Target, eps: Float[Array, ""], problem: GaussianProblem
         ) -> tuple[Particles, Float[Array, ""]]:
    """One Metropolis-adjusted Langevin move: :func:`hmc` with a single leapfrog step."""
    return hmc(key, p, target, eps, problem, leapfrog=1)
