"""The llamaizer's result tables, from one architecture's counts.

* ``volumes``: per target, the orbit hits and the volume of the target itself (log10, 95% interval);
* ``cost``: per target, llama and layer (``1 .. L`` or ``any``), the share of ``f``'s volume
  holding the llama and its cost in bits, with the llama's cost under the prior alone;
* ``share``: per family, target and layer, the share holding *some* of the family's first ``K``
  llamas against the naive count ``K / (K + 1)`` and the sum of the single shares;
* ``discard``: per llama, the share that builds it in layer 1 and drops it from the last hidden
  layer, against the share that keeps it;
* ``units``: per target, hidden layer and llama, one unit's chance of holding it and what
  independence across the layer's units predicts (:mod:`~counting.experiments.llamaizer.units`).

A target no network computes (``n_f = 0``) gives NaN shares and a volume without a lower end.

Example:
    >>> import numpy as np
    >>> from counting.experiments.llamaizer.config import Architecture, Family
    >>> from counting.spec.target import Target
    >>> from counting.experiments.llamaizer.plan import plan_target
    >>> from counting.experiments.llamaizer.tally import TargetCounts
    >>> plan = plan_target(Target(0x8, 2, "and01"), (Family("x1", "named", truth_tables=(0xc,)),), 2)
    >>> zero = np.zeros((2, 1), np.int64)
    >>> t = tables(Architecture("2-1-1", (1,)), (plan,), {"and01": TargetCounts(0, zero, zero[0], {"x1": zero},
    ...            zero)}, samples=27, n_inputs=2, exact=True)
    >>> t["volumes"][["orbit_hits", "log10_volume", "ci95_lo", "ci95_hi"]].values.tolist()
    [[0, None, None, None]]
    >>> bool(t["cost"]["share"].isna().all()), len(t["share"]), len(t["discard"])
    (True, 2, 1)
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from counting.boolean.measures import describe
from counting.boolean.tables import to_hex
from counting.experiments.base.shares import share_columns, volume_columns
from counting.experiments.llamaizer.config import Architecture
from counting.experiments.llamaizer.plan import TargetPlan
from counting.experiments.llamaizer.tally import TargetCounts
from counting.experiments.llamaizer.units import units_table

TABLES = ("volumes", "cost", "share", "discard", "units")


def _family_of(p: TargetPlan) -> dict[int, str]:
    """Each column's first family."""
    fam_of: dict[int, str] = {}
    for fname, cols in p.families.items():
        for j in cols:
            fam_of.setdefault(int(j), fname)
    return fam_of


def _volume_row(arch: Architecture, p: TargetPlan, c: TargetCounts, samples: int, n: int, exact: bool) -> dict:
    return {"architecture": arch.name, "target": p.target.name, "truth_table": to_hex(p.target.truth_table, n),
            "orbit_size": len(p.orbit), "orbit_hits": c.n_f, "samples": samples,
            **volume_columns(c.n_f, samples, len(p.orbit), exact)}


def _cost_rows(arch, p, c, samples, n, exact, desc, fam_of, layer_names) -> list[dict]:
    rows = []
    for li, lname in enumerate(layer_names):
        cols = share_columns(c.held[li], c.n_f, exact)
        prior = share_columns(c.prior_held[li], samples, exact)
        for j, g in enumerate(p.llamas):
            row = {"architecture": arch.name, "target": p.target.name, "family": fam_of[j],
                   "llama": to_hex(g, n), "degree": desc[j]["degree"], "weight": desc[j]["weight"],
                   "relevant_bits": desc[j]["relevant_bits"], "threshold": desc[j]["threshold"],
                   "layer": lname, "n_f": c.n_f, "n_f_and_g": int(c.held[li, j]),
                   **{k: float(v[j]) for k, v in cols.items()}}
            row.update({"prior_share": float(prior["share"][j]), "prior_cost_bits": float(prior["cost_bits"][j]),
                        "prior_cost_bits_lo": float(prior["cost_bits_lo"][j]),
                        "prior_cost_bits_hi": float(prior["cost_bits_hi"][j])})
            rows.append(row)
    return rows


def _share_rows(arch, p, c, exact, layer_names) -> list[dict]:
    rows = []
    for fname, u in c.unions.items():
        cols_f = p.families[fname]
        for li, lname in enumerate(layer_names):
            sc = share_columns(u[li], c.n_f, exact)
            summed = np.cumsum(c.held[li, cols_f])
            indiv = summed / c.n_f if c.n_f else np.full(summed.shape, np.nan)
            for k in range(len(cols_f)):
                K = k + 1
                rows.append({"architecture": arch.name, "target": p.target.name, "family": fname,
                             "layer": lname, "K": K, "n_f": c.n_f, "n_f_and_any": int(u[li, k]),
                             "share": float(sc["share"][k]), "share_lo": float(sc["share_lo"][k]),
                             "share_hi": float(sc["share_hi"][k]), "naive_share": K / (K + 1),
                             "sum_of_shares": float(indiv[k]), "overlap": float(indiv[k] - sc["share"][k])})
    return rows


def _discard_rows(arch, p, c, n, exact, desc, fam_of) -> list[dict]:
    first, both = c.held[0], c.kept
    disc = share_columns(first - both, c.n_f, exact)
    keep = share_columns(both, c.n_f, exact)
    return [{"architecture": arch.name, "target": p.target.name, "family": fam_of[j], "llama": to_hex(g, n),
             "degree": desc[j]["degree"], "threshold": desc[j]["threshold"], "last_layer": len(arch.widths),
             "n_f": c.n_f, "built_discarded": int(first[j] - both[j]), "built_kept": int(both[j]),
             **{f"discard_{k}": float(v[j]) for k, v in disc.items()},
             **{f"keep_{k}": float(v[j]) for k, v in keep.items()}}
            for j, g in enumerate(p.llamas)]


def tables(arch: Architecture, plans: Sequence[TargetPlan], counts: Mapping[str, TargetCounts], samples: int,
           n_inputs: int, exact: bool) -> dict[str, pd.DataFrame]:
    """The tables of one architecture's pass over ``samples`` networks (or configurations)."""
    layer_names = [str(l) for l in range(1, len(arch.widths) + 1)] + ["any"]
    rows: dict[str, list[dict]] = {k: [] for k in TABLES}
    for p in plans:
        c = counts[p.target.name]
        desc = [describe(g, n_inputs) for g in p.llamas]
        fam_of = _family_of(p)
        rows["volumes"].append(_volume_row(arch, p, c, samples, n_inputs, exact))
        rows["cost"] += _cost_rows(arch, p, c, samples, n_inputs, exact, desc, fam_of, layer_names)
        rows["share"] += _share_rows(arch, p, c, exact, layer_names)
        rows["discard"] += _discard_rows(arch, p, c, n_inputs, exact, desc, fam_of)
    out = {k: pd.DataFrame(v) for k, v in rows.items() if k != "units"}
    if all(counts[p.target.name].units is not None for p in plans):
        out["units"] = units_table(arch, plans, counts, samples, n_inputs, exact)
    return out


def summary(volumes: pd.DataFrame) -> str:
    """The volumes, as ``counting run`` prints them."""
    return (volumes[["architecture", "target", "orbit_hits", "samples", "log10_volume", "ci95_lo", "ci95_hi"]]
            .to_string(index=False, float_format=lambda v: f"{v:.3f}"))
