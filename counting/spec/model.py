"""Model sections: a tagged union of architectures, each with only its own fields.

``[model] kind = "mlp"`` (the default) takes ``n_inputs``, ``widths`` and ``activation``;
``kind = "resmlp"`` takes ``n_inputs``, ``width``, ``depth``, ``hidden`` and ``activation``. A field
of another kind is an error, so ``depth = 8`` without ``kind = "resmlp"`` never silently gives an MLP.
Both take ``inputs``, the encoding of the cube the network sees: ``"pm1"`` (the default,
``x_j = ±1``) or ``"01"`` (``x_j`` in ``{0, 1}``); see :func:`counting.boolean.cube.cube`.

Example:
    >>> parse_model({"n_inputs": 3, "widths": [8]})
    MLPSpec(n_inputs=3, widths=(8,), activation='relu', inputs='pm1', kind='mlp')
    >>> describe_model(parse_model({"n_inputs": 2, "widths": [], "inputs": "01"}))
    '2-1 mlp, relu, {0,1} inputs'
    >>> parse_model({"depth": 8})
    Traceback (most recent call last):
    ...
    counting.spec.errors.SpecError: model.depth: expected one of the known keys for kind 'mlp' ['activation', 'inputs', 'kind', 'n_inputs', 'widths'], got 'unknown key'
"""

from __future__ import annotations

from dataclasses import dataclass, field

from counting.boolean.cube import ENCODINGS
from counting.spec.errors import SpecError, check_keys, choice, integer, kind_of

ACTIVATIONS = ("relu", "tanh", "erf", "gelu", "step", "sign")
MODEL_KINDS = ("mlp", "resmlp")
MAX_INPUTS = 12


@dataclass(frozen=True)
class MLPSpec:
    """A multilayer perceptron with hidden ``widths`` (``()`` is a perceptron)."""

    n_inputs: int = 3
    widths: tuple[int, ...] = (40, 40)
    activation: str = "relu"
    inputs: str = "pm1"  # the cube's encoding: "pm1" ({-1,+1}^n) or "01" ({0,1}^n)
    kind: str = field(default="mlp", init=False)


@dataclass(frozen=True)
class ResMLPSpec:
    """A residual MLP: an embedding to ``width``, ``depth`` blocks of inner width ``hidden``."""

    n_inputs: int = 3
    width: int = 16
    depth: int = 2
    hidden: int = 16
    activation: str = "relu"
    inputs: str = "pm1"  # the cube's encoding: "pm1" ({-1,+1}^n) or "01" ({0,1}^n)
    kind: str = field(default="resmlp", init=False)


ModelSpec = MLPSpec | ResMLPSpec


def parse_model(t: dict, where: str = "model") -> ModelSpec:
    """Validate a ``[model]`` table."""
    kind = kind_of(t, where, MODEL_KINDS, "mlp")
    cls = MLPSpec if kind == "mlp" else ResMLPSpec
    allowed = {f for f in cls.__dataclass_fields__}
    check_keys(t, allowed, where, f" for kind {kind!r}")
    n = integer(t.get("n_inputs", 3), f"{where}.n_inputs", 1, MAX_INPUTS)
    act = choice(t.get("activation", "relu"), f"{where}.activation", ACTIVATIONS)
    inputs = choice(t.get("inputs", "pm1"), f"{where}.inputs", ENCODINGS)
    if kind == "mlp":
        widths = t.get("widths", [40, 40])
        if not isinstance(widths, list):
            raise SpecError(f"{where}.widths", "a list of positive integers ([] for a perceptron)", widths)
        widths = tuple(integer(w, f"{where}.widths[{i}]", 1) for i, w in enumerate(widths))
        return MLPSpec(n, widths, act, inputs)
    width = integer(t.get("width", 16), f"{where}.width", 1)
    depth = integer(t.get("depth", 2), f"{where}.depth", 0)
    hidden = integer(t.get("hidden", width), f"{where}.hidden", 1)
    return ResMLPSpec(n, width, depth, hidden, act, inputs)


def describe_model(m: ModelSpec) -> str:
    """A short human description, e.g. ``'3-40-40-1 mlp, relu'`` (``', {0,1} inputs'`` added for that encoding)."""
    enc = ", {0,1} inputs" if m.inputs == "01" else ""
    if m.kind == "mlp":
        return f"{m.n_inputs}-" + "".join(f"{w}-" for w in m.widths) + f"1 mlp, {m.activation}{enc}"
    return f"resmlp n={m.n_inputs} width={m.width} depth={m.depth} hidden={m.hidden}, {m.activation}{enc}"
