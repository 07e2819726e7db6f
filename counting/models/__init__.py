"""Models: batched forward passes over the whole cube, with named internal sites.

One module per architecture (:mod:`counting.models.mlp`, :mod:`counting.models.resmlp`), each with
``layout`` (the ordered parameter arrays, which fixes the random stream) and ``forward`` (outputs
``[B, points]`` and pre-activation sites ``[B, units, points]``), and an ``ARCHITECTURE``
(:class:`~counting.models.layers.Architecture`): everything else the package asks of an
architecture (its description, depth and width, stages, residual blocks, NNGP recursion).
:func:`architecture` looks it up by ``model.kind`` and is the only place that does: a new
architecture is one new module and one line in ``_ARCHITECTURES``, and an unknown kind is a
one-line :class:`~counting.spec.SpecError`. :func:`supporting` is the architecture of a model that
must have some feature (a one-line error naming the kinds that have it otherwise).
``kind = "flax"`` (:mod:`counting.models.flax_model`, any flax linen module) is imported on first
use, so that processes that never name one do not pay for importing flax.
:func:`describe_model` is the one description of a model (the command line, manifests, tables and
the citation). :func:`model_inputs` gives the points a model is evaluated on: the cube in the
model's ``inputs`` encoding (every place that evaluates a model on the cube takes its points from it).

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
    >>> describe_model(m), describe_model(MLPSpec(n_inputs=2, widths=(), inputs="01"), "citation")
    ('3-4-1 mlp, relu', '2-1 relu MLP on {0,1} inputs')
    >>> architecture(m).first_stage, kinds_with("residual")
    (1, ('resmlp',))
    >>> supporting(m, "residual", "blocks to lesion")
    Traceback (most recent call last):
    ...
    counting.spec.errors.SpecError: model.kind: expected 'resmlp' (blocks to lesion), got 'mlp'
    >>> architecture("transformer")
    Traceback (most recent call last):
    ...
    counting.spec.errors.SpecError: model.kind: expected one of ['mlp', 'resmlp', 'flax'], got 'transformer'
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
from jaxtyping import Array, Float

from counting.boolean.cube import cube
import counting.models.mlp as mlp
import counting.models.resmlp as resmlp
from counting.models.layers import Architecture, Forward, ParamSlot, activation
from counting.spec.errors import SpecError
from counting.spec.model import ModelSpec


def _flax() -> Architecture:
    import counting.models.flax_model as flax_model  # flax is imported only by processes that name it

    return flax_model.ARCHITECTURE


_ARCHITECTURES: dict[str, Callable[[], Architecture]] = {
    "mlp": lambda: mlp.ARCHITECTURE,
    "resmlp": lambda: resmlp.ARCHITECTURE,
    "flax": _flax,
}
KINDS = tuple(_ARCHITECTURES)
ENCODING_NOTES = {"short": ", {0,1} inputs", "citation": " on {0,1} inputs"}  # a description's note on "01" inputs


def architecture(model: ModelSpec | str) -> Architecture:
    """The architecture of ``model`` (or of the kind named ``model``); an unknown kind is a one-line error."""
    kind = model if isinstance(model, str) else getattr(model, "kind", None)
    if kind not in _ARCHITECTURES:
        raise SpecError("model.kind", f"one of {list(KINDS)}", kind)
    return _ARCHITECTURES[kind]()


def has(arch: Architecture, feature: str) -> bool:
    """Whether ``arch`` has ``feature`` (a field of :class:`~counting.models.layers.Architecture`
    that is neither ``None`` nor ``False``)."""
    return getattr(arch, feature) not in (None, False)


def kinds_with(feature: str) -> tuple[str, ...]:
    """The model kinds whose architecture has ``feature``."""
    return tuple(k for k in KINDS if has(architecture(k), feature))


def supporting(model: ModelSpec | str, feature: str, why: str) -> Architecture:
    """The architecture of ``model``, which must have ``feature`` (``why`` says who needs it): a one-line
    :class:`~counting.spec.SpecError` naming ``model.kind`` and the kinds that have it otherwise, or
    the architecture's own where this model of the kind lacks it (``check_feature``: a flax module
    must end in the readout ``Dense`` to have ``readout_features``)."""
    arch = architecture(model)
    if not has(arch, feature):
        raise SpecError("model.kind", f"{' or '.join(map(repr, kinds_with(feature)))} ({why})", arch.kind)
    if arch.check_feature is not None and not isinstance(model, str):
        arch.check_feature(model, feature)
    return arch


def describe_model(model: ModelSpec, style: str = "short") -> str:
    """The one description of ``model``: ``style`` ``"short"`` (``'3-40-40-1 mlp, relu'``: the command
    line, manifests, tables) or ``"citation"`` (``'3-40-40-1 relu MLP'``: a phrase of the citable
    sentence), each noting the ``{0,1}`` encoding of the inputs when the model has it."""
    arch = architecture(model)
    if style not in ENCODING_NOTES:
        raise ValueError(f"style: expected one of {list(ENCODING_NOTES)}, got {style!r}")
    return arch.describe(model, style) + (ENCODING_NOTES[style] if model.inputs == "01" else "")


def param_layout(model: ModelSpec) -> tuple[ParamSlot, ...]:
    """The ordered parameter arrays of one network."""
    return architecture(model).layout(model)


def n_params(model: ModelSpec) -> int:
    """Number of scalar parameters of one network."""
    return sum(math.prod(s.shape) for s in param_layout(model))


def model_inputs(model: ModelSpec) -> Float[np.ndarray, "points n"]:
    """All ``2**n`` cube points as ``model`` sees them (float32 numpy, point ``i`` in row ``i``):
    ``cube(model.n_inputs, model.inputs)``, ``{-1,+1}^n`` by default or ``{0,1}^n``."""
    return cube(model.n_inputs, model.inputs)


def forward(model: ModelSpec, params: dict, x: Float[Array, "P n"]) -> Forward:
    """Outputs ``[B, P]`` and sites ``{name: [B, units, P]}`` of a batch of networks on inputs ``x``."""
    return architecture(model).forward(model, params, x)


__all__ = ["KINDS", "Architecture", "Forward", "ParamSlot", "activation", "architecture", "describe_model", "forward",
           "has", "kinds_with", "model_inputs", "n_params", "param_layout", "supporting"]
