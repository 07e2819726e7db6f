"""Provenance: the manifest written beside every result table.

It records what ran (the command, the spec or experiment config with only the settings that
applied), with what (package version, git commit and whether the tree was dirty, Python, jax and
jaxlib versions, backend, device kind and count, process count), the key implementation, the run's
facts and the files written.

Example:
    >>> m = manifest("volume", {"estimator": {"kind": "mc", "seed": 3, "key_impl": "threefry2x32"}},
    ...              {"samples": 10}, {"seconds": 0.1}, ["volume.parquet"])
    >>> m["kind"], m["seed"], m["key_impl"], m["files"]
    ('volume', 3, 'threefry2x32', ['volume.parquet'])
"""

from __future__ import annotations

import datetime
import importlib.metadata
import platform
import subprocess
import sys
from pathlib import Path

def git_commit() -> dict:
    """Commit and dirty flag of the source tree this package was imported from (if it is a checkout):
    dirty when any tracked file of the package (``counting/``, every module a number comes from) differs
    from the commit."""
    here = Path(__file__).resolve().parent
    package = here.parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
        if commit.returncode != 0:
            return {"commit": None, "dirty": None}
        dirty = subprocess.run(
            ["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no", "--", str(package)],
            capture_output=True,
            text=True,
            timeout=10,
        )
        return {"commit": commit.stdout.strip(), "dirty": bool(dirty.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def package_version() -> str:
    """The installed version of this package (``"unknown"`` when run from a bare source tree)."""
    try:
        return importlib.metadata.version("counting")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def environment() -> dict:
    """Software and hardware provenance of this process."""
    import jax  # here, not at the top: the command line reads the version before jax loads

    devs = jax.devices()

    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "jax": jax.__version__,
        "jaxlib": importlib.metadata.version("jaxlib"),
        "backend": jax.default_backend(),
        "device_kind": devs[0].device_kind,
        "device_count": len(devs),
        "process_count": jax.process_count(),
        "git": git_commit(),
    }


class _Invocation:
    reproduce: str | None = None


def record_reproduce(command: str | None) -> None:
    """The shell command that reproduces this process's results (the command line records it; it goes
    into every manifest written afterwards as ``reproduce``)."""
    _Invocation.reproduce = command


def _drawn_in(est: dict) -> str:
    """Where the counter-based draws were made, when not by jnp: the fused kernel."""
    mode = est.get("fused_kernel", "off")
    return "" if mode == "off" else f", drawn in the fused Pallas kernel, fused_kernel = {mode}"


def manifest(kind: str, spec_dict: dict, run: dict, timings: dict, files: list[str]) -> dict:
    """The manifest written beside every result table (``spec_dict["estimator"]`` gives the seed and
    key implementation where the estimator has them)."""
    est = spec_dict.get("estimator") or {}
    return {
        "kind": kind,
        "counting_version": package_version(),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(sys.argv),
        **({"reproduce": _Invocation.reproduce} if _Invocation.reproduce else {}),
        "spec": spec_dict,
        "seed": est.get("seed"),
        # the generator the draws came from: the counter-based sampler ignores key_impl
        "key_impl": (f"philox4x32-10 (sampler = fused{_drawn_in(est)})" if est.get("sampler") == "fused"
                     else est.get("key_impl")),
        "run": run,
        "timings": timings,
        "environment": environment(),
        "files": files,
    }
