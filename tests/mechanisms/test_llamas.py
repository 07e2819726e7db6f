"""Llama families and complexity measures against known answers."""

import itertools

import numpy as np
import pytest

from counting.boolean.cube import cube
from counting.boolean.measures import describe, fourier_degree, is_threshold, relevant_bits, total_influence, weight
from counting.boolean.tables import canonical
from counting.mechanisms.llamas import functions_of_bits, random_of_degree, random_of_weight
from counting.boolean.tables import from_function, named_truth_table


def parity_of(bits, n):
    return from_function(lambda x: int(np.sum(x[list(bits)] > 0)) % 2 == 1, n)


def and_of(bits, n):
    return from_function(lambda x: bool(np.all(x[list(bits)] > 0)), n)


def brute_force_degree(tt, n):
    """Fourier degree from float coefficients ``2**-n * sum_x F(x) prod_{j in S} x_j``."""
    x = cube(n).astype(np.float64)
    f = np.array([1.0 - 2.0 * ((tt >> i) & 1) for i in range(2**n)])
    best = 0
    for size in range(n + 1):
        for subset in itertools.combinations(range(n), size):
            chi = np.prod(x[:, list(subset)], axis=1)
            if abs(chi @ f) / 2**n > 1e-9:
                best = max(best, size)
    return best


def test_canonical_is_zero_on_point_zero_and_idempotent():
    assert canonical(0b0111, 2) == 0b1000
    assert canonical(0b1000, 2) == 0b1000
    assert canonical(1, 3) == 0xFE
    for tt in range(16):
        c = canonical(tt, 2)
        assert c & 1 == 0 and c in (tt, tt ^ 0xF) and canonical(c, 2) == c


def test_functions_of_three_of_five_bits():
    family = functions_of_bits((2, 3, 4), 5)
    assert len(family) == 127 == len(set(family))
    assert list(family) == sorted(family)
    for tt in family:
        assert canonical(tt, 5) == tt
        assert tt not in (0, 2**32 - 1)
        assert relevant_bits(tt, 5) and set(relevant_bits(tt, 5)) <= {2, 3, 4}


def test_functions_of_two_bits():
    family = functions_of_bits((0, 1), 2)
    assert len(family) == 7
    assert set(family) == {canonical(tt, 2) for tt in range(1, 15)}
    assert len(functions_of_bits((1,), 3)) == 1 and functions_of_bits((), 3) == ()


@pytest.mark.parametrize("bits", [(0, 0), (0, 3), (-1,)])
def test_functions_of_bits_rejects_bad_bits(bits):
    with pytest.raises(ValueError):
        functions_of_bits(bits, 3)


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_degree_of_parity_and_and(k):
    assert fourier_degree(parity_of(range(k), 5), 5) == k
    assert fourier_degree(and_of(range(5 - k, 5), 5), 5) == k


def test_degree_of_small_named_functions():
    assert fourier_degree(named_truth_table("x2", 4), 4) == 1
    assert fourier_degree(0, 4) == 0 and fourier_degree(2**16 - 1, 4) == 0
    assert fourier_degree(named_truth_table("majority", 3), 3) == 3


def test_degree_matches_float_brute_force_on_four_bits():
    sample = np.random.default_rng(0).choice(2**16, size=500, replace=False)
    ours = [fourier_degree(int(tt), 4) for tt in sample]
    reference = [brute_force_degree(int(tt), 4) for tt in sample]
    assert ours == reference
    assert len(set(ours)) >= 2  # the sample is not degenerate
    # An odd number of ones makes the top coefficient odd, hence non-zero.
    assert all(d == 4 for tt, d in zip(sample, ours) if weight(int(tt), 4) % 2 == 1)


def test_threshold_counts_match_oeis_a000609():
    assert sum(is_threshold(tt, 2) for tt in range(2**4)) == 14
    assert sum(is_threshold(tt, 3) for tt in range(2**8)) == 104


def test_threshold_examples():
    assert not is_threshold(named_truth_table("parity", 2), 2)
    assert is_threshold(named_truth_table("majority", 3), 3)
    assert is_threshold(named_truth_table("majority", 5), 5)
    assert is_threshold(0, 3) and is_threshold(255, 3)


def test_total_influence():
    assert total_influence(named_truth_table("parity", 5), 5) == 5.0
    assert total_influence(named_truth_table("x3", 5), 5) == 1.0
    assert total_influence(named_truth_table("and", 2), 2) == 1.0
    assert total_influence(named_truth_table("majority", 3), 3) == 1.5


def test_describe_majority():
    assert describe(0xE8, 3) == {
        "truth_table": "0xe8",
        "degree": 3,
        "weight": 4,
        "relevant_bits": 3,
        "influence": 1.5,
        "threshold": True,
    }


def test_random_of_weight():
    drawn = random_of_weight(5, 3, 20, seed=7)
    assert len(drawn) == 20 == len(set(drawn))
    for tt in drawn:
        assert canonical(tt, 5) == tt and weight(tt, 5) in (3, 32 - 3)
    assert random_of_weight(5, 3, 20, seed=7) == drawn
    assert random_of_weight(5, 3, 20, seed=8) != drawn


def test_random_of_weight_exhausts_the_classes():
    assert set(random_of_weight(2, 2, 3, seed=0)) == {0b0110, 0b1010, 0b1100}
    with pytest.raises(ValueError):
        random_of_weight(2, 2, 4, seed=0)
    with pytest.raises(ValueError):
        random_of_weight(2, 0, 1, seed=0)


def test_random_of_degree():
    drawn = random_of_degree(5, 3, 30, seed=3, bits=(0, 2, 3, 4))
    assert len(drawn) == 30 == len(set(drawn))
    for tt in drawn:
        assert fourier_degree(tt, 5) == 3 and canonical(tt, 5) == tt
        assert len(relevant_bits(tt, 5)) <= 3 and set(relevant_bits(tt, 5)) <= {0, 2, 3, 4}
    assert random_of_degree(5, 3, 30, seed=3, bits=(0, 2, 3, 4)) == drawn
    assert random_of_degree(5, 3, 30, seed=4, bits=(0, 2, 3, 4)) != drawn
    assert all(fourier_degree(tt, 4) == 2 for tt in random_of_degree(4, 2, 10, seed=0))


def test_random_of_degree_exhausts_the_classes():
    # Each pair of bits carries 5 classes of degree exactly 2: 16 functions less 2 constants
    # and 4 dictators, halved.
    drawn = random_of_degree(5, 2, 15, seed=0, bits=(1, 3, 4))
    assert len(set(drawn)) == 15
    with pytest.raises(ValueError):
        random_of_degree(5, 2, 16, seed=0, bits=(1, 3, 4))
