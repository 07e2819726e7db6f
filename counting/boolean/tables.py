"""Truth tables: the identity of a function, packed into uint32 words, printed as hex.

A function ``f`` on ``n`` bits is the integer whose bit ``i`` is ``f(x_i)``. On the device it is
``words = max(1, 2**n // 32)`` uint32 words, word ``k`` holding bits ``32k .. 32k+31``. Up to
negation, a function is represented by its *canonical* member, the one that is 0 on point 0. It is
printed as ``"0x"`` and exactly :func:`hex_digits` ``(n) = ceil(2**n / 4)`` digits, the only hex
form a spec accepts (:func:`counting.spec.target.parse_truth_table`).

Example:
    >>> to_hex(named_truth_table("majority", 3), 3), to_hex(0xe8, 5), hex_digits(5)
    ('0xe8', '0x000000e8', 8)
    >>> int_to_words(0xe8, 3).tolist(), words_to_int([0xe8])
    ([232], 232)
    >>> complement(0x8, 2), canonical(0b0111, 2), signs_of(0x8, 2).tolist()
    (7, 8, [-1.0, -1.0, -1.0, 1.0])
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, UInt32

from counting.boolean.cube import cube

TARGET_NAMES = ("const0", "const1", "and", "or", "parity", "majority", "x<i> (dictator on bit i)")


def n_words(n: int) -> int:
    """uint32 words per truth table on ``n`` bits."""
    return max(1, 2**n // 32)


def pack(bits: Bool[Array, "... points"]) -> UInt32[Array, "... words"]:
    """Pack output bits (last axis, one per cube point) into uint32 words, bit ``i%32`` of word ``i//32``."""
    p = bits.shape[-1]
    w = max(1, p // 32)
    per = p // w
    b = bits.reshape(bits.shape[:-1] + (w, per)).astype(jnp.uint32)
    shifts = jnp.arange(per, dtype=jnp.uint32)
    return jnp.sum(b << shifts, axis=-1, dtype=jnp.uint32)


def int_to_words(tt: int, n: int) -> np.ndarray:
    """A truth-table integer as its uint32 words."""
    w = n_words(n)
    return np.array([(tt >> (32 * k)) & 0xFFFFFFFF for k in range(w)], dtype=np.uint32)


def words_to_int(words) -> int:
    """uint32 words back to the truth-table integer."""
    return sum(int(x) << (32 * k) for k, x in enumerate(np.asarray(words, dtype=np.uint64)))


def hex_digits(n: int) -> int:
    """Hex digits of a truth table on ``n`` bits: one per 4 points, at least one (``ceil(2**n / 4)``)."""
    return (2**n + 3) // 4


def to_hex(tt: int, n: int) -> str:
    """``'0x'`` and exactly :func:`hex_digits` ``(n)`` digits, e.g. ``'0xe8'`` for 3-bit majority
    (the form :func:`counting.spec.target.parse_truth_table` reads back)."""
    check_table(tt, n)
    return f"0x{tt:0{hex_digits(n)}x}"


def rows_to_hex(rows: np.ndarray, n: int) -> list[str]:
    """Hex strings for an array of packed rows ``[k, words]``: ``to_hex(words_to_int(row), n)`` for
    each row, built for all rows at once from their hex digits (a census has millions)."""
    a = np.asarray(rows)
    if a.ndim != 2 or a.dtype.kind != "u" or a.dtype.itemsize > 4 or n < 0 or not len(a):
        return [to_hex(words_to_int(r), n) for r in rows]
    a = a.astype(np.uint32, copy=False)
    k, w = a.shape
    bits, bad = 1 << n, np.zeros(k, bool)  # a row with a bit set at or above point 2**n is no table
    for j in range(w):
        if 32 * j >= bits:
            bad |= a[:, j] != 0
        elif 32 * j + 32 > bits:
            bad |= (a[:, j] >> np.uint32(bits - 32 * j)) != 0
    if bad.any():
        check_table(words_to_int(a[np.argmax(bad)]), n)
    d, out = hex_digits(n), []
    shifts = np.arange(28, -1, -4, dtype=np.uint32)
    digits = np.frombuffer(b"0123456789abcdef", np.uint8)
    for s in range(0, k, 1 << 16):  # in blocks: the temporaries stay small beside the strings
        b = a[s:s + (1 << 16)]
        nibbles = ((b[:, ::-1, None] >> shifts) & np.uint32(0xF)).reshape(len(b), 8 * w)  # high digit first
        text = np.full((len(b), 2 + max(d, 8 * w)), ord("0"), np.uint8)
        text[:, 1] = ord("x")
        text[:, text.shape[1] - 8 * w:] = digits[nibbles]
        text = np.concatenate([text[:, :2], text[:, text.shape[1] - d:]], axis=1)
        out += text.view(f"S{d + 2}").ravel().astype(f"U{d + 2}").tolist()
    return out


def from_function(f, n: int) -> int:
    """Truth table of a Python predicate on a ``{-1,+1}`` point (a 1-D numpy array)."""
    return sum(1 << i for i, x in enumerate(cube(n)) if f(x))


def named_truth_table(name: str, n: int) -> int:
    """Truth table of a named function; raises ``ValueError`` naming the known names."""
    ones = lambda x: int(np.sum(x > 0))  # noqa: E731
    table = {
        "const0": lambda x: False,
        "const1": lambda x: True,
        "and": lambda x: ones(x) == n,
        "or": lambda x: ones(x) > 0,
        "parity": lambda x: ones(x) % 2 == 1,
        "majority": lambda x: 2 * ones(x) > n,
    }
    if name in table:
        return from_function(table[name], n)
    if isinstance(name, str) and name.startswith("x") and name[1:].isdigit():
        j = int(name[1:])
        if j < n:
            return from_function(lambda x: x[j] > 0, n)
        raise ValueError(f"a bit index below n_inputs={n} in 'x<i>'")
    raise ValueError(f"one of {list(TARGET_NAMES)}")


def full_table(n: int) -> int:
    """The constant-1 truth table on ``n`` bits."""
    return (1 << (1 << n)) - 1


def check_table(tt: int, n: int) -> None:
    """Raise ``ValueError`` unless ``tt`` is a truth table on ``n`` bits."""
    if n < 0 or not 0 <= tt < 1 << (1 << n):
        raise ValueError(f"truth table {tt!r} is not a function of n={n} bits")


def complement(tt: int, n: int) -> int:
    """``not f`` as a truth table."""
    return tt ^ full_table(n)


def canonical(tt: int, n: int) -> int:
    """The representative of ``tt`` up to negation: the member that is 0 on point 0."""
    check_table(tt, n)
    return tt ^ full_table(n) if tt & 1 else tt


def treacherous(target: int, points, n: int) -> int:
    """The function that is ``target`` on ``points`` (S) and its complement everywhere else.

    >>> hex(treacherous(0b1000, [0, 3], 2))   # and on 2 bits, S = {0, 3}: flip points 1 and 2
    '0xe'
    """
    off = full_table(n) & ~sum(1 << int(p) for p in points)
    return int(target) ^ off


def to_bits(tt: int, n: int) -> np.ndarray:
    """The truth table as an int64 array of ``2**n`` zeros and ones, point ``i`` at index ``i``."""
    check_table(tt, n)
    size = 1 << n
    raw = np.frombuffer(tt.to_bytes((size + 7) // 8, "little"), dtype=np.uint8)
    return np.unpackbits(raw, bitorder="little")[:size].astype(np.int64)


def signs_of(tt: int, n: int) -> np.ndarray:
    """``+1`` where bit ``i`` of the truth table is set, else ``-1`` (one float32 entry per cube point)."""
    return np.where(to_bits(tt, n) == 1, 1.0, -1.0).astype(np.float32)
