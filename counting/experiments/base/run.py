"""Running an experiment: its counting passes, then its tables, then its results folder.

An experiment kind (:class:`Kind`, e.g. ``counting.experiments.llamaizer.EXPERIMENT``) says how to
read its config and cut it into *passes*: one job spec, one parameter source and one
:class:`~counting.engine.tally.Tally` each (an architecture's pass over the prior, say), each
carrying the functions that turn its result into tables and raw counts. This module runs every
pass through :func:`counting.engine.run.run_pass` with a checkpoint subfolder under ``work``
(:mod:`~counting.experiments.base.work`), asks each pass for its tables, concatenates them, writes them (:mod:`~counting.experiments.base.writer`) and only then removes the
checkpoints. A pass's tables are kept beside its checkpoint as soon as they are computed
(:mod:`~counting.experiments.base.cache`), so a run stopped in a later pass and resumed reads them
back instead of computing them again.

With several processes (``cluster``, :mod:`counting.engine.distributed`) every counting pass is
split by chunk: each process counts its part into ``work/<pass>/parts/part-I-of-N`` and the process
that merges (process 0 under a coordinator, or a later merge-only run) merges each pass's parts
into its tally before going on. Counting passes are built before any runs and never depend on an
earlier pass, so the other processes need no merged counts: they run their part of every counting
pass and end. The work that is not a counting pass (rare-event replicates, which may read an
earlier pass's tally), the tables and the results folder are the merging process's alone.

Example:
    >>> from counting.engine.tally import Hits
    >>> from counting.spec.job import sampling_spec
    >>> from counting.spec.model import MLPSpec
    >>> from counting.spec.prior import ScaledPrior
    >>> spec = sampling_spec(MLPSpec(n_inputs=2, widths=()), ScaledPrior(), samples=2048, chunk_size=1024)
    >>> p = Pass("perceptron", spec, Hits(lambda fwd: fwd.output[:, 0] > 0))
    >>> [(name, facts.samples) for name, _, facts in run_passes([p], progress=False)]
    [('perceptron', 2048)]
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

import counting.engine.checkpoint as checkpoint
import counting.engine.distributed as distributed
from counting.engine.run import PassFacts, RunOptions, run_pass
from counting.engine.tally import Tally
import counting.experiments.base.cache as tables_cache
import counting.experiments.base.work as workdirs
from counting.experiments.base.writer import write_results
from counting.spec.errors import OptionError, integer, number, option_value
from counting.spec.estimator import MCSettings
from counting.spec.job import Spec


def no_tables(result: Any, facts: PassFacts) -> dict[str, pd.DataFrame]:
    """A pass whose result enters no table of its own (a census a later pass reads, say)."""
    return {}


def no_counts(result: Any) -> dict[str, np.ndarray]:
    """A pass with no raw counts for ``counts.npz``."""
    return {}


@dataclass(frozen=True)
class Pass:
    """One counting pass: ``spec`` (the engine's: for an enumeration, its chunking), the parameter
    ``source`` (``None``: draws from the prior), the ``tally`` it accumulates and ``about``, what
    describes it (an architecture, say). ``tables(result, facts)`` turns its finished result (the
    tally's ``finalize()``, or the job's result) into tables, and ``counts(result)`` into the raw
    counts of ``counts.npz`` (keys starting with ``<pass name>|``): each pass carries its own.

    Work that is not a counting pass (the replicates of a rare-event estimator) gives ``job``
    instead of a tally: ``job(options) -> (result, facts)``, checkpointing into ``options.out`` by
    :mod:`counting.engine.checkpoint` like a pass, so work folders and resume treat both alike."""

    name: str
    spec: Spec
    tally: Tally | None
    source: Any = None
    about: Any = None
    job: Callable[[RunOptions], tuple[Any, PassFacts]] | None = None
    tables: Callable[[Any, PassFacts], dict[str, pd.DataFrame]] = no_tables
    counts: Callable[[Any], dict[str, np.ndarray]] = no_counts


def keep_tables(config: Any, tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """No table made from several passes: the passes' tables as they are."""
    return tables


def experiment_manifest(config: Any) -> dict:
    """The config as a manifest records it (``to_dict()``), with the seed and key implementation of
    its draws."""
    return {"experiment": config.to_dict(), "estimator": {"seed": config.seed, "key_impl": MCSettings().key_impl}}


@dataclass(frozen=True)
class Kind:
    """An experiment kind, as data: its ``name`` (``[experiment] kind``), ``from_dict(d, name)`` (the
    validated config of a parsed TOML document; one-line ``SpecError`` on bad input),
    ``with_samples(config, samples)`` (every pass with ``samples`` networks, per-pass overrides
    dropped), ``chunk_sizes(config)`` (each pass's chunk size, named, e.g.
    ``experiment.chunk_size``), ``passes(config)`` (each with a fresh tally and its own tables and
    counts), ``write_figures(tables, out, spec)`` (the figures drawn from the stored tables and the
    manifest's ``spec``; file names), ``summary(config, tables)`` (what the
    command line prints), ``combine(config, tables)`` (tables made from several passes' tables) and
    ``manifest_config(config)`` (the config as the manifest's ``spec`` records it)."""

    name: str
    from_dict: Callable[[dict, str], Any]
    with_samples: Callable[[Any, int], Any]
    chunk_sizes: Callable[[Any], dict[str, int]]
    passes: Callable[[Any], Sequence[Pass]]
    write_figures: Callable[[dict[str, pd.DataFrame], Path, Any], list[str]]
    summary: Callable[[Any, dict[str, pd.DataFrame]], str]
    combine: Callable[[Any, dict[str, pd.DataFrame]], dict[str, pd.DataFrame]] = keep_tables
    manifest_config: Callable[[Any], dict] = experiment_manifest


def check_batch_size(chunk_sizes: Mapping[str, int], batch_size: int | None) -> None:
    """``batch_size`` (``None``: the default) divides every chunk size (``chunk_sizes``: what each
    is called, e.g. ``experiment.chunk_size``, and its size), or a one-line ``batch_size`` error."""
    if batch_size is None:
        return
    option_value(integer, batch_size, "batch_size", 1)
    for what, chunk in chunk_sizes.items():
        if chunk % batch_size:
            raise OptionError("batch_size", f"a divisor of {what}={chunk}", batch_size)


def cluster_folders(work: str | Path | None, passes: Sequence[Pass], resume: bool,
                    cluster: distributed.Cluster) -> dict[str, Path]:
    """The pass folders of a process of several (``work`` is required: the parts meet there). Its
    own parts are checked before anything runs: an unfinished one needs ``resume``, and ``resume``
    needs one of its parts (or, for the merging process, a pass) begun or finished."""
    if work is None:
        raise OptionError("work", "a folder every process shares (the parts of each pass meet there)")
    folders = {p.name: workdirs.pass_folder(work, p.name) for p in passes}
    own = [] if cluster.index is None else [
        distributed.part_folder(folders[p.name], cluster.index, cluster.processes) for p in passes if p.job is None]
    if not resume:
        busy = [f for f in own if checkpoint.path(f).exists()]
        if busy:
            raise OptionError("work", "a folder without an unfinished run, or {resume} to continue it", str(busy[0]))
    elif cluster.index is not None:
        begun = [f for f in own if checkpoint.path(f).exists() or (f / distributed.PART_FILE).exists()]
        if not begun and not (cluster.merges and workdirs.unfinished(work, list(folders))):
            raise OptionError("resume", "a {work} folder holding this process's unfinished or finished parts",
                              str(work))
    for f in folders.values():
        f.mkdir(parents=True, exist_ok=True)
    return folders


def run_passes(passes: Sequence[Pass], work: str | Path | None = None, resume: bool = False,
               progress: bool | None = None, batch_size: int | None = None,
               checkpoint_seconds: float = 30.0, progress_seconds: float = 30.0,
               cluster: distributed.Cluster = distributed.Cluster()) -> Iterator[tuple[str, Any, PassFacts]]:
    """Run every pass in order, yielding ``(name, tally result, facts)``; checkpoints go under
    ``work`` (every check happens before the first pass starts). A process of several that does
    not merge yields nothing: it counts its part of every counting pass and skips the rest."""
    check_batch_size({f"the chunk size of {p.name}": p.spec.estimator.chunk_size for p in passes if p.job is None},
                     batch_size)
    option_value(number, checkpoint_seconds, "checkpoint_seconds", positive=False)
    if cluster.multi:
        folders = cluster_folders(work, passes, resume, cluster)
    else:
        folders = workdirs.prepare(work, [p.name for p in passes], resume)
    for p in passes:
        options = RunOptions(out=folders[p.name], resume=resume, progress=progress, batch_size=batch_size,
                             checkpoint_seconds=checkpoint_seconds, progress_seconds=progress_seconds,
                             cluster=cluster)
        if p.job is not None:
            if cluster.merges:
                result, facts = p.job(options)
                yield p.name, result, facts
            continue
        try:
            facts = run_pass(p.spec, p.tally, options, p.source)
        except distributed.PartDone:
            continue
        yield p.name, p.tally.finalize(), facts


def pass_identity(p: Pass, config_json: str) -> str:
    """What a pass's kept tables must match to be reused: its name, spec and tally, and the experiment."""
    return json.dumps([p.name, p.spec.to_json(), "job" if p.tally is None else p.tally.kind, config_json])


def run(kind: Kind, config: Any, out: str | Path | None = None, work: str | Path | None = None,
        resume: bool = False, progress: bool | None = None, batch_size: int | None = None,
        checkpoint_seconds: float = 30.0, progress_seconds: float = 30.0,
        cluster: distributed.Cluster = distributed.Cluster()) -> dict[str, pd.DataFrame]:
    """Every pass of ``config``, then its tables (and, with ``out``, the results folder). A process
    of several that does not merge counts its parts and raises
    :class:`counting.engine.distributed.PartDone`."""
    if out is not None and Path(out).exists() and not Path(out).is_dir():
        raise OptionError("out", "a folder", str(out))
    check_batch_size(kind.chunk_sizes(config), batch_size)
    passes = kind.passes(config)
    by_name = {p.name: p for p in passes}
    parts: dict[str, list[pd.DataFrame]] = {}
    counts: dict[str, np.ndarray] = {}
    facts: dict[str, dict] = {}
    config_json = json.dumps(kind.manifest_config(config), sort_keys=True, default=str)
    for name, result, f in run_passes(passes, work, resume, progress, batch_size, checkpoint_seconds,
                                      progress_seconds, cluster):
        p = by_name[name]
        folder = workdirs.pass_folder(work, name)
        identity = pass_identity(p, config_json)
        kept = tables_cache.load(folder, identity) if resume else None
        if kept is None:  # a resumed run reuses a finished pass's tables instead of computing them again
            kept = p.tables(result, f), p.counts(result), f.as_dict()
            if folder is not None:
                tables_cache.save(folder, identity, *kept)
        pass_tables, pass_counts, facts[name] = kept
        counts.update(pass_counts)
        for k, df in pass_tables.items():
            parts.setdefault(k, []).append(df)
    if not cluster.merges:
        raise distributed.PartDone(Path(work), cluster)
    tables = {k: pd.concat(v, ignore_index=True) for k, v in parts.items()}
    tables = kind.combine(config, tables)  # tables that need several passes
    if out is not None:
        write_results(out, kind.name, kind.manifest_config(config), tables, counts, facts, kind.write_figures)
    workdirs.clear(work, list(by_name))  # every pass is in the tables now: its checkpoint has served
    return tables
