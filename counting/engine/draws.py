"""Keys and parameter sources: where each network's parameters come from.

Chunk ``c`` of a job gets key ``fold_in(key(seed), c)``; network ``i`` of it gets
``fold_in(chunk_key, i)``. Every network key of a chunk is derived at once (one use of the chunk
key) and then consumed once by that network's prior draw, so counts depend only on the spec,
never on how chunks are batched or spread over devices.

A *source* is what :class:`counting.engine.protocols.Source` declares: ``chunk_inputs(chunk_ids)``,
``network_inputs(chunk_input, size)`` and ``unit``, called by the engine on the device, and here
(a :class:`~counting.engine.protocols.ParameterSource`) ``params(network_inputs) -> [B, n_params]``.
:class:`PriorDraws` draws from the prior (with ``[estimator] sampler = "fused"`` it hands over to
:class:`counting.engine.fused.CounterDraws`, Philox counters instead of keys);
:func:`prior_source` is the engine's default: :class:`PriorDraws`, or with ``fused_kernel = "pallas"``
the fused kernel's source, which evaluates the networks itself
(:class:`counting.engine.fused_kernel.KernelOutputs`);
:class:`counting.engine.enumeration.Enumeration` lists every configuration of a discrete prior.

Example:
    >>> import jax, numpy as np
    >>> k = network_keys(jax.random.fold_in(seed_key(0), 3), np.arange(2, dtype=np.uint32))
    >>> bool((jax.random.key_data(k[1]) == jax.random.key_data(
    ...     jax.random.fold_in(jax.random.fold_in(seed_key(0), 3), 1))).all())
    True
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, Key

import counting.engine.fused as fused
from counting.engine.priors import draw_flat
from counting.engine.protocols import Source
from counting.spec.errors import SpecError
from counting.spec.job import Spec


def seed_key(seed: int, impl: str = "threefry2x32") -> Key[Array, ""]:
    """The job's root key."""
    return jax.random.key(seed, impl=impl)


def network_keys(chunk_key: Key[Array, ""], index: Array) -> Key[Array, "B"]:
    """Keys of networks ``index`` within a chunk."""
    return jax.vmap(jax.random.fold_in, (None, 0))(chunk_key, index)


def sampler(spec: Spec) -> str:
    """The spec's sampler: ``"threefry"`` (keys, the default) or ``"fused"`` (Philox counters)."""
    return getattr(spec.estimator, "sampler", "threefry")


class PriorDraws:
    """Random parameters from the spec's prior (the default source), by the spec's sampler: a
    :class:`~counting.engine.protocols.ParameterSource`."""

    unit = "networks"  # what progress lines count

    def __init__(self, spec: Spec):
        self.spec = spec
        self.counters = fused.CounterDraws(spec) if sampler(spec) == fused.SAMPLER else None

    def chunk_inputs(self, chunks):
        if self.counters is not None:
            return self.counters.chunk_inputs(chunks)
        root = seed_key(self.spec.estimator.seed, self.spec.estimator.key_impl)
        return jax.vmap(jax.random.fold_in, (None, 0))(root, chunks)

    def network_inputs(self, chunk_key, size: int):
        if self.counters is not None:
            return self.counters.network_inputs(chunk_key, size)
        return network_keys(chunk_key, jnp.arange(size, dtype=jnp.uint32))

    def params(self, keys):
        if self.counters is not None:
            return self.counters.params(keys)
        return draw_flat(keys, self.spec.model, self.spec.prior)


def trains(spec: Spec) -> bool:
    """Whether ``spec``'s networks are trained before they are counted (``[training]``, not a posterior)."""
    t = getattr(spec, "training", None)
    return t is not None and not t.posterior


def prior_source(spec: Spec, platform: str) -> Source:
    """The engine's default source on devices of ``platform``: the fused kernel's where the spec
    chooses it (``estimator.fused_kernel``), else :class:`PriorDraws`. Not for a spec whose networks
    are trained: its job passes the engine :func:`counting.training.source.trained_source`."""
    if trains(spec):
        raise SpecError("training", "the trained networks' source for a job with [training] "
                        "(counting.training.source.trained_source, passed to the engine by the job), not the "
                        "prior's draws", "no source")
    if getattr(spec.estimator, "fused_kernel", "off") != "off":
        import counting.engine.fused_kernel as fused_kernel  # here: Pallas' Triton modules take ~0.6 s to import

        return fused_kernel.kernel_source(spec, platform)
    return PriorDraws(spec)
