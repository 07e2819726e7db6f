"""Volumes of NPN classes from a census: pool every member's hits, one volume per function.

Under a prior symmetric in input permutations, input negations and the output's sign, every
function of an NPN class has the same volume, so a class's pooled count over ``S`` networks
estimates ``size * V``: the per-function volume is ``count / (size * S)``, with the Clopper-Pearson
interval of ``count`` out of ``S`` divided by ``size``. Pooling gives each class ``size`` times the
hits of any one member.

Example:
    >>> import numpy as np
    >>> from counting.engine.census import Census
    >>> c = Census.from_rows(np.array([[0x8], [0x8], [0x2], [0x6], [0x0]], np.uint32), n_inputs=2)
    >>> t = class_volumes(c, 2)
    >>> r = t[t.representative == "0x1"].iloc[0]     # ANDs and ORs of literals: 8 functions, 3 hits
    >>> int(r["size"]), int(r["count"]), float(r["volume"])
    (8, 3, 0.075)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from counting.boolean.npn import npn_canonical, npn_class_ids, npn_classes
from counting.boolean.tables import named_truth_table, to_hex
from counting.engine.census import Census
from counting.stats import clopper_pearson_many


def parity_class(n: int) -> str:
    """The hex of n-bit parity's NPN class representative (``0x69`` on 3 bits, ``0x6996`` on 4)."""
    return to_hex(npn_canonical(named_truth_table("parity", n), n), n)


def class_counts(census: Census, n: int) -> np.ndarray:
    """Pooled count of each NPN class of ``n <= 4`` bits (classes in :func:`npn_classes` order)."""
    ids = np.asarray(npn_class_ids(n))
    tables = census.tables[:, 0].astype(np.int64) if census.distinct else np.zeros(0, np.int64)
    return np.bincount(ids[tables], weights=census.counts, minlength=int(ids.max()) + 1).astype(np.int64)


def class_volumes(census: Census, n: int, conf: float = 0.95) -> pd.DataFrame:
    """One row per NPN class: ``representative`` (hex), ``size``, pooled ``count``, ``samples``,
    the per-function ``volume``, ``log10_volume`` and its interval (``ci95_lo``, ``ci95_hi``)."""
    reps = npn_classes(n)
    counts = class_counts(census, n)
    s = census.samples
    size = np.asarray(reps["size"], np.int64)
    lo, hi = clopper_pearson_many(counts, s, conf)
    with np.errstate(divide="ignore"):
        return pd.DataFrame({
            "class_id": np.arange(len(reps)),
            "representative": reps["representative"].to_numpy(),
            "size": size,
            "count": counts,
            "samples": s,
            "volume": counts / (size * s),
            "log10_volume": np.where(counts > 0, np.log10(counts / (size * s)), np.nan),
            "ci95_lo": np.log10(np.asarray(lo) / size),
            "ci95_hi": np.log10(np.asarray(hi) / size),
        })


def function_frame(classes: pd.DataFrame, n: int) -> pd.DataFrame:
    """Every function of ``n`` bits with its class's row (volume columns, method, ...)."""
    ids = np.asarray(npn_class_ids(n))
    out = classes.set_index("class_id").loc[ids].reset_index()
    out.insert(0, "truth_table_int", np.arange(len(ids)))
    return out
