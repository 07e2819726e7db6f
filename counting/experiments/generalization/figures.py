"""The generalization experiment's figures, drawn from its ``comparison`` table.

Per cube size ``n``, one panel per network and target (at most three a row):

* ``accuracy_n<n>.png``: the expected accuracy off S against m / N for each count: the function
  count (flat at 1/2), the parameter count (the prior conditioned on S), rejection (the same
  posterior by hit-or-miss, where it kept draws) and training; one marker per draw of S with its
  95% interval, a line through the means over draws.
* ``probability_n<n>.png``: log10 P(f* | S) (filled markers, solid lines) and log10 P(f_T | S) (open
  markers, dashed lines) against m / N: the function count (a straight line, both the same), the
  parameter count, rejection and training (these two only where a kept draw or trained run ended
  on the function).

Example:
    >>> import tempfile, pathlib
    >>> t = pd.DataFrame({"n_inputs": 3, "network": "3-8-1 relu MLP", "prior": "p", "target": "and", "m": [4, 4],
    ...                   "N": 8, "draw": 0, "method": ["functions", "parameters"], "accuracy": [0.5, 0.9],
    ...                   "accuracy_lo": [0.5, 0.8], "accuracy_hi": [0.5, 1.0], "log10_p_target": [-1.2, -0.1],
    ...                   "log10_p_target_lo": [-1.2, -0.2], "log10_p_target_hi": [-1.2, 0.0],
    ...                   "log10_p_treacherous": [-1.2, -3.0], "log10_p_treacherous_lo": [-1.2, -3.5],
    ...                   "log10_p_treacherous_hi": [-1.2, -2.8]})
    >>> write_figures({"comparison": t}, pathlib.Path(tempfile.mkdtemp()), None)
    ['accuracy_n3.png', 'probability_n3.png']
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from counting.io.figures import legend_below, panels, prior_text, save, series, styled, title

METHOD_ORDER = ("functions", "parameters", "rejection")


def methods(t: pd.DataFrame) -> list[str]:
    """The methods of ``t``: the function count, the parameter count, then each optimiser."""
    present = list(dict.fromkeys(t["method"]))
    return [m for m in METHOD_ORDER if m in present] + [m for m in present if m not in METHOD_ORDER]


def label(method: str) -> str:
    return {"functions": "function count", "parameters": "parameter count (P_B, prior given S)",
            "rejection": "rejection (prior draws that fit S)"}.get(method, method)


def setting_text(t: pd.DataFrame, spec: dict | None) -> str:
    e = (spec or {}).get("experiment", {})
    post = e.get("posterior", {})
    prior = prior_text(e.get("prior")) if e else str(t["prior"].iloc[0]) if "prior" in t else ""
    bits = [prior]
    if post:
        bits.append(f"posterior: {post.get('replicates')} replicates of {post.get('particles')} networks "
                    f"x {e.get('readouts')} readouts (tempered SMC over the hidden layers)")
    if (e.get("rejection") or {}).get("samples"):
        bits.append(f"rejection: one census of {e['rejection']['samples']:,} prior networks per network")
    if e.get("samples"):
        bits.append(f"training: {e.get('samples')} runs per setting from prior initialisations")
    bits.append(f"{int(t['draw'].max()) + 1} draw(s) of S per m")
    return "; ".join(bits)


def panel_keys(t: pd.DataFrame) -> list[tuple[str, str]]:
    return list(dict.fromkeys(zip(t["network"], t["target"])))


@styled
def accuracy_figure(t: pd.DataFrame, path: Path, spec: dict | None) -> str:
    keys = panel_keys(t)
    fig, axes = panels(len(keys))
    ms = methods(t)
    for ax, (net, target) in zip(axes, keys):
        d = t[(t["network"] == net) & (t["target"] == target)]
        for i, m in enumerate(ms):
            s = series(i)
            e = d[d["method"] == m]
            if e.empty:
                continue
            x = e["m"] / e["N"]
            ax.errorbar(x + 0.004 * (i - 1), e["accuracy"],
                        yerr=[(e["accuracy"] - e["accuracy_lo"]).clip(lower=0),
                              (e["accuracy_hi"] - e["accuracy"]).clip(lower=0)],
                        ls="none", marker=s["marker"], color=s["color"], ms=4, capsize=2, alpha=0.8)
            mean = e.groupby("m", sort=True)["accuracy"].mean()
            ax.plot(mean.index / e["N"].iloc[0], mean.to_numpy(), color=s["color"], ls=s["ls"], lw=1.3)
        ax.set_title(textwrap.fill(f"{net}, {target}", 44), fontsize=9)
        ax.set_xlabel("m / N (share of the cube in S)")
        ax.set_ylabel("expected accuracy off S")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    handles = [Line2D([], [], **{k: v for k, v in series(i).items()}) for i in range(len(ms))]
    legend_below(fig, handles, [label(m) for m in ms], ncol=len(ms))
    n = int(t["n_inputs"].iloc[0])
    title(fig, f"Expected accuracy off the training set S on {n} bits (N = {2**n}): each count, "
               "95% intervals", setting_text(t, spec))
    return save(fig, path)


@styled
def probability_figure(t: pd.DataFrame, path: Path, spec: dict | None) -> str:
    keys = panel_keys(t)
    fig, axes = panels(len(keys))
    ms = methods(t)
    for ax, (net, target) in zip(axes, keys):
        d = t[(t["network"] == net) & (t["target"] == target)]
        for i, m in enumerate(ms):
            s = series(i)
            e = d[d["method"] == m]
            for which, filled, ls in (("target", True, "-"), ("treacherous", False, "--")):
                col = f"log10_p_{which}"
                f = e[np.isfinite(e[col].astype(float))]
                if f.empty:
                    continue
                x = f["m"] / f["N"]
                lo = f[f"{col}_lo"].astype(float).where(np.isfinite(f[f"{col}_lo"].astype(float)), f[col] - 3)
                ax.errorbar(x, f[col], yerr=[(f[col] - lo).clip(lower=0), (f[f"{col}_hi"] - f[col]).clip(lower=0)],
                            ls="none", marker=s["marker"], ms=4, capsize=2, color=s["color"],
                            mfc=s["color"] if filled else "white", alpha=0.8)
                mean = f.groupby("m", sort=True)[col].mean()
                ax.plot(mean.index / f["N"].iloc[0], mean.to_numpy(), color=s["color"], ls=ls, lw=1.2)
        ax.set_title(textwrap.fill(f"{net}, {target}", 44), fontsize=9)
        ax.set_xlabel("m / N (share of the cube in S)")
        ax.set_ylabel("log10 P(f | S)")
        ax.grid(alpha=0.3)
    handles = [Line2D([], [], color=series(i)["color"], marker=series(i)["marker"], ls="none") for i in range(len(ms))]
    handles += [Line2D([], [], color="black", ls="-", marker="o"), Line2D([], [], color="black", ls="--", marker="o",
                                                                         mfc="white")]
    labels = [label(m) for m in ms] + ["f* (the target)", "f_T (f* on S, its complement off S)"]
    legend_below(fig, handles, labels, ncol=3)
    n = int(t["n_inputs"].iloc[0])
    title(fig, f"log10 P(f* | S) and log10 P(f_T | S) on {n} bits (N = {2**n}): the function count is a straight "
               "line; 95% intervals (an open lower end drawn 3 decades down)", setting_text(t, spec))
    return save(fig, path)


def write_figures(tables: dict[str, pd.DataFrame], out: Path, spec: dict | None = None) -> list[str]:
    """Both figures for each cube size of the ``comparison`` table; their file names."""
    t = tables.get("comparison")
    if t is None or t.empty:
        return []
    names = []
    for n, d in t.groupby("n_inputs", sort=True):
        names.append(accuracy_figure(d, Path(out) / f"accuracy_n{n}.png", spec))
        names.append(probability_figure(d, Path(out) / f"probability_n{n}.png", spec))
    return names
