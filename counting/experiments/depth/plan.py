"""Which networks the depth experiment measures: square networks of a given parameter count.

At an equal parameter count the comparison across depth is fair: a deeper network gets narrower
layers. :func:`equal_params_model` picks the hidden width (all hidden layers, or a residual MLP's
stream and inner width, equal) whose parameter count is nearest the budget (the narrower on a
tie), under the same prior scaling for every depth.

Example:
    >>> m = equal_params_model("mlp", 4, 2, 600)
    >>> m.widths, n_params(m)
    ((21, 21), 589)
    >>> m = equal_params_model("resmlp", 4, 4, 600)
    >>> (m.width, m.hidden, m.depth), n_params(m)
    ((8, 8, 4), 625)
    >>> model_name(m)
    'resmlp-L4-w8'
"""

from __future__ import annotations

from counting.models import n_params, supporting
from counting.spec.model import ModelSpec


def square_model(kind: str, n: int, depth: int, width: int, activation: str = "relu") -> ModelSpec:
    """An MLP with ``depth`` hidden layers of ``width``, or a residual MLP of ``depth`` blocks with
    stream and inner width ``width`` (the architecture's ``square``; a kind without one is an error)."""
    return supporting(kind, "square", "square networks of a depth and a width").square(n, depth, width, activation)


def equal_params_model(kind: str, n: int, depth: int, params: int, activation: str = "relu") -> ModelSpec:
    """The square network of this kind and depth whose parameter count is nearest ``params``."""
    best, w = None, 1
    while True:
        m = square_model(kind, n, depth, w, activation)
        gap = abs(n_params(m) - params)
        if best is not None and gap > best[0] and n_params(m) > params:
            return best[1]
        if best is None or gap < best[0]:
            best = (gap, m)
        w += 1


def model_name(m: ModelSpec) -> str:
    """A short name that is also a folder name: ``mlp-L3-w15``, ``resmlp-L4-w8``."""
    return f"{m.kind}-L{model_depth(m)}-w{model_width(m)}"


def model_depth(m: ModelSpec) -> int:
    """Hidden layers of an MLP, blocks of a residual MLP."""
    return supporting(m, "depth", "a depth").depth(m)


def model_width(m: ModelSpec) -> int:
    """The width of an MLP's first hidden layer, of a residual MLP's stream."""
    return supporting(m, "width", "a width").width(m)
