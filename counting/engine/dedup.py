"""Distinct rows on the device: sort packed truth tables and count their runs, at a fixed size.

A census needs, per step, the distinct truth tables seen and how often each was seen. Sorting the
rows on the device (``lax.sort`` over the words as keys, word 0 first, unsigned: the order of
``np.unique(rows, axis=0)``) and counting runs of equal rows leaves the host only sorted distinct
runs to merge, which it does in linear time (:func:`counting.engine.census.merge_sorted`). The
output has a fixed size, as compiled code needs: the distinct rows first, padded to the number of
input rows, their counts, and how many there are. A row of weight 0 (a network past the end of
the job, or one a restricted census does not keep) is sorted after every counted row and never
counted, so it leaves no run of count 0 behind.

Example:
    >>> import jax.numpy as jnp
    >>> rows = jnp.array([[5, 1], [3, 0], [5, 1], [0xFFFFFFFF, 0], [3, 0]], jnp.uint32)
    >>> r = distinct_rows(rows, jnp.array([1, 1, 1, 0, 1], bool))
    >>> int(r.distinct), r.rows[:2].tolist(), r.counts[:2].tolist()
    (2, [[3, 0], [5, 1]], [2, 2])
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
from jax import lax
from jaxtyping import Array, Bool, Int32, UInt32


class Runs(NamedTuple):
    """Sorted distinct rows (``rows[:distinct]``; the rest is padding) and their counts."""

    rows: UInt32[Array, "*lead N words"]
    counts: Int32[Array, "*lead N"]
    distinct: Int32[Array, "*lead"]


def distinct_rows(rows: UInt32[Array, "N words"], keep: Bool[Array, "N"]) -> Runs:
    """The distinct rows among those with ``keep`` set, sorted as ``np.unique(axis=0)`` sorts them,
    with the number of kept rows equal to each; padding rows are zero with count zero."""
    n, words = rows.shape
    dropped = (~keep).astype(jnp.uint32)  # first key: every kept row sorts before every dropped one
    keys = (dropped,) + tuple(rows[:, j] for j in range(words))
    out = lax.sort(keys + (keep.astype(jnp.int32),), num_keys=len(keys))
    sorted_rows, weight = jnp.stack(out[1:-1], axis=1), out[-1]
    differs = jnp.any(sorted_rows[1:] != sorted_rows[:-1], axis=1) | (out[0][1:] != out[0][:-1])
    starts = jnp.concatenate([jnp.ones(1, bool), differs])  # where a run of equal rows begins
    run = jnp.cumsum(starts, dtype=jnp.int32) - 1
    distinct = jnp.sum(starts & (out[0] == 0), dtype=jnp.int32)
    uniq = jnp.zeros_like(sorted_rows).at[jnp.where(starts & (run < distinct), run, n)].set(sorted_rows, mode="drop")
    counts = jnp.zeros(n, jnp.int32).at[run].add(weight)
    return Runs(uniq, counts, distinct)


def step_runs(stacked: tuple[UInt32[Array, "C K B words"], Bool[Array, "C K B"]]) -> Runs:
    """One device's step of census blocks (tables and which count, stacked over chunks and blocks)
    as one sorted distinct run, with a leading axis of one (steps of several devices stack on it)."""
    tables, keep = stacked
    r = distinct_rows(tables.reshape(-1, tables.shape[-1]), keep.reshape(-1))
    return Runs(r.rows[None], r.counts[None], r.distinct[None])
