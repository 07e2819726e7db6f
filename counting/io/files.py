"""Result files: atomic writes of bytes, parquet tables, JSON and compressed arrays.

Every file is written to a temporary name in the same folder, flushed to disk, then renamed, so
a reader (or a job killed with ``kill -9``) never sees a half-written file.

Example:
    >>> import tempfile, pathlib, pandas as pd
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> write_parquet(d / "t.parquet", pd.DataFrame({"a": [1, 2]}))
    >>> pd.read_parquet(d / "t.parquet")["a"].tolist()
    [1, 2]
    >>> check_folder(d / "t.parquet" / "sub")
    Traceback (most recent call last):
    ...
    counting.spec.errors.OptionError: out: expected a path whose parent is a folder (... is a file), got '...'
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

import counting.interrupt as interrupt
from counting.spec.errors import OptionError


def atomic_write_bytes(path: str | Path, data: bytes, during: Callable[[], None] | None = None) -> None:
    """Write ``data`` to ``path`` atomically (temp file in the same folder, fsync, rename).

    A write stopped by an exception (an interrupt included) removes its temp file and leaves ``path``
    as it was. ``during`` is called once the temp file is on disk, before the rename (for tests)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with interrupt.on_stop(lambda: tmp.unlink(missing_ok=True)):
        try:
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            if during is not None:
                during()
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


def check_folder(path: str | Path, option: str = "out") -> Path:
    """Refuse, before any work, a results folder that cannot be written: ``path`` must be a folder or
    not exist yet, and its nearest existing ancestor a folder in which a folder can be made (tried:
    a hidden folder is created there and removed again, so read-only file systems, ``/proc`` and
    the like are caught, not only missing permissions). A one-line ``OptionError`` naming
    ``option``, the caller's name for the folder."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OptionError(option, "a folder (this is a file)", str(path))
    probe = path
    while not os.path.exists(probe) and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise OptionError(option, f"a path whose parent is a folder ({probe} is a file)", str(path))
    if not os.access(probe, os.W_OK | os.X_OK):
        raise OptionError(option, f"a writable folder ({probe} is not writable)", str(path))
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".counting-probe-", dir=probe))
    except OSError as e:
        raise OptionError(option, f"a writable folder (no folder can be made in {probe}: {e.strerror})",
                          str(path)) from None
    return path


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
