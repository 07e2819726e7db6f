"""Where the time of a census goes: the 7-40-40-1 relu census split into its stages, per network.

Each stage is timed on its own over one chunk of ``--chunk`` networks evaluated in blocks of
``--block`` (a ``lax.scan`` over the blocks, as the engine does), on the default device, after a
warm-up call, ``--reps`` times with the stages taking turns; the table gives medians per network
and fractions of the total.

* random numbers, the engine's way: each network's key ``fold_in(chunk_key, i)`` and its 2001
  standard normals, scaled (:func:`counting.engine.priors.draw_flat`), summed per network so that
  nothing is written out (the sum is 2001 adds a network, small beside the draws);
* random numbers, one normal call of ``[block, 2001]`` per block (not in the total: the cost the
  per-network keys are compared with);
* matrix products: the forward (three layers, relu) given each network's flat parameters, made
  beforehand and read from memory, to the 128 outputs;
* packing: the outputs to packed truth tables (:func:`counting.mechanisms.predicates.truth_tables`);
* transfer: ``jax.device_get`` of one chunk's packed tables (on a fresh device array each time);
* counting distinct functions: the host census,
  :meth:`counting.engine.census.CensusRuns.add_rows` of the tables of ``--census-chunks`` real
  chunks into a fresh census, per network (so the merges of a growing census are included).

The engine's fused step (random numbers, forward and packing in one compiled scan, as
``counting census`` runs it) is timed too, beside the sum of its three parts.

    python experiments/profile.py [--block 128] [--chunk 16384] [--reps 7] [--out results/bench]

writes ``profile_<backend>.md`` (``profile_cpu.md``, ``profile_gpu.md``) in ``--out``; the same
script runs on a GPU (the block then defaults to the engine's 4096).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from counting.engine.census import CensusRuns
from counting.engine.draws import network_keys, seed_key
from counting.engine.priors import draw_flat, scale_vector, unflatten
from counting.engine.sharding import Engine
from counting.mechanisms.predicates import truth_tables
from counting.models import Forward, forward, model_inputs
from counting.spec.job import parse_spec

SPEC = """
[model]
kind = "mlp"
n_inputs = 7
widths = [40, 40]
activation = "relu"
[prior]
kind = "gaussian"
[estimator]
chunk_size = {chunk}
"""


def interleaved_medians(fns: dict, reps: int) -> dict[str, float]:
    """Median wall time of each ``fns[k]()`` (which blocks until its result is ready, or returns its
    own duration) after a warm-up call of each; the stages take turns, so a slow spell of the shared
    machine hits them all."""
    def once(fn):
        t0 = time.perf_counter()
        own = fn()
        return own if isinstance(own, float) else time.perf_counter() - t0

    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(reps):
        for k, fn in fns.items():
            times[k].append(once(fn))
    return {k: statistics.median(v) for k, v in times.items()}


def blocks(a, block: int):
    """``[C, ...]`` as ``[C / block, block, ...]``."""
    return a.reshape((a.shape[0] // block, block) + a.shape[1:])


def stages(spec, block: int, reps: int, census_chunks: int) -> dict[str, float]:
    """Median seconds per network of every stage (see the module docstring)."""
    model, prior, chunk = spec.model, spec.prior, spec.estimator.chunk_size
    chunk_key = jax.random.fold_in(seed_key(0), 0)
    idx = blocks(jnp.arange(chunk, dtype=jnp.uint32), block)
    scale = jnp.asarray(scale_vector(model, prior))
    x = jnp.asarray(model_inputs(model))

    @jax.jit
    def rng_keys(ck):
        return lax.scan(lambda c, i: (c, draw_flat(network_keys(ck, i), model, prior).sum(1)), None, idx)[1]

    @jax.jit
    def rng_normal(ck):
        def body(c, b):
            z = jax.random.normal(jax.random.fold_in(ck, b), (block, scale.shape[0]), jnp.float32) * scale
            return c, z.sum(1)
        return lax.scan(body, None, jnp.arange(chunk // block, dtype=jnp.uint32))[1]

    @jax.jit
    def matmul(params):
        return lax.scan(lambda c, p: (c, forward(model, unflatten(model, p), x).output), None, params)[1]

    @jax.jit
    def packing(outputs):
        return lax.scan(lambda c, o: (c, truth_tables(Forward(o, {}))), None, outputs)[1]

    params = jax.block_until_ready(jax.jit(lambda ck: blocks(draw_flat(
        network_keys(ck, jnp.arange(chunk, dtype=jnp.uint32)), model, prior), block))(chunk_key))
    outputs = jax.block_until_ready(matmul(params))
    eng = Engine.build(spec, lambda fwd, valid: truth_tables(fwd), block, jax.devices()[:1])
    step = lambda c: eng.run_step(np.array([c], np.uint32), np.array([chunk]))  # noqa: E731
    tables = jax.block_until_ready(step(0))
    fresh = jax.jit(lambda t: t + jnp.uint32(0))

    def transfer():
        t = jax.block_until_ready(fresh(tables))  # a new array: device_get caches its host copy
        t0 = time.perf_counter()
        jax.device_get(t)
        return time.perf_counter() - t0

    rows = [np.asarray(jax.device_get(step(c))).reshape(-1, tables.shape[-1]) for c in range(census_chunks)]

    def census():
        runs = CensusRuns(tables.shape[-1])
        for r in rows:
            runs.add_rows(r)

    per_call = {"rng_keys": lambda: jax.block_until_ready(rng_keys(chunk_key)),
                "rng_normal": lambda: jax.block_until_ready(rng_normal(chunk_key)),
                "matmul": lambda: jax.block_until_ready(matmul(params)),
                "packing": lambda: jax.block_until_ready(packing(outputs)),
                "transfer": transfer,
                "census": census,
                "engine": lambda: jax.block_until_ready(step(1))}
    med = interleaved_medians(per_call, reps)
    return {k: v / (chunk * census_chunks if k == "census" else chunk) for k, v in med.items()}


LABELS = {
    "rng_keys": "random numbers: per-network threefry keys, 2001 normals each (the engine's)",
    "matmul": "matrix products: forward given the parameters (3 layers, relu, 128 points)",
    "packing": "packing: outputs to packed truth tables",
    "transfer": "transfer: device_get of the packed tables",
    "census": "counting distinct functions: host CensusRuns.add_rows",
}


def report(per: dict[str, float], args, command: str, load: tuple[float, ...]) -> str:
    """The markdown page: the split table, the alternatives and the conditions of the run."""
    total = sum(per[k] for k in LABELS)
    parts = per["rng_keys"] + per["matmul"] + per["packing"]
    dev = jax.devices()[0]
    lines = [
        f"# Profile of the 7-40-40-1 relu census on {jax.default_backend()} ({dev.device_kind})",
        "",
        f"`{command}` — {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, jax {jax.__version__}, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores visible, one JAX device "
        f"({dev}); chunk {args.chunk}, block {args.block}, median of {args.reps} timed calls after a warm-up, "
        "the stages taking turns; "
        f"census over {args.census_chunks} chunks. Load average (1 min) {load[0]:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after: the cores are shared with other jobs, so compare the stages "
        "with each other (same run), not with figures from another run.",
        "",
        "Each stage timed alone (see `experiments/profile.py`), per network:",
        "",
        "| stage | µs per network | fraction of total |",
        "|---|---:|---:|",
    ]
    for k, label in LABELS.items():
        lines.append(f"| {label} | {1e6 * per[k]:.3f} | {per[k] / total:.1%} |")
    lines += [
        f"| **total** (sum of the stages) | **{1e6 * total:.2f}** | 100% |",
        "",
        "Beside them:",
        "",
        "| measurement | µs per network | ratio |",
        "|---|---:|---:|",
        f"| random numbers: one `jax.random.normal` call of [{args.block}, 2001] per block | "
        f"{1e6 * per['rng_normal']:.2f} | {per['rng_normal'] / per['rng_keys']:.2f} of the per-network keys |",
        f"| engine step as run (random numbers + forward + packing fused in one scan) | "
        f"{1e6 * per['engine']:.2f} | {per['engine'] / parts:.2f} of the sum of those three stages |",
        f"| engine step + transfer + census (what `counting census` does per network) | "
        f"{1e6 * (per['engine'] + per['transfer'] + per['census']):.2f} | "
        f"{1e6 / (1e6 * (per['engine'] + per['transfer'] + per['census'])):,.0f} networks/s |",
        "",
    ]
    return "\n".join(lines)


def main(argv=None) -> None:
    accel = jax.default_backend() != "cpu"
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--block", type=int, default=4096 if accel else 128, help="networks evaluated at once")
    p.add_argument("--chunk", type=int, default=16384, help="networks per timed call (a multiple of --block)")
    p.add_argument("--reps", type=int, default=7, help="timed calls per stage (the median is reported)")
    p.add_argument("--census-chunks", type=int, default=16, help="chunks of real tables fed to the census")
    p.add_argument("--out", default="results/bench", help="folder for profile_<backend>.md")
    args = p.parse_args(argv)
    if args.block < 1 or args.chunk % args.block:
        p.error(f"--block: expected a divisor of --chunk={args.chunk}, got {args.block}")
    spec = parse_spec(SPEC.format(chunk=args.chunk), need_target=False)
    load = os.getloadavg()
    per = stages(spec, args.block, args.reps, args.census_chunks)
    text = report(per, args, "python " + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]), load)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = out / f"profile_{jax.default_backend()}.md"
    name.write_text(text)
    print(text)
    print(f"written to {name}")


if __name__ == "__main__":
    main()
