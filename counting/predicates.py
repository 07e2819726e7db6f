"""Predicates on evaluated networks: functions ``Forward -> Bool[B]`` that estimators count.

Example:
    >>> import jax, numpy as np
    >>> from counting.spec import ModelSpec, PriorSpec
    >>> from counting.priors import sample_params
    >>> from counting.models import forward
    >>> from counting.domain import cube
    >>> m = ModelSpec(n_inputs=2, widths=())
    >>> fwd = forward(m, sample_params(jax.random.key(1), m, PriorSpec(), 4), cube(2))
    >>> bool((computes(0x6, 2)(fwd)).any())   # XOR: no perceptron computes it
    False
"""

from __future__ import annotations

from typing import Callable

import jax.numpy as jnp
from jaxtyping import Array, Bool, UInt32

from counting.models import Forward
from counting.truth import int_to_words, pack

Predicate = Callable[[Forward], Bool[Array, "B"]]


def truth_tables(fwd: Forward) -> UInt32[Array, "B words"]:
    """Packed truth table of each network: bit ``i`` is ``output(x_i) > 0``."""
    return pack(fwd.output > 0)


def computes(truth_table: int, n: int) -> Predicate:
    """Predicate "the network computes the function with this truth table"."""
    target = jnp.asarray(int_to_words(truth_table, n))

    def pred(fwd: Forward) -> Bool[Array, "B"]:
        return jnp.all(truth_tables(fwd) == target, axis=-1)

    return pred
