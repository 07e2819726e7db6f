"""Models: batched forward passes over the whole cube, with named internal sites.

One module per architecture (:mod:`counting.models.mlp`, :mod:`counting.models.resmlp`), each with
``layout`` (the ordered parameter arrays, which fixes the random stream) and ``forward`` (outputs
``[B, points]`` and pre-activation sites ``[B, units, points]``). This package dispatches on
``model.kind``; a new architecture is one new module and one line in ``_ARCHITECTURES``.
``kind = "flax"`` (:mod:`counting.models.flax_model`, any flax linen module) is imported on first
use, so that processes that never name one do not pay for importing flax.
:func:`model_inputs` gives the points a model is evaluated on: the cube in the model's ``inputs``
encoding (every place that evaluates a model on the cube takes its points from it).

Example:
    >>> import jax, numpy as np
    >>> from counting.spec import MLPSpec, ScaledPrior
    >>> from counting.engine.priors import sample_params
    >>> from counting.boolean.cube import cube
    >>> m = MLPSpec(n_inputs=3, widths=(4,))
    >>> p = sample_params(jax.random.key(0), m, ScaledPrior(), batch=2)
    >>> out = forward(m, p, np.asarray(cube(3)))
    >>> out.output.shape, out.sites["layer1"].shape
    ((2, 8), (2, 4, 8))
    >>> model_inputs(MLPSpec(n_inputs=2, inputs="01")).tolist()
    [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]
"""

from __future__ import annotations

import math

import numpy as np
from jaxtyping import Array, Float

from counting.boolean.cube import cube
import counting.models.mlp as mlp
import counting.models.resmlp as resmlp
from counting.models.layers import Forward, ParamSlot, activation
from counting.spec.model import ModelSpec

_ARCHITECTURES = {"mlp": mlp, "resmlp": resmlp}


def _module(model: ModelSpec):
    if model.kind == "flax":
        import counting.models.flax_model as flax_model

        return flax_model
    try:
        return _ARCHITECTURES[model.kind]
    except KeyError:
        raise ValueError(f"model.kind: expected one of {sorted(_ARCHITECTURES) + ['flax']}, got {model.kind!r}") from None


def param_layout(model: ModelSpec) -> tuple[ParamSlot, ...]:
    """The ordered parameter arrays of one network."""
    return _module(model).layout(model)


def n_params(model: ModelSpec) -> int:
    """Number of scalar parameters of one network."""
    return sum(math.prod(s.shape) for s in param_layout(model))


def model_inputs(model: ModelSpec) -> Float[np.ndarray, "points n"]:
    """All ``2**n`` cube points as ``model`` sees them (float32 numpy, point ``i`` in row ``i``):
    ``cube(model.n_inputs, model.inputs)``, ``{-1,+1}^n`` by default or ``{0,1}^n``."""
    return cube(model.n_inputs, model.inputs)


def forward(model: ModelSpec, params: dict, x: Float[Array, "P n"]) -> Forward:
    """Outputs ``[B, P]`` and sites ``{name: [B, units, P]}`` of a batch of networks on inputs ``x``."""
    return _module(model).forward(model, params, x)


__all__ = ["Forward", "ParamSlot", "activation", "forward", "model_inputs", "n_params", "param_layout"]
