"""The training experiment's figure, drawn from its ``comparison`` table.

* ``training_vs_posterior.png``: P_SGD(f | S) against P_B(f | S) on log-log axes, one panel per
  architecture, target and m, one colour per optimiser, 95% intervals as bars, the diagonal
  dashed; functions only one method saw are left out (their zero has no logarithm).

Example:
    >>> import tempfile, pathlib, pandas as pd
    >>> c = pd.DataFrame({"architecture": "a0", "target": "t", "m": 4, "method": "adam", "truth_table": ["0x1", "0x2"],
    ...                   "n_sgd": [60, 40], "n_b": [50, 50], "p_sgd": [0.6, 0.4], "p_b": [0.5, 0.5],
    ...                   "p_sgd_lo": [0.5, 0.3], "p_sgd_hi": [0.7, 0.5], "p_b_lo": [0.4, 0.4], "p_b_hi": [0.6, 0.6]})
    >>> write_figures({"comparison": c}, pathlib.Path(tempfile.mkdtemp()))
    ['training_vs_posterior.png']
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns

from counting.io.figures import plt, save


def comparison_figure(comp: pd.DataFrame):
    settings = list(dict.fromkeys(zip(comp["architecture"], comp["target"], comp["m"])))
    methods = list(dict.fromkeys(comp["method"]))
    colors = dict(zip(methods, sns.color_palette("tab10", len(methods))))
    cols = min(len(settings), 3)
    rows = -(-len(settings) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.4 * cols, 4.2 * rows), squeeze=False)
    for ax, (a, t, m) in zip(axes.flat, settings):
        d = comp[(comp["architecture"] == a) & (comp["target"] == t) & (comp["m"] == m)]
        d = d[(d["p_sgd"] > 0) & (d["p_b"] > 0)]
        for method in methods:
            v = d[d["method"] == method]
            ax.errorbar(v["p_b"], v["p_sgd"], xerr=[v["p_b"] - v["p_b_lo"], v["p_b_hi"] - v["p_b"]],
                        yerr=[v["p_sgd"] - v["p_sgd_lo"], v["p_sgd_hi"] - v["p_sgd"]], fmt="o", ms=3, capsize=1.5,
                        color=colors[method], label=method, alpha=0.8)
        if len(d):
            lo = float(np.nanmin(np.r_[d["p_b_lo"][d["p_b_lo"] > 0], d["p_sgd_lo"][d["p_sgd_lo"] > 0], 1.0]))
            ax.plot([lo, 1], [lo, 1], "k--", lw=0.8)
        ax.set(xscale="log", yscale="log", xlabel="P_B(f | S) (posterior, rejection)", ylabel="P_SGD(f | S)",
               title=f"{a}, {t}, m = {m}")
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(settings):]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


def write_figures(tables: dict[str, pd.DataFrame], out: Path) -> list[str]:
    """Draw the figure into ``out`` (none without a comparison); returns the file names."""
    comp = tables.get("comparison")
    if comp is None or comp.empty:
        return []
    return [save(comparison_figure(comp), Path(out) / "training_vs_posterior.png")]
