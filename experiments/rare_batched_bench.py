"""Replicates per second of tempered SMC: the host-driven loop against the batched device path.

Both run the same replicates (keys ``fold_in(key(seed), r)``) of the same problem, after one
untimed run each to compile; the host path runs them one after another
(:func:`counting.rare.smc.smc_run`, as ``batch_replicates = 0``), the batched path all at once
(:func:`counting.rare.batched.smc_runs`, as ``batch_replicates = R``). The two timings alternate
``--repeats`` times, so that a shared machine's load falls on both alike; the ratio is what to
read. Prints a markdown table.

    .venv/bin/python experiments/rare_batched_bench.py --target and --replicates 10 --particles 100
"""

from __future__ import annotations

import argparse
import math
import time

import jax
import numpy as np

from counting.boolean.tables import named_truth_table
from counting.mechanisms.predicates import computes
from counting.rare.batched import smc_runs
from counting.rare.coordinates import GaussianProblem
from counting.rare.replicates import replicate_key, replicate_keys
from counting.rare.smc import smc_run
from counting.spec import MLPSpec, ScaledPrior, SMCSettings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", default="and")
    ap.add_argument("--n-inputs", type=int, default=4)
    ap.add_argument("--widths", default="40,40")
    ap.add_argument("--replicates", type=int, default=10)
    ap.add_argument("--particles", type=int, default=100)
    ap.add_argument("--kernel", default="hmc")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=2)
    a = ap.parse_args()
    model = MLPSpec(n_inputs=a.n_inputs, widths=tuple(int(w) for w in a.widths.split(",") if w))
    table = named_truth_table(a.target, a.n_inputs)
    problem = GaussianProblem.of(model, ScaledPrior(), computes(table, a.n_inputs))
    settings = SMCSettings(particles=a.particles, kernel=a.kernel, steps=a.steps, replicates=a.replicates,
                           seed=a.seed)
    r = a.replicates

    def host():
        return [smc_run(replicate_key(a.seed, i), problem, settings) for i in range(r)]

    def batch():
        return smc_runs(replicate_keys(a.seed, 0, r), problem, settings)

    def timed(f):
        t0 = time.perf_counter()
        runs = f()
        return time.perf_counter() - t0, runs

    smc_run(replicate_key(a.seed + 1, 0), problem, settings)  # compile outside the timing
    smc_runs(replicate_keys(a.seed + 1, 0, r), problem, settings)
    times = {"host": [], "batched": []}
    for _ in range(a.repeats):
        for name, f in (("host", host), ("batched", batch)):
            dt, runs = timed(f)
            times[name].append(dt)
            out = runs
            log10 = [x.log_p / math.log(10) for x in out]
            stages = np.mean([x.stages for x in out])
            times[name + "_est"] = (np.mean(log10), np.std(log10, ddof=1), stages)
    arch = "-".join(str(w) for w in (a.n_inputs, *model.widths, 1))
    print(f"device: {jax.devices()[0].device_kind}; {a.target} on {arch} relu, "
          f"{r} replicates x {a.particles} particles, kernel {a.kernel}, {a.steps} moves per stage\n")
    print("| path | seconds (best of %d) | replicates/s | mean log10 | sd log10 | mean stages |" % a.repeats)
    print("|---|---|---|---|---|---|")
    for name in ("host", "batched"):
        best = min(times[name])
        m, sd, st = times[name + "_est"]
        print(f"| {name} | {best:.2f} | {r / best:.2f} | {m:.3f} | {sd:.3f} | {st:.1f} |")
    print(f"\nbatched / host replicates/s: {min(times['host']) / min(times['batched']):.2f}")


if __name__ == "__main__":
    main()
