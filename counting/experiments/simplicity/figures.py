"""The simplicity experiment's figures, drawn from its tables (any part may be missing) and the run's
settings as the manifest records them (``spec``: sample sizes, SMC settings, the ladder's prior).

* ``volumes_n<n>.png``: per measure (rows) and network (columns), each NPN class's log10 V(f) with
  its 95% interval against the measure; parity's class is the large vermillion square, classes whose
  volume came from SMC are open circles, the census's filled.
* ``correlations.png``: Spearman's rho of log10 V with each measure and its bootstrap interval,
  one panel per input size and network (three a row), one colour and marker per family (program
  length, parameters, other).
* ``ladder.png``: log10 V(n-bit parity) against n by each method, each its own colour, marker and
  line style; an upper bound only (no hit) is the method's marker, open.
* ``reproduction.png``: the rank-frequency curve of the 7-bit census against Zipf's law, and
  P(f) against Lempel-Ziv complexity, per input encoding.

Every figure is titled with the networks, the prior and the sample sizes; legends sit under the panels.

Example:
    >>> import tempfile, pathlib, pandas as pd
    >>> lad = pd.DataFrame({"n": [2, 3], "model": "n-40-40-1 mlp, relu", "method": ["mc", "mc"],
    ...                     "log10_volume": [-1.0, None], "ci95_lo": [-1.1, None], "ci95_hi": [-0.9, -6.0],
    ...                     "cost": 1024})
    >>> write_figures({"ladder": lad}, pathlib.Path(tempfile.mkdtemp()))
    ['ladder.png']
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from counting.experiments.simplicity.classes import parity_class
from counting.io.figures import (PALETTE, count_text, dodge, legend_below, panels, plt, prior_text, save, series,
                                 styled, title)

SHOWN = ("lz", "formula_size_xor", "min_weights", "circuit_depth", "avg_sensitivity")
MEASURE_NAMES = {"lz": "Lempel-Ziv complexity", "formula_size_xor": "AND/OR/XOR formula size (leaves)",
                 "min_weights": "fewest non-zero weights (threshold net)", "circuit_depth": "circuit depth (gates)",
                 "avg_sensitivity": "average sensitivity (bits)"}
FAMILIES = ("program length", "parameters", "other")
METHOD_NAMES = {"mc": "hit-or-miss", "smc": "tempered SMC", "subset": "subset simulation",
                "nngp": "NNGP (infinite width)"}
ENCODINGS = {"01": "{0,1} inputs", "pm1": "{-1,+1} inputs"}


def _experiment(spec) -> dict:
    return (spec or {}).get("experiment") or {}


def _smc(part: dict, key: str = "smc") -> dict:
    """A part's SMC settings: ``[part.smc]``, or ``rare`` in a manifest written before that table existed."""
    return part.get(key) or part.get("rare") or {}


def _priors_text(tables_prior: pd.Series | None, spec) -> str:
    """The prior(s), from a table's ``prior_spec`` column or the spec's first prior."""
    if tables_prior is not None and len(tables_prior):
        texts = list(dict.fromkeys(tables_prior))
        if len(texts) == 1:
            return prior_text_from_words(texts[0])
        return "; ".join(prior_text_from_words(t) for t in texts)
    priors = _experiment(spec).get("priors") or []
    return prior_text(priors[0].get("prior") if priors else None)


def prior_text_from_words(words: str) -> str:
    """The tables' ``prior_spec`` (``gaussian prior (sigma_w=1, sigma_b=1)``) in the figures' words."""
    return words.replace("gaussian prior", "Gaussian prior").replace("=", " = ")


def _network(model: str) -> str:
    """``3-40-40-1 mlp, relu`` -> ``3-40-40-1 relu MLP``."""
    shape, _, act = model.partition(" mlp, ")
    return f"{shape} {act} MLP" if act else model


def _census_words(spec) -> str:
    v = _experiment(spec).get("volumes") or {}
    smc = _smc(v)
    words = f"census of {count_text(v.get('samples'))} networks per network" if v.get("samples") else "census"
    if v.get("min_hits"):
        words += (f"; classes seen fewer than {v['min_hits']} times by tempered SMC"
                  + (f" ({smc['replicates']} replicates of {smc['particles']} particles)" if smc else ""))
    return words


@styled
def volumes_figure(classes: pd.DataFrame, n: int, spec=None):
    priors = list(dict.fromkeys(classes["prior"]))
    fig, axes = plt.subplots(len(SHOWN), len(priors), figsize=(10.5, 2.35 * len(SHOWN)), squeeze=False,
                             sharey=True, sharex="row")
    for c, prior in enumerate(priors):
        d = classes[classes["prior"] == prior]
        for r, m in enumerate(SHOWN):
            ax = axes[r][c]
            x = pd.to_numeric(d[m], errors="coerce").to_numpy(np.float64)
            out_of_reach = m == "min_weights" and bool(np.isnan(x).any())
            if out_of_reach:
                x = np.where(np.isnan(x), np.nanmax(x) + 2, x)  # out of the architecture's reach: drawn at the right
            jitter = np.random.default_rng(0).uniform(-0.15, 0.15, len(x))
            y = d["log10_volume"].to_numpy(np.float64)
            err = np.clip([y - d["ci95_lo"].to_numpy(np.float64), d["ci95_hi"].to_numpy(np.float64) - y], 0, None)
            smc = (d["method"] == "smc").to_numpy()
            ax.errorbar(x + jitter, y, yerr=err, fmt="none", ecolor="0.6", lw=0.6)
            ax.plot((x + jitter)[~smc], y[~smc], "o", ms=3.2, color=PALETTE[0], ls="none")
            ax.plot((x + jitter)[smc], y[smc], "o", ms=4, mfc="white", mec=PALETTE[0], mew=1.0, ls="none")
            par = (d["representative"] == parity_class(n)).to_numpy()
            ax.plot((x + jitter)[par], y[par], "s", ms=8, color=PALETTE[3], mec="black", mew=0.6, ls="none")
            ax.set_xlabel(MEASURE_NAMES.get(m, m) + ("\n(rightmost: out of reach)" if out_of_reach else ""),
                          fontsize=9)
            ax.grid(axis="y", lw=0.4, alpha=0.5)
            if c == 0:
                ax.set_ylabel("log10 V(f)")
            if r == 0:
                ax.set_title(_network(str(d["model"].iloc[0])) if "model" in d else prior)
    smc_drawn = bool((classes["method"] == "smc").any())
    handles = [Line2D([], [], ls="none", marker="o", ms=5, color=PALETTE[0], label="class volume from the census")]
    if smc_drawn:
        handles.append(Line2D([], [], ls="none", marker="o", ms=5, mfc="white", mec=PALETTE[0],
                              label="from tempered SMC"))
    handles += [Line2D([], [], ls="none", marker="s", ms=8, color=PALETTE[3], mec="black", label="parity's class"),
                Line2D([], [], color="0.6", lw=0.8, label="95% interval")]
    legend_below(fig, handles, [h.get_label() for h in handles], ncol=4)
    title(fig, f"Volume V(f) of every NPN class of {n}-bit functions against five complexity measures",
          f"{n}-input networks (one a column), {_priors_text(classes.get('prior_spec'), spec)}; "
          f"{_census_words(spec)}. Points are spread sideways by up to 0.15.")
    return fig


@styled
def correlations_figure(corr: pd.DataFrame, spec=None):
    keys = list(dict.fromkeys(zip(corr["n"], corr["prior"])))
    fig, axes = panels(len(keys), cols=3, height=3.3, sharey=True)
    style = {f: series(i) for i, f in enumerate(FAMILIES)}
    style["other"] = {**style["other"], "color": PALETTE[7]}
    for ax, (n, prior) in zip(axes, keys):
        d = corr[(corr["n"] == n) & (corr["prior"] == prior)].reset_index(drop=True)
        y = np.arange(len(d))
        # a bootstrap interval need not contain the point estimate: the bars span the interval itself
        ax.hlines(y, d["ci95_lo"], d["ci95_hi"], color="0.4", lw=1.2)
        for fam, st in style.items():
            f = (d["family"] == fam).to_numpy()
            ax.plot(d["spearman"][f], y[f], ls="none", marker=st["marker"], ms=6, color=st["color"], mec="black",
                    mew=0.4, zorder=3)
        ax.set_yticks(y, d["measure"], fontsize=8.5)
        ax.axvline(0, color="0.7", lw=0.8)
        ax.set_xlim(-1.05, 1.05)
        ax.grid(axis="x", lw=0.4, alpha=0.5)
        model = _network(str(d["model"].iloc[0])) if "model" in d else prior
        ax.set_title(f"n = {n}: {model}")
        ax.set_xlabel("Spearman rho with log10 V(f)")
    handles = [Line2D([], [], ls="none", marker=st["marker"], ms=7, color=st["color"], mec="black", mew=0.4,
                      label=f"measure of {f}") for f, st in style.items()]
    handles.append(Line2D([], [], color="0.4", lw=1.2, label="95% bootstrap interval"))
    legend_below(fig, handles, [h.get_label() for h in handles], ncol=4)
    title(fig, "Which complexity measure predicts log10 V(f)? Spearman's rho over every function of n bits",
          f"{_priors_text(corr.get('prior_spec'), spec)}; {_census_words(spec)}; the bootstrap redraws the functions "
          "and each class's volume within its uncertainty.")
    return fig


@styled
def ladder_figure(lad: pd.DataFrame, spec=None):
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    methods = list(dict.fromkeys(lad["method"]))
    ns = sorted(set(lad["n"]))
    for k, m in enumerate(methods):
        st = series(k)
        d = lad[lad["method"] == m].set_index("n").reindex(ns)
        x = np.asarray(ns, dtype=np.float64) + dodge(k, len(methods), 0.08)
        y = pd.to_numeric(d["log10_volume"], errors="coerce").to_numpy(np.float64)
        lo = pd.to_numeric(d["ci95_lo"], errors="coerce").to_numpy(np.float64)
        hi = pd.to_numeric(d["ci95_hi"], errors="coerce").to_numpy(np.float64)
        ok = np.isfinite(y)
        ax.plot(x, y, ls=st["ls"], color=st["color"], lw=1.3)  # breaks where the method has no value
        ax.errorbar(x[ok], y[ok], yerr=np.clip([y[ok] - np.nan_to_num(lo[ok], nan=y[ok]), hi[ok] - y[ok]], 0, None),
                    fmt=st["marker"], ms=6, capsize=2, lw=1, color=st["color"], mec="black", mew=0.4, zorder=3)
        bound = ~ok & np.isfinite(hi)
        ax.plot(x[bound], hi[bound], ls="none", marker=st["marker"], ms=7, mfc="white", mec=st["color"], mew=1.4,
                zorder=3)
    ax.set_xticks(ns)
    ax.set_xlabel("n (bits of parity; network n-40-40-1)")
    ax.set_ylabel("log10 V(parity)")
    ax.grid(axis="y", lw=0.4, alpha=0.5)
    handles = [Line2D([], [], color=series(k)["color"], ls=series(k)["ls"], marker=series(k)["marker"], mec="black",
                      mew=0.4, label=METHOD_NAMES.get(m, m)) for k, m in enumerate(methods)]
    handles.append(Line2D([], [], ls="none", marker="o", mfc="white", mec="0.3", mew=1.4,
                          label="open: no hit, 95% upper bound only"))
    legend_below(fig, handles, [h.get_label() for h in handles], ncol=2)
    lp = _experiment(spec).get("ladder") or {}
    model = str(lad["model"].iloc[0]) if "model" in lad and len(lad) else ""
    shape = "n-" + "-".join(str(w) for w in lp.get("widths", [40, 40])) + "-1"
    act = lp.get("activation") or (model.rpartition(", ")[2] if model else "relu")
    mc = lad.loc[lad["method"] == "mc", "cost"] if "cost" in lad else pd.Series(dtype=float)
    smc = _smc(lp)
    sizes = []
    if len(mc):
        sizes.append(f"hit-or-miss: {count_text(mc.iloc[0])} networks (95% Clopper-Pearson)")
    if {"smc", "subset"} & set(methods) and smc:
        sizes.append(f"SMC and subset simulation: {smc.get('replicates')} replicates of {smc.get('particles')} "
                     "particles (95% Student-t over replicates; no point where no replicate reached parity)")
    if "nngp" in methods:
        sizes.append("NNGP: the infinite-width limit, not the width-40 network")
    priors = _experiment(spec).get("priors") or []
    title(fig, "Volume of n-bit parity against n, by each method",
          f"{shape} {act} MLPs, {prior_text(priors[0].get('prior') if priors else None)}; " + "; ".join(sizes) + ".",
          width=85)
    return fig


@styled
def reproduction_figure(freq: pd.DataFrame, lz: pd.DataFrame, n: int = 7, spec=None):
    encs = list(dict.fromkeys(freq["encoding"]))
    fig, axes = panels(2, cols=2, height=4.0)
    for k, e in enumerate(encs):
        st = series(k)
        f = freq[freq["encoding"] == e]
        r = np.r_[f["rank_first"].to_numpy(), f["rank_last"].to_numpy()]
        p = np.r_[f["probability"].to_numpy(), f["probability"].to_numpy()]
        o = np.argsort(r, kind="stable")
        axes[0].loglog(r[o], p[o], color=st["color"], ls=st["ls"], lw=1.5)
        d = lz[lz["encoding"] == e]
        axes[1].scatter(d["lz"] + dodge(k, len(encs), 0.9), d["log10_probability"],
                        s=np.clip(np.log10(d["functions"] + 1) * 8, 6, 40), marker=st["marker"], alpha=0.55,
                        color=st["color"], edgecolors="none")
    rmax = float(freq["rank_last"].max()) if len(freq) else 10.0
    rr = np.logspace(0, np.log10(max(rmax, 10.0)), 50)
    axes[0].loglog(rr, 1 / (rr * (2**n) * np.log(2)), color="black", ls=(0, (2, 2)), lw=1.2)
    axes[0].set_xlabel("rank r of the function (most frequent first)")
    axes[0].set_ylabel("P(f): share of the networks")
    axes[0].set_title("rank against frequency")
    axes[1].set_xlabel("Lempel-Ziv complexity of the truth table")
    axes[1].set_ylabel("log10 P(f)")
    axes[1].set_title("P(f) against complexity (marker area: functions)")
    for ax in axes:
        ax.grid(lw=0.4, alpha=0.5)
    handles = [Line2D([], [], color=series(k)["color"], ls=series(k)["ls"], marker=series(k)["marker"], lw=1.5,
                      label=ENCODINGS.get(e, e)) for k, e in enumerate(encs)]
    handles.append(Line2D([], [], color="black", ls=(0, (2, 2)), lw=1.2, label=f"Zipf's law 1/(r ln N_O), N_O = 2^{2**n}"))
    legend_below(fig, handles, [h.get_label() for h in handles], ncol=3)
    r = (_experiment(spec).get("reproduction") or {})
    model = str(freq["model"].iloc[0]).partition(",")[0] if "model" in freq and len(freq) else f"{n}-40-40-1 mlp"
    shape = model.replace(" mlp", "")
    act = r.get("activation", "relu")
    samples = count_text(r.get("samples")) if r.get("samples") else "?"
    priors = _experiment(spec).get("priors") or []
    title(fig, f"The {n}-bit census: rank against frequency (Zipf's law), and P(f) against Lempel-Ziv complexity",
          f"{shape} {act} MLP, {prior_text(priors[0].get('prior') if priors else None)}; {samples} networks for each "
          "input encoding; the two encodings' points are spread sideways by 0.45 either way.")
    return fig


def write_figures(tables: dict[str, pd.DataFrame], out: Path, spec=None) -> list[str]:
    """Every figure the tables allow, written into ``out``; returns the file names."""
    names = []
    if "classes" in tables:
        for n in sorted(set(tables["classes"]["n"])):
            name = f"volumes_n{n}.png"
            save(volumes_figure(tables["classes"][tables["classes"]["n"] == n], int(n), spec), out / name)
            names.append(name)
    if "correlations" in tables:
        save(correlations_figure(tables["correlations"], spec), out / "correlations.png")
        names.append("correlations.png")
    if "ladder" in tables:
        save(ladder_figure(tables["ladder"], spec), out / "ladder.png")
        names.append("ladder.png")
    if "frequency" in tables and "lz" in tables:
        save(reproduction_figure(tables["frequency"], tables["lz"], spec=spec), out / "reproduction.png")
        names.append("reproduction.png")
    return names
