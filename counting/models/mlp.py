"""Multilayer perceptron: ``h_0 = x``, ``z_l = W_l h_{l-1} + b_l`` (site ``layer{l}``), ``h_l = act(z_l)``,
output ``W_out h_L + b_out`` (site ``output``). ``widths=()`` is a perceptron.

Example:
    >>> from counting.spec import MLPSpec
    >>> [s.name for s in layout(MLPSpec(n_inputs=2, widths=(3,)))]
    ['layer1.w', 'layer1.b', 'output.w', 'output.b']
"""

from __future__ import annotations

from jaxtyping import Array, Float

from counting.models.layers import Forward, ParamSlot, activation, apply_hidden, apply_input, dense
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
