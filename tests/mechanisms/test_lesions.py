"""Block lesions and effective depth of residual MLPs, on hand-built parity circuits whose used
blocks are known (a serial chain and a parallel tree of XOR gates) and against straightforward
loops on random prior networks."""

import functools
import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from counting.boolean.cube import cube
from counting.boolean.tables import words_to_int
from counting.engine.priors import sample_params
from counting.mechanisms.handbuilt import PARITY, X01, X012, X23, parity_chain, parity_tree
from counting.mechanisms.lesions import (
    block_subsets, cut_tables, edges, effective_depth, lesion, lesioned_tables, longest_path,
    longest_used_path, minimal_blocks, path_length_pmf, used_blocks, used_edges)
from counting.mechanisms.predicates import truth_tables
from counting.mechanisms.sites import holds
from counting.models import forward
from counting.spec import ResMLPSpec, ScaledPrior

N = 4
X = jnp.asarray(cube(N))


@functools.partial(jax.jit, static_argnums=(0, 2))
def tables_of(model, params, n):
    return truth_tables(forward(model, params, jnp.asarray(cube(n))))


def table(model, params) -> list[int]:
    return [words_to_int(t) for t in np.asarray(tables_of(model, params, N))]


def only(depth, blocks):
    """keep mask [depth] with exactly ``blocks`` kept."""
    return np.array([k in blocks for k in range(1, depth + 1)])


CHAINS = [(3, (1, 2, 3)), (6, (2, 4, 5))]
TREES = [(2, (1, 1, 2)), (5, (1, 3, 4)), (6, (4, 2, 6))]


def circuits():
    for depth, blocks in CHAINS:
        yield "chain", depth, blocks, [(blocks[0], X01), (blocks[1], X012), (blocks[2], PARITY)]
    for depth, blocks in TREES:
        yield "tree", depth, blocks, [(blocks[0], X01), (blocks[1], X23), (blocks[2], PARITY)]


def build(kind, depth, blocks):
    return (parity_chain if kind == "chain" else parity_tree)(depth, blocks)


@pytest.mark.parametrize("kind, depth, blocks, steps", list(circuits()))
def test_hand_built_circuits_compute_parity_with_their_intermediates(kind, depth, blocks, steps):
    m, p = build(kind, depth, blocks)
    assert table(m, p) == [PARITY]
    fwd = forward(m, p, X)
    for block, g in steps:
        assert bool(holds(f"stream{block}", g, N)(fwd)[0]), (block, hex(g))
        if block > 1:  # built there, not before
            assert not bool(holds(f"stream{block - 1}", g, N)(fwd)[0]), (block, hex(g))


@pytest.mark.parametrize("kind, depth, blocks, steps", list(circuits()))
def test_lesions_of_hand_built_circuits(kind, depth, blocks, steps):
    m, p = build(kind, depth, blocks)
    gates = set(blocks)
    for k in range(1, depth + 1):
        t = table(m, lesion(m, p, ~only(depth, {k})))
        assert (t == [PARITY]) is (k not in gates), k
    expected = only(depth, gates)
    assert np.asarray(used_blocks(m, p, N)).tolist() == [expected.tolist()]
    assert np.asarray(minimal_blocks(m, p, N)).tolist() == [expected.tolist()]
    assert int(effective_depth(m, p, N)[0]) == len(gates)
    # restricted to its gate blocks, the network is itself
    assert table(m, lesion(m, p, expected)) == [PARITY]


def test_effective_depth_of_chain_and_tree():
    assert int(effective_depth(*parity_chain(3, (1, 2, 3)), N)[0]) == 3
    assert int(effective_depth(*parity_tree(2, (1, 1, 2)), N)[0]) == 2
    # a tree whose two leaves sit in different blocks uses three blocks, like the chain: the
    # block count does not see the difference, the longest used path does
    assert int(effective_depth(*parity_tree(3, (1, 2, 3)), N)[0]) == 3


@pytest.mark.parametrize("kind, depth, blocks, serial", [
    ("chain", 3, (1, 2, 3), 3), ("chain", 6, (2, 4, 5), 3),
    ("tree", 2, (1, 1, 2), 2), ("tree", 3, (1, 2, 3), 2), ("tree", 6, (4, 2, 6), 2)])
def test_longest_used_path_separates_chain_from_tree(kind, depth, blocks, serial):
    m, p = build(kind, depth, blocks)
    assert int(longest_used_path(m, p, N)[0]) == serial
    used = np.asarray(used_edges(m, p, N))[0]
    a, b, c = blocks
    out = depth + 1
    if kind == "chain":
        expected = {(0, a), (0, b), (0, c), (a, b), (b, c), (c, out)}
    else:
        expected = {(0, a), (0, b), (a, c), (b, c), (c, out)}
    assert {(i, j) for i, j in zip(*np.nonzero(used))} == expected


def test_cutting_every_edge_out_of_a_block_is_lesioning_it():
    m = ResMLPSpec(n_inputs=3, width=5, depth=3, hidden=4)
    p = sample_params(jax.random.key(11), m, ScaledPrior(), batch=64)
    nodes = m.depth + 2
    cuts = np.zeros((m.depth + 1, nodes, nodes), bool)  # row 0: no cut
    for k in range(1, m.depth + 1):
        cuts[k, k, k + 1:] = True
    keep = np.concatenate([np.ones((1, m.depth), bool), ~np.eye(m.depth, dtype=bool)])
    np.testing.assert_array_equal(np.asarray(cut_tables(m, p, 3, cuts)), np.asarray(lesioned_tables(m, p, 3, keep)))
    full = truth_tables(forward(m, p, jnp.asarray(cube(3))))
    np.testing.assert_array_equal(np.asarray(cut_tables(m, p, 3, cuts[:1]))[0], np.asarray(full))


def test_longest_path_on_small_graphs():
    def graph(es, nodes=5):
        g = np.zeros((1, nodes, nodes), bool)
        for i, j in es:
            g[0, i, j] = True
        return g

    assert int(longest_path(graph([(0, 1), (1, 2), (2, 3), (3, 4)]))[0]) == 3
    assert int(longest_path(graph([(0, 4), (0, 1), (1, 3), (3, 4), (0, 2)]))[0]) == 2  # 2 dead-ends
    assert int(longest_path(graph([(1, 2), (2, 3), (3, 4)]))[0]) == 0  # never leaves the embedding
    assert int(longest_path(graph([(0, 4)]))[0]) == 0
    assert int(longest_path(graph([]))[0]) == 0
    assert edges(1) == [(0, 1), (0, 2), (1, 2)]


def test_lesion_keeping_everything_is_the_identity():
    m = ResMLPSpec(n_inputs=3, width=6, depth=4, hidden=5)
    p = sample_params(jax.random.key(1), m, ScaledPrior(), batch=8)
    for keep in (np.ones(4, bool), np.ones((8, 4), bool)):
        q = lesion(m, p, keep)
        assert sorted(q) == sorted(p)
        for name in p:
            np.testing.assert_array_equal(np.asarray(q[name]), np.asarray(p[name]))


def test_lesion_zeroes_exactly_the_dropped_branches_per_network():
    m = ResMLPSpec(n_inputs=3, width=6, depth=3, hidden=5)
    p = sample_params(jax.random.key(2), m, ScaledPrior(), batch=4)
    keep = np.array([[True, False, True], [False, False, False], [True, True, True], [False, True, True]])
    q = lesion(m, p, keep)
    for b in range(4):
        for k in range(1, 4):
            for name in (f"block{k}.out.w", f"block{k}.out.b"):
                want = np.asarray(p[name][b]) if keep[b, k - 1] else np.zeros_like(np.asarray(p[name][b]))
                np.testing.assert_array_equal(np.asarray(q[name][b]), want)
            for name in (f"block{k}.in.w", f"block{k}.in.b"):
                np.testing.assert_array_equal(np.asarray(q[name][b]), np.asarray(p[name][b]))
    # the stream passes a dropped block unchanged
    s = forward(m, q, jnp.asarray(cube(3))).sites
    np.testing.assert_array_equal(np.asarray(s["stream2"][0]), np.asarray(s["stream1"][0]))
    with pytest.raises(ValueError, match="keep"):
        lesion(m, p, np.ones(2, bool))


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_used_blocks_agree_with_a_loop_over_blocks(activation):
    n = 3
    m = ResMLPSpec(n_inputs=n, width=4, depth=4, hidden=3, activation=activation)
    p = sample_params(jax.random.key(3), m, ScaledPrior(), batch=200)
    x = jnp.asarray(cube(n))
    full = np.asarray(truth_tables(forward(m, p, x)))
    loop = np.stack([np.any(np.asarray(tables_of(m, lesion(m, p, ~only(4, {k})), n)) != full, axis=-1)
                     for k in range(1, 5)], axis=1)
    got = np.asarray(used_blocks(m, p, n))
    np.testing.assert_array_equal(got, loop)
    assert 0 < got.mean() < 1  # both outcomes occur, so the comparison means something
    # the same with lesions one at a time (the chunked path)
    np.testing.assert_array_equal(np.asarray(used_blocks(m, p, n, max_bytes=1)), loop)


# depths 1 and 4 unchunked and depth 5 chunked in the slow step (about 2.5 s each); one unchunked and one
# chunked case stay in the default run
@pytest.mark.parametrize("depth, max_bytes", [(0, 2**28), pytest.param(1, 2**28, marks=pytest.mark.slow),
                                              pytest.param(4, 2**28, marks=pytest.mark.slow), (4, 1),
                                              pytest.param(5, 40_000, marks=pytest.mark.slow)])
def test_effective_depth_agrees_with_a_loop_over_subsets(depth, max_bytes):
    n = 3
    m = ResMLPSpec(n_inputs=n, width=4, depth=depth, hidden=3)
    p = sample_params(jax.random.key(4), m, ScaledPrior(), batch=40)
    x = jnp.asarray(cube(n))
    full = np.asarray(truth_tables(forward(m, p, x)))
    best = np.full(40, depth)
    best_mask = np.full(40, 2**depth - 1)
    for mask in range(2**depth):
        keep = np.array([(mask >> (k - 1)) & 1 == 1 for k in range(1, depth + 1)], bool)
        same = np.all(np.asarray(tables_of(m, lesion(m, p, keep), n)) == full, axis=-1)
        better = same & ((keep.sum() < best) | ((keep.sum() == best) & (mask < best_mask)))
        best = np.where(better, keep.sum(), best)
        best_mask = np.where(better, mask, best_mask)
    got = np.asarray(effective_depth(m, p, n, max_bytes=max_bytes))
    np.testing.assert_array_equal(got, best)
    blocks = np.asarray(minimal_blocks(m, p, n, max_bytes=max_bytes))
    np.testing.assert_array_equal(blocks, block_subsets(depth)[best_mask])
    if depth >= 4:
        assert len(set(got.tolist())) > 1  # several depths occur
    # the minimal set really reproduces each network's function
    np.testing.assert_array_equal(np.asarray(truth_tables(forward(m, lesion(m, p, blocks), x))), full)


def test_a_used_block_need_not_be_in_a_smallest_set():
    """Lesion effects are not monotone: two blocks whose writes cancel are each used (dropping
    one changes the function) yet a smallest reproducing set has neither."""
    m, p = parity_chain(5, (1, 2, 3))
    p = dict(p)
    p["block4.out.b"] = p["block4.out.b"].at[0, 6].set(5.0)   # adds 5 to the readout unit
    p["block5.out.b"] = p["block5.out.b"].at[0, 6].set(-5.0)  # and takes it back
    assert table(m, p) == [PARITY]
    assert np.asarray(used_blocks(m, p, N)).tolist() == [[True] * 5]
    assert np.asarray(minimal_blocks(m, p, N)).tolist() == [[True, True, True, False, False]]
    assert int(effective_depth(m, p, N)[0]) == 3


def test_inputs_are_checked():
    m = ResMLPSpec(n_inputs=3, width=4, depth=2, hidden=3)
    p = sample_params(jax.random.key(6), m, ScaledPrior(), batch=2)
    with pytest.raises(ValueError, match="n_inputs"):
        used_blocks(m, p, 4)
    from counting.spec import MLPSpec
    with pytest.raises(ValueError, match="resmlp"):
        effective_depth(MLPSpec(n_inputs=3, widths=(4,)), p, 3)
    with pytest.raises(ValueError, match="blocks"):
        parity_chain(3, (1, 3, 2))
    with pytest.raises(ValueError, match="blocks"):
        parity_tree(3, (1, 3, 3))
    with pytest.raises(ValueError, match="blocks"):
        parity_tree(3, (1, 2, 4))


@pytest.mark.parametrize("depth", [0, 1, 2, 5, 10])
def test_path_length_pmf_is_binomial(depth):
    pmf = path_length_pmf(depth)
    assert pmf.shape == (depth + 1,)
    assert math.isclose(pmf.sum(), 1.0)
    assert pmf.tolist() == [math.comb(depth, k) / 2**depth for k in range(depth + 1)]
    # the 2**depth paths are the subsets of blocks, counted by length
    lengths = [sum(s) for s in itertools.product([0, 1], repeat=depth)]
    assert np.allclose(pmf, np.bincount(lengths, minlength=depth + 1) / 2**depth)
