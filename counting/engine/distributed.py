"""Many processes, one job: which chunks each process counts, its part folder, and the merge.

A job of ``N`` processes (hosts, say; each uses its own local devices) is cut into ``N``
contiguous ranges of chunk ids: process ``I`` counts chunks ``[I * T // N, (I + 1) * T // N)`` of
the ``T`` chunks (:func:`part_range`). Contiguous ranges keep a process's steps the consecutive
chunk ids the single-process pass takes, and a part is described by two numbers, so the merge can
check that the parts tile ``[0, T)`` exactly. Process ``I`` checkpoints into its own folder
``OUT/parts/part-I-of-N/`` (so it resumes on its own) and, once its range is done, writes
``part.npz`` there: its tally's exact state, the job's identity (spec, tally kind, chunks,
``N``), its range and the facts of its pass. The merge (:func:`merge_states`) adds the states:
a sum of integer arrays for every tally but the census, whose parts are merged as censuses; the
result is exactly the single-process count, since every chunk's networks depend only on the seed
and the chunk id.

How processes are told (:func:`cluster_from`, flags first, then the environment):
``--coordinator HOST:PORT`` / ``COUNTING_COORDINATOR``, ``--num-processes N`` /
``COUNTING_NUM_PROCESSES``, ``--process-id I`` / ``COUNTING_PROCESS_ID``.

* With a coordinator, the processes run together under ``jax.distributed`` (:func:`initialize`);
  process 0 waits for every part in the shared ``OUT`` folder, merges them and finishes the job
  (the result files, an experiment's later work); the others end after their part (``jax``
  holds them at shutdown until process 0 is done).
* Without one, each process (a separate job, at any time) writes its part and ends;
  ``counting merge OUT`` (or the same command with ``--num-processes N`` and no
  ``--process-id``) merges the parts when all are written.

Example:
    >>> [part_range(10, i, 3) for i in range(3)]
    [range(0, 3), range(3, 6), range(6, 10)]
    >>> c = cluster_from(None, 2, 1, {})
    >>> (c.processes, c.index, c.merges, c.writes)
    (2, 1, False, False)
    >>> cluster_from(None, None, 2, {})   # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    counting.spec.errors.OptionError: processes: expected the number of processes (with index)
    >>> merge_states(None, [{"hits": np.array(3)}, {"hits": np.array(4)}])["hits"].item()
    7
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping, NamedTuple, Sequence

import numpy as np

from counting.engine.census import Census
from counting.engine.tally import CensusTally
from counting.io.files import atomic_write_bytes, write_json
from counting.io.folders import finished, hold
from counting.spec.errors import OptionError, SpecError

ENV_COORDINATOR = "COUNTING_COORDINATOR"
ENV_PROCESSES = "COUNTING_NUM_PROCESSES"
ENV_PROCESS_ID = "COUNTING_PROCESS_ID"
PARTS = "parts"
PART_FILE = "part.npz"
JOB_FILE = "job.json"
SHUTDOWN_SECONDS = 7 * 24 * 3600  # jax holds finished processes at shutdown until process 0 is done
POLL_SECONDS = 1.0


@dataclass(frozen=True)
class Cluster:
    """This process's place in a job: ``processes`` in all, its ``index`` (``None``: merge the
    parts only, count none) and the ``coordinator`` (``HOST:PORT``; ``None``: separate jobs)."""

    processes: int = 1
    index: int | None = 0
    coordinator: str | None = None

    @property
    def multi(self) -> bool:
        return self.processes > 1

    @property
    def merges(self) -> bool:
        """This process merges the parts and finishes the job."""
        return not self.multi or self.index is None or (self.index == 0 and self.coordinator is not None)

    @property
    def writes(self) -> bool:
        """This process writes the job's result (the one that merges)."""
        return self.merges


class PartDone(Exception):
    """A process that does not merge has written its part: the job goes on elsewhere."""

    def __init__(self, folder: Path, cluster: Cluster):
        self.folder, self.cluster = Path(folder), cluster
        super().__init__(f"part {cluster.index} of {cluster.processes} written in {folder}/")


class Part(NamedTuple):
    """A finished part: its chunk range, the facts of its pass (a dict) and its tally's state."""

    chunks: range
    facts: dict
    state: dict[str, np.ndarray]


def _int_setting(env: str, value, environ: Mapping[str, str]) -> int | None:
    if value is None and environ.get(env, "") != "":
        text = environ[env]
        if not text.strip().lstrip("-").isdigit():
            raise SpecError(env, "an integer", text)
        return int(text)
    return value


def _check_address(address: str) -> None:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise OptionError("coordinator", "HOST:PORT with a port from 1 to 65535", address)


def cluster_from(coordinator: str | None, processes: int | None, index: int | None,
                 environ: Mapping[str, str]) -> Cluster:
    """The cluster of the arguments (``None``: unset), else of ``COUNTING_*`` in ``environ``; one-line
    errors for a process id out of range, a coordinator or process id without a process count, a
    coordinator without a process id, or a malformed address."""
    coordinator = coordinator if coordinator is not None else (environ.get(ENV_COORDINATOR) or None)
    processes = _int_setting(ENV_PROCESSES, processes, environ)
    index = _int_setting(ENV_PROCESS_ID, index, environ)
    if processes is None:
        if index is not None:
            raise OptionError("processes", "the number of processes (with {index})")
        if coordinator is not None:
            raise OptionError("processes", "the number of processes (with {coordinator})")
        return Cluster()
    if processes < 1:
        raise OptionError("processes", "a positive integer", processes)
    if index is not None and not 0 <= index < processes:
        raise OptionError("index", f"an integer from 0 to {processes - 1} ({{processes}} {processes})", index)
    if coordinator is not None:
        _check_address(coordinator)
        if index is None:
            raise OptionError("index", "this process's id (with {coordinator})")
    if processes == 1:
        return Cluster()
    return Cluster(processes, index, coordinator)


def initialize(cluster: Cluster) -> None:
    """Join the ``jax.distributed`` job of a coordinated cluster (before any device is used) and
    start this process's backend."""
    if cluster.multi and cluster.coordinator is not None:
        import jax

        jax.distributed.initialize(cluster.coordinator, cluster.processes, cluster.index,
                                   shutdown_timeout_seconds=SHUTDOWN_SECONDS)
        # every process starts its backend now, together: a backend started later (or never, by a
        # process that only merges finished parts) waits for the others' device topology
        jax.devices()


def part_range(total: int, index: int, processes: int) -> range:
    """The chunk ids process ``index`` of ``processes`` counts (contiguous, sizes differing by at most one)."""
    return range(index * total // processes, (index + 1) * total // processes)


def parts_folder(out: Path) -> Path:
    return Path(out) / PARTS


def part_folder(out: Path, index: int, processes: int) -> Path:
    """``OUT/parts/part-I-of-N``: process ``I``'s checkpoint and finished part."""
    return parts_folder(out) / f"part-{index}-of-{processes}"


def identity(spec_json: str, kind: str, total: int, processes: int) -> dict:
    """What every part of one job shares (a part of another job is never merged into it)."""
    return {"spec": spec_json, "kind": kind, "chunks": total, "processes": processes}


def write_part(folder: Path, ident: dict, chunks: range, facts: dict, state: Mapping[str, np.ndarray]) -> None:
    """``part.npz`` (atomically): the identity, range and facts as JSON under ``part``, and the state."""
    if "part" in state:
        raise ValueError("state: expected no key named 'part'")
    meta = {**ident, "first": chunks.start, "stop": chunks.stop, "facts": facts}
    buf = io.BytesIO()
    np.savez(buf, part=np.array(json.dumps(meta, sort_keys=True)), **state)
    atomic_write_bytes(Path(folder) / PART_FILE, buf.getvalue())


def read_part(folder: Path, ident: dict) -> Part | str:
    """The finished part in ``folder``, or why not (missing, or another job's)."""
    path = Path(folder) / PART_FILE
    if not path.exists():
        return "missing"
    with np.load(path) as d:
        meta = json.loads(str(d["part"]))
        differs = [k for k in ident if meta.get(k) != ident[k]]
        if differs:
            return f"made by another job (its {differs[0]} differs)"
        return Part(range(meta["first"], meta["stop"]), meta["facts"], {k: d[k] for k in d.files if k != "part"})


def collect_parts(out: Path, ident: dict, wait: bool) -> list[Part]:
    """Every part of the job in ``out`` (waiting for them with ``wait``, else a one-line error for
    the first one missing); checks that their ranges tile the job's chunks."""
    n = ident["processes"]
    parts: dict[int, Part] = {}
    said = False
    while True:
        why = {}
        for i in range(n):
            if i not in parts:
                got = read_part(part_folder(out, i, n), ident)
                if isinstance(got, Part):
                    parts[i] = got
                else:
                    why[i] = got
        if not why:
            break
        i = min(why)
        if not wait:
            raise OptionError("parts", f"every part of the job in {parts_folder(out)} (run the missing one with "
                              f"{{processes}} {n} {{index}} {i})", f"part {i}: {why[i]}")
        if not said:
            sys.stderr.write(f"counting: waiting for {len(why)} of {n} parts in {parts_folder(out)}/\n")
            said = True
        time.sleep(POLL_SECONDS)
    expect = [part_range(ident["chunks"], i, n) for i in range(n)]
    for i in range(n):
        if parts[i].chunks != expect[i]:
            raise SpecError("parts", f"part {i} to count chunks {expect[i]}", parts[i].chunks)
    return [parts[i] for i in range(n)]


def merge_states(tally, states: Sequence[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """One state holding every part's counts: a census merge for a :class:`CensusTally` (or a tally
    with its own ``merge_states``), otherwise the sum of each named integer array (a name absent
    from a part counts zero there)."""
    if hasattr(tally, "merge_states"):
        return tally.merge_states(states)
    if isinstance(tally, CensusTally):
        merged = Census.empty(tally.n, tally.words)
        for s in states:
            merged = merged.merge(Census(np.asarray(s["tables"], np.uint32).reshape(-1, tally.words),
                                         np.asarray(s["counts"], np.int64), tally.n))
        return {"tables": merged.tables, "counts": merged.counts}
    out: dict[str, np.ndarray] = {}
    for s in states:
        for k, v in s.items():
            v = np.asarray(v)
            if not np.issubdtype(v.dtype, np.integer):
                raise TypeError(f"state {k}: expected exact integer counts to sum, got {v.dtype}")
            out[k] = out[k] + v.astype(np.int64) if k in out else v.astype(np.int64)
    return out


def write_job(out: Path, cluster: Cluster, command: str, spec_dict: dict) -> None:
    """``OUT/parts/job.json``: what ``counting merge OUT`` needs to finish the job."""
    if cluster.multi and cluster.index is not None:
        spec = {k: v for k, v in spec_dict.items() if v is not None}
        target = spec.get("target")
        if target is not None:  # as a spec file gives it: a name, or else the truth table
            spec["target"] = {"name": target["name"]} if "name" in target else {"truth_table": target["truth_table"]}
        path = parts_folder(out) / JOB_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json(path, {"command": command, "spec": spec, "processes": cluster.processes})


def read_job(out: Path) -> dict:
    """The job ``counting merge OUT`` finishes (a one-line error if ``OUT`` holds no parts)."""
    path = parts_folder(out) / JOB_FILE
    if not path.exists():
        raise OptionError("out", f"a folder holding the parts of a volume or census job ({JOB_FILE} in parts/)",
                          str(out))
    return json.loads(path.read_text())


@contextlib.contextmanager
def held(out: Path, cluster: Cluster, force: bool = False, resume: bool = False) -> Iterator[Path]:
    """Lock what this process writes: the result folder for the process that merges (or a single
    process), its own part folder for the others (who refuse a finished result without ``force``
    too, so that no process starts when process 0 would refuse)."""
    out = Path(out)
    if cluster.merges:
        with hold(out, force=force, resume=resume):
            yield out
        return
    if out.is_dir() and finished(out) and not force:
        raise OptionError("out", "a folder without a finished result ({force} replaces it)", str(out))
    folder = part_folder(out, cluster.index, cluster.processes)
    with hold(folder, force=True):
        yield out
