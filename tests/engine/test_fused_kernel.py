"""The fused Pallas kernel in the engine (``[estimator] sampler = "fused"``, ``fused_kernel = ...``): run in
interpret mode on the CPU, it gives exactly the truth tables, census counts and hits of the jnp
path of the same sampler; where it cannot apply, a one-line error names the field before any work.

Interpret mode is slow (each network one interpreted program): the default tests use 3-[8]-1 nets
and at most a few thousand networks; other activations and the CUDA lowering are slow tests.
"""

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import assert_usage_error, cli, write_spec

from counting import parse_spec
from counting.boolean.tables import words_to_int
from counting.engine import bench, fused_kernel
from counting.engine.draws import PriorDraws, prior_source
from counting.engine.run import RunOptions
from counting.engine.protocols import Reducer
from counting.engine.sharding import RANGE, Engine
from counting.io.citation import citation
from counting.io.manifest import manifest
from counting.jobs import census_job, volume_job
from counting.mechanisms.predicates import truth_tables
from counting.mechanisms.sites import holds
from counting.spec.errors import SpecError

NET = "[model]\nn_inputs = 3\nwidths = [8]\n"


def spec_of(text, kernel="interpret", need_target=False, **est):
    """``text`` with ``sampler = "fused"`` and ``fused_kernel = kernel`` (and any other estimator fields)."""
    s = parse_spec(text, need_target=need_target)
    return dataclasses.replace(s, estimator=dataclasses.replace(s.estimator, sampler="fused", fused_kernel=kernel,
                                                                 **est))


def table_counts(census):
    return {words_to_int(t): int(c) for t, c in zip(census.tables, census.counts)}


def tables_and_outputs(fwd, valid):
    return truth_tables(fwd), fwd.output


def test_kernel_engine_step_gives_the_jnp_truth_tables_of_2048_networks():
    """Chunks 5 and 6 (1024 networks each) of seed 11: every truth table equal, outputs to float
    rounding (the kernel's dot products sum in another order; most outputs are bit-equal)."""
    text = NET + "[estimator]\nchunk_size = 1024\nseed = 11\n"
    steps = {}
    for kernel in ("off", "interpret"):
        eng = Engine.build(spec_of(text, kernel), tables_and_outputs, 128)
        steps[kernel] = [np.asarray(a) for a in eng.run_step(np.array([5, 6]), np.array([1024, 1024]))]
    (t_ref, o_ref), (t_ker, o_ker) = steps["off"], steps["interpret"]
    assert t_ref.shape == (2, 8, 128, 1)
    np.testing.assert_array_equal(t_ker, t_ref)
    np.testing.assert_allclose(o_ker, o_ref, rtol=1e-5, atol=1e-5)
    assert (o_ker == o_ref).mean() > 0.5 and len(np.unique(t_ref)) > 20  # not a trivially constant table


@pytest.mark.slow  # compiles the interpreted kernel again (5 to 10 s); the step's tables are compared by default
def test_kernel_census_counts_equal_the_jnp_fused_census():
    """2500 networks (a partial last chunk), batch 128: the same census, function by function (the
    interpreted kernel's compile is this test's time, not its networks)."""
    text = NET + "[estimator]\nsamples = 2500\nchunk_size = 1024\nseed = 4\n"
    opts = RunOptions(batch_size=128, progress=False)
    ref = census_job(spec_of(text, "off"), opts)[0]
    got, facts = census_job(spec_of(text, "interpret"), opts)
    assert table_counts(got) == table_counts(ref) and got.samples == ref.samples == 2500 and facts.chunks == 3
    assert ref.distinct > 10


def test_kernel_volume_hits_equal_the_jnp_fused_hits_and_its_records_say_so(tmp_path):
    text = "[model]\nn_inputs = 3\nwidths = []\n" + '[target]\nname = "majority"\n[estimator]\nsamples = 600\nchunk_size = 200\nseed = 2\n'
    opts = RunOptions(batch_size=100, progress=False)
    ref = volume_job(spec_of(text, "off", need_target=True), options=opts)
    got = volume_job(spec_of(text, "interpret", need_target=True), options=dataclasses.replace(opts, out=tmp_path))
    assert got.hits == ref.hits and got.samples == ref.samples == 600 and ref.hits > 0
    m = json.loads((tmp_path / "manifest.json").read_text())
    assert m["spec"]["estimator"]["fused_kernel"] == "interpret" and "fused_kernel = interpret" in m["key_impl"]
    assert "(fused sampler, fused Pallas kernel)" in citation(m)


def one_line_error(match, make):
    with pytest.raises(SpecError, match=match) as err:
        make()
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("text,match", [
    ("[model]\nkind = 'resmlp'\nn_inputs = 3\n", "^model.kind: expected 'mlp' for the fused kernel"),
    (NET + "activation = 'erf'\n", "^model.activation: expected one of \\['relu', 'tanh', 'step', 'sign'\\]"),
    (NET + "activation = 'gelu'\n", "^model.activation: expected one of"),
    (NET + "[prior]\nkind = 'uniform'\n", "^prior.kind: expected 'gaussian' for the fused kernel"),
])
def test_kernel_refuses_models_and_priors_it_cannot_draw(text, match):
    spec = spec_of(text)
    one_line_error(match, lambda: prior_source(spec, "cpu"))
    one_line_error(match, lambda: Engine.build(spec, tables_and_outputs, 128))


def test_kernel_refuses_other_samplers_shared_readouts_and_the_cpu_without_interpret():
    one_line_error("^estimator.fused_kernel: expected 'off' unless sampler = 'fused', got 'pallas'",
                   lambda: parse_spec(NET + "[estimator]\nfused_kernel = 'pallas'\n", need_target=False))
    one_line_error("^estimator.fused_kernel: expected one of \\['off', 'pallas', 'interpret'\\]",
                   lambda: parse_spec(NET + "[estimator]\nsampler = 'fused'\nfused_kernel = 'on'\n",
                                      need_target=False))
    shared = spec_of(NET + "[estimator]\nsamples = 64\n", readouts_per_draw=4)
    one_line_error("^estimator.readouts_per_draw: expected 1 with estimator.fused_kernel",
                   lambda: prior_source(shared, "cpu"))
    gpu = spec_of(NET, "pallas")
    one_line_error("^estimator.fused_kernel: expected a GPU for 'pallas' \\('interpret' runs the same kernel on cpu",
                   lambda: prior_source(gpu, "cpu"))
    source = prior_source(gpu, "gpu")  # on a GPU: the compiled kernel
    assert isinstance(source, fused_kernel.KernelOutputs) and not source.interpret


@pytest.mark.parametrize("kind", ["", "kind = 'mc'\n"])
def test_the_old_key_kernel_of_mc_is_refused_naming_the_new_one(kind):
    """``kernel`` was this field's key; it is refused in one line naming ``estimator.fused_kernel``,
    while ``smc`` and ``subset`` keep ``kernel`` for their move kernel."""
    one_line_error("^estimator.kernel: expected estimator.fused_kernel for kind 'mc' \\(renamed; kernel is the "
                   "move kernel of smc and subset\\), got 'pallas'$",
                   lambda: parse_spec(NET + f"[estimator]\n{kind}sampler = 'fused'\nkernel = 'pallas'\n",
                                      need_target=False))
    for kind, move in (("smc", "mala"), ("subset", "pcn")):
        est = parse_spec(NET + f"[estimator]\nkind = '{kind}'\nkernel = '{move}'\n", need_target=False).estimator
        assert est.kernel == move


def test_the_old_key_kernel_is_refused_by_the_command_line_before_any_work(tmp_path):
    spec = write_spec(tmp_path, NET + "[estimator]\nsampler = 'fused'\nkernel = 'interpret'\n")
    r = cli("census", spec, "--out", tmp_path / "out", "--no-progress")
    assert "estimator.fused_kernel" in assert_usage_error(r, "estimator.kernel")
    assert not (tmp_path / "out").exists()


def test_kernel_refuses_tallies_that_read_parameters_or_sites_before_any_work():
    spec = spec_of(NET + "[estimator]\nsamples = 256\nchunk_size = 256\n")

    def lesioned(fwd, valid, params):
        return fwd.output

    one_line_error("^estimator.fused_kernel: expected 'off' for a job whose tally reads the parameters",
                   lambda: Engine.build(spec, Reducer(lesioned, needs_params=True), 64))
    site = holds("layer1", 0xE8, 3)
    one_line_error("^estimator.fused_kernel: expected 'off' for a job that reads the networks' sites",
                   lambda: census_job(spec, RunOptions(batch_size=64, progress=False), where=site))


def test_default_keeps_identity_and_records_name_the_kernel():
    base = NET + "[estimator]\nsamples = 10\nsampler = 'fused'\n"
    plain = parse_spec(base, need_target=False)
    assert plain.to_json() == parse_spec(base + "fused_kernel = 'off'\n", need_target=False).to_json()
    assert "kernel" not in plain.to_json() and isinstance(prior_source(plain, "gpu"), PriorDraws)
    chosen = parse_spec(base + "fused_kernel = 'pallas'\n", need_target=False)
    assert chosen.to_dict()["estimator"]["fused_kernel"] == "pallas"
    m = manifest("volume", chosen.to_dict(), {}, {}, [])
    assert m["key_impl"] == ("philox4x32-10 (sampler = fused, drawn in the fused Pallas kernel, "
                             "fused_kernel = pallas)")
    assert manifest("volume", plain.to_dict(), {}, {}, [])["key_impl"] == "philox4x32-10 (sampler = fused)"


def test_bench_measures_the_kernel_on_gpus_only():
    assert "engine-fused-kernel" in [c.name for c in bench.CANDIDATES]
    assert "engine-fused-kernel" not in [c.name for c in bench.candidates_for("cpu")]
    assert [c.name for c in bench.candidates_for("gpu")] == [c.name for c in bench.CANDIDATES]


# each activation and shape compiles the interpreted kernel afresh (5 to 10 s each): slow step
@pytest.mark.slow
@pytest.mark.parametrize("model", ["n_inputs = 3\nwidths = [8]\nactivation = 'tanh'\n",
                                   "n_inputs = 3\nwidths = [8]\nactivation = 'sign'\n",
                                   "n_inputs = 3\nwidths = [6]\nactivation = 'step'\ninputs = '01'\n",
                                   "n_inputs = 4\nwidths = []\n",
                                   "n_inputs = 4\nwidths = [5, 3]\n"])
def test_kernel_census_equals_the_jnp_census_for_other_networks(model):
    text = f"[model]\n{model}[estimator]\nsamples = 600\nchunk_size = 300\nseed = 8\n"
    opts = RunOptions(batch_size=100, progress=False)
    ref = census_job(spec_of(text, "off"), opts)[0]
    assert table_counts(census_job(spec_of(text, "interpret"), opts)[0]) == table_counts(ref) and ref.distinct > 1


def test_engine_step_with_the_kernel_lowers_to_triton_for_cuda():
    """The whole step (shard_map, scan over blocks, kernel, packing) as a GPU runs it; a small net keeps
    it fast (test_fused lowers the 7-40-40-1 kernel alone, in the slow step)."""
    spec = spec_of(NET + "[estimator]\nchunk_size = 4096\n", "pallas")
    source = fused_kernel.KernelOutputs(spec)  # not interpreted: what a GPU runs
    eng = Engine.build(spec, lambda fwd, valid: truth_tables(fwd), 1024, source=source)
    chunks, ranges = jax.ShapeDtypeStruct((1,), jnp.uint32), jax.ShapeDtypeStruct((1, RANGE), jnp.uint32)
    text = eng.step.trace(chunks, ranges).lower(lowering_platforms=("cuda",)).as_text()
    assert "xla.gpu.triton" in text and "kernel_body" in text
