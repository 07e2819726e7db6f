"""The training set S: its cube points, inputs and +-1 labels, and "agrees with the target on S".

S is ``[training] train_points`` as given, or ``m`` distinct points drawn from ``train_seed``: the
first ``m`` of a random permutation of the cube by key ``fold_in(key(train_seed), SET_STREAM)``
(the tag keeps S's draws apart from any network's, which use ``fold_in(key(seed), chunk)``),
sorted. Labels are the target's truth table on S: ``y = +1`` where ``f(x) = 1``, else ``-1``.

Example:
    >>> from counting.spec import parse_spec
    >>> spec = parse_spec("[model]\\nn_inputs=2\\nwidths=[]\\n[target]\\nname='and'\\n"
    ...                   "[training]\\ntrain_points=[3, 0]")
    >>> s = training_set(spec)
    >>> s.points.tolist(), s.x.tolist(), s.y.tolist()
    ([0, 3], [[-1.0, -1.0], [1.0, 1.0]], [-1.0, 1.0])
    >>> len(training_points(parse_spec("[model]\\nn_inputs=3\\n[target]\\nname='and'\\n[training]\\nm=5")
    ...                     .training, 3))
    5
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float, Int

from counting.boolean.tables import int_to_words, to_bits
from counting.mechanisms.predicates import Predicate, truth_tables
from counting.models import model_inputs
from counting.models.layers import Forward
from counting.spec.job import Spec
from counting.spec.training import TrainingSpec

SET_STREAM = 0x5345545F  # "SET_": fold_in tag of the training set's key


class TrainingSet(NamedTuple):
    """S as the model sees it: sorted cube points, their inputs ``[m, n]`` and labels ``[m]`` (+-1)."""

    points: Int[np.ndarray, "m"]
    x: Float[np.ndarray, "m n"]
    y: Float[np.ndarray, "m"]


def training_points(t: TrainingSpec, n_inputs: int) -> Int[np.ndarray, "m"]:
    """The sorted cube points of S."""
    if t.train_points is not None:
        return np.asarray(t.train_points, np.int64)
    key = jax.random.fold_in(jax.random.key(t.train_seed, impl="threefry2x32"), SET_STREAM)
    order = np.asarray(jax.random.permutation(key, 2**n_inputs))
    return np.sort(order[: t.m]).astype(np.int64)


def training_set(spec: Spec) -> TrainingSet:
    """S of a spec with ``[training]``, labelled by its target, in the model's input encoding."""
    points = training_points(spec.training, spec.model.n_inputs)
    x = np.asarray(model_inputs(spec.model), np.float32)[points]
    bits = to_bits(spec.target.truth_table, spec.model.n_inputs)[points]
    return TrainingSet(points, x, np.where(bits, 1.0, -1.0).astype(np.float32))


def set_mask(points: Int[np.ndarray, "m"], n_inputs: int) -> np.ndarray:
    """S as packed words: bit ``i`` set iff point ``i`` is in S."""
    return int_to_words(sum(1 << int(p) for p in points), n_inputs)


def agrees_on(truth_table: int, points: Int[np.ndarray, "m"], n_inputs: int) -> Predicate:
    """Networks whose function equals ``truth_table`` on ``points`` (every network, if S is empty)."""
    mask = jnp.asarray(set_mask(points, n_inputs))
    want = jnp.asarray(int_to_words(truth_table, n_inputs)) & mask

    def holds(fwd: Forward) -> Bool[Array, "B"]:
        return jnp.all((truth_tables(fwd) & mask) == want, axis=-1)

    return holds


def agrees_on_set(spec: Spec) -> Predicate:
    """:func:`agrees_on` the spec's target and S."""
    return agrees_on(spec.target.truth_table, training_points(spec.training, spec.model.n_inputs),
                     spec.model.n_inputs)

