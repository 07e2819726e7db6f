"""Flax models (``[model] kind = "flax"``) against the native MLP and against hand-computed layouts.

The flax MLP of :mod:`counting.models.flax_zoo` must be the native MLP exactly: slot by slot the
same shapes and fan-ins in the same order (so the same prior scales and the same random stream),
the same outputs and sites for the same parameter values, the same counts under the same seed
(census, volume, exact enumeration, rare-event scores), and, from independent seeds, census counts
that a chi-square test cannot tell apart. A user's module gets the fan-in rule of the layout
(kernels: all dimensions but the last; biases and 1-d leaves: none), Dense sites by module path,
and one-line errors naming the field for every way the named module can fail. The readout
estimators take a module whose output is its last Dense's: its features are that Dense's input (the
flax MLP's are the native MLP's, and so are its readout volumes), and a module with anything after
its last Dense is refused in one line.
"""

from __future__ import annotations

import dataclasses
import json
import math
import pickle
from pathlib import Path

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from conftest import cli, write_spec
from scipy import stats

import counting.spec
from counting.engine.priors import scale_vector, unflatten
from counting.engine.run import RunOptions
from counting.estimators import ESTIMATORS, Problem, readout
from counting.jobs import census_job, volume_job
from counting.mechanisms.predicates import computes
from counting.models import forward, model_inputs, n_params, param_layout, supporting
from counting.rare.coordinates import GaussianProblem
from counting.rare.readout_posterior import readout_basis
from counting.rare.readout_smc import readout_log_p
from counting.spec import MLPSpec, ScaledPrior, SpecError, parse_spec, spec_from_dict
from counting.spec.job import load_spec
from counting.spec.model import Args, FlaxSpec, parse_model

ROOT = Path(__file__).resolve().parents[2]
ZOO = "counting.models.flax_zoo:MLP"
QUIET = RunOptions(progress=False)


def flax_mlp(widths, activation="relu", n_inputs=3, inputs="pm1") -> FlaxSpec:
    return parse_model({"kind": "flax", "n_inputs": n_inputs, "module": ZOO, "inputs": inputs,
                        "args": {"widths": list(widths), "activation": activation}})


def native_name(flax_name: str) -> str:
    """``layer1/kernel`` -> ``layer1.w``, ``output/bias`` -> ``output.b``."""
    layer, leaf = flax_name.split("/")
    return f"{layer}.{'w' if leaf == 'kernel' else 'b'}"


def spec_text(model: str, estimator: str, target: str = "") -> str:
    return f"[model]\n{model}\n{target}\n[estimator]\n{estimator}\n"


FLAX_8 = f'kind = "flax"\nn_inputs = 3\nmodule = "{ZOO}"\nargs = {{ widths = [8], activation = "relu" }}'
NATIVE_8 = 'kind = "mlp"\nn_inputs = 3\nwidths = [8]\nactivation = "relu"'


# --- the flax MLP is the native MLP ---------------------------------------------------------------

@pytest.mark.parametrize("widths", [(), (5,), (6, 4)])
def test_layout_is_the_native_layout_slot_by_slot(widths):
    f, m = flax_mlp(widths), MLPSpec(n_inputs=3, widths=widths)
    got = [(native_name(s.name), s.shape, s.fan_in) for s in param_layout(f)]
    assert got == [tuple(s) for s in param_layout(m)]
    np.testing.assert_array_equal(scale_vector(f, ScaledPrior(2.0, 0.5)), scale_vector(m, ScaledPrior(2.0, 0.5)))
    assert n_params(f) == n_params(m)


@pytest.mark.parametrize("activation", ["relu", "erf", "sign"])
def test_forward_equals_the_native_forward_for_the_same_parameters(activation):
    f, m = flax_mlp((6, 4), activation, inputs="01"), MLPSpec(n_inputs=3, widths=(6, 4), activation=activation,
                                                              inputs="01")
    flat = jax.random.normal(jax.random.key(4), (5, n_params(m)))
    native = unflatten(m, flat)
    mapped = {s.name: native[native_name(s.name)] for s in param_layout(f)}  # slot to slot, by name
    # one flat vector gives both the same values: the layouts order the random stream alike (and
    # with equal scale vectors, the same key draws the same networks)
    assert all(np.array_equal(v, mapped[k]) for k, v in unflatten(f, flat).items())
    x = model_inputs(m)
    a, b = forward(f, mapped, x), forward(m, native, x)
    np.testing.assert_allclose(a.output, b.output, rtol=1e-5, atol=1e-6)
    assert sorted(a.sites) == sorted(b.sites) == ["layer1", "layer2", "output"]
    for name in b.sites:
        np.testing.assert_allclose(a.sites[name], b.sites[name], rtol=1e-5, atol=1e-6)


def census_counts(model: str, seed: int, samples: int = 20_000, chunk_size: int = 16_384, prior: str = ""
                  ) -> dict[int, int]:
    est = f"samples = {samples}\nseed = {seed}\nchunk_size = {chunk_size}"
    c, _ = census_job(parse_spec(spec_text(model, est, prior), need_target=False), QUIET)
    return {int(t[0]): int(k) for t, k in zip(c.tables, c.counts)}


def homogeneity_p(a: dict[int, int], b: dict[int, int], least: int = 20) -> float:
    """Chi-square test that two censuses sample one distribution: functions seen at least ``least``
    times in both together, the rest pooled into one cell."""
    keys = sorted(set(a) | set(b))
    big = [k for k in keys if a.get(k, 0) + b.get(k, 0) >= least]
    rows = [[a.get(k, 0) for k in big], [b.get(k, 0) for k in big]]
    rows[0].append(sum(a.values()) - sum(rows[0]))
    rows[1].append(sum(b.values()) - sum(rows[1]))
    return float(stats.chi2_contingency(np.asarray(rows)).pvalue)


@pytest.mark.slow  # three 20,000-network censuses (about 15 s on 2 shared cores)
def test_census_from_independent_seeds_agrees_with_the_native_census():
    # Independent networks (seeds 11 and 12), 20,000 each: every function's volume must agree. The
    # chi-square test rejects at p < 1e-4, so a correct flax model fails with probability 1e-4 (the
    # seeds are fixed, so the outcome is deterministic; p = 0.38 here). The same test tells them from
    # networks with weights 30% too wide (sigma_w = 1.3; p ~ 1e-108), so it can fail.
    flax, native = census_counts(FLAX_8, 11), census_counts(NATIVE_8, 12)
    assert homogeneity_p(flax, native) > 1e-4
    assert homogeneity_p(flax, census_counts(NATIVE_8, 12, prior="[prior]\nsigma_w = 1.3")) < 1e-4


@pytest.mark.slow  # three volume passes (about 10 s); the default census test covers the same stream
def test_volume_is_reproducible_and_is_the_native_volume():
    est = "samples = 20000\nseed = 3"
    target = '[target]\nname = "majority"'
    a = volume_job(parse_spec(spec_text(FLAX_8, est, target)), options=QUIET)
    b = volume_job(parse_spec(spec_text(FLAX_8, est, target)), options=QUIET)
    c = volume_job(parse_spec(spec_text(NATIVE_8, est, target)), options=QUIET)
    assert a.hits == b.hits == c.hits > 0 and a.samples == 20_000


@pytest.mark.slow  # two enumeration passes, each compiled afresh (about 6 s)
def test_exact_enumeration_is_the_native_enumeration():
    ternary = '[prior]\nkind = "ternary"'
    flax = FLAX_8.replace("[8]", "[2]").replace("relu", "step").replace("n_inputs = 3", "n_inputs = 2")
    native = NATIVE_8.replace("[8]", "[2]").replace("relu", "step").replace("n_inputs = 3", "n_inputs = 2")
    a, _ = census_job(parse_spec(spec_text(flax, 'kind = "exact"', ternary), need_target=False), QUIET)
    b, _ = census_job(parse_spec(spec_text(native, 'kind = "exact"', ternary), need_target=False), QUIET)
    assert a.exact and a.samples == 3**9
    assert np.array_equal(a.tables, b.tables) and np.array_equal(a.counts, b.counts)


def test_rare_event_problem_is_the_native_problem():
    # subset and smc see a model only through GaussianProblem: the same scores on the same points
    f, m = flax_mlp((5,)), MLPSpec(n_inputs=3, widths=(5,))
    cond = computes(0xE8, 3)
    pf, pm = GaussianProblem.of(f, ScaledPrior(), cond), GaussianProblem.of(m, ScaledPrior(), cond)
    assert pf.n_params == pm.n_params and pf.groups == pm.groups
    g = jax.random.normal(jax.random.key(1), (64, pf.n_params))
    (sf, hf), (sm, hm) = pf.evaluate(g), pm.evaluate(g)
    np.testing.assert_allclose(sf, sm, rtol=1e-5, atol=1e-6)
    assert np.array_equal(hf, hm)


# --- a user's module --------------------------------------------------------------------------------

class Block(nn.Module):
    @nn.compact
    def __call__(self, x):
        d = nn.Dense(3)
        return d(jnp.tanh(d(x)))  # one Dense called twice: two sites


class Custom(nn.Module):
    """A nested block, a shared Dense, a 3-d weight and a bare 1-d parameter."""

    @nn.compact
    def __call__(self, x):
        mix = self.param("mix", nn.initializers.normal(), (x.shape[1], 2, 3))
        shift = self.param("shift", nn.initializers.zeros, (3,))
        h = jnp.einsum("pi,ijk->pk", x, mix) + shift
        return nn.Dense(1)(Block()(h))


class TwoOutputs(nn.Module):
    @nn.compact
    def __call__(self, x):
        return nn.Dense(2)(x)


class NoParameters(nn.Module):
    @nn.compact
    def __call__(self, x):
        return x[:, 0]


class Stateful(nn.Module):
    @nn.compact
    def __call__(self, x):
        return nn.BatchNorm(use_running_average=False)(nn.Dense(1)(x))


class Broken(nn.Module):
    size: int = 1

    @nn.compact
    def __call__(self, x):
        raise RuntimeError("broken on purpose\nsecond line")


def here(name: str) -> str:
    return f"{__name__}:{name}"


def test_custom_module_layout_follows_the_fan_in_rule_and_its_forward_is_apply():
    spec = FlaxSpec(here("Custom"), Args(), n_inputs=4)
    assert [tuple(s) for s in param_layout(spec)] == [
        ("mix", (4, 2, 3), 8), ("shift", (3,), None),
        ("Block_0/Dense_0/kernel", (3, 3), 3), ("Block_0/Dense_0/bias", (3,), None),
        ("Dense_0/kernel", (3, 1), 3), ("Dense_0/bias", (1,), None)]
    params = unflatten(spec, jax.random.normal(jax.random.key(0), (3, n_params(spec))))
    x = model_inputs(spec)
    fwd = forward(spec, params, x)
    assert fwd.output.shape == (3, 16)
    assert {k: v.shape for k, v in fwd.sites.items()} == {
        "Block_0/Dense_0:0": (3, 3, 16), "Block_0/Dense_0:1": (3, 3, 16), "Dense_0": (3, 1, 16)}
    one = {"mix": params["mix"][2], "shift": params["shift"][2],
           "Block_0": {"Dense_0": {"kernel": params["Block_0/Dense_0/kernel"][2],
                                   "bias": params["Block_0/Dense_0/bias"][2]}},
           "Dense_0": {"kernel": params["Dense_0/kernel"][2], "bias": params["Dense_0/bias"][2]}}
    np.testing.assert_allclose(fwd.output[2], Custom().apply({"params": one}, x)[:, 0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fwd.sites["Dense_0"][2, 0], fwd.output[2], rtol=1e-6)


BAD = {
    "no module": ({}, "model.module", "'package.module:ClassName'"),
    "not importable": ({"module": "no_such_package.models:Net"}, "model.module", "importable"),
    "no such class": ({"module": "counting.models.flax_zoo:Nope"}, "model.module", "class 'Nope'"),
    "not a module": ({"module": "counting.models.flax_zoo:ACTIVATIONS"}, "model.module", "flax.linen.Module"),
    "unknown argument": ({"module": ZOO, "args": {"depth": 2}}, "model.args", "depth"),
    "bad argument value": ({"module": ZOO, "args": {"activation": "softplus"}}, "model.args", "softplus"),
    "args not a table": ({"module": ZOO, "args": [8]}, "model.args", "table"),
    "init fails": ({"module": here("Broken")}, "model.module", "broken on purpose"),
    "two outputs": ({"module": here("TwoOutputs")}, "model.module", "one float output per input point"),
    "no parameters": ({"module": here("NoParameters")}, "model.module", "at least one parameter"),
    "state": ({"module": here("Stateful")}, "model.module", "only variables are 'params'"),
    "other kind's field": ({"module": ZOO, "widths": [8]}, "model.widths", "known keys for kind 'flax'"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_every_bad_flax_model_is_a_one_line_error_naming_its_field(case):
    table, field, words = BAD[case]
    with pytest.raises(SpecError) as e:
        parse_model({"kind": "flax", **table})
    msg = str(e.value)
    assert msg.startswith(f"{field}: expected") and words in msg and "\n" not in msg, msg


def test_nngp_and_shared_draws_refuse_a_flax_model():
    target = '[target]\nname = "majority"'
    with pytest.raises(SpecError) as e:
        parse_spec(spec_text(FLAX_8, 'kind = "nngp"', target))
    assert str(e.value) == ("model.kind: expected 'mlp' for estimator 'nngp' (its kernel is known for mlp only), "
                            "got 'flax'")
    with pytest.raises(SpecError, match="kind other than 'mlp'"):
        volume_job(parse_spec(spec_text(FLAX_8, "samples = 4000\nreadouts_per_draw = 4", target)), options=QUIET)


NNGP_REFUSED = {  # what the NNGP estimator cannot take, and the field that names it
    "resmlp": ('kind = "resmlp"\nn_inputs = 3', "", "model.kind"),
    "uniform prior": (NATIVE_8, '[prior]\nkind = "uniform"', "prior.kind"),
    "tanh": (NATIVE_8.replace("relu", "tanh"), "", "model.activation"),
}


@pytest.mark.parametrize("case", sorted(NNGP_REFUSED))
def test_nngp_refusals_name_the_field_at_fault(case):
    model, prior, field = NNGP_REFUSED[case]
    with pytest.raises(SpecError) as e:
        parse_spec(spec_text(model, 'kind = "nngp"', '[target]\nname = "majority"\n' + prior))
    assert str(e.value).startswith(f"{field}: expected ") and "'nngp'" in str(e.value) and "\n" not in str(e.value)


def test_flax_spec_is_a_public_model_spec():
    assert counting.spec.FlaxSpec is FlaxSpec and "FlaxSpec" in counting.spec.__all__


def test_spec_is_hashable_and_its_dict_parses_back_to_it():
    spec = parse_spec(spec_text(FLAX_8 + '\ninputs = "01"', "samples = 100"), need_target=False)
    d = {k: v for k, v in json.loads(spec.to_json()).items() if v is not None}  # no target: a census
    again = spec_from_dict(d, need_target=False)
    assert again == spec and hash(again.model) == hash(spec.model)
    assert pickle.loads(pickle.dumps(spec.model)) == spec.model
    assert spec.model.args == Args(activation="relu", widths=(8,))
    with pytest.raises(TypeError):
        spec.model.args["widths"] = (9,)
    assert dataclasses.replace(spec.model, args=Args(widths=(9,))) != spec.model


def test_example_spec_is_the_quickstart_network_in_flax():
    spec = load_spec(ROOT / "experiments" / "flax_mlp.toml")
    assert spec.model == flax_mlp((40, 40))
    quick = load_spec(ROOT / "experiments" / "quickstart.toml")
    assert (spec.prior, spec.target, spec.estimator) == (quick.prior, quick.target, quick.estimator)


# --- the readout estimators: a module whose output is its last Dense's -----------------------------

def features_of(spec, params, x):
    fwd = forward(spec, params, x)
    return fwd, supporting(spec, "readout_features", "a linear readout").readout_features(spec, fwd, x)


@pytest.mark.parametrize("widths", [(), (6, 4)])
def test_readout_features_are_the_native_features_under_the_native_readout_prior(widths):
    f, m = flax_mlp(widths, "tanh"), MLPSpec(n_inputs=3, widths=widths, activation="tanh")
    flat = jax.random.normal(jax.random.key(7), (5, n_params(m)))
    x = model_inputs(m)
    (fwd, got), (_, want) = features_of(f, unflatten(f, flat), x), features_of(m, unflatten(m, flat), x)
    fan = widths[-1] if widths else 3
    assert got.shape == want.shape == (5, fan, 8)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    if not widths:  # a perceptron reads the inputs themselves
        np.testing.assert_array_equal(got, want)
    assert sorted(fwd.sites) == sorted(forward(m, unflatten(m, flat), x).sites)  # the features are no site
    # the posterior draws its readouts from the same features (flat read as Gaussian coordinates)
    np.testing.assert_allclose(readout_basis(f, ScaledPrior(), flat), readout_basis(m, ScaledPrior(), flat),
                               rtol=1e-5, atol=1e-6)
    # the readout's prior is the one its covariance assumes: weights N(0, sigma_w^2 / F), bias N(0, sigma_b^2)
    kernel, bias = param_layout(f)[-2:]
    assert (kernel.shape, kernel.fan_in, bias.shape, bias.fan_in) == ((fan, 1), fan, (1,), None)
    np.testing.assert_allclose(scale_vector(f, ScaledPrior("gaussian", 2.0, 0.5))[-fan - 1:],
                               [2.0 / math.sqrt(fan)] * fan + [0.5], rtol=1e-6)


def test_a_users_module_ending_in_a_dense_reads_that_dense_input():
    spec = FlaxSpec(here("Custom"), Args(), n_inputs=4)
    params = unflatten(spec, jax.random.normal(jax.random.key(0), (3, n_params(spec))))
    fwd, feats = features_of(spec, params, model_inputs(spec))
    np.testing.assert_array_equal(feats, fwd.sites["Block_0/Dense_0:1"])  # Block's output, which Dense_0 reads
    w, b = params["Dense_0/kernel"][:, :, 0], params["Dense_0/bias"]
    np.testing.assert_allclose(jnp.einsum("bfp,bf->bp", feats, w) + b, fwd.output, rtol=1e-5, atol=1e-6)


class ReluReadout(nn.Module):
    """A nonlinearity after the last Dense: the output is not a linear readout."""

    @nn.compact
    def __call__(self, x):
        h = jnp.tanh(nn.Dense(4)(x))
        return nn.relu(nn.Dense(1)(h))[:, 0]


class NoBiasReadout(nn.Module):
    @nn.compact
    def __call__(self, x):
        return nn.Dense(1, use_bias=False)(jnp.tanh(nn.Dense(4)(x)))[:, 0]


class ReadTwice(nn.Module):
    @nn.compact
    def __call__(self, x):
        h, out = jnp.tanh(nn.Dense(3)(x)), nn.Dense(1)
        return (out(h) + out(h * h))[:, 0]


class Linear(nn.Module):
    """A Dense's parameters, but not a Dense."""

    @nn.compact
    def __call__(self, x):
        return x @ self.param("kernel", nn.initializers.normal(), (x.shape[1], 1)) + self.param(
            "bias", nn.initializers.zeros, (1,))


class OwnReadout(nn.Module):
    @nn.compact
    def __call__(self, x):
        return Linear()(jnp.tanh(nn.Dense(3)(x)))[:, 0]


READOUT_REFUSED = {  # module: the words of its one-line refusal
    "ReluReadout": "expected a module whose output is its readout Dense 'Dense_1''s output, nothing applied after it",
    "NoBiasReadout": "expected a module whose last two parameters are the kernel [F, 1] and bias [1] of one "
                     "flax.linen.Dense",
    "ReadTwice": "expected a module whose readout Dense 'Dense_1' is called once",
    "OwnReadout": "expected a module whose readout 'Linear_0' (its last two parameters) is a flax.linen.Dense",
}


@pytest.mark.parametrize("kind,module", [("readout", m) for m in sorted(READOUT_REFUSED)]
                         + [("readout_smc", "ReluReadout")])
def test_readout_estimators_refuse_a_module_not_ending_in_its_readout_in_one_line(kind, module):
    model = f'kind = "flax"\nn_inputs = 2\nmodule = "{here(module)}"'
    spec = parse_spec(spec_text(model, f'kind = "{kind}"', '[target]\nname = "and"'))
    problem = Problem.of(spec)
    for run in (lambda: readout.check_readout(problem, spec.estimator),  # the estimators' check before any work
                lambda: ESTIMATORS[kind](problem, spec.estimator, QUIET)):
        with pytest.raises(SpecError) as e:
            run()
        msg = str(e.value)
        assert msg.startswith("model.module: ") and READOUT_REFUSED[module] in msg, msg
        assert here(module) in msg and "\n" not in msg


def readout_volumes(model: str, estimator: str, targets) -> list:
    spec = parse_spec(spec_text(model, estimator, '[target]\nname = "majority"'))
    return [(e.log10_volume, e.ci95) for e in readout.estimate_many(Problem.of(spec), targets, spec.estimator, QUIET)]


@pytest.mark.slow  # two readout passes, one compile each (77 s on 2 cores under a load of 11; the features test runs by default)
def test_readout_volumes_of_the_flax_perceptron_are_the_native_ones_bit_for_bit():
    est = 'kind = "readout"\nsamples = 16\nchunk_size = 16\nseed = 2'
    flax = FLAX_8.replace("[8]", "[]").replace("n_inputs = 3", "n_inputs = 2")
    native = NATIVE_8.replace("[8]", "[]").replace("n_inputs = 3", "n_inputs = 2")
    got, want = readout_volumes(flax, est, (0x8, 0xE)), readout_volumes(native, est, (0x8, 0xE))
    assert got == want and all(v is not None for v, _ in got)


@pytest.mark.slow  # two readout passes, one compile each (103 s on 2 cores under a load of 11)
def test_readout_volumes_of_the_flax_mlp_are_the_native_ones():
    # The same seed draws the same hidden layers; the features agree to float rounding (the flax
    # Dense multiplies in another order), so the volumes agree to a few parts in 1e6 of a decade.
    est = 'kind = "readout"\nsamples = 256\nchunk_size = 256\nseed = 3'
    flax, native = FLAX_8.replace("[8]", "[8, 8]"), NATIVE_8.replace("[8]", "[8, 8]")
    got, want = readout_volumes(flax, est, (0xE8, 0x80)), readout_volumes(native, est, (0xE8, 0x80))
    for (v, (lo, hi)), (v0, (lo0, hi0)) in zip(got, want):
        assert v == pytest.approx(v0, abs=1e-4) and lo == pytest.approx(lo0, abs=1e-4)
        assert hi == pytest.approx(hi0, abs=1e-4)
    assert abs(got[0][0] - got[1][0]) > 0.1  # two different volumes, each matched


@pytest.mark.slow  # two compiles of the orthant's tilted QMC (70 s on 2 cores under a load of 11)
def test_readout_smc_problem_is_the_native_problem():
    # readout_smc (and the posterior's draws) see a model only through log P(f | hidden) of its coordinates
    f, m = flax_mlp((5,)), MLPSpec(n_inputs=3, widths=(5,))
    g = jax.random.normal(jax.random.key(3), (16, n_params(m)))
    keys = jax.random.split(jax.random.key(4), 16)
    lf, lm = (jax.jit(readout_log_p(s, ScaledPrior(), 0xE8, None, 64, 2, True))(keys, g) for s in (f, m))
    finite = np.isfinite(lm)  # an infeasible sign pattern has log P = -inf in both
    assert finite.sum() >= 12 and np.array_equal(np.isfinite(lf), finite)
    np.testing.assert_allclose(lf[finite], lm[finite], rtol=1e-4)


# --- through the command line ----------------------------------------------------------------------

@pytest.mark.slow  # a command start-up and two compiles (about 7 s of CPU); the in-process checks run by default
def test_census_command_with_a_flax_model_counts_the_native_census(tmp_path):
    path = write_spec(tmp_path, spec_text(FLAX_8, "samples = 4000\nchunk_size = 1024\nseed = 5"))
    r = cli("census", path, "--json", "--no-progress", "--out", tmp_path / "out")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["samples"] == 4000
    table = pd.read_parquet(tmp_path / "out" / "census.parquet")
    native = census_counts(NATIVE_8, 5, 4000, chunk_size=1024)
    got = {int(h, 16): int(k) for h, k in zip(table["truth_table"], table["count"])}
    assert got == native and sum(got.values()) == 4000


@pytest.mark.slow  # three command start-ups and 40-40 networks (about 30 s on 2 shared cores)
def test_volume_command_with_a_flax_model_is_reproducible_and_is_the_quickstart_volume(tmp_path):
    runs = [json.loads(cli("volume", ROOT / "experiments" / spec, "--json", "--no-progress", "--samples", 50_000,
                           "--out", tmp_path / name).stdout)
            for spec, name in [("flax_mlp.toml", "a"), ("flax_mlp.toml", "b"), ("quickstart.toml", "q")]]
    assert runs[0]["hits"] == runs[1]["hits"] == runs[2]["hits"] > 0
    assert runs[0]["ci95"] == runs[2]["ci95"]
