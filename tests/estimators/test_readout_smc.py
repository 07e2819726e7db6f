"""Tempered SMC over the hidden layers with the readout integrated out (``kind = "readout_smc"``,
:mod:`counting.estimators.readout_smc`, :mod:`counting.rare.readout_smc`): known answers, agreement
with plain conditional Monte Carlo where both are reliable, reproducibility and resumption.

False-failure rates: the perceptron check allows 2% relative error where the estimate is the mean
of 2 x 32 QMC orthant estimates of relative standard error below 0.3% (more than 6 standard errors);
the comparison with ``readout`` asks that the two 95% intervals overlap, which two independent
correct intervals fail with probability below 0.01 per function (two functions). Every test runs on
a fixed key, so each outcome is deterministic.
"""

from __future__ import annotations

import json
import math

import jax
import numpy as np
import pytest
from exact_perceptron import perceptron_volumes

from conftest import cli, write_spec
from counting.estimators import ESTIMATORS, Problem
from counting.estimators import readout
from counting.rare.readout_smc import readout_smc_run
from counting.spec import MLPSpec, ScaledPrior, parse_spec
from counting.spec.errors import SpecError
from counting.spec.estimator import ReadoutSettings, ReadoutSMCSettings

SMALL = ReadoutSMCSettings(particles=32, steps=1, slice_shrinks=2, replicates=2)


def spec_text(model: str, target: str, estimator: str = 'kind = "readout_smc"') -> str:
    return f"[model]\n{model}\n[target]\n{target}\n[estimator]\n{estimator}\n"


@pytest.mark.slow  # three compiles (about 70 s each on two busy cores); the module's doctest checks 2-bit AND by default
def test_perceptron_volumes_equal_the_exact_ones():
    """No hidden layer: one stage (every network has the same P(f | hidden)) and the correction's
    fresh shifts give the orthant probability itself; three 2-bit threshold functions' exact volumes
    (AND = 1/24; a compile per function, so not all 14)."""
    exact = perceptron_volumes(2)
    for tt, v in [(t, exact[t]) for t in (0x8, 0xe, 0x2)]:
        spec = parse_spec(spec_text("n_inputs = 2\nwidths = []", f"truth_table = \"{tt:#x}\""))
        est = ESTIMATORS["readout_smc"](Problem.of(spec), SMALL)
        assert abs(est.volume / v - 1) < 0.02, (hex(tt), est.volume, v)
        assert est.diagnostics["mean_stages"] == 1 and est.diagnostics["reached"] == 2


@pytest.mark.slow  # three runs, one compile (about a minute on two busy cores)
def test_a_run_is_a_function_of_its_key():
    """The same key gives the same run, bit for bit; another key another run (host-stepped)."""
    m, p = MLPSpec(n_inputs=3, widths=(6,)), ScaledPrior()
    s = ReadoutSMCSettings(particles=24, steps=1, slice_shrinks=2, max_stages=40)
    a = readout_smc_run(jax.random.key(3), m, p, 0x96, s)
    b = readout_smc_run(jax.random.key(3), m, p, 0x96, s)
    c = readout_smc_run(jax.random.key(4), m, p, 0x96, s)
    assert a == b and a != c
    assert a.stages > 1 and a.beta == 1.0 and np.isfinite(a.log_p)
    assert a.log_p <= a.log_z + 1.0 and 0 < a.correction_ess <= 1.0


@pytest.mark.slow  # about two minutes on two cores: 2 functions, plain readout and 4 tempered replicates each
@pytest.mark.parametrize("tt", [0x96, 0x69])
def test_agrees_with_plain_conditional_mc_where_both_are_reliable(tt):
    """3-bit parity and its complement on 3-16-1 relu (about 10^-7.1): both 95% intervals overlap.

    Width 16, not 8: on 3-8-1 the plain estimate's tail index is 0.71 (8,192 draws, seed 1), so
    it is not one to compare against; on 3-16-1 it is 0.47."""
    model = "n_inputs = 3\nwidths = [16]"
    spec = parse_spec(spec_text(model, f"truth_table = \"{tt:#x}\""))
    plain = readout.estimate(Problem.of(spec), ReadoutSettings(samples=8192, seed=1))
    assert plain.diagnostics["reliable"]
    tempered = ESTIMATORS["readout_smc"](Problem.of(spec), ReadoutSMCSettings(particles=128, steps=3,
                                                                              slice_shrinks=3, replicates=4))
    assert tempered.diagnostics["reached"] == 4
    (a, b), (c, d) = plain.ci95, tempered.ci95
    assert a <= d and c <= b, (plain.ci95, tempered.ci95)


@pytest.mark.slow  # three command-line runs, each compiling the tempered step and the orthant (a minute or more each)
def test_command_line_job_resumes_to_the_same_numbers(tmp_path):
    """A job stopped after its first replicate (a checkpoint per replicate) resumes to the numbers of
    the uninterrupted job; the printout says which estimator and carries the correction's diagnostics."""
    text = spec_text("n_inputs = 2\nwidths = [3]", 'name = "and"',
                     'kind = "readout_smc"\nparticles = 16\nsteps = 1\nslice_shrinks = 2\nreplicates = 3')
    path = write_spec(tmp_path, text)
    r = cli("volume", path, "--out", tmp_path / "a", "--json", "--no-progress", timeout=1200)
    assert r.returncode == 0, r.stderr
    whole = json.loads(r.stdout)
    stopped = cli("volume", path, "--out", tmp_path / "b", "--no-progress",
                  env_extra={"COUNTING_SIGNAL_AT": "INT@save:1"}, timeout=1200)
    assert stopped.returncode != 0 and (tmp_path / "b" / "checkpoint.npz").exists(), stopped.stderr
    r = cli("volume", path, "--out", tmp_path / "b", "--json", "--no-progress", "--resume", timeout=1200)
    assert r.returncode == 0, r.stderr
    resumed = json.loads(r.stdout)
    assert resumed["diagnostics"]["replicates_log10"] == whole["diagnostics"]["replicates_log10"]
    assert whole["estimator"] == "readout_smc" and math.isfinite(whole["log10_volume"])
    for k in ("worst_log10_correction", "worst_correction_ess", "mean_stages", "acceptance", "log10_bound"):
        assert k in whole["diagnostics"]


@pytest.mark.parametrize("extra,field", [("particles = 2", "estimator.particles"),
                                         ("ess_target = 1.5", "estimator.ess_target"),
                                         ("n_qmc = 100", "estimator.n_qmc")])
def test_bad_settings_are_one_line_errors(extra, field):
    with pytest.raises(SpecError, match=field):
        parse_spec(spec_text("n_inputs = 2", 'name = "and"', f'kind = "readout_smc"\n{extra}'))


def test_a_non_gaussian_prior_is_refused():
    spec = parse_spec(spec_text("n_inputs = 2", 'name = "and"') + '[prior]\nkind = "uniform"\n')
    with pytest.raises(SpecError, match="prior.kind"):
        ESTIMATORS["readout_smc"](Problem.of(spec), SMALL)
