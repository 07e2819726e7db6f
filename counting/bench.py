"""Throughput benchmark: the engine against a straightforward implementation, in the same run.

Workload: the 7-40-40-1 relu census under the Gaussian prior, all 128 inputs of the 7-cube, output
packed truth tables. The baseline draws each layer with one ``jax.random.normal`` call for a batch of
4096 networks and runs batched einsums (jitted). Both produce the same kind of result (packed tables
on the device); the engine is timed on all local devices and on one.

Example:
    >>> rows = run_bench(seconds=0.2, samples_per_step=4096)   # doctest: +SKIP
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

from counting.domain import cube
from counting.predicates import truth_tables
from counting.models import Forward
from counting.sampler import Engine, tables_reducer
from counting.spec import parse_spec

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


def run_bench(seconds: float = 5.0, samples_per_step: int | None = None) -> list[dict]:
    """Measure engine (all devices, one device) and baseline; returns one row per workload."""
    spec = parse_spec(BENCH_SPEC, need_target=False)
    chunk = spec.estimator.chunk_size
    block = 4096 if jax.default_backend() != "cpu" else 128
    per_dev = 8 if jax.default_backend() != "cpu" else 1
    rows = []
    base = baseline_fn()
    root = jax.random.key(0)
    base_rate = _rate(lambda i: base(jax.random.fold_in(root, i)), 4096, seconds)
    rows.append({"workload": "baseline: normal per layer + batched einsum, batch 4096, 1 device",
                 "networks_per_second": base_rate})
    for devs in (jax.devices(), jax.devices()[:1]):
        eng = Engine.build(spec, tables_reducer(), block, devs)
        step = len(devs) * per_dev

        def call(i, eng=eng, step=step):
            ids = np.arange(i * step, (i + 1) * step)
            return eng.run_step(ids, np.full(step, chunk))

        r = _rate(call, step * chunk, seconds)
        rows.append({"workload": f"engine: fused per-network keys, block {block}, {len(devs)} device(s)",
                     "networks_per_second": r})
    for r in rows:
        r["ratio_to_baseline"] = r["networks_per_second"] / base_rate
        r["backend"] = jax.default_backend()
        r["device_kind"] = jax.devices()[0].device_kind
    return rows
