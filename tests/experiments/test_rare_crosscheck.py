"""The ``rare-crosscheck`` experiment kind: its config (seeds, a target's override, several models)
and its table, on 2-bit AND under a perceptron, whose volume is exactly 1/24, and 3-bit AND (exact
by quadrature, ``exact_perceptron.py``); the width figure of several models."""

import math

import pandas as pd
import pytest
from exact_perceptron import perceptron_volumes

from counting.estimators import Estimate
from counting.experiments import parse_experiment, run_experiment
from counting.experiments.rare_crosscheck import chunk_sizes, passes, with_samples
from counting.experiments.rare_crosscheck.config import settings_for
from counting.experiments.rare_crosscheck.figures import figure_of, width_figure
from counting.io.figures import read_stamp
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


# ----------------------------------------------------------------------------- several models ([[model]])
COLUMNS = ["target", "method", "estimator", "kernel", "seed", "log10_volume", "ci95_lo", "ci95_hi",
           "replicate_sd_log10", "replicates", "reached", "mean_levels_or_stages", "max_levels_or_stages",
           "log10_upper_bound", "evaluations", "cost_unit", "seconds"]
MODEL_COLUMNS = ["model", "n_inputs", "width", "architecture", "khat", "khat_threshold", "reliable", "max_share"]

SEVERAL = """
[experiment]
kind = "rare-crosscheck"
seed = 2
chunk_size = 16384
[[model]]
name = "p2"
n_inputs = 2
widths = []
[[model]]
name = "p3"
n_inputs = 3
widths = []
[model.override]
samples = 65536
[[model]]
name = "w4"
n_inputs = 3
widths = [4]
[[target]]
name = "and"
[[method]]
[method.estimator]
kind = "mc"
samples = 32768
[[method]]
[method.estimator]
kind = "nngp"
n_qmc = 256
replicates = 4
"""


def test_several_models_resolve_targets_per_model_and_take_their_overrides():
    exp = parse_experiment(SEVERAL)
    assert exp.model is None and exp.targets == ()
    assert [(m.name, m.spec.n_inputs, [hex(t.truth_table) for t in m.targets]) for m in exp.models] == [
        ("p2", 2, ["0x8"]), ("p3", 3, ["0x80"]), ("w4", 3, ["0x80"])]
    assert [settings_for(exp, 0, exp.methods[0], m).samples for m in exp.models] == [32768, 65536, 32768]
    assert settings_for(exp, 0, exp.methods[1], exp.models[1]) == exp.methods[1].settings  # NNGP has no samples
    assert [p.name for p in passes(exp)] == ["p2:and:mc", "p2:and:nngp", "p3:and:mc", "p3:and:nngp", "w4:and:mc",
                                             "w4:and:nngp"]
    assert [m.override for m in with_samples(exp, 16384).models] == [{}, {}, {}]  # --samples: one size everywhere
    assert "models" in exp.to_dict() and "models" not in parse_experiment(CONFIG).to_dict()
    smaller = parse_experiment(SEVERAL.replace("samples = 65536", "samples = 65536\nchunk_size = 8192"))
    assert chunk_sizes(smaller) == {"method[0].estimator.chunk_size": 16384, "model[1].override.chunk_size": 8192}


def test_the_single_model_form_keeps_its_passes_and_columns():
    """One ``[model]``: the passes, their names and the table's columns as before several models could
    be given (``results/rare`` was made with this form)."""
    exp = parse_experiment(CONFIG)
    assert exp.models == () and exp.model.n_inputs == 2
    ps = passes(exp)
    assert [p.name for p in ps] == ["and:subset-elliptical_slice", "and:smc-mala", "and:infinite width", "and:mc"]
    assert ps[0].about == {"target": "and", "method": "subset-elliptical_slice"}
    e = Estimate(-1.38, (-1.4, -1.36), 0.0417, "nngp", 0, "integrand_evaluations", diagnostics={"khat": 0.1})
    t = ps[2].tables(e, None)["crosscheck"]
    assert list(t.columns) == COLUMNS
    t = passes(parse_experiment(SEVERAL))[1].tables(e, None)["crosscheck"]
    assert list(t.columns) == COLUMNS + MODEL_COLUMNS
    assert t[["model", "n_inputs", "width", "khat"]].values.tolist() == [["p2", 2, 0, 0.1]]


@pytest.mark.slow  # three models, two methods end to end (about 7 s)
def test_several_models_run_to_the_exact_perceptron_volumes_and_draw_the_width_figure(tmp_path):
    """2-bit and 3-bit AND on perceptrons: both methods' intervals hold the exact volumes (1/24 on 2
    bits); the table gains the model columns; the run writes ``width.png`` beside ``crosscheck.md``."""
    exact = {2: perceptron_volumes(2)[0x8], 3: perceptron_volumes(3)[0x80]}
    assert exact[2] == pytest.approx(1 / 24)
    out = tmp_path / "out"
    t = run_experiment(parse_experiment(SEVERAL), out=out, work=tmp_path / "work", progress=False)["crosscheck"]
    assert list(t.columns) == COLUMNS + MODEL_COLUMNS
    assert t[["model", "method", "n_inputs", "width"]].values.tolist() == [
        ["p2", "mc", 2, 0], ["p2", "nngp", 2, 0], ["p3", "mc", 3, 0], ["p3", "nngp", 3, 0], ["w4", "mc", 3, 4],
        ["w4", "nngp", 3, 4]]
    assert t["evaluations"].tolist()[::2] == [32768, 65536, 32768]
    for _, r in t[t["width"] == 0].iterrows():
        assert r["ci95_lo"] <= math.log10(exact[r["n_inputs"]]) <= r["ci95_hi"], r.to_dict()
    assert t["log10_volume"].notna().all() and (t["ci95_hi"] - t["ci95_lo"] < 0.2).all()
    assert {"crosscheck.md", "width.png"} <= {p.name for p in out.iterdir()}
    assert read_stamp(out / "width.png")


def test_the_width_figure_draws_every_panel_and_marks_unreliable_points(tmp_path):
    """One panel per (n, target) of the networks with a hidden layer; a point marked not reliable is
    drawn open and named in the legend."""
    rows = []
    for n, target in ((4, "parity"), (5, "parity")):
        for w in (40, 160):
            rows += [{"target": target, "method": "readout", "estimator": "readout", "log10_volume": -3.0 * n,
                      "ci95_lo": -3.1 * n, "ci95_hi": -2.9 * n, "evaluations": 1024, "model": f"w{w}-{n}",
                      "n_inputs": n, "width": w, "architecture": f"{n}-{w}-{w}-1 mlp, relu",
                      "reliable": not (n == 5 and w == 40)},
                     {"target": target, "method": "nngp", "estimator": "nngp", "log10_volume": -3.05 * n,
                      "ci95_lo": -3.06 * n, "ci95_hi": -3.04 * n, "evaluations": 0, "model": f"w{w}-{n}",
                      "n_inputs": n, "width": w, "architecture": f"{n}-{w}-{w}-1 mlp, relu", "reliable": None}]
    rows.append({**rows[0], "model": "perceptron", "width": 0, "target": "and"})  # no hidden width: left out
    fig = figure_of(pd.DataFrame(rows), {"kind": "gaussian"})
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in axes] == ["4-bit parity", "5-bit parity"]
    labels = [t.get_text() for leg in fig.legends for t in leg.get_texts()]
    assert any(s.startswith("open: not reliable") for s in labels) and any("NNGP" in s for s in labels)
    assert "n-W-W-1 mlp, relu" in fig._suptitle.get_text() and "Gaussian prior" in fig._suptitle.get_text()
    assert width_figure(pd.DataFrame(rows), tmp_path / "w.png") == "w.png" and (tmp_path / "w.png").stat().st_size


SEVERAL_HEAD = ('[experiment]\nkind = "rare-crosscheck"\n[[method]]\n[method.estimator]\nkind = "mc"\n'
                '[[model]]\nname = "a"\nn_inputs = 2\nwidths = []\n')


@pytest.mark.parametrize("rest, message", [
    ('[[model]]\nname = "b"\nn_inputs = 3\n[[target]]\nname = "and"\ntruth_table = "0x8"',
     "target[0].truth_table: expected a '0x' string of exactly 2 hex digits for n_inputs = 3"),
    ('[[model]]\nn_inputs = 3\n[[target]]\nname = "and"',
     "model[1].name: expected a name usable as a folder name (no '/' or ':'), got None"),
    ('[[model]]\nname = "a:b"\nn_inputs = 3\n[[target]]\nname = "and"',
     "model[1].name: expected a name usable as a folder name"),
    ('[[model]]\nname = "a"\nn_inputs = 3\n[[target]]\nname = "and"',
     "model.name: expected distinct names, got ['a', 'a']"),
    ('[model.override]\nparticles = 4\n[[target]]\nname = "and"',
     "model[0].override.particles: expected a field of a method's settings"),
    ('[model.override]\nsamples = 0\n[[target]]\nname = "and"',
     "model[0].override.samples: expected an integer >= 1"),
    ('widht = [4]\n[[target]]\nname = "and"',
     "model[0].widht: expected one of the known keys"),
])
def test_several_models_config_errors(rest, message):
    with pytest.raises(SpecError) as e:
        parse_experiment(SEVERAL_HEAD + rest)
    assert str(e.value).startswith(message) and "\n" not in str(e.value), str(e.value)
