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

def chunk_result(spec: Spec, source: Source, reduce: Reducer, block: int, chunk_input, n_valid):
    """Scan the blocks of one chunk; networks with index ``>= n_valid`` do not count.

    A parameter source's ``params`` may return a :class:`~counting.engine.protocols.Drawn`: its
    ``facts`` (a dict of ``[B]`` arrays, such as a trained network's steps) go to reducers that
    declare ``needs_facts``."""
    x = jnp.asarray(model_inputs(spec.model))
    size = spec.estimator.chunk_size
    idx = jnp.arange(size, dtype=jnp.uint32)
    per_net = source.network_inputs(chunk_input, size)

    def body(carry, xs):
        net, i = xs
        if evaluates(source):
            return carry, reduce.reduce(source.evaluate(net), i < n_valid)
        flat, facts = drawn(source.params(net))
        params = unflatten(spec.model, flat)
        return carry, apply(reduce, forward(spec.model, params, x), i < n_valid, params, facts)

    blocks = jax.tree.map(lambda a: a.reshape((size // block, block) + a.shape[1:]), (per_net, idx))
    return lax.scan(body, None, blocks)[1]


def step_result(spec: Spec, source: Source, reduce: Reducer, block: int, chunks, n_valid):
    """Results of chunks ``chunks`` on one device (finished by ``reduce.per_step`` if it has one)."""
    inputs = source.chunk_inputs(chunks)
    out = lax.map(lambda cv: chunk_result(spec, source, reduce, block, *cv), (inputs, n_valid))
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

    def compiled(self, n_chunks: int) -> "Engine":
        """This engine with its step compiled ahead of time for steps of ``n_chunks`` chunks (so that
        its memory can be read before it runs: ``counting.engine.memory.compiled_bytes(e.step)``)."""
        arg = jax.ShapeDtypeStruct((n_chunks,), jnp.uint32, sharding=NamedSharding(self.mesh, P("d")))
        return replace(self, step=self.step.lower(arg, arg).compile())

    def run_step(self, chunks: np.ndarray, n_valid: np.ndarray):
        """Dispatch one step (asynchronously); ``len(chunks)`` must be a multiple of the devices."""
        sh = NamedSharding(self.mesh, P("d"))
        c = jax.device_put(np.asarray(chunks, np.uint32), sh)
        v = jax.device_put(np.asarray(n_valid, np.uint32), sh)
        return self.step(c, v)
