"""Experiments: TOML files that run counting passes and write tables, raw counts, figures and a manifest.

``[experiment] kind`` (default ``"llamaizer"``) picks an entry of :data:`EXPERIMENTS`; everything
else is that kind's. This module is what the command line calls: :func:`load_experiment` /
:func:`parse_experiment` (a validated config, or a one-line
:class:`~counting.spec.errors.SpecError`), :func:`with_samples` (a smaller or larger run),
:func:`check_batch_size`, :func:`run_experiment` and :func:`summary`; and :func:`redraw_figures`
(what ``counting report DIR --figures`` calls): the figures of stored results folders drawn again
from their tables (:mod:`counting.experiments.base.redraw`).

Adding an experiment kind means one subpackage whose ``EXPERIMENT`` is a
:class:`counting.experiments.base.run.Kind` (its name; ``from_dict`` giving a config dataclass with a
``kind`` class attribute; ``with_samples``, ``chunk_sizes``, ``passes``, each pass with its own
:class:`~counting.engine.tally.Tally` and its own ``tables`` and ``counts`` functions;
``write_figures`` (from the stored tables and the manifest's ``spec``), ``summary``; optionally ``combine``, tables made from several passes' tables,
and ``manifest_config``) and one line in :data:`EXPERIMENTS`; work folders, resume, the writer and
the share columns are :mod:`counting.experiments.base`'s.

Example:
    >>> exp = parse_experiment('''
    ... [experiment]
    ... n_inputs = 3
    ... samples = 2048
    ... chunk_size = 1024
    ... [[architecture]]
    ... widths = [4]
    ... [[target]]
    ... name = "and01"
    ... truth_table = "0x88"
    ... [[family]]
    ... kind = "ignored_bits"
    ... ''')
    >>> res = run_experiment(with_samples(exp, 1024), progress=False)
    >>> sorted(res), int(res["volumes"]["samples"][0])
    (['cost', 'discard', 'share', 'units', 'volumes'], 1024)
    >>> parse_experiment('[experiment]\\nkind = "llamas"')
    Traceback (most recent call last):
    ...
    counting.spec.errors.SpecError: experiment.kind: expected one of ['llamaizer', 'depth', 'simplicity', 'training', 'llama-rare', 'readings', 'rare-crosscheck', 'readout-check', 'generalization'], got 'llamas'
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

import counting.experiments.depth as depth
import counting.experiments.generalization as generalization
import counting.experiments.llama_rare as llama_rare
import counting.experiments.llamaizer as llamaizer
import counting.experiments.rare_crosscheck as rare_crosscheck
import counting.experiments.readings as readings
import counting.experiments.readout_check as readout_check
import counting.experiments.simplicity as simplicity
import counting.experiments.training as training
import counting.experiments.base.redraw as redraw
import counting.experiments.base.run as runner
from counting.experiments.base.config import DEFAULT_KIND, experiment_kind, experiment_table, read_file, read_toml
from counting.io.files import atomic_write_bytes
from counting.spec.errors import SpecError

EXPERIMENTS: dict[str, runner.Kind] = {k.name: k for k in (llamaizer.EXPERIMENT, depth.EXPERIMENT,
                                                               simplicity.EXPERIMENT, training.EXPERIMENT,
                                                               llama_rare.EXPERIMENT, readings.EXPERIMENT,
                                                               rare_crosscheck.EXPERIMENT, readout_check.EXPERIMENT,
                                                               generalization.EXPERIMENT)}
RENAMED = {"readout": "readings"}  # former experiment kinds, named in the error an old file gets

__all__ = ["EXPERIMENTS", "check_batch_size", "figure_folders", "figure_stamp", "load_experiment", "parse_experiment",
           "redraw_figures", "run_experiment", "summary", "with_samples"]


def kind_of(config: Any) -> runner.Kind:
    """The experiment kind a config belongs to (its ``kind`` class attribute)."""
    kind = getattr(config, "kind", None)
    if kind not in EXPERIMENTS:
        raise SpecError("experiment.kind", f"one of {list(EXPERIMENTS)}", kind)
    return EXPERIMENTS[kind]


def parse_experiment(text: str, name: str = DEFAULT_KIND) -> Any:
    """Validate an experiment TOML document; ``name`` names it (a file's stem)."""
    d = read_toml(text)
    old = experiment_table(d).get("kind")
    if isinstance(old, str) and old in RENAMED:
        raise SpecError("experiment.kind", f"one of {list(EXPERIMENTS)} ({old!r} is now {RENAMED[old]!r})", old)
    return EXPERIMENTS[experiment_kind(d, tuple(EXPERIMENTS))].from_dict(d, name)


def load_experiment(path: str | Path) -> Any:
    """Read and validate an experiment file (named by its stem)."""
    return parse_experiment(read_file(path), name=Path(path).stem)


def with_samples(config: Any, samples: int) -> Any:
    """``config`` with ``samples`` networks in every pass, per-pass overrides dropped (``--samples``)."""
    return kind_of(config).with_samples(config, samples)


def check_batch_size(config: Any, batch_size: int | None) -> None:
    """A one-line ``batch_size`` error unless ``batch_size`` (``None``: the default) divides the
    chunk size of every pass (``experiment.chunk_size``, or an enumeration's chunk)."""
    runner.check_batch_size(kind_of(config).chunk_sizes(config), batch_size)


def run_experiment(config: Any, out: str | Path | None = None, work: str | Path | None = None, resume: bool = False,
                   progress: bool | None = None, batch_size: int | None = None,
                   checkpoint_seconds: float = 30.0, progress_seconds: float = 30.0,
                   cluster: Any = None) -> dict[str, pd.DataFrame]:
    """Every pass of ``config``, then its tables (and, with ``out``, parquet files, raw counts,
    figures and a manifest, written atomically). ``work`` holds one checkpoint subfolder per pass:
    a work folder with an unfinished pass needs ``resume``; checkpoints are removed once the
    tables are written. ``progress``: a bar (``None``: on a terminal, plain lines every
    ``progress_seconds`` in a log); ``batch_size``: networks evaluated at once (changes no count);
    ``cluster``: this process's place in a job of several (:mod:`counting.engine.distributed`)."""
    extra = {} if cluster is None else {"cluster": cluster}
    return runner.run(kind_of(config), config, out=out, work=work, resume=resume, progress=progress,
                      batch_size=batch_size, checkpoint_seconds=checkpoint_seconds, progress_seconds=progress_seconds,
                      **extra)


def summary(config: Any, result: dict[str, pd.DataFrame]) -> str:
    """What ``counting run`` prints: for the llamaizer, the volumes with 3 decimals."""
    return kind_of(config).summary(config, result)


def _figure_manifest(folder: Path) -> dict | None:
    """The manifest of ``folder`` when it is an experiment's results folder with figures, else None."""
    path = Path(folder) / "manifest.json"
    if not path.is_file():
        return None
    m = json.loads(path.read_text())
    files = m.get("files") or []
    if m.get("kind") not in EXPERIMENTS or not any(str(f).endswith(".png") for f in files):
        return None
    return m


def figure_folders(root: str | Path) -> list[Path]:
    """``root`` and every folder under it that holds an experiment's results with figures (its
    ``manifest.json`` names an experiment kind and lists a ``.png``), sorted."""
    root = Path(root)
    found = [p.parent for p in sorted(root.rglob("manifest.json")) if _figure_manifest(p.parent) is not None]
    return sorted(set(found))


def _tables(m: dict) -> list[str]:
    return [str(f)[: -len(".parquet")] for f in m.get("files", []) if str(f).endswith(".parquet")]


def figure_stamp(folder: str | Path) -> dict[str, str]:
    """What every figure of a results folder carries when the current code drew it from the folder's
    tables (:func:`counting.experiments.base.redraw.stamp`)."""
    m = _figure_manifest(Path(folder))
    if m is None:
        raise SpecError("dir", "an experiment's results folder with figures (manifest.json listing a .png)",
                        str(folder))
    return redraw.stamp(EXPERIMENTS[m["kind"]].write_figures, folder, _tables(m), m.get("spec"))


def redraw_figures(folder: str | Path) -> tuple[list[str], list[str]]:
    """Draw the figures of a stored results folder again from its tables and its manifest's ``spec``
    (no number changes; nothing but the figures is written). Only the files the manifest lists are
    replaced: returns their names, and the names of those the current code draws that the manifest
    does not list (left out: the folder was written by other code and wants a new run)."""
    folder = Path(folder)
    m = _figure_manifest(folder)
    if m is None:
        raise SpecError("dir", "an experiment's results folder with figures (manifest.json listing a .png)",
                        str(folder))
    with tempfile.TemporaryDirectory() as tmp:
        names = redraw.draw(EXPERIMENTS[m["kind"]].write_figures, folder, _tables(m), m.get("spec"), out=tmp)
        kept = [n for n in names if n in m["files"]]
        for name in kept:
            atomic_write_bytes(folder / name, (Path(tmp) / name).read_bytes())
    return kept, [n for n in names if n not in m["files"]]
