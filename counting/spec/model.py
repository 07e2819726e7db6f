"""Model sections: a tagged union of architectures, each with only its own fields.

``[model] kind = "mlp"`` (the default) takes ``n_inputs``, ``widths`` and ``activation``;
``kind = "resmlp"`` takes ``n_inputs``, ``width``, ``depth``, ``hidden`` and ``activation``. A field
of another kind is an error, so ``depth = 8`` without ``kind = "resmlp"`` never silently gives an MLP.
``kind = "flax"`` takes ``module`` (a ``flax.linen.Module`` class, ``"package.module:ClassName"``),
``args`` (a table of its keyword arguments) and ``n_inputs``: the class is imported, built and
initialised on the cube (shapes only) while the spec is read, so a module that cannot be imported,
built or run, or whose output is not one scalar per input point, is a one-line error before any
work (:mod:`counting.spec.flax_module`). All take ``inputs``, the encoding of the cube the network
sees: ``"pm1"`` (the default, ``x_j = ±1``) or ``"01"`` (``x_j`` in ``{0, 1}``); see
:func:`counting.boolean.cube.cube`. What each architecture is (its description, depth, stages, ...)
is said by its module in :mod:`counting.models`.

Example:
    >>> parse_model({"n_inputs": 3, "widths": [8]})
    MLPSpec(n_inputs=3, widths=(8,), activation='relu', inputs='pm1', kind='mlp')
    >>> parse_model({"kind": "resmlp", "depth": 3, "inputs": "01"})
    ResMLPSpec(n_inputs=3, width=16, depth=3, hidden=16, activation='relu', inputs='01', kind='resmlp')
    >>> parse_model({"depth": 8})
    Traceback (most recent call last):
    ...
    counting.spec.errors.SpecError: model.depth: expected one of the known keys for kind 'mlp' ['activation', 'inputs', 'kind', 'n_inputs', 'widths'], got 'unknown key'
    >>> m = parse_model({"kind": "flax", "module": "counting.models.flax_zoo:MLP",
    ...                  "args": {"widths": [8], "activation": "relu"}})
    >>> m.args
    Args({'activation': 'relu', 'widths': (8,)})
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from counting.boolean.cube import ENCODINGS
from counting.spec.errors import SpecError, check_keys, choice, integer, kind_of

ACTIVATIONS = ("relu", "tanh", "erf", "gelu", "step", "sign")
MODEL_KINDS = ("mlp", "resmlp", "flax")
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


class Args(dict):
    """Keyword arguments of a flax module: a read-only, hashable dict (TOML lists become tuples,
    tables become :class:`Args`), so a :class:`FlaxSpec` can key caches and compiled functions,
    and ``dataclasses.asdict`` (a job's identity) still gives a table that parses back the same."""

    def __hash__(self):
        return hash(tuple(sorted(self.items())))

    def __repr__(self):
        return f"Args({dict(self)!r})"

    def __reduce__(self):  # pickle and deepcopy rebuild it whole, never item by item
        return (Args, (list(self.items()),))

    def _read_only(self, *a, **k):
        raise TypeError("Args is read-only")

    __setitem__ = __delitem__ = __ior__ = clear = pop = popitem = setdefault = update = _read_only


def frozen(value: Any) -> Any:
    """A TOML value made hashable: lists to tuples, tables to :class:`Args`, recursively."""
    if isinstance(value, dict):
        return Args(sorted((k, frozen(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(frozen(v) for v in value)
    return value


@dataclass(frozen=True)
class FlaxSpec:
    """A ``flax.linen.Module`` class named ``module`` (``"package.module:ClassName"``), built with the
    keyword arguments ``args``; its ``__call__(x [P, n_inputs])`` gives one scalar per point."""

    module: str = "counting.models.flax_zoo:MLP"
    args: Args = Args()
    n_inputs: int = 3
    inputs: str = "pm1"  # the cube's encoding: "pm1" ({-1,+1}^n) or "01" ({0,1}^n)
    kind: str = field(default="flax", init=False)


ModelSpec = MLPSpec | ResMLPSpec | FlaxSpec


def parse_flax(t: dict, where: str, n: int, inputs: str) -> FlaxSpec:
    """Validate a ``kind = "flax"`` table: the module is imported, built and initialised (shapes only)."""
    import counting.spec.flax_module as flax_module  # here: flax is imported only by specs that name it

    module = t.get("module")
    if not isinstance(module, str) or not module:
        raise SpecError(f"{where}.module", "a flax module class as 'package.module:ClassName'", module)
    args = t.get("args", {})
    if not isinstance(args, dict):
        raise SpecError(f"{where}.args", "a table of the module's keyword arguments", args)
    spec = FlaxSpec(module, frozen(args), n, inputs)
    flax_module.check(spec.module, spec.args, n, inputs, where)
    return spec


def parse_model(t: dict, where: str = "model") -> ModelSpec:
    """Validate a ``[model]`` table."""
    kind = kind_of(t, where, MODEL_KINDS, "mlp")
    cls = {"mlp": MLPSpec, "resmlp": ResMLPSpec, "flax": FlaxSpec}[kind]
    allowed = {f for f in cls.__dataclass_fields__}
    check_keys(t, allowed, where, f" for kind {kind!r}")
    n = integer(t.get("n_inputs", 3), f"{where}.n_inputs", 1, MAX_INPUTS)
    inputs = choice(t.get("inputs", "pm1"), f"{where}.inputs", ENCODINGS)
    if kind == "flax":
        return parse_flax(t, where, n, inputs)
    act = choice(t.get("activation", "relu"), f"{where}.activation", ACTIVATIONS)
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

