"""Time to a 95% interval of +-0.1 decade on 4-bit parity on 4-40-40-1, by four methods on one machine.

Case: 4-bit parity (truth table 0x6996) on a 4-40-40-1 relu MLP under the Gaussian prior
``sigma_w = sigma_b = 1`` (volume about 10^-12.7). In one run, after compiling each method outside
its timing:

* ``readout`` (the readout integrated out): a pilot of ``--pilot`` networks gives the relative
  standard error and the throughput; the networks a 95% half-width of 0.1 decade needs
  (relative s.e. ``0.1 ln 10 / 1.96``: :func:`counting.stats.samples_for_rel_se`) and their time
  follow, and if that time is under ``--readout-max-seconds`` that many networks are drawn afresh
  (another seed) and the interval they reach is recorded with its Pareto k-hat;
* ``readout_smc`` (tempered over the hidden layers, the settings of
  ``experiments/parity4_readout_smc.toml``) and ``smc`` (tempered SMC over all the weights, HMC, the
  simplicity experiment's settings for the rare classes): replicates are added in batches until the
  replicate 95% interval is at most 0.2 decades wide (after at least ``--*-first`` replicates), or
  until the cap (``--*-cap-replicates``, or ``--*-cap-seconds``: no new batch is started after it);
  a method stopped by its cap has the replicates and seconds it would need projected from its
  replicates' coefficient of variation (as for readout's networks: relative s.e. ``0.1 ln 10 / 1.96``);
* hit-or-miss: projected, the networks whose Clopper-Pearson interval at the readout's volume is
  narrower than 0.2 decades (:func:`counting.stats.hit_or_miss_samples`) at the engine's measured
  networks per second on this spec.

Seconds are wall-clock seconds of this process. Writes ``precision_<backend>.parquet``,
``precision_<backend>.md`` and ``precision_manifest_<backend>.json`` into ``--out``:

    python experiments/precision_bench.py [--out results/bench]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pandas as pd

from counting.engine.run import RunOptions
from counting.estimators import Problem, estimate
from counting.io.files import atomic_write_bytes, write_json, write_parquet
from counting.io.manifest import manifest
from counting.rare import GaussianProblem, combine_replicates, replicate_key, smc_run
from counting.rare.readout_smc import readout_smc_run
from counting.spec import SMCSettings, parse_spec
from counting.spec.estimator import ReadoutSMCSettings
from counting.stats import hit_or_miss_samples, rel_se_for_decades, samples_for_rel_se

SPEC = """
[model]
n_inputs = 4
widths = [40, 40]
activation = "relu"
[prior]
sigma_w = 1.0
sigma_b = 1.0
[target]
name = "parity"
[estimator]
{estimator}
"""
HALF_WIDTH = 0.1  # decades: the interval asked for is +-0.1 decade, i.e. at most 0.2 decades wide
WIDTH = 2 * HALF_WIDTH


def log(what: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {what}", file=sys.stderr, flush=True)


def spec_of(**estimator):
    return parse_spec(SPEC.format(estimator="\n".join(f"{k} = {v!r}".replace("'", '"')
                                                      for k, v in estimator.items())))


def timed_estimate(spec):
    t0 = time.perf_counter()
    est = estimate(Problem.of(spec), spec.estimator, RunOptions(progress=False))
    return est, time.perf_counter() - t0


def readout_rows(args) -> tuple[list[dict], dict]:
    """The pilot, the networks and seconds it says +-0.1 decade needs, and (if affordable) that run."""
    timed_estimate(spec_of(kind="readout", samples=1024, seed=10**6))  # compile outside the timing
    pilot, pilot_s = timed_estimate(spec_of(kind="readout", samples=args.pilot, seed=0))
    target = rel_se_for_decades(HALF_WIDTH)
    need = samples_for_rel_se(pilot.samples, pilot.diagnostics["rel_se"], target)
    rate = pilot.samples / pilot_s
    log(f"readout pilot: 10^{pilot.log10_volume:.3f}, rel. s.e. {pilot.diagnostics['rel_se']:.4f}, {pilot_s:.1f} s")
    info = {"pilot_rel_se": pilot.diagnostics["rel_se"], "target_rel_se": target, "networks_needed": need,
            "readout_rate": rate, "projected_seconds": need / rate}
    rows = [row("readout pilot (seed 0)", pilot, pilot_s, khat=pilot.diagnostics["khat"], seconds_to_target=None)]
    if need / rate <= args.readout_max_seconds:
        whole = -(-need // 1024) * 1024  # chunks of 1,024 networks are drawn whole: count them all
        run, run_s = timed_estimate(spec_of(kind="readout", samples=whole, seed=1))
        w = None if run.ci95[0] is None else run.ci95[1] - run.ci95[0]
        rows.append(row("readout at the projected networks (seed 1)", run, run_s, khat=run.diagnostics["khat"],
                        reached_target=w is not None and w <= WIDTH, seconds_to_target=run_s,
                        target_time_projected=False))
    else:
        rows.append({"method": "readout at the projected networks (not run: over the time limit)",
                     "evaluations": need, "cost_unit": "networks", "seconds": need / rate, "projected": True,
                     "seconds_to_target": need / rate})
    return rows, info


def row(method: str, est, seconds: float, **extra) -> dict:
    lo, hi = est.ci95
    return {"method": method, "log10_volume": est.log10_volume, "ci95_lo": lo, "ci95_hi": hi,
            "ci_width_decades": None if lo is None or hi is None else hi - lo, "evaluations": est.samples,
            "cost_unit": est.cost_unit, "seconds": seconds, "projected": False, **extra}


def until_narrow(run, first: int, batch: int, cap_replicates: int, cap_seconds: float) -> dict:
    """Batches of replicates ``run(r) -> (log p, evaluations)`` until the 95% interval is at most
    ``WIDTH`` decades wide (at least ``first`` replicates) or a cap is reached: ``cap_replicates``, or
    ``cap_seconds``, which no batch is started to overrun (at the mean time per replicate so far)."""
    log_ps, evals = [], 0
    t0 = time.perf_counter()
    while True:
        for _ in range(batch):
            lp, ev = run(len(log_ps))
            log_ps.append(float(lp))
            evals += int(ev)
        secs, r = time.perf_counter() - t0, len(log_ps)
        est, (lo, hi) = combine_replicates(log_ps)
        log(f"{r} replicates, {secs:.0f} s: 10^{est:.3f} [{lo}, {hi}]")
        width = None if lo is None or hi is None else hi - lo
        narrow = bool(r >= first and width is not None and width <= WIDTH)
        capped = r + batch > cap_replicates or secs + batch * secs / r > cap_seconds
        if narrow or capped:
            break
    out = {"log10_volume": est, "ci95_lo": lo, "ci95_hi": hi, "ci_width_decades": width, "replicates": r,
           "evaluations": evals, "seconds": secs, "reached_target": narrow,
           "replicates_log10": [x / math.log(10) for x in log_ps],
           "replicate_sd_log10": float(np.std(np.asarray(log_ps) / math.log(10), ddof=1)) if r > 1 else None}
    if not narrow and r > 1 and np.isfinite(log_ps).all():
        # the replicates as i.i.d. unbiased estimates: their coefficient of variation gives the replicates
        # whose mean has the relative s.e. of +-0.1 decade (as for readout's networks)
        p = np.exp(np.asarray(log_ps) - max(log_ps))
        reps = samples_for_rel_se(r, p.std(ddof=1) / p.mean() / math.sqrt(r), rel_se_for_decades(HALF_WIDTH))
        out |= {"projected_replicates": reps, "projected_seconds": secs / r * reps}
    return out


def replicate_row(method: str, r: dict, cost_unit: str, settings: str) -> dict:
    keep = ("log10_volume", "ci95_lo", "ci95_hi", "ci_width_decades", "replicates", "evaluations", "seconds",
            "reached_target", "replicate_sd_log10", "projected_replicates", "projected_seconds")
    return {"method": method, **{k: r.get(k) for k in keep}, "cost_unit": cost_unit, "projected": False,
            "settings": settings, "replicates_log10": r["replicates_log10"]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="results/bench")
    ap.add_argument("--pilot", type=int, default=4096, help="readout pilot networks")
    ap.add_argument("--readout-max-seconds", type=float, default=300.0)
    ap.add_argument("--rsmc-particles", type=int, default=256)
    ap.add_argument("--rsmc-first", type=int, default=4)
    ap.add_argument("--rsmc-batch", type=int, default=1)
    ap.add_argument("--rsmc-cap-replicates", type=int, default=40)
    ap.add_argument("--rsmc-cap-seconds", type=float, default=900.0)
    ap.add_argument("--smc-particles", type=int, default=100)
    ap.add_argument("--smc-first", type=int, default=20)
    ap.add_argument("--smc-batch", type=int, default=10)
    ap.add_argument("--smc-cap-replicates", type=int, default=400)
    ap.add_argument("--smc-cap-seconds", type=float, default=300.0)
    ap.add_argument("--mc-rate-samples", type=int, default=1 << 20)
    args = ap.parse_args()
    t_start, load0 = time.perf_counter(), os.getloadavg()[0]
    base = spec_of(kind="readout", samples=args.pilot, seed=0)
    problem = Problem.of(base)
    tt = problem.target.truth_table

    rows, info = readout_rows(args)
    log(f"readout: {rows[-1]['method']}, {rows[-1]['seconds']:.1f} s")
    v_ref = (rows[-1].get("log10_volume") or rows[0]["log10_volume"])  # the larger run's, if it ran
    readout_secs = rows[-1]["seconds_to_target"]  # the run at the projected networks (or its projected time)

    # hit-or-miss throughput on this spec (after compilation), and the networks it would need
    timed_estimate(spec_of(samples=65536, seed=7, chunk_size=65536))
    mc_est, mc_s = timed_estimate(spec_of(samples=args.mc_rate_samples, seed=7, chunk_size=65536))
    mc_rate = mc_est.samples / mc_s
    log(f"hit-or-miss: {mc_rate:,.0f} networks/s")
    mc_need = hit_or_miss_samples(10**v_ref, WIDTH)

    smc = SMCSettings(particles=args.smc_particles, steps=3, max_stages=150)  # kernel hmc, 8 leapfrog steps
    gp = GaussianProblem.of(base.model, base.prior, problem.condition)
    smc_run(jax.random.key(10**6), gp, smc)  # compile outside the timing
    s = until_narrow(lambda r: smc_run(replicate_key(0, r), gp, smc)[:2], args.smc_first, args.smc_batch,
                     args.smc_cap_replicates, args.smc_cap_seconds)

    rsmc = ReadoutSMCSettings(particles=args.rsmc_particles, steps=3, slice_shrinks=3)
    readout_smc_run(jax.random.key(10**6), base.model, base.prior, tt,  # compile (one stage) outside the timing
                    ReadoutSMCSettings(particles=args.rsmc_particles, steps=3, slice_shrinks=3, max_stages=1))
    diag = []

    def rsmc_one(r):
        run = readout_smc_run(replicate_key(0, r), base.model, base.prior, tt, rsmc)
        diag.append(run)
        return run.log_p, run.evaluations

    rs = until_narrow(rsmc_one, args.rsmc_first, args.rsmc_batch, args.rsmc_cap_replicates, args.rsmc_cap_seconds)

    rsmc_row = (replicate_row("readout_smc (tempered over the hidden layers)", rs, "orthant_evaluations",
                              f"{rsmc.particles} particles, {rsmc.steps} elliptical slice moves of at most "
                              f"{rsmc.slice_shrinks} points per stage, seed 0")
                | {"worst_correction_ess": float(np.nanmin([r.correction_ess for r in diag])),
                   "mean_stages": float(np.mean([r.stages for r in diag]))})
    rows += [
        rsmc_row,
        replicate_row("smc (tempered, hmc)", s, "network_evaluations",
                      f"{smc.particles} particles, {smc.steps} hmc moves of {smc.leapfrog} leapfrog steps per "
                      f"stage, at most {smc.max_stages} stages, seed 0"),
        {"method": "hit-or-miss (required, computed)", "log10_volume": v_ref, "ci_width_decades": WIDTH,
         "evaluations": mc_need, "cost_unit": "networks", "seconds": mc_need / mc_rate, "projected": True},
    ]
    for r in rows:  # time to +-0.1 decade: measured where reached, else projected (the pilot's row: none)
        if "seconds_to_target" not in r:
            r["seconds_to_target"] = r["seconds"] if r.get("reached_target", True) else r.get("projected_seconds")
        r.setdefault("target_time_projected", None if r["seconds_to_target"] is None
                     else bool(r.get("projected")) or r.get("reached_target") is False)
    df = pd.DataFrame(rows)
    df["ratio_to_readout"] = pd.to_numeric(df["seconds_to_target"]) / readout_secs
    out, backend = Path(args.out), jax.default_backend()
    stem = f"precision_{backend}"
    write_parquet(out / f"{stem}.parquet", df)
    smc_gap = s["log10_volume"] - v_ref if s["log10_volume"] is not None else None
    cols = ["method", "log10_volume", "ci95_lo", "ci95_hi", "ci_width_decades", "replicates", "evaluations",
            "seconds", "seconds_to_target", "target_time_projected", "ratio_to_readout"]
    lines = [df[[c for c in cols if c in df]].to_string(index=False), "",
             f"Target: a 95% interval at most {WIDTH:.1f} decades wide (+-{HALF_WIDTH} decade); readout: relative s.e. "
             f"{info['target_rel_se']:.4f} (0.1 ln 10 / 1.96).",
             f"readout pilot: {args.pilot:,} networks, relative s.e. {info['pilot_rel_se']:.4f}, "
             f"{info['readout_rate']:.0f} networks/s -> {info['networks_needed']:,} networks, "
             f"{info['projected_seconds']:.0f} s projected.",
             ]
    for r in rows[:2]:
        if r.get("khat") is not None:
            flag = " (above 0.5: the variance may be infinite, the normal interval may be too narrow)" \
                if r["khat"] > 0.5 else ""
            lines.append(f"{r['method']}: Pareto k-hat {r['khat']:.2f}{flag}.")
    for name, r, cap_r, cap_s in (("readout_smc", rs, args.rsmc_cap_replicates, args.rsmc_cap_seconds),
                                  ("smc", s, args.smc_cap_replicates, args.smc_cap_seconds)):
        state = ("reached the target" if r["reached_target"] else
                 f"stopped by its cap ({cap_r} replicates or {cap_s:.0f} s) before the target"
                 + (f": {r['projected_replicates']} replicates, {r['projected_seconds']:.0f} s projected from "
                    "their spread" if "projected_replicates" in r else ""))
        lines.append(f"{name}: {r['replicates']} replicates in {r['seconds']:.0f} s, {state}; "
                     f"replicates (log10) {', '.join(f'{x:.2f}' for x in r['replicates_log10'])}.")
    lines.append(f"readout_smc: {rs['evaluations'] / rs['replicates']:,.0f} orthant evaluations and "
                 f"{rs['seconds'] / rs['replicates']:.0f} s per replicate, {rsmc_row['mean_stages']:.1f} stages on "
                 f"average, worst final-correction effective sample fraction {rsmc_row['worst_correction_ess']:.3f}.")
    if smc_gap is not None:
        lines.append(f"smc's interval is over its replicates only and does not include its bias: its value sits "
                     f"{-smc_gap:.2f} decades below readout's ({v_ref:.3f}).")
    lines.append(f"hit-or-miss: {mc_rate:,.0f} networks/s on this spec ({args.mc_rate_samples:,} networks in "
                 f"{mc_s:.1f} s), {mc_need:.3g} networks needed at 10^{v_ref:.3f}.")
    lines.append("Evaluations: networks (readout, hit-or-miss), orthant probabilities (readout_smc), forward "
                 "passes with each gradient counted as one (smc). Seconds are wall-clock, compilation outside.")
    lines.append(f"{jax.devices()[0].device_kind}, {len(jax.devices())} device(s), {os.cpu_count()} CPU cores; "
                 f"load average (1 min) {load0:.2f} at the start, {os.getloadavg()[0]:.2f} at the end; whole run "
                 f"{time.perf_counter() - t_start:.0f} s.")
    text = "\n".join(lines) + "\n"
    atomic_write_bytes(out / f"{stem}.md", text.encode())
    rows = [{k: v.item() if isinstance(v, np.generic) else v for k, v in r.items()} for r in rows]  # for JSON
    write_json(out / f"precision_manifest_{backend}.json",
               manifest("precision-bench", base.to_dict(), vars(args) | info | {"mc_rate": mc_rate, "load_average_start": load0,
                                                                 "load_average_end": os.getloadavg()[0]},
                        {"readout_seconds": readout_secs, "readout_smc_seconds": rs["seconds"],
                         "smc_seconds": s["seconds"], "total_seconds": time.perf_counter() - t_start},
                        [f"{stem}.parquet"]) | {"result": rows})
    print(text)


if __name__ == "__main__":
    main()
