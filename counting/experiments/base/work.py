"""Work folders: one checkpoint subfolder per counting pass, and the rule for reusing them.

Under ``work`` each pass of an experiment (an architecture, say) checkpoints into its own
subfolder ``work/<pass name>``. A work folder holding an unfinished pass (a checkpoint) is refused
unless the run resumes; once the result tables are written every checkpoint has served and is
removed, so the same work folder can take the next run.

Example:
    >>> import tempfile, pathlib
    >>> work = pathlib.Path(tempfile.mkdtemp())
    >>> (prepare(work, ["a", "b"], resume=False)["a"] == work / "a", (work / "b").is_dir())
    (True, True)
    >>> (work / "a" / "checkpoint.npz").write_bytes(b"")
    0
    >>> prepare(work, ["a", "b"], resume=False)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    counting.spec.errors.OptionError: work: expected a folder without an unfinished run, or resume ...
    >>> clear(work, ["a", "b"]); prepare(work, ["a"], resume=False)["a"].name
    'a'
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import counting.engine.checkpoint as checkpoint
import counting.experiments.base.cache as tables_cache
from counting.spec.errors import OptionError


def pass_folder(work: str | Path | None, name: str) -> Path | None:
    """The subfolder of pass ``name`` (``None`` without a work folder)."""
    return None if work is None else Path(work) / name


def unfinished(work: str | Path | None, names: Sequence[str]) -> list[Path]:
    """The pass folders under ``work`` that hold a checkpoint."""
    folders = [pass_folder(work, n) for n in names]
    return [f for f in folders if f is not None and checkpoint.path(f).exists()]


def prepare(work: str | Path | None, names: Sequence[str], resume: bool) -> dict[str, Path | None]:
    """Check ``work`` may take these passes and create their subfolders; returns them by pass name.

    Without ``resume`` a folder with an unfinished pass is refused (``work``), before anything runs;
    with ``resume``, a folder without one is refused too (``resume`` is not a silent fresh start).
    """
    if work is None:
        return {n: None for n in names}
    if Path(work).exists() and not Path(work).is_dir():
        raise OptionError("work", "a folder", str(work))
    busy = unfinished(work, names)
    if busy and not resume:
        raise OptionError("work", "a folder without an unfinished run, or {resume} to continue it", str(busy[0]))
    if resume and not busy:
        raise OptionError("resume", "a {work} folder holding an unfinished run's checkpoints", str(work))
    folders = {n: pass_folder(work, n) for n in names}
    for f in folders.values():
        f.mkdir(parents=True, exist_ok=True)
    return folders


def clear(work: str | Path | None, names: Sequence[str]) -> None:
    """Remove the passes' checkpoints and kept tables (once the results folder holding them is written)."""
    for n in names:
        tables_cache.clear(pass_folder(work, n))
        checkpoint.clear(pass_folder(work, n))
