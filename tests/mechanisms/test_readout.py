"""The exact linear-readout test: threshold functions counted against the known sequence, the
sign-pattern reading implying the readout reading, and the rank and clash shortcuts."""

import numpy as np
import pytest

from counting.boolean.cube import cube
from counting.mechanisms.readout import full_rank, is_readout, lp_feasible, readout_status


def signs(g: int, points: int) -> np.ndarray:
    return np.where((g >> np.arange(points)) & 1, 1.0, -1.0)


@pytest.mark.parametrize("n, count", [(2, 14), (3, 104)])
def test_readouts_of_the_inputs_are_the_threshold_functions(n, count):
    """A readout of the inputs themselves is a threshold function: 14 of the 16 functions of 2 bits
    and 104 of the 256 of 3 (OEIS A000609), every one decided by a linear program."""
    x = cube(n)
    assert readout_status(x, signs(1, 2 ** n)) == "lp"
    assert sum(is_readout(x, signs(g, 2 ** n)) for g in range(2 ** 2 ** n)) == count


def test_a_unit_holding_g_makes_g_a_readout_of_its_relu_layer():
    """For random relu layers on 3 bits (width 2, below full rank), every unit's own sign pattern is a
    readout of the layer's activations, and some patterns are not (the test is not vacuous)."""
    rng = np.random.default_rng(0)
    x, refused = cube(3), 0
    for _ in range(30):
        z = x @ rng.normal(size=(3, 2)) + rng.normal(size=2)
        acts = np.maximum(z, 0.0)
        for u in range(2):
            assert is_readout(acts, np.where(z[:, u] > 0, 1.0, -1.0))
        refused += sum(not is_readout(acts, signs(g, 8)) for g in (0x96, 0x69, 0x18))
    assert refused > 0


def test_shortcuts():
    x = cube(3)
    full = np.hstack([x, x[:, :1] * x[:, 1:2], x[:, 1:2] * x[:, 2:], x[:, :1] * x[:, 2:],
                      x[:, :1] * x[:, 1:2] * x[:, 2:]])  # 7 columns + bias: every pattern
    assert full_rank(full) and readout_status(full, signs(0x96, 8)) == "rank" and is_readout(full, signs(0x96, 8))
    same = np.zeros((8, 3))  # a dead layer: every point alike
    assert readout_status(same, signs(0x96, 8)) == "clash" and not is_readout(same, signs(0x96, 8))
    assert readout_status(same, signs(0, 8)) == "lp" and lp_feasible(same, signs(0, 8))  # a constant is read


def test_readings_experiment_kind():
    """The ``readings`` kind on a tiny config: its table's columns, and a case the rank shortcut
    decides (32 relu units on the 8 points of 3 bits: ``[A 1]`` has full row rank, so the llama x2
    is a readout of the layer in every network kept). A file of the kind's former name, ``readout``,
    gets one line naming the new one."""
    from counting.experiments import parse_experiment, run_experiment
    from counting.spec.errors import SpecError
    from counting.stats import clopper_pearson

    with pytest.raises(SpecError, match=r"^experiment.kind: expected one of \[.*'readings'.*\] \('readout' is now "
                                        r"'readings'\), got 'readout'$"):
        parse_experiment('[experiment]\nkind = "readout"')
    exp = parse_experiment("""
[experiment]
kind = "readings"
n_inputs = 3
networks = 5
chunk_size = 256
[[architecture]]
widths = [32]
[[target]]
name = "and01"
truth_table = "0x88"
[[family]]
kind = "ignored_bits"
""")
    t = run_experiment(exp, progress=False)["readout"]
    assert list(t.columns) == ["architecture", "depth", "width", "target", "layer", "llama", "networks", "drawn",
                               "sign", "readout", "both", "rank", "clash", "lp", "readout_share", "readout_share_lo",
                               "readout_share_hi", "sign_share"]
    row = t.iloc[0]
    assert len(t) == 1 and (row["architecture"], row["llama"], row["networks"], row["drawn"]) == ("3-32-1", "0xf0", 5, 256)
    assert row["rank"] == row["readout"] == 5 and row["clash"] == row["lp"] == 0
    assert row["readout_share"] == 1.0 and row["readout_share_lo"] == clopper_pearson(5, 5)[0]
    assert row["both"] == row["sign"] <= 5
