"""The training experiment's tables: P(f | S) per pass, the runs, and P_SGD against P_B.

* ``functions``: one row per pass and function kept: ``count``, ``p_given_s`` (count over the
  networks kept), its ``log10`` and 95% Clopper-Pearson interval
  (:func:`counting.training.posterior.given_s_frame`).
* ``runs``: one row per pass: networks drawn and kept and, for trained passes, how many runs fitted
  S and their mean steps.
* ``comparison`` (:func:`comparison`): per architecture, target, m and optimiser, every function
  either method kept, with ``p_sgd`` and ``p_b`` (0 where unseen) and their intervals.
* ``agreement`` (:func:`agreement`): per optimiser setting, over the functions both methods saw:
  Spearman's rank correlation of P_SGD(f | S) and P_B(f | S), and the mean of
  ``log10(P_SGD / P_B)``, each with a 95% parametric-bootstrap interval (both censuses redrawn as
  multinomials of their own counts, ``BOOTSTRAP`` times, from ``numpy``'s PCG64 seeded by the
  experiment's seed). These are percentile intervals of a statistic of two noisy censuses: a
  resample adds its own noise to the counts, which lowers a rank correlation, so the interval may
  lie below the point estimate when the censuses are small; more samples narrow both.
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

Example:
    >>> import numpy as np, pandas as pd
    >>> f = pd.DataFrame({"architecture": "a0", "target": "t", "m": 4, "method": ["posterior"] * 3 + ["adam"] * 3,
    ...                   "truth_table": ["0x1", "0x2", "0x3"] * 2, "count": [50, 30, 20, 60, 25, 15]})
    >>> c = comparison(f)
    >>> c[["truth_table", "n_sgd", "n_b"]].values.tolist()
    [['0x1', 60, 50], ['0x2', 25, 30], ['0x3', 15, 20]]
    >>> a = agreement(c, seed=0, rounds=50)
    >>> float(a["spearman"][0]), bool(a["spearman_lo"][0] <= a["spearman"][0] <= a["spearman_hi"][0])
    (1.0, True)
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from counting.boolean.tables import to_hex
from counting.experiments.base.shares import share_columns
from counting.experiments.depth.tables import CLASS_NAMES, classes_from_joint
from counting.experiments.llamaizer.plan import TargetPlan
from counting.experiments.llamaizer.tally import TargetCounts
from counting.mechanisms.routes import Decomposition
from counting.rare.conditional import t_interval
from counting.stats import clopper_pearson_many

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


def agreement(comp: pd.DataFrame, seed: int = 0, rounds: int = BOOTSTRAP) -> pd.DataFrame:
    """One row per setting and optimiser: :func:`statistics` with 95% bootstrap intervals, and each
    statistic's null (:func:`null_statistics`: both samples from the pooled census at the two
    sizes, ``rounds`` times from PCG64 seeded by ``[seed, 1]``) as its median and the observed
    value's two-sided p-value (:func:`null_position`): ``spearman_null``, ``spearman_p``,
    ``ratio_null``, ``ratio_p``. Only a departure from the null says training and the prior differ."""
    rows = []
    rng = np.random.default_rng(seed)
    null_rng = np.random.default_rng([seed, 1])
    keys = [c for c in SETTING + ["method"] if c in comp]
    for setting, d in comp.groupby(keys, sort=False):
        n_s, n_b = d["n_sgd"].to_numpy(), d["n_b"].to_numpy()
        rho, ratio, common = statistics(n_s, n_b)
        boot = np.array([statistics(rng.multinomial(n_s.sum(), n_s / max(n_s.sum(), 1)),
                                    rng.multinomial(n_b.sum(), n_b / max(n_b.sum(), 1)))[:2] for _ in range(rounds)])
        lo, hi = (np.nanpercentile(boot, q, axis=0) if np.isfinite(boot).any() else (np.nan, np.nan)
                  for q in (2.5, 97.5))
        rows.append({**dict(zip(keys, setting)), "functions_sgd": int((n_s > 0).sum()),
                     "functions_b": int((n_b > 0).sum()), "common": common, "spearman": rho,
                     "spearman_lo": lo[0] if np.ndim(lo) else lo, "spearman_hi": hi[0] if np.ndim(hi) else hi,
                     "mean_log10_ratio": ratio, "ratio_lo": lo[1] if np.ndim(lo) else lo,
                     "ratio_hi": hi[1] if np.ndim(hi) else hi})
        null = null_statistics(null_rng, n_s, n_b, rounds)
        (rows[-1]["spearman_null"], rows[-1]["spearman_p"]), (rows[-1]["ratio_null"], rows[-1]["ratio_p"]) = (
            null_position(rho, null[:, 0]), null_position(ratio, null[:, 1]))
    return pd.DataFrame(rows)


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


def _with_about(about: dict, rows: list[dict]) -> pd.DataFrame:
    out = pd.DataFrame(rows, columns=["target", "mechanism", "layer", "solutions", "count",
                                      *(["share", "share_lo", "share_hi", "interval", "replicates"]
                                        if rows and "share" in rows[0] else [])])
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
        return {"prior_estimator": prior["estimator"].to_numpy(), "prior_interval": prior["interval"].to_numpy(),
                "prior_replicates": prior["replicates"].to_numpy().astype(np.int64)}
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
