"""Llama families: Boolean functions an inner "llamaizer" might build in a hidden layer.

A llama is an intermediate function that a network may compute on the way to its output although
the target does not need it. A llama family is a set of such candidate functions on ``n`` bits,
listed as canonical truth tables up to negation (a function and its complement are one class,
represented by the member that is 0 on the all ``-1`` point, :func:`counting.boolean.tables.canonical`).
Families are built from the bits they may depend on, from their weight or from their Fourier
degree; :mod:`counting.boolean.measures` describes each member.

Example:
    >>> len(functions_of_bits((0, 1), 2)), [hex(g) for g in functions_of_bits((1,), 2)]
    (7, ['0xc'])
    >>> random_of_weight(3, 4, 2, seed=0) == random_of_weight(3, 4, 2, seed=0)
    True
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from counting.boolean.tables import canonical

_TAG_WEIGHT = 1
_TAG_DEGREE = 2


def _check_bits(bits: Sequence[int], n: int) -> tuple[int, ...]:
    """The bits as a tuple; ``ValueError`` for repeated bits or bits outside ``0..n-1``."""
    bits = tuple(int(j) for j in bits)
    if any(not 0 <= j < n for j in bits):
        raise ValueError(f"bits {bits} must lie in 0..{n - 1}")
    if len(set(bits)) != len(bits):
        raise ValueError(f"bits {bits} must not repeat")
    return bits


def _masks(bits: Sequence[int], n: int) -> list[int]:
    """Mask ``v``: the points whose listed bits read ``v`` (bit ``m`` of ``v`` is ``bits[m]``)."""
    points = np.arange(1 << n)
    local = sum(((points >> j) & 1) << m for m, j in enumerate(bits)) if bits else 0 * points
    return [sum(1 << int(i) for i in np.flatnonzero(local == v)) for v in range(1 << len(bits))]


def _extend(g: int, masks: Sequence[int]) -> int:
    """The function on all bits that reads its listed bits and applies ``g`` (a table on them)."""
    return sum(m for v, m in enumerate(masks) if (g >> v) & 1)


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
