"""Daily-use safety through the command line: interrupts, memory, progress in logs, the citable line.

* SIGINT and SIGTERM at several moments (before the first chunk, mid-job, while a checkpoint is
  written, during start-up) exit 130 / 143 with one line and leave either no folder or a
  checkpoint whose ``--resume`` ends with exactly the uninterrupted counts.
* On a network so wide that one chunk takes minutes, a signal stops the job within seconds (a step
  is bounded in time, a chunk evaluated in slices) with a checkpoint inside the chunk, which
  resumes to exactly the uninterrupted counts; a second signal stops at once, even while the main
  thread waits on the device; a job asked for fewer networks than a chunk draws only those.
* A spec too large for the memory of a device is refused in one line before any work.
* Progress lines go to stderr when it is not a terminal, and a job that would take days or years says so.
* The citable line names everything a reader needs, and its reproduce command gives the number again.
"""

from __future__ import annotations

import json
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import ENV, assert_usage_error, cli, write_spec

# 2 inputs, one hidden layer of 8: 12 chunks of 1024 networks, one chunk per step on one device
SMALL = """
[model]
n_inputs = 2
widths = [8]
[target]
name = "and"
[estimator]
samples = 12288
chunk_size = 1024
seed = 3
"""
SIGNAL = "COUNTING_SIGNAL_AT"


def _files(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def _one_line(r, code: int, text: str) -> str:
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("counting: stopped by SIG") and text in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted hits of SMALL."""
    d = tmp_path_factory.mktemp("ref")
    r = cli("--devices", "1", "volume", write_spec(d, SMALL), "--out", d / "out", "--json", "--no-progress")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["hits"]


@pytest.mark.slow  # a command start-up interrupted (about 8 s); the slow step runs it
def test_signal_before_the_first_chunk_leaves_nothing(tmp_path):
    spec = write_spec(tmp_path, SMALL)
    for sig, code in (("INT", 130), ("TERM", 143)):
        r = cli("--devices", "1", "volume", spec, "--out", tmp_path / "out", "--no-progress",
                env_extra={SIGNAL: f"{sig}@start"})
        _one_line(r, code, "nothing was written")
        assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("sig, moment, code", [pytest.param("TERM", "chunk:4", 143, marks=pytest.mark.slow),
                                              ("INT", "save:6", 130)])  # a job and its resume each, ~12 s
def test_signal_mid_job_leaves_a_checkpoint_that_resumes_to_the_same_counts(tmp_path, reference, sig, moment,
                                                                             code):
    spec = write_spec(tmp_path, SMALL)
    out = tmp_path / "out"
    # a long checkpoint interval: the signal itself makes the checkpoint (or, for save:n, arrives in one)
    every = "0" if moment.startswith("save") else "1000"
    r = cli("--devices", "1", "volume", spec, "--out", out, "--no-progress", "--checkpoint-seconds", every,
            env_extra={SIGNAL: f"{sig}@{moment}"})
    line = _one_line(r, code, "checkpointed")
    assert _files(out) == ["checkpoint.npz"]  # no temp file, no lock, no half result
    assert "--resume" in line
    again = shlex.split(line.split("continue with: ")[1])
    assert again[:2] == ["counting", "--devices"] and again[-1] == "--resume"
    resumed = subprocess.run([sys.executable, "-m", "counting", *again[1:], "--json"], capture_output=True,
                             text=True, env=ENV, cwd=tmp_path, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    d = json.loads(resumed.stdout)
    assert d["hits"] == reference and d["samples"] == 12288
    assert d["diagnostics"]["resumed_from_chunk"] == int(moment.split(":")[1])


def test_signal_during_start_up_is_one_line(tmp_path):
    """A signal while Python imports jax, starts its backend or compiles: one line and the exit status,
    no traceback, no folder (a signal raised into jax's garbage-collector callback was once swallowed,
    and one raised into a C++ callback aborted the process: the delays reach both)."""
    spec = write_spec(tmp_path, SMALL.replace("samples = 12288", "samples = 100_000_000"))
    for delay in (0.4, 1.2):
        for sig, code in ((signal.SIGINT, 130), (signal.SIGTERM, 143)):
            out = tmp_path / f"o{delay}{sig.name}"
            p = subprocess.Popen([sys.executable, "-m", "counting", "volume", str(spec), "--out", str(out)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
            time.sleep(delay)
            p.send_signal(sig)
            _, err = p.communicate(timeout=120)
            assert p.returncode == code, (delay, p.returncode, err)
            assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
            assert err.startswith(f"counting: stopped by {sig.name}"), err
            assert not out.exists() or _files(out) == ["checkpoint.npz"], _files(out)


_HANDLER_PROBE = """
import gc, os, signal, sys, time
from pathlib import Path
import counting.interrupt as interrupt

interrupt.install(lambda e: f"stopped by {e.name}")
marker = Path(sys.argv[1])
marker.write_text("held")
sent = []

def collect(phase, info):  # a signal that lands in a gc callback, where a raised exception is swallowed
    if not sent:
        sent.append(1)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.2)

gc.callbacks.append(collect)
with interrupt.on_stop(lambda: marker.unlink()):
    gc.collect()
    time.sleep(5)
print("still running")
"""


def test_a_signal_outside_a_loop_stops_at_once_with_its_clean_ups(tmp_path):
    """Outside a counting loop the handler raises nothing into the code it lands in: it runs the
    clean-ups, writes its line and exits, even from inside a garbage-collector callback."""
    marker = tmp_path / "marker"
    r = subprocess.run([sys.executable, "-c", _HANDLER_PROBE, str(marker)], capture_output=True, text=True,
                       env=ENV, timeout=60)
    assert r.returncode == 143, (r.returncode, r.stdout, r.stderr)
    assert r.stdout == "" and r.stderr == "stopped by SIGTERM\n", (r.stdout, r.stderr)
    assert not marker.exists()


@pytest.mark.slow  # three subset runs (about 15 s)
def test_replicate_job_interrupted_in_a_checkpoint_write_resumes_exactly(tmp_path):
    spec = write_spec(tmp_path, '[model]\nn_inputs = 3\nwidths = []\n[target]\ntruth_table = "0x80"\n'
                                '[estimator]\nkind = "subset"\nparticles = 200\nreplicates = 4\nseed = 1\n')
    out = tmp_path / "out"
    r = cli("volume", spec, "--out", out, "--no-progress", env_extra={SIGNAL: "TERM@save:2"})
    _one_line(r, 143, "checkpointed")
    assert _files(out) == ["checkpoint.npz"]
    resumed = cli("volume", spec, "--out", out, "--no-progress", "--resume", "--json")
    fresh = cli("volume", spec, "--out", tmp_path / "fresh", "--no-progress", "--json")
    assert resumed.returncode == 0 and fresh.returncode == 0, (resumed.stderr, fresh.stderr)
    a, b = json.loads(resumed.stdout), json.loads(fresh.stdout)
    assert a["diagnostics"]["replicates_log10"] == b["diagnostics"]["replicates_log10"]
    assert a["log10_volume"] == b["log10_volume"]


def test_too_large_a_network_is_refused_in_one_line_before_any_work(tmp_path):
    spec = write_spec(tmp_path, '[model]\nn_inputs = 7\nwidths = [100000, 100000]\n[target]\nname = "majority"\n')
    t0 = time.perf_counter()
    r = cli("volume", spec, "--out", tmp_path / "out")
    line = assert_usage_error(r, "model")
    assert "need" in line and "GiB" in line
    assert time.perf_counter() - t0 < 60 and not (tmp_path / "out").exists()


@pytest.mark.slow  # compiles a step of 4096 networks of 10^8 parameters (about 10 s)
def test_a_batch_that_does_not_fit_is_refused_when_asked_for(tmp_path):
    spec = write_spec(tmp_path, '[model]\nn_inputs = 7\nwidths = [10000, 10000]\n[target]\nname = "majority"\n'
                                '[estimator]\nchunk_size = 4096\n')
    r = cli("--devices", "1", "volume", spec, "--out", tmp_path / "out", "--batch-size", "4096")
    line = assert_usage_error(r, "--batch-size")
    assert "fits in the" in line
    assert not (tmp_path / "out").exists()


@pytest.mark.slow  # a command start-up and a job (about 7 s); the slow step runs it
def test_progress_lines_in_a_log_and_a_forecast_for_a_job_of_months(tmp_path):
    spec = write_spec(tmp_path, SMALL.replace("samples = 12288", "samples = 4_000_000_000_000"))
    r = cli("--devices", "1", "volume", spec, "--out", tmp_path / "out", "--progress-seconds", "0.000001",
            env_extra={SIGNAL: "INT@chunk:4"})
    assert r.returncode == 130, r.stderr
    lines = r.stderr.splitlines()
    progress = [ln for ln in lines if "networks/s" in ln and "left" in ln]
    assert progress and progress[0].startswith("counting: volume 1,024/4,000,000,000,000 networks"), lines
    forecast = [ln for ln in lines if "expected to take about" in ln]
    assert len(forecast) == 1 and re.search(r"about [\d.]+ (days|years) \(4,000,000,000,000 networks", forecast[0])
    assert lines[-1].startswith("counting: stopped by SIGINT")
    assert "\r" not in r.stderr  # plain lines, not a bar


@pytest.mark.slow  # two jobs through the command line, the second from the printed command (about 15 s)
def test_citable_line_and_its_reproduce_command(tmp_path):
    spec = write_spec(tmp_path, SMALL, "q.toml")
    r = cli("volume", "q.toml", "--seed", "4", "--json", "--no-progress", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    cite = d["citation"]
    for part in ("for f = and (0x8) on 2 inputs", "2-8-1 relu MLP", "weights N(0, 1^2/fan-in)",
                 "hit-or-miss Monte Carlo, exact binomial (Clopper-Pearson) interval", "12,288 networks",
                 "seed 4", "counting ", "commit ", f"10^{d['log10_volume']:.3f}",
                 f"95% CI 10^[{d['ci95'][0]:.3f}, {d['ci95'][1]:.3f}]"):
        assert part in cite, (part, cite)
    assert d["reproduce"] == "counting volume q.toml --seed 4" and cite.endswith("reproduce: " + d["reproduce"])
    manifest = json.loads((tmp_path / d["out"] / "manifest.json").read_text())
    assert manifest["spec"]["target"]["truth_table"] == "0x8" and manifest["reproduce"] == d["reproduce"]
    # the reproduce command, pasted into a shell in a fresh folder holding the spec, gives the number again
    fresh = tmp_path / "clone"
    fresh.mkdir()
    (fresh / "q.toml").write_text(spec.read_text())
    argv = shlex.split(d["reproduce"])
    again = subprocess.run([sys.executable, "-m", "counting", *argv[1:], "--json"], capture_output=True,
                           text=True, env=ENV, cwd=fresh, timeout=300)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["hits"] == d["hits"]
    # counting report prints the same line
    report = cli("report", d["out"], cwd=tmp_path)
    assert report.returncode == 0 and f"cite: {cite}" in report.stdout.splitlines()
    # and the plain output carries it too, its reproduce command naming the folder given inside the working folder
    plain = cli("volume", "q.toml", "--seed", "4", "--no-progress", "--out", "plain", cwd=tmp_path)
    assert f"cite: {cite} --out plain" in plain.stdout.splitlines()


@pytest.mark.slow  # a local clone and two quickstart runs (about 20 s)
def test_quickstart_citable_line_reproduces_from_a_fresh_clone(tmp_path):
    root = Path(__file__).resolve().parents[1]
    if not (root / ".git").exists():
        pytest.skip("not a git checkout")
    r = cli("volume", "experiments/quickstart.toml", "--json", "--no-progress", "--out", tmp_path / "here", cwd=root)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["reproduce"] == "counting volume experiments/quickstart.toml"
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(root), str(clone)], check=True, timeout=120)
    argv = shlex.split(d["citation"].split("reproduce: ")[1])
    again = subprocess.run([sys.executable, "-m", "counting", *argv[1:], "--json"], capture_output=True, text=True,
                           env={**ENV, "PYTHONPATH": str(clone)}, cwd=clone, timeout=300)
    assert again.returncode == 0, again.stderr
    e = json.loads(again.stdout)
    assert (e["hits"], e["samples"], e["log10_volume"]) == (d["hits"], d["samples"], d["log10_volume"])


# 3-500-500-1: about 11 ms a network on one of this project's shared CPU cores, so one chunk of
# 16,384 takes about three minutes; 1,500 networks on two devices take about 10 s
WIDE = """
[model]
n_inputs = 3
widths = [500, 500]
[target]
name = "majority"
[estimator]
samples = 1500
seed = 5
"""


@pytest.fixture(scope="module")
def wide_reference(tmp_path_factory):
    """The uninterrupted hits of WIDE."""
    d = tmp_path_factory.mktemp("wide")
    r = cli("--devices", "2", "volume", write_spec(d, WIDE), "--out", d / "out", "--json", "--no-progress")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def _signal_after_progress(args, signals, cwd, lines: int = 1) -> tuple[subprocess.CompletedProcess, float]:
    """Run the command line, send ``signals`` (with 0.3 s between them) once ``lines`` progress lines
    are out; returns the finished process and the seconds from the first signal to its exit."""
    p = subprocess.Popen([sys.executable, "-m", "counting", *map(str, args), "--progress-seconds", "0.05"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, cwd=cwd)
    seen, err = 0, []
    while seen < lines:
        line = p.stderr.readline()
        assert line, ("the job ended before its progress lines", p.wait(), "".join(err))
        err.append(line)
        seen += "networks/s" in line
    t0 = time.perf_counter()
    for k, sig in enumerate(signals):
        if k:
            time.sleep(0.3)
        p.send_signal(sig)
    out, rest = p.communicate(timeout=120)
    took = time.perf_counter() - t0
    return subprocess.CompletedProcess(p.args, p.returncode, out, "".join(err) + rest), took


@pytest.mark.slow  # a wide network through the command line, stopped twice and resumed (about 60 s)
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_a_wide_network_stops_within_seconds_inside_a_chunk_and_resumes_exactly(tmp_path, wide_reference, sig,
                                                                               code):
    spec = write_spec(tmp_path, WIDE)
    out = tmp_path / "out"
    r, took = _signal_after_progress(["--devices", "2", "volume", spec, "--out", out], [sig], tmp_path)
    assert r.returncode == code, (r.returncode, r.stderr)
    assert took < 10, took
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith(f"counting: stopped by {sig.name}; the work done is checkpointed"), last
    with np.load(out / "checkpoint.npz") as ck:  # inside chunk 0: the job is 1,500 networks of a 16,384 chunk
        assert int(ck["next"]) == 0 and 0 < int(ck["slice_offset"]) < 1500
    resumed = cli("--devices", "1", "volume", spec, "--out", out, "--resume", "--json", "--no-progress")
    assert resumed.returncode == 0, resumed.stderr
    d = json.loads(resumed.stdout)
    assert d["hits"] == wide_reference["hits"] and d["samples"] == 1500
    # the premise: a whole chunk (what a step was before) takes longer than the stop took
    assert 16384 / wide_reference["diagnostics"]["networks_per_second"] > 2 * took


@pytest.mark.slow  # a wide network through the command line (about 20 s)
def test_a_second_signal_stops_a_wide_network_at_once(tmp_path):
    """Batches of 512 networks of 3-500-500-1 (about 5 s each here) on one device: after the first
    step, two SIGINTs 0.3 s apart stop the job before the step in hand (a batch at least) could end."""
    spec = write_spec(tmp_path, WIDE)
    r, took = _signal_after_progress(["--devices", "1", "volume", spec, "--out", tmp_path / "out", "--batch-size",
                                      "512"], [signal.SIGINT, signal.SIGINT], tmp_path)
    assert r.returncode == 130, (r.returncode, r.stderr)
    assert took < 2.5, took
    assert r.stderr.strip().splitlines()[-1].startswith("counting: stopped by SIGINT"), r.stderr


_BLOCKED_PROBE = """
import os, signal, threading, time
import jax, jax.numpy as jnp, numpy as np
import counting.interrupt as interrupt

interrupt.install(lambda e: f"stopped by {e.name}")
slow = jax.jit(lambda x: jax.lax.fori_loop(0, 10**9, lambda i, y: jnp.tanh(y @ y), x))

def signals():
    time.sleep(0.5)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(0.5)
    os.kill(os.getpid(), signal.SIGTERM)

with interrupt.deferred():  # a counting loop: the first signal waits for a safe point, the second does not
    result = slow(jnp.eye(256) / 2)
    threading.Thread(target=signals).start()
    np.asarray(result)  # the main thread inside a call into jax for hours, as a tally's add is
print("still running")
"""


def test_a_second_signal_stops_at_once_while_the_main_thread_waits_on_the_device():
    r = subprocess.run([sys.executable, "-c", _BLOCKED_PROBE], capture_output=True, text=True, env=ENV, timeout=120)
    assert r.returncode == 143, (r.returncode, r.stdout, r.stderr)
    assert r.stdout == "" and r.stderr.splitlines()[-1] == "stopped by SIGTERM", (r.stdout, r.stderr)


def test_a_job_asked_for_fewer_networks_than_a_chunk_draws_only_those(tmp_path):
    """1,000 networks of 3-40-40-1 (chunks of 16,384, batches of 256): 1,024 are drawn, 1,000 counted."""
    spec = write_spec(tmp_path, "[model]\nn_inputs = 3\nwidths = [40, 40]\n[estimator]\nseed = 2\n")
    r = cli("--devices", "2", "census", spec, "--out", tmp_path / "c", "--samples", "1000", "--no-progress")
    assert r.returncode == 0, r.stderr
    run = json.loads((tmp_path / "c" / "manifest.json").read_text())["run"]
    assert (run["samples"], run["chunk_size"], run["batch_size"], run["drawn"]) == (1000, 16384, 256, 1024)
