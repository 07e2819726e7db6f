"""Residual MLP: ``s_0 = W_in x + b_in`` (site ``embed``); block ``k = 1..depth``:
``u_k = A_k s_{k-1} + a_k`` (site ``block{k}``), ``s_k = s_{k-1} + B_k act(u_k) + c_k``
(site ``stream{k}``); output ``W_out s_depth + b_out`` (site ``output``).

Example:
    >>> from counting.spec import ResMLPSpec
    >>> [s.name for s in layout(ResMLPSpec(n_inputs=2, width=4, depth=1, hidden=3))]
    ['embed.w', 'embed.b', 'block1.in.w', 'block1.in.b', 'block1.out.w', 'block1.out.b', 'output.w', 'output.b']
"""

from __future__ import annotations

from jaxtyping import Array, Float

from counting.models.layers import Forward, ParamSlot, activation, apply_hidden, apply_input, dense
from counting.spec.model import ResMLPSpec


def layout(model: ResMLPSpec) -> tuple[ParamSlot, ...]:
    """The ordered parameter arrays of one network (this order fixes the random stream)."""
    slots = dense("embed", model.n_inputs, model.width)
    for k in range(1, model.depth + 1):
        slots += dense(f"block{k}.in", model.width, model.hidden)
        slots += dense(f"block{k}.out", model.hidden, model.width)
    slots += dense("output", model.width, 1)
    return tuple(slots)


def forward(model: ResMLPSpec, params: dict, x: Float[Array, "P n"]) -> Forward:
    """Outputs and sites of a batch of residual MLPs on inputs ``x``."""
    act = activation(model.activation)
    s = apply_input(params, "embed", x)
    sites: dict[str, Array] = {"embed": s}
    for k in range(1, model.depth + 1):
        u = apply_hidden(params, f"block{k}.in", s)
        sites[f"block{k}"] = u
        s = s + apply_hidden(params, f"block{k}.out", act(u))
        sites[f"stream{k}"] = s
    out = apply_hidden(params, "output", s)
    sites["output"] = out
    return Forward(out[:, 0, :], sites)
