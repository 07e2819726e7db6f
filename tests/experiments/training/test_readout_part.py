"""The training experiment's ``[ratios]`` table and its readout part (:mod:`counting.experiments.training.readout`)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from counting.experiments import parse_experiment
from counting.spec import SpecError

BASE = """
[experiment]
kind = "training"
n_inputs = 3
m = [4]
train_seed = 1
samples = 256
posterior_samples = 4096
chunk_size = 1024
[[architecture]]
widths = [8]
[[target]]
name = "majority"
[[optimizer]]
name = "adam"
learning_rate = 0.05
max_steps = 300
"""


@pytest.mark.parametrize("edit, field", [
    ("[ratios]\ntop = 0\n", "ratios.top"),
    ("[ratios]\nbottom = 3\n", "ratios.bottom"),
    ("[ratios.readout]\nsamples = 1\n", "ratios.readout.samples"),
    ("[ratios.readout]\nkind = 'mc'\n", "ratios.readout.kind"),
    ("[ratios.readout]\nseed = 4\n", "ratios.readout.seed"),
    ("[ratios.readout]\nchunk_size = 100\nblock_size = 64\n", "ratios.readout"),
])
def test_bad_ratios_fields_are_one_line_errors_naming_them(edit, field):
    with pytest.raises(SpecError, match="^" + re.escape(field)) as e:
        parse_experiment(BASE + edit)
    assert "\n" not in str(e.value)


def test_a_readout_needs_a_gaussian_prior():
    with pytest.raises(SpecError, match="^ratios.readout: expected a gaussian"):
        parse_experiment(BASE + '[prior]\nkind = "uniform"\n[ratios.readout]\nsamples = 64\n')


def test_ratios_defaults_and_readout_passes_follow_their_setting():
    from counting.experiments.training import passes, with_samples

    exp = parse_experiment(BASE)
    assert exp.ratios.top == 5 and exp.ratios.readout is None
    assert [p.name for p in passes(exp)] == ["posterior:a0:majority:m4", "adam:a0:majority:m4"]
    exp = parse_experiment(BASE + "[ratios]\ntop = 2\n[ratios.readout]\nsamples = 64\nchunk_size = 64\n")
    ps = passes(exp)
    assert [p.name for p in ps][-1] == "readout:a0:majority:m4" and ps[-1].job is not None
    assert ps[-1].spec.estimator.seed != exp.seed  # a seed of its own per setting
    assert with_samples(exp, 64).ratios.readout.samples == 16


@pytest.mark.slow  # an experiment of two passes and a readout job (7 minutes on 2 busy shared cores)
def test_readout_part_gives_p_b_for_every_chosen_function(tmp_path):
    """The readout's P_B(f | S) of the chosen functions is close to rejection's where rejection keeps
    many draws (3 bits, S of 4 points: about a quarter of the draws kept), and its table says how
    reliable each volume is."""
    from counting.experiments import run_experiment

    exp = parse_experiment(BASE + "[ratios]\ntop = 2\n[ratios.readout]\nsamples = 256\nchunk_size = 256\n")
    t = run_experiment(exp, out=tmp_path / "out", progress=False)
    rd, r = t["readout"], t["ratios"]
    assert set(rd["points"]) == {"S", "all"} and rd["reliable"].dtype == bool
    assert set(r["truth_table"]) == set(rd.loc[rd["points"] == "all", "truth_table"])
    kept = t["runs"].set_index("method").loc["posterior", "kept"] / 4096
    v_s = 10 ** rd.loc[rd["points"] == "S", "log10_volume"].iloc[0]
    assert abs(np.log10(v_s / kept)) < 0.1  # V(agrees on S) against rejection's share kept
    seen = r[(r["n_b"] >= 20) & r["reliable"].fillna(False)]
    assert len(seen) and (np.abs(np.log10(seen["p_b_readout"] / seen["p_b"])) < 0.3).all()
    assert (tmp_path / "out" / "ratios.png").exists()
