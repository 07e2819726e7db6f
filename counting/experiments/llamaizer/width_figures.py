"""The llamaizer's figures across widths, drawn from its ``units``, ``cost`` and ``share`` tables.

* :func:`width_cost_figure`: a few representative llamas' cost in bits against the hidden width,
  in the first and the last hidden layer, per depth and target;
* :func:`independence_figure`: the measured chance that a layer holds a llama against
  ``1 - (1 - p_unit)**W``, what independent units would give, with and without the target;
* :func:`width_share_figure`: the share of the target's volume holding some llama of a family
  against the naive count, per width.

Each figure has a title naming the networks, the prior and the networks drawn, labelled axes,
legends outside the panels and a caption saying what each point and interval is.

Example:
    >>> import pandas as pd
    >>> u = pd.DataFrame({"architecture": ["a", "b"], "depth": 1, "target": "f", "llama": "0xf0f0f0f0",
    ...     "degree": 1, "threshold": True, "layer": 1, "width": [8, 32], "n_f": 100, "samples": 10**4,
    ...     "holds": [0.3, 0.7], "holds_lo": [0.2, 0.6], "holds_hi": [0.4, 0.8],
    ...     "predicted": [0.31, 0.69], "prior_holds": [0.3, 0.7], "prior_predicted": [0.3, 0.7], "agrees": True,
    ...     "prior_agrees": True})
    >>> fig = width_cost_figure(u)
    >>> fig.axes[0].get_title()
    'depth 1, target f'
    >>> plt.close(fig)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from counting.experiments.base.shares import cost_bits
from counting.experiments.llamaizer.figures import llama_label, setting
from counting.experiments.llamaizer.width import sweeps
from counting.io.figures import MARKERS, PALETTE, caption, legend_below, plt, save, series, styled, title

MIN_NETWORKS = 10  # cells with fewer networks computing f are left out of the cost figure

CLASSES = (("dictator", lambda r: r.degree == 1),
           ("threshold, degree 2", lambda r: r.degree == 2 and r.threshold),
           ("threshold, degree 3", lambda r: r.degree == 3 and r.threshold),
           ("not threshold", lambda r: not r.threshold))


def representatives(units: pd.DataFrame) -> list[str]:
    """One llama per complexity class (:data:`CLASSES`), the first of each in table order."""
    first = units.drop_duplicates("llama")
    chosen = []
    for _, test in CLASSES:
        hit = [r.llama for r in first.itertuples() if test(r)]
        if hit:
            chosen.append(hit[0])
    return chosen


def _cost(share: pd.Series) -> np.ndarray:
    return cost_bits(share.to_numpy(float))


@styled
def width_cost_figure(units: pd.DataFrame, spec=None):
    """Cost in bits, ``-log2`` of the share of the target's networks whose layer holds the llama,
    against the width, for the :func:`representatives` in the first and last hidden layer."""
    u = sweeps(units)
    depths, targets = sorted(u["depth"].unique()), list(dict.fromkeys(u["target"]))
    fig, axes = plt.subplots(len(depths), len(targets), figsize=(10.5 if len(targets) > 1 else 6.0,
                                                                  4.6 * len(depths)), squeeze=False, sharex=True)
    for i, depth in enumerate(depths):
        for j, target in enumerate(targets):
            ax = axes[i][j]
            d = u[(u["depth"] == depth) & (u["target"] == target)]
            llamas = representatives(d)
            colours = [PALETTE[k % len(PALETTE)] for k in range(max(len(llamas), 1))]
            for k, g in enumerate(llamas):
                for layer, style in ((1, "-"), (int(d["layer"].max()), "--")):
                    s = d[(d["llama"] == g) & (d["layer"] == layer) & (d["n_f"] >= MIN_NETWORKS)].sort_values("width")
                    if s.empty or (layer == 1 and style == "--"):
                        continue
                    c, lo, hi = _cost(s["holds"]), _cost(s["holds_hi"]), _cost(s["holds_lo"])
                    seen = np.isfinite(c)
                    w = s["width"].to_numpy()
                    label = f"{llama_label(g)}, layer {layer}"
                    mark = MARKERS[k % len(MARKERS)]
                    if seen.any():
                        hi_f = np.where(np.isfinite(hi), hi, c)
                        ax.errorbar(w[seen], c[seen], yerr=[c[seen] - lo[seen], hi_f[seen] - c[seen]], fmt=mark,
                                    ls=style, color=colours[k], ms=5, capsize=2, lw=1.2, mec="black", mew=0.3,
                                    label=label)
                        label = None
                    ax.plot(w[~seen], lo[~seen], mark, ls="none", mfc="white", mec=colours[k], mew=1.3, ms=6,
                            label=label)
            ax.axhline(1.0, color="grey", lw=0.8, ls=":")
            ax.set_xscale("log", base=2)
            ax.tick_params(labelbottom=True)
            ax.set_title(f"depth {depth}, target {target}")
            ax.set_xlabel("hidden width W (units per layer)")
            ax.set_ylabel("cost of holding g given f (bits)")
            if ax.get_legend_handles_labels()[0]:  # under the panel, so it covers no point (each names its llamas)
                ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, frameon=False)
            else:
                ax.text(0.5, 0.5, f"fewer than {MIN_NETWORKS} networks computing f\nat every width",
                        transform=ax.transAxes, ha="center", va="center", fontsize=9)
    title(fig, "Cost of an unneeded intermediate against width", setting(spec, u["architecture"]))
    caption(fig, "Each curve is one llama g (one per complexity class) in the first hidden layer (solid) or the "
                  "last (dashed): -log2 of the share of the sampled networks computing f (its orbit) whose layer "
                  "has a unit with sign pattern g or not g; the line joins the widths where some network held g. "
                  "Error bars: exact 95% Clopper-Pearson interval of that share; open markers: never seen, "
                  "drawn at the one-sided 95% lower bound of the cost (it falls as fewer networks compute f, not "
                  "as the llama gets cheaper; a llama that is not a threshold function is never held in layer "
                  "1). Widths with fewer than 10 networks computing f are left out. Dotted line: one bit (the "
                  "layer holds g in half of f's volume).")
    return fig


@styled
def independence_figure(units: pd.DataFrame, spec=None):
    """Measured over predicted chance of holding, given the target (top) and under the prior (bottom)."""
    u = sweeps(units)
    depths = sorted(u["depth"].unique())
    fig, axes = plt.subplots(2, len(depths), figsize=(10.5 if len(depths) > 1 else 6.0, 8), squeeze=False,
                             sharey=True)
    all_layers = sorted(u["layer"].unique())
    for j, depth in enumerate(depths):
        d = u[u["depth"] == depth]
        layers = sorted(d["layer"].unique())
        for i, (prefix, what) in enumerate((("", "among networks computing f"), ("prior_", "among all networks"))):
            ax = axes[i][j]
            for layer in layers:
                st = series(all_layers.index(layer))
                s = d[(d["layer"] == layer) & (d[prefix + "holds"] > 0) & (d[prefix + "predicted"] > 0)]
                ok = s[prefix + "agrees"].astype(bool).to_numpy()
                x, y = s[prefix + "predicted"].to_numpy(), (s[prefix + "holds"] / s[prefix + "predicted"]).to_numpy()
                ax.plot(x[ok], y[ok], st["marker"], ls="none", ms=3.5, color=st["color"], alpha=0.6, mew=0)
                ax.plot(x[~ok], y[~ok], st["marker"], ls="none", ms=5, mfc="none", mec=st["color"], mew=1.0)
            ax.axhline(1.0, color="grey", lw=0.8, ls=":")
            ax.set_xscale("log")
            ax.set_title(f"depth {depth}, {what}")
            ax.set_xlabel("predicted chance 1 - (1 - p_unit)^W")
            ax.set_ylabel("measured share holding g / predicted")
    handles = [Line2D([], [], ls="none", marker=series(k)["marker"], color=series(k)["color"], ms=6,
                      label=f"layer {layer}") for k, layer in enumerate(all_layers)]
    handles.append(Line2D([], [], ls="none", marker="o", mfc="none", mec="0.3", ms=6,
                          label="open: intervals do not overlap"))
    legend_below(fig, handles, [h.get_label() for h in handles], ncol=len(handles))
    title(fig, "Do the units of a layer hold llamas independently?", setting(spec, u["architecture"]))
    caption(fig, "Each point is one llama, layer, width and target (top: among the sampled networks computing f; "
                 "bottom: among all sampled networks). x: what independent units would give, 1 - (1 - p_unit)^W with "
                 "p_unit the share of the layer's units holding g (sign pattern g or not g); y: the measured share of "
                 "networks whose layer holds g, over that prediction (1: independence; below 1: units holding g come "
                 "together in fewer networks). Filled: the measured share's exact 95% interval overlaps the "
                 "prediction's (from p_unit's 95% cluster interval over networks); open: they do not. Llamas never "
                 "seen are left out.")
    return fig


@styled
def width_share_figure(share: pd.DataFrame, units: pd.DataFrame, spec=None):
    """The share of f's volume in which some hidden layer holds some member of the whole family, per width."""
    arch = sweeps(units).drop_duplicates("architecture").set_index("architecture")[["depth", "width"]]
    s = share[(share["layer"] == "any") & share["architecture"].isin(arch.index)]
    s = s[s["K"] == s.groupby(["architecture", "target", "family"])["K"].transform("max")]
    s = s.join(arch, on="architecture")
    depths, targets = sorted(s["depth"].unique()), list(dict.fromkeys(s["target"]))
    fig, axes = plt.subplots(len(depths), len(targets), figsize=(10.5 if len(targets) > 1 else 6.0,
                                                                  3.8 * len(depths)),
                             squeeze=False, sharex=True, sharey=True)
    families = list(dict.fromkeys(s["family"]))
    for i, depth in enumerate(depths):
        for j, target in enumerate(targets):
            ax = axes[i][j]
            d = s[(s["depth"] == depth) & (s["target"] == target)]
            for fam in dict.fromkeys(d["family"]):
                st = series(families.index(fam))
                f = d[d["family"] == fam].sort_values("width")
                ax.errorbar(f["width"], f["share"], yerr=[f["share"] - f["share_lo"], f["share_hi"] - f["share"]],
                            fmt=st["marker"], ls="-", color=st["color"], ms=5, capsize=2, lw=1.2, mec="black",
                            mew=0.3)
                ax.plot(f["width"], f["naive_share"], ls=":", color=st["color"], lw=1.4)
            ax.set_xscale("log", base=2)
            ax.set_ylim(-0.02, 1.02)
            ax.set_title(f"depth {depth}, target {target}")
            ax.set_xlabel("hidden width W (units per layer)")
            ax.set_ylabel("share of f's volume with a llama")
    handles = []
    for k, fam in enumerate(families):
        ks = " or ".join(str(v) for v in sorted(set(s.loc[s["family"] == fam, "K"])))
        st = series(k)
        handles.append(Line2D([], [], color=st["color"], marker=st["marker"], mec="black", mew=0.3,
                              label=f"{fam} (K = {ks})"))
    handles.append(Line2D([], [], color="0.3", ls=":", lw=1.4, label="naive count K/(K+1), in the family's colour"))
    legend_below(fig, handles, [h.get_label() for h in handles], ncol=2)
    title(fig, "Llamaizer share against width, and the naive count", setting(spec, s["architecture"]))
    caption(fig, "Each solid curve: the share of the sampled networks computing f in which some hidden layer holds "
                  "at least one of the family's K llamas, with its exact 95% Clopper-Pearson interval; dotted: the "
                  "naive count K/(K+1) of the same family.")
    return fig


def write_width_figures(result: dict[str, pd.DataFrame], out: Path, spec=None) -> list[str]:
    """The three width figures into ``out`` (file names returned); none without a width sweep."""
    if "units" not in result or sweeps(result["units"]).empty:
        return []
    out = Path(out)
    return [save(width_cost_figure(result["units"], spec), out / "width_cost.png"),
            save(independence_figure(result["units"], spec), out / "independence.png"),
            save(width_share_figure(result["share"], result["units"], spec), out / "width_share.png")]
