"""Hit-or-miss with shared draws for any architecture with a linear readout, for many targets in one pass.

:mod:`counting.estimators.shared` draws ``R`` readouts per hidden draw of an MLP by widening its
last layer; a residual network's readout reads its final stream, so it cannot be widened that way.
Here each hidden draw's ``R`` readouts are drawn beside its hidden layers by the source
(:class:`FeatureReadouts`) and applied to the features the readout reads
(:attr:`counting.models.layers.Architecture.readout_features`: an MLP's last hidden layer, a
residual network's final stream), so any such architecture gets shared draws. The keys are those of
:mod:`counting.engine.readouts`: hidden draw ``i`` of chunk ``c`` has network key
``k = fold_in(fold_in(key(seed), c), i)``, its hidden layers come from ``fold_in(k, 0)``
(:func:`~counting.engine.readouts.hidden_flat`) and readout ``r`` from ``fold_in(k, 1 + r)``, scaled
by the prior's readout scales. So for an MLP the pairs are exactly those of
:class:`~counting.engine.readouts.SharedReadouts` with the same seed and chunk size (the tests check
it), and every pair (hidden draw, readout) is an exact draw from the prior.

:class:`ManyClusterHits` tallies, for each of ``T`` targets, the histogram of hidden draws by the
number of their ``R`` readouts that compute the target (exact integers, ``[T, R + 1]``);
:func:`counting.estimators.shared.cluster_estimate` turns each row into an estimate with the
cluster (Korn-Graubard) interval. Every target is counted on the same pairs, so one pass serves
them all.

Example:
    >>> from counting.spec.model import ResMLPSpec
    >>> from counting.spec.prior import ScaledPrior
    >>> from counting.spec.estimator import MCSettings
    >>> m = ResMLPSpec(n_inputs=2, width=4, depth=1, hidden=4)
    >>> est = hit_or_miss(m, ScaledPrior(), (0x0, 0x8), MCSettings(samples=2048, chunk_size=16, readouts_per_draw=64))
    >>> [e.samples for e in est[0]], est[1].samples
    ([2048, 2048], 32)
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool

from counting.engine.priors import scale_vector, standard_draw
from counting.engine.protocols import Drawn, Reducer
from counting.engine.readouts import HiddenDraws, draw_keys, hidden_flat, hidden_size, readout_size
from counting.engine.run import PassFacts, RunOptions, run_pass
from counting.engine.tally import CountingTally
from counting.estimators.result import Estimate
from counting.estimators.shared import cluster_estimate
from counting.models import Forward, model_inputs, supporting
from counting.spec.errors import SpecError
from counting.spec.estimator import MCSettings
from counting.spec.job import Spec
from counting.spec.model import ModelSpec
from counting.spec.prior import PriorSpec

MAX_INPUTS = 5  # a pair's truth table is a uint32 code of its 2**n output bits


def readout_draws(key, model: ModelSpec, prior: PriorSpec, readouts: int):
    """The ``readouts`` readouts of hidden draw ``key``: ``[R, F + 1]``, weights then bias, scaled
    (readout ``r`` from ``fold_in(key, 1 + r)``, as :mod:`counting.engine.readouts` draws them)."""
    nh = hidden_size(model)
    scale = jnp.asarray(scale_vector(model, prior)[nh:])
    max_abs = prior.max_abs if prior.discrete else 1
    keys = draw_keys(key, readouts)[1:]
    return jax.vmap(lambda k: standard_draw(k, prior.kind, readout_size(model), max_abs))(keys) * scale


class FeatureReadouts(HiddenDraws):
    """A source of hidden draws (their hidden layers, a zero readout) with ``readouts`` readouts
    each as the fact ``readouts`` (``[B, R, F + 1]``)."""

    unit = "hidden draws"

    def __init__(self, spec: Spec, readouts: int):
        super().__init__(spec)
        self.readouts = readouts

    def params(self, keys):
        m, p = self.spec.model, self.spec.prior
        flat = jax.vmap(lambda k: hidden_flat(k, m, p))(keys)
        outs = jax.vmap(lambda k: readout_draws(k, m, p, self.readouts))(keys)
        return Drawn(flat, {"readouts": outs})


def pair_outputs(model: ModelSpec, fwd: Forward, readouts, x) -> Array:
    """``[B, R, P]``: each hidden draw's outputs under each of its readouts (``[B, R, F + 1]``)."""
    feats = supporting(model, "readout_features", "a linear readout").readout_features(model, fwd, x)
    return jnp.einsum("brf,bfp->brp", readouts[..., :-1], feats) + readouts[..., -1:]


def pair_codes(out: Array) -> Array:
    """``[..., P]`` outputs to truth tables (uint32: bit ``i`` is ``out_i > 0``)."""
    bits = (out > 0).astype(jnp.uint32)
    return jnp.sum(bits << jnp.arange(out.shape[-1], dtype=jnp.uint32), axis=-1, dtype=jnp.uint32)


class ManyClusterHits(CountingTally):
    """For each of ``targets`` (truth tables), ``hist[t, k]``: hidden draws with exactly ``k`` of
    their ``readouts`` readouts computing target ``t``."""

    def __init__(self, model: ModelSpec, targets: Sequence[int], readouts: int):
        self.model, self.targets, self.readouts = model, tuple(int(t) for t in targets), readouts
        self.x = model_inputs(model)
        tag = ",".join(f"{t:x}" for t in self.targets)
        super().__init__(f"volume-shared-features:R={readouts}:{tag}", {"hist": (len(self.targets), readouts + 1)})

    @property
    def reducer(self) -> Reducer:
        return Reducer(self.reduce, needs_facts=True)

    def reduce(self, fwd: Forward, valid: Bool[Array, "B"], facts) -> Array:
        codes = pair_codes(pair_outputs(self.model, fwd, facts["readouts"], jnp.asarray(self.x)))  # [B, R]
        t = jnp.asarray(np.array(self.targets, np.uint32))
        per_draw = jnp.sum(codes[None] == t[:, None, None], axis=2)  # [T, B]
        rows = jnp.broadcast_to(jnp.arange(len(self.targets))[:, None], per_draw.shape)
        hist = jnp.zeros((len(self.targets), self.readouts + 1), jnp.int32)
        return hist.at[rows, per_draw].add(jnp.broadcast_to(valid, per_draw.shape).astype(jnp.int32))


def check_hit_or_miss(model: ModelSpec, settings: MCSettings, where: str = "hit_or_miss") -> None:
    """A one-line error where these shared draws do not apply."""
    supporting(model, "readout_features", "a linear readout of named features")
    if model.n_inputs > MAX_INPUTS:
        raise SpecError("model.n_inputs", f"at most {MAX_INPUTS} for shared readouts of features", model.n_inputs)
    if settings.samples % settings.readouts_per_draw or settings.samples < 2 * settings.readouts_per_draw:
        raise SpecError(f"{where}.samples", f"a multiple of readouts_per_draw = {settings.readouts_per_draw}, "
                        "two hidden draws at least", settings.samples)
    if settings.sampler != "threefry":
        raise SpecError(f"{where}.sampler", "'threefry' (keyed draws)", settings.sampler)


def pass_spec(model: ModelSpec, prior: PriorSpec, settings: MCSettings) -> Spec:
    """The pass's spec: one "sample" per hidden draw (chunks count hidden draws)."""
    return Spec(model, prior, None, dataclasses.replace(settings, samples=settings.samples // settings.readouts_per_draw))


def hit_or_miss(model: ModelSpec, prior: PriorSpec, targets: Sequence[int], settings: MCSettings,
                options: RunOptions = RunOptions(progress=False)) -> tuple[list[Estimate], PassFacts]:
    """Each target's hit-or-miss estimate over ``settings.samples`` (hidden draw, readout) pairs,
    ``settings.readouts_per_draw`` per hidden draw, from one pass; and the pass's facts."""
    check_hit_or_miss(model, settings)
    r = settings.readouts_per_draw
    spec = pass_spec(model, prior, settings)
    tally = ManyClusterHits(model, targets, r)
    facts = run_pass(spec, tally, options, source=FeatureReadouts(spec, r))
    hist = tally.finalize()
    diag = {"chunks": facts.chunks, "resumed_from_chunk": facts.resumed_from_chunk,
            "networks_per_second": facts.networks_per_second * r}
    return [cluster_estimate(h, seconds=facts.seconds, seed=settings.seed, diagnostics=diag) for h in hist], facts
