"""Cost of a 1e-10 volume to 0.2 decades: subset simulation and tempered SMC against hit-or-miss.

Case: AND on 3 bits under a perceptron prior with sigma_b = 1e-3 (exact volume 8.77e-11, from
``tests/exact_perceptron.py``). Subset simulation adds batches of replicates until its 95% interval
is narrower than 0.2 decades and records the network evaluations and seconds spent; tempered SMC
(hmc kernel) does the same with its own replicates. For
hit-or-miss the required sample count is computed from the Clopper-Pearson interval at the exact
volume (the smallest n whose expected interval is narrower than 0.2 decades), and its time from the
engine's measured throughput on the same spec. Writes ``rare_methods_<backend>.parquet``,
``rare_methods_<backend>.md`` and ``rare_methods_manifest_<backend>.json`` into ``--out``:

    python experiments/rare_bench.py [--out results/bench]
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import jax
import pandas as pd

from counting.engine.run import RunOptions
from counting.estimators import mc
from counting.estimators.problem import Problem
from counting.io.files import atomic_write_bytes, write_json, write_parquet
from counting.io.manifest import manifest
from counting.mechanisms.predicates import computes
from counting.rare import GaussianProblem, combine_replicates, replicate_key, smc_run, subset_run
from counting.spec import SMCSettings, SubsetSettings, parse_spec
from counting.stats import clopper_pearson

SPEC = """
[model]
n_inputs = 3
widths = []
[prior]
sigma_b = 0.001
[target]
truth_table = "0x80"
[estimator]
seed = 7
samples = {samples}
chunk_size = 65536
"""
EXACT = 8.774624518e-11  # perceptron_volumes(3, 1.0, 1e-3)[0x80]


def mc_samples_needed(v: float, width: float = 0.2) -> int:
    """Smallest n (to 2 significant digits) whose CP interval at k = round(v n) is narrower than ``width``."""
    n = 1e8
    while True:
        k = max(1, round(v * n))
        lo, hi = clopper_pearson(k, int(n))
        if math.log10(hi) - math.log10(lo) < width:
            return int(n)
        n *= 1.05


def until_narrow(run, width: float = 0.2, first: int = 20):
    """Replicates of ``run(r) -> (log p, evaluations)`` until the 95% interval is narrower than ``width``
    (at least ``first``: stopping at the first narrow interval of a few skewed replicates undercovers)."""
    log_ps, evals = [], 0
    t0 = time.perf_counter()
    while True:
        lp, ev = run(len(log_ps))
        log_ps.append(lp)
        evals += ev
        if len(log_ps) >= first:
            est, (lo, hi) = combine_replicates(log_ps)
            if lo is not None and hi - lo < width:
                return est, lo, hi, len(log_ps), evals, time.perf_counter() - t0


def hit_or_miss(spec):
    return mc.estimate(Problem.of(spec), spec.estimator, RunOptions(progress=False))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="results/bench")
    ap.add_argument("--particles", type=int, default=1000)
    ap.add_argument("--smc-particles", type=int, default=2000)
    args = ap.parse_args()
    spec = parse_spec(SPEC.format(samples=1))
    problem = GaussianProblem.of(spec.model, spec.prior, computes(0x80, 3))
    seed = spec.estimator.seed
    sub = SubsetSettings(particles=args.particles)
    subset_run(jax.random.key(10**6), problem, sub)  # compile outside the timing
    est, lo, hi, reps, evals, sub_secs = until_narrow(
        lambda r: subset_run(replicate_key(seed, r), problem, sub)[:2])
    smc = SMCSettings(particles=args.smc_particles, steps=5)
    smc_run(jax.random.key(10**6), problem, smc)  # compile outside the timing
    s_est, s_lo, s_hi, s_reps, s_evals, smc_secs = until_narrow(
        lambda r: smc_run(replicate_key(seed + 1, r), problem, smc)[:2])
    # hit-or-miss throughput on the same spec (after compilation)
    n_rate = 1 << 24
    hit_or_miss(parse_spec(SPEC.format(samples=65536)))
    rate = n_rate / hit_or_miss(parse_spec(SPEC.format(samples=n_rate))).seconds
    need = mc_samples_needed(EXACT)
    rows = [
        {"method": "subset (elliptical slice + scale moves)", "log10_volume": est, "ci95_lo": lo, "ci95_hi": hi,
         "ci_width_decades": hi - lo, "replicates": reps, "network_evaluations": evals,
         "seconds": sub_secs},
        {"method": "tempered smc (hmc, 8 leapfrog steps; forward passes counted)", "log10_volume": s_est,
         "ci95_lo": s_lo, "ci95_hi": s_hi, "ci_width_decades": s_hi - s_lo, "replicates": s_reps,
         "network_evaluations": s_evals, "seconds": smc_secs},
        {"method": "hit-or-miss (required, computed)", "log10_volume": math.log10(EXACT), "ci95_lo": None,
         "ci95_hi": None, "ci_width_decades": 0.2, "replicates": None, "network_evaluations": need,
         "seconds": need / rate},
    ]
    df = pd.DataFrame(rows)
    df["exact_log10_volume"] = math.log10(EXACT)
    out, stem = Path(args.out), f"rare_methods_{jax.default_backend()}"
    write_parquet(out / f"{stem}.parquet", df)
    text = df.to_string(index=False) + f"\n\nhit-or-miss throughput on this spec: {rate:,.0f} networks/s " \
        f"({jax.devices()[0].device_kind}, {len(jax.devices())} device(s))\n"
    atomic_write_bytes(out / f"{stem}.md", text.encode())
    write_json(out / f"rare_methods_manifest_{jax.default_backend()}.json",
               manifest("rare-bench", spec.to_dict(), vars(args) | {"mc_rate": rate},
                        {"subset_seconds": sub_secs, "smc_seconds": smc_secs}, [f"{stem}.parquet"]) | {"result": rows})
    print(text)


if __name__ == "__main__":
    main()
