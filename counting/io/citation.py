"""A citable line for a volume: one sentence a researcher can paste, built from a result's manifest.

The sentence names the value with its 95% interval (or its bound), the target in hex and by name,
the architecture (:func:`counting.models.describe_model`) and the prior, the estimator and how its
interval is made, the cost, the seed, the package version and commit, and a shell-quoted command
that reproduces the number from a fresh checkout (relative paths, no virtual-environment prefix;
the command line records it in the manifest as ``reproduce``).

Example:
    >>> m = {"kind": "volume", "counting_version": "0.1.0", "seed": 0,
    ...      "spec": {"model": {"kind": "mlp", "n_inputs": 3, "widths": [40, 40], "activation": "relu"},
    ...               "prior": {"kind": "gaussian", "sigma_w": 1.0, "sigma_b": 1.0},
    ...               "target": {"truth_table": "0xe8", "name": "majority"},
    ...               "estimator": {"kind": "mc", "samples": 1000, "seed": 0}},
    ...      "result": {"log10_volume": -0.5, "ci95": [-0.55, -0.45], "volume": 0.316, "estimator": "mc",
    ...                 "samples": 1000, "cost": {"networks": 1000}, "hits": 316, "seed": 0},
    ...      "environment": {"git": {"commit": "0123456789abcdef", "dirty": False}},
    ...      "reproduce": "counting volume experiments/quickstart.toml --samples 1000"}
    >>> print(citation(m))  # doctest: +NORMALIZE_WHITESPACE
    P(f) = 0.316 = 10^-0.500 (95% CI 10^[-0.550, -0.450]) for f = majority (0xe8) on 3 inputs;
    3-40-40-1 relu MLP; gaussian prior, weights N(0, 1^2/fan-in), biases N(0, 1^2); hit-or-miss
    Monte Carlo, exact binomial (Clopper-Pearson) interval; 1,000 networks, 316 hits; seed 0;
    counting 0.1.0, commit 0123456789; reproduce: counting volume experiments/quickstart.toml --samples 1000
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Sequence

from counting.models import describe_model
from counting.spec.errors import SpecError
from counting.spec.job import spec_from_dict

METHODS = {
    "mc": "hit-or-miss Monte Carlo, exact binomial (Clopper-Pearson) interval",
    "exact": "exact enumeration of every configuration (no sampling error)",
    "subset": "subset simulation, Student-t interval over {replicates} independent replicates",
    "smc": "tempered sequential Monte Carlo, Student-t interval over {replicates} independent replicates",
    "nngp": ("infinite-width (NNGP) limit by scrambled quasi-Monte Carlo, Student-t interval over "
             "{replicates} replicates"),
}


def reproduce_command(command: str, path: str | Path, options: Sequence[str] = ()) -> str:
    """The shell-quoted command ``counting COMMAND PATH OPTIONS``, ``PATH`` relative to the working folder."""
    p = Path(path)
    rel = os.path.relpath(p) if p.is_absolute() else str(p)
    return shlex.join(["counting", command, rel, *map(str, options)])


def _prior(p) -> str:
    if p.discrete:
        return f"{p.kind} prior, every parameter uniform on the integers -{p.max_abs}..{p.max_abs}"
    return (f"{p.kind} prior, weights {'N' if p.kind == 'gaussian' else 'U'}(0, {p.sigma_w:g}^2/fan-in), "
            f"biases {'N' if p.kind == 'gaussian' else 'U'}(0, {p.sigma_b:g}^2)"
            + ("" if p.kind == "gaussian" else " (uniform of that variance)"))


def _value(r: dict) -> str:
    lv, ci = r.get("log10_volume"), r.get("ci95") or [None, None]
    if r.get("estimator") == "exact" and lv is not None:
        return f"P(f) = {r['volume']:.6g} = 10^{lv:.3f} exactly"
    if r.get("one_sided_upper_bound") or (lv is None and ci[1] is not None):
        return f"P(f) < 10^{ci[1]:.3f} (95% upper bound; no hits)"
    if lv is None:
        return "P(f) = 0"
    lo = "?" if ci[0] is None else f"{ci[0]:.3f}"
    hi = "?" if ci[1] is None else f"{ci[1]:.3f}"
    return f"P(f) = {r['volume']:.3g} = 10^{lv:.3f} (95% CI 10^[{lo}, {hi}])"


def _cost(r: dict) -> str:
    cost = r.get("cost") or {}
    parts = [f"{n:,} {unit.replace('_', ' ')}" for unit, n in cost.items()]
    if r.get("estimator") in ("mc", "exact") and r.get("hits") is not None:
        parts.append(f"{r['hits']:,} hits")
    return ", ".join(parts)


def citation(m: dict) -> str | None:
    """The citable sentence of a volume manifest (``None`` for other manifests or old layouts)."""
    r = m.get("result")
    if m.get("kind") != "volume" or not isinstance(r, dict) or "estimator" not in r:
        return None
    try:  # the manifest names the target both ways; it parses from its truth table
        target = m["spec"]["target"]
        spec = spec_from_dict({**m["spec"], "target": {"truth_table": target["truth_table"]}})
    except (SpecError, KeyError, TypeError):
        return None
    t = spec.target
    name = f"{target['name']} ({t.hex})" if target.get("name") else t.hex
    diag = r.get("diagnostics") or {}
    method = METHODS.get(r["estimator"], r["estimator"]).format(
        replicates=diag.get("replicates", getattr(spec.estimator, "replicates", "?")))
    seed = "" if r.get("seed") is None else f"; seed {r['seed']}"
    if getattr(spec.estimator, "sampler", "threefry") != "threefry":
        fused = getattr(spec.estimator, "fused_kernel", "off")
        seed += f" ({spec.estimator.sampler} sampler{'' if fused == 'off' else ', fused Pallas kernel'})"
    git = (m.get("environment") or {}).get("git") or {}
    commit = (git.get("commit") or "unknown")[:10] + (" with uncommitted changes" if git.get("dirty") else "")
    where = "" if not m.get("reproduce") else f"; reproduce: {m['reproduce']}"
    return (f"{_value(r)} for f = {name} on {t.n_inputs} inputs; {describe_model(spec.model, 'citation')}; "
            f"{_prior(spec.prior)}; {method}; {_cost(r)}{seed}; counting {m.get('counting_version', 'unknown')}, "
            f"commit {commit}{where}")
