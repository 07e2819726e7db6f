"""Placement counts: in how many ways a circuit of gates can sit in the blocks of a residual network.

In a residual network of ``L`` blocks (:mod:`counting.models.resmlp`,
``s_k = s_{k-1} + B_k act(A_k s_{k-1} + a_k) + c_k``) a *gate* (say one XOR of two stream features)
occupies one block, and it must sit in a block strictly after the blocks of the gates it reads;
gates that read only inputs may sit in any block, and several gates may share a block (in
parallel). A :class:`Circuit` is a DAG of gates; its *placement count* in ``L`` blocks is the number
of maps ``gate -> block in {1..L}`` that are strictly increasing along every edge (Stanley's strict
order polynomial of the gate poset).

What is counted: every gate of the circuit, the last (output) gate included, sits in one of the
blocks ``1..L``; the embedding (block 0) and the readout hold no gate; gates are distinct
(labelled), gates with no path between them may share a block or sit in either order, and order
along an edge is strict (a gate never shares a block with a gate it reads). What is not: how
many hidden units a gate uses, whether a block has room for the gates placed in it, or how likely
a prior is to build any of them; a placement count is a multiplicity, not a volume.

Other *rules* (:class:`Rule`, :data:`RULES`) mirror the choices the measurement makes
(:mod:`counting.mechanisms.routes`): ``embedding`` lets the gates that read only inputs sit in
block 0 as well (the measured stages include the embedding, which can hold a threshold function
of the inputs); ``shared`` lets a gate share a block with a gate it reads (the measurement's
"same stage": a block's stream reads its own hidden units); ``output=False`` leaves the output
gates (those no gate reads) to the readout, uncounted (the measurement searches only the
intermediates, never the readout). :data:`BLOCKS`, the default, is the rule above.

Two shapes of ``2j + 1`` gates are compared: the *chain* (``chain(2j + 1)``, depth ``2j + 1``),
with ``C(L, 2j + 1)`` placements, and the *tree* (``tree(j)``: two chains of ``j`` gates feeding
one combiner, depth ``j + 1``), with ``sum_{m=j}^{L-1} C(m, j)**2`` placements (``m`` blocks lie
below the combiner and each chain picks ``j`` of them). For 4-bit parity (``j = 1``),
``((x0^x1)^x2)^x3`` against ``(x0^x1)^(x2^x3)``, the ratio is ``(2L - 1) / (L - 2)``; for every
``j`` it falls to ``C(2j, j)`` as ``L`` grows (the interleavings of the two chains once all gates
sit in distinct blocks), and it is largest where the chain barely fits.

Example:
    >>> placements(tree(1), 4), placements(chain(3), 4)
    (14, 4)
    >>> tree_placements(4, 1), chain_placements(4, 3), placement_ratio(4, 1)
    (14, 4, Fraction(7, 2))
    >>> parity_decompositions(4)
    Decompositions(chain=12, tree=3)
    >>> [placements(tree(1), 4, RULES[r]) for r in ("blocks", "embedding", "shared", "embedding+shared")]
    [14, 30, 30, 54]
    >>> [placements(chain(3), 4, RULES[r]) for r in ("blocks", "embedding", "shared", "embedding+shared")]
    [4, 10, 20, 30]
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterable, Mapping, NamedTuple

import pandas as pd


@dataclass(frozen=True)
class Circuit:
    """A DAG of gates: ``gates[i]`` reads the gates named in ``reads[i]`` (inputs are not gates).

    Build it with :meth:`from_reads` (``{"g2": ("g1",), "g1": ()}``) or :func:`chain` / :func:`tree`.
    Names are unique strings, every read names a gate of the circuit, no gate reads itself and
    there is no cycle; anything else is a one-line :class:`ValueError`. Repeated reads are kept
    once and sorted, so equal circuits compare and hash equal.
    """

    gates: tuple[str, ...]
    reads: tuple[tuple[str, ...], ...]

    def __post_init__(self) -> None:
        gates, reads = tuple(self.gates), tuple(tuple(sorted(set(r))) for r in self.reads)
        object.__setattr__(self, "gates", gates)
        object.__setattr__(self, "reads", reads)
        if len(gates) != len(reads):
            raise ValueError(f"circuit: {len(gates)} gates but {len(reads)} read lists")
        if not all(isinstance(g, str) and g for g in gates):
            raise ValueError(f"circuit: gate names must be non-empty strings, got {list(gates)}")
        if len(set(gates)) != len(gates):
            dup = sorted({g for g in gates if gates.count(g) > 1})
            raise ValueError(f"circuit: repeated gate names {dup}")
        known = set(gates)
        for g, r in zip(gates, reads):
            if g in r:
                raise ValueError(f"circuit: gate {g!r} reads itself")
            unknown = [x for x in r if x not in known]
            if unknown:
                raise ValueError(f"circuit: gate {g!r} reads unknown gates {unknown}")
        cycle = _find_cycle(dict(zip(gates, reads)))
        if cycle:
            raise ValueError(f"circuit: not acyclic, cycle {' -> '.join(cycle)}")

    @classmethod
    def from_reads(cls, reads: Mapping[str, Iterable[str]]) -> Circuit:
        """The circuit whose gate ``g`` reads the gates ``reads[g]``, gates in the mapping's order."""
        return cls(tuple(reads), tuple(tuple(r) for r in reads.values()))

    @property
    def n_gates(self) -> int:
        """Number of gates."""
        return len(self.gates)

    def topological_order(self) -> tuple[str, ...]:
        """The gates, each after every gate it reads (ties kept in the circuit's order)."""
        done: list[str] = []
        placed: set[str] = set()
        pending = list(zip(self.gates, self.reads))
        while pending:
            ready = [g for g, r in pending if placed.issuperset(r)]
            done += ready
            placed.update(ready)
            pending = [(g, r) for g, r in pending if g not in placed]
        return tuple(done)

    @property
    def depth(self) -> int:
        """Gates on the longest read path: the fewest blocks with any placement (0 for no gates)."""
        level: dict[str, int] = {}
        table = dict(zip(self.gates, self.reads))
        for g in self.topological_order():
            level[g] = 1 + max((level[x] for x in table[g]), default=0)
        return max(level.values(), default=0)


def _find_cycle(reads: Mapping[str, tuple[str, ...]]) -> list[str] | None:
    """A cycle of the read graph as a list of names (first repeated last), or None."""
    colour: dict[str, int] = {}
    for start in reads:
        if start in colour:
            continue
        stack, path = [(start, iter(reads[start]))], [start]
        colour[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                colour[node] = 2
                stack.pop()
                path.pop()
            elif colour.get(child) == 1:
                return path[path.index(child):] + [child]
            elif child not in colour:
                colour[child] = 1
                stack.append((child, iter(reads[child])))
                path.append(child)
    return None


def chain(k: int) -> Circuit:
    """``k`` gates in a line, ``g1 -> g2 -> ... -> gk`` (depth ``k``; ``k = 0`` is the empty circuit)."""
    if k < 0:
        raise ValueError(f"chain: k must be >= 0, got {k}")
    return Circuit.from_reads({f"g{i}": (f"g{i - 1}",) if i > 1 else () for i in range(1, k + 1)})


def tree(j: int) -> Circuit:
    """Two chains ``a1 -> ... -> aj`` and ``b1 -> ... -> bj`` feeding a combiner ``c``.

    ``2j + 1`` gates, depth ``j + 1``. ``tree(1)`` is the balanced 4-bit parity ``(x0^x1)^(x2^x3)``; ``tree(0)`` is the single gate ``c``.
    """
    if j < 0:
        raise ValueError(f"tree: j must be >= 0, got {j}")
    reads: dict[str, tuple[str, ...]] = {}
    for side in "ab":
        for i in range(1, j + 1):
            reads[f"{side}{i}"] = (f"{side}{i - 1}",) if i > 1 else ()
    reads["c"] = (f"a{j}", f"b{j}") if j else ()
    return Circuit.from_reads(reads)


class Rule(NamedTuple):
    """Which maps ``gate -> block`` a placement count counts (see the module docstring).

    ``embedding``: gates reading no gate may also sit in block 0 (the embedding); ``shared``: a gate
    may sit in the block of a gate it reads (order along a read is ``<=``, not ``<``); ``output``:
    the output gates (read by no gate) take a block (``False``: they sit in the readout and are
    not counted). Every other gate sits in ``1..L``."""

    embedding: bool = False
    shared: bool = False
    output: bool = True

    @property
    def name(self) -> str:
        parts = [n for n, on in (("embedding", self.embedding), ("shared", self.shared)) if on]
        parts += [] if self.output else ["readout"]
        return "+".join(parts) or "blocks"


BLOCKS = Rule()
"""Every gate, the output gate included, in blocks ``1..L``, strictly after the gates it reads."""
RULES = {r.name: r for r in (Rule(e, sh, o) for o in (True, False) for e in (False, True) for sh in (False, True))}
"""Every combination of the three choices, by name: ``blocks``, ``shared``, ``embedding``,
``embedding+shared``, then the same with ``+readout`` (``readout`` alone for output in the readout)."""


def _check_blocks(L: int) -> None:
    if L < 0:
        raise ValueError(f"placements: L (number of blocks) must be >= 0, got {L}")


def placements_brute_force(circuit: Circuit, L: int, rule: Rule = BLOCKS) -> int:
    """Placement count by enumerating all maps ``gate -> block in {0..L}`` and keeping those the
    rule allows (block 0 only for a gate reading no gate, under ``rule.embedding``; every read
    ``<`` or, under ``rule.shared``, ``<=``; output gates dropped first unless ``rule.output``).

    The reference for :func:`placements`; only for small ``(L + 1)**n_gates``.
    """
    _check_blocks(L)
    circuit = circuit if rule.output else without_outputs(circuit)
    index = {g: i for i, g in enumerate(circuit.gates)}
    edges = [(index[x], i) for i, r in enumerate(circuit.reads) for x in r]
    low = [0 if rule.embedding and not r else 1 for r in circuit.reads]
    before = (lambda a, b: a <= b) if rule.shared else (lambda a, b: a < b)
    return sum(all(p[i] >= low[i] for i in range(len(p))) and all(before(p[u], p[v]) for u, v in edges)
               for p in itertools.product(range(0, L + 1), repeat=circuit.n_gates))


def without_outputs(circuit: Circuit) -> Circuit:
    """The circuit less its output gates (those no gate reads)."""
    read = {x for r in circuit.reads for x in r}
    keep = [i for i, g in enumerate(circuit.gates) if g in read]
    return Circuit(tuple(circuit.gates[i] for i in keep), tuple(circuit.reads[i] for i in keep))


def _placements_by_blocks(circuit: Circuit, L: int, rule: Rule) -> int:
    """Exact count under any rule: DP over the blocks in order (``0`` first under
    ``rule.embedding``), the state the set of gates placed so far; each block adds any set of
    gates whose reads are all placed before it (or, under ``rule.shared``, placed or added with it)."""
    n = circuit.n_gates
    index = {g: i for i, g in enumerate(circuit.gates)}
    need = [sum(1 << index[x] for x in r) for r in circuit.reads]
    sources = sum(1 << i for i in range(n) if not need[i])
    full = (1 << n) - 1
    counts = {0: 1}
    for block in range(0 if rule.embedding else 1, L + 1):
        nxt: dict[int, int] = {}
        for done, c in counts.items():
            rest = full & ~done & (sources if block == 0 else full)
            sub = rest
            while True:
                have = done | sub if rule.shared else done
                if all(need[i] & have == need[i] for i in range(n) if sub >> i & 1):
                    nxt[done | sub] = nxt.get(done | sub, 0) + c
                if not sub:
                    break
                sub = (sub - 1) & rest
        counts = nxt
    return counts.get(full, 0)


def _components(circuit: Circuit) -> list[Circuit]:
    """The connected components (read edges taken undirected), each a circuit of its own."""
    parent = {g: g for g in circuit.gates}

    def root(g: str) -> str:
        while parent[g] != g:
            parent[g] = parent[parent[g]]
            g = parent[g]
        return g

    for g, r in zip(circuit.gates, circuit.reads):
        for x in r:
            parent[root(x)] = root(g)
    groups: dict[str, list[int]] = {}
    for i, g in enumerate(circuit.gates):
        groups.setdefault(root(g), []).append(i)
    return [Circuit(tuple(circuit.gates[i] for i in idx), tuple(circuit.reads[i] for i in idx))
            for idx in groups.values()]


@functools.lru_cache(maxsize=256)
def _connected_level_counts(circuit: Circuit) -> tuple[int, ...]:
    """``level_counts`` of one connected circuit: DP over down-sets (gates already placed), one
    step per occupied block, adding any non-empty set of gates whose reads are all placed."""
    n = circuit.n_gates
    index = {g: i for i, g in enumerate(circuit.gates)}
    need = [sum(1 << index[x] for x in r) for r in circuit.reads]
    counts: dict[int, list[int]] = {0: [1] + [0] * n}
    full = (1 << n) - 1
    for done in range(full + 1):  # a strict superset is a larger mask: sources come first
        here = counts.get(done)
        if here is None or done == full:
            continue
        free = sum(1 << i for i in range(n) if not done >> i & 1 and need[i] & done == need[i])
        shifted = [0] + here[:-1]
        sub = free
        while sub:
            there = counts.setdefault(done | sub, [0] * (n + 1))
            for k, c in enumerate(shifted):
                if c:
                    there[k] += c
            sub = (sub - 1) & free
    return tuple(counts[full])


def level_counts(circuit: Circuit) -> tuple[int, ...]:
    """``e[k]`` for ``k = 0..n``: placements using exactly ``k`` given blocks, every one occupied.

    Then ``placements(circuit, L) = sum_k e[k] * C(L, k)`` (choose which ``k`` of the ``L`` blocks
    are occupied). Computed exactly per connected component by a DP over down-sets, then merged:
    two components on ``a`` and ``b`` occupied blocks occupy ``k`` blocks together in
    ``C(k, a) * C(a, a + b - k)`` ways. ``e[n]`` is the number of linear extensions, so
    ``placements ~ e[n] * L**n / n!`` as ``L`` grows.
    """
    total: tuple[int, ...] = (1,)
    for part in _components(circuit):
        e = _connected_level_counts(part)
        merged = [0] * (len(total) + len(e) - 1)
        for a, x in enumerate(total):
            for b, y in enumerate(e):
                if x and y:
                    for k in range(max(a, b), a + b + 1):
                        merged[k] += x * y * math.comb(k, a) * math.comb(a, a + b - k)
        total = tuple(merged)
    return total


def placements(circuit: Circuit, L: int, rule: Rule = BLOCKS) -> int:
    """Exact placement count of ``circuit`` in ``L`` blocks (Python integer).

    By default (:data:`BLOCKS`) the number of maps ``gate -> block in {1..L}`` strictly increasing
    along every read: every gate, the output gate included, takes a block; the embedding and the
    readout take none. Gates are distinct; gates with no read path between them may share a block.
    Zero when ``L`` is below the circuit's depth; 1 for the empty circuit. Uses :func:`level_counts`
    (cached per circuit), fast for any DAG of a dozen gates and any ``L``. Another ``rule``
    (:class:`Rule`) is counted block by block (:func:`_placements_by_blocks`, ``4**n_gates * L``
    steps at most).
    """
    _check_blocks(L)
    if rule != BLOCKS:
        return _placements_by_blocks(circuit if rule.output else without_outputs(circuit), L, rule)
    return sum(e * math.comb(L, k) for k, e in enumerate(level_counts(circuit)))


def chain_placements(L: int, k: int) -> int:
    """Placements of ``chain(k)`` in ``L`` blocks: ``C(L, k)`` (a chain takes ``k`` distinct blocks, in order)."""
    _check_blocks(L)
    return math.comb(L, k)


def tree_placements(L: int, j: int) -> int:
    """Placements of ``tree(j)`` in ``L`` blocks: ``sum_{m=j}^{L-1} C(m, j)**2``.

    Derivation: put the combiner in block ``m + 1``; each of the two (distinct) chains then picks
    ``j`` of the ``m`` blocks below it, independently (they may share blocks): ``C(m, j)**2``.
    Equivalently, two chains whose highest block is exactly ``m`` (``C(m, j)**2 - C(m-1, j)**2``
    pairs) times ``L - m`` combiner blocks, summed by parts. For ``j = 1``: ``(L-1) L (2L-1) / 6``.
    """
    _check_blocks(L)
    return sum(math.comb(m, j) ** 2 for m in range(j, L))


def placement_ratio(L: int, j: int) -> Fraction:
    """Exact ratio tree / chain for equal gate counts: ``tree_placements(L, j) / chain_placements(L, 2j + 1)``.

    For ``j = 1`` (4-bit parity) it is ``(2L - 1) / (L - 2)``; it decreases to ``C(2j, j)`` as
    ``L`` grows. Undefined (``ValueError``) when ``L < 2j + 1``: the chain does not fit.
    """
    chain_count = chain_placements(L, 2 * j + 1)
    if chain_count == 0:
        raise ValueError(f"placement_ratio: the chain of {2 * j + 1} gates does not fit in L={L} blocks")
    return Fraction(tree_placements(L, j), chain_count)


def placement_ratio_limit(j: int) -> int:
    """``lim_{L -> oo} placement_ratio(L, j) = C(2j, j)``.

    Both counts grow like ``(linear extensions) * L**(2j+1) / (2j+1)!``: the tree has ``C(2j, j)``
    linear extensions (interleavings of its two chains), the chain one.
    """
    return math.comb(2 * j, j)


class Decompositions(NamedTuple):
    """Distinct decompositions of n-bit parity into 2-input XOR gates of the two shapes.

    ``chain``: ``chain(n - 1)``, ``((x_a ^ x_b) ^ x_c) ^ ...``; ``tree``: ``tree(j)`` with
    ``n = 2j + 2`` (``None`` for odd ``n``, where that shape does not exist). Formulas are counted
    up to the commutativity of each gate (``x0^x1`` and ``x1^x0`` are one gate).
    """

    chain: int
    tree: int | None


def _chain_decompositions(n_bits: int) -> int:
    """Chains over ``n_bits`` bits: an unordered first pair, then the rest in order, ``n!/2`` (1 for one bit)."""
    return 1 if n_bits == 1 else math.factorial(n_bits) // 2


def parity_decompositions(n_bits: int) -> Decompositions:
    """Counts of chain and ``tree(j)`` decompositions of ``n_bits``-bit parity (``n_bits >= 2``).

    Chain: ``C(n, 2) * (n - 2)! = n! / 2``. Tree (``n = 2j + 2``): split the bits into two unordered
    halves of ``j + 1`` (``C(n, j + 1) / 2``), each half a chain: ``C(n, n/2) / 2 * ((n/2)! / 2)**2``
    (halves of one bit count once). 2 bits: one gate, ``(1, 1)``; 3 bits: ``(3, None)``;
    4 bits: ``(12, 3)`` (the tree is the balanced ``(a^b)^(c^d)``); 6 bits: ``(360, 90)``.
    """
    if n_bits < 2:
        raise ValueError(f"parity_decompositions: n_bits must be >= 2, got {n_bits}")
    chains = _chain_decompositions(n_bits)
    if n_bits % 2:
        return Decompositions(chains, None)
    half = n_bits // 2
    return Decompositions(chains, math.comb(n_bits, half) // 2 * _chain_decompositions(half) ** 2)


def placement_table(Ls: Iterable[int], j: int = 1) -> pd.DataFrame:
    """Chain against tree placements for each ``L``: one row per ``L``.

    Columns: ``L``; ``chain`` = ``chain_placements(L, 2j + 1)``; ``tree`` = ``tree_placements(L, j)``;
    ``ratio`` = tree / chain as a float (``inf`` where only the tree fits, ``nan`` where neither
    does; :func:`placement_ratio` gives it exactly); ``chain_all`` and ``tree_all``: the same counts
    times the number of decompositions of ``(2j + 2)``-bit parity of that shape (12 and 3 for
    ``j = 1``), i.e. summed over all decompositions; ``ratio_all`` = tree_all / chain_all.
    Counts are exact Python integers (``int64`` while they fit, object columns beyond).
    """
    decomp = parity_decompositions(2 * j + 2)
    rows = []
    for L in Ls:
        c, t = chain_placements(L, 2 * j + 1), tree_placements(L, j)
        ca, ta = c * decomp.chain, t * decomp.tree
        rows.append({"L": L, "chain": c, "tree": t, "ratio": _float_ratio(t, c),
                     "chain_all": ca, "tree_all": ta, "ratio_all": _float_ratio(ta, ca)})
    return pd.DataFrame(rows, columns=["L", "chain", "tree", "ratio", "chain_all", "tree_all", "ratio_all"])


def _float_ratio(num: int, den: int) -> float:
    if den:
        return float(Fraction(num, den))
    return math.inf if num else math.nan
