"""The results folder of an experiment: tables, raw counts, figures and a manifest, all atomic.

``out`` receives ``counts.npz`` (every exact count, named ``<pass>|<...>``), one parquet file per
table, the experiment's figures (drawn from those files: :mod:`counting.experiments.base.redraw`) and
``manifest.json`` (the config, the run facts of every pass,
the software and the files), each through :mod:`counting.io.files` so that no reader ever sees a
half-written file.

Example:
    >>> import tempfile, pathlib, json, numpy as np, pandas as pd
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> m = write_results(out, "demo", {"estimator": {"seed": 1}}, {"volumes": pd.DataFrame({"a": [1]})},
    ...                   {"p|hits": np.array(3)}, {"p": {"samples": 10, "seconds": 0.5}})
    >>> m["files"], json.loads((out / "manifest.json").read_text())["run"]["samples"]
    (['counts.npz', 'volumes.parquet'], 10)
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from counting.experiments.base.redraw import Figures, draw
from counting.io.files import write_json, write_npz, write_parquet
from counting.io.manifest import manifest


def run_facts(passes: Mapping[str, dict]) -> dict:
    """The manifest's ``run``: every pass's facts, and the seconds and networks of all of them."""
    total = sum(r["seconds"] for r in passes.values())
    return {"passes": dict(passes), "seconds": total, "samples": sum(r["samples"] for r in passes.values())}


def write_results(out: str | Path, kind: str, config: dict, tables: Mapping[str, pd.DataFrame],
                  counts: Mapping[str, np.ndarray], passes: Mapping[str, dict],
                  figures: Figures | None = None) -> dict:
    """Write everything into ``out``; returns the manifest. ``config``: the experiment as the
    manifest's ``spec`` records it (its ``estimator`` gives the seed and key implementation),
    ``passes``: each pass's facts (:meth:`counting.engine.run.PassFacts.as_dict`). The figures are
    drawn from the tables as written and the config as the manifest records it
    (:func:`counting.experiments.base.redraw.draw`), as ``counting report DIR --figures`` redraws them."""
    out = Path(out)
    write_npz(out / "counts.npz", dict(counts))
    files = ["counts.npz"]
    for name, df in tables.items():
        write_parquet(out / f"{name}.parquet", df)
        files.append(f"{name}.parquet")
    if figures is not None:
        files += draw(figures, out, list(tables), config)
    run = run_facts(passes)
    m = manifest(kind, config, run, {"seconds": run["seconds"]}, files)
    write_json(out / "manifest.json", m)
    return m
