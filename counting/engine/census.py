"""The census: exact counts of every distinct function seen, mergeable in any order.

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


def _unique_rows(rows: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows (sorted) and the summed weights of each."""
    if rows.shape[0] == 0:
        return rows, weights.astype(np.int64)
    uniq, inv = np.unique(rows, axis=0, return_inverse=True)
    return uniq, np.bincount(inv.reshape(-1), weights=weights, minlength=len(uniq)).astype(np.int64)


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
        t, c = _unique_rows(np.asarray(rows, np.uint32), np.ones(len(rows), np.int64))
        return Census(t, c, n_inputs)

    def merge(self, other: "Census") -> "Census":
        """Counts of both censuses together (commutative and associative: exact integer sums).

        ``drawn`` adds up too: two restricted censuses over 1000 networks each were drawn from 2000.
        """
        rows = np.concatenate([self.tables, other.tables])
        t, c = _unique_rows(rows, np.concatenate([self.counts, other.counts]))
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
        lo, hi = (k / n, k / n) if self.exact else clopper_pearson_many(k, n, conf)
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
