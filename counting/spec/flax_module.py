"""A flax module named in a spec: imported, built, and initialised on the cube (shapes only).

``[model] kind = "flax"`` names a ``flax.linen.Module`` class as ``"package.module:ClassName"`` (or
``"package.module.ClassName"``) and its keyword arguments. :func:`check` does everything that can
fail, each failure a one-line :class:`~counting.spec.errors.SpecError` naming the field, before any
work: the class cannot be imported or is not a linen Module (``model.module``), the arguments are
refused by its constructor (``model.args``), ``init`` fails on the ``[2**n, n]`` cube points, the
module keeps variables other than ``params`` or has none, or its output is not one scalar per point
(``model.module``). Importing the class runs its module's code, as any Python import does.

:func:`parameters` lists the parameter arrays in the order the module creates them (its first
``init`` call), each with its tree path (``"layer1/kernel"``): that order is the model's layout, so
it fixes the random stream. Nothing is computed: ``init`` runs under ``jax.eval_shape``.

Example:
    >>> from counting.spec.model import Args
    >>> parameters("counting.models.flax_zoo:MLP", Args(widths=(4,), activation="relu"), 3, "pm1")
    (('layer1/kernel', (3, 4)), ('layer1/bias', (4,)), ('output/kernel', (4, 1)), ('output/bias', (1,)))
    >>> check("counting.models.flax_zoo:MLP", Args(depth=2), 3, "pm1")
    Traceback (most recent call last):
    ...
    counting.spec.errors.SpecError: model.args: expected keyword arguments that MLP accepts (TypeError: ...), got {'depth': 2}
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Mapping
from typing import Any, Iterator

import flax.linen as nn
import jax
import jax.numpy as jnp

from counting.boolean.cube import cube
from counting.spec.errors import SpecError


def reason(e: BaseException) -> str:
    """An exception as one short line: its type and the first line of its message."""
    lines = str(e).strip().splitlines()
    text = f"{type(e).__name__}: {lines[0]}" if lines else type(e).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def resolve(path: str, where: str = "model") -> type:
    """The ``flax.linen.Module`` subclass named ``"package.module:ClassName"`` or ``"package.module.ClassName"``."""
    field = f"{where}.module"
    mod_name, sep, attr = path.partition(":")
    if not sep:
        mod_name, _, attr = path.rpartition(".")
    if not mod_name or not attr:
        raise SpecError(field, "a flax module class as 'package.module:ClassName'", path)
    try:
        obj = importlib.import_module(mod_name)
    except Exception as e:
        raise SpecError(field, f"an importable module ({reason(e)})", path) from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise SpecError(field, f"a class {attr!r} in module {mod_name!r}", path)
        obj = getattr(obj, part)
    if not (isinstance(obj, type) and issubclass(obj, nn.Module)):
        raise SpecError(field, "a flax.linen.Module subclass", path)
    return obj


@functools.lru_cache(maxsize=64)
def build(path: str, args: Mapping[str, Any], where: str = "model") -> nn.Module:
    """The module ``path`` built with keyword arguments ``args`` (hashable; built once per pair;
    ``where`` names the spec section in errors, and is part of the cache key: pass it positionally)."""
    cls = resolve(path, where)
    try:
        return cls(**args)
    except Exception as e:
        raise SpecError(f"{where}.args", f"keyword arguments that {cls.__name__} accepts ({reason(e)})",
                        dict(args)) from None


def leaves(tree: Mapping, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    """``(path, leaf)`` of a nested dict in insertion order (paths joined with ``/``)."""
    for k, v in tree.items():
        if isinstance(v, Mapping):
            yield from leaves(v, prefix + (str(k),))
        else:
            yield "/".join(prefix + (str(k),)), v


@functools.lru_cache(maxsize=64)
def abstract_init(path: str, args: Mapping[str, Any], n_inputs: int, inputs: str, where: str = "model"):
    """``(params, collections, output shape)`` of the module's ``init`` on the cube, shapes only:
    ``params`` is ``((path, shape), ...)`` in creation order."""
    module = build(path, args, where)
    x = jnp.asarray(cube(n_inputs, inputs))
    names: list[str] = []  # the paths, read while tracing: eval_shape's output dicts come back key-sorted
    collections: list[str] = []

    def init(key):
        out, variables = module.init_with_output({"params": key}, x)
        params = list(leaves(variables.get("params", {})))
        names[:], collections[:] = [p for p, _ in params], sorted(variables)
        return out, [a for _, a in params]

    try:
        out, shapes = jax.eval_shape(init, jax.random.key(0))
    except Exception as e:
        raise SpecError(f"{where}.module", f"a module whose init runs on the {x.shape[0]} x {n_inputs} cube "
                        f"points with these args ({reason(e)})", path) from None
    params = tuple((p, tuple(int(d) for d in a.shape)) for p, a in zip(names, shapes))
    return params, tuple(collections), out


def parameters(path: str, args: Mapping[str, Any], n_inputs: int, inputs: str) -> tuple[tuple[str, tuple], ...]:
    """The module's parameter arrays, ``((path, shape), ...)`` in the order the module creates them."""
    return abstract_init(path, args, n_inputs, inputs, "model")[0]


def check(path: str, args: Mapping[str, Any], n_inputs: int, inputs: str, where: str = "model") -> None:
    """Everything about the named module that can fail, as one-line errors, before any work."""
    params, collections, out = abstract_init(path, args, n_inputs, inputs, where)
    if any(c != "params" for c in collections):
        raise SpecError(f"{where}.module", "a module whose only variables are 'params'", list(collections))
    if not params:
        raise SpecError(f"{where}.module", "a module with at least one parameter", path)
    points = 2**n_inputs
    shape = getattr(out, "shape", None)
    if shape not in ((points,), (points, 1)) or not jnp.issubdtype(out.dtype, jnp.floating):
        got = f"{type(out).__name__} {shape} {getattr(out, 'dtype', '')}".strip()
        raise SpecError(f"{where}.module", f"one float output per input point, shape ({points},) or ({points}, 1)",
                        got)
