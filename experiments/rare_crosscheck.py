"""Cross-check two rare-event methods, each with two move kernels, on a 7-40-40-1 relu network
(7-bit majority and 7-bit parity).

Methods: subset simulation (:mod:`counting.estimators.subset`, kernels ``elliptical_slice`` and ``pcn``) and
tempered SMC (:mod:`counting.estimators.smc`, kernels ``hmc`` and ``mala``). Every run has its own
seed. The infinite-width (NNGP) volume of the same architecture is added for context; it is not a
cross-check.
Parity is run with fewer replicates and a cap on levels/stages (``--parity-replicates``,
``--parity-max-levels``): no method reaches it, and the table records how far each got.

Writes ``crosscheck.parquet``, ``crosscheck.md`` and ``manifest.json`` in ``--out``:

    python experiments/rare_crosscheck.py --out results/rare
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

from counting.engine.run import RunOptions
from counting.estimators import nngp
from counting.estimators.problem import Problem
from counting.estimators.smc import smc_volume
from counting.estimators.subset import subset_volume
from counting.io.files import atomic_write_bytes, write_json, write_parquet
from counting.io.manifest import manifest
from counting.spec import parse_spec

SPEC = """
[model]
kind = "mlp"
n_inputs = 7
widths = [40, 40]
activation = "relu"
[prior]
kind = "gaussian"
[target]
name = "{target}"
[estimator]
kind = "{kind}"
seed = {seed}
"""

RUNS = (("subset", "elliptical_slice", 0), ("subset", "pcn", 1), ("smc", "hmc", 2), ("smc", "mala", 3))


def one(target: str, kind: str, kernel: str, seed: int, args, replicates: int, max_levels: int) -> dict:
    spec = parse_spec(SPEC.format(target=target, kind=kind, seed=seed))
    t = time.perf_counter()
    progress = RunOptions(progress=True)
    if kind == "subset":
        r = subset_volume(spec, options=progress, kernel=kernel, replicates=replicates, particles=args.particles,
                          steps=args.steps, max_levels=max_levels)
        levels, bound = r.diagnostics["mean_levels"], None
    else:
        moves = args.hmc_moves if kernel == "hmc" else args.mala_moves
        r = smc_volume(spec, options=progress, kernel=kernel, replicates=replicates, particles=args.smc_particles,
                       steps=moves, max_stages=max_levels)
        levels, bound = r.diagnostics["mean_stages"], r.diagnostics["log10_bound"]
    d = r.diagnostics
    return {"target": target, "method": kind, "kernel": kernel, "seed": seed,
            "log10_volume": r.log10_volume, "ci95_lo": r.ci95[0], "ci95_hi": r.ci95[1],
            "replicate_sd_log10": d["replicate_sd_log10"], "replicates": replicates, "reached": d["reached"],
            "mean_levels_or_stages": levels, "max_levels_or_stages": max_levels,
            "log10_upper_bound": bound, "evaluations": r.samples, "seconds": time.perf_counter() - t}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--replicates", type=int, default=10)
    ap.add_argument("--particles", type=int, default=1000, help="subset simulation particles")
    ap.add_argument("--steps", type=int, default=10, help="subset simulation moves per level")
    ap.add_argument("--smc-particles", type=int, default=512)
    ap.add_argument("--hmc-moves", type=int, default=5)
    ap.add_argument("--mala-moves", type=int, default=20)
    ap.add_argument("--targets", default="majority,parity")
    ap.add_argument("--max-levels", type=int, default=200)
    ap.add_argument("--parity-replicates", type=int, default=3)
    ap.add_argument("--parity-max-levels", type=int, default=40)
    ap.add_argument("--out", default="results/rare")
    args = ap.parse_args()
    rows = []
    for target in args.targets.split(","):
        reps, levels = ((args.parity_replicates, args.parity_max_levels) if target == "parity"
                        else (args.replicates, args.max_levels))
        for kind, kernel, seed in RUNS:
            rows.append(one(target, kind, kernel, seed, args, reps, levels))
            print(rows[-1], flush=True)
        spec = parse_spec(SPEC.format(target=target, kind="nngp", seed=0))
        t = time.perf_counter()
        nn = nngp.estimate(Problem.of(spec), spec.estimator)
        rows.append({"target": target, "method": "nngp (infinite width)", "kernel": None, "seed": 0,
                     "log10_volume": nn.log10_volume, "ci95_lo": nn.ci95[0], "ci95_hi": nn.ci95[1],
                     "evaluations": nn.samples, "seconds": time.perf_counter() - t})
    df = pd.DataFrame(rows)
    out = Path(args.out)
    write_parquet(out / "crosscheck.parquet", df)
    atomic_write_bytes(out / "crosscheck.md", (df.to_string(index=False) + "\n").encode())
    spec_d = parse_spec(SPEC.format(target="majority", kind="smc", seed=0)).to_dict()
    write_json(out / "manifest.json", manifest("rare-crosscheck", spec_d, vars(args), {}, ["crosscheck.parquet"])
               | {"result": rows})


if __name__ == "__main__":
    main()
