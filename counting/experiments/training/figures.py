"""The training experiment's figures, drawn from its ``comparison`` and ``mechanisms`` tables.

* ``training_vs_posterior.png``: P_SGD(f | S) against P_B(f | S) on log-log axes, one panel per
  architecture, target and m, one colour per optimiser, 95% intervals as bars, the diagonal
  dashed; functions only one method saw are left out (their zero has no logarithm).
* ``mechanisms.png`` (with ``[mechanisms]``): one panel per setting and target, one row per
  mechanism (llama families by layer, routes; single llamas are in the table only), the share
  among trained solutions and among prior solutions side by side with their 95% intervals; the
  legend says how the prior side was measured (hit-or-miss, or SMC replicates for a rare target)
  and how many solutions each side has.

Example:
    >>> import tempfile, pathlib, pandas as pd
    >>> c = pd.DataFrame({"architecture": "a0", "target": "t", "m": 4, "method": "adam", "truth_table": ["0x1", "0x2"],
    ...                   "n_sgd": [60, 40], "n_b": [50, 50], "p_sgd": [0.6, 0.4], "p_b": [0.5, 0.5],
    ...                   "p_sgd_lo": [0.5, 0.3], "p_sgd_hi": [0.7, 0.5], "p_b_lo": [0.4, 0.4], "p_b_hi": [0.6, 0.6]})
    >>> m = pd.DataFrame({"setting": "routes:r", "target": "t", "method": "adam", "mechanism": ["chain", "tree"],
    ...                   "layer": "", "trained_solutions": 10, "trained_share": [0.2, 0.0],
    ...                   "trained_share_lo": [0.03, 0.0], "trained_share_hi": [0.56, 0.31], "prior_solutions": 40,
    ...                   "prior_share": [0.25, 0.0], "prior_share_lo": [0.1, 0.0], "prior_share_hi": [0.4, 0.17],
    ...                   "prior_estimator": "smc", "prior_replicates": 20})
    >>> write_figures({"comparison": c, "mechanisms": m}, pathlib.Path(tempfile.mkdtemp()))
    ['training_vs_posterior.png', 'mechanisms.png']
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


def _prior_label(d: pd.DataFrame) -> str:
    """How one panel's prior side was measured, for its legend."""
    est = str(d["prior_estimator"].iloc[0]) if "prior_estimator" in d else "hit-or-miss"
    n = int(d["prior_solutions"].iloc[0])
    if est == "smc":
        r = int(d["prior_replicates"].max())
        return f"prior, SMC ({r} replicates, {n} solutions; Student-t, or all 0 / all 1: Clopper-Pearson of {r})"
    return f"prior, hit-or-miss ({n} solutions; Clopper-Pearson)"


def mechanisms_figure(mech: pd.DataFrame):
    """Trained against prior share of every family and route mechanism, per setting and target."""
    mech = mech[~mech["mechanism"].str.startswith("llama ")]
    panels = list(dict.fromkeys(zip(mech["setting"], mech["target"], mech["method"])))
    cols = min(len(panels), 3)
    rows = -(-len(panels) // cols)
    height = max(2.6, 0.42 * mech.groupby(["setting", "target", "method"]).size().max() + 1.8)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, height * rows), squeeze=False)
    colors = sns.color_palette("tab10", 2)
    for ax, (setting, target, method) in zip(axes.flat, panels):
        d = mech[(mech["setting"] == setting) & (mech["target"] == target) & (mech["method"] == method)]
        labels = [m if not layer else f"{m}, {'any layer' if layer == 'any' else f'layer {layer}'}"
                  for m, layer in zip(d["mechanism"], d["layer"])]
        y = np.arange(len(d))[::-1].astype(float)
        sides = [("trained", f"trained, {method} ({int(d['trained_solutions'].iloc[0])} solutions; Clopper-Pearson)",
                  0.15), ("prior", _prior_label(d), -0.15)]
        for (side, label, dy), color in zip(sides, colors):
            share = d[f"{side}_share"].to_numpy(np.float64)
            lo, hi = d[f"{side}_share_lo"].to_numpy(np.float64), d[f"{side}_share_hi"].to_numpy(np.float64)
            ax.errorbar(share, y + dy, xerr=[np.nan_to_num(share - lo), np.nan_to_num(hi - share)], fmt="o", ms=4,
                        capsize=2, color=color, label=label)
        ax.set_yticks(y, labels, fontsize=8)
        ax.set(xlim=(-0.02, 1.02), ylim=(-0.6, len(d) - 0.4), xlabel="share of solutions (95% interval)",
               title=f"{setting.split(':', 1)[-1]}: {target}")
        ax.title.set_fontsize(9)
        ax.legend(fontsize=6.5, loc="upper center", bbox_to_anchor=(0.5, -0.2 * 2.6 / height), frameon=False)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


def write_figures(tables: dict[str, pd.DataFrame], out: Path, spec=None) -> list[str]:
    """Draw the figures into ``out`` (each only with its table; ``spec``, the manifest's, is not read);
    returns the file names."""
    out, names = Path(out), []
    comp, mech = tables.get("comparison"), tables.get("mechanisms")
    if comp is not None and not comp.empty:
        names.append(save(comparison_figure(comp), out / "training_vs_posterior.png"))
    if mech is not None and not mech.empty:
        names.append(save(mechanisms_figure(mech), out / "mechanisms.png"))
    return names
