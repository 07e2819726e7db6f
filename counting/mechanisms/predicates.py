"""Predicates on evaluated networks: functions ``Forward -> Bool[B]`` that estimators count.

Example:
    >>> import jax, numpy as np
    >>> from counting.spec import MLPSpec, ScaledPrior
    >>> from counting.engine.priors import sample_params
    >>> from counting.models import forward
    >>> from counting.boolean.cube import cube
    >>> m = MLPSpec(n_inputs=2, widths=())
    >>> fwd = forward(m, sample_params(jax.random.key(1), m, ScaledPrior(), 4), cube(2))
    >>> bool((computes(0x6, 2)(fwd)).any())   # XOR: no perceptron computes it
    False
    >>> c = all_of(computes(0x8, 2), negate(computes(0x6, 2)))   # AND, and not XOR
    >>> bool((c(fwd) == computes(0x8, 2)(fwd)).all())
    True
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, UInt32

from counting.boolean.tables import int_to_words, pack, signs_of
from counting.models.layers import Forward

Predicate = Callable[[Forward], Bool[Array, "B"]]


def truth_tables(fwd: Forward) -> UInt32[Array, "B words"]:
    """Packed truth table of each network: bit ``i`` is ``output(x_i) > 0``."""
    return pack(fwd.output > 0)


@dataclass(frozen=True)
class Condition:
    """A predicate with a continuous score for rare-event estimators.

    ``holds(fwd)`` is the predicate; ``score(fwd)`` is 0 wherever it holds and negative elsewhere
    except on a boundary of measure zero, growing towards 0 as the network gets closer. Estimators
    use ``score`` to climb and ``holds`` for the final count, so the boundary never counts.
    ``neg_score`` is the same kind of score for the negation (``None`` if not defined), so that
    :func:`negate` gives a condition rare-event estimators can climb too.
    Calling a condition is ``holds``, so it is a :data:`Predicate` too.
    """

    holds: Predicate
    score: Callable[[Forward], Float[Array, "B"]]
    neg_score: Callable[[Forward], Float[Array, "B"]] | None = None

    def __call__(self, fwd: Forward) -> Bool[Array, "B"]:
        return self.holds(fwd)


def _no_score(fwd: Forward):
    raise ValueError("condition: expected a condition with a score for the negation (this one has none)")


def negate(c: Condition) -> Condition:
    """"Not ``c``"; its score is ``c``'s negation score and the other way round."""
    return Condition(lambda fwd: ~c.holds(fwd), c.neg_score or _no_score, c.score)


def all_of(*conds: Condition) -> Condition:
    """All of ``conds`` hold. Score: the sum of their scores (0 exactly where every one is 0);
    negation score: the largest negation score (the negation is "some one fails")."""
    if not conds:
        raise ValueError("all_of: expected at least one condition")

    def holds(fwd):
        return functools.reduce(jnp.logical_and, [c.holds(fwd) for c in conds])

    def score(fwd):
        return sum(c.score(fwd) for c in conds)

    negs = [c.neg_score for c in conds]
    neg = None if None in negs else (lambda fwd: functools.reduce(jnp.maximum, [s(fwd) for s in negs]))
    return Condition(holds, score, neg)


def any_of(*conds: Condition) -> Condition:
    """At least one of ``conds`` holds. Score: the largest score; negation score: the sum."""
    if not conds:
        raise ValueError("any_of: expected at least one condition")
    return negate(all_of(*[negate(c) for c in conds])) if all(c.neg_score for c in conds) else Condition(
        lambda fwd: functools.reduce(jnp.logical_or, [c.holds(fwd) for c in conds]),
        lambda fwd: functools.reduce(jnp.maximum, [c.score(fwd) for c in conds]),
    )


@functools.lru_cache(maxsize=256)
def computes(truth_table: int, n: int) -> Condition:
    """"The network computes this function". Score: ``-sum_i min(y_i out(x_i), 0)**2`` with
    ``y_i = +-1`` the target's sign at point ``i``: the squared violated margins.

    The same arguments give the same (identical) condition, so everything compiled for it, keyed on
    the condition, is compiled once per process: a fresh condition per call would compile afresh
    every time and keep every compiled program alive."""
    target = jnp.asarray(int_to_words(truth_table, n))
    y = jnp.asarray(signs_of(truth_table, n))

    def holds(fwd: Forward) -> Bool[Array, "B"]:
        return jnp.all(truth_tables(fwd) == target, axis=-1)

    def score(fwd: Forward) -> Float[Array, "B"]:
        return -jnp.sum(jnp.minimum(y * fwd.output, 0.0) ** 2, axis=-1)

    def neg_score(fwd: Forward) -> Float[Array, "B"]:
        # the smallest correct margin: how far the closest point is from flipping
        return -jnp.min(jnp.maximum(y * fwd.output, 0.0), axis=-1) ** 2

    return Condition(holds, score, neg_score)
