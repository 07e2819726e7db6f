"""Routes: how a network computes a target, read from the intermediates its sites hold.

A *route* of a target is a set of alternatives, each a tuple of intermediate functions that a
solution built on the way (for 4-bit parity as a *chain* ``((a^b)^c)^d``: a pair parity, then a
triple parity containing it, for each of the 12 orders of the bits; as a *tree* ``(a^b)^(c^d)``:
two disjoint pair parities, for each of the 3 pairings). A network *takes* an alternative when
every intermediate of it is *held* somewhere: some unit at some site has that sign pattern or its
negation (the reading of :mod:`counting.mechanisms.sites`). A solution may take both routes of a
:class:`Decomposition`, one, or neither (another route): :func:`route_class` names the four.

*Where* an intermediate sits is its *stage*: the first stage whose sites hold it (:func:`stages`,
as the model's architecture gives them: for a residual MLP, stage 0 is the embedding and stage
``k`` is block ``k``, its hidden units and the stream after it; for an MLP, stage ``l`` is hidden
layer ``l``), or :func:`never` if none does. A model without stages (a flax module) is a one-line error.
The sites searched are exactly those of the stages: for a residual MLP ``embed`` (the stream
``s_0``), ``block{k}`` (block ``k``'s inner pre-activations ``u_k``) and ``stream{k}`` (``s_k``);
for an MLP ``layer{l}`` (hidden layer ``l``'s pre-activations). The readout (``output``) is not
searched. Only the first stage holding an intermediate is kept.

By default order is not required: a network takes an alternative when each of its intermediates
is held at some stage, whatever the stages (a chain's triple may sit at an earlier stage than its
pair, or at the same one). A placement (:func:`placement`, :func:`placement_codes`) is the
alternative's stages sorted, so it does not say which intermediate sits where.

The *ordered* readings (:data:`ORDERS`, :func:`order_levels`) compare, for each read of a route
(:attr:`Route.reads`: a chain's triple reads its pair; a tree's two pairs read nothing of each
other), where the two intermediates are *first* held. The sites of a network are computed in one
order (:func:`site_order`; residual MLP: ``embed``, ``block1``, ``stream1``, ``block2``, ...,
each site a function of the sites before it, ``stream{k}`` of ``block{k}`` too). With ``p`` the
read intermediate (the pair) and ``t`` the reader (the triple), an alternative is taken

* ``"any"``: whatever the sites (the default, as above);
* ``"weak"``: with ``stage(p) <= stage(t)`` (the same stage allowed);
* ``"ordered"``: with ``site(p) < site(t)``: the triple first appears at a site computed after the
  pair's first site, so it could have read it (same stage only as ``block{k}`` then ``stream{k}``);
* ``"strict"``: with ``stage(p) < stage(t)``.

Each implies the one before. Only the first site of each intermediate is kept, so a triple first
built before its pair and built again later is read as out of order.

Example:
    >>> d = DECOMPOSITIONS["parity4"]
    >>> hex(d.target), [r.name for r in d.routes], [len(r.alternatives) for r in d.routes]
    ('0x6996', ['chain', 'tree'], [12, 3])
    >>> [r.gates for r in d.routes], [r.depth for r in d.routes]
    ([3, 3], [3, 2])
    >>> c = DECOMPOSITIONS["and_xor_and"].routes[0].circuit        # its gate DAG, for placement counts
    >>> c.n_gates, c.depth
    (4, 3)
    >>> import numpy as np
    >>> first = np.array([[1, 2, 9, 9], [9, 9, 9, 9]])      # stages of intermediates g0..g3 (9: never)
    >>> takes(first, ((0, 1), (2, 3)), never=9).tolist()      # alternative (g0, g1) or (g2, g3)
    [True, False]
    >>> first = np.array([[1, 2], [2, 1], [2, 2]])           # pair (g0) and triple (g1): stages
    >>> [takes(first, ((0, 1),), 9, ((0, 1),), order).tolist() for order in ("any", "weak", "strict")]
    [[True, True, True], [True, False, True], [True, False, False]]
    >>> from counting.spec import ResMLPSpec
    >>> stages(ResMLPSpec(depth=2)), never(ResMLPSpec(depth=2))
    ((('embed',), ('block1', 'stream1'), ('block2', 'stream2')), 3)
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Sequence

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Int

from counting.analytic.placements import Circuit, chain as chain_circuit, tree as tree_circuit
from counting.boolean.tables import canonical, from_function
from counting.mechanisms.predicates import Condition, all_of, any_of
from counting.mechanisms.sites import canonical_units, holds
from counting.models import supporting
from counting.models.layers import Architecture, Forward
from counting.spec.model import ModelSpec

CLASSES = ("both", "first only", "second only", "neither")
ORDERS = ("any", "weak", "ordered", "strict")
"""The readings of a route's order, weakest first; :func:`order_levels` gives level ``i + 1`` for the
``i``-th when that is the strongest reading under which the route is taken (0: not taken)."""
LEVELS = len(ORDERS) + 1


@dataclass(frozen=True)
class Route:
    """One way to compute a target: ``alternatives`` (each a tuple of intermediate truth tables, all
    of which a solution builds), the gates it takes and its depth in gates, ``circuit``: one
    alternative's gates as a DAG (:class:`~counting.analytic.placements.Circuit`), whose
    placement count in ``L`` blocks the measured volumes are set against, and ``reads``: pairs
    ``(i, j)`` of positions in an alternative where intermediate ``j`` reads intermediate ``i``
    (what the ordered readings of :data:`ORDERS` compare; none for a tree's two pairs)."""

    name: str
    alternatives: tuple[tuple[int, ...], ...]
    gates: int
    depth: int
    circuit: Circuit
    reads: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        if (self.circuit.n_gates, self.circuit.depth) != (self.gates, self.depth):
            raise ValueError(f"route {self.name!r}: circuit of {self.circuit.n_gates} gates and depth "
                             f"{self.circuit.depth}, expected {self.gates} and {self.depth}")
        k = len(self.alternatives[0])
        if any(not (0 <= i < k and 0 <= j < k and i != j) for i, j in self.reads):
            raise ValueError(f"route {self.name!r}: reads {self.reads} outside an alternative of {k}")
        k = len(self.alternatives[0])
        if any(not (0 <= i < k and 0 <= j < k and i != j) for i, j in self.reads):
            raise ValueError(f"route {self.name!r}: reads {self.reads} outside an alternative of {k}")


@dataclass(frozen=True)
class Decomposition:
    """A target on ``n`` bits and two routes to it, compared (``routes[0]`` against ``routes[1]``)."""

    name: str
    n: int
    target: int
    routes: tuple[Route, Route]
    about: str = ""

    @property
    def intermediates(self) -> tuple[int, ...]:
        """Every intermediate of every route, canonical (0 on point 0) and sorted: the columns of :func:`first_stages`."""
        return tuple(sorted({canonical(g, self.n) for r in self.routes for alt in r.alternatives for g in alt}))

    def columns(self, route: Route) -> tuple[tuple[int, ...], ...]:
        """The route's alternatives as column numbers of :attr:`intermediates`."""
        index = {g: i for i, g in enumerate(self.intermediates)}
        return tuple(tuple(index[canonical(g, self.n)] for g in alt) for alt in route.alternatives)


# The gate DAGs: three gates in a line; two gates feeding a third; and a_b -> a_b^c -> out <- c_not_d,
# the chain of (x0&x1)^(x2&x3) through (a&b)^c, which needs a fourth gate c&~d beside it.
CHAIN3, TREE3 = chain_circuit(3), tree_circuit(1)
CHAIN4 = Circuit.from_reads({"ab": (), "ab^c": ("ab",), "c&~d": (), "out": ("ab^c", "c&~d")})
CHAIN_READS = ((0, 1),)  # a chain's second intermediate reads its first


def _table(fn, n: int) -> int:
    return from_function(lambda x: bool(fn([int(v > 0) for v in x])), n)


def _parity(bits: Sequence[int], n: int) -> int:
    return _table(lambda b: sum(b[i] for i in bits) % 2 == 1, n)


def _and(bits: Sequence[int], n: int) -> int:
    return _table(lambda b: all(b[i] for i in bits), n)


def _chain_and_tree(gate) -> tuple[tuple, tuple]:
    """Chain and tree alternatives of one associative, commutative gate over 4 bits: a pair, then a
    triple containing it (12 orders); two disjoint pairs (3 pairings)."""
    n = 4
    chain = tuple((gate(p, n), gate(p + (c,), n))
                  for p in itertools.combinations(range(4), 2) for c in range(4) if c not in p)
    tree = tuple((gate((0, a), n), gate(tuple(sorted(set(range(1, 4)) - {a})), n)) for a in range(1, 4))
    return chain, tree


def parity4() -> Decomposition:
    """4-bit parity: chain ``((a^b)^c)^d`` (a pair, then a triple containing it: 12 orders) against
    tree ``(a^b)^(c^d)`` (two disjoint pairs: 3 pairings); three XOR gates either way."""
    chain, tree = _chain_and_tree(_parity)
    return Decomposition("parity4", 4, _parity(range(4), 4),
                         (Route("chain", chain, 3, 3, CHAIN3, CHAIN_READS), Route("tree", tree, 3, 2, TREE3)),
                         "x0^x1^x2^x3: a chain of three XORs against a tree of three XORs")


def and4() -> Decomposition:
    """4-bit AND, the same two shapes with AND gates: chain ``((a&b)&c)&d`` against tree
    ``(a&b)&(c&d)``. One threshold unit computes it outright, so a network needs neither route:
    the contrast of a target whose decompositions are not needed."""
    chain, tree = _chain_and_tree(_and)
    return Decomposition("and4", 4, _and(range(4), 4),
                         (Route("chain", chain, 3, 3, CHAIN3, CHAIN_READS), Route("tree", tree, 3, 2, TREE3)),
                         "x0&x1&x2&x3: a chain of three ANDs against a tree of three ANDs")


def xor_and() -> Decomposition:
    """``x0 ^ x1 ^ (x2 & x3)``: chain ``((x2&x3)^x0)^x1`` (either order of x0, x1) against tree
    ``(x0^x1) ^ (x2&x3)``; three gates either way (depth 3 against 2)."""
    n = 4
    a = _and((2, 3), n)
    target = _table(lambda b: (b[0] ^ b[1] ^ (b[2] & b[3])) == 1, n)
    chain = tuple((a, _table(lambda b, i=i: (b[i] ^ (b[2] & b[3])) == 1, n)) for i in (0, 1))
    tree = ((_parity((0, 1), n), a),)
    return Decomposition("xor_and", n, target,
                         (Route("chain", chain, 3, 3, CHAIN3, CHAIN_READS), Route("tree", tree, 3, 2, TREE3)),
                         "x0^x1^(x2&x3): a chain through (x2&x3)^xi against a tree through x0^x1")


def and_xor_and() -> Decomposition:
    """``(x0&x1) ^ (x2&x3)``: tree ``(x0&x1)^(x2&x3)`` (three gates, depth 2) against a chain through
    ``(a&b)^c`` (four gates, depth 3: the function is not a read-once chain, so the chain re-reads an
    input): the two routes differ in gate count."""
    n = 4
    target = _table(lambda b: ((b[0] & b[1]) ^ (b[2] & b[3])) == 1, n)
    pairs = ((0, 1), (2, 3))
    chain = tuple((_and(p, n), _table(lambda b, p=p, c=c: ((b[p[0]] & b[p[1]]) ^ b[c]) == 1, n))
                  for p in pairs for c in range(4) if c not in p)
    tree = ((_and((0, 1), n), _and((2, 3), n)),)
    return Decomposition("and_xor_and", n, target,
                         (Route("chain", chain, 4, 3, CHAIN4, CHAIN_READS), Route("tree", tree, 3, 2, TREE3)),
                         "(x0&x1)^(x2&x3): a tree of three gates against a chain of four")


DECOMPOSITIONS = {d.name: d for d in (parity4(), and4(), xor_and(), and_xor_and())}


def staged(model: ModelSpec) -> Architecture:
    """The architecture of ``model``, which must have stages (a one-line error otherwise)."""
    return supporting(model, "stages", "routes are read stage by stage")


def stages(model: ModelSpec) -> tuple[tuple[str, ...], ...]:
    """The sites of each stage, in order (resmlp: the embedding ``embed``, then each block's inner
    pre-activations ``block{k}`` and the stream after it ``stream{k}``; mlp: each hidden layer's
    pre-activations ``layer{l}``), as the architecture gives them: the sites routes are read from
    (the readout is not one)."""
    return staged(model).stages(model)


def first_stage(model: ModelSpec) -> int:
    """The number of the first stage (resmlp: 0, the embedding; mlp: 1, the first hidden layer)."""
    return staged(model).first_stage


def never(model: ModelSpec) -> int:
    """The stage number meaning "no site holds it": the one after the last stage."""
    return first_stage(model) + len(stages(model))


def site_order(model: ModelSpec) -> tuple[tuple[str, int], ...]:
    """Every searched site with its stage, in the order the network computes them (each site a
    function of the sites before it): :func:`stages` flattened."""
    offset = first_stage(model)
    return tuple((site, s + offset) for s, sites in enumerate(stages(model)) for site in sites)


def site_stages(model: ModelSpec) -> np.ndarray:
    """The stage of each position of :func:`site_order`, then :func:`never` for "no site"."""
    return np.asarray([st for _, st in site_order(model)] + [never(model)], np.int32)


def first_sites(fwd: Forward, model: ModelSpec, intermediates: Sequence[int], n: int) -> Int[Array, "B G"]:
    """For each network and intermediate, the position in :func:`site_order` of the first site
    holding it (``len(site_order(model))`` if none).

    Held at a site: some unit there has the intermediate's sign pattern or its negation (canonical
    patterns compared, :func:`~counting.mechanisms.sites.canonical_units`); the sites are those of
    :func:`stages` (never the readout)."""
    g = jnp.asarray(np.asarray([canonical(t, n) for t in intermediates], np.uint32))
    order = site_order(model)
    first = None
    for p, (site, _) in reversed(list(enumerate(order))):
        units = canonical_units(fwd.sites[site], n)[..., 0]  # one word: n <= 5
        held = jnp.any(units[:, :, None] == g[None, None, :], axis=1)
        first = jnp.where(held, jnp.int32(p), jnp.int32(len(order)) if first is None else first)
    return first


def first_stages(fwd: Forward, model: ModelSpec, intermediates: Sequence[int], n: int) -> Int[Array, "B G"]:
    """For each network and intermediate, the first stage whose sites hold it (:func:`never` if none):
    the stage of its :func:`first_sites`."""
    return jnp.asarray(site_stages(model))[first_sites(fwd, model, intermediates, n)]


def order_levels(first: Int[ArrayLike, "B G"], alternatives: Sequence[Sequence[int]], reads: Sequence[tuple[int, int]],
                 never: int, stage_of: np.ndarray | None = None) -> Int[Array, "B"]:
    """Per network, the strongest reading of :data:`ORDERS` under which it takes some alternative,
    as a level: 0 not taken, ``ORDERS.index(order) + 1`` otherwise (on the device).

    ``first``: each intermediate column's first site (its position in :func:`site_order`; ``never``:
    held nowhere), ``stage_of``: the stage of each position and of ``never`` (:func:`site_stages`).
    Without ``stage_of``, ``first`` holds stages, each stage one site (``"ordered"`` is then
    ``"strict"``). ``reads``: the route's ``(i, j)``, ``j`` reading ``i`` (positions in an
    alternative). An alternative taken with no read has the top level."""
    first = jnp.asarray(first)
    stage = first if stage_of is None else jnp.asarray(stage_of)[first]
    top = jnp.int32(len(ORDERS))
    best = jnp.zeros(first.shape[:1], jnp.int32)
    for alt in alternatives:
        alt = list(alt)
        level = jnp.where(jnp.all(first[:, alt] < never, axis=1), top, jnp.int32(0))
        for i, j in reads:
            si, sj = stage[:, alt[i]], stage[:, alt[j]]
            pi, pj = first[:, alt[i]], first[:, alt[j]]
            this = jnp.select([si < sj, pi < pj, si <= sj], [jnp.int32(4), jnp.int32(3), jnp.int32(2)], jnp.int32(1))
            level = jnp.minimum(level, this)
        best = jnp.maximum(best, level)
    return best


def takes(first: np.ndarray, alternatives: Sequence[Sequence[int]], never: int,
          reads: Sequence[tuple[int, int]] = (), order: str = "any", stage_of: np.ndarray | None = None) -> np.ndarray:
    """Whether each network takes some alternative: every intermediate column of it held at some
    stage, in any order (``order="any"``: the stages of an alternative's intermediates are not
    compared), or under another reading of :data:`ORDERS` (:func:`order_levels`, with ``reads`` and
    ``stage_of`` as there)."""
    first = np.asarray(first)
    if order == "any":
        out = np.zeros(first.shape[0], bool)
        for alt in alternatives:
            out |= np.all(first[:, list(alt)] < never, axis=1)
        return out
    if order not in ORDERS:
        raise ValueError(f"order: expected one of {ORDERS}, got {order!r}")
    level = np.asarray(order_levels(first, alternatives, reads, never, stage_of))
    return level >= ORDERS.index(order) + 1


def placement(first: np.ndarray, alternatives: Sequence[Sequence[int]], never: int) -> np.ndarray:
    """Where a network's route sits: over the alternatives it takes, the one finished earliest (then
    the earliest start), as its intermediates' stages sorted; ``never`` in every column if it takes none.
    Sorted, the stages no longer say which intermediate sits at which (no order is required)."""
    first = np.asarray(first)
    k = len(alternatives[0])
    best = np.full((first.shape[0], k), never, np.int64)
    for alt in alternatives:
        st = np.sort(first[:, list(alt)], axis=1)
        ok = np.all(st < never, axis=1)
        better = ok & ((st[:, -1] < best[:, -1]) | ((st[:, -1] == best[:, -1]) & (st[:, 0] < best[:, 0])))
        best[better] = st[better]
    return best


def placement_codes(first: Int[Array, "B G"], alternatives: Sequence[Sequence[int]], never: int) -> Int[Array, "B"]:
    """:func:`placement` of two-intermediate routes as one integer per network, on the device:
    ``last * (never + 1) + first`` for the stages of the alternative finished earliest (then started
    earliest), ``(never + 1)**2 - 1`` if the network takes none (see :func:`decode_placement`).
    ``first`` and ``last`` are the smaller and larger of the two stages, whichever intermediate
    holds each: no order between a route's intermediates is required or recorded."""
    if any(len(a) != 2 for a in alternatives):
        raise ValueError("alternatives: expected two intermediates each")
    first = jnp.asarray(first)
    none = (never + 1) ** 2 - 1
    best = jnp.full(first.shape[:1], none, jnp.int32)
    for i, j in alternatives:
        lo, hi = jnp.minimum(first[:, i], first[:, j]), jnp.maximum(first[:, i], first[:, j])
        best = jnp.minimum(best, jnp.where(hi < never, hi * (never + 1) + lo, none).astype(jnp.int32))
    return best


def decode_placement(code: int, never: int) -> tuple[int, int] | None:
    """``(first stage, last stage)`` of a :func:`placement_codes` value; ``None`` for "not taken"."""
    if code == (never + 1) ** 2 - 1:
        return None
    return code % (never + 1), code // (never + 1)


def route_class(first: np.ndarray, d: Decomposition, never: int, order: str = "any",
                stage_of: np.ndarray | None = None) -> np.ndarray:
    """Per network, one of :data:`CLASSES` (``first`` / ``second``: ``d.routes[0]`` / ``routes[1]``),
    each route taken as :func:`takes` reads it (by default every intermediate held somewhere, in
    any order; ``order`` and ``stage_of`` as in :func:`takes`, each route with its own reads)."""
    a = takes(first, d.columns(d.routes[0]), never, d.routes[0].reads, order, stage_of)
    b = takes(first, d.columns(d.routes[1]), never, d.routes[1].reads, order, stage_of)
    return np.select([a & b, a, b], list(CLASSES[:3]), CLASSES[3])


def route_condition(d: Decomposition, route: Route, model: ModelSpec) -> Condition:
    """"The network takes this route": any alternative whose every intermediate some site holds
    (a :class:`~counting.mechanisms.predicates.Condition`, so rare-event estimators climb it).
    The sites are those of :func:`stages`; as in :func:`takes` by default, the intermediates may be
    held in any order (the ordered readings are read from :func:`first_sites`, not climbed)."""
    sites = [s for st in stages(model) for s in st]
    held = {g: any_of(*[holds(s, g, d.n) for s in sites]) for g in d.intermediates}
    return any_of(*[all_of(*[held[canonical(g, d.n)] for g in alt]) for alt in route.alternatives])
