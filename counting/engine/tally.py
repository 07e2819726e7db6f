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
from counting.engine.census import Census
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
    ``exact`` census (an enumeration) is a job of its own kind, ``census-exact``."""

    FLUSH_ROWS = 1 << 20

    def __init__(self, n_inputs: int, chunk_size: int, drawn: int, where: Predicate | None = None,
                 exact: bool = False):
        self.n, self.chunk, self.drawn, self.where, self.exact = n_inputs, chunk_size, drawn, where, exact
        self.kind = "census-exact" if exact else "census"
        self.census = Census.empty(n_inputs, n_words(n_inputs))
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
            self.census = self.census.merge(Census.from_rows(np.concatenate(self.buffer), self.n))
            self.buffer, self.buffered = [], 0

    def state(self):
        self._flush()
        return {"tables": self.census.tables, "counts": self.census.counts}

    def load(self, state):
        self.census = Census(np.asarray(state["tables"], np.uint32), np.asarray(state["counts"], np.int64), self.n)

    def finalize(self) -> Census:
        self._flush()
        c = self.census
        return Census(c.tables, c.counts, self.n, exact=self.exact, drawn=self.drawn)
