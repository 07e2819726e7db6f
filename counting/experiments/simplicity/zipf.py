"""The 7-bit reproduction's tables: rank-frequency against Zipf's law, and P(f) against Lempel-Ziv.

A census of ``S`` networks is summarised without losing anything the two plots need:

* :func:`frequency_table`: for each count ``c`` seen, how many functions were seen exactly ``c``
  times and the ranks they occupy (the rank-frequency curve is exactly this table);
* :func:`lz_table`: for each Lempel-Ziv value and count, how many functions (P(f) against LZ);
* :func:`zipf`: Zipf's law ``P(r) = 1 / (r ln N_O)`` of Valle-Perez et al. (2019), with ``N_O`` the
  number of functions on the cube (``2**128`` on 7 bits).

Example:
    >>> import numpy as np
    >>> from counting.engine.census import Census
    >>> c = Census.from_rows(np.array([[1, 0, 0, 0]] * 3 + [[2, 0, 0, 0]] * 3 + [[5, 0, 0, 0]], np.uint32), 7)
    >>> frequency_table(c)[["count", "functions", "rank_first", "rank_last"]].values.tolist()
    [[3, 2, 1, 2], [1, 1, 3, 3]]
    >>> round(float(zipf(np.array([1.0]), 7)[0]), 5)     # 1 / ln(2**128)
    0.01127
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from counting.boolean.complexity import lz_rows
from counting.engine.census import Census
from counting.engine.progress import Progress, default_mode
from counting.stats import clopper_pearson_many


def zipf(rank: np.ndarray, n: int) -> np.ndarray:
    """Zipf's law ``1 / (r ln N_O)`` with ``N_O = 2**2**n`` functions."""
    return 1.0 / (np.asarray(rank, np.float64) * (2**n) * np.log(2))


def frequency_table(census: Census) -> pd.DataFrame:
    """One row per distinct count, largest first: ``count``, ``functions`` seen that often, the
    ranks they occupy, ``probability = count / samples`` and its 95% interval in log10."""
    counts, k = np.unique(census.counts, return_counts=True)
    counts, k = counts[::-1], k[::-1]
    last = np.cumsum(k)
    s = census.samples
    lo, hi = clopper_pearson_many(counts, s, 0.95)
    return pd.DataFrame({"count": counts, "functions": k, "rank_first": last - k + 1, "rank_last": last,
                         "probability": counts / s, "log10_probability": np.log10(counts / s),
                         "ci95_lo": np.log10(lo), "ci95_hi": np.log10(hi)})


def word_bits(tables: np.ndarray, n: int) -> np.ndarray:
    """Rows of ``2**n`` zeros and ones from packed uint32 words (point ``i``: word ``i // 32``, bit ``i % 32``),
    as a census stores its tables (:func:`counting.boolean.complexity.table_bits` reads integer tables)."""
    points = 1 << n
    words = np.asarray(tables, np.uint32)
    i = np.arange(points)
    return ((words[:, i // 32] >> (i % 32).astype(np.uint32)) & 1).astype(np.int8)


def census_lz(census: Census, n: int, block: int = 1 << 16, progress: bool | None = None) -> np.ndarray:
    """The Lempel-Ziv complexity of every distinct function of the census (its row order), with
    progress lines for a long census (2e7 functions take about a quarter of an hour on 2 cores)."""
    out = np.empty(census.distinct)
    mode = default_mode(progress) if census.distinct > 1 << 20 else "off"
    with Progress(census.distinct, desc="Lempel-Ziv", unit="functions", mode=mode) as bar:
        for a in range(0, census.distinct, block):
            out[a:a + block] = lz_rows(word_bits(census.tables[a:a + block], n), n)
            bar.update(len(out[a:a + block]))
    return out


def lz_table(census: Census, lz: np.ndarray) -> pd.DataFrame:
    """One row per (LZ value, count): ``functions`` with that complexity seen that many times."""
    df = pd.DataFrame({"lz": lz, "count": census.counts})
    g = df.groupby(["lz", "count"], sort=True).size().rename("functions").reset_index()
    g["log10_probability"] = np.log10(g["count"] / census.samples)
    return g


def top_table(census: Census, lz: np.ndarray, k: int = 50) -> pd.DataFrame:
    """The ``k`` most frequent functions with their Lempel-Ziv complexity."""
    top = census.frame(limit=k)
    order = np.lexsort((np.arange(census.distinct), -census.counts))[:k]
    top["lz"] = lz[order]
    return top
