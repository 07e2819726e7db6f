"""Sample sizes for a precision in decades (:mod:`counting.stats`), on cases with known answers."""

import math

import numpy as np
import pytest

from counting.stats import clopper_pearson, hit_or_miss_samples, rel_se_for_decades, samples_for_rel_se


def test_rel_se_for_decades_is_half_width_times_ln10_over_z():
    assert rel_se_for_decades(0.1) == pytest.approx(0.1 * math.log(10) / 1.959964, rel=1e-6)
    assert rel_se_for_decades(0.2, conf=0.99) == pytest.approx(0.2 * math.log(10) / 2.575829, rel=1e-6)


def test_samples_for_rel_se_scales_as_the_square():
    assert samples_for_rel_se(1000, 0.2, 0.1) == 4000
    assert samples_for_rel_se(4096, 0.1, 0.1) == 4096
    assert samples_for_rel_se(1000, 0.05, 0.1) == 250
    with pytest.raises(ValueError):
        samples_for_rel_se(0, 0.1, 0.1)


def test_samples_for_rel_se_gives_the_precision_on_iid_terms():
    # exponential terms (relative sd 1): the pilot's relative s.e. predicts the sample that reaches 0.1 decade
    x = np.random.default_rng(0).exponential(size=200_000)
    pilot = x[:1000]
    rel = pilot.std(ddof=1) / pilot.mean() / math.sqrt(len(pilot))
    n = samples_for_rel_se(len(pilot), rel, rel_se_for_decades(0.1))
    assert 60 < n < 90                             # sd/mean = 1: (1.96 / (0.1 ln 10))^2 = 72.5
    means = x[: (len(x) // n) * n].reshape(-1, n).mean(axis=1)
    half = 1.96 * means.std(ddof=1) / means.mean() / math.log(10)
    assert half == pytest.approx(0.1, rel=0.1)


@pytest.mark.parametrize("volume", [1e-3, 8.774624518e-11, 2.2e-13])
def test_hit_or_miss_samples_is_the_first_grid_point_narrower_than_the_width(volume):
    n = hit_or_miss_samples(volume, 0.2)

    def width(m):
        lo, hi = clopper_pearson(max(1, round(volume * m)), int(m))
        return math.log10(hi) - math.log10(lo)

    assert width(n) < 0.2 <= width(n / 1.05)
    assert 70 < volume * n < 85                     # about 77 expected hits, whatever the volume
