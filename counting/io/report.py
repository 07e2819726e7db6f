"""Reports: any results folder rendered as text (what ``counting report DIR`` prints).

A results folder holds one or more manifests (``manifest.json``, ``manifest_cpu.json``,
``bench_manifest.json``, ...), each listing the files it describes. The report prints, per
manifest, one line of provenance (kind, seed, networks, devices, commit, when, the command as run
and the command that reproduces the folder), for a volume the citable line
(:mod:`counting.io.citation`), and then each file: parquet tables as markdown (the first ``top``
rows), array archives by name and shape, figures and notes by name. Tables that no manifest lists
are printed too, and a subfolder holding a manifest of its own is rendered in full under its name.

It also holds what the command line prints of a job's result (:func:`volume_text`,
:func:`census_text`, :func:`complexity_lines`): the command line only parses, dispatches and prints.

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
    >>> from counting.estimators.result import binomial_estimate
    >>> from counting.spec import parse_spec
    >>> spec = parse_spec("[model]\\nn_inputs=3\\nwidths=[8]\\n[target]\\nname='majority'", need_target=True)
    >>> print("\\n".join(volume_lines(spec, binomial_estimate(0, 1000, seconds=1.0), "runs/q")))
    target 0xe8 on 3-8-1 mlp, relu, gaussian prior (sigma_w=1, sigma_b=1)
    volume: no hits in 1,000 networks; 95% upper bound 10^-2.524 = 0.00299
    seed 0, 1.0 s, results in runs/q/
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from counting.estimators.result import Estimate
from counting.io.citation import citation
from counting.models import describe_model
from counting.spec.errors import SpecError
from counting.spec.prior import describe_prior


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
    if m.get("reproduce"):
        parts.append(f"reproduce: {m['reproduce']}")
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
    others = sorted(p for p in folder.iterdir()
                    if p.is_file() and p.name not in listed and p not in found and not p.name.startswith("."))
    tables = [p for p in others if p.suffix in (".parquet", ".npz")]  # every table, listed by a manifest or not
    if tables:
        shown = [render_file(p, top) for p in tables]
        blocks.append("\n\n".join(["in this folder, not listed by a manifest:", *shown]))
    rest = [p.name for p in others if p not in tables]
    subfolders = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    rest += [f"{p.name}/" for p in subfolders if not manifests(p)]
    if rest:
        blocks.append("also in this folder: " + ", ".join(rest))
    for sub in subfolders:  # a results folder inside this one: rendered in full, under its name
        if manifests(sub):
            blocks.append(f"== {sub.name}/ ==\n" + render(sub, top))
    return "\n\n".join(blocks)


def describe(spec) -> str:
    """The spec's networks in words: the model and the prior."""
    return f"{describe_model(spec.model)}, {describe_prior(spec.prior)}"


def _fmt(x) -> str:
    return "null" if x is None else f"{x:.3f}"


def volume_lines(spec, est: Estimate, out) -> list[str]:
    """What ``counting volume`` prints for an estimate, by its :attr:`~Estimate.case`."""
    k = est.estimator
    what = "the infinite-width (NNGP) limit of " if k == "nngp" else ""
    lines = [f"target {spec.target.hex} on {what}{describe(spec)}"]
    ci = f"95% CI 10^[{_fmt(est.ci95[0])}, {_fmt(est.ci95[1])}]"
    if est.case == "exact":
        lines.append(f"volume {est.volume:.6g} = 10^{_fmt(est.log10_volume)} exactly ({est.hits:,} of "
                     f"{est.samples:,} configurations)")
    elif est.case == "bound":
        lines.append(f"volume: no hits in {est.samples:,} networks; 95% upper bound 10^{_fmt(est.ci95[1])}"
                     f" = {10 ** est.ci95[1]:.3g}")
    elif est.counts_hits:  # three significant figures, as the citable line gives the value
        lines.append(f"volume {est.volume:.3g} = 10^{_fmt(est.log10_volume)}, {ci}  ({est.hits:,} hits / "
                     f"{est.samples:,} networks)")
    else:
        unit = est.cost_unit.replace("_", " ")
        lines.append(f"volume {est.volume:.3g} = 10^{_fmt(est.log10_volume)}, {ci}  ({k}, {est.samples:,} {unit})")
    if "khat" in est.diagnostics:  # a mean of heavy-tailed terms: how far it is trusted
        d = est.diagnostics
        lines.append(f"Pareto k-hat {d['khat']:.2f} (reliable below {d['khat_threshold']:.2f}), largest network "
                     f"{d['max_share']:.1%} of the sum, effective sample size {d['ess']:,.0f}")
    if est.diagnostics.get("warning"):
        lines.append(f"warning: {est.diagnostics['warning']}")
    seed = "" if est.seed is None else f"seed {est.seed}, "
    lines.append(f"{seed}{est.seconds:.1f} s, results in {out}/")
    return lines


def volume_text(spec, est: Estimate, out: Path, as_json: bool = False) -> str:
    """What ``counting volume`` (and ``counting merge`` of a volume) prints once the job has written
    its manifest in ``out``: one JSON object (the estimate's keys, the target, the folder, the
    citable line and the command that reproduces it), or :func:`volume_lines` and ``cite: ...``."""
    m = json.loads((Path(out) / "manifest.json").read_text())
    cite = citation(m)
    if as_json:
        return json.dumps({**est.as_dict(), "target": spec.target.hex, "target_name": spec.target.name,
                           "out": str(out), "citation": cite, "reproduce": m.get("reproduce")})
    return "\n".join([*volume_lines(spec, est, out), f"cite: {cite}"])


def training_result(spec, out: Path | None) -> dict:
    """S and how the training runs went, from the manifest of a job with [training] (else {})."""
    if getattr(spec, "training", None) is None or out is None:
        return {}
    r = json.loads((Path(out) / "manifest.json").read_text())["result"]
    return {k: r[k] for k in ("train_points", "kept", "training") if k in r}


def training_lines(spec, t: dict) -> list[str]:
    """The lines of :func:`training_result`: the networks kept, and how the training runs went."""
    m = len(t["train_points"])
    if "training" not in t:
        return [f"posterior P_B(f | S) by rejection: {t['kept']:,} networks agree with the target on S ({m} points)"]
    f = t["training"]
    lines = [f"trained on S ({m} points, {spec.training.optimizer} lr {spec.training.learning_rate:g}): "
             f"{f['fitted']:,} of {f['runs']:,} runs fitted S ({100 * (f['fitted_share'] or 0):.1f}%), "
             f"mean steps {_fmt(f['mean_steps'])}, {f['not_fitted']:,} not fitted within {spec.training.max_steps:,} steps"]
    if spec.training.condition_on_train:
        lines.append(f"counted: the {t['kept']:,} trained networks that agree with the target on S (P_SGD(f | S))")
    return lines


def census_text(spec, census, facts, out: Path, top: int, as_json: bool = False) -> str:
    """What ``counting census`` (and ``counting merge`` of a census) prints: one JSON object, or the
    census in words, its ``top`` most frequent functions and where the table is."""
    head = census.top(top)
    seed = getattr(spec.estimator, "seed", None)
    trained = training_result(spec, out)
    if as_json:
        return json.dumps({"estimator": "census", "samples": census.samples, "distinct": census.distinct,
                           "seconds": facts.seconds, "seed": seed, "out": str(out),
                           "top": head.to_dict(orient="records"), **trained})
    what = "exact enumeration of" if census.exact else "census of"
    unit = "configurations" if census.exact else "networks"
    lines = [f"{what} {census.samples:,} {unit}: {describe(spec)}",
             f"{census.distinct:,} distinct functions; seed {seed}, {facts.seconds:.1f} s"]
    if trained:
        lines += training_lines(spec, trained)
    lines += [head.to_string(index=False, float_format=lambda v: f"{v:.4g}"),
              f"results in {out}/ (census.parquet: every function with its count, rank and 95% CI)"]
    return "\n".join(lines)


def complexity_lines(m: dict, n: int) -> list[str]:
    """What ``counting complexity TABLE --n N`` prints of :func:`counting.boolean.complexity.measures`."""
    lines = [f"{m['truth_table']} on {n} bits"]
    for key, value in m.items():
        if key != "truth_table":
            if value is None:
                shown = "n/a (enumerated for n <= 4 only)" if n > 4 else "none with at most 4 hidden units"
            else:
                shown = f"{value:.6g}" if isinstance(value, float) else str(value)
            lines.append(f"  {key:<18} {shown}")
    return lines
