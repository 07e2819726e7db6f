"""What the engine asks of what it is handed: a :class:`Reducer`.

A *reducer* is the device half of a tally (:mod:`counting.engine.tally`): a function from one
evaluated block of networks to a small result, declared with what it needs besides the block's
forward (:class:`Reducer`'s fields; the engine reads them, nothing else).

Example:
    >>> import jax.numpy as jnp
    >>> r = as_reducer(lambda fwd, valid: jnp.sum(valid, dtype=jnp.int32))
    >>> r.needs_params, r.needs_facts, r.per_step is None, as_reducer(r) is r
    (False, False, True, True)
    >>> int(apply(r, None, jnp.array([True, False, True]), params=None, facts=None))
    2
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

from jaxtyping import Array, Bool

from counting.models import Forward

Facts = dict[str, Array]  # per-network facts of a source: name -> [B] array (a training run's steps, whether it fitted)


class Reducer(NamedTuple):
    """One evaluated block to a small result on the device, and what it needs besides.

    ``reduce(fwd, valid)``: ``fwd`` the block's :class:`~counting.models.Forward`, ``valid`` which of
    its networks count. With ``needs_params`` it is also handed the block's parameters as a third
    argument (a dict of batched arrays, as :func:`counting.models.forward` takes them; e.g. to
    evaluate lesioned copies); with ``needs_facts`` the source's per-network facts as a keyword
    ``facts`` (a dict of ``[B]`` arrays). With ``per_step``, one device's results of a step (stacked over its
    chunks and their blocks) are finished on the device by ``per_step(stacked)``, which returns
    arrays with a leading axis (the devices' results are concatenated along it): the census sorts
    them there.
    """

    reduce: Callable[..., Any]
    needs_params: bool = False
    needs_facts: bool = False
    per_step: Callable[[Any], Any] | None = None


def as_reducer(reduce: Reducer | Callable[..., Any]) -> Reducer:
    """``reduce`` as a :class:`Reducer` (a bare function needs nothing but the forward and ``valid``)."""
    return reduce if isinstance(reduce, Reducer) else Reducer(reduce)


def apply(r: Reducer, fwd: Forward, valid: Bool[Array, "B"], params: dict | None, facts: Facts | None) -> Any:
    """``r.reduce`` on one block, handed what it declares it needs."""
    extra = {"facts": facts} if r.needs_facts else {}
    if r.needs_params:
        return r.reduce(fwd, valid, params, **extra)
    return r.reduce(fwd, valid, **extra)
