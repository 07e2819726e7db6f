"""Experiment 2: serial deep against parallel shallow circuits, and the short-depth bias.

An experiment kind (:class:`counting.experiments.base.run.Kind`) with three optional parts
(:mod:`~counting.experiments.depth.config`), each cut into passes:

* ``bias:<model>`` : P(f) of each target at each depth, equal parameter count (hit-or-miss), and
  ``rare-bias:<target>:<model>``: the same for the targets too rare to hit, by tempered SMC or
  (``[bias.estimator] kind = "readout"`` or ``"readout_smc"``) with the readout integrated out.
* ``lesions:<model>``: used blocks and longest used path of residual MLPs, for all networks and
  for each target's solutions (hit-or-miss over the prior, every block and edge lesioned).
* ``routes:<model>``: how the solutions of each decomposition take its routes (in any order and
  under the ordered readings) and where their intermediates sit (hit-or-miss), and ``rare:<decomposition>:<model>``: the same from tempered
  SMC populations for targets too rare to hit, with their volume, or (``[routes.estimator] kind =
  "readout"``) the volume and the unordered route shares with the readout integrated out.

Example:
    >>> from counting.experiments import parse_experiment, run_experiment
    >>> exp = parse_experiment('''
    ... [experiment]
    ... kind = "depth"
    ... chunk_size = 512
    ... [[target]]
    ... name = "and4"
    ... truth_table = "0x8000"
    ... [bias]
    ... depths = [1, 2]
    ... models = ["resmlp"]
    ... params = 120
    ... samples = 1024
    ... ''')
    >>> [p.name for p in passes(exp)]
    ['bias:resmlp-L1-w6', 'bias:resmlp-L2-w4']
    >>> t = run_experiment(exp, progress=False)
    >>> t["bias"][["model", "depth", "samples"]].values.tolist()
    [['resmlp', 1, 1024], ['resmlp', 2, 1024]]
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd

from counting.engine.run import PassFacts
from counting.experiments.base.run import Kind, Pass
from counting.experiments.depth.config import KIND, Experiment, from_dict, with_samples
from counting.experiments.depth.figures import write_figures
from counting.experiments.depth.plan import equal_params_model, model_depth, model_name, model_width, square_model
from counting.experiments.depth.rare import (estimator_volume_job, readout_volumes_job, route_job, route_readout_targets,
                                             route_record_counts, smc_volume_job)
from counting.experiments.depth import tables as tb
from counting.experiments.depth.tally import LesionTally, RouteTally, TargetHits
from counting.mechanisms.routes import DECOMPOSITIONS, never
from counting.models import n_params
from counting.spec.job import Spec, sampling_spec
from counting.spec.target import Target

__all__ = ["EXPERIMENT", "KIND", "Experiment", "chunk_sizes", "from_dict", "passes", "summary", "with_samples",
           "write_figures"]


def _about(m) -> dict:
    return {"model": m.kind, "depth": model_depth(m), "width": model_width(m), "params": n_params(m)}


def chunk_sizes(exp: Experiment) -> dict[str, int]:
    return {"experiment.chunk_size": exp.chunk_size}


def row_about(about: dict) -> dict:
    """What a pass's rows carry of its ``about`` (the network's columns)."""
    return {k: v for k, v in about.items() if k not in ("part", "decomposition", "target", "targets")}


def bias_tables(exp: Experiment, about: dict, result, facts: PassFacts) -> dict[str, pd.DataFrame]:
    """A hit-or-miss bias pass: one ``bias`` row per target."""
    return {"bias": tb.bias_table([{**row_about(about), "target": t.name, "truth_table": t.truth_table,
                                    "samples": facts.samples, "hits": int(h)}
                                   for t, h in zip(exp.targets, result)])}


def rare_bias_tables(exp: Experiment, about: dict, result, facts: PassFacts) -> dict[str, pd.DataFrame]:
    """An SMC bias pass: its target's ``bias`` row from the replicates."""
    t = next(t for t in exp.targets if t.name == about["target"])
    return {"bias": pd.DataFrame([tb.bias_smc_row(row_about(about), t.name, t.truth_table, result.runs)])}


def estimate_bias_tables(exp: Experiment, about: dict, result, facts: PassFacts) -> dict[str, pd.DataFrame]:
    """A ``readout_smc`` bias pass: its target's ``bias`` row from the estimate; a ``readout`` pass
    (``about["targets"]``, ``result`` a list of estimates): one row per rare target."""
    names = about.get("targets") or [about["target"]]
    es = result if isinstance(result, list) else [result]
    by_name = {t.name: t for t in exp.targets}
    return {"bias": pd.DataFrame([tb.bias_estimate_row(row_about(about), t, by_name[t].truth_table, e)
                                  for t, e in zip(names, es)])}


def lesion_pass_tables(exp: Experiment, about: dict, result, facts: PassFacts) -> dict[str, pd.DataFrame]:
    """A lesion pass: the ``lesions`` and ``lesion_summary`` rows."""
    rows, summary_rows = tb.lesion_tables(row_about(about), ["all"] + [t.name for t in exp.targets], result)
    return {"lesions": rows, "lesion_summary": summary_rows}


def route_tables(model, tally: RouteTally, about: dict, result, facts: PassFacts) -> dict[str, pd.DataFrame]:
    """A hit-or-miss route pass: one ``routes`` row, the ``placements`` rows and the
    ``placement_rules`` rows per decomposition."""
    nv, about = never(model), row_about(about)
    routes, places, rules = [], [], []
    for d, (joint, prior), (order, order_prior) in zip(tally.decompositions, result["hist"], result["order"]):
        vol = tb.volume_columns(int(joint.sum()), facts.samples)
        row = tb.route_rows(d, about, nv, "mc", tb.classes_from_joint(joint, nv), None, vol, facts.samples, order)
        routes.append({**row, **tb.prior_columns(tb.classes_from_joint(prior, nv)), **tb.order_prior_columns(order_prior)})
        places += tb.placement_rows(d, about, nv, "mc", joint, samples=facts.samples)
        rules += tb.placement_rule_rows(d, row)
    return {"routes": pd.DataFrame(routes), "placements": pd.DataFrame(places), "placement_rules": pd.DataFrame(rules)}


def rare_route_tables(model, about: dict, result, facts: PassFacts) -> dict[str, pd.DataFrame]:
    """An SMC route pass: its decomposition's ``routes`` row, ``placements`` and ``placement_rules``
    from the replicates' last populations."""
    nv, d = never(model), DECOMPOSITIONS[about["decomposition"]]
    runs = result.runs
    per, joint = [], np.zeros(len(runs[0].joint), np.int64)
    order, per_order = np.zeros(len(runs[0].order), np.int64), []
    for run in runs:
        j = np.asarray(run.joint, np.int64)
        joint += j
        order += np.asarray(run.order, np.int64)
        c = tb.classes_from_joint(j, nv)
        per.append(np.array([c[k] for k in tb.CLASS_NAMES], np.float64) / run.solutions if run.solutions
                   else np.full(4, np.nan))
        per_order.append(np.asarray(run.order, np.int64))
    row = tb.route_rows(d, row_about(about), nv, "smc", tb.classes_from_joint(joint, nv), np.array(per),
                        tb.smc_volume_columns([r.log_p for r in runs]), facts.samples, order, per_order)
    row["replicates"] = len(runs)
    places = tb.placement_rows(d, row_about(about), nv, "smc", joint, volume=row["volume"])
    return {"routes": pd.DataFrame([row]), "placements": pd.DataFrame(places),
            "placement_rules": pd.DataFrame(tb.placement_rule_rows(d, row))}


def readout_route_tables(about: dict, result, facts: PassFacts) -> dict[str, pd.DataFrame]:
    """A readout route pass: its decomposition's ``routes`` row and ``placement_rules`` from the
    estimates of the volume and of each route class (no ``placements``: no solutions are drawn)."""
    d = DECOMPOSITIONS[about["decomposition"]]
    row = tb.route_readout_row(d, row_about(about), result)
    return {"routes": pd.DataFrame([row]), "placement_rules": pd.DataFrame(tb.placement_rule_rows(d, row))}


def route_counts(name: str, result) -> dict[str, np.ndarray]:
    """A hit-or-miss route pass's counts for ``counts.npz``: ``<pass>|hist`` and ``<pass>|order``."""
    return {f"{name}|hist": np.asarray(result["hist"]), f"{name}|order": np.asarray(result["order"])}


def tally_counts(name: str, label: str, result) -> dict[str, np.ndarray]:
    """A counting pass's counts for ``counts.npz``: ``<pass>|<label>``."""
    return {f"{name}|{label}": np.asarray(result)}


def record_counts(name: str, result) -> dict[str, np.ndarray]:
    """An SMC bias pass's counts: every field of its replicates' records."""
    return {f"{name}|{f}": np.array([getattr(r, f) for r in result.runs]) for f in result.runs[0]._fields}


def passes(exp: Experiment) -> tuple[Pass, ...]:
    """Every pass, in order: bias (hit-or-miss, then SMC or readout), lesions, routes (hit-or-miss, then SMC)."""
    out: list[Pass] = []
    n, tag, targets = exp.n_inputs, exp.digest(), [t.truth_table for t in exp.targets]
    if exp.bias is not None:
        b = exp.bias
        models = [equal_params_model(kind, n, L, b.params, b.activation) for kind in b.models for L in b.depths]
        for m in models if b.samples else ():
            spec = sampling_spec(m, exp.prior, b.samples, seed=exp.seed, chunk_size=exp.chunk_size)
            about, name = {"part": "bias", **_about(m)}, f"bias:{model_name(m)}"
            out.append(Pass(name, spec, TargetHits(targets, f"{KIND}:bias:{tag}"), None, about,
                            tables=partial(bias_tables, exp, about), counts=partial(tally_counts, name, "hits")))
        rare = [t for t in exp.targets if t.name in b.rare]
        s = b.estimator  # [bias.estimator], seeded by the experiment's seed
        for m in models if s.kind == "readout" and rare else ():  # every rare target in one pass per network
            about, name = {"part": "rare-bias", "targets": [t.name for t in rare], **_about(m)}, f"rare-bias:{model_name(m)}"
            out.append(Pass(name, Spec(m, exp.prior, None, s), None, None, about,
                            readout_volumes_job(m, exp.prior, [t.truth_table for t in rare], s),
                            tables=partial(estimate_bias_tables, exp, about)))
        for m in models if s.kind != "readout" else ():
            for t in rare:
                about, name = {"part": "rare-bias", "target": t.name, **_about(m)}, f"rare-bias:{t.name}:{model_name(m)}"
                spec = Spec(m, exp.prior, Target(t.truth_table, n), s)
                if s.kind == "smc":
                    out.append(Pass(name, spec, None, None, about, smc_volume_job(m, exp.prior, t.truth_table, n, s),
                                    tables=partial(rare_bias_tables, exp, about), counts=partial(record_counts, name)))
                else:  # readout_smc: the estimate itself
                    out.append(Pass(name, spec, None, None, about,
                                    estimator_volume_job(m, exp.prior, t.truth_table, n, s),
                                    tables=partial(estimate_bias_tables, exp, about)))
    if exp.lesions is not None:
        les = exp.lesions
        for L in les.depths:
            m = equal_params_model("resmlp", n, L, les.params, les.activation)
            spec = sampling_spec(m, exp.prior, les.samples, seed=exp.seed, chunk_size=exp.chunk_size)
            about, name = {"part": "lesions", **_about(m)}, f"lesions:{model_name(m)}"
            out.append(Pass(name, spec, LesionTally(m, targets, f"{KIND}:lesions:{tag}"), None, about,
                            tables=partial(lesion_pass_tables, exp, about), counts=partial(tally_counts, name, "hist")))
    if exp.routes is not None:
        r = exp.routes
        decs = [DECOMPOSITIONS[d] for d in r.decompositions]
        for w in r.widths:
            for L in r.depths:
                m = square_model("resmlp", n, L, w, r.activation)
                spec = sampling_spec(m, exp.prior, r.samples, seed=exp.seed, chunk_size=exp.chunk_size)
                about, name = {"part": "routes", **_about(m)}, f"routes:{model_name(m)}"
                tally = RouteTally(m, decs, f"{KIND}:routes+order:{tag}", order=True)
                out.append(Pass(name, spec, tally, None, about, tables=partial(route_tables, m, tally, about),
                                counts=partial(route_counts, name)))
        for dname in r.rare:
            for w in r.rare_widths or r.widths:
                for L in r.rare_depths or r.depths:
                    m = square_model("resmlp", n, L, w, r.activation)
                    s = r.estimator  # [routes.estimator], likewise
                    about, name = {"part": "rare", "decomposition": dname, **_about(m)}, f"rare:{dname}:{model_name(m)}"
                    if s.kind == "readout":
                        d = DECOMPOSITIONS[dname]
                        out.append(Pass(name, Spec(m, exp.prior, Target(d.target, d.n), s), None, None, about,
                                        readout_volumes_job(m, exp.prior, route_readout_targets(m, d), s),
                                        tables=partial(readout_route_tables, about)))
                        continue
                    out.append(Pass(name, Spec(m, exp.prior, None, s), None, None, about,
                                    route_job(m, exp.prior, DECOMPOSITIONS[dname], s),
                                    tables=partial(rare_route_tables, m, about), counts=partial(route_record_counts, name)))
    return tuple(out)


def summary(exp: Experiment, result: dict[str, pd.DataFrame]) -> str:
    """What ``counting run`` prints: log10 volumes by depth, route ratios, lesion means."""
    parts = []
    if "bias" in result:
        b = result["bias"]
        b = b.assign(column=np.where(b["method"] == "mc", b["target"], b["target"] + " (" + b["method"] + ")"))
        t = b.pivot_table(index=["model", "depth", "width"], columns="column", values="log10_volume",
                          sort=False).reindex(columns=list(dict.fromkeys(b["column"])))
        parts.append("log10 P(f) (blank: no hit or no SMC replicate reached it; see bias.parquet for the "
                     "upper bound)\n" + t.round(2).to_string(na_rep=""))
        if "reliable" in b:  # readout rows: where the Pareto k-hat says the mean is carried by a few networks
            r = b[(b["method"] == "readout") & (b["reliable"] != True)]  # noqa: E712 (NaN, None: not reliable)
            if len(r):
                parts.append("readout not reliable (Pareto k-hat at or above its threshold)\n"
                             + r[["model", "depth", "target", "khat", "khat_threshold", "max_share", "samples"]]
                             .round(2).to_string(index=False))
    if "lesion_summary" in result:
        s = result["lesion_summary"][["depth", "group", "n", "mean_used_blocks", "mean_longest_path",
                                      "binomial_mean_path", "tv_from_binomial"]]
        parts.append("lesions\n" + s.round(3).to_string(index=False))
    if "routes" in result:
        r = result["routes"].reindex(columns=["decomposition", "width", "depth", "method", "solutions", "log10_volume", "takes_chain",
                              "takes_tree", "ratio_tree_chain", "ratio_lo", "ratio_hi", "takes_chain_ordered",
                              "ratio_tree_chain_ordered", "placement_ratio"])
        parts.append("routes\n" + r.round(3).to_string(index=False))
    return "\n\n".join(parts)


EXPERIMENT = Kind(KIND, from_dict, with_samples, chunk_sizes, passes, write_figures, summary)
