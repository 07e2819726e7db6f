"""Finished passes' tables, kept in the work folder so a resumed run does not compute them again.

Turning a pass's counts into tables can take long (the Lempel-Ziv complexity of the tens of
millions of functions of a 7-bit census). Once a pass's tables are computed, :func:`save` writes
them, its raw counts and its facts next to its checkpoint, in ``<pass folder>/tables/``; the folder
is written under a temporary name and renamed, so it is either whole or absent. A resumed run
(:func:`counting.experiments.base.run.run`) reads them back with :func:`load` instead of computing
them, but only when the recorded identity (the pass's name, spec and tally kind) is the same. A
fresh run never reads them, and :func:`clear` removes them with the checkpoints once the results
folder is written.

Example:
    >>> import tempfile, pathlib
    >>> import numpy as np, pandas as pd
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> save(d, "id-1", {"t": pd.DataFrame({"a": [1, 2]})}, {"p|hits": np.array(3)}, {"samples": 10})
    >>> tables, counts, facts = load(d, "id-1")
    >>> tables["t"]["a"].tolist(), int(counts["p|hits"]), facts["samples"]
    ([1, 2], 3, 10)
    >>> load(d, "id-2") is None       # another pass's identity: not reused
    True
    >>> clear(d); load(d, "id-1") is None
    True
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

FOLDER = "tables"
ABOUT = "about.json"
COUNTS = "counts.npz"


def save(folder: str | Path, identity: str, tables: dict[str, pd.DataFrame], counts: dict[str, np.ndarray],
         facts: dict[str, Any]) -> None:
    """Keep one pass's ``tables``, ``counts`` and ``facts`` under ``folder`` (replacing any kept before)."""
    folder = Path(folder)
    tmp = folder / f".{FOLDER}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    names = {}
    for i, (name, df) in enumerate(tables.items()):
        names[name] = f"table-{i}.parquet"
        df.to_parquet(tmp / names[name], index=False)
    np.savez(tmp / COUNTS, **{k: np.asarray(v) for k, v in counts.items()})
    (tmp / ABOUT).write_text(json.dumps({"identity": identity, "tables": names, "facts": facts}, default=str))
    with open(tmp / ABOUT, "rb") as f:
        os.fsync(f.fileno())
    clear(folder)
    os.replace(tmp, folder / FOLDER)


def load(folder: str | Path | None, identity: str
         ) -> tuple[dict[str, pd.DataFrame], dict[str, np.ndarray], dict[str, Any]] | None:
    """The tables, counts and facts :func:`save` kept for ``identity`` (``None`` if none or another's)."""
    if folder is None:
        return None
    d = Path(folder) / FOLDER
    try:
        about = json.loads((d / ABOUT).read_text())
    except (OSError, ValueError):
        return None
    if about.get("identity") != identity:
        return None
    tables = {name: pd.read_parquet(d / file) for name, file in about["tables"].items()}
    with np.load(d / COUNTS) as z:
        counts = {k: z[k] for k in z.files}
    return tables, counts, about["facts"]


def clear(folder: str | Path | None) -> None:
    """Remove the kept tables of the pass in ``folder``."""
    if folder is not None:
        shutil.rmtree(Path(folder) / FOLDER, ignore_errors=True)
