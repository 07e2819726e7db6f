"""Philox4x32-10 (Salmon et al., SC'11, the Random123 generator) and a Box-Muller normal transform,
written with uint32 operations only (so it runs unchanged in jnp, in a Pallas kernel and in interpret mode).

``philox4x32(counter, key)`` maps a 128-bit counter (four uint32 arrays) and a 64-bit key (two
uint32 arrays) to four uint32 words; all arguments broadcast. The 32x32 -> 64-bit products are
built from 16-bit halves, so no 64-bit integers are needed (JAX's default has none).
``box_muller(a, b)`` turns two words into two independent standard normals.

Example (the first known-answer vector of Random123's ``kat_vectors``):
    >>> import numpy as np
    >>> z = np.zeros((), np.uint32)
    >>> [f"{int(w):08x}" for w in philox4x32((z, z, z, z), (z, z))]
    ['6627e8d5', 'e169c58d', 'bc57ac4c', '9b00dbd8']
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, UInt32

ROUNDS = 10
M0, M1 = 0xD2511F53, 0xCD9E8D57  # round multipliers
W0, W1 = 0x9E3779B9, 0xBB67AE85  # key schedule (Weyl) increments
TWO_PI = 2.0 * math.pi
WORD = 2.0**-32


def mulhilo(m: int, x: UInt32[Array, "..."]) -> tuple[UInt32[Array, "..."], UInt32[Array, "..."]]:
    """High and low 32 bits of the 64-bit product ``m * x`` (``m`` a 32-bit constant)."""
    x = jnp.asarray(x, jnp.uint32)
    mh, ml = jnp.uint32(m >> 16), jnp.uint32(m & 0xFFFF)
    xh, xl = x >> 16, x & 0xFFFF
    ll, lh, hl, hh = ml * xl, ml * xh, mh * xl, mh * xh  # each < 2**32
    mid = (ll >> 16) + (lh & 0xFFFF) + (hl & 0xFFFF)  # < 3 * 2**16
    hi = hh + (lh >> 16) + (hl >> 16) + (mid >> 16)
    return hi, x * jnp.uint32(m)


def philox_round(c: tuple, k: tuple) -> tuple:
    """One Philox4x32 round of counter words ``c`` under round key ``k``."""
    hi0, lo0 = mulhilo(M0, c[0])
    hi1, lo1 = mulhilo(M1, c[2])
    return (hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0)


def philox4x32(counter: tuple, key: tuple, rounds: int = ROUNDS) -> tuple:
    """Philox4x32 with ``rounds`` rounds: four uint32 words (arrays broadcast together)."""
    c = tuple(jnp.asarray(w, jnp.uint32) for w in counter)
    k = tuple(jnp.asarray(w, jnp.uint32) for w in key)
    for r in range(rounds):
        if r:
            k = (k[0] + jnp.uint32(W0), k[1] + jnp.uint32(W1))
        c = philox_round(c, k)
    return c


def open_unit(w: UInt32[Array, "..."]) -> Float[Array, "..."]:
    """A word as a float32 in ``(0, 1]``: ``(w + 1/2) / 2**32`` rounded to float32 (the smallest value
    is ``2**-33``, so ``-log`` is finite and at most ``33 log 2``)."""
    return w.astype(jnp.float32) * jnp.float32(WORD) + jnp.float32(WORD / 2)


def box_muller(a: UInt32[Array, "..."], b: UInt32[Array, "..."]) -> tuple[Float[Array, "..."], Float[Array, "..."]]:
    """Two standard normals ``r cos t, r sin t`` with ``r = sqrt(-2 log u)``, ``t = 2 pi v`` (``u``, ``v``
    from words ``a`` and ``b``). The radius is at most ``sqrt(66 log 2) = 6.76``: the law is the normal
    truncated at 6.76 standard deviations (mass ``1.4e-11`` beyond)."""
    r = jnp.sqrt(jnp.float32(-2.0) * jnp.log(open_unit(a)))
    t = jnp.float32(TWO_PI * WORD) * b.astype(jnp.float32)
    return r * jnp.cos(t), r * jnp.sin(t)


# float32 polynomial approximations (Taylor, truncation error below float32 rounding on their ranges)
LN2 = math.log(2.0)
SQRT2 = math.sqrt(2.0)
QUARTER = math.pi / 2


def log_unit(w: UInt32[Array, "..."]) -> Float[Array, "..."]:
    """``log u`` for ``u = (w + 1/2) / 2**32`` to a few float32 ulp over the whole range, both tails
    included: below 1/2, ``u = 2**e m`` with ``m`` in ``[1/sqrt 2, sqrt 2)`` and ``s = (m - 1)/(m + 1)``;
    from 1/2 up, ``1 - u`` is taken from ``~w`` (exact, so small radii keep their precision) and
    ``s = -(1 - u)/(1 + u)``. Then ``log u = e log 2 + 2 atanh(s)``, ``|s| <= 1/3``, eight odd terms."""
    u = open_unit(w)
    bits = jax.lax.bitcast_convert_type(u, jnp.uint32)
    e = (bits >> 23).astype(jnp.int32) - 127
    m = jax.lax.bitcast_convert_type((bits & 0x007FFFFF) | 0x3F800000, jnp.float32)
    big = m > jnp.float32(SQRT2)
    m = jnp.where(big, m * jnp.float32(0.5), m)
    v = open_unit(~w)  # 1 - u
    upper = w >= jnp.uint32(2**31)
    s = jnp.where(upper, -v / (2 - v), (m - 1) / (m + 1))
    e = jnp.where(upper, 0, e + big.astype(jnp.int32))
    s2 = s * s
    poly = jnp.float32(1 / 15)
    for k in (13, 11, 9, 7, 5, 3, 1):
        poly = jnp.float32(1 / k) + s2 * poly
    return e.astype(jnp.float32) * jnp.float32(LN2) + 2 * s * poly


def quarter_sincos(w: UInt32[Array, "..."]) -> tuple[Float[Array, "..."], Float[Array, "..."]]:
    """``cos t, sin t`` for the angle ``t = pi/2 (q + f - 1/2)`` of word ``w``, ``q`` its top two bits
    and ``f`` the other 30 as a fraction: ``t`` is uniform on the circle, and the polynomials only
    see ``|f - 1/2| pi/2 <= pi/4``."""
    q = w >> 30
    a = ((w & 0x3FFFFFFF).astype(jnp.float32) * jnp.float32(2.0**-30) - jnp.float32(0.5)) * jnp.float32(QUARTER)
    a2 = a * a
    s = a * (1 + a2 * (jnp.float32(-1 / 6) + a2 * (jnp.float32(1 / 120) + a2 * (jnp.float32(-1 / 5040)
                                                                                 + a2 * jnp.float32(1 / 362880)))))
    c = 1 + a2 * (jnp.float32(-1 / 2) + a2 * (jnp.float32(1 / 24) + a2 * (jnp.float32(-1 / 720) + a2 * (
        jnp.float32(1 / 40320) + a2 * jnp.float32(-1 / 3628800)))))
    odd = (q & 1) == 1
    x, y = jnp.where(odd, s, c), jnp.where(odd, c, s)  # rotate by q quarter turns
    return jnp.where((q == 1) | (q == 2), -x, x), jnp.where(q >= 2, -y, y)


def fast_box_muller(a: UInt32[Array, "..."], b: UInt32[Array, "..."]) -> tuple[Float[Array, "..."], Float[Array, "..."]]:
    """:func:`box_muller` with :func:`log_unit` and :func:`quarter_sincos` (no library transcendentals,
    so it vectorises on a CPU and lowers to plain arithmetic in a kernel); its angle is
    :func:`quarter_sincos`'s, a rotation of :func:`box_muller`'s by ``-pi/4``."""
    r = jnp.sqrt(jnp.float32(-2.0) * log_unit(a))
    c, s = quarter_sincos(b)
    return r * c, r * s
