"""The counter-based sampler (``[estimator] sampler = "fused"``): each parameter a pure function of
(seed, chunk id, network index within the chunk, parameter index).

With ``G = ceil(n_params / 4)`` groups, parameter ``p`` of network ``i`` of chunk ``c`` is lane
``p // G`` of group ``g = p % G``: Philox4x32-10 with counter ``(g, i, c, 0)`` and key ``(seed, 0)``
(:mod:`counting.engine.philox`) gives four words; lanes 0, 1 are the Box-Muller pair of words 0, 1
and lanes 2, 3 that of words 2, 3 (gaussian prior), or each word is a uniform on
``[-sqrt 3, sqrt 3]`` (uniform prior). Lanes are contiguous runs of the flat parameter vector, so a
batch's parameters are four whole arrays side by side (interleaving them costs XLA's CPU code far
more than drawing them). Then the prior's scales apply as for the default
sampler (:func:`counting.engine.priors.scale_vector`). No key is derived per network and no
library transcendental is called, so drawing costs a few hundred integer operations per four
parameters; counts depend on the spec alone (never on batch size, devices or processes), but
they differ from the default ``threefry`` sampler's, which stays the default.

:class:`CounterDraws` is the engine's parameter source for it (``chunk_inputs``,
``network_inputs``, ``params``); :func:`counting.engine.draws.PriorDraws` hands over to it when
the spec selects the sampler. :mod:`counting.engine.fused_kernel` draws the same parameters inside
a GPU kernel and evaluates the network there (``[estimator] fused_kernel = "pallas"``: the same truth
tables, outputs to float rounding).

Example:
    >>> import numpy as np
    >>> z = standard_normals(0, np.uint32(3), np.arange(2, dtype=np.uint32), 6)  # networks 0, 1 of chunk 3
    >>> alone = standard_normals(0, np.uint32(3), np.array([1], np.uint32), 6)   # network 1 alone
    >>> z.shape, bool((z[1] == alone[0]).all()), bool((z[0] == alone[0]).any())
    ((2, 6), True, False)
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, UInt32

from counting.engine.philox import fast_box_muller, philox4x32
from counting.engine.priors import scale_vector
from counting.spec.errors import SpecError
from counting.spec.job import Spec

SAMPLER = "fused"
GPU_PLATFORMS = ("gpu", "cuda", "rocm")  # where its kernel runs compiled (counting.engine.fused_kernel)
FUSED_PRIORS = ("gaussian", "uniform")
SQRT3 = math.sqrt(3.0)
UNIFORM_STEP = 2.0**-24


def n_groups(size: int) -> int:
    """Philox calls per network of ``size`` parameters (four values each)."""
    return -(-size // 4)


def group_lane(p: int | Array, size: int) -> tuple:
    """The group and lane of parameter ``p`` of a network of ``size`` parameters."""
    g = n_groups(size)
    return p % g, p // g


def words(seed: int | UInt32[Array, ""], chunk: UInt32[Array, "..."], index: UInt32[Array, "..."],
          group: UInt32[Array, "..."]) -> tuple:
    """The four Philox words of parameter group ``group`` (parameters ``4 group .. 4 group + 3``) of
    network ``index`` of chunk ``chunk``; arguments broadcast."""
    z = jnp.uint32(0)
    return philox4x32((group, index, chunk, z), (jnp.asarray(seed, jnp.uint32), z))


def lanes_normal(w: tuple) -> tuple:
    """Four standard normals from four words (lanes 0, 1 from words 0, 1; lanes 2, 3 from 2, 3)."""
    z0, z1 = fast_box_muller(w[0], w[1])
    z2, z3 = fast_box_muller(w[2], w[3])
    return z0, z1, z2, z3


def lanes_uniform(w: tuple) -> tuple:
    """Four unit-variance uniforms on ``[-sqrt 3, sqrt 3]`` (the top 24 bits of each word, centred)."""
    scale = jnp.float32(2 * SQRT3 * UNIFORM_STEP)
    return tuple(((x >> 8).astype(jnp.float32) + jnp.float32(0.5)) * scale - jnp.float32(SQRT3) for x in w)


def lanes(kind: str, w: tuple) -> tuple:
    """The four unit-variance values of one group under prior ``kind``."""
    if kind == "gaussian":
        return lanes_normal(w)
    if kind == "uniform":
        return lanes_uniform(w)
    raise SpecError("estimator.sampler", f"a prior in {list(FUSED_PRIORS)} for sampler 'fused'", kind)


@functools.partial(jax.jit, static_argnames=("size", "kind"))
def standard_draws(seed: int, chunk: UInt32[Array, "*B"], index: UInt32[Array, "B"], size: int,
                   kind: str = "gaussian") -> Float[Array, "B size"]:
    """Unscaled parameters ``0 .. size - 1`` of networks ``index`` of chunk ``chunk`` (one id, or one per
    network)."""
    index = jnp.asarray(index, jnp.uint32)
    chunk = jnp.broadcast_to(jnp.asarray(chunk, jnp.uint32), index.shape)[:, None]
    groups = jnp.arange(n_groups(size), dtype=jnp.uint32)[None, :]
    vals = lanes(kind, words(seed, chunk, index[:, None], groups))
    return jnp.concatenate(vals, axis=-1)[:, :size]


def standard_normals(seed: int, chunk: UInt32[Array, ""], index: UInt32[Array, "B"], size: int
                     ) -> Float[Array, "B size"]:
    """:func:`standard_draws` of the gaussian prior."""
    return standard_draws(seed, chunk, index, size, "gaussian")


def check_prior(spec: Spec) -> None:
    """The sampler draws continuous priors only (a one-line error otherwise)."""
    if spec.prior.kind not in FUSED_PRIORS:
        raise SpecError("estimator.sampler", f"a prior in {list(FUSED_PRIORS)} for sampler 'fused'",
                        spec.prior.kind)


class CounterDraws:
    """Parameter source (a :class:`~counting.engine.protocols.ParameterSource`): the counter-based
    draws of the spec's prior. A network's input is its (chunk id, index) pair; nothing per network
    is derived or stored."""

    unit = "networks"

    def __init__(self, spec: Spec):
        check_prior(spec)
        self.spec = spec
        self.scale = scale_vector(spec.model, spec.prior)

    def chunk_inputs(self, chunks):
        return jnp.asarray(chunks, jnp.uint32)

    def network_inputs(self, chunk, size: int):
        return jnp.full((size,), chunk, jnp.uint32), jnp.arange(size, dtype=jnp.uint32)

    def params(self, net):
        chunk, index = net
        z = standard_draws(self.spec.estimator.seed, chunk, index, self.scale.shape[0], self.spec.prior.kind)
        # materialised once: otherwise XLA fuses the generator into each consumer of a slice
        return jax.lax.optimization_barrier(z * jnp.asarray(self.scale))
