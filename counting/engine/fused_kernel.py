"""A fused Pallas kernel: each program draws one MLP's parameters from the counter-based sampler
(:mod:`counting.engine.fused`) in registers and evaluates it on the whole cube; only the outputs
are written to memory, never a weight.

Written for the Pallas Triton GPU backend (power-of-two blocks: the cube's ``2**n`` points, each
layer padded to at least 16 units with zero weights; float32 matmuls at ``Precision.HIGHEST``, so
no TF32) and checked on the CPU with ``interpret=True`` against the jnp sampler and
:func:`counting.models.forward`. Each weight is drawn where it is used: one Philox call, one log
and one sine or cosine per parameter (four times the jnp path's Philox calls, which share one
call among four parameters). :func:`draw_params` is the same generator writing the flat
parameters, to compare with :func:`counting.engine.fused.standard_draws` bit for bit.

In the engine (``[estimator] sampler = "fused"`` with ``fused_kernel = "pallas"``, or ``"interpret"`` for
checks on any backend) :class:`KernelOutputs` is the source: instead of parameters it gives each
block's outputs (:class:`counting.models.Forward` with no sites), by one kernel call over the
block's networks (consecutive indices of one chunk), and the block's tally reduces them as before.
It applies where the tally reads only the outputs: :func:`check_spec` refuses (one line, naming the
field) other models, activations without a Triton lowering, other priors, other samplers and shared
readouts; the engine refuses a tally that needs the parameters; reading a site while the step is
traced is the same one-line error (:class:`NoSites`).

Example:
    >>> import numpy as np
    >>> from counting.spec import MLPSpec, ScaledPrior
    >>> out = mlp_outputs(MLPSpec(n_inputs=2, widths=(3,)), ScaledPrior(), 0, 5, np.arange(4), interpret=True)
    >>> out.shape    # 4 networks (0..3 of chunk 5, seed 0) on the 4 points of the 2-cube
    (4, 4)
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.experimental import pallas as pl
from jax.experimental.pallas import triton as plt
from jaxtyping import Array, Float

import counting.engine.fused as fused
from counting.engine.fused import group_lane, words
from counting.engine.philox import log_unit, quarter_sincos
from counting.engine.priors import scale_vector
from counting.models import model_inputs, n_params, param_layout
from counting.models.layers import Forward, activation
from counting.spec.errors import SpecError
from counting.spec.job import Spec
from counting.spec.model import MLPSpec
from counting.spec.prior import PriorSpec

MIN_BLOCK = 16  # Triton's smallest dot operand side
ACTIVATIONS = ("relu", "tanh", "step", "sign")  # erf and gelu: no Pallas Triton lowering (jax 0.10)


def padded(k: int) -> int:
    """A block side: the next power of two, at least :data:`MIN_BLOCK`."""
    return max(MIN_BLOCK, 1 << (k - 1).bit_length())


def standard_value(seed, chunk, index, p, size: int):
    """The unscaled gaussian parameter ``p`` (any int32 array) of network ``index`` of chunk ``chunk``."""
    g, lane = group_lane(p, size)
    w = words(seed, chunk, index, g.astype(jnp.uint32))
    upper = lane >= 2
    a, b = jnp.where(upper, w[2], w[0]), jnp.where(upper, w[3], w[1])
    c, s = quarter_sincos(b)
    r = jnp.sqrt(jnp.float32(-2.0) * log_unit(a))
    return r * jnp.where((lane & 1) == 1, s, c)


def block_params(seed, chunk, index, offset: int, shape: tuple[int, int], valid: tuple[int, int], size: int,
                 scale: float):
    """A zero-padded ``shape`` block of the row-major ``valid`` array of parameters at ``offset``."""
    j = lax.broadcasted_iota(jnp.int32, shape, 0)
    k = lax.broadcasted_iota(jnp.int32, shape, 1)
    ok = (j < valid[0]) & (k < valid[1])
    p = jnp.where(ok, offset + j * valid[1] + k, 0)
    return jnp.where(ok, standard_value(seed, chunk, index, p, size) * jnp.float32(scale), jnp.float32(0))


def slots(model: MLPSpec, prior: PriorSpec) -> list[tuple[int, tuple[int, int], float]]:
    """(offset, (rows, cols), scale) of each parameter array, biases as one-row arrays."""
    scale, out, o = scale_vector(model, prior), [], 0
    for s in param_layout(model):
        shape = s.shape if len(s.shape) == 2 else (1, s.shape[0])
        out.append((o, shape, float(scale[o])))
        o += shape[0] * shape[1]
    return out


def kernel_body(model: MLPSpec, prior: PriorSpec, meta_ref, x_ref, o_ref):
    """One program: network ``meta[2] + program_id`` of chunk ``meta[1]``, seed ``meta[0]``."""
    seed, chunk = meta_ref[0], meta_ref[1]
    index = meta_ref[2] + pl.program_id(0).astype(jnp.uint32)
    size, act, sl = n_params(model), activation(model.activation), slots(model, prior)
    h = x_ref[...]
    for layer in range(len(model.widths) + 1):
        (ow, (a, b), sw), (ob, _, sb) = sl[2 * layer], sl[2 * layer + 1]
        rows, cols = h.shape[1], padded(b)
        bias = block_params(seed, chunk, index, ob, (1, cols), (1, b), size, sb)
        if layer < len(model.widths):
            w = block_params(seed, chunk, index, ow, (rows, cols), (a, b), size, sw)
            h = act(jnp.dot(h, w, precision=lax.Precision.HIGHEST) + bias)
        else:  # the readout (a column) drawn as one row, so no padded column is drawn
            w = block_params(seed, chunk, index, ow, (1, rows), (1, a), size, sw)
            o_ref[...] = (jnp.sum(h * w, axis=1) + jnp.sum(bias))[None, :]


def check_model(model, prior: PriorSpec) -> None:
    """The kernel evaluates gaussian-prior MLPs only."""
    if not isinstance(model, MLPSpec):
        raise SpecError("model.kind", "'mlp' for the fused kernel", model.kind)
    if prior.kind != "gaussian":
        raise SpecError("prior.kind", "'gaussian' for the fused kernel", prior.kind)


@functools.partial(jax.jit, static_argnames=("model", "prior", "n", "interpret"))
def outputs_at(model: MLPSpec, prior: PriorSpec, meta, n: int, interpret: bool = False):
    """Outputs of networks ``meta[2] .. meta[2] + n - 1`` (``meta = [seed, chunk, first, 0]``)."""
    x = np.asarray(model_inputs(model), np.float32)
    xp = np.zeros((x.shape[0], padded(x.shape[1])), np.float32)
    xp[:, : x.shape[1]] = x
    pts = x.shape[0]
    return pl.pallas_call(
        functools.partial(kernel_body, model, prior),
        out_shape=jax.ShapeDtypeStruct((n, pts), jnp.float32),
        grid=(n,),
        in_specs=[pl.BlockSpec((4,), lambda i: (0,)), pl.BlockSpec(xp.shape, lambda i: (0, 0))],
        out_specs=pl.BlockSpec((1, pts), lambda i: (i, 0)),
        compiler_params=plt.CompilerParams(num_warps=4),  # the Triton backend (Mosaic GPU is the default)
        interpret=interpret,
    )(meta, jnp.asarray(xp))


def mlp_outputs(model: MLPSpec, prior: PriorSpec, seed: int, chunk: int, index, interpret: bool = False
                ) -> Float[Array, "B points"]:
    """Outputs ``[B, 2**n]`` of networks ``index`` (consecutive integers) of chunk ``chunk``."""
    check_model(model, prior)
    index = np.asarray(index)
    if index.size and not (np.diff(index) == 1).all():
        raise ValueError(f"index: expected consecutive network indices, got {index.tolist()}")
    meta = jnp.asarray([seed, chunk, int(index[0]) if index.size else 0, 0], jnp.uint32)
    return outputs_at(model, prior, meta, int(index.size), interpret)


def draw_body(size: int, meta_ref, o_ref):
    seed, chunk = meta_ref[0], meta_ref[1]
    index = meta_ref[2] + pl.program_id(0).astype(jnp.uint32)
    cols = o_ref.shape[1]
    p = lax.broadcasted_iota(jnp.int32, (1, cols), 1)
    o_ref[...] = jnp.where(p < size, standard_value(seed, chunk, index, jnp.where(p < size, p, 0), size), 0.0)


def draw_params(seed: int, chunk: int, first: int, n: int, size: int, interpret: bool = False):
    """Unscaled gaussian parameters ``[n, size]`` of networks ``first .. first + n - 1``, by the kernel's
    generator (one padded row per program)."""
    cols = 1 << (size - 1).bit_length()
    meta = jnp.asarray([seed, chunk, first, 0], jnp.uint32)
    out = pl.pallas_call(
        functools.partial(draw_body, size),
        out_shape=jax.ShapeDtypeStruct((n, cols), jnp.float32),
        grid=(n,),
        in_specs=[pl.BlockSpec((4,), lambda i: (0,))],
        out_specs=pl.BlockSpec((1, cols), lambda i: (i, 0)),
        compiler_params=plt.CompilerParams(num_warps=4),
        interpret=interpret,
    )(meta)
    return out[:, :size]



class NoSites(Mapping):
    """The sites of networks the kernel evaluated: none (only outputs leave the kernel). Any reading
    is a one-line error naming ``estimator.fused_kernel``, raised while the step is traced, before any work."""

    def refuse(self, what):
        raise SpecError("estimator.fused_kernel", "'off' for a job that reads the networks' sites (the kernel "
                        "writes only outputs)", what)

    def __getitem__(self, name):
        self.refuse(f"site {name}")

    def __contains__(self, name):
        self.refuse(f"site {name}")

    def __iter__(self):
        self.refuse("every site")

    def __len__(self):
        self.refuse("every site")


def kernel_mode(spec: Spec) -> str:
    """The spec's ``estimator.fused_kernel``: ``"off"`` (the default), ``"pallas"`` or ``"interpret"``."""
    return getattr(spec.estimator, "fused_kernel", "off")


def check_spec(spec: Spec) -> None:
    """Where the kernel cannot evaluate the spec's networks, a one-line error naming the field."""
    check_model(spec.model, spec.prior)
    if spec.model.activation not in ACTIVATIONS:
        raise SpecError("model.activation", f"one of {list(ACTIVATIONS)} for estimator.fused_kernel = "
                        f"{kernel_mode(spec)!r} (no Triton lowering of the others)", spec.model.activation)
    if getattr(spec.estimator, "sampler", "threefry") != fused.SAMPLER:
        raise SpecError("estimator.fused_kernel", "'off' unless sampler = 'fused'", kernel_mode(spec))
    if getattr(spec.estimator, "readouts_per_draw", 1) != 1:
        raise SpecError("estimator.readouts_per_draw", "1 with estimator.fused_kernel (the kernel evaluates "
                        "whole networks)", spec.estimator.readouts_per_draw)


class KernelOutputs:
    """The engine's source with the kernel (an :class:`~counting.engine.protocols.OutputSource`):
    networks named as by :class:`counting.engine.fused.CounterDraws` (chunk id, index), evaluated by
    the kernel (``evaluate``) rather than given as parameters. ``interpret``: Pallas interpret mode (any backend)."""

    unit = "networks"

    def __init__(self, spec: Spec, interpret: bool = False):
        check_spec(spec)
        self.spec, self.interpret = spec, interpret
        self.counters = fused.CounterDraws(spec)

    def chunk_inputs(self, chunks):
        return self.counters.chunk_inputs(chunks)

    def network_inputs(self, chunk, size: int):
        return self.counters.network_inputs(chunk, size)

    def evaluate(self, net) -> Forward:
        """Outputs of a block of networks ``net = (chunk ids, indices)``: one chunk, consecutive indices
        (as the engine's blocks are)."""
        chunk, index = net
        meta = jnp.stack([jnp.uint32(self.spec.estimator.seed), chunk[0], index[0], jnp.uint32(0)])
        out = outputs_at(self.spec.model, self.spec.prior, meta, int(index.shape[0]), self.interpret)
        return Forward(out, NoSites())


def kernel_source(spec: Spec, platform: str) -> KernelOutputs:
    """The source for ``estimator.fused_kernel`` on devices of ``platform`` (``"pallas"`` needs a GPU)."""
    check_spec(spec)
    mode = kernel_mode(spec)
    if mode == "pallas" and platform not in fused.GPU_PLATFORMS:
        raise SpecError("estimator.fused_kernel", f"a GPU for 'pallas' ('interpret' runs the same kernel on "
                        f"{platform}, far slower, for checks)", mode)
    return KernelOutputs(spec, interpret=mode == "interpret")
