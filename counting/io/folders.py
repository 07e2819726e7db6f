"""Results folders: a finished result is never replaced unless asked, and one job at a time per folder.

* A folder is *finished* when it holds ``manifest.json`` (every job writes it last) and no
  checkpoint. A new job into a finished folder is refused unless ``force``.
* :func:`hold` takes the folder's lock, ``.lock``, created exclusively (``O_CREAT | O_EXCL``) and
  holding the owner's host and process id. A second job on the folder is refused in one line; a
  lock left by a job that died (its process is gone on this host) is taken over, so a crash never
  leaves a folder stuck.
* :func:`default_name` gives runs that differ different default folders: the spec's stem, the
  command and the first 8 hex digits of the SHA-256 of the job's canonical spec (seed and samples
  included).

Example:
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp()) / "out"
    >>> with hold(d):
    ...     (d / ".lock").exists()
    True
    >>> d.exists()          # nothing was written: the folder it created is gone again
    False
    >>> default_name("q", "volume", '{"seed": 1}') != default_name("q", "volume", '{"seed": 2}')
    True
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import socket
from pathlib import Path
from typing import Iterator

import counting.interrupt as interrupt
from counting.spec.errors import OptionError

LOCK = ".lock"
MANIFEST = "manifest.json"
CHECKPOINT = "checkpoint.npz"


def default_name(stem: str, command: str, spec_json: str) -> str:
    """``<stem>-<command>-<8 hex digits of the spec's hash>``."""
    return f"{stem}-{command}-{hashlib.sha256(spec_json.encode()).hexdigest()[:8]}"


def finished(out: Path) -> bool:
    """The folder holds a finished result (a manifest and no checkpoint)."""
    return (out / MANIFEST).exists() and not (out / CHECKPOINT).exists()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def _owner(lock: Path) -> tuple[str, int] | None:
    try:
        host, pid = lock.read_text().split()
        return host, int(pid)
    except (OSError, ValueError):
        return None


def _acquire(out: Path, option: str) -> Path:
    lock = out / LOCK
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            owner = _owner(lock)
            here = socket.gethostname()
            if owner is not None and owner[0] == here and not _alive(owner[1]):
                lock.unlink(missing_ok=True)  # left by a job that died: take it over
                continue
            who = f"process {owner[1]} on {owner[0]}" if owner else "another job"
            raise OptionError(option, f"a folder no other job is using ({who} holds {lock}; remove it if that "
                              "job is gone)", str(out)) from None
        with os.fdopen(fd, "w") as f:
            f.write(f"{socket.gethostname()} {os.getpid()}\n")
        return lock
    raise OptionError(option, "a folder whose lock can be taken", str(out))


@contextlib.contextmanager
def hold(out: str | Path, *, force: bool = False, resume: bool = False, option: str = "out") -> Iterator[Path]:
    """Lock ``out`` for one job (creating it); refuse a finished result unless ``force`` (and always
    for ``resume``: a finished job has nothing to continue). Errors name the folder ``option``."""
    out = Path(out)
    created = not out.exists()
    taken: list[Path] = []

    def release() -> None:
        for lock in taken:
            lock.unlink(missing_ok=True)
        if created and out.is_dir() and not holds_files(out):  # refused, failed or stopped before writing
            shutil.rmtree(out, ignore_errors=True)

    with interrupt.on_stop(release):  # a signal that stops the job at once releases the folder too
        try:
            try:
                out.mkdir(parents=True, exist_ok=True)
            except OSError as e:  # a path no check could foresee (a full disk, a folder removed meanwhile)
                raise OptionError(option, f"a folder that can be made ({e.strerror})", str(out)) from None
            taken.append(_acquire(out, option))
            if finished(out) and resume:
                raise OptionError("resume", "a folder holding an unfinished job's checkpoint (this one holds a "
                                  "finished result)", str(out))
            if finished(out) and not force:
                raise OptionError(option, "a folder without a finished result ({force} replaces it)", str(out))
            yield out
        finally:
            release()


def remove_empty(folder: str | Path) -> None:
    """Remove the empty folders under ``folder``, deepest first, and ``folder`` itself if it is then
    empty (what a finished run leaves of its work folder once its checkpoints are cleared); a folder
    holding any file is kept, and nothing else is touched.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp()) / "work"
    >>> (d / "a" / "b").mkdir(parents=True); (d / "c").mkdir(); (d / "c" / "kept.txt").write_text("x")
    1
    >>> remove_empty(d); sorted(p.name for p in d.rglob("*"))
    ['c', 'kept.txt']
    """
    folder = Path(folder)
    if not folder.is_dir():
        return
    for sub in sorted((p for p in folder.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):  # not empty, or gone meanwhile
            sub.rmdir()
    with contextlib.suppress(OSError):
        folder.rmdir()


def holds_files(folder: Path) -> bool:
    """Whether any file lies under ``folder`` (empty subfolders do not count)."""
    return any(p.is_file() for p in Path(folder).rglob("*"))


def checkpoints(folder: Path) -> list[Path]:
    """The checkpoints under ``folder`` (its own and its subfolders'): what ``resume`` continues."""
    folder = Path(folder)
    return sorted(folder.rglob(CHECKPOINT)) if folder.is_dir() else []
