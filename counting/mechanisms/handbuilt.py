"""Hand-built residual MLPs whose mechanism is known: 4-bit parity as a serial chain or a tree of
XOR gates, for sanity checks of mechanism measures (lesions, sites).

Both networks are relu :class:`~counting.spec.model.ResMLPSpec` with ``n_inputs = 4``, ``width = 8``
and ``hidden = 8``; each function returns ``(model, params)`` with a batch axis of 1. The stream
layout is fixed:

* the embedding copies the inputs, stream units 0..3 hold ``x0 .. x3`` (``+-1``), units 4..7 start at 0;
* an XOR gate of stream units ``i, j`` (each ``+-1``) into unit ``t`` (0 before) uses two hidden units
  of its block, ``relu(s_i - s_j)`` and ``relu(s_j - s_i)``, written to unit ``t`` with weight 1 and
  bias ``-1``: unit ``t`` becomes ``|s_i - s_j| - 1``, ``+1`` where exactly one of them is ``+1``
  and ``-1`` elsewhere (so a gate reading a 0 unit writes 0);
* the readout is unit 6.

**Chain** ``((x0^x1)^x2)^x3``: block ``b1`` writes ``x0^x1`` (truth table ``0x6666``) to unit 4,
block ``b2`` writes ``(x0^x1)^x2`` (``0x9696``) to unit 5, block ``b3`` writes the parity
(``0x6996``) to unit 6. **Tree** ``(x0^x1)^(x2^x3)``: block ``a`` writes ``x0^x1`` to unit 4,
block ``b`` (possibly ``a``) writes ``x2^x3`` (``0x0ff0``) to unit 5, block ``c`` writes the parity
to unit 6. Every other block is present with all its parameters 0 (no residual branch). Lesioning
any gate block leaves the readout at 0 everywhere, the constant-0 function.

Example:
    >>> import jax.numpy as jnp
    >>> from counting.boolean.cube import cube
    >>> from counting.boolean.tables import words_to_int
    >>> from counting.models import forward
    >>> from counting.mechanisms.predicates import truth_tables
    >>> m, p = parity_chain(depth=4, blocks=(1, 3, 4))
    >>> hex(words_to_int(truth_tables(forward(m, p, jnp.asarray(cube(4))))[0]))
    '0x6996'
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from counting.spec.model import ResMLPSpec

N, WIDTH, HIDDEN = 4, 8, 8
OUT_UNIT = 6
PARITY, X01, X23, X012 = 0x6996, 0x6666, 0x0FF0, 0x9696


def _blank(depth: int) -> dict[str, np.ndarray]:
    p = {"embed.w": np.eye(N, WIDTH, dtype=np.float32), "embed.b": np.zeros(WIDTH, np.float32)}
    for k in range(1, depth + 1):
        p[f"block{k}.in.w"] = np.zeros((WIDTH, HIDDEN), np.float32)
        p[f"block{k}.in.b"] = np.zeros(HIDDEN, np.float32)
        p[f"block{k}.out.w"] = np.zeros((HIDDEN, WIDTH), np.float32)
        p[f"block{k}.out.b"] = np.zeros(WIDTH, np.float32)
    p["output.w"] = np.zeros((WIDTH, 1), np.float32)
    p["output.w"][OUT_UNIT, 0] = 1.0
    p["output.b"] = np.zeros(1, np.float32)
    return p


def _xor_gate(p: dict, block: int, i: int, j: int, t: int, h: int) -> None:
    """Stream unit ``t`` of ``block`` becomes ``s_i xor s_j``, using hidden units ``h, h + 1``."""
    w_in, w_out = p[f"block{block}.in.w"], p[f"block{block}.out.w"]
    w_in[i, h], w_in[j, h] = 1.0, -1.0
    w_in[i, h + 1], w_in[j, h + 1] = -1.0, 1.0
    w_out[h, t] = w_out[h + 1, t] = 1.0
    p[f"block{block}.out.b"][t] = -1.0


def _finish(depth: int, p: dict) -> tuple[ResMLPSpec, dict]:
    return ResMLPSpec(n_inputs=N, width=WIDTH, depth=depth, hidden=HIDDEN, activation="relu"), {
        k: jnp.asarray(v[None]) for k, v in p.items()}


def _check_blocks(depth: int, blocks: tuple[int, ...], name: str) -> None:
    if not all(isinstance(k, int) and 1 <= k <= depth for k in blocks):
        raise ValueError(f"{name}: expected blocks between 1 and depth = {depth}, got {blocks}")


def parity_chain(depth: int = 3, blocks: tuple[int, int, int] = (1, 2, 3)) -> tuple[ResMLPSpec, dict]:
    """4-bit parity as the chain ``((x0^x1)^x2)^x3`` in blocks ``blocks = (b1, b2, b3)``,
    ``b1 < b2 < b3 <= depth``: ``x0^x1`` in stream unit 4 from block ``b1`` on, ``(x0^x1)^x2``
    in unit 5 from ``b2`` on, the parity in unit 6 (the readout) from ``b3`` on."""
    _check_blocks(depth, tuple(blocks), "blocks")
    b1, b2, b3 = blocks
    if not b1 < b2 < b3:
        raise ValueError(f"blocks: expected b1 < b2 < b3, got {tuple(blocks)}")
    p = _blank(depth)
    _xor_gate(p, b1, 0, 1, 4, 0)
    _xor_gate(p, b2, 4, 2, 5, 0)
    _xor_gate(p, b3, 5, 3, OUT_UNIT, 0)
    return _finish(depth, p)


def parity_tree(depth: int = 2, blocks: tuple[int, int, int] = (1, 1, 2)) -> tuple[ResMLPSpec, dict]:
    """4-bit parity as the tree ``(x0^x1)^(x2^x3)`` in blocks ``blocks = (a, b, c)``, ``a, b < c
    <= depth`` (``a == b`` allowed): ``x0^x1`` in stream unit 4 from block ``a`` on, ``x2^x3``
    in unit 5 from ``b`` on, the parity in unit 6 (the readout) from ``c`` on."""
    _check_blocks(depth, tuple(blocks), "blocks")
    a, b, c = blocks
    if not (a < c and b < c):
        raise ValueError(f"blocks: expected a < c and b < c, got {tuple(blocks)}")
    p = _blank(depth)
    _xor_gate(p, a, 0, 1, 4, 0)
    _xor_gate(p, b, 2, 3, 5, 2)
    _xor_gate(p, c, 4, 5, OUT_UNIT, 0)
    return _finish(depth, p)
