"""Models, priors and truth tables against plain numpy re-implementations and hand-built networks."""

import math

import jax
import numpy as np
import pytest
from scipy import special, stats

from counting.boolean.cube import cube
from counting.models import forward, n_params, param_layout
from counting.mechanisms.predicates import computes, truth_tables
from counting.engine.priors import sample_params, scale_vector
from counting.spec import MLPSpec, ResMLPSpec, ScaledPrior
from counting.boolean.tables import from_function, named_truth_table, pack, to_hex, words_to_int

NP_ACT = {
    "relu": lambda z: np.maximum(z, 0),
    "tanh": np.tanh,
    "erf": special.erf,
    "gelu": lambda z: 0.5 * z * (1 + special.erf(z / math.sqrt(2))),
}


def numpy_mlp(p, b, widths, act, x):
    h = x
    for i in range(1, len(widths) + 1):
        h = NP_ACT[act](h @ p[f"layer{i}.w"][b] + p[f"layer{i}.b"][b])
    return (h @ p["output.w"][b] + p["output.b"][b])[:, 0]


@pytest.mark.parametrize("act", ["relu", "tanh", "erf", "gelu"])
@pytest.mark.parametrize("widths", [(), (5,), (6, 4, 3)])
def test_mlp_matches_numpy(act, widths):
    m = MLPSpec(n_inputs=3, widths=widths, activation=act)
    params = sample_params(jax.random.key(2), m, ScaledPrior(), batch=4)
    fwd = forward(m, params, cube(3))
    p = {k: np.asarray(v, np.float64) for k, v in params.items()}
    for b in range(4):
        np.testing.assert_allclose(fwd.output[b], numpy_mlp(p, b, widths, act, cube(3)), rtol=1e-4, atol=1e-5)
    if widths:  # site layer1 holds the first pre-activations, units-first
        np.testing.assert_allclose(fwd.sites["layer1"][0].T, cube(3) @ p["layer1.w"][0] + p["layer1.b"][0],
                                   rtol=1e-5, atol=1e-5)


def test_resmlp_matches_numpy():
    m = ResMLPSpec(n_inputs=4, width=5, depth=3, hidden=7, activation="tanh")
    params = sample_params(jax.random.key(3), m, ScaledPrior(), batch=2)
    fwd = forward(m, params, cube(4))
    p = {k: np.asarray(v, np.float64)[1] for k, v in params.items()}
    s = cube(4) @ p["embed.w"] + p["embed.b"]
    for k in range(1, 4):
        u = s @ p[f"block{k}.in.w"] + p[f"block{k}.in.b"]
        s = s + np.tanh(u) @ p[f"block{k}.out.w"] + p[f"block{k}.out.b"]
        np.testing.assert_allclose(fwd.sites[f"stream{k}"][1].T, s, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(fwd.output[1], (s @ p["output.w"] + p["output.b"])[:, 0], rtol=1e-4, atol=1e-5)
    assert n_params(m) == 4 * 5 + 5 + 3 * (5 * 7 + 7 + 7 * 5 + 5) + 5 + 1


@pytest.mark.parametrize("kind", ["gaussian", "uniform"])
def test_prior_variances_and_shape(kind):
    """Weight variance sigma_w^2/fan_in and bias variance sigma_b^2, to within 5 standard errors.

    With 64k networks per entry the relative standard error of a variance is about 0.6%
    (gaussian) or 0.4% (uniform); a 5-sigma band fails a correct prior with probability < 1e-6.
    """
    m = MLPSpec(n_inputs=4, widths=(3,))
    pr = ScaledPrior(kind=kind, sigma_w=2.0, sigma_b=0.5)
    p = sample_params(jax.random.key(4), m, pr, batch=1 << 16)
    w, b = np.asarray(p["layer1.w"], np.float64), np.asarray(p["output.b"], np.float64)
    kurt = 3.0 if kind == "gaussian" else 1.8
    for arr, var in [(w, 4.0 / 4), (b, 0.25)]:
        se = var * math.sqrt((kurt - 1) / arr.shape[0])
        assert np.all(np.abs(arr.var(axis=0) - var) < 5 * se)
    if kind == "uniform":
        assert np.abs(w).max() <= math.sqrt(3) * 2.0 / 2 + 1e-6
        assert stats.kstest(w[:, 0, 0] / 1.0, stats.uniform(-math.sqrt(3), 2 * math.sqrt(3)).cdf).pvalue > 1e-4
    else:
        assert stats.kstest(w[:, 0, 0] / 1.0, "norm").pvalue > 1e-4
    assert scale_vector(m, pr).shape == (n_params(m),)
    assert [s.name for s in param_layout(m)] == ["layer1.w", "layer1.b", "output.w", "output.b"]


def test_named_targets_and_conventions():
    assert cube(2).tolist() == [[-1, -1], [1, -1], [-1, 1], [1, 1]]
    assert to_hex(named_truth_table("majority", 3), 3) == "0xe8"
    assert named_truth_table("and", 2) == 0x8 and named_truth_table("or", 2) == 0xE
    assert named_truth_table("parity", 2) == 0x6 and named_truth_table("parity", 3) == 0x96
    assert named_truth_table("const0", 3) == 0 and named_truth_table("const1", 3) == 0xFF
    assert named_truth_table("x1", 2) == 0xC and to_hex(0x3, 4) == "0x0003"
    with pytest.raises(ValueError):
        named_truth_table("x3", 3)


def test_pack_bit_order_on_seven_bits():
    rng = np.random.default_rng(0)
    bits = rng.random((5, 128)) < 0.5
    words = np.asarray(pack(bits))
    assert words.shape == (5, 4) and words.dtype == np.uint32
    for row, w in zip(bits, words):
        assert words_to_int(w) == sum(1 << i for i in range(128) if row[i])


def test_hand_built_perceptron_computes_and():
    """w = (1, 1), b = -1.5 computes AND (0x8); b = +1.5 computes OR (0xe)."""
    m = MLPSpec(n_inputs=2, widths=())
    params = {"output.w": np.array([[[1.0], [1.0]], [[1.0], [1.0]]]), "output.b": np.array([[-1.5], [1.5]])}
    fwd = forward(m, params, cube(2))
    assert [words_to_int(t) for t in np.asarray(truth_tables(fwd))] == [0x8, 0xE]
    assert np.asarray(computes(0x8, 2)(fwd)).tolist() == [True, False]
    assert from_function(lambda x: x[0] > 0 and x[1] > 0, 2) == 0x8
