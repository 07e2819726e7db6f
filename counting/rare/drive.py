"""The two drivers of a rare-event method: the host loop and the device loop, over one step.

A method (:mod:`counting.rare.smc`, :mod:`counting.rare.subset`) is three pure functions on a
NamedTuple state, written once in ``jax.numpy`` (the shape of blackjax's ``init`` / ``step``):

* ``init(key, problem, settings) -> state``: the prior population of one run;
* ``step(key, state, limit, problem, settings) -> state``: one stage (or level), the run's key
  passed whole (the step folds in its own stage number); a state that is no longer
  ``active`` is returned unchanged, so a batch can step runs that have stopped;
* ``active(state, limit) -> bool``: whether the run goes on (not stopped, under ``limit`` stages).

Both drivers map the method over a batch of keys with ``jax.vmap`` and run the same compiled
``init`` and ``step``; :func:`on_device` loops in a ``lax.while_loop`` (no host round trip per
stage), :func:`on_host` loops in Python (a stage at a time: the run can be watched, and a signal
waits for one stage, not the whole run). For the same keys the two give the same final states,
bit for bit (tested). A run's numbers depend on its key and the batch's shape (``R`` keys: XLA
may round a row reduction differently for another shape), never on which runs share its batch.
``limit`` is an argument, not part of ``settings``: one compiled loop serves any limit.

Example:
    >>> import jax, jax.numpy as jnp
    >>> from typing import NamedTuple
    >>> class Walk(NamedTuple):
    ...     x: jax.Array
    ...     n: jax.Array
    >>> def init(key, problem, settings): return Walk(jnp.float32(0.0), jnp.int32(0))
    >>> def step(key, st, limit, problem, settings):
    ...     nxt = Walk(st.x + jax.random.normal(jax.random.fold_in(key, st.n)), st.n + 1)
    ...     return jax.tree.map(lambda a, b: jnp.where(active(st, limit), a, b), nxt, st)
    >>> def active(st, limit): return st.n < limit
    >>> walk = Method(init, step, active)
    >>> keys = jax.random.split(jax.random.key(0), 3)
    >>> host = on_host(walk, keys, 5, None, None)
    >>> dev = on_device(walk, keys, 5, None, None)
    >>> bool((host.x == dev.x).all()), host.n.tolist()
    (True, [5, 5, 5])
"""

from __future__ import annotations

from functools import partial
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax
from jaxtyping import Array, Key


class Method(NamedTuple):
    """A rare-event method as its three pure functions (see the module docstring)."""

    init: Callable[..., Any]
    step: Callable[..., Any]
    active: Callable[[Any, Array], Array]


@partial(jax.jit, static_argnames=("method", "problem", "settings"))
def start(method: Method, keys: Key[Array, "R"], *, problem: Any, settings: Any) -> Any:
    """Every run's initial state."""
    return jax.vmap(lambda k: method.init(k, problem, settings))(keys)


@partial(jax.jit, static_argnames=("method", "problem", "settings"))
def advance(method: Method, keys: Key[Array, "R"], state: Any, limit: Array, *, problem: Any, settings: Any
            ) -> tuple[Any, Array]:
    """One step of every run (stopped ones unchanged), and whether any is still active."""
    state = jax.vmap(lambda k, s: method.step(k, s, limit, problem, settings))(keys, state)
    return state, jnp.any(jax.vmap(lambda s: method.active(s, limit))(state))


@partial(jax.jit, static_argnames=("method", "problem", "settings"))
def loop(method: Method, keys: Key[Array, "R"], limit: Array, *, problem: Any, settings: Any) -> Any:
    """Every run to its end in a ``lax.while_loop`` on the device."""
    def one(k):
        return lax.while_loop(lambda s: method.active(s, limit), lambda s: method.step(k, s, limit, problem, settings),
                              method.init(k, problem, settings))

    return jax.vmap(one)(keys)


def on_device(method: Method, keys: Key[Array, "R"], limit: int, problem: Any, settings: Any) -> Any:
    """The final states of the runs of ``keys``, every stage on the device."""
    return loop(method, keys, jnp.int32(limit), problem=problem, settings=settings)


def on_host(method: Method, keys: Key[Array, "R"], limit: int, problem: Any, settings: Any,
            on_stage: Callable[[Any], None] | None = None) -> Any:
    """The final states of the runs of ``keys``, stepped from a Python loop (``on_stage(state)``
    after each stage, if given); the same numbers as :func:`on_device`."""
    limit = jnp.int32(limit)
    state = start(method, keys, problem=problem, settings=settings)
    going = jnp.any(jax.vmap(lambda s: method.active(s, limit))(state))
    while bool(going):
        state, going = advance(method, keys, state, limit, problem=problem, settings=settings)
        if on_stage is not None:
            on_stage(state)
    return state
