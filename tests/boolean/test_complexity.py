"""Exact complexity measures (counting.boolean.complexity) and ``counting complexity``: values worked
out by hand, invariances over every 3-bit function, the dynamic programmes checked against an
independent brute force on 2 and 3 bits, and the command line's output and one-line errors."""

import json
import math

import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from conftest import assert_usage_error, cli

from counting.boolean import complexity as cx
from counting.boolean.measures import is_threshold
from counting.boolean.tables import full_table, named_truth_table

MEASURES = ("ones", "lz", "avg_sensitivity", "max_sensitivity", "fourier_degree", "f2_degree", "spectral_entropy",
            "threshold", "formula_size", "formula_size_xor", "circuit_depth")


# --- Lempel-Ziv ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("s, phrases", [
    # Kaspar & Schuster's example: 0 | 001 | 10 | 100 | 1000 | 101. By hand: "001" copies "00" from
    # position 0 (overlapping) and adds 1; "10" is new at 4 (no earlier "10"); "100" copies "10" from 4;
    # "1000" copies "100" from 6; the last "101" is found at 4 and ends the string (a cut phrase counts).
    ("0001101001000101", 6),
    ("0", 1),
    ("0000", 2),   # 0 | 000 (copied from position 0, overlapping)
    ("0101", 3),   # 0 | 1 | 01
    ("1010", 3),   # 1 | 0 | 10
    ("0110", 3),   # 0 | 1 | 10 ("11" is not earlier, so "1" is a phrase; then "10" copies "1" and adds 0)
    ("00010", 3),  # 0 | 001 | 0
    ("0001", 2),   # 0 | 001
])
def test_lz76_phrase_counts_by_hand(s, phrases):
    assert cx.lz76_phrases(s) == phrases


def test_lz_of_constants_dictator_and_and():
    for n in (1, 2, 3, 4):
        assert cx.lz(0, n) == cx.lz(full_table(n), n) == float(n)
    assert cx.lz(0xA, 2) == 2 * (3 + 3) / 2        # "0101" and "1010": 3 phrases each
    assert cx.lz(0x8, 2) == 2 * (2 + 3) / 2        # "0001": 0|001; "1000": 1|0|00
    assert cx.lz(0xE8, 3) == 3 * (4 + 4) / 2       # "00010111": 0|001|01|11; "11101000": 1|110|10|00


# --- known values ------------------------------------------------------------------------------------------

def _known(ones, avg, mx, fdeg, f2, ent, thr, size, size_xor, depth):
    return dict(zip(MEASURES[:1] + MEASURES[2:], (ones, avg, mx, fdeg, f2, ent, thr, size, size_xor, depth)))


KNOWN = {
    # name, n: ones, avg sens, max sens, Fourier degree, GF(2) degree, spectral entropy, threshold,
    # formula size (and/or), with xor, circuit depth
    ("const0", 3): _known(0, 0.0, 0, 0, 0, 0.0, True, 0, 0, 0),
    ("const1", 3): _known(8, 0.0, 0, 0, 0, 0.0, True, 0, 0, 0),
    ("x0", 3): _known(4, 1.0, 1, 1, 1, 0.0, True, 1, 1, 0),
    ("x1", 4): _known(8, 1.0, 1, 1, 1, 0.0, True, 1, 1, 0),
    # AND: (-1)**f has coefficients 2, 2, 2, -2 (all of weight 1/4); sensitivity 0, 1, 1, 2
    ("and", 2): _known(1, 1.0, 2, 2, 2, 2.0, True, 2, 2, 1),
    ("or", 2): _known(3, 1.0, 2, 2, 2, 2.0, True, 2, 2, 1),
    ("parity", 2): _known(2, 2.0, 2, 2, 1, 0.0, False, 4, 2, 1),
    ("and", 3): _known(1, 0.75, 3, 3, 3, None, True, 3, 3, 2),
    ("or", 4): _known(15, 0.5, 4, 4, 4, None, True, 4, 4, 2),
    # parity: one character, so entropy 0; and/or size 10 from the brute force below, 16 on 4 bits
    # (Khrapchenko's lower bound n**2 meets the formula xor(xor(a, b), xor(c, d)) of 2 * (4 + 4) leaves)
    ("parity", 3): _known(4, 3.0, 3, 3, 1, 0.0, False, 10, 3, 2),
    ("parity", 4): _known(8, 4.0, 4, 4, 1, 0.0, False, 16, 4, 2),
    # majority 3: Fourier weight 1/4 on each x_j and on x0 x1 x2 (entropy 2); ANF ab + bc + ca;
    # (a & b) | (c & (a | b)) has 5 leaves, and no depth-2 circuit exists (brute force below)
    ("majority", 3): _known(4, 1.5, 2, 3, 2, 2.0, True, 5, 5, 3),
    # majority of 4 (at least 3 ones): sensitivity 3 at the 4 points with three ones, 2 at the 6
    # with two, 0 elsewhere: average 24 / 16; ANF coefficient of x0x1x2x3 is 4 + 1 = 1 mod 2
    ("majority", 4): _known(5, 1.5, 3, 4, 4, None, True, None, None, None),
}


@pytest.mark.parametrize("name, n", list(KNOWN))
def test_known_values(name, n):
    got = cx.measures(named_truth_table(name, n), n)
    for key, want in KNOWN[name, n].items():
        if want is not None:
            assert got[key] == pytest.approx(want), (name, n, key)
    assert set(got) == set(cx.COLUMNS)


def test_and3_entropy_and_bounds_of_entropy():
    # AND on 3 bits: coefficients 6 at S = {} and +-2 at the 7 others: p = 36/64 and 7 * 4/64
    p = np.array([36] + [4] * 7) / 64
    assert cx.spectral_entropy(0x80, 3) == pytest.approx(-(p * np.log2(p)).sum())
    bent = 0x7888  # x0 x1 xor x2 x3 (in 0/1 form): all 16 coefficients of equal size
    assert cx.spectral_entropy(bent, 4) == pytest.approx(4.0)


def test_measures_beyond_four_bits_leave_the_enumerated_ones_empty():
    m = cx.measures(named_truth_table("majority", 5), 5)
    assert m["formula_size"] is None and m["formula_size_xor"] is None and m["circuit_depth"] is None
    assert m["truth_table"] == "0xfee8e880" and m["threshold"] and m["max_sensitivity"] == 3
    with pytest.raises(ValueError):
        cx.formula_sizes(5)


# --- invariances over every 3-bit function ------------------------------------------------------------------

def _negate_input(tt, n, j):
    return sum(((tt >> (i ^ (1 << j))) & 1) << i for i in range(1 << n))


def _swap_inputs(tt, n, j, k):
    def swap(i):
        bj, bk = (i >> j) & 1, (i >> k) & 1
        return i & ~((1 << j) | (1 << k)) | (bj << k) | (bk << j)
    return sum(((tt >> swap(i)) & 1) << i for i in range(1 << n))


INVARIANT = ("avg_sensitivity", "max_sensitivity", "fourier_degree", "f2_degree", "spectral_entropy",
             "threshold", "formula_size", "formula_size_xor", "circuit_depth")


def test_invariant_under_negating_permuting_inputs_and_negating_the_output():
    n = 3
    table = {tt: cx.measures(tt, n) for tt in range(256)}
    for tt, m in table.items():
        images = [tt ^ full_table(n), _negate_input(tt, n, 0), _negate_input(tt, n, 2),
                  _swap_inputs(tt, n, 0, 1), _swap_inputs(tt, n, 1, 2)]
        for image in images:
            for key in INVARIANT:
                assert table[image][key] == pytest.approx(m[key]), (hex(tt), hex(image), key)
        assert table[tt ^ full_table(n)]["ones"] == 8 - m["ones"]


def test_threshold_functions_on_3_bits():
    assert sum(is_threshold(tt, 3) for tt in range(256)) == 104


# --- the dynamic programmes against an independent brute force ------------------------------------------------

def _relaxed_sizes(n, ops):
    """Fewest leaves by Bellman-Ford relaxation over all pairs (every op given explicitly)."""
    size = 1 << (1 << n)
    best = np.full(size, 10**6, np.int64)
    best[[0, size - 1]] = 0
    best[cx.literal_tables(n)] = 1
    tables = np.arange(size)
    while True:
        new = best.copy()
        usable = tables[(best > 0) & (best < 10**6)]
        costs = best[usable][:, None] + best[usable][None, :]
        for op in ops:
            np.minimum.at(new, op(usable[:, None], usable[None, :]).ravel(), costs.ravel())
        new[[0, size - 1]] = 0
        if (new == best).all():
            return best
        best = new


def _relaxed_depths(n):
    """Fewest levels by relaxation: gates and, or, xor and their negations over any two functions."""
    size = 1 << (1 << n)
    full = size - 1
    depth = np.full(size, 10**6, np.int64)
    depth[[0, full]] = 0
    depth[cx.literal_tables(n)] = 0
    tables = np.arange(size)
    ops = (np.bitwise_and, np.bitwise_or, np.bitwise_xor,
           lambda a, b: full ^ (a & b), lambda a, b: full ^ (a | b), lambda a, b: full ^ (a ^ b))
    while True:
        new = depth.copy()
        usable = tables[depth < 10**6]
        costs = np.maximum(depth[usable][:, None], depth[usable][None, :]) + 1
        for op in ops:
            np.minimum.at(new, op(usable[:, None], usable[None, :]).ravel(), costs.ravel())
        if (new == depth).all():
            return depth
        depth = new


@pytest.mark.parametrize("n", [1, 2, 3])
def test_dynamic_programmes_match_a_brute_force(n):
    assert (cx.formula_sizes(n) == _relaxed_sizes(n, (np.bitwise_and, np.bitwise_or))).all()
    assert (cx.formula_sizes(n, xor=True) ==
            _relaxed_sizes(n, (np.bitwise_and, np.bitwise_or, np.bitwise_xor))).all()
    assert (cx.circuit_depths(n) == _relaxed_depths(n)).all()


def test_parity_sizes_verified_by_brute_force():
    and_or = (np.bitwise_and, np.bitwise_or)
    assert _relaxed_sizes(2, and_or)[0x6] == 4     # x0 xor x1
    sizes = _relaxed_sizes(3, and_or)
    assert sizes[0x66] == 4 and sizes[0x96] == 10  # x0 xor x1, and parity, on 3 bits
    for n in (2, 3, 4):
        parity = named_truth_table("parity", n)
        assert cx.formula_size_xor(parity, n) == n
    assert cx.circuit_depth(0x6996, 4) == 2


def test_every_function_of_4_bits():
    df = cx.all_measures(4)
    assert list(df.columns) == list(cx.COLUMNS) and len(df) == 65536
    assert df["threshold"].sum() == 1882
    assert (df["circuit_depth"].between(0, 4)).all() and (df["formula_size"] >= df["formula_size_xor"]).all()
    row = df[df["truth_table"] == "0x6996"].iloc[0]
    assert (row["formula_size"], row["formula_size_xor"], row["circuit_depth"]) == (16, 4, 2)
    some = [0x0000, 0x8000, 0x6996, 0xFEE8, 0x1234, 0xBEEF]
    for tt in some:
        assert df.iloc[tt].to_dict() == pytest.approx(cx.measures(tt, 4)), hex(tt)


# --- command line ------------------------------------------------------------------------------------------

@pytest.mark.slow  # two command-line start-ups (about 9 s)
def test_cli_one_function_readable_and_json():
    r = cli("complexity", "0xe8", "--n", "3")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == "0xe8 on 3 bits"
    for key in MEASURES:
        assert key in r.stdout
    r = cli("complexity", "0x96", "--n", "3", "--json")
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert set(got) == {"n", *cx.COLUMNS}
    assert (got["truth_table"], got["formula_size"], got["formula_size_xor"], got["circuit_depth"]) == \
        ("0x96", 10, 3, 2)
    assert math.isclose(got["avg_sensitivity"], 3.0) and got["threshold"] is False


def test_cli_all_writes_one_row_per_function(tmp_path):
    r = cli("complexity", "--all", "3", "--out", tmp_path / "out")
    assert r.returncode == 0, r.stderr
    df = pd.read_parquet(tmp_path / "out" / "complexity.parquet")
    assert len(df) == 256 and list(df.columns) == list(cx.COLUMNS)
    assert str(tmp_path / "out" / "complexity.parquet") in r.stdout
    assert df["threshold"].sum() == 104


BAD = [
    (["0xe8", "--n", "4"], "truth_table"),
    (["0xzz", "--n", "3"], "truth_table"),
    (["0xe8"], "--n"),
    (["0xe8", "--n", "13"], "--n"),
    ([], "truth_table"),
    (["0xe8", "--n", "3", "--all", "3"], "truth_table"),
    (["--all", "3"], "--out"),
    (["--all", "5", "--out", "OUT"], "--all"),
    (["--all", "2", "--n", "2", "--out", "OUT"], "--n"),
    (["0xe8", "--n", "3", "--out", "OUT"], "--out"),
]


def _line(args, tmp_path):
    return [str(tmp_path / "o") if a == "OUT" else a for a in args]


# one case through a subprocess by default (a start-up each, about 2 s); every case runs in process below
@pytest.mark.parametrize("args, field", [BAD[0], pytest.param(*BAD[4], marks=pytest.mark.slow), pytest.param(*BAD[7], marks=pytest.mark.slow)])
def test_cli_bad_input_is_one_line(tmp_path, args, field):
    line = assert_usage_error(cli("complexity", *_line(args, tmp_path)), field)
    assert "expected" in line
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("args, field", BAD)
def test_cli_bad_input_in_process(tmp_path, capsys, args, field):
    """Every case through ``cli.main`` (the same path, without a subprocess each)."""
    from counting.cli import main

    assert main(["complexity", *_line(args, tmp_path)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("counting: error: ") and field in err[0], err
    assert not (tmp_path / "o").exists()


def test_lz_rows_equals_the_loop():
    """The batched Lempel-Ziv equals the pure-Python one on random 7-bit tables and on structured
    ones (constants, a single one, periodic strings), and on every 3-bit function."""
    rng = np.random.default_rng(0)
    bits = rng.integers(0, 2, (300, 128))
    bits[:, :40] *= rng.integers(0, 2, (300, 1))  # long runs of zeros
    special = np.array([[0] * 128, [1] * 128, [1] + [0] * 127, [0] * 127 + [1], [0, 1] * 64, [1, 1, 0, 0] * 32])
    bits = np.concatenate([bits, special])
    want = [cx.lz(int(sum(int(b) << i for i, b in enumerate(row))), 7) for row in bits]
    assert cx.lz_rows(bits, 7, block=64).tolist() == want
    three = cx.table_bits(np.arange(256), 3)
    assert cx.lz_rows(three, 3).tolist() == [cx.lz(t, 3) for t in range(256)]


@pytest.mark.parametrize("length", [2, 3, 4, 8, 16, 33, 64, 128])
def test_phrase_rows_equal_kaspar_schuster(length):
    """The lockstep longest-match parsing counts the same phrases as the state machine, on random
    rows, sparse rows and every row of up to 8 characters."""
    rng = np.random.default_rng(length)
    rows = rng.integers(0, 2, (500, length))
    rows[:100] = rng.random((100, length)) < 0.1
    if length <= 8:
        rows = (np.arange(2**length)[:, None] >> np.arange(length)) & 1
    got = np.asarray(cx.lz76_phrase_rows(jnp.asarray(rows, jnp.int8))).tolist()
    assert got == [cx.lz76_phrases("".join(map(str, r))) for r in rows]
