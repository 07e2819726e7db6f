"""Llama families: Boolean functions an inner "llamaizer" might build in a hidden layer.

A llama is an intermediate function that a network may compute on the way to its output although
the target does not need it. A llama family is a set of such candidate functions on ``n`` bits,
listed as canonical truth tables up to negation (a function and its complement are one class,
represented by the member that is 0 on the all ``-1`` point). Families are built from the bits
they may depend on, from their weight or from their Fourier degree, and each member can be
described by a few complexity measures.

Example:
    >>> len(functions_of_bits((0, 1), 2)), canonical(0b0111, 2)
    (7, 8)
    >>> describe(0xE8, 3)
    {'truth_table': '0xe8', 'degree': 3, 'weight': 4, 'relevant_bits': 3, 'influence': 1.5, 'threshold': True}
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.optimize import linprog

from counting.domain import cube
from counting.truth import to_hex

_TAG_WEIGHT = 1
_TAG_DEGREE = 2


def _check_table(tt: int, n: int) -> None:
    """Raise ``ValueError`` unless ``tt`` is a truth table on ``n`` bits."""
    if n < 0 or not 0 <= tt < 1 << (1 << n):
        raise ValueError(f"truth table {tt!r} is not a function of n={n} bits")


def _check_bits(bits: Sequence[int], n: int) -> tuple[int, ...]:
    """The bits as a tuple; ``ValueError`` for repeated bits or bits outside ``0..n-1``."""
    bits = tuple(int(j) for j in bits)
    if any(not 0 <= j < n for j in bits):
        raise ValueError(f"bits {bits} must lie in 0..{n - 1}")
    if len(set(bits)) != len(bits):
        raise ValueError(f"bits {bits} must not repeat")
    return bits


def _full(n: int) -> int:
    """The constant-1 truth table on ``n`` bits."""
    return (1 << (1 << n)) - 1


def _to_array(tt: int, n: int) -> np.ndarray:
    """The truth table as an int64 array of ``2**n`` zeros and ones, point ``i`` at index ``i``."""
    _check_table(tt, n)
    size = 1 << n
    raw = np.frombuffer(tt.to_bytes((size + 7) // 8, "little"), dtype=np.uint8)
    return np.unpackbits(raw, bitorder="little")[:size].astype(np.int64)


def _masks(bits: Sequence[int], n: int) -> list[int]:
    """Mask ``v``: the points whose listed bits read ``v`` (bit ``m`` of ``v`` is ``bits[m]``)."""
    points = np.arange(1 << n)
    local = sum(((points >> j) & 1) << m for m, j in enumerate(bits)) if bits else 0 * points
    return [sum(1 << int(i) for i in np.flatnonzero(local == v)) for v in range(1 << len(bits))]


def _extend(g: int, masks: Sequence[int]) -> int:
    """The function on all bits that reads its listed bits and applies ``g`` (a table on them)."""
    return sum(m for v, m in enumerate(masks) if (g >> v) & 1)


def canonical(tt: int, n: int) -> int:
    """The representative of ``tt`` up to negation: the member that is 0 on point 0."""
    _check_table(tt, n)
    return tt ^ _full(n) if tt & 1 else tt


def functions_of_bits(bits: Sequence[int], n: int) -> tuple[int, ...]:
    """Every non-constant class up to negation of functions of only ``bits``, sorted."""
    bits = _check_bits(bits, n)
    masks = _masks(bits, n)
    # Point 0 reads 0 on every listed bit, so canonical members are the even local tables g > 0.
    return tuple(sorted(_extend(g, masks) for g in range(2, 1 << (1 << len(bits)), 2)))


def random_of_weight(n: int, weight: int, count: int, seed: int) -> tuple[int, ...]:
    """``count`` distinct classes of uniform functions with ``weight`` ones, in draw order."""
    size = 1 << n
    if not 0 < weight < size:
        raise ValueError(f"weight {weight} must lie strictly between 0 and 2**n={size}")
    available = math.comb(size, weight) // (2 if 2 * weight == size else 1)
    if not 0 <= count <= available:
        raise ValueError(f"count {count} must lie in 0..{available}, the classes of weight {weight}")
    rng = np.random.default_rng([seed, _TAG_WEIGHT])
    found: dict[int, None] = {}
    while len(found) < count:
        ones = rng.choice(size, size=weight, replace=False)
        found.setdefault(canonical(sum(1 << int(i) for i in ones), n))
    return tuple(found)


def random_of_degree(
    n: int, degree: int, count: int, seed: int, bits: Sequence[int] | None = None
) -> tuple[int, ...]:
    """``count`` distinct classes of random functions of exactly ``degree``, in draw order.

    Each draw takes a uniform ``degree``-subset of ``bits`` (default all ``n``) and a uniform
    function of it, kept only if its Fourier degree is exactly ``degree``; after ``10_000 * count``
    draws without enough distinct classes it raises ``ValueError``.
    """
    bits = _check_bits(range(n) if bits is None else bits, n)
    if not 1 <= degree <= len(bits):
        raise ValueError(f"degree {degree} must lie in 1..{len(bits)}, the number of bits")
    if count < 0:
        raise ValueError(f"count {count} must not be negative")
    rng = np.random.default_rng([seed, _TAG_DEGREE])
    # A function of `degree` bits has exactly that degree iff its top coefficient is non-zero.
    signs = np.array([1 - 2 * (v.bit_count() % 2) for v in range(1 << degree)])
    masks: dict[tuple[int, ...], list[int]] = {}
    found: dict[int, None] = {}
    left = 10_000 * count
    while len(found) < count and left > 0:
        size = min(4096, left)
        left -= size
        picks = np.argsort(rng.random((size, len(bits))), axis=1)[:, :degree]
        tables = rng.integers(0, 2, size=(size, 1 << degree))
        packed = np.packbits(tables, axis=1, bitorder="little")
        for row in np.flatnonzero((1 - 2 * tables) @ signs):
            subset = tuple(sorted(bits[k] for k in picks[row]))
            if subset not in masks:
                masks[subset] = _masks(subset, n)
            g = int.from_bytes(packed[row].tobytes(), "little")
            found.setdefault(canonical(_extend(g, masks[subset]), n))
            if len(found) == count:
                break
    if len(found) < count:
        raise ValueError(
            f"found only {len(found)} of {count} distinct classes of degree {degree} "
            f"on bits {bits} in {10_000 * count} draws"
        )
    return tuple(found)


def _walsh_hadamard(values: np.ndarray, n: int) -> np.ndarray:
    """Exact integer transform: entry ``s`` is ``sum_i values[i] * (-1)**popcount(i & s)``."""
    out = values.astype(np.int64)
    for j in range(n):
        pairs = out.reshape(-1, 2, 1 << j)
        out = np.stack([pairs[:, 0] + pairs[:, 1], pairs[:, 0] - pairs[:, 1]], axis=1).reshape(-1)
    return out


def fourier_degree(tt: int, n: int) -> int:
    """Largest ``|S|`` with a non-zero Fourier coefficient of ``(-1)**f``; constants have 0."""
    coefficients = _walsh_hadamard(1 - 2 * _to_array(tt, n), n)
    sizes = np.array([s.bit_count() for s in range(1 << n)])
    return int(sizes[coefficients != 0].max())


def weight(tt: int, n: int) -> int:
    """Number of points where ``f`` is 1."""
    _check_table(tt, n)
    return tt.bit_count()


def _flip_changes(tt: int, n: int) -> list[np.ndarray]:
    """For each bit ``j``, whether ``f`` differs across each pair of points differing in bit ``j``."""
    f = _to_array(tt, n)
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
    _check_table(tt, n)
    if tt in (0, _full(n)):
        return True
    y = 2.0 * _to_array(tt, n) - 1.0
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
