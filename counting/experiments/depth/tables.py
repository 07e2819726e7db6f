"""The depth experiment's tables, from its exact counts (hit-or-miss) and its SMC replicates.

* ``bias``: per model kind, depth, target and ``method``, the volume with its 95% interval (log10).
  ``mc`` rows: the hits among the networks drawn, Clopper-Pearson (zero hits give the one-sided
  upper bound). ``smc`` rows (targets too rare to hit): the mean of the tempered-SMC replicates
  with a Student-t interval (:func:`counting.rare.replicates.summarize_replicates`), how many
  replicates reached the target, their spread, the network evaluations spent, and ``log10_bound``:
  the largest last-stage ``log10 Z_b``, an upper bound on the volume as far as the moves mixed.
  ``readout`` rows (the same targets with ``[bias.estimator] kind = "readout"``): the mean of
  ``P(f | hidden)`` over ``samples`` hidden draws with its normal interval, and whether to trust
  it: the Pareto ``khat`` of its largest terms against ``khat_threshold`` (``reliable``), the
  largest network's share of the sum ``max_share``, the effective sample size ``ess``, the
  networks whose readout cannot reach f (``zero_networks``) and a one-line ``warning`` where not
  reliable; where no network reaches f, no volume and ``ci95_hi`` the one-sided 95% bound.
  ``readout_smc`` rows: the replicates' columns of ``smc`` rows (``evaluations``: orthant
  probabilities) with that method's diagnostics (:func:`bias_estimate_row`).
* ``lesions``: per residual depth and group (``all`` networks, or a target's solutions) the
  histogram of (used blocks, longest used path); ``lesion_summary``: their means and the total
  variation distance of the longest-used-path distribution from the binomial ``(depth, 1/2)`` of
  the unweighted ensemble of paths.
* ``routes``: per decomposition, width, depth and method, the solutions' four classes
  (:data:`counting.mechanisms.routes.CLASSES`), the shares taking each route, the measured volume
  ratio ``V(f and tree) / V(f and chain)`` (= ratio of those shares) and the placement ratios of
  :mod:`counting.analytic.placements` next to it.
  Hit-or-miss rows also give the baseline among all networks drawn (``takes_chain_prior``,
  ``takes_tree_prior``): a route's intermediates may be built whatever the network computes.
  Beside the unordered reading, the chain under the ordered readings (:data:`READINGS`:
  ``takes_chain_ordered``, ``ratio_tree_chain_ordered`` with ``ratio_ordered_lo`` / ``_hi``, and
  the same for ``_strict`` and ``_weak``), and how the chain's solutions split by order
  (:data:`LEVEL_NAMES`).
  ``readout`` rows (``[routes.estimator] kind = "readout"``): the decomposition's volume with the
  readout integrated out and each class's volume ``E[1{class} P(f | hidden)]``; the shares are
  their ratios to the volume, with delta-method intervals for a ratio of means over the same
  networks (:func:`route_readout_row`), and the readout's diagnostics for the volume and each class
  (``<class>_khat``); no ordered readings, placements or solution counts.
* ``placements``: among the solutions taking a route, the share at each (first stage, last stage)
  of its two intermediates, and the volume of the target computed with the route at that placement.
* ``placement_rules``: per ``routes`` row and placement rule
  (:data:`counting.analytic.placements.RULES`), the predicted ratio tree / chain (one circuit and
  summed over alternatives) beside the measured ones.

Intervals. Hit-or-miss shares: Clopper-Pearson. Their ratio: the 2.5% and 97.5% points of the
ratio under the Jeffreys posterior ``Dirichlet(counts + 1/2)`` of the four classes (20,000 draws
from a fixed generator, so tables are reproducible). SMC: shares are means over replicates with
Student-t intervals (the solutions within a population are correlated MCMC draws; replicates are
independent), the volume is :func:`counting.rare.replicates.summarize_replicates`', and the ratio
interval is the conservative quotient of the two share intervals.

Example:
    >>> import numpy as np
    >>> cls = classes_from_joint(np.bincount([0, 3, 3 * 4, 15], minlength=16), never=1)  # C = 4; code 3: none
    >>> cls
    {'both': 1, 'chain only': 1, 'tree only': 1, 'neither': 1}
    >>> lo, hi = ratio_interval(np.array([10, 30, 10, 50]))
    >>> bool(lo < 0.5 < hi)
    True
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd

from counting.analytic.placements import BLOCKS, RULES, Rule, placements
from counting.boolean.tables import to_hex
from counting.experiments.base.shares import share_columns, volume_columns
from counting.mechanisms.lesions import path_length_pmf
from counting.mechanisms.routes import LEVELS, ORDERS, Decomposition, decode_placement
from counting.rare.conditional import t_interval
from counting.estimators.replicated import method_diagnostics, replicates_estimate
from counting.estimators.result import VOLUME_COLUMNS, Estimate

CLASS_NAMES = ("both", "chain only", "tree only", "neither")
RATIO_DRAWS = 20_000


def classes_from_joint(joint: np.ndarray, never: int) -> dict[str, int]:
    """The four class counts of a joint placement histogram (route 0 = chain, route 1 = tree)."""
    c = (never + 1) ** 2
    a = np.asarray(joint, np.int64).reshape(c, c)
    no = c - 1
    return {"both": int(a[:no, :no].sum()), "chain only": int(a[:no, no].sum()),
            "tree only": int(a[no, :no].sum()), "neither": int(a[no, no])}


def ratio_interval(counts: np.ndarray, draws: int = RATIO_DRAWS, seed: int = 0) -> tuple[float, float]:
    """95% interval of ``(both + tree only) / (both + chain only)`` under ``Dirichlet(counts + 1/2)``."""
    p = np.random.default_rng(seed).dirichlet(np.asarray(counts, np.float64) + 0.5, size=draws)
    r = (p[:, 0] + p[:, 2]) / (p[:, 0] + p[:, 1])
    lo, hi = np.quantile(r, [0.025, 0.975])
    return float(lo), float(hi)


def bias_table(rows: Sequence[dict]) -> pd.DataFrame:
    """``rows``: dicts with model, depth, width, params, target, truth_table, samples, hits."""
    out = []
    for r in rows:
        out.append({**r, "truth_table": to_hex(r["truth_table"], 4), "method": "mc",
                    **volume_columns(r["hits"], r["samples"])})
    return pd.DataFrame(out)


def bias_smc_row(about: dict, target: str, truth_table: int, runs: Sequence) -> dict:
    """One ``smc`` row of ``bias`` from the replicates' run records
    (:class:`~counting.rare.smc.SMCRun`: ``log_p``, ``evaluations``, ``stages``, ``log_z``): the
    volume columns of :func:`smc_estimate`, the replicates' spread and the method's diagnostics."""
    e = smc_estimate([r.log_p for r in runs], sum(r.evaluations for r in runs))
    d = e.diagnostics
    finite = [x for x in d["replicates_log10"] if math.isfinite(x)]
    return {**about, "target": target, "truth_table": to_hex(truth_table, 4), "method": e.estimator,
            "replicates": d["replicates"], "reached": d["reached"], "evaluations": e.samples,
            **e.columns(names=VOLUME_COLUMNS),
            "replicate_min_log10": min(finite) if finite else math.nan,
            "replicate_max_log10": max(finite) if finite else math.nan,
            "replicate_sd_log10": d["replicate_sd_log10"], **method_diagnostics("smc", runs)}


READOUT_COLUMNS = ("khat", "khat_threshold", "reliable", "max_share", "ess", "zero_networks", "warning")
"""The diagnostics a ``readout`` row of ``bias`` carries (:mod:`counting.estimators.readout`)."""
READOUT_SMC_COLUMNS = ("replicates", "reached", "replicate_sd_log10", "log10_bound", "mean_stages", "acceptance",
                       "worst_log10_correction", "worst_correction_ess")
"""The diagnostics a ``readout_smc`` row of ``bias`` carries (:mod:`counting.estimators.readout_smc`)."""


def bias_estimate_row(about: dict, target: str, truth_table: int, e: Estimate) -> dict:
    """One row of ``bias`` from an estimator's :class:`~counting.estimators.result.Estimate` (a rare
    target by ``readout`` or ``readout_smc``): the volume columns of ``smc`` rows, the method's
    cost (``samples``: hidden draws for ``readout``; ``evaluations``: orthant probabilities for
    ``readout_smc``) and its diagnostics (:data:`READOUT_COLUMNS`, :data:`READOUT_SMC_COLUMNS`;
    ``warning`` is ``None`` where the estimate is reliable)."""
    d = e.diagnostics
    row = {**about, "target": target, "truth_table": to_hex(truth_table, 4), "method": e.estimator,
           **e.columns(names=VOLUME_COLUMNS)}
    if e.estimator == "readout":
        row["samples"] = e.samples
        row.update({k: d.get(k) for k in READOUT_COLUMNS})
    else:
        row["evaluations"] = e.samples
        row.update({k: d.get(k) for k in READOUT_SMC_COLUMNS})
    return row


def lesion_tables(about: dict, groups: Sequence[str], hist: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``lesions`` rows and ``lesion_summary`` rows of one residual depth."""
    d = about["depth"]
    pmf = path_length_pmf(d)
    rows, summary = [], []
    for g, h in zip(groups, np.asarray(hist, np.int64)):
        h2 = h.reshape(d + 1, d + 1)  # [used blocks, longest path]
        n = int(h2.sum())
        for u in range(d + 1):
            for p in range(d + 1):
                if h2[u, p]:
                    rows.append({**about, "group": g, "used_blocks": u, "longest_path": p, "count": int(h2[u, p]),
                                 "n": n, "share": h2[u, p] / n})
        path = h2.sum(axis=0) / n if n else np.full(d + 1, np.nan)
        used = h2.sum(axis=1) / n if n else np.full(d + 1, np.nan)
        ks = np.arange(d + 1)
        summary.append({**about, "group": g, "n": n,
                        "mean_used_blocks": float(used @ ks) if n else math.nan,
                        "mean_longest_path": float(path @ ks) if n else math.nan,
                        "binomial_mean_path": d / 2,
                        "share_path_0": float(path[0]) if n else math.nan,
                        "share_path_full": float(path[d]) if n else math.nan,
                        "tv_from_binomial": float(0.5 * np.abs(path - pmf).sum()) if n else math.nan})
    return pd.DataFrame(rows), pd.DataFrame(summary)


def placement_columns(d: Decomposition, depth: int, rule: Rule = BLOCKS, counts: bool = False) -> dict:
    """Placement counts of the two routes' circuits in ``depth`` blocks, tree (route 1) over chain
    (route 0): for one circuit of each shape, and summed over every alternative of each route
    (each count times the route's number of alternatives; NaN where the deeper circuit does not fit).

    The rule is :func:`counting.analytic.placements.placements`'s ``rule``; by default
    (:data:`~counting.analytic.placements.BLOCKS`) every gate of the circuit (the output gate
    included) in blocks ``1..depth``, never the embedding, each strictly after the gates it reads.
    The measured routes differ from it: their stages include the embedding (stage 0) and need no
    order between intermediates (:func:`counting.mechanisms.routes.takes`); the other rules
    (:data:`~counting.analytic.placements.RULES`) mirror those choices. With ``counts`` the counts
    of one circuit are given too (``placements_chain``, ``placements_tree``)."""
    chain, tree = d.routes
    c, t = placements(chain.circuit, depth, rule), placements(tree.circuit, depth, rule)
    out = {"placements_chain": c, "placements_tree": t} if counts else {}
    if c == 0 or t == 0:
        return {**out, "placement_ratio": math.nan, "placement_ratio_all": math.nan}
    return {**out, "placement_ratio": t / c,
            "placement_ratio_all": len(tree.alternatives) * t / (len(chain.alternatives) * c)}


READINGS = {"ordered": "ordered", "strict": "strict", "weak": "weak"}
"""The ordered readings of the chain reported beside the unordered one: column suffix -> reading of
:data:`counting.mechanisms.routes.ORDERS`. ``_ordered`` (the triple first held at a site computed
after its pair's first site) is the headline; ``_strict`` (a stage strictly after) and ``_weak``
(the same stage allowed) bracket it."""
LEVEL_NAMES = ("chain_triple_earlier", "chain_same_stage_unread", "chain_same_stage_read", "chain_pair_earlier")
"""Among the solutions taking the chain (in any order), the share whose strongest reading is each
level of :func:`counting.mechanisms.routes.order_levels`: the triple at an earlier stage than its
pair in every alternative taken; at the same stage, the triple's site not after the pair's; at the
same stage, the pair in a block's units and the triple in the stream after them; the pair at an
earlier stage."""


def classes_from_order(order: np.ndarray, reading: str) -> dict[str, int]:
    """The four class counts of a joint order-level histogram (``level(chain) * LEVELS +
    level(tree)``), each route taken when its level reaches ``reading`` (one of
    :data:`counting.mechanisms.routes.ORDERS`)."""
    a = np.asarray(order, np.int64).reshape(LEVELS, LEVELS)
    k = ORDERS.index(reading) + 1
    return {"both": int(a[k:, k:].sum()), "chain only": int(a[k:, :k].sum()),
            "tree only": int(a[:k, k:].sum()), "neither": int(a[:k, :k].sum())}


def chain_level_shares(order: np.ndarray) -> dict[str, float]:
    """:data:`LEVEL_NAMES`: how the solutions taking the chain in any order split by level."""
    a = np.asarray(order, np.int64).reshape(LEVELS, LEVELS).sum(axis=1)[1:]
    n = int(a.sum())
    return {name: (int(k) / n if n else math.nan) for name, k in zip(LEVEL_NAMES, a)}


def _reading_columns(counts: np.ndarray, per_replicate: np.ndarray | None, suffix: str = "",
                     classes: bool = False) -> dict:
    """The shares taking each route (``takes_chain``, ``takes_tree``, with ``classes`` the four class
    shares too), each with its interval, and ``ratio_tree_chain`` with ``ratio_lo`` / ``ratio_hi``,
    from class counts (hit-or-miss) or from per-replicate class shares ``[R, 4]`` (SMC); every
    name but the class shares' ends in ``suffix`` (the ratio's ends: ``ratio{suffix}_lo``)."""
    n = int(counts.sum())
    row = {}
    takes = {"chain": counts[0] + counts[1], "tree": counts[0] + counts[2]}
    if per_replicate is None:
        for c, k in zip(CLASS_NAMES, counts) if classes else ():
            s = share_columns([k], n, exact=False)
            row.update({f"{c}": float(s["share"][0]), f"{c}_lo": float(s["share_lo"][0]),
                        f"{c}_hi": float(s["share_hi"][0])})
        for r, k in takes.items():
            s = share_columns([k], n, exact=False)
            row.update({f"takes_{r}{suffix}": float(s["share"][0]), f"takes_{r}{suffix}_lo": float(s["share_lo"][0]),
                        f"takes_{r}{suffix}_hi": float(s["share_hi"][0])})
        lo, hi = ratio_interval(counts) if n else (math.nan, math.nan)
    else:
        per = per_replicate[np.isfinite(per_replicate[:, 0])]
        cols = {c: per[:, i] for i, c in enumerate(CLASS_NAMES)} if classes else {}
        cols[f"takes_chain{suffix}"], cols[f"takes_tree{suffix}"] = per[:, 0] + per[:, 1], per[:, 0] + per[:, 2]
        for c, v in cols.items():
            lo_, hi_ = t_interval(v) if len(v) else (math.nan, math.nan)
            row.update({c: float(v.mean()) if len(v) else math.nan, f"{c}_lo": lo_, f"{c}_hi": hi_})
        if not (row[f"takes_chain{suffix}_hi"] > 0):  # no replicate saw the chain: no ratio to bound
            lo, hi = math.nan, math.nan
        else:
            lo = row[f"takes_tree{suffix}_lo"] / row[f"takes_chain{suffix}_hi"]
            hi = (row[f"takes_tree{suffix}_hi"] / row[f"takes_chain{suffix}_lo"] if row[f"takes_chain{suffix}_lo"] > 0
                  else math.inf)
    tc, tt = row[f"takes_chain{suffix}"], row[f"takes_tree{suffix}"]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = tt / tc if tc > 0 else (math.inf if tt > 0 else math.nan)
    row.update({f"ratio_tree_chain{suffix}": ratio, f"ratio{suffix}_lo": lo, f"ratio{suffix}_hi": hi})
    return row


def _shares(c: dict[str, int]) -> np.ndarray:
    n = sum(c.values())
    return np.array([c[k] for k in CLASS_NAMES], np.float64) / n if n else np.full(4, np.nan)


def route_rows(d: Decomposition, about: dict, never: int, method: str, class_counts: dict[str, int],
               per_replicate: np.ndarray | None, volume: dict, samples: int, order: np.ndarray | None = None,
               per_replicate_order: Sequence[np.ndarray] | None = None) -> dict:
    """One ``routes`` row. ``per_replicate``: SMC class shares ``[R, 4]`` (``None`` for hit-or-miss).

    With ``order`` (the solutions' joint order-level histogram, :class:`~counting.experiments.depth.tally.RouteTally`'s
    ``order``; for SMC with each replicate's, ``per_replicate_order``) the row also gives, for each
    reading of :data:`READINGS`, ``takes_chain_<reading>``, ``takes_tree_<reading>`` and
    ``ratio_tree_chain_<reading>`` with ``ratio_<reading>_lo`` / ``_hi`` (the same intervals as the
    unordered ratio), and :data:`LEVEL_NAMES`."""
    counts = np.array([class_counts[c] for c in CLASS_NAMES], np.int64)
    n = int(counts.sum())
    row = {"decomposition": d.name, **about, "method": method, "samples": samples, "solutions": n, **volume}
    row.update(_reading_columns(counts, per_replicate, classes=True))
    row.update(placement_columns(d, about["depth"]))
    if order is not None:
        for suffix, reading in READINGS.items():
            c = classes_from_order(order, reading)
            per = None
            if per_replicate is not None:
                per = np.array([_shares(classes_from_order(o, reading)) for o in per_replicate_order])
            row.update(_reading_columns(np.array([c[k] for k in CLASS_NAMES], np.int64), per, f"_{suffix}"))
        row.update(chain_level_shares(order))
    return row


Z95 = 1.959963984540054


def readout_sums(e: Estimate) -> tuple[float, float]:
    """``sum p`` and ``sum p^2`` over a readout estimate's networks, from its mean, its network count
    and its effective sample size ``(sum p)^2 / sum p^2`` (0 and 0 where no network reaches f)."""
    s1 = e.volume * e.samples
    ess = e.diagnostics.get("ess")
    return (s1, s1**2 / ess) if s1 > 0 and ess and ess > 0 else (0.0, 0.0)


def _ratio_of_means(a: tuple[float, float], b: tuple[float, float], ab: float) -> tuple[float, float, float]:
    """``sum A / sum B`` over the same networks with its 95% delta-method interval, from
    ``(sum A, sum A^2)``, ``(sum B, sum B^2)`` and ``sum A B`` (NaN without B; ``inf`` with A and no
    B; the lower end clipped at 0)."""
    if b[0] <= 0:
        return (math.inf if a[0] > 0 else math.nan), math.nan, math.nan
    r = a[0] / b[0]
    var = max(a[1] - 2 * r * ab + r * r * b[1], 0.0) / b[0] ** 2  # sum (A_i - r B_i)^2 / (sum B)^2
    half = Z95 * math.sqrt(var)
    return r, max(r - half, 0.0), r + half


def route_readout_row(d: Decomposition, about: dict, estimates: Sequence[Estimate]) -> dict:
    """One ``readout`` row of ``routes`` from the readout's estimates of "computes f" and of each
    route class (:func:`counting.experiments.depth.rare.route_readout_targets`, in the order of
    :data:`CLASS_NAMES`). With ``p_i = P(f | hidden_i)`` and ``c_i`` a network's class, a class's
    share of the volume is ``sum 1{c_i in U} p_i / sum p_i`` over the same networks, its interval
    the delta method's: the variance of the residuals ``(1{c_i in U} - share) p_i``, which needs
    only each class's ``sum p`` and ``sum p^2`` (the classes are disjoint); likewise the ratio
    tree / chain, whose cross term is the class ``both``'s. Columns: the volume's as an SMC row's,
    the readout's diagnostics, the four class shares and ``takes_chain``, ``takes_tree``,
    ``ratio_tree_chain`` with their ``_lo`` / ``_hi``, each class's ``khat`` and the placement
    ratios."""
    v, cls = estimates[0], dict(zip(CLASS_NAMES, estimates[1:]))
    sums = {c: readout_sums(e) for c, e in cls.items()}
    total = readout_sums(v)

    def union(*cs: str) -> tuple[float, float]:
        return sum(sums[c][0] for c in cs), sum(sums[c][1] for c in cs)

    row = {"decomposition": d.name, **about, "method": "readout", "samples": v.samples, "solutions": math.nan,
           **v.columns(names=VOLUME_COLUMNS), **{k: v.diagnostics.get(k) for k in READOUT_COLUMNS}}
    for c in CLASS_NAMES:
        r, lo, hi = _ratio_of_means(sums[c], total, sums[c][1])
        row.update({c: r, f"{c}_lo": lo, f"{c}_hi": hi})
    chain, tree = union("both", "chain only"), union("both", "tree only")
    for name, u in (("chain", chain), ("tree", tree)):
        r, lo, hi = _ratio_of_means(u, total, u[1])
        row.update({f"takes_{name}": r, f"takes_{name}_lo": lo, f"takes_{name}_hi": hi})
    r, lo, hi = _ratio_of_means(tree, chain, sums["both"][1])
    row.update({"ratio_tree_chain": r, "ratio_lo": lo, "ratio_hi": hi})
    row.update({f"{c}_khat": cls[c].diagnostics.get("khat") for c in CLASS_NAMES})
    row.update(placement_columns(d, about["depth"]))
    return row


def prior_columns(class_counts: dict[str, int], suffix: str = "") -> dict:
    """The baseline among all networks drawn: the shares taking each route, with Clopper-Pearson
    intervals (``takes_chain_prior``, ``takes_tree_prior`` and their ``_lo`` / ``_hi``; with a
    ``suffix``, ``takes_chain{suffix}_prior``: the classes of an ordered reading)."""
    n = sum(class_counts.values())
    out = {}
    for r, k in (("chain", class_counts["both"] + class_counts["chain only"]),
                 ("tree", class_counts["both"] + class_counts["tree only"])):
        s = share_columns([k], n, exact=False)
        out.update({f"takes_{r}{suffix}_prior": float(s["share"][0]), f"takes_{r}{suffix}_prior_lo": float(s["share_lo"][0]),
                    f"takes_{r}{suffix}_prior_hi": float(s["share_hi"][0])})
    return out


def order_prior_columns(order: np.ndarray) -> dict:
    """:func:`prior_columns` of the chain under each reading of :data:`READINGS` among all networks
    drawn (``takes_chain_ordered_prior`` and so on; the tree's are the unordered ones)."""
    out = {}
    for suffix, reading in READINGS.items():
        cols = prior_columns(classes_from_order(order, reading), f"_{suffix}")
        out.update({k: v for k, v in cols.items() if k.startswith("takes_chain")})
    return out


def placement_rule_rows(d: Decomposition, row: dict) -> list[dict]:
    """``placement_rules`` rows of one ``routes`` row: for each rule of
    :data:`counting.analytic.placements.RULES`, the two routes' placement counts in the row's
    depth and their ratio tree / chain, for one circuit and summed over
    every alternative, beside the measured ratios (unordered and under each ordered reading)."""
    measured = {k: row[k] for k in row if k.startswith("ratio_tree_chain")}
    keep = {k: row[k] for k in ("decomposition", "model", "depth", "width", "params", "method")}
    out = []
    for name, rule in RULES.items():
        cols = placement_columns(d, row["depth"], rule, counts=True)
        out.append({**keep, "rule": name, "embedding": rule.embedding, "shared": rule.shared,
                    "output": rule.output, **cols, **measured})
    return out


def placement_rows(d: Decomposition, about: dict, never: int, method: str, joint: np.ndarray,
                   samples: int | None = None, volume: float | None = None) -> list[dict]:
    """``placements`` rows: for each route, the solutions taking it at each (first, last) stage, and
    the volume of that placement. Hit-or-miss (``samples``: networks drawn): ``count / samples`` with
    its Clopper-Pearson interval. SMC (``volume``: the target's): ``volume x count / solutions``,
    a point estimate (its interval would need the replicates' joint spread)."""
    c = (never + 1) ** 2
    a = np.asarray(joint, np.int64).reshape(c, c)
    n = int(a.sum())
    rows = []
    for r, marg in ((d.routes[0].name, a.sum(axis=1)), (d.routes[1].name, a.sum(axis=0))):
        taken = int(marg[: c - 1].sum())
        for code in np.flatnonzero(marg[: c - 1]):
            lo, hi = decode_placement(int(code), never)
            k = int(marg[code])
            if samples is not None:
                vol = volume_columns(k, samples)
            else:
                v = (volume or 0.0) * k / n
                vol = {"volume": v, "log10_volume": math.log10(v) if v > 0 else None, "ci95_lo": None,
                       "ci95_hi": None}
            rows.append({"decomposition": d.name, **about, "method": method, "route": r, "first_stage": lo,
                         "last_stage": hi, "count": k, "taking": taken, "share": k / taken, **vol})
    return rows


def smc_estimate(log_ps: Sequence[float], evaluations: int = 0) -> Estimate:
    """The volume of SMC replicates (natural logs; ``-inf``: the replicate never reached the
    target) as an estimate (:func:`counting.estimators.replicated.replicates_estimate`),
    ``evaluations`` its cost where known."""
    return replicates_estimate("smc", list(log_ps), evaluations)


def smc_volume_columns(log_ps: Sequence[float]) -> dict:
    """The volume columns of SMC replicates (log10 with a 95% interval; :func:`smc_estimate`)."""
    return smc_estimate(log_ps).columns(names=VOLUME_COLUMNS)
