"""The simplicity experiment: class volumes, the statistics that compare measures, the 7-bit tables."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
from conftest import assert_usage_error, cli, write_spec
from scipy import stats

from counting.boolean.npn import npn_class_ids, npn_classes
from counting.engine.census import Census
from counting.engine.run import RunOptions, run_pass
from counting.engine.tally import CensusTally
from counting.experiments import parse_experiment, run_experiment
from counting.experiments.simplicity import compare, zipf
from counting.experiments.simplicity.classes import class_volumes
from counting.experiments.simplicity.jobs import class_job
from counting.spec.estimator import NNGPSettings, ReadoutSettings, SMCSettings, SubsetSettings
from counting.spec.job import sampling_spec
from counting.spec.model import MLPSpec
from counting.spec.errors import SpecError
from counting.spec.prior import ScaledPrior

# --- config -----------------------------------------------------------------------------------------------

HEAD = '[experiment]\nkind = "simplicity"\n'


@pytest.mark.parametrize("body,field", [
    ("", "experiment file"),
    ('[volumes]\nn_inputs = [5]', "volumes.n_inputs[0]"),
    ('[[prior]]\nname = "a"\n[volumes]\nsamples = 0', "volumes.samples"),
    ('[[prior]]\nwidths = [4]\n[volumes]', "prior[0].name"),
    ('[[prior]]\nname = "a"\nkind = "ternary"\n[volumes]', "prior[0].kind"),
    ('[[prior]]\nname = "a"\n[ladder]\nmethods = ["mc", "exact"]', "ladder.methods[1]"),
    ('[reproduction]\nencodings = ["01", "01"]', "reproduction.encodings"),
    ('[volumes]\nn_inputs = [3]', "prior"),
    ('[[prior]]\nname = "a"\n[volumes.smc]\nparticles = 5', "volumes.smc.particles"),
    ('[[prior]]\nname = "a"\n[volumes.smc]\nkind = "subset"', "volumes.smc.kind"),
    ('[[prior]]\nname = "a"\n[volumes.nngp]\nn_qmc = 100', "volumes.nngp.n_qmc"),
    ('[[prior]]\nname = "a"\n[ladder.subset]\nseed = 3', "ladder.subset.seed"),
    ('[[prior]]\nname = "a"\n[ladder.smc]\nmax_levels = 3', "ladder.smc.max_levels"),
    ('[[prior]]\nname = "a"\n[ladder]\nsubset = 3', "ladder.subset"),
    ('n_inputs = 3\n[reproduction]', "experiment.n_inputs"),  # each part has its own
])
def test_bad_config_is_one_line(body, field):
    with pytest.raises(SpecError) as e:
        parse_experiment(HEAD + body)
    assert str(e.value).startswith(f"{field}: expected") and "\n" not in str(e.value)


@pytest.mark.parametrize("part, key, value, place", [
    ("volumes", "particles", 100, "[volumes.smc]"),
    ("volumes", "max_stages", 150, "[volumes.smc]"),
    ("volumes", "nngp_qmc", 1024, "[volumes.nngp] (as n_qmc)"),
    ("ladder", "replicates", 4, "[ladder.smc] and [ladder.subset]"),
    ("ladder", "max_stages", 60, "[ladder.smc] and [ladder.subset] (as the subset's max_levels)"),
    ("ladder", "nngp_qmc", 1024, "[ladder.nngp] (as n_qmc)"),
])
def test_old_style_settings_name_their_new_table(part, key, value, place):
    """A file written before the settings moved into estimator tables is refused in one line."""
    with pytest.raises(SpecError) as e:
        parse_experiment(HEAD + f'[[prior]]\nname = "a"\n[{part}]\n{key} = {value}')
    assert str(e.value) == f"{part}.{key}: expected no {key} here: moved to {place}, got {value}"


def test_the_estimator_tables_are_the_specs_own():
    """Each [part.kind] table is a job's [estimator] table: its fields and the spec's defaults, seeded
    by the experiment's seed (each estimate then derives its own)."""
    exp = parse_experiment(HEAD + 'seed = 3\n[[prior]]\nname = "a"\n[ladder]\n[ladder.subset]\nmax_levels = 7\n'
                           'kernel = "pcn"')
    assert exp.ladder.subset == SubsetSettings(max_levels=7, kernel="pcn", seed=3)
    assert exp.ladder.smc == SMCSettings(seed=3) and exp.ladder.nngp == NNGPSettings(seed=3)


@pytest.mark.slow  # a command start-up (about 5 s); the in-process cases above cover the messages
def test_bad_config_from_the_command_line_writes_nothing(tmp_path):
    r = cli("run", write_spec(tmp_path, HEAD + '[volumes]\nn_inputs = [5]'), "--out", tmp_path / "out")
    assert_usage_error(r, "volumes.n_inputs[0]")
    assert not (tmp_path / "out").exists()


# --- NPN invariance of volumes -----------------------------------------------------------------------------

def _census(model, samples=2**18, seed=5):
    tally = CensusTally(model.n_inputs, 2**14, samples)
    run_pass(sampling_spec(model, ScaledPrior(), samples, seed=seed, chunk_size=2**14), tally,
             RunOptions(progress=False))
    return tally.finalize()


def _homogeneity_p_values(census, n):
    """For each NPN class with enough hits, the chi-square p-value of "every member equally likely"."""
    ids = np.asarray(npn_class_ids(n))
    per = np.zeros(len(ids), np.int64)
    per[census.tables[:, 0].astype(np.int64)] = census.counts
    out = []
    for k in range(ids.max() + 1):
        c = per[ids == k]
        if len(c) > 1 and c.sum() >= 20 * len(c):
            out.append(stats.chisquare(c).pvalue)
    return np.array(out)


def test_volumes_are_constant_on_npn_classes_and_not_on_the_01_cube():
    """A census of 2^18 3-8-1 relu networks: within every well-sampled NPN class the members' counts
    pass a chi-square test of equal volumes (each at p > 1e-4: false-failure rate below 14 x 1e-4
    before fixing the key). On {0,1}^3 inputs the prior is not symmetric under input negation and
    the same test rejects (the test has teeth)."""
    m = MLPSpec(n_inputs=3, widths=(8,))
    p = _homogeneity_p_values(_census(m), 3)
    assert len(p) >= 5 and p.min() > 1e-4, p
    q = _homogeneity_p_values(_census(dataclasses.replace(m, inputs="01")), 3)
    assert q.min() < 1e-12, q


def test_class_volumes_pool_members_and_sum_to_one():
    c = _census(MLPSpec(n_inputs=3, widths=(8,)), samples=2**16)
    t = class_volumes(c, 3)
    assert t["count"].sum() == c.samples and len(t) == 14 and t["size"].sum() == 256
    assert np.isclose((t["size"] * t["volume"]).sum(), 1.0)
    assert ((10 ** t["ci95_lo"] <= t["volume"]) & (t["volume"] <= 10 ** t["ci95_hi"])).all()


# --- the comparison statistics ---------------------------------------------------------------------------

def test_weighted_statistics_equal_the_expanded_list():
    """Spearman, partial Spearman and R^2 computed on classes with sizes as weights equal the plain
    statistics over the list of functions expanded from them."""
    rng = np.random.default_rng(1)
    k = 40
    x, z = rng.integers(0, 6, k).astype(float), rng.normal(size=k)
    y = -x + rng.normal(size=k) + z
    w = rng.integers(1, 9, k)
    ex = lambda v: np.repeat(v, w)  # noqa: E731
    assert np.isclose(compare.spearman(x, y, w), stats.spearmanr(ex(x), ex(y)).statistic)
    rx, ry, rz = (stats.rankdata(ex(v)) for v in (x, y, z))
    res = lambda a: a - np.polyval(np.polyfit(rz, a, 1), rz)  # noqa: E731
    assert np.isclose(compare.partial_spearman(x, y, z, w), np.corrcoef(res(rx), res(ry))[0, 1])
    r2, _ = compare.r_squared(y, [x, z], w)
    a = np.column_stack([np.ones(w.sum()), ex(x), ex(z)])
    beta, *_ = np.linalg.lstsq(a, ex(y), rcond=None)
    assert np.isclose(r2, 1 - np.sum((ex(y) - a @ beta) ** 2) / np.sum((ex(y) - ex(y).mean()) ** 2))


def test_correlations_find_a_planted_predictor():
    """Classes whose log volume is minus their LZ plus small noise: LZ has rho near -1 with a tight
    interval, and a measure unrelated to it by construction (its own random column) does not."""
    cls = npn_classes(3).copy()
    rng = np.random.default_rng(0)
    from counting.boolean.complexity import all_measures

    m = all_measures(3).iloc[[int(h, 16) for h in cls["representative"]]].reset_index(drop=True)
    df = pd.concat([cls.reset_index(drop=True), m.drop(columns=["truth_table"])], axis=1)
    df["points"] = 8
    df["log10_volume"] = -df["lz"] + rng.normal(0, 0.01, len(df))
    df["ci95_lo"], df["ci95_hi"] = df["log10_volume"] - 0.02, df["log10_volume"] + 0.02
    df["avg_sensitivity"] = rng.permutation(df["avg_sensitivity"].to_numpy())
    corr, partial, reg = compare.correlations(df, boot=200)
    lz = corr.set_index("measure").loc["lz"]
    assert lz["spearman"] < -0.95 and lz["ci95_hi"] < -0.9
    assert reg.iloc[-1]["value"] > 0.9 and len(partial) == len(compare.PARTIAL_PAIRS)


# --- the 7-bit tables ------------------------------------------------------------------------------------

def test_frequency_and_lz_tables_account_for_every_network():
    rng = np.random.default_rng(2)
    rows = rng.integers(0, 4, (3000, 4)).astype(np.uint32)  # 256 possible tables, repeated
    c = Census.from_rows(rows, 7)
    f = zipf.frequency_table(c)
    assert (f["count"] * f["functions"]).sum() == 3000 and f["functions"].sum() == c.distinct
    assert f["rank_last"].iloc[-1] == c.distinct and (np.diff(f["count"]) < 0).all()
    lz = zipf.census_lz(c, 7)
    t = zipf.lz_table(c, lz)
    assert (t["count"] * t["functions"]).sum() == 3000
    bits = zipf.word_bits(c.tables[:3], 7)
    from counting.boolean.tables import words_to_int

    for r, b in zip(c.tables[:3], bits):
        assert int(sum(int(v) << i for i, v in enumerate(b))) == words_to_int(r)


def test_reproduction_part_end_to_end():
    exp = parse_experiment(HEAD + 'chunk_size = 1024\n[reproduction]\nsamples = 2048\nwidths = [8]\nencodings = ["01", "pm1"]')
    t = run_experiment(exp, progress=False)
    r = t["reproduction"].set_index("encoding")
    assert (r["samples"] == 2048).all() and (r["distinct"] > 1).all()
    for enc in ("01", "pm1"):
        f = t["frequency"][t["frequency"]["encoding"] == enc]
        assert (f["count"] * f["functions"]).sum() == 2048 and f["functions"].sum() == r.loc[enc, "distinct"]


# --- the volumes part end to end (rare classes by SMC) --------------------------------------------------

class FinishedCensus:
    """What class_job reads of the census pass before it: the finished census."""

    def __init__(self, census):
        self.census = census

    def finalize(self):
        return self.census


def test_a_class_estimated_by_smc_publishes_its_smc_volume_not_the_census_fraction():
    """2-bit functions, a census that never saw the class of 0x3 (one input, negated; count 0 <
    min_hits = 1): SMC estimates it, and its ``volume`` is ``10**log10_volume`` (it was the census's
    0), the census fraction kept as ``census_volume``; the census classes keep their census volume."""
    c = Census.from_rows(np.array([[0x8]] * 40 + [[0x6]] * 2 + [[0x0]] * 30, np.uint32), n_inputs=2)
    m = MLPSpec(n_inputs=2, widths=(4,), activation="tanh")  # no NNGP for tanh: SMC alone
    job = class_job(FinishedCensus(c), m, ScaledPrior(), 1, 0, SMCSettings(particles=50, steps=1, replicates=2,
                    max_stages=30), NNGPSettings(n_qmc=256, replicates=8), 0, ("test",))
    t = job(RunOptions(progress=False))[0].set_index("representative")
    assert t["method"].to_dict() == {"0x0": "census", "0x1": "census", "0x3": "smc", "0x6": "census"}
    smc = t.loc["0x3"]
    assert np.isfinite(smc["log10_volume"]) and smc["log10_volume"] == smc["smc_log10_volume"]
    assert smc["volume"] == 10.0 ** smc["log10_volume"] > 0.01
    assert smc["census_volume"] == 0
    census = t[t["method"] == "census"]
    np.testing.assert_array_equal(census["volume"], census["count"] / (census["size"] * 72))
    np.testing.assert_array_equal(census["census_volume"], census["volume"])
    np.testing.assert_allclose(census["volume"], 10.0 ** census["log10_volume"], rtol=1e-12)


@pytest.mark.slow  # a readout pass and SMC replicates (about 50 s on two busy cores)
def test_a_rare_class_with_a_reliable_readout_estimate_publishes_it_and_it_meets_smc():
    """As above on relu 2-4-1 with ``[volumes.readout]``: the rare class 0x3 gets both SMC and the
    readout estimate; the readout one is reliable here (k-hat below threshold), so it is published,
    and the two methods' 95% intervals overlap (each misses with probability about 0.05: a false
    failure below 0.1). Census classes carry no readout columns' values."""
    c = Census.from_rows(np.array([[0x8]] * 40 + [[0x6]] * 2 + [[0x0]] * 30, np.uint32), n_inputs=2)
    m = MLPSpec(n_inputs=2, widths=(4,), activation="relu")
    job = class_job(FinishedCensus(c), m, ScaledPrior(), 1, 0, SMCSettings(particles=100, steps=2, replicates=4,
                    max_stages=30), NNGPSettings(n_qmc=256, replicates=4), 0, ("test",),
                    ReadoutSettings(samples=2048))
    t = job(RunOptions(progress=False))[0].set_index("representative")
    assert t["method"].to_dict() == {"0x0": "census", "0x1": "census", "0x3": "readout", "0x6": "census"}
    r = t.loc["0x3"]
    assert bool(r["readout_reliable"]) and r["log10_volume"] == r["readout_log10_volume"]
    assert r["volume"] == 10.0 ** r["log10_volume"]
    assert r["readout_ci95_lo"] <= r["smc_ci95_hi"] and r["smc_ci95_lo"] <= r["readout_ci95_hi"]
    assert t.loc[["0x0", "0x1", "0x6"], "readout_log10_volume"].isna().all()


@pytest.mark.slow  # about a minute: SMC on the rare classes
def test_volumes_part_sums_to_one_and_smc_meets_the_census(tmp_path):
    """3-bit functions of 3-8-1 relu networks: classes seen fewer than 30 times in 2^16 networks get SMC.
    The per-function volumes sum to 1 within their intervals; where SMC and the census both
    apply, SMC's estimate lies inside the census's interval widened by SMC's own."""
    exp = parse_experiment(HEAD + '''chunk_size = 16384
[[prior]]
name = "relu-8"
widths = [8]
[volumes]
n_inputs = [3]
samples = 65536
min_hits = 30
crosscheck = 3
[volumes.smc]
particles = 200
steps = 5
replicates = 10
[volumes.nngp]
n_qmc = 256
replicates = 8''')
    t = run_experiment(exp, out=tmp_path / "out", progress=False)
    cls, check = t["classes"], t["volume_checks"].iloc[0]
    assert check["sum_lo"] <= 1 <= check["sum_hi"] and (cls["method"] == "smc").sum() >= 1
    both = cls[(cls["count"] >= 30) & cls["smc_log10_volume"].notna()]
    assert len(both) == 3
    for _, r in both.iterrows():
        half = (r["smc_ci95_hi"] - r["smc_ci95_lo"]) / 2
        assert r["census_ci95_lo"] - half <= r["smc_log10_volume"] <= r["census_ci95_hi"] + half, r
    assert (tmp_path / "out" / "volumes_n3.png").exists()


def test_ladder_rows_and_a_known_zero():
    """A perceptron never computes XOR (not linearly separable): hit-or-miss gives only an upper bound
    and the infinite-width value is exactly zero; a hidden layer computes it, and both methods give
    a finite volume with an interval around it."""
    exp = parse_experiment(HEAD + '''chunk_size = 1024
[[prior]]
name = "r"
widths = [8]
[ladder]
n = [2]
widths = []
methods = ["mc", "nngp"]
samples = 4096
[ladder.nngp]
n_qmc = 256
replicates = 8''')
    lad = run_experiment(exp, progress=False)["ladder"].set_index("method")
    assert lad.loc["mc", "upper_bound_only"] and np.isnan(lad.loc["mc", "log10_volume"])
    assert lad.loc["mc", "ci95_hi"] < -2.5 and np.isnan(lad.loc["nngp", "log10_volume"])
    exp = dataclasses.replace(exp, ladder=dataclasses.replace(exp.ladder, widths=(8,)))
    lad = run_experiment(exp, progress=False)["ladder"].set_index("method")
    for m in ("mc", "nngp"):
        r = lad.loc[m]
        assert not r["upper_bound_only"] and r["ci95_lo"] <= r["log10_volume"] <= r["ci95_hi"] < 0
