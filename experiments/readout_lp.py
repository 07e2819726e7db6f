"""The two readings of "holds", compared on the same networks: a unit's sign pattern against a
linear readout of the layer, decided exactly per llama (README, "Llamaizers at width").

For each architecture of a llamaizer experiment file whose hidden widths are at most
``--max-width`` (the readout reading is vacuous at larger widths, where the activations have
full rank), draws prior networks (keys ``fold_in(fold_in(key(seed), architecture), batch)``, then
one per network: independent of the experiment's own draws with ``--seed`` 2 against its 1), keeps
the first ``--networks`` computing each target (its orbit, the llamas carried along as the
experiment does) and decides for every hidden layer and every llama of the families named by
``--families`` whether a unit holds it (sign pattern) and whether it is a linear readout of the
layer's activations (:func:`counting.mechanisms.readout.is_readout`: a rank shortcut, a clash
shortcut or an exact linear program). Writes ``readout.parquet`` (one row per architecture,
target, layer and llama: networks, sign, readout, both, decided by rank / clash / LP) and
``manifest.json`` into ``--out``:

    python experiments/readout_lp.py experiments/llamaizer_width.toml --out results/llamaizer_width-readout --depths 2
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from counting.boolean.tables import canonical, to_hex
from counting.engine.priors import sample_params
from counting.experiments import load_experiment
from counting.experiments.llamaizer.plan import plan_target
from counting.mechanisms.predicates import truth_tables
from counting.mechanisms.readout import feasible, prepare, status as readout_status
from counting.mechanisms.sites import canonical_units
from counting.models import forward, model_inputs
from counting.models.layers import activation
from counting.spec.model import MLPSpec
from counting.stats import clopper_pearson


def signs(g: int, points: int) -> np.ndarray:
    return np.where((g >> np.arange(points)) & 1, 1.0, -1.0)


def solutions(exp, arch, a_index: int, plan, want: int, seed: int, batch: int = 4096, max_batches: int = 200):
    """Up to ``want`` networks computing the target's orbit: their activations per layer, unit
    tables per layer and orbit row."""
    model = MLPSpec(n_inputs=exp.n_inputs, widths=arch.widths, activation=arch.activation)
    x = jnp.asarray(model_inputs(model))
    base = jax.random.fold_in(jax.random.key(seed), a_index)
    act = activation(arch.activation)
    found = []
    for b in range(max_batches):
        fwd = forward(model, sample_params(jax.random.fold_in(base, b), model, exp.prior, batch), x)
        out = np.asarray(truth_tables(fwd)[:, 0])
        rows = np.searchsorted(plan.orbit, out).clip(0, len(plan.orbit) - 1)
        hit = np.flatnonzero(plan.orbit[rows] == out)
        for i in hit[: want - len(found)]:
            z = [np.asarray(fwd.sites[f"layer{l}"][i]) for l in range(1, len(arch.widths) + 1)]  # [U, P]
            units = [np.asarray(canonical_units(fwd.sites[f"layer{l}"][i:i + 1], exp.n_inputs))[0, :, 0]
                     for l in range(1, len(arch.widths) + 1)]
            found.append((rows[i], [np.asarray(act(jnp.asarray(zz))).T for zz in z], units))
        if len(found) >= want:
            break
    return found, (b + 1) * batch


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("experiment")
    ap.add_argument("--out", required=True)
    ap.add_argument("--networks", type=int, default=40)
    ap.add_argument("--max-width", type=int, default=32)
    ap.add_argument("--families", default="ignored-bits,degree-2")
    ap.add_argument("--seed", type=int, default=2)
    ap.add_argument("--depths", default="", help="only architectures of these depths (comma-separated)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    if (out / "manifest.json").exists():
        sys.exit(f"--out: expected a folder without a finished result, got {out}")
    exp = load_experiment(args.experiment)
    fams = [f for f in exp.families if f.name in args.families.split(",")]
    points = 2 ** exp.n_inputs
    rows, t0 = [], time.time()
    for a_index, arch in enumerate(exp.architectures):
        if max(arch.widths) > args.max_width or (args.depths and str(len(arch.widths)) not in args.depths.split(",")):
            continue
        for target in exp.targets:
            plan = plan_target(target, tuple(fams), exp.n_inputs)
            nets, drawn = solutions(exp, arch, a_index, plan, args.networks, args.seed)
            J = len(plan.llamas)
            for li in range(len(arch.widths)):
                c = {k: np.zeros(J, np.int64) for k in ("sign", "readout", "both", "rank", "clash", "lp")}
                for row, acts, units in nets:
                    layer = prepare(acts[li])  # the rank and the program's matrix, once for every llama
                    for j in range(J):
                        g = int(plan.transported[row, j])
                        sign = bool(np.any(units[li] == canonical(g, exp.n_inputs)))
                        y = signs(g, points)
                        status = readout_status(layer, y)
                        # a unit holding g reads it (relu: the unit thresholded), so no program is needed then
                        ro = status == "rank" or (status == "lp" and (sign or feasible(layer, y)))
                        c["sign"][j] += sign
                        c["readout"][j] += ro
                        c["both"][j] += sign and ro
                        c[status][j] += 1
                n = len(nets)
                for j, g in enumerate(plan.llamas):
                    lo, hi = clopper_pearson(int(c["readout"][j]), n) if n else (np.nan, np.nan)
                    rows.append({"architecture": arch.name, "depth": len(arch.widths), "width": arch.widths[li],
                                 "target": target.name, "layer": li + 1, "llama": to_hex(g, exp.n_inputs),
                                 "networks": n, "drawn": drawn, **{k: int(v[j]) for k, v in c.items()},
                                 "readout_share": c["readout"][j] / n if n else np.nan,
                                 "readout_share_lo": lo, "readout_share_hi": hi,
                                 "sign_share": c["sign"][j] / n if n else np.nan})
            print(f"{arch.name} {target.name}: {len(nets)} networks, {time.time() - t0:.0f} s", flush=True)
    out.mkdir(parents=True, exist_ok=True)
    df = pd.DataFrame(rows)
    df.to_parquet(out / "readout.parquet.tmp")
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = None
    (out / "manifest.json.tmp").write_text(json.dumps(
        {"command": "python experiments/readout_lp.py " + " ".join(sys.argv[1:] if argv is None else argv),
         "experiment": exp.to_dict(), "networks": args.networks, "max_width": args.max_width,
         "families": args.families, "seed": args.seed, "depths": args.depths, "commit": commit, "seconds": time.time() - t0},
        indent=1, default=str))
    (out / "readout.parquet.tmp").rename(out / "readout.parquet")
    (out / "manifest.json.tmp").rename(out / "manifest.json")


if __name__ == "__main__":
    main()
