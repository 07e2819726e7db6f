"""An experiment's figures drawn from its stored tables, with the provenance stamped into each PNG.

A figure is a function of the tables a run wrote (parquet files in the results folder), the run's
settings as the manifest records them (its ``spec``: the prior, the network, the sample sizes) and
the figure code. :func:`draw` is the one way figures are made: the run calls it once its tables
are on disk, and ``counting report DIR --figures`` calls it on a stored results folder; both read the
tables back from the parquet files, so a figure never depends on anything a stored folder lacks.

Each PNG carries two digests in its metadata (:func:`counting.io.figures.read_stamp`):

* ``Counting-Code``: :func:`figure_code`, the SHA-256 of the figure code: the kind's
  ``write_figures`` function, every module of its package whose name ends in ``figures``,
  :mod:`counting.io.figures`, and each function or class of the package those modules import from
  elsewhere (``formula``, ``path_length_pmf``, ...);
* ``Counting-Inputs``: :func:`figure_inputs`, the SHA-256 of the tables' files and of the spec.

A figure whose digests differ from what the current code and the folder's tables give was drawn by
other code or from other tables (``tests/test_figures.py`` checks every PNG under ``results/``).

Example:
    >>> import tempfile, pathlib, pandas as pd
    >>> from counting.io.files import write_parquet
    >>> from counting.io.figures import plt, read_stamp, save
    >>> def write_figures(tables, out, spec=None):
    ...     fig, ax = plt.subplots()
    ...     ax.plot(tables["t"]["a"])
    ...     return [save(fig, out / "t.png")]
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> write_parquet(out / "t.parquet", pd.DataFrame({"a": [1, 2]}))
    >>> draw(write_figures, out, ["t"], {"seed": 0})
    ['t.png']
    >>> read_stamp(out / "t.png") == stamp(write_figures, out, ["t"], {"seed": 0})
    True
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import pkgutil
import sys
from pathlib import Path
from typing import Any, Callable

import pandas as pd

import counting.io.figures as io_figures

# Draws the experiment's figures from its tables (and the spec) into a folder; returns the file names.
Figures = Callable[[dict[str, pd.DataFrame], Path, Any], list[str]]

CODE, INPUTS = "Counting-Code", "Counting-Inputs"


def figure_modules(write_figures: Callable) -> list:
    """The modules whose source is figure code for ``write_figures``: those of its package named
    ``*figures`` and :mod:`counting.io.figures`."""
    mod = sys.modules[write_figures.__module__]
    pkg = mod if hasattr(mod, "__path__") else sys.modules[mod.__name__.rpartition(".")[0]]
    names = sorted(m.name for m in pkgutil.iter_modules(pkg.__path__) if m.name.endswith("figures"))
    return [importlib.import_module(f"{pkg.__name__}.{n}") for n in names] + [io_figures]


def figure_code(write_figures: Callable) -> str:
    """SHA-256 of the figure code of ``write_figures`` (see the module's docstring)."""
    modules = figure_modules(write_figures)
    own = {m.__name__ for m in modules}
    h = hashlib.sha256(inspect.getsource(write_figures).encode())
    for m in modules:
        h.update(m.__name__.encode() + b"\0" + inspect.getsource(m).encode())
    for m in modules:
        for name, obj in sorted(vars(m).items()):
            obj = inspect.unwrap(obj) if callable(obj) else obj
            where = getattr(obj, "__module__", None) or ""
            if (inspect.isfunction(obj) or inspect.isclass(obj)) and where.startswith("counting.") and where not in own:
                h.update(f"{where}.{obj.__qualname__}\0".encode() + inspect.getsource(obj).encode())
    return h.hexdigest()


def normal_spec(spec: Any) -> Any:
    """``spec`` as it reads back from the manifest's JSON (tuples become lists, and so on)."""
    return json.loads(json.dumps(spec))


def figure_inputs(folder: str | Path, tables: list[str], spec: Any) -> str:
    """SHA-256 of the named tables' parquet files in ``folder`` and of ``spec`` (as JSON)."""
    h = hashlib.sha256()
    for name in sorted(tables):
        h.update(name.encode() + b"\0" + hashlib.sha256((Path(folder) / f"{name}.parquet").read_bytes()).digest())
    h.update(json.dumps(normal_spec(spec), sort_keys=True).encode())
    return h.hexdigest()


def stamp(write_figures: Callable, folder: str | Path, tables: list[str], spec: Any) -> dict[str, str]:
    """The metadata :func:`draw` writes into each figure (and a fresh figure carries)."""
    return {CODE: figure_code(write_figures), INPUTS: figure_inputs(folder, tables, spec)}


def draw(write_figures: Figures, folder: str | Path, tables: list[str], spec: Any,
         out: str | Path | None = None) -> list[str]:
    """Read the named tables from ``folder``'s parquet files and draw ``write_figures``' figures
    from them and ``spec`` (the manifest's) into ``out`` (default: ``folder``), each stamped
    (:func:`stamp`); returns the names of the files written."""
    folder = Path(folder)
    data = {name: pd.read_parquet(folder / f"{name}.parquet") for name in tables}
    with io_figures.stamped(stamp(write_figures, folder, tables, spec)):
        return write_figures(data, Path(out) if out is not None else folder, normal_spec(spec))
