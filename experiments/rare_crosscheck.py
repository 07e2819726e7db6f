"""Cross-check two rare-event move kernels on a 7-40-40-1 relu network (7-bit parity and majority).

Writes ``results/rare/crosscheck.parquet``, ``crosscheck.md`` and ``manifest.json``.

    python experiments/rare_crosscheck.py [--replicates 10] [--particles 1000] [--out results/rare]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

from counting import parse_spec
from counting.outputs import atomic_write_bytes, manifest, write_json, write_parquet
from counting.nngp import nngp_volume
from counting.rare import subset_volume
from counting.truth import named_truth_table

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
kind = "subset"
seed = {seed}
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--replicates", type=int, default=10)
    ap.add_argument("--particles", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--targets", default="majority,parity")
    ap.add_argument("--max-levels", type=int, default=200)
    ap.add_argument("--out", default="results/rare")
    args = ap.parse_args()
    rows = []
    for target in args.targets.split(","):
        for seed, kernel in ((0, "ess"), (1, "pcn")):
            spec = parse_spec(SPEC.format(target=target, seed=seed))
            t = time.perf_counter()
            r = subset_volume(spec, kernel=kernel, replicates=args.replicates, n_particles=args.particles,
                              n_steps=args.steps, max_levels=args.max_levels, progress=True)
            rows.append({"target": target, "kernel": kernel, "seed": seed, "log10_volume": r.log10_volume,
                         "ci95_lo": r.ci95[0], "ci95_hi": r.ci95[1], "replicate_sd_log10": r.replicate_sd_log10,
                         "mean_levels": r.levels, "evaluations": r.evaluations, "replicates": args.replicates,
                         "particles": args.particles, "seconds": time.perf_counter() - t})
            print(rows[-1], flush=True)
        # the infinite-width limit of the same architecture, for context (not a cross-check)
        t = time.perf_counter()
        nn = nngp_volume(spec.model, spec.prior, named_truth_table(target, 7))
        rows.append({"target": target, "kernel": "nngp (infinite width)", "seed": 0,
                     "log10_volume": nn.log10_volume, "ci95_lo": nn.ci95[0], "ci95_hi": nn.ci95[1],
                     "evaluations": nn.samples, "seconds": time.perf_counter() - t})
    df = pd.DataFrame(rows)
    out = Path(args.out)
    write_parquet(out / "crosscheck.parquet", df)
    atomic_write_bytes(out / "crosscheck.md", (df.to_string(index=False) + "\n").encode())
    spec_d = parse_spec(SPEC.format(target="parity", seed=0)).to_dict()
    write_json(out / "manifest.json", manifest("rare-crosscheck", spec_d, vars(args), {}, ["crosscheck.parquet"])
               | {"result": rows})


if __name__ == "__main__":
    main()
