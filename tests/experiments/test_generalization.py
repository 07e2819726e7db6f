"""The generalization experiment kind: config errors, the function count's exact rows, the tables'
intervals, and the command line (rerun, batch size, interrupted and resumed: identical tables)."""

from __future__ import annotations

import math
import signal

import numpy as np
import pandas as pd
import pytest

from conftest import cli, write_spec
from counting.experiments import parse_experiment
from counting.experiments.generalization import tables as tb
from counting.experiments.generalization.config import DEMO, m_values, s_draws, target_table
from counting.spec.errors import SpecError

CONFIG = """
[experiment]
kind = "generalization"
n_inputs = [3]
fractions = [0.5]
draws = 2
samples = 32
chunk_size = 16
[[architecture]]
widths = [4]
[[target]]
name = "majority"
function = "majority"
[posterior]
particles = 16
steps = 1
slice_shrinks = 2
replicates = 3
n_qmc = 32
[[optimizer]]
name = "adam"
learning_rate = 0.05
max_steps = 100
"""

BAD = [
    (lambda s: s.replace('function = "majority"', 'function = "xor"'), "target[0].function"),
    (lambda s: s.replace("fractions = [0.5]", "fractions = [1.5]"), "experiment.fractions"),
    (lambda s: s.replace("n_inputs = [3]", "n_inputs = [9]"), "experiment.n_inputs"),
    (lambda s: s + '\n[prior]\nkind = "ternary"\n', "prior.kind"),
    (lambda s: s.replace("[posterior]", "[posterior]\nseed = 3"), "posterior.seed"),
    (lambda s: s.replace('name = "adam"', 'name = "adam"\nm = 3'), "optimizer[0].m"),
]


@pytest.mark.parametrize("edit,field", BAD)
def test_bad_configs_get_one_line_errors(edit, field):
    with pytest.raises(SpecError) as e:
        parse_experiment(edit(CONFIG))
    assert str(e.value).startswith(field) and "\n" not in str(e.value)


def test_grid_and_targets():
    """m from the fractions (one S at m = 0 and m = N); targets by function, drawn ones fixed by seed."""
    exp = parse_experiment(DEMO)
    assert m_values(exp, 3) == (0, 4, 8) and s_draws(exp, 3, 0) == (0,) and s_draws(exp, 3, 4) == (0, 1)
    full = parse_experiment(open("experiments/generalization.toml").read())
    tables = {t.name: target_table(t, 5) for t in full.targets}
    assert tables["dictator"] == 0xAAAAAAAA and tables["parity"] == 0x96696996
    assert tables["threshold"] == target_table(full.targets[3], 5)  # the same seed, the same function
    assert 0 < bin(tables["random"]).count("1") < 32


def test_function_count_rows_are_exact():
    """P(f* | S) = 2^-(N - m), accuracy 1/2 (1 at m = N), the error a Binomial(N - m, 1/2) over N - m."""
    post = pd.DataFrame([{c: 0 for c in tb.SETTING} | {"m": m, "N": 8} for m in (2, 8)])
    comp, errs = tb.function_count_rows(post)
    assert comp["log10_p_target"].tolist() == pytest.approx([-6 * math.log10(2), 0.0])
    assert comp["accuracy"].tolist() == [0.5, 1.0]
    e = errs[errs["m"] == 2]
    assert e["share"].sum() == pytest.approx(1.0) and e["share"].iloc[3] == pytest.approx(20 / 64)


def test_order_interval_holds_its_estimate():
    rng = np.random.default_rng(0)
    for k in (1, 5, 40, 300):
        v = rng.integers(0, 5, k) / 4
        for q in tb.QUANTILES:
            est, lo, hi = tb.order_interval(v, q)
            assert lo <= est <= hi and est == np.sort(v)[max(math.ceil(q * k) - 1, 0)]


def tables_of(folder) -> dict[str, pd.DataFrame]:
    return {k: pd.read_parquet(folder / f"{k}.parquet").drop(columns=["seconds"], errors="ignore")
            for k in ("posterior", "training", "errors", "top_functions", "comparison")}


@pytest.mark.slow  # end to end through the command line, four runs (378 s on two busy cores)
def test_run_is_identical_at_two_batch_sizes_and_when_resumed(tmp_path):
    """The same tables (every column but the seconds) from a plain run, a run at another batch size,
    and a run interrupted at its first checkpoint and resumed."""
    cfg = write_spec(tmp_path, CONFIG, "generalization.toml")
    r = cli("run", cfg, "--out", tmp_path / "a", "--work", tmp_path / "wa", "--no-progress", timeout=900)
    assert r.returncode == 0, r.stderr
    r = cli("run", cfg, "--out", tmp_path / "b", "--work", tmp_path / "wb", "--no-progress", "--batch-size", 4,
            timeout=900)
    assert r.returncode == 0, r.stderr
    r = cli("run", cfg, "--out", tmp_path / "c", "--work", tmp_path / "wc", "--no-progress",
            env_extra={"COUNTING_SIGNAL_AT": "INT@save:1"}, timeout=900)
    assert r.returncode == 128 + signal.SIGINT, r.stderr
    r = cli("run", cfg, "--out", tmp_path / "c", "--work", tmp_path / "wc", "--no-progress", "--resume", timeout=900)
    assert r.returncode == 0, r.stderr
    a = tables_of(tmp_path / "a")
    for other in ("b", "c"):
        for k, df in tables_of(tmp_path / other).items():
            pd.testing.assert_frame_equal(a[k], df)
    comp = a["comparison"]
    assert set(comp["method"]) == {"functions", "parameters", "training (adam)"}
    assert {"accuracy_n3.png", "probability_n3.png"} <= {p.name for p in (tmp_path / "a").iterdir()}
    post = a["posterior"]
    for c in ("error", "error_q50", "share_target", "top1_share"):
        assert (post[f"{c}_lo"] <= post[c]).all() and (post[c] <= post[f"{c}_hi"]).all()
