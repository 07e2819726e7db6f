"""What each pass of the training experiment turns its result into: tables and raw counts.

Each pass (:mod:`~counting.experiments.training.plan`) carries two of these, bound to what it
describes (``about``: its setting, model, target and method; its tally's plans or decompositions):

* a posterior or trained census: :func:`census_tables` (``functions``, ``runs``) and :func:`census_counts`;
* a ``[mechanisms]`` pass counted by llamas: :func:`llama_mechanism_tables` and :func:`llama_mechanism_counts`;
* one counted by routes: :func:`route_mechanism_tables` and :func:`route_mechanism_counts`;
* a rare route's prior side by tempered SMC: :func:`smc_mechanism_tables` (counts:
  :func:`counting.experiments.depth.rare.route_record_counts`);
* a setting's readout job (:mod:`~counting.experiments.training.readout`): :func:`readout_tables`
  (no counts: its volumes are in the table).

A trained pass's result is ``(counts, training facts)``; a prior pass's the counts alone.

Example:
    >>> import numpy as np
    >>> route_mechanism_counts("mechanisms:prior:routes", np.zeros((1, 2, 3), np.int64))["mechanisms:prior:routes|hist"].shape
    (1, 2, 3)
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from counting.engine.run import PassFacts
from counting.experiments.depth.tables import smc_volume_columns
from counting.experiments.llamaizer.plan import TargetPlan
import counting.experiments.training.tables as tb
from counting.mechanisms.routes import DECOMPOSITIONS, Decomposition, never
from counting.rare.replicates import Replicates
from counting.spec.model import ModelSpec
from counting.training.posterior import given_s_frame


def split(result: Any) -> tuple[Any, Any]:
    """A pass's counts and its training facts (``None`` for a prior pass)."""
    return result if isinstance(result, tuple) else (result, None)


def census_tables(about: dict, result: Any, facts: PassFacts) -> dict[str, pd.DataFrame]:
    """``functions`` and the ``runs`` row of a posterior or trained census."""
    census, runs = split(result)
    about = {k: about[k] for k in ("architecture", "model", "target", "m", "method")}
    return {"functions": tb.function_rows(about, given_s_frame(census)),
            "runs": pd.DataFrame([tb.run_row(about, census.samples, census.kept,
                                             None if runs is None else runs.as_dict())])}


def census_counts(name: str, result: Any) -> dict[str, np.ndarray]:
    """A census's counts (its truth tables are in ``functions``)."""
    return {f"{name}|counts": np.asarray(split(result)[0].counts)}


def mechanism_run_row(about: dict, facts: PassFacts, kept: int, runs: Any) -> pd.DataFrame:
    """A ``[mechanisms]`` pass's ``runs`` row (``kept``: its solutions)."""
    return pd.DataFrame([tb.run_row({"architecture": about["setting"], "model": about["model"],
                                     "target": about["target"], "m": 2 ** about["n_inputs"],
                                     "method": f"mechanisms:{about['method']}"},
                                    facts.samples, int(kept), None if runs is None else runs.as_dict())])


def rows_about(about: dict) -> dict:
    return {k: about[k] for k in ("setting", "model", "method")}


def llama_mechanism_tables(about: dict, result: Any, facts: PassFacts, *, plans: Sequence[TargetPlan],
                           n_layers: int) -> dict[str, pd.DataFrame]:
    """A llama ``[mechanisms]`` pass's ``mechanism_counts`` and ``runs`` row."""
    counts, runs = split(result)
    rows = tb.llama_counts(rows_about(about), plans, counts, about["n_inputs"], n_layers)
    kept = rows.drop_duplicates("target")["solutions"].sum()
    return {"mechanism_counts": rows, "runs": mechanism_run_row(about, facts, kept, runs)}


def route_mechanism_tables(about: dict, result: Any, facts: PassFacts, *, decompositions: Sequence[Decomposition],
                           model: ModelSpec) -> dict[str, pd.DataFrame]:
    """A route ``[mechanisms]`` pass's ``mechanism_counts`` and ``runs`` row."""
    counts, runs = split(result)
    rows = tb.route_counts(rows_about(about), decompositions, counts, never(model))
    kept = rows.drop_duplicates("target")["solutions"].sum()
    return {"mechanism_counts": rows, "runs": mechanism_run_row(about, facts, kept, runs)}


def llama_mechanism_counts(name: str, result: Any) -> dict[str, np.ndarray]:
    """Per target, a llama pass's counts: solutions, llamas held, and each family's union."""
    counts = split(result)[0]
    return {f"{name}|{t}|{k}": np.asarray(v) for t, c in counts.items()
            for k, v in [("n_f", c.n_f), ("held", c.held), *((f"union:{f}", u) for f, u in c.unions.items())]}


def route_mechanism_counts(name: str, result: Any) -> dict[str, np.ndarray]:
    """A route pass's histogram."""
    return {f"{name}|hist": np.asarray(split(result)[0])}


def smc_mechanism_tables(about: dict, result: Replicates, facts: PassFacts, *, model: ModelSpec
                         ) -> dict[str, pd.DataFrame]:
    """A rare route's SMC prior pass: its ``mechanism_counts`` and ``runs`` row (``drawn``: network
    evaluations, ``kept``: solutions in the last populations, with the replicates' volume)."""
    d = DECOMPOSITIONS[about["target"]]
    rows = tb.smc_route_counts({k: about[k] for k in ("setting", "model", "method", "estimator")}, d,
                               [np.asarray(r.joint, np.int64) for r in result.runs], never(model))
    row = tb.run_row({"architecture": about["setting"], "model": about["model"], "target": d.name,
                      "m": 2 ** d.n, "method": "mechanisms:prior-smc"}, facts.samples,
                     sum(r.solutions for r in result.runs), None)
    vol = smc_volume_columns([r.log_p for r in result.runs])
    row.update({"kept_share": np.nan,  # solutions per evaluation says nothing here: the volume does
                "replicates": len(result.runs), "log10_volume": vol["log10_volume"],
                "log10_volume_lo": vol["ci95_lo"], "log10_volume_hi": vol["ci95_hi"]})
    return {"mechanism_counts": rows, "runs": pd.DataFrame([row])}


def readout_mechanism_tables(about: dict, result: tuple, facts: PassFacts, *, mechanisms: Sequence[str]
                             ) -> dict[str, pd.DataFrame]:
    """A rare route's readout prior pass: its ``mechanism_counts`` (:func:`tb.readout_route_counts`)
    and ``runs`` row (``drawn``: networks, ``kept``: those with a positive P(f | hidden), with V(f)
    and its reliability)."""
    est, sums = result
    d = DECOMPOSITIONS[about["target"]]
    rows = tb.readout_route_counts({k: about[k] for k in ("setting", "model", "method", "estimator")}, d,
                                   mechanisms, est, sums)
    f = est[0]
    kept = f.samples - int(f.diagnostics["zero_networks"])
    row = tb.run_row({"architecture": about["setting"], "model": about["model"], "target": d.name,
                      "m": 2 ** d.n, "method": "mechanisms:prior-readout"}, f.samples, kept, None)
    lo, hi = f.ci95
    row.update({"kept_share": np.nan, "replicates": 0, "log10_volume": f.log10_volume,
                "log10_volume_lo": lo, "log10_volume_hi": hi, "khat": f.diagnostics["khat"],
                "reliable": f.diagnostics["reliable"], "max_share": f.diagnostics["max_share"]})
    return {"mechanism_counts": rows, "runs": pd.DataFrame([row])}


def readout_route_counts(name: str, result: tuple) -> dict[str, np.ndarray]:
    """A readout route job's per-chunk sums for ``counts.npz`` (columns: V(f), then the mechanisms)."""
    return {f"{name}|{k}": np.asarray(v) for k, v in result[1]._asdict().items()}


def readout_tables(about: dict, result: pd.DataFrame, facts: PassFacts) -> dict[str, pd.DataFrame]:
    """A readout job's ``readout`` rows, with the setting's columns first."""
    out = result.copy()
    for k in reversed(("architecture", "model", "target", "m")):
        out.insert(0, k, about[k])
    return {"readout": out}
