"""Exact complexity measures of one Boolean function, and of every function on up to 4 bits.

A function on ``n`` bits is its truth table ``tt`` (bit ``i`` is ``f`` at point ``i``; bit ``j`` of
the point index is input ``j``). Every measure is exact:

* :func:`lz`: Lempel-Ziv complexity as in the parameter-function-map literature (Valle-Perez et
  al. 2019), ``log2(N) * (c(s) + c(reversed s)) / 2`` for the truth table as a string ``s`` of
  ``N = 2**n`` characters (bit ``i`` at position ``i``), ``c`` the LZ76 phrase count of Kaspar and
  Schuster (1987) (:func:`lz76_phrases`); a constant string has ``log2(N)``; :func:`lz_rows` for
  many tables at once;
* :func:`avg_sensitivity` (the total influence) and :func:`max_sensitivity`;
* :func:`counting.boolean.measures.fourier_degree` and :func:`f2_degree` (degree of the algebraic
  normal form over GF(2));
* :func:`spectral_entropy`: Shannon entropy, in bits, of the squared Fourier spectrum of ``(-1)**f``;
* :func:`formula_size` / :func:`formula_size_xor`: fewest leaves of a formula of binary AND/OR
  (and XOR) gates over literals; :func:`circuit_depth`: fewest levels of two-input AND/OR/XOR gates
  with negations free. These three come from dynamic programming over every function of ``n <= 4``
  bits (:func:`formula_sizes`, :func:`circuit_depths`, cached per ``n``);
* :func:`counting.boolean.threshold_nets.min_weights`: fewest non-zero weights and biases of a strict
  ternary threshold network with at most four hidden units (the parameters-constrained proxy; ``None``
  where no such network computes the function), by exact enumeration for ``n <= 4``;
* :func:`measures` gathers them for one function, :func:`all_measures` for every function of ``n``.

Example:
    >>> lz76_phrases("0001101001000101")       # 0 | 001 | 10 | 100 | 1000 | 101
    6
    >>> m = measures(0xE8, 3)                  # 3-bit majority
    >>> m["formula_size"], m["formula_size_xor"], m["circuit_depth"], m["max_sensitivity"], m["f2_degree"]
    (5, 5, 3, 2, 2)
    >>> formula_size_xor(0x96, 3), formula_size(0x96, 3), circuit_depth(0x6996, 4)
    (3, 10, 2)
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from jaxtyping import Bool, Float, Int

from counting.boolean.measures import fourier_degree, is_threshold, total_influence
from counting.boolean.tables import check_table, full_table, to_bits, to_hex
from counting.boolean.threshold_nets import min_weights, min_weights_table

MAX_ENUMERATED_BITS = 4  # 2**(2**4) = 65,536 functions; 2**32 on 5 bits is too many to enumerate
COLUMNS = ("truth_table", "ones", "lz", "avg_sensitivity", "max_sensitivity", "fourier_degree", "f2_degree",
           "spectral_entropy", "threshold", "formula_size", "formula_size_xor", "circuit_depth", "min_weights")


# --- Lempel-Ziv --------------------------------------------------------------------------------------------

def lz76_phrases(s: str) -> int:
    """Phrase count ``c(s)`` of the LZ76 exhaustive-history parsing, by Kaspar and Schuster's (1987)
    algorithm: each new phrase is the longest prefix of the rest that already occurs starting at an
    earlier position (overlaps allowed), plus one character; a last phrase cut short still counts."""
    n = len(s)
    if n <= 1:
        return n
    i, k, l, c, k_max = 0, 1, 1, 1, 1
    while True:
        if s[i + k - 1] == s[l + k - 1]:
            k += 1
            if l + k > n:
                return c + 1
        else:
            k_max = max(k, k_max)
            i += 1
            if i == l:
                c += 1
                l += k_max
                if l + 1 > n:
                    return c
                i, k, k_max = 0, 1, 1
            else:
                k = 1


def lz(tt: int, n: int) -> float:
    """``log2(N) * (c(s) + c(reversed s)) / 2``, ``s`` the truth table as ``N = 2**n`` characters with
    bit ``i`` at position ``i``; ``log2(N)`` for a constant function (Valle-Perez et al. 2019)."""
    check_table(tt, n)
    s = "".join(map(str, to_bits(tt, n)))
    if tt in (0, full_table(n)):
        return float(n)
    return n * (lz76_phrases(s) + lz76_phrases(s[::-1])) / 2


def trailing_zeros(v: Int[jax.Array, "..."]) -> Int[jax.Array, "..."]:
    """Trailing zero bits of each uint32 (32 for 0)."""
    low = v & (~v + jnp.uint32(1))
    return jnp.where(v == 0, 32, 31 - jax.lax.clz(low).astype(jnp.int32))


def suffix_words(s: Int[jax.Array, "k N"]) -> Int[jax.Array, "k N W"]:
    """Every suffix ``s[i:]`` of every row as ``W = ceil(N / 32)`` uint32 words (character ``i + t``
    at bit ``t``; zeros past the end)."""
    k, n = s.shape
    w = -(-n // 32)
    bits = jnp.pad(s.astype(jnp.uint32), ((0, 0), (0, 32 * w - n))).reshape(k, w, 32)
    x = jnp.sum(bits << jnp.arange(32, dtype=jnp.uint32), axis=2, dtype=jnp.uint32)
    xp = jnp.concatenate([x, jnp.zeros((k, w + 1), jnp.uint32)], axis=1)
    i = jnp.arange(n)
    q, r = i // 32, (i % 32).astype(jnp.uint32)
    at = q[:, None] + jnp.arange(w)[None, :]
    high = jnp.where(r[None, :, None] == 0, jnp.uint32(0), xp[:, at + 1] << ((32 - r) % 32)[None, :, None])
    return (xp[:, at] >> r[None, :, None]) | high


@jax.jit
def lz76_phrase_rows(s: Int[jax.Array, "k N"]) -> Int[jax.Array, " k"]:
    """:func:`lz76_phrases` of many rows of zeros and ones (``N >= 2``), in lockstep: from the first
    phrase ``s[0]``, the phrase at ``l`` copies the longest prefix of ``s[l:]`` that also starts at
    an earlier position (overlaps allowed) and adds one character; one that copies the whole rest
    is the last (Kaspar and Schuster's parsing, whose state machine finds the same longest match
    position by position). Each longest match is found 32 characters at a time: the first set bit
    of ``s[i:] xor s[l:]``, for every earlier ``i`` at once."""
    k, n = s.shape
    z = suffix_words(s)
    w = z.shape[2]
    earlier = jnp.arange(n)

    def longest_match(l):
        d = z ^ jnp.take_along_axis(z, l[:, None, None], axis=1)
        first = jnp.argmax(d != 0, axis=2)
        run = jnp.where(jnp.any(d != 0, axis=2),
                        32 * first + jnp.take_along_axis(trailing_zeros(d), first[:, :, None], axis=2)[:, :, 0],
                        32 * w)
        run = jnp.minimum(run, (n - l)[:, None])
        return jnp.max(jnp.where(earlier[None, :] < l[:, None], run, 0), axis=1)

    def body(st):
        l, c, done = st
        m = longest_match(jnp.minimum(l, n - 1))
        nxt = jnp.where(m >= n - l, n, l + m + 1)
        return jnp.where(done, l, nxt), jnp.where(done, c, c + 1), done | (nxt >= n)

    one = jnp.ones(k, jnp.int32)
    return jax.lax.while_loop(lambda st: ~jnp.all(st[2]), body, (one, one, jnp.zeros(k, bool)))[1]


def lz_rows(bits: Int[np.ndarray, "k points"], n: int, block: int = 4096) -> Float[np.ndarray, " k"]:
    """:func:`lz` of many truth tables at once (rows of ``2**n >= 2`` zeros and ones, point ``i`` in
    column ``i``), by :func:`lz76_phrase_rows` in blocks of ``block`` rows (a last short block is
    padded, so one program serves a whole census); about 28,000 7-bit tables a second on two CPU
    cores, ten times Kaspar and Schuster's state machine run in lockstep."""
    bits = np.asarray(bits, np.int8)
    out = np.empty(len(bits))
    for a in range(0, len(bits), block):
        b = bits[a:a + block]
        pad = np.zeros((block - len(b), b.shape[1]), np.int8) if len(bits) > block else b[:0]
        both = np.concatenate([b, pad, b[:, ::-1], pad])
        c = np.asarray(lz76_phrase_rows(jnp.asarray(both)))
        half = len(both) // 2
        fwd, rev = c[:len(b)], c[half:half + len(b)]
        const = (b == b[:, :1]).all(axis=1)
        out[a:a + block] = np.where(const, n, n * (fwd + rev) / 2)
    return out


# --- batched measures on bit rows ---------------------------------------------------------------------------

def table_bits(tables: Int[np.ndarray, " k"], n: int) -> Int[np.ndarray, "k points"]:
    """Rows of ``2**n`` zeros and ones for small truth tables (``n <= 5``), point ``i`` in column ``i``."""
    return ((np.asarray(tables, np.int64)[:, None] >> np.arange(1 << n)[None, :]) & 1).astype(np.int8)


def sensitivities(bits: Int[np.ndarray, "... points"], n: int) -> Int[np.ndarray, "... points"]:
    """At each point, the number of inputs whose flip changes ``f``."""
    points = np.arange(1 << n)
    out = np.zeros(np.shape(bits), np.int64)
    for j in range(n):
        out += bits != bits[..., points ^ (1 << j)]
    return out


def walsh_rows(bits: Int[np.ndarray, "... points"], n: int) -> Int[np.ndarray, "... points"]:
    """Walsh-Hadamard transform of ``(-1)**f`` along the last axis: entry ``S`` is
    ``sum_i (-1)**(f(i) + popcount(i & S))``."""
    out = (1 - 2 * np.asarray(bits, np.int64))
    lead = out.shape[:-1]
    for j in range(n):
        pairs = out.reshape(lead + (-1, 2, 1 << j))
        out = np.stack([pairs[..., 0, :] + pairs[..., 1, :], pairs[..., 0, :] - pairs[..., 1, :]],
                       axis=-2).reshape(lead + (-1,))
    return out


def anf_rows(bits: Int[np.ndarray, "... points"], n: int) -> Int[np.ndarray, "... points"]:
    """Algebraic normal form over GF(2) (Moebius transform): entry ``S`` is 1 where the monomial
    ``prod_{j in S} b_j`` (``b_j = 1`` where ``x_j = +1``) appears in ``f``."""
    out = np.asarray(bits, np.int8).copy()
    lead = out.shape[:-1]
    for j in range(n):
        pairs = out.reshape(lead + (-1, 2, 1 << j))
        pairs[..., 1, :] ^= pairs[..., 0, :]
    return out


def _max_popcount(mask: Bool[np.ndarray, "... points"], n: int) -> Int[np.ndarray, "..."]:
    sizes = np.array([s.bit_count() for s in range(1 << n)])
    return np.where(mask, sizes, 0).max(axis=-1)


def fourier_degree_rows(bits, n: int) -> Int[np.ndarray, "..."]:
    """Largest ``|S|`` with a non-zero Fourier coefficient; constants have 0."""
    return _max_popcount(walsh_rows(bits, n) != 0, n)


def f2_degree_rows(bits, n: int) -> Int[np.ndarray, "..."]:
    """Degree of the algebraic normal form; both constants have 0."""
    return _max_popcount(anf_rows(bits, n) != 0, n)


def spectral_entropy_rows(bits, n: int) -> Float[np.ndarray, "..."]:
    """Shannon entropy (bits) of ``p_S = W(S)**2 / 4**n``, which sums to 1 (Parseval)."""
    p = walsh_rows(bits, n).astype(np.float64) ** 2 / 4.0**n
    logs = np.log2(np.where(p > 0, p, 1.0))
    return np.maximum(-(p * logs).sum(axis=-1), 0.0)


def avg_sensitivity(tt: int, n: int) -> float:
    """Average over points of the number of inputs whose flip changes ``f``: the total influence
    (:func:`counting.boolean.measures.total_influence`)."""
    return total_influence(tt, n)


def max_sensitivity(tt: int, n: int) -> int:
    """Largest number, over points, of inputs whose flip changes ``f``."""
    return int(sensitivities(to_bits(tt, n), n).max())


def f2_degree(tt: int, n: int) -> int:
    """Degree of the algebraic normal form over GF(2) (0 for both constants)."""
    return int(f2_degree_rows(to_bits(tt, n), n))


def spectral_entropy(tt: int, n: int) -> float:
    """Shannon entropy in bits of the normalised squared Fourier spectrum of ``(-1)**f`` (0 for a
    constant or a character ``+-chi_S``, ``n`` at most, reached by bent functions)."""
    return float(spectral_entropy_rows(to_bits(tt, n), n))


# --- dynamic programming over every function of n <= 4 bits ----------------------------------------------

def _check_enumerable(n: int) -> None:
    if not 1 <= n <= MAX_ENUMERATED_BITS:
        raise ValueError(f"n: expected 1 <= n <= {MAX_ENUMERATED_BITS} (2**(2**n) functions), got {n}")


def literal_tables(n: int) -> Int[np.ndarray, " literals"]:
    """Truth tables of ``x_0 .. x_{n-1}`` (1 where ``x_j = +1``) and of their negations."""
    points = np.arange(1 << n)
    xs = [int(np.sum(((points >> j) & 1) << points)) for j in range(n)]
    return np.array(xs + [x ^ full_table(n) for x in xs], dtype=np.int64)


def _combine(a: np.ndarray, b: np.ndarray, ops: tuple[Callable, ...], hit: np.ndarray,
             block_cells: int = 1 << 18) -> None:
    """Mark in ``hit`` every ``op(x, y)`` for ``x`` in ``a``, ``y`` in ``b`` (blocks of ``a``)."""
    if len(a) == 0 or len(b) == 0:
        return
    step = max(1, block_cells // len(b))
    for start in range(0, len(a), step):
        left = a[start:start + step, None]
        for op in ops:
            hit[op(left, b[None, :]).ravel()] = True


@functools.lru_cache(maxsize=None)
def _formula_sizes(n: int, xor: bool) -> np.ndarray:
    size, full = 1 << (1 << n), full_table(n)
    best = np.full(size, -1, np.int64)
    best[[0, full]] = 0
    levels = {1: np.unique(literal_tables(n)).astype(np.uint16)}
    best[levels[1]] = 1
    # every level is closed under negation (De Morgan, and x ^ ~y = ~(x ^ y)), so OR is AND's complement
    ops = (np.bitwise_and, np.bitwise_xor) if xor else (np.bitwise_and,)
    s = 1
    while (best < 0).any():
        s += 1
        hit = np.zeros(size, bool)
        for a in range(1, s // 2 + 1):
            _combine(levels[a], levels[s - a], ops, hit)
        hit |= hit[::-1]  # index full - t is the complement of t
        new = hit & (best < 0)
        best[new] = s
        levels[s] = np.flatnonzero(new).astype(np.uint16)
    best.flags.writeable = False
    return best


def formula_sizes(n: int, xor: bool = False) -> Int[np.ndarray, " functions"]:
    """Entry ``tt``: fewest leaves of a formula computing ``tt`` whose leaves are literals (``x_j``
    or its negation) and whose gates are binary AND and OR (and XOR if ``xor``); both constants have
    size 0 (no formula of literals is constant, and a constant leaf never shortens another
    formula). Level ``s`` (tables first reached with ``s`` leaves) is every gate over levels ``a`` and
    ``s - a``: a smallest formula's two subformulas are smallest for what they compute. Sizes do
    not change on negating the output (De Morgan) or an input (swap its literals). Read-only,
    cached per ``n``; ``1 <= n <= 4``."""
    _check_enumerable(n)
    return _formula_sizes(n, bool(xor))


@functools.lru_cache(maxsize=None)
def _circuit_depths(n: int) -> np.ndarray:
    size, full = 1 << (1 << n), full_table(n)
    depth = np.full(size, -1, np.int64)
    depth[[0, full]] = 0
    depth[literal_tables(n)] = 0
    d = 0
    while (depth < 0).any():
        d += 1
        members = np.flatnonzero(depth >= 0)
        members = members[np.argsort(depth[members], kind="stable")].astype(np.uint16)  # shallow first
        missing = depth < 0
        hit = np.zeros(size, bool)
        step = max(1, (1 << 22) // len(members))
        for start in range(0, len(members), step):  # every member against a growing prefix of members
            _combine(members, members[start:start + step], (np.bitwise_and, np.bitwise_xor), hit)
            hit |= hit[::-1]  # negations free: OR is a negated AND of negated inputs
            if hit[missing].all():  # nothing left to find at this depth: the rest cannot add any
                break
        depth[hit & missing] = d
    depth.flags.writeable = False
    return depth


def circuit_depths(n: int) -> Int[np.ndarray, " functions"]:
    """Entry ``tt``: fewest levels of two-input AND/OR/XOR gates computing ``tt`` with negations free
    (inputs, their negations and both constants have depth 0). Depth ``d`` holds every gate over
    two functions of depth ``< d``, closed under negation. Read-only, cached per ``n``; ``1 <= n <= 4``."""
    _check_enumerable(n)
    return _circuit_depths(n)


def formula_size(tt: int, n: int) -> int:
    """Fewest literal leaves of an AND/OR formula for ``tt`` (:func:`formula_sizes`); ``n <= 4``."""
    check_table(tt, n)
    return int(formula_sizes(n)[tt])


def formula_size_xor(tt: int, n: int) -> int:
    """Fewest literal leaves of an AND/OR/XOR formula for ``tt`` (:func:`formula_sizes`); ``n <= 4``."""
    check_table(tt, n)
    return int(formula_sizes(n, xor=True)[tt])


def circuit_depth(tt: int, n: int) -> int:
    """Fewest levels of AND/OR/XOR gates for ``tt``, negations free (:func:`circuit_depths`); ``n <= 4``."""
    check_table(tt, n)
    return int(circuit_depths(n)[tt])


# --- tables of measures ------------------------------------------------------------------------------------

def measures(tt: int, n: int) -> dict:
    """Every measure of one function, keyed as :data:`COLUMNS`. The four measures found by
    enumeration (formula sizes, circuit depth, min weights) are ``None`` for ``n > 4``."""
    check_table(tt, n)
    small = n <= MAX_ENUMERATED_BITS
    return {
        "truth_table": to_hex(tt, n),
        "ones": tt.bit_count(),
        "lz": lz(tt, n),
        "avg_sensitivity": avg_sensitivity(tt, n),
        "max_sensitivity": max_sensitivity(tt, n),
        "fourier_degree": fourier_degree(tt, n),
        "f2_degree": f2_degree(tt, n),
        "spectral_entropy": spectral_entropy(tt, n),
        "threshold": is_threshold(tt, n),
        "formula_size": formula_size(tt, n) if small else None,
        "formula_size_xor": formula_size_xor(tt, n) if small else None,
        "circuit_depth": circuit_depth(tt, n) if small else None,
        "min_weights": min_weights(tt, n) if small else None,
    }


def unate_rows(bits: Int[np.ndarray, "k points"], n: int) -> Bool[np.ndarray, " k"]:
    """Whether each function is monotone or antitone in every input (every threshold function is)."""
    ok = np.ones(bits.shape[0], bool)
    for j in range(n):
        pairs = bits.reshape(bits.shape[0], -1, 2, 1 << j)
        low, high = pairs[:, :, 0], pairs[:, :, 1]
        ok &= (low <= high).all(axis=(1, 2)) | (low >= high).all(axis=(1, 2))
    return ok


def orbit_representatives(bits: Int[np.ndarray, "k points"], n: int) -> Int[np.ndarray, " k"]:
    """The least truth table among each function's images under permuting inputs, negating inputs
    and negating the output (``2 * 2**n * n!`` of them), as an int per row."""
    points = np.arange(1 << n)
    weights = np.int64(1) << points.astype(np.int64)
    full = full_table(n)
    best = np.full(bits.shape[0], np.iinfo(np.int64).max, np.int64)
    for perm in itertools.permutations(range(n)):
        moved = sum(((points >> j) & 1) << perm[j] for j in range(n))
        for mask in range(1 << n):
            image = bits[:, moved ^ mask].astype(np.int64) @ weights
            best = np.minimum(best, np.minimum(image, full - image))
    return best


def threshold_rows(bits: Int[np.ndarray, "k points"], n: int) -> Bool[np.ndarray, " k"]:
    """:func:`counting.boolean.measures.is_threshold` of each row, by linear programming once per
    orbit (:func:`orbit_representatives`, which keep threshold-ness) and only for unate functions
    (a threshold function is monotone or antitone in each input)."""
    out = unate_rows(bits, n)
    reps, back = np.unique(orbit_representatives(bits[out], n), return_inverse=True)
    out[out] = np.array([is_threshold(int(r), n) for r in reps], bool)[back.ravel()]
    return out


def all_measures(n: int) -> pd.DataFrame:
    """One row per function of ``n`` bits (``1 <= n <= 4``), truth tables ascending, columns
    :data:`COLUMNS`; ``threshold`` from :func:`threshold_rows`."""
    _check_enumerable(n)
    tables = np.arange(1 << (1 << n))
    bits = table_bits(tables, n)
    sens = sensitivities(bits, n)
    threshold = threshold_rows(bits, n)
    mw = min_weights_table(n)
    return pd.DataFrame({
        "truth_table": [to_hex(int(t), n) for t in tables],
        "ones": bits.sum(axis=1).astype(np.int64),
        "lz": [lz(int(t), n) for t in tables],
        "avg_sensitivity": sens.mean(axis=1),
        "max_sensitivity": sens.max(axis=1).astype(np.int64),
        "fourier_degree": fourier_degree_rows(bits, n).astype(np.int64),
        "f2_degree": f2_degree_rows(bits, n).astype(np.int64),
        "spectral_entropy": spectral_entropy_rows(bits, n),
        "threshold": threshold,
        "formula_size": np.asarray(formula_sizes(n)),
        "formula_size_xor": np.asarray(formula_sizes(n, xor=True)),
        "circuit_depth": np.asarray(circuit_depths(n)),
        "min_weights": pd.array(np.where(mw < 0, None, mw).tolist(), dtype="Int64"),
    }, columns=list(COLUMNS))
