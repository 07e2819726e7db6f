"""Throughput benchmark: the engine against a straightforward implementation, each at its best batch.

Workload: the 7-40-40-1 relu census under the Gaussian prior, all 128 inputs of the 7-cube, output
packed truth tables on the device. Each *candidate* (:data:`CANDIDATES`) is swept over its batch
sizes (:func:`sweep`) and reported at its best, with the whole sweep recorded:

* ``baseline``: one ``jax.random.normal`` call per layer for a batch of networks and batched
  einsums, one jit, data-parallel over the same devices as the engine (``size`` is its batch per
  device);
* ``engine``: :class:`counting.engine.sharding.Engine` with per-network threefry keys (``size`` is
  its block, the networks evaluated at once within a chunk: 16384, 4096 on the CPU);
* ``engine-fused``: the same engine with ``estimator.sampler = "fused"`` (Philox counters);
* ``engine-fused-kernel`` (GPU backends only): the same with ``estimator.fused_kernel = "pallas"``, each
  network drawn and evaluated in the fused Pallas kernel (:mod:`counting.engine.fused_kernel`).
  On the CPU the kernel runs only in interpret mode, far too slow to be worth a benchmark row.

A sweep stops when memory says so (XLA's account of the compiled call exceeds what a device has,
or the call runs out of memory), when time says so (one call takes over ``MAX_CALL`` seconds), or
when the rate has stayed below ``FALL`` of the best for ``PATIENCE`` sizes in a row. The sweep only
picks each candidate's size: the reported rate is the median of ``ROUNDS`` re-measurements at that
size, the candidates taking turns (so a lucky sweep point is not the figure, and a slow spell of
the machine hits them all).

Each rate is also given as a fraction of the devices' peak float32 rate: the forward's FLOPs per
network counted exactly (:func:`forward_flops`: two per multiply-add of the three matrix products
and one per bias add; relu, comparison and packing not counted) times networks per second, over a
peak that is, on a GPU, the vendor's figure for its float32 (non-tensor-core) units looked up by
``device_kind`` (:data:`GPU_PEAKS`; JAX's default matmul precision may use TF32 tensor cores,
whose peak is also listed) and, on the CPU, *measured in the same run* by a large float32 matmul
(:func:`cpu_peak`) on one JAX CPU device using every core.

On the CPU every device configuration runs in a fresh process (one default device using every
core; one device per core), and in each every candidate gets the same devices. A
whole-process row (``counting census`` of the same network, start-up and host census included)
comes last.

To add a sampler, add one :class:`Candidate` to :data:`CANDIDATES`: a name, a description, its
sizes and a builder, as ``engine-fused`` is (``functools.partial(engine_runner, sampler=...)``).

Example:
    >>> forward_flops(7, (40, 40), 128)     # 2 * 128 * (7*40 + 40*40 + 40) + 128 * (40 + 40 + 1)
    501888
    >>> rates = [1, 4, 5, 3, 2, 2, 9]            # below 0.8 * 5 three times in a row: stop at size 6
    >>> [s for s, _ in sweep(range(1, 8), lambda s: Point(rate=rates[s - 1]))]
    [1, 2, 3, 4, 5, 6]
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
from jaxtyping import Array, Float, Key, UInt32

from counting.boolean.cube import cube
from counting.boolean.tables import pack
from counting.engine.fused import GPU_PLATFORMS
from counting.engine.memory import available_bytes, compiled_bytes, human_bytes
from counting.engine.sharding import Engine
from counting.io.files import write_json, write_parquet
from counting.io.manifest import manifest
from counting.mechanisms.predicates import truth_tables
from counting.spec.job import parse_spec

N_INPUTS, WIDTHS = 7, (40, 40)
CHUNK = 16384  # the engine's chunk on accelerators; on the CPU CPU_CHUNK keeps one call near a second
CPU_CHUNK = 4096
BENCH_SPEC = f"""
[model]
kind = "mlp"
n_inputs = {N_INPUTS}
widths = {list(WIDTHS)}
activation = "relu"
[prior]
kind = "gaussian"
[estimator]
chunk_size = {CHUNK}
"""
FALL, PATIENCE = 0.8, 3  # a sweep stops once the rate is below FALL * best for PATIENCE sizes in a row
MAX_CALL = 5.0  # seconds: a sweep stops at a size whose one call takes longer
ROUNDS = 3  # alternating re-measurements of every candidate at its best size (the reported rate: their median)

# Vendor float32 peaks (dense, boost clock), TFLOP/s: (substrings of device_kind, upper-cased; fp32; tf32 tensor).
GPU_PEAKS: tuple[tuple[tuple[str, ...], float, float | None], ...] = (
    (("H200", "NVL"), 60.0, 417.5),
    (("H200",), 67.0, 494.5),  # H200 SXM
    (("H100", "NVL"), 60.0, 417.5),
    (("H100", "PCIE"), 51.0, 378.0),
    (("H100",), 67.0, 494.5),  # H100 SXM ("NVIDIA H100 80GB HBM3")
    (("A100",), 19.5, 156.0),
    (("V100",), 15.7, None),
)


def gpu_peak(device_kind: str) -> tuple[float, float | None] | None:
    """(float32, TF32 tensor) peak FLOP/s of one GPU of this kind, or ``None`` if not in the table."""
    kind = device_kind.upper()
    for parts, fp32, tf32 in GPU_PEAKS:
        if all(p in kind for p in parts):
            return fp32 * 1e12, None if tf32 is None else tf32 * 1e12
    return None


def forward_flops(n_inputs: int, widths: Sequence[int], points: int) -> int:
    """FLOPs of one network's forward on ``points`` inputs: 2 per multiply-add, 1 per bias add."""
    dims = [n_inputs, *widths, 1]
    return sum(points * (2 * a * b + b) for a, b in zip(dims[:-1], dims[1:]))


def cpu_peak(size: int = 2048, repeats: int = 5) -> float:
    """Float32 FLOP/s of a ``size``-cubed matmul on the default device (best of ``repeats``)."""
    a = jax.random.normal(jax.random.key(1), (size, size), jnp.float32)
    f = jax.jit(lambda a, b: a @ b)
    jax.block_until_ready(f(a, a))
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(f(a, a))
        best = min(best, time.perf_counter() - t0)
    return 2 * size**3 / best


# ---------------------------------------------------------------- the baseline


def baseline_params(key: Key[Array, ""], batch: int, n: int = N_INPUTS, width: int = WIDTHS[0]) -> dict:
    """Gaussian-prior parameters of ``batch`` networks n-width-width-1, one normal draw per array."""
    k = jax.random.split(key, 6)
    return {"w1": jax.random.normal(k[0], (batch, n, width)) / np.sqrt(n),
            "b1": jax.random.normal(k[1], (batch, width)),
            "w2": jax.random.normal(k[2], (batch, width, width)) / np.sqrt(width),
            "b2": jax.random.normal(k[3], (batch, width)),
            "w3": jax.random.normal(k[4], (batch, width)) / np.sqrt(width),
            "b3": jax.random.normal(k[5], (batch,))}


def baseline_outputs(params: dict, x: Float[Array, "P n"]) -> Float[Array, "B P"]:
    """Outputs of the networks of :func:`baseline_params` on inputs ``x``, by batched einsums."""
    h = jax.nn.relu(jnp.einsum("pi,bij->bpj", x, params["w1"]) + params["b1"][:, None])
    h = jax.nn.relu(jnp.einsum("bpi,bij->bpj", h, params["w2"]) + params["b2"][:, None])
    return jnp.einsum("bpi,bi->bp", h, params["w3"]) + params["b3"][:, None]


def baseline_tables(params: dict) -> UInt32[Array, "B words"]:
    """Packed truth tables of the networks of :func:`baseline_params` on the whole cube."""
    return pack(baseline_outputs(params, jnp.asarray(cube(N_INPUTS))) > 0)


def baseline_fn(batch: int = 4096, devices=None) -> Callable[[Key[Array, "D"]], UInt32[Array, "DB words"]]:
    """The straightforward implementation, jitted: one key per device in, packed tables of ``batch``
    networks per device out."""
    mesh = Mesh(np.array(devices if devices is not None else jax.devices()[:1]), ("d",))
    local = lambda keys: baseline_tables(baseline_params(keys[0], batch))  # noqa: E731
    return jax.jit(jax.shard_map(local, mesh=mesh, in_specs=P("d"), out_specs=P("d")))


# ---------------------------------------------------------------- candidates and their sweeps


class Runner(NamedTuple):
    """A compiled call of one candidate at one size: ``call(i)`` dispatches call ``i`` (fresh keys)."""

    call: Callable[[int], Any]
    networks: int  # networks per call
    bytes: int | None  # XLA's per-device bytes of the call (None: unknown)


def baseline_runner(size: int, devices: Sequence) -> Runner:
    """The baseline at a batch of ``size`` per device."""
    mesh = Mesh(np.array(devices), ("d",))
    sh = NamedSharding(mesh, P("d"))
    root = jax.random.key(0)
    keys = lambda i: jax.device_put(jax.random.split(jax.random.fold_in(root, i), len(devices)), sh)  # noqa: E731
    step = baseline_fn(size, devices).lower(keys(0)).compile()
    return Runner(lambda i: step(keys(i)), size * len(devices), compiled_bytes(step))


def engine_runner(size: int, devices: Sequence, spec_text: str | None = None, sampler: str | None = None,
                  fused_kernel: str | None = None) -> Runner:
    """The engine at a block of ``size`` (several chunks per device per call on accelerators), for
    :data:`BENCH_SPEC` (its chunk :data:`CPU_CHUNK` on the CPU) unless ``spec_text`` is given, with
    the spec's ``estimator.sampler`` and ``estimator.fused_kernel`` set to ``sampler`` and ``fused_kernel`` if
    given."""
    if spec_text is None:
        chunk = CPU_CHUNK if devices[0].platform == "cpu" else CHUNK
        spec_text = BENCH_SPEC.replace(f"chunk_size = {CHUNK}", f"chunk_size = {chunk}")
    if sampler is not None:
        spec_text = spec_text.replace("[estimator]\n", f'[estimator]\nsampler = "{sampler}"\n')
    if fused_kernel is not None:
        spec_text = spec_text.replace("[estimator]\n", f'[estimator]\nfused_kernel = "{fused_kernel}"\n')
    spec = parse_spec(spec_text, need_target=False)
    chunk = spec.estimator.chunk_size
    per_dev = 1 if devices[0].platform == "cpu" else 8
    steps = len(devices) * per_dev
    eng = Engine.build(spec, lambda fwd, valid: truth_tables(fwd), size, devices).compiled(steps)
    full = np.full(steps, chunk)
    call = lambda i: eng.run_step(np.arange(i * steps, (i + 1) * steps), full)  # noqa: E731
    return Runner(call, steps * chunk, compiled_bytes(eng.step))


def baseline_sizes(accelerator: bool) -> tuple[int, ...]:
    return tuple(2**k for k in (range(8, 17) if accelerator else range(6, 15)))  # 256..65536 | 64..16384


def engine_sizes(accelerator: bool) -> tuple[int, ...]:
    return tuple(2**k for k in (range(8, 15) if accelerator else range(5, 12)))  # 256..16384 | 32..2048


@dataclass(frozen=True)
class Candidate:
    """One implementation to sweep: ``build(size, devices)`` compiles it at one of its ``sizes``."""

    name: str
    workload: str
    sizes: Callable[[bool], tuple[int, ...]]
    build: Callable[[int, Sequence], Runner]
    gpu_only: bool = False  # measured on GPU backends only


# The single place where samplers enter the benchmark: add a Candidate here.
CANDIDATES: tuple[Candidate, ...] = (
    Candidate("baseline", "one normal draw per layer for the batch + batched einsums (jit, data-parallel); "
              "size = batch per device", baseline_sizes, baseline_runner),
    Candidate("engine", "per-network threefry keys, blocked scan, sharded; size = block", engine_sizes,
              engine_runner),
    Candidate("engine-fused", "engine with estimator.sampler = 'fused' (Philox counters); size = block",
              engine_sizes, functools.partial(engine_runner, sampler="fused")),
    Candidate("engine-fused-kernel", "engine with sampler = 'fused', fused_kernel = 'pallas' (weights drawn in "
              "registers by the fused Pallas kernel, never written); size = block", engine_sizes,
              functools.partial(engine_runner, sampler="fused", fused_kernel="pallas"), gpu_only=True),
)


def candidates_for(platform: str, candidates: Sequence[Candidate] = CANDIDATES) -> tuple[Candidate, ...]:
    """The candidates measured on devices of ``platform`` (GPU-only ones need a GPU)."""
    return tuple(c for c in candidates if not c.gpu_only or platform in GPU_PLATFORMS)


class Point(NamedTuple):
    """One size of a sweep: its rate (``None`` if it did not run) and why the sweep stops there, if it does."""

    rate: float | None
    seconds_per_call: float | None = None
    bytes: int | None = None
    stop: str = ""


def sweep(sizes: Sequence[int], point: Callable[[int], Point], fall: float = FALL,
          patience: int = PATIENCE) -> list[tuple[int, Point]]:
    """``point`` at each size in turn until one says stop or the rate stays low (the falling size
    gets ``stop`` filled in)."""
    out, best, low = [], 0.0, 0
    for s in sizes:
        p = point(s)
        if p.rate is not None:
            best = max(best, p.rate)
            low = low + 1 if p.rate < fall * best else 0
            if low >= patience and not p.stop:
                p = p._replace(stop=f"rate below {fall:.0%} of the best for {patience} sizes")
        out.append((s, p))
        if p.stop:
            break
    return out


def timed(runner: Runner, seconds: float) -> tuple[float, float]:
    """(networks per second, seconds per call) of ``runner`` over at least ``seconds`` and two calls
    after a warm-up call."""
    jax.block_until_ready(runner.call(0))
    t0, i = time.perf_counter(), 0
    while True:
        jax.block_until_ready(runner.call(i + 1))
        i += 1
        dt = time.perf_counter() - t0
        if dt >= seconds and i >= 2:
            return i * runner.networks / dt, dt / i


def measure_point(build: Callable[[int, Sequence], Runner], size: int, devices: Sequence,
                  seconds: float) -> Point:
    """Compile, check memory, time: one point of a sweep."""
    try:
        runner = build(size, devices)
        have = available_bytes(devices)
        if runner.bytes is not None and have is not None and runner.bytes > have:
            return Point(None, None, runner.bytes, f"memory: needs {human_bytes(runner.bytes)} of "
                         f"{human_bytes(have)} per device")
        rate, per_call = timed(runner, seconds)
    except Exception as e:  # noqa: BLE001 (only running out of memory is a verdict; anything else is raised)
        if "RESOURCE_EXHAUSTED" in str(e) or "out of memory" in str(e).lower():
            return Point(None, None, None, "memory: out of memory")
        raise
    stop = f"time: {per_call:.1f} s a call (over {MAX_CALL:g} s)" if per_call > MAX_CALL else ""
    return Point(rate, per_call, runner.bytes, stop)


def measure(seconds: float = 2.0, candidates: Sequence[Candidate] | None = None, rounds: int = ROUNDS) -> dict:
    """Every candidate swept on all local devices, in this process, then re-measured at its best size
    in ``rounds`` alternating rounds (the sweep picks the size, the rounds give the rate: a rate is
    not reported from the measurement that selected it), with the peak they are held to."""
    devs = jax.devices()
    accel = jax.default_backend() != "cpu"
    candidates = candidates_for(devs[0].platform) if candidates is None else candidates
    peak = gpu_peak(devs[0].device_kind) if accel else (cpu_peak(), None)
    rows, best = [], {}
    for c in candidates:
        for size, p in sweep(c.sizes(accel), lambda s: measure_point(c.build, s, devs, seconds)):
            rows.append({"candidate": c.name, "phase": "sweep", "workload": c.workload, "size": size,
                         "devices": len(devs), "networks_per_second": p.rate, "seconds_per_call": p.seconds_per_call,
                         "bytes_per_device": p.bytes, "stopped": p.stop, "rounds": None})
            if p.rate is not None and p.rate > best.get(c.name, (0, 0.0))[1]:
                best[c.name] = (size, p.rate)
    chosen = [c for c in candidates if c.name in best]
    runners = {c.name: c.build(best[c.name][0], devs) for c in chosen}
    rates: dict[str, list[float]] = {c.name: [] for c in chosen}
    for _ in range(rounds):
        for c in chosen:
            rates[c.name].append(timed(runners[c.name], seconds)[0])
    for c in chosen:
        r = runners[c.name]
        rows.append({"candidate": c.name, "phase": "final", "workload": c.workload, "size": best[c.name][0],
                     "devices": len(devs), "networks_per_second": float(np.median(rates[c.name])),
                     "seconds_per_call": None, "bytes_per_device": r.bytes, "stopped": "", "rounds": rates[c.name]})
    scale = len(devs) if accel else 1  # a GPU's peak is per device; the CPU's is the whole machine's
    return {"rows": rows, "backend": jax.default_backend(), "device_kind": devs[0].device_kind,
            "peak_flops": None if peak is None else peak[0] * scale,
            "peak_tf32_flops": None if peak is None or peak[1] is None else peak[1] * scale,
            "peak_source": ("measured in this run: float32 2048^3 matmul on one JAX CPU device" if not accel
                            else f"vendor float32 peak of {devs[0].device_kind} x {len(devs)}" if peak
                            else f"unknown: {devs[0].device_kind} is not in GPU_PEAKS")}


def end_to_end(rate: float, seconds: float) -> dict:
    """``counting census`` of the bench network in a fresh process: networks per second of the job
    (its own clock) and of the whole process (start-up, compile and host census included)."""
    samples = max(4, round(rate * seconds * 10 / CHUNK)) * CHUNK
    with tempfile.TemporaryDirectory() as d:
        spec = Path(d) / "bench.toml"
        spec.write_text(BENCH_SPEC + f"samples = {samples}\n")
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "counting", "census", str(spec), "--json", "--no-progress",
                              "--out", str(Path(d) / "out")], capture_output=True, text=True, check=True)
        wall = time.perf_counter() - t0
    job = json.loads(out.stdout.strip().splitlines()[-1])
    return {"samples": samples, "job_networks_per_second": samples / job["seconds"],
            "process_networks_per_second": samples / wall, "process_seconds": wall}


def summarise(measured: list[dict]) -> list[dict]:
    """Rows of every process with FLOP rates, peak fractions and ratios to the same process's
    baseline (its ``final`` row); ``best`` marks the ``final`` rows, the ones to report."""
    flops = forward_flops(N_INPUTS, WIDTHS, 2**N_INPUTS)
    out = []
    for m in measured:
        base = next((r["networks_per_second"] for r in m["rows"]
                     if r["candidate"] == "baseline" and r["phase"] == "final"), None)
        for r in m["rows"]:
            rate, peak, tf32 = r["networks_per_second"], m["peak_flops"], m["peak_tf32_flops"]
            out.append(r | {
                "best": r["phase"] == "final", "backend": m["backend"], "device_kind": m["device_kind"],
                "ratio_to_baseline": rate / base if rate is not None and base else None,
                "flops_per_network": flops, "flops_per_second": None if rate is None else rate * flops,
                "peak_flops": peak, "peak_source": m["peak_source"],
                "peak_fraction": rate * flops / peak if rate is not None and peak else None,
                "peak_tf32_fraction": rate * flops / tf32 if rate is not None and tf32 else None})
    return out


def run_bench(seconds: float = 2.0, whole_process: bool = True) -> list[dict]:
    """Every candidate's sweep (see the module docstring), then the whole-process row.

    On the CPU each device configuration runs in a fresh process: one default JAX CPU device (every
    core), then one device per core; elsewhere one process measures everything.
    """
    if jax.default_backend() == "cpu":
        counts = sorted({1, os.cpu_count() or 1})
        measured = [_worker(n, seconds) for n in counts]
        peak = max(m["peak_flops"] for m in measured)  # the machine's: the best of every process's matmul
        measured = [m | {"peak_flops": peak} for m in measured]
    else:
        measured = [measure(seconds)]
    rows = summarise(measured)
    if whole_process:
        eng = [r for r in rows if r["candidate"] == "engine" and r["best"]]
        best = max(eng, key=lambda r: r["networks_per_second"])
        e2e = end_to_end(best["networks_per_second"], seconds)
        flops = best["flops_per_network"]
        rows.append({"candidate": "counting census", "phase": "final", "size": None, "devices": None,
                     "best": True, "rounds": None, "bytes_per_device": None, "ratio_to_baseline": None,
                     "workload": f"whole process: counting census of {e2e['samples']} networks, default devices; "
                                 f"job {e2e['job_networks_per_second']:,.0f}/s on its own clock",
                     "networks_per_second": e2e["process_networks_per_second"],
                     "job_networks_per_second": e2e["job_networks_per_second"],
                     "seconds_per_call": e2e["process_seconds"], "backend": best["backend"],
                     "device_kind": best["device_kind"], "flops_per_network": flops,
                     "flops_per_second": e2e["process_networks_per_second"] * flops,
                     "peak_flops": best["peak_flops"], "peak_source": best["peak_source"],
                     "peak_fraction": (e2e["process_networks_per_second"] * flops / best["peak_flops"]
                                       if best["peak_flops"] else None),
                     "stopped": ""})
    return rows


def best_rows(rows: list[dict]) -> list[dict]:
    """The rows to print: each candidate at its best size, in each device configuration."""
    return [r for r in rows if r["best"]]


def bench_lines(rows: list[dict]) -> list[str]:
    """The printed summary: each candidate's best size per device configuration, its sweep and the peak."""
    out = [f"each candidate at the best size of its sweep, median of {ROUNDS} alternating re-measurements "
           "(x: ratio to the baseline of the same process; %: of peak float32 FLOP/s)"]
    for r in best_rows(rows):
        frac = "" if r["peak_fraction"] is None else f"{100 * r['peak_fraction']:6.2f}% of peak"
        if r["size"] is None:
            out.append(f"{r['networks_per_second']:>12,.0f} networks/s  {frac}  {r['workload']}")
            continue
        swept = [q for q in rows if q["candidate"] == r["candidate"] and q["devices"] == r["devices"]
                 and q["phase"] == "sweep"]
        stop = next((q["stopped"] for q in swept if q["stopped"]), "every size run")
        how = f"swept {swept[0]['size']}..{swept[-1]['size']}; {stop}" if swept else "not swept"
        out.append(f"{r['networks_per_second']:>12,.0f} networks/s  x{r['ratio_to_baseline'] or 0:.2f}  {frac}  "
                   f"{r['devices']} {r['device_kind']} device(s)  {r['candidate']} at size {r['size']} ({how})")
    r = rows[0]
    peak = "unknown" if r["peak_flops"] is None else f"{r['peak_flops']:.3g} FLOP/s"
    out.append(f"peak {peak} ({r['peak_source']}); {r['flops_per_network']:,} FLOPs per network forward")
    return out


def write_bench(out: Path, rows: list[dict], seconds: float) -> list[str]:
    """Record a benchmark run (every sweep row) as ``bench_<backend>.parquet`` and ``manifest_<backend>.json``."""
    tag = jax.default_backend()
    name = f"bench_{tag}.parquet"
    write_parquet(out / name, pd.DataFrame(rows))
    spec = {"estimator": {"seed": 0, "key_impl": "threefry2x32"}, "workload": "7-40-40-1 relu census"}
    run = {"seconds_per_size": seconds, "fall": FALL, "patience": PATIENCE, "max_call": MAX_CALL, "rounds": ROUNDS}
    write_json(out / f"manifest_{tag}.json",
               manifest("bench", spec, run, {}, [name]) | {"result": best_rows(rows)})
    return [name, f"manifest_{tag}.json"]


def _worker(devices: int, seconds: float) -> dict:
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    cmd = [sys.executable, "-m", "counting.engine.bench", str(devices), str(seconds)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":  # worker: python -m counting.engine.bench DEVICES SECONDS
    n, secs = int(sys.argv[1]), float(sys.argv[2])
    if n > 1:
        jax.config.update("jax_num_cpu_devices", n)
    print(json.dumps(measure(secs)))
