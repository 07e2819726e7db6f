"""The benchmark's arithmetic and rules: FLOPs counted exactly, peaks looked up, sweeps stopped for the
stated reasons, the baseline computing the tables of the networks it draws, and a tiny real run
recorded. Speed itself is measured by ``counting bench``, never asserted here."""

import functools
import json

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from counting.boolean.cube import cube
from counting.engine import bench
from counting.models import forward, param_layout
from counting.spec.model import MLPSpec


def test_forward_flops_are_two_per_multiply_add_and_one_per_bias_add():
    layout = param_layout(MLPSpec(n_inputs=7, widths=(40, 40)))
    weights = sum(int(np.prod(s.shape)) for s in layout if s.fan_in is not None)
    biases = sum(int(np.prod(s.shape)) for s in layout if s.fan_in is None)
    assert (weights, biases) == (7 * 40 + 40 * 40 + 40, 40 + 40 + 1)  # 2001 parameters
    assert bench.forward_flops(7, (40, 40), 128) == 128 * (2 * weights + biases) == 501_888
    assert bench.forward_flops(3, (), 8) == 8 * (2 * 3 + 1)  # a perceptron


@pytest.mark.parametrize("kind, fp32", [("NVIDIA H100 80GB HBM3", 67e12), ("NVIDIA H100 PCIe", 51e12),
                                        ("NVIDIA H100 NVL", 60e12), ("NVIDIA H200", 67e12),
                                        ("NVIDIA A100-SXM4-80GB", 19.5e12), ("NVIDIA A100-PCIE-40GB", 19.5e12),
                                        ("Tesla V100-SXM2-16GB", 15.7e12), ("cpu", None), ("NVIDIA L4", None)])
def test_gpu_peaks_by_device_kind(kind, fp32):
    peak = bench.gpu_peak(kind)
    assert (peak and peak[0]) == fp32


def test_the_baseline_draws_from_the_prior_and_computes_the_tables_of_its_networks():
    draw = lambda k: (lambda q: (q, bench.baseline_tables(q)))(bench.baseline_params(k, 64))  # noqa: E731
    p, tables = jax.jit(draw)(jax.random.key(3))
    # sample sds within 6 standard errors (sd / sqrt(2 n)) of the prior's: a false failure about 1e-9 a test
    for name, sd in [("w1", 7**-0.5), ("b1", 1.0), ("w2", 40**-0.5), ("b2", 1.0), ("w3", 40**-0.5), ("b3", 1.0)]:
        v = np.asarray(p[name])
        assert abs(float(v.std()) / sd - 1) < 6 / np.sqrt(2 * v.size), name
    x = jnp.asarray(cube(7))
    model = MLPSpec(n_inputs=7, widths=(40, 40))
    same = {"layer1.w": p["w1"], "layer1.b": p["b1"], "layer2.w": p["w2"], "layer2.b": p["b2"],
            "output.w": p["w3"][..., None], "output.b": p["b3"][:, None]}
    want = np.asarray(jax.jit(lambda q: forward(model, q, x).output)(same))
    got = np.asarray(jax.jit(bench.baseline_outputs)(p, x))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    bits = (np.asarray(tables)[:, :, None] >> np.arange(32, dtype=np.uint32)) & 1  # [64 networks, 4 words, 32 bits]
    clear = np.abs(want) > 1e-3  # where rounding cannot flip the sign
    assert clear.mean() > 0.99
    np.testing.assert_array_equal(bits.reshape(64, 128)[clear], (want > 0)[clear])


def test_candidates_have_distinct_names_and_the_baseline_ratios_refer_to():
    names = [c.name for c in bench.CANDIDATES]
    assert len(set(names)) == len(names) and "baseline" in names and "engine" in names


def rates(values):
    return lambda s: bench.Point(rate=values[s])


def test_a_sweep_stops_after_patience_sizes_below_fall_of_the_best():
    out = bench.sweep(range(9), rates([1, 4, 10, 7, 9, 7, 7, 7, 20]), fall=0.8, patience=3)
    assert [s for s, _ in out] == list(range(8))  # 7, 7, 7 < 8 stop at size 7 (9 at size 4 reset the count)
    assert out[-1][1].stop.startswith("rate below 80% of the best for 3 sizes")
    assert all(not p.stop for _, p in out[:-1])


def test_a_sweep_stops_where_a_point_says_so_and_runs_every_size_otherwise():
    said = lambda s: bench.Point(rate=None, stop="memory: out of memory") if s == 2 else bench.Point(rate=s)  # noqa: E731
    assert [s for s, _ in bench.sweep(range(5), said)] == [0, 1, 2]
    assert [s for s, _ in bench.sweep(range(5), rates([1, 2, 3, 4, 5]))] == [0, 1, 2, 3, 4]


def fake_build(runner):
    return lambda size, devices: runner


def test_a_point_that_does_not_fit_stops_the_sweep_before_it_runs():
    calls = []
    huge = bench.Runner(lambda i: calls.append(i), 1, 2**62)
    p = bench.measure_point(fake_build(huge), 8, jax.devices(), 0.01)
    assert p.rate is None and p.stop.startswith("memory: needs") and calls == []


def test_out_of_memory_stops_the_sweep_and_other_errors_are_raised():
    def oom(size, devices):
        raise RuntimeError("RESOURCE_EXHAUSTED: Out of memory while trying to allocate")

    def bug(size, devices):
        raise ValueError("a real bug")

    assert bench.measure_point(oom, 8, jax.devices(), 0.01) == bench.Point(None, None, None, "memory: out of memory")
    with pytest.raises(ValueError, match="a real bug"):
        bench.measure_point(bug, 8, jax.devices(), 0.01)


def test_summary_ratios_and_peak_fractions():
    row = dict(workload="w", devices=1, seconds_per_call=0.1, bytes_per_device=1, stopped="", rounds=None)
    measured = [{"backend": "cpu", "device_kind": "cpu", "peak_flops": 1e12, "peak_tf32_flops": None,
                 "peak_source": "measured", "rows": [
                     row | dict(candidate="baseline", phase="sweep", size=64, networks_per_second=900.0),
                     row | dict(candidate="baseline", phase="sweep", size=128, networks_per_second=None,
                                stopped="memory: out of memory"),
                     row | dict(candidate="engine", phase="sweep", size=32, networks_per_second=2500.0),
                     row | dict(candidate="baseline", phase="final", size=64, networks_per_second=1000.0),
                     row | dict(candidate="engine", phase="final", size=32, networks_per_second=3000.0)]}]
    out = bench.summarise(measured)
    assert [r["best"] for r in out] == [False, False, False, True, True]
    assert [r["ratio_to_baseline"] for r in out] == [0.9, None, 2.5, 1.0, 3.0]
    assert out[4]["peak_fraction"] == pytest.approx(3000 * 501_888 / 1e12, rel=1e-12)
    assert out[1]["peak_fraction"] is None and out[4]["peak_tf32_fraction"] is None
    lines = bench.bench_lines(out)
    assert "baseline at size 64 (swept 64..128; memory: out of memory)" in lines[1]
    assert "engine at size 32" in lines[2] and "x3.00" in lines[2] and "0.15% of peak" in lines[2]


SMALL_ENGINE = bench.BENCH_SPEC.replace(f"chunk_size = {bench.CHUNK}", "chunk_size = 64")


@pytest.mark.slow  # five compiles and timed calls (about 20 s of CPU)
def test_a_tiny_real_run_is_recorded(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "cpu_peak", lambda: 1e11)  # the peak's matmul is not what is tested here
    small = (bench.Candidate("baseline", "b", lambda accel: (4, 8), bench.baseline_runner),
             bench.Candidate("engine", "e", lambda accel: (32,),
                             functools.partial(bench.engine_runner, spec_text=SMALL_ENGINE)))
    rows = bench.summarise([bench.measure(seconds=0.001, candidates=small, rounds=2)])
    assert [(r["candidate"], r["phase"], r["size"]) for r in rows][:3] == [
        ("baseline", "sweep", 4), ("baseline", "sweep", 8), ("engine", "sweep", 32)]
    final = [r for r in rows if r["best"]]
    assert [(r["candidate"], r["size"], len(r["rounds"])) for r in final][1] == ("engine", 32, 2)
    assert all(r["networks_per_second"] > 0 and r["peak_fraction"] > 0 for r in final)
    names = bench.write_bench(tmp_path, rows, 0.001)
    table = pd.read_parquet(tmp_path / names[0])
    assert len(table) == len(rows) and table["best"].sum() == 2
    assert len(json.loads((tmp_path / names[1]).read_text())["result"]) == 2
