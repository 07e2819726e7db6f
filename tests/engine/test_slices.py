"""Chunks in slices: the engine's block ranges, the pass's time-bounded steps and its checkpoints.

A step evaluates, per chunk, a range of its blocks (:func:`counting.engine.sharding.chunk_result`),
so a chunk evaluated in slices gives bit for bit the outputs of the chunk evaluated whole; the
pass (:func:`counting.engine.run.chunk_pass`) sizes its steps by time, which never changes a count;
a job asked for fewer networks than a chunk draws only those (rounded up to a batch) when its tally
takes slices, and a tally that takes whole chunks is handed exactly the chunks it was handed before.
The command-line side (signals mid-chunk, resume) is in ``tests/test_safety.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

from counting.engine import checkpoint
from counting.engine.protocols import Reducer
from counting.engine.run import RunOptions, StepPlan, run_pass
from counting.engine.sharding import Engine
from counting.engine.tally import CensusTally, Hits
from counting.spec import parse_spec

SPEC = """
[model]
n_inputs = 3
widths = [16, 16]
[estimator]
samples = {samples}
chunk_size = 512
seed = 7
"""


def spec_of(samples: int):
    return parse_spec(SPEC.format(samples=samples), need_target=False)


def outputs(fwd, valid):
    return fwd.output, valid


def test_a_chunk_in_slices_is_the_chunk_whole_bit_for_bit():
    spec = spec_of(1024)
    eng = Engine.build(spec, outputs, 32)  # 16 blocks per chunk
    whole_out, whole_valid = (np.asarray(a) for a in eng.run_step(np.array([3]), np.array([500])))
    got_out, got_valid = np.zeros_like(whole_out), np.zeros_like(whole_valid)
    for b0, b1 in ((0, 3), (3, 4), (4, 16)):  # blocks; networks 0 .. 499 count
        o, v = eng.run_ranges(np.array([3]), np.array([[b0, b1, b0 * 32, min(b1 * 32, 500)]]))
        o, v = np.asarray(o), np.asarray(v)
        assert not o[:, :b0].any() and not o[:, b1:].any()  # blocks outside the range are never evaluated
        got_out[:, b0:b1], got_valid[:, b0:b1] = o[:, b0:b1], v[:, b0:b1]
    assert np.array_equal(got_out.view(np.uint32), whole_out.view(np.uint32))
    assert np.array_equal(got_valid, whole_valid) and got_valid.sum() == 500


def test_networks_outside_the_counted_range_do_not_count():
    eng = Engine.build(spec_of(512), outputs, 32)
    _, v = eng.run_ranges(np.array([0]), np.array([[1, 3, 40, 90]]))
    idx = np.flatnonzero(np.asarray(v).reshape(-1))
    assert idx.tolist() == list(range(40, 90))


def _census(spec, **opts):
    tally = CensusTally(3, 512, spec.estimator.samples, memory=1 << 30)
    facts = run_pass(spec, tally, RunOptions(progress=False, **opts))
    c = tally.finalize()
    return dict(zip(map(int, c.tables[:, 0]), c.counts.tolist())), facts


@pytest.fixture(scope="module")
def whole():
    """The census of 1300 networks (three chunks, the last one partial: 276 networks) in whole chunks."""
    counts, facts = _census(spec_of(1300), batch_size=64, step_seconds=1e6)
    assert facts.drawn == 1344  # 1300 rounded up to a batch of 64, not 3 chunks of 512
    return counts


def test_steps_of_any_size_give_the_same_counts_and_a_short_job_draws_what_it_asks(whole):
    spec = spec_of(1300)
    sliced, facts = _census(spec, batch_size=64, step_seconds=1e-9)  # every step one block per lane
    other, _ = _census(spec, batch_size=128, step_seconds=1e-9, chunks_per_device=3)
    assert whole == sliced == other and sum(whole.values()) == 1300 and facts.drawn == 1344
    hits = Hits(lambda fwd: fwd.output[:, 0] > 0)
    small = run_pass(spec_of(100), hits, RunOptions(progress=False, batch_size=32))
    assert small.drawn == 128 and small.samples == 100


class WholeChunks:
    """A tally without ``slices``: records the results it is handed, chunk by chunk."""

    kind = "whole-chunks-test"

    def __init__(self):
        self.seen: list[tuple[np.ndarray, int]] = []

    @property
    def reducer(self) -> Reducer:
        return Reducer(lambda fwd, valid: (fwd.output[:, 0], valid))

    def add(self, result, n_valid):
        out, valid = (np.asarray(a) for a in result)
        for o, v, n in zip(out, valid, n_valid):
            self.seen.append((o.copy(), v.copy(), int(n)))

    def state(self):
        return {}

    def load(self, state):
        pass

    def finalize(self):
        return self.seen


def test_a_tally_without_slices_is_handed_whole_chunks_as_before():
    spec = spec_of(1300)
    before = WholeChunks()
    run_pass(spec, before, RunOptions(progress=False, batch_size=64, step_seconds=1e6))
    after = WholeChunks()
    facts = run_pass(spec, after, RunOptions(progress=False, batch_size=64, step_seconds=1e-9))
    assert [n for _, _, n in after.seen] == [512, 512, 276] and facts.drawn == 3 * 512  # the last chunk whole
    for (o1, v1, n1), (o2, v2, n2) in zip(before.seen, after.seen):
        assert n1 == n2 and np.array_equal(o1.view(np.uint32), o2.view(np.uint32)) and np.array_equal(v1, v2)


def test_plan_of_steps():
    plan = StepPlan(samples=1300, chunk_size=512, block=64, stop=3, lanes=2, mode="slices")
    ids, ranges, counted, after, ends = plan.step(0, 448, per_lane=3)
    assert ids.tolist() == [0, 1] and ranges.tolist() == [[7, 8, 448, 512], [0, 3, 0, 192]]
    assert counted.tolist() == [64, 192] and after == (1, 192) and ends.tolist() == [True, False]
    ids, ranges, counted, after, ends = plan.step(2, 0, per_lane=8)  # the last chunk: 276 count, 320 drawn
    assert ranges.tolist() == [[0, 5, 0, 276], [0, 0, 0, 0]] and after == (3, 0)
    assert plan.work(0, 0) == 2 * 512 + 320 and plan.counted(0, 1, 192) == 704
    whole = StepPlan(samples=1300, chunk_size=512, block=64, stop=3, lanes=2, mode="whole")
    ids, ranges, counted, after, _ = whole.step(2, 0, per_lane=1)
    assert ids.tolist() == [2, 3] and ranges[:, 1].tolist() == [8, 8] and counted.tolist() == [276, 0]


@pytest.mark.parametrize("resume_batch", [pytest.param(64, marks=pytest.mark.slow),
                                          pytest.param(32, marks=pytest.mark.slow), 128])  # 8 s each
def test_a_checkpoint_inside_a_chunk_resumes_to_the_same_counts(tmp_path, whole, resume_batch):
    """A pass stopped inside a chunk (here: its checkpoint written mid-chunk by a pass over the first
    chunks only) resumes, with any batch size (128: the first block resumed is half done), to the
    uninterrupted counts."""
    spec = spec_of(1300)
    # the state of the first 704 networks (chunk 0 and 192 networks of chunk 1), as a stopped pass leaves it
    part = CensusTally(3, 512, 1300, memory=1 << 30)
    run_pass(spec_of(704), part, RunOptions(progress=False, batch_size=64))
    checkpoint.save(tmp_path, spec.to_json(), part.kind, 1, 0.0, part.state(), offset=192, block=64)
    rest = CensusTally(3, 512, 1300, memory=1 << 30)
    facts = run_pass(spec, rest, RunOptions(out=tmp_path, resume=True, progress=False, batch_size=resume_batch,
                                            step_seconds=1e-9))
    c = rest.finalize()
    assert dict(zip(map(int, c.tables[:, 0]), c.counts.tolist())) == whole and facts.resumed_from_chunk == 1
