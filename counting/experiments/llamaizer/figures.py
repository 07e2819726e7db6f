"""The llamaizer's three figures, drawn from its result tables (written by :func:`counting.io.figures.save`).

* :func:`cost_figure`: the cost in bits of holding each llama, against its Fourier degree, per layer;
* :func:`share_figure`: the share of the target's volume holding some llama as the family grows;
* :func:`discard_figure`: built in layer 1 and discarded by the last hidden layer, against kept.

Every figure is titled with the networks, the prior and the number of networks drawn (from the
run's settings as the manifest records them, ``spec``), every axis labelled with its unit, the legend
sits under the panels, and a caption under it says what each point is and what its interval is: the exact 95% Clopper-Pearson interval of a share
``k / n`` among the ``n`` sampled networks computing the target (a point when enumerated), which
:func:`counting.experiments.base.shares.share_columns` computes. Llamas are named by a formula
(:func:`llama_label`), never by their hex truth table. Colours are seaborn's colour-blind palette,
and each curve or layer also has its own marker and line style.

Example:
    >>> import pandas as pd
    >>> fig = share_figure(pd.DataFrame({"architecture": ["a"] * 2, "target": ["t"] * 2,
    ...     "family": ["f"] * 2, "layer": ["any"] * 2, "K": [1, 2], "n_f": [10, 10], "n_f_and_any": [1, 2],
    ...     "share": [.1, .2], "share_lo": [.01, .05], "share_hi": [.4, .5], "naive_share": [.5, 2 / 3],
    ...     "sum_of_shares": [.1, .2], "overlap": [0., 0.]}))
    >>> type(fig).__name__, fig.axes[0].get_title()
    ('Figure', 'llama family f')
    >>> plt.close(fig)
    >>> llama_label("0xf0f0f0f0"), llama_label("0x0ff00ff0"), llama_label("0x2")
    ('x2', 'x2 xor x3', 'x0 and not x1')
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from counting.boolean.formula import formula
from counting.io.figures import (MARKERS, PALETTE, caption, count_text, legend_below, plt, prior_text, save, styled,
                                 title)

LINESTYLES = ("-", "--", "-.", (0, (1, 1)), (0, (5, 2, 1, 2, 1, 2)))


@functools.lru_cache(maxsize=None)
def llama_label(truth_table: str) -> str:
    """A readable name of a llama given as the tables write it (``'0x'`` and ``ceil(2**n / 4)`` hex
    digits, ``n`` from 2 to 5): its formula in ``x0 .. x{n-1}`` (:func:`counting.boolean.formula.formula`)."""
    digits = len(truth_table) - 2
    n = max(2, (4 * digits).bit_length() - 1)  # 1 digit: n = 2 (the experiment's smallest n)
    return formula(int(truth_table, 16), n)


def _palette(k: int) -> list:
    return [PALETTE[i % len(PALETTE)] for i in range(max(k, 1))]


def setting(spec, architectures) -> str:
    """The networks, the prior and the networks drawn, in words, for the named ``architectures`` (the
    manifest's ``spec``; without it, only the architectures' names)."""
    archs = list(dict.fromkeys(architectures))
    exp = (spec or {}).get("experiment") or {}
    if not exp:
        return "networks " + ", ".join(archs)
    listed = {a.get("name"): a for a in exp.get("architectures", [])}
    acts = sorted({listed[a].get("activation", "relu") for a in archs if a in listed}) or ["relu"]
    est = exp.get("estimator")
    kind = est.get("kind") if isinstance(est, dict) else est
    head = f"{exp.get('n_inputs', '?')}-input {'/'.join(acts)} MLPs, {prior_text(exp.get('prior'))}; "
    if kind == "exact":
        return head + "every configuration of the prior enumerated (shares exact)"
    drawn = {a: listed[a].get("samples") or exp.get("samples") for a in archs if a in listed}
    if not drawn:
        return head + "networks " + ", ".join(archs)
    if len(set(drawn.values())) == 1:
        return head + f"{count_text(next(iter(drawn.values())))} networks drawn for each architecture"
    if len(drawn) <= 3:
        return head + "networks drawn: " + ", ".join(f"{count_text(v)} for {a}" for a, v in drawn.items())
    return head + (f"from {count_text(max(drawn.values()))} to {count_text(min(drawn.values()))} networks drawn per "
                   "architecture (fewer for the wider ones)")


def _interval_words(lo: pd.Series, hi: pd.Series) -> str:
    """How the tables' intervals were made: exact Clopper-Pearson when sampled, none when enumerated."""
    lo, hi = lo.to_numpy(float), hi.to_numpy(float)
    both = np.isfinite(lo) & np.isfinite(hi)
    if both.any() and np.array_equal(lo[both], hi[both]):
        return "no interval: the prior was enumerated exactly, so every share is exact"
    return ("exact 95% Clopper-Pearson interval of the binomial share k/n, where n = n(f) is the number of "
            "sampled networks computing the target (any function of its orbit of permuted and negated "
            "inputs) and k the number of those that also satisfy the condition (two-sided, 2.5% in each "
            "tail; when k = 0 the upper end is the one-sided 95% bound 1 - 0.05^(1/n))")


def _n_f(df: pd.DataFrame) -> str:
    """``n(f) = 29,298`` for a panel, or ``n(f) = 0`` when no network computed the target."""
    n = df["n_f"].dropna().unique() if "n_f" in df else []
    return f"n(f) = {int(n[0]):,}" if len(n) == 1 else "n(f) varies" if len(n) else "no rows"


def _panel_title(arch: str, target: str, df: pd.DataFrame) -> str:
    return f"{arch} network, target {target}\n({_n_f(df)} networks computing it)"


def _families_words(cost: pd.DataFrame) -> str:
    """Which degrees each family's llamas have, and whether any was ever seen."""
    parts = []
    for fam, s in cost.groupby("family", sort=False):
        lo, hi = int(s["degree"].min()), int(s["degree"].max())
        never = "" if (s["n_f_and_g"] > 0).any() else ", never seen"
        parts.append(f"{fam}, degree {lo}" + (f" to {hi}" if hi > lo else "") + never)
    return ("Llama families (a llama listed by several is counted in the first): " + "; ".join(parts) + "."
            if parts else "")


@styled
def cost_figure(cost: pd.DataFrame, spec=None):
    """Constraint cost in bits of each llama against its Fourier degree, one panel per
    architecture and target, one colour and marker per hidden layer; open markers were never seen
    (drawn at the lower end of their cost's interval)."""
    layered = cost[cost["layer"] != "any"]
    df = layered[np.isfinite(layered["cost_bits_lo"])].copy()
    # panels for every architecture and target, even one with no finite cost (never hit, say)
    rows, cols = sorted(layered["architecture"].unique()) or ["-"], sorted(layered["target"].unique()) or ["-"]
    fig, axes = plt.subplots(len(rows), len(cols), figsize=(10.5 if len(cols) > 1 else 6.0, 3.9 * len(rows)),
                             squeeze=False, sharey=True)
    layers = sorted(df["layer"].unique(), key=lambda s: (not s.isdigit(), int(s) if s.isdigit() else 0, s))
    pal = dict(zip(layers, _palette(len(layers))))
    mark = {lay: MARKERS[k % len(MARKERS)] for k, lay in enumerate(layers)}
    degrees = sorted(int(d) for d in df["degree"].unique())
    ends = df[["cost_bits_lo", "cost_bits_hi"]].to_numpy(float)
    span = np.ptp(ends[np.isfinite(ends)]) if np.isfinite(ends).any() else 1.0
    for i, a in enumerate(rows):
        for j, t in enumerate(cols):
            ax = axes[i, j]
            sub = df[(df["architecture"] == a) & (df["target"] == t)]
            for k, lay in enumerate(layers):
                s = sub[sub["layer"] == lay]
                x = s["degree"].to_numpy(float) + (k - (len(layers) - 1) / 2) * 0.14
                seen = np.isfinite(s["cost_bits"].to_numpy(float))
                v = np.where(seen, s["cost_bits"], s["cost_bits_lo"])
                lo, hi = s["cost_bits_lo"].to_numpy(float), s["cost_bits_hi"].to_numpy(float)
                err = np.vstack([np.clip(v - lo, 0, None), np.clip(hi - v, 0, None)])[:, seen]
                ax.errorbar(x[seen], v[seen], yerr=err, fmt=mark[lay], ms=4, lw=0.7, color=pal[lay],
                            mec="black", mew=0.3, alpha=0.85, zorder=3)
                ax.scatter(x[~seen], v[~seen], marker=mark[lay], facecolors="white", edgecolors=pal[lay],
                           s=22, lw=1.0, zorder=2)
            # name the cheapest llama of each degree in the first layer
            shift = -(len(layers) - 1) / 2 * 0.14
            first = sub[(sub["layer"] == layers[0]) & np.isfinite(sub["cost_bits"])] if layers else sub.iloc[:0]
            last_y = None  # a label whose neighbour on the left sits at about the same height is left out
            for d, s in first.groupby("degree"):
                r = s.loc[s["cost_bits"].idxmin()]
                if last_y is not None and abs(r["cost_bits"] - last_y) < 0.035 * span:
                    continue
                last_y = r["cost_bits"]
                ax.annotate(llama_label(r["llama"]), (d + shift, r["cost_bits"]), xytext=(-5, -1),
                            textcoords="offset points", ha="right", va="center", fontsize=8)
            ax.set_title(_panel_title(a, t, layered[(layered["architecture"] == a) & (layered["target"] == t)]))
            ax.set_xlabel("Fourier degree of the llama g")
            if degrees:
                ax.set_xticks(degrees)
                ax.set_xlim(min(degrees) - 0.9, max(degrees) + 0.5)
            ax.grid(axis="y", lw=0.4, alpha=0.5)
            if j == 0:
                ax.set_ylabel("cost -log2 n(f and g) / n(f)  [bits]")
    handles = [Line2D([], [], ls="none", marker=mark[lay], color=pal[lay], mec="black", mew=0.3, ms=6,
                      label=f"layer {lay}") for lay in layers]
    handles.append(Line2D([], [], ls="none", marker="o", mfc="white", mec="grey", ms=6,
                          label="open marker: never seen (at the lower end of the cost's interval)"))
    legend_below(fig, handles, [h.get_label() for h in handles], ncol=3, title_="hidden layer holding g")
    title(fig, "What a llama costs: bits of f's volume given up for a hidden layer to also hold llama g",
          setting(spec, rows))
    caption(fig, "Each point is one llama g (a function the target f does not need; its unit's sign pattern "
                  "may be g or not g) in one hidden layer; layers are spread sideways around each degree. "
                  "Cost = -log2 of the share of the networks computing f whose layer also holds g. "
                  "Error bars: " + _interval_words(df["share_lo"], df["share_hi"]) + ", turned into bits "
                  "(-log2 of each end). Open markers: g never seen in that layer, drawn at -log2 of the "
                  "share's upper end, a 95% lower bound on the cost. The cheapest llama of each degree in "
                  f"layer {layers[0] if layers else 1} is named (others of about the same cost may hide under "
                  "it). " + _families_words(layered))
    return fig


def _log_ticks(ax, kmax: int) -> None:
    """Plain integer ticks on a log K axis."""
    ticks = [t for t in (1, 2, 3, 4, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000) if t <= kmax]
    if kmax > 10:
        ticks = [t for t in ticks if t not in (3, 4, 5)]
    ticks = [t for t in ticks if t == kmax or t * 1.5 < kmax] + ([] if kmax in ticks else [kmax])
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))


@styled
def share_figure(share: pd.DataFrame, spec=None):
    """Llamaizer share of f's volume as the family grows, against the naive count ``K/(K+1)``."""
    df = share[share["layer"] == "any"]
    fams = sorted(df["family"].unique()) or ["-"]
    cols = min(len(fams), 3)
    rows_ = -(-len(fams) // cols)
    fig, axes = plt.subplots(rows_, cols, figsize=(10.5 if cols > 1 else 6.0, 3.8 * rows_), squeeze=False,
                             sharey=True)
    for ax in list(axes.flat)[len(fams):]:
        ax.set_visible(False)
    axes = np.array(list(axes.flat)[:len(fams)]).reshape(1, -1)
    keys = sorted({(a, t) for a, t in zip(df["architecture"], df["target"])})
    pal = dict(zip(keys, _palette(len(keys))))
    style = {key: (MARKERS[k % len(MARKERS)], LINESTYLES[k % len(LINESTYLES)]) for k, key in enumerate(keys)}
    for ax, fam in zip(axes[0], fams):
        sub = df[df["family"] == fam]
        for key in keys:
            s = sub[(sub["architecture"] == key[0]) & (sub["target"] == key[1])].sort_values("K")
            if s.empty:
                continue
            k = s["K"].to_numpy()
            every = [i for i, v in enumerate(k) if v & (v - 1) == 0 or i == len(k) - 1]  # K = 1, 2, 4, ... and last
            ax.fill_between(k, s["share_lo"], s["share_hi"], color=pal[key], alpha=0.25, lw=0)
            ax.plot(k, s["share"], color=pal[key], lw=1.4, ls=style[key][1], marker=style[key][0], ms=5,
                    markevery=every, mec="black", mew=0.3, label=f"{key[0]}, target {key[1]}")
        k = np.unique(sub["K"])
        ax.plot(k, k / (k + 1), color="black", ls=(0, (2, 2)), lw=1.2, label="naive count K/(K+1)")
        ax.set_xscale("log")
        if len(k):
            _log_ticks(ax, int(k.max()))
        ax.set_ylim(-0.02, 1.02)
        ax.grid(lw=0.4, alpha=0.5)
        ax.set_title(f"llama family {fam}")
        ax.set_xlabel("K: the family's first K llamas (log scale)")
        seen = sub["share"].to_numpy(float)
        seen = seen[np.isfinite(seen)]
        if len(seen) and not seen.any():
            top = np.nanmax(sub["share_hi"].to_numpy(float), initial=0)
            ax.text(0.5, 0.18, f"no network computing its target held any\nof these llamas: share 0 "
                    f"(95% upper end\nat most {top:.1g}), all curves on the axis", transform=ax.transAxes,
                    ha="center", va="center", fontsize=8, bbox=dict(fc="white", ec="grey", lw=0.5))
    axes[0, 0].set_ylabel("share of V(f) holding at least one\nof the first K llamas (fraction, 0 to 1)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    legend_below(fig, handles, labels, ncol=3, title_="network, target")
    title(fig, "Llamaizer share: how much of f's volume holds at least one of K llamas in some hidden layer, "
          "against the naive count K/(K+1)", setting(spec, [a for a, _ in keys]))
    caption(fig, "Each curve: the share of the networks computing f in which some hidden layer holds at least "
                  "one of the family's first K llamas (in the family's order). The dashed black curve is the "
                  "naive count, one direct solution against K llamaizer solutions. If the family were every "
                  "function the share would be 1 by definition, since every unit has some sign pattern. "
                  "Shaded bands: " + _interval_words(df["share_lo"], df["share_hi"]) + ".")
    return fig


@styled
def discard_figure(discard: pd.DataFrame, top: int = 12, spec=None):
    """For the llamas most often held at layer 1: share of f's volume that builds the llama in
    layer 1 and discards it (absent from the last hidden layer) versus builds and keeps it."""
    keys = sorted({(a, t) for a, t in zip(discard["architecture"], discard["target"])})
    rows, cols = sorted({a for a, _ in keys}) or ["-"], sorted({t for _, t in keys}) or ["-"]
    fig, axes = plt.subplots(len(rows), len(cols), figsize=(10.5 if len(cols) > 1 else 6.0,
                                                            0.26 * top * len(rows) + 1.3 * len(rows)),
                             squeeze=False, sharex=True)
    pal = _palette(2)
    what = {"discard": ("built in layer 1, dropped by the last hidden layer", pal[1], "o", -0.17),
            "keep": ("built in layer 1, still held by the last hidden layer", pal[0], "s", 0.17)}
    for i, a in enumerate(rows):
        for j, t in enumerate(cols):
            ax = axes[i, j]
            panel = discard[(discard["architecture"] == a) & (discard["target"] == t)]
            s = panel.assign(total=panel["built_discarded"] + panel["built_kept"])
            s = s[s["total"] > 0].sort_values(["total", "llama"], ascending=[False, True]).head(top)
            y = np.arange(len(s))
            for w, (label, colour, marker, dy) in what.items():
                v, lo, hi = (s[f"{w}_share{c}"].to_numpy(float) for c in ("", "_lo", "_hi"))
                ax.errorbar(v, y + dy, xerr=np.vstack([np.clip(v - lo, 0, None), np.clip(hi - v, 0, None)]),
                            fmt=marker, ms=5, lw=1, capsize=2, color=colour, mec="black", mew=0.3, label=label)
            ax.set_yticks(y, [llama_label(g) for g in s["llama"]], fontsize=8)
            ax.set_ylim(top - 0.5, -0.5)
            ax.set_xlim(0, 1.04 * max(np.nanmax(discard[["discard_share_hi", "keep_share_hi"]].to_numpy(float),
                                                initial=0), 1e-3))
            ax.grid(axis="x", lw=0.4, alpha=0.5)
            last = f" (last hidden layer {int(panel['last_layer'].iloc[0])})" if len(panel) else ""
            ax.set_title(f"{a} network{last}, target {t}\n({_n_f(panel)} networks computing it)")
            if not len(s):
                ax.text(0.5, 0.5, "no llama held in layer 1", transform=ax.transAxes, ha="center", fontsize=8)
            if i == len(rows) - 1:
                ax.set_xlabel("share of V(f)  (fraction, 0 to 1)")
            if j == 0:
                ax.set_ylabel(f"llama g (the {top} most often\nbuilt in layer 1)")
    handles = [Line2D([], [], ls="none", marker=m, color=c, mec="black", mew=0.3, ms=6, label=lab)
               for lab, c, m, _ in what.values()]
    legend_below(fig, handles, [h.get_label() for h in handles], ncol=2, title_="share of V(f) in which g is")
    title(fig, "Build then discard, or build and keep: where the llamas held in layer 1 go", setting(spec, rows))
    caption(fig, "For each llama g that hidden layer 1 holds in some network computing f (at most the "
                  f"{top} held most often, most often first), the share of those networks in which layer 1 "
                  "holds g and the last hidden layer does not (circles), and in which both do (squares). "
                  "Error bars: " + _interval_words(discard["discard_share_lo"], discard["discard_share_hi"])
                  + ".")
    return fig


def write_figures(result: dict[str, pd.DataFrame], out: Path, spec=None) -> list[str]:
    """Write the experiment's three figures into ``out``; returns their file names."""
    out = Path(out)
    return [save(cost_figure(result["cost"], spec), out / "cost.png"),
            save(share_figure(result["share"], spec), out / "share.png"),
            save(discard_figure(result["discard"], spec=spec), out / "discard.png")]
