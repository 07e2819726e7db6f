"""The NNGP kernel: the output covariance of an MLP over the cube as every hidden width goes to infinity.

As every hidden width of an MLP goes to infinity, its outputs on the ``2**n`` cube points become
jointly Gaussian, ``y ~ N(0, K)`` (Neal 1996; Lee et al. 2018, "Deep neural networks as Gaussian
processes"; Matthews et al. 2018). With weights of variance ``sigma_w**2 / fan_in`` and biases of
variance ``sigma_b**2`` (:mod:`counting.engine.priors`), ``K`` follows the recursion

* ``K_1(x, x') = sigma_b**2 + sigma_w**2 * (x . x') / n`` (first-layer pre-activations; for a
  perceptron, ``widths=()``, this is already the output covariance, at any width), with ``x`` the
  cube points in the model's ``inputs`` encoding (:func:`counting.models.model_inputs`): on
  ``{-1,+1}^n`` the diagonal is ``sigma_b**2 + sigma_w**2``, on ``{0,1}^n`` ``x . x'`` counts the
  bits set in both points;
* ``K_{l+1}(x, x') = sigma_b**2 + sigma_w**2 * E[act(u) act(v)]``, ``(u, v)`` centred Gaussian with
  covariance ``[[K_l(x,x), K_l(x,x')], [K_l(x,x'), K_l(x',x')]]``: the ``width_l`` units of layer
  ``l`` each contribute ``E[act(u) act(v)]`` and their readout weights have variance
  ``sigma_w**2 / width_l``, so the sum is exactly ``sigma_w**2 * E[act(u) act(v)]``.

The Gaussian expectation has a closed form for ``relu`` (:func:`relu_expectation`, the arc-cosine
kernel of degree 1) and ``erf`` (:func:`erf_expectation`, the arcsine kernel). The steps of the
recursion are the architecture's (:class:`~counting.models.layers.Architecture` ``nngp_steps``: an
MLP's hidden layers). :func:`check_nngp` is the one statement of when the limit is known (the spec
checks it when it is read, and the kernel before it is computed).

Example:
    >>> from counting.spec import MLPSpec, ScaledPrior
    >>> nngp_kernel(MLPSpec(n_inputs=1, widths=()), ScaledPrior()).tolist()
    [[2.0, 0.0], [0.0, 2.0]]
    >>> nngp_kernel(MLPSpec(n_inputs=1, widths=(), inputs="01"), ScaledPrior()).tolist()
    [[1.0, 1.0], [1.0, 2.0]]
    >>> check_nngp(MLPSpec(activation="tanh"), ScaledPrior())
    Traceback (most recent call last):
    ...
    counting.spec.errors.SpecError: model.activation: expected relu or erf for estimator 'nngp', got 'tanh'
"""

from __future__ import annotations

import numpy as np

from counting.models import architecture, has, kinds_with, model_inputs
from counting.spec.errors import SpecError
from counting.spec.model import ModelSpec
from counting.spec.prior import PriorSpec

def relu_expectation(k11: np.ndarray, k22: np.ndarray, k12: np.ndarray) -> np.ndarray:
    """``E[relu(u) relu(v)]`` for centred Gaussian ``(u, v)`` with variances ``k11, k22``, covariance ``k12``.

    Arc-cosine kernel of degree 1 (Cho & Saul 2009, "Kernel methods for deep learning", NIPS 22),
    whose ``k_1 = (1/pi) |x| |y| J_1(t)`` is *twice* this expectation:
    ``sqrt(k11 k22) / (2 pi) * (sin t + (pi - t) cos t)`` with ``cos t = k12 / sqrt(k11 k22)``.
    """
    norm = np.sqrt(np.asarray(k11, np.float64) * np.asarray(k22, np.float64))
    cos = np.clip(np.asarray(k12, np.float64) / norm, -1.0, 1.0)
    sin = np.sqrt(np.maximum(0.0, 1.0 - cos * cos))
    theta = np.arctan2(sin, cos)
    return norm / (2 * np.pi) * (sin + (np.pi - theta) * cos)


def erf_expectation(k11: np.ndarray, k22: np.ndarray, k12: np.ndarray) -> np.ndarray:
    """``E[erf(u) erf(v)]`` for centred Gaussian ``(u, v)`` with variances ``k11, k22``, covariance ``k12``.

    Arcsine kernel (Williams 1997, "Computing with infinite networks", NIPS 9; there the bias is an
    augmented input, here it is already inside ``K``):
    ``(2 / pi) * arcsin(2 k12 / sqrt((1 + 2 k11)(1 + 2 k22)))``.
    """
    k11, k22, k12 = (np.asarray(a, np.float64) for a in (k11, k22, k12))
    return (2 / np.pi) * np.arcsin(np.clip(2 * k12 / np.sqrt((1 + 2 * k11) * (1 + 2 * k22)), -1.0, 1.0))


EXPECTATIONS = {"relu": relu_expectation, "erf": erf_expectation}
NNGP_ACTIVATIONS = tuple(EXPECTATIONS)  # the activations whose Gaussian expectation has a closed form


def check_nngp(model: ModelSpec, prior: PriorSpec) -> None:
    """The NNGP limit is known for a model whose architecture has a kernel recursion (an MLP), under a
    gaussian prior, with an activation in :data:`NNGP_ACTIVATIONS`: a one-line
    :class:`~counting.spec.SpecError` naming ``model.kind``, ``prior.kind`` or ``model.activation`` otherwise."""
    if not has(architecture(model), "nngp_steps"):
        kinds = kinds_with("nngp_steps")
        raise SpecError("model.kind", f"{' or '.join(map(repr, kinds))} for estimator 'nngp' (its kernel is known "
                        f"for {' and '.join(kinds)} only)", model.kind)
    if prior.kind != "gaussian":
        raise SpecError("prior.kind", "'gaussian' for estimator 'nngp'", prior.kind)
    if model.activation not in NNGP_ACTIVATIONS:
        raise SpecError("model.activation", f"{' or '.join(NNGP_ACTIVATIONS)} for estimator 'nngp'",
                        model.activation)


def input_kernel(model: ModelSpec, prior: PriorSpec) -> np.ndarray:
    """``K_1 = sigma_b**2 + sigma_w**2 x.x' / n`` on the cube as ``model`` sees it (its ``inputs``
    encoding), float64 ``[2**n, 2**n]``."""
    x = model_inputs(model).astype(np.float64)
    return prior.sigma_b**2 + prior.sigma_w**2 * (x @ x.T) / model.n_inputs


def next_kernel(k: np.ndarray, activation: str, prior: PriorSpec) -> np.ndarray:
    """One step of the recursion: ``sigma_b**2 + sigma_w**2 E[act(u) act(v)]`` under ``N(0, k)``."""
    diag = np.diag(k)
    e = EXPECTATIONS[activation](diag[:, None], diag[None, :], k)
    return prior.sigma_b**2 + prior.sigma_w**2 * e


def nngp_kernel(model: ModelSpec, prior: PriorSpec) -> np.ndarray:
    """Output covariance ``[2**n, 2**n]`` (float64) on the cube of the infinitely wide ``model``.

    Raises :class:`~counting.spec.SpecError` (a ``ValueError``) naming ``model.kind``,
    ``model.activation`` or ``prior.kind`` when there is no NNGP limit implemented for it (:func:`check_nngp`).
    """
    check_nngp(model, prior)
    k = input_kernel(model, prior)
    for act in architecture(model).nngp_steps(model):
        k = next_kernel(k, act, prior)
    return k
