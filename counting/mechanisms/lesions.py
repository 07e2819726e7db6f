"""Block lesions of residual MLPs: which blocks a network uses, and its effective depth.

A residual MLP (:mod:`counting.models.resmlp`) writes into one stream: ``s_0`` is the embedding
and block ``k`` adds its *residual branch* ``r_k = B_k act(A_k s_{k-1} + a_k) + c_k``, so
``s_k = s_{k-1} + r_k``. **Lesioning** block ``k`` zeroes its branch (``B_k = 0``, ``c_k = 0``):
then ``s_k = s_{k-1}`` and the block does nothing. The network *restricted to* a set ``S`` of
blocks is the network with every block outside ``S`` lesioned. A network's function is its truth
table over the whole cube (``f(x) = 1`` iff the output is ``> 0``).

* :func:`lesion` ``(model, params, keep)``: the parameters with the blocks not in ``keep`` lesioned.
* :func:`used_blocks`: block ``k`` is *used* if lesioning it alone changes the function.
* :func:`effective_depth`: the fewest blocks that alone reproduce the function
  (``min |S|`` over all ``2**depth`` subsets, exact; 0 when embedding and readout alone do);
  :func:`minimal_blocks` is such a smallest set.
* :func:`longest_used_path`: the serial depth of what the network uses, read from *edge* cuts (below).
* :func:`path_length_pmf`: the binomial ``(depth, 1/2)`` distribution of path lengths in the
  unweighted ensemble-of-paths view (Veit, Wilber & Belongie 2016, arXiv 1605.06431).

**Edges and paths.** Because the stream is a sum, ``s_{j-1} = s_0 + r_1 + ... + r_{j-1}``, a
residual network is exactly a DAG on the nodes ``0`` (embedding), ``1 .. depth`` (blocks) and
``depth + 1`` (readout), with an edge ``i -> j`` for every ``i < j``: node ``j`` reads the sum of
the writes of all earlier nodes. **Cutting** the edge ``i -> j`` makes node ``j`` read the stream
without node ``i``'s write (``A_j (s_{j-1} - r_i) + a_j``, or ``W_out (s_depth - r_i) + b_out``);
every other node still sees it. Lesioning block ``i`` is cutting all its outgoing edges. An edge is
*used* if cutting it alone changes the function (:func:`used_edges`). A path from the embedding
to the readout visits blocks ``i_1 < ... < i_k``: these are the ``2**depth`` paths of the
ensemble view, of length ``k``. :func:`longest_used_path` is the largest ``k`` among paths whose
every edge is used (0 if no path of used edges reaches the readout, e.g. for a constant
function). It separates a serial chain of gates (each reads the one before) from a parallel tree
that uses as many blocks, which the block count of :func:`effective_depth` cannot.

"Used" is a single-lesion test, and lesion effects are not monotone. It misses redundancy: two
blocks (or edges) that each can stand in for the other are both unused one at a time. And a used
block need not be in a smallest reproducing set: two blocks whose writes cancel are each used,
yet dropping both restores the function, so :func:`effective_depth` can be below the number of
used blocks (in random prior networks it often is). :func:`effective_depth` tries every subset
and has neither blind spot.

Everything is vectorised over the batch of networks and over the lesions, in chunks of at most
``max_bytes`` of live activations (the batch itself is never split: one plain forward pass of the
batch must fit).

Example:
    >>> import jax
    >>> from counting.spec import ResMLPSpec, ScaledPrior
    >>> from counting.engine.priors import sample_params
    >>> m = ResMLPSpec(n_inputs=3, width=4, depth=3, hidden=4)
    >>> p = sample_params(jax.random.key(0), m, ScaledPrior(), batch=5)
    >>> used_blocks(m, p, 3).shape, effective_depth(m, p, 3).shape
    ((5, 3), (5,))
    >>> bool((effective_depth(m, p, 3) <= 3).all())
    True
    >>> path_length_pmf(3).tolist()
    [0.125, 0.375, 0.375, 0.125]
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float, Int, UInt32

from counting.boolean.tables import pack
from counting.mechanisms.predicates import truth_tables
from counting.models import forward, model_inputs, supporting
from counting.models.layers import activation, apply_hidden, apply_input
from counting.spec.model import ResMLPSpec

MAX_BYTES = 2**28  # live activations per chunk of lesions (256 MiB)


def _check(model, n: int) -> None:
    supporting(model, "residual", "lesions act on residual blocks")
    if n != model.n_inputs:
        raise ValueError(f"n: expected model.n_inputs = {model.n_inputs}, got {n}")


def _batch(params: dict) -> int:
    return params["embed.w"].shape[0]


@functools.partial(jax.jit, static_argnums=(0, 2))
def _tables(model, params, n):
    return truth_tables(forward(model, params, jnp.asarray(model_inputs(model))))


def lesion(model: ResMLPSpec, params: dict, keep: Bool[Array, "*B depth"]) -> dict:
    """``params`` with the residual branch of every block ``k`` where ``keep[..., k-1]`` is False
    zeroed (``block{k}.out.w`` and ``block{k}.out.b`` set to 0, so ``s_k = s_{k-1}``).

    ``keep`` is ``[depth]`` (the same blocks for every network) or ``[B, depth]`` (per network).
    The other arrays are returned as they are."""
    keep = jnp.asarray(keep, bool)
    if keep.shape[-1:] != (model.depth,) or keep.ndim > 2:
        raise ValueError(f"keep: expected shape [depth] or [B, depth] with depth = {model.depth}, got {keep.shape}")
    out = dict(params)
    for k in range(1, model.depth + 1):
        kk = keep[..., k - 1]
        for name in (f"block{k}.out.w", f"block{k}.out.b"):
            a = params[name]
            m = kk.reshape(kk.shape + (1,) * (a.ndim - kk.ndim))
            out[name] = jnp.where(m, a, jnp.zeros((), a.dtype))
    return out


def block_subsets(depth: int) -> Bool[np.ndarray, "subsets depth"]:
    """Every subset of the blocks, row ``m`` keeping block ``k`` iff bit ``k-1`` of ``m`` is set."""
    return ((np.arange(2**depth)[:, None] >> np.arange(depth)[None, :]) & 1).astype(bool)


def _chunk(n_items: int, per_item_bytes: int, max_bytes: int) -> int:
    return int(max(1, min(n_items, max_bytes // max(1, per_item_bytes))))


@functools.partial(jax.jit, static_argnums=(0, 2, 4))
def _lesioned_tables(model, params, n, keep, max_bytes):
    x = jnp.asarray(model_inputs(model))
    b, p = _batch(params), 2**n
    per = 4 * b * p * (model.width * (model.depth + 1) + model.hidden)
    chunk = _chunk(keep.shape[0], per, max_bytes)
    return jax.lax.map(lambda k: truth_tables(forward(model, lesion(model, params, k), x)), keep,
                       batch_size=chunk)


def lesioned_tables(model: ResMLPSpec, params: dict, n: int, keep: Bool[Array, "S depth"], *,
                    max_bytes: int = MAX_BYTES) -> UInt32[Array, "S B words"]:
    """Truth tables of every network restricted to each of ``S`` block sets (row ``s`` of
    ``keep``, the same for every network), by the model's own forward pass."""
    _check(model, n)
    keep = jnp.asarray(keep, bool)
    if keep.ndim != 2 or keep.shape[1] != model.depth:
        raise ValueError(f"keep: expected shape [S, depth] with depth = {model.depth}, got {keep.shape}")
    return _lesioned_tables(model, params, n, keep, max_bytes)


def used_blocks(model: ResMLPSpec, params: dict, n: int, *, max_bytes: int = MAX_BYTES) -> Bool[Array, "B depth"]:
    """Block ``k`` of each network is *used* (column ``k-1``) if lesioning it alone changes the
    network's truth table."""
    _check(model, n)
    full = _tables(model, params, n)
    if model.depth == 0:
        return jnp.zeros((_batch(params), 0), bool)
    t = lesioned_tables(model, params, n, ~np.eye(model.depth, dtype=bool), max_bytes=max_bytes)
    return jnp.any(t != full[None], axis=-1).T


@functools.partial(jax.jit, static_argnums=(0, 2, 3))
def _minimal_key(model, params, n, max_bytes):
    """For each network the least ``|S| * 2**depth + mask(S)`` over block sets ``S`` that
    reproduce its truth table."""
    d, b, p = model.depth, _batch(params), 2**n
    x = jnp.asarray(model_inputs(model))
    act = activation(model.activation)
    full = truth_tables(forward(model, params, x))
    sizes = jnp.asarray(block_subsets(d).sum(axis=1), jnp.int32)
    none = jnp.int32((d + 1) * 2**d)  # larger than any key

    def branch(k, s):  # r_k of one stack of streams [B, width, P]
        return apply_hidden(params, f"block{k}.out", act(apply_hidden(params, f"block{k}.in", s)))

    # The last q blocks are expanded as a tree of streams (2**q of them, vectorised); the first
    # p = d - q blocks are enumerated one prefix at a time, so 2**q streams fit in max_bytes.
    per_stream = 4 * b * p * (2 * model.width + model.hidden)
    q = d
    while q > 0 and 2**q * per_stream > max_bytes:
        q -= 1
    pre = d - q
    s0 = apply_input(params, "embed", x)

    def one_prefix(m):
        s = s0
        for k in range(1, pre + 1):
            s = jnp.where((m >> (k - 1)) & 1 == 1, s + branch(k, s), s)
        states = s[None]  # [T, B, width, P]; bit j of the index: block pre+1+j kept
        for k in range(pre + 1, d + 1):
            states = jnp.concatenate([states, states + jax.vmap(functools.partial(branch, k))(states)])
        out = jax.vmap(lambda s: apply_hidden(params, "output", s)[:, 0, :])(states)  # [T, B, P]
        same = jnp.all(pack(out > 0) == full[None], axis=-1)  # [T, B]
        mask = m + (jnp.arange(2**q, dtype=jnp.int32) << pre)
        key = sizes[mask] * 2**d + mask
        return jnp.min(jnp.where(same, key[:, None], none), axis=0)

    keys = jax.lax.map(one_prefix, jnp.arange(2**pre, dtype=jnp.int32))
    everything = jnp.int32(d * 2**d + 2**d - 1)  # all blocks: the network itself, by definition
    return jnp.minimum(jnp.min(keys, axis=0), everything)


def minimal_blocks(model: ResMLPSpec, params: dict, n: int, *, max_bytes: int = MAX_BYTES) -> Bool[Array, "B depth"]:
    """A smallest set of blocks that alone reproduces each network's truth table (the others
    lesioned), exact over all ``2**depth`` sets; among sets of that size, the one with the least
    mask ``sum 2**(k-1)`` over its blocks ``k``. The set of all blocks always qualifies."""
    _check(model, n)
    if model.depth > 20:
        raise ValueError(f"model.depth: expected at most 20 blocks for an exact search over subsets, got {model.depth}")
    key = _minimal_key(model, params, n, max_bytes)
    mask = key % 2**model.depth
    return ((mask[:, None] >> jnp.arange(model.depth)) & 1) == 1


def effective_depth(model: ResMLPSpec, params: dict, n: int, *, max_bytes: int = MAX_BYTES) -> Int[Array, "B"]:
    """The fewest blocks that alone reproduce each network's truth table: ``min |S|`` over the
    block sets ``S`` whose restriction (every other block lesioned) has the same truth table;
    0 if the embedding and readout alone already do."""
    return jnp.sum(minimal_blocks(model, params, n, max_bytes=max_bytes), axis=-1, dtype=jnp.int32)


def edges(depth: int) -> list[tuple[int, int]]:
    """The edges ``(i, j)``, ``i < j``, of the residual DAG on nodes ``0`` (embedding),
    ``1 .. depth`` (blocks) and ``depth + 1`` (readout), in row-major order."""
    return [(i, j) for j in range(1, depth + 2) for i in range(j)]


def _cut_output(model, params, x, cut: Bool[Array, "nodes nodes"]) -> Float[Array, "B P"]:
    """Output of every network with the edges ``cut[i, j]`` removed."""
    act = activation(model.activation)
    d = model.depth
    writes = [apply_input(params, "embed", x)]

    def read(j):
        s = jnp.where(cut[0, j], 0.0, writes[0])
        for i in range(1, j):
            s = s + jnp.where(cut[i, j], 0.0, writes[i])
        return s

    for k in range(1, d + 1):
        u = apply_hidden(params, f"block{k}.in", read(k))
        writes.append(apply_hidden(params, f"block{k}.out", act(u)))
    return apply_hidden(params, "output", read(d + 1))[:, 0, :]


@functools.partial(jax.jit, static_argnums=(0, 2, 4))
def _cut_tables(model, params, n, cuts, max_bytes):
    x = jnp.asarray(model_inputs(model))
    b, p = _batch(params), 2**n
    per = 4 * b * p * (model.width * (model.depth + 2) + model.hidden)
    chunk = _chunk(cuts.shape[0], per, max_bytes)
    return jax.lax.map(lambda c: pack(_cut_output(model, params, x, c) > 0), cuts, batch_size=chunk)


def cut_tables(model: ResMLPSpec, params: dict, n: int, cuts: Bool[Array, "E nodes nodes"], *,
               max_bytes: int = MAX_BYTES) -> UInt32[Array, "E B words"]:
    """Truth tables of every network with the edges of each of ``E`` cut sets removed:
    ``cuts[e, i, j]`` cuts ``i -> j`` (nodes ``0 .. depth + 1``; entries with ``i >= j`` are ignored)."""
    _check(model, n)
    cuts = jnp.asarray(cuts, bool)
    nodes = model.depth + 2
    if cuts.ndim != 3 or cuts.shape[1:] != (nodes, nodes):
        raise ValueError(f"cuts: expected shape [E, {nodes}, {nodes}] (nodes 0 .. depth + 1), got {cuts.shape}")
    return _cut_tables(model, params, n, cuts, max_bytes)


def used_edges(model: ResMLPSpec, params: dict, n: int, *, max_bytes: int = MAX_BYTES) -> Bool[Array, "B nodes nodes"]:
    """Edge ``i -> j`` of each network's residual DAG is *used* (entry ``[b, i, j]``) if cutting it
    alone changes the truth table; entries with ``i >= j`` are False."""
    _check(model, n)
    nodes = model.depth + 2
    es = edges(model.depth)
    one = np.zeros((len(es), nodes, nodes), bool)
    one[np.arange(len(es)), [i for i, _ in es], [j for _, j in es]] = True
    full = _tables(model, params, n)
    changed = jnp.any(cut_tables(model, params, n, one, max_bytes=max_bytes) != full[None], axis=-1)  # [E, B]
    out = jnp.zeros((_batch(params), nodes, nodes), bool)
    return out.at[:, [i for i, _ in es], [j for _, j in es]].set(changed.T)


def longest_path(used: Bool[Array, "B nodes nodes"]) -> Int[Array, "B"]:
    """The most blocks (nodes ``1 .. nodes - 2``) on a path ``0 -> ... -> nodes - 1`` of edges
    marked in ``used``; 0 where no such path exists."""
    used = jnp.asarray(used, bool)
    nodes = used.shape[-1]
    # best[j]: most blocks on a used path from the embedding to node j, -1 if none
    best = [jnp.zeros(used.shape[:-2], jnp.int32)]
    for j in range(1, nodes):
        via = jnp.stack([jnp.where(used[..., i, j] & (best[i] >= 0), best[i], -1) for i in range(j)])
        top = jnp.max(via, axis=0)
        best.append(jnp.where(top >= 0, top + (1 if j < nodes - 1 else 0), -1))
    return jnp.maximum(best[-1], 0)


def longest_used_path(model: ResMLPSpec, params: dict, n: int, *, max_bytes: int = MAX_BYTES) -> Int[Array, "B"]:
    """The most blocks on a path from the embedding to the readout all of whose edges are used
    (:func:`used_edges`): the serial depth of what each network uses; 0 if there is none."""
    return longest_path(used_edges(model, params, n, max_bytes=max_bytes))


def path_length_pmf(depth: int) -> Float[np.ndarray, "depth+1"]:
    """``P(length = k) = C(depth, k) / 2**depth``, ``k = 0 .. depth``: the lengths of the
    ``2**depth`` paths of the unweighted ensemble-of-paths view of a residual network."""
    if depth < 0:
        raise ValueError(f"depth: expected a non-negative integer, got {depth}")
    return np.array([math.comb(depth, k) for k in range(depth + 1)], np.float64) / 2.0**depth
