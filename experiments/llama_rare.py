"""The price of expensive llamas by tempered SMC, where hit-or-miss sees none (README, "Llamaizers").

For 5-W-W-1 relu MLPs (Gaussian prior, sigma_w = sigma_b = 1, fan-in scaling) and the target
f = and(x0,x1) itself (0x88888888, not its orbit), tempered SMC (:mod:`counting.estimators.smc`,
independent replicates, 95% Student-t interval over them) measures log10 V(f), log10 V(f and layer l
holds g) and the cost in bits ``-log2 V(f and g) / V(f)``:

* a cheap llama, the dictator x2 (0xf0f0f0f0), in layer 1 and layer 2 at ``--cheap-width``,
  cross-checked against one hit-or-miss pass of the same spec counting every condition on the same
  networks (``--mc-samples``; exactly the counts separate ``mc`` runs with that seed would give);
* an expensive llama that is not a threshold function, x3 xor x4 (0x00ffff00), in layer 2 at every
  width of ``--widths``; and, at the cheap width, "layer 2 holds x3 xor x4" for any network (no f),
  whose hit-or-miss count in results/llamaizer is 1 in 2e7.

Every SMC volume has its own seed (``--seed`` + its row number), so the two volumes of a cost are
independent. A cost's interval joins the two volumes' 95% intervals end to end (lower end of the
cost from the upper end of V(f and g) and the lower of V(f), and the other way round): it covers
whenever both intervals do. With V(f)'s final SMC populations (networks computing f, drawn as the
prior restricted to f as far as the moves mix) the driver also reports the share holding each cheap
llama, a second SMC reading of the cost (``method = smc-share``; 95% t-interval over replicates).

Writes ``volumes.parquet``, ``costs.parquet``, ``llama_rare.md`` and last ``manifest.json`` (the
command, settings, seed, git commit) into ``--out``; a folder holding a finished run (its
manifest) is refused:

    nice -n 5 python experiments/llama_rare.py --out runs/llama-rare
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import NamedTuple

import jax.numpy as jnp
import numpy as np
import pandas as pd

from counting.boolean.measures import is_threshold
from counting.boolean.tables import from_function, to_hex
from counting.engine.tally import CountingTally
from counting.engine.run import RunOptions, run_pass
from counting.estimators.problem import Problem
from counting.estimators.result import Estimate, binomial_estimate
from counting.estimators.smc import estimate as smc_estimate
from counting.io.files import atomic_write_bytes, check_folder, write_json, write_parquet
from counting.io.manifest import manifest
from counting.mechanisms.predicates import Condition, all_of, computes
from counting.mechanisms.sites import holds
from counting.estimators.replicated import Classifier
from counting.rare.conditional import share_summary, t_interval
from counting.rare.coordinates import GaussianProblem
from counting.spec.errors import SpecError
from counting.spec.estimator import MCSettings, SMCSettings
from counting.spec.job import Spec
from counting.spec.model import MLPSpec
from counting.spec.prior import ScaledPrior
from counting.spec.target import Target
from counting.stats import clopper_pearson

N = 5
TARGET = from_function(lambda x: x[0] > 0 and x[1] > 0, N)  # and(x0,x1) = 0x88888888
CHEAP = ("x2", from_function(lambda x: x[2] > 0, N))  # 0xf0f0f0f0
XOR = ("x3 xor x4", from_function(lambda x: (x[3] > 0) != (x[4] > 0), N))  # 0x00ffff00
LOG2_10 = math.log2(10)


class Measure(NamedTuple):
    """One volume to measure: ``llama`` ``(name, table)`` held at ``site`` (``None``: no llama),
    with ``and_f`` whether the network must also compute the target."""

    width: int
    llama: tuple[str, int] | None
    site: str | None
    and_f: bool = True

    @property
    def label(self) -> str:
        parts = (["f"] if self.and_f else []) + ([] if self.llama is None else [f"{self.site} holds {self.llama[0]}"])
        return " and ".join(parts)


def spec_of(width: int, settings) -> Spec:
    """5-W-W-1 relu, Gaussian prior (sigma_w = sigma_b = 1), target and(x0,x1)."""
    return Spec(MLPSpec(n_inputs=N, widths=(width, width), activation="relu"), ScaledPrior("gaussian"),
                Target(TARGET, N, "and(x0,x1)"), settings)


def condition(m: Measure) -> Condition:
    """The measure's condition: computes f (if ``and_f``) and ``site`` holds the llama (if any)."""
    parts = ([computes(TARGET, N)] if m.and_f else []) + ([] if m.llama is None else [holds(m.site, m.llama[1], N)])
    return parts[0] if len(parts) == 1 else all_of(*parts)


def plan(cheap_width: int, widths: list[int], prior_xor: bool, cheap: bool = True) -> list[Measure]:
    """Every volume: at the cheap width f, f and x2 in layers 1 and 2 (if ``cheap``), f and x3 xor
    x4 in layer 2 (and layer 2 holding x3 xor x4 alone); at the other widths f and f and x3 xor x4
    in layer 2."""
    out = [Measure(cheap_width, None, None)]
    out += [Measure(cheap_width, CHEAP, "layer1"), Measure(cheap_width, CHEAP, "layer2")] if cheap else []
    out.append(Measure(cheap_width, XOR, "layer2"))
    if prior_xor:
        out.append(Measure(cheap_width, XOR, "layer2", and_f=False))
    for w in widths:
        if w != cheap_width:
            out += [Measure(w, None, None), Measure(w, XOR, "layer2")]
    return out


def cost_from_volumes(f: tuple[float, float, float], fg: tuple[float, float, float]
                      ) -> tuple[float, float, float]:
    """Cost in bits ``log2 V(f) - log2 V(f and g)`` from two independent ``(log10, lo, hi)``
    estimates; the interval joins their intervals end to end (``nan`` where an end is unknown).

    >>> [round(x, 3) for x in cost_from_volumes((-4.0, -4.1, -3.9), (-5.0, -5.3, -4.8))]
    [3.322, 2.325, 4.651]
    """
    g = [math.nan if v is None else v for v in (*f, *fg)]
    return (LOG2_10 * (g[0] - g[3]), LOG2_10 * (g[1] - g[5]), LOG2_10 * (g[2] - g[4]))


def cost_from_share(share: float, lo: float, hi: float) -> tuple[float, float, float]:
    """Cost in bits ``-log2 share`` with its interval from the share's (``inf`` where it is 0).

    >>> cost_from_share(0.25, 0.125, 0.5)
    (2.0, 1.0, 3.0)
    """
    bits = lambda p: -math.log2(p) if p > 0 else math.inf  # noqa: E731
    return bits(share), bits(hi), bits(lo)


class MultiHits(CountingTally):
    """Hit-or-miss counts of several conditions on the same networks (a tally of
    :func:`counting.engine.run.run_pass`): entry ``k`` equals ``Hits(conditions[k])``'s count."""

    def __init__(self, conditions: list[Condition]):
        super().__init__("llama-rare-hits", {"hits": (len(conditions),)})
        self.conditions = conditions

    def reduce(self, fwd, valid):
        return jnp.stack([jnp.sum(c(fwd) & valid, dtype=jnp.int32) for c in self.conditions])


def mc_counts(width: int, measures: list[Measure], samples: int, seed: int, chunk_size: int = 16_384
              ) -> tuple[np.ndarray, float]:
    """Hit-or-miss counts of every measure's condition over the same ``samples`` prior networks
    (draws of ``[estimator] kind = "mc"`` with this seed and chunk size), and the seconds spent."""
    tally = MultiHits([condition(m) for m in measures])
    facts = run_pass(spec_of(width, MCSettings(samples=samples, seed=seed, chunk_size=chunk_size)), tally,
                     RunOptions(progress=False))
    return tally.finalize(), facts.seconds


def mc_row(m: Measure, hits: int, samples: int, seed: int, seconds: float) -> dict:
    """A volume row from a hit-or-miss count (Clopper-Pearson 95%; zero hits: one-sided bound)."""
    e = binomial_estimate(int(hits), samples, seconds=seconds, seed=seed)
    return estimate_row(m, e, hits=e.hits)


def volume_row(m: Measure, method: str, log10: float | None, lo: float | None, hi: float | None, **extra) -> dict:
    llama, table = m.llama if m.llama is not None else (None, None)
    return {"width": m.width, "condition": m.label, "llama": llama,
            "llama_table": None if table is None else to_hex(table, N), "site": m.site, "and_f": m.and_f,
            "method": method, "log10_volume": log10, "ci95_lo": lo, "ci95_hi": hi, **extra}


def estimate_row(m: Measure, e: Estimate, **extra) -> dict:
    """The row of an estimate of ``m``'s volume (its columns, :meth:`Estimate.columns`): method and
    interval, seed, ``extra``, then cost (``samples`` in ``cost_unit``) and seconds."""
    c = e.columns()
    return volume_row(m, c["estimator"], c["log10_volume"], c["ci95_lo"], c["ci95_hi"], seed=c["seed"], **extra,
                      cost=c["samples"], cost_unit=c["cost_unit"], seconds=c["seconds"])


def smc_row(m: Measure, settings: SMCSettings) -> dict:
    """The SMC estimate of one measure's volume (the estimator's replicates, seed and interval)."""
    spec = spec_of(m.width, settings)
    return smc_fields(m, smc_estimate(Problem.of(spec, condition(m)), settings, RunOptions(progress=False)), settings)


def smc_fields(m: Measure, e: Estimate, settings: SMCSettings) -> dict:
    """The row of an SMC estimate: :func:`estimate_row` with its replicates, their spread and the settings."""
    d = e.diagnostics
    reps = d["replicates_log10"]
    finite = [x for x in reps if math.isfinite(x)]
    return estimate_row(m, e, replicates=len(reps), reached=len(finite), replicates_log10=list(map(float, reps)),
                        replicate_sd_log10=float(np.std(finite, ddof=1)) if len(finite) > 1 else math.nan,
                        replicate_range_log10=float(max(finite) - min(finite)) if finite else math.nan,
                        particles=settings.particles, steps=settings.steps, kernel=settings.kernel,
                        mean_stages=d.get("mean_stages"), log10_bound=d.get("log10_bound"))


def smc_f_with_shares(width: int, settings: SMCSettings, llamas: list[Measure]) -> tuple[dict, np.ndarray]:
    """SMC volume of "computes f" (the estimator's replicates, with a classifier counting, in each
    replicate's last population, the networks satisfying each of ``llamas``' conditions) and, per
    replicate, the share of its final networks computing f that satisfy each (``[R, L]``; NaN where
    a replicate never reached f)."""
    m = Measure(width, None, None)
    model = spec_of(width, settings).model
    checks = [GaussianProblem.of(model, ScaledPrior("gaussian"), condition(q)) for q in llamas]
    counter = Classifier("llamas " + ", ".join(q.label for q in llamas), tuple(q.label for q in llamas),
                         lambda coords: np.array([int(np.sum(np.asarray(c.evaluate(jnp.asarray(coords))[1])))
                                                  for c in checks]))
    est = smc_estimate(Problem(model, ScaledPrior("gaussian"), condition(m)), settings, RunOptions(progress=False),
                       counter)
    d = est.diagnostics
    return smc_fields(m, est, settings), share_summary(d["solutions"], d["counts"], counter.columns).per_replicate


def share_cost_row(m: Measure, shares: np.ndarray, seed: int) -> dict:
    """The cost of ``m``'s llama from the shares of SMC's f-populations (t-interval over replicates)."""
    ok = shares[np.isfinite(shares)]
    mean = float(ok.mean()) if len(ok) else math.nan
    lo, hi = t_interval(ok) if len(ok) else (math.nan, math.nan)
    bits, blo, bhi = cost_from_share(mean, lo, hi)
    if not ok.any():  # no replicate's population held it: no interval from the shares, only "expensive"
        blo = bhi = math.nan
    return cost_row(m, "smc-share", bits, blo, bhi, seed=seed, share=mean, share_lo=lo, share_hi=hi,
                    replicate_shares=ok.tolist())


def mc_cost_row(m: Measure, k_f: int, k_fg: int, seed: int) -> dict:
    """The cost from hit-or-miss counts: the share ``k_fg / k_f`` with its Clopper-Pearson interval."""
    lo, hi = clopper_pearson(k_fg, k_f) if k_f else (math.nan, math.nan)
    share = k_fg / k_f if k_f else math.nan
    bits, blo, bhi = cost_from_share(share, lo, hi)
    return cost_row(m, "mc", bits, blo, bhi, seed=seed, n_f=int(k_f), n_f_and_g=int(k_fg), share=share,
                    share_lo=lo, share_hi=hi)


def cost_row(m: Measure, method: str, bits: float, lo: float, hi: float, **extra) -> dict:
    return {"width": m.width, "llama": m.llama[0], "llama_table": to_hex(m.llama[1], N), "site": m.site,
            "method": method, "cost_bits": bits, "ci95_lo": lo, "ci95_hi": hi, **extra}


def smc_cost_row(m: Measure, f_row: dict, fg_row: dict) -> dict:
    """The cost from two independent SMC volumes (:func:`cost_from_volumes`)."""
    bits, lo, hi = cost_from_volumes((f_row["log10_volume"], f_row["ci95_lo"], f_row["ci95_hi"]),
                                     (fg_row["log10_volume"], fg_row["ci95_lo"], fg_row["ci95_hi"]))
    return cost_row(m, "smc", bits, lo, hi, seed_f=f_row["seed"], seed_f_and_g=fg_row["seed"])


def check_out(out: Path) -> Path:
    """Refuse a folder holding a finished run (its ``manifest.json``), before any work."""
    check_folder(out)
    if (out / "manifest.json").exists():
        raise SpecError("--out", "a folder without a finished run (manifest.json is there; choose another)", str(out))
    return out


def check_tables() -> None:
    """The llamas are what their names say (x3 xor x4 is no threshold function, x2 is one)."""
    got = (to_hex(TARGET, N), to_hex(CHEAP[1], N), to_hex(XOR[1], N),
           is_threshold(CHEAP[1], N), is_threshold(XOR[1], N))
    if got != ("0x88888888", "0xf0f0f0f0", "0x00ffff00", True, False):
        raise ValueError(f"llamas: expected and(x0,x1), x2 (threshold), x3 xor x4 (not threshold), got {got}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--cheap-width", type=int, default=32, help="width of the x2 measures and the hit-or-miss check")
    ap.add_argument("--widths", default="32,128", help="widths at which x3 xor x4 in layer 2 is measured")
    ap.add_argument("--particles", type=int, default=200, help="SMC particles at the cheap width")
    ap.add_argument("--replicates", type=int, default=6, help="SMC replicates at the cheap width")
    ap.add_argument("--wide-particles", type=int, default=100, help="SMC particles at the other widths")
    ap.add_argument("--wide-replicates", type=int, default=4, help="SMC replicates at the other widths")
    ap.add_argument("--steps", type=int, default=5, help="SMC moves per stage")
    ap.add_argument("--kernel", default="hmc", choices=["hmc", "mala"])
    ap.add_argument("--leapfrog", type=int, default=8)
    ap.add_argument("--mc-samples", type=int, default=2**21, help="hit-or-miss networks at the cheap width (0: none)")
    ap.add_argument("--no-prior-xor", action="store_true", help="skip V(layer 2 holds x3 xor x4) without f")
    ap.add_argument("--no-cheap", action="store_true", help="skip the x2 measures (a check of the expensive one)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    try:
        args.widths = [int(w) for w in args.widths.split(",")]
    except ValueError:
        raise SpecError("--widths", "comma-separated integers", args.widths) from None
    for name in ("cheap_width", "particles", "replicates", "wide_particles", "wide_replicates", "steps"):
        if getattr(args, name) < (2 if "replicates" in name else 1):
            raise SpecError(f"--{name.replace('_', '-')}", "a positive integer (replicates: at least 2)",
                            getattr(args, name))
    if min(args.widths) < 1 or args.mc_samples < 0:
        raise SpecError("--widths/--mc-samples", "positive widths and mc-samples >= 0", (args.widths, args.mc_samples))
    return args


def settings_of(args, width: int, index: int) -> SMCSettings:
    wide = width != args.cheap_width
    return SMCSettings(particles=args.wide_particles if wide else args.particles, kernel=args.kernel,
                       steps=args.steps, leapfrog=args.leapfrog,
                       replicates=args.wide_replicates if wide else args.replicates, seed=args.seed + 1 + index)


def finite_json(x):
    """``x`` with every NaN or infinite float as ``None`` (strict JSON), numpy scalars as Python's."""
    if isinstance(x, dict):
        return {k: finite_json(v) for k, v in x.items()}
    if isinstance(x, (list, tuple, np.ndarray)):
        return [finite_json(v) for v in x]
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(x) else None
    return x.item() if isinstance(x, np.generic) else x


def markdown(volumes: pd.DataFrame, costs: pd.DataFrame) -> str:
    v = volumes[["width", "condition", "method", "log10_volume", "ci95_lo", "ci95_hi", "reached", "replicates",
                 "replicate_sd_log10", "replicate_range_log10", "hits", "seconds"]]
    c = costs[["width", "llama", "site", "method", "cost_bits", "ci95_lo", "ci95_hi", "share"]]
    fmt = lambda d: d.to_string(index=False, float_format=lambda x: f"{x:.3f}")  # noqa: E731
    return f"# Volumes (log10, 95% intervals)\n\n{fmt(v)}\n\n# Costs (bits, 95% intervals)\n\n{fmt(c)}\n"


def write_tables(out: Path, vrows: list[dict], crows: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    volumes, costs = pd.DataFrame(vrows), pd.DataFrame(crows)
    for col in ("hits", "reached", "replicates", "replicate_sd_log10", "replicate_range_log10", "seconds"):
        if col not in volumes:
            volumes[col] = np.nan
    if "share" not in costs:
        costs["share"] = np.nan
    write_parquet(out / "volumes.parquet", volumes)
    if len(costs):
        write_parquet(out / "costs.parquet", costs)
        atomic_write_bytes(out / "llama_rare.md", markdown(volumes, costs).encode())
    return volumes, costs


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    out = check_out(args.out)
    check_tables()
    t0 = time.perf_counter()
    measures = plan(args.cheap_width, args.widths, not args.no_prior_xor, not args.no_cheap)
    vrows, crows, f_rows = [], [], {}
    for i, m in enumerate(measures):
        settings = settings_of(args, m.width, i)
        if m.llama is None:  # V(f), with the shares of the cheap llamas among its populations
            cheap = [q for q in measures if q.width == m.width and q.llama == CHEAP]
            row, shares = smc_f_with_shares(m.width, settings, cheap)
            crows += [share_cost_row(q, shares[:, k], settings.seed) for k, q in enumerate(cheap)]
            f_rows[m.width] = row
        else:
            row = smc_row(m, settings)
            if m.and_f:
                crows.append(smc_cost_row(m, f_rows[m.width], row))
        vrows.append(row)
        print(f"{m.width:5d} {m.label:32s} smc log10 {row['log10_volume']} [{row['ci95_lo']}, {row['ci95_hi']}] "
              f"replicates {['%.2f' % x for x in row['replicates_log10']]} {row['seconds']:.0f}s", flush=True)
        write_tables(out, vrows, crows)
    if args.mc_samples:
        cheap_measures = [m for m in measures if m.width == args.cheap_width]
        hits, seconds = mc_counts(args.cheap_width, cheap_measures, args.mc_samples, args.seed)
        k_f = int(hits[0])
        for m, k in zip(cheap_measures, hits):
            vrows.append(mc_row(m, k, args.mc_samples, args.seed, seconds))
            if m.llama is not None and m.and_f:
                crows.append(mc_cost_row(m, k_f, int(k), args.seed))
        print(f"hit-or-miss, {args.mc_samples} networks: {dict(zip([m.label for m in cheap_measures], hits.tolist()))}",
              flush=True)
    volumes, costs = write_tables(out, vrows, crows)
    run = {k: (v if not isinstance(v, Path) else str(v)) for k, v in vars(args).items()}
    # the manifest's seed is --seed; SMC row i ran with seed + 1 + i (its "seed" column)
    spec = spec_of(args.cheap_width, settings_of(args, args.cheap_width, -1)).to_dict()
    m = manifest("llama-rare", spec, run, {"seconds": time.perf_counter() - t0},
                 ["volumes.parquet", "costs.parquet", "llama_rare.md"])
    m["result"] = {"volumes": finite_json(volumes.to_dict(orient="records")),
                   "costs": finite_json(costs.to_dict(orient="records"))}
    write_json(out / "manifest.json", m)
    print(markdown(volumes, costs))


if __name__ == "__main__":
    try:
        main()
    except SpecError as e:
        sys.exit(f"llama_rare: error: {e}")
