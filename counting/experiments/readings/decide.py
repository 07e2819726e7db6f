"""The two readings of "holds" on the same networks: the solutions drawn, then every llama decided.

:func:`solutions` draws prior networks of one architecture, chunk ``c`` from
``fold_in(fold_in(key(seed), a), c)`` (``a``: the architecture's place in the config), until
``networks`` of them compute the target or a member of its orbit (the llamas carried along as the
llamaizer experiment does, :func:`counting.experiments.llamaizer.plan.plan_target`); for each it
keeps the orbit row, every hidden layer's activations on the cube and its units' canonical sign
patterns. :func:`count_readings` decides, for every hidden layer and llama, whether a unit holds
it (sign pattern) and whether it is a linear readout of the layer's activations
(:func:`counting.mechanisms.readout.decide`: the rank shortcut, the clash shortcut, or an exact
linear program, skipped where a unit holds the llama), and counts how each was decided.
:func:`readout_rows` turns the counts into rows of the ``readout`` table: one per architecture,
target, layer and llama, with the readout share's Clopper-Pearson interval.

Example:
    >>> from counting.experiments.base.config import read_toml
    >>> from counting.experiments.readings.config import from_dict
    >>> exp = from_dict(read_toml('''
    ... [experiment]
    ... kind = "readings"
    ... n_inputs = 3
    ... networks = 4
    ... chunk_size = 256
    ... [[architecture]]
    ... widths = [8]
    ... [[target]]
    ... name = "and01"
    ... truth_table = "0x88"
    ... [[family]]
    ... kind = "ignored_bits"
    ... '''))
    >>> plan = plan_target(exp.targets[0], exp.families, 3)
    >>> nets, drawn = solutions(exp, 0, plan)
    >>> c = count_readings(exp, 0, plan, nets)
    >>> len(nets), drawn, int(sum(c[k].sum() for k in ("rank", "clash", "lp")))   # each decided one way
    (4, 256, 4)
    >>> bool((c["both"] == c["sign"]).all())          # a unit holding the llama makes it a readout
    True
    >>> row = readout_rows(exp, 0, plan, c, len(nets), drawn)[0]
    >>> row["layer"], row["llama"], row["networks"]   # the one llama: x2 (up to negation)
    (1, '0xf0', 4)
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from counting.boolean.tables import canonical, signs_of, to_hex
from counting.engine.priors import sample_params
from counting.experiments.llamaizer.plan import TargetPlan, plan_target
from counting.experiments.readings.config import Experiment
from counting.mechanisms.predicates import truth_tables
from counting.mechanisms.readout import decide, prepare
from counting.mechanisms.sites import canonical_units
from counting.models import forward, model_inputs
from counting.models.layers import activation
from counting.spec.model import MLPSpec
from counting.stats import clopper_pearson

__all__ = ["COUNTS", "Solution", "count_readings", "readout_rows", "solutions"]

COUNTS = ("sign", "readout", "both", "rank", "clash", "lp")  # per layer and llama; the last three: how decided


class Solution(NamedTuple):
    """One network computing a member of the target's orbit: its ``row`` in the orbit, and per
    hidden layer its activations ``[points, units]`` and its units' canonical sign patterns."""

    row: int
    activations: list[np.ndarray]
    units: list[np.ndarray]


def solutions(exp: Experiment, a_index: int, plan: TargetPlan) -> tuple[list[Solution], int]:
    """Up to ``exp.networks`` networks of architecture ``a_index`` computing the target's orbit, and
    how many networks were drawn to find them (whole chunks, at most ``exp.max_chunks``)."""
    arch = exp.architectures[a_index]
    model = MLPSpec(n_inputs=exp.n_inputs, widths=arch.widths, activation=arch.activation)
    x = jnp.asarray(model_inputs(model))
    base = jax.random.fold_in(jax.random.key(exp.seed), a_index)
    act = activation(arch.activation)
    layers = range(1, len(arch.widths) + 1)
    found: list[Solution] = []
    for c in range(exp.max_chunks):
        fwd = forward(model, sample_params(jax.random.fold_in(base, c), model, exp.prior, exp.chunk_size), x)
        out = np.asarray(truth_tables(fwd)[:, 0])
        rows = np.searchsorted(plan.orbit, out).clip(0, len(plan.orbit) - 1)
        hit = np.flatnonzero(plan.orbit[rows] == out)
        for i in hit[: exp.networks - len(found)]:
            z = [np.asarray(fwd.sites[f"layer{l}"][i]) for l in layers]  # [units, points]
            units = [np.asarray(canonical_units(fwd.sites[f"layer{l}"][i:i + 1], exp.n_inputs))[0, :, 0]
                     for l in layers]
            found.append(Solution(int(rows[i]), [np.asarray(act(jnp.asarray(zz))).T for zz in z], units))
        if len(found) >= exp.networks:
            break
    return found, (c + 1) * exp.chunk_size


def count_readings(exp: Experiment, a_index: int, plan: TargetPlan, nets: list[Solution],
                   done: Callable[[int], None] = lambda n: None) -> dict[str, np.ndarray]:
    """Per hidden layer and llama (``[layers, llamas]``), over ``nets`` (of architecture
    ``a_index``): how many hold it by the sign pattern, as a readout, both, and how many were
    decided by rank, clash or program. ``done(1)`` after each network (progress)."""
    layers, J = len(exp.architectures[a_index].widths), len(plan.llamas)
    c = {k: np.zeros((layers, J), np.int64) for k in COUNTS}
    for net in nets:
        for li in range(layers):
            layer = prepare(net.activations[li])  # the rank and the program's matrix, once for every llama
            for j in range(J):
                g = int(plan.transported[net.row, j])
                sign = bool(np.any(net.units[li] == canonical(g, exp.n_inputs)))
                how, ro = decide(layer, signs_of(g, exp.n_inputs), held=sign)
                c["sign"][li, j] += sign
                c["readout"][li, j] += ro
                c["both"][li, j] += sign and ro
                c[how][li, j] += 1
        done(1)
    return c


def readout_rows(exp: Experiment, a_index: int, plan: TargetPlan, c: dict[str, np.ndarray], n: int,
                 drawn: int) -> list[dict]:
    """The ``readout`` table's rows of one architecture and target: one per hidden layer and llama
    (``networks``: the ``n`` kept, ``drawn``, the counts ``c`` of :func:`count_readings`,
    ``readout_share`` with its 95% interval and ``sign_share``; shares unknown where ``n`` is 0)."""
    arch = exp.architectures[a_index]
    rows = []
    for li, width in enumerate(arch.widths):
        for j, g in enumerate(plan.llamas):
            k = int(c["readout"][li, j])
            lo, hi = clopper_pearson(k, n) if n else (np.nan, np.nan)
            rows.append({"architecture": arch.name, "depth": len(arch.widths), "width": width,
                         "target": plan.target.name, "layer": li + 1, "llama": to_hex(g, exp.n_inputs),
                         "networks": n, "drawn": drawn, **{key: int(v[li, j]) for key, v in c.items()},
                         "readout_share": k / n if n else np.nan, "readout_share_lo": lo, "readout_share_hi": hi,
                         "sign_share": int(c["sign"][li, j]) / n if n else np.nan})
    return rows
