"""Fewest non-zero parameters of a small ternary threshold network computing a function (``min_weights``).

The parameters-constrained proxy of the simplicity experiment, from exact enumeration. The
architecture, stated once:

* inputs ``x_j = +-1`` (point ``i`` of the cube, bit ``j`` of ``i`` set means ``+1``);
* one hidden layer of **at most** :data:`MAX_HIDDEN` threshold units ``h = sign(w . x + b)`` and a
  threshold output ``f = [v . h + c > 0]``;
* every weight (``w``, ``v``) in ``{-1, 0, 1}``; every bias an integer;
* **strict**: every unit's pre-activation is non-zero on every input, so no input sits on a
  threshold. Strictness makes the measure exactly invariant under permuting inputs, negating inputs
  and negating the output (negate ``v`` and ``c``), so it is constant on NPN classes;
* a hidden unit whose output weight is 0 is absent (it constrains nothing);
* the **cost** is the number of non-zero weights and biases of the units present.

``min_weights(f)`` is the least cost over every such network computing ``f``, or ``None`` (``-1`` in
:func:`min_weights_table`) where no network of the architecture computes it. Constants cost 1 (an
output bias); a dictator costs 2, AND of two bits 4, XOR 9; on 4 bits parity costs 25 (four full-fan-in hidden units) and
672 of the 65,536 functions need more than four hidden units.

The enumeration is exact and cheap: a hidden unit computes one of a few hundred functions (each
with its cheapest weights, :func:`hidden_units`); with its output weight's sign folded into the unit
(negating a unit costs nothing), the output fires where at least ``t`` of the ``k`` units are on,
with bias ``k + 1 - 2t``. Every multiset of ``k <= MAX_HIDDEN`` hidden functions and every ``t`` is
tried (:func:`min_weights_table`). A network of ``k`` units costs at least ``2k``, so any value up to
``2 * MAX_HIDDEN + 1`` is also the minimum over any number of hidden units.

Example:
    >>> min_weights(0x0, 2), min_weights(0xA, 2), min_weights(0x8, 2), min_weights(0x6, 2)
    (1, 2, 4, 9)
    >>> min_weights(0x96, 3), min_weights(0x6996, 4)
    (10, 25)
"""

from __future__ import annotations

import functools
import itertools
import operator

import numpy as np
from jaxtyping import Int

from counting.boolean.cube import cube
from counting.boolean.tables import check_table

MAX_HIDDEN = 4  # at most this many hidden units
MAX_BITS = 4  # 2**16 functions; the tables are int64 bit sets
NOT_COMPUTABLE = -1


def _bits_to_table(fires: np.ndarray) -> np.ndarray:
    """Truth tables (int64) of rows of booleans, point ``i`` in column ``i``."""
    return (fires.astype(np.int64) << np.arange(fires.shape[-1], dtype=np.int64)).sum(axis=-1)


@functools.cache
def hidden_units(n: int) -> tuple[Int[np.ndarray, " h"], Int[np.ndarray, " h"]]:
    """Every function a strict threshold unit with ternary weights computes on ``n`` bits, with its
    fewest non-zero weights and bias. Returns ``(tables, costs)``, tables increasing.

    A unit with ``m`` non-zero weights has a pre-activation of the parity of ``m`` plus its bias, so
    strictness asks for a bias of the other parity; biases beyond ``+-(m + 1)`` repeat a constant.

    >>> t, c = hidden_units(1)
    >>> t.tolist(), c.tolist()        # const 0, x0 = +1, x0 = -1, const 1
    ([0, 1, 2, 3], [1, 1, 1, 1])
    """
    if not 1 <= n <= MAX_BITS:
        raise ValueError(f"n: expected 1 .. {MAX_BITS} bits for min_weights, got {n}")
    x = cube(n).astype(np.int64)  # [points, n]
    w = np.array(list(itertools.product((-1, 0, 1), repeat=n)), np.int64)  # [3**n, n]
    m = np.abs(w).sum(axis=1)
    tables, costs = [], []
    for b in range(-(n + 1), n + 2):
        ok = (b - m) % 2 == 1  # the bias's parity differs from m's: never zero
        z = w[ok] @ x.T + b  # [units, points]
        assert (z != 0).all()
        tables.append(_bits_to_table(z > 0))
        costs.append(m[ok] + (b != 0))
    tables, costs = np.concatenate(tables), np.concatenate(costs)
    order = np.lexsort((costs, tables))
    tables, costs = tables[order], costs[order]
    first = np.r_[True, tables[1:] != tables[:-1]]  # the cheapest of each table
    return tables[first], costs[first]


def _at_least(units: list, k: int) -> list:
    """``out[t - 1]``: bit set where at least ``t`` of the unit tables are on, ``t = 1 .. k``."""
    out = [np.zeros((), np.int64)] * k
    for u in units:
        out = [out[0] | u] + [out[t] | (out[t - 1] & u) for t in range(1, k)]
    return out


def _join(a: list, b: list, k: int) -> list:
    """At-least tables of two groups of units together: at least ``t`` on where ``s`` of the first
    and ``t - s`` of the second are (at least none: every point)."""
    every = np.int64(-1)
    a, b = [every] + a, [every] + b
    return [functools.reduce(operator.or_, [a[s] & b[t - s] for s in range(t + 1) if s < len(a) and t - s < len(b)])
            for t in range(1, k + 1)]


@functools.cache
def min_weights_table(n: int, max_hidden: int = MAX_HIDDEN) -> Int[np.ndarray, " functions"]:
    """Entry ``tt``: :func:`min_weights` of every function on ``n <= 4`` bits (``-1``: none of the
    architecture's networks computes it). About 3 s for ``n = 4`` (cached).

    >>> tab = min_weights_table(2)
    >>> tab.tolist()  # every 2-bit function; XOR and XNOR (6, 9) need two hidden units
    [1, 4, 4, 2, 4, 2, 9, 4, 4, 9, 2, 4, 2, 4, 4, 1]
    """
    if not 1 <= max_hidden <= MAX_HIDDEN:
        raise ValueError(f"max_hidden: expected 1 .. {MAX_HIDDEN}, got {max_hidden}")
    tables, costs = hidden_units(n)
    full = (1 << (1 << n)) - 1
    big = np.iinfo(np.int64).max
    best = np.full(full + 1, big, np.int64)
    best[0] = best[full] = 1  # no hidden unit: the output bias alone
    np.minimum.at(best, tables, costs + 1)  # one unit, output weight 1, bias 0
    h = len(tables)
    lo, hi = np.triu_indices(h)  # every pair of units, lo <= hi, ordered by lo
    start = np.searchsorted(lo, np.arange(h + 1))
    pair = [tables[lo] | tables[hi], tables[lo] & tables[hi]]  # at least one, both
    pair_cost = costs[lo] + costs[hi]
    for k in range(2, max_hidden + 1):
        # the first k - 2 units (indices non-decreasing) by loops, then every pair from the last on
        for head in itertools.combinations_with_replacement(range(h), k - 2):
            rest = slice(start[head[-1]] if head else 0, None)
            cost = costs[list(head)].sum() + pair_cost[rest] + k
            joined = _join(_at_least([tables[i] for i in head], k - 2), [p[rest] for p in pair], k)
            for t, fires in enumerate(joined, start=1):
                np.minimum.at(best, fires, cost + int(k + 1 - 2 * t != 0))  # bias k + 1 - 2t
    best[best == big] = NOT_COMPUTABLE
    return best


def min_weights(tt: int, n: int) -> int | None:
    """Fewest non-zero weights and biases of a strict ternary threshold network with at most
    :data:`MAX_HIDDEN` hidden units computing ``tt`` (module docstring), or ``None`` if none does."""
    check_table(tt, n)
    v = int(min_weights_table(n)[tt])
    return None if v == NOT_COMPUTABLE else v
