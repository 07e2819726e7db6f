"""The depth experiment's rare-event parts: the bias sweep's SMC rows (their numbers from the
replicates, the config's errors, which passes run) and readout rows (the estimate's columns, the
passes, the config's errors), the placement ratios of every decomposition against a brute-force
count, and SMC and the readout against hit-or-miss where both see the target."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection
from scipy import stats

from counting.analytic.placements import placements_brute_force
from counting.experiments import parse_experiment, run_experiment
from counting.experiments.depth import passes, with_samples
from counting.experiments.depth.figures import bias_figure
from counting.experiments.depth.tables import (CLASS_NAMES, READOUT_COLUMNS, bias_estimate_row, bias_smc_row,
                                               placement_columns, route_readout_row)
from counting.estimators.replicated import replicates_estimate
from counting.estimators.result import Estimate
from counting.mechanisms.routes import DECOMPOSITIONS
from counting.rare.smc import SMCRun
from counting.spec.errors import SpecError

CONFIG = """
[experiment]
kind = "depth"
chunk_size = 4096
[[target]]
name = "and4"
truth_table = "0x8000"
[[target]]
name = "majority3"
truth_table = "0xe8e8"
[bias]
models = ["mlp", "resmlp"]
depths = [1, 2]
params = 60
samples = 262144
rare = ["and4", "majority3"]
[bias.estimator]
kind = "smc"
particles = 200
steps = 5
replicates = 4
"""

ABOUT = {"model": "resmlp", "depth": 2, "width": 3, "params": 67}


def test_smc_row_is_the_mean_of_the_replicates_with_a_t_interval():
    """log10 of the mean replicate estimate, and the Student-t interval of that mean, by hand."""
    log10s = np.array([-9.0, -9.5, -8.8, -9.2])
    runs = [SMCRun(x * math.log(10), 1000 + i, 12, x * math.log(10) + 0.5 + i, 3.0) for i, x in enumerate(log10s)]
    row = bias_smc_row(ABOUT, "parity3", 0x9696, runs)
    p = 10.0**log10s
    half = stats.t.ppf(0.975, 3) * p.std(ddof=1) / 2
    assert row["method"] == "smc" and row["truth_table"] == "0x9696" and row["replicates"] == 4 and row["reached"] == 4
    assert row["log10_volume"] == pytest.approx(math.log10(p.mean()), abs=1e-12)
    assert row["ci95_lo"] == pytest.approx(math.log10(p.mean() - half), abs=1e-9)
    assert row["ci95_hi"] == pytest.approx(math.log10(p.mean() + half), abs=1e-9)
    assert (row["replicate_min_log10"], row["replicate_max_log10"]) == (-9.5, -8.8)
    assert row["evaluations"] == 4006 and row["mean_stages"] == 12
    assert row["log10_bound"] == pytest.approx(max(x + (0.5 + i) / math.log(10) for i, x in enumerate(log10s)))


def test_smc_row_with_no_replicate_reaching_the_target_keeps_only_the_bound():
    runs = [SMCRun(-math.inf, 10, 23, -24.4, 1e16), SMCRun(-math.inf, 10, 20, -23.0, 1e15)]
    row = bias_smc_row(ABOUT, "parity4", 0x6996, runs)
    assert row["reached"] == 0 and row["log10_volume"] is None and row["volume"] == 0.0
    assert math.isnan(row["replicate_min_log10"]) and row["log10_bound"] == pytest.approx(-23.0 / math.log(10))
    fig = bias_figure(pd.DataFrame([row]))  # drawn as an open square at the bound
    points = [c.get_offsets().tolist() for c in fig.axes[0].collections if isinstance(c, PathCollection)]
    assert points == [[[2.0, pytest.approx(row["log10_bound"])]]]


def test_passes_without_hit_or_miss_are_the_smc_ones_alone():
    exp = parse_experiment(CONFIG.replace("samples = 262144", "samples = 0"))
    names = [p.name for p in passes(exp)]
    assert names == [f"rare-bias:{t}:{m}" for m in ("mlp-L1-w10", "mlp-L2-w5", "resmlp-L1-w4", "resmlp-L2-w3")
                     for t in ("and4", "majority3")]
    assert with_samples(exp, 1024).bias.samples == 0  # --samples does not turn hit-or-miss on
    both = [p.name for p in passes(parse_experiment(CONFIG))]
    assert len(both) == 4 + 8 and both[:4] == ["bias:mlp-L1-w10", "bias:mlp-L2-w5", "bias:resmlp-L1-w4",
                                               "bias:resmlp-L2-w3"]


BAD = [
    ('rare = ["and4", "majority3"]', 'rare = ["parity9"]', "bias.rare[0]: expected"),
    ('rare = ["and4", "majority3"]', 'rare = "and4"', "bias.rare: expected"),
    ("replicates = 4", "replicates = 1", "bias.estimator.replicates: expected"),
    ("particles = 200", "particles = 5", "bias.estimator.particles: expected"),
    ("steps = 5", "steps = 0", "bias.estimator.steps: expected"),
    ("steps = 5", "steps = 5\nbatch_replicates = 5", "bias.estimator.batch_replicates: expected at most replicates"),
    ("[bias.estimator]\nkind = \"smc\"\n", "", "bias.particles: expected no particles here: moved to [bias.estimator]"),
    ("samples = 262144", "samples = -1", "bias.samples: expected"),
]


@pytest.mark.parametrize("old,new,message", BAD)
def test_bad_bias_rare_configs_get_one_line_errors(old, new, message):
    with pytest.raises(SpecError) as e:
        parse_experiment(CONFIG.replace(old, new, 1))
    assert str(e.value).startswith(message) and "\n" not in str(e.value)


def test_no_hit_or_miss_and_no_rare_target_is_refused():
    text = CONFIG.replace("samples = 262144", "samples = 0").replace('rare = ["and4", "majority3"]', "rare = []")
    with pytest.raises(SpecError, match=r"^bias.samples: expected at least 1 \(0 only with targets in bias.rare\)"):
        parse_experiment(text)


@pytest.mark.parametrize("name", sorted(DECOMPOSITIONS))
def test_placement_ratios_equal_brute_force_counts(name):
    """Tree over chain placements of each decomposition's own circuits, against enumerating every
    map gate -> block; the summed ratio weights each by its number of alternatives."""
    d = DECOMPOSITIONS[name]
    chain, tree = d.routes
    for L in range(2, 7):
        c, t = placements_brute_force(chain.circuit, L), placements_brute_force(tree.circuit, L)
        got = placement_columns(d, L)
        if L < 3:  # the chains need three blocks
            assert c == 0 and math.isnan(got["placement_ratio"])
            continue
        assert got["placement_ratio"] == pytest.approx(t / c)
        assert got["placement_ratio_all"] == pytest.approx(len(tree.alternatives) * t / (len(chain.alternatives) * c))
    if name == "and_xor_and":  # the chain's fourth gate sits anywhere below the last: it outnumbers the tree
        assert placement_columns(d, 6)["placement_ratio"] < 1


@pytest.mark.slow  # 8 hit-or-miss passes of 2^18 networks and 8 SMC jobs of 4 replicates (about 1 minute alone, 5 on shared cores)
def test_smc_agrees_with_hit_or_miss_where_both_see_the_target():
    """4-bit AND and 3-bit majority on small MLPs and residual MLPs (about 60 parameters, 1 and 2
    layers), seen by hit-or-miss 27 to 661 times in 2^18: each SMC interval (Student-t over 4
    replicates) overlaps the Clopper-Pearson one. Two independent calibrated 95% intervals are
    disjoint with probability about 0.6% (estimates 2.8 combined sd apart), so the false-failure
    rate is under 5% over the 8 comparisons before fixing the seed."""
    t = run_experiment(parse_experiment(CONFIG), progress=False)["bias"]
    key = ["model", "depth", "target"]
    mc = t[t["method"] == "mc"].set_index(key)
    smc = t[t["method"] == "smc"].set_index(key)
    assert len(mc) == len(smc) == 8 and (mc["hits"] >= 20).all() and (smc["reached"] == 4).all()
    both = pd.merge(mc, smc, left_index=True, right_index=True, suffixes=("_mc", "_smc"))
    overlap = (both["ci95_lo_smc"] <= both["ci95_hi_mc"]) & (both["ci95_lo_mc"] <= both["ci95_hi_smc"])
    assert overlap.all(), both[["log10_volume_mc", "ci95_lo_mc", "ci95_hi_mc", "log10_volume_smc", "ci95_lo_smc",
                                "ci95_hi_smc"]]


READOUT = CONFIG.replace('kind = "smc"\nparticles = 200\nsteps = 5\nreplicates = 4', 'kind = "readout"\nsamples = 4096')


def _readout_estimate(log10: float | None, reliable: bool, n: int = 4096) -> Estimate:
    diag = {"khat": 0.3 if reliable else 0.9, "khat_threshold": 0.72, "reliable": reliable, "max_share": 0.02,
            "ess": 900.0, "rel_se": 0.05, "zero_networks": 7, "chunks": 4}
    if not reliable:
        diag["warning"] = "not yet reliable: Pareto k-hat 0.90 >= 0.72"
    if log10 is None:
        return Estimate(None, (None, -3.0), 0.0, "readout", n, "networks", None, 1.0, 0, True, diag)
    return Estimate(log10, (log10 - 0.1, log10 + 0.1), 10.0**log10, "readout", n, "networks", None, 1.0, 0, False, diag)


def test_readout_row_has_the_volume_columns_and_the_diagnostics():
    row = bias_estimate_row(ABOUT, "parity4", 0x6996, _readout_estimate(-12.5, False))
    assert row["method"] == "readout" and row["truth_table"] == "0x6996" and row["samples"] == 4096
    assert (row["log10_volume"], row["ci95_lo"], row["ci95_hi"]) == (-12.5, -12.6, -12.4)
    assert row["volume"] == pytest.approx(10**-12.5)
    assert {k: row[k] for k in READOUT_COLUMNS} == {"khat": 0.9, "khat_threshold": 0.72, "reliable": False,
                                                     "max_share": 0.02, "ess": 900.0, "zero_networks": 7,
                                                     "warning": "not yet reliable: Pareto k-hat 0.90 >= 0.72"}
    assert bias_estimate_row(ABOUT, "parity4", 0x6996, _readout_estimate(-12.5, True))["warning"] is None
    bound = bias_estimate_row(ABOUT, "parity4", 0x6996, _readout_estimate(None, False))
    assert bound["log10_volume"] is None and bound["ci95_lo"] is None and bound["ci95_hi"] == -3.0


def test_readout_smc_row_has_the_replicates_columns():
    log10s = [-9.0, -9.4, -math.inf]
    extra = {"mean_stages": 7.0, "acceptance": 0.4, "log10_bound": -8.5, "worst_log10_correction": 0.1,
             "worst_correction_ess": 0.8}
    e = replicates_estimate("readout_smc", [x * math.log(10) for x in log10s], 3000, extra=extra)
    row = bias_estimate_row(ABOUT, "parity3", 0x9696, e)
    assert row["method"] == "readout_smc" and row["evaluations"] == 3000 and "samples" not in row
    assert (row["replicates"], row["reached"], row["log10_bound"], row["mean_stages"]) == (3, 2, -8.5, 7.0)
    assert row["log10_volume"] == pytest.approx(math.log10((1e-9 + 10**-9.4) / 3))


def test_readout_rows_are_drawn_faded_where_not_reliable_and_open_at_the_bound():
    rows = [bias_estimate_row({**ABOUT, "depth": L}, "parity4", 0x6996, _readout_estimate(v, ok))
            for L, v, ok in ((1, -12.0, True), (2, -11.0, False), (3, None, False))]
    fig = bias_figure(pd.DataFrame(rows))
    ax = fig.axes[0]
    points = sorted((c.lines[0].get_alpha(), c.lines[0].get_xydata().tolist()) for c in ax.containers)
    assert points == [(0.35, [[2.0, -11.0]]), (1.0, [[1.0, -12.0]])]  # faded: k-hat says not reliable
    bounds = [c.get_offsets().tolist() for c in ax.collections if isinstance(c, PathCollection)]
    assert bounds == [[[3.0, -3.0]]]  # no network's readout reached it: open, at the 95% bound
    assert "readout integrated out over 4,096 hidden draws" in fig._suptitle.get_text().replace("\n", " ")


def test_readout_passes_measure_every_rare_target_in_one_pass_per_network():
    exp = parse_experiment(READOUT.replace("samples = 262144", "samples = 0"))
    assert exp.bias.estimator.kind == "readout" and exp.bias.estimator.samples == 4096
    ps = passes(exp)
    assert [p.name for p in ps] == [f"rare-bias:{m}" for m in ("mlp-L1-w10", "mlp-L2-w5", "resmlp-L1-w4", "resmlp-L2-w3")]
    assert all(p.about["targets"] == ["and4", "majority3"] and p.spec.estimator.seed == 0 for p in ps)
    smc = parse_experiment(READOUT.replace('kind = "readout"\nsamples = 4096', 'kind = "readout_smc"\nreplicates = 2'))
    assert [p.name for p in passes(smc)][4:6] == ["rare-bias:and4:mlp-L1-w10", "rare-bias:majority3:mlp-L1-w10"]


READOUT_BAD = [
    ('kind = "readout"', 'kind = "mc"', "bias.estimator.kind: expected one of ['smc', 'readout', 'readout_smc']"),
    ("samples = 4096", "samples = 0", "bias.estimator.samples: expected"),
    ("samples = 4096", "particles = 200", "bias.estimator.particles: expected one of the known keys for kind 'readout'"),
    ("samples = 4096", "seed = 3", "bias.estimator.seed: expected no seed here"),
    ("[experiment]", '[prior]\nkind = "uniform"\n[experiment]', "bias.estimator.kind: expected 'smc' with a uniform prior"),
]


@pytest.mark.parametrize("old,new,message", READOUT_BAD)
def test_bad_bias_readout_configs_get_one_line_errors(old, new, message):
    with pytest.raises(SpecError) as e:
        parse_experiment(READOUT.replace(old, new, 1))
    assert str(e.value).startswith(message) and "\n" not in str(e.value)


@pytest.mark.slow  # 2 hit-or-miss passes of 2^18 networks and 2 readout passes of 4,096 networks, two targets each (5.7 min on 2 shared cores, load about 8: each readout pass compiles its own orthants)
def test_readout_agrees_with_hit_or_miss_where_both_see_the_target():
    """4-bit AND and 3-bit majority on a small MLP and residual MLP (about 60 parameters, 1 layer or
    block), seen by hit-or-miss tens to hundreds of times in 2^18: each readout interval (normal,
    from the sample variance over 4,096 hidden draws, every estimate's Pareto k-hat below its
    threshold) overlaps the Clopper-Pearson one. Two independent calibrated 95% intervals are
    disjoint with probability about 0.6% (estimates 2.8 combined sd apart), so the false-failure
    rate is about 2.5% over the 4 comparisons before fixing the seed (the two passes share the
    seed, not the stream: their chunk sizes differ). Depth 2 is left out for time (a readout pass
    compiles for a minute or two on shared cores)."""
    t = run_experiment(parse_experiment(READOUT.replace("depths = [1, 2]", "depths = [1]")), progress=False)["bias"]
    key = ["model", "depth", "target"]
    mc = t[t["method"] == "mc"].set_index(key)
    ro = t[t["method"] == "readout"].set_index(key)
    assert len(mc) == len(ro) == 4 and (mc["hits"] >= 20).all() and (ro["samples"] == 4096).all()
    assert ro["reliable"].astype(bool).all() and ro["warning"].isna().all(), ro[["khat", "khat_threshold"]].to_dict()
    both = pd.merge(mc, ro, left_index=True, right_index=True, suffixes=("_mc", "_ro"))
    overlap = (both["ci95_lo_ro"] <= both["ci95_hi_mc"]) & (both["ci95_lo_mc"] <= both["ci95_hi_ro"])
    assert overlap.all(), both[["log10_volume_mc", "ci95_lo_mc", "ci95_hi_mc", "log10_volume_ro", "ci95_lo_ro",
                                "ci95_hi_ro"]]


def _mean_estimate(p: np.ndarray) -> Estimate:
    """A readout estimate of the terms ``p`` as the estimator reports it: mean, networks, ``ess``."""
    s1, s2 = p.sum(), (p**2).sum()
    diag = {"ess": s1**2 / s2 if s2 > 0 else math.nan, "khat": 0.2, "reliable": True}
    return Estimate(math.log10(s1 / len(p)) if s1 > 0 else None, (None, None), s1 / len(p), "readout", len(p),
                    "networks", None, 0.0, 0, False, diag)


def test_readout_route_shares_are_ratios_of_means_with_delta_method_intervals():
    """Shares and the ratio tree / chain from the class volumes alone, against the same ratios and
    the standard deviation of their residuals computed network by network."""
    rng = np.random.default_rng(0)
    n = 5000
    p = np.exp(rng.normal(-20, 2, n)) * (rng.random(n) < 0.7)
    cls = rng.choice(4, n, p=[0.1, 0.3, 0.2, 0.4])  # CLASS_NAMES order: both, chain only, tree only, neither
    es = [_mean_estimate(p)] + [_mean_estimate(np.where(cls == k, p, 0.0)) for k in range(4)]
    about = {"model": "resmlp", "depth": 4, "width": 8, "params": 600}
    row = route_readout_row(DECOMPOSITIONS["xor_and"], about, es)
    chain, tree = np.isin(cls, [0, 1]), np.isin(cls, [0, 2])

    def expected(a, b):
        r = a.sum() / b.sum()
        half = 1.959963984540054 * math.sqrt(((a - r * b) ** 2).sum()) / b.sum()
        return r, max(r - half, 0.0), r + half

    for name, a, b in [("takes_chain", chain * p, p), ("takes_tree", tree * p, p), ("ratio_tree_chain", tree * p, chain * p)]:
        lo, hi = ("ratio_lo", "ratio_hi") if name.startswith("ratio") else (f"{name}_lo", f"{name}_hi")
        assert (row[name], row[lo], row[hi]) == pytest.approx(expected(a, b), rel=1e-9)
    for k, c in enumerate(CLASS_NAMES):
        assert (row[c], row[f"{c}_lo"], row[f"{c}_hi"]) == pytest.approx(expected((cls == k) * p, p), rel=1e-9)
    assert row["method"] == "readout" and row["samples"] == n and row["log10_volume"] == pytest.approx(math.log10(p.mean()))
    none = route_readout_row(DECOMPOSITIONS["xor_and"], about, es[:1] + [_mean_estimate(0 * p)] * 3 + es[:1])
    assert math.isnan(none["ratio_tree_chain"]) and none["neither"] == pytest.approx(1.0)


def test_routes_take_the_readout_and_refuse_other_kinds_in_one_line():
    text = CONFIG.replace("[bias]", '[routes]\ndecompositions = ["and4"]\nwidths = [4]\ndepths = [3]\nsamples = 4096\n'
                          'rare = ["and4"]\n[routes.estimator]\nkind = "readout"\nsamples = 2048\n[bias]')
    exp = parse_experiment(text)
    assert exp.routes.estimator.kind == "readout" and [p.name for p in passes(exp)][-1] == "rare:and4:resmlp-L3-w4"
    with pytest.raises(SpecError) as e:
        parse_experiment(text.replace('kind = "readout"\nsamples = 2048', 'kind = "readout_smc"', 1))
    assert str(e.value).startswith("routes.estimator.kind: expected one of ['smc', 'readout']") and "\n" not in str(e.value)


@pytest.mark.slow  # 2^18 hit-or-miss networks and one readout pass of 4,096 networks with five targets (3 min on 2 shared cores, load about 8)
def test_readout_route_shares_agree_with_hit_or_miss():
    """4-bit AND's routes on a residual MLP of 3 blocks of width 4 (about 570 of 2^18 networks
    solve it): the readout's volume, the shares taking the chain and the tree, and their ratio
    overlap the hit-or-miss intervals (Clopper-Pearson, Jeffreys for the ratio). Four
    comparisons of two calibrated 95% intervals, each disjoint with probability about 0.6%: a
    false-failure rate near 2.5% before fixing the seed."""
    text = CONFIG.split("[bias]")[0] + ('[routes]\ndecompositions = ["and4"]\nwidths = [4]\ndepths = [3]\n'
                                        'samples = 262144\nrare = ["and4"]\n[routes.estimator]\nkind = "readout"\n'
                                        'samples = 4096\n')
    t = run_experiment(parse_experiment(text), progress=False)["routes"].set_index("method")
    mc, ro = t.loc["mc"], t.loc["readout"]
    assert mc["solutions"] > 300 and ro["samples"] == 4096 and bool(ro["reliable"])
    for name, lo, hi in [("log10_volume", "ci95_lo", "ci95_hi"), ("takes_chain", "takes_chain_lo", "takes_chain_hi"),
                         ("takes_tree", "takes_tree_lo", "takes_tree_hi"), ("ratio_tree_chain", "ratio_lo", "ratio_hi")]:
        assert ro[lo] <= mc[hi] and mc[lo] <= ro[hi], (name, mc[[name, lo, hi]].tolist(), ro[[name, lo, hi]].tolist())
