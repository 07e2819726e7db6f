"""Exact enumeration of discrete priors against brute force, known sequences, and sampling.

The enumeration counts must equal a plain numpy/itertools brute force exactly; the number of
distinct functions of one threshold unit with bias and integer weights in -m..m must reach the
number of linear threshold functions on n inputs (OEIS A000609: 4, 14, 104, 1882) once m is large
enough, and never exceed it.
"""

import itertools
import time

import numpy as np
import pytest

from counting import parse_spec, run_census
from counting.boolean.cube import cube
from counting.engine.enumeration import configuration, enumeration_plan
from counting.engine.run import RunOptions
from counting.jobs import estimate_volume
from counting.stats import clopper_pearson
from counting.boolean.tables import to_hex, words_to_int
from exact_perceptron import number_of_threshold_functions


def spec_text(n, widths, act, prior='kind = "ternary"', est='kind = "exact"', target=None):
    t = f'[target]\ntruth_table = "{to_hex(target, n)}"\n' if target is not None else ""
    return (f"[model]\nn_inputs = {n}\nwidths = {list(widths)}\nactivation = \"{act}\"\n"
            f"[prior]\n{prior}\n{t}[estimator]\n{est}\n")


def brute_force(n, widths, act, m):
    """Counts by truth table from an independent numpy forward pass over every configuration."""
    x = cube(n).astype(np.float64)
    shapes, fan = [], n
    for w in list(widths) + [1]:
        shapes += [(fan, w), (w,)]
        fan = w
    sizes = [int(np.prod(s)) for s in shapes]
    f = {"step": lambda z: (z > 0) * 1.0, "relu": lambda z: np.maximum(z, 0), "sign": lambda z: np.where(z > 0, 1.0, -1.0)}[act]
    counts: dict[int, int] = {}
    for cfg in itertools.product(range(-m, m + 1), repeat=sum(sizes)):
        v, o, h = np.array(cfg, float), 0, x
        arrs = []
        for s, sz in zip(shapes, sizes):
            arrs.append(v[o : o + sz].reshape(s))
            o += sz
        for i in range(0, len(arrs) - 2, 2):
            h = f(h @ arrs[i] + arrs[i + 1])
        out = (h @ arrs[-2] + arrs[-1])[:, 0]
        tt = sum(1 << i for i in range(2**n) if out[i] > 0)
        counts[tt] = counts.get(tt, 0) + 1
    return counts


def census_dict(c):
    return {words_to_int(t): int(k) for t, k in zip(c.tables, c.counts)}


@pytest.mark.parametrize(
    "n,widths,act,prior,m",
    [(2, (2,), "step", 'kind = "ternary"', 1), (2, (2,), "relu", 'kind = "ternary"', 1),
     (2, (), "sign", 'kind = "integer"\nmax_abs = 3', 3), (3, (1,), "sign", 'kind = "ternary"', 1)],
)
def test_enumeration_equals_brute_force(n, widths, act, prior, m):
    c = run_census(parse_spec(spec_text(n, widths, act, prior), need_target=False))
    assert c.exact and c.samples == (2 * m + 1) ** enumeration_plan(
        parse_spec(spec_text(n, widths, act, prior), need_target=False)).n_params
    assert census_dict(c) == brute_force(n, widths, act, m)


def test_configuration_digits():
    spec = parse_spec(spec_text(2, (), "step"), need_target=False)
    assert configuration(0, spec).tolist() == [-1, -1, -1]
    assert configuration(1 + 2 * 3 + 0 * 9, spec).tolist() == [0, 1, -1]


@pytest.mark.parametrize("n,m", [(1, 1), (2, 1), (3, 2), (4, 3)])
def test_threshold_unit_reaches_a000609(n, m):
    prior = f'kind = "integer"\nmax_abs = {m}'
    c = run_census(parse_spec(spec_text(n, (), "step", prior), need_target=False))
    assert c.distinct == number_of_threshold_functions[n]


def test_ternary_threshold_unit_stays_within_a000609():
    for n in (3, 4):
        c = run_census(parse_spec(spec_text(n, (), "step"), need_target=False))
        assert c.distinct <= number_of_threshold_functions[n]
    assert c.distinct < number_of_threshold_functions[4]  # ternary weights cannot reach (3,2,2,1)-type functions


def test_three_to_the_ten_in_seconds():
    """A ternary threshold unit on 9 inputs: 3**10 = 59049 configurations, 512 points each."""
    spec = parse_spec(spec_text(9, (), "step"), need_target=False)
    t = time.perf_counter()
    c = run_census(spec)
    assert c.samples == 3**10
    assert time.perf_counter() - t < 60  # generous: seconds on two cores
    # the all-zero configuration (and any with all weights 0, bias <= 0) gives const0
    assert census_dict(c)[0] >= 2


def test_sampling_the_ternary_prior_matches_enumeration():
    """MC under the same discrete prior vs exact volumes: Bonferroni CP at family-wise rate 1e-3."""
    exact = run_census(parse_spec(spec_text(2, (2,), "relu"), need_target=False))
    samples = 1 << 17
    mc = run_census(parse_spec(spec_text(2, (2,), "relu", est=f"samples = {samples}\nseed = 3"),
                               need_target=False))
    ex, got = census_dict(exact), census_dict(mc)
    assert set(got) <= set(ex)
    conf = 1 - 1e-3 / len(ex)
    for tt, k in ex.items():
        lo, hi = clopper_pearson(got.get(tt, 0), samples, conf)
        assert lo <= k / exact.samples <= hi, hex(tt)


def test_exact_volume_and_run_invariance():
    text = spec_text(2, (2,), "step", target=0x8)
    exact = brute_force(2, (2,), "step", 1)[0x8] / 3**9
    a = estimate_volume(parse_spec(text), options=RunOptions(batch_size=81))
    b = estimate_volume(parse_spec(text), options=RunOptions(batch_size=2187, chunks_per_device=2))
    same = ("hits", "samples", "volume", "log10_volume", "ci95", "estimator", "cost_unit")
    assert [getattr(a, f) for f in same] == [getattr(b, f) for f in same]
    assert a.volume == exact and a.ci95 == (a.log10_volume, a.log10_volume)
