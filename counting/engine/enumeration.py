"""Exact enumeration of a discrete prior: every parameter configuration, each counted once.

Under the ``ternary`` (or ``integer``) prior every parameter is uniform on ``-m .. m``, so the
``(2m+1)**P`` configurations are equally likely and the volume of a function is exactly
``count / (2m+1)**P``. Configuration ``g`` sets parameter ``j`` to digit ``j`` of ``g`` in base
``2m+1``, minus ``m``. Chunks hold ``base**k`` configurations: the low ``k`` digits come from the
index within the chunk and the rest from the chunk id, so no 64-bit arithmetic is needed and the
job machinery (devices, checkpoints, resume) is the sampler's own.

Example:
    >>> from counting.spec import parse_spec
    >>> spec = parse_spec('''
    ... [model]
    ... n_inputs = 2
    ... widths = []
    ... activation = "step"
    ... [prior]
    ... kind = "ternary"
    ... [estimator]
    ... kind = "exact"
    ... ''', need_target=False)
    >>> plan = enumeration_plan(spec)
    >>> plan.base, plan.n_params, plan.total
    (3, 3, 27)
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax.numpy as jnp
import numpy as np

from counting.models import n_params
from counting.spec.errors import SpecError
from counting.spec.estimator import MCSettings
from counting.spec.job import Spec

MAX_CHUNK = 1 << 16


class EnumerationPlan(NamedTuple):
    base: int
    n_params: int
    low_digits: int  # digits per chunk
    chunk_size: int
    n_chunks: int

    @property
    def total(self) -> int:
        return self.base**self.n_params


def enumeration_plan(spec: Spec) -> EnumerationPlan:
    """How the configurations of ``spec``'s discrete prior split into chunks."""
    if not spec.prior.discrete:
        raise SpecError("prior.kind", "a discrete prior ('ternary' or 'integer') for exact enumeration",
                        spec.prior.kind)
    base, p = 2 * spec.prior.max_abs + 1, n_params(spec.model)
    k = 0
    while k < p and base ** (k + 1) <= MAX_CHUNK:
        k += 1
    chunks = base ** (p - k)
    if chunks > 2**32:
        raise SpecError("estimator.kind", f"at most 2**32 chunks for 'exact' ({base}**{p} configurations "
                        f"is too many)", "exact")
    return EnumerationPlan(base, p, k, base**k, chunks)


def enumerated_spec(spec: Spec) -> Spec:
    """The engine's view of an enumeration: ``samples`` and ``chunk_size`` set to the plan's (the
    seed is unused: the source lists configurations, it draws nothing)."""
    plan = enumeration_plan(spec)
    return dataclasses.replace(spec, estimator=MCSettings(samples=plan.total, chunk_size=plan.chunk_size))


def _digits(values, base: int, n: int):
    powers = jnp.asarray([base**j for j in range(n)], jnp.uint32)
    return (values[:, None] // powers[None, :]) % base


class Enumeration:
    """Parameter source for the engine (a :class:`~counting.engine.protocols.ParameterSource`):
    configuration ``chunk * chunk_size + i``."""

    unit = "configurations"  # what progress lines count

    def __init__(self, spec: Spec):
        self.plan = enumeration_plan(spec)
        self.m = spec.prior.max_abs

    def chunk_inputs(self, chunks):
        return chunks

    def network_inputs(self, chunk, size: int):
        return jnp.full((size,), chunk, jnp.uint32), jnp.arange(size, dtype=jnp.uint32)

    def params(self, net):
        chunk, i = net
        pl = self.plan
        low = _digits(i, pl.base, pl.low_digits)
        high = _digits(chunk, pl.base, pl.n_params - pl.low_digits)
        return (jnp.concatenate([low, high], axis=1).astype(jnp.float32)) - self.m


def configuration(index: int, spec: Spec) -> np.ndarray:
    """The flat parameters of configuration ``index`` (for checks by hand)."""
    plan = enumeration_plan(spec)
    digits = [(index // plan.base**j) % plan.base for j in range(plan.n_params)]
    return np.array(digits, np.float32) - spec.prior.max_abs
