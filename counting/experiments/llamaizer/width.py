"""Across widths: where each llama's cost drops below one bit, measured and as independence predicts.

Architectures of one depth whose hidden layers all have the same width form a *sweep*. For every
target, hidden layer and llama of a sweep, the ``crossing`` table gives

* ``cost_bits`` (with its interval) at the widest architecture, and the widths swept;
* ``width_half``: the first swept width at which the layer holds the llama in more than half of
  the target's volume (a cost under one bit), ``NaN`` if none; ``width_half_sure``: the first at
  which the share's lower 95% end is above one half;
* ``width_half_interp``: where the measured share crosses one half, interpolated linearly in
  ``log2(width)`` between the two swept widths around it;
* ``width_predicted`` (``_lo``, ``_hi``): the width at which ``1 - (1 - p_unit)**W`` reaches one
  half, ``ln 2 / -ln(1 - p_unit)``, from one unit's chance ``p_unit`` (given the target) at the
  widest architecture: an extrapolation that assumes the units independent and ``p_unit`` fixed
  from there on (``inf`` when no unit was seen to hold it; ``_lo`` then still bounds it);
* the same two for the share that *builds the llama in layer 1 and drops it by the last hidden
  layer* (``discard_width_half``, ``discard_share`` at the widest), rows with ``layer = 1``.

Example:
    >>> import pandas as pd
    >>> u = pd.DataFrame({"architecture": ["a", "b"], "depth": 1, "target": "f", "llama": "0x1", "degree": 1,
    ...                   "threshold": True, "layer": 1, "width": [8, 32], "n_f": 100, "holds": [0.3, 0.7],
    ...                   "holds_lo": [0.2, 0.6], "holds_hi": [0.4, 0.8], "p_unit": [0.04, 0.037],
    ...                   "p_unit_lo": [0.03, 0.03], "p_unit_hi": [0.05, 0.045]})
    >>> t = crossing_table(u)
    >>> t[["width_half", "width_half_sure", "width_half_interp"]].values.tolist()
    [[32.0, 32.0, 16.0]]
    >>> round(float(t["width_predicted"][0]), 1)     # ln 2 / -ln(1 - 0.037)
    18.4
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from counting.experiments.base.shares import cost_bits

KEYS = ["depth", "target", "layer", "llama"]


def sweeps(units: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``units`` that belong to a sweep: architectures of one depth with equal hidden
    widths, at least two widths per depth."""
    arch_width = units.groupby("architecture")["width"].agg(["min", "max"])
    uniform = arch_width.index[arch_width["min"] == arch_width["max"]]
    u = units[units["architecture"].isin(uniform)]
    per_depth = u.groupby("depth")["width"].nunique()
    return u[u["depth"].isin(per_depth.index[per_depth >= 2])]


def half_width(widths: np.ndarray, share: np.ndarray) -> float:
    """``log2``-linear interpolation of the width at which ``share`` (over increasing ``widths``)
    first exceeds one half; NaN if it never does, the first width if it already does there.

    >>> half_width(np.array([8, 16, 32]), np.array([0.1, 0.4, 0.6]))
    22.627416997969522
    """
    above = np.flatnonzero(share > 0.5)
    if not len(above):
        return math.nan
    i = int(above[0])
    if i == 0:
        return float(widths[0])
    x0, x1 = math.log2(widths[i - 1]), math.log2(widths[i])
    y0, y1 = share[i - 1], share[i]
    return float(2 ** (x0 + (0.5 - y0) * (x1 - x0) / (y1 - y0)))


def predicted_half(p: float) -> float:
    """The width at which ``1 - (1 - p)**W = 1/2`` (``inf`` for ``p = 0``)."""
    if not p > 0:
        return math.inf
    return 1.0 if p >= 0.5 else math.log(2) / -math.log1p(-p)


def _first(widths: np.ndarray, mask: np.ndarray) -> float:
    idx = np.flatnonzero(mask)
    return float(widths[idx[0]]) if len(idx) else math.nan


def widest_cost(last: pd.Series) -> dict[str, float]:
    """``cost_bits`` (``_lo``, ``_hi``) of the widest architecture's share
    (:func:`counting.experiments.base.shares.cost_bits`); where no network computed the target
    there (a share of 0 of 0) the cost is ``inf``, as for a share of 0."""
    shares = [last[k] if last["n_f"] else 0.0 for k in ("holds", "holds_hi", "holds_lo")]
    return dict(zip(("cost_bits", "cost_bits_lo", "cost_bits_hi"), map(float, cost_bits(np.array(shares)))))


def crossing_table(units: pd.DataFrame, discard: pd.DataFrame | None = None) -> pd.DataFrame:
    """The ``crossing`` table of the module docstring, from the ``units`` (and ``discard``) tables."""
    u = sweeps(units)
    if u.empty:
        return pd.DataFrame()
    disc = None
    if discard is not None and not discard.empty:
        disc = discard.set_index(["architecture", "target", "llama"])
    rows = []
    for key, g in u.sort_values("width").groupby(KEYS, sort=False):
        w = g["width"].to_numpy()
        share = g["holds"].to_numpy()
        last = g.iloc[-1]
        row = dict(zip(KEYS, key))
        row.update({"degree": last["degree"], "threshold": last["threshold"],
                    "widths": ",".join(str(int(x)) for x in w), "widest": int(w[-1]), "n_f_widest": int(last["n_f"]),
                    "holds_widest": last["holds"], "holds_widest_lo": last["holds_lo"],
                    "holds_widest_hi": last["holds_hi"],
                    **widest_cost(last),
                    "width_half": _first(w, share > 0.5), "width_half_sure": _first(w, g["holds_lo"].to_numpy() > 0.5),
                    "width_half_interp": half_width(w, share),
                    "width_predicted": predicted_half(last["p_unit"]),
                    "width_predicted_lo": predicted_half(last["p_unit_hi"]),
                    "width_predicted_hi": predicted_half(last["p_unit_lo"])})
        if disc is not None and row["layer"] == 1:
            d = np.array([disc.loc[(a, row["target"], row["llama"]), "discard_share"] for a in g["architecture"]])
            row.update({"discard_share_widest": float(d[-1]), "discard_width_half": _first(w, d > 0.5),
                        "discard_width_half_interp": half_width(w, d)})
        rows.append(row)
    return pd.DataFrame(rows)
