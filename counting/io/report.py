"""Reports: any results folder rendered as text (what ``counting report DIR`` prints).

A results folder holds one or more manifests (``manifest.json``, ``manifest_cpu.json``,
``bench_manifest.json``, ...), each listing the files it describes. The report prints, per
manifest, one line of provenance (kind, seed, networks, devices, commit, when, the command), for a
volume the citable line (:mod:`counting.io.citation`), and then each file: parquet tables as markdown (the first ``top`` rows), array archives by name and
shape, figures and notes by name.

Example:
    >>> import tempfile, pathlib, pandas as pd
    >>> from counting.io.files import write_json, write_parquet
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> write_parquet(d / "t.parquet", pd.DataFrame({"a": [1, 2]}))
    >>> write_json(d / "manifest.json", {"kind": "demo", "seed": 0, "files": ["t.parquet"]})
    >>> print(render(d))
    demo: seed 0
    <BLANKLINE>
    t.parquet (2 rows)
    |   a |
    |----:|
    |   1 |
    |   2 |
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from counting.io.citation import citation
from counting.spec.errors import SpecError


def manifests(folder: Path) -> list[Path]:
    """The manifests of a results folder, ``manifest.json`` first."""
    found = sorted(p for p in Path(folder).glob("*.json") if "manifest" in p.stem)
    return sorted(found, key=lambda p: (p.name != "manifest.json", p.name))


def provenance(m: dict) -> str:
    """One line: what ran, with which seed, on how many networks, where, from which commit."""
    parts = [f"{m.get('kind', 'unknown')}:"]
    if m.get("seed") is not None:
        parts.append(f"seed {m['seed']}")
    run = m.get("run") if isinstance(m.get("run"), dict) else {}
    samples = run.get("samples")
    if isinstance(samples, int):
        unit = str(run.get("cost_unit", "networks")).replace("_", " ")
        parts.append(f"{samples:,} {unit}")
    env = m.get("environment") or {}
    if env:
        parts.append(f"{env.get('device_count', '?')} x {env.get('device_kind', '?')}")
        commit = (env.get("git") or {}).get("commit")
        parts.append(f"commit {(commit or 'unknown')[:10]}")
    if m.get("created"):
        parts.append(f"created {m['created']}")
    if m.get("command"):
        parts.append(f"command: {m['command']}")
    return ", ".join([parts[0] + " " + parts[1]] + parts[2:]) if len(parts) > 1 else parts[0]


def _table(df: pd.DataFrame, top: int) -> str:
    head = df.head(top)
    try:
        return head.to_markdown(index=False)
    except ImportError:  # tabulate missing: plain text
        return head.to_string(index=False)


def render_file(path: Path, top: int = 20) -> str:
    """One file of a results folder as text."""
    if not path.exists():
        return f"{path.name}: missing"
    if path.suffix == ".parquet":
        df = pd.read_parquet(path)
        return f"{path.name} ({len(df):,} rows)\n{_table(df, top)}"
    if path.suffix == ".npz":
        with np.load(path) as d:
            shapes = ", ".join(f"{k} {d[k].shape}" for k in list(d.files)[:top])
        return f"{path.name}: arrays {shapes}" + (" ..." if len(d.files) > top else "")
    return f"{path.name}"


def render(folder: str | Path, top: int = 20) -> str:
    """Every manifest of ``folder`` and the files it lists; refuses a folder without a manifest."""
    folder = Path(folder)
    found = manifests(folder) if folder.is_dir() else []
    if not found:
        raise SpecError("dir", "a results folder holding a manifest (manifest.json)", str(folder))
    blocks, listed = [], set()
    for mpath in found:
        try:
            m = json.loads(mpath.read_text())
        except ValueError:
            raise SpecError("dir", f"a readable JSON manifest in {mpath}", "malformed JSON") from None
        lines = [provenance(m) if mpath.name == "manifest.json" else f"[{mpath.name}] {provenance(m)}"]
        cite = citation(m)
        if cite:
            lines.append(f"cite: {cite}")
        for name in m.get("files", []):
            listed.add(name)
            lines.append("")
            lines.append(render_file(folder / name, top))
        blocks.append("\n".join(lines))
    others = sorted(p.name for p in folder.iterdir()
                    if p.is_file() and p.name not in listed and p not in found and not p.name.startswith("."))
    if others:
        blocks.append("also in this folder: " + ", ".join(others))
    return "\n\n".join(blocks)
