"""Placement counts of gate circuits in residual blocks: brute force, the exact DP and the closed
forms agree; parity decomposition counts checked by enumerating formulas."""

import itertools
import math
import random
from fractions import Fraction

import pytest

import counting.analytic.placements as placements
from counting.analytic.placements import Circuit, chain, tree

LS = range(1, 9)


@pytest.mark.parametrize("k", range(0, 6))
def test_chain_brute_force_equals_dp_equals_closed_form(k):
    for L in LS:
        brute = placements.placements_brute_force(chain(k), L)
        assert brute == placements.placements(chain(k), L) == placements.chain_placements(L, k) == math.comb(L, k)


@pytest.mark.parametrize("j", [0, 1, 2])
def test_tree_brute_force_equals_dp_equals_closed_form(j):
    for L in LS:
        brute = placements.placements_brute_force(tree(j), L)
        assert brute == placements.placements(tree(j), L) == placements.tree_placements(L, j)


@pytest.mark.parametrize("j", [0, 1, 2, 3])
def test_tree_closed_form_by_highest_chain_block(j):
    # the brief's derivation: two chains whose highest block is exactly m, combiner in m+1..L
    for L in range(0, 20):
        def comb(a, b):
            return math.comb(a, b) if a >= 0 else 0

        by_max = sum((comb(m, j) ** 2 - comb(m - 1, j) ** 2) * (L - m) for m in range(j, L + 1))
        assert by_max == placements.tree_placements(L, j)


def test_tree_of_one_has_the_square_pyramidal_count():
    for L in range(1, 40):
        assert placements.tree_placements(L, 1) == (L - 1) * L * (2 * L - 1) // 6


@pytest.mark.parametrize("circuit", [chain(1), chain(3), chain(5), tree(1), tree(2)])
def test_fewer_blocks_than_depth_gives_zero(circuit):
    assert circuit.depth == (circuit.n_gates if "c" not in circuit.gates else (circuit.n_gates + 1) // 2)
    for L in range(0, circuit.depth):
        assert placements.placements(circuit, L) == 0 == placements.placements_brute_force(circuit, L)
    assert placements.placements(circuit, circuit.depth) > 0


def test_empty_circuit_has_one_placement():
    assert placements.placements(chain(0), 5) == 1 == placements.placements_brute_force(chain(0), 5)


def random_dag(rng: random.Random, n: int, p: float) -> Circuit:
    names = [f"v{i}" for i in range(n)]
    rng.shuffle(names)  # gates listed out of topological order
    reads = {names[i]: tuple(names[k] for k in range(i) if rng.random() < p) for i in range(n)}
    order = list(reads)
    rng.shuffle(order)
    return Circuit.from_reads({g: reads[g] for g in order})


def test_random_dags_brute_force_equals_dp():
    rng = random.Random(20240611)
    for _ in range(40):
        n = rng.randint(1, 6)
        circuit = random_dag(rng, n, rng.choice([0.0, 0.25, 0.5, 0.8]))
        for L in range(0, 6 if n <= 5 else 5):
            assert placements.placements_brute_force(circuit, L) == placements.placements(circuit, L), circuit


def test_shared_inputs_and_disconnected_parts():
    # a diamond (shared input, two paths joining) next to a lone gate and a V
    circuit = Circuit.from_reads({"s": (), "l": ("s",), "r": ("s",), "t": ("l", "r"),
                                  "x": (), "y": (), "z": ("y",), "w": ("y",)})
    for L in range(0, 5):
        assert placements.placements(circuit, L) == placements.placements_brute_force(circuit, L)


def test_level_counts_end_with_linear_extensions():
    # all gates in distinct blocks: the tree's two chains interleave in C(2j, j) ways
    for j in range(0, 4):
        e = placements.level_counts(tree(j))
        assert e[-1] == math.comb(2 * j, j) == placements.placement_ratio_limit(j)
        assert placements.level_counts(chain(2 * j + 1))[-1] == 1


def test_dozen_gates_at_sixty_four_blocks_are_exact():
    antichain = Circuit.from_reads({f"x{i}": () for i in range(12)})
    star = Circuit.from_reads({"r": (), **{f"x{i}": ("r",) for i in range(11)}})
    sink = Circuit.from_reads({**{f"x{i}": () for i in range(11)}, "r": tuple(f"x{i}" for i in range(11))})
    assert placements.placements(antichain, 64) == 64**12
    assert placements.placements(star, 64) == sum((64 - b) ** 11 for b in range(1, 65))
    assert placements.placements(sink, 64) == sum((b - 1) ** 11 for b in range(1, 65))


def test_parity_four_ratio():
    for L in range(3, 9):
        assert placements.placement_ratio(L, 1) == Fraction(2 * L - 1, L - 2)
        assert placements.placement_ratio(L, 1) == Fraction(
            placements.placements_brute_force(tree(1), L), placements.placements_brute_force(chain(3), L))
    with pytest.raises(ValueError, match="does not fit"):
        placements.placement_ratio(2, 1)


@pytest.mark.parametrize("j", [1, 2, 3])
def test_ratio_falls_to_the_interleavings(j):
    ratios = [placements.placement_ratio(L, j) for L in range(2 * j + 1, 200)]
    assert all(a > b > math.comb(2 * j, j) for a, b in zip(ratios, ratios[1:]))
    far = placements.placement_ratio(10_000, j)
    assert math.comb(2 * j, j) < far < math.comb(2 * j, j) * Fraction(101, 100)


def test_invalid_circuits_are_one_line_errors():
    cases = [
        ({"a": ("b",), "b": ("a",)}, "not acyclic"),
        ({"a": ("c",), "b": ("a",), "c": ("b",)}, "cycle"),
        ({"a": ("a",)}, "reads itself"),
        ({"a": ("zz",)}, "unknown"),
    ]
    for reads, message in cases:
        with pytest.raises(ValueError, match=message) as info:
            Circuit.from_reads(reads)
        assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match="repeated"):
        Circuit(("a", "a"), ((), ()))
    with pytest.raises(ValueError):
        chain(-1)
    with pytest.raises(ValueError):
        placements.placements(chain(1), -1)


def test_circuits_compare_by_structure():
    assert Circuit.from_reads({"a": (), "b": ("a", "a")}) == Circuit.from_reads({"a": [], "b": ["a"]})
    assert tree(1).topological_order()[-1] == "c" and tree(2).depth == 3


# --- parity decompositions, by enumerating formulas -------------------------------------------

def formulas(bits: frozenset) -> set:
    """Every XOR formula over ``bits`` (each bit once), as nested frozensets (gates commute)."""
    if len(bits) == 1:
        return {next(iter(bits))}
    out = set()
    items = sorted(bits)
    first, rest = items[0], items[1:]
    for r in range(0, len(rest)):
        for others in itertools.combinations(rest, r):
            left = frozenset((first, *others))
            for a in formulas(left):
                for b in formulas(bits - left):
                    out.add(frozenset((a, b)))
    return out


def gate_shape(formula) -> str:
    """Canonical form of the formula's gate tree (leaves, i.e. input bits, dropped)."""
    if not isinstance(formula, frozenset):
        return ""
    return "(" + "".join(sorted(gate_shape(child) for child in formula if isinstance(child, frozenset))) + ")"


def circuit_shape(circuit: Circuit) -> str:
    readers = {g: [h for h, r in zip(circuit.gates, circuit.reads) if g in r] for g in circuit.gates}
    table = dict(zip(circuit.gates, circuit.reads))
    (root,) = [g for g in circuit.gates if not readers[g]]

    def shape(g):
        return "(" + "".join(sorted(shape(x) for x in table[g])) + ")"

    return shape(root)


def formula_circuit(formula) -> Circuit:
    """The gate DAG of a formula: one gate per XOR, reading the gates below it."""
    reads = {}

    def name(f):
        if not isinstance(f, frozenset):
            return None
        gate = f"g{len(reads)}"
        reads[gate] = ()
        reads[gate] = tuple(n for n in (name(child) for child in sorted(f, key=repr)) if n)
        return gate

    name(formula)
    return Circuit.from_reads(reads)


@pytest.mark.parametrize("n_bits", [2, 3, 4, 5, 6])
def test_parity_decompositions_by_enumerating_formulas(n_bits):
    all_formulas = formulas(frozenset(range(n_bits)))
    assert len(all_formulas) == math.prod(range(1, 2 * n_bits - 2, 2))  # (2n-3)!! unordered binary trees
    shapes = [gate_shape(f) for f in all_formulas]
    expected = placements.parity_decompositions(n_bits)
    assert shapes.count(circuit_shape(chain(n_bits - 1))) == expected.chain
    if n_bits % 2:
        assert expected.tree is None
    else:
        assert shapes.count(circuit_shape(tree(n_bits // 2 - 1))) == expected.tree
    assert placements.parity_decompositions(4) == (12, 3)


def test_parity_four_by_intermediate_sets():
    # a decomposition is its set of intermediate signals: a laminar family of 3 subsets of 4 bits,
    # the full set among them, every member split into two parts that are members or single bits
    bits = range(4)
    subsets = [frozenset(s) for r in range(2, 5) for s in itertools.combinations(bits, r)]
    counts = {"chain": 0, "tree": 0}
    for family in itertools.combinations(subsets, 3):
        if frozenset(bits) not in family:
            continue
        ok = all(
            any(
                (len(left) == 1 or left in family) and (len(s - left) == 1 or (s - left) in family)
                for r in range(1, len(s)) for left in map(frozenset, itertools.combinations(sorted(s), r))
            )
            for s in family
        )
        if ok:
            counts["chain" if sorted(map(len, family)) == [2, 3, 4] else "tree"] += 1
    assert counts == {"chain": 12, "tree": 3} == placements.parity_decompositions(4)._asdict()


def test_every_decomposition_of_one_shape_has_the_same_placements():
    for f in formulas(frozenset(range(4))):
        circuit = formula_circuit(f)
        expected = placements.chain_placements if circuit.depth == 3 else None
        for L in range(1, 7):
            got = placements.placements(circuit, L)
            assert got == (expected(L, 3) if expected else placements.tree_placements(L, 1))


def test_placement_table():
    table = placements.placement_table(range(1, 9), j=1)
    assert list(table.columns) == ["L", "chain", "tree", "ratio", "chain_all", "tree_all", "ratio_all"]
    row = table.set_index("L").loc[5]
    assert (row.chain, row.tree, row.chain_all, row.tree_all) == (10, 30, 120, 90)
    assert row.ratio == 3.0 and row.ratio_all == 0.75
    assert math.isnan(table.ratio[0]) and math.isinf(table.ratio[1])
    for L, r in zip(table.L, table.ratio):
        if L >= 3:
            assert r == pytest.approx((2 * L - 1) / (L - 2), rel=1e-15)
    big = placements.placement_table([64], j=20)
    assert big.tree[0] == placements.tree_placements(64, 20)  # exact beyond int64


# --- placement rules (embedding as block 0, shared blocks along a read, output in the readout) ---

SMALL = [chain(1), chain(2), chain(3), tree(0), tree(1), tree(2),
         Circuit.from_reads({"ab": (), "ab^c": ("ab",), "c&~d": (), "out": ("ab^c", "c&~d")}),
         Circuit.from_reads({"a": (), "b": ("a",), "c": ("a",), "d": ("b", "c")})]


@pytest.mark.parametrize("name", list(placements.RULES))
def test_every_rule_brute_force_equals_the_block_dp(name):
    rule = placements.RULES[name]
    for c in SMALL:
        for L in range(0, 5 if c.n_gates > 4 else 6):
            assert placements.placements(c, L, rule) == placements.placements_brute_force(c, L, rule), (name, c, L)


def test_rules_are_every_combination_and_the_default_is_unchanged():
    assert len(placements.RULES) == 8 and placements.RULES["blocks"] == placements.BLOCKS
    assert {r.name for r in placements.RULES.values()} == set(placements.RULES)
    for c in SMALL:
        for L in range(0, 7):
            assert placements.placements(c, L) == placements.placements(c, L, placements.BLOCKS)
            # the default counted by the other method too
            assert placements._placements_by_blocks(c, L, placements.BLOCKS) == placements.placements(c, L)


def test_rules_by_hand_on_the_chain_and_tree_of_three_gates():
    R = placements.RULES
    for L in range(0, 10):
        # embedding, strict: gates reading a gate cannot sit in block 0 anyway: L + 1 blocks
        assert placements.placements(chain(3), L, R["embedding"]) == math.comb(L + 1, 3)
        assert placements.placements(tree(1), L, R["embedding"]) == placements.tree_placements(L + 1, 1)
        # shared: weakly increasing chains are multisets; the tree's combiner at m, its two pairs <= m
        assert placements.placements(chain(3), L, R["shared"]) == math.comb(L + 2, 3)
        assert placements.placements(tree(1), L, R["shared"]) == sum(m * m for m in range(1, L + 1))
        # output in the readout: a pair then a triple; two free pairs
        assert placements.placements(chain(3), L, R["readout"]) == math.comb(L, 2)
        assert placements.placements(tree(1), L, R["readout"]) == L * L
        assert placements.placements(tree(1), L, R["embedding+readout"]) == (L + 1) ** 2
    # 4 blocks, summed over 3 trees and 12 chains: 0.875 under the default rule
    ratios = {n: Fraction(3 * placements.placements(tree(1), 4, r), 12 * placements.placements(chain(3), 4, r))
              for n, r in R.items()}
    assert ratios["blocks"] == Fraction(7, 8) and ratios["embedding"] == Fraction(3, 4)
    assert ratios["shared"] == Fraction(3, 8) and ratios["embedding+shared"] == Fraction(9, 20)


def test_without_outputs_drops_the_gates_nothing_reads():
    assert placements.without_outputs(tree(1)).gates == ("a1", "b1")
    assert placements.without_outputs(chain(3)) == chain(2)
    assert placements.without_outputs(chain(1)).n_gates == 0
