"""Counts depend only on (spec, seed, samples): exact, deterministic equality checks via the CLI.

Network ``i`` of chunk ``c`` draws from ``fold_in(fold_in(key(seed), c), i)``, so the volume hits
and the whole census (every truth table with its count, in ``census.parquet``) must be identical,
not merely close, across:

* ``--batch-size`` 32 / 128 / 512 (``chunk_size = 512``), for volume and census;
* ``counting --devices 1 / 2 / 4``;
* ``--chunks-per-device`` 1 / 3;
* an uninterrupted run versus one killed with ``kill -9`` (``COUNTING_KILL_AFTER_CHUNKS``) right
  after a checkpoint, then resumed with ``--resume`` (killed again further on, resumed again).
  While killed, the folder holds ``checkpoint.npz`` and no results, manifest or temp files, and a
  rerun without ``--resume`` is refused with status 2.

As a control (so these tests can fail), a different ``--seed`` gives a different census, and the
volume hits equal the census count of the target under the same seed.
"""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import cli

SAMPLES = 5000  # 10 chunks of 512, the last one partial (392 networks)
SPEC = f"""
[model]
n_inputs = 3
widths = [8]
activation = "relu"
[target]
name = "majority"
[estimator]
samples = {SAMPLES}
chunk_size = 512
seed = 3
"""


def run_ok(*args, **kw) -> subprocess.CompletedProcess:
    r = cli(*args, **kw)
    assert r.returncode == 0, (args, r.returncode, r.stderr)
    return r


def job(kind: str, spec: Path, out: Path, *flags, devices: int = 2, env_extra=None) -> subprocess.CompletedProcess:
    return cli("--devices", devices, kind, spec, "--out", out, "--no-progress", *flags, env_extra=env_extra)


def census_table(out: Path) -> pd.DataFrame:
    df = pd.read_parquet(out / "census.parquet")
    assert int(df["count"].sum()) == SAMPLES
    return df[["truth_table", "count"]].reset_index(drop=True)


def volume_hits(out: Path) -> int:
    df = pd.read_parquet(out / "volume.parquet")
    assert int(df["samples"][0]) == SAMPLES
    return int(df["hits"][0])


def assert_same_census(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert a["truth_table"].tolist() == b["truth_table"].tolist()
    assert a["count"].tolist() == b["count"].tolist()


@pytest.fixture(scope="module")
def spec(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("spec") / "spec.toml"
    p.write_text(SPEC)
    return p


@pytest.fixture(scope="module")
def reference(spec, tmp_path_factory) -> dict:
    """Uninterrupted runs with default batch size / chunks per device on 2 devices."""
    d = tmp_path_factory.mktemp("reference")
    run_ok("--devices", 2, "census", spec, "--out", d / "census", "--no-progress")
    run_ok("--devices", 2, "volume", spec, "--out", d / "volume", "--no-progress")
    return {"census": census_table(d / "census"), "hits": volume_hits(d / "volume")}


def test_reference_is_sane(reference):
    c = reference["census"]
    assert len(c) > 10  # a rich enough census for equality to mean something
    # volume hits equal the census count of the target (same seed, same networks)
    assert reference["hits"] == int(c.loc[c["truth_table"] == "0xe8", "count"].sum()) > 0


@pytest.mark.parametrize("batch", [pytest.param(32, marks=pytest.mark.slow), 128,
                                   pytest.param(512, marks=pytest.mark.slow)])  # one in the default run
def test_batch_size_does_not_change_counts(spec, reference, tmp_path, batch):
    run_ok("--devices", 2, "census", spec, "--out", tmp_path / "c", "--no-progress", "--batch-size", batch)
    assert_same_census(census_table(tmp_path / "c"), reference["census"])
    assert json.loads((tmp_path / "c" / "manifest.json").read_text())["run"]["batch_size"] == batch
    r = run_ok("--devices", 2, "volume", spec, "--out", tmp_path / "v", "--no-progress", "--batch-size", batch,
               "--json")
    assert json.loads(r.stdout)["hits"] == reference["hits"] == volume_hits(tmp_path / "v")


@pytest.mark.parametrize("devices", [pytest.param(1, marks=pytest.mark.slow), 2, pytest.param(4, marks=pytest.mark.slow)])  # 4 s each
def test_device_count_does_not_change_counts(spec, reference, tmp_path, devices):
    run_ok("--devices", devices, "census", spec, "--out", tmp_path / "c", "--no-progress")
    assert_same_census(census_table(tmp_path / "c"), reference["census"])
    m = json.loads((tmp_path / "c" / "manifest.json").read_text())
    assert m["environment"]["device_count"] == devices


@pytest.mark.parametrize("per_device", [pytest.param(1, marks=pytest.mark.slow), 3])  # 4 s each
def test_chunks_per_device_does_not_change_counts(spec, reference, tmp_path, per_device):
    run_ok("--devices", 2, "census", spec, "--out", tmp_path / "c", "--no-progress", "--chunks-per-device",
           per_device)
    assert_same_census(census_table(tmp_path / "c"), reference["census"])
    assert json.loads((tmp_path / "c" / "manifest.json").read_text())["run"]["chunks_per_device"] == per_device


def test_different_seed_changes_census(spec, reference, tmp_path):
    run_ok("--devices", 2, "census", spec, "--out", tmp_path / "c", "--no-progress", "--seed", 4)
    other = census_table(tmp_path / "c")
    a = dict(zip(reference["census"]["truth_table"], reference["census"]["count"]))
    b = dict(zip(other["truth_table"], other["count"]))
    assert a != b


def checkpoint_next_chunk(out: Path) -> int:
    with np.load(out / "checkpoint.npz") as d:
        return int(d["next"])


def assert_killed_state(out: Path, kind: str) -> None:
    """A checkpoint and nothing else but, possibly, the lock the killed job could not remove (it
    names a dead process, and the next job takes it over)."""
    names = sorted(p.name for p in out.iterdir() if p.name != ".lock")
    assert "checkpoint.npz" in names, names
    assert f"{kind}.parquet" not in names and "manifest.json" not in names, names
    assert not [n for n in names if n.startswith(".") or ".tmp-" in n], names  # no temp files
    assert names == ["checkpoint.npz"], names


@pytest.mark.slow  # kill -9 twice and resume through the CLI, per job kind (about 15 s each)
@pytest.mark.parametrize("kind", ["census", "volume"])
def test_kill_and_resume_gives_uninterrupted_counts(spec, reference, tmp_path, kind):
    out = tmp_path / "out"
    fast_ckpt = ("--checkpoint-seconds", "0")

    r = job(kind, spec, out, *fast_ckpt, env_extra={"COUNTING_KILL_AFTER_CHUNKS": "2"})
    assert r.returncode == -signal.SIGKILL, (r.returncode, r.stderr)
    assert_killed_state(out, kind)
    assert checkpoint_next_chunk(out) == 2  # 2 devices x 1 chunk: killed after the first step
    ckpt = (out / "checkpoint.npz").read_bytes()

    # a new job into a folder holding an unfinished one is refused, and changes nothing
    r = job(kind, spec, out, *fast_ckpt)
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("counting: error: --out"), r.stderr
    assert "Traceback" not in r.stderr
    assert_killed_state(out, kind)
    assert (out / "checkpoint.npz").read_bytes() == ckpt

    # resume (on another device count and batch size), killed again further on
    r = job(kind, spec, out, "--resume", "--batch-size", 64, *fast_ckpt, devices=1,
            env_extra={"COUNTING_KILL_AFTER_CHUNKS": "6"})
    assert r.returncode == -signal.SIGKILL, (r.returncode, r.stderr)
    assert_killed_state(out, kind)
    assert checkpoint_next_chunk(out) == 6  # progress was made, from where the first run stopped

    r = job(kind, spec, out, "--resume", *fast_ckpt)
    assert r.returncode == 0, (r.returncode, r.stderr)
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted([f"{kind}.parquet", "manifest.json"]), names  # checkpoint removed
    run = json.loads((out / "manifest.json").read_text())["run"]
    assert run["samples"] == SAMPLES and run["resumed_from_chunk"] == 6
    if kind == "census":
        assert_same_census(census_table(out), reference["census"])
    else:
        assert volume_hits(out) == reference["hits"]
