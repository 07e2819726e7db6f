"""The llamaizer's figures, drawn from its result tables (written by :func:`counting.io.figures.save`).

Example:
    >>> import pandas as pd
    >>> fig = share_figure(pd.DataFrame({"architecture": ["a"] * 2, "target": ["t"] * 2,
    ...     "family": ["f"] * 2, "layer": ["any"] * 2, "K": [1, 2], "n_f": [10, 10], "n_f_and_any": [1, 2],
    ...     "share": [.1, .2], "share_lo": [.01, .05], "share_hi": [.4, .5], "naive_share": [.5, 2 / 3],
    ...     "sum_of_shares": [.1, .2], "overlap": [0., 0.]}))
    >>> type(fig).__name__
    'Figure'
    >>> plt.close(fig)
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from counting.io.figures import save  # also selects the Agg backend


def _finite_err(df: pd.DataFrame, col: str) -> np.ndarray:
    """Asymmetric error bars ``[2, N]`` from ``col``, ``col_lo``, ``col_hi`` (unbounded ends clipped)."""
    v, lo, hi = (df[c].to_numpy(float) for c in (col, f"{col}_lo", f"{col}_hi"))
    top = np.nanmax(np.where(np.isfinite(hi), hi, np.nan)) if np.isfinite(hi).any() else 1.0
    hi = np.where(np.isfinite(hi), hi, top * 1.2)
    return np.vstack([np.clip(v - lo, 0, None), np.clip(hi - v, 0, None)])


def cost_figure(cost: pd.DataFrame):
    """Constraint cost in bits of each llama against its Fourier degree, one panel per
    architecture and target, one colour per layer; open markers are upper-censored (never seen)."""
    layered = cost[cost["layer"] != "any"]
    df = layered[np.isfinite(layered["cost_bits_lo"])].copy()
    # panels for every architecture and target, even one with no finite cost (never hit, say)
    rows, cols = sorted(layered["architecture"].unique()) or ["-"], sorted(layered["target"].unique()) or ["-"]
    fig, axes = plt.subplots(len(rows), len(cols), figsize=(4.6 * len(cols), 3.6 * len(rows)), squeeze=False,
                             sharey=True)
    layers = sorted(df["layer"].unique(), key=lambda s: (s == "any", s))
    pal = dict(zip(layers, sns.color_palette("viridis", len(layers))))
    for i, a in enumerate(rows):
        for j, t in enumerate(cols):
            ax = axes[i, j]
            sub = df[(df["architecture"] == a) & (df["target"] == t)]
            for k, lay in enumerate(layers):
                s = sub[sub["layer"] == lay]
                x = s["degree"].to_numpy(float) + (k - (len(layers) - 1) / 2) * 0.12
                seen = np.isfinite(s["cost_bits"].to_numpy(float))
                v = np.where(seen, s["cost_bits"], s["cost_bits_lo"])
                err = _finite_err(s.assign(cost_bits=v), "cost_bits")
                ax.errorbar(x[seen], v[seen], yerr=err[:, seen], fmt="o", ms=3, lw=0.6, color=pal[lay],
                            label=f"layer {lay}")
                ax.scatter(x[~seen], v[~seen], marker="^", facecolors="none", edgecolors=pal[lay], s=14)
            ax.set_title(f"{a}, target {t}", fontsize=9)
            ax.set_xlabel("llama Fourier degree")
            if j == 0:
                ax.set_ylabel("cost: -log2 V(f and g) / V(f)  [bits]")
    if axes[0, -1].get_legend_handles_labels()[0]:
        axes[0, -1].legend(fontsize=7, loc="upper left")
    fig.suptitle("Constraint cost of holding a llama (triangles: never seen, lower bound of the cost)", fontsize=10)
    fig.tight_layout()
    return fig


def share_figure(share: pd.DataFrame):
    """Llamaizer share of f's volume as the family grows, against the naive count ``K/(K+1)``."""
    df = share[share["layer"] == "any"]
    fams = sorted(df["family"].unique())
    fig, axes = plt.subplots(1, len(fams), figsize=(4.6 * len(fams), 3.6), squeeze=False, sharey=True)
    keys = sorted({(a, t) for a, t in zip(df["architecture"], df["target"])})
    pal = dict(zip(keys, sns.color_palette("tab10", len(keys))))
    for ax, fam in zip(axes[0], fams):
        sub = df[df["family"] == fam]
        for key in keys:
            s = sub[(sub["architecture"] == key[0]) & (sub["target"] == key[1])].sort_values("K")
            if s.empty:
                continue
            ax.plot(s["K"], s["share"], color=pal[key], lw=1.2, label=f"{key[0]}, {key[1]}")
            ax.fill_between(s["K"], s["share_lo"], s["share_hi"], color=pal[key], alpha=0.25, lw=0)
        k = np.unique(sub["K"])
        ax.plot(k, k / (k + 1), "k--", lw=1, label="naive count K/(K+1)")
        ax.set_xscale("log")
        ax.set_ylim(0, 1.02)
        ax.set_title(f"family: {fam}", fontsize=9)
        ax.set_xlabel("K: llamas in the family")
    axes[0, 0].set_ylabel("share of V(f) holding some llama (any hidden layer)")
    axes[0, -1].legend(fontsize=7, loc="center right")
    fig.suptitle("Llamaizer share against the naive count (the family of every function gives share 1 by "
                 "definition)", fontsize=10)
    fig.tight_layout()
    return fig


def discard_figure(discard: pd.DataFrame, top: int = 12):
    """For the llamas most often held at layer 1: share of f's volume that builds the llama in
    layer 1 and discards it (absent from the last hidden layer) versus builds and keeps it."""
    rows = []
    for (a, t), s in discard.groupby(["architecture", "target"]):
        s = s.assign(total=s["built_discarded"] + s["built_kept"]).sort_values("total", ascending=False).head(top)
        for _, r in s.iterrows():
            for what in ("discard", "keep"):
                rows.append({"panel": f"{a}, target {t}", "llama": r["llama"], "what": what,
                             "share": r[f"{what}_share"], "lo": r[f"{what}_share_lo"], "hi": r[f"{what}_share_hi"]})
    df = pd.DataFrame(rows)
    panels = sorted(df["panel"].unique()) if len(df) else []
    fig, axes = plt.subplots(len(panels) or 1, 1, figsize=(9, 2.6 * max(len(panels), 1)), squeeze=False)
    for ax, p in zip(axes[:, 0], panels):
        s = df[df["panel"] == p]
        llamas = list(dict.fromkeys(s["llama"]))
        for k, (what, colour) in enumerate((("discard", "tab:orange"), ("keep", "tab:blue"))):
            w = s[s["what"] == what].set_index("llama").loc[llamas]
            x = np.arange(len(llamas)) + (k - 0.5) * 0.3
            ax.errorbar(x, w["share"], yerr=np.vstack([w["share"] - w["lo"], w["hi"] - w["share"]]), fmt="o",
                        ms=4, color=colour, label={"discard": "built in layer 1, discarded",
                                                   "keep": "built in layer 1, kept"}[what])
        ax.set_xticks(np.arange(len(llamas)), llamas, rotation=45, fontsize=7)
        ax.set_ylim(bottom=0)
        ax.set_ylabel("share of V(f)")
        ax.set_title(p, fontsize=9)
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def write_figures(result: dict[str, pd.DataFrame], out: Path) -> list[str]:
    """Write the experiment's three figures into ``out``; returns their file names."""
    out = Path(out)
    return [save(cost_figure(result["cost"]), out / "cost.png"),
            save(share_figure(result["share"]), out / "share.png"),
            save(discard_figure(result["discard"]), out / "discard.png")]
