"""The training experiment's tables: P(f | S) per pass, the runs, and P_SGD against P_B.

* ``functions``: one row per pass and function kept: ``count``, ``p_given_s`` (count over the
  networks kept), its ``log10`` and 95% Clopper-Pearson interval
  (:func:`counting.training.posterior.given_s_frame`).
* ``runs``: one row per pass: networks drawn and kept and, for trained passes, how many runs fitted
  S and their mean steps.
* ``comparison`` (:func:`comparison`): per architecture, target, m and optimiser, every function
  either method kept, with ``p_sgd`` and ``p_b`` (0 where unseen) and their intervals.
* ``agreement`` (:func:`agreement`): per optimiser setting, is P_SGD(f | S) the distribution
  P_B(f | S)? Spearman's rho and the mean ``log10(P_SGD / P_B)`` over the functions both saw, each
  next to its null (both censuses drawn from the pooled one at the observed sizes) with a p-value,
  and bias corrected with a basic bootstrap interval; the permutation test on the total variation
  distance over the functions (``tv_p``) and the G-test of homogeneity over pooled cells
  (``g_p``); and the total variation and Hellinger distances over those cells, bias corrected,
  with basic bootstrap intervals (:mod:`counting.twosample`). All from ``numpy``'s PCG64 seeded
  by the experiment's seed, per row and stream.
* ``ratios`` (:func:`ratios`): per setting and optimiser, P_SGD(f | S) / P_B(f | S) with 95%
  intervals for the target, the treacherous function (the target on S, its complement off S:
  :func:`treacherous`) and each census's most frequent functions (:func:`chosen_functions`); with
  a ``readout`` table (the readout jobs, :func:`readout_rows`), P_B(f | S) also as
  V(f) / V(agrees on S) with the readout integrated out, where rejection keeps few draws.
* ``mechanisms`` (:func:`mechanisms`, with ``[mechanisms]``): per setting, target and mechanism
  (a llama ``g`` held at hidden layer ``l`` or in any; any llama of a family; a route: ``chain``,
  ``tree`` (taken, whatever else), ``both``, ``chain only``, ``tree only``, ``neither``), the share
  among the trained networks computing the target and among the prior's, each with its 95%
  Clopper-Pearson interval (:func:`counting.experiments.base.shares.share_columns`), the counts,
  and the ratio trained / prior with the conservative quotient of the two intervals
  (``lo_trained / hi_prior`` to ``hi_trained / lo_prior``: at least 90% coverage). Built from the
  passes' long ``mechanism_counts`` (:func:`llama_counts`, :func:`route_counts`,
  :func:`smc_route_counts`). ``prior_estimator`` names how the prior side was measured and
  ``prior_interval`` its interval: ``hit-or-miss`` draws with Clopper-Pearson, or, for a target too
  rare to hit, ``smc``: tempered-SMC replicates (:mod:`counting.experiments.depth.rare`), the share
  the mean over replicates of each last population's share, with the Student-t interval over
  replicates (the networks of one population are correlated MCMC draws; replicates are
  independent). Where every replicate's share is the same (all 0, say) the t interval has no
  width, so the interval is a bound that holds for any share in [0, 1] (:func:`replicate_interval`).
  With the readout (``[mechanisms.routes.estimator] kind = "readout"``), ``readout``: the share
  E[1{mechanism} P(f | hidden)] / V(f) of one pass over the same hidden draws, with the paired
  delta-method interval (``prior_interval = "readout: paired delta"``) and ``prior_khat``,
  ``prior_reliable`` (:func:`readout_route_counts`).

Example:
    >>> import numpy as np, pandas as pd
    >>> f = pd.DataFrame({"architecture": "a0", "target": "t", "m": 4, "method": ["posterior"] * 3 + ["adam"] * 3,
    ...                   "truth_table": ["0x1", "0x2", "0x3"] * 2, "count": [50, 30, 20, 60, 25, 15]})
    >>> c = comparison(f)
    >>> c[["truth_table", "n_sgd", "n_b"]].values.tolist()
    [['0x1', 60, 50], ['0x2', 25, 30], ['0x3', 15, 20]]
    >>> a = agreement(c, seed=0, rounds=50)
    >>> float(a["spearman"][0]), bool(a["spearman_bc_lo"][0] <= a["spearman_bc"][0] <= a["spearman_bc_hi"][0])
    (1.0, True)
    >>> a[["cells", "g_dof"]].values.tolist(), bool(a["tv_p"][0] > 0.05), bool(a["g_p"][0] > 0.05)
    ([[3, 2]], True, True)
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from counting.boolean.tables import to_hex, treacherous
from counting.experiments.base.shares import share_columns
from counting.experiments.depth.tables import CLASS_NAMES, classes_from_joint
from counting.experiments.llamaizer.plan import TargetPlan
from counting.experiments.llamaizer.tally import TargetCounts
from counting.mechanisms.routes import Decomposition
from counting.rare.conditional import t_interval
from counting.stats import clopper_pearson_many
import counting.twosample as ts

BOOTSTRAP = 1000
SETTING = ["architecture", "target", "m"]


def function_rows(about: dict, frame: pd.DataFrame) -> pd.DataFrame:
    """A pass's ``functions`` rows from its P(f | S) frame."""
    cols = ["truth_table", "count", "p_given_s", "log10_p_given_s", "p_given_s_ci95_lo", "p_given_s_ci95_hi"]
    out = frame[cols].copy()
    for k, v in reversed(list(about.items())):
        out.insert(0, k, v)
    return out


def run_row(about: dict, drawn: int, kept: int, facts: dict | None) -> dict:
    """A pass's ``runs`` row."""
    row = {**about, "drawn": drawn, "kept": kept, "kept_share": kept / drawn}
    if facts is not None:
        row.update({k: facts[k] for k in ("runs", "fitted", "not_fitted", "fitted_share", "mean_steps",
                                          "mean_steps_fitted")})
    return row


def _interval(k: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    if n == 0:
        return np.full(len(k), np.nan), np.full(len(k), np.nan)
    return clopper_pearson_many(k, n)


def comparison(functions: pd.DataFrame) -> pd.DataFrame:
    """P_SGD(f | S) of each optimiser next to P_B(f | S), per setting, every function either kept."""
    rows = []
    keys = [c for c in SETTING if c in functions]
    for setting, df in functions.groupby(keys, sort=False):
        post = df[df["method"] == "posterior"].set_index("truth_table")["count"]
        for method, d in df[df["method"] != "posterior"].groupby("method", sort=False):
            sgd = d.set_index("truth_table")["count"]
            tables = list(dict.fromkeys(list(sgd.index) + list(post.index)))
            n_s, n_b = sgd.reindex(tables, fill_value=0).to_numpy(), post.reindex(tables, fill_value=0).to_numpy()
            ks, kb = int(n_s.sum()), int(n_b.sum())
            (s_lo, s_hi), (b_lo, b_hi) = _interval(n_s, ks), _interval(n_b, kb)
            rows.append(pd.DataFrame({**dict(zip(keys, setting)), "method": method, "truth_table": tables,
                                      "n_sgd": n_s, "n_b": n_b, "p_sgd": n_s / max(ks, 1), "p_b": n_b / max(kb, 1),
                                      "p_sgd_lo": s_lo, "p_sgd_hi": s_hi, "p_b_lo": b_lo, "p_b_hi": b_hi}))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


def statistics(n_s: np.ndarray, n_b: np.ndarray) -> tuple[float, float, int]:
    """Spearman's rho and the mean ``log10(p_sgd / p_b)`` over functions both saw, and their number."""
    both = (n_s > 0) & (n_b > 0)
    if both.sum() < 2:
        return np.nan, np.nan, int(both.sum())
    ps, pb = n_s[both] / n_s.sum(), n_b[both] / n_b.sum()
    rho = stats.spearmanr(ps, pb).statistic if len(set(ps)) > 1 and len(set(pb)) > 1 else np.nan
    return float(rho), float(np.mean(np.log10(ps / pb))), int(both.sum())


def null_statistics(rng: np.random.Generator, n_s: np.ndarray, n_b: np.ndarray, rounds: int) -> np.ndarray:
    """:func:`statistics` (rho, mean log ratio) of ``rounds`` pairs of censuses drawn from one
    distribution, the two censuses pooled, at the two observed sizes: what P_SGD = P_B gives.

    >>> rng = np.random.default_rng(0)
    >>> null = null_statistics(rng, np.array([60, 25, 15]), np.array([50, 30, 20]), 200)
    >>> null.shape, bool(np.nanmedian(null[:, 0]) > 0)
    ((200, 2), True)
    """
    ks, kb = int(n_s.sum()), int(n_b.sum())
    pooled = (n_s + n_b) / max(ks + kb, 1)
    return np.array([statistics(rng.multinomial(ks, pooled), rng.multinomial(kb, pooled))[:2]
                     for _ in range(rounds)])


def null_position(observed: float, null: np.ndarray) -> tuple[float, float]:
    """The null's median and the observed value's two-sided p-value in it (``2 min(P(null <=
    obs), P(null >= obs))``, at most 1; NaN where either is undefined).

    >>> null_position(0.5, np.array([0.1, 0.2, 0.3, 0.4, 0.6]))
    (0.3, 0.4)
    """
    null = null[np.isfinite(null)]
    if not np.isfinite(observed) or len(null) == 0:
        return math.nan, math.nan
    p = 2 * min(np.mean(null <= observed), np.mean(null >= observed))
    return float(np.median(null)), float(min(p, 1.0))


def _row_rng(seed: int, stream: int, row: int) -> np.random.Generator:
    """The PCG64 generator of one stream of one row (``[seed, stream, row]``): a row's numbers do not
    depend on the other rows."""
    return np.random.default_rng([seed, stream, row])


def distance_columns(n_s: np.ndarray, n_b: np.ndarray, seed: int, row: int, rounds: int) -> dict:
    """The distance columns of one ``agreement`` row (:mod:`counting.twosample`): over the functions,
    ``tv`` (total variation) with its permutation null's mean ``tv_null`` and p-value ``tv_p``, and
    the permutation null's mean number of distinct functions in the trained census,
    ``functions_sgd_null``, with the observed number's two-sided p-value ``functions_sgd_p`` (fewer
    than the null: training concentrates on fewer functions than the posterior; stream 3); over the
    pooled cells (:func:`~counting.twosample.pooled_cells`), the G-test (``cells``,
    ``pooled_functions``: how many functions the pooled cell holds, ``g``, ``g_dof``, ``g_p``) and
    ``tv_cells`` / ``hellinger_cells`` with their bias-corrected value (``*_bc``) and 95% interval
    (``*_bc_lo``, ``*_bc_hi``; :func:`counting.twosample.distance_intervals`, stream 4), NaN with
    fewer than two cells.

    >>> d = distance_columns(np.array([60, 25, 15]), np.array([50, 30, 20]), 0, 0, 200)
    >>> d["cells"], round(d["tv"], 2), bool(d["tv_p"] > 0.05), d["tv_cells_bc_lo"] <= d["tv_cells_bc"] <= d["tv_cells_bc_hi"]
    (3, 0.1, True, True)
    """
    tv = float(ts.total_variation(n_s, n_b))
    null = ts.permutation_null(_row_rng(seed, 3, row), n_s, n_b, rounds)
    g, dof, g_p, k = ts.homogeneity_g(n_s, n_b)
    cells = ts.pooled_cells(n_s, n_b)
    last = cells == cells.max() if len(cells) else cells
    pooled = int(last.sum()) if k and last.sum() > 1 else 0
    out = {"tv": tv, "tv_null": float(null[:, 0].mean()), "tv_p": ts.permutation_p(tv, null[:, 0]),
           "functions_sgd_null": float(null[:, 1].mean()),
           "functions_sgd_p": null_position(float((n_s > 0).sum()), null[:, 1])[1],
           "cells": k, "pooled_functions": pooled, "g": g, "g_dof": dof, "g_p": g_p}
    d = ts.distance_intervals(_row_rng(seed, 4, row), ts.cell_counts(n_s, cells), ts.cell_counts(n_b, cells), rounds)
    out.update({k.replace("tv", "tv_cells", 1).replace("hellinger", "hellinger_cells", 1): v for k, v in d.items()})
    return out


def agreement(comp: pd.DataFrame, seed: int = 0, rounds: int = BOOTSTRAP) -> pd.DataFrame:
    """One row per setting and optimiser: is P_SGD(f | S) the same distribution as P_B(f | S)?

    * ``spearman`` and ``mean_log10_ratio`` (:func:`statistics`, over the functions both saw), each
      next to its null (:func:`null_statistics`: both censuses drawn from the pooled one at the two
      sizes, ``rounds`` times) as its median ``*_null`` and the observed value's two-sided p-value
      ``*_p`` (:func:`null_position`); and its bootstrap bias-corrected value ``*_bc`` with the basic
      interval ``*_bc_lo`` / ``*_bc_hi`` (:func:`counting.twosample.basic_interval`; each census
      redrawn from its own counts, ``rounds`` times; rho clipped to [-1, 1]); NaN where the
      statistic is undefined (fewer than two common functions, or a constant share), and so are its
      interval and p-value. Both statistics are biased at these sizes (a small census sees only the
      functions it over-samples): their nulls, not zero or one, are the reference.
    * the distances and tests of :func:`distance_columns`: ``tv_p`` (permutation) and ``g_p``
      (G-test over pooled cells) test ``P_SGD = P_B``; ``tv_cells_bc`` and ``hellinger_cells_bc``
      with their intervals measure how far apart the two are over the pooled cells (a lower bound
      on the distance over the functions).

    Row ``i`` (in the table's order) draws from PCG64 generators seeded ``[seed, stream, i]``:
    stream 1 the null, 2 the bootstrap of rho and the ratio, 3 the permutations, 4 the bootstrap of the
    distances over cells."""
    rows = []
    keys = [c for c in SETTING + ["method"] if c in comp]
    extra = [c for c in ("network",) if c in comp]
    for i, (setting, d) in enumerate(comp.groupby(keys, sort=False)):
        n_s, n_b = d["n_sgd"].to_numpy(), d["n_b"].to_numpy()
        ks, kb = int(n_s.sum()), int(n_b.sum())
        rho, ratio, common = statistics(n_s, n_b)
        row = {**dict(zip(keys, setting)), **{c: d[c].iloc[0] for c in extra}, "kept_sgd": ks, "kept_b": kb,
               "functions_sgd": int((n_s > 0).sum()), "functions_b": int((n_b > 0).sum()), "common": common}
        null = null_statistics(_row_rng(seed, 1, i), n_s, n_b, rounds)
        rng = _row_rng(seed, 2, i)
        boot = np.array([statistics(rng.multinomial(ks, n_s / max(ks, 1)), rng.multinomial(kb, n_b / max(kb, 1)))[:2]
                         for _ in range(rounds)])
        for j, (name, obs, lim) in enumerate((("spearman", rho, 1.0), ("mean_log10_ratio", ratio, math.inf))):
            med, p = null_position(obs, null[:, j])
            bc, lo, hi = ts.basic_interval(obs, boot[:, j], lo=-lim, hi=lim)
            row.update({name: obs, f"{name}_null": med, f"{name}_p": p, f"{name}_bc": bc, f"{name}_bc_lo": lo,
                        f"{name}_bc_hi": hi})
        row.update(distance_columns(n_s, n_b, seed, i, rounds))
        rows.append(row)
    return pd.DataFrame(rows)


TOP = 5  # the ratios table's most frequent functions per census
READOUT_LEVEL = 0.975  # each readout volume's interval in the quotient V(f) / V(agrees on S): together at least 95%


def chosen_functions(counts: Mapping[str, pd.Series], target: str, treacherous_table: str, top: int = TOP
                     ) -> dict[str, str]:
    """The functions of the ``ratios`` table with their roles: the target, the treacherous function,
    and each census's ``top`` most frequent (``counts``: method to counts by truth table; ties broken
    by truth table), in that order, roles joined by ``+``.

    >>> c = {"posterior": pd.Series({"0x1": 5, "0x2": 9}), "adam": pd.Series({"0x3": 7, "0x2": 7})}
    >>> chosen_functions(c, "0x1", "0x4", top=1)
    {'0x1': 'target', '0x4': 'treacherous', '0x2': 'top posterior+top adam'}
    """
    roles: dict[str, list[str]] = {target: ["target"]}
    roles.setdefault(treacherous_table, []).append("treacherous")
    for method, n in counts.items():
        n = n[n > 0].sort_index(kind="stable").sort_values(ascending=False, kind="stable")
        for tt in n.index[:top]:
            roles.setdefault(tt, []).append(f"top {method}")
    return {tt: "+".join(r) for tt, r in roles.items()}


def readout_rows(about: dict, tables: Sequence[str], points: Sequence[str], estimates: Sequence) -> pd.DataFrame:
    """A readout job's ``readout`` rows: per volume (``points``: ``"all"`` for V(f), ``"S"`` for
    V(agrees with the target on S)), the estimate (log10, its 95% interval), its relative standard
    error, k-hat and whether it is reliable (k-hat below its threshold), with the warning where not."""
    rows = [{**about, "truth_table": tt, "points": pts, "networks": e.samples, "log10_volume": e.log10_volume,
             "ci95_lo": e.ci95[0], "ci95_hi": e.ci95[1], "rel_se": e.diagnostics["rel_se"],
             "khat": e.diagnostics["khat"], "khat_threshold": e.diagnostics["khat_threshold"],
             "reliable": bool(e.diagnostics["reliable"]), "warning": e.diagnostics.get("warning", "")}
            for tt, pts, e in zip(tables, points, estimates)]
    return pd.DataFrame(rows).astype({"log10_volume": "float64", "ci95_lo": "float64", "ci95_hi": "float64"})


def readout_share(f: pd.Series, s: pd.Series, level: float = READOUT_LEVEL) -> tuple[float, float, float]:
    """P_B(f | S) = V(f) / V(agrees on S) from two ``readout`` rows, with the conservative quotient of
    their ``level`` normal intervals (:func:`counting.twosample.quotient_interval`: at level 0.975
    each, at least 95%), capped at 1; NaN where V(f) has no estimate.

    >>> f = pd.Series({"log10_volume": -3.0, "rel_se": 0.1}); s = pd.Series({"log10_volume": -1.0, "rel_se": 0.05})
    >>> [round(x, 5) for x in readout_share(f, s)]
    [0.01, 0.00698, 0.01379]
    """
    z = stats.norm.ppf(0.5 + level / 2)
    if not (np.isfinite(f["log10_volume"]) and np.isfinite(s["log10_volume"])):
        return math.nan, math.nan, math.nan
    ends = [(v, v * max(0.0, 1 - z * r), v * (1 + z * r))
            for v, r in ((10.0 ** f["log10_volume"], f["rel_se"]), (10.0 ** s["log10_volume"], s["rel_se"]))]
    p, lo, hi = ts.quotient_interval(*ends[0], *ends[1])
    return float(min(p, 1.0)), float(min(lo, 1.0)), float(min(hi, 1.0))


def _readout_columns(readout: pd.DataFrame | None, tt: str, p_sgd: tuple[float, float, float]) -> dict:
    """The readout columns of one ``ratios`` row (NaN, and ``reliable`` missing, without a readout)."""
    nan = {"p_b_readout": math.nan, "p_b_readout_lo": math.nan, "p_b_readout_hi": math.nan,
           "ratio_readout": math.nan, "ratio_readout_lo": math.nan, "ratio_readout_hi": math.nan,
           "readout_networks": 0, "readout_khat": math.nan, "reliable": pd.NA}
    if readout is None or tt not in set(readout.loc[readout["points"] == "all", "truth_table"]):
        return nan
    f = readout[(readout["points"] == "all") & (readout["truth_table"] == tt)].iloc[0]
    s = readout[readout["points"] == "S"].iloc[0]
    pb = readout_share(f, s)
    r = ts.mover_ratio(*p_sgd, *pb) if np.isfinite(pb[0]) else (math.nan,) * 3
    return {"p_b_readout": pb[0], "p_b_readout_lo": pb[1], "p_b_readout_hi": pb[2], "ratio_readout": r[0],
            "ratio_readout_lo": r[1], "ratio_readout_hi": r[2], "readout_networks": int(f["networks"]),
            "readout_khat": float(np.nanmax([f["khat"], s["khat"]])),
            "reliable": bool(f["reliable"] and s["reliable"])}


def ratios(comp: pd.DataFrame, sets: pd.DataFrame, readout: pd.DataFrame | None = None, top: int = TOP
           ) -> pd.DataFrame:
    """P_SGD(f | S) / P_B(f | S) for the functions of :func:`chosen_functions`, per setting and optimiser.

    ``sets``: per setting (``architecture``, ``target``, ``m``) the ``target_table`` and
    ``treacherous_table`` (hex), and the ``network``, ``prior`` and ``S`` the rows repeat where
    given (:func:`counting.experiments.training.plan.setting_sets`). Columns: ``role``, the counts and shares with their 95%
    Clopper-Pearson intervals (``p_sgd*`` of ``kept_sgd`` runs, ``p_b*`` of ``kept_b`` posterior
    draws), and ``ratio`` with Katz's log interval (:func:`counting.twosample.ratio_interval`;
    ``zero_rule``: a count was 0, so the interval is one-sided, its finite end after adding 0.5 to
    both counts). With ``readout`` (the readout jobs' table): ``p_b_readout`` = V(f) / V(agrees on
    S) with the conservative quotient of the two volumes' 97.5% intervals (:func:`readout_share`,
    at least 95%), and ``ratio_readout`` = P_SGD / that, its interval by MOVER on the log scale
    (:func:`counting.twosample.mover_ratio`) from P_SGD's Clopper-Pearson interval and that one;
    ``reliable``: both volumes' k-hat below their threshold (:mod:`counting.estimators.readout`;
    ``readout_khat`` the larger), missing without a readout.

    Example:
        >>> c = pd.DataFrame({"architecture": "a0", "target": "t", "m": 4, "method": "adam",
        ...                   "truth_table": ["0x1", "0x2"], "n_sgd": [60, 40], "n_b": [50, 0]})
        >>> sets = pd.DataFrame({"architecture": ["a0"], "target": ["t"], "m": [4], "target_table": ["0x1"],
        ...                      "treacherous_table": ["0x3"]})
        >>> r = ratios(c, sets, top=1)
        >>> r[["truth_table", "role", "n_sgd", "n_b", "ratio", "zero_rule"]].values.tolist()
        [['0x1', 'target+top posterior+top adam', 60, 50, 0.6, False], ['0x3', 'treacherous', 0, 0, nan, False]]
    """
    rows = []
    keys = [c for c in SETTING if c in comp]
    info = sets.set_index(keys)
    extra = [c for c in ("network", "prior", "S") if c in info]
    for setting, df in comp.groupby(keys, sort=False):
        about = dict(zip(keys, setting))
        meta = info.loc[setting]
        post = df.drop_duplicates("truth_table").set_index("truth_table")["n_b"]
        per = {m: d.set_index("truth_table")["n_sgd"] for m, d in df.groupby("method", sort=False)}
        chosen = chosen_functions({"posterior": post, **per}, meta["target_table"], meta["treacherous_table"], top)
        rd = None
        if readout is not None and len(readout):
            sel = np.logical_and.reduce([readout[k] == v for k, v in about.items()])
            rd = readout[sel] if sel.any() else None
        for method, d in df.groupby("method", sort=False):
            d = d.set_index("truth_table")
            ks, kb = int(d["n_sgd"].sum()), int(post.sum())
            for tt, role in chosen.items():
                a = int(d["n_sgd"].get(tt, 0))
                c = int(post.get(tt, 0))
                (s_lo, s_hi), (b_lo, b_hi) = _interval(np.array([a]), ks), _interval(np.array([c]), kb)
                r, lo, hi, zero = ts.ratio_interval(a, ks, c, kb)
                p_sgd = (a / max(ks, 1), float(s_lo[0]), float(s_hi[0]))
                rows.append({**about, **{k: meta[k] for k in extra}, "method": method, "truth_table": tt,
                             "role": role, "n_sgd": a, "kept_sgd": ks, "p_sgd": p_sgd[0], "p_sgd_lo": p_sgd[1],
                             "p_sgd_hi": p_sgd[2], "n_b": c, "kept_b": kb, "p_b": c / max(kb, 1),
                             "p_b_lo": float(b_lo[0]), "p_b_hi": float(b_hi[0]), "ratio": r, "ratio_lo": lo,
                             "ratio_hi": hi, "zero_rule": zero, **_readout_columns(rd, tt, p_sgd)})
    out = pd.DataFrame(rows)
    if "reliable" in out:
        out["reliable"] = out["reliable"].astype("boolean")
    return out


MECHANISM_KEYS = ["setting", "target", "mechanism", "layer"]


def llama_counts(about: dict, plans: Sequence[TargetPlan], counts: Mapping[str, TargetCounts], n: int,
                 n_layers: int) -> pd.DataFrame:
    """A llama pass's ``mechanism_counts``: per target, llama (or family: any member) and layer
    (``1``.. and ``any``), the solutions and how many of them hold it."""
    layers = [str(l) for l in range(1, n_layers + 1)] + ["any"]
    rows = []
    for p in plans:
        c = counts[p.target.name]
        for li, layer in enumerate(layers):
            rows += [{"mechanism": f"llama {to_hex(g, n)}", "layer": layer, "count": int(c.held[li, j])}
                     | {"target": p.target.name, "solutions": c.n_f} for j, g in enumerate(p.llamas)]
            rows += [{"mechanism": f"family {f}: any", "layer": layer, "count": int(u[li, -1])}
                     | {"target": p.target.name, "solutions": c.n_f} for f, u in c.unions.items()]
    return _with_about(about, rows)


def with_routes(classes: dict[str, int]) -> dict[str, int]:
    """The route mechanisms of four class counts: ``chain``, ``tree`` (taken, whatever else), then the classes."""
    return {"chain": classes["both"] + classes["chain only"], "tree": classes["both"] + classes["tree only"],
            **classes}


def route_counts(about: dict, decompositions: Sequence[Decomposition], hist: np.ndarray, never: int
                 ) -> pd.DataFrame:
    """A route pass's ``mechanism_counts`` from :class:`~counting.experiments.depth.tally.RouteTally`'s
    histogram (row 0 of each decomposition: its solutions): the four classes, and each route taken."""
    rows = []
    for d, (joint, _) in zip(decompositions, np.asarray(hist)):
        c = with_routes(classes_from_joint(joint, never))
        rows += [{"target": d.name, "mechanism": k, "layer": "", "solutions": int(joint.sum()), "count": v}
                 for k, v in c.items()]
    return _with_about(about, rows)


def replicate_interval(values: np.ndarray) -> tuple[float, float, str]:
    """95% interval of a share from independent replicates' shares ``values`` (NaN: a replicate
    without solutions, left out), and its name.

    Student-t over replicates, unless every replicate gave the same share, where that interval has
    no width. Then, for ``R`` replicates all 0 (or all 1): the Clopper-Pearson interval of 0 (or
    ``R``) successes in ``R`` trials (:func:`counting.stats.clopper_pearson_many`: at 0 the one-sided
    bound ``1 - 0.05**(1/R)``). It holds for any share ``X`` in [0, 1] with mean ``p``, not only a
    binomial one: ``P(X > 0) >= p``, so ``R`` zeros have probability at most ``(1 - p)**R`` (and
    ``P(X < 1) >= 1 - p`` for ones). Any other common value ``v``: Hoeffding's ``v +- sqrt(log(40) / (2R))``.

    >>> lo, hi, how = replicate_interval(np.array([0.0, 0.0, 0.0, 0.0, np.nan]))  # 4 replicates
    >>> lo, round(hi, 4), how
    (0.0, 0.5271, 'every replicate 0: clopper-pearson over replicates')
    >>> lo, hi, how = replicate_interval(np.array([0.2, 0.3, 0.25]))
    >>> bool(lo < 0.25 < hi), how
    (True, 'student-t')
    """
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    r = len(v)
    if r == 0:
        return math.nan, math.nan, ""
    if r > 1 and (v != v[0]).any():
        lo, hi = t_interval(v)
        return lo, hi, "student-t"
    if v[0] in (0.0, 1.0):
        lo, hi = clopper_pearson_many(np.array([int(v[0]) * r]), r)
        return float(lo[0]), float(hi[0]), f"every replicate {int(v[0])}: clopper-pearson over replicates"
    half = math.sqrt(math.log(40) / (2 * r))
    return max(0.0, v[0] - half), min(1.0, v[0] + half), "every replicate equal: hoeffding"


def smc_route_counts(about: dict, d: Decomposition, joints: Sequence[np.ndarray], never: int) -> pd.DataFrame:
    """A rare route's prior ``mechanism_counts`` from SMC replicates (``joints``: each last
    population's joint placement histogram): the pooled counts, and per mechanism the mean of the
    replicates' shares with :func:`replicate_interval`."""
    per = [with_routes(classes_from_joint(j, never)) for j in joints]
    n = np.array([int(np.asarray(j).sum()) for j in joints])
    rows = []
    for k in ["chain", "tree", *CLASS_NAMES]:
        counts = np.array([c[k] for c in per])
        with np.errstate(divide="ignore", invalid="ignore"):
            shares = np.where(n > 0, counts / n, np.nan)
        lo, hi, how = replicate_interval(shares)
        seen = np.isfinite(shares)
        rows.append({"target": d.name, "mechanism": k, "layer": "", "solutions": int(n.sum()),
                     "count": int(counts.sum()), "share": float(shares[seen].mean()) if seen.any() else math.nan,
                     "share_lo": lo, "share_hi": hi, "interval": how, "replicates": int(seen.sum())})
    return _with_about(about, rows)


def readout_route_counts(about: dict, d: Decomposition, mechanisms: Sequence[str], est: Sequence,
                         sums) -> pd.DataFrame:
    """A rare route's prior ``mechanism_counts`` from one readout pass (``est``: V(f) then
    E[1{mechanism} P(f | hidden)] for each of ``mechanisms``, over the same networks; ``sums``: the
    pass's sums): per mechanism the share of V(f) with its paired delta-method interval
    (:func:`counting.estimators.readout.restricted_share`), ``solutions`` the networks of the pass,
    ``count`` those with a positive term (hidden layers taking the mechanism and a readout that can
    compute f), ``replicates`` 0, and each term's reliability (``khat``, ``reliable``, ``max_share``;
    ``reliable`` only where V(f)'s mean is reliable too)."""
    from counting.estimators.readout import restricted_share
    n = int(np.asarray(sums.networks).sum())
    f_ok = bool(est[0].diagnostics["reliable"])
    rows = []
    for k, name in enumerate(mechanisms, start=1):
        r, g = restricted_share(sums, k, 0), est[k].diagnostics
        rows.append({"target": d.name, "mechanism": name, "layer": "", "solutions": n,
                     "count": n - int(np.asarray(sums.zeros)[:, k].sum()), "share": r.share, "share_lo": r.lo,
                     "share_hi": r.hi, "interval": "readout: paired delta", "replicates": 0,
                     "khat": float(g["khat"]), "reliable": bool(f_ok and g["reliable"]),
                     "max_share": float(g["max_share"])})
    return _with_about(about, rows)


def _with_about(about: dict, rows: list[dict]) -> pd.DataFrame:
    out = pd.DataFrame(rows, columns=["target", "mechanism", "layer", "solutions", "count",
                                      *(["share", "share_lo", "share_hi", "interval", "replicates"]
                                        if rows and "share" in rows[0] else []),
                                      *(["khat", "reliable", "max_share"] if rows and "khat" in rows[0] else [])])
    out.insert(0, "estimator", about.get("estimator", "hit-or-miss"))
    for k in ("method", "model", "setting"):
        out.insert(0, k, about[k])
    return out


def _shares(prefix: str, d: pd.DataFrame) -> dict:
    """Share columns of one method's rows (one number of solutions), named ``<prefix>_share...``:
    Clopper-Pearson, or the rows' own (SMC replicates: :func:`smc_route_counts`)."""
    n = int(d["solutions"].iloc[0]) if len(d) else 0
    own = "share" in d and d["share"].notna().any()
    if own:
        cols = {k: d[k].to_numpy(np.float64) for k in ("share", "share_lo", "share_hi")}
    else:
        cols = share_columns(d["count"].to_numpy(), n, exact=False)
    return {f"{prefix}_solutions": n, f"{prefix}_count": d["count"].to_numpy(),
            **{f"{prefix}_{k}": v for k, v in cols.items() if k.startswith("share")}}


def _prior_about(prior: pd.DataFrame) -> dict:
    """How the prior side of one target was measured: ``prior_estimator``, ``prior_interval``,
    ``prior_replicates`` (0 for hit-or-miss)."""
    if not len(prior):
        return {"prior_estimator": "", "prior_interval": "", "prior_replicates": 0}
    if "interval" in prior and prior["interval"].notna().any():
        out = {"prior_estimator": prior["estimator"].to_numpy(), "prior_interval": prior["interval"].to_numpy(),
               "prior_replicates": prior["replicates"].to_numpy().astype(np.int64)}
        if "reliable" in prior and prior["reliable"].notna().any():  # a readout prior side: its k-hat diagnostic
            out |= {"prior_khat": prior["khat"].to_numpy(np.float64), "prior_reliable": prior["reliable"].to_numpy()}
        return out
    return {"prior_estimator": prior["estimator"].iloc[0], "prior_interval": "clopper-pearson",
            "prior_replicates": 0}


def mechanisms(counts: pd.DataFrame) -> pd.DataFrame:
    """Per setting, target and trained method: every mechanism's trained and prior shares side by side."""
    out = []
    for (setting, target), df in counts.groupby(["setting", "target"], sort=False):
        prior = df[df["method"] == "prior"].set_index(["mechanism", "layer"])
        for method, d in df[df["method"] != "prior"].groupby("method", sort=False):
            p = prior.reindex(pd.MultiIndex.from_frame(d[["mechanism", "layer"]])).reset_index()
            p["solutions"] = int(prior["solutions"].iloc[0]) if len(prior) else 0
            p["count"] = p["count"].fillna(0).astype(np.int64)
            t, b = _shares("trained", d), _shares("prior", p)
            b.update(_prior_about(p if len(prior) else prior))
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = {"ratio": t["trained_share"] / b["prior_share"],
                         "ratio_lo": t["trained_share_lo"] / b["prior_share_hi"],
                         "ratio_hi": t["trained_share_hi"] / b["prior_share_lo"]}
            out.append(pd.DataFrame({"setting": setting, "model": d["model"].iloc[0], "target": target,
                                     "method": method, "mechanism": d["mechanism"].to_numpy(),
                                     "layer": d["layer"].to_numpy(), **t, **b, **ratio}))
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame()
