"""Infinite-width (NNGP) volumes: Gaussian orthant probabilities of the limiting kernel.

As every hidden width of an MLP goes to infinity, its outputs on the ``2**n`` cube points become
jointly Gaussian, ``y ~ N(0, K)`` (Neal 1996; Lee et al. 2018, "Deep neural networks as Gaussian
processes"; Matthews et al. 2018). With weights of variance ``sigma_w**2 / fan_in`` and biases of
variance ``sigma_b**2`` (:mod:`counting.priors`), ``K`` follows the recursion

* ``K_1(x, x') = sigma_b**2 + sigma_w**2 * (x . x') / n`` (first-layer pre-activations; for a
  perceptron, ``widths=()``, this is already the output covariance, at any width);
* ``K_{l+1}(x, x') = sigma_b**2 + sigma_w**2 * E[act(u) act(v)]``, ``(u, v)`` centred Gaussian with
  covariance ``[[K_l(x,x), K_l(x,x')], [K_l(x,x'), K_l(x',x')]]``: the ``width_l`` units of layer
  ``l`` each contribute ``E[act(u) act(v)]`` and their readout weights have variance
  ``sigma_w**2 / width_l``, so the sum is exactly ``sigma_w**2 * E[act(u) act(v)]``.

The Gaussian expectation has a closed form for ``relu`` (:func:`relu_expectation`, the arc-cosine
kernel of degree 1) and ``erf`` (:func:`erf_expectation`, the arcsine kernel).

The volume of a function ``f`` (truth table: bit ``i`` is ``f(x_i)``, and ``f(x) = 1`` iff the
output is ``> 0``) is the orthant probability ``P(s_i y_i > 0 for all i)``, ``s_i = +1`` where bit
``i`` is set and ``-1`` elsewhere. :func:`orthant_probability` computes it with Genz's
separation-of-variables method (randomised quasi-Monte Carlo, variable prioritisation, pivoted
Cholesky with the singular-case treatment), accumulated in log space so tiny probabilities keep
their relative accuracy. See its docstring for the algorithm and references.

Example:
    >>> from counting.spec import ModelSpec, PriorSpec
    >>> nngp_kernel(ModelSpec(n_inputs=1, widths=()), PriorSpec()).tolist()
    [[2.0, 0.0], [0.0, 2.0]]
    >>> est = nngp_volume(ModelSpec(n_inputs=2, widths=()), PriorSpec(), 0x8, n_qmc=256, replicates=8)
    >>> est.estimator, est.samples, round(est.volume * 24, 4)    # AND on 2 bits: exactly 1/24
    ('nngp', 2048, 1.0)
    >>> round(orthant_probability([[1.0, 0.5], [0.5, 1.0]], [1, 1]).value, 6)   # 1/4 + asin(1/2)/(2 pi)
    0.333333
"""

from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import numpy as np
from scipy import stats
from scipy.special import log_ndtr, logsumexp, ndtri_exp
from scipy.stats import qmc

from counting.domain import cube
from counting.estimators import VolumeEstimate
from counting.spec import ModelSpec, PriorSpec, SpecError

NNGP_ACTIVATIONS = ("relu", "erf")

#: Conditional variance (on the unit-diagonal correlation scale) below which a variable counts as
#: a linear combination of the pivots already chosen (singular case).
RANK_TOL = 1e-10
#: Coefficients of a dependent row smaller than this (relative to its largest) are rounding noise.
COEF_TOL = 1e-8


# ----------------------------------------------------------------------------- kernel
def relu_expectation(k11: np.ndarray, k22: np.ndarray, k12: np.ndarray) -> np.ndarray:
    """``E[relu(u) relu(v)]`` for centred Gaussian ``(u, v)`` with variances ``k11, k22``, covariance ``k12``.

    Arc-cosine kernel of degree 1 (Cho & Saul 2009, "Kernel methods for deep learning", eq. 6 with
    ``n = 1``, halved for the ``N(0, Sigma)`` rather than ``N(0, 2 Sigma)`` convention):
    ``sqrt(k11 k22) / (2 pi) * (sin t + (pi - t) cos t)`` with ``cos t = k12 / sqrt(k11 k22)``.
    """
    norm = np.sqrt(np.asarray(k11, np.float64) * np.asarray(k22, np.float64))
    cos = np.clip(np.asarray(k12, np.float64) / norm, -1.0, 1.0)
    sin = np.sqrt(np.maximum(0.0, 1.0 - cos * cos))
    theta = np.arctan2(sin, cos)
    return norm / (2 * np.pi) * (sin + (np.pi - theta) * cos)


def erf_expectation(k11: np.ndarray, k22: np.ndarray, k12: np.ndarray) -> np.ndarray:
    """``E[erf(u) erf(v)]`` for centred Gaussian ``(u, v)`` with variances ``k11, k22``, covariance ``k12``.

    Arcsine kernel (Williams 1997, "Computing with infinite networks", NIPS 9, eq. 11 with the
    input augmentation absorbed into ``K``): ``(2 / pi) * arcsin(2 k12 / sqrt((1 + 2 k11)(1 + 2 k22)))``.
    """
    k11, k22, k12 = (np.asarray(a, np.float64) for a in (k11, k22, k12))
    return (2 / np.pi) * np.arcsin(np.clip(2 * k12 / np.sqrt((1 + 2 * k11) * (1 + 2 * k22)), -1.0, 1.0))


_EXPECTATIONS = {"relu": relu_expectation, "erf": erf_expectation}


def _check_nngp(model: ModelSpec, prior: PriorSpec) -> None:
    if model.kind != "mlp":
        raise SpecError("model.kind", "'mlp' for the NNGP estimator", model.kind)
    if model.activation not in NNGP_ACTIVATIONS:
        raise SpecError("model.activation", f"one of {list(NNGP_ACTIVATIONS)} for the NNGP estimator",
                        model.activation)
    if prior.kind != "gaussian":
        raise SpecError("prior.kind", "'gaussian' for the NNGP estimator", prior.kind)


def input_kernel(n: int, prior: PriorSpec) -> np.ndarray:
    """``K_1 = sigma_b**2 + sigma_w**2 x.x' / n`` on the cube (float64 ``[2**n, 2**n]``)."""
    x = cube(n).astype(np.float64)
    return prior.sigma_b**2 + prior.sigma_w**2 * (x @ x.T) / n


def next_kernel(k: np.ndarray, activation: str, prior: PriorSpec) -> np.ndarray:
    """One step of the recursion: ``sigma_b**2 + sigma_w**2 E[act(u) act(v)]`` under ``N(0, k)``."""
    diag = np.diag(k)
    e = _EXPECTATIONS[activation](diag[:, None], diag[None, :], k)
    return prior.sigma_b**2 + prior.sigma_w**2 * e


def nngp_kernel(model: ModelSpec, prior: PriorSpec) -> np.ndarray:
    """Output covariance ``[2**n, 2**n]`` (float64) on the cube of the infinitely wide ``model``.

    Raises :class:`~counting.spec.SpecError` (a ``ValueError``) naming ``model.kind``,
    ``model.activation`` or ``prior.kind`` when there is no NNGP limit implemented for it.
    """
    _check_nngp(model, prior)
    k = input_kernel(model.n_inputs, prior)
    for _ in model.widths:
        k = next_kernel(k, model.activation, prior)
    return k


# ----------------------------------------------------------------------------- orthant probabilities
class OrthantEstimate(NamedTuple):
    """Randomised-QMC estimate of a Gaussian orthant probability.

    ``value`` is the mean of ``replicates`` independently scrambled estimates and ``std_error``
    their standard deviation over ``sqrt(replicates)`` (both linear scale; ``value`` may underflow
    to 0 below ~1e-308 while ``log10_value`` stays finite). ``ci95`` is
    ``value +- t_{R-1, 0.975} std_error`` in log10, each end ``None`` when it is ``<= 0``.
    ``evaluations`` is ``n_qmc * replicates``; ``rank`` is the numerical rank of the covariance
    and ``dimension`` its size.
    """

    value: float
    log10_value: float | None
    ci95: tuple[float | None, float | None]
    std_error: float
    std_error_log10: float | None
    replicates: int
    evaluations: int
    rank: int
    dimension: int
    replicate_log10: tuple[float | None, ...]

    def interval(self, conf: float) -> tuple[float, float]:
        """Two-sided Student-t interval (linear scale) at level ``conf`` from the replicates."""
        t = float(stats.t.ppf(0.5 + conf / 2, self.replicates - 1))
        return self.value - t * self.std_error, self.value + t * self.std_error


class SovPlan(NamedTuple):
    """A separation-of-variables plan for ``P(w < 0)``, ``w ~ N(0, C)`` (``C`` unit-diagonal).

    ``L`` (``[d, rank]``) is the prioritised pivoted Cholesky factor with its rows in pivot order
    (``perm``): rows ``0..rank-1`` are lower triangular with a positive diagonal, and the later
    rows are the dependent variables. ``step_rows[k]`` are the rows whose constraint bounds ``z_k``
    (the pivot row ``k`` and every dependent row whose last significant coefficient is ``k``).
    """

    L: np.ndarray
    perm: np.ndarray
    rank: int
    step_rows: tuple[np.ndarray, ...]


def _log_phi_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``log(Phi(b) - Phi(a))`` for ``a < b`` (``a`` may be ``-inf``), accurate in the lower tail."""
    la, lb = log_ndtr(a), log_ndtr(b)
    with np.errstate(divide="ignore", invalid="ignore"):
        return lb + np.log(-np.expm1(la - lb))


def _expected_truncated(b: float) -> float:
    """``E[Z | Z < b]`` for a standard normal ``Z`` (``-phi(b) / Phi(b)``, in log space)."""
    return -math.exp(-0.5 * b * b - 0.5 * math.log(2 * math.pi) - float(log_ndtr(b)))


def prioritised_cholesky(corr: np.ndarray, tol: float = RANK_TOL) -> tuple[np.ndarray, np.ndarray, int]:
    """Pivoted Cholesky of ``corr`` with Genz-Bretz variable prioritisation, for ``P(w < 0)``.

    At step ``k`` each remaining variable ``i`` with conditional variance ``v_i > tol`` has expected
    upper limit ``b_i = -sum_{j<k} L_ij y_j / sqrt(v_i)``, where ``y_j = E[z_j | z_j < b_j]`` are the
    expected values of the variables already chosen; the one with the smallest truncation
    probability ``Phi(b_i)`` (smallest ``b_i``) becomes pivot ``k`` (Genz & Bretz 2009, sec. 4.1.3).
    Stops when no remaining variable has ``v_i > tol``: the rest are linear combinations of the
    pivots (rank-deficient case). Returns ``(L [d, rank], perm, rank)`` with ``corr[perm][:, perm]
    ~= L @ L.T``.
    """
    c = np.array(corr, np.float64)
    d = c.shape[0]
    perm = np.arange(d)
    L = np.zeros((d, d))
    y = np.zeros(d)
    rank = 0
    for k in range(d):
        v = np.diag(c)[k:] - np.sum(L[k:, :k] ** 2, axis=1)
        ok = v > tol
        if not ok.any():
            break
        with np.errstate(divide="ignore", invalid="ignore"):
            b = np.where(ok, -(L[k:, :k] @ y[:k]) / np.sqrt(np.where(ok, v, 1.0)), np.inf)
        i = k + int(np.argmin(b))
        if i != k:  # swap variables i and k
            c[[k, i]] = c[[i, k]]
            c[:, [k, i]] = c[:, [i, k]]
            L[[k, i]] = L[[i, k]]
            perm[[k, i]] = perm[[i, k]]
        L[k, k] = math.sqrt(v[i - k])
        L[k + 1 :, k] = (c[k + 1 :, k] - L[k + 1 :, :k] @ L[k, :k]) / L[k, k]
        y[k] = _expected_truncated(float(b[i - k]))
        rank = k + 1
    return L[:, :rank], perm, rank


def sov_plan(corr: np.ndarray, tol: float = RANK_TOL, coef_tol: float = COEF_TOL) -> SovPlan:
    """Factor ``corr`` and assign each dependent variable's constraint to the step it bounds.

    A dependent row ``i`` (``w_i = sum_{j <= k} L_ij z_j`` with ``|L_ik|`` its last significant
    coefficient) turns ``w_i < 0`` into an upper (``L_ik > 0``) or lower (``L_ik < 0``) limit on
    ``z_k`` given ``z_0..z_{k-1}``; this is the singular-covariance treatment of Genz & Bretz 2009,
    sec. 4.1.2.
    """
    L, perm, rank = prioritised_cholesky(corr, tol)
    d = L.shape[0]
    owner = list(range(rank))
    for i in range(rank, d):
        row = np.abs(L[i])
        sig = np.nonzero(row > coef_tol * row.max())[0]
        owner.append(int(sig[-1]))
    owner_arr = np.asarray(owner)
    L = np.where(np.abs(L) > coef_tol * np.abs(L).max(axis=1, keepdims=True), L, 0.0)
    steps = tuple(np.nonzero(owner_arr == k)[0] for k in range(rank))
    return SovPlan(L, perm, rank, steps)


def _step_limits(plan: SovPlan, k: int, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper limits ``[N]`` on ``z_k`` from the constraints of step ``k``."""
    rows = plan.step_rows[k]
    coef = plan.L[rows, k]
    t = -(z[:, :k] @ plan.L[rows, :k].T) / coef  # [N, rows]
    hi = np.min(np.where(coef > 0, t, np.inf), axis=1)
    lo = np.max(np.where(coef < 0, t, -np.inf), axis=1)
    return lo, hi


def _truncated_step(lo: np.ndarray, hi: np.ndarray, u: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """``log P(lo < Z < hi)`` and, given uniforms ``u``, ``Z`` drawn from that truncated normal.

    Works on the side of zero where the interval's mass is in the lower tail (flips when
    ``lo + hi > 0``), entirely in log space (``log_ndtr``/``ndtri_exp``), so 1e-300 stays accurate.
    Empty intervals give ``-inf`` and an arbitrary finite ``Z``.
    """
    flip = lo + hi > 0
    a, b = np.where(flip, -hi, lo), np.where(flip, -lo, hi)
    empty = ~(hi > lo)
    a, b = np.where(empty, -1.0, a), np.where(empty, 0.0, b)
    logp = _log_phi_diff(a, b)
    if u is None:
        return np.where(empty, -np.inf, logp), np.zeros_like(lo)
    with np.errstate(divide="ignore"):
        logt = np.logaddexp(log_ndtr(a), np.log(u) + logp)
    z = np.clip(ndtri_exp(np.minimum(logt, 0.0)), a, b)
    return np.where(empty, -np.inf, logp), np.where(flip, -z, z)


def sov_log_integrand(plan: SovPlan, u: np.ndarray) -> np.ndarray:
    """``log`` of the separation-of-variables integrand at points ``u [N, rank - 1]`` in the unit cube."""
    n = u.shape[0]
    z = np.zeros((n, plan.rank))
    logf = np.zeros(n)
    for k in range(plan.rank):
        lo, hi = _step_limits(plan, k, z)
        logp, z[:, k] = _truncated_step(lo, hi, u[:, k] if k < plan.rank - 1 else None)
        logf += logp
    return logf


def _sobol(dim: int, m: int, rng: np.random.Generator) -> np.ndarray:
    """``2**m`` scrambled Sobol points in ``[0, 1)^dim`` (``dim = 0`` gives an empty ``[N, 0]``)."""
    if dim == 0:
        return np.zeros((2**m, 0))
    try:
        engine = qmc.Sobol(dim, scramble=True, rng=rng)
    except TypeError:  # scipy < 1.15
        engine = qmc.Sobol(dim, scramble=True, seed=rng)
    return engine.random_base2(m)


def _combine(log_reps: np.ndarray, evaluations: int, rank: int, dim: int) -> OrthantEstimate:
    """Mean, standard error and t-interval of replicate estimates given as natural logs."""
    r = len(log_reps)
    rep10 = tuple(float(v / math.log(10)) if np.isfinite(v) else None for v in log_reps)
    top = float(np.max(log_reps))
    if not np.isfinite(top):
        return OrthantEstimate(0.0, None, (None, None), 0.0, None, r, evaluations, rank, dim, rep10)
    scaled = np.exp(log_reps - top)
    mean, se = float(scaled.mean()), float(scaled.std(ddof=1) / math.sqrt(r))
    t = float(stats.t.ppf(0.975, r - 1))
    to10 = lambda x: (top + math.log(x)) / math.log(10) if x > 0 else None  # noqa: E731
    return OrthantEstimate(
        value=math.exp(top) * mean,
        log10_value=to10(mean),
        ci95=(to10(mean - t * se), to10(mean + t * se)),
        std_error=math.exp(top) * se,
        std_error_log10=se / (mean * math.log(10)),
        replicates=r,
        evaluations=evaluations,
        rank=rank,
        dimension=dim,
        replicate_log10=rep10,
    )


def orthant_probability(
    cov: Sequence[Sequence[float]] | np.ndarray,
    signs: Sequence[float] | np.ndarray,
    *,
    seed: int = 0,
    n_qmc: int = 4096,
    replicates: int = 16,
) -> OrthantEstimate:
    """``P(signs_i y_i > 0 for all i)`` for ``y ~ N(0, cov)``; ``cov`` may be singular.

    Method: Genz's separation of variables (Genz 1992, "Numerical computation of multivariate
    normal probabilities", JCGS 1:141-149; the GHK simulator) as set out in Genz & Bretz 2009,
    "Computation of Multivariate Normal and t Probabilities" (Springer LNS 195): with ``w = -S y``
    (``S = diag(signs)``) scaled to unit variances, ``P = P(w < 0)``, and ``w = L z`` with ``L``
    the pivoted Cholesky factor, the constraints bound ``z_k`` given ``z_0..z_{k-1}``; drawing each
    ``z_k`` from its truncated normal by inversion of a uniform turns ``P`` into the integral over
    ``[0, 1)^{rank-1}`` of the product of the per-step probabilities. Variables are prioritised
    (sec. 4.1.3); a rank-deficient ``cov`` (rank ``r < d``) stops the factorisation after ``r``
    pivots and each remaining constraint becomes a further limit on the last pivot it depends on
    (sec. 4.1.2), so infeasible sign patterns give exactly 0. The integral is averaged over ``n_qmc``
    (a power of 2) scrambled Sobol points (Owen scrambling) in each of ``replicates`` independent
    scramblings; the replicate means give the estimate and a Student-t 95% interval. Products are
    sums of logs and averages are ``logsumexp``, so the relative accuracy does not degrade as the
    probability shrinks (tested to 1e-39 in 128 dimensions).
    """
    c = np.asarray(cov, np.float64)
    s = np.where(np.asarray(signs, np.float64) > 0, 1.0, -1.0)
    d = s.shape[0]
    if c.shape != (d, d):
        raise ValueError(f"cov: expected shape ({d}, {d}) to match signs, got {c.shape}")
    if n_qmc < 1 or n_qmc & (n_qmc - 1):
        raise ValueError(f"n_qmc: expected a power of 2, got {n_qmc}")
    if replicates < 2:
        raise ValueError(f"replicates: expected at least 2, got {replicates}")
    sd = np.sqrt(np.diag(c))
    if not np.all(sd > 0):
        raise ValueError("cov: expected a positive diagonal")
    corr = (s[:, None] * c * s[None, :]) / np.outer(sd, sd)  # covariance of w = -S y, unit diagonal
    plan = sov_plan(corr)
    m = n_qmc.bit_length() - 1
    logs = np.empty(replicates)
    for i, child in enumerate(np.random.SeedSequence(seed).spawn(replicates)):
        u = _sobol(plan.rank - 1, m, np.random.default_rng(child))
        logs[i] = logsumexp(sov_log_integrand(plan, u)) - m * math.log(2)
    return _combine(logs, n_qmc * replicates, plan.rank, d)


# ----------------------------------------------------------------------------- volumes
def truth_table_signs(truth_table: int, n: int) -> np.ndarray:
    """``s_i = +1`` where bit ``i`` of ``truth_table`` is set, else ``-1`` (``2**n`` entries)."""
    if truth_table < 0 or truth_table.bit_length() > 2**n:
        raise ValueError(f"truth_table: expected at most 2**{n} bits, got {truth_table:#x}")
    return np.array([1.0 if truth_table >> i & 1 else -1.0 for i in range(2**n)])


def nngp_orthant(model: ModelSpec, prior: PriorSpec, truth_table: int, *, seed: int = 0,
                 n_qmc: int = 4096, replicates: int = 16) -> OrthantEstimate:
    """The NNGP volume of ``truth_table`` with all the orthant diagnostics."""
    k = nngp_kernel(model, prior)
    return orthant_probability(k, truth_table_signs(truth_table, model.n_inputs), seed=seed,
                               n_qmc=n_qmc, replicates=replicates)


def nngp_volume(model: ModelSpec, prior: PriorSpec, truth_table: int, *, seed: int = 0,
                n_qmc: int = 4096, replicates: int = 16) -> VolumeEstimate:
    """Volume of ``truth_table`` under the infinite-width limit of ``model`` as a :class:`VolumeEstimate`.

    ``estimator="nngp"``, ``hits=0``, ``samples`` = integrand evaluations (``n_qmc * replicates``),
    ``ci95`` the replicate t-interval in log10 (``lo`` is ``None`` when it reaches 0; a volume that
    is 0 at every point, e.g. a non-threshold function of a perceptron, gives ``log10_volume=None``
    and ``ci95=(None, None)``), ``one_sided=False``.
    """
    est = nngp_orthant(model, prior, truth_table, seed=seed, n_qmc=n_qmc, replicates=replicates)
    return VolumeEstimate(
        hits=0,
        samples=est.evaluations,
        volume=est.value,
        log10_volume=est.log10_value,
        ci95=est.ci95,
        one_sided=False,
        estimator="nngp",
    )
