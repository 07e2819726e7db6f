"""The linear-readout reading of "holds", decided exactly, one llama at a time.

A layer *holds* ``g`` as a linear readout when some affine function of its activations has the
sign pattern of ``g`` on every point: ``y_i (a_i . v + c) > 0`` for all points ``i``, with
``y_i = +1`` where ``g`` is 1 and ``-1`` elsewhere, ``a_i`` the layer's activations at point ``i``.
By scaling, that is the feasibility of ``y_i (a_i . v + c) >= 1``, a linear program
(:func:`is_readout`, solved by HiGHS through :func:`scipy.optimize.linprog`). Two exact
shortcuts decide most cases without one: when ``[A 1]`` has full row rank every sign pattern is a
readout (the reading is vacuous, :func:`counting.mechanisms.sites.decodes_everything`), and when two
points have equal activations but different values of ``g``, none is.

For relu, step and sign units, holding ``g`` by the sign-pattern reading implies holding it as a
readout (the unit alone, thresholded, reads it), never the other way round.

Example:
    >>> import numpy as np
    >>> a = np.array([[0., 0.], [1., 0.], [0., 1.], [1., 1.]])       # 2 units: x0 and x1 on 4 points
    >>> [is_readout(a, np.array(y)) for y in ([-1, -1, -1, 1], [-1, 1, 1, -1])]   # AND yes, XOR no
    [True, False]
    >>> readout_status(a, np.array([-1, 1, 1, 1]))
    'lp'
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Float
from scipy.optimize import linprog


def full_rank(acts: Float[np.ndarray, "P U"]) -> bool:
    """Whether the activations with a bias column have full row rank (every pattern a readout)."""
    a = np.hstack([np.asarray(acts, np.float64), np.ones((acts.shape[0], 1))])
    return int(np.linalg.matrix_rank(a)) == a.shape[0]


def readout_status(acts: Float[np.ndarray, "P U"], signs: Float[np.ndarray, "P"]) -> str:
    """How :func:`is_readout` decides: ``'rank'`` (full rank: yes), ``'clash'`` (two points with
    equal activations and different signs: no) or ``'lp'`` (a linear program)."""
    if full_rank(acts):
        return "rank"
    _, inv = np.unique(np.asarray(acts, np.float64), axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    for k in np.unique(inv):
        if len(np.unique(np.asarray(signs)[inv == k])) > 1:
            return "clash"
    return "lp"


def is_readout(acts: Float[np.ndarray, "P U"], signs: Float[np.ndarray, "P"]) -> bool:
    """Whether some ``v, c`` give ``signs_i (acts_i . v + c) >= 1`` at every point (exact up to
    HiGHS's feasibility tolerance, 1e-7; the shortcuts of :func:`readout_status` are exact)."""
    status = readout_status(acts, signs)
    return status == "rank" or (status == "lp" and lp_feasible(acts, signs))


def _reduced(acts: np.ndarray, signs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The same feasibility question, better conditioned: repeated points once (no clash left),
    constant and repeated units dropped (the bias column reads them), each unit scaled to range 1."""
    a, first = np.unique(np.asarray(acts, np.float64), axis=0, return_index=True)
    y = np.asarray(signs, np.float64)[first]
    a = a - a.min(axis=0)
    span = a.max(axis=0)
    a = a[:, span > 0] / span[span > 0]
    a = np.unique(a, axis=1) if a.shape[1] else a
    return np.hstack([a, np.ones((a.shape[0], 1))]), y


def lp_feasible(acts: Float[np.ndarray, "P U"], signs: Float[np.ndarray, "P"]) -> bool:
    """The linear program alone: is ``signs_i (acts_i . v + c) >= 1`` feasible? Solved by HiGHS
    (dual simplex, then interior point if the first ends without an answer)."""
    a, y = _reduced(acts, signs)
    for method in ("highs-ds", "highs-ipm"):
        res = linprog(np.zeros(a.shape[1]), A_ub=-(y[:, None] * a), b_ub=-np.ones(a.shape[0]), bounds=(None, None),
                      method=method)
        if res.status in (0, 2):  # 0: feasible, 2: infeasible
            return res.status == 0
    raise RuntimeError(f"readout linear program: HiGHS gave no answer (status {res.status}: {res.message})")
