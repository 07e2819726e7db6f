"""The ``[training]`` section: train every drawn network on a training set S, or count the posterior.

A spec with ``[training]`` means: every network drawn from the prior is then trained on S (labelled
by the spec's ``[target]``), and the job counts the trained networks' functions over the whole cube,
P_SGD(f). With ``posterior = true`` nothing is trained: the census counts the prior's networks that
agree with the target on S, the Bayesian posterior P_B(f | S) by rejection.

Fields (defaults in :class:`TrainingSpec`):

* ``optimizer``: ``"adam"`` or ``"sgd"`` (optax's, plain, at ``learning_rate``).
* ``learning_rate``: a number > 0.
* ``batch_size``: points of S per step; ``0`` (the default) or anything ``>= m`` is the whole of S.
  Minibatches follow a fresh random order of S every epoch, from the network's own key.
* ``max_steps``: the budget of optimiser steps (``0``: no training at all).
* ``stop``: ``"zero_error"`` (a network stops, its parameters frozen, once it classifies S without
  error; the default) or ``"budget"`` (every network takes ``max_steps`` steps).
* ``loss``: ``"bce"`` (logistic loss ``softplus(-y * output)`` on labels ``y = +-1``; the default,
  the usual loss for a binary classifier whose output is a logit) or ``"mse"`` (``(output - y)**2``).
* S: ``train_points`` (distinct cube points ``0 <= x < 2**n``, as in a target's list form), or ``m``
  (and ``train_seed``, default 0): ``m`` distinct points drawn reproducibly
  (:func:`counting.training.data.training_points`). ``m = 0`` or ``train_points = []`` is empty.
* ``condition_on_train``: the census counts only the networks whose final function agrees with the
  target on S (``drawn`` stays every network), and its table gains P(f | S) columns.
* ``posterior``: no training; implies ``condition_on_train``.

Example:
    >>> t = parse_training({"optimizer": "sgd", "learning_rate": 0.1, "m": 4}, 3)
    >>> t.optimizer, t.learning_rate, t.m, t.train_points, t.batch_size
    ('sgd', 0.1, 4, None, 0)
    >>> training_dict(t)["m"], "train_points" in training_dict(t)
    (4, False)
    >>> parse_training({"m": 9}, 3)
    Traceback (most recent call last):
    ...
    counting.spec.errors.SpecError: training.m: expected an integer <= 8, got 9
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from counting.spec.errors import SpecError, check_keys, choice, flag, integer, number

OPTIMIZERS = ("adam", "sgd")
STOPS = ("zero_error", "budget")
LOSSES = ("bce", "mse")
MAX_STEPS = 10_000_000


@dataclass(frozen=True)
class TrainingSpec:
    """A validated ``[training]`` section. Exactly one of ``train_points`` and ``m`` is set."""

    optimizer: str = "adam"
    learning_rate: float = 0.01
    batch_size: int = 0
    max_steps: int = 10_000
    stop: str = "zero_error"
    loss: str = "bce"
    train_points: tuple[int, ...] | None = None
    m: int | None = None
    train_seed: int = 0
    condition_on_train: bool = False
    posterior: bool = False


def _points(v: Any, field: str, n_inputs: int) -> tuple[int, ...]:
    size = 2**n_inputs
    expected = f"a list of distinct cube points (integers 0 <= x < {size})"
    if not isinstance(v, list):
        raise SpecError(field, expected, v)
    for x in v:
        if isinstance(x, bool) or not isinstance(x, int) or not 0 <= x < size:
            raise SpecError(field, expected, v)
    if len(set(v)) != len(v):
        raise SpecError(field, expected + " without repeats", v)
    return tuple(sorted(v))


_CHECKS = {
    "optimizer": lambda v, f, n: choice(v, f, OPTIMIZERS),
    "learning_rate": lambda v, f, n: number(v, f),
    "batch_size": lambda v, f, n: integer(v, f, 0),
    "max_steps": lambda v, f, n: integer(v, f, 0, MAX_STEPS),
    "stop": lambda v, f, n: choice(v, f, STOPS),
    "loss": lambda v, f, n: choice(v, f, LOSSES),
    "train_points": _points,
    "m": lambda v, f, n: integer(v, f, 0, 2**n),
    "train_seed": lambda v, f, n: integer(v, f, 0, 2**32 - 1),
    "condition_on_train": lambda v, f, n: flag(v, f),
    "posterior": lambda v, f, n: flag(v, f),
}


def parse_training(t: dict, n_inputs: int, where: str = "training") -> TrainingSpec:
    """Validate a ``[training]`` table for a model on ``n_inputs`` bits."""
    check_keys(t, set(_CHECKS), where)
    values = {k: _CHECKS[k](v, f"{where}.{k}", n_inputs) for k, v in t.items()}
    if ("train_points" in values) == ("m" in values):
        raise SpecError(f"{where}.m", "exactly one of 'train_points' or 'm' (with 'train_seed') for S")
    if "train_points" in values and "train_seed" in values:
        raise SpecError(f"{where}.train_seed", "'m' beside it (train_points need no seed)", values["train_seed"])
    if values.get("posterior") and values.get("condition_on_train") is False:
        raise SpecError(f"{where}.condition_on_train", "true or absent with posterior = true", False)
    if values.get("posterior"):
        values["condition_on_train"] = True
    return TrainingSpec(**values)


def training_dict(t: TrainingSpec) -> dict:
    """The settings that apply, as a plain dict (manifests, job identity). S appears in the form it
    was given; a posterior records no optimiser settings (nothing is trained)."""
    d = dataclasses.asdict(t)
    if t.train_points is None:
        del d["train_points"]
    else:
        d["train_points"] = list(t.train_points)
        del d["m"], d["train_seed"]
    if t.posterior:
        for k in ("optimizer", "learning_rate", "batch_size", "max_steps", "stop", "loss"):
            del d[k]
    return d


def check_training(t: TrainingSpec, target: Any, est: Any) -> None:
    """What training needs of the other sections: a target (it labels S) and the ``mc`` estimator
    with the key sampler and one readout per draw (every network has its own key)."""
    if target is None:
        raise SpecError("target", "a [target] table with 'truth_table' or 'name' for [training] (it labels S)")
    if est.kind != "mc":
        raise SpecError("estimator.kind", "'mc' with [training] (networks are drawn, then trained)", est.kind)
    if getattr(est, "sampler", "threefry") != "threefry":
        raise SpecError("estimator.sampler", "'threefry' with [training] (training keys come from network keys)",
                        est.sampler)
    if getattr(est, "readouts_per_draw", 1) != 1:
        raise SpecError("estimator.readouts_per_draw", "1 with [training]", est.readouts_per_draw)
