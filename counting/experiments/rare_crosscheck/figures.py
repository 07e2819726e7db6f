"""The cross-check's figure over several networks, drawn from its ``crosscheck`` table.

``width.png`` (the ``[[model]]`` form): one panel per (``n_inputs``, target), log10 V against the
hidden width (log axis; a network without a hidden layer is left out) by every method but the infinite-width one, each with its 95% interval as
an error bar and its own colour, marker and line style (:func:`counting.io.figures.series`); a
method's point is open where the estimate is marked not reliable (the readout's Pareto k-hat above
its threshold) and a downward triangle at the bound where hit-or-miss saw no hit. The ``nngp``
rows of a panel (the same value at every width) are its dashed line, with their interval shaded.
The title names the networks' shape (``n-W-W-1 mlp, relu``: the inputs and hidden widths as
letters), the widths and the prior.

Example:
    >>> import tempfile, pathlib, pandas as pd
    >>> t = pd.DataFrame({"target": ["and"] * 4, "method": ["mc", "nngp", "mc", "nngp"],
    ...                   "estimator": ["mc", "nngp", "mc", "nngp"], "log10_volume": [-1.3, -1.4, -1.35, -1.4],
    ...                   "ci95_lo": [-1.4, -1.41, -1.4, -1.41], "ci95_hi": [-1.2, -1.39, -1.3, -1.39],
    ...                   "evaluations": [1000, 0, 1000, 0], "model": ["a", "a", "b", "b"], "n_inputs": [2] * 4,
    ...                   "width": [2, 2, 8, 8], "architecture": ["2-2-1 mlp, relu"] * 2 + ["2-8-1 mlp, relu"] * 2,
    ...                   "reliable": [None] * 4})
    >>> width_figure(t, pathlib.Path(tempfile.mkdtemp()) / "w.png", {"kind": "gaussian"})
    'w.png'
    >>> shape("4-40-40-1 mlp, relu"), shape("2-1 mlp, relu")
    ('n-W-W-1 mlp, relu', 'n-1 mlp, relu')
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, NullLocator

from counting.io.figures import (caption, count_text, dodge, legend_below, panels, prior_text, save, series, styled,
                                 title)

NNGP = "nngp"  # the estimator whose rows are the infinite-width line, not points
SHIFT = 0.035  # decades of width between the points of neighbouring methods at one width


def shape(architecture: str) -> str:
    """A network's description with its sizes as letters: ``'4-40-40-1 mlp, relu'`` is
    ``'n-W-W-1 mlp, relu'`` (as it is, where it does not start with sizes)."""
    m = re.match(r"^\d+((?:-\d+)*)-1(\b.*)$", architecture)
    return architecture if m is None else "n" + "-W" * m.group(1).count("-") + "-1" + m.group(2)


def _ints(values) -> str:
    return ", ".join(str(int(v)) for v in sorted(set(values)))


def _span(values) -> str:
    lo, hi = count_text(min(values)), count_text(max(values))
    return lo if lo == hi else f"{lo} to {hi}"


@styled
def figure_of(t: pd.DataFrame, prior: dict | None = None):
    """The width figure of the several-model ``crosscheck`` table ``t`` (not yet saved)."""
    t = t[pd.to_numeric(t["width"], errors="coerce") > 0].copy()  # only a hidden width has a place on the axis
    t["n_inputs"] = t["n_inputs"].astype(int)
    groups = list(dict.fromkeys(zip(t["n_inputs"], t["target"])))
    methods = list(dict.fromkeys(t.loc[t["estimator"] != NNGP, "method"]))
    fig, axes = panels(len(groups), cols=2 if len(groups) <= 4 else 3, height=3.6)
    handles: dict[str, object] = {}
    flagged = bounded = False
    for ax, (n, target) in zip(axes, groups):
        g = t[(t["n_inputs"] == n) & (t["target"] == target)]
        line = g[g["estimator"] == NNGP].dropna(subset=["log10_volume"])
        if not line.empty:
            v, lo, hi = line["log10_volume"].mean(), line["ci95_lo"].min(), line["ci95_hi"].max()
            h = ax.axhline(v, color="black", ls="--", lw=1.2, zorder=1)
            ax.axhspan(lo, hi, color="black", alpha=0.12, lw=0, zorder=0)
            handles.setdefault("NNGP (infinite width), 95% interval shaded", h)
        for k, m in enumerate(methods):
            style = series(k)
            d = g[g["method"] == m].sort_values("width")
            x = d["width"].to_numpy(float) * 10 ** dodge(k, len(methods), SHIFT)
            y = d["log10_volume"].to_numpy(float)
            lo, hi = d["ci95_lo"].to_numpy(float), d["ci95_hi"].to_numpy(float)
            unreliable = d["reliable"].map(lambda r: r is False or r == 0).to_numpy(bool) if "reliable" in d else \
                np.zeros(len(d), bool)
            shown = np.isfinite(y)
            ax.plot(x[shown], y[shown], color=style["color"], ls=style["ls"], lw=0.9, alpha=0.7, zorder=2)
            for face, sel in (("color", shown & ~unreliable), ("white", shown & unreliable)):
                if sel.any():
                    err = [np.nan_to_num(y[sel] - lo[sel]).clip(0), np.nan_to_num(hi[sel] - y[sel]).clip(0)]
                    h = ax.errorbar(x[sel], y[sel], yerr=err, ls="none", marker=style["marker"], ms=6,
                                    mfc=style["color"] if face == "color" else "white", mec=style["color"], mew=1.3,
                                    ecolor=style["color"], elinewidth=1.2, capsize=3, zorder=3)
                    handles.setdefault(m, h)
            flagged |= bool((shown & unreliable).any())
            bound = ~shown & np.isfinite(hi)
            if bound.any():
                ax.scatter(x[bound], hi[bound], marker="v", s=45, color=style["color"], zorder=3)
                bounded = True
        widths = sorted(set(g["width"].astype(int)))
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(FixedLocator(widths))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticklabels([str(w) for w in widths])
        if widths:
            ax.set_xlim(widths[0] / 10 ** 0.25, widths[-1] * 10 ** 0.25)
        ax.set_title(f"{n}-bit {target}")
        ax.set_xlabel("hidden width W")
        ax.set_ylabel("log10 V (95% interval)")
        ax.grid(alpha=0.3)
    labels = list(handles)
    lines = list(handles.values())
    if flagged:
        lines.append(Line2D([], [], ls="none", marker="o", mfc="white", mec="grey", mew=1.3))
        labels.append("open: not reliable (Pareto k-hat above its threshold)")
    if bounded:
        lines.append(Line2D([], [], ls="none", marker="v", color="grey"))
        labels.append("no hit: one-sided 95% upper bound")
    if not groups:
        axes[0].set_visible(True)
        axes[0].axis("off")
        axes[0].text(0.5, 0.5, "no network with a hidden width", ha="center", va="center")
    legend_below(fig, lines, labels, ncol=2)
    shapes = "; ".join(dict.fromkeys(shape(a) for a in t["architecture"]))
    evals = t.loc[t["estimator"] != NNGP, "evaluations"]
    title(fig, "Finite width against the infinite-width (NNGP) limit: log10 V(f) against the hidden width",
          f"{shapes} networks, n = {_ints(t['n_inputs'])}, W = {_ints(t['width'])}; "
          f"{prior_text(prior)}; {_span(evals) if len(evals) else 'no'} evaluations a point")
    caption(fig, "Error bars: 95% intervals (normal, from the sample variance, for the readout estimator, whose "
                 "interval is too narrow where it is marked not reliable; where that interval reaches volume 0 it has "
                 "no lower end, and no bar below the point). Points of different methods at one width "
                 "are shifted sideways to stay apart. Networks without a hidden layer are left out.")
    return fig


def width_figure(crosscheck: pd.DataFrame, path: Path, prior: dict | None = None) -> str:
    """Draw ``width.png`` from the several-model ``crosscheck`` table; the file name."""
    return save(figure_of(crosscheck, prior), path)
