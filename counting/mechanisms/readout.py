"""The linear-readout reading of "holds", decided exactly, one llama at a time.

A layer *holds* ``g`` as a linear readout when some affine function of its activations has the
sign pattern of ``g`` on every point: ``y_i (a_i . v + c) > 0`` for all points ``i``, with
``y_i = +1`` where ``g`` is 1 and ``-1`` elsewhere, ``a_i`` the layer's activations at point ``i``.
By scaling, that is the feasibility of ``y_i (a_i . v + c) >= 1``, a linear program
(:func:`is_readout`, solved by HiGHS through :func:`scipy.optimize.linprog`; for many llamas on
one layer, :func:`prepare` the layer once and :func:`decide` each). Two exact
shortcuts decide most cases without one: when ``[A 1]`` has full row rank every sign pattern is a
readout (the reading is vacuous, :func:`counting.mechanisms.sites.decodes_everything`), and when two
points have equal activations but different values of ``g``, none is.

Holding ``g`` by the sign-pattern reading (a unit's pre-activation is positive exactly where ``g``
is 1, or exactly where it is 0) implies holding it as a readout, never the other way round: every
activation of :func:`counting.models.layers.activation` is positive exactly where its
pre-activation is, so the unit alone, thresholded just above 0, reads it (:func:`decide` with
``held`` skips the program then).

Example:
    >>> import numpy as np
    >>> a = np.array([[0., 0.], [1., 0.], [0., 1.], [1., 1.]])       # 2 units: x0 and x1 on 4 points
    >>> [is_readout(a, np.array(y)) for y in ([-1, -1, -1, 1], [-1, 1, 1, -1])]   # AND yes, XOR no
    [True, False]
    >>> readout_status(a, np.array([-1, 1, 1, 1]))
    'lp'
    >>> decide(prepare(a), np.array([-1, -1, 1, 1]), held=True)    # a unit is x1: no program needed
    ('lp', True)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from jaxtyping import Bool, Float, Int
from scipy.optimize import linprog


class Layer(NamedTuple):
    """What every llama's test shares for one layer's activations (:func:`prepare`, once per layer)."""

    full_rank: bool  # [A 1] of full row rank: every sign pattern is a readout
    group: Int[np.ndarray, "P"]  # each point's row among the distinct activation rows
    first: Int[np.ndarray, "K"]  # the first point of each distinct row
    program: Float[np.ndarray, "K V"]  # the distinct rows, constant and repeated units dropped, scaled, bias column


def prepare(acts: Float[np.ndarray, "P U"]) -> Layer:
    """The rank, the groups of points with equal activations and the better-conditioned matrix of
    the linear program: repeated points once, constant and repeated units dropped (the bias column
    reads them), each unit scaled to range 1."""
    acts = np.asarray(acts, np.float64)
    rank = int(np.linalg.matrix_rank(np.hstack([acts, np.ones((acts.shape[0], 1))])))
    a, first, group = np.unique(acts, axis=0, return_index=True, return_inverse=True)
    a = a - a.min(axis=0)
    span = a.max(axis=0)
    a = a[:, span > 0] / span[span > 0]
    a = np.unique(a, axis=1) if a.shape[1] else a
    return Layer(rank == acts.shape[0], group.reshape(-1), first, np.hstack([a, np.ones((a.shape[0], 1))]))


def full_rank(acts: Float[np.ndarray, "P U"]) -> bool:
    """Whether the activations with a bias column have full row rank (every pattern a readout)."""
    return prepare(acts).full_rank


def status(layer: Layer, signs: Float[np.ndarray, "P"]) -> str:
    """How :func:`decide` decides: ``'rank'`` (full rank: yes), ``'clash'`` (two points with equal
    activations and different signs: no) or ``'lp'`` (a linear program)."""
    if layer.full_rank:
        return "rank"
    signs = np.asarray(signs)
    clash: Bool[np.ndarray, "P"] = signs != signs[layer.first][layer.group]
    return "clash" if clash.any() else "lp"


def feasible(layer: Layer, signs: Float[np.ndarray, "P"]) -> bool:
    """The linear program alone: is ``signs_i (acts_i . v + c) >= 1`` feasible? Solved by HiGHS
    (dual simplex, then interior point if the first ends without an answer)."""
    a, y = layer.program, np.asarray(signs, np.float64)[layer.first]
    for method in ("highs-ds", "highs-ipm"):
        res = linprog(np.zeros(a.shape[1]), A_ub=-(y[:, None] * a), b_ub=-np.ones(a.shape[0]), bounds=(None, None),
                      method=method)
        if res.status in (0, 2):  # 0: feasible, 2: infeasible
            return res.status == 0
    raise RuntimeError(f"readout linear program: HiGHS gave no answer (status {res.status}: {res.message})")


def decide(layer: Layer, signs: Float[np.ndarray, "P"], held: bool = False) -> tuple[str, bool]:
    """The :func:`status` and the answer: is ``signs`` a linear readout of the prepared layer?
    ``held``: a unit of the layer holds the pattern (or its negation) by the sign-pattern reading;
    it is then a readout (module docstring) and no program runs."""
    how = status(layer, signs)
    return how, how == "rank" or (how == "lp" and (held or feasible(layer, signs)))


def readout_status(acts: Float[np.ndarray, "P U"], signs: Float[np.ndarray, "P"]) -> str:
    """:func:`status` of one llama on raw activations."""
    return status(prepare(acts), signs)


def is_readout(acts: Float[np.ndarray, "P U"], signs: Float[np.ndarray, "P"]) -> bool:
    """Whether some ``v, c`` give ``signs_i (acts_i . v + c) >= 1`` at every point (exact up to
    HiGHS's feasibility tolerance, 1e-7; the shortcuts of :func:`status` are exact). For many
    llamas on one layer, :func:`prepare` it once and :func:`decide` each."""
    return decide(prepare(acts), signs)[1]


def lp_feasible(acts: Float[np.ndarray, "P U"], signs: Float[np.ndarray, "P"]) -> bool:
    """:func:`feasible` on raw activations."""
    return feasible(prepare(acts), signs)
