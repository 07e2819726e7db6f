"""min_weights: the fewest non-zero weights and biases of a strict ternary threshold network."""

import itertools

import numpy as np
import pytest

from counting.boolean.cube import cube
from counting.boolean.npn import npn_class_ids
from counting.boolean.tables import named_truth_table
from counting.boolean.threshold_nets import hidden_units, min_weights, min_weights_table


def test_hand_worked_values():
    # constants: an output bias; dictators: one hidden weight and one output weight; AND of two
    # inputs: x0 + x1 - 1 (3) and the output weight; majority: x0 + x1 + x2 with bias 0 (3) + 1;
    # XOR: two units x0 - x1 - 1 and x1 - x0 - 1 (3 each), two output weights and an odd bias
    for n in (2, 3):
        full = (1 << (1 << n)) - 1
        assert min_weights(0, n) == min_weights(full, n) == 1
        assert min_weights(named_truth_table("x1", n), n) == 2
        assert min_weights(named_truth_table("and", 2) if n == 2 else 0x88, n) == 4
    assert min_weights(0xE8, 3) == 4 and min_weights(0x6, 2) == 9
    assert min_weights(0x96, 3) == 10 and min_weights(0x69, 3) == 10


def _brute_force(n, k):
    """Every raw parameter vector of an n-k-1 network: hidden weights in {-1,0,1}, hidden biases in
    -(n+1)..n+1, output weights in {-1,0,1}, output bias in -(k+1)..k+1; a unit whose output weight
    is 0 is absent; strictness checked on the pre-activations of the units present."""
    x = cube(n).astype(np.int64)
    units = np.array([w + (b,) for w in itertools.product((-1, 0, 1), repeat=n) for b in range(-n - 1, n + 2)])
    pre = units[:, :n] @ x.T + units[:, n:]  # [U, points]
    h = np.where(pre > 0, 1, -1)
    unit_ok = (pre != 0).all(axis=1)
    unit_cost = (units != 0).sum(axis=1)
    full = 1 << (1 << n)
    best = np.full(full, 10**9)
    weights = np.array(list(itertools.product((-1, 0, 1), repeat=k)))
    for combo in itertools.product(range(len(units)), repeat=k - 1):  # all but the last unit looped
        for v in weights:
            present = v != 0
            for c in range(-k - 1, k + 2):
                # the last unit as a vector over every unit
                s = sum(v[i] * h[combo[i]] for i in range(k - 1)) + c + v[-1] * h  # [U, points]
                ok = (s != 0).all(axis=1)
                ok &= all(unit_ok[combo[i]] for i in range(k - 1) if present[i])
                if present[-1]:
                    ok &= unit_ok
                cost = int(present.sum()) + int(c != 0) + sum(int(unit_cost[combo[i]]) for i in range(k - 1)
                                                                if present[i])
                cost = cost + (unit_cost if present[-1] else 0)
                tt = ((s > 0).astype(np.int64) << np.arange(1 << n)).sum(axis=1)
                np.minimum.at(best, tt[ok], np.broadcast_to(cost, ok.shape)[ok])
    return best


def test_enumeration_equals_a_brute_force_over_raw_parameters():
    """Two bits with up to two hidden units, by brute force over every raw parameter vector (about
    1.5e5 networks), equals the table built from the hidden units' cheapest weights."""
    assert (min_weights_table(2, max_hidden=2) == _brute_force(2, 2)).all()


@pytest.mark.slow  # about 2e6 raw networks
def test_enumeration_equals_a_brute_force_on_three_bits():
    assert (min_weights_table(3, max_hidden=2) == np.where(_brute_force(3, 2) >= 10**9, -1, _brute_force(3, 2))).all()


def test_hidden_units_are_the_threshold_functions_with_small_weights():
    t, c = hidden_units(3)
    assert len(t) == 56 and (np.diff(t) > 0).all() and c.min() == 1 and c.max() == 4
    assert dict(zip(t.tolist(), c.tolist()))[0x80] == 4  # x0 + x1 + x2 - 2 > 0: AND of three


def test_constant_on_npn_classes_and_width_independent_below_the_bound():
    ids = np.asarray(npn_class_ids(3))
    tab = min_weights_table(3)
    for k in np.unique(ids):
        assert len(np.unique(tab[ids == k])) == 1, k
    assert (tab > 0).all()  # every 3-bit function needs at most 3 hidden units
    # a network of k units costs at least 2k, so values up to 2 * 2 + 1 are already final with two units
    two = min_weights_table(3, max_hidden=2)
    small = (two > 0) & (two <= 5)
    assert (two[small] == tab[small]).all() and small.sum() > 50
    assert ((two < 0) | (two >= tab)).all()


@pytest.mark.slow  # the 4-bit table takes about 6 s
def test_four_bits():
    tab = min_weights_table(4)
    ids = np.asarray(npn_class_ids(4))
    for k in np.unique(ids):
        assert len(np.unique(tab[ids == k])) == 1, k
    assert tab[0x6996] == tab[0x9669] == 25 and tab.max() == 25
    assert (tab < 0).sum() == 672 and (tab == 25).sum() == 2
