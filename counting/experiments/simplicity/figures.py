"""The simplicity experiment's figures, drawn from its tables (any part may be missing).

* ``volumes_n<n>.png``: per prior (rows) and measure (columns), each NPN class's log10 V(f) with
  its 95% interval against the measure; parity's class is the red square, classes whose volume
  came from SMC are open circles.
* ``correlations.png``: Spearman's rho of log10 V with each measure and its bootstrap interval,
  per prior, coloured by family (program length, parameters, other).
* ``ladder.png``: log10 V(n-bit parity) against n by each method; an upper bound only is an open
  downward triangle.
* ``reproduction.png``: the rank-frequency curve of the 7-bit census against Zipf's law, and
  P(f) against Lempel-Ziv complexity, per input encoding.

Example:
    >>> import tempfile, pathlib, pandas as pd
    >>> lad = pd.DataFrame({"n": [2, 3], "method": ["mc", "mc"], "log10_volume": [-1.0, None],
    ...                     "ci95_lo": [-1.1, None], "ci95_hi": [-0.9, -6.0]})
    >>> write_figures({"ladder": lad}, pathlib.Path(tempfile.mkdtemp()))
    ['ladder.png']
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns

from counting.experiments.simplicity.classes import parity_class
from counting.io.figures import plt, save

SHOWN = ("lz", "formula_size_xor", "min_weights", "circuit_depth", "avg_sensitivity")
FAMILY_COLORS = {"program length": "tab:blue", "parameters": "tab:orange", "other": "tab:gray"}


def volumes_figure(classes: pd.DataFrame, n: int):
    priors = list(dict.fromkeys(classes["prior"]))
    fig, axes = plt.subplots(len(priors), len(SHOWN), figsize=(3.2 * len(SHOWN), 2.8 * len(priors)),
                             squeeze=False, sharey="row")
    for r, prior in enumerate(priors):
        d = classes[classes["prior"] == prior]
        for c, m in enumerate(SHOWN):
            ax = axes[r][c]
            x = pd.to_numeric(d[m], errors="coerce").to_numpy(np.float64)
            if m == "min_weights":
                x = np.where(np.isnan(x), np.nanmax(x) + 2, x)  # out of the architecture's reach: drawn at the right
            jitter = np.random.default_rng(0).uniform(-0.15, 0.15, len(x))
            y = d["log10_volume"].to_numpy(np.float64)
            err = np.clip([y - d["ci95_lo"].to_numpy(np.float64), d["ci95_hi"].to_numpy(np.float64) - y], 0, None)
            smc = (d["method"] == "smc").to_numpy()
            ax.errorbar(x + jitter, y, yerr=err, fmt="none", ecolor="0.6", lw=0.6)
            ax.scatter((x + jitter)[~smc], y[~smc], s=10, color="tab:blue")
            ax.scatter((x + jitter)[smc], y[smc], s=14, facecolors="none", edgecolors="tab:blue")
            par = (d["representative"] == parity_class(n)).to_numpy()
            ax.scatter((x + jitter)[par], y[par], s=40, marker="s", color="tab:red", label="parity")
            ax.set_xlabel(m + (" (right: out of reach)" if m == "min_weights" else ""), fontsize=8)
            if c == 0:
                ax.set_ylabel(f"{prior}\nlog10 V(f)", fontsize=8)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"every NPN class of {n}-bit functions (open: SMC; filled: census)", fontsize=9)
    fig.tight_layout()
    return fig


def correlations_figure(corr: pd.DataFrame):
    keys = list(dict.fromkeys(zip(corr["n"], corr["prior"])))
    fig, axes = plt.subplots(1, len(keys), figsize=(4.2 * len(keys), 4.0), squeeze=False, sharey=True)
    for ax, (n, prior) in zip(axes[0], keys):
        d = corr[(corr["n"] == n) & (corr["prior"] == prior)].reset_index(drop=True)
        y = np.arange(len(d))
        # a bootstrap interval need not contain the point estimate: the bars span the interval itself
        ax.hlines(y, d["ci95_lo"], d["ci95_hi"], color="0.4", lw=1)
        ax.scatter(d["spearman"], y, c=[FAMILY_COLORS[f] for f in d["family"]], zorder=3)
        ax.set_yticks(y, d["measure"], fontsize=7)
        ax.axvline(0, color="0.8", lw=0.8)
        ax.set_title(f"n = {n}, {prior}", fontsize=8)
        ax.set_xlabel("Spearman rho with log10 V(f)")
    for f, col in FAMILY_COLORS.items():
        axes[0][-1].scatter([], [], color=col, label=f)
    axes[0][-1].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    return fig


def ladder_figure(lad: pd.DataFrame):
    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    methods = list(dict.fromkeys(lad["method"]))
    colors = dict(zip(methods, sns.color_palette("tab10", len(methods))))
    for k, m in enumerate(methods):
        d = lad[lad["method"] == m].sort_values("n")
        x = d["n"].to_numpy(np.float64) + 0.06 * (k - len(methods) / 2)
        y = pd.to_numeric(d["log10_volume"], errors="coerce").to_numpy(np.float64)
        lo = pd.to_numeric(d["ci95_lo"], errors="coerce").to_numpy(np.float64)
        hi = pd.to_numeric(d["ci95_hi"], errors="coerce").to_numpy(np.float64)
        ok = np.isfinite(y)
        ax.errorbar(x[ok], y[ok], yerr=np.clip([y[ok] - lo[ok], hi[ok] - y[ok]], 0, None), marker="o", ms=4, capsize=2,
                    color=colors[m], label=m)
        ax.scatter(x[~ok], hi[~ok], marker="v", facecolors="none", edgecolors=colors[m])
    ax.set_xlabel("n (bits of parity)")
    ax.set_ylabel("log10 V(parity)  (open triangle: upper bound only)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def reproduction_figure(freq: pd.DataFrame, lz: pd.DataFrame, n: int = 7):
    encs = list(dict.fromkeys(freq["encoding"]))
    fig, axes = plt.subplots(1, 2, figsize=(10.5, 4.2))
    colors = dict(zip(encs, sns.color_palette("tab10", len(encs))))
    for e in encs:
        f = freq[freq["encoding"] == e]
        r = np.r_[f["rank_first"].to_numpy(), f["rank_last"].to_numpy()]
        p = np.r_[f["probability"].to_numpy(), f["probability"].to_numpy()]
        o = np.argsort(r)
        axes[0].loglog(r[o], p[o], color=colors[e], label=f"{e} inputs")
        d = lz[lz["encoding"] == e]
        axes[1].scatter(d["lz"], d["log10_probability"], s=np.clip(np.log10(d["functions"] + 1) * 8, 2, 40),
                        alpha=0.5, color=colors[e], label=f"{e} inputs")
    rmax = float(freq["rank_last"].max()) if len(freq) else 10.0
    rr = np.logspace(0, np.log10(max(rmax, 10.0)), 50)
    axes[0].loglog(rr, 1 / (rr * (2**n) * np.log(2)), "k--", lw=1, label="Zipf 1/(r ln N_O)")
    axes[0].set_xlabel("rank")
    axes[0].set_ylabel("P(f)")
    axes[0].legend(fontsize=7)
    axes[1].set_xlabel("Lempel-Ziv complexity")
    axes[1].set_ylabel("log10 P(f) (marker size: functions)")
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    return fig


def write_figures(tables: dict[str, pd.DataFrame], out: Path) -> list[str]:
    """Every figure the tables allow, written into ``out``; returns the file names."""
    names = []
    if "classes" in tables:
        for n in sorted(set(tables["classes"]["n"])):
            name = f"volumes_n{n}.png"
            save(volumes_figure(tables["classes"][tables["classes"]["n"] == n], int(n)), out / name)
            names.append(name)
    if "correlations" in tables:
        save(correlations_figure(tables["correlations"]), out / "correlations.png")
        names.append("correlations.png")
    if "ladder" in tables:
        save(ladder_figure(tables["ladder"]), out / "ladder.png")
        names.append("ladder.png")
    if "frequency" in tables and "lz" in tables:
        save(reproduction_figure(tables["frequency"], tables["lz"]), out / "reproduction.png")
        names.append("reproduction.png")
    return names
