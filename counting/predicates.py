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

from dataclasses import dataclass
from typing import Callable

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float, UInt32

from counting.models import Forward
from counting.truth import int_to_words, pack

Predicate = Callable[[Forward], Bool[Array, "B"]]


def truth_tables(fwd: Forward) -> UInt32[Array, "B words"]:
    """Packed truth table of each network: bit ``i`` is ``output(x_i) > 0``."""
    return pack(fwd.output > 0)


def signs_of(truth_table: int, n: int) -> np.ndarray:
    """``+1`` where bit ``i`` of the truth table is set, else ``-1`` (one entry per cube point)."""
    return np.array([1.0 if (truth_table >> i) & 1 else -1.0 for i in range(2**n)], np.float32)


@dataclass(frozen=True)
class Condition:
    """A predicate with a continuous score for rare-event estimators.

    ``holds(fwd)`` is the predicate; ``score(fwd)`` is 0 wherever it holds and negative elsewhere
    except on a boundary of measure zero, growing towards 0 as the network gets closer. Estimators
    use ``score`` to climb and ``holds`` for the final count, so the boundary never counts.
    Calling a condition is ``holds``, so it is a :data:`Predicate` too.
    """

    holds: Predicate
    score: Callable[[Forward], Float[Array, "B"]]

    def __call__(self, fwd: Forward) -> Bool[Array, "B"]:
        return self.holds(fwd)


def computes(truth_table: int, n: int) -> Condition:
    """"The network computes this function". Score: ``-sum_i min(y_i out(x_i), 0)**2`` with
    ``y_i = +-1`` the target's sign at point ``i``: the squared violated margins."""
    target = jnp.asarray(int_to_words(truth_table, n))
    y = jnp.asarray(signs_of(truth_table, n))

    def holds(fwd: Forward) -> Bool[Array, "B"]:
        return jnp.all(truth_tables(fwd) == target, axis=-1)

    def score(fwd: Forward) -> Float[Array, "B"]:
        return -jnp.sum(jnp.minimum(y * fwd.output, 0.0) ** 2, axis=-1)

    return Condition(holds, score)
