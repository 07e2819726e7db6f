"""The depth experiment's tallies: hits per target, lesion histograms, route placements.

All three are exact integer counts summed over blocks of networks (so they do not depend on the
batch size or on how chunks are spread), each a :class:`counting.engine.tally.CountingTally` of
one int64 array, stored in checkpoints under ``hits`` or ``hist``.

* :class:`TargetHits`: how many networks compute each target.
* :class:`LesionTally` (residual MLPs; reads the parameters): for every network, the number of
  used blocks ``u`` and the longest used path ``p`` (:mod:`counting.mechanisms.lesions`), as a
  histogram ``[1 + targets, (depth + 1)**2]`` over ``u * (depth + 1) + p``: row 0 counts every
  network, row ``t + 1`` the networks computing target ``t``.
* :class:`RouteTally`: for each decomposition, the joint histogram of the two routes' placements
  (:func:`counting.mechanisms.routes.placement_codes`), ``[2, C * C]`` over
  ``code(route 0) * C + code(route 1)``, ``C = (never + 1)**2``: row 0 among the networks computing
  its target, row 1 among all networks (the baseline: how often a network builds a route's
  intermediates whatever it computes). With ``order=True`` (the depth experiment's routes) it
  also counts ``order``, ``[2, LEVELS**2]`` per decomposition over ``level(route 0) * LEVELS +
  level(route 1)`` (:func:`counting.mechanisms.routes.order_levels`: the strongest ordered reading
  under which each route is taken), the same two rows; ``hist`` is then unchanged.

Example:
    >>> import jax
    >>> from counting.engine.run import run_pass
    >>> from counting.spec.job import sampling_spec
    >>> from counting.spec import ResMLPSpec, ScaledPrior
    >>> m = ResMLPSpec(n_inputs=4, width=4, depth=2, hidden=4)
    >>> t = LesionTally(m, (0x8000,), kind="demo")
    >>> _ = run_pass(sampling_spec(m, ScaledPrior(), samples=512, chunk_size=256), t)
    >>> h = t.finalize()
    >>> h.shape, int(h[0].sum())
    ((2, 9), 512)
"""

from __future__ import annotations

from typing import Sequence

import jax.numpy as jnp
import numpy as np

from counting.engine.protocols import Reducer
from counting.engine.tally import CountingTally
from counting.mechanisms.lesions import longest_used_path, used_blocks
from counting.mechanisms.predicates import truth_tables
from counting.mechanisms.routes import (LEVELS, Decomposition, first_sites, never, order_levels, placement_codes,
                                        site_stages)
from counting.models import supporting
from counting.models.layers import Forward
from counting.spec.model import ModelSpec, ResMLPSpec


def _one_hot_sum(index, mask, size: int):
    """Counts of ``index`` over the networks where ``mask`` holds (int32, ``[size]``)."""
    return jnp.zeros(size, jnp.int32).at[index].add(mask.astype(jnp.int32))


class TargetHits(CountingTally):
    """Networks computing each of ``targets`` (4-bit truth tables: one word)."""

    def __init__(self, targets: Sequence[int], kind: str):
        self.targets = tuple(int(t) for t in targets)
        super().__init__(kind, {"hits": (len(self.targets),)})

    def reduce(self, fwd: Forward, valid):
        t = truth_tables(fwd)[:, 0]
        want = jnp.asarray(np.asarray(self.targets, np.uint32))
        return jnp.sum((t[:, None] == want[None, :]) & valid[:, None], axis=0, dtype=jnp.int32)


class LesionTally(CountingTally):
    """Histogram of (used blocks, longest used path), over all networks and each target's solutions."""

    def __init__(self, model: ResMLPSpec, targets: Sequence[int], kind: str):
        supporting(model, "residual", "blocks to lesion")
        self.model, self.targets = model, tuple(int(t) for t in targets)
        self.size = (model.depth + 1) ** 2
        super().__init__(kind, {"hist": (1 + len(self.targets), self.size)})

    def reduce(self, fwd: Forward, valid, params):
        n, d = self.model.n_inputs, self.model.depth
        t = truth_tables(fwd)[:, 0]
        u = jnp.sum(used_blocks(self.model, params, n), axis=-1)
        p = longest_used_path(self.model, params, n)
        idx = u * (d + 1) + p
        rows = [_one_hot_sum(idx, valid, self.size)]
        rows += [_one_hot_sum(idx, valid & (t == jnp.uint32(g)), self.size) for g in self.targets]
        return jnp.stack(rows)

    @property
    def reducer(self) -> Reducer:
        return Reducer(self.reduce, needs_params=True)


def route_codes(fwd: Forward, model: ModelSpec, d: Decomposition):
    """Per network, the joint placement code ``code(route 0) * C + code(route 1)`` (see the module
    docstring) and the joint order code ``level(route 0) * LEVELS + level(route 1)``."""
    sites = first_sites(fwd, model, d.intermediates, d.n)
    stage_of = site_stages(model)
    first = jnp.asarray(stage_of)[sites]
    nv, ns = never(model), len(stage_of) - 1
    a = placement_codes(first, d.columns(d.routes[0]), nv)
    b = placement_codes(first, d.columns(d.routes[1]), nv)
    la, lb = (order_levels(sites, d.columns(r), r.reads, ns, stage_of) for r in d.routes)
    return a * (nv + 1) ** 2 + b, la * LEVELS + lb


def joint_codes(fwd: Forward, model: ModelSpec, d: Decomposition):
    """Per network, ``code(route 0) * C + code(route 1)`` (see the module docstring)."""
    return route_codes(fwd, model, d)[0]


def joint_size(model: ModelSpec) -> int:
    """``C * C``: the cells of a joint placement histogram."""
    return (never(model) + 1) ** 4


class RouteTally(CountingTally):
    """For each decomposition, the joint placement histogram of its two routes among its solutions
    and among all networks (``hist``), and with ``order=True`` the joint histogram of their order
    levels too (``order``; :meth:`finalize` then gives both by name)."""

    def __init__(self, model: ModelSpec, decompositions: Sequence[Decomposition], kind: str, order: bool = False):
        self.model, self.decompositions, self.order = model, tuple(decompositions), order
        self.size = joint_size(model)
        shapes = {"hist": (len(self.decompositions), 2, self.size)}
        if order:
            shapes["order"] = (len(self.decompositions), 2, LEVELS ** 2)
        super().__init__(kind, shapes)

    def reduce(self, fwd: Forward, valid):
        t = truth_tables(fwd)[:, 0]
        rows, orders = [], []
        for d in self.decompositions:
            codes, levels = route_codes(fwd, self.model, d)
            mine = valid & (t == jnp.uint32(d.target))
            rows.append(jnp.stack([_one_hot_sum(codes, mine, self.size), _one_hot_sum(codes, valid, self.size)]))
            orders.append(jnp.stack([_one_hot_sum(levels, mine, LEVELS ** 2), _one_hot_sum(levels, valid, LEVELS ** 2)]))
        if not self.order:
            return jnp.stack(rows)
        return {"hist": jnp.stack(rows), "order": jnp.stack(orders)}
