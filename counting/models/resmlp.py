"""Residual MLP: ``s_0 = W_in x + b_in`` (site ``embed``); block ``k = 1..depth``:
``u_k = A_k s_{k-1} + a_k`` (site ``block{k}``), ``s_k = s_{k-1} + B_k act(u_k) + c_k``
(site ``stream{k}``); output ``W_out s_depth + b_out`` (site ``output``).

Its :class:`~counting.models.layers.Architecture` (:data:`ARCHITECTURE`): stage 0 is the embedding
and stage ``k`` is block ``k`` (its hidden units and the stream after it); its blocks are residual
(a lesion removes one); no NNGP kernel recursion is known for it.

Example:
    >>> from counting.spec import ResMLPSpec
    >>> [s.name for s in layout(ResMLPSpec(n_inputs=2, width=4, depth=1, hidden=3))]
    ['embed.w', 'embed.b', 'block1.in.w', 'block1.in.b', 'block1.out.w', 'block1.out.b', 'output.w', 'output.b']
    >>> describe(ResMLPSpec(3, 16, 2, 16))
    'resmlp n=3 width=16 depth=2 hidden=16, relu'
    >>> describe(ResMLPSpec(3, 16, 2, 16), "citation")
    'residual MLP (3 inputs, width 16, 2 blocks of hidden width 16, relu)'
    >>> stages(ResMLPSpec(depth=2))
    (('embed',), ('block1', 'stream1'), ('block2', 'stream2'))
"""

from __future__ import annotations

from jaxtyping import Array, Float

from counting.models.layers import Architecture, Forward, ParamSlot, activation, apply_hidden, apply_input, dense
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


def describe(model: ResMLPSpec, style: str = "short") -> str:
    """``'resmlp n=3 width=16 depth=2 hidden=16, relu'`` (short) or ``'residual MLP (3 inputs, width
    16, 2 blocks of hidden width 16, relu)'`` (citation)."""
    m = model
    if style == "short":
        return f"resmlp n={m.n_inputs} width={m.width} depth={m.depth} hidden={m.hidden}, {m.activation}"
    return (f"residual MLP ({m.n_inputs} inputs, width {m.width}, {m.depth} blocks of hidden width {m.hidden}, "
            f"{m.activation})")


def depth(model: ResMLPSpec) -> int:
    """Residual blocks."""
    return model.depth


def width(model: ResMLPSpec) -> int:
    """The stream's width."""
    return model.width


def square(n: int, depth: int, width: int, activation: str = "relu") -> ResMLPSpec:
    """``depth`` blocks, stream and inner width ``width``."""
    return ResMLPSpec(n_inputs=n, width=width, depth=depth, hidden=width, activation=activation)


def stages(model: ResMLPSpec) -> tuple[tuple[str, ...], ...]:
    """The embedding (stage 0), then each block's hidden units and the stream after it (stage ``k``):
    sites ``embed`` (``s_0``), ``block{k}`` (pre-activations ``u_k``) and ``stream{k}`` (``s_k``),
    the sites :mod:`counting.mechanisms.routes` searches for intermediates (not ``output``)."""
    return (("embed",),) + tuple((f"block{k}", f"stream{k}") for k in range(1, model.depth + 1))


def readout_features(model: ResMLPSpec, fwd: Forward, x: Float[Array, "P n"]) -> Float[Array, "B F P"]:
    """What the output reads: the stream after the last block (the embedding when there is none)."""
    return fwd.sites[f"stream{model.depth}" if model.depth else "embed"]


ARCHITECTURE = Architecture("resmlp", layout, forward, describe, depth=depth, width=width, square=square,
                            stages=stages, first_stage=0, residual=True, readout_features=readout_features)
