"""Multilayer perceptron: ``h_0 = x``, ``z_l = W_l h_{l-1} + b_l`` (site ``layer{l}``), ``h_l = act(z_l)``,
output ``W_out h_L + b_out`` (site ``output``). ``widths=()`` is a perceptron.

Its :class:`~counting.models.layers.Architecture` (:data:`ARCHITECTURE`): stage ``l`` is hidden
layer ``l`` (numbered from 1), each hidden layer is one step of the NNGP kernel recursion, and the
readout can be drawn apart from the hidden layers.

Example:
    >>> from counting.spec import MLPSpec
    >>> [s.name for s in layout(MLPSpec(n_inputs=2, widths=(3,)))]
    ['layer1.w', 'layer1.b', 'output.w', 'output.b']
    >>> describe(MLPSpec(3, (40, 40))), describe(MLPSpec(3, (40, 40)), "citation")
    ('3-40-40-1 mlp, relu', '3-40-40-1 relu MLP')
    >>> stages(MLPSpec(3, (4, 4))), nngp_steps(MLPSpec(3, (4, 4), "erf"))
    ((('layer1',), ('layer2',)), ('erf', 'erf'))
"""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import Array, Float

from counting.models.layers import Architecture, Forward, ParamSlot, activation, apply_hidden, apply_input, dense
from counting.spec.model import MLPSpec


def layout(model: MLPSpec) -> tuple[ParamSlot, ...]:
    """The ordered parameter arrays of one network (this order fixes the random stream)."""
    slots: list[ParamSlot] = []
    fan_in = model.n_inputs
    for i, w in enumerate(model.widths, start=1):
        slots += dense(f"layer{i}", fan_in, w)
        fan_in = w
    slots += dense("output", fan_in, 1)
    return tuple(slots)


def forward(model: MLPSpec, params: dict, x: Float[Array, "P n"]) -> Forward:
    """Outputs and sites of a batch of MLPs on inputs ``x``."""
    act = activation(model.activation)
    sites: dict[str, Array] = {}
    h = None
    for i in range(1, len(model.widths) + 1):
        z = apply_input(params, f"layer{i}", x) if h is None else apply_hidden(params, f"layer{i}", h)
        sites[f"layer{i}"] = z
        h = act(z)
    out = apply_input(params, "output", x) if h is None else apply_hidden(params, "output", h)
    sites["output"] = out
    return Forward(out[:, 0, :], sites)


def describe(model: MLPSpec, style: str = "short") -> str:
    """``'3-40-40-1 mlp, relu'`` (short) or ``'3-40-40-1 relu MLP'`` (citation): the layer sizes and activation."""
    sizes = f"{model.n_inputs}-" + "".join(f"{w}-" for w in model.widths) + "1"
    return f"{sizes} mlp, {model.activation}" if style == "short" else f"{sizes} {model.activation} MLP"


def depth(model: MLPSpec) -> int:
    """Hidden layers."""
    return len(model.widths)


def width(model: MLPSpec) -> int:
    """The first hidden layer's width."""
    return model.widths[0]


def square(n: int, depth: int, width: int, activation: str = "relu") -> MLPSpec:
    """``depth`` hidden layers of ``width``."""
    return MLPSpec(n_inputs=n, widths=(width,) * depth, activation=activation)


def stages(model: MLPSpec) -> tuple[tuple[str, ...], ...]:
    """Each hidden layer (stage ``l`` is ``layer{l}``, its pre-activations, numbered from 1): the
    sites :mod:`counting.mechanisms.routes` searches for intermediates (not ``output``)."""
    return tuple((f"layer{l}",) for l in range(1, len(model.widths) + 1))


def nngp_steps(model: MLPSpec) -> tuple[str, ...]:
    """The activation of each hidden layer: one step of the NNGP kernel recursion each."""
    return (model.activation,) * len(model.widths)


def readout_features(model: MLPSpec, fwd: Forward, x: Float[Array, "P n"]) -> Float[Array, "B F P"]:
    """What the output reads: the last hidden layer's activations, or the inputs of a perceptron."""
    if not model.widths:
        return jnp.broadcast_to(jnp.asarray(x).T, (fwd.output.shape[0],) + x.T.shape)
    return activation(model.activation)(fwd.sites[f"layer{len(model.widths)}"])


ARCHITECTURE = Architecture("mlp", layout, forward, describe, depth=depth, width=width, square=square,
                            stages=stages, first_stage=1, nngp_steps=nngp_steps, shared_readouts=True,
                            readout_features=readout_features)
