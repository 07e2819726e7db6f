"""The counting pass: every chunk of a job through a :class:`~counting.engine.tally.Tally`, on all devices.

:func:`run_pass` walks chunks ``0 .. ceil(samples / chunk_size) - 1`` in order, a step at a time,
dispatching the next step before it folds in the last, and folding results into the tally's exact
integers. A step is bounded in time, not in networks: each of its lanes (one or more per device)
evaluates a slice of consecutive blocks of one chunk, and the number of blocks per lane is set
from the measured time of earlier steps so that a step takes about ``RunOptions.step_seconds``
(its first step is one block per lane). A block is evaluated exactly as when its chunk is
evaluated whole (:func:`counting.engine.sharding.chunk_result`), so slices change no count. The
networks drawn are those asked for, rounded up to a whole batch; a tally that takes whole chunks
only (no ``slices`` attribute; a census-like ``per_step`` reduction without it runs whole chunks)
is handed each chunk once its slices are all in, and its last chunk is drawn whole.

With an output folder it checkpoints the tally's state and where the pass got to (the next chunk,
and the networks of it already in) in one atomically replaced file, so a job killed at any moment
(``kill -9`` included) resumes from its last checkpoint and ends with exactly the counts of an
uninterrupted run. Progress is a bar on a terminal, plain lines in a log
(:mod:`counting.engine.progress`); a signal stops the pass after the step in hand, with its
checkpoint saved (:mod:`counting.interrupt`).

Example:
    >>> import jax
    >>> from counting.spec import parse_spec
    >>> from counting.engine.tally import Hits
    >>> spec = parse_spec("[model]\\nn_inputs=2\\nwidths=[]\\n[estimator]\\nsamples=3000\\nchunk_size=1024",
    ...                   need_target=False)
    >>> tally = Hits(lambda fwd: fwd.output[:, 0] > 0)
    >>> facts = run_pass(spec, tally)
    >>> facts.samples, facts.chunks, 1000 < tally.finalize() < 2000
    (3000, 3, True)
"""

from __future__ import annotations

import os
import signal
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import jax
import numpy as np
import counting.engine.checkpoint as checkpoint
import counting.engine.distributed as distributed
import counting.interrupt as interrupt
import counting.engine.memory as memory
from counting.engine.progress import Progress, default_mode
from counting.engine.protocols import Source
from counting.engine.sharding import RANGE, Engine, lane_ranges
from counting.engine.tally import Tally
from counting.models import describe_model, n_params
from counting.spec.errors import OptionError, SpecError
from counting.spec.job import Spec

KILL_ENV = "COUNTING_KILL_AFTER_CHUNKS"  # fault injection for tests: SIGKILL self after this chunk


@dataclass(frozen=True)
class RunOptions:
    """How a job runs; none of these changes a count.

    ``out``: folder for results and checkpoints (``None``: write nothing). ``resume``: continue the
    folder's checkpoint. ``batch_size``: networks vectorised at once (a divisor of ``chunk_size``;
    default on a CPU about ``CPU_BATCH_FLOATS`` parameters' worth, 4096 on accelerators).
    ``chunks_per_device``: lanes (chunk slices) each device takes per step. ``step_seconds``: the
    time a step aims at, which bounds how long a signal waits (a step is at least one batch per
    lane). ``checkpoint_seconds``: least time between checkpoints (0: after every step).
    ``progress``: a bar (``None``: on a terminal or in a notebook; plain lines to stderr every
    ``progress_seconds`` otherwise; ``False``: none). ``devices``: the devices to use (default:
    this process's). ``cluster``: this process's place in a job of several
    (:mod:`counting.engine.distributed`; ``out`` is then the folder every process shares).
    """

    out: Path | None = None
    resume: bool = False
    batch_size: int | None = None
    chunks_per_device: int | None = None
    checkpoint_seconds: float = 30.0
    progress: bool | None = None
    devices: tuple | None = None
    progress_seconds: float = 30.0
    cluster: distributed.Cluster = distributed.Cluster()
    step_seconds: float = 3.0


@dataclass(frozen=True)
class PassFacts:
    """What a pass did, for the manifest: networks, chunking, where it resumed, and time.

    ``drawn``: the networks the job draws (those counted, and those drawn but not counted: the rest
    of a last batch, or of a last chunk for a tally that takes whole chunks; ``None``: not known).
    A pass of several processes (``processes > 1``) counts ``seconds`` as its slowest part and
    ``resumed_from_chunk`` as the chunks its parts had done before they (re)started."""

    samples: int
    chunks: int
    chunk_size: int
    batch_size: int
    chunks_per_device: int
    resumed_from_chunk: int
    seconds: float
    networks_per_second: float
    processes: int = 1
    drawn: int | None = None

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        if d["processes"] == 1:  # one process: the manifest as before
            del d["processes"]
        if d["drawn"] is None:
            del d["drawn"]
        return d


def _largest_divisor(n: int, cap: int) -> int:
    return max(d for d in range(1, min(n, cap) + 1) if n % d == 0)


CPU_BATCH_FLOATS = 2**19  # parameters drawn at once on a CPU by default (2 MiB: 256 networks of 3-40-40-1)
CPU_BATCH_LEAST = 2  # the least default batch: a batch of one takes another matrix product (other roundings)


def batching(chunk_size: int, opts: RunOptions, params: int | None = None) -> tuple[int, int]:
    """Block size and chunks per device for this backend (defaults: 4096 and 8 on an accelerator;
    on a CPU, 1 and a block of about ``CPU_BATCH_FLOATS / params`` networks, between 2 and 4096:
    small networks are drawn many at once, large ones a few at a time, so that one block, the
    least a step does, takes a fraction of a second; counts never depend on it)."""
    accel = jax.default_backend() != "cpu"
    cpu_cap = 128 if params is None else min(4096, max(CPU_BATCH_LEAST, CPU_BATCH_FLOATS // max(params, 1)))
    block = opts.batch_size or _largest_divisor(chunk_size, 4096 if accel else cpu_cap)
    per_dev = opts.chunks_per_device or (8 if accel else 1)
    if per_dev < 1:
        raise OptionError("chunks_per_device", "a positive integer", per_dev)
    return block, per_dev


def _kill_after() -> int:
    value = os.environ.get(KILL_ENV, "")
    if value and not value.isdigit():
        raise SpecError(KILL_ENV, "a non-negative integer", value)
    return int(value or 0)


def _fitted_engine(spec: Spec, tally: Tally, options: RunOptions, source: Source | None, block: int,
                   per_dev: int) -> Engine:
    """The engine, compiled, with the largest batch up to ``block`` whose step fits in device memory."""
    devices = list(options.devices) if options.devices is not None else jax.local_devices()
    step = len(devices) * per_dev
    built: dict[int, Engine] = {}

    def need(b: int) -> int | None:
        if b not in built:
            built[b] = Engine.build(spec, tally.reducer, b, devices, source).compiled(step)
        return memory.compiled_bytes(built[b].step)

    available = memory.available_bytes(devices)
    # the step holds the per-parameter scales and one network's draw at the least: refuse before tracing
    memory.check_floor(2 * 4 * n_params(spec.model), available, describe_model(spec.model))
    chosen = memory.fit_batch(need, spec.estimator.chunk_size, block, available,
                              explicit=options.batch_size is not None, model=describe_model(spec.model))
    if chosen != block:
        sys.stderr.write(f"counting: a batch of {block} networks needs {memory.human_bytes(need(block))} per "
                         f"device and {memory.human_bytes(available)} is free: running batches of {chosen} "
                         "(counts do not depend on it)\n")
    need(chosen)
    return built[chosen]


def run_pass(spec: Spec, tally: Tally, options: RunOptions = RunOptions(), source: Source | None = None
             ) -> PassFacts:
    """Run every chunk of ``spec``'s job into ``tally``; returns the facts of the run.

    ``spec.estimator`` gives ``samples``, ``chunk_size``, ``seed`` and ``key_impl``; ``source`` makes
    each block's networks (a :class:`~counting.engine.protocols.Source`; default: draws from the
    prior; a job whose networks are trained passes
    :func:`counting.training.source.trained_source`). Before any chunk runs, the
    step's memory is checked against the devices' (the batch is lowered to fit, or the job is
    refused). A signal (see :mod:`counting.interrupt`) stops the pass after the step in hand,
    with a checkpoint of every chunk folded in so far when there is an output folder.

    With ``options.cluster`` of several processes, this process counts its own chunk range into
    its part folder, and the process that merges returns with every part's counts in ``tally``
    (the others raise :class:`counting.engine.distributed.PartDone`; see
    :mod:`counting.engine.distributed`).
    """
    if options.cluster.multi:
        return _distributed_pass(spec, tally, options, source)
    return chunk_pass(spec, tally, options, source)


def check_resume(options: RunOptions) -> None:
    """``resume`` needs something to continue: a checkpoint (for a process of several, its own
    part's checkpoint or finished part); without one it is an error, not a fresh start."""
    c = options.cluster
    if not c.multi:
        checkpoint.require(options.out, options.resume)
    elif options.resume and c.index is not None and options.out is not None:
        folder = distributed.part_folder(options.out, c.index, c.processes)
        if not (checkpoint.path(folder).exists() or (folder / distributed.PART_FILE).exists()):
            raise OptionError("resume", "a folder holding this process's unfinished or finished part", str(folder))


def _distributed_pass(spec: Spec, tally: Tally, options: RunOptions, source: Source | None) -> PassFacts:
    c = options.cluster
    if options.out is None:
        raise OptionError("out", "a folder every process shares (the parts of a job of several processes meet there)")
    out = Path(options.out)
    est = spec.estimator
    total = -(-est.samples // est.chunk_size)
    ident = distributed.identity(spec.to_json(), tally.kind, total, c.processes)
    if c.index is not None:
        folder = distributed.part_folder(out, c.index, c.processes)
        chunks = distributed.part_range(total, c.index, c.processes)
        done = options.resume and not isinstance(distributed.read_part(folder, ident), str)
        if not done:
            (folder / distributed.PART_FILE).unlink(missing_ok=True)
            folder.mkdir(parents=True, exist_ok=True)
            if len(chunks):
                facts = chunk_pass(spec, tally, replace(options, out=folder), source, chunks)
            else:  # more processes than chunks: nothing to count, nothing to compile
                block, per_dev = batching(est.chunk_size, options, n_params(spec.model))
                facts = PassFacts(0, 0, est.chunk_size, block, per_dev, chunks.start, 0.0, 0.0, drawn=0)
            distributed.write_part(folder, ident, chunks, facts.as_dict(), tally.state())
            checkpoint.clear(folder)
        if not c.merges:
            raise distributed.PartDone(folder, c)
    parts = distributed.collect_parts(out, ident, wait=c.index is not None)
    tally.load(distributed.merge_states(tally, [p.state for p in parts]))
    f = [p.facts for p in parts]
    seconds = max(x["seconds"] for x in f)
    drawn = sum(x["drawn"] for x in f) if all(x.get("drawn") is not None for x in f) else None
    return PassFacts(samples=est.samples, chunks=total, chunk_size=est.chunk_size, batch_size=f[0]["batch_size"],
                     chunks_per_device=f[0]["chunks_per_device"],
                     resumed_from_chunk=sum(x["resumed_from_chunk"] - p.chunks.start for x, p in zip(f, parts)),
                     seconds=seconds, networks_per_second=est.samples / max(seconds, 1e-9), processes=c.processes,
                     drawn=drawn)


class StepPlan:
    """Where each step's lanes go: slices of consecutive blocks of chunks ``first .. stop - 1``, in
    order. ``mode``: ``"slices"`` (the tally takes any slice; the last chunk is drawn up to the last
    network asked for, rounded up to a block), ``"chunks"`` (slices, handed to the tally a whole chunk
    at a time; the last chunk drawn whole) or ``"whole"`` (whole chunks per lane, as a ``per_step``
    reduction of a tally without slices needs)."""

    def __init__(self, samples: int, chunk_size: int, block: int, stop: int, lanes: int, mode: str):
        self.samples, self.cs, self.block, self.stop, self.lanes, self.mode = samples, chunk_size, block, stop, lanes, mode
        self.blocks = chunk_size // block

    def need(self, c: int) -> int:
        """Networks of chunk ``c`` that count."""
        return int(np.clip(self.samples - c * self.cs, 0, self.cs)) if c < self.stop else 0

    def end(self, c: int) -> int:
        """Networks of chunk ``c`` that are drawn."""
        if self.mode != "slices":
            return self.cs
        return -(-self.need(c) // self.block) * self.block

    def work(self, c: int, o: int) -> int:
        """Networks drawn from position ``(c, o)`` to the end."""
        if c >= self.stop:
            return 0
        if self.mode == "whole":
            return -(-(self.stop - c) // self.lanes) * self.lanes * self.cs
        return (self.stop - c - 1) * self.cs + self.end(self.stop - 1) - o

    def counted(self, first: int, c: int, o: int) -> int:
        """Networks that count from chunk ``first`` up to position ``(c, o)``."""
        return max(min(c * self.cs, self.samples) + min(o, self.need(c)) - first * self.cs, 0)

    def step(self, c: int, o: int, per_lane: int):
        """A step from position ``(c, o)``, at most ``per_lane`` blocks a lane: chunk ids, ranges, the
        networks that count per lane, the position after it, and for each lane whether its chunk is
        complete after it."""
        ids = np.zeros(self.lanes, np.int64)
        ranges = np.zeros((self.lanes, RANGE), np.int64)
        counted = np.zeros(self.lanes, np.int64)
        ends = np.zeros(self.lanes, bool)
        if self.mode == "whole":
            ids[:] = np.arange(c, c + self.lanes)
            valid = np.array([self.need(int(i)) for i in ids], np.int64)
            return ids, lane_ranges(valid, self.blocks), valid, (min(c + self.lanes, self.stop), 0), ids < self.stop
        for k in range(self.lanes):
            if c >= self.stop:
                break  # an idle lane: nothing evaluated, nothing counted
            e, n = self.end(c), self.need(c)
            b0 = o // self.block
            b1 = min(b0 + per_lane, -(-e // self.block))
            hi = min(b1 * self.block, e)
            ids[k], ranges[k] = c, (b0, b1, o, min(hi, n))
            counted[k] = max(min(hi, n) - o, 0)
            c, o = (c + 1, 0) if hi >= e else (c, hi)
            ends[k] = o == 0
        return ids, ranges, counted, (c, o), ends


def _ready(result) -> bool:
    return all(getattr(x, "is_ready", lambda: True)() for x in jax.tree.leaves(result))


def _mode(tally: Tally) -> str:
    if getattr(tally, "slices", False):
        return "slices"
    return "whole" if tally.reducer.per_step is not None else "chunks"


def chunk_pass(spec: Spec, tally: Tally, options: RunOptions = RunOptions(), source: Source | None = None,
               chunks: range | None = None) -> PassFacts:
    """:func:`run_pass` in this process over the chunk ids ``chunks`` (default: all of the job's),
    checkpointing into ``options.out``; the facts count the networks of ``chunks``."""
    est = spec.estimator
    block, per_dev = batching(est.chunk_size, options, n_params(spec.model))
    out = Path(options.out) if options.out is not None else None
    resuming = checkpoint.claim(out, options.resume)
    engine = _fitted_engine(spec, tally, options, source, block, per_dev)
    block = engine.block_size
    total = -(-est.samples // est.chunk_size)
    first, stop = (0, total) if chunks is None else (chunks.start, min(chunks.stop, total))
    networks = max(min(stop * est.chunk_size, est.samples) - first * est.chunk_size, 0)
    lanes = engine.n_devices * per_dev
    plan = StepPlan(est.samples, est.chunk_size, block, stop, lanes, _mode(tally))
    spec_json = spec.to_json()
    start, offset, elapsed0, held = first, 0, 0.0, {}
    if resuming:
        ck = checkpoint.load(out, spec_json, tally.kind)
        if not first <= ck.next <= stop or (ck.offset and (ck.next == stop or plan.mode == "whole")):
            raise OptionError("resume", f"a checkpoint of chunks {first} to {stop} in {out}", f"chunk {ck.next}")
        tally.load(ck.state)
        start, offset, elapsed0 = ck.next, ck.offset, ck.elapsed
        if plan.mode == "chunks" and offset:
            if ck.block == block:  # the slices of chunk ``start`` held so far, block by block
                held[start] = [np.array(a) for a in ck.partial]
            else:  # made with another batch size: that chunk is evaluated again from its start
                offset = 0
    if plan.mode == "chunks" and plan.need(stop - 1) < est.chunk_size and start < stop and networks:
        sys.stderr.write(f"counting: a {tally.kind} tally takes whole chunks, so the last chunk is drawn whole "
                         f"({est.chunk_size:,} networks, of which {plan.need(stop - 1):,} count)\n")
    kill_after = _kill_after()
    t0 = last_ckpt = time.perf_counter()
    pos, pending = (start, offset), None
    done_before = plan.counted(first, start, offset)
    unit = "networks" if source is None else source.unit
    per_lane, per_block, last_ready = 1, None, None  # blocks per lane; seconds per block on a device

    def fold(step) -> None:
        """Fold a step's results in (a whole-chunk tally: each chunk once all its blocks are in)."""
        ids, ranges, counted, _, ends, result = step
        if plan.mode != "chunks":
            tally.add(result, counted)
            return
        leaves, tree = jax.tree.flatten(result)
        leaves = [np.asarray(x) for x in leaves]
        for k in np.flatnonzero(ranges[:, 1] > ranges[:, 0]):
            c, (b0, b1) = int(ids[k]), ranges[k, :2]
            parts = held.setdefault(c, [np.zeros_like(x[k]) for x in leaves])
            for part, x in zip(parts, leaves):
                part[b0:b1] = x[k][b0:b1]
            if ends[k]:
                tally.add(jax.tree.unflatten(tree, [p[None] for p in held.pop(c)]), np.array([plan.need(c)]))

    with interrupt.deferred(), Progress(networks, done_before, desc=tally.kind, unit=unit,
                                        mode=default_mode(options.progress), every=options.progress_seconds,
                                        total_work=plan.work(first, 0), initial_work=plan.work(first, 0)
                                        - plan.work(start, offset)) as bar:
        interrupt.fault("start")
        interrupt.check()
        while pos[0] < stop or pending is not None:
            nxt = None
            if pos[0] < stop and (pending is None or per_block is not None or plan.mode == "whole"):
                ids, ranges, counted, after, ends = plan.step(*pos, per_lane)
                busiest = int((ranges[:, 1] - ranges[:, 0]).reshape(engine.n_devices, per_dev).sum(axis=1).max())
                nxt = (ids, ranges, counted, after, ends, engine.run_ranges(ids, ranges), time.perf_counter(), busiest)
                pos = after
            if pending is not None:
                ids, ranges, counted, after, ends, result, dispatched, busiest = pending
                # A step starts once the one before it is done; one already done when waited for took
                # at most the time measured (so the next steps are not made too long). The next size
                # is this one scaled by target / measured: with a fixed cost per step, that tends to
                # the size at which a step takes the target time.
                exact = not _ready(result)
                jax.block_until_ready(result)
                now = time.perf_counter()
                if busiest:
                    took = now - (dispatched if last_ready is None else max(dispatched, last_ready))
                    per_block = max(took, 1e-6) / busiest
                    per_lane = int(np.clip(round(options.step_seconds / per_block / per_dev), 1,
                                           min(plan.blocks, 16 * per_lane)))
                last_ready = now if exact else None
                fold(pending[:5] + (result,))
                work = int((np.minimum(ranges[:, 1] * block, [plan.end(int(c)) for c in ids])
                            - ranges[:, 0] * block).clip(0).sum()) if plan.mode != "whole" else lanes * est.chunk_size
                bar.update(int(counted.sum()), work=work)
                done = after[0]  # chunks wholly folded in
                interrupt.fault("chunk", done)
                now = time.perf_counter()
                stop_now = interrupt.requested()
                if out is not None and (stop_now or now - last_ckpt >= options.checkpoint_seconds or done == stop):
                    part = held.get(after[0], ()) if after[1] else ()
                    checkpoint.save(out, spec_json, tally.kind, after[0], elapsed0 + now - t0, tally.state(),
                                    offset=after[1], partial=part, block=block)
                    last_ckpt = now
                    if kill_after and done >= kill_after and done < stop:
                        os.kill(os.getpid(), signal.SIGKILL)
                if done < stop:
                    interrupt.check()
            pending = nxt
    wall = time.perf_counter() - t0
    return PassFacts(
        samples=networks, chunks=stop - first, chunk_size=est.chunk_size, batch_size=block, chunks_per_device=per_dev,
        resumed_from_chunk=start, seconds=elapsed0 + wall,
        networks_per_second=(networks - done_before) / max(wall, 1e-9), drawn=plan.work(first, 0))
