"""A citable line for a volume: one sentence a researcher can paste, built from a result's manifest.

The sentence names the value with its 95% interval (or its bound: :func:`value_text`, by the
estimate's case, :attr:`counting.estimators.result.Estimate.case`), the target in hex and by name,
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

from counting.estimators.result import Estimate, binomial_estimate, exact_estimate
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
    "readout": ("conditional Monte Carlo over the hidden layers, the Gaussian readout integrated out (an orthant "
                "probability per network by randomised QMC), normal interval from the sample variance; Pareto "
                "k-hat {khat:.2f} (reliable below {khat_threshold:.2f}), largest network {max_share:.1%} of the sum"),
    "readout_smc": ("tempered SMC over the hidden layers, the Gaussian readout integrated out (orthant probabilities "
                    "by randomised QMC, fixed shifts while tempering and fresh ones for an unbiased final correction), "
                    "Student-t interval over {replicates} independent replicates"),
}


def reproduce_command(command: str, path: str | Path | None, options: Sequence[str] = ()) -> str:
    """The shell-quoted command ``counting COMMAND PATH OPTIONS``, ``PATH`` relative to the working
    folder (none for a command that reads no file: ``counting bench``).

    >>> reproduce_command("complexity", None, ["--all", 3, "--out", "results/complexity"])
    'counting complexity --all 3 --out results/complexity'
    """
    if path is None:
        return shlex.join(["counting", command, *map(str, options)])
    p = Path(path)
    rel = os.path.relpath(p) if p.is_absolute() else str(p)
    return shlex.join(["counting", command, rel, *map(str, options)])


def _prior(p) -> str:
    if p.discrete:
        return f"{p.kind} prior, every parameter uniform on the integers -{p.max_abs}..{p.max_abs}"
    return (f"{p.kind} prior, weights {'N' if p.kind == 'gaussian' else 'U'}(0, {p.sigma_w:g}^2/fan-in), "
            f"biases {'N' if p.kind == 'gaussian' else 'U'}(0, {p.sigma_b:g}^2)"
            + ("" if p.kind == "gaussian" else " (uniform of that variance)"))


def value_text(e: Estimate) -> str:
    """The value of an estimate as cited, by its :attr:`~Estimate.case`: exact, a 95% upper bound
    (no hits), 0 (nothing reached, or an enumerated 0) or the value with its 95% interval.

    >>> value_text(binomial_estimate(0, 1000))
    'P(f) < 10^-2.524 (95% upper bound; no hits)'
    >>> value_text(exact_estimate(3, 8))
    'P(f) = 0.375 = 10^-0.426 exactly'
    """
    lv, (lo, hi) = e.log10_volume, e.ci95
    if e.case == "bound":
        return f"P(f) < 10^{hi:.3f} (95% upper bound; no hits)"
    if lv is None:
        return "P(f) = 0"
    if e.case == "exact":
        return f"P(f) = {e.volume:.6g} = 10^{lv:.3f} exactly"
    lo_text = "?" if lo is None else f"{lo:.3f}"
    hi_text = "?" if hi is None else f"{hi:.3f}"
    return f"P(f) = {e.volume:.3g} = 10^{lv:.3f} (95% CI 10^[{lo_text}, {hi_text}])"


def cost_text(e: Estimate) -> str:
    """The cost of an estimate as cited: its samples in their unit, and the hits where it counts them
    (nothing where the cost is unknown).

    >>> cost_text(binomial_estimate(316, 1000))
    '1,000 networks, 316 hits'
    """
    parts = [] if e.samples is None else [f"{e.samples:,} {e.cost_unit.replace('_', ' ')}"]
    if e.counts_hits:
        parts.append(f"{e.hits:,} hits")
    return ", ".join(parts)


def citation(m: dict) -> str | None:
    """The citable sentence of a volume manifest (``None`` for other manifests or old layouts)."""
    r = m.get("result")
    if m.get("kind") != "volume" or not isinstance(r, dict) or "estimator" not in r:
        return None
    try:
        e = Estimate.from_dict(r)
    except (ValueError, TypeError, AttributeError):  # a cost unit of no estimator, or no such layout
        return None
    try:  # the manifest names the target both ways; it parses from its truth table
        target = m["spec"]["target"]
        spec = spec_from_dict({**m["spec"], "target": {"truth_table": target["truth_table"]}})
    except (SpecError, KeyError, TypeError):
        return None
    t = spec.target
    name = f"{target['name']} ({t.hex})" if target.get("name") else t.hex
    method = METHODS.get(e.estimator, e.estimator).format(**{
        "khat": float("nan"), "khat_threshold": float("nan"), "max_share": float("nan"), **e.diagnostics,
        "replicates": e.diagnostics.get("replicates", getattr(spec.estimator, "replicates", "?"))})
    if e.diagnostics.get("warning"):
        method += f"; {e.diagnostics['warning']}"  # an estimate its own diagnostics do not yet trust
    seed = "" if e.seed is None else f"; seed {e.seed}"
    if getattr(spec.estimator, "sampler", "threefry") != "threefry":
        fused = getattr(spec.estimator, "fused_kernel", "off")
        seed += f" ({spec.estimator.sampler} sampler{'' if fused == 'off' else ', fused Pallas kernel'})"
    git = (m.get("environment") or {}).get("git") or {}
    commit = (git.get("commit") or "unknown")[:10] + (" with uncommitted changes" if git.get("dirty") else "")
    where = "" if not m.get("reproduce") else f"; reproduce: {m['reproduce']}"
    return (f"{value_text(e)} for f = {name} on {t.n_inputs} inputs; {describe_model(spec.model, 'citation')}; "
            f"{_prior(spec.prior)}; {method}; {cost_text(e)}{seed}; counting {m.get('counting_version', 'unknown')}, "
            f"commit {commit}{where}")
