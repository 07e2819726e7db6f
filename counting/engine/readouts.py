"""Shared draws: one draw of an MLP's hidden layers serves ``R`` readouts drawn fresh from the prior.

Hidden draw ``i`` of chunk ``c`` has the network key ``k = fold_in(fold_in(key(seed), c), i)`` of
:mod:`counting.engine.draws`. Its hidden layers (every parameter but the readout's weights and
bias) come from ``fold_in(k, 0)`` and readout ``r`` from ``fold_in(k, 1 + r)``; ``k`` itself is
never drawn from. (Drawing from ``k`` and deriving keys from it would tie them: under JAX's
threefry, value ``j`` of a draw from ``k`` is the xor of the two words of ``fold_in(k, j)``.) Each
pair (hidden draw, readout) is an exact draw from the prior; pairs sharing hidden layers are
correlated, so :class:`ClusterHits` keeps, per hidden draw, how many of its readouts hit.

One pass evaluates the *widened* MLP (:func:`widened`: the hidden widths plus one layer of ``R``
units whose pre-activations are the ``R`` readouts), so each hidden forward is done once and the
readouts cost one ``[width, R]`` map; the widened model's own output layer is zero and unused.
:func:`pair_forward` gives the pairs as ordinary networks to any predicate, and :func:`pair_flat`
one pair's parameters in the model's own layout (to check or to look at a hit).

Example:
    >>> import jax, numpy as np
    >>> from counting.spec import MLPSpec, ScaledPrior
    >>> from counting.models import forward, model_inputs, n_params
    >>> from counting.engine.priors import unflatten
    >>> m, prior, k = MLPSpec(n_inputs=2, widths=(3,)), ScaledPrior(), jax.random.key(0)
    >>> w = widened(m, 4)
    >>> w.widths, n_params(w) - n_params(m)     # 4 readouts of 3 + 1 values, a zero output layer of 5
    ((3, 4), 17)
    >>> x = model_inputs(m)
    >>> pairs = pair_forward(forward(w, unflatten(w, shared_flat(k, m, prior, 4)[None]), x), m, 4)
    >>> one = forward(m, unflatten(m, pair_flat(k, m, prior, 4, 2)[None]), x)   # pair 2, alone
    >>> bool(np.allclose(pairs.output[2], one.output[0], atol=1e-6)), pairs.sites["layer1"].shape
    (True, (4, 3, 4))
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int, Key

from counting.engine.draws import network_keys, seed_key
from counting.engine.priors import scale_vector, standard_draw
from counting.engine.protocols import Drawn
from counting.engine.tally import CountingTally
from counting.mechanisms.predicates import Predicate
from counting.models import Forward, n_params, param_layout
from counting.spec.job import Spec
from counting.spec.model import MLPSpec, ModelSpec
from counting.spec.prior import PriorSpec

SHIFT_INDEX = 2**32 - 1  # a hidden draw's key index for :class:`HiddenDraws`' own randomness (readouts use 1..R)


def widened(model: MLPSpec, readouts: int) -> MLPSpec:
    """The MLP whose last hidden layer's ``readouts`` pre-activations are the readouts of ``model``."""
    return dataclasses.replace(model, widths=model.widths + (readouts,))


def readout_size(model: ModelSpec) -> int:
    """Values of one readout: its weights (one per feature it reads: the last hidden layer's units)
    and its bias, the last two slots of the layout."""
    w, b = param_layout(model)[-2:]
    return math.prod(w.shape) + math.prod(b.shape)


def hidden_size(model: ModelSpec) -> int:
    """Values of the hidden layers: every parameter but the readout (they come first in the layout)."""
    return n_params(model) - readout_size(model)


def draw_keys(key: Key[Array, ""], readouts: int) -> Key[Array, "R+1"]:
    """The keys of the hidden draw with network key ``key`` (one use of it): its hidden layers'
    (``fold_in(key, 0)``, first) and its readouts' (``fold_in(key, 1 + r)``)."""
    return jax.vmap(jax.random.fold_in, (None, 0))(key, jnp.arange(readouts + 1, dtype=jnp.uint32))


def _draws(key: Key[Array, ""], model: MLPSpec, prior: PriorSpec, readouts: int):
    scale = scale_vector(model, prior)
    nh, max_abs = hidden_size(model), prior.max_abs if prior.discrete else 1
    keys = draw_keys(key, readouts)
    hidden = standard_draw(keys[0], prior.kind, nh, max_abs)
    outs = jax.vmap(lambda k: standard_draw(k, prior.kind, readout_size(model), max_abs))(keys[1:])
    return hidden * scale[:nh], outs * scale[nh:]


def shared_flat(key: Key[Array, ""], model: MLPSpec, prior: PriorSpec, readouts: int
                ) -> Float[Array, "n_widened"]:
    """Flat parameters of :func:`widened` for one hidden draw: its hidden layers, the readouts as
    a ``[width, R]`` layer and ``R`` biases, and a zero output layer."""
    hidden, outs = _draws(key, model, prior, readouts)
    return jnp.concatenate([hidden, outs[:, :-1].T.reshape(-1), outs[:, -1], jnp.zeros(readouts + 1, hidden.dtype)])


def hidden_flat(key: Key[Array, ""], model: ModelSpec, prior: PriorSpec) -> Float[Array, "n_params"]:
    """Flat parameters, in ``model``'s layout, of hidden draw ``key``'s hidden layers (drawn as
    :func:`shared_flat` draws them) with a zero readout."""
    nh, max_abs = hidden_size(model), prior.max_abs if prior.discrete else 1
    hidden = standard_draw(draw_keys(key, 0)[0], prior.kind, nh, max_abs) * scale_vector(model, prior)[:nh]
    return jnp.concatenate([hidden, jnp.zeros(readout_size(model), hidden.dtype)])


def pair_flat(key: Key[Array, ""], model: MLPSpec, prior: PriorSpec, readouts: int, r: int
              ) -> Float[Array, "n_params"]:
    """Flat parameters, in ``model``'s layout, of the network made of hidden draw ``key`` and its readout ``r``."""
    hidden, outs = _draws(key, model, prior, readouts)
    return jnp.concatenate([hidden, outs[r]])


def pair_forward(fwd: Forward, model: MLPSpec, readouts: int) -> Forward:
    """The ``B * R`` pair networks of a widened forward of ``B`` hidden draws, as ``model``'s
    forward would give them (pair ``b * R + r``: hidden draw ``b``, readout ``r``)."""
    last = f"layer{len(model.widths) + 1}"
    out = fwd.sites[last]
    b, _, points = out.shape
    sites = {f"layer{i}": jnp.repeat(fwd.sites[f"layer{i}"], readouts, axis=0) for i in range(1, len(model.widths) + 1)}
    sites["output"] = out.reshape(b * readouts, 1, points)
    return Forward(out.reshape(b * readouts, points), sites)


class SharedReadouts:
    """A source (a :class:`~counting.engine.protocols.ParameterSource`) of widened parameters: the
    chunk and network keys of plain prior draws, each network key one hidden draw with ``readouts``
    readouts."""

    unit = "hidden draws"

    def __init__(self, spec: Spec, readouts: int):
        self.spec, self.readouts = spec, readouts

    def chunk_inputs(self, chunks):
        root = seed_key(self.spec.estimator.seed, self.spec.estimator.key_impl)
        return jax.vmap(jax.random.fold_in, (None, 0))(root, chunks)

    def network_inputs(self, chunk_key, size: int):
        return network_keys(chunk_key, jnp.arange(size, dtype=jnp.uint32))

    def params(self, keys):
        return jax.vmap(lambda k: shared_flat(k, self.spec.model, self.spec.prior, self.readouts))(keys)


class HiddenDraws:
    """A source (a :class:`~counting.engine.protocols.ParameterSource`) of hidden draws alone, for
    estimators that integrate the readout out (:mod:`counting.estimators.readout`): network ``i`` of
    chunk ``c`` has the hidden layers of :class:`SharedReadouts`' hidden draw ``i`` (so the same seed
    gives both the same hidden layers) and a zero readout, and its fact ``shift_key`` (key data) is
    ``fold_in(k, SHIFT_INDEX)``, a key of its own for the estimator's randomness, used by nothing else."""

    unit = "networks"

    def __init__(self, spec: Spec):
        self.spec = spec

    def chunk_inputs(self, chunks):
        root = seed_key(self.spec.estimator.seed, self.spec.estimator.key_impl)
        return jax.vmap(jax.random.fold_in, (None, 0))(root, chunks)

    def network_inputs(self, chunk_key, size: int):
        return network_keys(chunk_key, jnp.arange(size, dtype=jnp.uint32))

    def params(self, keys):
        flat = jax.vmap(lambda k: hidden_flat(k, self.spec.model, self.spec.prior))(keys)
        shift = jax.vmap(jax.random.fold_in, (0, None))(keys, jnp.uint32(SHIFT_INDEX))
        return Drawn(flat, {"shift_key": jax.random.key_data(shift)})


def cluster_histogram(hit: Bool[Array, "BR"], valid: Bool[Array, "B"], readouts: int) -> Int[Array, "R1"]:
    """``hist[k]``: valid hidden draws with exactly ``k`` of their ``readouts`` pairs hitting."""
    per_draw = hit.reshape(-1, readouts).sum(axis=1)
    return jnp.zeros(readouts + 1, jnp.int32).at[per_draw].add(valid.astype(jnp.int32))


class ClusterHits(CountingTally):
    """A tally (see :mod:`counting.engine.tally`) of hits by hidden draw: ``finalize()`` is the
    histogram ``hist[k]`` of hidden draws with ``k`` hits out of ``readouts`` (exact integers).
    It reduces forwards of the widened model (:func:`widened`) of ``model``."""

    def __init__(self, predicate: Predicate, model: MLPSpec, readouts: int, kind: str = "volume-shared"):
        super().__init__(kind, {"hist": (readouts + 1,)})
        self.predicate, self.model, self.readouts = predicate, model, readouts

    def reduce(self, fwd: Forward, valid: Bool[Array, "B"]):
        return cluster_histogram(self.predicate(pair_forward(fwd, self.model, self.readouts)), valid, self.readouts)
