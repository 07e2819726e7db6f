"""The depth experiment's figures, drawn from its tables (any part may be missing).

* ``depth_bias.png``: log10 P(f) against depth at equal parameter count, one panel per model kind,
  one line per target and method, 95% intervals as bars: hit-or-miss solid with circles (a target
  with no hit is drawn as its upper bound, an open downward triangle), tempered SMC dashed with
  squares (a depth where no replicate reached the target is drawn at its ``log10_bound``, an open
  square).
* ``lesions.png``: per residual depth, the distribution of the longest used path among all
  networks and among each target's solutions, against the binomial ``(depth, 1/2)`` of an
  unweighted ensemble of paths.
* ``routes.png``: per decomposition and width, the measured ``V(f and tree) / V(f and chain)``
  against depth with its interval, next to the placement-count ratios (one circuit of each
  shape; all decompositions of each shape) and the same ratio among all networks drawn (grey).

Example:
    >>> import tempfile, pathlib, pandas as pd
    >>> bias = pd.DataFrame({"model": ["mlp"] * 2, "depth": [1, 2], "width": [100, 21], "target": ["and4"] * 2,
    ...                      "log10_volume": [-2.0, -2.5], "ci95_lo": [-2.1, -2.6], "ci95_hi": [-1.9, -2.4]})
    >>> write_figures({"bias": bias}, pathlib.Path(tempfile.mkdtemp()))
    ['depth_bias.png']
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns

from counting.io.figures import plt, save
from counting.mechanisms.lesions import path_length_pmf


def bias_figure(bias: pd.DataFrame):
    if "method" not in bias:
        bias = bias.assign(method="mc")
    models = list(dict.fromkeys(bias["model"]))
    targets = list(dict.fromkeys(bias["target"]))
    colors = dict(zip(targets, sns.color_palette("tab10", len(targets))))
    fig, axes = plt.subplots(1, len(models), figsize=(5.2 * len(models), 4.2), squeeze=False, sharey=True)
    style = {"mc": ("o", "-", "v", "ci95_hi"), "smc": ("s", "--", "s", "log10_bound")}
    for ax, model in zip(axes[0], models):
        df = bias[bias["model"] == model]
        for t in targets:
            for method, (marker, line, open_marker, bound) in style.items():
                d = df[(df["target"] == t) & (df["method"] == method)].sort_values("depth")
                if d.empty:
                    continue
                hit = d["log10_volume"].notna()
                v = d[hit]
                lo = (v["log10_volume"] - v["ci95_lo"]).fillna(0)  # no lower end: drawn without one
                ax.errorbar(v["depth"], v["log10_volume"], yerr=[lo, v["ci95_hi"] - v["log10_volume"]],
                            marker=marker, ms=4, capsize=2, ls=line, color=colors[t],
                            label=t if method == "mc" else f"{t} ({method})")
                u = d[~hit]
                ax.scatter(u["depth"], u[bound], marker=open_marker, facecolors="none", edgecolors=colors[t])
        sizes = df.drop_duplicates("depth").sort_values("depth")
        ws = ", ".join(f"L{a}:w{b}" for a, b in zip(sizes["depth"], sizes["width"]))
        ax.set_title(f"{model} ({ws})", fontsize=8)
        ax.set_xlabel("depth (hidden layers / residual blocks), equal parameter count")
    axes[0][0].set_ylabel("log10 P(f)  (open: upper bound, not reached)")
    axes[0][-1].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    return fig


def lesions_figure(summary: pd.DataFrame, lesions: pd.DataFrame):
    depths = sorted(set(summary["depth"]))
    groups = list(dict.fromkeys(summary["group"]))
    colors = dict(zip(groups, sns.color_palette("tab10", len(groups))))
    fig, axes = plt.subplots(1, len(depths), figsize=(3.4 * len(depths), 3.4), squeeze=False)
    for ax, L in zip(axes[0], depths):
        ks = np.arange(L + 1)
        ax.plot(ks, path_length_pmf(L), "k--", lw=1.5, label="binomial (ensemble of paths)")
        for g in groups:
            d = lesions[(lesions["depth"] == L) & (lesions["group"] == g)]
            n = summary[(summary["depth"] == L) & (summary["group"] == g)]["n"]
            if d.empty or int(n.iloc[0]) < 20:
                continue  # too few solutions to draw a distribution
            pmf = d.groupby("longest_path")["count"].sum().reindex(ks, fill_value=0) / int(n.iloc[0])
            ax.plot(ks, pmf.values, marker="o", ms=3, color=colors[g], label=f"{g} (n={int(n.iloc[0])})")
        ax.set_xticks(ks)
        ax.set_title(f"residual, {L} blocks", fontsize=9)
        ax.set_xlabel("longest used path (blocks)")
    axes[0][0].set_ylabel("share of networks")
    axes[0][-1].legend(fontsize=6)
    fig.tight_layout()
    return fig


def routes_figure(routes: pd.DataFrame):
    decs = list(dict.fromkeys(routes["decomposition"]))
    widths = sorted(set(routes["width"]))
    fig, axes = plt.subplots(len(decs), len(widths), figsize=(4.6 * len(widths), 3.4 * len(decs)), squeeze=False)
    for i, dname in enumerate(decs):
        for j, w in enumerate(widths):
            ax = axes[i][j]
            d = routes[(routes["decomposition"] == dname) & (routes["width"] == w)].sort_values("depth")
            pr = d.drop_duplicates("depth")
            ax.plot(pr["depth"], pr["placement_ratio"], "k--", label="placements, one circuit each")
            ax.plot(pr["depth"], pr["placement_ratio_all"], "k:", label="placements, all decompositions")
            for method, m in (("mc", "o"), ("smc", "s")):
                v = d[(d["method"] == method) & np.isfinite(d["ratio_tree_chain"])]
                if v.empty:
                    continue
                lo = np.clip(v["ratio_tree_chain"] - v["ratio_lo"], 0, None)
                hi = np.clip(v["ratio_hi"] - v["ratio_tree_chain"], 0, None)
                hi = np.where(np.isfinite(hi), hi, 0)
                ax.errorbar(v["depth"], v["ratio_tree_chain"], yerr=[lo, hi], marker=m, capsize=2,
                            label=f"measured ({method})")
            base = d[(d["method"] == "mc")] if "takes_tree_prior" in d else d.iloc[:0]
            base = base[base["takes_chain_prior"] > 0] if len(base) else base
            if len(base):
                ax.plot(base["depth"], base["takes_tree_prior"] / base["takes_chain_prior"], color="grey",
                        marker=".", lw=1, label="same ratio among all networks")
            seen = d[np.isfinite(d["ratio_tree_chain"])]
            if seen.empty:
                n = int(d["solutions"].sum())
                words = (f"no solution takes either route\n({n} solutions classified)" if n else
                         "no solution seen by hit-or-miss\n(no SMC run at this width)")
                ax.text(0.5, 0.5, words, transform=ax.transAxes, ha="center", va="center", fontsize=8)
            ax.set_yscale("log")
            ax.axhline(1, color="grey", lw=0.5)
            ax.set_title(f"{dname}, width {w}", fontsize=9)
            ax.set_xlabel("residual blocks L")
    for row in axes:
        row[0].set_ylabel("V(f and tree) / V(f and chain)")
    axes[0][-1].legend(fontsize=6)
    fig.tight_layout()
    return fig


def write_figures(result: dict[str, pd.DataFrame], out: Path) -> list[str]:
    """Draw the figures whose tables are present into ``out``; returns their file names."""
    out = Path(out)
    files = []
    if "bias" in result and len(result["bias"]):
        files.append(save(bias_figure(result["bias"]), out / "depth_bias.png"))
    if "lesion_summary" in result and len(result["lesion_summary"]):
        files.append(save(lesions_figure(result["lesion_summary"], result["lesions"]), out / "lesions.png"))
    if "routes" in result and len(result["routes"]) and np.isfinite(result["routes"]["placement_ratio"]).any():
        files.append(save(routes_figure(result["routes"]), out / "routes.png"))
    return files

