"""Train a batch of networks on S with optax, each from its own initialisation, each stopping on its own.

:func:`fit_one` trains one network (flat parameters, as the prior draws them) with ``optax.adam`` or
``optax.sgd`` at the spec's learning rate, in a ``lax.while_loop`` of at most ``max_steps`` steps;
:func:`fit` is :func:`fit_one` vmapped over initialisations. Each step evaluates the model's own
forward (:func:`counting.models.forward`, so every model kind trains) on all of S; the loss is
taken over the step's minibatch, and the same outputs tell whether the network already classifies
S without error (``output > 0`` iff the label is ``+1``, the convention of truth tables). With
``stop = "zero_error"`` a network that fits S takes no more steps: its parameters and optimiser
state are frozen from then on (under vmap the loop runs while any network still trains; the done
mask keeps the others as they are). ``steps`` counts the updates applied.

Keys: a network's training key is ``fold_in(network_key, TRAIN_STREAM)`` (:func:`training_keys`;
the network key itself is consumed by its prior draw), and epoch ``e`` orders S by a permutation
drawn from ``fold_in(training_key, e)``; step ``j`` of the epoch takes positions
``j*b .. (j+1)*b - 1`` of that order (the last minibatch of an epoch may be smaller). A full batch
(``batch_size = 0`` or ``>= m``) draws nothing.

Example:
    >>> import jax, numpy as np
    >>> from counting.spec import parse_spec
    >>> from counting.engine.priors import draw_flat
    >>> from counting.training.data import training_set
    >>> spec = parse_spec("[model]\\nn_inputs=2\\nwidths=[]\\n[target]\\nname='and'\\n"
    ...                   "[training]\\nm=4\\nlearning_rate=0.1")
    >>> keys = jax.random.split(jax.random.key(0), 8)
    >>> flat0 = draw_flat(keys, spec.model, spec.prior)
    >>> s = training_set(spec)
    >>> r = fit(training_keys(keys), flat0, spec.model, spec.training, s.x, s.y)
    >>> bool(r.fitted.all()), r.params.shape, bool((r.steps < 10_000).all())
    (True, (8, 3), True)
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax import lax
from jaxtyping import Array, Bool, Float, Int, Key

from counting.engine.priors import unflatten
from counting.models import forward
from counting.spec.model import ModelSpec
from counting.spec.training import TrainingSpec

TRAIN_STREAM = 0x54524E5F  # "TRN_": fold_in tag of a network's training key


class FitResult(NamedTuple):
    """Trained flat parameters, updates applied, and whether the final parameters classify S exactly."""

    params: Float[Array, "B n_params"]
    steps: Int[Array, "B"]
    fitted: Bool[Array, "B"]


def training_keys(network_keys: Key[Array, "B"]) -> Key[Array, "B"]:
    """Each network's training key, ``fold_in(network_key, TRAIN_STREAM)``."""
    return jax.vmap(jax.random.fold_in, (0, None))(network_keys, TRAIN_STREAM)


def optimizer(t: TrainingSpec) -> optax.GradientTransformation:
    """optax's ``adam`` or ``sgd`` at ``t.learning_rate``."""
    return {"adam": optax.adam, "sgd": optax.sgd}[t.optimizer](t.learning_rate)


def outputs(model: ModelSpec, flat: Float[Array, "n_params"], x: Float[Array, "m n"]) -> Float[Array, "m"]:
    """One network's outputs on the points ``x``, by the model's forward."""
    return forward(model, unflatten(model, flat[None]), x).output[0]


def pointwise_loss(kind: str, out: Float[Array, "m"], y: Float[Array, "m"]) -> Float[Array, "m"]:
    """``bce``: ``softplus(-y * out)``; ``mse``: ``(out - y)**2`` (labels ``y = +-1``)."""
    if kind == "bce":
        return jax.nn.softplus(-y * out)
    return (out - y) ** 2


def batch_weights(key: Key[Array, ""], t: TrainingSpec, step: Int[Array, ""], m: int) -> Float[Array, "m"]:
    """1 on the points of S in step ``step``'s minibatch, else 0 (all ones for a full batch)."""
    b = t.batch_size
    if b == 0 or b >= m:
        return jnp.ones((m,), jnp.float32)
    per_epoch = -(-m // b)
    order = jax.random.permutation(jax.random.fold_in(key, step // per_epoch), m)
    position = jnp.argsort(order)  # where each point of S comes in this epoch's order
    return (position // b == step % per_epoch).astype(jnp.float32)


def fits(out: Float[Array, "m"], y: Float[Array, "m"]) -> Bool[Array, ""]:
    """Zero training error: ``out > 0`` exactly where the label is ``+1``."""
    return jnp.all((out > 0) == (y > 0))


def fit_one(key: Key[Array, ""], flat0: Float[Array, "n_params"], model: ModelSpec, t: TrainingSpec,
            x: Float[Array, "m n"], y: Float[Array, "m"]) -> FitResult:
    """Train one network from ``flat0`` on ``(x, y)``; see the module docstring for the rules."""
    opt = optimizer(t)
    m = y.shape[0]
    x, y = jnp.asarray(x), jnp.asarray(y)
    stop_on_fit = t.stop == "zero_error"

    def loss(flat, w):
        out = outputs(model, flat, x)
        return jnp.sum(w * pointwise_loss(t.loss, out, y)) / jnp.maximum(jnp.sum(w), 1.0), out

    def cond(state):
        step, _, _, done = state
        return (~done) & (step < t.max_steps)

    def body(state):
        step, flat, opt_state, _ = state
        (_, out), grad = jax.value_and_grad(loss, has_aux=True)(flat, batch_weights(key, t, step, m))
        done = fits(out, y) & stop_on_fit
        updates, new_state = opt.update(grad, opt_state, flat)
        keep = lambda old, new: jnp.where(done, old, new)  # noqa: E731  (a fitted network is frozen)
        return (jnp.where(done, step, step + 1), keep(flat, optax.apply_updates(flat, updates)),
                jax.tree.map(keep, opt_state, new_state), done)

    # a zero computed from flat0, so that the loop's initial state varies over devices as flat0 does
    # (inside shard_map a loop's carry must keep its type; a constant would not vary)
    zero = jnp.sum(flat0[:0])
    init = jax.tree.map(lambda a: a + zero.astype(a.dtype),
                        (jnp.int32(0), flat0, opt.init(flat0), jnp.int32(0)))
    init = init[:3] + (init[3] != 0,)
    steps, flat, _, _ = lax.while_loop(cond, body, init)
    return FitResult(flat, steps, fits(outputs(model, flat, x), y))


def fit(keys: Key[Array, "B"], flat0: Float[Array, "B n_params"], model: ModelSpec, t: TrainingSpec,
        x: Float[Array, "m n"], y: Float[Array, "m"]) -> FitResult:
    """:func:`fit_one` for a batch of networks (training keys ``keys``, initialisations ``flat0``)."""
    return jax.vmap(lambda k, p: fit_one(k, p, model, t, x, y))(keys, flat0)
