"""The depth experiment's figures, drawn from its tables (any part may be missing) and the run's
settings as the manifest records them (``spec``: the prior, the input size, the SMC settings).

* ``depth_bias.png``: log10 P(f) against depth at equal parameter count, one panel per model kind
  (the width of each depth under its tick), one series per target and method, each with its own
  colour, marker and line style, spread sideways a little so that equal volumes (and4 and or4)
  stay visible; 95% intervals as bars. A target with no hit is its own marker, open, at the 95%
  upper bound (hit-or-miss, or the readout when no network's readout reaches it) or at
  ``log10_bound`` (tempered SMC, no replicate reached it); a line breaks where its target has no
  point. A readout point whose Pareto k-hat says the mean is not yet reliable is drawn faded.
* ``lesions.png``: per residual depth, the distribution of the longest used path among all
  networks and among each target's solutions, against the binomial ``(depth, 1/2)`` of an
  unweighted ensemble of paths.
* ``routes.png``: per decomposition and width, the measured ``V(f and tree) / V(f and chain)``
  against depth with its interval, next to the placement-count ratios (one circuit of each
  shape; all decompositions of each shape) and the same ratio among all networks drawn (grey);
  an infinite ratio (no solution takes the chain) is an upward arrow at the panel's top.

Each figure is titled with the networks, the prior and the sample sizes; legends sit under the
panels.

Example:
    >>> import tempfile, pathlib, pandas as pd
    >>> bias = pd.DataFrame({"model": ["mlp"] * 2, "depth": [1, 2], "width": [100, 21], "target": ["and4"] * 2,
    ...                      "samples": 1024, "log10_volume": [-2.0, -2.5], "ci95_lo": [-2.1, -2.6],
    ...                      "ci95_hi": [-1.9, -2.4]})
    >>> write_figures({"bias": bias}, pathlib.Path(tempfile.mkdtemp()))
    ['depth_bias.png']
    >>> fig = bias_figure(bias, {"experiment": {"n_inputs": 4, "prior": {"kind": "gaussian"}}})
    >>> fig._suptitle.get_text().splitlines()[1][:60]
    '4-input relu MLPs of about 600 parameters each (the width of'
    >>> plt.close(fig)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from counting.io.figures import (count_text, dodge, legend_below, panels, plt, prior_text, save, series, styled,
                                 title)
from counting.mechanisms.lesions import path_length_pmf

MODEL_NAMES = {"mlp": "MLP (hidden layers)", "resmlp": "residual MLP (blocks)"}
METHOD_NAMES = {"mc": "hit-or-miss", "smc": "tempered SMC", "readout": "readout integrated out",
                "readout_smc": "readout integrated out, tempered"}
FADED = 0.35  # alpha of a readout point its k-hat calls not reliable


def _experiment(spec) -> dict:
    return (spec or {}).get("experiment") or {}


def _part(spec, name: str) -> dict:
    return _experiment(spec).get(name) or {}


def _smc_words(part: dict, replicates=None) -> str:
    """``4 replicates of 500 particles`` from a part's SMC settings (``[part.estimator]``, or the
    part's own keys in a manifest written before that table existed)."""
    est = part.get("estimator") if isinstance(part.get("estimator"), dict) else part
    r = replicates if replicates is not None else est.get("replicates")
    p = est.get("particles")
    if r is None and p is None:
        return "tempered SMC"
    return f"tempered SMC, {count_text(r)} replicates of {count_text(p)} particles"


def _networks(spec, kind: str, what: str) -> str:
    """``4-input relu MLPs and residual MLPs`` for the bias and lesion parts."""
    n = _experiment(spec).get("n_inputs", 4)
    return f"{n}-input {_part(spec, what).get('activation', 'relu')} {kind}"


def _log_axis(ax) -> None:
    """Plain numbers (0.2, 1, 5; over many decades 0.1, 1, 10) on a log axis instead of powers of ten."""
    ax.set_yscale("log")
    lo, hi = ax.get_ylim()
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0) if hi / lo < 300 else (1.0,)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


@styled
def bias_figure(bias: pd.DataFrame, spec=None):
    if "method" not in bias:
        bias = bias.assign(method="mc")
    models = list(dict.fromkeys(bias["model"]))
    keys = list(dict.fromkeys(zip(bias["target"], bias["method"])))
    both = bias["method"].nunique() > 1
    fig, axes = panels(len(models), cols=2, height=4.0, sharey=True)
    step = min(0.12, 0.75 / max(len(keys), 1))  # wide enough for each marker to show beside the next
    bound_col = {"mc": "ci95_hi", "smc": "log10_bound", "readout": "ci95_hi", "readout_smc": "log10_bound"}
    for ax, model in zip(axes, models):
        df = bias[bias["model"] == model]
        depths = sorted(set(df["depth"]))
        for k, (t, method) in enumerate(keys):
            st = series(k)
            d = df[(df["target"] == t) & (df["method"] == method)].set_index("depth").reindex(depths)
            x = np.asarray(depths, dtype=np.float64) + dodge(k, len(keys), step)
            y = pd.to_numeric(d["log10_volume"], errors="coerce").to_numpy(np.float64)
            lo = pd.to_numeric(d["ci95_lo"], errors="coerce").to_numpy(np.float64)
            hi = pd.to_numeric(d["ci95_hi"], errors="coerce").to_numpy(np.float64)
            # nan rows break the line: it never runs past a depth where its target has no point
            ax.plot(x, y, ls=st["ls"], color=st["color"], lw=1.3)
            err = np.vstack([np.nan_to_num(y - lo), np.nan_to_num(hi - y)])  # no lower end: no lower bar
            ok = np.isfinite(y)
            weak = np.zeros_like(ok)
            if method == "readout" and "reliable" in d:
                weak = ok & ~d["reliable"].map(lambda v: v is True or v is np.True_).to_numpy(bool)
            for sel, alpha in ((ok & ~weak, 1.0), (weak, FADED)):
                if sel.any():
                    ax.errorbar(x[sel], y[sel], yerr=err[:, sel], fmt=st["marker"], ms=5, capsize=2, lw=1,
                                color=st["color"], mec="black", mew=0.4, zorder=3, alpha=alpha)
            if bound_col.get(method) in d:
                b = pd.to_numeric(d[bound_col[method]], errors="coerce").to_numpy(np.float64)
                miss = d["log10_volume"].isna().to_numpy() & np.isfinite(b)
                if miss.any():
                    ax.scatter(x[miss], b[miss], marker=st["marker"], s=34, facecolors="white",
                               edgecolors=st["color"], linewidths=1.4, zorder=4)
        widths = df.drop_duplicates("depth").set_index("depth")["width"]
        ax.set_xticks(depths, [f"{L}\nw {int(widths[L])}" for L in depths])
        ax.set_title(MODEL_NAMES.get(model, model))
        ax.set_xlabel("depth (hidden layers or blocks); w: width")
        ax.grid(axis="y", lw=0.4, alpha=0.5)
    axes[0].set_ylabel("log10 P(f)")
    handles = [Line2D([], [], color=series(k)["color"], ls=series(k)["ls"], marker=series(k)["marker"], ms=6,
                      mec="black", mew=0.4, label=f"{t} ({METHOD_NAMES.get(m, m)})" if both else t)
               for k, (t, m) in enumerate(keys)]
    methods = list(dict.fromkeys(bias["method"]))
    words = {"mc": "open marker: no hit, drawn at the 95% upper bound",
             "smc": "open marker: no SMC replicate reached f, drawn at the bound log10_bound",
             "readout": "faded: readout k-hat says not yet reliable"}
    handles += [Line2D([], [], ls="none", marker="o", mfc="white", mec="0.3", mew=1.4, ms=7, label=words[m])
                if m != "readout" else
                Line2D([], [], ls="none", marker="o", color="0.3", mec="black", mew=0.4, ms=6, alpha=FADED, label=words[m])
                for m in methods if m in words]
    legend_below(fig, handles, [h.get_label() for h in handles], ncol=4)
    params = int(np.round(np.median(bias["params"]), -2)) if "params" in bias else 600
    kinds = " and ".join({"mlp": "MLPs", "resmlp": "residual MLPs"}.get(m, m) for m in models)
    setting = (f"{_networks(spec, kinds, 'bias')} of about {params} parameters each (the width "
               f"of each depth under its tick), {prior_text(_experiment(spec).get('prior'))}; ")
    parts = []
    if "mc" in methods:
        n = bias.loc[bias["method"] == "mc", "samples"] if "samples" in bias else pd.Series(dtype=float)
        count = count_text(n.iloc[0]) if n.nunique() == 1 else "several"
        parts.append(f"hit-or-miss, {count} networks per point, bars: 95% Clopper-Pearson interval")
    if "smc" in methods:
        reps = bias.loc[bias["method"] == "smc", "replicates"] if "replicates" in bias else pd.Series(dtype=float)
        parts.append(_smc_words(_part(spec, "bias"), int(reps.max()) if len(reps.dropna()) else None)
                     + " per point, bars: 95% Student-t interval over replicates")
    if "readout" in methods:
        n = bias.loc[bias["method"] == "readout", "samples"]
        count = count_text(n.iloc[0]) if n.nunique() == 1 else "several"
        parts.append(f"readout integrated out over {count} hidden draws per point, bars: 95% normal interval")
    if "readout_smc" in methods:
        reps = bias.loc[bias["method"] == "readout_smc", "replicates"]
        parts.append(f"readout integrated out, tempered over the hidden layers, {count_text(int(reps.max()))} "
                     "replicates per point, bars: 95% Student-t interval over replicates")
    targets = set(bias["target"])
    same = " and4 and or4 have the same volume under this prior, so their points sit side by side." \
        if {"and4", "or4"} <= targets else ""
    title(fig, "Prior probability P(f) that a network computes f, against depth at an equal parameter count",
          setting + "; ".join(parts) + "." + same)
    return fig


@styled
def lesions_figure(summary: pd.DataFrame, lesions: pd.DataFrame, spec=None):
    depths = sorted(set(summary["depth"]))
    big = summary[summary["n"] >= 20]  # a group with fewer solutions has no distribution drawn
    groups = list(dict.fromkeys(big["group"]))
    fig, axes = panels(len(depths), cols=2 if len(depths) == 4 else 3, height=3.1)
    shown: dict[str, list[int]] = {}
    for ax, L in zip(axes, depths):
        ks = np.arange(L + 1)
        ax.plot(ks, path_length_pmf(L), color="black", ls=(0, (2, 2)), lw=1.6)
        for k, g in enumerate(groups):
            st = series(k)
            d = lesions[(lesions["depth"] == L) & (lesions["group"] == g)]
            n = summary[(summary["depth"] == L) & (summary["group"] == g)]["n"]
            if d.empty or int(n.iloc[0]) < 20:
                continue  # too few solutions to draw a distribution
            shown.setdefault(g, []).append(int(n.iloc[0]))
            pmf = d.groupby("longest_path")["count"].sum().reindex(ks, fill_value=0) / int(n.iloc[0])
            ax.plot(ks, pmf.values, marker=st["marker"], ls=st["ls"], ms=5.5, lw=1.3, color=st["color"], mec="black",
                    mew=0.3)
        width = summary.loc[summary["depth"] == L, "width"].iloc[0]
        ax.set_xticks(ks)
        ax.set_title(f"{L} blocks, width {int(width)}")
        ax.set_xlabel("longest used path (blocks)")
        ax.set_ylabel("share of networks")
        ax.grid(axis="y", lw=0.4, alpha=0.5)
    handles = [Line2D([], [], color="black", ls=(0, (2, 2)), lw=1.6, label="binomial (ensemble of paths)")]
    for k, g in enumerate(groups):
        if g in shown:
            st, ns = series(k), shown[g]
            n = f"{min(ns):,}" if min(ns) == max(ns) else f"{min(ns):,} to {max(ns):,}"
            what = "all networks" if g == "all" else f"{g} solutions"
            handles.append(Line2D([], [], color=st["color"], ls=st["ls"], marker=st["marker"], mec="black", mew=0.3,
                                  label=f"{what} (n = {n})"))
    legend_below(fig, handles, [h.get_label() for h in handles], ncol=3)
    part = _part(spec, "lesions")
    params = int(np.round(np.median(summary["params"]), -2)) if "params" in summary else part.get("params", 600)
    total = count_text(summary.loc[summary["group"] == "all", "n"].max()) if (summary["group"] == "all").any() \
        else count_text(part.get("samples"))
    title(fig, "How many blocks a random residual network uses: the longest chain of used blocks",
          f"{_networks(spec, 'residual MLPs', 'lesions')} of about {params} parameters, "
          f"{prior_text(_experiment(spec).get('prior'))}; {total} networks per depth; targets with fewer than 20 "
          "solutions at a depth are left out there.")
    return fig


@styled
def routes_figure(routes: pd.DataFrame, spec=None):
    decs = list(dict.fromkeys(routes["decomposition"]))
    widths = sorted(set(routes["width"]))
    n = len(decs) * len(widths)
    cols = min(len(widths) if len(widths) > 1 else n, 3)  # a row per decomposition, or side by side
    fig, axes = panels(n, cols=cols, width=10.5 if n > 1 else 6.0, height=3.4)
    methods = [m for m in ("mc", "smc", "readout") if (routes["method"] == m).any()]
    mstyle = {"mc": series(0), "smc": series(1), "readout": series(2)}
    infinite, drawn = False, set()
    for i, (dname, w) in enumerate((d, w) for d in decs for w in widths):
        ax = axes[i]
        d = routes[(routes["decomposition"] == dname) & (routes["width"] == w)].sort_values("depth")
        pr = d.drop_duplicates("depth")
        ax.plot(pr["depth"], pr["placement_ratio"], color="black", ls="--", lw=1.3)
        ax.plot(pr["depth"], pr["placement_ratio_all"], color="black", ls=":", lw=1.5)
        base = d[(d["method"] == "mc")] if "takes_tree_prior" in d else d.iloc[:0]
        base = base[(base["takes_chain_prior"] > 0) & (base["takes_tree_prior"] > 0)] if len(base) else base
        if len(base):
            ax.plot(base["depth"], base["takes_tree_prior"] / base["takes_chain_prior"], color="0.5", marker=".",
                    lw=1)
        tops = []
        for k, method in enumerate(methods):
            st = mstyle[method]
            x_shift = dodge(k, len(methods), 0.08)
            v = d[(d["method"] == method) & np.isfinite(d["ratio_tree_chain"])]
            inf = d[(d["method"] == method) & np.isposinf(d["ratio_tree_chain"])]
            if len(v) or len(inf):
                drawn.add(method)
            if len(v):
                r = v["ratio_tree_chain"].to_numpy(np.float64)
                lo = np.clip(r - v["ratio_lo"].to_numpy(np.float64), 0, None)
                hi_end = v["ratio_hi"].to_numpy(np.float64)
                hi = np.where(np.isfinite(hi_end), np.clip(hi_end - r, 0, None), 0)
                x = v["depth"].to_numpy(np.float64) + x_shift
                ax.errorbar(x, r, yerr=[lo, hi], marker=st["marker"], ls=st["ls"], color=st["color"], ms=6, capsize=2,
                            lw=1.3, mec="black", mew=0.4, zorder=3)
                for xi, ri in zip(x[~np.isfinite(hi_end)], r[~np.isfinite(hi_end)]):
                    tops.append((xi, ri, st["color"]))  # no upper end: an arrow to the panel's top
            for xi in inf["depth"].to_numpy(np.float64) + x_shift:
                tops.append((xi, None, st["color"]))
        if tops:
            infinite = True
            for xi, ri, color in tops:
                ax.annotate("", xy=(xi, 0.98), xycoords=("data", "axes fraction"),
                            xytext=(xi, ri if ri is not None else 0.80),
                            textcoords=("data", "data" if ri is not None else "axes fraction"),
                            arrowprops=dict(arrowstyle="-|>", color=color, lw=1.3))
        seen = d[np.isfinite(d["ratio_tree_chain"]) | np.isposinf(d["ratio_tree_chain"])]
        if seen.empty:
            n = int(d["solutions"].sum())
            words = (f"no solution takes either route\n({n:,} solutions classified)" if n else
                     "no solution seen by hit-or-miss\n(no SMC run at this width)")
            ax.text(0.5, 0.5, words, transform=ax.transAxes, ha="center", va="center", fontsize=9,
                    bbox=dict(fc="white", ec="0.6", lw=0.5))
        _log_axis(ax)
        ax.axhline(1, color="0.6", lw=0.6)
        ax.set_xticks(sorted(set(d["depth"])))
        ax.set_title(f"{dname}, width {w}")
        ax.set_xlabel("residual blocks L")
        ax.set_ylabel("V(f and tree) / V(f and chain)")
    handles = [Line2D([], [], color="black", ls="--", lw=1.3, label="placement count, one circuit of each shape"),
               Line2D([], [], color="black", ls=":", lw=1.5, label="placement count, all decompositions"),
               Line2D([], [], color="0.5", marker=".", lw=1, label="same ratio among all networks drawn")]
    for method in [m for m in methods if m in drawn]:
        st = mstyle[method]
        handles.append(Line2D([], [], color=st["color"], ls=st["ls"], marker=st["marker"], mec="black", mew=0.4,
                              label=f"measured ({METHOD_NAMES[method]})"))
    if infinite:
        handles.append(Line2D([], [], color="0.3", marker="^", ls="none",
                              label="arrow to the top: no upper end (infinite ratio: no solution takes the chain)"))
    legend_below(fig, handles, [h.get_label() for h in handles], ncol=2)
    part = _part(spec, "routes")
    mc = routes.loc[routes["method"] == "mc", "samples"]
    sizes = []
    if len(mc):
        sizes.append(f"hit-or-miss, {count_text(mc.iloc[0]) if mc.nunique() == 1 else 'several'} networks per point "
                     "(95% Clopper-Pearson intervals)")
    if "smc" in methods:
        reps = routes.loc[routes["method"] == "smc", "replicates"].dropna()
        sizes.append(_smc_words(part, int(reps.max()) if len(reps) else None)
                     + " per point (95% Student-t intervals over replicates)")
    if "readout" in methods:
        ro = routes.loc[routes["method"] == "readout", "samples"]
        sizes.append(f"readout integrated out over {count_text(ro.iloc[0]) if ro.nunique() == 1 else 'several'} "
                     "hidden draws per point (95% delta-method intervals)")
    n = _experiment(spec).get("n_inputs", 4)
    title(fig, "Tree against chain: V(f and tree) / V(f and chain) against depth, next to the placement counts",
          f"{n}-input {part.get('activation', 'relu')} residual MLPs (width in each panel), "
          f"{prior_text(_experiment(spec).get('prior'))}; " + "; ".join(sizes) + ".")
    return fig


def write_figures(result: dict[str, pd.DataFrame], out: Path, spec=None) -> list[str]:
    """Draw the figures whose tables are present into ``out``; returns their file names."""
    out = Path(out)
    files = []
    if "bias" in result and len(result["bias"]):
        files.append(save(bias_figure(result["bias"], spec), out / "depth_bias.png"))
    if "lesion_summary" in result and len(result["lesion_summary"]):
        files.append(save(lesions_figure(result["lesion_summary"], result["lesions"], spec), out / "lesions.png"))
    if "routes" in result and len(result["routes"]) and np.isfinite(result["routes"]["placement_ratio"]).any():
        files.append(save(routes_figure(result["routes"], spec), out / "routes.png"))
    return files
