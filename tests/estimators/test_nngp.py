"""The infinite-width (NNGP) estimator against independent answers.

* Kernel: the perceptron kernel is exact by construction; the relu/erf Gaussian expectations are
  checked against quadrature that does not use the closed forms; the one-hidden-layer kernel is
  checked against networks drawn by counting's own sampler (for one hidden layer the output
  covariance equals the NNGP kernel at *any* width, because the first layer is exactly Gaussian).
* Orthant probabilities: closed forms in 2 and 3 dimensions (singular cases included), exact
  perceptron volumes (rank-deficient kernels, from ``exact_perceptron.py``), and 1-D integrals for
  exchangeable Gaussians in 128 dimensions down to 1e-39.
* The NNGP volumes of all 256 functions of 3 bits sum to 1.
* Slow: finite-width hit-or-miss volumes approach the NNGP volume as the width grows.

Statistical checks use Student-t intervals from the randomised-QMC replicates (or exact binomial
intervals for the sampler) at level ``1 - FWER / K``, Bonferroni over the ``K`` comparisons of a
test, with ``FWER = 1e-3``: a correct implementation fails a test with probability about 1e-3 or
less over random seeds. The t-intervals (15 degrees of freedom) treat the 16 replicate means as
normal; checked with fresh seeds: over 312 perceptron comparisons the standardised errors had
standard deviation 1.13 (1.07 for t_15) and the largest was 4.5, against Bonferroni cut-offs of
~7. Other approximations are stated per test. The seeds are fixed, so the outcome is deterministic.
"""

import math

import jax
import numpy as np
import pytest
from scipy import integrate, stats
from scipy.special import erf, log_ndtr

import counting.analytic.orthant as orthant
from counting import estimate_volume, parse_spec
from counting.analytic.kernel import erf_expectation, nngp_kernel, relu_expectation
from counting.analytic.orthant import orthant_probability
from counting.boolean.cube import cube
from counting.boolean.tables import signs_of
from counting.estimators import nngp as nngp_estimator
from counting.estimators.problem import Problem
from counting.estimators.nngp import nngp_orthant
from counting.mechanisms.predicates import computes
from counting.models import forward
from counting.spec import NNGPSettings, Target
from counting.engine.priors import sample_params
from counting.spec import MLPSpec, ResMLPSpec, ScaledPrior
from counting.stats import clopper_pearson
from exact_perceptron import perceptron_volumes

FWER = 1e-3
ABS_REF = 1e-12  # absolute error allowed for the reference values (exact_perceptron: < 1e-12)


def t_halfwidth(est, k: int) -> float:
    """Half-width of the Bonferroni t-interval (level ``1 - FWER / k``) of an OrthantEstimate."""
    return float(stats.t.ppf(1 - FWER / (2 * k), est.replicates - 1)) * est.std_error


def assert_within(est, exact: float, k: int, what: str = "") -> None:
    tol = t_halfwidth(est, k) + ABS_REF
    assert abs(est.value - exact) <= tol, f"{what}: estimate {est.value!r} vs exact {exact!r} (tol {tol:.3g})"


def truth_table_signs(f: int, n: int) -> np.ndarray:
    return signs_of(f, n).astype(np.float64)


# ----------------------------------------------------------------------------- kernel

@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_perceptron_kernel_is_the_exact_output_covariance(n):
    prior = ScaledPrior(sigma_w=1.3, sigma_b=0.7)
    x = cube(n).astype(np.float64)
    k = nngp_kernel(MLPSpec(n_inputs=n, widths=()), prior)
    assert k.dtype == np.float64 and k.shape == (2**n, 2**n)
    np.testing.assert_allclose(k, 0.7**2 + 1.3**2 * (x @ x.T) / n, rtol=0, atol=1e-14)


# (k11, k22, k12): moderate, tiny and large variances, correlations -1, -0.7, 0, 0.3, 0.99, 1
COVS = [(1.0, 1.0, 0.0), (1.0, 1.0, 1.0), (1.0, 1.0, -1.0), (2.0, 0.5, 0.3), (0.3, 1.7, -0.7 * math.sqrt(0.51)),
        (5.0, 4.0, 0.99 * math.sqrt(20.0)), (0.01, 3.0, 0.05), (1.5, 1.5, -1.2)]


def relu_by_quadrature(k11: float, k22: float, k12: float) -> float:
    """``E[relu(u) relu(v)]`` as a 1-D integral over ``u``, with ``E[relu(v) | u]`` in closed form.

    ``u = sqrt(k11) g``, ``v | g ~ N(a g, s**2)`` with ``a = k12 / sqrt(k11)``, ``s**2 = k22 - k12**2/k11``,
    and ``E[relu(m + s G)] = m Phi(m/s) + s phi(m/s)`` (the mean of a rectified normal).
    """
    a, s = k12 / math.sqrt(k11), math.sqrt(max(k22 - k12**2 / k11, 0.0))

    def inner(g: float) -> float:
        m = a * g
        rect = max(m, 0.0) if s < 1e-12 else m * stats.norm.cdf(m / s) + s * stats.norm.pdf(m / s)
        return stats.norm.pdf(g) * math.sqrt(k11) * g * rect

    return integrate.quad(inner, 0, np.inf, epsabs=1e-13, epsrel=1e-12, limit=200)[0]


def erf_by_gauss_hermite(k11: float, k22: float, k12: float, nodes: int = 200) -> float:
    """``E[erf(u) erf(v)]`` by tensor Gauss-Hermite quadrature (erf is entire: fast convergence)."""
    g, w = np.polynomial.hermite_e.hermegauss(nodes)  # weight exp(-g^2/2)
    w = w / math.sqrt(2 * math.pi)
    g1, g2 = np.meshgrid(g, g, indexing="ij")
    rho = k12 / math.sqrt(k11 * k22)
    u = math.sqrt(k11) * g1
    v = math.sqrt(k22) * (rho * g1 + math.sqrt(max(1 - rho**2, 0.0)) * g2)
    return float(np.einsum("i,j,ij->", w, w, erf(u) * erf(v)))


@pytest.mark.parametrize("k11,k22,k12", COVS)
def test_relu_expectation_matches_quadrature(k11, k22, k12):
    assert relu_expectation(k11, k22, k12) == pytest.approx(relu_by_quadrature(k11, k22, k12), abs=1e-9, rel=1e-9)


@pytest.mark.parametrize("k11,k22,k12", COVS)
def test_erf_expectation_matches_gauss_hermite(k11, k22, k12):
    assert erf_expectation(k11, k22, k12) == pytest.approx(erf_by_gauss_hermite(k11, k22, k12), abs=1e-9)


@pytest.mark.parametrize("activation", ["relu", "erf"])
def test_one_hidden_layer_kernel_matches_sampled_networks(activation):
    """Second moments of 2**15 sampled width-64 networks within 5 standard errors of ``K``.

    For one hidden layer ``E[y(x) y(x')]`` equals the NNGP kernel at any width, so this checks
    the closed forms and the fan-in scaling against counting's own prior and forward pass.
    Normal approximation: each of the 36 entries fails with probability ~6e-7 (family ~2e-5).
    """
    model = MLPSpec(n_inputs=3, widths=(64,), activation=activation)
    prior = ScaledPrior(sigma_w=1.2, sigma_b=0.6)
    params = sample_params(jax.random.key(17), model, prior, batch=2**15)
    y = np.asarray(forward(model, params, np.asarray(cube(3))).output, np.float64)  # [B, 8]
    prods = y[:, :, None] * y[:, None, :]
    mean, se = prods.mean(0), prods.std(0) / math.sqrt(len(y))
    k = nngp_kernel(model, prior)
    z = np.abs(mean - k) / se
    assert z.max() < 5, f"worst entry {np.unravel_index(z.argmax(), z.shape)}: {z.max():.2f} SE"


@pytest.mark.parametrize(
    "model,prior,field",
    [
        (MLPSpec(activation="tanh"), ScaledPrior(), "model.activation"),
        (MLPSpec(activation="gelu"), ScaledPrior(), "model.activation"),
        (ResMLPSpec(), ScaledPrior(), "model.kind"),
        (MLPSpec(), ScaledPrior(kind="uniform"), "prior.kind"),
    ],
)
def test_unsupported_models_raise_one_line_naming_the_field(model, prior, field):
    with pytest.raises(ValueError) as err:
        nngp_kernel(model, prior)
    assert str(err.value).startswith(field) and "\n" not in str(err.value)


# ----------------------------------------------------------------------------- orthants: closed forms
RHOS = [-1.0, -0.999, -0.5, 0.0, 0.3, 0.9, 0.999999, 1.0]


def test_bivariate_orthants_match_closed_form():
    """``P(s1 y1 > 0, s2 y2 > 0) = 1/4 + arcsin(s1 s2 rho) / (2 pi)``, including the singular rho = +-1."""
    cases = [(rho, s) for rho in RHOS for s in ([1, 1], [1, -1], [-1, 1], [-1, -1])]
    for i, (rho, s) in enumerate(cases):
        cov = np.array([[2.0, 2.0 * rho * 0.5], [2.0 * rho * 0.5, 0.5]])  # unequal variances on purpose
        est = orthant_probability(cov, s, seed=i, n_qmc=256)
        exact = 0.25 + math.asin(s[0] * s[1] * rho) / (2 * math.pi)
        assert_within(est, exact, len(cases), f"rho={rho}, signs={s}")


def random_correlation(rng: np.random.Generator, d: int) -> np.ndarray:
    b = rng.normal(size=(d, d + 1))
    c = b @ b.T
    sd = np.sqrt(np.diag(c))
    return c / np.outer(sd, sd)


def test_trivariate_orthants_match_closed_form():
    """``P(all > 0) = 1/8 + (asin r12 + asin r13 + asin r23) / (4 pi)`` for every sign pattern."""
    rng = np.random.default_rng(5)
    mats = [random_correlation(rng, 3) for _ in range(4)] + [np.full((3, 3), 0.95) + 0.05 * np.eye(3)]
    patterns = [np.array(p) for p in np.ndindex(2, 2, 2)]
    k = len(mats) * len(patterns)
    for m, c in enumerate(mats):
        total = 0.0
        for p in patterns:
            s = 2.0 * p - 1
            r = c * np.outer(s, s)
            exact = 0.125 + (math.asin(r[0, 1]) + math.asin(r[0, 2]) + math.asin(r[1, 2])) / (4 * math.pi)
            est = orthant_probability(c, s, seed=m, n_qmc=512)
            assert_within(est, exact, k, f"matrix {m}, signs {s}")
            total += est.value
        assert total == pytest.approx(1.0, abs=1e-3)


def test_singular_orthants_are_exact():
    """Rank 1 and rank 2 covariances: feasible patterns are exact, infeasible ones exactly 0."""
    assert orthant_probability([[1.0, 1.0], [1.0, 1.0]], [1, 1]).value == pytest.approx(0.5, abs=1e-15)
    assert orthant_probability([[1.0, 1.0], [1.0, 1.0]], [1, -1]).value == 0.0
    # y3 = y1 + y2 with y1, y2 independent: the pattern (+, +, -) is impossible
    c = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0], [1.0, 1.0, 2.0]])
    assert orthant_probability(c, [1, 1, -1]).value == 0.0
    est = orthant_probability(c, [1, -1, 1], n_qmc=1024)
    # y1 > 0 > y2 and y1 > -y2: angle of the cone {z1 > 0, z2 < 0, z1 + z2 > 0} is pi/4
    assert est.rank == 2 and est.value == pytest.approx(1 / 8, rel=1e-4)
    assert_within(est, 1 / 8, 1)


# ----------------------------------------------------------------------------- orthants: perceptron
@pytest.mark.parametrize("n,sigma_w,sigma_b", [(2, 1.0, 1.0), (3, 1.0, 1.0),
                                               pytest.param(3, 1.0, 0.5, marks=pytest.mark.slow)])  # 4 s
def test_perceptron_nngp_volumes_match_exact(n, sigma_w, sigma_b):
    """Every function of an n-input perceptron (K has rank n + 1 < 2**n): the exact volume lies in
    the Bonferroni t-interval (level 1 - 1e-3 / 2**(2**n)) widened by 1e-12, and non-threshold
    functions (e.g. XOR 0x6) come out below 1e-12."""
    exact = perceptron_volumes(n, sigma_w, sigma_b)
    model, prior = MLPSpec(n_inputs=n, widths=()), ScaledPrior(sigma_w=sigma_w, sigma_b=sigma_b)
    k = nngp_kernel(model, prior)
    n_funcs = 2 ** (2**n)
    total = 0.0
    for f in range(n_funcs):
        est = orthant_probability(k, truth_table_signs(f, n), seed=f, n_qmc=1024)
        assert est.rank == n + 1
        if f in exact:
            assert_within(est, exact[f], n_funcs, f"f={f:#x}")
            assert est.std_error <= 5e-3 * est.value  # relative accuracy (seen: <= 1.3e-3), not just absolute
        else:
            assert est.value < 1e-12, f"f={f:#x} is not a threshold function but got {est.value}"
        total += est.value
    assert total == pytest.approx(1.0, abs=1e-3)


def nngp_volume(model, prior, f: int, seed: int = 0, n_qmc: int = 4096, replicates: int = 16):
    problem = Problem(model, prior, computes(f, model.n_inputs), Target(f, model.n_inputs))
    return nngp_estimator.estimate(problem, NNGPSettings(n_qmc=n_qmc, replicates=replicates, seed=seed))


def test_nngp_volume_is_an_estimate():
    model, prior = MLPSpec(n_inputs=2, widths=()), ScaledPrior()
    est = nngp_volume(model, prior, 0x8, seed=3, n_qmc=512, replicates=8)  # AND: exactly 1/24
    assert (est.estimator, est.hits, est.samples, est.cost_unit, est.one_sided_upper_bound) == (
        "nngp", None, 512 * 8, "integrand_evaluations", False)
    assert est.diagnostics["limit"] == "infinite width"
    assert est.log10_volume == pytest.approx(math.log10(est.volume))
    lo, hi = est.ci95
    assert lo <= est.log10_volume <= hi and lo <= math.log10(1 / 24) <= hi
    assert est.as_dict()["estimator"] == "nngp"
    xor = nngp_volume(model, prior, 0x6, n_qmc=512, replicates=8)
    assert xor.volume < 1e-12
    assert xor.volume > 0 or (xor.log10_volume is None and xor.ci95 == (None, None))
    with pytest.raises(ValueError, match="truth table"):
        nngp_volume(model, prior, 1 << 4)


# ----------------------------------------------------------------------------- minimax tilt
def _plan(cov: np.ndarray, signs: np.ndarray) -> "orthant.SovPlan":
    sd = np.sqrt(np.diag(cov))
    return orthant.sov_plan(cov * np.outer(signs, signs) / np.outer(sd, sd))


@pytest.mark.parametrize("case", ["singular", "full"])
def test_tilt_jacobian_matches_finite_differences(case):
    """The analytic Jacobian of the saddle-point system (Newton's matrix) against central differences."""
    rng = np.random.default_rng(2)
    if case == "singular":  # perceptron kernel, rank 4 in 8 dimensions, several rows per step
        plan = _plan(nngp_kernel(MLPSpec(n_inputs=3, widths=()), ScaledPrior()), truth_table_signs(0xE8, 3))
        x = orthant.interior_point(plan)
    else:
        plan = _plan(random_correlation(rng, 6), np.ones(6))
        x = 0.3 * rng.normal(size=plan.rank)
    r = plan.rank
    y = np.r_[x[: r - 1], 0.3 * rng.normal(size=r - 1)]
    _, jac = orthant.tilt_gradient(plan, y)
    h = 1e-6

    def grad(v: np.ndarray) -> np.ndarray:
        return orthant.tilt_gradient(plan, v)[0]

    fd = np.column_stack([(grad(y + h * e) - grad(y - h * e)) / (2 * h) for e in np.eye(len(y))])
    np.testing.assert_allclose(jac, fd, atol=1e-6 * max(1.0, np.abs(jac).max()))


def test_tilt_is_found_for_every_perceptron_function():
    """The saddle point is found for all 104 threshold functions of 3 bits (singular kernel)."""
    k = nngp_kernel(MLPSpec(n_inputs=3, widths=()), ScaledPrior())
    for f in perceptron_volumes(3):
        plan = orthant.minimax_tilt(_plan(k, truth_table_signs(f, 3)))
        assert np.any(plan.mu != 0), f"{f:#x}"


# ----------------------------------------------------------------------------- orthants: deep tail
def exchangeable_log_orthant(d: int, rho: float, n_neg: int) -> float:
    """``log P(y_i > 0 for i >= n_neg, y_i < 0 for i < n_neg)``, ``y`` exchangeable with correlation ``rho``.

    ``y_i = sqrt(rho) Z + sqrt(1 - rho) e_i``, so given ``Z`` the events are independent:
    ``P = E_Z[Phi(a Z)**(d - n_neg) Phi(-a Z)**n_neg]``, ``a = sqrt(rho / (1 - rho))``, a 1-D integral
    done by adaptive quadrature around the mode of the (log-space scaled) integrand.
    """
    a = math.sqrt(rho / (1 - rho))

    def log_f(z: float) -> float:
        return -0.5 * z * z + (d - n_neg) * float(log_ndtr(a * z)) + n_neg * float(log_ndtr(-a * z))

    grid = np.linspace(-40, 40, 16001)
    logs = np.array([log_f(z) for z in grid])
    z0, top = grid[logs.argmax()], logs.max()
    val = integrate.quad(lambda z: math.exp(log_f(z) - top), z0 - 40, z0 + 40, points=[z0],
                         epsabs=0, epsrel=1e-12, limit=500)[0]
    return top + math.log(val) - 0.5 * math.log(2 * math.pi)


DEEP = [(128, 0.05, 0), (128, 0.02, 0), (128, 0.05, 64)]  # ~1.4e-13, ~8.5e-21, ~1.3e-39


@pytest.mark.parametrize("d,rho,n_neg", DEEP)
def test_deep_tail_orthant_has_relative_accuracy(d, rho, n_neg):
    """Full-rank, 128 dimensions, probability 1e-13 .. 1e-39: the exact value is inside the
    Bonferroni t-interval (level 1 - 1e-3/3, relative) and the relative error is below 10%
    (in fact the reported relative standard error is below 1%)."""
    exact_log = exchangeable_log_orthant(d, rho, n_neg)
    assert exact_log / math.log(10) < -10
    cov = np.full((d, d), rho) + (1 - rho) * np.eye(d)
    s = np.ones(d)
    s[:n_neg] = -1
    est = orthant_probability(cov, s, seed=11, n_qmc=4096, replicates=16)
    rel_err = math.exp(est.log10_value * math.log(10) - exact_log) - 1
    rel_se = est.std_error_log10 * math.log(10)
    t = float(stats.t.ppf(1 - FWER / (2 * len(DEEP)), est.replicates - 1))
    assert abs(rel_err) <= t * rel_se, f"relative error {rel_err:.2e}, relative SE {rel_se:.2e}"
    assert abs(rel_err) < 0.1 and rel_se < 0.01
    lo, hi = est.ci95
    assert lo < est.log10_value < hi


# ----------------------------------------------------------------------------- whole distribution
@pytest.mark.parametrize("activation", ["relu", pytest.param("erf", marks=pytest.mark.slow)])  # 4 s each
def test_nngp_volumes_of_all_functions_sum_to_one(activation):
    """The 256 orthants of a full-rank 8-dim kernel partition the space: the estimates sum to 1
    within 5 combined standard errors (normal approximation: false failure ~6e-7)."""
    model = MLPSpec(n_inputs=3, widths=(8, 8), activation=activation)
    k = nngp_kernel(model, ScaledPrior(sigma_w=1.5, sigma_b=0.5))
    ests = [orthant_probability(k, truth_table_signs(f, 3), seed=f, n_qmc=512) for f in range(256)]
    total = sum(e.value for e in ests)
    se = math.sqrt(sum(e.std_error**2 for e in ests))
    assert abs(total - 1) <= 5 * se + 1e-12, f"sum {total}, combined SE {se:.2e}"
    assert se < 1e-3


# ----------------------------------------------------------------------------- finite width -> NNGP
WIDTHS = (4, 16, 64, 128)


@pytest.mark.slow
def test_finite_width_volumes_approach_nngp():
    """Hit-or-miss volumes of 3-bit AND (0x80, NNGP volume ~6.7e-3) for relu nets [W, W], 2e5
    networks per width: the NNGP value lies in the Clopper-Pearson interval of the widest net at
    level 1 - 1e-3/2 (the O(1/W) finite-width bias there, ~1% of the volume, is well inside the
    ~9% half-width: false failure ~1e-3), is far outside the W = 4 interval (bias ~ -40%), and the
    |log difference| at W = 4 exceeds the one at the widest W."""
    model, prior = MLPSpec(n_inputs=3, widths=(8, 8)), ScaledPrior()
    ng = nngp_orthant(model, prior, 0x80, NNGPSettings(seed=1))
    rows = []
    for w in WIDTHS:
        spec = parse_spec(
            f'[model]\nn_inputs = 3\nwidths = [{w}, {w}]\nactivation = "relu"\n[target]\ntruth_table = "0x80"\n'
            f"[estimator]\nsamples = 200000\nchunk_size = 50000\nseed = {w}\n"
        )
        est = estimate_volume(spec)
        lo, hi = clopper_pearson(est.hits, est.samples, 1 - FWER / 2)
        rows.append((w, est, lo, hi))
        print(f"W={w:4d}: log10 {est.log10_volume:.4f} ci95 [{est.ci95[0]:.4f}, {est.ci95[1]:.4f}]"
              f"  vs NNGP {ng.log10_value:.4f} ci95 [{ng.ci95[0]:.4f}, {ng.ci95[1]:.4f}]")
    diff = [abs(e.log10_volume - ng.log10_value) for _, e, _, _ in rows]
    w_big, _, lo, hi = rows[-1]
    assert lo <= ng.value <= hi, f"NNGP {ng.value} outside the W={w_big} interval [{lo}, {hi}]"
    _, _, lo4, hi4 = rows[0]
    assert not lo4 <= ng.value <= hi4
    assert diff[0] > diff[-1]
