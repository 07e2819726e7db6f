"""What every estimator is asked: the volume of a condition under a model and a prior.

Example:
    >>> from counting.spec import parse_spec
    >>> p = Problem.of(parse_spec('[model]\\nn_inputs = 2\\nwidths = []\\n[target]\\nname = "and"'))
    >>> p.target.hex, p.n_inputs
    ('0x8', 2)
"""

from __future__ import annotations

from dataclasses import dataclass

from counting.mechanisms.predicates import Predicate, computes
from counting.spec.errors import SpecError
from counting.spec.job import Spec
from counting.spec.model import ModelSpec
from counting.spec.prior import PriorSpec
from counting.spec.target import Target


@dataclass(frozen=True)
class Problem:
    """``condition``: a predicate on evaluated networks (a :class:`~counting.mechanisms.predicates.Condition`
    where a rare-event method must climb its score). ``target``: the function when the condition is
    "computes the target" (``None`` for a custom condition)."""

    model: ModelSpec
    prior: PriorSpec
    condition: Predicate
    target: Target | None = None

    @property
    def n_inputs(self) -> int:
        return self.model.n_inputs

    @staticmethod
    def of(spec: Spec, condition: Predicate | None = None) -> "Problem":
        """The spec's problem: its target, or ``condition`` when given."""
        if condition is not None:
            return Problem(spec.model, spec.prior, condition, None)
        if spec.target is None:
            raise SpecError("target", "a [target] table with 'truth_table' or 'name'")
        return Problem(spec.model, spec.prior, computes(spec.target.truth_table, spec.model.n_inputs), spec.target)
