"""Complexity measures of a truth table, each exact.

* :func:`fourier_degree`: largest ``|S|`` with a non-zero Fourier coefficient of ``(-1)**f``;
* :func:`weight`: the number of points where ``f`` is 1;
* :func:`relevant_bits` and :func:`total_influence` (average sensitivity);
* :func:`is_threshold`: linearly separable or not, by linear-programming feasibility;
* :func:`describe`: all of them, keyed for a results table.

Example:
    >>> describe(0xE8, 3)
    {'truth_table': '0xe8', 'degree': 3, 'weight': 4, 'relevant_bits': 3, 'influence': 1.5, 'threshold': True}
    >>> walsh_hadamard(np.array([1, -1, -1, 1]), 2).tolist()   # x0 xor x1 has only the top coefficient
    [0, 0, 0, 4]
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linprog

from counting.boolean.cube import cube
from counting.boolean.tables import check_table, full_table, to_bits, to_hex


def walsh_hadamard(values: np.ndarray, n: int) -> np.ndarray:
    """Exact integer transform: entry ``s`` is ``sum_i values[i] * (-1)**popcount(i & s)``."""
    out = values.astype(np.int64)
    for j in range(n):
        pairs = out.reshape(-1, 2, 1 << j)
        out = np.stack([pairs[:, 0] + pairs[:, 1], pairs[:, 0] - pairs[:, 1]], axis=1).reshape(-1)
    return out


def fourier_degree(tt: int, n: int) -> int:
    """Largest ``|S|`` with a non-zero Fourier coefficient of ``(-1)**f``; constants have 0."""
    coefficients = walsh_hadamard(1 - 2 * to_bits(tt, n), n)
    sizes = np.array([s.bit_count() for s in range(1 << n)])
    return int(sizes[coefficients != 0].max())


def weight(tt: int, n: int) -> int:
    """Number of points where ``f`` is 1."""
    check_table(tt, n)
    return tt.bit_count()


def _flip_changes(tt: int, n: int) -> list[np.ndarray]:
    """For each bit ``j``, whether ``f`` differs across each pair of points differing in bit ``j``."""
    f = to_bits(tt, n)
    out = []
    for j in range(n):
        pairs = f.reshape(-1, 2, 1 << j)
        out.append(pairs[:, 0] != pairs[:, 1])
    return out


def relevant_bits(tt: int, n: int) -> tuple[int, ...]:
    """The bits ``j`` on which ``f`` depends, ascending."""
    return tuple(j for j, changes in enumerate(_flip_changes(tt, n)) if changes.any())


def total_influence(tt: int, n: int) -> float:
    """Average sensitivity: sum over bits of the fraction of points where flipping it changes ``f``."""
    return float(sum(changes.mean() for changes in _flip_changes(tt, n)))


def is_threshold(tt: int, n: int) -> bool:
    """Whether some ``(w, b)`` has ``w.x + b > 0`` exactly where ``f`` is 1 (by LP feasibility)."""
    check_table(tt, n)
    if tt in (0, full_table(n)):
        return True
    y = 2.0 * to_bits(tt, n) - 1.0
    x = np.hstack([cube(n).astype(np.float64), np.ones((1 << n, 1))])
    result = linprog(
        c=np.zeros(n + 1),
        A_ub=-y[:, None] * x,
        b_ub=-np.ones(1 << n),
        bounds=[(None, None)] * (n + 1),
        method="highs",
    )
    if result.status not in (0, 2):
        raise RuntimeError(f"linprog could not decide {to_hex(tt, n)}: {result.message}")
    return result.status == 0


def describe(tt: int, n: int) -> dict:
    """The complexity measures of one function, keyed for a results table."""
    return {
        "truth_table": to_hex(tt, n),
        "degree": fourier_degree(tt, n),
        "weight": weight(tt, n),
        "relevant_bits": len(relevant_bits(tt, n)),
        "influence": total_influence(tt, n),
        "threshold": is_threshold(tt, n),
    }
