"""Independent replicates of a rare-event run: one loop with progress and checkpoints, and their summary.

Replicate ``r`` of a job runs from ``fold_in(key(seed), r)`` (which equals ``split(key(seed), R)[r]``),
so replicates are independent and any one can be rerun alone. With an output folder every finished
replicate is checkpointed (its run record: a NamedTuple of numbers, stored exactly), so a job
stopped at any point resumes at the next replicate and ends with the numbers of an uninterrupted
run. :func:`run_replicate_batches` does the same with ``batch`` replicates per call (keys by
:func:`replicate_keys`), checkpointed after each batch; every call has ``batch`` keys (the last
one is filled up with the replicates after the last, whose records are dropped), so a batched
computation whose records may depend on the batch's shape never depends on where a replicate falls. The volume is the mean of the replicate
estimates and its 95% interval a Student-t interval on that mean, in log10 (if its lower end is not
positive, the lower end comes from a t-interval on the log10 replicate values instead).

Example:
    >>> import math, jax
    >>> from typing import NamedTuple
    >>> class Run(NamedTuple):
    ...     log_p: float
    >>> reps = run_replicates(lambda key: Run(math.log(10) * (float(jax.random.normal(key)) - 20)), Run, 4, seed=0)
    >>> s = summarize_replicates([r.log_p for r in reps.runs])
    >>> len(s.replicates_log10), s.reached, -23 < s.log10_volume < -17
    (4, 4, True)
    >>> draw = lambda keys: [Run(float(x)) for x in jax.vmap(jax.random.normal)(keys)]
    >>> run_replicate_batches(draw, Run, 5, 2, seed=0).runs == run_replicate_batches(draw, Run, 5, 3, seed=0).runs
    True
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Callable, NamedTuple, TypeVar

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Key
from scipy import stats
import counting.engine.checkpoint as checkpoint
import counting.interrupt as interrupt
from counting.engine.progress import Progress, default_mode
from counting.engine.run import RunOptions

R = TypeVar("R", bound=tuple)


class Replicates(NamedTuple):
    """The run record of every replicate in order, the seconds spent (over all sessions of a
    resumed job), and the replicate the last session started at."""

    runs: tuple
    seconds: float
    resumed_from: int


def replicate_key(seed: int, r: int, key_impl: str = "threefry2x32") -> Key[Array, ""]:
    """The key of replicate ``r``: ``fold_in(key(seed), r)``."""
    return jax.random.fold_in(jax.random.key(seed, impl=key_impl), r)


def replicate_keys(seed: int, first: int, count: int, key_impl: str = "threefry2x32") -> Key[Array, "count"]:
    """The keys of replicates ``first .. first + count - 1``, stacked: each as :func:`replicate_key`."""
    base = jax.random.key(seed, impl=key_impl)
    return jax.vmap(lambda r: jax.random.fold_in(base, r))(jnp.arange(first, first + count, dtype=jnp.uint32))


def records_state(runs: list[tuple]) -> dict[str, np.ndarray]:
    """Run records (NamedTuples of numbers) as one array per field, for a checkpoint."""
    fields = runs[0]._fields
    return {f: np.asarray([getattr(r, f) for r in runs]) for f in fields}


def records_from_state(record: type, state: dict[str, np.ndarray], n: int) -> list:
    """The first ``n`` run records back from :func:`records_state`'s arrays, bit for bit (a field
    holding a fixed-length tuple of numbers comes back as a tuple)."""
    def value(a: np.ndarray):
        return a.item() if a.ndim == 0 else tuple(a.tolist())

    return [record(*(value(state[f][i]) for f in record._fields)) for i in range(n)]


def run_replicates(run: Callable[[Key[Array, ""]], R], record: type[R], replicates: int, *, seed: int,
                   key_impl: str = "threefry2x32", options: RunOptions = RunOptions(), spec_json: str = "",
                   kind: str = "replicates") -> Replicates:
    """``run(key) -> record`` for replicates ``0 .. replicates - 1`` (keys by :func:`replicate_key`).

    ``record`` is the NamedTuple type (of numbers) that ``run`` returns. With ``options.out`` the
    finished records are checkpointed after every replicate under the identity ``(spec_json, kind)``;
    a folder holding an unfinished job is refused unless ``options.resume``, which continues it.
    The checkpoint is left in place for the caller to clear once its result is written.
    """
    return run_replicate_batches(lambda keys: [run(k) for k in keys], record, replicates, 1, seed=seed,
                                 key_impl=key_impl, options=options, spec_json=spec_json, kind=kind)


def run_replicate_batches(run: Callable[[Key[Array, "b"]], list[R]], record: type[R], replicates: int, batch: int,
                          *, seed: int, key_impl: str = "threefry2x32", options: RunOptions = RunOptions(),
                          spec_json: str = "", kind: str = "replicates") -> Replicates:
    """As :func:`run_replicates`, ``batch`` replicates per call: ``run(keys) -> records``, one per key
    of :func:`replicate_keys`; checkpointed after every batch. Every call gets ``batch`` keys: the
    last batch is filled up with replicates ``replicates, replicates + 1, ...``, whose records are
    dropped. So if each record is a function of its key and the batch's shape (float rounding
    under ``jax.vmap`` may depend on the shape), which replicates share a batch never matters."""
    out = Path(options.out) if options.out is not None else None
    runs, start, elapsed0 = [], 0, 0.0
    if checkpoint.claim(out, options.resume):
        ck = checkpoint.load(out, spec_json, kind)
        start, elapsed0 = ck.next, ck.elapsed
        runs = records_from_state(record, ck.state, start)
    t0 = time.perf_counter()
    with interrupt.deferred(), Progress(replicates, start, desc=kind, unit="replicates",
                                        mode=default_mode(options.progress), every=options.progress_seconds) as bar:
        interrupt.fault("start")
        interrupt.check()
        for r in range(start, replicates, batch):
            b = min(batch, replicates - r)
            runs.extend(run(replicate_keys(seed, r, batch, key_impl))[:b])
            bar.update(b)
            if out is not None:
                checkpoint.save(out, spec_json, kind, r + b, elapsed0 + time.perf_counter() - t0, records_state(runs))
            if r + b < replicates:
                interrupt.check()
    return Replicates(tuple(runs), elapsed0 + time.perf_counter() - t0, start)


def combine_replicates(log_ps: list[float]) -> tuple[float | None, tuple[float | None, float | None]]:
    """log10 of the mean of replicate estimates (given as natural logs) and a 95% t-interval on it."""
    p = np.exp(np.asarray(log_ps, np.float64) - max(log_ps)) if np.isfinite(max(log_ps)) else None
    r = len(log_ps)
    if p is None:
        return None, (None, None)
    shift = max(log_ps) / math.log(10)
    mean, sd = p.mean(), p.std(ddof=1)
    t = stats.t.ppf(0.975, r - 1)
    lo, hi = mean - t * sd / math.sqrt(r), mean + t * sd / math.sqrt(r)
    est = math.log10(mean) + shift
    if lo > 0:
        return est, (math.log10(lo) + shift, math.log10(hi) + shift)
    finite = np.asarray([x for x in log_ps if np.isfinite(x)]) / math.log(10)
    if len(finite) < 2:
        return est, (None, math.log10(hi) + shift)
    m, sdl = finite.mean(), finite.std(ddof=1)
    half = stats.t.ppf(0.975, len(finite) - 1) * sdl / math.sqrt(len(finite))
    # replicates too dispersed for a positive lower end on the linear scale: take the lower end
    # from the log10 values (a t-interval on their mean) and keep the linear-scale upper end
    return est, (min(m - half, est), math.log10(hi) + shift)


class ReplicateSummary(NamedTuple):
    """What every replicate-based estimator reports: log10 volume and 95% interval (as
    :func:`combine_replicates`), the volume, each replicate's log10, their sd, and how many
    replicates reached the condition (finite estimates)."""

    log10_volume: float | None
    ci95: tuple[float | None, float | None]
    volume: float
    replicates_log10: tuple[float, ...]
    replicate_sd_log10: float
    reached: int


def summarize_replicates(log_ps: list[float]) -> ReplicateSummary:
    """Summary of replicate estimates given as natural logs (``-inf``: did not reach the condition)."""
    est, ci = combine_replicates(log_ps)
    est = None if est is None else float(est)
    ci = tuple(None if c is None else float(c) for c in ci)
    l10 = tuple(float(x / math.log(10)) for x in log_ps)
    finite = [x for x in l10 if np.isfinite(x)]
    sd = float(np.std(finite, ddof=1)) if len(finite) > 1 else float("nan")
    return ReplicateSummary(est, ci, 10**est if est is not None else 0.0, l10, sd, len(finite))
