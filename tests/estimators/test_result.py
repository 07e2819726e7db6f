"""One row and one sentence per estimate: :meth:`Estimate.columns`, :attr:`Estimate.case` and the
texts made of them (the command line's lines, the citation's value and cost).

The expected rows and texts are those the tables, the command line and the citation gave before
they were made in one place (the committed tables under ``results/`` are made of them): hit-or-miss
with hits and with none, enumeration with a count and with none, SMC reached and not, subset
simulation and the NNGP limit. The volume columns of hit counts are checked against the formula the
experiments' tables used (``clopper_pearson_many``, orbit sizes, enumerated counts), and against
the committed depth, llamaizer and enumeration tables.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from counting.estimators.result import (CASES, INTERVAL_COLUMNS, Estimate, binomial_estimate,
                                        exact_estimate)
from counting.experiments.base.shares import volume_columns
from counting.experiments.depth.tables import bias_smc_row, smc_volume_columns
from counting.experiments.simplicity.jobs import estimate_columns
from counting.io.citation import citation, cost_text, value_text
from counting.io.report import volume_lines
from counting.jobs import volume_row
from counting.rare.smc import SMCRun
from counting.spec import parse_spec
from counting.stats import clopper_pearson_many, log10_or_none

ROOT = Path(__file__).resolve().parents[2]
SMC_DIAG = {"kernel": "hmc", "replicates": 4, "replicates_log10": [-5.1, -5.3, -5.2, -5.25],
            "replicate_sd_log10": 0.0854, "reached": 4, "mean_stages": 12.5, "log10_bound": -4.0}
EST = {
    "mc": binomial_estimate(316, 1000, seconds=0.5, seed=0,
                            diagnostics={"chunks": 2, "resumed_from_chunk": 0, "networks_per_second": 2000.0}),
    "mc_zero": binomial_estimate(0, 5000, seconds=0.25, seed=2, diagnostics={"chunks": 1}),
    "exact": exact_estimate(5355258, 3486784401, seconds=488.4,
                            diagnostics={"chunks": 59049, "configurations_per_second": 7e6, "resumed_from_chunk": 0}),
    "exact_zero": exact_estimate(0, 81, seconds=0.01),
    "smc": Estimate(-5.2, (-5.5, -5.0), 10 ** -5.2, "smc", 123456, "network_evaluations", None, 3.0, 7, False,
                    SMC_DIAG),
    "smc_unreached": Estimate(None, (None, None), 0.0, "smc", 5000, "network_evaluations", None, 2.0, 8, False,
                              {**SMC_DIAG, "reached": 0, "replicates_log10": [-math.inf] * 4,
                               "replicate_sd_log10": math.nan}),
    "subset": Estimate(-3.3, (-3.6, -3.1), 10 ** -3.3, "subset", 99999, "network_evaluations", None, 4.0, 9, False,
                       {"kernel": "mala", "replicates": 8, "replicates_log10": [-3.3] * 8, "replicate_sd_log10": 0.0,
                        "reached": 8, "mean_levels": 4.0}),
    "nngp": Estimate(-2.5, (-2.51, -2.49), 10 ** -2.5, "nngp", 65536, "integrand_evaluations", None, 0.7, 11, False,
                     {"limit": "infinite width", "replicates": 8, "std_error": 1e-5, "std_error_log10": 0.002,
                      "replicate_log10": [-2.5] * 8, "rank": 3, "dimension": 4, "tilted": True}),
}

HEAD = ("estimator", "log10_volume", "ci95_lo", "ci95_hi", "volume", "samples", "cost_unit", "hits",
        "one_sided_upper_bound", "seconds", "seed")
ROWS = {
    "mc": ("mc", -0.5003129173815961, -0.5417214997316211, -0.4611428513439999, 0.316, 1000, "networks", 316,
           False, 0.5, 0, {"chunks": 2, "resumed_from_chunk": 0, "networks_per_second": 2000.0}),
    "mc_zero": ("mc", None, None, -3.222597102664592, 0.0, 5000, "networks", 0, True, 0.25, 2, {"chunks": 1}),
    "exact": ("exact", -2.8136446957375645, -2.8136446957375645, -2.8136446957375645, 0.0015358729947467147,
              3486784401, "configurations", 5355258, False, 488.4, None,
              {"chunks": 59049, "configurations_per_second": 7000000.0, "resumed_from_chunk": 0}),
    "exact_zero": ("exact", None, None, None, 0.0, 81, "configurations", 0, False, 0.01, None, {}),
    "smc": ("smc", -5.2, -5.5, -5.0, 6.30957344480193e-06, 123456, "network_evaluations", None, False, 3.0, 7,
            {"kernel": "hmc", "replicates": 4, "replicate_sd_log10": 0.0854, "reached": 4, "mean_stages": 12.5,
             "log10_bound": -4.0}),
    "smc_unreached": ("smc", None, None, None, 0.0, 5000, "network_evaluations", None, False, 2.0, 8,
                      {"kernel": "hmc", "replicates": 4, "replicate_sd_log10": math.nan, "reached": 0,
                       "mean_stages": 12.5, "log10_bound": -4.0}),
    "subset": ("subset", -3.3, -3.6, -3.1, 0.0005011872336272725, 99999, "network_evaluations", None, False, 4.0, 9,
               {"kernel": "mala", "replicates": 8, "replicate_sd_log10": 0.0, "reached": 8, "mean_levels": 4.0}),
    "nngp": ("nngp", -2.5, -2.51, -2.49, 0.0031622776601683794, 65536, "integrand_evaluations", None, False, 0.7, 11,
             {"limit": "infinite width", "replicates": 8, "std_error": 1e-05, "std_error_log10": 0.002, "rank": 3,
              "dimension": 4, "tilted": True}),
}
CASE = {"mc": "interval", "mc_zero": "bound", "exact": "exact", "exact_zero": "exact", "smc": "interval",
        "smc_unreached": "none", "subset": "interval", "nngp": "interval"}
LINES = {
    "mc": "volume 0.316 = 10^-0.500, 95% CI 10^[-0.542, -0.461]  (316 hits / 1,000 networks)",
    "mc_zero": "volume: no hits in 5,000 networks; 95% upper bound 10^-3.223 = 0.000599",
    "exact": "volume 0.00153587 = 10^-2.814 exactly (5,355,258 of 3,486,784,401 configurations)",
    "exact_zero": "volume 0 = 10^null exactly (0 of 81 configurations)",
    "smc": "volume 6.31e-06 = 10^-5.200, 95% CI 10^[-5.500, -5.000]  (smc, 123,456 network evaluations)",
    "smc_unreached": "volume 0 = 10^null, 95% CI 10^[null, null]  (smc, 5,000 network evaluations)",
    "subset": "volume 0.000501 = 10^-3.300, 95% CI 10^[-3.600, -3.100]  (subset, 99,999 network evaluations)",
    "nngp": "volume 0.00316 = 10^-2.500, 95% CI 10^[-2.510, -2.490]  (nngp, 65,536 integrand evaluations)",
}
CITED = {
    "mc": ("P(f) = 0.316 = 10^-0.500 (95% CI 10^[-0.542, -0.461])", "1,000 networks, 316 hits"),
    "mc_zero": ("P(f) < 10^-3.223 (95% upper bound; no hits)", "5,000 networks, 0 hits"),
    "exact": ("P(f) = 0.00153587 = 10^-2.814 exactly", "3,486,784,401 configurations, 5,355,258 hits"),
    "exact_zero": ("P(f) = 0", "81 configurations, 0 hits"),
    "smc": ("P(f) = 6.31e-06 = 10^-5.200 (95% CI 10^[-5.500, -5.000])", "123,456 network evaluations"),
    "smc_unreached": ("P(f) = 0", "5,000 network evaluations"),
    "subset": ("P(f) = 0.000501 = 10^-3.300 (95% CI 10^[-3.600, -3.100])", "99,999 network evaluations"),
    "nngp": ("P(f) = 0.00316 = 10^-2.500 (95% CI 10^[-2.510, -2.490])", "65,536 integrand evaluations"),
}


def same(a, b) -> bool:
    """Equal, NaN equal to NaN, and of one type (so that no column changes its dtype)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


def assert_same_row(got: dict, want: dict) -> None:
    assert list(got) == list(want)
    assert all(same(got[k], want[k]) for k in want), {k: (got[k], want[k]) for k in want if not same(got[k], want[k])}


@pytest.mark.parametrize("name", list(EST))
def test_the_volume_row_is_the_estimates_columns_as_before(name):
    *fields, diag = ROWS[name]
    want = {"target": "0xe8", **dict(zip(HEAD, fields)), **diag}
    assert_same_row(volume_row(EST[name], "0xe8"), want)
    assert_same_row(EST[name].columns("p_"), {f"p_{k}": v for k, v in list(want.items())[1:]})


@pytest.mark.parametrize("name", list(EST))
def test_the_case_is_decided_once_and_every_text_follows_it(name):
    e = EST[name]
    assert e.case == CASE[name] and e.case in CASES
    spec = parse_spec("[model]\nn_inputs=3\nwidths=[40,40]\n[target]\nname='majority'", need_target=True)
    assert volume_lines(spec, e, Path("runs/x"))[1] == LINES[name]
    assert (value_text(e), cost_text(e)) == CITED[name]
    assert Estimate.from_dict(json.loads(json.dumps(e.as_dict()))).columns().keys() == e.columns().keys()


@pytest.mark.parametrize("name", list(EST))
def test_the_simplicity_columns_are_the_interval_with_nan_where_unknown(name):
    e = EST[name]
    got = estimate_columns(e, "smc_")
    assert list(got) == [f"smc_{k}" for k in INTERVAL_COLUMNS]
    want = [e.log10_volume, e.ci95[0], e.ci95[1]]
    assert all(same(g, np.nan if w is None else w) for g, w in zip(got.values(), want))
    assert all(math.isnan(v) for v in estimate_columns(None, "nngp_").values())


def old_volume_columns(hits: int, samples: int, orbit_size: int = 1, exact: bool = False) -> dict:
    """The volume columns of hit counts as the experiments' tables computed them."""
    if exact:
        lo = hi = hits / samples
    else:
        lo, hi = (float(np.asarray(x).item()) for x in clopper_pearson_many(np.array([hits]), int(samples)))
    return {"volume": hits / samples / orbit_size,
            "log10_volume": math.log10(hits / samples / orbit_size) if hits else None,
            "ci95_lo": math.log10(lo / orbit_size) if hits else None,
            "ci95_hi": log10_or_none(hi / orbit_size)}


@pytest.mark.parametrize("exact", [False, True])
@pytest.mark.parametrize("orbit", [1, 6, 40])
def test_volume_columns_of_hit_counts_are_as_before(exact, orbit):
    for samples in (59, 5000, 262144, 2 ** 21, 20_000_000):
        for hits in sorted({0, 1, 2, 17, samples // 3, samples - 1, samples}):
            assert_same_row(volume_columns(hits, samples, orbit, exact), old_volume_columns(hits, samples, orbit, exact))


def committed(path: str) -> pd.DataFrame:
    return pd.read_parquet(ROOT / "results" / path)


def as_table(value):
    return math.nan if value is None else value


def test_the_committed_hit_count_tables_are_remade_exactly():
    for _, r in committed("depth/bias.parquet").iterrows():
        got = volume_columns(int(r["hits"]), int(r["samples"]))
        assert all(same(float(as_table(got[k])), float(r[k])) for k in got)
    for _, r in committed("llamaizer/volumes.parquet").iterrows():
        got = volume_columns(int(r["orbit_hits"]), int(r["samples"]), int(r["orbit_size"]))
        assert all(same(float(as_table(got[k])), float(r[k])) for k in got)


def test_the_committed_enumeration_row_is_remade_exactly():
    r = json.loads((ROOT / "results/enumeration/manifest.json").read_text())["result"]
    e = exact_estimate(r["hits"], r["samples"], seconds=r["seconds"], diagnostics=r["diagnostics"])
    want = committed("enumeration/volume.parquet").to_dict(orient="records")[0]
    got = volume_row(e, r["target"])
    assert list(got) == list(want)
    assert all(got[k] == want[k] or (got[k] is None and want[k] is None) for k in want)
    assert Estimate.from_dict(r) == e


def test_smc_rows_keep_their_columns():
    runs = [SMCRun(-12.0, 1000, 10, -11.0, 1.0), SMCRun(-12.5, 1100, 11, -12.0, 1.0),
            SMCRun(-math.inf, 900, 9, -13.0, 0.5), SMCRun(-11.7, 1000, 10, -11.2, 1.0)]
    about = {"model": "resmlp", "depth": 2, "width": 3, "params": 67}
    row = bias_smc_row(about, "parity3", 0x9696, runs)
    assert list(row) == ["model", "depth", "width", "params", "target", "truth_table", "method", "replicates",
                         "reached", "evaluations", "volume", "log10_volume", "ci95_lo", "ci95_hi",
                         "replicate_min_log10", "replicate_max_log10", "replicate_sd_log10", "mean_stages",
                         "log10_bound"]
    assert (row["method"], row["replicates"], row["reached"], row["evaluations"]) == ("smc", 4, 3, 4000)
    assert {k: row[k] for k in ("volume", "log10_volume", "ci95_lo", "ci95_hi")} == \
        smc_volume_columns([r.log_p for r in runs])
    none = smc_volume_columns([-math.inf] * 3)
    assert none == {"volume": 0.0, "log10_volume": None, "ci95_lo": None, "ci95_hi": None}


def test_an_older_manifest_without_the_flag_or_the_cost_is_cited_as_before():
    spec = {"model": {"kind": "mlp", "n_inputs": 3, "widths": [8], "activation": "relu"},
            "prior": {"kind": "gaussian", "sigma_w": 1.0, "sigma_b": 1.0},
            "target": {"truth_table": "0xe8"}, "estimator": {"kind": "mc", "samples": 1000}}
    r = {k: v for k, v in EST["mc_zero"].as_dict().items() if k not in ("one_sided_upper_bound", "cost")}
    cite = citation({"kind": "volume", "spec": spec, "result": r})
    assert cite.startswith("P(f) < 10^-3.223 (95% upper bound; no hits) for f = 0xe8 on 3 inputs;")
    assert "interval; 0 hits; seed 2;" in cite  # no cost recorded: none cited
