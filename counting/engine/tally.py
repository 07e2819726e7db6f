"""Tallies: what a counting pass accumulates, as a small protocol.

A tally has a *reduction on the device* (``reducer``, a :class:`~counting.engine.protocols.Reducer`:
one evaluated block of networks to a small pytree of exact integers or packed rows, with what it
needs besides the block's forward) and four host methods: ``add`` (fold one step's
results in, given how many networks of each chunk count), ``state`` / ``load`` (the exact counts
as named arrays, for checkpoints and resume) and ``finalize`` (the result). ``kind`` names the
job in checkpoints, so a checkpoint is only resumed by the same tally.

A tally with ``slices = True`` takes a step's results whatever part of a chunk each of its lanes
evaluated: a block that was not evaluated gives zeros, which must add nothing (true of counts, and
of the census, whose rows of weight 0 are never counted), and ``n_valid`` then gives the networks
of each lane that count. The pass then draws only the networks asked for (rounded up to a block).
A tally without it (one whose host state follows chunks, as the readout estimator's does) is
handed each chunk whole, once all its slices are in (:mod:`counting.engine.run`).

Hit-or-miss (:class:`Hits`) and the census (:class:`CensusTally`) are tallies; an experiment adds
its own (the llamaizer's counts) instead of editing the pass (:func:`counting.engine.run.run_pass`).
A tally of exact counts of fixed shapes (hits, histograms) has its host half written once,
:class:`CountingTally`: named int64 arrays, each the sum of a step's int32 device counts
(:func:`step_sum`), and brings only its reduction on the device.

Example:
    >>> import numpy as np
    >>> t = Hits(lambda fwd: fwd.output[:, 0] > 0)
    >>> t.add(np.array([[3, 4]], np.int32), np.array([16]))
    >>> t.finalize(), t.state()["hits"].item()
    (7, 7)
    >>> h = CountingTally("demo", {"hist": (3,)})
    >>> h.add(np.ones((2, 4, 3), np.int32), np.array([8, 8]))   # [chunks, blocks, 3]
    >>> h.finalize().tolist(), h.state()["hist"].dtype.name
    ([8, 8, 8], 'int64')
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Protocol, Sequence

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Int

import counting.engine.dedup as dedup
import counting.engine.memory as hostmem
from counting.boolean.tables import n_words
from counting.engine.census import Census, CensusRuns, key_rows, row_keys
from counting.engine.protocols import Reducer
from counting.engine.spill import RunFiles, bytes_per_distinct, merged_blocks
from counting.spec.errors import OptionError, SpecError
from counting.mechanisms.predicates import Predicate, truth_tables
from counting.models.layers import Forward


class Tally(Protocol):
    """What :func:`counting.engine.run.run_pass` accumulates."""

    kind: str

    @property
    def reducer(self) -> Reducer:
        """On the device, per block: ``reducer.reduce(fwd, valid)``, a small pytree (``valid`` marks
        the networks that count). A tally that must see the parameters too (to lesion them, say)
        declares ``needs_params`` and its function takes them as a third argument."""

    def add(self, result: Any, n_valid: np.ndarray) -> None:
        """On the host: fold one step's results in (``n_valid[c]``: networks of chunk ``c`` that count)."""

    def state(self) -> dict[str, np.ndarray]:
        """The exact counts so far, as named arrays (for a checkpoint)."""

    def load(self, state: Mapping[str, np.ndarray]) -> None:
        """Restore :meth:`state` from a checkpoint."""

    def finalize(self) -> Any:
        """The result of the pass."""


Shape = tuple[int, ...]
LEAD = 2  # a step's results stack its chunks and their blocks before each count's own shape


def step_sum(counts: Int[ArrayLike, "*lead *shape"], shape: Shape) -> Int[np.ndarray, "*shape"]:
    """A step's int32 counts (``[..., *shape]``: chunks, blocks and whatever a reducer stacks
    before ``shape``) summed exactly, in int64, to one array of ``shape``."""
    return np.asarray(counts, np.int64).reshape((-1,) + tuple(shape)).sum(axis=0)


class CountingTally:
    """The host half of a tally of exact counts, written once: named int64 arrays, each summing
    the int32 counts its reduction gives per block (:func:`step_sum`), stored as they are in
    checkpoints and summed across a job's parts (:func:`counting.engine.distributed.merge_states`).

    ``shapes`` names the counts and their shapes; a subclass's ``reduce`` (its reducer's function,
    on the device) returns a dict of them by name, or the bare array when there is one.
    ``shapes=None``: names and shapes come from the results (a dict; each count's shape is its
    array's past the ``LEAD`` axes of a step's chunks and blocks), and a checkpoint restores every
    name it holds. :meth:`finalize` gives the one count's array, or a dict of them.
    """

    slices = True  # sums of counts: a block not evaluated (zeros) adds nothing

    def __init__(self, kind: str, shapes: Mapping[str, Shape] | None = None):
        self.kind = kind
        self.shapes = None if shapes is None else {k: tuple(s) for k, s in shapes.items()}
        self.sums: dict[str, np.ndarray] = {k: np.zeros(s, np.int64) for k, s in (self.shapes or {}).items()}

    @property
    def reducer(self) -> Reducer:
        return Reducer(self.reduce)

    def named(self, result: Any) -> Mapping[str, Any]:
        """One step's counts by name (a bare array is the one declared count's)."""
        if isinstance(result, Mapping):
            return result
        (name,) = self.shapes
        return {name: result}

    def add(self, result: Any, n_valid: np.ndarray | None = None) -> None:
        for k, v in self.named(result).items():
            s = step_sum(v, np.shape(v)[LEAD:] if self.shapes is None else self.shapes[k])
            self.sums[k] = self.sums[k] + s if k in self.sums else s

    def state(self) -> dict[str, np.ndarray]:
        return {k: np.array(v, np.int64) for k, v in self.sums.items()}

    def load(self, state: Mapping[str, np.ndarray]) -> None:
        self.sums = {k: np.array(state[k], np.int64) for k in (state if self.shapes is None else self.shapes)}

    def finalize(self) -> np.ndarray | dict[str, np.ndarray]:
        if self.shapes is not None and len(self.shapes) == 1:
            return self.state()[next(iter(self.shapes))]
        return self.state()


class Hits(CountingTally):
    """How many networks satisfy ``predicate``: an exact integer. ``kind`` names the job."""

    def __init__(self, predicate: Predicate, kind: str = "volume"):
        super().__init__(kind, {"hits": ()})
        self.predicate = predicate

    def reduce(self, fwd: Forward, valid: Bool[Array, "B"]):
        return jnp.sum(self.predicate(fwd) & valid, dtype=jnp.int32)

    def finalize(self) -> int:
        return int(self.sums["hits"])


class CensusTally:
    """Every distinct function seen, with exact counts. With ``where`` (a predicate) only the
    networks satisfying it are counted, while ``drawn`` stays the number of networks drawn. An
    ``exact`` census (an enumeration) is a job of its own kind, ``census-exact``.

    Each device sorts its step's truth tables and counts their runs itself
    (:func:`counting.engine.dedup.step_runs`, its reducer's ``per_step``; networks past the end of
    the job or failing ``where`` weigh 0 there), so the host only merges sorted distinct runs into a
    :class:`~counting.engine.census.CensusRuns` stack, at a cost that grows with the distinct
    functions rather than the networks. The census is the same (tables, counts and order, those of
    ``np.unique(axis=0)``) whatever the batch size, chunk size, device count or memory budget.

    Memory: the runs held take ``8 * (ceil(words / 2) + 1)`` bytes per distinct function (24 at 7
    inputs: two uint64 keys and a count; :func:`counting.engine.spill.bytes_per_distinct`). When
    they pass ``memory`` bytes (default: :data:`MEMORY_FRACTION` of the host memory available when
    the tally is made) they are merged into one run and spilled to a file of ``folder`` (the same
    bytes per distinct function on disk), and :meth:`finalize` merges the files in one streaming
    pass (:func:`counting.engine.spill.merged_blocks`) into files it maps as the census's arrays.
    A merge in memory needs its output besides its inputs, so the peak is about 3 times ``memory``
    plus one step's rows. A checkpoint (:meth:`state`) holds the runs in memory and the names of
    the files spilled so far, which are never rewritten, so a resumed census ends with exactly the
    counts of an uninterrupted one. ``folder=None`` spills to a temporary folder instead, and a
    checkpoint then holds the whole census. :meth:`cleanup` removes the spilled files.
    """

    MEMORY_FRACTION = 0.125
    slices = True  # a network of weight 0 (a block not evaluated) is never counted

    def __init__(self, n_inputs: int, chunk_size: int, drawn: int, where: Predicate | None = None,
                 exact: bool = False, memory: int | None = None, folder: Path | None = None,
                 kind: str | None = None):
        self.n, self.chunk, self.drawn, self.where, self.exact = n_inputs, chunk_size, drawn, where, exact
        self.kind = kind or ("census-exact" if exact else "census")
        self.words = n_words(n_inputs)
        if memory is None:
            host = hostmem.host_available_bytes()
            memory = int(self.MEMORY_FRACTION * host) if host else 1 << 31
        if memory < 1:
            raise SpecError("census memory", "a positive number of bytes", memory)
        self.memory, self.folder = int(memory), folder
        self.runs = CensusRuns(self.words)
        self.files: RunFiles | None = None

    def reduce(self, fwd: Forward, valid: Bool[Array, "B"]):
        keep = valid if self.where is None else valid & self.where(fwd)
        return truth_tables(fwd), keep

    @property
    def reducer(self) -> Reducer:
        # on the device: one step's blocks as one sorted distinct run
        return Reducer(self.reduce, per_step=dedup.step_runs)

    def add(self, result, n_valid):
        rows, counts, distinct = (np.asarray(x) for x in result)
        for r, c, d in zip(rows, counts, distinct):
            if d:
                self.runs.push(row_keys(r[:d]), c[:d].astype(np.int64))
        if self.runs.distinct_bound * bytes_per_distinct(self.words) > self.memory:
            self._spill()

    def _spill(self):
        keys, counts = self.runs.collapse()
        if keys.shape[1]:
            if self.files is None:
                self.files = RunFiles(self.folder)
            self.files.write(keys, counts)
        self.runs = CensusRuns(self.words)

    @property
    def spilled(self) -> int:
        """Run files written so far."""
        return 0 if self.files is None else len(self.files.names)

    def _merged(self) -> Census:
        """Every row folded in so far, as one census: in memory, or mapped from a file when spilled."""
        keys, counts = self.runs.collapse()
        if not self.spilled:
            return Census(key_rows(keys, self.words), counts, self.n)
        sources = self.files.arrays()
        if keys.shape[1]:
            mem = np.empty((keys.shape[1], keys.shape[0] + 1), np.uint64)
            mem[:, :-1], mem[:, -1] = keys.T, counts
            sources.append(mem)
        row = bytes_per_distinct(self.words)
        block = int(min(max(self.memory // (4 * row * len(sources)), 4096), 1 << 22))
        tpath, cpath = self.files.new_path("tables"), self.files.new_path("counts")
        total = 0
        with open(tpath, "wb") as ft, open(cpath, "wb") as fc:
            for k, c in merged_blocks(sources, block):
                ft.write(np.ascontiguousarray(key_rows(k, self.words)).tobytes())
                fc.write(np.ascontiguousarray(c, np.int64).tobytes())
                total += len(c)
        if total == 0:
            return Census.empty(self.n, self.words)
        tables = np.memmap(tpath, np.uint32, "r", shape=(total, self.words))
        return Census(tables, np.memmap(cpath, np.int64, "r", shape=(total,)), self.n)

    @property
    def census(self) -> Census:
        """Every row folded in so far, as one census (collapses the runs)."""
        return self._merged()

    def state(self):
        keys, counts = self.runs.collapse()
        if self.spilled and self.files.temporary:  # no job folder to keep files in: the whole census
            c = self._merged()
            return {"tables": np.asarray(c.tables), "counts": np.asarray(c.counts)}
        out = {"tables": key_rows(keys, self.words), "counts": counts}
        if self.spilled:
            out["spilled"] = np.array(self.files.names)
        return out

    def load(self, state):
        self.runs = CensusRuns(self.words)
        spilled = [str(n) for n in np.asarray(state.get("spilled", np.array([], str))).reshape(-1)]
        if spilled:
            if self.folder is None:
                raise OptionError("resume", "a census folder holding the checkpoint's spilled runs", None)
            self.files = RunFiles(self.folder)
            self.files.adopt(spilled)
        tables = np.asarray(state["tables"], np.uint32).reshape(-1, self.words)
        self.runs.push(row_keys(tables), np.asarray(state["counts"], np.int64))

    def merge_states(self, states: Sequence[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
        """Several parts' states (of one job's censuses) as one: runs in memory merged, files listed."""
        runs = CensusRuns(self.words)
        spilled: list[str] = []
        for s in states:
            tables = np.asarray(s["tables"], np.uint32).reshape(-1, self.words)
            runs.push(row_keys(tables), np.asarray(s["counts"], np.int64))
            spilled += [str(n) for n in np.asarray(s.get("spilled", np.array([], str))).reshape(-1)]
        keys, counts = runs.collapse()
        out = {"tables": key_rows(keys, self.words), "counts": counts}
        if spilled:
            out["spilled"] = np.array(spilled)
        return out

    def finalize(self) -> Census:
        c = self._merged()
        return Census(c.tables, c.counts, self.n, exact=self.exact, drawn=self.drawn)

    def cleanup(self) -> None:
        """Remove the spilled runs (once the result is written; a finalized census mapped from them
        stays readable where the system keeps removed files open, as POSIX systems do)."""
        if self.files is not None:
            self.files.remove()
