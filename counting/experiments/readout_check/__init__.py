"""The readout estimator against hit-or-miss, function by function: the ``readout-check`` experiment kind.

The readout estimator (:mod:`counting.estimators.readout`) integrates the Gaussian readout out:
``V(f) = E_hidden[P(f | hidden)]``, an orthant probability per network. This kind checks it against
hit-or-miss, which makes no approximation, on several models (:mod:`~counting.experiments.readout_check.config`):
for each ``[[model]]``, one readout pass over all its targets
(:func:`counting.estimators.readout.estimate_many`, seed ``seed``) and one hit-or-miss pass over
all its targets with shared draws (:mod:`~counting.experiments.readout_check.hits`: ``R`` readouts
per hidden draw, the cluster interval; seed ``seed + 1``, so the two are independent).

Tables: ``readout`` and ``hit_or_miss`` (a row per model and target: each estimator's volume, 95%
interval, cost and diagnostics), and ``check``, a row per model and target with both, and:

* ``overlap``: whether the two 95% intervals share a point;
* ``z``: the difference of the log10 volumes over its standard error, each estimator's standard
  error being the half-width of its interval on the side facing the other estimate, over 1.96;
* ``p_false_failure``: the probability that two independent exact normal 95% intervals with these
  half-widths (each side its own) fail to overlap when both estimate the same volume: per side,
  ``P(|Z| > 1.96 (a + b) / sqrt(a^2 + b^2))``, which is 0.0056 for equal widths and tends to 0.05
  as one interval becomes much narrower than the other; its sum is the number of non-overlaps to
  expect from chance alone;
* ``vrf_network``: the variance reduction factor per network, ``V (1 - V)`` (the variance of one
  hit-or-miss readout, a Bernoulli) over ``n (rel_se V)^2`` (the variance of one network's
  ``P(f | hidden)``), with ``V`` and ``rel_se`` the readout's;
* ``vrf_time``: the same per second, against hit-or-miss as it ran here: (its variance
  ``V (1 - V) deff / N`` times its seconds) over (the readout's variance ``(rel_se V)^2`` times its
  seconds per target). A readout pass computes one orthant per network and target, so its seconds
  per target are the pass's over its targets; a hit-or-miss pass costs the same for one target as
  for all, so its seconds are the whole pass's. Wall-clock seconds on a shared machine: a rough
  figure, unlike ``vrf_network``.

``check.md`` is the table as text with the headline (pairs, overlaps, expected non-overlaps, the
range of ``z`` and of the factors); ``readout_check.png`` the figure; ``counts.npz`` the exact
hit histograms.

Example:
    >>> from counting.experiments import parse_experiment
    >>> exp = parse_experiment('''
    ... [experiment]
    ... kind = "readout-check"
    ... [readout]
    ... samples = 256
    ... chunk_size = 256
    ... [hit_or_miss]
    ... samples = 65536
    ... readouts_per_draw = 256
    ... chunk_size = 16
    ... [[model]]
    ... name = "mlp2"
    ... n_inputs = 2
    ... widths = [8]
    ... targets = ["0x0", "0x8"]
    ... ''')
    >>> [p.name for p in passes(exp)]
    ['mlp2:readout', 'mlp2:hit-or-miss']
    >>> s = pair_statistics((-2.0, -2.05, -1.95), (-2.1, -2.2, -2.0))    # (log10 V, lower, upper) each
    >>> s["overlap"], round(s["z"], 2), round(s["p_false_failure"], 4)
    (True, 1.75, 0.0085)

``run_experiment(exp)`` runs it (tests/experiments/test_readout_check.py runs one on a perceptron).
"""

from __future__ import annotations

import dataclasses
import math
from functools import partial
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy.stats import norm

from counting.engine.run import PassFacts, RunOptions
from counting.estimators import Estimate, Problem
from counting.estimators.readout import estimate_many
from counting.experiments.base.run import Kind, Pass
from counting.experiments.readout_check.config import KIND, Experiment, Model, from_dict, with_samples
from counting.experiments.readout_check.hits import hit_or_miss, pass_spec
from counting.io.files import atomic_write_bytes
from counting.mechanisms.predicates import computes
from counting.models import describe_model
from counting.spec.job import Spec
from counting.spec.prior import describe_prior

__all__ = ["EXPERIMENT", "KIND", "Experiment", "check_rows", "chunk_sizes", "from_dict", "headline", "passes",
           "summary", "with_samples", "write_figures"]

Z95 = float(norm.ppf(0.975))
PAIRS_PER_BLOCK = 2**18  # hit-or-miss pairs evaluated at once by default (readouts are drawn with them)


class HitOrMissResult(NamedTuple):
    estimates: list[Estimate]
    hist: np.ndarray


def chunk_sizes(exp: Experiment) -> dict[str, int]:
    """The hit-or-miss passes' chunk sizes in hidden draws (``--batch-size`` must divide them; the
    readout passes run in their own ``block_size``)."""
    return {f"model.{m.name}.hit_or_miss.chunk_size": m.hit_or_miss.chunk_size for m in exp.models}


def _facts(samples: int, chunk: int, seconds: float) -> PassFacts:
    return PassFacts(samples, -(-samples // chunk), chunk, 0, 1, 0, seconds, samples / seconds if seconds > 0 else 0.0)


def readout_job(exp: Experiment, m: Model):
    def job(options: RunOptions) -> tuple[list[Estimate], PassFacts]:
        problem = Problem(m.spec, exp.prior, computes(m.targets[0].truth_table, m.spec.n_inputs), None)
        est = estimate_many(problem, [t.truth_table for t in m.targets], m.readout, options)
        return est, _facts(m.readout.samples, m.readout.chunk_size, est[0].seconds)

    return job


def hit_or_miss_job(exp: Experiment, m: Model):
    def job(options: RunOptions) -> tuple[HitOrMissResult, PassFacts]:
        s = m.hit_or_miss
        if options.batch_size is None:  # readouts are drawn with their hidden draws: a block of about 2**18 pairs
            cap = max(1, PAIRS_PER_BLOCK // s.readouts_per_draw)
            options = dataclasses.replace(options, batch_size=max(d for d in range(1, min(cap, s.chunk_size) + 1)
                                                                  if s.chunk_size % d == 0))
        est, facts = hit_or_miss(m.spec, exp.prior, [t.truth_table for t in m.targets], s, options)
        hist = np.stack([_histogram(e, s.readouts_per_draw) for e in est])
        return HitOrMissResult(est, hist), facts

    return job


def _histogram(e: Estimate, r: int) -> np.ndarray:
    h = np.zeros(r + 1, np.int64)
    for k, c in e.diagnostics["hits_per_cluster"]:
        h[k] = c
    return h


def _nan(v):
    return np.nan if v is None else v


def readout_tables(exp: Experiment, m: Model, est: list[Estimate], facts: PassFacts) -> dict[str, pd.DataFrame]:
    rows = []
    for t, e in zip(m.targets, est):
        d = e.diagnostics
        rows.append({"model": m.name, "architecture": describe_model(m.spec), "n_inputs": m.spec.n_inputs,
                     "prior": describe_prior(exp.prior), "target": t.name, "networks": e.samples, "log10_volume": _nan(e.log10_volume),
                     "ci95_lo": _nan(e.ci95[0]), "ci95_hi": _nan(e.ci95[1]), "volume": e.volume,
                     "rel_se": d["rel_se"], "khat": d["khat"], "khat_threshold": d["khat_threshold"],
                     "reliable": bool(d["reliable"]), "ess": d["ess"], "max_share": d["max_share"],
                     "seconds": e.seconds, "targets_in_pass": len(m.targets), "seed": e.seed})
    return {"readout": pd.DataFrame(rows)}


def hit_or_miss_tables(exp: Experiment, m: Model, result: HitOrMissResult, facts: PassFacts
                       ) -> dict[str, pd.DataFrame]:
    rows = []
    for t, e in zip(m.targets, result.estimates):
        d = e.diagnostics
        rows.append({"model": m.name, "target": t.name, "readouts": e.samples, "hidden_draws": d["clusters"],
                     "readouts_per_draw": d["readouts_per_draw"], "hits": e.hits,
                     "design_effect": d["design_effect"], "log10_volume": _nan(e.log10_volume),
                     "ci95_lo": _nan(e.ci95[0]), "ci95_hi": _nan(e.ci95[1]), "volume": e.volume,
                     "seconds": e.seconds, "seed": e.seed})
    return {"hit_or_miss": pd.DataFrame(rows)}


def hit_or_miss_counts(name: str, result: HitOrMissResult) -> dict[str, np.ndarray]:
    return {f"{name}|hist": result.hist}


def passes(exp: Experiment) -> tuple[Pass, ...]:
    """Per model, its readout pass, then its hit-or-miss pass."""
    out = []
    for m in exp.models:
        about = {"model": m.name, "architecture": describe_model(m.spec)}
        out.append(Pass(f"{m.name}:readout", Spec(m.spec, exp.prior, None, m.readout), None, None,
                        {**about, "estimator": "readout"}, readout_job(exp, m),
                        tables=partial(readout_tables, exp, m)))
        name = f"{m.name}:hit-or-miss"
        out.append(Pass(name, pass_spec(m.spec, exp.prior, m.hit_or_miss), None, None,
                        {**about, "estimator": "hit-or-miss"}, hit_or_miss_job(exp, m),
                        tables=partial(hit_or_miss_tables, exp, m), counts=partial(hit_or_miss_counts, name)))
    return tuple(out)


def _side(lo: float, mid: float, hi: float, up: bool) -> float:
    """Half-width of an interval on one side (``up``: above the estimate); no lower end: infinite."""
    if up:
        return hi - mid
    return math.inf if not np.isfinite(lo) else mid - lo


def pair_statistics(ro: tuple[float, float, float], hm: tuple[float, float, float]) -> dict:
    """``overlap``, ``z`` and ``p_false_failure`` of a readout estimate and a hit-or-miss estimate,
    each ``(log10 volume, lower, upper)`` (see the module docstring).

    >>> s = pair_statistics((-3.0, -3.1, -2.9), (-3.0, -3.1, -2.9))     # equal widths: 0.0056
    >>> s["overlap"], round(s["z"], 3), round(s["p_false_failure"], 4)
    (True, 0.0, 0.0056)
    >>> s = pair_statistics((-3.0, -3.001, -2.999), (-3.15, -3.25, -3.05))  # one much narrower: near 0.05
    >>> s["overlap"], round(s["z"], 2), round(s["p_false_failure"], 3)
    (False, 2.94, 0.048)
    """
    (l1, lo1, hi1), (l2, lo2, hi2) = ro, hm
    lo1, lo2 = (-math.inf if not np.isfinite(v) else v for v in (lo1, lo2))
    overlap = bool(lo1 <= hi2 and lo2 <= hi1)
    if not (np.isfinite(l1) and np.isfinite(l2)):
        return {"overlap": overlap, "z": math.nan, "p_false_failure": math.nan}
    p = 0.0
    for up in (True, False):  # readout above hit-or-miss (its lower side faces hit-or-miss's upper), then below
        a, b = _side(lo1, l1, hi1, not up), _side(lo2, l2, hi2, up)
        p += float(norm.sf(Z95 * (a + b) / math.hypot(a, b))) if math.isfinite(a + b) else 0.0
    d = l1 - l2
    a, b = _side(lo1, l1, hi1, d < 0), _side(lo2, l2, hi2, d >= 0)
    return {"overlap": overlap, "z": Z95 * d / math.hypot(a, b) if math.isfinite(a + b) else 0.0,
            "p_false_failure": p}


def check_rows(readout: pd.DataFrame, hm: pd.DataFrame) -> pd.DataFrame:
    """The ``check`` table: ``readout`` and ``hit_or_miss`` rows joined by model and target, with
    the comparison's columns (see the module docstring)."""
    r = readout.rename(columns={c: f"ro_{c}" for c in readout.columns if c not in ("model", "target")})
    h = hm.rename(columns={c: f"hm_{c}" for c in hm.columns if c not in ("model", "target")})
    t = r.merge(h, on=["model", "target"], how="inner", sort=False)
    stats = [pair_statistics((a.ro_log10_volume, a.ro_ci95_lo, a.ro_ci95_hi),
                             (a.hm_log10_volume, a.hm_ci95_lo, a.hm_ci95_hi)) for a in t.itertuples()]
    t = pd.concat([t, pd.DataFrame(stats, index=t.index)], axis=1)
    v = t["ro_volume"]
    var_net = (t["ro_rel_se"] * v) ** 2 * t["ro_networks"]  # one network's P(f | hidden)
    t["vrf_network"] = v * (1 - v) / var_net
    hm_var = v * (1 - v) * t["hm_design_effect"] / t["hm_readouts"]
    ro_var = (t["ro_rel_se"] * v) ** 2
    t["vrf_time"] = hm_var * t["hm_seconds"] / (ro_var * t["ro_seconds"] / t["ro_targets_in_pass"])
    first = ["model", "architecture", "target", "ro_log10_volume", "ro_ci95_lo", "ro_ci95_hi", "hm_log10_volume",
             "hm_ci95_lo", "hm_ci95_hi", "hm_hits", "ro_networks", "hm_readouts", "hm_readouts_per_draw",
             "ro_seconds", "hm_seconds", "overlap", "z", "p_false_failure", "ro_khat", "ro_khat_threshold",
             "ro_reliable", "vrf_network", "vrf_time"]
    t = t.rename(columns={"ro_architecture": "architecture", "ro_prior": "prior"})
    return t[first + [c for c in t.columns if c not in first]]


def combine(exp: Experiment, tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The passes' tables and ``check``, the two joined."""
    if "readout" not in tables or "hit_or_miss" not in tables:
        return tables
    return {**tables, "check": check_rows(tables["readout"], tables["hit_or_miss"])}


def headline(check: pd.DataFrame) -> str:
    """The counts a reader cites: pairs, overlaps, non-overlaps expected by chance, ``z`` and the factors."""
    n, ok = len(check), int(check["overlap"].sum())
    exp_fail = float(check["p_false_failure"].sum())
    lines = [f"{ok} of {n} pairs of 95% intervals overlap; {exp_fail:.2f} non-overlaps expected by chance "
             f"(per pair {check['p_false_failure'].min():.4f} to {check['p_false_failure'].max():.4f}: 0.0056 for "
             "equal widths, up to 0.05 where one interval is much narrower)",
             f"z from {check['z'].min():+.2f} to {check['z'].max():+.2f} (|z| at most {check['z'].abs().max():.2f}); "
             f"readout k-hat at most {check['ro_khat'].max():.2f}, "
             f"{int(check['ro_reliable'].sum())} of {n} estimates reliable"]
    decade = np.floor(-check["ro_log10_volume"]).astype(int)
    for d in sorted(set(decade)):
        g = check[decade == d]
        lines.append(f"volume 10^-{d} to 10^-{d + 1} ({len(g)} functions): variance reduction per network "
                     f"{g['vrf_network'].min():.3g} to {g['vrf_network'].max():.3g}, per second "
                     f"{g['vrf_time'].min():.3g} to {g['vrf_time'].max():.3g}")
    return "\n".join(lines)


def write_figures(tables: dict[str, pd.DataFrame], out: Path, spec=None) -> list[str]:
    """``check.md`` (the headline and the table as text) and ``readout_check.png`` (``spec``, the
    manifest's, is not read)."""
    from counting.experiments.readout_check.figures import check_figure

    if "check" not in tables:
        return []
    check = tables["check"]
    text = headline(check) + "\n\n" + check.to_string(index=False) + "\n"
    atomic_write_bytes(Path(out) / "check.md", text.encode())
    prior = {"prior": check["prior"].iloc[0]} if "prior" in check and len(check) else {}
    return ["check.md", check_figure(check, Path(out) / "readout_check.png", **prior)]


def summary(exp: Experiment, tables: dict[str, pd.DataFrame]) -> str:
    """What ``counting run`` prints: the headline and each pair's volumes, ``z`` and factors."""
    if "check" not in tables:
        return ""
    t = tables["check"][["model", "target", "ro_log10_volume", "hm_log10_volume", "hm_hits", "overlap", "z",
                         "ro_khat", "vrf_network", "vrf_time"]]
    return headline(tables["check"]) + "\n" + t.round(3).to_string(index=False)


EXPERIMENT = Kind(KIND, from_dict, with_samples, chunk_sizes, passes, write_figures, summary, combine)
