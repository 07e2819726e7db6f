"""experiments/llama_rare.py: its llamas, its cost arithmetic, its one-pass hit-or-miss counts, and
tempered SMC of a site condition against hit-or-miss on a case small enough for both."""

import importlib.util
import math
from pathlib import Path

import pytest

from counting.estimators import mc, smc
from counting.estimators.problem import Problem
from counting.mechanisms.predicates import all_of, computes
from counting.mechanisms.sites import holds
from counting.spec import parse_spec
from counting.spec.errors import SpecError
from counting.spec.estimator import MCSettings, SMCSettings

ROOT = Path(__file__).resolve().parents[1]


def driver():
    spec = importlib.util.spec_from_file_location("llama_rare", ROOT / "experiments" / "llama_rare.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


lr = driver()


def test_llamas_are_what_their_names_say():
    lr.check_tables()
    # bit i of a table is the point whose bit j is x_j (pm1: x_j = +1 where bit j of i is set)
    assert [lr.XOR[1] >> i & 1 for i in range(32)] == [(i >> 3 & 1) ^ (i >> 4 & 1) for i in range(32)]
    assert lr.TARGET == sum(1 << i for i in range(32) if i & 3 == 3)


def test_costs_from_volumes_and_shares():
    bits, lo, hi = lr.cost_from_volumes((-4.0, -4.25, -3.75), (-6.0, -6.5, -5.5))
    assert bits == pytest.approx(2 * math.log2(10)) and lo == pytest.approx(1.25 * math.log2(10))
    assert hi == pytest.approx(2.75 * math.log2(10))
    assert math.isnan(lr.cost_from_volumes((-4.0, -4.1, -3.9), (-9.0, None, -8.0))[2])
    assert lr.cost_from_share(1 / 8, 1 / 16, 1 / 4) == (3.0, 2.0, 4.0)
    assert lr.cost_from_share(0.0, 0.0, 0.01)[0] == math.inf


def test_plan_and_labels():
    p = lr.plan(32, [32, 128], True)
    assert [(m.width, m.label) for m in p] == [
        (32, "f"), (32, "f and layer1 holds x2"), (32, "f and layer2 holds x2"), (32, "f and layer2 holds x3 xor x4"),
        (32, "layer2 holds x3 xor x4"), (128, "f"), (128, "f and layer2 holds x3 xor x4")]
    assert [m.label for m in lr.plan(32, [32], False, cheap=False)] == ["f", "f and layer2 holds x3 xor x4"]


def test_refuses_a_finished_out_before_any_work(tmp_path):
    (tmp_path / "manifest.json").write_text("{}")
    with pytest.raises(SpecError, match="--out"):
        lr.main(["--out", str(tmp_path)])
    with pytest.raises(SpecError, match="--widths"):
        lr.parse_args(["--out", str(tmp_path / "new"), "--widths", "32,x"])


@pytest.mark.slow  # two compiled counting passes: about 10 s on 2 shared cores
def test_one_pass_counts_equal_separate_hit_or_miss_runs():
    # every condition's count in the shared pass is exactly its own mc job's count (same draws)
    measures = [lr.Measure(3, ("x2", lr.CHEAP[1]), "layer1", and_f=False),
                lr.Measure(3, ("x2", lr.CHEAP[1]), "layer2", and_f=False)]
    hits, _ = lr.mc_counts(3, measures, 3000, seed=7, chunk_size=1024)
    settings = MCSettings(samples=3000, seed=7, chunk_size=1024)
    alone = mc.estimate(Problem.of(lr.spec_of(3, settings), lr.condition(measures[1])), settings).hits
    assert hits[1] == alone > 0 and hits[0] != hits[1]  # the second condition's count, in its place


@pytest.mark.slow  # two SMC compilations and 2^18 hit-or-miss networks: about a minute on 2 shared cores
def test_smc_of_a_site_condition_agrees_with_hit_or_miss():
    # "computes AND and a layer-2 unit has sign pattern XOR" on 2-4-4-1 relu: about 2e-4, seen about 45
    # times in 2^18 networks. Fixed seeds make the test deterministic; with exact 95% intervals on
    # both sides, two independent intervals fail to overlap with probability well below 1%.
    spec = parse_spec("[model]\nn_inputs = 2\nwidths = [4, 4]\n[prior]\nkind = 'gaussian'\n"
                      "[estimator]\nsamples = 262144\nchunk_size = 16384\nseed = 3", need_target=False)
    cond = all_of(computes(0x8, 2), holds("layer2", 0x6, 2))
    ref = mc.estimate(Problem.of(spec, cond), spec.estimator)
    est = smc.estimate(Problem.of(spec, cond), SMCSettings(particles=200, steps=3, leapfrog=4, replicates=6, seed=4))
    assert ref.hits >= 20 and est.diagnostics["reached"] == 6
    assert est.ci95[0] <= ref.ci95[1] and ref.ci95[0] <= est.ci95[1], (ref.ci95, est.ci95)
    assert abs(est.log10_volume - ref.log10_volume) < 0.3
