"""The readout check's figure, drawn from its ``check`` table.

``readout_check.png``: left, log10 V by the readout estimator against log10 V by hit-or-miss, each
with its 95% interval, one marker and colour per model (the colour-blind palette), the diagonal
``y = x``, and pairs whose intervals do not overlap circled in black; right, the variance reduction
factors against log10 V (filled: per network; open: per second). The title names the networks, the
prior and the sample sizes.

Example:
    >>> import tempfile, pathlib, pandas as pd
    >>> t = pd.DataFrame({"model": ["a", "b"], "architecture": ["3-8-1 mlp, relu", "x"], "target": ["0x0", "0x1"],
    ...                   "ro_log10_volume": [-1.0, -3.0], "ro_ci95_lo": [-1.01, -3.05], "ro_ci95_hi": [-0.99, -2.95],
    ...                   "hm_log10_volume": [-1.0, -3.1], "hm_ci95_lo": [-1.02, -3.3], "hm_ci95_hi": [-0.98, -2.9],
    ...                   "ro_networks": [256, 256], "hm_readouts": [65536, 65536], "hm_readouts_per_draw": [256, 256],
    ...                   "overlap": [True, True], "vrf_network": [2.0, 30.0], "vrf_time": [0.1, 1.0]})
    >>> check_figure(t, pathlib.Path(tempfile.mkdtemp()) / "f.png", prior="Gaussian prior")
    'f.png'
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns

from counting.io.figures import plt, save

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def _span(values) -> str:
    lo, hi = int(min(values)), int(max(values))
    return f"{lo:,}" if lo == hi else f"{lo:,} to {hi:,}"


def check_figure(check: pd.DataFrame, path: Path, prior: str = "Gaussian prior, sigma_w = sigma_b = 1") -> str:
    models = list(dict.fromkeys(check["model"]))
    colours = dict(zip(models, sns.color_palette("colorblind", len(models))))
    markers = dict(zip(models, MARKERS * (len(models) // len(MARKERS) + 1)))
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12.5, 5.6), gridspec_kw={"width_ratios": [1.15, 1]})
    for m in models:
        d = check[check["model"] == m]
        arch = d["architecture"].iloc[0]
        x, y = d["hm_log10_volume"], d["ro_log10_volume"]
        xerr = [(x - d["hm_ci95_lo"]).fillna(0).clip(lower=0), (d["hm_ci95_hi"] - x).clip(lower=0)]
        yerr = [(y - d["ro_ci95_lo"]).fillna(0).clip(lower=0), (d["ro_ci95_hi"] - y).clip(lower=0)]
        ax.errorbar(x, y, xerr=xerr, yerr=yerr, ls="none", marker=markers[m], ms=6, mfc=colours[m],
                    mec="black", mew=0.5, ecolor=colours[m], elinewidth=1.2, capsize=2.5,
                    label=f"{m}: {arch}", zorder=3)
        bad = d[~d["overlap"].astype(bool)]
        ax.scatter(bad["hm_log10_volume"], bad["ro_log10_volume"], s=220, facecolors="none", edgecolors="black",
                   lw=1.2, zorder=4, label=None if bad.empty else "intervals do not overlap")
        bx.scatter(y, d["vrf_network"], marker=markers[m], color=colours[m], edgecolors="black", lw=0.5, s=40,
                   label=f"{m}, per network", zorder=3)
        bx.scatter(y, d["vrf_time"], marker=markers[m], facecolors="none", edgecolors=colours[m], lw=1.2, s=40,
                   label=f"{m}, per second", zorder=3)
    lims = np.array([check[["hm_ci95_lo", "ro_ci95_lo"]].min().min(), check[["hm_ci95_hi", "ro_ci95_hi"]].max().max()])
    lims = lims + np.array([-0.3, 0.3])
    ax.plot(lims, lims, color="grey", lw=1, ls="--", zorder=1, label="y = x")
    ax.set_xlim(lims)
    ax.set_ylim(lims)
    ax.set_aspect("equal")
    ax.set_xlabel("log10 V, hit-or-miss (shared draws), 95% interval")
    ax.set_ylabel("log10 V, readout integrated out, 95% interval")
    ax.legend(fontsize=7, loc="upper left")
    ax.grid(alpha=0.3)
    bx.set_yscale("log")
    bx.axhline(1, color="grey", lw=1, ls="--")
    bx.set_xlabel("log10 V (readout)")
    bx.set_ylabel("variance reduction factor against hit-or-miss")
    bx.legend(fontsize=7, loc="upper right", ncol=2)
    bx.grid(alpha=0.3, which="major")
    ok = int(check["overlap"].sum())
    fig.suptitle(f"Readout estimator against hit-or-miss: {len(check)} functions on {len(models)} networks, {prior}\n"
                 f"readout: {_span(check['ro_networks'])} networks each; hit-or-miss: {_span(check['hm_readouts'])} "
                 f"readouts ({_span(check['hm_readouts_per_draw'])} per hidden draw), independent seeds; "
                 f"{ok} of {len(check)} intervals overlap", fontsize=9.5)
    fig.tight_layout()
    return save(fig, path)
