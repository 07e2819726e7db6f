"""Estimators against exact answers.

Exact perceptron volumes come from ``exact_perceptron.py`` (quadrature over directions with the
bias and radius integrated in closed form through a Student-t law; no sampling). Each sampled
volume is compared with a Clopper-Pearson interval at level ``1 - FWER / K`` (Bonferroni over the
``K`` functions compared), so a correct estimator fails a test with probability at most
``FWER = 1e-3`` over random keys; the keys here are fixed, so the outcome is deterministic.
"""

import math

import numpy as np
import pytest
from scipy import optimize, stats

from counting import parse_spec, run_census
from counting.estimators.result import binomial_estimate
from counting.jobs import estimate_volume
from counting.stats import clopper_pearson, clopper_pearson_many
from counting.boolean.tables import int_to_words, to_hex, words_to_int
from exact_perceptron import number_of_threshold_functions, perceptron_volumes

FWER = 1e-3


def perceptron_spec(n, samples, sigma_w=1.0, sigma_b=1.0, seed=0, target=None):
    t = f'[target]\ntruth_table = "{to_hex(target, n)}"\n' if target is not None else ""
    return parse_spec(
        f"[model]\nn_inputs = {n}\nwidths = []\n[prior]\nsigma_w = {sigma_w}\nsigma_b = {sigma_b}\n{t}"
        f"[estimator]\nsamples = {samples}\nseed = {seed}\nchunk_size = 65536\n",
        need_target=target is not None,
    )


def census_counts(census) -> dict[int, int]:
    return {words_to_int(t): int(c) for t, c in zip(census.tables, census.counts)}


def outside_bonferroni(counts: dict[int, int], exact: dict[int, float], n: int) -> list[int]:
    """Functions whose exact volume lies outside their Bonferroni-corrected CP interval."""
    keys = sorted(set(exact) | set(counts))
    conf = 1 - FWER / len(keys)
    bad = []
    for k in keys:
        lo, hi = clopper_pearson(counts.get(k, 0), n, conf)
        if counts.get(k, 0) == 0:  # two-sided at zero: upper end uses (1-conf)/2
            hi = 1 - ((1 - conf) / 2) ** (1 / n)
        if not lo <= exact.get(k, 0.0) <= hi:
            bad.append(k)
    return bad


@pytest.mark.parametrize("n,sigma_b", [(2, 1.0), (3, 1.0), (3, 0.5)])
def test_perceptron_census_matches_exact_volumes(n, sigma_b):
    samples = 1 << 20
    census = run_census(perceptron_spec(n, samples, sigma_b=sigma_b, seed=n))
    exact = perceptron_volumes(n, 1.0, sigma_b)
    counts = census_counts(census)
    assert census.samples == samples
    assert set(counts) <= set(exact)  # never a function of volume zero
    assert outside_bonferroni(counts, exact, samples) == []


def test_perceptron_census_rejects_wrong_prior():
    """The comparison has power: the sigma_b = 1 census is inconsistent with sigma_b = 0.5 volumes."""
    samples = 1 << 20
    counts = census_counts(run_census(perceptron_spec(3, samples, seed=3)))
    assert len(outside_bonferroni(counts, perceptron_volumes(3, 1.0, 0.5), samples)) > 10


def test_volume_estimator_matches_exact_and_on_two_bits():
    exact = perceptron_volumes(2)[0x8]  # AND; equals 1/24 (see exact_perceptron)
    est = estimate_volume(perceptron_spec(2, 200_000, seed=11, target=0x8))
    lo, hi = clopper_pearson(est.hits, est.samples, 1 - FWER)
    assert lo <= exact <= hi
    lo95, hi95 = clopper_pearson(est.hits, est.samples)
    assert est.ci95 == pytest.approx((math.log10(lo95), math.log10(hi95)), rel=1e-12)
    assert est.log10_volume == pytest.approx(math.log10(est.hits / est.samples))


def test_volume_estimator_deep_tail_is_an_honest_upper_bound():
    """Parity on 3 bits is impossible for a perceptron: zero hits, one-sided bound ~3/n."""
    est = estimate_volume(perceptron_spec(3, 50_000, seed=5, target=0x96))
    assert est.hits == 0 and est.log10_volume is None and est.one_sided_upper_bound
    assert est.ci95[1] == pytest.approx(math.log10(1 - 0.05 ** (1 / 50_000)), abs=1e-12)


def test_census_volumes_sum_to_one_and_xor_never_appears():
    census = run_census(perceptron_spec(2, 1 << 18, seed=7))
    df = census.frame()
    assert df["volume"].sum() == pytest.approx(1.0, abs=1e-12)
    assert df["count"].sum() == 1 << 18
    assert not {"0x6", "0x9"} & set(df["truth_table"])
    assert len(df) == number_of_threshold_functions[2]  # all 14 seen at this N


def _linearly_separable(tt: int, n: int) -> bool:
    """LP feasibility: some (w, b) has y_i (w . x_i + b) >= 1 on every point."""
    x = (2 * ((np.arange(2**n)[:, None] >> np.arange(n)) & 1) - 1).astype(float)
    y = np.array([1.0 if (tt >> i) & 1 else -1.0 for i in range(2**n)])
    a = -(y[:, None] * np.hstack([x, np.ones((2**n, 1))]))
    res = optimize.linprog(np.zeros(n + 1), A_ub=a, b_ub=-np.ones(2**n), bounds=[(None, None)] * (n + 1))
    return res.status == 0


def test_lp_checker_rejects_parity():
    assert not _linearly_separable(0x6996, 4) and _linearly_separable(0x8000, 4)


@pytest.mark.slow  # 2**18 networks and about 1,800 linear programs (7 s)
def test_every_four_bit_perceptron_function_is_linearly_separable():
    census = run_census(perceptron_spec(4, 1 << 18, seed=13))
    tts = [words_to_int(t) for t in census.tables]
    assert len(tts) <= number_of_threshold_functions[4]
    assert len(tts) > 1000  # most of the 1882 show up, so the check covers many functions
    assert all(_linearly_separable(t, 4) for t in tts)


def test_clopper_pearson_matches_scipy_binomtest():
    for k, n in [(1, 10), (5, 100), (99, 100), (100, 100), (7, 10**9)]:
        ci = stats.binomtest(k, n).proportion_ci(0.95, method="exact")
        assert clopper_pearson(k, n) == pytest.approx((ci.low, ci.high), rel=1e-9)
    lo, hi = clopper_pearson_many(np.array([1, 5, 99]), 100)
    expect = [b for k in (1, 5, 99) for b in clopper_pearson(k, 100)]
    assert expect == pytest.approx([b for pair in zip(lo, hi) for b in pair], rel=1e-12)


def test_binomial_estimate_fields():
    est = binomial_estimate(50, 1000)
    assert est.volume == 0.05 and est.ci95[0] < math.log10(0.05) < est.ci95[1]
    assert words_to_int(int_to_words(0xDEADBEEF12345678, 6)) == 0xDEADBEEF12345678
