"""Shared draws against plain hit-or-miss: effective samples per second on one CPU, in the same run.

For each target on a 7-40-40-1 relu MLP (7 bits), plain ``mc`` (at ``--plain-batches``) and shared
draws (``readouts_per_draw`` in ``--readouts``) run one after the other in this process; each row
gives the pairs (networks) per second, the design effect, the effective samples per second
(networks / design effect / seconds; plain: design effect 1) and its ratio to the first plain row.
Seconds exclude compilation (the pass's own clock). Prints a markdown table.

    python experiments/shared_draws_bench.py [--plain 262144] [--shared-draws 65536] [--readouts 16,64]
"""

from __future__ import annotations

import argparse
import dataclasses

from counting.engine.run import RunOptions
from counting.estimators import mc
from counting.estimators.problem import Problem
from counting.spec import parse_spec

TARGETS = {"const0 (common)": 'truth_table = "0x' + "0" * 32 + '"', "and (rarer)": 'name = "and"'}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plain", type=int, default=262144, help="networks of each plain run")
    ap.add_argument("--shared-draws", type=int, default=65536, help="hidden draws of each shared run")
    ap.add_argument("--readouts", default="16,64")
    ap.add_argument("--plain-batches", default="128,4096")
    ap.add_argument("--shared-batch", type=int, default=128)
    a = ap.parse_args()
    print("| target | estimator | batch | networks | hits | volume | design effect | networks/s | "
          "effective samples/s | ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, target in TARGETS.items():
        base = parse_spec(f"[model]\nn_inputs = 7\nwidths = [40, 40]\n[target]\n{target}\n[estimator]\n"
                          f"samples = {a.plain}\nchunk_size = 4096\n")
        runs = [("plain mc", b, base.estimator) for b in map(int, a.plain_batches.split(","))]
        runs += [(f"shared R={r}", a.shared_batch,
                  dataclasses.replace(base.estimator, samples=a.shared_draws * r, readouts_per_draw=r))
                 for r in map(int, a.readouts.split(","))]
        ref = None
        for label, batch, est in runs:
            e = mc.estimate(Problem.of(base), est, RunOptions(batch_size=batch, progress=False))
            deff = e.diagnostics.get("design_effect", 1.0)
            eff = e.samples / deff / e.seconds
            ref = ref or eff
            print(f"| {name} | {label} | {batch} | {e.samples} | {e.hits} | {e.volume:.3g} | {deff:.2f} | "
                  f"{e.samples / e.seconds:,.0f} | {eff:,.0f} | {eff / ref:.2f} |", flush=True)


if __name__ == "__main__":
    main()
