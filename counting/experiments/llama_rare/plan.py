"""Every volume the llama-rare experiment measures, in order, and the condition of each.

At each width (in the config's order) the plan measures ``V(f)``, then ``V(f and layer l holds g)``
for every llama ``g`` measured at that width and each of its layers, then ``V(layer l holds g)``
without the target for the llamas whose ``prior_widths`` include that width. The order fixes the
seeds: SMC volume ``i`` runs with ``seed + 1 + i``.

Example:
    >>> from counting.experiments.base.config import read_toml
    >>> from counting.experiments.llama_rare.config import from_dict
    >>> exp = from_dict(read_toml('''
    ... [experiment]
    ... kind = "llama-rare"
    ... [[target]]
    ... name = "and(x0,x1)"
    ... truth_table = "0x88888888"
    ... [[llama]]
    ... name = "x2"
    ... truth_table = "0xf0f0f0f0"
    ... layers = [1, 2]
    ... widths = [32]
    ... [[llama]]
    ... name = "x3 xor x4"
    ... truth_table = "0x00ffff00"
    ... layers = [2]
    ... prior_widths = [32]
    ... [[width]]
    ... width = 32
    ... [[width]]
    ... width = 128
    ... '''), "demo")
    >>> [(m.width, m.label) for m in plan(exp)]    # doctest: +NORMALIZE_WHITESPACE
    [(32, 'f'), (32, 'f and layer1 holds x2'), (32, 'f and layer2 holds x2'), (32, 'f and layer2 holds x3 xor x4'),
     (32, 'layer2 holds x3 xor x4'), (128, 'f'), (128, 'f and layer2 holds x3 xor x4')]
"""

from __future__ import annotations

from typing import NamedTuple

from counting.experiments.llama_rare.config import Experiment
from counting.mechanisms.predicates import Condition, all_of, computes
from counting.mechanisms.sites import holds
from counting.spec.model import MLPSpec


class Measure(NamedTuple):
    """One volume to measure: ``llama`` ``(name, table)`` held at ``site`` (``None``: no llama),
    with ``and_f`` whether the network must also compute the target."""

    width: int
    llama: tuple[str, int] | None
    site: str | None
    and_f: bool = True

    @property
    def label(self) -> str:
        parts = (["f"] if self.and_f else []) + ([] if self.llama is None else [f"{self.site} holds {self.llama[0]}"])
        return " and ".join(parts)


def plan(exp: Experiment) -> list[Measure]:
    """Every volume, in the order of the module docstring."""
    out = []
    for w in exp.widths:
        out.append(Measure(w.width, None, None))
        out += [Measure(w.width, (g.name, g.truth_table), f"layer{layer}")
                for g in exp.llamas if w.width in g.widths for layer in g.layers]
        out += [Measure(w.width, (g.name, g.truth_table), f"layer{layer}", and_f=False)
                for g in exp.llamas if w.width in g.prior_widths for layer in g.layers]
    return out


def model(exp: Experiment, width: int) -> MLPSpec:
    """The network ``n-W-...-W-1`` at hidden width ``width``."""
    return MLPSpec(n_inputs=exp.n_inputs, widths=(width,) * exp.hidden_layers, activation=exp.activation)


def condition(exp: Experiment, m: Measure) -> Condition:
    """The measure's condition: computes the target (if ``and_f``) and ``site`` holds the llama (if any)."""
    n = exp.n_inputs
    parts = ([computes(exp.target.truth_table, n)] if m.and_f else []) + (
        [] if m.llama is None else [holds(m.site, m.llama[1], n)])
    return parts[0] if len(parts) == 1 else all_of(*parts)


def shared(exp: Experiment, measures: list[Measure], width: int) -> list[Measure]:
    """The measures at ``width`` whose llama is also read among V(f)'s last populations (``share``)."""
    names = {g.name for g in exp.llamas if g.share}
    return [m for m in measures if m.width == width and m.and_f and m.llama is not None and m.llama[0] in names]
