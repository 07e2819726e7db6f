"""The command line, run as a subprocess (``python -m counting.cli``).

Bad input: malformed TOML, unknown keys and tables, a truth table with too many hex digits (every
rejected truth-table form is in ``tests/spec/test_target.py``), a non-positive sample count (in the file
and as ``--samples``), an unknown activation, a missing spec file, a ``--batch-size`` that does
not divide ``chunk_size``, bad numbers of devices, and ``--resume`` against a checkpoint of a
different spec. Each must exit with status 2 after printing exactly one
stderr line ``counting: error: ...`` that names the offending field, with no traceback, and must
write nothing (the ``--out`` folder is not created, or an existing one is left as it was).

Happy paths: ``volume --json`` and ``census --json`` print one JSON object with the documented
keys; a target no perceptron computes gives zero hits, ``log10_volume`` null and the one-sided
95% bound ``log10(1 - 0.05**(1/samples))``; the results folder holds ``manifest.json`` with the
provenance keys and a parquet table whose counts add up to the samples.
"""

from __future__ import annotations

import json
import math
import os
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import ENV, assert_usage_error, cli
from conftest import write_spec as write

SMALL = """
[model]
n_inputs = 3
widths = [8]
activation = "relu"
[target]
name = "majority"
[estimator]
samples = 3000
chunk_size = 512
seed = 0
"""


BAD_SPECS = {
    "malformed_toml": ("[model\nn_inputs = 3\n", "toml"),
    "unknown_model_key": ("[model]\nn_inputs = 3\nwidthz = [8]\n[target]\nname = 'and'\n", "model.widthz"),
    "unknown_table": ("[model]\nn_inputs = 3\n[target]\nname = 'and'\n[optimizer]\nlr = 1\n", "optimizer"),
    "truth_table_too_wide": ("[model]\nn_inputs = 2\nwidths = []\n[target]\ntruth_table = '0x1f'\n",
                             "target.truth_table"),
    "samples_zero": ("[model]\nn_inputs = 3\n[target]\nname = 'and'\n[estimator]\nsamples = 0\n",
                     "estimator.samples"),
    "samples_negative": ("[model]\nn_inputs = 3\n[target]\nname = 'and'\n[estimator]\nsamples = -5\n",
                         "estimator.samples"),
    "unknown_activation": ("[model]\nn_inputs = 3\nactivation = 'sigmoid'\n[target]\nname = 'and'\n",
                           "model.activation"),
    "resmlp_field_without_kind": ("[model]\nn_inputs = 3\ndepth = 8\n[target]\nname = 'and'\n", "model.depth"),
    "mlp_field_in_resmlp": ("[model]\nkind = 'resmlp'\nwidths = [8]\n[target]\nname = 'and'\n", "model.widths"),
    "sigma_in_ternary": ("[model]\nn_inputs = 2\n[prior]\nkind = 'ternary'\nsigma_w = 1.0\n[target]\nname = 'and'\n"
                         "[estimator]\nkind = 'exact'\n", "prior.sigma_w"),
    "samples_in_subset": ("[model]\nn_inputs = 3\n[target]\nname = 'and'\n[estimator]\nkind = 'subset'\n"
                          "samples = 100\n", "estimator.samples"),
    "leapfrog_in_subset": ("[model]\nn_inputs = 3\n[target]\nname = 'and'\n[estimator]\nkind = 'subset'\n"
                           "leapfrog = 4\n", "estimator.leapfrog"),
    "unknown_prior_kind": ("[model]\nn_inputs = 3\n[prior]\nkind = 'cauchy'\n[target]\nname = 'and'\n",
                           "prior.kind"),
}


# every case is checked in-process below; through the command (a process start-up, about 3 s each)
# three representative cases run by default and the rest in the slow step
CLI_BAD_SPECS_BY_DEFAULT = ("malformed_toml", "truth_table_too_wide", "unknown_model_key")


@pytest.mark.parametrize("case", sorted(BAD_SPECS))
def test_every_bad_spec_is_a_one_line_error_naming_its_field(case):
    from counting.spec import parse_spec
    from counting.spec.errors import SpecError

    text, field = BAD_SPECS[case]
    with pytest.raises(SpecError) as e:
        parse_spec(text)
    named, _, rest = str(e.value).partition(": expected ")
    assert named.endswith(field) and rest and "\n" not in str(e.value), str(e.value)


@pytest.mark.parametrize("case", [c if c in CLI_BAD_SPECS_BY_DEFAULT else pytest.param(c, marks=pytest.mark.slow)
                                  for c in sorted(BAD_SPECS)])
def test_bad_spec_is_one_line_status_2_and_writes_nothing(tmp_path, case):
    text, field = BAD_SPECS[case]
    spec = write(tmp_path, text)
    out = tmp_path / "out"
    r = cli("volume", spec, "--out", out, "--no-progress")
    assert_usage_error(r, field)
    assert not out.exists()
    assert not (tmp_path / "runs").exists()


def test_missing_spec_file(tmp_path):
    out = tmp_path / "out"
    r = cli("census", tmp_path / "nope.toml", "--out", out, "--no-progress")
    line = assert_usage_error(r, "spec")
    assert "nope.toml" in line
    assert not out.exists()


@pytest.mark.parametrize(
    "args, field",
    [
        (["--batch-size", "100"], "--batch-size"),  # 512 % 100 != 0
        # the rest in the slow step (a process start-up each, about 3 s)
        pytest.param(["--batch-size", "0"], "--batch-size", marks=pytest.mark.slow),
        pytest.param(["--chunks-per-device", "0"], "--chunks-per-device", marks=pytest.mark.slow),
        pytest.param(["--samples", "0"], "--samples", marks=pytest.mark.slow),
        pytest.param(["--samples", "-5"], "--samples", marks=pytest.mark.slow),
        (["--samples", "many"], "--samples"),  # argparse's own error, also one line
        pytest.param(["--seed", "-1"], "--seed", marks=pytest.mark.slow),
    ],
)
def test_bad_flags(tmp_path, args, field):
    spec = write(tmp_path, SMALL)
    out = tmp_path / "out"
    r = cli("volume", spec, "--out", out, "--no-progress", *args)
    assert_usage_error(r, field)
    assert not out.exists()


@pytest.mark.parametrize("kind", ["subset", pytest.param("smc", marks=pytest.mark.slow),  # a start-up each, about 2.5 s
                                  pytest.param("nngp", marks=pytest.mark.slow)])
def test_samples_flag_that_does_not_apply_is_refused(tmp_path, kind):
    spec = write(tmp_path, f"[model]\nn_inputs = 2\nwidths = []\n[target]\nname = 'and'\n[estimator]\nkind = '{kind}'\n")
    out = tmp_path / "out"
    line = assert_usage_error(cli("volume", spec, "--out", out, "--no-progress", "--samples", "10"), "--samples")
    assert kind in line
    assert not out.exists()


def test_bad_device_count(tmp_path):
    spec = write(tmp_path, SMALL)
    out = tmp_path / "out"
    r = cli("--devices", "0", "census", spec, "--out", out, "--no-progress")
    assert_usage_error(r, "--devices")
    assert not out.exists()


@pytest.mark.slow  # a job killed with kill -9, then two refused resumes (about 11 s)
def test_resume_with_checkpoint_of_other_spec_is_refused(tmp_path):
    spec_a = write(tmp_path, SMALL, "a.toml")
    spec_b = write(tmp_path, SMALL.replace("seed = 0", "seed = 1"), "b.toml")
    out = tmp_path / "out"
    killed = cli("--devices", "1", "volume", spec_a, "--out", out, "--no-progress", "--checkpoint-seconds", "0",
                 env_extra={"COUNTING_KILL_AFTER_CHUNKS": "2"})
    assert killed.returncode == -9, (killed.returncode, killed.stderr)
    ckpt = out / "checkpoint.npz"
    assert ckpt.exists()
    before = sorted(p.name for p in out.iterdir() if p.name != ".lock"), ckpt.read_bytes()  # lock: the dead job's

    r = cli("--devices", "1", "volume", spec_b, "--out", out, "--no-progress", "--resume")
    assert_usage_error(r, "--resume")
    assert (sorted(p.name for p in out.iterdir() if p.name != ".lock"), ckpt.read_bytes()) == before  # untouched

    # the same spec through a different job kind is refused as well
    r = cli("--devices", "1", "census", spec_a, "--out", out, "--no-progress", "--resume")
    assert_usage_error(r, "--resume")
    assert (sorted(p.name for p in out.iterdir() if p.name != ".lock"), ckpt.read_bytes()) == before


# ----------------------------------------------------------------------------- happy paths
def test_volume_json_and_results_folder(tmp_path):
    spec = write(tmp_path, SMALL)
    out = tmp_path / "out"
    r = cli("volume", spec, "--json", "--out", out, "--no-progress", "--seed", "7")
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stdout.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stdout
    d = json.loads(lines[0])
    assert isinstance(d, dict)
    for k in ("log10_volume", "ci95", "volume", "estimator", "samples", "hits", "seconds", "seed"):
        assert k in d, k
    assert d["samples"] == 3000 and d["seed"] == 7 and d["estimator"] == "mc"
    assert isinstance(d["hits"], int) and 0 < d["hits"] < 3000
    assert d["volume"] == d["hits"] / d["samples"]
    assert isinstance(d["ci95"], list) and len(d["ci95"]) == 2
    assert d["ci95"][0] < d["log10_volume"] < d["ci95"][1] <= 0
    assert math.isclose(d["log10_volume"], math.log10(d["volume"]), rel_tol=1e-12)

    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "volume.parquet"]
    m = json.loads((out / "manifest.json").read_text())
    assert m["kind"] == "volume"
    assert m["spec"]["estimator"]["samples"] == 3000 and m["spec"]["model"]["widths"] == [8]
    assert m["seed"] == 7 and m["spec"]["estimator"]["seed"] == 7
    assert m["key_impl"] == "threefry2x32"
    assert isinstance(m["environment"]["jax"], str) and m["environment"]["jax"]
    assert isinstance(m["environment"]["device_count"], int) and m["environment"]["device_count"] >= 1
    assert m["timings"]["seconds"] >= 0
    assert m["run"]["samples"] == 3000
    assert m["files"] == ["volume.parquet"]
    v = pd.read_parquet(out / "volume.parquet")
    assert len(v) == 1
    assert int(v["hits"][0]) == d["hits"] and int(v["samples"][0]) == 3000 and v["target"][0] == "0xe8"


@pytest.mark.slow  # a command-line job with a large count (about 11 s)
def test_volume_zero_hits_gives_null_and_one_sided_bound(tmp_path):
    # 3-bit parity (0x96) is not linearly separable: no perceptron computes it
    samples = 2500
    spec = write(tmp_path, f"""
[model]
n_inputs = 3
widths = []
[target]
truth_table = "0x96"
[estimator]
samples = {samples}
chunk_size = 512
""")
    out = tmp_path / "out"
    r = cli("volume", spec, "--json", "--out", out, "--no-progress")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["hits"] == 0 and d["samples"] == samples and d["volume"] == 0.0
    assert d["log10_volume"] is None
    assert d["ci95"][0] is None
    assert abs(d["ci95"][1] - math.log10(1 - 0.05 ** (1 / samples))) < 1e-9

    # the human-readable form of the same result does not crash on null
    r = cli("volume", spec, "--out", tmp_path / "out2", "--no-progress")
    assert r.returncode == 0, r.stderr
    assert "no hits" in r.stdout


def test_census_json_and_results_folder(tmp_path):
    spec = write(tmp_path, SMALL)
    out = tmp_path / "out"
    r = cli("census", spec, "--json", "--out", out, "--no-progress", "--top", "4")
    assert r.returncode == 0, r.stderr
    lines = [ln for ln in r.stdout.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stdout
    d = json.loads(lines[0])
    assert d["samples"] == 3000
    assert isinstance(d["distinct"], int) and 1 < d["distinct"] <= 256
    assert isinstance(d["top"], list) and len(d["top"]) == 4
    assert [row["rank"] for row in d["top"]] == [1, 2, 3, 4]
    counts = [row["count"] for row in d["top"]]
    assert counts == sorted(counts, reverse=True)

    assert sorted(p.name for p in out.iterdir()) == ["census.parquet", "manifest.json"]
    m = json.loads((out / "manifest.json").read_text())
    assert m["kind"] == "census"
    for k in ("spec", "seed", "key_impl", "environment", "timings", "run"):
        assert k in m, k
    assert m["seed"] == 0 and m["key_impl"] == "threefry2x32"
    assert m["environment"]["jax"] and m["environment"]["device_count"] >= 1
    assert m["timings"]["seconds"] >= 0 and m["run"]["samples"] == 3000

    c = pd.read_parquet(out / "census.parquet")
    assert int(c["count"].sum()) == 3000
    assert len(c) == d["distinct"]
    assert c["truth_table"].is_unique
    assert c["truth_table"].head(4).tolist() == [row["truth_table"] for row in d["top"]]
    assert c["count"].head(4).tolist() == counts


@pytest.mark.slow  # two command start-ups (about 7 s); the slow step runs it
def test_census_needs_no_target_and_volume_does(tmp_path):
    text = "[model]\nn_inputs = 3\nwidths = [8]\n[estimator]\nsamples = 1024\nchunk_size = 512\n"
    spec = write(tmp_path, text)
    r = cli("census", spec, "--json", "--out", tmp_path / "c", "--no-progress", "--samples", "1500")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["samples"] == 1500
    out = tmp_path / "v"
    r = cli("volume", spec, "--json", "--out", out, "--no-progress")
    assert_usage_error(r, "target")
    assert not out.exists()


@pytest.mark.parametrize(
    "prior,field",
    [("sigma_b = nan", "prior.sigma_b"), ("sigma_w = inf", "prior.sigma_w"), ("sigma_b = -1.0", "prior.sigma_b")],
)
def test_non_finite_or_negative_prior_scale_is_refused(tmp_path, prior, field):
    from counting.spec import SpecError, parse_spec

    with pytest.raises(SpecError, match=field):
        parse_spec(f"[model]\nn_inputs=3\nwidths=[8]\n[prior]\n{prior}\n", need_target=False)


# ----------------------------------------------------------------------------- one shape for every estimator
ESTIMATOR_SPECS = {
    "mc": "[estimator]\nkind = 'mc'\nsamples = 2048\nchunk_size = 1024\n",
    "exact": "[prior]\nkind = 'ternary'\n[estimator]\nkind = 'exact'\n",
    "subset": "[estimator]\nkind = 'subset'\nparticles = 100\nsteps = 2\nreplicates = 2\n",
    "smc": "[estimator]\nkind = 'smc'\nparticles = 100\nsteps = 2\nleapfrog = 2\nreplicates = 2\n",
    "nngp": "[estimator]\nkind = 'nngp'\nn_qmc = 256\nreplicates = 2\n",
}


@pytest.mark.slow  # one CLI run per estimator kind (about 20 s)
def test_volume_json_has_the_same_keys_for_every_estimator(tmp_path):
    """``counting volume --json`` for each kind (2-bit AND on a perceptron): one key set, the
    documented one, and each estimator's own numbers under ``diagnostics``."""
    keys = {}
    for kind, est in ESTIMATOR_SPECS.items():
        act = "'step'" if kind == "exact" else "'relu'"
        spec = write(tmp_path, f"[model]\nn_inputs = 2\nwidths = []\nactivation = {act}\n[target]\nname = 'and'\n{est}",
                     f"{kind}.toml")
        r = cli("volume", spec, "--json", "--out", tmp_path / kind, "--no-progress")
        assert r.returncode == 0, (kind, r.stderr)
        d = json.loads(r.stdout)
        keys[kind] = set(d)
        assert d["estimator"] == kind and d["target"] == "0x8"
        assert list(d["cost"].values()) == [d["samples"]]
        assert isinstance(d["diagnostics"], dict)
        assert d["ci95"][0] is None or d["ci95"][0] <= d["log10_volume"] <= d["ci95"][1], (kind, d)
        manifest = json.loads((tmp_path / kind / "manifest.json").read_text())
        assert manifest["spec"]["estimator"]["kind"] == kind  # only the settings that applied
        assert set(manifest["spec"]["estimator"]) == set(ESTIMATOR_FIELDS[kind])
    assert all(k == keys["mc"] for k in keys.values()), keys
    assert {"log10_volume", "ci95", "volume", "estimator", "samples", "cost", "hits", "seconds", "seed",
            "diagnostics", "target", "out"} <= keys["mc"]


ESTIMATOR_FIELDS = {
    "mc": ["kind", "samples", "seed", "chunk_size", "key_impl"],
    "exact": ["kind"],
    "subset": ["kind", "particles", "p0", "steps", "kernel", "slice_shrinks", "scale_moves", "replicates",
               "max_levels", "seed", "key_impl"],
    "smc": ["kind", "particles", "kernel", "steps", "leapfrog", "replicates", "max_stages", "ess_target",
            "stop_fraction", "seed", "key_impl"],
    "nngp": ["kind", "n_qmc", "replicates", "seed"],
}

RESULTS = Path(__file__).resolve().parents[1] / "results"


REPORTED_BY_DEFAULT = ("bench", "llamaizer", "simplicity")  # the others in the slow step (about 2 s each)


@pytest.mark.parametrize("folder", [f if f in REPORTED_BY_DEFAULT else pytest.param(f, marks=pytest.mark.slow)
                                    for f in sorted(p.name for p in RESULTS.iterdir() if p.is_dir())])
def test_report_renders_every_results_folder(folder):
    r = cli("report", RESULTS / folder, "--top", "3")
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert r.stdout.strip()


def test_report_refuses_a_folder_without_a_manifest(tmp_path):
    assert_usage_error(cli("report", tmp_path), "dir")


# ----------------------------------------------------------------------------- folders, resume, entry points
@pytest.mark.slow  # CLI runs (about 12 s)
def test_resume_without_a_checkpoint_is_refused_not_a_fresh_start(tmp_path):
    spec = write(tmp_path, SMALL)
    out = tmp_path / "out"
    for command in ("volume", "census"):
        assert_usage_error(cli(command, spec, "--out", out, "--no-progress", "--resume"), "--resume")
    assert not out.exists()
    assert cli("volume", spec, "--out", out, "--no-progress").returncode == 0
    assert_usage_error(cli("volume", spec, "--out", out, "--no-progress", "--resume"), "--resume")  # finished job


def test_experiment_resume_without_an_unfinished_run_is_refused(tmp_path):
    exp = Path(__file__).resolve().parents[1] / "experiments" / "llamaizer.toml"
    r = cli("run", exp, "--out", tmp_path / "out", "--work", tmp_path / "work", "--resume", "--no-progress")
    assert_usage_error(r, "--resume")
    assert not (tmp_path / "out").exists()


def test_a_library_error_names_its_option_and_the_command_line_prints_the_flag(tmp_path, capsys):
    """The library calls an option by its own name (``index``, ``resume``, ``out``; ``processes``
    in the message); the command line prints the same line with the flag that sets it, and merge
    its DIR. Run in this process: the cluster is checked before any device is set up."""
    from counting.cli import error_line, main
    from counting.engine import checkpoint, distributed
    from counting.spec.errors import OptionError

    with pytest.raises(OptionError) as e:
        distributed.cluster_from(None, 2, 2, {})
    assert (e.value.option, str(e.value)) == ("index", "index: expected an integer from 0 to 1 (processes 2), got 2")
    spec = write(tmp_path, SMALL)
    code = main(["volume", str(spec), "--out", str(tmp_path / "o"), "--num-processes", "2", "--process-id", "2"])
    assert code == 2 and capsys.readouterr().err.splitlines() == [
        "counting: error: --process-id: expected an integer from 0 to 1 (--num-processes 2), got 2"]
    assert not (tmp_path / "o").exists()
    with pytest.raises(OptionError) as e:
        checkpoint.require(tmp_path / "o", resume=True)
    said = f"expected a folder holding an unfinished job's checkpoint, got '{tmp_path / 'o'}'"
    assert str(e.value) == f"resume: {said}"
    assert error_line(e.value, "volume") == f"counting: error: --resume: {said}"
    with pytest.raises(OptionError) as e:
        distributed.read_job(tmp_path)
    said = f"expected a folder holding the parts of a volume or census job (job.json in parts/), got '{tmp_path}'"
    assert (str(e.value), error_line(e.value, "merge")) == (f"out: {said}", f"counting: error: DIR: {said}")


@pytest.mark.parametrize("command", ["volume", pytest.param("census", marks=pytest.mark.slow),
                                     pytest.param("run", marks=pytest.mark.slow),
                                     pytest.param("bench", marks=pytest.mark.slow)])  # a start-up each, about 2.5 s
def test_out_that_cannot_be_a_folder_is_refused_before_any_work(tmp_path, command):
    """A results path under a file, or (bench) an existing file: one line, status 2, nothing computed
    (no ``runs/`` folder, no work folder, the file untouched). No wall-time bound: on shared cores
    a start-up alone has taken over 5 s."""
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    spec = write(tmp_path, SMALL)
    target = {"run": [Path(__file__).resolve().parents[1] / "experiments" / "llamaizer.toml"], "bench": []}
    out = blocker if command == "bench" else blocker / "out"
    r = cli(command, *target.get(command, [spec]), "--out", out, cwd=tmp_path)
    assert_usage_error(r, "--out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "spec.toml"]
    assert blocker.read_text() == "not a folder"


@pytest.mark.slow  # three start-ups of the command (about 9 s); the slow step runs it
def test_version_module_entry_point_and_devices_after_the_command(tmp_path):
    r = subprocess.run([sys.executable, "-m", "counting", "--version"], capture_output=True, text=True, env=ENV)
    assert r.returncode == 0 and r.stdout.startswith("counting "), r.stderr
    spec = write(tmp_path, SMALL)
    r = cli("volume", spec, "--out", tmp_path / "out", "--no-progress", "--json", "--devices", "1")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["hits"] == json.loads(
        cli("--devices", "2", "volume", spec, "--out", tmp_path / "out2", "--no-progress", "--json").stdout)["hits"]


# ----------------------------------------------------------------------------- never lose a result
@pytest.mark.slow  # five CLI runs (about 15 s)
def test_finished_result_is_kept_unless_forced_and_default_folders_differ_by_spec(tmp_path):
    spec = write(tmp_path, SMALL)
    first = cli("volume", spec, "--json", "--no-progress", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    folder = Path(json.loads(first.stdout)["out"])
    manifest = (tmp_path / folder / "manifest.json").read_bytes()
    again = cli("volume", spec, "--json", "--no-progress", cwd=tmp_path)  # the same spec: the stored result
    assert again.returncode == 0 and json.loads(again.stdout)["hits"] == json.loads(first.stdout)["hits"]
    assert again.stderr.startswith("counting: stored result, not recomputed")
    line = assert_usage_error(cli("volume", spec, "--no-progress", "--seed", "1", "--out", folder, cwd=tmp_path),
                              "--force")  # another spec's folder
    assert "estimator.seed differs" in line
    assert (tmp_path / folder / "manifest.json").read_bytes() == manifest  # untouched
    other = cli("volume", spec, "--json", "--no-progress", "--seed", "1", cwd=tmp_path)
    assert other.returncode == 0 and json.loads(other.stdout)["out"] != str(folder), other.stderr
    forced = cli("volume", spec, "--json", "--no-progress", "--force", cwd=tmp_path)
    assert forced.returncode == 0 and json.loads(forced.stdout)["out"] == str(folder), forced.stderr
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == sorted([folder.name, Path(
        json.loads(other.stdout)["out"]).name])


@pytest.mark.slow  # four CLI runs, one killed (about 15 s)
def test_a_second_job_on_a_busy_folder_is_refused_and_a_dead_jobs_lock_is_taken_over(tmp_path):
    """A folder locked by a live process (this test's own) is refused in one line naming it, and
    nothing is written. A job killed with SIGKILL right after a checkpoint leaves its lock behind,
    naming a dead process: resuming takes the lock over and finishes with the uninterrupted count."""
    spec = write(tmp_path, SMALL)
    out = tmp_path / "out"
    out.mkdir()
    (out / ".lock").write_text(f"{socket.gethostname()} {os.getpid()}\n")
    line = assert_usage_error(cli("volume", spec, "--out", out, "--no-progress"), "--out")
    assert f"process {os.getpid()}" in line and sorted(p.name for p in out.iterdir()) == [".lock"]
    (out / ".lock").unlink()

    killed = cli("--devices", "1", "volume", spec, "--out", out, "--no-progress", "--checkpoint-seconds", "0",
                 env_extra={"COUNTING_KILL_AFTER_CHUNKS": "2"})
    assert killed.returncode == -9, killed.stderr
    assert (out / ".lock").exists() and (out / "checkpoint.npz").exists()
    resumed = cli("volume", spec, "--out", out, "--no-progress", "--resume", "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert not (out / ".lock").exists()
    fresh = cli("volume", spec, "--out", tmp_path / "fresh", "--no-progress", "--json")
    assert json.loads(resumed.stdout)["hits"] == json.loads(fresh.stdout)["hits"]


# ----------------------------------------------------------------------------- daily use
def _no_folder_can_be_made_in(place: str) -> bool:
    try:
        os.rmdir(os.path.join(place, "counting-probe"))  # never there; if it were, it is gone now
    except OSError:
        pass
    try:
        os.mkdir(os.path.join(place, "counting-probe"))
    except OSError:
        return True
    os.rmdir(os.path.join(place, "counting-probe"))
    return False


UNUSABLE = "/proc"  # a folder in which no folder can be made, even by root
needs_unusable = pytest.mark.skipif(not os.path.isdir(UNUSABLE) or not _no_folder_can_be_made_in(UNUSABLE),
                                    reason="no /proc in which a folder cannot be made")
EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"


@needs_unusable
@pytest.mark.parametrize("args, flag", [
    (["volume", "SPEC", "--out", "/proc/counting_out"], "--out"),
    pytest.param(["census", "SPEC", "--out", "/proc/counting_out"], "--out", marks=pytest.mark.slow),
    (["run", EXPERIMENTS / "llamaizer.toml", "--work", "/proc/counting_work"], "--work"),
    pytest.param(["run", EXPERIMENTS / "llamaizer.toml", "--out", "/proc/counting_out"], "--out",
                 marks=pytest.mark.slow),
    (["complexity", "--all", "3", "--out", "/proc/counting_cx"], "--out"),  # no jax: about 0.5 s
    pytest.param(["bench", "--out", "/proc/counting_bench"], "--out", marks=pytest.mark.slow),
])  # a start-up each (about 2.5 s)
def test_an_output_path_where_no_folder_can_be_made_is_one_line_before_any_work(tmp_path, args, flag):
    """``/proc/x`` passes a permission check (root may write anywhere) but no folder can be made
    there: the command says so in one line naming the flag and the path, status 2, nothing written."""
    spec = write(tmp_path, SMALL)
    argv = [spec if a == "SPEC" else a for a in args]
    line = assert_usage_error(cli(*argv, "--no-progress" if args[0] in ("volume", "census", "run") else "--json",
                                  cwd=tmp_path), flag)
    assert "no folder can be made in /proc" in line and "/proc/counting_" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.toml"]  # no runs/, no work folder


def test_the_printed_reproduce_command_run_where_it_was_printed_gives_the_same_number(tmp_path):
    """A volume job (made here in the test's process, as ``counting volume q.toml`` makes it: the same
    folder and manifest), then its cite line's reproduce command pasted in the same folder: the
    stored result, said in one line, with the same number and the same cite line; the volume line
    and the cite line give the value with the same significant figures."""
    from counting.engine.run import RunOptions
    from counting.io.folders import default_name
    from counting.io.manifest import record_reproduce
    from counting.jobs import volume_job
    from counting.spec import load_spec

    (tmp_path / "q.toml").write_text(SMALL)
    spec = load_spec(tmp_path / "q.toml", need_target=True)
    out = tmp_path / "runs" / default_name("q", "volume", spec.to_json())
    record_reproduce("counting volume q.toml")
    try:
        est = volume_job(spec, options=RunOptions(out=out, progress=False))
    finally:
        record_reproduce(None)
    m = json.loads((out / "manifest.json").read_text())
    assert m["reproduce"] == "counting volume q.toml" and m["environment"]["source_sha256"]
    r = cli(*shlex.split(m["reproduce"])[1:], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("stored result, not recomputed: same spec and code, made ")
    assert f"in {out.relative_to(tmp_path)}/ (--force recomputes it there, --out NEWDIR elsewhere)" in lines[0]
    assert f"({est.hits:,} hits / 3,000 networks)" in r.stdout
    cite = next(ln for ln in lines if ln.startswith("cite: "))
    assert cite.endswith("reproduce: counting volume q.toml")
    shown = next(ln for ln in lines if ln.startswith("volume ")).split()[1]
    assert cite.startswith(f"cite: P(f) = {shown} = ") and shown == f"{est.volume:.3g}"
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [out.name]  # nothing else written


@pytest.mark.slow  # three CLI runs (about 10 s)
def test_the_readme_command_then_its_reproduce_command(tmp_path):
    """The README's first command, then the cite line's reproduce command pasted as printed: the same
    number, from the stored result; with --json the object is the same and the note goes to stderr.
    A spec that differs is refused in one line naming the field."""
    (tmp_path / "q.toml").write_text(SMALL)
    first = cli("volume", "q.toml", "--no-progress", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    cite = next(ln for ln in first.stdout.splitlines() if ln.startswith("cite: "))
    again = cli(*shlex.split(cite.split("reproduce: ")[1])[1:], "--json", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    d = json.loads(again.stdout)
    assert "cite: " + d["citation"] == cite and again.stderr.startswith("counting: stored result, not recomputed")
    (tmp_path / "q.toml").write_text(SMALL.replace("samples = 3000", "samples = 2000"))
    line = assert_usage_error(cli("volume", "q.toml", "--out", d["out"], cwd=tmp_path), "--out")
    assert "estimator.samples differs" in line


def test_complexity_all_writes_a_manifest_refuses_a_finished_folder_and_report_reads_it(tmp_path, capsys):
    """In this process (complexity sets up no devices): the table and a manifest with the reproduce
    command; a second run is refused unless --force; counting report prints the folder."""
    from counting.cli import main

    out = tmp_path / "cx"
    assert main(["complexity", "--all", "2", "--out", str(out)]) == 0
    m = json.loads((out / "manifest.json").read_text())
    assert m["kind"] == "complexity" and m["files"] == ["complexity.parquet"] and m["environment"]["git"]
    assert m["reproduce"] == shlex.join(["counting", "complexity", "--all", "2", "--out", os.path.relpath(out)]) or \
        m["reproduce"] == "counting complexity --all 2"  # --out named only inside the working folder
    assert len(pd.read_parquet(out / "complexity.parquet")) == 16
    capsys.readouterr()
    assert main(["complexity", "--all", "2", "--out", str(out)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"counting: error: --out: expected a folder without a finished result (--force replaces it), got '{out}'"]
    assert main(["complexity", "--all", "2", "--out", str(out), "--force"]) == 0
    capsys.readouterr()
    assert main(["report", str(out), "--top", "2"]) == 0
    shown = capsys.readouterr().out
    assert shown.startswith("complexity: ") and "complexity.parquet (16 rows)" in shown


def test_complexity_without_n_says_which_n_the_table_fits():
    line = assert_usage_error(cli("complexity", "0xe8"), "--n")
    assert line.endswith("(an integer from 1 to 12; 0xe8 has 2 hex digits: --n 3)")


def test_a_misspelt_key_names_the_nearest_known_one(tmp_path):
    spec = write(tmp_path, "[model]\nn_inputs = 3\nwidht = [8]\n[target]\nname = 'and'\n")
    line = assert_usage_error(cli("volume", spec, "--out", tmp_path / "out"), "model.widht")
    assert "(did you mean 'widths'?)" in line and not (tmp_path / "out").exists()


@pytest.mark.parametrize("command, file, other", [
    ("volume", EXPERIMENTS / "llamaizer.toml", "counting run"),
    pytest.param("census", EXPERIMENTS / "llamaizer.toml", "counting run", marks=pytest.mark.slow),
    pytest.param("run", EXPERIMENTS / "quickstart.toml", "counting volume", marks=pytest.mark.slow),
])  # a start-up each (about 2.5 s)
def test_a_file_given_to_the_wrong_command_points_to_the_right_one(tmp_path, command, file, other):
    line = assert_usage_error(cli(command, file, "--out", tmp_path / "out"),
                              "experiment" if command == "run" else "spec")
    assert f"{other} {file}" in line and not (tmp_path / "out").exists()


@pytest.mark.slow  # a part job through the command line (about 6 s)
def test_a_part_written_by_one_of_several_processes_names_the_merge_command_with_its_folder(tmp_path):
    out = tmp_path / "q"
    r = cli("volume", write(tmp_path, SMALL), "--out", out, "--num-processes", "2", "--process-id", "1",
            "--no-progress")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().endswith(f"once every part is written: counting merge {out}"), r.stdout


def test_help_and_argument_errors_do_not_import_jax():
    """``counting --help``, ``counting volume --help`` and a missing argument answer before jax loads
    (a process each, about 0.3 s)."""
    probe = ("import runpy, sys\nsys.argv = ['counting', *sys.argv[1:]]\ntry:\n"
             "    runpy.run_module('counting.cli', run_name='__main__')\nexcept SystemExit as e:\n"
             "    print('exit', e.code, 'jax' in sys.modules, file=sys.stderr)\n")
    for args, code in ((["--help"], 0), (["volume", "--help"], 0), (["volume"], 2), (["complexity", "0xe8"], 2)):
        r = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, env=ENV, timeout=60)
        assert r.stderr.splitlines()[-1] == f"exit {code} False", (args, r.stderr)


@pytest.mark.slow  # a small experiment run (about 10 s)
def test_a_finished_run_leaves_no_empty_folders_in_work(tmp_path):
    """The work folder exists beforehand (as when a run is resumed): once the run has finished, its
    passes' emptied checkpoint folders and the work folder itself are gone; a file of the user's is kept."""
    exp = tmp_path / "tiny.toml"
    exp.write_text("[experiment]\nn_inputs = 3\nsamples = 512\nchunk_size = 512\nseed = 5\n[prior]\n"
                   "kind = 'gaussian'\n[[architecture]]\nname = 'w4'\nwidths = [4]\nactivation = 'relu'\n"
                   "[[target]]\nname = 'and01'\ntruth_table = '0x88'\n[[family]]\nname = 'ignored'\n"
                   "kind = 'ignored_bits'\n")
    for keep in (False, True):
        work = tmp_path / f"work-{keep}"
        work.mkdir()
        if keep:
            (work / "notes.txt").write_text("mine")
        r = cli("run", exp, "--out", tmp_path / f"out-{keep}", "--work", work, "--no-progress")
        assert r.returncode == 0, r.stderr
        assert (sorted(p.name for p in work.rglob("*")) == ["notes.txt"]) if keep else not work.exists()
