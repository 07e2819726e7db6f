"""Models: batched forward passes over the whole cube, with named internal sites.

Parameters of a batch of ``B`` networks are a dict ``name -> array[B, *shape]``, laid out by
:func:`param_layout`. :func:`forward` returns the scalar output at every cube point and every
layer's pre-activations ("sites") in units-first layout ``[B, units, points]``, so later predicates
read them without re-running the network. Unused sites cost nothing under ``jit``.

MLP (``kind="mlp"``): ``h_0 = x``, ``z_l = W_l h_{l-1} + b_l`` (site ``layer{l}``),
``h_l = act(z_l)``, output ``W_out h_L + b_out`` (site ``output``). ``widths=()`` is a perceptron.

Residual MLP (``kind="resmlp"``): ``s_0 = W_in x + b_in`` (site ``embed``); block ``k = 1..depth``:
``u_k = A_k s_{k-1} + a_k`` (site ``block{k}``), ``s_k = s_{k-1} + B_k act(u_k) + c_k``
(site ``stream{k}``); output ``W_out s_depth + b_out``.

Example:
    >>> import jax, numpy as np
    >>> from counting.spec import ModelSpec, PriorSpec
    >>> from counting.priors import sample_params
    >>> m = ModelSpec(n_inputs=3, widths=(4,))
    >>> p = sample_params(jax.random.key(0), m, PriorSpec(), batch=2)
    >>> out = forward(m, p, np.asarray(cube(3)))
    >>> out.output.shape, out.sites["layer1"].shape
    ((2, 8), (2, 4, 8))
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from counting.domain import cube  # noqa: F401  (re-exported for the example)
from counting.spec import ModelSpec


class ParamSlot(NamedTuple):
    """One parameter array of a network: its name, shape, and fan-in (``None`` for a bias)."""

    name: str
    shape: tuple[int, ...]
    fan_in: int | None


class Forward(NamedTuple):
    output: Float[Array, "B points"]
    sites: dict[str, Float[Array, "B units points"]]


def _dense(name: str, fan_in: int, fan_out: int) -> list[ParamSlot]:
    return [ParamSlot(f"{name}.w", (fan_in, fan_out), fan_in), ParamSlot(f"{name}.b", (fan_out,), None)]


def param_layout(model: ModelSpec) -> tuple[ParamSlot, ...]:
    """The ordered parameter arrays of one network (this order fixes the random stream)."""
    slots: list[ParamSlot] = []
    if model.kind == "mlp":
        fan_in = model.n_inputs
        for i, w in enumerate(model.widths, start=1):
            slots += _dense(f"layer{i}", fan_in, w)
            fan_in = w
        slots += _dense("output", fan_in, 1)
    elif model.kind == "resmlp":
        slots += _dense("embed", model.n_inputs, model.width)
        for k in range(1, model.depth + 1):
            slots += _dense(f"block{k}.in", model.width, model.hidden)
            slots += _dense(f"block{k}.out", model.hidden, model.width)
        slots += _dense("output", model.width, 1)
    else:
        raise ValueError(f"model.kind: expected 'mlp' or 'resmlp', got {model.kind!r}")
    return tuple(slots)


def n_params(model: ModelSpec) -> int:
    """Number of scalar parameters of one network."""
    return sum(math.prod(s.shape) for s in param_layout(model))


def activation(name: str):
    """The elementwise nonlinearity called ``name``."""
    return {
        "relu": jax.nn.relu,
        "tanh": jnp.tanh,
        "erf": jax.scipy.special.erf,
        "gelu": lambda z: jax.nn.gelu(z, approximate=False),
        # threshold units, with the output's convention: "on" iff the pre-activation is > 0
        "step": lambda z: (z > 0).astype(z.dtype),
        "sign": lambda z: jnp.where(z > 0, 1.0, -1.0).astype(z.dtype),
    }[name]


def _apply(params: dict, name: str, h: Float[Array, "B i P"]) -> Float[Array, "B j P"]:
    return jnp.einsum("bij,bip->bjp", params[f"{name}.w"], h) + params[f"{name}.b"][:, :, None]


def _first(params: dict, name: str, x: Float[Array, "P n"]) -> Float[Array, "B j P"]:
    return jnp.einsum("bij,pi->bjp", params[f"{name}.w"], x) + params[f"{name}.b"][:, :, None]


def forward(model: ModelSpec, params: dict, x: Float[Array, "P n"]) -> Forward:
    """Outputs ``[B, P]`` and sites ``{name: [B, units, P]}`` of a batch of networks on inputs ``x``."""
    act = activation(model.activation)
    sites: dict[str, Array] = {}
    if model.kind == "mlp":
        h = None
        for i in range(1, len(model.widths) + 1):
            z = _first(params, f"layer{i}", x) if h is None else _apply(params, f"layer{i}", h)
            sites[f"layer{i}"] = z
            h = act(z)
        out = _first(params, "output", x) if h is None else _apply(params, "output", h)
    else:
        s = _first(params, "embed", x)
        sites["embed"] = s
        for k in range(1, model.depth + 1):
            u = _apply(params, f"block{k}.in", s)
            sites[f"block{k}"] = u
            s = s + _apply(params, f"block{k}.out", act(u))
            sites[f"stream{k}"] = s
        out = _apply(params, "output", s)
    sites["output"] = out
    return Forward(out[:, 0, :], sites)
