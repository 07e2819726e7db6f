"""A flax linen module as a model (``[model] kind = "flax"``): its layout and batched forward pass.

**Layout.** One slot per parameter array, in the order the module creates them on ``init``, named
by tree path (``"Dense_0/kernel"``; for :class:`counting.models.flax_zoo.MLP`, ``"layer1/kernel"``,
``"layer1/bias"``, ... exactly the native MLP's order). The prior's fan-in rule: a leaf named
``bias``, or any leaf of one dimension or none, is a bias (``N(0, sigma_b**2)``); any other array
is a kernel with fan-in the product of all its dimensions but the last (``Dense``: its inputs;
``Conv``: window times input channels), so its entries are ``N(0, sigma_w**2 / fan_in)``.

**Forward.** The batched flat-layout parameters ``{path: [B, *shape]}`` are nested back into the
module's tree and ``module.apply`` is vmapped over the ``B`` networks on the shared cube points.

**Sites.** The output of every ``flax.linen.Dense`` submodule (a pre-activation), units-first
``[B, units, P]``, named by module path (``"layer1"``, ``"Block_0/Dense_1"``; a Dense called more
than once gives ``"path:0"``, ``"path:1"``, ...). Outputs of other layer kinds are not sites.

**Architecture.** :data:`ARCHITECTURE` gives its layout, forward pass and description only: a
module's depth, width, stages, residual blocks and NNGP limit are not known to the package.

Example:
    >>> import jax
    >>> from counting.spec import ScaledPrior
    >>> from counting.spec.model import parse_model
    >>> from counting.engine.priors import sample_params
    >>> from counting.models import model_inputs
    >>> m = parse_model({"kind": "flax", "module": "counting.models.flax_zoo:MLP", "args": {"widths": [4]}})
    >>> layout(m)
    (ParamSlot(name='layer1/kernel', shape=(3, 4), fan_in=3), ParamSlot(name='layer1/bias', shape=(4,), fan_in=None), ParamSlot(name='output/kernel', shape=(4, 1), fan_in=4), ParamSlot(name='output/bias', shape=(1,), fan_in=None))
    >>> out = forward(m, sample_params(jax.random.key(0), m, ScaledPrior(), batch=2), model_inputs(m))
    >>> out.output.shape, {k: v.shape for k, v in out.sites.items()}
    ((2, 8), {'layer1': (2, 4, 8), 'output': (2, 1, 8)})
    >>> describe(m), describe(m, "citation")
    ('3-input flax counting.models.flax_zoo:MLP(widths=(4,))', '3-input flax module counting.models.flax_zoo:MLP(widths=(4,))')
"""

from __future__ import annotations

import functools
import math

import flax.linen as nn
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

import counting.spec.flax_module as flax_module
from counting.models.layers import Architecture, Forward, ParamSlot


def fan_in(path: str, shape: tuple[int, ...]) -> int | None:
    """The fan-in of the parameter at ``path``: ``None`` for a bias (named ``bias``, or at most 1-d),
    else the product of all dimensions but the last."""
    if path.rsplit("/", 1)[-1] == "bias" or len(shape) <= 1:
        return None
    return math.prod(shape[:-1])


@functools.lru_cache(maxsize=64)
def layout(model) -> tuple[ParamSlot, ...]:
    """The ordered parameter arrays of one network (this order fixes the random stream)."""
    params = flax_module.parameters(model.module, model.args, model.n_inputs, model.inputs)
    return tuple(ParamSlot(path, shape, fan_in(path, shape)) for path, shape in params)


def nest(flat: dict) -> dict:
    """``{"a/b": x}`` to ``{"a": {"b": x}}``: flat layout names back into the module's tree."""
    tree: dict = {}
    for path, value in flat.items():
        *parents, leaf = path.split("/")
        node = tree
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return tree


def is_dense(module: nn.Module, method: str) -> bool:
    """Which calls become sites: ``Dense.__call__``."""
    return isinstance(module, nn.Dense) and method == "__call__"


def dense_sites(intermediates: dict, points: int) -> dict[str, Array]:
    """Captured Dense outputs ``[B, P, *units]`` as sites ``{path: [B, units, P]}``."""
    sites = {}
    for path, value in flax_module.leaves(intermediates):
        name, _, method = path.rpartition("/")
        calls = value if isinstance(value, tuple) else (value,)
        if method != "__call__" or not calls:
            continue
        name = name or "output"  # the whole module is one Dense
        for i, out in enumerate(calls):
            if out.ndim >= 2 and out.shape[1] == points:
                site = out.reshape(out.shape[0], points, -1).transpose(0, 2, 1)
                sites[name if len(calls) == 1 else f"{name}:{i}"] = site
    return sites


def forward(model, params: dict, x: Float[Array, "P n"]) -> Forward:
    """Outputs ``[B, P]`` and Dense sites ``{path: [B, units, P]}`` of a batch of networks on ``x``."""
    module = flax_module.build(model.module, model.args, "model")
    x = jnp.asarray(x)
    points = x.shape[0]

    def one(p):
        out, state = module.apply({"params": nest(p)}, x, capture_intermediates=is_dense, mutable=["intermediates"])
        return out.reshape(points), state.get("intermediates", {})

    out, intermediates = jax.vmap(one)(params)
    return Forward(out, dense_sites(intermediates, points))


def describe(model, style: str = "short") -> str:
    """The input count, the module and its arguments: ``"3-input flax package.module:Class(a=1)"``
    (short) or ``"3-input flax module package.module:Class(a=1)"`` (citation)."""
    args = ", ".join(f"{k}={v!r}" for k, v in sorted(model.args.items()))
    return f"{model.n_inputs}-input flax {'' if style == 'short' else 'module '}{model.module}({args})"


ARCHITECTURE = Architecture("flax", layout, forward, describe)
