"""Provenance: the manifest written beside every result table.

It records what ran (the command, the spec or experiment config with only the settings that
applied), with what (package version, git commit and whether the tree was dirty, Python, jax and
jaxlib versions, backend, device kind and count, process count, and the SHA-256 of the package's
source, ``source_sha256``), the key implementation, the run's facts and the files written, and
``reproduce``: the command that makes the folder again, naming the folder itself where it lies in
the working folder (the command line records it; a script of ``experiments/`` records its own
command line). :func:`same_code` tells whether a manifest was written by this very code.

Example:
    >>> m = manifest("volume", {"estimator": {"kind": "mc", "seed": 3, "key_impl": "threefry2x32"}},
    ...              {"samples": 10}, {"seconds": 0.1}, ["volume.parquet"])
    >>> m["kind"], m["seed"], m["key_impl"], m["files"]
    ('volume', 3, 'threefry2x32', ['volume.parquet'])
"""

from __future__ import annotations

import datetime
import hashlib
import importlib.metadata
import platform
import shlex
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


def source_sha256() -> str:
    """SHA-256 of the package's source (every ``.py`` file under ``counting/``, by relative path and
    content): which code made a result, exactly, dirty trees included."""
    package = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for f in sorted(package.rglob("*.py")):
        h.update(f.relative_to(package).as_posix().encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def same_code(m: dict) -> str:
    """``""`` when the manifest ``m`` was written by this very code (the same package version and
    source, by :func:`source_sha256` where the manifest records it, else the same commit with neither
    tree dirty); otherwise what differs, in words.

    >>> same_code({"counting_version": "0.0.0"}).startswith("made by counting 0.0.0 at commit unknown")
    True
    """
    env = m.get("environment") or {}
    recorded = env.get("git") or {}
    here = git_commit()
    version = m.get("counting_version")
    if version == package_version():
        if env.get("source_sha256"):
            if env["source_sha256"] == source_sha256():
                return ""
        elif recorded.get("commit") and recorded.get("commit") == here["commit"] and recorded.get("dirty") is False \
                and here["dirty"] is False:
            return ""
    made = (recorded.get("commit") or "unknown")[:10] + (" with uncommitted changes" if recorded.get("dirty") else "")
    this = (here["commit"] or "unknown")[:10] + (" with uncommitted changes" if here["dirty"] else "")
    if made == this:  # the same commit, other uncommitted changes (or none recorded)
        return f"made by counting {version} at commit {made}, from other source than this"
    return f"made by counting {version} at commit {made}" + ("" if this.startswith("unknown") else f"; this is {this}")


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
        "source_sha256": source_sha256(),
    }


class _Invocation:
    reproduce: str | None = None


def record_reproduce(command: str | None) -> None:
    """The shell command that reproduces this process's results (the command line records it; it goes
    into every manifest written afterwards as ``reproduce``)."""
    _Invocation.reproduce = command


def script_reproduce(argv: list[str] | None = None) -> str | None:
    """The reproduce command of a script of this checkout's ``experiments/`` (``python
    experiments/rare_bench.py --out results/bench``) when one is running (``argv``: ``sys.argv``);
    ``None`` otherwise (the command line records its own).

    >>> root = Path(__file__).resolve().parents[2]
    >>> script_reproduce([str(root / "experiments" / "x.py"), "--out", "results/x"])
    'python experiments/x.py --out results/x'
    >>> script_reproduce(["-c"]) is None
    True
    """
    argv = sys.argv if argv is None else argv
    if not argv or not argv[0].endswith(".py"):
        return None
    script = Path(argv[0]).resolve()
    if script.parent != Path(__file__).resolve().parents[2] / "experiments":
        return None
    return shlex.join(["python", f"experiments/{script.name}", *argv[1:]])


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
        **({"reproduce": reproduce} if (reproduce := _Invocation.reproduce or script_reproduce()) else {}),
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
