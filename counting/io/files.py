"""Result files: atomic writes of bytes, parquet tables, JSON and compressed arrays.

Every file is written to a temporary name in the same folder, flushed to disk, then renamed, so
a reader (or a job killed with ``kill -9``) never sees a half-written file.

Example:
    >>> import tempfile, pathlib, pandas as pd
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> write_parquet(d / "t.parquet", pd.DataFrame({"a": [1, 2]}))
    >>> pd.read_parquet(d / "t.parquet")["a"].tolist()
    [1, 2]
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file in the same folder, fsync, rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_parquet(path: str | Path, df: pd.DataFrame) -> None:
    """A table as parquet, written atomically."""
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    atomic_write_bytes(path, buf.getvalue())


def write_json(path: str | Path, obj: Any) -> None:
    """An object as indented JSON, written atomically."""
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=False) + "\n").encode())


def write_npz(path: str | Path, arrays: dict[str, np.ndarray]) -> None:
    """Named arrays, compressed, written atomically."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())
