"""Routes: the decompositions are right, hand-built chains and trees are classified as such, and
the route conditions agree with the stage reading."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from counting.boolean.cube import cube
from counting.boolean.tables import from_function
from counting.engine.priors import sample_params
from counting.mechanisms.handbuilt import parity_chain, parity_tree
from counting.mechanisms.routes import (CLASSES, DECOMPOSITIONS, first_stages, never, placement, route_class,
                                        route_condition, stages, takes)
from counting.models import forward
from counting.spec.model import MLPSpec, ResMLPSpec
from counting.spec.prior import ScaledPrior

N = 4


def table(fn) -> int:
    return from_function(lambda x: bool(fn([int(v > 0) for v in x])), N)


def bits_of(tt: int) -> list[int]:
    return [(tt >> i) & 1 for i in range(2**N)]


def xor(a: int, b: int) -> int:
    return a ^ b


X = [table(lambda b, i=i: b[i]) for i in range(N)]


def test_every_alternative_composes_to_its_target():
    """Each alternative's intermediates, with the route's last gates, give the target exactly."""
    full = 2**(2**N) - 1
    p = DECOMPOSITIONS["parity4"]
    chain, tree = p.routes
    for pair, triple in chain.alternatives:
        assert sum(xor(pair, X[i]) == triple for i in range(N)) == 1  # triple = pair ^ x_c
        assert sum(xor(triple, X[i]) == p.target for i in range(N)) == 1  # target = triple ^ x_d
    for a, b in tree.alternatives:
        assert xor(a, b) == p.target
    assert len(set(chain.alternatives)) == 12 and len(set(tree.alternatives)) == 3

    d = DECOMPOSITIONS["xor_and"]
    for a, ax in d.routes[0].alternatives:
        assert a == X[2] & X[3] and any(xor(ax, X[i]) == d.target for i in (0, 1))
    (p01, a), = d.routes[1].alternatives
    assert xor(p01, a) == d.target

    d = DECOMPOSITIONS["and_xor_and"]
    for ab, abc in d.routes[0].alternatives:
        # the fourth gate: c and not d, with c the bit xor-ed in and d the last bit
        pair = [i for i in range(N) if ab & X[i] == ab]  # ab is the AND of these two bits
        c = next(i for i in range(N) if xor(ab, X[i]) == abc)
        (last,) = set(range(N)) - set(pair) - {c}
        assert len(pair) == 2 and xor(abc, X[c] & (full ^ X[last])) == d.target
    (a, b), = d.routes[1].alternatives
    assert xor(a, b) == d.target
    assert [r.gates for r in d.routes] == [4, 3]


def _stages_of(model, params):
    fwd = forward(model, {k: jnp.asarray(v) for k, v in params.items()}, jnp.asarray(cube(N)))
    d = DECOMPOSITIONS["parity4"]
    return d, np.asarray(first_stages(fwd, model, d.intermediates, N)), fwd


# one placement per depth by default; the others in the slow step (a compile each, about 4 s)
@pytest.mark.parametrize("depth, blocks", [(3, (1, 2, 3)), pytest.param(5, (2, 3, 5), marks=pytest.mark.slow), (4, (1, 3, 4))])
def test_a_hand_built_chain_is_a_chain_and_sits_where_it_was_built(depth, blocks):
    model, params = parity_chain(depth=depth, blocks=blocks)
    d, first, fwd = _stages_of(model, params)
    nv = never(model)
    assert route_class(first, d, nv).tolist() == ["first only"]
    assert placement(first, d.columns(d.routes[0]), nv).tolist() == [list(blocks[:2])]
    assert placement(first, d.columns(d.routes[1]), nv).tolist() == [[nv, nv]]
    assert bool(jax.jit(route_condition(d, d.routes[0], model).holds)(fwd)[0])
    assert not bool(jax.jit(route_condition(d, d.routes[1], model).holds)(fwd)[0])


@pytest.mark.parametrize("depth, blocks", [(2, (1, 1, 2)), pytest.param(4, (1, 3, 4), marks=pytest.mark.slow), (4, (2, 2, 3))])
def test_a_hand_built_tree_is_a_tree_and_sits_where_it_was_built(depth, blocks):
    model, params = parity_tree(depth=depth, blocks=blocks)
    d, first, fwd = _stages_of(model, params)
    nv = never(model)
    assert route_class(first, d, nv).tolist() == ["second only"]
    assert placement(first, d.columns(d.routes[1]), nv).tolist() == [sorted(blocks[:2])]
    assert bool(jax.jit(route_condition(d, d.routes[1], model).holds)(fwd)[0])
    assert not bool(jax.jit(route_condition(d, d.routes[0], model).holds)(fwd)[0])


@pytest.mark.slow  # compiles every route condition for two architectures (about 12 s)
@pytest.mark.parametrize("model", [ResMLPSpec(n_inputs=4, width=6, depth=3, hidden=6),
                                   MLPSpec(n_inputs=4, widths=(8, 8))])
def test_stages_and_route_conditions_agree_on_random_networks(model):
    """On prior networks, the stage reading equals a per-site loop, and each route condition holds
    exactly where the stage reading says the route is taken."""
    params = sample_params(jax.random.key(11), model, ScaledPrior(), batch=512)
    fwd = forward(model, params, jnp.asarray(cube(N)))
    nv = never(model)
    for d in DECOMPOSITIONS.values():
        first = np.asarray(first_stages(fwd, model, d.intermediates, N))
        # brute force: the first stage whose sites have a unit with the pattern or its negation
        signs = {s: np.asarray(fwd.sites[s]) > 0 for st in stages(model) for s in st}
        offset = 0 if isinstance(model, ResMLPSpec) else 1
        for gi, g in enumerate(d.intermediates):
            want = np.asarray(bits_of(g), bool)
            expect = np.full(512, nv)
            for si, st in reversed(list(enumerate(stages(model)))):
                hit = np.zeros(512, bool)
                for s in st:
                    hit |= np.any(np.all(signs[s] == want, axis=2) | np.all(signs[s] == ~want, axis=2), axis=1)
                expect = np.where(hit, si + offset, expect)
            assert (first[:, gi] == expect).all(), (d.name, hex(g))
        for r in d.routes:
            assert (np.asarray(jax.jit(route_condition(d, r, model).holds)(fwd)) == takes(first, d.columns(r), nv)).all()
        assert set(route_class(first, d, nv)) <= set(CLASSES)


def test_placement_picks_the_earliest_finished_alternative():
    first = np.array([[3, 1, 2, 9], [9, 9, 9, 9], [2, 2, 1, 1]])
    alts = ((0, 1), (2, 3), (1, 2))
    assert placement(first, alts, 9).tolist() == [[1, 2], [9, 9], [1, 1]]
    assert takes(first, alts, 9).tolist() == [True, False, True]
    assert list(itertools.chain(*placement(first[:0], alts, 9))) == []


# --- ordered readings ---

def test_order_levels_on_hand_made_stages():
    """Columns: pair, triple (one chain alternative whose triple reads its pair); stages only, so
    "ordered" and "strict" coincide."""
    from counting.mechanisms.routes import ORDERS, order_levels
    first = np.array([[1, 2],   # pair before triple: every reading
                      [2, 1],   # triple before pair: only "any"
                      [2, 2],   # same stage: "weak" but not ordered
                      [0, 9],   # triple never held: not taken
                      [0, 0]])  # both in the embedding: "weak"
    lv = np.asarray(order_levels(first, ((0, 1),), ((0, 1),), 9)).tolist()
    assert lv == [4, 1, 2, 0, 2]
    want = {"any": [True, True, True, False, True], "weak": [True, False, True, False, True],
            "ordered": [True, False, False, False, False], "strict": [True, False, False, False, False]}
    for order in ORDERS:
        assert takes(first, ((0, 1),), 9, ((0, 1),), order).tolist() == want[order], order
    assert takes(first, ((0, 1),), 9).tolist() == want["any"]
    # no reads (a tree's pairs): taken means the top level
    assert np.asarray(order_levels(first, ((0, 1),), (), 9)).tolist() == [4, 4, 4, 0, 4]
    # several alternatives: the strongest reading over them
    first = np.array([[2, 1, 1, 3], [2, 1, 9, 3]])
    assert np.asarray(order_levels(first, ((0, 1), (2, 3)), ((0, 1),), 9)).tolist() == [4, 1]
    with pytest.raises(ValueError, match="order"):
        takes(first, ((0, 1),), 9, ((0, 1),), "sorted")


def test_order_levels_on_sites_tell_a_block_from_the_stream_after_it():
    """Residual MLP of 2 blocks: sites embed, block1, stream1, block2, stream2 (positions 0..4,
    stages 0, 1, 1, 2, 2; 5 = never). The same stage is in order when the pair is in the block's
    units and the triple in the stream after them (the stream reads those units), not the reverse."""
    from counting.mechanisms.routes import order_levels, site_order, site_stages
    model = ResMLPSpec(n_inputs=4, width=4, depth=2, hidden=4)
    assert [s for s, _ in site_order(model)] == ["embed", "block1", "stream1", "block2", "stream2"]
    stage_of = site_stages(model)
    assert stage_of.tolist() == [0, 1, 1, 2, 2, 3]
    first = np.array([[1, 2], [2, 1], [1, 1], [0, 3], [3, 0], [2, 3]])
    lv = np.asarray(order_levels(first, ((0, 1),), ((0, 1),), 5, stage_of)).tolist()
    assert lv == [3, 2, 2, 4, 1, 4]
    d = DECOMPOSITIONS["and4"]
    assert d.routes[0].reads == ((0, 1),) and d.routes[1].reads == ()


@pytest.mark.parametrize("depth, blocks", [(3, (1, 2, 3)), (4, (1, 3, 4))])
def test_a_hand_built_chain_is_taken_in_order(depth, blocks):
    """The hand-built chain computes its pair in one block and its triple in a later one: the chain
    under every ordered reading, its first sites those blocks' (the stream after each)."""
    from counting.mechanisms.routes import ORDERS, first_sites, site_order, site_stages
    model, params = parity_chain(depth=depth, blocks=blocks)
    d, first, fwd = _stages_of(model, params)
    sites = np.asarray(first_sites(fwd, model, d.intermediates, N))
    stage_of = site_stages(model)
    assert (stage_of[sites] == first).all()
    nv, ns = never(model), len(site_order(model))
    for order in ORDERS:
        assert route_class(sites, d, ns, order, stage_of).tolist() == ["first only"], order
