"""The readout-integrated estimator (``kind = "readout"``, :mod:`counting.estimators.readout`):
known answers, agreement with hit-or-miss on the same hidden layers, and reproducibility.

False-failure rates: the known-answer test compares each perceptron volume with its exact value
within 5 standard errors of the mean over 64 networks (Student t with 63 degrees of freedom:
P(|t| > 5) = 5e-6 per function, under 1e-3 over the 104 + 14 functions); the hit-or-miss check
uses |z| < 4 per function (6e-5 each, under 2e-3 over its functions), with a variance that bounds
the true one from above. Every test runs on a fixed key, so each outcome is deterministic.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from exact_perceptron import perceptron_volumes

from conftest import cli, write_spec
from counting.engine.readouts import HiddenDraws
from counting.engine.run import RunOptions, run_pass
from counting.estimators import ESTIMATORS, Problem
from counting.estimators import readout
from counting.estimators.mc import estimate as mc_estimate
from counting.estimators.readout import ReadoutTarget
from counting.mechanisms.predicates import all_of, computes
from counting.mechanisms.sites import holds
from counting.training.data import agrees_on
from counting.spec import parse_spec
from counting.spec.errors import SpecError
from counting.spec.estimator import ReadoutSettings
from counting.spec.job import Spec
from counting.tails import mean_summary


def spec_text(model: str, target: str = 'name = "and"', estimator: str = 'kind = "readout"') -> str:
    return f"[model]\n{model}\n[target]\n{target}\n[estimator]\n{estimator}\n"


@pytest.mark.parametrize("n", [2, pytest.param(3, marks=pytest.mark.slow)])  # n = 3: 104 functions (about 80 s on busy cores)
def test_perceptron_volumes_equal_the_exact_ones(n):
    """No hidden layer: P(f | hidden) is the volume itself, one orthant probability (2-bit AND = 1/24)."""
    spec = parse_spec(spec_text(f"n_inputs = {n}\nwidths = []"))
    exact = perceptron_volumes(n)
    tables = sorted(exact)
    settings = ReadoutSettings(samples=64, chunk_size=64, block_size=64)
    ests = readout.estimate_many(Problem.of(spec), tables, settings)
    for tt, est in zip(tables, ests):
        se = est.volume * est.diagnostics["rel_se"]
        assert abs(est.volume - exact[tt]) <= 5 * se + 1e-6 * exact[tt], (hex(tt), est.volume, exact[tt])
    if n == 2:
        assert abs(ests[tables.index(0x8)].volume * 24 - 1) < 1e-3


@pytest.mark.slow  # a compile of its own (about 7 s)
def test_non_threshold_function_on_a_perceptron_is_a_bound():
    """XOR is not a threshold function: every sampled covariance has rank 3 < 4 points and the
    sign pattern is infeasible, so every P(f | hidden) is exactly 0 and the report is a bound."""
    spec = parse_spec(spec_text("n_inputs = 2\nwidths = []", 'truth_table = "0x6"',
                                'kind = "readout"\nsamples = 32\nchunk_size = 32\nblock_size = 32'))
    est = ESTIMATORS["readout"](Problem.of(spec), spec.estimator, RunOptions())
    assert est.case == "bound" and est.volume == 0.0 and est.diagnostics["zero_networks"] == 32
    assert est.ci95[1] == pytest.approx(math.log10(1 - 0.05 ** (1 / 32)))


@pytest.mark.slow  # eight hit-or-miss passes, one compile each (about 30 s); the mechanisms test below runs by default
def test_agrees_with_hit_or_miss_on_the_same_hidden_layers():
    """Shared-draws hit-or-miss with the same seed and chunk size draws the same hidden layers, so
    given them its hits are Binomial(R, p_i) per network: ``hits - R sum p_i`` has mean 0 and
    variance at most ``R sum p_i`` (QMC noise in ``p_i`` is unbiased and far smaller)."""
    n, hidden_draws, r = 3, 512, 64
    model = f"n_inputs = {n}\nwidths = [6]"
    funcs = {"and": lambda x: x[0] & x[1], "or": lambda x: x[0] | x[1] | x[2], "maj": lambda x: x[0] + x[1] + x[2] >= 2,
             "x0": lambda x: x[0], "and3": lambda x: x[0] & x[1] & x[2], "xor": lambda x: x[0] ^ x[1],
             "x0_and_not_x1": lambda x: x[0] & (1 - x[1]), "parity": lambda x: x[0] ^ x[1] ^ x[2]}
    tables = [sum(1 << i for i in range(2**n) if f([(i >> j) & 1 for j in range(n)])) for f in funcs.values()]
    spec = parse_spec(spec_text(model, estimator=f'kind = "readout"\nsamples = {hidden_draws}\nchunk_size = 256'))
    ests = readout.estimate_many(Problem.of(spec), tables, spec.estimator)
    for name, tt, est in zip(funcs, tables, ests):
        mc_spec = parse_spec(spec_text(model, f'truth_table = {hex(tt)!r}'.replace("'", '"'),
                                       f"samples = {hidden_draws * r}\nchunk_size = 256\nreadouts_per_draw = {r}"))
        hits = mc_estimate(Problem.of(mc_spec), mc_spec.estimator).hits
        expected = r * est.volume * est.samples
        if expected < 10:  # too few for the normal approximation: both must be tiny
            assert hits < 40, (name, hits, expected)
            continue
        z = (hits - expected) / math.sqrt(expected)
        assert abs(z) < 4, (name, hits, expected, z)


@pytest.mark.slow  # three command-line runs (about 90 s)
def test_same_numbers_whatever_the_devices_and_interruptions(tmp_path):
    """Chunk-order sums, a fixed evaluation block: one device, two devices, and a run killed after
    its first chunk then resumed give the same estimate bit for bit."""
    spec = write_spec(tmp_path, spec_text("n_inputs = 3\nwidths = [5, 5]", 'name = "majority"',
                                          'kind = "readout"\nsamples = 96\nchunk_size = 32\nblock_size = 16'))
    runs = {}
    for devices in ("1", "2"):
        r = cli("--devices", devices, "volume", spec, "--out", tmp_path / devices, "--json", "--no-progress")
        assert r.returncode == 0, r.stderr
        runs[devices] = json.loads(r.stdout)
    killed = cli("--devices", "1", "volume", spec, "--out", tmp_path / "k", "--no-progress", "--checkpoint-seconds", "0",
                 env_extra={"COUNTING_KILL_AFTER_CHUNKS": "1"})
    assert killed.returncode != 0 and (tmp_path / "k" / "checkpoint.npz").exists(), killed.stderr
    r = cli("--devices", "1", "volume", spec, "--out", tmp_path / "k", "--json", "--no-progress", "--resume")
    assert r.returncode == 0, r.stderr
    runs["resumed"] = json.loads(r.stdout)
    assert runs["resumed"]["diagnostics"]["resumed_from_chunk"] == 1
    keys = ("log10_volume", "ci95", "volume")
    for k in ("2", "resumed"):
        assert [runs[k][x] for x in keys] == [runs["1"][x] for x in keys], k
        assert runs[k]["diagnostics"]["khat"] == runs["1"]["diagnostics"]["khat"]


@pytest.mark.slow  # two processes' parts and a whole run (about 40 s on two busy cores)
def test_merged_parts_give_the_whole_state():
    """A job split into parts (chunk ranges) merges to the state of the whole (chunk arrays joined in
    order, the largest terms merged)."""
    spec = parse_spec(spec_text("n_inputs = 3\nwidths = [5]", 'name = "majority"',
                                'kind = "readout"\nsamples = 96\nchunk_size = 32\nblock_size = 16'))
    prob = Problem.of(spec)
    tally = readout.ReadoutTally(prob.model, prob.prior, (prob.target.truth_table,), spec.estimator)
    s = Spec(prob.model, prob.prior, prob.target, spec.estimator)
    run_pass(s, tally, RunOptions(batch_size=16), source=HiddenDraws(s))
    whole = tally.state()
    assert len(whole["networks"]) == 3
    parts = [{k: (v[:1] if k not in ("top_log_p", "top_rel_se") else v) for k, v in whole.items()},
             {k: (v[1:] if k not in ("top_log_p", "top_rel_se") else v[:0]) for k, v in whole.items()}]
    merged = tally.merge_states(parts)
    for k, v in whole.items():
        np.testing.assert_array_equal(merged[k], v)


def test_diagnostics_flag_a_heavy_tail():
    """A mean carried by a few terms is marked not reliable, with one line saying so."""
    rng = np.random.default_rng(1)
    heavy = np.log(rng.pareto(1 / 0.9, 5000) + 1) - 40.0           # a tail of shape 0.9: no variance
    s = mean_summary(heavy)
    assert s.khat > 0.7 and not s.reliable
    sums = readout.ChunkSums(np.array([[np.logaddexp.reduce(heavy)]]), np.array([[np.logaddexp.reduce(2 * heavy)]]),
                             np.array([len(heavy)]), np.zeros((1, 1), np.int64),
                             np.sort(heavy)[::-1][: 213][:, None], np.zeros((213, 1)))
    est = readout.readout_estimate(sums)
    assert est.diagnostics["reliable"] is False and est.diagnostics["warning"].startswith("not yet reliable")
    light = np.log(rng.uniform(size=5000)) - 40.0
    assert mean_summary(light).reliable


def test_a_mean_below_the_smallest_double_keeps_its_interval_in_logs():
    """Terms near ``1e-350`` (a nearly infeasible orthant: narrow deep networks, parity) underflow
    as doubles; the estimate and its interval are those of the same terms scaled up by ``1e100``,
    shifted down by 100 decades."""
    rng = np.random.default_rng(2)
    lp = np.log(rng.uniform(size=400))

    def estimate_of(shift):
        x = lp + shift
        top = np.sort(x)[::-1][:41][:, None]
        sums = readout.ChunkSums(np.array([[np.logaddexp.reduce(x)]]), np.array([[np.logaddexp.reduce(2 * x)]]),
                                 np.array([len(x)]), np.zeros((1, 1), np.int64), top, np.zeros_like(top))
        return readout.readout_estimate(sums)

    low, high = estimate_of(-350 * math.log(10)), estimate_of(-250 * math.log(10))
    assert low.volume == 0.0 and high.volume > 0
    assert low.log10_volume == pytest.approx(high.log10_volume - 100, abs=1e-9)
    assert low.ci95 == pytest.approx((high.ci95[0] - 100, high.ci95[1] - 100), abs=1e-9)


def test_refusals():
    """Another prior, a block that does not divide the chunk, or a model with no named readout: one line each."""
    spec = parse_spec(spec_text("n_inputs = 2\nwidths = [3]") + '[prior]\nkind = "uniform"\n')
    with pytest.raises(SpecError, match="prior.kind: expected 'gaussian'"):
        ESTIMATORS["readout"](Problem.of(spec), spec.estimator, RunOptions())
    with pytest.raises(SpecError, match="estimator.block_size: expected a divisor of chunk_size = 100"):
        parse_spec(spec_text("n_inputs = 2\nwidths = [3]", estimator='kind = "readout"\nchunk_size = 100\n'
                                                                      'block_size = 64'))
    spec = parse_spec(spec_text("n_inputs = 8\nwidths = [3]", 'name = "majority"'))
    with pytest.raises(SpecError, match="model.n_inputs: expected at most 7"):
        ESTIMATORS["readout"](Problem.of(spec), spec.estimator, RunOptions())


@pytest.mark.slow  # about 110 s on two busy cores
def test_mechanisms_and_subsets_agree_with_hit_or_miss_on_the_same_hidden_layers():
    """"Computes f and layer 1 holds g" as E[1{holds g} P(f | hidden)], and "agrees with f on S" as an
    orthant over S alone, against shared-draws hit-or-miss of the same conditions on the same hidden
    layers (the z-test of the test above)."""
    n, hidden_draws, r = 3, 512, 64
    model = f"n_inputs = {n}\nwidths = [6]"
    and01, maj, x0, x1 = 0x88, 0xE8, 0xAA, 0xCC
    s_points = (0, 3, 5, 6)
    targets = [ReadoutTarget(and01, holds("layer1", x0, n)), ReadoutTarget(and01, holds("layer1", x1, n)),
               ReadoutTarget(maj, holds("layer1", x0, n)), ReadoutTarget(maj, None, s_points), ReadoutTarget(and01)]
    conditions = [all_of(computes(and01, n), holds("layer1", x0, n)), all_of(computes(and01, n), holds("layer1", x1, n)),
                  all_of(computes(maj, n), holds("layer1", x0, n)), agrees_on(maj, np.asarray(s_points), n),
                  computes(and01, n)]
    spec = parse_spec(spec_text(model, estimator=f'kind = "readout"\nsamples = {hidden_draws}\nchunk_size = 256'))
    ests = readout.estimate_many(Problem.of(spec), targets, spec.estimator)
    assert ests[3].volume > ests[4].volume * 2   # agreeing on 4 points is far likelier than computing f
    mc_spec = parse_spec(spec_text(model, estimator=f"samples = {hidden_draws * r}\nchunk_size = 256\n"
                                                    f"readouts_per_draw = {r}"))
    for i, (cond, est) in enumerate(zip(conditions, ests)):
        hits = mc_estimate(Problem.of(mc_spec, cond), mc_spec.estimator).hits
        expected = r * est.volume * est.samples
        assert expected > 10, (i, expected)
        z = (hits - expected) / math.sqrt(expected)
        assert abs(z) < 4, (i, hits, expected, z)
