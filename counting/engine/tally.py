"""Tallies: what a counting pass accumulates, as a small protocol.

A tally has a *reduction on the device* (``reduce(fwd, valid)``: one evaluated block of networks to
a small pytree of exact integers or packed rows) and four host methods: ``add`` (fold one step's
results in, given how many networks of each chunk count), ``state`` / ``load`` (the exact counts
as named arrays, for checkpoints and resume) and ``finalize`` (the result). ``kind`` names the
job in checkpoints, so a checkpoint is only resumed by the same tally.

Hit-or-miss (:class:`Hits`) and the census (:class:`CensusTally`) are tallies; an experiment adds
its own (the llamaizer's counts) instead of editing the pass (:func:`counting.engine.run.run_pass`).

Example:
    >>> import numpy as np
    >>> t = Hits(lambda fwd: fwd.output[:, 0] > 0)
    >>> t.add(np.array([[3, 4]], np.int32), np.array([16]))
    >>> t.finalize(), t.state()["hits"].item()
    (7, 7)
"""

from __future__ import annotations

from typing import Any, Mapping, Protocol

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool

from counting.boolean.tables import n_words
from counting.engine.census import Census, CensusRuns, key_rows, row_keys
from counting.mechanisms.predicates import Predicate, truth_tables
from counting.models.layers import Forward


class Tally(Protocol):
    """What :func:`counting.engine.run.run_pass` accumulates."""

    kind: str

    def reduce(self, fwd: Forward, valid: Bool[Array, "B"]) -> Any:
        """On the device, per block: a small pytree (``valid`` marks the networks that count). A
        tally that must see the parameters too (to lesion them, say) defines
        ``reduce(fwd, valid, params)`` and sets ``reduce.needs_params = True`` on it."""

    def add(self, result: Any, n_valid: np.ndarray) -> None:
        """On the host: fold one step's results in (``n_valid[c]``: networks of chunk ``c`` that count)."""

    def state(self) -> dict[str, np.ndarray]:
        """The exact counts so far, as named arrays (for a checkpoint)."""

    def load(self, state: Mapping[str, np.ndarray]) -> None:
        """Restore :meth:`state` from a checkpoint."""

    def finalize(self) -> Any:
        """The result of the pass."""


class Hits:
    """How many networks satisfy ``predicate``: an exact integer. ``kind`` names the job."""

    def __init__(self, predicate: Predicate, kind: str = "volume"):
        self.predicate, self.kind = predicate, kind
        self.hits = 0

    def reduce(self, fwd: Forward, valid):
        return jnp.sum(self.predicate(fwd) & valid, dtype=jnp.int32)

    def add(self, result, n_valid):
        self.hits += int(np.asarray(result, np.int64).sum())

    def state(self):
        return {"hits": np.array(self.hits, np.int64)}

    def load(self, state):
        self.hits = int(state["hits"])

    def finalize(self) -> int:
        return self.hits


class CensusTally:
    """Every distinct function seen, with exact counts. With ``where`` (a predicate) only the
    networks satisfying it are counted, while ``drawn`` stays the number of networks drawn. An
    ``exact`` census (an enumeration) is a job of its own kind, ``census-exact``.

    Rows are buffered and every :attr:`FLUSH_ROWS` of them become one sorted distinct run of a
    :class:`~counting.engine.census.CensusRuns` stack (merged with runs of similar size, so the
    cost per network stays logarithmic in the census's size); :meth:`state` and :meth:`finalize`
    collapse the stack to one census. The census is the same (tables, counts and order) whatever
    the flush size, batch size or chunk size.

    Memory: the census is 24 bytes per distinct function (7 inputs; ``8 + 4 * words`` in general),
    a merge needs its output besides its inputs, and a checkpoint (:meth:`state` and its ``npz``)
    about 2.7 times the census more (measured at 3e7 functions: 1.8 GiB beyond 0.67 GiB), so the
    peak is under 4 times the census, plus the buffer (16 MiB of rows at 7 inputs): about 3 GiB for
    1e8 networks of a 7-40-40-1 relu MLP (40% of 2**21 of them are distinct; 3e7 to 4e7 expected).
    """

    FLUSH_ROWS = 1 << 20

    def __init__(self, n_inputs: int, chunk_size: int, drawn: int, where: Predicate | None = None,
                 exact: bool = False):
        self.n, self.chunk, self.drawn, self.where, self.exact = n_inputs, chunk_size, drawn, where, exact
        self.kind = "census-exact" if exact else "census"
        self.words = n_words(n_inputs)
        self.runs = CensusRuns(self.words)
        self.buffer: list[np.ndarray] = []
        self.buffered = 0

    def reduce(self, fwd: Forward, valid):
        if self.where is None:
            return truth_tables(fwd)
        return truth_tables(fwd), self.where(fwd)

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
            self._flush()

    def _flush(self):
        if self.buffer:
            self.runs.add_rows(np.concatenate(self.buffer))
            self.buffer, self.buffered = [], 0

    @property
    def census(self) -> Census:
        """Every row folded in so far, as one census (collapses the runs)."""
        self._flush()
        keys, counts = self.runs.collapse()
        return Census(key_rows(keys, self.words), counts, self.n)

    def state(self):
        c = self.census
        return {"tables": c.tables, "counts": c.counts}

    def load(self, state):
        self.runs = CensusRuns(self.words)
        self.buffer, self.buffered = [], 0
        tables = np.asarray(state["tables"], np.uint32).reshape(-1, self.words)
        self.runs.push(row_keys(tables), np.asarray(state["counts"], np.int64))

    def finalize(self) -> Census:
        c = self.census
        return Census(c.tables, c.counts, self.n, exact=self.exact, drawn=self.drawn)
