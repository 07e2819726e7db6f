"""Result files: atomic writes, parquet tables and the provenance manifest.

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

import datetime
import io
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import jax
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
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    atomic_write_bytes(path, buf.getvalue())


def write_json(path: str | Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=False) + "\n").encode())


def git_commit() -> dict:
    """Commit and dirty flag of the source tree this package was imported from (if it is a checkout)."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
        if commit.returncode != 0:
            return {"commit": None, "dirty": None}
        dirty = subprocess.run(
            ["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no", "--", "."],
            capture_output=True,
            text=True,
            timeout=10,
        )
        return {"commit": commit.stdout.strip(), "dirty": bool(dirty.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def environment() -> dict:
    """Software and hardware provenance of this process."""
    devs = jax.devices()
    import jaxlib

    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "backend": jax.default_backend(),
        "device_kind": devs[0].device_kind,
        "device_count": len(devs),
        "process_count": jax.process_count(),
        "git": git_commit(),
    }


def manifest(kind: str, spec_dict: dict, run: dict, timings: dict, files: list[str]) -> dict:
    """The manifest written beside every result table."""
    from counting import __version__

    return {
        "kind": kind,
        "counting_version": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(sys.argv),
        "spec": spec_dict,
        "seed": spec_dict["estimator"]["seed"],
        "key_impl": spec_dict["estimator"]["key_impl"],
        "run": run,
        "timings": timings,
        "environment": environment(),
        "files": files,
    }
