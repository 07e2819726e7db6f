"""The ``rare-crosscheck`` experiment kind: its config (seeds, a target's override) and its table,
on 2-bit AND under a perceptron, whose volume is exactly 1/24."""

import math

import pytest

from counting.experiments import parse_experiment, run_experiment
from counting.spec.errors import SpecError

CONFIG = """
[experiment]
kind = "rare-crosscheck"
seed = 3
[model]
n_inputs = 2
widths = []
[[target]]
name = "and"
[target.override]
replicates = 4
[[method]]
[method.estimator]
kind = "subset"
particles = 200
steps = 3
replicates = 6
[[method]]
[method.estimator]
kind = "smc"
kernel = "mala"
particles = 128
steps = 2
replicates = 6
[[method]]
name = "infinite width"
seed = 0
[method.estimator]
kind = "nngp"
n_qmc = 256
replicates = 4
[[method]]
[method.estimator]
kind = "mc"
samples = 32768
"""


@pytest.mark.slow  # every estimator of the list end to end (about 32 s on busy cores)
def test_crosscheck_kind_on_a_known_volume():
    """Every method's interval holds log10(1/24), the exact volume of 2-bit AND on a perceptron; the
    rare-event methods run the target's 4 replicates, each method its own seed."""
    exp = parse_experiment(CONFIG)
    assert exp.chunk_size == exp.methods[3].settings.chunk_size  # hit-or-miss takes the experiment's chunk size
    t = run_experiment(exp, progress=False)["crosscheck"]
    assert list(t.columns) == ["target", "method", "estimator", "kernel", "seed", "log10_volume", "ci95_lo", "ci95_hi",
                               "replicate_sd_log10", "replicates", "reached", "mean_levels_or_stages",
                               "max_levels_or_stages", "log10_upper_bound", "evaluations", "cost_unit", "seconds"]
    assert t["method"].tolist() == ["subset-elliptical_slice", "smc-mala", "infinite width", "mc"]
    assert t["seed"].tolist() == [3, 4, 0, 6]
    assert t["replicates"].tolist()[:2] == [4, 4] and t["reached"].tolist()[:2] == [4, 4]
    exact = math.log10(1 / 24)
    for _, r in t.iterrows():
        assert r["ci95_lo"] <= exact <= r["ci95_hi"], r.to_dict()
        assert r["evaluations"] > 0
    assert t["log10_upper_bound"].notna().tolist() == [False, True, False, False]  # SMC's last-stage Z_b


HEAD = '[experiment]\nkind = "rare-crosscheck"\n[model]\nn_inputs = 2\nwidths = []\n[[target]]\nname = "and"\n'


@pytest.mark.parametrize("rest, message", [
    ('[target.override]\nmax_stages = 4\n[[method]]\n[method.estimator]\nkind = "subset"',
     "target[0].override.max_stages: expected a field of a rare-event method's settings (['subset']), got 4"),
    ('[[method]]\n[method.estimator]\nkind = "smc"\nseed = 1',
     "method[0].estimator.seed: expected no seed here"),
    ('[[method]]\n[method.estimator]\nkind = "nngp"\n[[method]]\n[method.estimator]\nkind = "nngp"',
     "method.name: expected distinct names, got ['nngp', 'nngp']"),
    ('[prior]\nkind = "ternary"\n[[method]]\n[method.estimator]\nkind = "subset"',
     "method[0].estimator.kind: expected an estimator that takes a ternary prior"),
])
def test_crosscheck_config_errors(rest, message):
    with pytest.raises(SpecError) as e:
        parse_experiment(HEAD + rest)
    assert str(e.value).startswith(message), str(e.value)
