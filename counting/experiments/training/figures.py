"""The training experiment's figures, drawn from its ``comparison``, ``ratios`` and ``mechanisms`` tables.

Colours are Okabe-Ito's (told apart with colour-blindness) and each optimiser has its own marker
(told apart in greyscale); networks are named by description (the tables' ``network``).

* ``training_vs_posterior.png``: P_SGD(f | S) against P_B(f | S) on log-log axes, one panel per
  architecture, target and m, one colour and marker per optimiser (the first filled, the others
  open, so none hides another), 95% intervals as bars, the diagonal dashed; functions only one
  method saw are left out (their zero has no logarithm).
* ``ratios.png`` (:func:`ratios_figure`): P_SGD(f | S) / P_B(f | S) with 95% intervals for the
  ``ratios`` table's functions, one panel per setting, P_B by rejection and by the readout.
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
    >>> r = pd.DataFrame({"architecture": "a0", "network": "3-8-1 relu MLP", "target": "t", "m": 4, "method": "adam",
    ...                   "truth_table": ["0x1", "0x2"], "role": ["target", "top adam"], "n_sgd": [0, 40],
    ...                   "kept_sgd": 100, "n_b": [10, 5], "kept_b": 50, "ratio": [0.0, 4.0], "ratio_lo": [0.0, 1.7],
    ...                   "ratio_hi": [0.3, 9.6]})
    >>> write_figures({"comparison": c, "mechanisms": m, "ratios": r}, pathlib.Path(tempfile.mkdtemp()))
    ['training_vs_posterior.png', 'ratios.png', 'mechanisms.png']
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from counting.io.figures import plt, save


OKABE_ITO = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9"]  # colour-blind safe
MARKERS = ["o", "s", "D", "^", "v", "P"]  # one per optimiser: told apart in greyscale too
OPTIMISER_NAMES = {"adam": "Adam", "sgd": "SGD"}


def _styles(methods: list[str]) -> dict[str, dict]:
    """Each optimiser's colour (Okabe-Ito), marker and name."""
    return {m: {"color": OKABE_ITO[i % len(OKABE_ITO)], "marker": MARKERS[i % len(MARKERS)],
                "name": OPTIMISER_NAMES.get(m, m)} for i, m in enumerate(methods)}


def _network(d: pd.DataFrame) -> str:
    """A setting's network as tables name it (``network``), else its ``architecture`` column."""
    return str(d["network"].iloc[0]) if "network" in d else str(d["architecture"].iloc[0])


def _sample_sizes(runs: pd.DataFrame | None, a: str, t: str, m: int) -> str:
    """One setting's sample sizes from the runs table: trained runs per optimiser that fit S, and the
    posterior's kept draws of those drawn; empty without the table."""
    if runs is None or not len(runs):
        return ""
    r = runs[(runs["architecture"] == a) & (runs["target"] == t) & (runs["m"] == m)]
    trained = ", ".join(f"{OPTIMISER_NAMES.get(k, k)} {int(v):,}" for k, v in
                        zip(r["method"], r["fitted"]) if k != "posterior" and np.isfinite(v))
    post = r[r["method"] == "posterior"]
    kept = (f"; P_B: {int(post['kept'].iloc[0]):,} of {int(post['drawn'].iloc[0]):,} draws fit S"
            if len(post) else "")
    return f"\nruns fitting S: {trained}{kept}"


def comparison_figure(comp: pd.DataFrame, runs: pd.DataFrame | None = None, prior: str = ""):
    """P_SGD(f | S) against P_B(f | S) for every function both sides saw, one panel per network,
    target and m (at most three a row), with 95% intervals and the sample sizes in each title."""
    settings = list(dict.fromkeys(zip(comp["architecture"], comp["target"], comp["m"])))
    methods = list(dict.fromkeys(comp["method"]))
    style = _styles(methods)
    cols = min(len(settings), 3)
    rows = -(-len(settings) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 4.4 * rows), squeeze=False)
    for ax, (a, t, m) in zip(axes.flat, settings):
        d = comp[(comp["architecture"] == a) & (comp["target"] == t) & (comp["m"] == m)]
        net = _network(d)
        d = d[(d["p_sgd"] > 0) & (d["p_b"] > 0)]
        for i, method in enumerate(methods):  # later optimisers drawn open, so the first shows through
            v = d[d["method"] == method]
            st = style[method]
            ax.errorbar(v["p_b"], v["p_sgd"], xerr=[v["p_b"] - v["p_b_lo"], v["p_b_hi"] - v["p_b"]],
                        yerr=[v["p_sgd"] - v["p_sgd_lo"], v["p_sgd_hi"] - v["p_sgd"]], fmt=st["marker"], ms=3.5,
                        capsize=1.5, color=st["color"], mfc=st["color"] if i == 0 else "none", elinewidth=0.7,
                        label=st["name"], alpha=0.8, zorder=3 - i)
        if len(d):
            lo = float(np.nanmin(np.r_[d["p_b_lo"][d["p_b_lo"] > 0], d["p_sgd_lo"][d["p_sgd_lo"] > 0], 1.0]))
            ax.plot([lo, 1], [lo, 1], "k--", lw=0.8, label="P_SGD = P_B")
        ax.set(xscale="log", yscale="log", xlabel="P_B(f | S) (posterior, rejection)", ylabel="P_SGD(f | S)")
        ax.set_title(f"{net}\n{t}, m = {m} (functions both saw){_sample_sizes(runs, a, t, m)}", fontsize=8.5)
        ax.legend(fontsize=7, loc="upper left")
    for ax in list(axes.flat)[len(settings):]:
        ax.set_visible(False)
    fig.suptitle("Trained networks' function frequencies against the posterior's (rejection from the prior)"
                 + (f"\n{prior}" if prior else ""), fontsize=10)
    fig.tight_layout()
    return fig


ROLE_NAMES = {"posterior": "P_B"}


def _function_label(tt: str, role: str) -> str:
    """A ``ratios`` row's y label: its roles, short, then its truth table."""
    parts = []
    for r in role.split("+"):
        if r.startswith("top "):
            who = r[4:]
            parts.append("top " + ROLE_NAMES.get(who, OPTIMISER_NAMES.get(who, who)))
        else:
            parts.append(r)
    return f"{', '.join(parts)}  {tt}"


def _ratio_limits(estimates: pd.Series, widest: float = 1e4) -> tuple[float, float]:
    """A ratio axis: a decade beyond the finite nonzero estimates on each side, within
    ``[1 / widest, widest]`` (intervals running past it end at the axis's edge)."""
    v = estimates[np.isfinite(estimates) & (estimates > 0)]
    if not len(v):
        return 1e-2, 1e2
    lo, hi = 10.0 ** (np.floor(np.log10(min(v.min(), 1.0))) - 1), 10.0 ** (np.ceil(np.log10(max(v.max(), 1.0))) + 1)
    return max(lo, 1 / widest), min(hi, widest)


def _clip(v: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return np.clip(np.asarray(v, np.float64), lo, hi)


def ratios_figure(ratios: pd.DataFrame, runs: pd.DataFrame | None = None):
    """P_SGD(f | S) / P_B(f | S) with 95% intervals on a log axis, one panel per setting (two per
    row), one row per chosen function; per optimiser (colour and marker) the ratio to P_B by
    rejection (filled) and, where the readout ran, to P_B by the readout (open; a cross over it where
    the readout is not reliable). A count of 0 makes the ratio 0 or infinite: drawn at the axis's end
    as a triangle pointing off it, with its one-sided interval."""
    settings = list(dict.fromkeys(zip(ratios["architecture"], ratios["target"], ratios["m"])))
    methods = list(dict.fromkeys(ratios["method"]))
    style = _styles(methods)
    has_readout = "ratio_readout" in ratios and ratios["ratio_readout"].notna().any()
    sources = [("ratio", "rejection")] + ([("ratio_readout", "readout")] if has_readout else [])
    x_lo, x_hi = _ratio_limits(pd.concat([ratios[c] for c, _ in sources]))
    cols = min(len(settings), 2)
    rows = -(-len(settings) // cols)
    n_max = max(len(ratios[(ratios["architecture"] == a) & (ratios["target"] == t) & (ratios["m"] == m)]
                    .drop_duplicates("truth_table")) for a, t, m in settings)
    height = 0.11 * n_max * max(2, len(methods) * len(sources)) + 2.0
    fig, axes = plt.subplots(rows, cols, figsize=(7.4 * cols, height * rows), squeeze=False)
    slots = [(m, c, src) for m in methods for c, src in sources]
    step = 0.8 / len(slots)
    for ax, (a, t, m) in zip(axes.flat, settings):
        d = ratios[(ratios["architecture"] == a) & (ratios["target"] == t) & (ratios["m"] == m)]
        funcs = list(dict.fromkeys(d["truth_table"]))
        roles = dict(zip(d["truth_table"], d["role"]))
        y0 = np.arange(len(funcs))[::-1].astype(float)
        for j, (method, col, src) in enumerate(slots):
            st = style[method]
            v = d[d["method"] == method].set_index("truth_table").reindex(funcs)
            y = y0 + 0.4 - step / 2 - j * step
            r, lo, hi = (v[k].to_numpy(np.float64) for k in (col, f"{col}_lo", f"{col}_hi"))
            ok = ~np.isnan(r)
            inner = ok & (r > 0) & np.isfinite(r)
            fill = st["color"] if src == "rejection" else "white"
            with np.errstate(invalid="ignore"):
                rr, ll, hh = _clip(r, x_lo, x_hi), _clip(np.where(lo > 0, lo, x_lo), x_lo, x_hi), _clip(hi, x_lo, x_hi)
            ax.errorbar(rr[inner], y[inner], xerr=[rr[inner] - ll[inner], hh[inner] - rr[inner]], fmt=st["marker"],
                        ms=4.5, color=st["color"], mfc=fill, mew=1.1, elinewidth=0.9, capsize=2,
                        label=f"{st['name']}, P_B by {src}", zorder=3)
            for mask, mk in ((ok & (r == 0), "<"), (ok & np.isinf(r), ">")):
                if mask.any():
                    ax.hlines(y[mask], ll[mask], hh[mask], color=st["color"], lw=0.9)
                    ax.plot(rr[mask], y[mask], mk, ms=8, color=st["color"], mfc=fill, mew=1.1, ls="none", zorder=3)
            if src == "readout" and "reliable" in v:
                bad = inner & (v["reliable"].astype("boolean").fillna(True).to_numpy() == False)  # noqa: E712
                if bad.any():
                    ax.plot(rr[bad], y[bad], "x", ms=7, color="black", ls="none", zorder=4)
        ax.axvline(1.0, color="black", lw=0.8, ls="--")
        ax.set_yticks(y0, [_function_label(f, roles[f]) for f in funcs], fontsize=7.5, family="monospace")
        ax.set(xscale="log", xlim=(x_lo, x_hi), ylim=(-0.6, len(funcs) - 0.4),
               xlabel="P_SGD(f | S) / P_B(f | S)  (95% interval; 1: training follows the prior)")
        ax.set_title(_ratios_title(d, runs), fontsize=8.5)
    for ax in list(axes.flat)[len(settings):]:
        ax.set_visible(False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    extra = "; ◁ ▷: a count of 0 (ratio 0 or infinite, one-sided interval)"
    if has_readout:
        extra += "; ×: readout not reliable (k-hat)"
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, 1.0 - 0.55 / (height * rows)))
    prior = str(ratios["prior"].iloc[0]) if "prior" in ratios else ""
    fig.suptitle(f"P_SGD(f | S) / P_B(f | S) of the target, the treacherous function and the most frequent functions"
                 f"\n{prior}{extra}", fontsize=9.5, y=1.0 + 0.75 / (height * rows))
    fig.tight_layout()
    return fig


def _ratios_title(d: pd.DataFrame, runs: pd.DataFrame | None) -> str:
    """One ratios panel's title: the network, target and m, and each side's sample sizes."""
    first = d.iloc[0]
    sizes = ", ".join(f"{OPTIMISER_NAMES.get(k, k)} {int(v):,}" for k, v in
                      d.drop_duplicates("method").set_index("method")["kept_sgd"].items())
    drawn = ""
    if runs is not None and len(runs):
        r = runs[(runs["architecture"] == first["architecture"]) & (runs["target"] == first["target"])
                 & (runs["m"] == first["m"]) & (runs["method"] == "posterior")]
        drawn = f" of {int(r['drawn'].iloc[0]):,} draws" if len(r) else ""
    readout = ""
    if "readout_networks" in d and d["readout_networks"].max() > 0:
        readout = f"; readout {int(d['readout_networks'].max()):,} networks"
    return (f"{_network(d)}\n{first['target']}, m = {first['m']}; runs fitting S: {sizes}\n"
            f"P_B: rejection kept {int(first['kept_b']):,}{drawn}{readout}")


def _prior_label(d: pd.DataFrame) -> str:
    """How one panel's prior side was measured, for its legend."""
    est = str(d["prior_estimator"].iloc[0]) if "prior_estimator" in d else "hit-or-miss"
    n = int(d["prior_solutions"].iloc[0])
    if est == "smc":
        r = int(d["prior_replicates"].max())
        return f"prior, SMC ({r} replicates, {n} solutions; Student-t, or all 0 / all 1: Clopper-Pearson of {r})"
    if est == "readout":
        return f"prior, readout integrated out ({n:,} hidden draws; paired delta method, or none held: 1 - 0.05^(1/ESS))"
    return f"prior, hit-or-miss ({n} solutions; Clopper-Pearson)"


def mechanisms_figure(mech: pd.DataFrame):
    """Trained against prior share of every family and route mechanism, per setting and target."""
    mech = mech[~mech["mechanism"].str.startswith("llama ")]
    panels = list(dict.fromkeys(zip(mech["setting"], mech["target"], mech["method"])))
    cols = min(len(panels), 3)
    rows = -(-len(panels) // cols)
    height = max(2.6, 0.42 * mech.groupby(["setting", "target", "method"]).size().max() + 1.8)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, height * rows), squeeze=False)
    colors = OKABE_ITO[:2]
    for ax, (setting, target, method) in zip(axes.flat, panels):
        d = mech[(mech["setting"] == setting) & (mech["target"] == target) & (mech["method"] == method)]
        labels = [m if not layer else f"{m}, {'any layer' if layer == 'any' else f'layer {layer}'}"
                  for m, layer in zip(d["mechanism"], d["layer"])]
        y = np.arange(len(d))[::-1].astype(float)
        sides = [("trained", f"trained, {method} ({int(d['trained_solutions'].iloc[0])} solutions; Clopper-Pearson)",
                  0.15), ("prior", _prior_label(d), -0.15)]
        for (side, label, dy), color, marker in zip(sides, colors, ("o", "s")):
            share = d[f"{side}_share"].to_numpy(np.float64)
            lo, hi = d[f"{side}_share_lo"].to_numpy(np.float64), d[f"{side}_share_hi"].to_numpy(np.float64)
            ax.errorbar(share, y + dy, xerr=[np.nan_to_num(share - lo), np.nan_to_num(hi - share)], fmt=marker, ms=4,
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
    comp, mech, ratios = tables.get("comparison"), tables.get("mechanisms"), tables.get("ratios")
    if comp is not None and not comp.empty:
        prior = str(ratios["prior"].iloc[0]) if ratios is not None and "prior" in ratios and len(ratios) else ""
        names.append(save(comparison_figure(comp, tables.get("runs"), prior), out / "training_vs_posterior.png"))
    if ratios is not None and not ratios.empty:
        names.append(save(ratios_figure(ratios, tables.get("runs")), out / "ratios.png"))
    if mech is not None and not mech.empty:
        names.append(save(mechanisms_figure(mech), out / "mechanisms.png"))
    return names
