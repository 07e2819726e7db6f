"""Census runs on disk: sorted distinct runs spilled to files, and their streaming merge.

A census larger than the memory it may use writes its sorted distinct run (key columns as
:func:`counting.engine.census.row_keys`, with counts) to a file and starts afresh; at the end the
files are merged in one streaming pass (:func:`merged_blocks`: a k-way merge, a block of each
file at a time, in memory bounded by the blocks) into exactly the counts an in-memory census has.

A run file is one ``.npy`` array ``[K, keys + 1]`` of uint64: a row per distinct function, its
keys then its count, so a block of rows is one contiguous read. That is ``8 * (keys + 1)`` bytes
per distinct function on disk (24 bytes at 7 inputs: 4 words, 2 keys; 16 bytes up to 6 inputs),
the same as in memory (:class:`counting.engine.census.CensusRuns`). A file is written under a
temporary name, synced and renamed, so a file with a run's name is always whole.

:class:`RunFiles` keeps the files of one census in its own subfolder of a base folder (the job's
``census-runs``, or a temporary folder). Files are never rewritten: a checkpoint names the files
its census holds, a resumed census adopts them and removes what a killed process wrote after
that checkpoint, and :meth:`RunFiles.remove` removes the folder once the result is written.

Example:
    >>> import numpy as np
    >>> from counting.engine.census import row_keys
    >>> files = RunFiles(None)
    >>> files.write(row_keys(np.array([[1], [4]], np.uint32)), np.array([2, 1]))
    >>> files.write(row_keys(np.array([[2], [4]], np.uint32)), np.array([5, 3]))
    >>> [(k[0].tolist(), c.tolist()) for k, c in merged_blocks(files.arrays(), block=1)]
    [([1], [2]), ([2], [5]), ([4], [4])]
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
import weakref
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

import counting.interrupt as interrupt
from counting.engine.census import merge_sorted, ranks

SPILL_FOLDER = "census-runs"  # under a job's folder


def bytes_per_distinct(words: int) -> int:
    """Bytes of one distinct function in a run, in memory or on disk: its keys and its count."""
    return 8 * ((words + 1) // 2 + 1)


def write_run(path: Path, keys: np.ndarray, counts: np.ndarray) -> None:
    """Write a sorted distinct run (``keys [k, K]``, ``counts [K]``) to ``path`` atomically."""
    rows = np.empty((keys.shape[1], keys.shape[0] + 1), np.uint64)
    rows[:, :-1] = keys.T
    rows[:, -1] = np.asarray(counts, np.int64)
    tmp = path.with_name(path.name + ".tmp")
    with interrupt.on_stop(lambda: tmp.unlink(missing_ok=True)):
        with open(tmp, "wb") as f:
            np.save(f, rows)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)  # the rename itself survives a crash
    finally:
        os.close(fd)


def read_run(path: Path) -> np.ndarray:
    """A run file as a read-only memory map ``[K, keys + 1]`` (uint64; the last column the counts)."""
    return np.load(path, mmap_mode="r")


def _merge_pieces(pieces: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    while len(pieces) > 1:  # pairwise, as a balanced tree
        pieces = [merge_sorted(*pieces[i], *pieces[i + 1]) if i + 1 < len(pieces) else pieces[i]
                  for i in range(0, len(pieces), 2)]
    return pieces[0]


def merged_blocks(sources: Sequence[np.ndarray], block: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The sorted distinct runs ``sources`` (arrays as :func:`read_run` gives) merged, counts summed,
    as consecutive sorted blocks of (keys ``[k, n]``, counts ``[n]``).

    Each round reads at most ``block`` rows of each source and takes, from every source, the rows
    up to the least last row among the blocks that do not reach their source's end: every row at or
    below it has been read from every source, so its count is complete. That source's block is
    taken whole, so each round moves on. Memory: about ``3 * len(sources) * block`` rows.
    """
    if not sources:
        return
    nk = sources[0].shape[1] - 1
    pos = [0] * len(sources)
    while True:
        live = [i for i, s in enumerate(sources) if pos[i] < len(s)]
        if not live:
            return
        heads = {i: np.asarray(sources[i][pos[i]:pos[i] + block]) for i in live}
        open_ = [i for i in live if pos[i] + len(heads[i]) < len(sources[i])]
        bound = None
        if open_:
            lasts = np.stack([heads[i][-1, :nk] for i in open_])
            least = open_[int(np.lexsort(lasts.T[::-1])[0])]  # lexicographic: key 0 first
            bound = heads[least][-1, :nk].reshape(nk, 1)
        pieces = []
        for i in live:
            keys = np.ascontiguousarray(heads[i][:, :nk].T)
            if bound is None:
                take = keys.shape[1]
            else:
                below, holds = ranks(keys, bound)
                take = int(below[0]) + int(holds[0])
            if take:
                pieces.append((keys[:, :take], heads[i][:take, nk].astype(np.int64)))
                pos[i] += take
        yield _merge_pieces(pieces)


class RunFiles:
    """The run files of one census: written in a subfolder of ``base`` of its own (so that parts of
    one job, each a census, never share one), named relative to ``base`` in :attr:`names`.

    ``base=None``: a temporary folder, removed with this object (a census with no job folder, whose
    checkpoints then cannot refer to files and hold the whole census instead).
    """

    def __init__(self, base: Path | None):
        self.temporary = base is None
        self.base = Path(tempfile.mkdtemp(prefix="counting-census-")) if base is None else Path(base)
        if self.temporary:
            weakref.finalize(self, shutil.rmtree, self.base, True)
        self.own = f"spill-{uuid.uuid4().hex[:12]}"
        self.names: list[str] = []
        self.written = 0

    def write(self, keys: np.ndarray, counts: np.ndarray) -> None:
        """Spill one sorted distinct run to a new file."""
        folder = self.base / self.own
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{self.own}/run-{self.written:06d}.npy"
        write_run(self.base / name, keys, counts)
        self.written += 1
        self.names.append(name)

    def adopt(self, names: Sequence[str]) -> None:
        """Hold the files ``names`` (from a checkpoint), and remove every other file (a run written
        after that checkpoint, or half of one) of the folders they are in."""
        names = [str(n) for n in names]
        missing = [n for n in names if not (self.base / n).is_file()]
        if missing:
            raise FileNotFoundError(f"census-runs: expected the spilled run {self.base / missing[0]} of the "
                                    "checkpoint, found none (was the job folder moved in part?)")
        listed = {(self.base / n).resolve() for n in names}
        for folder in {(self.base / n).parent for n in names}:
            for p in folder.iterdir():
                if p.is_file() and p.resolve() not in listed:
                    p.unlink()
        self.names = names

    def arrays(self) -> list[np.ndarray]:
        """Every run held, as memory maps."""
        return [read_run(self.base / n) for n in self.names]

    def new_path(self, what: str) -> Path:
        """A fresh file of this census's own subfolder (for the merged result)."""
        folder = self.base / self.own
        folder.mkdir(parents=True, exist_ok=True)
        self.written += 1
        return folder / f"{what}-{self.written:06d}.bin"

    def remove(self) -> None:
        """Remove the base folder and every run in it (once the census's result is written)."""
        shutil.rmtree(self.base, ignore_errors=True)
        self.names = []
