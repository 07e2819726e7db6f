"""The sampling engine: chunk ``c`` of a job, network ``i`` of the chunk, on every local device.

Network ``i`` of chunk ``c`` draws its parameters from ``fold_in(fold_in(key(seed), c), i)``, so every
count depends only on (spec, seed, samples): never on the block size (networks vectorised at once),
the number of chunks per step, the number of devices, or interruptions. The chunk ids of one step
are sharded over a 1-D mesh of all local devices and each device scans its chunks block by block
(small blocks keep the per-network matrices in cache, which is where CPU speed comes from).

Example:
    >>> import jax, numpy as np
    >>> from counting.spec import parse_spec
    >>> spec = parse_spec("[model]\\nn_inputs=2\\nwidths=[]\\n[estimator]\\nchunk_size=64", need_target=False)
    >>> eng = Engine.build(spec, tables_reducer(), block_size=32)
    >>> out = eng.run_step(np.array([0], np.uint32), np.array([64], np.int64))
    >>> out.shape   # [chunks, blocks per chunk, block, words]
    (1, 2, 32, 1)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
from jaxtyping import Array, Bool, Key

from counting.domain import cube
from counting.models import Forward, forward
from counting.predicates import Predicate, truth_tables
from counting.priors import draw_flat, unflatten
from counting.spec import Spec

# A reducer turns one evaluated block (and which of its networks count) into a small result.
Reducer = Callable[[Forward, Bool[Array, "B"]], Any]


def tables_reducer(where: Predicate | None = None) -> Reducer:
    """Per block: the packed truth tables ``[B, words]`` (invalid rows are dropped on the host).
    With ``where``: the pair (tables, ``where`` holds), and the host drops the rows where it fails."""
    if where is None:
        return lambda fwd, valid: truth_tables(fwd)
    return lambda fwd, valid: (truth_tables(fwd), where(fwd))


def hits_reducer(pred: Predicate) -> Reducer:
    """Per block: how many valid networks satisfy ``pred`` (an int32 scalar)."""
    return lambda fwd, valid: jnp.sum(pred(fwd) & valid, dtype=jnp.int32)


def seed_key(seed: int, impl: str = "threefry2x32") -> Key[Array, ""]:
    """The job's root key."""
    return jax.random.key(seed, impl=impl)


def network_keys(chunk_key: Key[Array, ""], index: Array) -> Key[Array, "B"]:
    """Keys of networks ``index`` within a chunk."""
    return jax.vmap(jax.random.fold_in, (None, 0))(chunk_key, index)


class PriorDraws:
    """Random parameters: chunk ``c`` gets key ``fold_in(key(seed), c)``, network ``i`` of it
    ``fold_in(chunk_key, i)``. Every network key of a chunk is derived at once (one use of the chunk
    key) and then consumed once by that network's prior draw."""

    def __init__(self, spec: Spec):
        self.spec = spec

    def chunk_inputs(self, chunks):
        root = seed_key(self.spec.estimator.seed, self.spec.estimator.key_impl)
        return jax.vmap(jax.random.fold_in, (None, 0))(root, chunks)

    def network_inputs(self, chunk_key, size: int):
        return network_keys(chunk_key, jnp.arange(size, dtype=jnp.uint32))

    def params(self, keys):
        return draw_flat(keys, self.spec.model, self.spec.prior)


def chunk_result(spec: Spec, source, reduce: Reducer, block: int, chunk_input, n_valid):
    """Scan the blocks of one chunk; networks with index ``>= n_valid`` do not count."""
    x = jnp.asarray(cube(spec.model.n_inputs))
    size = spec.estimator.chunk_size
    idx = jnp.arange(size, dtype=jnp.uint32)
    per_net = source.network_inputs(chunk_input, size)

    def body(carry, xs):
        net, i = xs
        fwd = forward(spec.model, unflatten(spec.model, source.params(net)), x)
        return carry, reduce(fwd, i < n_valid)

    blocks = jax.tree.map(lambda a: a.reshape((size // block, block) + a.shape[1:]), (per_net, idx))
    return lax.scan(body, None, blocks)[1]


def step_result(spec: Spec, source, reduce: Reducer, block: int, chunks, n_valid):
    """Results of chunks ``chunks`` on one device."""
    inputs = source.chunk_inputs(chunks)
    return lax.map(lambda cv: chunk_result(spec, source, reduce, block, *cv), (inputs, n_valid))


@dataclass(frozen=True)
class Engine:
    """A compiled step: evaluate a set of chunks (a multiple of the device count) on all devices."""

    spec: Spec
    block_size: int
    mesh: Mesh
    step: Callable

    @staticmethod
    def build(spec: Spec, reduce: Reducer, block_size: int, devices=None, source=None) -> "Engine":
        """Compile a step. ``source`` makes each network's flat parameters (default: prior draws)."""
        if block_size < 1 or spec.estimator.chunk_size % block_size:
            raise ValueError(
                f"batch_size: expected a divisor of estimator.chunk_size={spec.estimator.chunk_size}, "
                f"got {block_size}"
            )
        devs = np.array(devices if devices is not None else jax.devices())
        mesh = Mesh(devs, ("d",))
        source = source if source is not None else PriorDraws(spec)
        local = lambda c, v: step_result(spec, source, reduce, block_size, c, v)  # noqa: E731
        sharded = jax.shard_map(local, mesh=mesh, in_specs=(P("d"), P("d")), out_specs=P("d"))
        return Engine(spec, block_size, mesh, jax.jit(sharded))

    @property
    def n_devices(self) -> int:
        return self.mesh.devices.size

    def run_step(self, chunks: np.ndarray, n_valid: np.ndarray):
        """Dispatch one step (asynchronously); ``len(chunks)`` must be a multiple of the devices."""
        sh = NamedSharding(self.mesh, P("d"))
        c = jax.device_put(np.asarray(chunks, np.uint32), sh)
        v = jax.device_put(np.asarray(n_valid, np.uint32), sh)
        return self.step(c, v)
