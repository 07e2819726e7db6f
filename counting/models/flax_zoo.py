"""Flax modules to name in ``[model] kind = "flax"`` specs: the built-in MLP, written as a linen module.

:class:`MLP` is :mod:`counting.models.mlp` exactly: dense layers ``layer1 .. layerL`` and ``output``
(pre-activations ``z_l = h_{l-1} W_l + b_l``), the same activations
(:func:`counting.models.layers.activation`), and parameters created in the native order
(``layer1/kernel``, ``layer1/bias``, ..., ``output/bias``), so under the same prior and seed it draws
the same networks as ``kind = "mlp"`` and its sites carry the same names. It is also the pattern
for a user's own module: a linen ``Module`` whose ``__call__(x [P, n])`` returns one scalar per point.

Example:
    >>> import jax, jax.numpy as jnp
    >>> m = MLP(widths=(4,), activation="tanh")
    >>> v = m.init(jax.random.key(0), jnp.ones((8, 3)))
    >>> list(v["params"]), m.apply(v, jnp.ones((8, 3))).shape
    (['layer1', 'output'], (8,))
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
from jaxtyping import Array, Float

from counting.models.layers import activation as activation_fn
from counting.spec.model import ACTIVATIONS


class MLP(nn.Module):
    """A multilayer perceptron with hidden ``widths`` (``()`` is a perceptron) and ``activation``
    (a name of :func:`counting.models.layers.activation`)."""

    widths: Sequence[int] = (40, 40)
    activation: str = "relu"

    def __post_init__(self):  # a bad name fails when the module is built (model.args), not deep in init
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation: expected one of {list(ACTIVATIONS)}, got {self.activation!r}")
        super().__post_init__()

    @nn.compact
    def __call__(self, x: Float[Array, "P n"]) -> Float[Array, "P"]:
        act = activation_fn(self.activation)
        for i, w in enumerate(self.widths, start=1):
            x = act(nn.Dense(w, name=f"layer{i}")(x))
        return nn.Dense(1, name="output")(x)[..., 0]
