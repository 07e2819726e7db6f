"""Jobs: run a spec's chunks on all devices, with progress, checkpoints, resume and result files.

A job walks chunks ``0 .. ceil(samples / chunk_size) - 1`` in order, a step (one or more chunks per
device) at a time, dispatching the next step before it folds in the last, and folding results into
exact integer accumulators. With an output folder it checkpoints the accumulator and the next chunk
in one atomically replaced file, so a job killed at any moment (``kill -9`` included) resumes from
its last checkpoint and ends with exactly the counts of an uninterrupted run.

Example:
    >>> from counting.spec import parse_spec
    >>> spec = parse_spec("[model]\\nn_inputs=2\\nwidths=[]\\n[estimator]\\nsamples=3000\\nchunk_size=1024",
    ...                   need_target=False)
    >>> c = run_census(spec)
    >>> c.samples, c.distinct <= 14
    (3000, True)
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import jax
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from counting.enumeration import Enumeration, enumerated_spec
from counting.estimators import Census, VolumeEstimate, volume_estimate
from counting.outputs import atomic_write_bytes, manifest, write_json, write_parquet
from counting.predicates import Predicate, computes
from counting.sampler import Engine, hits_reducer, tables_reducer
from counting.spec import Spec, SpecError
from counting.truth import n_words, named_truth_table, to_hex

CHECKPOINT = "checkpoint.npz"
KILL_ENV = "COUNTING_KILL_AFTER_CHUNKS"  # fault injection for tests: SIGKILL self after this chunk


@dataclass(frozen=True)
class RunOptions:
    """How a job runs; none of these changes a count.

    ``out``: folder for results and checkpoints (``None``: write nothing). ``batch_size``: networks
    vectorised at once (a divisor of ``chunk_size``; default 128 on CPU, 4096 on accelerators).
    ``chunks_per_device``: chunks each device takes per step. ``checkpoint_seconds``: least time
    between checkpoints (0: after every step). ``progress``: tqdm bar (``None``: only on a terminal).
    """

    out: Path | None = None
    resume: bool = False
    batch_size: int | None = None
    chunks_per_device: int | None = None
    checkpoint_seconds: float = 30.0
    progress: bool | None = None
    devices: tuple | None = None


def target_truth_table(spec: Spec) -> int:
    """The target's truth table as an int."""
    t = spec.target
    if t.truth_table is not None:
        return t.truth_table
    if t.name is not None:
        return named_truth_table(t.name, spec.model.n_inputs)
    raise SpecError("target", "a [target] table with 'truth_table' or 'name'")


def _largest_divisor(n: int, cap: int) -> int:
    return max(d for d in range(1, min(n, cap) + 1) if n % d == 0)


def _defaults(spec: Spec, opts: RunOptions) -> tuple[int, int]:
    accel = jax.default_backend() != "cpu"
    block = opts.batch_size or _largest_divisor(spec.estimator.chunk_size, 4096 if accel else 128)
    per_dev = opts.chunks_per_device or (8 if accel else 1)
    if per_dev < 1:
        raise SpecError("chunks_per_device", "a positive integer", per_dev)
    return block, per_dev


# ----------------------------------------------------------------------------- accumulators
class _Hits:
    def __init__(self):
        self.hits = 0

    def add(self, result, n_valid):
        self.hits += int(np.asarray(result, np.int64).sum())

    def state(self):
        return {"hits": np.array(self.hits, np.int64)}

    def load(self, d):
        self.hits = int(d["hits"])


class _Tables:
    FLUSH_ROWS = 1 << 20

    def __init__(self, n: int, chunk: int):
        self.n, self.chunk = n, chunk
        self.census = Census.empty(n, n_words(n))
        self.buffer: list[np.ndarray] = []
        self.buffered = 0

    def add(self, result, n_valid):
        keep = None
        if isinstance(result, tuple):  # a restricted census: (tables, where-holds)
            result, keep = result
            keep = np.asarray(keep).reshape(len(n_valid), self.chunk)
        rows = np.asarray(result).reshape(len(n_valid), self.chunk, -1)
        for j, (r, v) in enumerate(zip(rows, n_valid)):
            if v:
                r = r[:v] if keep is None else r[:v][keep[j, :v]]
                self.buffer.append(r)
                self.buffered += len(r)
        if self.buffered >= self.FLUSH_ROWS:
            self.flush()

    def flush(self):
        if self.buffer:
            self.census = self.census.merge(Census.from_rows(np.concatenate(self.buffer), self.n))
            self.buffer, self.buffered = [], 0

    def state(self):
        self.flush()
        return {"tables": self.census.tables, "counts": self.census.counts}

    def load(self, d):
        self.census = Census(d["tables"].astype(np.uint32), d["counts"].astype(np.int64), self.n)


# ----------------------------------------------------------------------------- the loop
def _save_checkpoint(out: Path, spec_json: str, kind: str, next_chunk: int, elapsed: float, acc) -> None:
    buf = io.BytesIO()
    np.savez(buf, spec=np.array(spec_json), kind=np.array(kind), next_chunk=np.array(next_chunk, np.int64),
             elapsed=np.array(elapsed), **acc.state())
    atomic_write_bytes(out / CHECKPOINT, buf.getvalue())


def _load_checkpoint(out: Path, spec_json: str, kind: str, acc) -> tuple[int, float]:
    path = out / CHECKPOINT
    if not path.exists():
        return 0, 0.0
    with np.load(path) as d:
        if str(d["spec"]) != spec_json or str(d["kind"]) != kind:
            raise SpecError("--resume", f"a checkpoint made by this same spec and job kind in {out}",
                            "a checkpoint of a different job")
        acc.load(d)
        return int(d["next_chunk"]), float(d["elapsed"])


def _run(spec: Spec, kind: str, reducer, acc, opts: RunOptions, source=None) -> dict:
    """Run every chunk of the job into ``acc``; returns run facts for the manifest."""
    est = spec.estimator
    block, per_dev = _defaults(spec, opts)
    engine = Engine.build(spec, reducer, block, opts.devices, source)
    total = -(-est.samples // est.chunk_size)
    step = engine.n_devices * per_dev
    spec_json = json.dumps(spec.to_dict(), sort_keys=True)
    out = Path(opts.out) if opts.out is not None else None
    start, elapsed0 = 0, 0.0
    if out is not None:
        if (out / CHECKPOINT).exists() and not opts.resume:
            raise SpecError("--out", f"a folder without an unfinished job, or --resume to continue it", str(out))
        if opts.resume:
            start, elapsed0 = _load_checkpoint(out, spec_json, kind, acc)
    kill_after = os.environ.get(KILL_ENV, "")
    if kill_after and not kill_after.isdigit():
        raise SpecError(KILL_ENV, "a non-negative integer", kill_after)
    kill_after = int(kill_after or 0)
    t0 = last_ckpt = time.perf_counter()
    c, pending = start, None
    with tqdm(total=est.samples, initial=min(start * est.chunk_size, est.samples), unit="net",
              unit_scale=True, disable=(None if opts.progress is None else not opts.progress),
              desc=kind, leave=False) as bar:
        while c < total or pending is not None:
            nxt = None
            if c < total:
                ids = np.arange(c, c + step, dtype=np.int64)
                valid = np.clip(est.samples - ids * est.chunk_size, 0, est.chunk_size)
                nxt = (ids, valid, engine.run_step(ids, valid))
                c += step
            if pending is not None:
                ids, valid, result = pending
                acc.add(result, valid)
                bar.update(int(valid.sum()))
                done = min(int(ids[-1]) + 1, total)
                now = time.perf_counter()
                if out is not None and (now - last_ckpt >= opts.checkpoint_seconds or done == total):
                    _save_checkpoint(out, spec_json, kind, done, elapsed0 + now - t0, acc)
                    last_ckpt = now
                    if kill_after and done >= kill_after and done < total:
                        os.kill(os.getpid(), signal.SIGKILL)
            pending = nxt
    seconds = elapsed0 + time.perf_counter() - t0
    return {
        "samples": est.samples,
        "chunks": total,
        "chunk_size": est.chunk_size,
        "batch_size": block,
        "chunks_per_device": per_dev,
        "resumed_from_chunk": start,
        "seconds": seconds,
        "networks_per_second": (est.samples - min(start * est.chunk_size, est.samples))
        / max(time.perf_counter() - t0, 1e-9),
    }


def _finish(out: Path | None, kind: str, spec: Spec, table: pd.DataFrame, run: dict, extra: dict) -> None:
    if out is None:
        return
    name = f"{kind}.parquet"
    write_parquet(out / name, table)
    m = manifest(kind, spec.to_dict(), run, {"seconds": run["seconds"],
                                             "networks_per_second": run["networks_per_second"]}, [name])
    m.update(extra)
    write_json(out / "manifest.json", m)
    (out / CHECKPOINT).unlink(missing_ok=True)


def _prepare(spec: Spec):
    """The spec the engine runs and its parameter source (enumeration for ``kind = "exact"``)."""
    if spec.estimator.kind == "exact":
        return enumerated_spec(spec), Enumeration(spec)
    return spec, None


def exact_estimate(count: int, total: int) -> VolumeEstimate:
    """An enumerated volume: exact, so its interval is the point itself."""
    v = count / total
    lv = math.log10(v) if count else None
    return VolumeEstimate(hits=count, samples=total, volume=v, log10_volume=lv, ci95=(lv, lv),
                          one_sided=False, estimator="exact")


def volume_job(spec: Spec, predicate: Predicate | None = None, options: RunOptions = RunOptions()
               ) -> tuple[VolumeEstimate, dict]:
    """Volume of ``predicate`` (default: "computes the spec's target") and the run facts.

    ``mc``: hit-or-miss with a Clopper-Pearson interval; ``exact``: enumeration of a discrete prior.
    """
    tt = target_truth_table(spec) if predicate is None else None
    pred = predicate or computes(tt, spec.model.n_inputs)
    if spec.estimator.kind in ("subset", "smc", "nngp"):
        return _analytic_or_rare_job(spec, pred, tt, options)
    run_spec, source = _prepare(spec)
    acc = _Hits()
    run = _run(run_spec, "volume", hits_reducer(pred), acc, options, source)
    n = run_spec.estimator.samples
    est = exact_estimate(acc.hits, n) if source is not None else volume_estimate(acc.hits, n)
    row = {"target": to_hex(tt, spec.model.n_inputs) if tt is not None else None, **est.as_dict(),
           "seed": spec.estimator.seed, "seconds": run["seconds"]}
    row["ci95_lo"], row["ci95_hi"] = row.pop("ci95")
    _finish(options.out, "volume", spec, pd.DataFrame([row]), run, {"result": est.as_dict()})
    return est, run


def _analytic_or_rare_job(spec: Spec, pred, tt, options: RunOptions):
    """Volumes that are not chunked counts: subset simulation, tempered SMC, or the infinite-width limit."""
    t0 = time.perf_counter()
    e = spec.estimator
    if e.kind in ("subset", "smc"):
        from counting.predicates import Condition
        from counting.rare import subset_volume
        from counting.smc import smc_volume

        if not isinstance(pred, Condition):
            raise SpecError("estimator.kind", f"a condition with a score for '{e.kind}'", "a bare predicate")
        if e.kind == "subset":
            est = subset_volume(spec, pred, n_particles=e.particles, p0=e.p0, n_steps=e.steps, kernel=e.kernel,
                                replicates=e.replicates, max_levels=e.max_levels, progress=options.progress)
        else:
            est = smc_volume(spec, pred, n_particles=e.particles, kernel=e.kernel, n_moves=e.steps,
                             leapfrog=e.leapfrog, replicates=e.replicates, max_stages=e.max_levels,
                             progress=options.progress)
    else:
        from counting.nngp import nngp_volume

        if tt is None:
            raise SpecError("estimator.kind", "a target truth table for 'nngp'", "a custom predicate")
        est = nngp_volume(spec.model, spec.prior, tt, seed=e.seed)
    seconds = time.perf_counter() - t0
    run = {"estimator": e.kind, "seconds": seconds, "networks_per_second": None,
           "samples": est.as_dict()["samples"]}
    row = {"target": to_hex(tt, spec.model.n_inputs) if tt is not None else None, "seed": e.seed,
           "seconds": seconds}
    d = est.as_dict()
    row.update({k: v for k, v in d.items() if k not in ("ci95", "replicates_log10")})
    row["ci95_lo"], row["ci95_hi"] = d["ci95"]
    _finish(options.out, "volume", spec, pd.DataFrame([row]), run, {"result": d})
    return est, run


def census_job(spec: Spec, options: RunOptions = RunOptions(), where: Predicate | None = None
               ) -> tuple[Census, dict]:
    """Exact counts of every function computed by ``spec.estimator.samples`` networks, and the run facts.

    With ``where`` (a predicate such as "layer 1 holds AND") only the networks satisfying it are
    counted, so each function's volume is the volume of "computes f and ``where``": the counts sum
    to the networks satisfying ``where``, while ``samples`` stays the number of networks drawn.
    """
    run_spec, source = _prepare(spec)
    acc = _Tables(spec.model.n_inputs, run_spec.estimator.chunk_size)
    run = _run(run_spec, "census", tables_reducer(where), acc, options, source)
    acc.flush()
    census = dataclasses.replace(acc.census, exact=source is not None, drawn=run_spec.estimator.samples)
    summary = {"samples": census.samples, "distinct": census.distinct, "exact": source is not None,
               "top": census.top(10).to_dict(orient="records")}
    _finish(options.out, "census", spec, census.frame(), run, {"result": summary})
    return census, run


def estimate_volume(spec: Spec, predicate: Predicate | None = None, options: RunOptions = RunOptions()
                    ) -> VolumeEstimate:
    """:func:`volume_job` without the run facts."""
    return volume_job(spec, predicate, options)[0]


def run_census(spec: Spec, options: RunOptions = RunOptions(), where: Predicate | None = None) -> Census:
    """:func:`census_job` without the run facts."""
    return census_job(spec, options, where)[0]
