"""The generalization experiment's tables: the counts side by side, with intervals.

Per setting (cube size, network, target, m, draw of S), four methods:

* ``functions`` (the function count): every function that fits S equally likely, so
  ``P(f* | S) = P(f_T | S) = 2^-(N - m)`` and each point off S is wrong with probability 1/2 (the
  error off S is Binomial(N - m, 1/2) / (N - m)); exact numbers, no interval needed (``lo = hi``).
* ``parameters`` (the prior conditioned on S, :mod:`counting.rare.readout_posterior`): the
  posterior job's replicates. ``P_B(f* | S)`` and ``P_B(f_T | S)`` are ratios of readout volumes on
  the same population with a delta-method t-interval over replicates
  (:func:`~counting.rare.readout_posterior.ratio_interval`), with the largest Pareto k-hat of their
  terms and ``reliable`` (below :func:`counting.tails.khat_threshold` of the networks per
  replicate). Every other number (the share of the draws on ``f*``, the error off S's mean and
  quantiles, the error histogram, the top functions' shares) is the mean over replicates of each
  replicate's self-normalised weighted value, with a 95% Student-t interval over replicates
  (:func:`counting.rare.conditional.t_interval`, clipped to [0, 1]); the estimate is always inside it.
* ``training (<optimiser>)``: the trained runs that fit S. Shares (``P_SGD(f* | S)``, ``P_SGD(f_T |
  S)``, the top functions', the error histogram's) with Clopper-Pearson intervals; the mean error
  with a Student-t interval; quantiles with the distribution-free order-statistic interval (the
  ranks a Binomial(runs, q) puts 95% between, widened to contain the estimate).
* ``rejection``: the prior census of the setting's cube size and network restricted to the
  functions that agree with f* on S (:func:`rejection_row`): the posterior P_B(f | S) by plain
  rejection. ``kept`` draws; ``P_rej(f* | S)`` and ``P_rej(f_T | S)`` as hits / kept with
  Clopper-Pearson intervals (one-sided upper bound with no hit, so a lower end of ``-inf`` in
  log10); the error off S as the mean over the kept draws with a Student-t interval over draws
  (:func:`weighted_mean_interval`: with fewer than 30 draws, or all alike, the binomial interval of a
  mean of values in [0, 1]), its quantiles as training's. With no draw kept every number is NaN.

Tables: ``posterior`` and ``training`` (one row per pass), ``rejection`` (one row per setting),
``errors`` (the error histogram off S per setting and method, for the function count, the
parameter count and training), ``top_functions`` (the parameter count's and training's most
frequent functions), ``comparison`` (the long table the figures read: per setting and method the
expected accuracy off S and ``log10 P(f* | S)``, ``log10 P(f_T | S)``, each with its interval) and
``identity`` (:func:`identity`: the parameter count against rejection, where rejection is well
sampled).

Example:
    >>> order_interval(np.array([0.0, 0.1, 0.1, 0.2, 0.5]), 0.5)
    (0.1, 0.0, 0.5)
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from counting.boolean.tables import full_table, int_to_words, rows_to_hex, to_bits, to_hex, treacherous
from counting.engine.run import PassFacts
from counting.rare.conditional import t_interval
from counting.rare.readout_posterior import PosteriorRun, function_shares, ratio_interval, weighted_quantile
from counting.rare.replicates import combine_replicates
from counting.spec.estimator import ReadoutSMCSettings
from counting.stats import clopper_pearson, clopper_pearson_many
from counting.tails import khat_threshold

QUANTILES = (0.1, 0.5, 0.9)
WELL_SAMPLED_KEPT = 100  # identity: rejection kept at least this many draws ...
WELL_SAMPLED_HITS = 10   # ... and saw the function compared at least this many times
TOP = 10
LOG10_2 = math.log10(2)
SETTING = ["n_inputs", "architecture", "network", "prior", "target", "function", "target_table", "m", "N", "draw",
           "S", "treacherous_table"]


def setting_columns(about: dict) -> dict:
    """The columns naming a setting, from a pass's ``about``."""
    n, points = about["n_inputs"], about["S"]
    tt = about["target_table"]
    return {"n_inputs": n, "architecture": about["architecture"], "network": about["network"],
            "prior": about["prior"], "target": about["target"], "function": about["function"],
            "target_table": to_hex(tt, n), "m": about["m"], "N": 2**n, "draw": about["draw"],
            "S": " ".join(map(str, points)), "treacherous_table": to_hex(treacherous(tt, points, n), n)}


def error_fraction(errors: np.ndarray, off: int) -> np.ndarray:
    """Errors off S as a fraction of the ``off`` points (0 where S is the whole cube)."""
    return np.asarray(errors, np.float64) / max(off, 1)


def order_interval(values: np.ndarray, q: float, conf: float = 0.95) -> tuple[float, float, float]:
    """The lower ``q``-quantile of ``values`` and its distribution-free interval: the order statistics
    at the ranks Binomial(len, q) puts ``conf`` between (widened, if need be, to hold the estimate)."""
    v = np.sort(np.asarray(values, np.float64))
    k = len(v)
    if k == 0:
        return math.nan, math.nan, math.nan
    est = float(v[min(max(math.ceil(q * k) - 1, 0), k - 1)])
    lo_rank = int(stats.binom.ppf((1 - conf) / 2, k, q))
    hi_rank = int(stats.binom.ppf(1 - (1 - conf) / 2, k, q))
    lo, hi = float(v[max(lo_rank - 1, 0)]), float(v[min(hi_rank, k - 1)])
    return est, min(lo, est), max(hi, est)


def with_interval(row: dict, name: str, value: tuple[float, float, float]) -> None:
    row[name], row[f"{name}_lo"], row[f"{name}_hi"] = (float(x) for x in value)


def replicate_value(values: Sequence[float]) -> tuple[float, float, float]:
    """Mean over replicates with the 95% t-interval (clipped to [0, 1])."""
    v = np.asarray(values, np.float64)
    lo, hi = t_interval(v)
    return float(v.mean()), min(lo, float(v.mean())), max(hi, float(v.mean()))


# ----------------------------------------------------------------------------- the posterior
def posterior_tables(about: dict, runs: Sequence[PosteriorRun], facts: PassFacts, *, settings: ReadoutSMCSettings,
                     readouts: int) -> dict[str, pd.DataFrame]:
    """The ``posterior`` row, and its ``errors`` and ``top_functions`` rows."""
    s = setting_columns(about)
    off = s["N"] - s["m"]
    row: dict[str, Any] = {**s, "method": about["method"], "replicates": len(runs), "particles": settings.particles,
                           "readouts": readouts, "draws": len(runs) * settings.particles * readouts,
                           "mean_stages": float(np.mean([r.stages for r in runs])),
                           "reached": int(sum(r.beta >= 1.0 for r in runs)),
                           "acceptance": float(np.mean([r.acceptance for r in runs])),
                           "min_ess": float(min(r.ess for r in runs)), "seconds": facts.seconds}
    v, ci = combine_replicates([r.log_v_set for r in runs])
    row.update({"log10_v_set": v, "log10_v_set_lo": ci[0], "log10_v_set_hi": ci[1]})
    thr = khat_threshold(settings.particles)
    for name, attr in (("target", "log_v_target"), ("treacherous", "log_v_treacherous")):
        with_interval(row, f"log10_p_{name}", ratio_interval([getattr(r, attr) for r in runs],
                                                              [r.log_v_set for r in runs]))
        k = max((getattr(r, f"khat_{name}") for r in runs), key=lambda x: -math.inf if math.isnan(x) else x)
        row[f"khat_{name}"] = float(k)
        row[f"reliable_{name}"] = bool(off == 0 or (np.isfinite(k) and k < thr))
    shares = [function_shares(r) for r in runs]
    target_hex, treach_hex = s["target_table"], s["treacherous_table"]
    with_interval(row, "share_target", replicate_value([d.get(target_hex, 0.0) for d in shares]))
    with_interval(row, "share_treacherous", replicate_value([d.get(treach_hex, 0.0) for d in shares]))
    errs = [(error_fraction(r.errors, off), np.asarray(r.weights)) for r in runs]
    with_interval(row, "error", replicate_value([float(np.dot(w, e)) for e, w in errs]))
    for q in QUANTILES:
        with_interval(row, f"error_q{int(100 * q)}", replicate_value([weighted_quantile(e, w, q) for e, w in errs]))
    pooled: dict[str, float] = {}
    for d in shares:
        for f, w in d.items():
            pooled[f] = pooled.get(f, 0.0) + w / len(shares)
    top = sorted(pooled, key=lambda f: (-pooled[f], f))[:TOP]
    row["distinct_functions"] = sum(1 for w in pooled.values() if w > 0)
    row["top_function"] = top[0] if top else None
    with_interval(row, "top1_share", replicate_value([d.get(top[0], 0.0) for d in shares]))
    with_interval(row, "top10_share", replicate_value([sum(d.get(f, 0.0) for f in top) for d in shares]))
    hist = [np.bincount(np.asarray(r.errors, np.int64), weights=np.asarray(r.weights), minlength=off + 1)[:off + 1]
            for r in runs]
    err_rows = []
    for k in range(off + 1):
        e = {**s, "method": about["method"], "errors": k, "error": k / max(off, 1)}
        with_interval(e, "share", replicate_value([h[k] for h in hist]))
        err_rows.append(e)
    top_rows = []
    for rank, f in enumerate(top):
        t = {**s, "method": about["method"], "rank": rank + 1, "truth_table": f,
             "errors_off_s": int(np.sum(to_bits(int(f, 16), s["n_inputs"]) != to_bits(int(target_hex, 16),
                                                                                        s["n_inputs"])))}
        with_interval(t, "share", replicate_value([d.get(f, 0.0) for d in shares]))
        top_rows.append(t)
    return {"posterior": pd.DataFrame([row]), "errors": pd.DataFrame(err_rows), "top_functions": pd.DataFrame(top_rows)}


# ----------------------------------------------------------------------------- training
def training_tables(about: dict, result: Any, facts: PassFacts) -> dict[str, pd.DataFrame]:
    """The ``training`` row of a trained census, and its ``errors`` and ``top_functions`` rows."""
    census, runs = result
    s = setting_columns(about)
    n, off = s["n_inputs"], s["N"] - s["m"]
    frame = census.frame()
    tables = frame["truth_table"].to_numpy()
    counts = frame["count"].to_numpy().astype(np.int64)
    kept = int(counts.sum())
    target_bits = to_bits(int(s["target_table"], 16), n)
    errors = np.array([int(np.sum(to_bits(int(h, 16), n) != target_bits)) for h in tables], np.int64)
    row: dict[str, Any] = {**s, "method": about["method"], **runs.as_dict(), "kept": kept, "seconds": facts.seconds}

    def share(k: int) -> tuple[float, float, float]:
        if kept == 0:
            return math.nan, math.nan, math.nan
        lo, hi = clopper_pearson(int(k), kept)
        return k / kept, lo, hi

    by = dict(zip(tables, counts))
    for name, h in (("target", s["target_table"]), ("treacherous", s["treacherous_table"])):
        p = share(by.get(h, 0))
        with_interval(row, f"share_{name}", p)
        row[f"log10_p_{name}"] = math.log10(p[0]) if p[0] > 0 else -math.inf
        row[f"log10_p_{name}_lo"] = math.log10(p[1]) if p[1] > 0 else -math.inf
        row[f"log10_p_{name}_hi"] = math.log10(p[2]) if p[2] > 0 else -math.inf
    per_run = np.repeat(error_fraction(errors, off), counts)
    if kept:
        mean = float(per_run.mean())
        half = float(stats.t.ppf(0.975, kept - 1) * per_run.std(ddof=1) / math.sqrt(kept)) if kept > 1 else math.nan
        with_interval(row, "error", (mean, max(mean - half, 0.0), min(mean + half, 1.0)))
    else:
        with_interval(row, "error", (math.nan,) * 3)
    for q in QUANTILES:
        with_interval(row, f"error_q{int(100 * q)}", order_interval(per_run, q))
    order = np.lexsort((tables, -counts))[:TOP]
    row["distinct_functions"] = int(len(tables))
    row["top_function"] = tables[order[0]] if len(order) else None
    with_interval(row, "top1_share", share(counts[order[0]] if len(order) else 0))
    with_interval(row, "top10_share", share(counts[order].sum() if len(order) else 0))
    hist = np.bincount(errors, weights=counts, minlength=off + 1)[:off + 1] if kept else np.zeros(off + 1)
    lo, hi = clopper_pearson_many(hist.astype(np.int64), kept) if kept else (hist * np.nan, hist * np.nan)
    err_rows = [{**s, "method": about["method"], "errors": k, "error": k / max(off, 1),
                 "share": hist[k] / kept if kept else math.nan, "share_lo": lo[k], "share_hi": hi[k]}
                for k in range(off + 1)]
    top_rows = []
    for rank, i in enumerate(order):
        t = {**s, "method": about["method"], "rank": rank + 1, "truth_table": tables[i], "errors_off_s": int(errors[i])}
        with_interval(t, "share", share(counts[i]))
        top_rows.append(t)
    return {"training": pd.DataFrame([row]), "errors": pd.DataFrame(err_rows), "top_functions": pd.DataFrame(top_rows)}


# ----------------------------------------------------------------------------- rejection
def agreeing(tables: np.ndarray, tt: int, points: Sequence[int], n: int) -> tuple[np.ndarray, np.ndarray]:
    """For packed truth tables ``[K, words]``: which agree with ``tt`` on ``points`` (S), and each
    one's number of points off S where it differs from ``tt``.

    >>> agreeing(np.array([[0b1000], [0b1110], [0b0111]], np.uint32), 0b1000, [0, 3], 2)
    (array([ True,  True, False]), array([0, 2, 2]))
    """
    s_bits = sum(1 << int(p) for p in points)
    diff = np.asarray(tables, np.uint32).reshape(-1, int_to_words(0, n).size) ^ int_to_words(tt, n)
    keep = ~np.any(diff & int_to_words(s_bits, n), axis=1)
    errors = np.bitwise_count(diff & int_to_words(full_table(n) & ~s_bits, n)).sum(axis=1, dtype=np.int64)
    return keep, errors


def count_share(k: int, kept: int) -> tuple[float, float, float]:
    """``k / kept`` with its Clopper-Pearson interval; NaN with no draw kept."""
    if kept == 0:
        return math.nan, math.nan, math.nan
    lo, hi = clopper_pearson(int(k), kept)
    return k / kept, lo, hi


def log10_share(p: tuple[float, float, float]) -> tuple[float, float, float]:
    """A share and its interval in log10 (0 as ``-inf``, NaN kept)."""
    return tuple(math.log10(x) if x > 0 else (math.nan if math.isnan(x) else -math.inf) for x in p)


T_MIN_DRAWS = 30  # below this many draws (or with every draw alike) the mean error gets the binomial interval


def bounded_mean_interval(mean: float, k: int, conf: float = 0.95) -> tuple[float, float]:
    """A ``conf`` interval for the mean of ``k`` draws of values in [0, 1]: Clopper-Pearson's for
    ``k * mean`` hits out of ``k`` (the beta quantiles at non-integer hits; one-sided with none).
    Draws in [0, 1] of a given mean spread at most as much as Bernoulli draws, so it is the wider.

    >>> [round(x, 3) for x in bounded_mean_interval(0.0, 2)]
    [0.0, 0.776]
    """
    x, alpha = k * mean, 1 - conf
    if x <= 0:
        return 0.0, -math.expm1(math.log(alpha) / k)
    lo = float(stats.beta.ppf(alpha / 2, x, k - x + 1))
    hi = 1.0 if x >= k else float(stats.beta.ppf(1 - alpha / 2, x + 1, k - x))
    return lo, hi


def weighted_mean_interval(values: np.ndarray, counts: np.ndarray) -> tuple[float, float, float]:
    """The mean of ``values`` (in [0, 1]) each seen ``counts`` times, with a 95% interval over the
    draws: Student-t (clipped to [0, 1]) from :data:`T_MIN_DRAWS` draws on while they differ, else
    :func:`bounded_mean_interval` (a t-interval is zero-wide when the few draws agree); all NaN with
    no draw. The interval always holds the mean."""
    k = int(counts.sum())
    if k == 0:
        return math.nan, math.nan, math.nan
    mean = float(np.dot(counts, values) / k)
    sd = math.sqrt(float(np.dot(counts, (values - mean) ** 2)) / (k - 1)) if k > 1 else 0.0
    if k < T_MIN_DRAWS or sd == 0:
        lo, hi = bounded_mean_interval(mean, k)
    else:
        half = float(stats.t.ppf(0.975, k - 1)) * sd / math.sqrt(k)
        lo, hi = mean - half, mean + half
    return mean, min(max(lo, 0.0), mean), max(min(hi, 1.0), mean)


def rejection_row(about: dict, tables: np.ndarray, counts: np.ndarray, drawn: int) -> dict:
    """The ``rejection`` row of one setting from a prior census of ``drawn`` networks (packed
    ``tables`` seen ``counts`` times): the census restricted to the functions that agree with f* on S."""
    s = setting_columns(about)
    n, off = s["n_inputs"], s["N"] - s["m"]
    keep, errors = agreeing(tables, about["target_table"], about["S"], n)
    c, e, t = np.asarray(counts, np.int64)[keep], errors[keep], np.asarray(tables)[keep]
    kept = int(c.sum())
    row: dict[str, Any] = {**s, "method": about["method"], "samples": int(drawn), "kept": kept}
    with_interval(row, "log10_v_set", log10_share(count_share(kept, int(drawn))))
    for name, k in (("target", int(c[e == 0].sum())), ("treacherous", int(c[e == off].sum()))):
        row[f"hits_{name}"] = k
        p = count_share(k, kept)
        with_interval(row, f"share_{name}", p)
        with_interval(row, f"log10_p_{name}", log10_share(p))
    frac = error_fraction(e, off)
    exact = off == 0 and kept > 0  # S is the whole cube: no point off S, no error
    with_interval(row, "error", (0.0, 0.0, 0.0) if exact else weighted_mean_interval(frac, c))
    per_draw = np.repeat(frac, c)
    for q in QUANTILES:
        with_interval(row, f"error_q{int(100 * q)}", order_interval(per_draw, q))
    order = np.lexsort((np.arange(len(c)), -c))[:TOP]
    row["distinct_functions"] = int(len(c))
    row["top_function"] = rows_to_hex(t[order[:1]], n)[0] if len(order) else None
    with_interval(row, "top1_share", count_share(c[order[0]] if len(order) else 0, kept))
    with_interval(row, "top10_share", count_share(c[order].sum() if len(order) else 0, kept))
    return row


def rejection_tables(abouts: Sequence[dict], census: Any, facts: PassFacts) -> dict[str, pd.DataFrame]:
    """The ``rejection`` rows of every setting of one cube size and network, from its prior census."""
    rows = [rejection_row(a, census.tables, census.counts, census.samples) for a in abouts]
    return {"rejection": pd.DataFrame([{**r, "seconds": facts.seconds} for r in rows])}


# ----------------------------------------------------------------------------- the three side by side
def function_count_rows(posterior: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The function count's ``comparison`` and ``errors`` rows for every setting of ``posterior``."""
    comp, errs = [], []
    for _, p in posterior.iterrows():
        s = {c: p[c] for c in SETTING}
        off = int(p["N"] - p["m"])
        log_p = -off * LOG10_2
        acc = 1.0 if off == 0 else 0.5
        comp.append({**s, "method": "functions", "accuracy": acc, "accuracy_lo": acc, "accuracy_hi": acc,
                     **{f"log10_p_{k}{e}": log_p for k in ("target", "treacherous") for e in ("", "_lo", "_hi")}})
        pmf = stats.binom.pmf(np.arange(off + 1), off, 0.5)
        errs += [{**s, "method": "functions", "errors": k, "error": k / max(off, 1), "share": float(pmf[k]),
                  "share_lo": float(pmf[k]), "share_hi": float(pmf[k])} for k in range(off + 1)]
    return pd.DataFrame(comp), pd.DataFrame(errs)


def comparison(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per setting and method: the expected accuracy off S (1 - mean error) and log10 of P(f* | S)
    and P(f_T | S), each with its interval (the figures' table)."""
    post = tables["posterior"]
    fc, _ = function_count_rows(post)
    parts = [fc]
    cols = [f"log10_p_{k}{e}" for k in ("target", "treacherous") for e in ("", "_lo", "_hi")]
    for name in ("posterior", "training", "rejection"):
        if name not in tables or tables[name].empty:
            continue
        t = tables[name]
        d = t[SETTING + ["method"] + cols].copy()
        d["accuracy"], d["accuracy_lo"], d["accuracy_hi"] = 1 - t["error"], 1 - t["error_hi"], 1 - t["error_lo"]
        parts.append(d)
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["n_inputs", "architecture", "target", "m", "draw"], kind="stable", ignore_index=True)


# ----------------------------------------------------------------------------- the identity
IDENTITY_KEYS = ["n_inputs", "architecture", "target", "m", "draw"]
QUANTITIES = (("P(f*|S)", "log10", "log10_p_target", "hits_target"),
              ("P(f_T|S)", "log10", "log10_p_treacherous", "hits_treacherous"),
              ("share of draws on f*", "linear", "share_target", "hits_target"),
              ("accuracy off S", "linear", "accuracy", "kept"))


def overlap(a: tuple[float, float], b: tuple[float, float]) -> Any:
    """Whether two intervals meet (``pd.NA`` where an end is unknown)."""
    if any(math.isnan(x) for x in (*a, *b)):
        return pd.NA
    return bool(max(a[0], b[0]) <= min(a[1], b[1]))


def identity(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The parameter count against rejection, per setting and quantity: P(f* | S) and P(f_T | S)
    (log10; the parameter count's Rao-Blackwellised ratio), the share of the posterior's draws on f*
    and the expected accuracy off S (linear), each method's estimate and interval, ``difference``
    (parameter count minus rejection: decades for log10, else absolute) and ``overlap``.
    ``well_sampled``: rejection kept at least :data:`WELL_SAMPLED_KEPT` draws, saw the function
    compared at least :data:`WELL_SAMPLED_HITS` times (the accuracy: the kept draws) and S is not
    the whole cube (where both are 1 by construction)."""
    post, rej = tables.get("posterior"), tables.get("rejection")
    if post is None or rej is None or post.empty or rej.empty:
        return pd.DataFrame()
    post = post.assign(accuracy=1 - post["error"], accuracy_lo=1 - post["error_hi"], accuracy_hi=1 - post["error_lo"])
    rej = rej.assign(accuracy=1 - rej["error"], accuracy_lo=1 - rej["error_hi"], accuracy_hi=1 - rej["error_lo"])
    by = {tuple(r[k] for k in IDENTITY_KEYS): r for _, r in rej.iterrows()}
    rows = []
    for _, p in post.iterrows():
        r = by.get(tuple(p[k] for k in IDENTITY_KEYS))
        if r is None:
            continue
        for quantity, scale, col, hits_col in QUANTITIES:
            pv, rv = (float(x[col]) for x in (p, r))
            pi, ri = ((float(x[f"{col}_lo"]), float(x[f"{col}_hi"])) for x in (p, r))
            well = bool(r["kept"] >= WELL_SAMPLED_KEPT and r[hits_col] >= WELL_SAMPLED_HITS and p["m"] < p["N"])
            rel = p.get(f"reliable_{col.removeprefix('log10_p_')}", pd.NA) if scale == "log10" else pd.NA
            rows.append({**{c: p[c] for c in SETTING}, "quantity": quantity, "scale": scale,
                         "parameters": pv, "parameters_lo": pi[0], "parameters_hi": pi[1],
                         "rejection": rv, "rejection_lo": ri[0], "rejection_hi": ri[1],
                         "kept": int(r["kept"]), "hits": int(r[hits_col]), "well_sampled": well,
                         "parameters_reliable": rel, "difference": pv - rv, "overlap": overlap(pi, ri)})
    out = pd.DataFrame(rows)
    for c in ("parameters_reliable", "overlap"):
        out[c] = out[c].astype("boolean")
    return out


def identity_counts(ident: pd.DataFrame) -> pd.DataFrame:
    """Per quantity: the well-sampled settings and how many of them overlap."""
    w = ident[ident["well_sampled"] & ident["overlap"].notna()]
    g = w.groupby("quantity", sort=False)["overlap"]
    out = pd.DataFrame({"well_sampled": g.size(), "overlap": g.sum().astype(int)})
    return out.reindex([q[0] for q in QUANTITIES]).dropna().astype(int)
