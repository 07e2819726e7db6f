"""Truth tables in user input have exactly two forms: ``"0x"`` and exactly ``ceil(2**n / 4)`` hex
digits (what ``to_hex`` prints), or the list of points where the function is 1. Every other form
(an integer, hex without ``0x``, too few or too many digits, a point out of range or repeated, a
bool, a float) is a one-line error naming the field and both forms, in a spec (through the command
line too) and in an experiment file. ``to_hex`` and the parser agree for n = 1..12."""

from __future__ import annotations

import random
import tomllib

import pytest
from conftest import assert_usage_error, cli
from conftest import write_spec as write

from counting.boolean.tables import from_function, hex_digits, named_truth_table, to_hex
from counting.experiments.llamaizer.config import from_dict
from counting.spec.errors import SpecError
from counting.spec.job import parse_spec
from counting.spec.target import parse_target, parse_truth_table

REJECTED = {  # (value as TOML, n_inputs)
    "integer": ("232", 3),
    "integer_that_looks_like_hex": ("10", 2),
    "hex_without_0x": ('"abc"', 4),
    "digits_without_0x": ('"e8"', 3),
    "too_many_digits": ('"0xe8000"', 3),
    "leading_zero_digit": ('"0x0e8"', 3),
    "too_few_digits": ('"0xe8"', 7),
    "unpadded_5_inputs": ('"0x8888888"', 5),
    "one_input_digit_too_big": ('"0x4"', 1),
    "not_hex": ('"0xg8"', 3),
    "empty_hex": ('"0x"', 3),
    "underscore_not_between_digits": ('"0x_e8"', 3),
    "space": ('" 0xe8"', 3),
    "point_out_of_range": ("[3, 8]", 3),
    "negative_point": ("[-1]", 3),
    "repeated_point": ("[3, 5, 3]", 3),
    "bool": ("true", 3),
    "bool_point": ("[true]", 3),
    "float": ("232.0", 3),
    "float_point": ("[3.0]", 3),
    "table": ("{ x = 1 }", 3),
}

# the forms the CLI is run on (one of each kind: a subprocess each)
CLI_CASES = ("integer", "point_out_of_range")  # every form is checked in-process above; the CLI path is shared


def spec_text(value: str, n: int) -> str:
    return f"[model]\nn_inputs = {n}\nwidths = []\n[target]\ntruth_table = {value}\n"


@pytest.mark.parametrize("case", sorted(REJECTED))
def test_rejected_forms_are_one_line_errors_naming_field_and_forms(case):
    value, n = REJECTED[case]
    with pytest.raises(SpecError) as err:
        parse_spec(spec_text(value, n))
    msg = str(err.value)
    assert len(msg.splitlines()) == 1, msg
    assert msg.startswith(f"target.truth_table: expected a '0x' string of exactly {hex_digits(n)} hex digit"), msg
    assert f"for n_inputs = {n}" in msg and "or a list of the points where f is 1" in msg, msg


def test_error_message_text():
    with pytest.raises(SpecError) as err:
        parse_truth_table("0xe8000", 3)
    assert str(err.value) == ("target.truth_table: expected a '0x' string of exactly 2 hex digits for n_inputs = 3 "
                              "(such as '0xe8') or a list of the points where f is 1 (distinct integers 0 <= x < 8), "
                              "got '0xe8000'")
    with pytest.raises(SpecError) as err:
        parse_truth_table("0x7", 1, "x.t")
    assert str(err.value).startswith("x.t: expected a '0x' string of exactly 1 hex digit below 4 for n_inputs = 1 "
                                     "(such as '0x2')")


@pytest.mark.parametrize("case", CLI_CASES)
def test_rejected_forms_through_the_command_line(tmp_path, case):
    value, n = REJECTED[case]
    out = tmp_path / "out"
    line = assert_usage_error(cli("volume", write(tmp_path, spec_text(value, n)), "--out", out, "--no-progress"),
                              "target.truth_table")
    assert "'0x' string" in line and "list of the points" in line
    assert not out.exists()


def test_majority_on_7_inputs_is_not_0xe8():
    with pytest.raises(SpecError, match="exactly 32 hex digits for n_inputs = 7"):
        parse_truth_table("0xe8", 7)
    assert parse_truth_table(to_hex(0xE8, 7), 7) == 0xE8


def test_to_hex_round_trips_for_every_size():
    rng = random.Random(0)
    for n in range(1, 13):
        full = (1 << 2**n) - 1
        tables = {0, 1, full, 1 << (2**n - 1), rng.getrandbits(2**n), named_truth_table("majority", n),
                  named_truth_table(f"x{n - 1}", n)}
        for t in tables:
            text = to_hex(t, n)
            assert len(text) == 2 + hex_digits(n) == 2 + max(1, 2**n // 4)
            assert parse_truth_table(text, n) == t
            assert parse_truth_table(text.upper(), n) == t  # case-insensitive
        with pytest.raises(ValueError):
            to_hex(full + 1, n)  # never prints a table wider than 2**n points


def test_digit_counts():
    assert [hex_digits(n) for n in (1, 2, 3, 4, 5, 12)] == [1, 1, 2, 4, 8, 1024]
    assert parse_truth_table("0x3", 1) == 3 and parse_truth_table("0x8", 2) == 8
    assert parse_truth_table("0xfee8_e880", 5) == parse_truth_table("0xFEE8E880", 5) == named_truth_table("majority", 5)


def test_points_and_hex_give_the_same_spec():
    """Point x has input x_j equal to bit j of x: majority of 3 is 1 on 3 (x0, x1), 5, 6 and 7."""
    maj = from_function(lambda x: (x > 0).sum() >= 2, 3)
    assert parse_truth_table([7, 6, 5, 3], 3) == parse_truth_table("0xe8", 3) == maj
    a = parse_spec(spec_text("[3, 5, 6, 7]", 3))
    b = parse_spec(spec_text('"0xe8"', 3))
    assert a == b and a.target.hex == "0xe8"
    x0 = [x for x in range(32) if x & 1]
    assert parse_truth_table(x0, 5) == parse_truth_table("0xaaaaaaaa", 5) == named_truth_table("x0", 5)
    assert parse_truth_table([], 4) == parse_truth_table("0x0000", 4) == 0  # constant 0


def test_named_targets_unchanged():
    t = parse_target({"name": "majority"}, 3)
    assert (t.truth_table, t.hex, t.name) == (0xE8, "0xe8", "majority")
    assert parse_target({"name": "x1"}, 2).hex == "0xc"
    assert parse_target({"truth_table": t.to_dict()["truth_table"]}, 3).truth_table == t.truth_table  # reads back


LLAMAIZER = """
[experiment]
n_inputs = 5
[[architecture]]
widths = [4]
[[target]]
name = "and01"
truth_table = {target}
[[family]]
kind = "named"
truth_tables = {llamas}
"""


def test_experiment_files_use_the_same_rule():
    exp = from_dict(tomllib.loads(LLAMAIZER.format(
        target='"0x8888_8888"', llamas='["0xf0f0f0f0", [4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31]]')))
    assert exp.targets[0].truth_table == 0x88888888
    assert exp.families[0].truth_tables == (0xF0F0F0F0, 0xF0F0F0F0)
    for target, llamas, field in [('"0x88"', '["0xf0f0f0f0"]', "target[0].truth_table"),
                                  ("2290649224", '["0xf0f0f0f0"]', "target[0].truth_table"),
                                  ('"0x88888888"', '["0xf0"]', "family[0].truth_tables[0]"),
                                  ('"0x88888888"', '["0xf0f0f0f0", [32]]', "family[0].truth_tables[1]"),
                                  ('"0x88888888"', '"0xf0f0f0f0"', "family[0].truth_tables")]:
        with pytest.raises(SpecError) as err:
            from_dict(tomllib.loads(LLAMAIZER.format(target=target, llamas=llamas)))
        msg = str(err.value)
        assert len(msg.splitlines()) == 1 and msg.startswith(f"{field}: expected"), msg
