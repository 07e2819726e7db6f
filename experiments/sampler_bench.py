"""Sampler throughput on this machine: the counter-based sampler (``sampler = "fused"``) against the
default threefry engine and the straightforward baseline (:func:`counting.engine.bench.baseline_fn`,
best batch of a sweep), 7-40-40-1 relu census workload, one process, rounds interleaved so that a
shared machine's drift hits every configuration alike. Also the split of the engine's time: drawing
the parameters alone (each sampler) and the forward pass with packing alone.

Run: ``.venv/bin/python experiments/sampler_bench.py [SECONDS_PER_MEASUREMENT] [ROUNDS]``; prints a
markdown table (median networks/s over rounds, ratio to the best baseline batch).
"""

import dataclasses
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from counting.engine.bench import BENCH_SPEC, baseline_fn
from counting.engine.draws import PriorDraws
from counting.engine.priors import unflatten
from counting.engine.sharding import Engine
from counting.mechanisms.predicates import truth_tables
from counting.models import forward, model_inputs
from counting.spec.job import parse_spec


def rate(call, per_call, seconds):
    jax.block_until_ready(call(0))
    t0, i = time.perf_counter(), 1
    while True:
        jax.block_until_ready(call(i))
        i += 1
        dt = time.perf_counter() - t0
        if dt >= seconds and i >= 3:
            return (i - 1) * per_call / dt


def params_only(spec, block):
    """Draw every network of a chunk block by block (as the engine does) and reduce to one number."""
    src, size = PriorDraws(spec), spec.estimator.chunk_size

    @jax.jit
    def f(c):
        per = src.network_inputs(src.chunk_inputs(c[None])[0], size)
        per = jax.tree.map(lambda a: a.reshape((size // block, block) + a.shape[1:]), per)
        body = lambda acc, net: (acc + lax.bitcast_convert_type(src.params(net), jnp.uint32).sum(), None)
        return lax.scan(body, jnp.uint32(0), per)[0]

    return lambda i: f(jnp.asarray(i, jnp.uint32))


def forward_only(spec, block):
    """The forward pass and packing of a chunk's blocks, on fixed parameters (perturbed per block)."""
    src, size = PriorDraws(spec), spec.estimator.chunk_size
    p = src.params(src.network_inputs(src.chunk_inputs(jnp.zeros(1, jnp.uint32))[0], block))
    x = jnp.asarray(model_inputs(spec.model))

    @jax.jit
    def f(c):
        body = lambda acc, i: (acc, truth_tables(forward(spec.model, unflatten(spec.model, p + i * 1e-7), x)))
        return lax.scan(body, 0, (jnp.arange(size // block) + c).astype(jnp.float32))[1]

    return lambda i: f(jnp.asarray(i, jnp.float32))


def main(seconds=3.0, rounds=3):
    spec = parse_spec(BENCH_SPEC, need_target=False)
    fused = dataclasses.replace(spec, estimator=dataclasses.replace(spec.estimator, sampler="fused"))
    chunk = spec.estimator.chunk_size
    configs = {}
    for b in (256, 1024, 4096):
        base, keys = baseline_fn(b), jax.random.split(jax.random.key(0), 1 << 12)  # one device: one key a call
        configs[f"baseline (normal per layer, batched einsum), batch {b}"] = (
            lambda i, base=base, keys=keys: base(keys[i % len(keys)][None]), b)
    for name, s in (("threefry", spec), ("fused", fused)):
        for block in (64, 128) if name == "threefry" else (32, 64, 128, 256):
            eng = Engine.build(s, lambda fwd, valid: truth_tables(fwd), block)
            configs[f"engine, sampler {name}, block {block}"] = (
                lambda i, eng=eng: eng.run_step(np.array([i], np.uint32), np.array([chunk])), chunk)
        configs[f"draw parameters only, sampler {name}, block 128"] = (params_only(s, 128), chunk)
    configs["forward + packing only (fixed parameters), block 128"] = (forward_only(spec, 128), chunk)
    got = {k: [] for k in configs}
    for _ in range(rounds):
        for k, (call, per) in configs.items():
            got[k].append(rate(call, per, seconds))
    med = {k: statistics.median(v) for k, v in got.items()}
    best = max((v, k) for k, v in med.items() if k.startswith("baseline"))
    print(f"backend {jax.default_backend()}, {jax.devices()[0].device_kind}, {rounds} rounds of {seconds} s")
    print("| configuration | networks/s (median) | us/network | ratio to best baseline |")
    print("|---|---|---|---|")
    for k, v in med.items():
        print(f"| {k} | {v:,.0f} | {1e6 / v:.1f} | {v / best[0]:.2f} |")


if __name__ == "__main__":
    main(*(float(a) for a in sys.argv[1:2]), *(int(a) for a in sys.argv[2:3]))
