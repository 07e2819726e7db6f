"""The counting pass: every chunk of a job through a :class:`~counting.engine.tally.Tally`, on all devices.

:func:`run_pass` walks chunks ``0 .. ceil(samples / chunk_size) - 1`` in order, a step (one or more
chunks per device) at a time, dispatching the next step before it folds in the last, and folding
results into the tally's exact integers. With an output folder it checkpoints the tally's state
and the next chunk in one atomically replaced file, so a job killed at any moment (``kill -9``
included) resumes from its last checkpoint and ends with exactly the counts of an uninterrupted
run. Progress is a bar on a terminal, plain lines in a log (:mod:`counting.engine.progress`); a
signal stops the pass at a safe point with its checkpoint saved (:mod:`counting.interrupt`).

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
from dataclasses import dataclass
from pathlib import Path

import jax
import numpy as np
import counting.engine.checkpoint as checkpoint
import counting.interrupt as interrupt
import counting.engine.memory as memory
from counting.engine.progress import Progress, default_mode
from counting.engine.sharding import Engine
from counting.engine.tally import Tally
from counting.models import n_params
from counting.spec.errors import SpecError
from counting.spec.job import Spec
from counting.spec.model import describe_model

KILL_ENV = "COUNTING_KILL_AFTER_CHUNKS"  # fault injection for tests: SIGKILL self after this chunk


@dataclass(frozen=True)
class RunOptions:
    """How a job runs; none of these changes a count.

    ``out``: folder for results and checkpoints (``None``: write nothing). ``resume``: continue the
    folder's checkpoint. ``batch_size``: networks vectorised at once (a divisor of ``chunk_size``;
    default 128 on CPU, 4096 on accelerators). ``chunks_per_device``: chunks each device takes per
    step. ``checkpoint_seconds``: least time between checkpoints (0: after every step).
    ``progress``: a bar (``None``: on a terminal or in a notebook; plain lines to stderr every
    ``progress_seconds`` otherwise; ``False``: none). ``devices``: the devices to use.
    """

    out: Path | None = None
    resume: bool = False
    batch_size: int | None = None
    chunks_per_device: int | None = None
    checkpoint_seconds: float = 30.0
    progress: bool | None = None
    devices: tuple | None = None
    progress_seconds: float = 30.0


@dataclass(frozen=True)
class PassFacts:
    """What a pass did, for the manifest: networks, chunking, where it resumed, and time."""

    samples: int
    chunks: int
    chunk_size: int
    batch_size: int
    chunks_per_device: int
    resumed_from_chunk: int
    seconds: float
    networks_per_second: float

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _largest_divisor(n: int, cap: int) -> int:
    return max(d for d in range(1, min(n, cap) + 1) if n % d == 0)


def batching(chunk_size: int, opts: RunOptions) -> tuple[int, int]:
    """Block size and chunks per device for this backend (defaults: 128 and 1 on CPU, else 4096 and 8)."""
    accel = jax.default_backend() != "cpu"
    block = opts.batch_size or _largest_divisor(chunk_size, 4096 if accel else 128)
    per_dev = opts.chunks_per_device or (8 if accel else 1)
    if per_dev < 1:
        raise SpecError("chunks_per_device", "a positive integer", per_dev)
    return block, per_dev


def _kill_after() -> int:
    value = os.environ.get(KILL_ENV, "")
    if value and not value.isdigit():
        raise SpecError(KILL_ENV, "a non-negative integer", value)
    return int(value or 0)


def _fitted_engine(spec: Spec, tally: Tally, options: RunOptions, source, block: int, per_dev: int) -> Engine:
    """The engine, compiled, with the largest batch up to ``block`` whose step fits in device memory."""
    devices = list(options.devices) if options.devices is not None else jax.devices()
    step = len(devices) * per_dev
    built: dict[int, Engine] = {}

    def need(b: int) -> int | None:
        if b not in built:
            built[b] = Engine.build(spec, tally.reduce, b, options.devices, source).compiled(step)
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


def run_pass(spec: Spec, tally: Tally, options: RunOptions = RunOptions(), source=None) -> PassFacts:
    """Run every chunk of ``spec``'s job into ``tally``; returns the facts of the run.

    ``spec.estimator`` gives ``samples``, ``chunk_size``, ``seed`` and ``key_impl``; ``source`` makes
    each network's flat parameters (default: draws from the prior). Before any chunk runs, the
    step's memory is checked against the devices' (the batch is lowered to fit, or the job is
    refused). A signal (see :mod:`counting.interrupt`) stops the pass after the step in hand,
    with a checkpoint of every chunk folded in so far when there is an output folder.
    """
    est = spec.estimator
    block, per_dev = batching(est.chunk_size, options)
    out = Path(options.out) if options.out is not None else None
    resuming = checkpoint.claim(out, options.resume)
    engine = _fitted_engine(spec, tally, options, source, block, per_dev)
    block = engine.block_size
    total = -(-est.samples // est.chunk_size)
    step = engine.n_devices * per_dev
    spec_json = spec.to_json()
    start, elapsed0 = 0, 0.0
    if resuming:
        ck = checkpoint.load(out, spec_json, tally.kind)
        tally.load(ck.state)
        start, elapsed0 = ck.next, ck.elapsed
    kill_after = _kill_after()
    t0 = last_ckpt = time.perf_counter()
    c, pending = start, None
    with interrupt.deferred(), Progress(est.samples, min(start * est.chunk_size, est.samples), desc=tally.kind,
                                        unit=getattr(source, "unit", "networks"), mode=default_mode(options.progress),
                                        every=options.progress_seconds) as bar:
        interrupt.fault("start")
        interrupt.check()
        while c < total or pending is not None:
            nxt = None
            if c < total:
                ids = np.arange(c, c + step, dtype=np.int64)
                valid = np.clip(est.samples - ids * est.chunk_size, 0, est.chunk_size)
                nxt = (ids, valid, engine.run_step(ids, valid))
                c += step
            if pending is not None:
                ids, valid, result = pending
                tally.add(result, valid)
                bar.update(int(valid.sum()))
                done = min(int(ids[-1]) + 1, total)
                interrupt.fault("chunk", done)
                now = time.perf_counter()
                stop = interrupt.requested()
                if out is not None and (stop or now - last_ckpt >= options.checkpoint_seconds or done == total):
                    checkpoint.save(out, spec_json, tally.kind, done, elapsed0 + now - t0, tally.state())
                    last_ckpt = now
                    if kill_after and done >= kill_after and done < total:
                        os.kill(os.getpid(), signal.SIGKILL)
                if done < total:
                    interrupt.check()
            pending = nxt
    wall = time.perf_counter() - t0
    return PassFacts(
        samples=est.samples, chunks=total, chunk_size=est.chunk_size, batch_size=block, chunks_per_device=per_dev,
        resumed_from_chunk=start, seconds=elapsed0 + wall,
        networks_per_second=(est.samples - min(start * est.chunk_size, est.samples)) / max(wall, 1e-9))
