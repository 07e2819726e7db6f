"""One unit's chance of holding a llama, and what independence across units predicts for a layer.

A hidden layer of ``W`` units holds ``g`` when some unit does. If each unit held ``g`` with
chance ``p_g`` independently of the others, the layer would hold it with chance
``1 - (1 - p_g)**W``. This module sets that prediction next to the measured share, among every
network (the prior) and among the networks computing the target:

* ``p_unit``: the units holding ``g`` over all units counted, ``sum_b c_b / (N W)`` with ``c_b``
  the units of network ``b`` holding ``g``. Units of one network are correlated (they read the
  same layer below, and computing the target constrains them together), so the interval treats
  networks as clusters of ``W`` units: the Korn-Graubard interval with the design effect from
  ``sum_b c_b**2`` (:func:`counting.stats.cluster_moments_interval`). In layer 1 under the prior
  the units are independent draws of one perceptron, the design effect is 1 up to noise and
  ``p_unit`` is that perceptron's chance of having sign pattern ``g`` or ``not g``.
* ``holds``: the share of networks whose layer holds ``g`` (Clopper-Pearson, as in the ``cost`` table).
* ``predicted``: ``1 - (1 - p_unit)**W``, its interval the image of ``p_unit``'s (the map is increasing).
* ``agrees``: whether the measured and predicted intervals overlap.

Columns come in two sets, ``prior_*`` (every network) and plain (networks computing the target);
enumerated passes (``exact``) give points without intervals.

Example:
    >>> import numpy as np
    >>> from counting.experiments.llamaizer.config import Architecture, Family
    >>> from counting.spec.target import Target
    >>> from counting.experiments.llamaizer.plan import plan_target
    >>> from counting.experiments.llamaizer.tally import TargetCounts
    >>> plan = plan_target(Target(0x8, 2, "and01"), (Family("x1", "named", truth_tables=(0xc,)),), 2)
    >>> one = lambda v: np.array([[v]], np.int64)
    >>> c = TargetCounts(50, np.array([[20], [20]]), np.array([20]), {}, np.array([[40], [40]]),
    ...                  units=one(25), units_sq=one(35), prior_units=one(50), prior_units_sq=one(70))
    >>> t = units_table(Architecture("2-4-1", (4,)), (plan,), {"and01": c}, samples=100, n_inputs=2, exact=True)
    >>> t[["p_unit", "predicted", "holds", "prior_p_unit", "prior_holds"]].round(4).values.tolist()   # W = 4
    [[0.125, 0.4138, 0.4, 0.125, 0.4]]
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from jaxtyping import Float, Int

from counting.boolean.measures import describe
from counting.boolean.tables import to_hex
from counting.experiments.base.shares import share_columns
from counting.experiments.llamaizer.config import Architecture
from counting.experiments.llamaizer.plan import TargetPlan
from counting.experiments.llamaizer.tally import TargetCounts
from counting.stats import cluster_moments_interval


def layer_chance(p: Float[np.ndarray, "J"], width: int) -> Float[np.ndarray, "J"]:
    """``1 - (1 - p)**width``: the chance that some of ``width`` independent units holds what one
    unit holds with chance ``p`` (computed as ``-expm1(width log1p(-p))``, exact for tiny ``p``).

    >>> layer_chance(np.array([0.0, 0.5, 1e-12]), 2).round(15).tolist()
    [0.0, 0.75, 2e-12]
    """
    p = np.asarray(p, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(p >= 1, 1.0, -np.expm1(width * np.log1p(-np.minimum(p, 1.0))))


def unit_columns(units: Int[np.ndarray, "J"], units_sq: Int[np.ndarray, "J"], networks: int, width: int,
                 exact: bool) -> dict[str, Float[np.ndarray, "J"]]:
    """``p_unit`` with its cluster interval and design effect, and the ``predicted`` layer chance
    with its interval, for ``networks`` networks of ``width`` units each (NaN without two networks)."""
    units = np.asarray(units, np.float64)
    nan = np.full(units.shape, np.nan)
    if networks == 0 or (networks < 2 and not exact):
        return {"p_unit": nan, "p_unit_lo": nan, "p_unit_hi": nan, "design_effect": nan,
                "predicted": nan, "predicted_lo": nan, "predicted_hi": nan}
    p = units / (networks * width)
    if exact:
        deff, lo, hi = nan, p, p
    else:
        deff, lo, hi = cluster_moments_interval(units, units_sq, networks, width)
    return {"p_unit": p, "p_unit_lo": lo, "p_unit_hi": hi, "design_effect": deff,
            "predicted": layer_chance(p, width), "predicted_lo": layer_chance(lo, width),
            "predicted_hi": layer_chance(hi, width)}


def _overlap(a_lo, a_hi, b_lo, b_hi) -> np.ndarray:
    return (np.asarray(a_lo) <= np.asarray(b_hi)) & (np.asarray(b_lo) <= np.asarray(a_hi))


def _rows(arch: Architecture, p: TargetPlan, c: TargetCounts, samples: int, n: int, exact: bool) -> list[dict]:
    desc = [describe(g, n) for g in p.llamas]
    rows = []
    for li, width in enumerate(arch.widths):
        f = unit_columns(c.units[li], c.units_sq[li], c.n_f, width, exact)
        f.update(share_columns(c.held[li], c.n_f, exact))
        f["agrees"] = _overlap(f["share_lo"], f["share_hi"], f["predicted_lo"], f["predicted_hi"])
        pr = unit_columns(c.prior_units[li], c.prior_units_sq[li], samples, width, exact)
        pr.update(share_columns(c.prior_held[li], samples, exact))
        pr["agrees"] = _overlap(pr["share_lo"], pr["share_hi"], pr["predicted_lo"], pr["predicted_hi"])
        for j, g in enumerate(p.llamas):
            row = {"architecture": arch.name, "depth": len(arch.widths), "target": p.target.name,
                   "llama": to_hex(g, n), "degree": desc[j]["degree"], "threshold": desc[j]["threshold"],
                   "layer": li + 1, "width": width, "n_f": c.n_f, "samples": samples}
            for prefix, cols in (("", f), ("prior_", pr)):
                for k, v in cols.items():
                    name = {"share": "holds", "share_lo": "holds_lo", "share_hi": "holds_hi"}.get(k, k)
                    if k.startswith("cost_bits"):
                        continue
                    val = v[j]
                    row[prefix + name] = bool(val) if k == "agrees" else float(val)
            rows.append(row)
    return rows


def units_table(arch: Architecture, plans: Sequence[TargetPlan], counts: Mapping[str, TargetCounts], samples: int,
                n_inputs: int, exact: bool) -> pd.DataFrame:
    """The ``units`` table of one architecture's pass: a row per target, hidden layer and llama."""
    rows = []
    for p in plans:
        rows += _rows(arch, p, counts[p.target.name], samples, n_inputs, exact)
    return pd.DataFrame(rows)
