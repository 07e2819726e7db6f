"""A readable name for a truth table: a short formula in the input bits ``x0 .. x{n-1}``.

``xj`` is true where input bit ``j`` is ``+1``. :func:`formula` tries, on the bits the function
depends on: a constant (``false``/``true``); an ``and`` or ``or`` of literals (``x2``, ``not x2``,
``x2 and not x3``) or a parity; up to 3 relevant bits, the formula in ``and``, ``or``, ``xor`` and
``not`` with the fewest literals (at most 4), a majority of three literals (``maj(x2, x3, not x4)``)
or a multiplexer (``if x2 then x3 else x4``) counting as three; a symmetric function (``exactly 1 of
x2, x3, x4``). Anything else gets a short description: threshold or not, its relevant bits and its
Fourier degree, e.g. ``non-threshold fn of x0..x4, degree 5`` (not unique: many functions share it).

Example:
    >>> formula(0xF0F0F0F0, 5), formula(0x0F0F0F0F, 5), formula(0xE8, 3)
    ('x2', 'not x2', 'maj(x0, x1, x2)')
    >>> formula(0x88888888, 5), formula(0x0FF00FF0, 5), formula(0xFFFFFFF0, 5)
    ('x0 and x1', 'x2 xor x3', 'x2 or x3 or x4')
    >>> formula(0x000000F0, 5), formula(0x96, 3), formula(0x16, 3)
    ('x2 and not x3 and not x4', 'x0 xor x1 xor x2', 'exactly 1 of x0, x1, x2')
    >>> formula(0x209E7F2C, 5)
    'non-threshold fn of x0..x4, degree 5'
"""

from __future__ import annotations

import functools
import itertools
import re

from counting.boolean.measures import fourier_degree, is_threshold, relevant_bits
from counting.boolean.tables import check_table, full_table

SEARCH_BITS = 3  # exhaustive formula search up to this many relevant bits (256 tables, cached)
MAX_LEAVES = 4  # literals in a searched formula


def _restrict(tt: int, n: int, bits: tuple[int, ...]) -> int:
    """The table on ``len(bits)`` local bits: local point ``v`` reads bit ``m`` of ``v`` as ``x_{bits[m]}``
    (the other bits are irrelevant, so read as 0)."""
    k = len(bits)
    return sum(((tt >> sum(((v >> m) & 1) << b for m, b in enumerate(bits))) & 1) << v for v in range(1 << k))


def _var(m: int, k: int) -> int:
    """Local table of local bit ``m`` on ``k`` bits."""
    return sum(1 << v for v in range(1 << k) if (v >> m) & 1)


def _key(text: str, leaves: int) -> tuple:
    """Fewer leaves, then shorter, fewer negations, bits in ascending order, alphabetical."""
    return leaves, len(text), text.count("not"), tuple(re.findall(r"\{(\d)\}", text)), text


@functools.lru_cache(maxsize=None)
def _small_formulas(k: int) -> dict[int, str]:
    """The best formula (:func:`_key`), in local names ``{0} .. {k-1}``, of every local table on ``k``
    bits that ``and``, ``or``, ``xor`` and ``not`` compute with at most :data:`MAX_LEAVES` literals,
    a majority of three literals or a multiplexer counting as three."""
    full = (1 << (1 << k)) - 1
    best: dict[int, tuple[str, str, int]] = {}  # table -> (text, top operator or "" if atomic, leaves)
    level: dict[int, dict[int, tuple[str, str]]] = {}  # leaves -> the tables first reached with that many

    def offer(t: int, text: str, op: str, leaves: int):
        if t not in best or _key(text, leaves) < _key(best[t][0], best[t][2]):
            if t in best:
                level[best[t][2]].pop(t, None)
            best[t] = (text, op, leaves)
            level.setdefault(leaves, {})[t] = (text, op)

    lits = [((_var(m, k), f"{{{m}}}"), (full ^ _var(m, k), f"not {{{m}}}")) for m in range(k)]
    for t, text in (x for pair in lits for x in pair):
        offer(t, text, "", 1)
    for leaves in range(2, MAX_LEAVES + 1):
        for a in range(1, leaves):
            for (t1, (x, op1)), (t2, (y, op2)) in itertools.product(list(level.get(a, {}).items()),
                                                                      list(level.get(leaves - a, {}).items())):
                for op, t in (("and", t1 & t2), ("or", t1 | t2), ("xor", t1 ^ t2)):
                    if op == "xor" and (x.startswith("not ") or y.startswith("not ")):
                        continue  # written not (a xor b) instead
                    wrap = lambda z, o: f"({z})" if o and o != op else z  # noqa: E731
                    offer(t, f"{wrap(x, op1)} {op} {wrap(y, op2)}", op, leaves)
        if leaves == 3 and k == 3:
            for (a, sa), (b, sb), (c, sc) in itertools.product(*lits):
                offer((a & b) | (a & c) | (b & c), f"maj({sa}, {sb}, {sc})", "", 3)
            for sel, i, j in itertools.permutations(range(3)):
                for (a, sa), (b, sb) in itertools.product(lits[i], lits[j]):
                    s = _var(sel, k)
                    offer((s & a) | (full & ~s & b), f"if {{{sel}}} then {sa} else {sb}", "if", 3)
        for t, (text, op) in list(level.get(leaves, {}).items()):
            offer(full ^ t, f"not ({text})", "", leaves)
    return {t: text for t, (text, _, _) in best.items()}


def _and_or_parity(local: int, k: int, names: list[str]) -> str | None:
    """An ``and`` or ``or`` of literals, or a (negated) parity, of all ``k`` local bits, if ``local`` is one."""
    size = 1 << k
    ones = [v for v in range(size) if (local >> v) & 1]
    lit = lambda m, positive: names[m] if positive else f"not {names[m]}"  # noqa: E731
    if len(ones) == 1:
        return " and ".join(lit(m, (ones[0] >> m) & 1) for m in range(k))
    if len(ones) == size - 1:
        zero = next(v for v in range(size) if not (local >> v) & 1)
        return " or ".join(lit(m, not (zero >> m) & 1) for m in range(k))
    parity = sum(1 << v for v in range(size) if bin(v).count("1") % 2)
    if local in (parity, parity ^ ((1 << size) - 1)):
        text = " xor ".join(names)
        return text if local == parity else f"not ({text})"
    return None


def _symmetric(local: int, k: int, names: list[str]) -> str | None:
    """``exactly / at least / at most m of ...`` if ``local`` depends only on how many bits are set."""
    counts: dict[int, int] = {}
    for v in range(1 << k):
        c, bit = bin(v).count("1"), (local >> v) & 1
        if counts.setdefault(c, bit) != bit:
            return None
    on = sorted(c for c, bit in counts.items() if bit)
    args = ", ".join(names)
    if len(on) == 1:
        return f"exactly {on[0]} of {args}"
    if on == list(range(on[0], k + 1)):
        return f"at least {on[0]} of {args}"
    if on == list(range(0, on[-1] + 1)):
        return f"at most {on[-1]} of {args}"
    return f"number of {args} set is in {{{', '.join(map(str, on))}}}"


def _bit_list(bits: tuple[int, ...]) -> str:
    """``x0..x4`` for a run of 3 or more consecutive bits, else ``x0, x2``."""
    if len(bits) >= 3 and bits == tuple(range(bits[0], bits[-1] + 1)):
        return f"x{bits[0]}..x{bits[-1]}"
    return ", ".join(f"x{b}" for b in bits)


def formula(tt: int, n: int) -> str:
    """A readable name of the function ``tt`` on ``n`` bits (see the module docstring)."""
    check_table(tt, n)
    if tt in (0, full_table(n)):
        return "false" if tt == 0 else "true"
    bits = relevant_bits(tt, n)
    k, names = len(bits), [f"x{b}" for b in bits]
    local = _restrict(tt, n, bits)
    found = _and_or_parity(local, k, names)
    if found is None and k <= SEARCH_BITS:
        found = _small_formulas(k).get(local, "").format(*names) or None
    found = found or _symmetric(local, k, names)
    if found is not None:
        return found
    kind = "threshold" if is_threshold(tt, n) else "non-threshold"
    return f"{kind} fn of {_bit_list(bits)}, degree {fourier_degree(tt, n)}"
