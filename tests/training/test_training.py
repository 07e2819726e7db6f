"""Training from the prior and the posterior, against exact answers.

* The ``[training]`` section: every bad field is a one-line error naming it; a spec round-trips.
* Known cases: with S the whole cube, every run that fits S computes the target (checked on the
  networks themselves and on the census of the trained job); with S empty, or ``max_steps = 0``,
  the trained job's census is bit-identical to the prior's census of the same spec.
* Reproducible: the same spec twice, other batch sizes, parts of a job split over processes,
  a job resumed from its checkpoint, another device count, a job killed with ``kill -9`` and
  resumed: the same counts and the same training facts.
* The posterior by rejection: the networks kept are exactly the prior census's networks whose
  function agrees with the target on S (same draws), and with S the whole cube their number is the
  target's hit-or-miss count.
* Mechanisms: untrained runs have exactly the prior's shares; a rare route's prior side is the depth
  experiment's SMC job itself (the same replicates, pooled), its shares the replicates' mean with
  Student-t intervals, or the Clopper-Pearson bound over replicates where every replicate agrees.
"""

from __future__ import annotations

import json
import re
import signal
from dataclasses import replace

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

import counting.engine.distributed as distributed
from conftest import cli, write_spec
from counting.boolean.tables import int_to_words, to_bits
from counting.engine.census import Census
from counting.engine.priors import draw_flat, unflatten
from counting.engine.run import RunOptions, chunk_pass
from counting.engine.tally import CensusTally
from counting.jobs import census_job, volume_job
from counting.models import forward, model_inputs
from counting.spec import SpecError, parse_spec
from counting.spec.job import spec_from_dict
from counting.training.data import set_mask, training_points, training_set
from counting.training.fit import fit, training_keys
from counting.training.source import trained_source
from counting.training.tally import TrainingTally

BASE = """
[model]
n_inputs = 3
widths = [8]
[target]
name = "majority"
[estimator]
samples = 1024
chunk_size = 256
seed = 5
"""
CUBE = "train_points = [0, 1, 2, 3, 4, 5, 6, 7]\n"
WHOLE = "[training]\n" + CUBE + "learning_rate = 0.05\nmax_steps = 400\n"
PART = "[training]\nm = 5\ntrain_seed = 2\noptimizer = 'sgd'\nlearning_rate = 0.5\nbatch_size = 2\nmax_steps = 60\n"
QUIET = RunOptions(progress=False)


def census_with_facts(spec, options=QUIET):
    """A census pass of ``spec`` with the training facts beside it."""
    tally = TrainingTally(CensusTally(spec.model.n_inputs, spec.estimator.chunk_size, spec.estimator.samples))
    chunk_pass(spec, tally, options, trained_source(spec))
    return tally.finalize(), tally.facts()


def same(a: Census, b: Census) -> bool:
    return np.array_equal(a.tables, b.tables) and np.array_equal(a.counts, b.counts)


@pytest.fixture(scope="module")
def prior() -> Census:
    """The prior's census of BASE (the same networks every job below starts from)."""
    return census_job(parse_spec(BASE), QUIET)[0]


@pytest.fixture(scope="module")
def part_reference():
    """The trained census of BASE + PART, uninterrupted, default batch, one process."""
    return census_with_facts(parse_spec(BASE + PART))


@pytest.mark.parametrize("section, field", [
    ("optimizer = 'rmsprop'\nm = 2", "training.optimizer"),
    ("learning_rate = 0\nm = 2", "training.learning_rate"),
    ("batch_size = -1\nm = 2", "training.batch_size"),
    ("max_steps = -3\nm = 2", "training.max_steps"),
    ("stop = 'never'\nm = 2", "training.stop"),
    ("loss = 'hinge'\nm = 2", "training.loss"),
    ("m = 9", "training.m"),
    ("train_points = [1, 1]", "training.train_points"),
    ("train_points = [8]", "training.train_points"),
    ("train_points = [1]\nm = 1", "training.m"),
    ("learning_rate = 0.1", "training.m"),
    ("train_points = [1]\ntrain_seed = 3", "training.train_seed"),
    ("m = 2\nposterior = true\ncondition_on_train = false", "training.condition_on_train"),
    ("m = 2\nepochs = 3", "training.epochs"),
])
def test_bad_training_fields_are_one_line_errors_naming_them(section, field):
    with pytest.raises(SpecError) as e:
        parse_spec(BASE + "[training]\n" + section)
    assert e.value.field == field and "\n" not in str(e.value)


@pytest.mark.parametrize("text, field", [
    (BASE.replace('[target]\nname = "majority"\n', "") + "[training]\nm = 2", "target"),
    (BASE + "sampler = 'fused'\n[training]\nm = 2", "estimator.sampler"),
])
def test_training_needs_a_target_and_key_draws(text, field):
    with pytest.raises(SpecError) as e:
        parse_spec(text, need_target=False)
    assert e.value.field == field


@pytest.mark.parametrize("section", [WHOLE, PART, "[training]\nm = 3\nposterior = true\nlearning_rate = 9.0"])
def test_a_training_spec_round_trips_through_its_dict(section):
    spec = parse_spec(BASE.replace('name = "majority"', 'truth_table = "0xe8"') + section)
    again = spec_from_dict(json.loads(spec.to_json()))
    assert again.to_json() == spec.to_json()
    assert again == spec or spec.training.posterior  # a posterior records no optimiser settings
    assert "training" not in parse_spec(BASE).to_dict()  # jobs without it keep their identity


def test_training_set_is_reproducible_distinct_and_labelled_by_the_target():
    spec = parse_spec(BASE + PART)
    pts = training_points(spec.training, 3)
    assert len(set(pts.tolist())) == 5 and pts.tolist() == sorted(pts.tolist())
    assert pts.tolist() == training_points(spec.training, 3).tolist()
    s = training_set(spec)
    assert s.y.tolist() == [1.0 if b else -1.0 for b in to_bits(0xE8, 3)[pts]]
    assert np.array_equal(s.x, model_inputs(spec.model)[pts])
    assert int(set_mask(pts, 3)[0]) == sum(1 << int(p) for p in pts)


def _fit(spec, n=256):
    keys = jax.vmap(jax.random.fold_in, (None, 0))(jax.random.key(11), jnp.arange(n, dtype=jnp.uint32))
    flat0 = draw_flat(keys, spec.model, spec.prior)
    s = training_set(spec)
    return flat0, jax.jit(lambda k, p: fit(k, p, spec.model, spec.training, s.x, s.y))(training_keys(keys), flat0)


@pytest.mark.parametrize("section", [
    pytest.param(WHOLE, marks=pytest.mark.slow),  # the census below checks the same in the default run
    pytest.param("[training]\n" + CUBE + "batch_size = 3\nlearning_rate = 0.05\nmax_steps = 400\n",
                 marks=pytest.mark.slow),  # other optimiser settings: one compilation each (about 5 s)
    pytest.param("[training]\n" + CUBE + "loss = 'mse'\noptimizer = 'sgd'\nlearning_rate = 0.1\nmax_steps = 400\n",
                 marks=pytest.mark.slow)])
def test_runs_that_fit_the_whole_cube_compute_the_target(section):
    spec = parse_spec(BASE + section)
    flat0, r = _fit(spec)
    out = forward(spec.model, unflatten(spec.model, r.params), model_inputs(spec.model)).output
    computes = np.asarray(jnp.all((out > 0) == jnp.asarray(to_bits(0xE8, 3) == 1), axis=1))
    fitted = np.asarray(r.fitted)
    assert fitted.mean() > 0.9  # the test means something: most runs fit
    assert np.array_equal(computes, fitted)
    steps = np.asarray(r.steps)
    assert (steps[~fitted] == 400).all() and (steps[fitted] <= 400).all() and (steps > 0).any()
    unchanged = steps == 0  # fitted at initialisation: never moved
    assert np.array_equal(np.asarray(r.params)[unchanged], np.asarray(flat0)[unchanged])


@pytest.mark.slow  # one more compilation (about 5 s)
def test_a_budget_stop_takes_every_step():
    spec = parse_spec(BASE + WHOLE.replace("max_steps = 400", "max_steps = 7") + "stop = 'budget'\n")
    _, r = _fit(spec, 16)
    assert (np.asarray(r.steps) == 7).all()


def test_trained_census_of_the_whole_cube_counts_the_fitted_runs_as_the_target():
    census, facts = census_with_facts(parse_spec(BASE + WHOLE))
    assert facts.runs == census.samples == 1024 and facts.fitted > 900
    assert census.count_of(int_to_words(0xE8, 3)) == facts.fitted
    assert facts.mean_steps == facts.steps / 1024 and facts.steps_fitted <= facts.steps


@pytest.mark.parametrize("section", [
    "[training]\nm = 5\nmax_steps = 0\n",
    pytest.param("[training]\ntrain_points = []\n", marks=pytest.mark.slow)])  # one more compilation
def test_no_training_reproduces_the_prior_census_bit_for_bit(prior, section):
    trained, facts = census_with_facts(parse_spec(BASE + section))
    assert prior.distinct > 20 and same(prior, trained)
    assert facts.steps == 0 and facts.runs == 1024


@pytest.mark.slow  # a resumed run at another batch size (about 30 s on busy cores)
def test_same_counts_with_another_batch_size_after_a_resume(part_reference, tmp_path):
    ref, ref_facts = part_reference
    assert 0 < ref_facts.fitted < ref_facts.runs  # some runs fit S, some not
    spec = parse_spec(BASE + PART)
    opts = RunOptions(out=tmp_path, progress=False, checkpoint_seconds=0, batch_size=64)
    first = TrainingTally(CensusTally(3, 256, 1024))
    chunk_pass(spec, first, opts, trained_source(spec), chunks=range(0, 2))  # a checkpoint after chunk 2 of 4
    rest = TrainingTally(CensusTally(3, 256, 1024))
    chunk_pass(spec, rest, replace(opts, resume=True), trained_source(spec))
    assert same(ref, rest.finalize()) and rest.facts() == ref_facts


@pytest.mark.slow  # three more compilations (about 15 s)
def test_the_same_spec_twice_and_in_two_parts_gives_the_same_counts(part_reference, tmp_path):
    ref, ref_facts = part_reference
    spec = parse_spec(BASE + PART)
    again, facts = census_with_facts(spec)
    assert same(ref, again) and facts == ref_facts
    for i in (0, 1):
        with pytest.raises(distributed.PartDone):
            census_job(spec, RunOptions(out=tmp_path, progress=False, cluster=distributed.Cluster(2, i)))
    merged, _ = census_job(spec, RunOptions(out=tmp_path, progress=False, cluster=distributed.Cluster(2, None)))
    assert same(ref, merged)
    result = json.loads((tmp_path / "manifest.json").read_text())["result"]
    assert result["training"]["fitted"] == ref_facts.fitted and result["training"]["runs"] == 1024


def test_posterior_keeps_exactly_the_prior_networks_that_agree_on_s(prior, tmp_path):
    spec = parse_spec(BASE + "[training]\nm = 5\ntrain_seed = 2\nposterior = true\n")
    post, _ = census_job(spec, RunOptions(out=tmp_path, progress=False))
    mask = set_mask(training_points(spec.training, 3), 3)
    agree = np.all((prior.tables & mask) == (int_to_words(0xE8, 3) & mask), axis=1)
    assert 0 < agree.sum() < len(agree)  # S rules some functions out, not all
    assert np.array_equal(post.tables, prior.tables[agree]) and np.array_equal(post.counts, prior.counts[agree])
    assert post.samples == 1024 and post.kept == int(prior.counts[agree].sum())
    table = pd.read_parquet(tmp_path / "census.parquet")
    assert np.allclose(table["p_given_s"], table["count"] / post.kept)
    assert (table["p_given_s_ci95_lo"] <= table["log10_p_given_s"]).all()
    assert (table["log10_p_given_s"] <= table["p_given_s_ci95_hi"]).all()
    assert json.loads((tmp_path / "manifest.json").read_text())["result"]["kept"] == post.kept


def test_posterior_of_the_whole_cube_is_the_targets_count(prior):
    post, _ = census_job(parse_spec(BASE + "[training]\n" + CUBE + "posterior = true\n"), QUIET)
    assert post.kept == prior.count_of(int_to_words(0xE8, 3)) > 0 and post.distinct == 1


@pytest.mark.slow  # a volume job's compilation (about 5 s)
def test_posterior_of_the_whole_cube_is_the_hit_or_miss_count():
    hits = volume_job(parse_spec(BASE)).hits
    post, _ = census_job(parse_spec(BASE + "[training]\n" + CUBE + "posterior = true\n"), QUIET)
    assert post.kept == hits > 0


@pytest.mark.slow  # one more compilation (about 5 s)
def test_trained_census_conditioned_on_s_keeps_the_runs_that_fit(part_reference):
    ref, ref_facts = part_reference
    spec = parse_spec(BASE + PART + "condition_on_train = true\n")
    census, _ = census_job(spec, QUIET)
    mask = set_mask(training_points(spec.training, 3), 3)
    keep = np.all((ref.tables & mask) == (int_to_words(0xE8, 3) & mask), axis=1)
    assert np.array_equal(census.tables, ref.tables[keep]) and np.array_equal(census.counts, ref.counts[keep])
    assert census.kept == ref_facts.fitted


def test_a_volume_job_refuses_training_in_one_line():
    with pytest.raises(SpecError) as e:
        volume_job(parse_spec(BASE + PART))
    assert e.value.field == "training"


@pytest.mark.slow  # three command-line jobs that train (about 30 s on 2 cores)
def test_cli_census_trains_the_same_on_one_or_two_devices_and_after_kill_9(tmp_path):
    spec = write_spec(tmp_path, BASE + PART)
    r = cli("--devices", 2, "census", spec, "--out", tmp_path / "two", "--json", "--no-progress")
    assert r.returncode == 0, r.stderr
    two = json.loads(r.stdout)
    assert two["training"]["runs"] == 1024 and len(two["train_points"]) == 5
    out = tmp_path / "one"
    r = cli("--devices", 1, "census", spec, "--out", out, "--no-progress", "--checkpoint-seconds", 0,
            env_extra={"COUNTING_KILL_AFTER_CHUNKS": "2"})
    assert r.returncode == -signal.SIGKILL, (r.returncode, r.stderr)
    r = cli("--devices", 1, "census", spec, "--out", out, "--no-progress", "--resume", "--json")
    assert r.returncode == 0, r.stderr
    one = json.loads(r.stdout)
    assert one["training"] == two["training"]
    a, b = (pd.read_parquet(d / "census.parquet") for d in (tmp_path / "two", out))
    assert a.equals(b)
    r = cli("census", spec, "--out", tmp_path / "text", "--no-progress")
    assert r.returncode == 0 and "runs fitted S" in r.stdout, r.stderr


@pytest.mark.slow  # two more compilations (about 10 s)
@pytest.mark.parametrize("model", ["[model]\nkind = 'resmlp'\nn_inputs = 3\nwidth = 8\ndepth = 2\n",
                                   "[model]\nkind = 'flax'\nn_inputs = 3\nmodule = 'counting.models.flax_zoo:MLP'\n"
                                   "args = {widths = [8]}\n"])
def test_other_model_kinds_train_with_their_own_forward(part_reference, model):
    if "flax" in model:
        pytest.importorskip("counting.models.flax_model")
    adam = "[training]\nm = 5\ntrain_seed = 2\nlearning_rate = 0.05\nmax_steps = 300\n"
    spec = parse_spec(model + BASE[BASE.index("[target]"):] + (PART if "flax" in model else adam))
    census, facts = census_with_facts(spec)
    assert facts.runs == 1024 and facts.fitted > 900
    if "flax" in model:  # the flax MLP has the native MLP's layout and forward: the very same runs
        ref, ref_facts = part_reference
        assert same(census, ref) and facts == ref_facts


EXPERIMENT = """
[experiment]
kind = "training"
n_inputs = 3
m = [4]
train_seed = 1
samples = 1024
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


@pytest.mark.slow  # an experiment of two passes, twice, and its figure (about 30 s on 2 cores)
def test_training_experiment_tables_add_up_and_repeat(tmp_path):
    from counting.experiments import parse_experiment, run_experiment

    exp = parse_experiment(EXPERIMENT)
    t = run_experiment(exp, out=tmp_path / "out", progress=False)
    assert set(t) == {"functions", "runs", "comparison", "agreement", "ratios"}
    runs = t["runs"].set_index("method")
    f = t["functions"]
    for method in ("posterior", "adam"):
        assert runs.loc[method, "kept"] == f.loc[f["method"] == method, "count"].sum() > 0
    assert runs.loc["posterior", "drawn"] == 4096 and runs.loc["adam", "runs"] == 1024
    assert runs.loc["adam", "kept"] == runs.loc["adam", "fitted"]  # the runs kept are those that fit S
    c = t["comparison"]
    post = dict(zip(f.loc[f["method"] == "posterior", "truth_table"], f.loc[f["method"] == "posterior", "count"]))
    assert dict(zip(c["truth_table"], c["n_b"])) == {k: post.get(k, 0) for k in c["truth_table"]}
    assert c["n_sgd"].sum() == runs.loc["adam", "kept"] and np.isclose(c["p_b"].sum(), 1.0)
    assert (tmp_path / "out" / "training_vs_posterior.png").exists() and (tmp_path / "out" / "ratios.png").exists()
    again = run_experiment(exp, progress=False)
    assert again["functions"].equals(t["functions"]) and again["agreement"].equals(t["agreement"])


MECHANISMS = """
[experiment]
kind = "training"
n_inputs = 3
m = [4]
samples = 256
posterior_samples = 256
chunk_size = 256
[[architecture]]
widths = [4]
[[target]]
name = "majority"
[[optimizer]]
name = "adam"
learning_rate = 0.05
max_steps = 0
[mechanisms]
samples = 1024
prior_samples = 1024
chunk_size = 256
[mechanisms.llamas]
widths = [6, 6]
orbit = false
[[mechanisms.llamas.target]]
name = "and01"
truth_table = "0x88"
[[mechanisms.llamas.family]]
name = "ignored"
kind = "ignored_bits"
[mechanisms.routes]
decompositions = ["and4"]
width = 4
depth = 2
"""


def _mechanisms_table(text: str) -> pd.DataFrame:
    """The ``mechanisms`` table of the ``[mechanisms]`` passes alone (the census passes left out)."""
    from counting.engine.run import run_pass
    from counting.experiments import parse_experiment
    from counting.experiments.training import tables as tb
    from counting.experiments.training.plan import mechanism_passes

    exp = parse_experiment(text)
    parts = []
    for p in mechanism_passes(exp):
        facts = run_pass(p.spec, p.tally, RunOptions(progress=False), p.source)
        parts.append(p.tables(p.tally.finalize(), facts)["mechanism_counts"])
    return tb.mechanisms(pd.concat(parts, ignore_index=True))


def _untrained_shares_equal(m: pd.DataFrame) -> None:
    assert (m["trained_solutions"] > 0).all()
    assert (m["trained_solutions"] == m["prior_solutions"]).all() and (m["trained_count"] == m["prior_count"]).all()
    assert np.allclose(m["ratio"].dropna(), 1.0) and (m["trained_share_lo"] <= m["trained_share"]).all()


@pytest.mark.slow  # two training passes to compile (about 9 s on 2 cores)
def test_mechanisms_untrained_llamas_have_exactly_the_priors_shares():
    # max_steps = 0: the trained runs are the prior pass's very draws, so every count must agree
    # (with orbit = true the prior would count the target's whole orbit and this would fail)
    m = _mechanisms_table(MECHANISMS.split("[mechanisms.routes]")[0])  # llamas alone: two passes
    assert set(m["target"]) == {"and01"} and set(m["layer"]) == {"1", "2", "any"}
    _untrained_shares_equal(m)


@pytest.mark.slow  # two residual-network passes to compile (about 10 s on 2 cores)
def test_mechanisms_untrained_routes_have_exactly_the_priors_shares():
    head, routes = MECHANISMS.split("[mechanisms.llamas]")
    m = _mechanisms_table(head + "[mechanisms.routes]" + routes.split("[mechanisms.routes]")[1])
    _untrained_shares_equal(m)
    c = m.set_index("mechanism")["trained_count"]
    assert c["both"] + c["chain only"] + c["tree only"] + c["neither"] == m["trained_solutions"].iloc[0]
    assert c["chain"] == c["both"] + c["chain only"] and c["tree"] == c["both"] + c["tree only"]


@pytest.mark.parametrize("edit, field", [
    (("orbit = false", "orbit = 1"), "mechanisms.llamas.orbit"),
    (("width = 4", "width = 0"), "mechanisms.routes.width"),
    (('truth_table = "0x88"', 'truth_table = "0x8"'), "mechanisms.llamas.target[0].truth_table"),
    (("[mechanisms]\n", '[mechanisms]\noptimizer = "sgd"\n'), "mechanisms.optimizer"),
])
def test_bad_mechanisms_fields_are_one_line_errors_naming_them(edit, field):
    from counting.experiments import parse_experiment

    with pytest.raises(SpecError, match="^" + re.escape(field) + ": expected"):
        parse_experiment(MECHANISMS.replace(*edit))


@pytest.mark.slow  # the whole experiment: two census passes and six mechanism passes (about 25 s on 2 cores)
def test_mechanisms_table_of_a_trained_run(tmp_path):
    from counting.experiments import parse_experiment, run_experiment

    text = MECHANISMS.replace("max_steps = 0", "max_steps = 200").replace("orbit = false", "orbit = true")
    t = run_experiment(parse_experiment(text), out=tmp_path / "out", progress=False)
    m, runs = t["mechanisms"], t["runs"].set_index(["architecture", "method", "target"])
    assert "mechanism_counts" not in t
    trained = runs.xs("mechanisms:adam", level="method")
    # S is the whole cube: the solutions counted are exactly the runs that fitted
    assert (trained["kept"] == trained["fitted"]).all()
    for target, d in m.groupby("target"):
        setting = d["setting"].iloc[0]
        assert (d["trained_solutions"] == trained.loc[(setting, target), "kept"]).all()
    assert (m["prior_solutions"] > 0).all() and set(m["target"]) == {"and01", "and4"}
    assert np.allclose(m["trained_share"], m["trained_count"] / m["trained_solutions"])


# --- mechanisms: the prior side of a rare route by SMC replicates --------------------------------

@pytest.mark.parametrize("r", [1, 4, 20])
def test_replicate_interval_when_every_replicate_agrees_is_the_bound_for_any_share_in_0_1(r):
    from counting.experiments.training.tables import replicate_interval

    # all 0: the one-sided 95% bound for 0 successes in r trials, 1 - 0.05**(1/r); all 1: 0.025**(1/r) to 1
    lo, hi, how = replicate_interval(np.zeros(r))
    assert lo == 0.0 and np.isclose(hi, 1 - 0.05 ** (1 / r), rtol=1e-12, atol=0) and how.startswith("every replicate 0")
    lo, hi, how = replicate_interval(np.r_[np.ones(r), np.nan])  # a replicate without solutions is left out
    assert hi == 1.0 and np.isclose(lo, 0.025 ** (1 / r), rtol=1e-9, atol=0) and how.startswith("every replicate 1")
    lo, hi, how = replicate_interval(np.full(r, 0.25))
    half = np.sqrt(np.log(40) / (2 * r))
    assert (lo, hi) == (max(0.0, 0.25 - half), min(1.0, 0.25 + half)) and how.endswith("hoeffding")


def test_replicate_interval_otherwise_is_student_t_over_replicates():
    from counting.experiments.training.tables import replicate_interval

    v = np.array([0.1, 0.3, 0.2, 0.2])
    lo, hi, how = replicate_interval(v)
    half = 3.182446305284263 * v.std(ddof=1) / 2  # t(0.975, 3 df), 4 replicates
    assert how == "student-t" and np.isclose(lo, 0.2 - half) and np.isclose(hi, 0.2 + half)


def _joint(codes):
    """A joint placement histogram with ``never = 1`` (4 x 4: chain stage, tree stage; 3 = none)."""
    return np.bincount(np.asarray(codes, np.int64), minlength=16)


SMC_ABOUT = {"setting": "routes:r", "model": "m", "method": "prior", "estimator": "smc"}


def test_smc_route_counts_pool_the_replicates_and_average_their_shares():
    from counting.experiments.training.tables import smc_route_counts
    from counting.mechanisms.routes import DECOMPOSITIONS

    # replicate 0: both, chain only, neither x2 (4 solutions); replicate 1: tree only, neither; 2: none
    joints = [_joint([0, 3, 15, 15]), _joint([12, 15]), _joint([])]
    rows = smc_route_counts(SMC_ABOUT, DECOMPOSITIONS["parity4"], joints, never=1).set_index("mechanism")
    assert (rows["solutions"] == 6).all() and (rows["replicates"] == 2).all() and (rows["estimator"] == "smc").all()
    want_count = {"chain": 2, "tree": 2, "both": 1, "chain only": 1, "tree only": 1, "neither": 3}
    want_share = {"chain": 0.25, "tree": 0.375, "both": 0.125, "chain only": 0.125, "tree only": 0.25, "neither": 0.5}
    assert rows["count"].to_dict() == want_count and rows["share"].to_dict() == want_share
    assert rows.loc["neither", "interval"].endswith("hoeffding")  # 0.5 in both replicates
    assert rows.loc["chain", "interval"] == "student-t" and rows.loc["chain", "share_hi"] == 1.0  # 0.5 and 0: wide


def test_mechanisms_table_takes_an_smc_prior_side_as_given_and_a_hit_or_miss_one_by_clopper_pearson():
    from counting.experiments.training import tables as tb
    from counting.mechanisms.routes import DECOMPOSITIONS

    decs = [DECOMPOSITIONS["and4"], DECOMPOSITIONS["parity4"]]
    hist = np.stack([np.stack([_joint([0, 3, 15, 15]), _joint([])]), np.stack([_joint([]), _joint([])])])
    hit = tb.route_counts({"setting": "routes:r", "model": "m", "method": "prior"}, decs[:1], hist[:1], never=1)
    smc = tb.smc_route_counts(SMC_ABOUT, decs[1], [_joint([15] * 10), _joint([15] * 30)], never=1)
    trained = pd.concat([tb.route_counts({"setting": "routes:r", "model": "m", "method": "adam"}, [d],
                                         np.stack([np.stack([_joint([3, 15]), _joint([])])]), never=1)
                         for d in decs], ignore_index=True)
    m = tb.mechanisms(pd.concat([hit, smc, trained], ignore_index=True)).set_index(["target", "mechanism"])
    p = m.loc["parity4"]
    assert (p["prior_estimator"] == "smc").all() and (p["prior_replicates"] == 2).all()
    assert p.loc["neither", "prior_share"] == 1.0 and p.loc["chain", "prior_share"] == 0.0
    assert np.isclose(p.loc["chain", "prior_share_hi"], 1 - 0.05 ** 0.5) and p.loc["chain", "prior_count"] == 0
    assert p.loc["chain", "prior_interval"].startswith("every replicate 0") and p["prior_solutions"].eq(40).all()
    assert p.loc["neither", "ratio"] == 0.5  # trained: chain only and neither, one each
    a = m.loc["and4"]
    assert (a["prior_estimator"] == "hit-or-miss").all() and (a["prior_interval"] == "clopper-pearson").all()
    assert a.loc["chain", "prior_share"] == 0.5 and a.loc["chain", "prior_share_lo"] < 0.5 < a.loc["chain", "prior_share_hi"]


MECHANISMS_ALONE = """
[experiment]
kind = "training"
n_inputs = 3
samples = 64
[[optimizer]]
name = "adam"
learning_rate = 0.05
max_steps = 200
[mechanisms]
samples = 256
prior_samples = 1024
chunk_size = 256
[mechanisms.routes]
decompositions = ["and4", "parity4"]
width = 4
depth = 2
rare = ["and4"]
[mechanisms.routes.estimator]
kind = "smc"
particles = 64
steps = 2
replicates = 3
"""


def test_mechanisms_alone_has_only_mechanism_passes_and_rare_routes_by_smc():
    from counting.experiments import parse_experiment
    from counting.experiments.training import passes, with_samples

    exp = parse_experiment(MECHANISMS_ALONE)
    assert exp.architectures == () and exp.targets == ()
    ps = passes(exp)
    assert [p.name.split(":")[1] for p in ps] == ["prior", "prior-smc", "adam", "adam"]
    assert [d.name for d in ps[0].tally.decompositions] == ["parity4"]  # and4 left the hit-or-miss prior
    assert ps[1].job is not None and ps[1].spec.estimator.replicates == 3 and ps[1].spec.estimator.particles == 64
    assert with_samples(exp, 16).mechanisms.routes.estimator.replicates == 2  # scaled by 16/64, at least 2
    with pytest.raises(SpecError, match="^architecture: expected"):
        parse_experiment(MECHANISMS_ALONE.split("[mechanisms]")[0])


@pytest.mark.parametrize("edit, field", [
    (("rare = [\"and4\"]", "rare = [\"and3\"]"), "mechanisms.routes.rare[0]"),
    (("decompositions = [\"and4\", \"parity4\"]", "decompositions = [\"parity4\"]"), "mechanisms.routes.rare[0]"),
    (("replicates = 3", "replicates = 1"), "mechanisms.routes.estimator.replicates"),
    (("particles = 64", "particles = 2"), "mechanisms.routes.estimator.particles"),
    (("replicates = 3", "replicates = 3\nseed = 1"), "mechanisms.routes.estimator.seed"),
    (("[mechanisms.routes.estimator]\nkind = \"smc\"\n", ""), "mechanisms.routes.particles"),  # the old form
    (("[mechanisms]\n", "[prior]\nkind = \"ternary\"\n[mechanisms]\n"), "mechanisms.routes.rare"),
])
def test_bad_rare_route_fields_are_one_line_errors_naming_them(edit, field):
    from counting.experiments import parse_experiment

    with pytest.raises(SpecError, match="^" + re.escape(field) + ": expected") as e:
        parse_experiment(MECHANISMS_ALONE.replace(*edit))
    assert "\n" not in str(e.value)


def test_old_style_rare_route_settings_name_their_new_table():
    from counting.experiments import parse_experiment

    old = MECHANISMS_ALONE.replace("[mechanisms.routes.estimator]\nkind = \"smc\"\n", "")
    with pytest.raises(SpecError) as e:
        parse_experiment(old)
    assert str(e.value) == ('mechanisms.routes.particles: expected no particles here: moved to '
                            '[mechanisms.routes.estimator] (kind = "smc"), got 64')


def test_mechanisms_read_their_llamas_as_the_llamaizer_reads_its_own():
    """[mechanisms.llamas] is read by the llamaizer experiment's own functions: the same targets and
    families as a llamaizer file with the same tables, errors named under [mechanisms.llamas]."""
    from counting.experiments import parse_experiment

    exp = parse_experiment(MECHANISMS)
    lz = parse_experiment('[experiment]\nn_inputs = 3\n[[architecture]]\nwidths = [6, 6]\n[[target]]\nname = "and01"\n'
                          'truth_table = "0x88"\n[[family]]\nname = "ignored"\nkind = "ignored_bits"')
    ll = exp.mechanisms.llamas
    assert (ll.widths, ll.targets, ll.families) == (lz.architectures[0].widths, lz.targets, lz.families)
    for edit, field in [(('truth_table = "0x88"', 'truth_table = "0xff"'), "mechanisms.llamas.target[0].truth_table"),
                        (("widths = [6, 6]", "widths = []"), "mechanisms.llamas.widths"),
                        (("widths = [6, 6]", "widths = [6, 6]\nsamples = 3"), "mechanisms.llamas.samples"),
                        (('kind = "ignored_bits"', 'kind = "x"'), "mechanisms.llamas.family[0].kind"),
                        (("[[mechanisms.llamas.family]]\nname = \"ignored\"\nkind = \"ignored_bits\"\n", ""),
                         "mechanisms.llamas.family"),
                        (("n_inputs = 3", "n_inputs = 6"), "mechanisms.llamas.n_inputs (the experiment's)")]:
        with pytest.raises(SpecError, match="^" + re.escape(field) + ": expected"):
            parse_experiment(MECHANISMS.replace(*edit))


@pytest.mark.slow  # three SMC replicates twice, a prior and two training passes (about 40 s on 2 cores)
def test_rare_route_prior_side_is_the_depth_experiments_smc_job(tmp_path):
    from counting.experiments import parse_experiment, run_experiment
    from counting.experiments.depth.rare import route_job
    from counting.experiments.training import passes
    from counting.experiments.depth.tables import classes_from_joint
    from counting.experiments.training.plan import smc_settings
    from counting.mechanisms.routes import DECOMPOSITIONS, never

    exp = parse_experiment(MECHANISMS_ALONE)
    t = run_experiment(exp, out=tmp_path / "out", progress=False)
    assert {"mechanisms", "runs"} <= set(t) and "comparison" not in t
    assert sorted(f.name for f in (tmp_path / "out").glob("*.png")) == ["mechanisms.png"]
    spec = passes(exp)[1].spec  # the SMC pass's: its model and prior
    model = spec.model
    reps, _ = route_job(model, spec.prior, DECOMPOSITIONS["and4"], smc_settings(exp))(QUIET)
    m = t["mechanisms"].set_index(["target", "mechanism"]).loc["and4"]
    joint = np.sum([np.asarray(r.joint) for r in reps.runs], axis=0)
    want = classes_from_joint(joint, never(model))
    assert {k: int(m.loc[k, "prior_count"]) for k in want} == want  # the same replicates, pooled
    assert (m["prior_solutions"] == sum(r.solutions for r in reps.runs)).all()
    runs = t["runs"].set_index("method")
    assert runs.loc["mechanisms:prior-smc", "replicates"] == 3 and np.isfinite(runs.loc["mechanisms:prior-smc",
                                                                                         "log10_volume"])


def test_agreement_null_is_calibrated_and_has_power():
    """The null of rho and of the mean log ratio (both censuses from the pooled one): two censuses
    drawn from one distribution give p < 0.05 in at most 6 of 30 independent settings (expected
    1.5; with uniform p-values P(Bin(30, 0.05) >= 7) = 0.0005, the false-failure rate for each
    statistic); censuses from two distributions whose probabilities run in opposite orders give
    p < 0.05 for rho in all five settings (power well above 0.99 at these sizes)."""
    from counting.experiments.training.tables import null_position, null_statistics, statistics

    probs = np.sort(np.random.default_rng(99).dirichlet(np.full(30, 0.5)))[::-1]
    rng = np.random.default_rng(7)
    small = {0: 0, 1: 0}
    for _ in range(30):
        n_s, n_b = rng.multinomial(400, probs), rng.multinomial(3000, probs)
        null = null_statistics(rng, n_s, n_b, 200)
        obs = statistics(n_s, n_b)
        for i in (0, 1):
            small[i] += null_position(obs[i], null[:, i])[1] < 0.05
    assert small[0] <= 6 and small[1] <= 6, small
    for _ in range(5):
        n_s, n_b = rng.multinomial(400, probs[::-1]), rng.multinomial(3000, probs)
        null = null_statistics(rng, n_s, n_b, 200)
        assert null_position(statistics(n_s, n_b)[0], null[:, 0])[1] < 0.05


MECHANISMS_READOUT = MECHANISMS_ALONE.replace('kind = "smc"\nparticles = 64\nsteps = 2\nreplicates = 3\n',
                                              'kind = "readout"\nsamples = 4096\n')


def test_rare_routes_by_the_readout_are_one_readout_pass():
    from counting.experiments import parse_experiment
    from counting.experiments.training import passes, with_samples

    exp = parse_experiment(MECHANISMS_READOUT)
    ps = passes(exp)
    assert [p.name.split(":")[1] for p in ps] == ["prior", "prior-readout", "adam", "adam"]
    s = ps[1].spec.estimator
    assert ps[1].job is not None and (s.kind, s.samples, s.seed) == ("readout", 4096, exp.seed)
    assert type(ps[1].spec.model).__name__ == "ResMLPSpec" and ps[1].about["estimator"] == "readout"
    assert with_samples(exp, 16).mechanisms.routes.estimator.samples == 1024  # scaled by 16/64
    for edit, field in [(("samples = 4096", "samples = 4096\nparticles = 8"), "mechanisms.routes.estimator.particles"),
                        (("[mechanisms]\n", "[prior]\nkind = \"uniform\"\n[mechanisms]\n"),
                         "mechanisms.routes.estimator.kind"),
                        (("samples = 4096", "samples = 0"), "mechanisms.routes.estimator.samples")]:
        with pytest.raises(SpecError, match="^" + re.escape(field) + ": expected") as e:
            parse_experiment(MECHANISMS_READOUT.replace(*edit))
        assert "\n" not in str(e.value)


@pytest.mark.slow  # a readout pass of 8,192 networks, 2^18 hit-or-miss networks, training passes: about 5 min on 2 busy cores
def test_rare_route_prior_shares_by_the_readout_agree_with_hit_or_miss(tmp_path):
    """and4 on a residual MLP of width 4 and depth 2 (volume about 10^-2.5): the readout's prior
    route shares (one pass of 8,192 networks, paired delta-method intervals) against the shares
    among the solutions of 2^18 hit-or-miss networks (Clopper-Pearson) and its V(f) against theirs.
    The two passes draw independent networks (seeds 0 and 11). Each of the seven comparisons asks
    two 95% intervals to overlap, which two correct independent intervals fail to do with
    probability about 0.6%, so about 4% for the test over random seeds (the comparisons are not
    independent: the six shares sum in pairs); the seeds are fixed, so it passes or fails the same
    way every time."""
    from counting.engine.run import run_pass
    from counting.experiments import parse_experiment, run_experiment
    from counting.experiments.llama_rare.tally import MultiHits
    from counting.experiments.training import passes
    from counting.experiments.training.readout import ROUTE_MECHANISMS, route_wheres
    from counting.mechanisms.predicates import computes
    from counting.mechanisms.routes import DECOMPOSITIONS
    from counting.spec.estimator import MCSettings
    from counting.spec.job import Spec
    from counting.stats import clopper_pearson

    exp = parse_experiment(MECHANISMS_READOUT.replace("samples = 4096", "samples = 8192")
                           .replace("samples = 256", "samples = 32"))  # few trained networks: not what is tested
    t = run_experiment(exp, out=tmp_path / "out", progress=False)
    m = t["mechanisms"].set_index(["target", "mechanism"]).loc["and4"]
    assert (m["prior_estimator"] == "readout").all() and (m["prior_interval"] == "readout: paired delta").all()
    assert {"prior_khat", "prior_reliable"} <= set(m.columns) and (m["prior_solutions"] == 8192).all()
    run = t["runs"].set_index("method").loc["mechanisms:prior-readout"]
    spec = passes(exp)[1].spec
    d = DECOMPOSITIONS["and4"]
    f = computes(d.target, d.n)
    wheres = route_wheres(d, spec.model)
    conds = [f] + [lambda fwd, w=wheres[k]: f(fwd) & w(fwd) for k in ROUTE_MECHANISMS]
    tally = MultiHits(conds)
    n = 2**18
    run_pass(Spec(spec.model, spec.prior, None, MCSettings(samples=n, seed=11, chunk_size=16384)), tally,
             QUIET)
    hits = tally.finalize()
    assert hits[0] > 300
    lo, hi = clopper_pearson(int(hits[0]), n)
    assert run.log10_volume_lo <= np.log10(hi) and np.log10(lo) <= run.log10_volume_hi
    for k, name in enumerate(ROUTE_MECHANISMS, start=1):
        slo, shi = clopper_pearson(int(hits[k]), int(hits[0]))
        r = m.loc[name]
        assert r.prior_share_lo <= shi and slo <= r.prior_share_hi, (name, r.prior_share_lo, r.prior_share_hi, slo, shi)
    assert m.loc["chain", "prior_share"] == pytest.approx(m.loc["both", "prior_share"] + m.loc["chain only", "prior_share"])
