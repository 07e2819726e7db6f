"""The input domain: all ``2**n`` points of the Boolean cube.

Point ``i`` has ``x_j = +1`` if bit ``j`` of ``i`` is set, else ``-1`` (the ``{0,1}`` encoding is
``(x + 1) / 2``).

Example:
    >>> cube(2).tolist()
    [[-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0], [1.0, 1.0]]
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Float

ENCODINGS = ("pm1", "01")  # the values a model's ``inputs`` field takes


def cube(n: int, encoding: str = "pm1") -> Float[np.ndarray, "points n"]:
    """All points of ``{-1,+1}^n`` (or ``{0,1}^n`` with ``encoding="01"``), point ``i`` in row ``i``."""
    bits = (np.arange(2**n)[:, None] >> np.arange(n)[None, :]) & 1
    if encoding == "01":
        return bits.astype(np.float32)
    if encoding != "pm1":
        raise ValueError(f"encoding: expected one of {list(ENCODINGS)}, got {encoding!r}")
    return (2 * bits - 1).astype(np.float32)
