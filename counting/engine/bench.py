"""Throughput benchmark: the engine against a straightforward implementation, in the same run.

Workload: the 7-40-40-1 relu census under the Gaussian prior, all 128 inputs of the 7-cube, output
packed truth tables. The baseline draws each layer with one ``jax.random.normal`` call for a batch of
4096 networks and runs batched einsums (jitted). Both produce the same kind of result (packed tables
on the device); the engine is timed on all local devices and on one.

Example:
    >>> import jax
    >>> baseline_fn(batch=8)(jax.random.key(0)).shape    # packed truth tables of 8 networks on 7 bits
    (8, 4)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import pandas as pd

from counting.boolean.cube import cube
from counting.engine.sharding import Engine
from counting.io.files import write_json, write_parquet
from counting.io.manifest import manifest
from counting.mechanisms.predicates import truth_tables
from counting.models.layers import Forward
from counting.spec.job import parse_spec

BENCH_SPEC = """
[model]
kind = "mlp"
n_inputs = 7
widths = [40, 40]
activation = "relu"
[prior]
kind = "gaussian"
[estimator]
chunk_size = 16384
"""


def baseline_fn(batch: int = 4096, n: int = 7, width: int = 40):
    """The straightforward implementation: a normal draw per layer and batched einsums."""
    x = jnp.asarray(cube(n))

    @jax.jit
    def f(key):
        k = jax.random.split(key, 6)
        w1 = jax.random.normal(k[0], (batch, n, width)) / np.sqrt(n)
        b1 = jax.random.normal(k[1], (batch, width))
        w2 = jax.random.normal(k[2], (batch, width, width)) / np.sqrt(width)
        b2 = jax.random.normal(k[3], (batch, width))
        w3 = jax.random.normal(k[4], (batch, width)) / np.sqrt(width)
        b3 = jax.random.normal(k[5], (batch,))
        h = jax.nn.relu(jnp.einsum("pi,bij->bpj", x, w1) + b1[:, None])
        h = jax.nn.relu(jnp.einsum("bpi,bij->bpj", h, w2) + b2[:, None])
        out = jnp.einsum("bpi,bi->bp", h, w3) + b3[:, None]
        return truth_tables(Forward(out, {}))

    return f


def _rate(call, per_call: int, seconds: float) -> float:
    """Networks per second of ``call(i)`` (one warm-up call excluded), over at least ``seconds``."""
    jax.block_until_ready(call(0))
    t0, i = time.perf_counter(), 1
    while True:
        jax.block_until_ready(call(i))
        i += 1
        dt = time.perf_counter() - t0
        if dt >= seconds and i >= 3:
            return (i - 1) * per_call / dt


def measure(seconds: float = 5.0, baseline: bool = True) -> list[dict]:
    """Engine on all local devices (and, if asked, the baseline on the first), in this process."""
    spec = parse_spec(BENCH_SPEC, need_target=False)
    chunk = spec.estimator.chunk_size
    accel = jax.default_backend() != "cpu"
    block, per_dev = (4096, 8) if accel else (128, 1)
    rows = []
    if baseline:
        base = baseline_fn()
        root = jax.random.key(0)
        keys = jax.random.split(root, 1 << 16)  # one fresh key per call
        rate = _rate(lambda i: base(keys[i]), 4096, seconds)
        rows.append({"workload": "baseline: normal per layer + batched einsum, batch 4096",
                     "devices": 1, "networks_per_second": rate})
    devs = jax.devices()
    eng = Engine.build(spec, lambda fwd, valid: truth_tables(fwd), block, devs)
    step = len(devs) * per_dev

    def call(i):
        return eng.run_step(np.arange(i * step, (i + 1) * step), np.full(step, chunk))

    rows.append({"workload": f"engine: per-network keys, blocked scan (block {block}), sharded",
                 "devices": len(devs), "networks_per_second": _rate(call, step * chunk, seconds)})
    for r in rows:
        r["backend"] = jax.default_backend()
        r["device_kind"] = devs[0].device_kind
    return rows


def run_bench(seconds: float = 5.0) -> list[dict]:
    """All measurements, with ratios to the baseline.

    On the CPU each configuration runs in a fresh process: the baseline and a one-device engine
    under JAX's default settings (one CPU device using every core), then the engine with one CPU
    device per core. Elsewhere, one process measures both.
    """
    if jax.default_backend() == "cpu" and (os.cpu_count() or 1) > 1:
        rows = _worker(1, seconds, True) + _worker(os.cpu_count(), seconds, False)
    else:
        rows = measure(seconds, True)
    base = rows[0]["networks_per_second"]
    for r in rows:
        r["ratio_to_baseline"] = r["networks_per_second"] / base
    return rows


def write_bench(out: Path, rows: list[dict], seconds: float) -> list[str]:
    """Record a benchmark run as ``bench_<backend>.parquet`` and ``manifest_<backend>.json`` in ``out``."""
    tag = jax.default_backend()
    name = f"bench_{tag}.parquet"
    write_parquet(out / name, pd.DataFrame(rows))
    spec = {"estimator": {"seed": 0, "key_impl": "threefry2x32"}, "workload": "7-40-40-1 relu census"}
    write_json(out / f"manifest_{tag}.json",
               manifest("bench", spec, {"seconds_per_measurement": seconds}, {}, [name]) | {"result": rows})
    return [name, f"manifest_{tag}.json"]


def _worker(devices: int, seconds: float, baseline: bool) -> list[dict]:
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    cmd = [sys.executable, "-m", "counting.engine.bench", str(devices), str(seconds), str(int(baseline))]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":  # worker: python -m counting.engine.bench DEVICES SECONDS BASELINE
    n, secs, base = int(sys.argv[1]), float(sys.argv[2]), bool(int(sys.argv[3]))
    if n > 1:
        jax.config.update("jax_num_cpu_devices", n)
    print(json.dumps(measure(secs, base)))
