"""The llamaizer across widths: one unit's chance of holding a llama against exact perceptron
volumes, the independence prediction, the crossing table and the width figures of a small sweep."""

import math

import numpy as np
import pandas as pd
import pytest
from exact_perceptron import perceptron_volumes

from counting.boolean.tables import canonical
from counting.experiments import parse_experiment, run_experiment
import counting.experiments.llamaizer as llamaizer
from counting.experiments.llamaizer.width import crossing_table, half_width, predicted_half
from counting.stats import clopper_pearson_many

SWEEP = """
[experiment]
kind = "llamaizer"
n_inputs = 3
samples = {samples}
chunk_size = 2048
seed = 7
[prior]
kind = "gaussian"
{archs}
[[target]]
name = "and01"
truth_table = "0x88"
[[family]]
name = "ignored"
kind = "ignored_bits"
[[family]]
name = "named"
kind = "named"
truth_tables = ["0xaa", "0xcc", "0xe8", "0x96", "0x80"]
"""


def sweep(widths, samples=8192, depth=1) -> str:
    archs = "".join(f"[[architecture]]\nwidths = {[w] * depth}\n" for w in widths)
    return SWEEP.format(samples=samples, archs=archs)


@pytest.fixture(scope="module")
def small_sweep():
    exp = parse_experiment(sweep((2, 4, 16)))
    return exp, run_experiment(exp)


def test_layer1_unit_chance_is_the_perceptron_volume():
    """Under the prior, layer-1 units are independent perceptrons: p_unit over 2**16 networks of 3-64-1
    (4.2e6 units) holds the exact quadrature volume V(g) + V(not g) of every llama (tests/exact_perceptron.py)
    in its 95% cluster interval widened to a Bonferroni 1% family-wise level over the llamas. A correct
    pass fails this with probability at most 1% (the interval is exact binomial here: design effect 1)."""
    exp = parse_experiment(sweep((64,), samples=65536))
    units = run_experiment(exp)["units"]
    exact = perceptron_volumes(3)
    rows = units[units.layer == 1]
    k = np.rint(rows["prior_p_unit"] * rows["samples"] * 64).astype(np.int64).to_numpy()
    lo, hi = clopper_pearson_many(k, 65536 * 64, 1 - 0.01 / len(rows))
    truth = np.array([exact.get(int(g, 16), 0.0) + exact.get(0xFF ^ int(g, 16), 0.0) for g in rows["llama"]])
    assert ((lo <= truth) & (truth <= hi)).all(), rows.assign(truth=truth)[["llama", "prior_p_unit"]]
    assert (truth > 0.01).sum() >= 4 and (truth == 0).any()  # resolved threshold llamas, and one never held
    assert (rows.loc[truth == 0, "prior_p_unit"] == 0).all()  # parity3 is no perceptron's pattern
    # and a wrong answer (the volume of g alone) is refused
    half = np.array([exact.get(int(g, 16), 0.0) for g in rows["llama"]])
    assert not ((lo <= half) & (half <= hi)).all()


def test_prior_layer1_holds_agrees_with_independence(small_sweep):
    """Layer-1 units are independent a priori, so 1 - (1 - p_unit)**W must hold the measured share
    of networks holding g (intervals overlapping) for every llama and width."""
    _, res = small_sweep
    u = res["units"]
    l1 = u[(u.layer == 1) & (u.prior_holds > 0)]
    assert len(l1) >= 10 and l1["prior_agrees"].all()
    assert np.allclose(l1["prior_predicted"], 1 - (1 - l1["prior_p_unit"]) ** l1["width"], rtol=1e-9)


def test_crossing_table_of_a_sweep(small_sweep):
    exp, res = small_sweep
    c, u = res["crossing"], res["units"]
    assert set(c["widths"]) == {"2,4,16"}
    per_key = u.groupby(["depth", "target", "layer", "llama"]).size()
    assert len(c) == len(per_key)
    widest = u[u.width == 16].set_index(["target", "layer", "llama"])
    for r in c.itertuples():
        w = widest.loc[(r.target, r.layer, r.llama)]
        assert r.holds_widest == w.holds
        assert r.width_predicted == predicted_half(w.p_unit)
        shares = u[(u.target == r.target) & (u.layer == r.layer) & (u.llama == r.llama)].sort_values("width")
        first = shares[shares.holds > 0.5]["width"]
        assert (math.isnan(r.width_half) and first.empty) or r.width_half == first.iloc[0]
    assert c["width_half"].notna().any() and c["width_half"].isna().any()  # llamas that cross, and some not
    assert {"discard_share_widest", "discard_width_half"} <= set(c.columns)


def test_half_width_and_prediction():
    assert half_width(np.array([1, 4]), np.array([0.0, 1.0])) == 2.0  # halfway in log2
    assert math.isnan(half_width(np.array([1, 2]), np.array([0.1, 0.5])))  # never above one half
    assert predicted_half(0.0) == math.inf and predicted_half(0.6) == 1.0
    w = predicted_half(0.01)
    assert 1 - 0.99 ** w == pytest.approx(0.5)


def test_width_figures_are_written(small_sweep, tmp_path):
    _, res = small_sweep
    names = llamaizer.write_figures(res, tmp_path)
    assert {"width_cost.png", "independence.png", "width_share.png"} <= set(names)
    assert all((tmp_path / n).stat().st_size > 10_000 for n in names)


def test_no_crossing_table_without_a_sweep():
    u = pd.DataFrame({"architecture": ["a"], "depth": [1], "target": ["t"], "llama": ["0x1"], "degree": [1],
                      "threshold": [True], "layer": [1], "width": [8], "n_f": [3], "holds": [0.5],
                      "holds_lo": [0.1], "holds_hi": [0.9], "p_unit": [0.1], "p_unit_lo": [0.0], "p_unit_hi": [0.3]})
    assert crossing_table(u).empty
    assert canonical(0x55, 3) == 0xAA  # the llama names are canonical, as the tables write them


RESULTS = __import__("pathlib").Path(__file__).resolve().parents[2] / "results"


def test_width_32_rows_agree_with_the_llamaizer_results():
    """results/llamaizer_width (seed 1) at the widths of results/llamaizer (seed 0, 2e7 and 1.2e7
    networks): every llama share k/n_f of the two runs, cell by cell, passes Fisher's exact test at a
    Bonferroni 1% family-wise level, and the volumes' intervals overlap. Two correct runs fail this
    with probability at most 1%; a wrong share of a few percent in a well-seen cell would not pass."""
    from scipy.stats import fisher_exact

    old = pd.read_parquet(RESULTS / "llamaizer" / "cost.parquet")
    new = pd.read_parquet(RESULTS / "llamaizer_width" / "cost.parquet")
    keys = ["architecture", "target", "llama", "layer"]
    both = old.merge(new, on=keys, suffixes=("_old", "_new"))
    assert set(both["architecture"]) == {"5-32-32-1", "5-32-32-32-32-1"} and len(both) > 1000
    seen = both[(both["n_f_and_g_old"] + both["n_f_and_g_new"]) > 0]
    p = np.array([fisher_exact([[r.n_f_and_g_old, r.n_f_old - r.n_f_and_g_old],
                                [r.n_f_and_g_new, r.n_f_new - r.n_f_and_g_new]])[1] for r in seen.itertuples()])
    assert (p >= 0.01 / len(seen)).all(), seen[p < 0.01 / len(seen)][keys]
    assert (seen["share_old"] > 0.05).sum() >= 10  # cells resolved well enough to catch a wrong share
    v = pd.read_parquet(RESULTS / "llamaizer" / "volumes.parquet").merge(
        pd.read_parquet(RESULTS / "llamaizer_width" / "volumes.parquet"), on=["architecture", "target"])
    assert len(v) == 4 and ((v.ci95_lo_x <= v.ci95_hi_y) & (v.ci95_lo_y <= v.ci95_hi_x)).all()
