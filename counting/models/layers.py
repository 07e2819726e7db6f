"""Shared pieces of every architecture: parameter slots, the forward result, activations, dense maps,
and :class:`Architecture`, what the package asks of one.

Parameters of a batch of ``B`` networks are a dict ``name -> array[B, *shape]``. Sites are
pre-activations in units-first layout ``[B, units, points]``.

Example:
    >>> dense("layer1", 3, 4)
    [ParamSlot(name='layer1.w', shape=(3, 4), fan_in=3), ParamSlot(name='layer1.b', shape=(4,), fan_in=None)]
    >>> Architecture("toy", layout=None, forward=None, describe=None).stages is None
    True
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float


class ParamSlot(NamedTuple):
    """One parameter array of a network: its name, shape, and fan-in (``None`` for a bias)."""

    name: str
    shape: tuple[int, ...]
    fan_in: int | None


class Forward(NamedTuple):
    """Outputs ``[B, points]`` and named sites ``{name: [B, units, points]}`` of a batch of networks,
    and ``features`` ``[B, F, points]``, what the output is a linear readout of, where the forward
    captures it without naming it a site (a flax module's readout ``Dense`` input; ``None`` for the
    architectures whose ``readout_features`` derive it from the sites)."""

    output: Float[Array, "B points"]
    sites: dict[str, Float[Array, "B units points"]]
    features: Float[Array, "B F points"] | None = None


class Architecture(NamedTuple):
    """What the package asks of one architecture, each answer given by the architecture's own module
    (``None`` or ``False``: the architecture has no such thing). Callers reach it through
    :func:`counting.models.architecture`, never by comparing ``model.kind``.

    * ``layout(model)``, ``forward(model, params, x)``: its parameter arrays and batched forward pass.
    * ``describe(model, style)``: one line, ``style`` ``"short"`` (the command line, manifests, tables)
      or ``"citation"`` (a phrase of the citable sentence); the ``inputs`` encoding is added by
      :func:`counting.models.describe_model`.
    * ``depth(model)``, ``width(model)``: hidden layers or residual blocks, and their width.
    * ``square(n, depth, width, activation)``: the network of ``depth`` layers or blocks, every width equal.
    * ``stages(model)``: the sites of each stage, in order, numbered from ``first_stage``.
    * ``nngp_steps(model)``: the activation of each step of the NNGP kernel recursion
      (:mod:`counting.analytic.kernel`).
    * ``residual``: it has residual blocks (which a lesion removes).
    * ``shared_readouts``: its readout can be drawn apart from its hidden layers (:mod:`counting.engine.readouts`).
    * ``readout_features(model, fwd, x)``: the features ``[B, F, P]`` that the output is a linear
      readout of (``output = w . features + b``, with ``w`` and ``b`` the last two slots of the
      layout, ``output.w`` of fan-in ``F`` and ``output.b``), from a forward's sites and the inputs
      ``x``; what :mod:`counting.estimators.readout` integrates the readout out over.
    * ``check_feature(model, feature)``: a one-line :class:`~counting.spec.SpecError` where this
      model lacks a feature that its kind has (a flax module whose output is not the output of its
      last ``Dense`` has no ``readout_features``); :func:`counting.models.supporting` asks it, once
      the kind has the feature.
    """

    kind: str
    layout: Callable[[Any], tuple[ParamSlot, ...]]
    forward: Callable[[Any, dict, Any], Forward]
    describe: Callable[[Any, str], str]
    depth: Callable[[Any], int] | None = None
    width: Callable[[Any], int] | None = None
    square: Callable[[int, int, int, str], Any] | None = None
    stages: Callable[[Any], tuple[tuple[str, ...], ...]] | None = None
    first_stage: int = 0
    nngp_steps: Callable[[Any], tuple[str, ...]] | None = None
    residual: bool = False
    shared_readouts: bool = False
    readout_features: Callable[[Any, Forward, Any], Any] | None = None
    check_feature: Callable[[Any, str], None] | None = None


def dense(name: str, fan_in: int, fan_out: int) -> list[ParamSlot]:
    """The weight and bias slots of one dense map."""
    return [ParamSlot(f"{name}.w", (fan_in, fan_out), fan_in), ParamSlot(f"{name}.b", (fan_out,), None)]


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


def apply_hidden(params: dict, name: str, h: Float[Array, "B i P"]) -> Float[Array, "B j P"]:
    """A dense map applied to per-network activations ``[B, i, P]``."""
    return jnp.einsum("bij,bip->bjp", params[f"{name}.w"], h) + params[f"{name}.b"][:, :, None]


def apply_input(params: dict, name: str, x: Float[Array, "P n"]) -> Float[Array, "B j P"]:
    """A dense map applied to the shared inputs ``[P, n]``."""
    return jnp.einsum("bij,pi->bjp", params[f"{name}.w"], x) + params[f"{name}.b"][:, :, None]
