"""Checkpoints: one atomically replaced file per job folder, and the rule for reusing a folder.

``checkpoint.npz`` holds the job's identity (its spec as canonical JSON and the job kind), where it
got to (``next``: the next chunk or replicate; a counting pass that stopped inside a chunk also
records ``slice_offset``, the networks of chunk ``next`` already folded in, and for a tally that
takes whole chunks the part of that chunk's results it holds, ``slice_partial.<i>``, made with
batches of ``slice_block``), the seconds spent so far, and the exact state as named arrays. A
folder holding a checkpoint belongs to an unfinished job: a new job refuses it, and ``resume``
continues it only if the identity matches (the error says which part differs).

Example:
    >>> import tempfile, pathlib, numpy as np
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> save(d, "spec-json", "volume", 3, 1.5, {"hits": np.array(7)})
    >>> ck = load(d, "spec-json", "volume")
    >>> ck.next, ck.state["hits"].item()
    (3, 7)
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import NamedTuple, Sequence

import numpy as np

import counting.interrupt as interrupt
from counting.io.files import atomic_write_bytes
from counting.spec.errors import OptionError

CHECKPOINT = "checkpoint.npz"
_RESERVED = ("spec", "kind", "next", "elapsed", "slice_offset", "slice_block")
_PARTIAL = "slice_partial."


class Checkpoint(NamedTuple):
    next: int
    elapsed: float
    state: dict[str, np.ndarray]
    offset: int = 0  # networks of chunk ``next`` already folded in (a pass stopped inside a chunk)
    partial: tuple[np.ndarray, ...] = ()  # a whole-chunk tally's results of those networks (flattened)
    block: int = 0  # the batch size ``partial`` was made with


def path(out: Path) -> Path:
    return Path(out) / CHECKPOINT


def save(out: Path, spec_json: str, kind: str, next_index: int, elapsed: float, state: dict, offset: int = 0,
         partial: Sequence[np.ndarray] = (), block: int = 0) -> None:
    """Replace the folder's checkpoint atomically (``offset``, ``partial``, ``block``: see :class:`Checkpoint`)."""
    clash = set(state) & set(_RESERVED) | {k for k in state if k.startswith(_PARTIAL)}
    if clash:
        raise ValueError(f"state: expected no keys named {sorted(clash)}")
    extra = {f"{_PARTIAL}{i}": np.asarray(a) for i, a in enumerate(partial)}
    if offset:
        extra.update(slice_offset=np.array(offset, np.int64), slice_block=np.array(block, np.int64))
    buf = io.BytesIO()
    np.savez(buf, spec=np.array(spec_json), kind=np.array(kind), next=np.array(next_index, np.int64),
             elapsed=np.array(elapsed), **extra, **state)
    atomic_write_bytes(path(out), buf.getvalue(), during=lambda: interrupt.fault("save", next_index))


def _differs(saved: str, current: str) -> str:
    """The first top-level field (``section.key``) where two spec JSON documents differ."""
    try:
        a, b = json.loads(saved), json.loads(current)
    except ValueError:
        return "spec"
    for sec in sorted(set(a) | set(b)):
        x, y = a.get(sec), b.get(sec)
        if x != y:
            if isinstance(x, dict) and isinstance(y, dict):
                for k in sorted(set(x) | set(y)):
                    if x.get(k) != y.get(k):
                        return f"{sec}.{k} ({x.get(k)!r} in the checkpoint, {y.get(k)!r} now)"
            return sec
    return "spec"


def load(out: Path, spec_json: str, kind: str) -> Checkpoint:
    """The folder's checkpoint, refused (one line) if another spec or job kind wrote it."""
    with np.load(path(out)) as d:
        saved_kind = str(d["kind"])
        if saved_kind != kind:
            raise OptionError("resume", f"a checkpoint of a '{kind}' job in {out}", f"a '{saved_kind}' job")
        saved = str(d["spec"])
        if saved != spec_json:
            raise OptionError("resume", f"a checkpoint made by this same spec in {out}",
                              f"one that differs in {_differs(saved, spec_json)}")
        state = {k: d[k] for k in d.files if k not in _RESERVED and not k.startswith(_PARTIAL)}
        partial = tuple(d[f"{_PARTIAL}{i}"] for i in range(sum(k.startswith(_PARTIAL) for k in d.files)))
        offset = int(d["slice_offset"]) if "slice_offset" in d.files else 0
        block = int(d["slice_block"]) if "slice_block" in d.files else 0
        return Checkpoint(int(d["next"]), float(d["elapsed"]), state, offset, partial, block)


def claim(out: Path | None, resume: bool) -> bool:
    """Check a job may use ``out``; returns whether there is a checkpoint to resume from.

    A folder with a checkpoint and no ``resume`` is refused: it holds an unfinished job.
    """
    if out is None:
        return False
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OptionError("out", "a folder", str(out))
    if path(out).exists() and not resume:
        raise OptionError("out", "a folder without an unfinished job, or {resume} to continue it", str(out))
    return resume and path(out).exists()


def require(out: Path | None, resume: bool) -> None:
    """``resume`` needs a checkpoint to continue from: without one it is an error, not a fresh start."""
    if resume and (out is None or not path(out).exists()):
        raise OptionError("resume", "a folder holding an unfinished job's checkpoint", str(out))


def clear(out: Path | None) -> None:
    """Remove the checkpoint once its result is written."""
    if out is not None:
        path(out).unlink(missing_ok=True)
