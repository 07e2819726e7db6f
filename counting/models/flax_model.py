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

**Readout.** The readout estimators (``[estimator] kind = "readout"``, ``"readout_smc"``, and the
posterior's draws) integrate out a linear readout, so they take a module whose output is one
``flax.linen.Dense``'s, nothing applied after it (a reshape or ``[..., 0]`` to one scalar per point
is fine): the ``Dense`` whose ``kernel`` ``[F, 1]`` and ``bias`` ``[1]`` are the last two slots of
the layout (the last parameters the module creates), called once on features ``[P, F]``. The
forward keeps that ``Dense``'s input (read by a method interceptor, no site: sites and counts are
unchanged) as :attr:`~counting.models.layers.Forward.features`, ``[B, F, P]``, which
:func:`readout_features` returns. The fan-in rule gives that ``Dense`` the prior the readout
covariance assumes: weights ``N(0, sigma_w**2 / F)``, bias ``N(0, sigma_b**2)``.
:func:`check_readout`, asked once per model through :func:`counting.models.supporting`, refuses
any other module in one line naming ``model.module``: last two parameters not a ``Dense``'s
``kernel [F, 1]`` and ``bias [1]`` (no bias, a wider readout, a hand-written layer), the ``Dense``
called more than once, or an output that is not its output (checked on random networks to float
tolerance: a nonlinearity or a scale after it). :class:`counting.models.flax_zoo.MLP` qualifies,
and reads the native MLP's features.

**Architecture.** :data:`ARCHITECTURE` gives its layout, forward pass, description and readout
features: a module's depth, width, stages, residual blocks and NNGP limit are not known to the package.

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
    >>> readout_features(m, out, model_inputs(m)).shape      # what "output" reads: layer1's activations
    (2, 4, 8)
    >>> describe(m), describe(m, "citation")
    ('3-input flax counting.models.flax_zoo:MLP(widths=(4,))', '3-input flax module counting.models.flax_zoo:MLP(widths=(4,))')
"""

from __future__ import annotations

import functools
import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

import counting.spec.flax_module as flax_module
from counting.boolean.cube import cube
from counting.models.layers import Architecture, Forward, ParamSlot
from counting.spec.errors import SpecError


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


def readout_path(model) -> tuple[str, ...] | None:
    """The module path of the readout, the module whose ``kernel`` ``[F, 1]`` and ``bias`` ``[1]``
    are the layout's last two slots (``("output",)``; ``()`` for a module that is one Dense), or
    ``None`` where the last two slots are not those."""
    slots = layout(model)
    if len(slots) < 2:
        return None
    kernel, bias = slots[-2:]
    k_path, _, k_leaf = kernel.name.rpartition("/")
    b_path, _, b_leaf = bias.name.rpartition("/")
    if (k_leaf, b_leaf) != ("kernel", "bias") or k_path != b_path or len(kernel.shape) != 2 \
            or kernel.shape[1] != 1 or bias.shape != (1,):
        return None
    return tuple(k_path.split("/")) if k_path else ()


def apply_one(module: nn.Module, p: dict, x: Array, readout: tuple[str, ...] | None, capture=is_dense):
    """One network's output, its captured intermediates, and the inputs of every call of a module at
    path ``readout`` as ``[(module, input), ...]`` (read by a method interceptor; nothing is named a site)."""
    calls: list = []

    def keep(next_fun, args, kwargs, context):
        if context.method_name == "__call__" and context.module.path == readout:
            calls.append((context.module, args[0] if args else kwargs.get("inputs")))
        return next_fun(*args, **kwargs)

    with nn.intercept_methods(keep):
        out, state = module.apply({"params": nest(p)}, x, capture_intermediates=capture, mutable=["intermediates"])
    return out, state.get("intermediates", {}), calls


def readout_input(calls: list, points: int, fan_in: int):
    """The readout's features ``[P, F]`` where a Dense at its path was called exactly once on them, else ``None``."""
    if len(calls) != 1:
        return None
    module, inputs = calls[0]
    ok = isinstance(module, nn.Dense) and getattr(inputs, "shape", None) == (points, fan_in)
    return inputs if ok else None


def forward(model, params: dict, x: Float[Array, "P n"]) -> Forward:
    """Outputs ``[B, P]``, Dense sites ``{path: [B, units, P]}`` and, where the module's last two
    parameters are one Dense's kernel ``[F, 1]`` and bias, that Dense's input ``[B, F, P]`` (the
    :attr:`~counting.models.layers.Forward.features`) of a batch of networks on ``x``."""
    module = flax_module.build(model.module, model.args, "model")
    x = jnp.asarray(x)
    points = x.shape[0]
    readout = readout_path(model)
    fan_in = layout(model)[-2].shape[0] if readout is not None else 0

    def one(p):
        out, intermediates, calls = apply_one(module, p, x, readout)
        return out.reshape(points), intermediates, readout_input(calls, points, fan_in)

    out, intermediates, features = jax.vmap(one)(params)
    return Forward(out, dense_sites(intermediates, points), None if features is None else features.transpose(0, 2, 1))


READOUT_CHECK_NETWORKS = 16  # random networks on which the output must be the readout's (float tolerance)


@functools.lru_cache(maxsize=64)
def check_readout(model) -> None:
    """A one-line :class:`~counting.spec.errors.SpecError` naming ``model.module`` unless the
    module's output is a linear readout of features: its last two parameters are the ``kernel``
    ``[F, 1]`` and ``bias`` ``[1]`` of one ``flax.linen.Dense``, called once on features ``[P, F]``,
    whose output is the module's output (nothing applied after it; checked on
    :data:`READOUT_CHECK_NETWORKS` random networks). Shapes come from the layout; the check runs
    small forward passes, once per model."""
    field, name = "model.module", model.module
    slots = layout(model)
    readout = readout_path(model)
    if readout is None:
        got = ", ".join(f"{s.name} {list(s.shape)}" for s in slots[-2:])
        raise SpecError(field, "a module whose last two parameters are the kernel [F, 1] and bias [1] of one "
                        "flax.linen.Dense, its linear readout (for the readout estimators)", f"{name}: {got}")
    where = repr("/".join(readout)) if readout else "(the module itself)"
    fan_in = slots[-2].shape[0]
    module = flax_module.build(model.module, model.args, "model")
    x = cube(model.n_inputs, model.inputs)  # numpy, as the parameters: no value of an enclosing trace
    points = x.shape[0]
    rng = np.random.default_rng(0)  # numpy: nothing to compile
    params = {s.name: (rng.standard_normal((READOUT_CHECK_NETWORKS, *s.shape))
                       / math.sqrt(s.fan_in or 1)).astype(np.float32) for s in slots}
    calls: list = []  # (the module at the readout's path, the shape of its input), per call

    def trace(p):
        _, _, seen = apply_one(module, p, x, readout, capture=False)
        calls.extend((m, getattr(inputs, "shape", None)) for m, inputs in seen)
        return jnp.zeros(())

    jax.eval_shape(trace, {k: v[0] for k, v in params.items()})  # shapes only
    if not calls or not isinstance(calls[0][0], nn.Dense):
        got = type(calls[0][0]).__name__ if calls else "never called"
        raise SpecError(field, f"a module whose readout {where} (its last two parameters) is a flax.linen.Dense "
                        "(for the readout estimators)", f"{name}: {got}")
    if len(calls) != 1:
        raise SpecError(field, f"a module whose readout Dense {where} is called once (for the readout "
                        "estimators)", f"{name}: called {len(calls)} times")
    if calls[0][1] != (points, fan_in):
        raise SpecError(field, f"a module whose readout Dense {where} reads features of shape "
                        f"({points}, {fan_in}), one row per point (for the readout estimators)",
                        f"{name}: {calls[0][1]}")

    def gap(p, x):  # the largest gap between the output and the readout, and the readout's largest value
        fwd = forward(model, p, x)
        out = jnp.einsum("bfp,bf->bp", fwd.features, p[slots[-2].name][:, :, 0]) + p[slots[-1].name]
        return jnp.max(jnp.abs(fwd.output - out)), jnp.max(jnp.abs(out))

    # compiled and called directly: it runs now, even when the check is first asked inside a traced function
    largest, scale = (float(v) for v in jax.jit(gap).lower(params, x).compile()(params, x))
    if not largest <= 1e-4 * (1.0 + scale):
        raise SpecError(field, f"a module whose output is its readout Dense {where}'s output, nothing applied "
                        "after it (for the readout estimators)",
                        f"{name}: output and readout differ by up to {largest:.3g} on a random network")


def check_feature(model, feature: str) -> None:
    """Where ``feature`` is ``readout_features``: :func:`check_readout`."""
    if feature == "readout_features":
        check_readout(model)


def readout_features(model, fwd: Forward, x: Float[Array, "P n"]) -> Float[Array, "B F P"]:
    """What the output reads: the readout Dense's input, as the forward captured it (:func:`check_readout`
    says which modules have one)."""
    if fwd.features is None:
        check_readout(model)  # the one-line reason
        raise ValueError(f"readout_features: a forward of {model.module} without the readout's features")
    return fwd.features


def describe(model, style: str = "short") -> str:
    """The input count, the module and its arguments: ``"3-input flax package.module:Class(a=1)"``
    (short) or ``"3-input flax module package.module:Class(a=1)"`` (citation)."""
    args = ", ".join(f"{k}={v!r}" for k, v in sorted(model.args.items()))
    return f"{model.n_inputs}-input flax {'' if style == 'short' else 'module '}{model.module}({args})"


ARCHITECTURE = Architecture("flax", layout, forward, describe, readout_features=readout_features,
                            check_feature=check_feature)
