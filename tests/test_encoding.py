"""The ``[model] inputs`` option: a model on the ``{0,1}^n`` cube instead of ``{-1,+1}^n``.

Parsing and its one-line error; the default leaves every job identity (checkpoints, manifests, run
folder names) as it was; the forward pass, the counting engine, the NNGP kernel and hit-or-miss
volumes all see the encoded points. Reference values are computed here independently of the package:
the cube from explicit bit loops, the MLP in numpy, and the perceptron's volume of 2-bit AND in closed
form (a trivariate normal orthant).
"""

import json
import math
from pathlib import Path

import jax
import numpy as np
import pytest
from scipy import stats

from conftest import hit_or_miss
from counting.analytic.kernel import nngp_kernel
from counting.engine import checkpoint
from counting.engine.census import Census
from counting.engine.draws import PriorDraws
from counting.engine.priors import sample_params, unflatten
from counting.engine.run import RunOptions
from counting.estimators.nngp import nngp_orthant
from counting.jobs import run_census
from counting.mechanisms.lesions import cut_tables, lesioned_tables
from counting.mechanisms.predicates import computes, truth_tables
from counting.models import describe_model, forward, model_inputs, n_params
from counting.rare.coordinates import GaussianProblem, gaussian_to_params
from counting.io.citation import citation
from counting.spec import MLPSpec, NNGPSettings, ResMLPSpec, ScaledPrior, parse_spec, spec_from_dict
from counting.spec.errors import SpecError
from counting.spec.model import parse_model

ROOT = Path(__file__).resolve().parents[1]


def explicit_cube(n: int, zero: float) -> np.ndarray:
    """Point ``i`` has ``x_j = 1`` if bit ``j`` of ``i`` is set, else ``zero`` (plain loops)."""
    return np.array([[1.0 if (i >> j) & 1 else zero for j in range(n)] for i in range(2**n)])


# --- the spec ------------------------------------------------------------------------------------


def test_inputs_parse_for_both_kinds_and_default_to_pm1():
    assert parse_model({"widths": [4]}).inputs == "pm1"
    assert parse_model({"widths": [4], "inputs": "01"}) == MLPSpec(3, (4,), "relu", "01")
    r = parse_model({"kind": "resmlp", "depth": 3, "inputs": "01"})
    assert r == ResMLPSpec(3, 16, 3, 16, "relu", "01") and r.inputs == "01"
    spec = parse_spec('[model]\nn_inputs = 2\nwidths = []\ninputs = "01"\n[target]\nname = "and"\n')
    assert spec.model.inputs == "01"
    assert [f for f in MLPSpec.__dataclass_fields__][-2:] == ["inputs", "kind"]
    assert [f for f in ResMLPSpec.__dataclass_fields__][-2:] == ["inputs", "kind"]


@pytest.mark.parametrize("bad", ["x", "0/1", "PM1", 1, None])
def test_a_bad_encoding_is_a_one_line_error_naming_the_field(bad):
    with pytest.raises(SpecError) as e:
        parse_model({"inputs": bad})
    assert str(e.value) == f"model.inputs: expected one of ['pm1', '01'], got {bad!r}"
    assert "\n" not in str(e.value)


def test_describe_model_names_the_01_encoding_only():
    assert describe_model(MLPSpec(7, (40, 40))) == "7-40-40-1 mlp, relu"
    assert describe_model(MLPSpec(7, (40, 40), inputs="01")) == "7-40-40-1 mlp, relu, {0,1} inputs"
    assert describe_model(ResMLPSpec(4, 8, 2, 8, "tanh", "01")).endswith("tanh, {0,1} inputs")


# --- identities are unchanged by the default -------------------------------------------------------

QUICKSTART_JSON = (  # Spec.to_json() of experiments/quickstart.toml before the field existed
    '{"estimator": {"chunk_size": 16384, "key_impl": "threefry2x32", "kind": "mc", "samples": 200000, '
    '"seed": 0}, "model": {"activation": "relu", "kind": "mlp", "n_inputs": 3, "widths": [40, 40]}, '
    '"prior": {"kind": "gaussian", "sigma_b": 1.0, "sigma_w": 1.0}, '
    '"target": {"name": "majority", "truth_table": "0xe8"}}')


def test_the_default_encoding_leaves_the_job_identity_as_it_was():
    text = (ROOT / "experiments" / "quickstart.toml").read_text()
    assert parse_spec(text).to_json() == QUICKSTART_JSON
    explicit = parse_spec(text.replace('activation = "relu"', 'activation = "relu"\ninputs = "pm1"'))
    assert explicit.model.inputs == "pm1" and explicit.to_json() == QUICKSTART_JSON
    other = parse_spec(text.replace('activation = "relu"', 'activation = "relu"\ninputs = "01"'))
    assert json.loads(other.to_json())["model"]["inputs"] == "01"


def test_an_existing_results_folder_keeps_its_identity(tmp_path):
    """results/enumeration's manifest records its spec; the same TOML gives the same spec today, and a
    checkpoint written with that recorded identity resumes (an "01" spec is refused, naming the field)."""
    manifest = json.loads((ROOT / "results" / "enumeration" / "manifest.json").read_text())
    spec = parse_spec((ROOT / "experiments" / "enumerate_3pow20.toml").read_text())
    assert spec.to_dict() == manifest["spec"]
    checkpoint.save(tmp_path, json.dumps(manifest["spec"], sort_keys=True), "census", 7, 1.0, {})
    assert checkpoint.load(tmp_path, spec.to_json(), "census").next == 7
    changed = parse_spec((ROOT / "experiments" / "enumerate_3pow20.toml").read_text()
                         .replace("[model]", '[model]\ninputs = "01"'))
    with pytest.raises(Exception, match="model.inputs"):
        checkpoint.load(tmp_path, changed.to_json(), "census")


def test_an_01_manifest_spec_parses_back_and_its_citation_names_the_encoding():
    spec = parse_spec('[model]\nn_inputs = 2\nwidths = [3]\ninputs = "01"\n[target]\nname = "and"\n')
    d = spec.to_dict()
    assert spec_from_dict({**d, "target": {"truth_table": d["target"]["truth_table"]}}).model == spec.model
    m = {"kind": "volume", "spec": d, "seed": 0,
         "result": {"log10_volume": -1.0, "ci95": [-1.1, -0.9], "volume": 0.1, "estimator": "mc",
                    "samples": 100, "cost": {"networks": 100}, "hits": 10, "seed": 0}}
    assert "2-3-1 relu MLP on {0,1} inputs;" in citation(m)
    assert "{0,1}" not in citation({**m, "spec": parse_spec(PM1_AND_TOML).to_dict()})


PM1_AND_TOML = '[model]\nn_inputs = 2\nwidths = [3]\n[target]\nname = "and"\n'


# --- the forward pass and the engine ---------------------------------------------------------------


def test_model_inputs_are_the_encoded_cube():
    for n in (1, 3):
        assert np.array_equal(model_inputs(MLPSpec(n, inputs="01")), explicit_cube(n, 0.0))
        assert np.array_equal(model_inputs(MLPSpec(n)), explicit_cube(n, -1.0))
        assert np.array_equal(model_inputs(ResMLPSpec(n, inputs="01")), explicit_cube(n, 0.0))


def test_forward_on_01_equals_a_numpy_mlp():
    m = MLPSpec(3, (5, 4), "tanh", "01")
    p = sample_params(jax.random.key(3), m, ScaledPrior(sigma_w=1.3, sigma_b=0.7), batch=4)
    out = np.asarray(forward(m, p, model_inputs(m)).output)
    q = {k: np.asarray(v, np.float64) for k, v in p.items()}
    x = explicit_cube(3, 0.0)
    for b in range(4):
        h = np.tanh(x @ q["layer1.w"][b] + q["layer1.b"][b])
        h = np.tanh(h @ q["layer2.w"][b] + q["layer2.b"][b])
        want = h @ q["output.w"][b][:, 0] + q["output.b"][b][0]
        np.testing.assert_allclose(out[b], want, rtol=1e-5, atol=1e-5)
    pm1 = np.asarray(forward(m, p, model_inputs(MLPSpec(3, (5, 4), "tanh"))).output)
    assert np.abs(pm1 - out).max() > 0.1  # the encoding changes the outputs


CENSUS_SPEC = ('[model]\nn_inputs = 3\nwidths = [6]\ninputs = "{inputs}"\n'
               '[estimator]\nsamples = 2048\nchunk_size = 1024\nseed = 11\n')


@pytest.mark.slow  # two censuses and a direct evaluation (about 4 s); the slow step runs it
def test_census_on_01_is_batch_invariant_and_is_the_census_of_the_01_forward_pass():
    spec = parse_spec(CENSUS_SPEC.format(inputs="01"), need_target=False)
    a = run_census(spec, RunOptions(batch_size=64, progress=False))
    b = run_census(spec, RunOptions(batch_size=256, progress=False))
    assert np.array_equal(a.tables, b.tables) and np.array_equal(a.counts, b.counts)
    assert a.samples == 2048
    # the same networks (the engine's draws), evaluated directly on the explicit {0,1} cube
    src = PriorDraws(spec)
    rows = []
    for ck in src.chunk_inputs(np.arange(2, dtype=np.uint32)):
        params = unflatten(spec.model, src.params(src.network_inputs(ck, 1024)))
        rows.append(np.asarray(truth_tables(forward(spec.model, params, explicit_cube(3, 0.0).astype(np.float32)))))
    direct = Census.from_rows(np.concatenate(rows), 3)
    assert np.array_equal(direct.tables, a.tables) and np.array_equal(direct.counts, a.counts)
    pm1 = run_census(parse_spec(CENSUS_SPEC.format(inputs="pm1"), need_target=False), RunOptions(progress=False))
    assert not (np.array_equal(pm1.tables, a.tables) and np.array_equal(pm1.counts, a.counts))


def test_lesions_and_gaussian_coordinates_see_the_01_cube():
    x01 = explicit_cube(3, 0.0).astype(np.float32)
    r = ResMLPSpec(3, 4, 2, 4, "relu", "01")
    p = sample_params(jax.random.key(5), r, ScaledPrior(), batch=64)
    full = np.asarray(truth_tables(forward(r, p, x01)))
    assert np.array_equal(np.asarray(lesioned_tables(r, p, 3, np.ones((1, 2), bool)))[0], full)
    assert np.array_equal(np.asarray(cut_tables(r, p, 3, np.zeros((1, 4, 4), bool)))[0], full)
    assert not np.array_equal(np.asarray(truth_tables(forward(r, p, explicit_cube(3, -1.0).astype(np.float32)))),
                              full)
    m, prior = MLPSpec(3, (6,), "relu", "01"), ScaledPrior()
    g = jax.random.normal(jax.random.key(6), (256, n_params(m)))
    tables = np.asarray(truth_tables(forward(m, unflatten(m, gaussian_to_params(g, m, prior)), x01)))[:, 0]
    target = int(np.bincount(tables).argmax())  # the commonest function: held by several networks
    holds = np.asarray(GaussianProblem.of(m, prior, computes(target, 3)).evaluate(g)[1])
    assert np.array_equal(holds, tables == target) and 1 < holds.sum() < 255


# --- the NNGP kernel ----------------------------------------------------------------------------------


@pytest.mark.parametrize("sw,sb", [(1.0, 1.0), (1.7, 0.4)])
def test_perceptron_kernel_on_01_is_the_closed_form(sw, sb):
    """A perceptron's output ``w.x + b`` has covariance ``sw**2 x.x'/n + sb**2`` exactly."""
    n = 3
    x = explicit_cube(n, 0.0)
    want = sw**2 * (x @ x.T) / n + sb**2
    got = nngp_kernel(MLPSpec(n, (), "relu", "01"), ScaledPrior(sigma_w=sw, sigma_b=sb))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    assert got[0, 0] == pytest.approx(sb**2)  # the origin sees only the bias
    pm1 = nngp_kernel(MLPSpec(n, (), "relu"), ScaledPrior(sigma_w=sw, sigma_b=sb))
    assert np.abs(pm1 - got).max() > 0.1


def test_one_hidden_layer_kernel_on_01_matches_monte_carlo():
    """With one hidden layer, ``E[f(x) f(x')] = sb**2 + sw**2 E[relu(u) relu(v)]`` holds at every
    width (the first layer is exactly Gaussian, the readout independent), so a Monte Carlo mean over
    2**17 networks of width 8 must match the kernel within 5 standard errors per entry."""
    m, prior = MLPSpec(2, (8,), "relu", "01"), ScaledPrior(sigma_w=1.4, sigma_b=0.6)
    p = sample_params(jax.random.key(0), m, prior, batch=2**17)
    y = np.asarray(forward(m, p, model_inputs(m)).output, np.float64)
    prods = y[:, :, None] * y[:, None, :]
    mean, se = prods.mean(0), prods.std(0) / math.sqrt(len(y))
    k = nngp_kernel(m, prior)
    assert np.all(np.abs(mean - k) < 5 * se), (mean, k, se)
    k_pm1 = nngp_kernel(MLPSpec(2, (8,), "relu"), prior)
    assert np.any(np.abs(mean - k_pm1) > 10 * se)  # the pm1 kernel is distinguishable


# --- volumes ----------------------------------------------------------------------------------------


def and2_volume(zero: float, sw: float = 1.0, sb: float = 1.0) -> float:
    """Exact perceptron volume of AND on the 2-bit cube with ``zero`` for an unset bit.

    AND needs ``w.x + b > 0`` at (1, 1) and ``< 0`` at the other three points; the constraint at the
    all-``zero`` point is implied by the two at (1, zero) and (zero, 1) and the one at (1, 1) (for
    both encodings), so the volume is the orthant ``P(Z_1, Z_2, Z_3 > 0)`` of the three remaining
    signed outputs, ``1/8 + (asin r12 + asin r13 + asin r23) / (4 pi)`` with their correlations.
    """
    d = np.array([sw / math.sqrt(2), sw / math.sqrt(2), sb])
    rows = [d * np.array([1.0, 1.0, 1.0]), -d * np.array([1.0, zero, 1.0]), -d * np.array([zero, 1.0, 1.0])]
    u = [r / np.linalg.norm(r) for r in rows]
    return 1 / 8 + sum(math.asin(float(u[i] @ u[j])) for i, j in ((0, 1), (0, 2), (1, 2))) / (4 * math.pi)


def test_and2_closed_form_reproduces_the_known_pm1_value():
    assert and2_volume(-1.0) == pytest.approx(1 / 24, abs=1e-15)
    assert and2_volume(0.0) == pytest.approx(math.asin(2 / 3) / (4 * math.pi) - 1 / 24, abs=1e-15)


def test_hit_or_miss_and_nngp_volumes_of_and_on_01_are_exact():
    exact = and2_volume(0.0)  # 0.01640...
    spec = parse_spec('[model]\nn_inputs = 2\nwidths = []\ninputs = "01"\n[target]\nname = "and"\n'
                      '[estimator]\nsamples = 65536\nchunk_size = 8192\nseed = 2\n')
    est = hit_or_miss(spec)
    lo, hi = (stats.beta.ppf(0.0005, est.hits, est.samples - est.hits + 1),
              stats.beta.ppf(0.9995, est.hits + 1, est.samples - est.hits))
    assert lo < exact < hi, (est.hits, lo, exact, hi)
    assert not lo < 1 / 24 < hi  # the {-1,+1} volume is excluded
    o = nngp_orthant(spec.model, spec.prior, 0x8, NNGPSettings(n_qmc=1024, replicates=8))
    assert o.value == pytest.approx(exact, rel=1e-2)
