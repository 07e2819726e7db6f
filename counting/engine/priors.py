"""Priors over parameters: one flat standard draw per network, scaled per parameter.

Each network draws ``n_params`` i.i.d. standard values from its own key (standard normal for
``gaussian``; uniform on ``[-sqrt(3), sqrt(3)]``, also unit variance, for ``uniform``), then weight
entries are multiplied by ``sigma_w / sqrt(fan_in)`` and biases by ``sigma_b``. So both priors have
weight variance ``sigma_w**2 / fan_in`` and bias variance ``sigma_b**2``; the readout is scaled the
same way.

Example:
    >>> import jax
    >>> from counting.spec import MLPSpec, ScaledPrior
    >>> p = sample_params(jax.random.key(0), MLPSpec(n_inputs=2, widths=()), ScaledPrior(), batch=3)
    >>> sorted(p), p["output.w"].shape
    (['output.b', 'output.w'], (3, 2, 1))
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Key

from counting.models import param_layout
from counting.spec.model import ModelSpec
from counting.spec.prior import PRIOR_KINDS, PriorSpec

SQRT3 = math.sqrt(3.0)


def scale_vector(model: ModelSpec, prior: PriorSpec) -> np.ndarray:
    """Per-parameter scales, in :func:`param_layout` order (all 1 for discrete priors)."""
    if prior.discrete:
        return np.ones(sum(int(np.prod(s.shape)) for s in param_layout(model)), np.float32)
    parts = []
    for slot in param_layout(model):
        size = int(np.prod(slot.shape))
        sd = prior.sigma_b if slot.fan_in is None else prior.sigma_w / math.sqrt(slot.fan_in)
        parts.append(np.full(size, sd, np.float32))
    return np.concatenate(parts)


def standard_draw(key: Key[Array, ""], kind: str, size: int, max_abs: int = 1) -> Float[Array, "size"]:
    """``size`` i.i.d. values from ``key``: unit-variance for continuous priors, integers in
    ``-max_abs .. max_abs`` for discrete ones."""
    if kind in ("ternary", "integer"):
        return jax.random.randint(key, (size,), -max_abs, max_abs + 1).astype(jnp.float32)
    if kind == "gaussian":
        return jax.random.normal(key, (size,), jnp.float32)
    if kind == "uniform":
        return jax.random.uniform(key, (size,), jnp.float32, -SQRT3, SQRT3)
    raise ValueError(f"prior.kind: expected one of {list(PRIOR_KINDS)}, got {kind!r}")


def unflatten(model: ModelSpec, flat: Float[Array, "B n_params"]) -> dict:
    """Split scaled flat parameters ``[B, n_params]`` into the named arrays of the layout."""
    out, o = {}, 0
    for slot in param_layout(model):
        size = int(np.prod(slot.shape))
        out[slot.name] = flat[:, o : o + size].reshape((flat.shape[0],) + slot.shape)
        o += size
    return out


def draw_flat(keys: Key[Array, "B"], model: ModelSpec, prior: PriorSpec) -> Float[Array, "B n_params"]:
    """Scaled flat parameters of one network per key."""
    scale = jnp.asarray(scale_vector(model, prior))
    max_abs = prior.max_abs if prior.discrete else 1
    z = jax.vmap(lambda k: standard_draw(k, prior.kind, scale.shape[0], max_abs))(keys)
    return z * scale


def sample_params(key: Key[Array, ""], model: ModelSpec, prior: PriorSpec, batch: int) -> dict:
    """``batch`` networks from the prior; network ``i`` uses ``fold_in(key, i)``."""
    keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(batch, dtype=jnp.uint32))
    return unflatten(model, draw_flat(keys, model, prior))
