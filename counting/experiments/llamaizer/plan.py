"""The llamas of each target, and how they travel over the target's orbit.

For a target ``f`` every family lists its llamas (:func:`family_members`, canonical truth tables
up to negation, in the family's order); the distinct ones are the target's columns. A network
counts for ``f`` when it computes any function ``h = f o s`` of ``f``'s orbit, and then holds llama
``g`` when it holds ``g o s`` (:func:`counting.boolean.symmetry.orbit_transport`): the
:class:`TargetPlan` keeps the orbit, sorted, and the transported llamas, one row per orbit member.

Example:
    >>> from counting.experiments.llamaizer.config import Family
    >>> from counting.spec.target import Target
    >>> fam = Family("ignored", "ignored_bits")
    >>> [hex(g) for g in family_members(fam, Target(0x88, 3, "and01"), 3)]   # the functions of bit 2
    ['0xf0']
    >>> p = plan_target(Target(0x88, 3, "and01"), (fam,), 3)
    >>> len(p.orbit), p.transported.shape, p.families["ignored"].tolist()
    (12, (12, 1), [0])
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from jaxtyping import Int32, UInt32

from counting.boolean.measures import relevant_bits
from counting.boolean.symmetry import orbit_transport
from counting.boolean.tables import canonical
from counting.experiments.llamaizer.config import Experiment, Family
import counting.mechanisms.llamas as llamas
from counting.spec.errors import SpecError
from counting.spec.target import Target


def ignored_bits(tt: int, n: int) -> tuple[int, ...]:
    """Bits the function does not depend on."""
    rel = set(relevant_bits(tt, n))
    return tuple(j for j in range(n) if j not in rel)


def family_members(fam: Family, target: Target, n: int) -> tuple[int, ...]:
    """The family's llamas for ``target`` (canonical truth tables, in the family's order)."""
    free = ignored_bits(target.truth_table, n)
    if fam.kind == "ignored_bits":
        if not free:
            raise SpecError(f"family {fam.name}", f"a target that ignores some bit ({target.name} uses all)")
        return llamas.functions_of_bits(free, n)
    if fam.kind == "random_weight":
        return llamas.random_of_weight(n, fam.weight, fam.count, fam.seed)
    if fam.kind == "random_degree":
        bits = free if fam.bits == "ignored" else tuple(range(n))
        try:
            return llamas.random_of_degree(n, fam.degree, fam.count, fam.seed, bits=bits)
        except ValueError as e:
            raise SpecError(f"family {fam.name}", f"a degree and count the bits allow ({e})") from None
    return tuple(dict.fromkeys(canonical(t, n) for t in fam.truth_tables))


class TargetPlan(NamedTuple):
    target: Target
    llamas: tuple[int, ...]  # distinct canonical llamas: the columns
    families: dict[str, Int32[np.ndarray, "K"]]  # family -> its columns, in family order
    orbit: UInt32[np.ndarray, "M"]  # sorted
    transported: UInt32[np.ndarray, "M J"]  # canonical, row h: the llamas carried to orbit member h


def plan_target(target: Target, families: tuple[Family, ...], n: int) -> TargetPlan:
    """The columns and the orbit table of one target."""
    members = {f.name: family_members(f, target, n) for f in families}
    cols = tuple(dict.fromkeys(g for ms in members.values() for g in ms))
    col = {g: j for j, g in enumerate(cols)}
    orb = orbit_transport(target.truth_table, cols, n)
    transported = np.array([[canonical(int(g), n) for g in row] for row in orb.llamas], np.uint32)
    return TargetPlan(target, cols, {k: np.array([col[g] for g in v], np.int32) for k, v in members.items()},
                      np.array([int(h) for h in orb.orbit], np.uint32), transported.reshape(len(orb.orbit), -1))


def plan_targets(exp: Experiment) -> tuple[TargetPlan, ...]:
    """Every target's plan, in the config's order."""
    return tuple(plan_target(t, exp.families, exp.n_inputs) for t in exp.targets)
