"""Hit-or-miss counts of several conditions on the same networks, in one counting pass.

:class:`MultiHits` is a :class:`~counting.engine.tally.CountingTally`: entry ``k`` of its count is
the number of networks satisfying ``conditions[k]``, exactly what a separate ``mc`` job of that
condition with the same spec (seed, chunk size, samples) counts, since both see the same draws.

Example:
    >>> from counting.engine.run import run_pass
    >>> from counting.mechanisms.predicates import computes
    >>> from counting.spec.job import sampling_spec
    >>> from counting.spec.model import MLPSpec
    >>> from counting.spec.prior import ScaledPrior
    >>> t = MultiHits([computes(0x8, 2), computes(0xe, 2)], kind="demo")
    >>> _ = run_pass(sampling_spec(MLPSpec(n_inputs=2, widths=(4,)), ScaledPrior(), samples=512, chunk_size=256), t)
    >>> h = t.finalize()
    >>> h.shape, bool((h > 0).all() and (h < 512).all())
    ((2,), True)
"""

from __future__ import annotations

from typing import Sequence

import jax.numpy as jnp

from counting.engine.tally import CountingTally
from counting.mechanisms.predicates import Condition


class MultiHits(CountingTally):
    """Hit-or-miss counts of several conditions on the same networks (a tally of
    :func:`counting.engine.run.run_pass`): entry ``k`` equals ``Hits(conditions[k])``'s count."""

    def __init__(self, conditions: Sequence[Condition], kind: str = "multi-hits"):
        super().__init__(kind, {"hits": (len(conditions),)})
        self.conditions = list(conditions)

    def reduce(self, fwd, valid):
        return jnp.stack([jnp.sum(c(fwd) & valid, dtype=jnp.int32) for c in self.conditions])
