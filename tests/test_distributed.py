"""A job of several processes counts exactly what one process counts.

Fast, in one process: the chunk partition tiles the job, the merge of tally states is exact (sums,
the census merge), the parts of a census run as separate "processes" (``--num-processes N
--process-id I`` without a coordinator) merge into the single-process result, a missing part or
another job's part is refused, and the cluster settings are refused in one line. Slow: the same
for an experiment (``counting run``'s passes and tables), and two real processes under
``jax.distributed`` on localhost (CPU, a free port) for ``counting volume`` and ``counting census``
against one process. One device against several is tested in ``test_invariance.py``.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import ENV, cli, write_spec

import counting.engine.distributed as distributed
from counting.cli import CLUSTER_ENV, main
from counting.engine.census import Census
from counting.engine.run import RunOptions, run_pass
from counting.engine.tally import CensusTally, Hits
from counting.experiments import kind_of
from counting.experiments.base.config import read_toml
from counting.experiments.base.run import run as run_experiment
from counting.experiments.llamaizer import from_dict
from counting.jobs import census_job
from counting.spec import parse_spec
from counting.spec.errors import SpecError

SPEC = """
[model]
n_inputs = 3
widths = [6]
[target]
name = "majority"
[estimator]
samples = 9000
chunk_size = 1024
seed = 5
"""


@pytest.mark.parametrize("total", [1, 2, 7, 10, 64, 1001])
@pytest.mark.parametrize("n", [1, 2, 3, 8])
def test_part_ranges_tile_the_chunks(total, n):
    ranges = [distributed.part_range(total, i, n) for i in range(n)]
    assert [c for r in ranges for c in r] == list(range(total))  # contiguous, in order, each chunk once
    sizes = [len(r) for r in ranges]
    assert max(sizes) - min(sizes) <= 1


def test_merge_states_sums_counts_and_merges_censuses():
    assert distributed.merge_states(Hits(None), [{"hits": np.array(3)}, {"hits": np.array(4)}])["hits"] == 7
    # an experiment's dict of integer arrays: a name a part never saw counts zero there
    parts = [{"a|n_f": np.array(2), "a|held": np.array([[1, 0]])}, {}, {"a|n_f": np.array(5),
                                                                        "a|held": np.array([[2, 3]])}]
    m = distributed.merge_states(object(), parts)
    assert m["a|n_f"] == 7 and m["a|held"].tolist() == [[3, 3]]
    with pytest.raises(TypeError, match="exact integer"):
        distributed.merge_states(object(), [{"x": np.array(0.5)}])
    rng = np.random.default_rng(0)
    rows = rng.integers(0, 12, size=(300, 2), dtype=np.uint32)  # 2 words: 6 inputs
    states = []
    for lo, hi in ((0, 100), (100, 101), (101, 101), (101, 300)):
        t = CensusTally(6, 1, 300)
        t.load({"tables": Census.from_rows(rows[lo:hi], 6).tables, "counts": Census.from_rows(rows[lo:hi], 6).counts})
        states.append(t.state())
    t = CensusTally(6, 1, 300)
    t.load(distributed.merge_states(t, states))
    whole = Census.from_rows(rows, 6)
    got = t.finalize()
    assert np.array_equal(got.tables, whole.tables) and np.array_equal(got.counts, whole.counts)


PERCEPTRON = SPEC.replace("widths = [6]", "widths = []").replace("samples = 9000", "samples = 2000")


def test_census_job_of_parts_equals_one_process(tmp_path):
    # 2 chunks over 3 processes: process 2 counts nothing (and compiles nothing)
    spec = parse_spec(PERCEPTRON, need_target=False)
    census_job(spec, RunOptions(out=tmp_path / "one", progress=False))
    for i in range(3):
        with pytest.raises(distributed.PartDone):
            census_job(spec, RunOptions(out=tmp_path / "two", progress=False, cluster=distributed.Cluster(3, i)))
    merged, facts = census_job(spec, RunOptions(out=tmp_path / "two", progress=False,
                                                cluster=distributed.Cluster(3, None)))
    a, b = (pd.read_parquet(tmp_path / d / "census.parquet") for d in ("one", "two"))
    assert a.equals(b) and int(b["count"].sum()) == 2000 == merged.samples
    assert (facts.samples, facts.chunks, facts.processes) == (2000, 2, 3)
    assert json.loads((tmp_path / "two" / "manifest.json").read_text())["run"]["processes"] == 3
    assert "processes" not in json.loads((tmp_path / "one" / "manifest.json").read_text())["run"]


def test_merge_refuses_a_missing_part_or_another_jobs_part(tmp_path):
    one_chunk = PERCEPTRON.replace("samples = 2000", "samples = 1000")
    spec, other = parse_spec(one_chunk), parse_spec(one_chunk.replace("seed = 5", "seed = 6"))
    pred = lambda fwd: fwd.output[:, 0] > 0  # noqa: E731
    part = lambda s, i: run_pass(s, Hits(pred), RunOptions(out=tmp_path, progress=False,  # noqa: E731
                                                           cluster=distributed.Cluster(2, i)))
    merge = RunOptions(out=tmp_path, progress=False, cluster=distributed.Cluster(2, None))
    with pytest.raises(distributed.PartDone):
        part(spec, 0)  # process 0 has no chunk of a 1-chunk job: it writes an empty part
    with pytest.raises(SpecError, match="part 1: missing"):
        run_pass(spec, Hits(pred), merge)
    with pytest.raises(distributed.PartDone):
        part(other, 1)
    with pytest.raises(SpecError, match="part 1: made by another job"):
        run_pass(spec, Hits(pred), merge)
    with pytest.raises(distributed.PartDone):
        part(spec, 1)
    merged = Hits(pred)
    run_pass(spec, merged, merge)
    part1 = distributed.read_part(distributed.part_folder(tmp_path, 1, 2), distributed.identity(spec.to_json(),
                                                                                                "volume", 1, 2))
    assert merged.finalize() == int(part1.state["hits"]) > 0  # the empty part 0 adds nothing


LLAMAIZER = """
[experiment]
n_inputs = 3
samples = 1024
chunk_size = 1024
[[architecture]]
widths = [2]
[[target]]
name = "and01"
truth_table = "0x88"
[[family]]
name = "ignored"
kind = "ignored_bits"
"""


@pytest.mark.slow  # two compiled passes and the experiment's tables: about 11 s on 2 shared cores
def test_experiment_of_parts_equals_one_process(tmp_path):
    # one chunk, two processes: the merge of a part and an empty part, through the experiment's tables
    config = from_dict(read_toml(LLAMAIZER))
    kind = kind_of(config)
    one = run_experiment(kind, config, work=tmp_path / "w1", progress=False)
    for i in range(2):
        with pytest.raises(distributed.PartDone):
            run_experiment(kind, config, work=tmp_path / "w2", progress=False, cluster=distributed.Cluster(2, i))
    two = run_experiment(kind, config, work=tmp_path / "w2", progress=False, cluster=distributed.Cluster(2, None))
    assert one.keys() == two.keys()
    for k in one:
        pd.testing.assert_frame_equal(one[k], two[k])
    assert int(one["volumes"]["orbit_hits"].sum()) > 0


@pytest.mark.parametrize("flags, env, field", [  # the library names cluster_from's arguments
    (["--num-processes", "2", "--process-id", "2"], {}, "index"),
    (["--num-processes", "2", "--process-id", "-1"], {}, "index"),
    (["--coordinator", "localhost:1234"], {}, "processes"),
    (["--process-id", "0"], {}, "processes"),
    (["--coordinator", "localhost:1234", "--num-processes", "2"], {}, "index"),
    (["--coordinator", "localhost", "--num-processes", "2", "--process-id", "0"], {}, "coordinator"),
    (["--num-processes", "0"], {}, "processes"),
    ([], {"COUNTING_NUM_PROCESSES": "two"}, "COUNTING_NUM_PROCESSES"),
    ([], {"COUNTING_NUM_PROCESSES": "2", "COUNTING_PROCESS_ID": "3"}, "index"),
])
def test_cluster_settings_are_refused_in_one_line(flags, env, field):
    with pytest.raises(SpecError) as e:
        args = dict(zip(("--coordinator", "--num-processes", "--process-id"), (None, None, None)))
        for k, v in zip(flags[::2], flags[1::2]):
            args[k] = v if k == "--coordinator" else int(v)
        distributed.cluster_from(args["--coordinator"], args["--num-processes"], args["--process-id"], env)
    assert str(e.value).startswith(f"{field}:") and "\n" not in str(e.value)


def test_environment_gives_the_cluster_and_flags_win():
    assert CLUSTER_ENV == (distributed.ENV_COORDINATOR, distributed.ENV_PROCESSES, distributed.ENV_PROCESS_ID)
    env = {"COUNTING_COORDINATOR": "h:9", "COUNTING_NUM_PROCESSES": "4", "COUNTING_PROCESS_ID": "3"}
    assert distributed.cluster_from(None, None, None, env) == distributed.Cluster(4, 3, "h:9")
    assert distributed.cluster_from(None, None, 1, env) == distributed.Cluster(4, 1, "h:9")
    assert distributed.cluster_from(None, 1, None, {}) == distributed.Cluster()


def test_cli_refuses_a_process_id_out_of_range_before_any_work(tmp_path, capsys):
    spec = write_spec(tmp_path, SPEC)
    code = main(["volume", str(spec), "--out", str(tmp_path / "o"), "--num-processes", "2", "--process-id", "2"])
    err = capsys.readouterr().err.splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("counting: error: --process-id: expected")
    assert not (tmp_path / "o").exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _together(command: str, spec: Path, out: Path, devices: tuple[int, ...]) -> list[subprocess.CompletedProcess]:
    """``counting COMMAND`` as len(devices) processes under jax.distributed on localhost."""
    port = _free_port()
    procs = [subprocess.Popen([sys.executable, "-m", "counting.cli", command, str(spec), "--out", str(out), "--json",
                               "--no-progress", "--devices", str(d)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env={**ENV, "COUNTING_COORDINATOR": f"localhost:{port}",
                                              "COUNTING_NUM_PROCESSES": str(len(devices)),
                                              "COUNTING_PROCESS_ID": str(i)})
             for i, d in enumerate(devices)]
    done = []
    for p in procs:
        out_, err = p.communicate(timeout=240)
        done.append(subprocess.CompletedProcess(p.args, p.returncode, out_, err))
    return done


@pytest.mark.slow  # four command processes and two single-process references: about 40 s on 2 cores
def test_two_processes_under_jax_distributed_count_what_one_counts(tmp_path):
    spec = write_spec(tmp_path, SPEC.replace("samples = 9000", "samples = 20000"))
    one = json.loads(cli("volume", spec, "--out", tmp_path / "v1", "--json", "--no-progress").stdout)
    p0, p1 = _together("volume", spec, tmp_path / "v2", (2, 1))
    assert p0.returncode == 0 and p1.returncode == 0, (p0.stderr[-2000:], p1.stderr[-2000:])
    two = json.loads(p0.stdout)
    assert "part 1 of 2 written" in p1.stdout
    assert (two["hits"], two["samples"]) == (one["hits"], one["samples"])
    assert two["log10_volume"] == one["log10_volume"]
    r = cli("census", spec, "--out", tmp_path / "c1", "--json", "--no-progress")
    assert r.returncode == 0, r.stderr
    q0, q1 = _together("census", spec, tmp_path / "c2", (1, 2))
    assert q0.returncode == 0 and q1.returncode == 0, (q0.stderr[-2000:], q1.stderr[-2000:])
    a, b = pd.read_parquet(tmp_path / "c1" / "census.parquet"), pd.read_parquet(tmp_path / "c2" / "census.parquet")
    assert a.equals(b) and int(b["count"].sum()) == 20000
