"""The llamaizer's counting pass as a :class:`~counting.engine.tally.Tally`.

For one architecture, one pass over the prior (or an exact enumeration of a discrete prior)
counts, for every target ``f`` and every llama ``g`` of its families:

* ``n_f``: networks computing ``f`` (symmetrized over ``f``'s orbit, see :mod:`~counting.experiments.llamaizer.plan`);
* ``held[l, g]``: of those, the networks whose hidden layer ``l`` holds ``g`` (some unit has sign
  pattern ``g`` or ``not g``, :mod:`counting.mechanisms.sites`), and in the last row: in some hidden layer;
* ``union:<family>[l, K]``: those holding *any* of the family's first ``K`` members;
* ``kept[g]``: those holding ``g`` both in layer 1 and in the last hidden layer;
* ``prior_held[l, g]``: networks holding ``g`` at ``l`` (or in any hidden layer) whatever they
  compute: the llama's cost without the target;
* ``units[l, g]`` and ``units_sq[l, g]``: over the networks computing ``f``, the sum of the number
  of layer ``l``'s units holding ``g`` and of its square (a unit's chance of holding ``g`` and its
  cluster variance, networks being the clusters), and ``prior_units``, ``prior_units_sq`` the
  same over every network.

Every count is an exact integer, summed on the host chunk by chunk, so a pass is bit-identical
across batch sizes, devices and interruptions.

Example:
    >>> import jax.numpy as jnp
    >>> from counting.models.layers import Forward
    >>> from counting.experiments.llamaizer.config import Family
    >>> from counting.spec.target import Target
    >>> from counting.experiments.llamaizer.plan import plan_target
    >>> plan = plan_target(Target(0x8, 2, "and01"), (Family("x1", "named", truth_tables=(0xc,)),), 2)
    >>> z = jnp.asarray([[[-1., -1., 1., 1.]], [[-1., 1., -1., 1.]]])  # 2 networks, 1 unit: x1, x0
    >>> fwd = Forward(output=jnp.asarray([[-1., -1., -1., 1.], [-1., -1., -1., -1.]]), sites={"layer1": z})
    >>> tally = LlamaizerTally((plan,), n_layers=1, n_inputs=2, kind="demo")
    >>> tally.add(jax.tree.map(lambda a: a[None, None], jax.jit(tally.reduce)(fwd, jnp.ones(2, bool))), [2])
    >>> c = tally.finalize()["and01"]
    >>> c.n_f, c.held.tolist(), c.prior_held.tolist()    # network 0 computes AND and holds x1
    (1, [[1], [1]], [[1], [1]])
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Int

from counting.boolean.tables import canonical
from counting.engine.tally import CountingTally
from counting.experiments.llamaizer.plan import TargetPlan
from counting.mechanisms.predicates import truth_tables
from counting.mechanisms.sites import canonical_units, unit_counts
from counting.models.layers import Forward


class TargetCounts(NamedTuple):
    """A target's counts after a pass (``L`` hidden layers; the last row of ``[L + 1, ...]``: any)."""

    n_f: int
    held: Int[np.ndarray, "L1 J"]
    kept: Int[np.ndarray, "J"]
    unions: dict[str, Int[np.ndarray, "L1 K"]]  # family -> counts for its first K members
    prior_held: Int[np.ndarray, "L1 J"]
    units: Int[np.ndarray, "L J"] | None = None  # sum over networks computing f of the units holding g
    units_sq: Int[np.ndarray, "L J"] | None = None  # ... of its square
    prior_units: Int[np.ndarray, "L J"] | None = None  # the same over every network
    prior_units_sq: Int[np.ndarray, "L J"] | None = None


class _DeviceTables(NamedTuple):
    """A target's lookup tables on the device."""

    orbit: jax.Array  # [M] sorted
    transported: jax.Array  # [M, J] each row sorted
    transported_order: jax.Array  # [M, J] columns of the sorted rows
    plain: jax.Array  # [J] the llamas sorted
    plain_order: jax.Array  # [J] their columns
    ranks: dict[str, jax.Array]  # family -> [J] position of each column in the family (its size: absent)
    sizes: dict[str, int]


def _device_tables(p: TargetPlan, n: int) -> _DeviceTables:
    order = np.argsort(p.transported, axis=1, kind="stable").astype(np.int32)
    plain = np.array([canonical(g, n) for g in p.llamas], np.uint32)
    porder = np.argsort(plain, kind="stable").astype(np.int32)
    ranks = {}
    for name, cols in p.families.items():
        r = np.full(len(p.llamas), len(cols), np.int32)
        r[cols] = np.arange(len(cols), dtype=np.int32)
        ranks[name] = jnp.asarray(r)
    return _DeviceTables(jnp.asarray(p.orbit), jnp.asarray(np.take_along_axis(p.transported, order, axis=1)),
                         jnp.asarray(order), jnp.asarray(plain[porder]), jnp.asarray(porder), ranks,
                         {k: len(v) for k, v in p.families.items()})


def _moments(name: str, per_unit: Int[Array, "L B J"], weight: Int[Array, "B"]) -> dict[str, Int[Array, "..."]]:
    """Sums over the weighted networks of the units holding each llama and of its square; the
    square in two 16-bit halves so that a block of up to 32,768 networks cannot overflow int32."""
    sq = per_unit * per_unit
    return {name: jnp.einsum("b,lbj->lj", weight, per_unit),
            f"{name}_sq_lo": jnp.einsum("b,lbj->lj", weight, sq & 0xFFFF),
            f"{name}_sq_hi": jnp.einsum("b,lbj->lj", weight, sq >> 16)}


class LlamaizerTally(CountingTally):
    """The counts of the module docstring, per target, for an MLP with ``n_layers`` hidden layers
    (named ``target|count`` in checkpoints)."""

    def __init__(self, plans: Sequence[TargetPlan], n_layers: int, n_inputs: int, kind: str = "llamaizer"):
        super().__init__(kind)
        self.plans, self.n_layers, self.n = tuple(plans), n_layers, n_inputs
        self.tables = [_device_tables(p, n_inputs) for p in self.plans]

    def reduce(self, fwd: Forward, valid: Bool[Array, "B"]) -> dict[str, dict[str, Int[Array, "..."]]]:
        n_layers = self.n_layers
        out_tt = truth_tables(fwd)[:, 0]
        units = [canonical_units(fwd.sites[f"layer{l}"], self.n)[..., 0] for l in range(1, n_layers + 1)]
        v32 = valid.astype(jnp.int32)
        result = {}
        for plan, d in zip(self.plans, self.tables):
            J = len(plan.llamas)
            i = jnp.clip(jnp.searchsorted(d.orbit, out_tt), 0, d.orbit.shape[0] - 1)
            hit = (d.orbit[i] == out_tt) & valid
            h32 = hit.astype(jnp.int32)
            per_unit = jnp.stack([unit_counts(u, d.transported[i], d.transported_order[i], J) for u in units])
            held = per_unit > 0  # [L, B, J]
            per_layer = jnp.concatenate([held, jnp.any(held, axis=0)[None]])  # [L + 1, B, J]
            r = {
                "n_f": jnp.sum(h32),
                "held": jnp.einsum("b,lbj->lj", h32, per_layer.astype(jnp.int32)),
                "kept": jnp.einsum("b,bj->j", h32, (held[0] & held[-1]).astype(jnp.int32)),
            }
            for name, rank in d.ranks.items():
                # first family member held: the network is in the union of the first K iff first < K
                first = jnp.min(jnp.where(per_layer, rank, d.sizes[name]), axis=2)  # [L + 1, B]
                hist = jnp.zeros((n_layers + 1, d.sizes[name] + 1), jnp.int32)
                hist = hist.at[jnp.arange(n_layers + 1)[:, None], first].add(h32[None, :])
                r[f"union:{name}"] = jnp.cumsum(hist[:, :-1], axis=1)
            prior_units = jnp.stack([unit_counts(u, d.plain, d.plain_order, J) for u in units])
            prior = prior_units > 0
            prior = jnp.concatenate([prior, jnp.any(prior, axis=0)[None]])  # [L + 1, B, J]
            r["prior_held"] = jnp.einsum("b,lbj->lj", v32, prior.astype(jnp.int32))
            r.update(_moments("units", per_unit, h32))
            r.update(_moments("prior_units", prior_units, v32))
            result[plan.target.name] = r
        return result

    def named(self, result) -> dict[str, Int[Array, "..."]]:
        return {f"{t}|{k}": v for t, r in result.items() for k, v in r.items()}

    def finalize(self) -> dict[str, TargetCounts]:
        out = {}
        for p in self.plans:
            t = p.target.name
            get = lambda k: np.asarray(self.sums[f"{t}|{k}"], np.int64)  # noqa: E731
            sq = lambda k: (get(f"{k}_sq_hi") << 16) + get(f"{k}_sq_lo")  # noqa: E731
            out[t] = TargetCounts(int(get("n_f")), get("held"), get("kept"),
                                  {f: get(f"union:{f}") for f in p.families}, get("prior_held"),
                                  get("units"), sq("units"), get("prior_units"), sq("prior_units"))
        return out
