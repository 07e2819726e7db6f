"""Tempered SMC against exact perceptron volumes (1e-4 down to 1e-13), hit-or-miss, and subset simulation.

The exact values are those of ``test_subset.py``: AND on 3 bits under a perceptron prior with small
``sigma_b`` (volume ``∝ sigma_b**3``) by quadrature in ``exact_perceptron.perceptron_volumes``.
Each check asks the exact (or other-estimator) value to lie in a 99.9% Student-t interval built
from the estimator's own replicates (on log10 values), so a correct, unbiased estimator with an
honest replicate spread fails a check with probability about 1e-3 over keys; the keys are fixed.
"""

import math

import jax.numpy as jnp
import numpy as np
import pytest

from conftest import and3_spec, hit_or_miss, t_interval
from counting.engine.run import RunOptions
from counting.estimators import smc
from counting.estimators.result import ESTIMATE_KEYS
from counting.jobs import volume_job
from counting.mechanisms.predicates import all_of, computes
from counting.mechanisms.sites import holds
from counting.rare.smc import next_beta
from counting.spec import SpecError, parse_spec
from counting.stats import clopper_pearson
from exact_perceptron import perceptron_volumes


@pytest.mark.parametrize("sigma_b,kernel", [pytest.param(0.1, "hmc", marks=pytest.mark.slow), (0.1, "mala"),
                                            pytest.param(1e-3, "hmc", marks=pytest.mark.slow),
                                            pytest.param(1e-4, "hmc", marks=pytest.mark.slow)])  # slow ones: 4-5 s each
def test_smc_matches_exact_perceptron_tail(sigma_b, kernel):
    exact = math.log10(perceptron_volumes(3, 1.0, sigma_b)[0x80])
    r = smc.smc_volume(and3_spec(sigma_b), kernel=kernel, replicates=10, particles=500, steps=5)
    d = r.diagnostics
    assert d["reached"] == 10 and all(np.isfinite(d["replicates_log10"]))
    lo, hi = t_interval(d["replicates_log10"])
    assert lo <= exact <= hi, (d["replicates_log10"], exact)
    assert abs(r.log10_volume - exact) < 0.3
    assert r.samples > 0 and r.ci95[0] < r.log10_volume < r.ci95[1]
    assert d["log10_bound"] >= r.log10_volume - 0.5  # Z_b bounds the volume (up to noise)


@pytest.mark.slow  # as the subset test of the same name (about 20 s)
def test_smc_agrees_with_hit_or_miss_on_a_deep_network():
    """3-bit majority on a 3-16-16-1 relu net: MC (5e5 networks) and SMC agree, each with a 99.9%
    interval (SMC: t on replicates; MC: Clopper-Pearson), so the intervals overlap."""
    text = ('[model]\nn_inputs = 3\nwidths = [16, 16]\n[target]\nname = "majority"\n'
            '[estimator]\nsamples = 500000\nseed = 2\nchunk_size = 65536\n')
    est = hit_or_miss(parse_spec(text))
    lo_mc, hi_mc = (math.log10(v) for v in clopper_pearson(est.hits, est.samples, 0.999))
    r = smc.smc_volume(parse_spec(text), replicates=10, particles=500, steps=5)
    lo, hi = t_interval(r.diagnostics["replicates_log10"])
    assert lo <= hi_mc and lo_mc <= hi, (lo, hi, lo_mc, hi_mc)
    assert 1e-5 < est.volume < 1e-2


@pytest.mark.slow  # an SMC run on a site condition (about 8 s); test_sites covers the same in the default run
def test_smc_takes_a_site_condition():
    """"Majority, and layer 1 holds AND3" on 3-8-1: SMC and hit-or-miss (4e5 networks) agree."""
    text = ('[model]\nn_inputs = 3\nwidths = [8]\n[target]\nname = "majority"\n'
            '[estimator]\nsamples = 400000\nseed = 3\nchunk_size = 65536\n')
    spec = parse_spec(text)
    cond = all_of(computes(0xE8, 3), holds("layer1", 0x80, 3))
    est = hit_or_miss(spec, cond)
    lo_mc, hi_mc = (math.log10(v) for v in clopper_pearson(est.hits, est.samples, 0.999))
    r = smc.smc_volume(spec, cond, replicates=10, particles=500, steps=5)
    lo, hi = t_interval(r.diagnostics["replicates_log10"])
    assert est.hits > 50 and lo <= hi_mc and lo_mc <= hi, (lo, hi, lo_mc, hi_mc, est.hits)


def test_next_beta_hits_the_ess_target():
    """float32 bisection: the effective sample size at b' on target to float32 precision."""
    e = np.random.default_rng(0).exponential(3.0, 1000).astype(np.float32)
    b = float(next_beta(jnp.asarray(e), jnp.float32(0.25), 0.5))
    w = np.exp(-(b - 0.25) * e.astype(np.float64))
    assert b > 0.25 and abs(w.sum() ** 2 / (w * w).sum() / 1000 - 0.5) < 1e-5
    assert next_beta(jnp.zeros(10), jnp.float32(1.0), 0.5) == math.inf


def test_smc_is_reproducible_and_its_job_row_has_the_standard_fields(tmp_path):
    spec = and3_spec(0.1, 'kind = "smc"\nparticles = 200\nreplicates = 3\nsteps = 3\n')
    a = smc.smc_volume(and3_spec(0.1), particles=200, replicates=3, steps=3)
    est = volume_job(spec, options=RunOptions(out=tmp_path / "o", progress=False))
    d = est.as_dict()
    assert d["diagnostics"]["replicates_log10"] == a.diagnostics["replicates_log10"]  # same seed, bit for bit
    assert sorted(d) == sorted(ESTIMATE_KEYS)
    assert d["estimator"] == "smc" and d["cost"] == {"network_evaluations": est.samples} and d["seed"] == 5
    diag = d["diagnostics"]
    assert diag["kernel"] == "hmc" and diag["replicates"] == 3
    for k in ("replicate_sd_log10", "mean_stages", "reached", "log10_bound"):
        assert k in diag
    assert (tmp_path / "o" / "volume.parquet").exists()


@pytest.mark.parametrize("extra,field", [('kind = "smc"\nkernel = "ess"', "estimator.kernel"),
                                         ('kind = "smc"\nleapfrog = 0', "estimator.leapfrog")])
def test_smc_bad_input(extra, field):
    with pytest.raises(SpecError, match=field):
        and3_spec(0.1, extra)


def test_smc_bad_override():
    with pytest.raises(SpecError, match="estimator.kernel"):
        smc.smc_volume(and3_spec(0.1), kernel="pcn")


def test_smc_needs_a_continuous_prior():
    with pytest.raises(SpecError, match="prior"):
        parse_spec('[model]\nn_inputs = 2\nwidths = []\n[prior]\nkind = "ternary"\n[target]\nname = "and"\n'
                   '[estimator]\nkind = "smc"\n')
    spec = parse_spec('[model]\nn_inputs = 2\nwidths = []\n[prior]\nkind = "ternary"\n[target]\nname = "and"\n')
    with pytest.raises(SpecError, match="prior.kind"):
        smc.smc_volume(spec, replicates=2)
