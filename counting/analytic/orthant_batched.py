"""Batched Gaussian orthant probabilities ``P(s_i y_i > 0 for all i)``, ``y ~ N(0, K)``, in pure JAX.

The device counterpart of :func:`counting.analytic.orthant.orthant_probability` (the reference):
:func:`log_orthant` takes a batch of covariances ``[B, d, d]`` and sign patterns ``[B, d]`` and returns
per network the natural log of a randomised-QMC estimate, its replicates and a relative standard
error. It is ``jit``- and ``vmap``-friendly (static ``n_qmc`` and ``replicates``), float32 by
default, and works in log space throughout, so probabilities of 1e-30 and far below keep their
relative accuracy instead of underflowing.

Method (per network, all networks at once):

* **Correlation scale.** ``w = -S y`` (``S = diag(signs)``) scaled to unit variances, so
  ``P = P(w < 0)`` with ``w ~ N(0, C)``, ``C`` unit-diagonal.
* **Prioritised pivoted Cholesky** (:func:`sov_plans`): a ``lax.fori_loop`` over the ``d`` steps
  with a per-network ``argmin`` and row/column swaps; at step ``k`` the remaining variable with
  the smallest expected conditional limit probability ``Phi(b_i)`` becomes pivot ``k`` (Genz &
  Bretz 2009, ch. 4, variable reordering), exactly as in the host module.
* **Singular covariances** get the host module's singular-case treatment (Genz & Bretz 2009,
  sec. 4.1.2), not a ridge: once no remaining variable has conditional variance above
  :data:`RANK_TOL` the factorisation stops, and every dependent variable becomes a further upper or
  lower limit on the last pivot it depends on, so an infeasible sign pattern gives exactly
  ``log p = -inf``. A ridge would bias every probability of a low-rank ``K`` (rank ``<= W + 1``
  for ``W`` readout features) and refusing would reject exactly the narrow networks the estimator
  needs. The float32 tolerances are coarser than the host's (see *Limits*).
* **Separation of variables** (GHK, :func:`sov_log_integrand`): step ``k`` draws ``z_k`` from the
  standard normal truncated to its limits by inverting a uniform, in log space (``log_ndtr``
  differences, the lower-tail inverse :func:`ndtri_exp`, the upper tail through the complement),
  and adds ``log P(lo_k < Z < hi_k)``; a running ``t = A z`` (``O(d)`` per step) carries every
  constraint's limit, so the cost is ``O(d^2)`` per point whether or not ``K`` is singular.
* **Randomised QMC**: a rank-1 lattice rule with the generating vector of Cools, Kuo & Nuyens
  (2006, "Constructing embedded lattice rules for multivariate integration", SIAM J. Sci.
  Comput. 28:2162-2188; the order-2 vector ``lattice-32001-1024-1048575.3600`` for ``2^20`` points,
  embedded, so every power of 2 up to ``2^20`` is a good rule), randomly shifted, with the baker's
  (tent) transform ``u -> 1 - |2u - 1|`` that makes the lattice rule converge faster for the
  non-periodic integrand. Replicate ``r`` of network ``b`` uses the shift drawn from
  ``fold_in(fold_in(key, b), r)``; the replicates give the standard error.
* **Botev's minimax tilt** (:func:`minimax_tilt`, default ``tilt=True``) for full-rank plans: the
  saddle point of ``psi(x, mu)`` by a fixed number of damped Newton steps per network
  (``jax.hessian``), shifting step ``k``'s proposal to ``N(mu_k, 1)``; it keeps the relative error
  bounded in the deep tail. Singular plans, and solves that do not converge, use ``mu = 0``.

Limits (measured in ``tests/analytic/test_orthant_batched.py`` and on relu covariances ``K = H H^T / W + 1``):

* The tilt needs a full-rank plan. Untilted (``tilt=False``, or a singular ``K``) the relative
  error grows in the deep tail and the replicates understate it (their distribution is heavy
  tailed): on relu covariances (``d = 16, 32``, ``W = 40``, ``n_qmc = 1024``, 8 replicates) the
  untilted relative standard error is ~3e-3 at ``p ~ 1e-3``, ~0.2 at ``p ~ 1e-8`` and ~1 below
  ``1e-15``, where the log estimate was off by 1 to 12 decades (in float64 too: it is the method,
  not the precision). Tilted, the same cases stay within 1e-3 to 3e-2 relative standard error down
  to ``p ~ 1e-25`` and agree with the host module within two standard errors.
* float32: conditional variances below :data:`RANK_TOL` (1e-5 on the correlation scale) count as
  zero, i.e. the variable as an exact combination of the pivots, and Cholesky coefficients below
  :data:`COEF_TOL` (1e-4) of their row's largest as rounding noise (the host: 1e-10 and 1e-8). A
  full-rank ``K`` whose smallest conditional variance is below 1e-5 is thus treated as singular.
  On singular relu covariances (``W = 4``, rank 4-5, ``d = 8, 16, 32``) 11 of 12 sign patterns
  agreed with the host module within ~2 standard errors (untilted, so the errors grow below
  ``p ~ 1e-6``), but one very thin cone (host: ``p = 1e-8 +- 8%``) came out empty (``-inf``).
  Call with float64 inputs under ``jax_enable_x64`` to get the host's tolerances.
* Speed on a 2-core CPU (``B = 4096``, ``d = 16``, ``n_qmc = 256``, 4 replicates, relu ``K``):
  ~200 networks/s tilted (the host module in a loop: ~47/s, so ~4x), ~230/s untilted (host ~70/s).
  The cost is the ``O(n_qmc * replicates * d^2)`` integrand (special functions per point and
  step); the tilt's Newton solve is ~10% of it.
* ``d - 1 <= 250`` (the generating vector's length); ``n_qmc`` a power of 2 up to ``2^20``.

Example:
    >>> import jax, jax.numpy as jnp
    >>> cov = jnp.array([[[1.0, 0.5], [0.5, 1.0]]])          # 1/4 + asin(1/2) / (2 pi) = 1/3
    >>> out = log_orthant(jax.random.key(0), cov, jnp.ones((1, 2)), n_qmc=256, replicates=4, tilt=False)
    >>> round(float(jnp.exp(out.log_p[0])), 4), out.log_reps.shape
    (0.3333, (1, 4))
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.scipy.special import log_ndtr, ndtri
from jaxtyping import Array, Bool, Float, Int, Key

#: Conditional variance (correlation scale) at or below which a variable counts as a linear
#: combination of the pivots (float32 rounding in ``1 - sum L_ij^2`` is ~``d * 6e-8``).
RANK_TOL = 1e-5
#: Coefficients of a dependent row smaller than this times its largest are rounding noise.
COEF_TOL = 1e-4
#: The host module's tolerances, used for float64 inputs.
RANK_TOL_F64, COEF_TOL_F64 = 1e-10, 1e-8

LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
LOG_HALF = math.log(0.5)
#: Below this ``log q`` (``exp`` would leave float32's normal range) :func:`ndtri_exp` starts from
#: the asymptotic inverse instead of ``ndtri(exp(log q))``.
DEEP_LOG_Q = -80.0

#: Cools, Kuo & Nuyens (2006) order-2 embedded lattice generating vector for ``2^20`` points
#: (``lattice-32001-1024-1048575.3600``, F. Y. Kuo's lattice rule tables), all 250 components.
CKN_GENERATOR = (
    1, 182667, 469891, 498753, 110745, 446247, 250185, 118627, 245333, 283199,
    408519, 391023, 246327, 126539, 399185, 461527, 300343, 69681, 516695, 436179, 106383, 238523,
    413283, 70841, 47719, 300129, 113029, 123925, 410745, 211325, 17489, 511893, 40767, 186077,
    519471, 255369, 101819, 243573, 66189, 152143, 503455, 113217, 132603, 463967, 297717, 157383,
    224015, 502917, 36237, 94049, 170665, 79397, 123963, 223451, 323871, 303633, 98567, 318855,
    494245, 477137, 177975, 64483, 26695, 88779, 94497, 239429, 381007, 110205, 339157, 73397,
    407559, 181791, 442675, 301397, 32569, 147737, 189949, 138655, 350241, 63371, 511925, 515861,
    434045, 383435, 249187, 492723, 479195, 84589, 99703, 239831, 269423, 182241, 61063, 130789,
    143095, 471209, 139019, 172565, 487045, 304803, 45669, 380427, 19547, 425593, 337729, 237863,
    428453, 291699, 238587, 110653, 196113, 465711, 141583, 224183, 266671, 169063, 317617, 68143,
    291637, 263355, 427191, 200211, 365773, 254701, 368663, 248047, 209221, 279201, 323179, 80217,
    122791, 316633, 118515, 14253, 129509, 410941, 402601, 511437, 10469, 366469, 463959, 442841,
    54641, 44167, 19703, 209585, 69037, 33317, 433373, 55879, 245295, 10905, 468881, 128617, 417919,
    45067, 442243, 359529, 51109, 290275, 168691, 212061, 217775, 405485, 313395, 256763, 152537, 326437,
    332981, 406755, 423147, 412621, 362019, 279679, 169189, 107405, 251851, 5413, 316095, 247945, 422489,
    2555, 282267, 121027, 369319, 204587, 445191, 337315, 322505, 388411, 102961, 506099, 399801, 254381,
    452545, 309001, 147013, 507865, 32283, 320511, 264647, 417965, 227069, 341461, 466581, 386241,
    494585, 201479, 151243, 481337, 68195, 75401, 58359, 448107, 459499, 9873, 365117, 350845, 181873,
    7917, 436695, 43899, 348367, 423927, 437399, 385089, 21693, 268793, 49257, 250211, 125071, 341631,
    310163, 94631, 108795, 21175, 142847, 383599, 71105, 65989, 446433, 177457, 107311, 295679, 442763,
    40729, 322721, 420175, 430359, 480757,
)


class OrthantBatch(NamedTuple):
    """Per-network randomised-QMC estimates of orthant probabilities, natural-log scale.

    ``log_p [B]`` is the log of the replicates' (linear-scale) mean, ``log_reps [B, R]`` the
    replicates' logs, ``rel_se [B]`` the standard error of that mean (replicates' standard deviation
    over ``sqrt(R)``) relative to it, roughly the standard error of ``log_p``. An infeasible
    sign pattern of a singular covariance gives ``log_p = -inf`` and ``rel_se = 0``. ``rank [B]``
    is the numerical rank the factorisation found.
    """

    log_p: Float[Array, "B"]
    log_reps: Float[Array, "B R"]
    rel_se: Float[Array, "B"]
    rank: Int[Array, "B"]


class SovPlans(NamedTuple):
    """Separation-of-variables plans for ``P(w < 0)``, one per network (see the host ``SovPlan``).

    In the pivoted order ``w = L z``, ``z ~ N(0, I)``; row ``i`` bounds ``z_k``, ``k = owner[i]``:
    ``w_i < 0`` iff ``z_k < A_i . z`` (``upper[i]``) or ``z_k > A_i . z``, where ``A`` holds
    ``-L_ij / L_ik`` for ``j < k`` and zeros elsewhere. Steps ``k >= rank`` own no row.
    """

    A: Float[Array, "B d d"]
    owner: Int[Array, "B d"]
    upper: Bool[Array, "B d"]
    rank: Int[Array, "B"]


# ----------------------------------------------------------------------------- truncated normal
def ndtri_exp(log_q: Float[Array, "*s"]) -> Float[Array, "*s"]:
    """``Phi^{-1}(exp(log_q))`` for ``log_q <= log(1/2)``, accurate however small ``exp(log_q)`` is.

    ``ndtri(exp(log_q))`` while ``exp`` stays a normal float32 (``log_q > -80``), else the
    asymptotic inverse of ``log Phi(x) ~ -x^2/2 - log(-x) - log sqrt(2 pi)``; then two Newton steps
    on ``log_ndtr(x) = log_q`` (derivative ``phi(x) / Phi(x)``).
    """
    deep = log_q < DEEP_LOG_Q
    x = ndtri(jnp.exp(jnp.maximum(log_q, DEEP_LOG_Q)))
    t = -2.0 * (jnp.minimum(log_q, DEEP_LOG_Q) + LOG_SQRT_2PI)
    x = jnp.where(deep, -jnp.sqrt(t - jnp.log(t)), x)
    for _ in range(2):
        lx = log_ndtr(x)
        x = x - (lx - log_q) / jnp.exp(-0.5 * x * x - LOG_SQRT_2PI - lx)
    return x


def truncated_step(lo: Float[Array, "P"], hi: Float[Array, "P"], u: Float[Array, "P"]
                   ) -> tuple[Float[Array, "P"], Float[Array, "P"]]:
    """``log P(lo < Z < hi)`` and ``Z = Phi^{-1}(Phi(lo) + u (Phi(hi) - Phi(lo)))`` for ``Z ~ N(0, 1)``.

    ``lo = -inf`` / ``hi = +inf`` mean no limit. Signs are flipped so the interval's mass lies on
    the lower side (``lo + hi <= 0``), where ``log_ndtr`` differences keep relative accuracy; the
    draw inverts ``log q`` with :func:`ndtri_exp` when ``q < 1/2`` and the complement ``1 - q``
    (computed directly, never as ``1 - q``) otherwise. Empty intervals, and intervals whose mass
    underflows, give ``-inf`` and ``Z = 0``.
    """
    flip = lo + hi > 0  # nan (no limits at all) compares False
    empty = ~(hi > lo)
    a = jnp.where(empty, -1.0, jnp.where(flip, -hi, lo))
    b = jnp.where(empty, 0.0, jnp.where(flip, -lo, hi))
    la, lb = log_ndtr(a), log_ndtr(b)
    logp = lb + jnp.log(jnp.maximum(-jnp.expm1(la - lb), 0.0))
    log_q = jnp.logaddexp(la, jnp.log(u) + logp)
    lower = log_q < LOG_HALF
    z_lo = ndtri_exp(jnp.where(lower, log_q, LOG_HALF))
    tail = (1.0 - u) * jnp.exp(logp) + jnp.exp(log_ndtr(-b))  # 1 - q when q >= 1/2
    z_hi = -ndtri(jnp.where(lower, 0.5, jnp.clip(tail, 0.0, 0.5)))
    z = jnp.where(lower, z_lo, z_hi)
    # so far in the tail that the compiled inverse fails (nan): the mass sits at the upper limit b
    z = jnp.clip(jnp.where(jnp.isnan(z), b, z), a, b)
    # no mass at all: an empty interval, or one so far in the tail that log_ndtr underflows (then
    # logp is -inf or nan and z infinite); the point is dead, and z = 0 keeps the later steps finite
    dead = empty | ~(logp > -jnp.inf)
    return jnp.where(dead, -jnp.inf, logp), jnp.where(dead, 0.0, jnp.where(flip, -z, z))


# ----------------------------------------------------------------------------- factorisation
def expected_truncated(b: Float[Array, "*s"]) -> Float[Array, "*s"]:
    """``E[Z | Z < b] = -phi(b) / Phi(b)`` for ``Z ~ N(0, 1)``, in log space (``0`` for ``b = inf``)."""
    return -jnp.exp(-0.5 * b * b - LOG_SQRT_2PI - log_ndtr(b))


def correlation(cov: Float[Array, "d d"], signs: Float[Array, "d"]) -> Float[Array, "d d"]:
    """Unit-diagonal covariance of ``w = -S y`` (``S = diag(sign(signs))``)."""
    s = jnp.where(signs > 0, 1.0, -1.0).astype(cov.dtype)
    sd = jnp.sqrt(jnp.diagonal(cov))
    corr = s[:, None] * cov * s[None, :] / (sd[:, None] * sd[None, :])
    return corr.at[jnp.diag_indices(cov.shape[0])].set(1.0)


def prioritised_cholesky(corr: Float[Array, "d d"], tol: float) -> tuple[Float[Array, "d d"], Int[Array, ""]]:
    """Pivoted Cholesky of ``corr`` with Genz-Bretz prioritisation; ``(L [d, d], rank)``.

    As the host's ``prioritised_cholesky``: at step ``k`` each remaining variable with conditional
    variance ``v_i > tol`` has expected limit ``b_i = -L_i . y / sqrt(v_i)`` (``y_j = E[z_j | z_j <
    b_j]`` for the pivots so far) and the smallest ``b_i`` becomes pivot ``k``. When none has
    ``v_i > tol`` the step does nothing (column ``k`` of ``L`` stays 0), so ``L``'s first ``rank``
    columns are the factor and its rows past ``rank`` the dependent variables. The order of ``w``
    itself is irrelevant to the probability; :func:`pivoted_cholesky` also returns it (for draws).
    """
    L, rank, _ = pivoted_cholesky(corr, tol)
    return L, rank


def pivoted_cholesky(corr: Float[Array, "d d"], tol: float
                     ) -> tuple[Float[Array, "d d"], Int[Array, ""], Int[Array, "d"]]:
    """:func:`prioritised_cholesky` with the permutation: ``(L, rank, perm)``, row ``j`` of ``L``
    being variable ``perm[j]`` of ``corr``."""
    d = corr.shape[0]
    idx = jnp.arange(d)

    def step(k, state):
        c, L, y, rank, perm = state
        v = jnp.diagonal(c) - jnp.sum(L * L, axis=1)
        ok = (idx >= k) & (v > tol)
        active = jnp.any(ok)
        b = jnp.where(ok, -(L @ y) / jnp.sqrt(jnp.where(ok, v, 1.0)), jnp.inf)
        i = jnp.where(active, jnp.argmin(b), k)
        swap = jnp.where(idx == k, i, jnp.where(idx == i, k, idx))
        c, L, v = c[swap][:, swap], L[swap], v[swap]
        lkk = jnp.sqrt(jnp.where(active, v[k], 1.0))
        col = (c[:, k] - L @ L[k]) / lkk
        col = jnp.where((idx > k) & active, col, 0.0).at[k].set(jnp.where(active, lkk, 0.0))
        L = L.at[:, k].set(col)
        y = y.at[k].set(jnp.where(active, expected_truncated(b[i]), 0.0))
        return c, L, y, rank + active.astype(rank.dtype), perm[swap]

    zeros = jnp.zeros_like(corr)
    # initial carries made *_like the inputs, so that under shard_map they vary over the same axes
    rank0 = jnp.zeros_like(corr[0, 0], jnp.int32)
    _, L, _, rank, perm = lax.fori_loop(0, d, step, (corr, zeros, zeros[0], rank0, idx + rank0))
    return L, rank, perm


def sov_factor(corr: Float[Array, "d d"], rank_tol: float, coef_tol: float
               ) -> tuple[Float[Array, "d d"], Int[Array, ""], Int[Array, "d"]]:
    """``corr``'s pivoted factor with coefficients below ``coef_tol`` of their row's largest set to
    0 (rounding noise), its rank and its permutation (:func:`pivoted_cholesky`)."""
    L, rank, perm = pivoted_cholesky(corr, rank_tol)
    L = jnp.where(jnp.abs(L) > coef_tol * jnp.max(jnp.abs(L), axis=1, keepdims=True), L, 0.0)
    return L, rank, perm


def sov_plan(corr: Float[Array, "d d"], rank_tol: float, coef_tol: float) -> SovPlans:
    """One network's plan: factor ``corr`` and give each row to the last pivot it depends on."""
    L, rank, _ = sov_factor(corr, rank_tol, coef_tol)
    return plan_of(L, rank)


def plan_of(L: Float[Array, "d d"], rank: Int[Array, ""]) -> SovPlans:
    """The plan of a pruned pivoted factor (:func:`sov_factor`)."""
    d = L.shape[0]
    cols = jnp.arange(d)
    owner = jnp.max(jnp.where(L != 0, cols[None, :], -1), axis=1)
    coef = jnp.take_along_axis(L, owner[:, None], axis=1)  # nonzero: every row has unit variance
    A = jnp.where(cols[None, :] < owner[:, None], -L / coef, 0.0)
    return SovPlans(A, owner, coef[:, 0] > 0, rank)


def sov_plans(cov: Float[Array, "B d d"], signs: Float[Array, "B d"]) -> SovPlans:
    """Plans for a batch; float64 inputs (under ``jax_enable_x64``) use the host's tolerances."""
    wide = cov.dtype == jnp.float64
    rank_tol, coef_tol = (RANK_TOL_F64, COEF_TOL_F64) if wide else (RANK_TOL, COEF_TOL)
    return jax.vmap(lambda c, s: sov_plan(correlation(c, s), rank_tol, coef_tol))(cov, signs)


# ----------------------------------------------------------------------------- minimax tilt
#: Newton iterations for the tilt's saddle point, and the convergence tolerance (float32 scale).
TILT_ITERATIONS, TILT_TOL = 40, 1e-3
#: Step lengths tried by the backtracking line search, longest first.
TILT_STEPS = tuple(2.0**-i for i in range(10))


def tilt_psi(y: Float[Array, "m"], A: Float[Array, "d d"]) -> Float[Array, ""]:
    """Botev's ``psi(x, mu) = sum_k log Phi(A_k . x - mu_k) + mu_k^2 / 2 - x_k mu_k`` for a full-rank plan.

    ``y = (x_0..x_{d-2}, mu_0..mu_{d-2})``, ``x_{d-1} = mu_{d-1} = 0`` (Botev 2017, as in the host's
    ``tilt_gradient``; a full-rank plan has one upper limit per step, ``hi_k = A_k . x``).
    """
    d = A.shape[0]
    x = jnp.zeros(d, y.dtype).at[: d - 1].set(y[: d - 1])
    mu = jnp.zeros(d, y.dtype).at[: d - 1].set(y[d - 1:])
    return jnp.sum(log_ndtr(A @ x - mu) + mu * (0.5 * mu - x))


def minimax_tilt(A: Float[Array, "d d"], full_rank: Bool[Array, ""]) -> Float[Array, "d"]:
    """The per-step tilt ``mu [d]`` of one plan: Botev's saddle point ``grad psi = 0`` by damped Newton.

    From ``x = mu = 0``, :data:`TILT_ITERATIONS` Newton steps (``jax.grad``/``jax.hessian`` of
    :func:`tilt_psi`), each the longest of :data:`TILT_STEPS` that makes ``|grad psi|`` finite and
    smaller (otherwise none). Zeros (no tilt: the plain estimator) for a singular plan or when the
    iteration does not reach ``max |grad| <= TILT_TOL (1 + max |y|)``; any ``mu`` keeps the
    estimator unbiased, so a failed solve only costs variance.
    """
    d = A.shape[0]
    if d < 2:
        return jnp.zeros(d, A.dtype)
    grad = jax.grad(tilt_psi)
    hess = jax.hessian(tilt_psi)
    steps = jnp.asarray(TILT_STEPS, A.dtype)

    def norm(g):
        n = jnp.sqrt(jnp.sum(g * g))
        return jnp.where(jnp.isfinite(n), n, jnp.inf)

    def newton(_, state):
        y, g = state
        h = hess(y, A)
        step = jnp.linalg.solve(h, -g)
        step = jnp.where(jnp.all(jnp.isfinite(step)), step, 0.0)
        cand = y[None] + steps[:, None] * step[None]
        gs = jax.vmap(lambda c: grad(c, A))(cand)
        better = jax.vmap(norm)(gs) < (1.0 - 1e-4 * steps) * norm(g)
        pick = jnp.argmax(better)
        ok = jnp.any(better)
        return jnp.where(ok, cand[pick], y), jnp.where(ok, gs[pick], g)

    y0 = jnp.zeros(2 * (d - 1), A.dtype) + jnp.zeros_like(A[0, 0])  # varying as A does under shard_map
    y, g = lax.fori_loop(0, TILT_ITERATIONS, newton, (y0, grad(y0, A)))
    good = full_rank & (jnp.max(jnp.abs(g)) <= TILT_TOL * (1.0 + jnp.max(jnp.abs(y)))) & jnp.all(jnp.isfinite(y))
    mu = jnp.zeros(d, A.dtype).at[: d - 1].set(y[d - 1:])
    return jnp.where(good, mu, 0.0)


# ----------------------------------------------------------------------------- integrand and points
def sov_log_integrand(A: Float[Array, "d d"], owner: Int[Array, "d"], upper: Bool[Array, "d"],
                      mu: Float[Array, "d"], u: Float[Array, "P d"]) -> Float[Array, "P"]:
    """``log`` of one network's separation-of-variables integrand at the points ``u`` in ``(0, 1)^d``.

    A ``fori_loop`` over the steps carries ``t = A z`` (every row's limit given the draws so far);
    step ``k``'s upper limit is the smallest ``t_i`` over its upper rows, its lower limit the largest
    over its lower rows (none: ``+-inf``). Its mean over the cube is ``P(w < 0)``. Column ``k`` of
    ``u`` drives step ``k``'s draw; the last pivot's draw is unused (no row depends on it). With a
    tilt ``mu``, step ``k`` draws ``z_k = mu_k + W``, ``W`` truncated to the limits less ``mu_k``, and
    adds the log likelihood ratio ``mu_k^2 / 2 - mu_k z_k`` (any ``mu`` leaves the mean unchanged).
    """
    return sov_walk(A, owner, upper, mu, u)[0]


def sov_walk(A: Float[Array, "d d"], owner: Int[Array, "d"], upper: Bool[Array, "d"], mu: Float[Array, "d"],
             u: Float[Array, "P d"], draws: bool = False) -> tuple[Float[Array, "P"], Float[Array, "P d"] | None]:
    """:func:`sov_log_integrand`, and with ``draws`` the pivots' draws ``z [P, d]`` too (``None``
    without): ``w = L z`` is then a draw of ``N(0, C)`` restricted to ``w < 0``, weighted by the
    integrand (a self-normalised importance sample of the truncated Gaussian)."""
    d = A.shape[0]
    inf = jnp.asarray(jnp.inf, A.dtype)

    def step(k, state):
        t, logf = state[0], state[1]
        mine = owner == k
        hi = jnp.min(jnp.where(mine & upper, t, inf), axis=1)
        lo = jnp.max(jnp.where(mine & ~upper, t, -inf), axis=1)
        m = mu[k]
        logp, w = truncated_step(lo - m, hi - m, u[:, k])
        z = m + w
        out = (t + z[:, None] * A[:, k][None, :], logf + logp + m * (0.5 * m - z))
        return out + (state[2].at[:, k].set(z),) if draws else out

    t0 = jnp.zeros_like(u, A.dtype) + jnp.zeros_like(A[0, 0])  # varying as u and A do under shard_map
    init = (t0, t0[:, 0]) + ((t0,) if draws else ())
    out = lax.fori_loop(0, d, step, init)
    return out[1], (out[2] if draws else None)


class OrthantDraws(NamedTuple):
    """Weighted draws of ``y ~ N(0, K)`` restricted to the orthant ``signs_i y_i > 0``, per network:
    ``log_w [B, N]`` each draw's log weight (the separation-of-variables integrand: its mean over the
    draws is an unbiased estimate of the orthant probability, and the draws weighted by it are a
    self-normalised importance sample of the truncated Gaussian), ``y [B, N, d]`` the draws in the
    order of ``K`` (a draw of weight 0 is meaningless)."""

    log_w: Float[Array, "B N"]
    y: Float[Array, "B N d"]


def orthant_draws_keys(keys: Key[Array, "B"], cov: Float[Array, "B d d"], signs: Float[Array, "B d"], draws: int,
                       tilt: bool = True) -> OrthantDraws:
    """``draws`` independent weighted draws per network of ``N(0, cov[b])`` restricted to the orthant of
    ``signs[b]`` (:class:`OrthantDraws`), network ``b``'s from ``keys[b]`` alone: the plan, tilt and
    separation of variables of :func:`log_orthant_keys` (singular covariances included), driven by
    independent uniforms instead of lattice points, and the pivots' draws mapped back to ``y``
    (``y = -s sd w``, ``w`` the pivoted factor times the draws, put back in ``cov``'s order).

    >>> import jax, jax.numpy as jnp
    >>> cov = jnp.array([[[1.0, 0.5], [0.5, 1.0]]])
    >>> out = orthant_draws_keys(jax.random.split(jax.random.key(0), 1), cov, jnp.array([[1.0, -1.0]]), 4096)
    >>> bool((out.y[0, :, 0] > 0).all() & (out.y[0, :, 1] < 0).all())     # every draw in the orthant
    True
    >>> round(float(jnp.exp(out.log_w[0]).mean()), 2)                    # 1/4 - asin(1/2) / (2 pi) = 1/6
    0.17
    """
    wide = cov.dtype == jnp.float64
    rank_tol, coef_tol = (RANK_TOL_F64, COEF_TOL_F64) if wide else (RANK_TOL, COEF_TOL)
    d = cov.shape[-1]

    def one(key, c, sg):
        L, rank, perm = sov_factor(correlation(c, sg), rank_tol, coef_tol)
        plan = plan_of(L, rank)
        mu = minimax_tilt(plan.A, rank == d) if tilt else jnp.zeros(d, c.dtype)
        eps = jnp.finfo(c.dtype).epsneg
        u = jnp.clip(jax.random.uniform(key, (draws, d), c.dtype), eps, 1.0 - eps)
        logf, z = sov_walk(plan.A, plan.owner, plan.upper, mu, u, draws=True)
        w = jnp.zeros_like(z).at[:, perm].set(z @ L.T)  # pivoted row j is variable perm[j]
        s = jnp.where(sg > 0, 1.0, -1.0).astype(c.dtype)
        return logf, -s * jnp.sqrt(jnp.diagonal(c)) * w

    log_w, y = jax.vmap(one)(keys, cov, signs)
    return OrthantDraws(log_w, y)


@lru_cache(maxsize=None)
def lattice_points(n_qmc: int, dim: int) -> np.ndarray:
    """The ``n_qmc`` points ``frac(j z / n_qmc)`` of the Cools-Kuo-Nuyens rank-1 lattice in ``[0, 1)^dim``."""
    if n_qmc < 1 or n_qmc & (n_qmc - 1) or n_qmc > 2**20:
        raise ValueError(f"n_qmc: expected a power of 2 up to 2**20, got {n_qmc}")
    if dim > len(CKN_GENERATOR):
        raise ValueError(f"dimension: at most {len(CKN_GENERATOR)} lattice components, got {dim}")
    z = np.asarray(CKN_GENERATOR[:dim], np.int64) % n_qmc
    return (np.outer(np.arange(n_qmc, dtype=np.int64), z) % n_qmc) / n_qmc


def shifted_points(key: Key[Array, ""], n_qmc: int, replicates: int, dim: int, dtype) -> Float[Array, "R N dim"]:
    """``replicates`` randomly shifted, tent-transformed copies of the lattice, inside ``(0, 1)``.

    Replicate ``r`` is shifted by a uniform vector from ``fold_in(key, r)``; ``u -> 1 - |2u - 1|``
    (the baker's transform) follows, and points are kept off 0 and 1 by float32's resolution.
    """
    x = jnp.asarray(lattice_points(n_qmc, dim), dtype)
    shifts = jax.vmap(lambda r: jax.random.uniform(jax.random.fold_in(key, r), (dim,), dtype))(
        jnp.arange(replicates))
    u = jnp.mod(x[None] + shifts[:, None, :], 1.0)
    u = 1.0 - jnp.abs(2.0 * u - 1.0)
    eps = jnp.finfo(dtype).epsneg
    return jnp.clip(u, eps, 1.0 - eps)


def log_mean_exp(logf: Float[Array, "... N"]) -> Float[Array, "..."]:
    """``log(mean(exp(logf)))`` over the last axis without underflow (all ``-inf`` gives ``-inf``)."""
    top = jnp.max(logf, axis=-1, keepdims=True)
    safe = jnp.where(jnp.isfinite(top), top, 0.0)
    return (safe + jnp.log(jnp.mean(jnp.exp(logf - safe), axis=-1, keepdims=True)))[..., 0]


def combine(log_reps: Float[Array, "B R"]) -> tuple[Float[Array, "B"], Float[Array, "B"]]:
    """Log of the replicates' mean and the standard error of that mean relative to it."""
    top = jnp.max(log_reps, axis=-1, keepdims=True)
    safe = jnp.where(jnp.isfinite(top), top, 0.0)
    scaled = jnp.exp(log_reps - safe)
    mean = jnp.mean(scaled, axis=-1)
    se = jnp.std(scaled, axis=-1, ddof=1) / math.sqrt(log_reps.shape[-1])
    return safe[:, 0] + jnp.log(mean), jnp.where(mean > 0, se / jnp.where(mean > 0, mean, 1.0), 0.0)


# ----------------------------------------------------------------------------- entry points
def log_orthant_keys(keys: Key[Array, "B"], cov: Float[Array, "B d d"], signs: Float[Array, "B d"],
                     n_qmc: int, replicates: int, tilt: bool = True) -> OrthantBatch:
    """:func:`log_orthant` with one key per network: network ``b``'s result depends only on
    ``keys[b]``, ``cov[b]`` and ``signs[b]``."""
    if replicates < 2:
        raise ValueError(f"replicates: expected at least 2, got {replicates}")
    plans = sov_plans(cov, signs)
    d = cov.shape[-1]
    lattice_points(n_qmc, d)  # validate n_qmc and d outside the trace

    def one(key, A, owner, upper, rank):
        mu = minimax_tilt(A, rank == d) if tilt else jnp.zeros(d, A.dtype)
        u = shifted_points(key, n_qmc, replicates, d, A.dtype).reshape(replicates * n_qmc, d)
        return log_mean_exp(sov_log_integrand(A, owner, upper, mu, u).reshape(replicates, n_qmc))

    log_reps = jax.vmap(one)(keys, plans.A, plans.owner, plans.upper, plans.rank)
    log_p, rel_se = combine(log_reps)
    return OrthantBatch(log_p, log_reps, rel_se, plans.rank)


def network_keys(key: Key[Array, ""], batch: int) -> Key[Array, "B"]:
    """Network ``b``'s key, ``fold_in(key, b)``: independent of the batch size."""
    return jax.vmap(lambda b: jax.random.fold_in(key, b))(jnp.arange(batch))


def log_orthant(key: Key[Array, ""], cov: Float[Array, "B d d"], signs: Float[Array, "B d"],
                n_qmc: int = 1024, replicates: int = 8, tilt: bool = True) -> OrthantBatch:
    """``log P(signs_i y_i > 0 for all i)``, ``y ~ N(0, cov[b])``, for every network ``b`` of a batch.

    ``cov`` must have a positive diagonal and may be singular (see the module docstring for the
    method, the singular-case treatment and the float32 limits). ``n_qmc`` (a power of 2) lattice
    points in each of ``replicates`` random shifts; network ``b`` uses the key ``fold_in(key, b)``
    (:func:`network_keys`), so its result does not depend on the rest of the batch. ``n_qmc`` and
    ``replicates`` are static under ``jit``.
    """
    return log_orthant_keys(network_keys(key, cov.shape[0]), cov, signs, n_qmc, replicates, tilt)
