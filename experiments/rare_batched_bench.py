"""Replicates per second of a rare-event estimator: the host-driven loop against the batched device path.

Both run the same replicates (keys ``fold_in(key(seed), r)``) of the same problem, after one
untimed run each to compile; the host path runs them one after another
(:func:`counting.rare.smc.smc_run` or :func:`counting.rare.subset.subset_run`, as
``batch_replicates = 0``), the batched path all at once (:func:`counting.rare.smc.smc_runs` or
:func:`counting.rare.subset.subset_runs`, as ``batch_replicates = R``). The two timings alternate
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

from counting.rare.coordinates import GaussianProblem
from counting.rare.replicates import replicate_key, replicate_keys
from counting.rare.smc import smc_run, smc_runs
from counting.rare.subset import subset_run, subset_runs
from counting.spec import MLPSpec, ScaledPrior, SMCSettings, SubsetSettings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", default="smc", choices=["smc", "subset"])
    ap.add_argument("--target", default="and")
    ap.add_argument("--n-inputs", type=int, default=4)
    ap.add_argument("--widths", default="40,40")
    ap.add_argument("--replicates", type=int, default=10)
    ap.add_argument("--particles", type=int, default=100)
    ap.add_argument("--kernel", default=None, help="default: hmc for smc, elliptical_slice for subset")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=2)
    a = ap.parse_args()
    model = MLPSpec(n_inputs=a.n_inputs, widths=tuple(int(w) for w in a.widths.split(",") if w))
    table = named_truth_table(a.target, a.n_inputs)
    problem = GaussianProblem.of(model, ScaledPrior(), computes(table, a.n_inputs))
    cls, one, many = ((SMCSettings, smc_run, smc_runs) if a.method == "smc" else
                      (SubsetSettings, subset_run, subset_runs))
    kernel = a.kernel or cls.kernel
    settings = cls(particles=a.particles, kernel=kernel, steps=a.steps, replicates=a.replicates, seed=a.seed)
    r = a.replicates

    def host():
        return [one(replicate_key(a.seed, i), problem, settings) for i in range(r)]

    def batch():
        return many(replicate_keys(a.seed, 0, r), problem, settings)

    def timed(f):
        t0 = time.perf_counter()
        runs = f()
        return time.perf_counter() - t0, runs

    one(replicate_key(a.seed + 1, 0), problem, settings)  # compile outside the timing
    many(replicate_keys(a.seed + 1, 0, r), problem, settings)
    times = {"host": [], "batched": []}
    for _ in range(a.repeats):
        for name, f in (("host", host), ("batched", batch)):
            dt, runs = timed(f)
            times[name].append(dt)
            out = runs
            log10 = [x.log_p / math.log(10) for x in out]
            stages = np.mean([x[2] for x in out])  # stages or levels
            times[name + "_est"] = (np.mean(log10), np.std(log10, ddof=1), stages)
    arch = "-".join(str(w) for w in (a.n_inputs, *model.widths, 1))
    print(f"device: {jax.devices()[0].device_kind}; {a.target} on {arch} relu, "
          f"{a.method}, {r} replicates x {a.particles} particles, kernel {kernel}, {a.steps} moves per stage\n")
    print("| path | seconds (best of %d) | replicates/s | mean log10 | sd log10 | mean stages or levels |" % a.repeats)
    print("|---|---|---|---|---|---|")
    for name in ("host", "batched"):
        best = min(times[name])
        m, sd, st = times[name + "_est"]
        print(f"| {name} | {best:.2f} | {r / best:.2f} | {m:.3f} | {sd:.3f} | {st:.1f} |")
    print(f"\nbatched / host replicates/s: {min(times['host']) / min(times['batched']):.2f}")


if __name__ == "__main__":
    main()
