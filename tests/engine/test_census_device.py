"""The census counted on the device: sorted distinct runs per step, the same census as the host's.

Every test compares against the census the host made before (every network's packed truth table,
counted by ``np.unique(axis=0)``), exactly: tables, counts and order.
"""

from __future__ import annotations

import numpy as np
import pytest

from counting.engine.census import Census
from counting.engine.run import RunOptions
from counting.jobs import census_job
from counting.spec import parse_spec

SPEC = """
[model]
n_inputs = {n}
widths = {widths}
[estimator]
samples = {samples}
chunk_size = {chunk}
seed = {seed}
"""


def _spec(n, widths, samples, chunk, seed=0):
    return parse_spec(SPEC.format(n=n, widths=widths, samples=samples, chunk=chunk, seed=seed), need_target=False)


def _host_censuses(spec, where) -> tuple[Census, Census]:
    """Every network's truth table brought to the host and counted there (the census as it was),
    whole and restricted to ``where``."""
    from counting.engine.sharding import Engine
    from counting.mechanisms.predicates import truth_tables

    est = spec.estimator
    chunks = -(-est.samples // est.chunk_size)
    valid = np.clip(est.samples - np.arange(chunks) * est.chunk_size, 0, est.chunk_size)
    out = Engine.build(spec, lambda fwd, v: (truth_tables(fwd), where(fwd)), 64).run_step(np.arange(chunks), valid)
    tables = np.asarray(out[0]).reshape(chunks, est.chunk_size, -1)
    keep = np.arange(est.chunk_size)[None, :] < valid[:, None]
    holds = keep & np.asarray(out[1]).reshape(chunks, est.chunk_size)
    n = spec.model.n_inputs
    return Census.from_rows(tables[keep], n), Census.from_rows(tables[holds], n)


def _host_census(spec) -> Census:
    return _host_censuses(spec, _first_input)[0]


def _same(a: Census, b: Census) -> None:
    assert a.tables.shape == b.tables.shape
    assert (np.asarray(a.tables) == b.tables).all() and (np.asarray(a.counts) == b.counts).all()


def _first_input(fwd):
    """The restriction of the restricted census: the network is 1 on the first input."""
    return fwd.output[:, 0] > 0


@pytest.fixture(scope="module")
def seven_bits():
    """A 7-input spec (4 words a table) with a partly valid last chunk, and its host censuses, whole
    and restricted to :func:`_first_input` (from one engine)."""
    spec = _spec(7, "[8]", 4500, 512, seed=7)
    return spec, *_host_censuses(spec, _first_input)


def test_device_distinct_rows_are_those_of_np_unique():
    """Sorted as ``np.unique(axis=0)`` (word 0 first, unsigned: rows with the sign bit set last),
    counted over the kept rows only, zero padding after the distinct ones; none kept, none counted."""
    import jax

    from counting.engine.dedup import distinct_rows

    rng = np.random.default_rng(0)
    for words in (1, 4):
        pool = rng.integers(0, 2**32, (300, words), dtype=np.uint64).astype(np.uint32)
        pool[rng.random(len(pool)) < 0.4, 0] = 0x80000000  # the sign bit: a signed sort would put them first
        pool[rng.random(len(pool)) < 0.3, : words - 1] = 0  # ties on the first words
        rows = pool[rng.integers(0, len(pool), 1000)]
        f = jax.jit(distinct_rows)
        for keep in (rng.random(1000) < 0.8, np.zeros(1000, bool)):
            r = f(rows, keep)
            d = int(r.distinct)
            u, c = np.unique(rows[keep], axis=0, return_counts=True)
            assert d == len(u) and (np.asarray(r.rows[:d]) == u).all() and (np.asarray(r.counts[:d]) == c).all()
            assert not np.asarray(r.rows[d:]).any() and not np.asarray(r.counts[d:]).any()


def test_device_census_is_the_host_census(seven_bits):
    """Three chunks a step, one of them partly valid: the host's census exactly."""
    spec, ref, _ = seven_bits
    c, _ = census_job(spec, RunOptions(batch_size=128, chunks_per_device=3, progress=False))
    _same(c, ref)


def test_restricted_census_spilled_to_disk_is_the_host_census(tmp_path, seven_bits):
    """Restricted (networks failing the condition weigh nothing on the device) and with a budget of
    64 bytes, which spills every step's run to the job's folder: the host's restricted census, and
    no spilled run is left once the result is written."""
    spec, _, ref = seven_bits
    assert 0 < ref.kept < 4500
    out = tmp_path / "out"
    c, _ = census_job(spec, RunOptions(out=out, batch_size=256, chunks_per_device=2, progress=False),
                      where=_first_input, memory=64)
    _same(c, ref)
    assert c.samples == 4500 and c.kept == ref.kept
    assert not (out / "census-runs").exists() and (out / "census.parquet").exists()


@pytest.mark.slow  # five engines compiled (about 30 s on 2 loaded cores)
@pytest.mark.parametrize("n, widths, samples, chunk", [
    (2, "[]", 3000, 1024),       # one word, a partly valid last chunk
    (6, "[8]", 5000, 1024),      # two words
])
def test_device_census_is_the_host_census_whatever_the_batching(n, widths, samples, chunk):
    spec = _spec(n, widths, samples, chunk, seed=n)
    ref = _host_census(spec)
    assert ref.counts.sum() == samples
    for batch, per_dev in ((64, 1), (chunk, 3), (128, 2)):
        c, _ = census_job(spec, RunOptions(batch_size=batch, chunks_per_device=per_dev, progress=False))
        _same(c, ref)


@pytest.mark.slow  # four engines compiled (about 20 s on 2 loaded cores)
def test_device_census_does_not_depend_on_the_chunk_size_beyond_the_sample():
    """The chunk size defines the random stream (so another sample), but each is its host census."""
    for chunk in (256, 2048):
        spec = _spec(7, "[8]", 4096, chunk, seed=1)
        _same(census_job(spec, RunOptions(batch_size=128, progress=False))[0], _host_census(spec))


@pytest.mark.slow  # a command killed, resumed and checked against a fresh census (about 30 s on 2 loaded cores)
def test_killed_census_with_spilled_runs_resumes_to_the_same_counts(tmp_path):
    """Killed (SIGKILL) after a checkpoint that names spilled runs, on two devices; resumed on one:
    exactly the uninterrupted census, and nothing spilled is left behind."""
    from conftest import cli, write_spec

    from counting.engine.checkpoint import load
    from counting.spec.job import load_spec

    path = write_spec(tmp_path, SPEC.format(n=7, widths="[8]", samples=8192, chunk=512, seed=5))
    out = tmp_path / "out"
    r = cli("--devices", "2", "census", path, "--out", out, "--no-progress", "--checkpoint-seconds", "0",
            "--batch-size", "128", "--census-memory", "64", env_extra={"COUNTING_KILL_AFTER_CHUNKS": "6"})
    assert r.returncode == -9, r.stderr
    spec = load_spec(path, need_target=False)
    state = load(out, spec.to_json(), "census").state
    assert len(state["spilled"]) > 0 and all((out / "census-runs" / n).is_file() for n in state["spilled"])
    c, facts = census_job(spec, RunOptions(out=out, resume=True, batch_size=128, progress=False), memory=64)
    assert facts.resumed_from_chunk == 6
    _same(c, _host_census(spec))
    assert not (out / "census-runs").exists() and not (out / "checkpoint.npz").exists()
