"""The sharded step: evaluate chunks of networks on every local device, reduce each block on the device.

The chunk ids of one step are sharded over a 1-D mesh of all local devices and each device scans
its chunks block by block (small blocks keep the per-network matrices in cache, which is where
CPU speed comes from). A *reducer* turns each evaluated block into a small result on the device
(a count, packed truth tables, a histogram); :mod:`counting.engine.tally` defines the reducers of
hit-or-miss and the census, and experiments bring their own. A *source*
(:class:`counting.engine.protocols.Source`) names each chunk's networks and gives each block's
parameters; one that evaluates its networks itself (an
:class:`~counting.engine.protocols.OutputSource`, outputs only: the fused kernel,
:mod:`counting.engine.fused_kernel`) replaces the draw and the forward of each block.

Example:
    >>> import jax, numpy as np
    >>> from counting.spec import parse_spec
    >>> from counting.mechanisms.predicates import truth_tables
    >>> spec = parse_spec("[model]\\nn_inputs=2\\nwidths=[]\\n[estimator]\\nchunk_size=64", need_target=False)
    >>> eng = Engine.build(spec, lambda fwd, valid: truth_tables(fwd), block_size=32)
    >>> out = eng.run_step(np.array([0], np.uint32), np.array([64], np.int64))
    >>> out.shape   # [chunks, blocks per chunk, block, words]
    (1, 2, 32, 1)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from counting.engine.draws import prior_source
from counting.engine.priors import unflatten
from counting.engine.protocols import Reducer, Source, apply, as_reducer, drawn, evaluates
from counting.models import forward, model_inputs
from counting.spec.errors import SpecError
from counting.spec.job import Spec

def lane_ranges(n_valid, blocks: int) -> np.ndarray:
    """The ranges (see :func:`chunk_result`) that evaluate whole chunks, of which the first
    ``n_valid[k]`` networks count: ``[0, blocks, 0, n_valid[k]]`` each."""
    n = np.asarray(n_valid, np.int64).reshape(-1)
    out = np.zeros((len(n), RANGE), np.uint32)
    out[:, 1], out[:, 3] = blocks, n
    return out


RANGE = 4  # a chunk's range in a step: first and end block evaluated, first and end network counted


def chunk_result(spec: Spec, source: Source, reduce: Reducer, block: int, chunk_input, lane):
    """Scan the blocks of one chunk; ``lane = (b0, b1, lo, hi)``: blocks ``b0 .. b1 - 1`` are
    evaluated (the others give zeros, their networks never drawn) and network ``i`` counts iff
    ``lo <= i < hi``. A whole chunk of which the first ``n`` networks count is ``(0, blocks, 0, n)``.

    Each block is evaluated exactly as when the chunk is evaluated whole (the same networks in the
    same block), so a chunk's slices give bit for bit the results of the whole chunk's blocks.
    A parameter source's ``params`` may return a :class:`~counting.engine.protocols.Drawn`: its
    ``facts`` (a dict of ``[B]`` arrays, such as a trained network's steps) go to reducers that
    declare ``needs_facts``."""
    x = jnp.asarray(model_inputs(spec.model))
    size = spec.estimator.chunk_size
    per_net = source.network_inputs(chunk_input, size)
    b0, b1, lo, hi = (lane[k] for k in range(RANGE))

    def evaluate(net, i):
        valid = (i >= lo) & (i < hi)
        if evaluates(source):
            return reduce.reduce(source.evaluate(net), valid)
        flat, facts = drawn(source.params(net))
        params = unflatten(spec.model, flat)
        return apply(reduce, forward(spec.model, params, x), valid, params, facts)

    # keys travel into the loop as their bits: each block takes its own slice of them, so each key is
    # still used once, but the key-reuse checker cannot see that through a loop of dynamic length
    bits, rewrap = _key_bits(per_net)

    def one(j):  # block j: its networks and their indices
        net = rewrap(jax.tree.map(lambda a: lax.dynamic_slice_in_dim(a, j * block, block), bits))
        return net, j * block + jnp.arange(block, dtype=jnp.uint32)

    def body(j, acc):
        return jax.tree.map(lambda a, r: lax.dynamic_update_index_in_dim(a, r, j, 0), acc, evaluate(*one(j)))

    # blocks b0 .. b1 - 1 in order, into zeros: a loop of dynamic length, with the body a scan of
    # every block would have (blocks outside the range cost nothing)
    shapes = jax.eval_shape(lambda j: evaluate(*one(j)), jnp.uint32(0))
    init = jax.tree.map(lambda s: _zeros(jax.ShapeDtypeStruct((size // block,) + s.shape, s.dtype), s), shapes)
    return lax.fori_loop(b0, b1, body, init)


def _key_bits(tree):
    """``tree`` with each typed key array as its bits, and the function that makes them keys again."""
    leaves, treedef = jax.tree.flatten(tree)
    impls = [jax.random.key_impl(a) if jnp.issubdtype(a.dtype, jax.dtypes.prng_key) else None for a in leaves]
    bits = [a if i is None else jax.random.key_data(a) for a, i in zip(leaves, impls)]

    def rewrap(parts):
        parts = jax.tree.leaves(parts)
        return jax.tree.unflatten(treedef, [a if i is None else jax.random.wrap_key_data(a, impl=i)
                                            for a, i in zip(parts, impls)])

    return jax.tree.unflatten(treedef, bits), rewrap


def _zeros(like: jax.ShapeDtypeStruct, vary_as: jax.ShapeDtypeStruct):
    """Zeros of ``like``'s shape and dtype, varying over the mesh axes ``vary_as`` varies over
    (inside ``shard_map`` a loop's carry must vary as its body's results do)."""
    z = jnp.zeros(like.shape, like.dtype)
    varying = tuple(sorted(getattr(getattr(vary_as, "manual_axis_type", None), "varying", ()) or ()))
    return lax.pcast(z, varying, to="varying") if varying else z


def step_result(spec: Spec, source: Source, reduce: Reducer, block: int, chunks, lanes):
    """Results of chunks ``chunks`` over their ``lanes`` ranges on one device (finished by
    ``reduce.per_step`` if it has one)."""
    inputs = source.chunk_inputs(chunks)
    out = lax.map(lambda cv: chunk_result(spec, source, reduce, block, *cv), (inputs, lanes))
    return out if reduce.per_step is None else reduce.per_step(out)


@dataclass(frozen=True)
class Engine:
    """A compiled step: evaluate a set of chunks (a multiple of the device count) on all devices."""

    spec: Spec
    block_size: int
    mesh: Mesh
    step: Callable

    @staticmethod
    def build(spec: Spec, reduce: Reducer | Callable, block_size: int, devices=None,
              source: Source | None = None) -> "Engine":
        """Compile a step. ``reduce``: a :class:`~counting.engine.protocols.Reducer`, or a bare
        function of the block's forward and ``valid`` (which needs nothing else). ``source`` makes
        each block's networks (a :class:`~counting.engine.protocols.Source`; default:
        :func:`counting.engine.draws.prior_source`, prior draws or the fused kernel, refused for a
        spec whose networks are trained: where such a job is assembled, it passes the trained source)."""
        reduce = as_reducer(reduce)
        if block_size < 1 or spec.estimator.chunk_size % block_size:
            raise ValueError(
                f"batch_size: expected a divisor of estimator.chunk_size={spec.estimator.chunk_size}, "
                f"got {block_size}"
            )
        devs = np.array(devices if devices is not None else jax.devices())
        mesh = Mesh(devs, ("d",))
        if source is None:  # a spec whose networks are trained comes with its source (counting.training.source)
            source = prior_source(spec, devs.flat[0].platform)
        if evaluates(source) and reduce.needs_params:
            raise SpecError("estimator.fused_kernel", "'off' for a job whose tally reads the parameters (the "
                            "kernel writes none)", getattr(spec.estimator, "fused_kernel", None))
        local = lambda c, v: step_result(spec, source, reduce, block_size, c, v)  # noqa: E731
        # a pallas_call (interpreted, at least) carries no varying-axes types: unchecked for the kernel
        sharded = jax.shard_map(local, mesh=mesh, in_specs=(P("d"), P("d")), out_specs=P("d"),
                                check_vma=not evaluates(source))
        return Engine(spec, block_size, mesh, jax.jit(sharded))

    @property
    def n_devices(self) -> int:
        return self.mesh.devices.size

    @property
    def blocks(self) -> int:
        """Blocks per chunk."""
        return self.spec.estimator.chunk_size // self.block_size

    def compiled(self, n_chunks: int) -> "Engine":
        """This engine with its step compiled ahead of time for steps of ``n_chunks`` chunks (so that
        its memory can be read before it runs: ``counting.engine.memory.compiled_bytes(e.step)``)."""
        sh = NamedSharding(self.mesh, P("d"))
        chunks = jax.ShapeDtypeStruct((n_chunks,), jnp.uint32, sharding=sh)
        lanes = jax.ShapeDtypeStruct((n_chunks, RANGE), jnp.uint32, sharding=sh)
        return replace(self, step=self.step.lower(chunks, lanes).compile())

    def run_step(self, chunks: np.ndarray, n_valid: np.ndarray):
        """Dispatch one step of whole chunks (asynchronously), of which the first ``n_valid[k]``
        networks count; ``len(chunks)`` must be a multiple of the devices."""
        return self.run_ranges(chunks, lane_ranges(n_valid, self.blocks))

    def run_ranges(self, chunks: np.ndarray, lanes: np.ndarray):
        """Dispatch one step (asynchronously) that evaluates, of chunk ``chunks[k]``, the blocks and
        counts the networks that ``lanes[k]`` names (:func:`chunk_result`)."""
        sh = NamedSharding(self.mesh, P("d"))
        c = jax.device_put(np.asarray(chunks, np.uint32), sh)
        r = jax.device_put(np.asarray(lanes, np.uint32).reshape(-1, RANGE), sh)
        return self.step(c, r)
