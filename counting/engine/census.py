"""The census: exact counts of every distinct function seen, mergeable in any order.

Tables are kept sorted in the lexicographic order of their words (word 0 first, unsigned), the
order of ``np.unique(tables, axis=0)``. Rows are counted by sorting them as uint64 keys (two
words each, :func:`row_keys`), censuses are merged in linear time by binary searches of one in the
other (:func:`merge_sorted`), and a census under construction is a stack of sorted runs of
geometrically growing size (:class:`CensusRuns`), so a census of 1e8 networks never re-sorts the
tens of millions of functions it has already seen.

Example:
    >>> import numpy as np
    >>> c = Census.from_rows(np.array([[3], [3], [5]], np.uint32), n_inputs=2)
    >>> c = c.merge(Census.from_rows(np.array([[5], [5]], np.uint32), n_inputs=2))
    >>> c.samples, c.distinct, c.top(1).truth_table.tolist()
    (5, 2, ['0x5'])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from counting.boolean.tables import rows_to_hex
from counting.stats import clopper_pearson_many


def row_keys(rows: np.ndarray) -> np.ndarray:
    """Packed rows ``[K, words]`` (uint32) as sort keys ``[ceil(words / 2), K]`` (uint64).

    Key ``j`` is word ``2j`` in the high half and word ``2j + 1`` in the low half (a last odd word
    alone), so comparing keys ``0, 1, ...`` in turn is comparing words ``0, 1, ...`` in turn: the
    lexicographic order of the rows, the order ``np.unique(rows, axis=0)`` sorts them in.
    """
    rows = np.asarray(rows, np.uint32)
    w = rows.shape[1]
    keys = np.empty(((w + 1) // 2, rows.shape[0]), np.uint64)
    for j in range(w // 2):
        np.left_shift(rows[:, 2 * j].astype(np.uint64), np.uint64(32), out=keys[j])
        keys[j] |= rows[:, 2 * j + 1]
    if w % 2:
        keys[-1] = rows[:, -1]
    return keys


def key_rows(keys: np.ndarray, words: int) -> np.ndarray:
    """:func:`row_keys` undone: the packed rows ``[K, words]`` (uint32)."""
    rows = np.empty((keys.shape[1], words), np.uint32)
    for j in range(words // 2):
        rows[:, 2 * j] = keys[j] >> np.uint64(32)
        rows[:, 2 * j + 1] = keys[j] & np.uint64(0xFFFFFFFF)
    if words % 2:
        rows[:, -1] = keys[-1]
    return rows


def _sorted_distinct(keys: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct key columns in lexicographic order and the summed weights of each.

    A least-significant-key-first sort: the last key by an unstable sort (its ties are settled by
    the later keys or are equal rows), every other key by a stable one.
    """
    m, n = keys.shape
    if n == 0:
        return keys, np.asarray(weights, np.int64)
    order = np.argsort(keys[m - 1])
    for j in range(m - 2, -1, -1):
        order = order[np.argsort(keys[j][order], kind="stable")]
    sk = keys[:, order]
    new = np.empty(n, bool)  # where a run of equal columns starts
    new[0] = True
    np.not_equal(sk[0, 1:], sk[0, :-1], out=new[1:])
    for j in range(1, m):
        new[1:] |= sk[j, 1:] != sk[j, :-1]
    starts = np.flatnonzero(new)
    return sk[:, starts], np.add.reduceat(np.asarray(weights, np.int64)[order], starts)


def _bounded_search(a: np.ndarray, lo: np.ndarray, hi: np.ndarray, v: np.ndarray, right: bool) -> np.ndarray:
    """Vectorised binary search of ``v[i]`` in the sorted slice ``a[lo[i]:hi[i]]`` (as ``searchsorted``'s
    ``side``: ``right`` places it after equal values); returns the absolute positions."""
    lo, hi = lo.copy(), hi.copy()
    while True:
        act = np.flatnonzero(lo < hi)
        if act.size == 0:
            return lo
        l, h = lo[act], hi[act]
        mid = (l + h) >> 1
        go = a[mid] <= v[act] if right else a[mid] < v[act]
        lo[act] = np.where(go, mid + 1, l)
        hi[act] = np.where(go, h, mid)


def ranks(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each key column of ``b``: how many columns of the sorted distinct ``a`` precede it, and
    whether ``a`` holds it. One ``searchsorted`` on the first key; later keys only refine the ties."""
    lo = np.searchsorted(a[0], b[0], "left")
    hi = np.searchsorted(a[0], b[0], "right")
    for j in range(1, a.shape[0]):
        tie = np.flatnonzero(hi > lo)
        if tie.size == 0:
            break
        l = _bounded_search(a[j], lo[tie], hi[tie], b[j][tie], right=False)
        hi[tie] = _bounded_search(a[j], l, hi[tie], b[j][tie], right=True)
        lo[tie] = l
    return lo, hi > lo


def merge_sorted(ka: np.ndarray, ca: np.ndarray, kb: np.ndarray, cb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two sorted distinct key runs (``[keys, K]``, with counts) as one, counts summed.

    Linear in the larger run plus a binary search in it per column of the smaller: a column
    already there adds its count, a new one is placed after the columns that precede it.
    Neither input is modified (an output may be an input when nothing was added to it).
    """
    if kb.shape[1] > ka.shape[1]:
        ka, ca, kb, cb = kb, cb, ka, ca
    if kb.shape[1] == 0:
        return ka, np.asarray(ca, np.int64)
    r, dup = ranks(ka, kb)
    fresh, old = np.flatnonzero(~dup), np.flatnonzero(dup)
    if fresh.size == 0:
        counts = np.array(ca, np.int64)
        counts[r] += cb
        return ka, counts
    rf = r[fresh]
    n = ka.shape[1] + fresh.size
    pos = rf + np.arange(fresh.size)  # where the new columns go: after the ``rf`` columns of ``a`` below them
    from_a = np.ones(n, bool)
    from_a[pos] = False
    keys = np.empty((ka.shape[0], n), np.uint64)
    for j in range(ka.shape[0]):
        out = keys[j]  # one row at a time: 1-D mask assignment is several times faster than 2-D
        out[from_a] = ka[j]
        out[pos] = kb[j][fresh]
    counts = np.empty(n, np.int64)
    counts[from_a] = ca
    counts[pos] = cb[fresh]
    ro = r[old]  # columns of ``a`` also in ``b``: at ``ro`` in ``a``, moved up by the new columns below them
    counts[ro + np.searchsorted(rf, ro, "right")] += cb[old]
    return keys, counts


def unique_rows(rows: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows (sorted as ``np.unique(rows, axis=0)`` sorts them) and the summed weights of each."""
    rows = np.asarray(rows, np.uint32)
    keys, counts = _sorted_distinct(row_keys(rows), weights)
    return key_rows(keys, rows.shape[1]), counts


class CensusRuns:
    """A census under construction: sorted distinct runs of geometrically decreasing size.

    Each batch of rows becomes one sorted distinct run; a new run is merged into the run below it
    while that one is at most :attr:`RATIO` times larger, so the stack holds at most
    ``log2(total / smallest run)`` runs and each distinct row is copied ``O(log)`` times over the
    whole census (one growing census re-merged at every batch copies it at every batch).
    :meth:`collapse` merges the stack into one run and keeps it as the only one. The result is
    the same sorted distinct rows and exact counts whatever the batches and merges were.

    Memory: a run holds 8 bytes of count and 4 bytes per word for each distinct row (24 bytes for
    7 inputs), and a merge holds both inputs and its output, so the peak is about twice the
    stack's size plus the sort of one batch of rows (about 40 bytes a row).
    """

    RATIO = 2

    def __init__(self, words: int):
        self.words = words
        self.runs: list[tuple[np.ndarray, np.ndarray]] = []

    def add_rows(self, rows: np.ndarray, weights: np.ndarray | None = None) -> None:
        """Count the packed rows ``[N, words]`` (each once, or ``weights`` times) as a new run."""
        rows = np.asarray(rows, np.uint32).reshape(-1, self.words)
        w = np.ones(len(rows), np.int64) if weights is None else weights
        self.push(*_sorted_distinct(row_keys(rows), w))

    def push(self, keys: np.ndarray, counts: np.ndarray) -> None:
        """Add a sorted distinct run (key columns as :func:`row_keys`, with counts)."""
        if keys.shape[1] == 0:
            return
        while self.runs and self.runs[-1][0].shape[1] <= self.RATIO * keys.shape[1]:
            below = self.runs.pop()
            keys, counts = merge_sorted(*below, keys, counts)
        self.runs.append((keys, counts))

    def collapse(self) -> tuple[np.ndarray, np.ndarray]:
        """All runs merged into one (kept as the only run): sorted distinct keys and counts."""
        if not self.runs:
            return np.zeros(((self.words + 1) // 2, 0), np.uint64), np.zeros(0, np.int64)
        keys, counts = self.runs.pop()
        while self.runs:
            keys, counts = merge_sorted(*self.runs.pop(), keys, counts)
        self.runs = [(keys, counts)]
        return keys, counts

    @property
    def distinct_bound(self) -> int:
        """Distinct rows held in all runs (an upper bound on the census's distinct rows)."""
        return sum(k.shape[1] for k, _ in self.runs)


@dataclass(frozen=True)
class Census:
    """Exact count of every distinct function seen. ``tables[k]`` (packed words) was seen ``counts[k]`` times."""

    tables: np.ndarray  # [K, words] uint32, sorted, distinct
    counts: np.ndarray  # [K] int64
    n_inputs: int
    exact: bool = False  # True for an enumeration of a discrete prior: intervals are points
    drawn: int | None = None  # networks drawn, when a restricted census kept only some of them

    @staticmethod
    def empty(n_inputs: int, words: int) -> "Census":
        return Census(np.zeros((0, words), np.uint32), np.zeros(0, np.int64), n_inputs)

    @staticmethod
    def from_rows(rows: np.ndarray, n_inputs: int) -> "Census":
        """Count the packed truth tables ``rows [N, words]`` of N networks."""
        t, c = unique_rows(np.asarray(rows, np.uint32), np.ones(len(rows), np.int64))
        return Census(t, c, n_inputs)

    def merge(self, other: "Census") -> "Census":
        """Counts of both censuses together (commutative and associative: exact integer sums). Both
        hold sorted distinct tables, as every census made by :meth:`from_rows`, a merge or a tally does.

        ``drawn`` adds up too: two restricted censuses over 1000 networks each were drawn from 2000.
        """
        k, c = merge_sorted(row_keys(self.tables), self.counts, row_keys(other.tables), other.counts)
        t = key_rows(k, self.tables.shape[1])
        drawn = None if self.drawn is None and other.drawn is None else self.samples + other.samples
        return Census(t, c, self.n_inputs, self.exact and other.exact, drawn)

    @property
    def samples(self) -> int:
        """Networks drawn (volumes are counts over this)."""
        return int(self.counts.sum()) if self.drawn is None else int(self.drawn)

    @property
    def kept(self) -> int:
        """Networks counted: all of them, or those satisfying a restricted census's condition."""
        return int(self.counts.sum())

    @property
    def distinct(self) -> int:
        return int(len(self.counts))

    def frame(self, limit: int | None = None, conf: float = 0.95) -> pd.DataFrame:
        """Functions by decreasing count (ties by truth table): rank, hex, count, volume, log10 CI.

        Volumes and intervals always refer to the whole census; ``limit`` keeps the first rows.
        For an exact census (an enumeration, not a sample) the interval is the volume itself.
        """
        order = np.lexsort((np.arange(len(self.counts)), -self.counts))[:limit]
        k, n = self.counts[order], self.samples
        if self.exact:
            lo, hi = k / n, k / n
        else:  # one interval per distinct count (a census of millions has a few hundred)
            values, which = np.unique(k, return_inverse=True)
            lo, hi = (x[which] for x in clopper_pearson_many(values, n, conf))
        return pd.DataFrame(
            {
                "rank": np.arange(1, len(order) + 1),
                "truth_table": rows_to_hex(self.tables[order], self.n_inputs),
                "count": k,
                "volume": k / n,
                "log10_volume": np.log10(k / n),
                "ci95_lo": np.log10(lo),
                "ci95_hi": np.log10(hi),
            }
        )

    def top(self, k: int = 10) -> pd.DataFrame:
        """The ``k`` most frequent functions."""
        return self.frame(limit=k)

    def count_of(self, truth_table_words: np.ndarray) -> int:
        """Count of one function given its packed words (0 if never seen)."""
        hit = np.all(self.tables == np.asarray(truth_table_words, np.uint32), axis=1)
        return int(self.counts[hit].sum())
