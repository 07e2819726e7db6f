"""NPN classes against known counts and an independent brute force over explicit point loops."""

import itertools
import math

import numpy as np
import pytest

from counting.boolean.measures import fourier_degree
from counting.boolean.npn import npn_canonical, npn_class_ids, npn_classes, npn_transforms
from counting.boolean.symmetry import generators
from counting.boolean.tables import full_table, named_truth_table, to_hex


def brute_transforms(n):
    """Every input permutation and negation, from itertools, as a Python function on points."""
    out = []
    for perm in itertools.permutations(range(n)):
        for flips in range(1 << n):
            def move(i, perm=perm, flips=flips):
                x = [(i >> j) & 1 for j in range(n)]
                y = [x[perm[j]] ^ ((flips >> j) & 1) for j in range(n)]
                return sum(b << j for j, b in enumerate(y))
            out.append(move)
    return out


def apply(tt, move, n):
    """The table of ``f o s`` by an explicit loop over points."""
    return sum(((tt >> move(i)) & 1) << i for i in range(1 << n))


def brute_partition(n):
    """NPN classes of all functions on n bits as a set of frozensets, by brute force."""
    moves, full = brute_transforms(n), full_table(n)
    classes, done = set(), set()
    for tt in range(1 << (1 << n)):
        if tt in done:
            continue
        members = set()
        for move in moves:
            image = apply(tt, move, n)
            members |= {image, image ^ full}
        classes.add(frozenset(members))
        done |= members
    return classes


def partition_from_ids(ids):
    groups = {}
    for tt, c in enumerate(ids.tolist()):
        groups.setdefault(c, set()).add(tt)
    return {frozenset(g) for g in groups.values()}


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4])
def test_transforms_are_the_whole_group_identity_first(n):
    t = npn_transforms(n)
    assert t.shape == (math.factorial(n) * 2**n, 2**n)
    assert t[0].tolist() == list(range(2**n))
    assert len({row.tobytes() for row in t}) == len(t)
    assert all(sorted(row.tolist()) == list(range(2**n)) for row in t)
    if n <= 3:
        brute = {tuple(move(i) for i in range(2**n)) for move in brute_transforms(n)}
        assert {tuple(row.tolist()) for row in t} == brute


@pytest.mark.parametrize("n, count", [(0, 1), (1, 2), (2, 4), (3, 14), (4, 222)])
def test_known_class_counts_and_sizes(n, count):
    df = npn_classes(n)
    assert len(df) == count
    assert int(df["size"].sum()) == 2 ** (2**n)
    assert list(df.columns) == ["representative", "size"]
    assert [int(r, 16) for r in df["representative"]] == sorted(int(r, 16) for r in df["representative"])
    ids = npn_class_ids(n)
    assert ids.shape == (2 ** (2**n),)
    assert np.bincount(ids, minlength=count).tolist() == df["size"].tolist()


def test_one_bit_by_hand():
    # 0 and 1 form one class, x and not x the other
    assert partition_from_ids(npn_class_ids(1)) == {frozenset({0, 3}), frozenset({1, 2})}
    assert npn_classes(1)["representative"].tolist() == ["0x0", "0x1"]


@pytest.mark.parametrize("n", [1, 2, 3])
def test_partition_matches_brute_force(n):
    assert partition_from_ids(npn_class_ids(n)) == brute_partition(n)


@pytest.mark.parametrize("n", [2, 3, 4])
def test_representative_is_smallest_member_and_canonical(n):
    df, ids = npn_classes(n), npn_class_ids(n)
    reps = np.array([int(r, 16) for r in df["representative"]])
    tables = np.arange(2 ** (2**n))
    smallest = np.full(len(df), np.iinfo(np.int64).max)
    np.minimum.at(smallest, ids, tables)
    assert smallest.tolist() == reps.tolist()
    rng = np.random.default_rng(0)
    sample = tables if n <= 3 else rng.choice(tables, 300, replace=False)
    for tt in sample.tolist():
        assert npn_canonical(tt, n) == reps[ids[tt]]


@pytest.mark.parametrize("n", [2, 3, 4])
def test_canonical_is_invariant_under_each_generator_and_output_negation(n):
    rng = np.random.default_rng(n)
    for tt in rng.integers(0, 2 ** (2**n), 40).tolist():
        c = npn_canonical(tt, n)
        assert npn_canonical(tt ^ full_table(n), n) == c
        for g in generators(n):
            moved = sum(((tt >> int(g[i])) & 1) << i for i in range(2**n))
            assert npn_canonical(moved, n) == c


def test_canonical_beyond_the_table():
    # 5 bits: parity's class is {parity, not parity}; AND's canonical is the single-point function
    parity = named_truth_table("parity", 5)
    assert npn_canonical(parity, 5) == min(parity, parity ^ full_table(5))
    assert npn_canonical(named_truth_table("and", 5), 5) == 1


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_parity_class_has_size_two(n):
    parity = named_truth_table("parity", n)
    ids = npn_class_ids(n)
    assert set(np.flatnonzero(ids == ids[parity]).tolist()) == {parity, parity ^ full_table(n)}
    assert npn_classes(n)["size"][ids[parity]] == 2


def test_majority_class_size_by_brute_force():
    maj = named_truth_table("majority", 3)
    members = {img for move in brute_transforms(3) for img0 in [apply(maj, move, 3)] for img in (img0, img0 ^ 0xFF)}
    df, ids = npn_classes(3), npn_class_ids(3)
    assert df["size"][ids[maj]] == len(members)
    # majority is self-dual and symmetric: its class is the 8 functions maj(+-x0, +-x1, +-x2)
    assert len(members) == 8
    assert df["representative"][ids[maj]] == to_hex(min(members), 3)


def test_fourier_degree_is_constant_on_classes():
    ids = npn_class_ids(3)
    degree_of_class = {}
    for tt in range(256):
        assert degree_of_class.setdefault(int(ids[tt]), fourier_degree(tt, 3)) == fourier_degree(tt, 3)


def test_results_are_copies_and_bad_n_is_refused():
    ids = npn_class_ids(3)
    ids[:] = 0
    assert npn_class_ids(3).max() == 13
    df = npn_classes(3)
    df["size"] = 0
    assert npn_classes(3)["size"].sum() == 256
    with pytest.raises(ValueError):
        npn_classes(5)
    with pytest.raises(ValueError):
        npn_class_ids(-1)
    with pytest.raises(ValueError):
        npn_canonical(16, 2)
