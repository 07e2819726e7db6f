"""Symmetries of the cube, and how they let one network count for a whole orbit of functions.

Permuting input bits and negating some of them (the ``2**n n!`` automorphisms of the cube) maps a
network to another of equal prior density whenever the first layer's weights are exchangeable and
sign-symmetric in their input columns, as under every prior here (iid Gaussian, uniform, ternary
or integer weights). The map sends a network computing ``f`` whose layer holds ``g`` to one
computing ``f o s`` whose same layer holds ``g o s``, so

    V(f and layer holds g) = V(f o s and layer holds g o s)      for every automorphism s.

So for each function ``h`` in the orbit of ``f`` fix one automorphism ``s_h`` with ``h = f o s_h``
and transport the llamas with it, ``g -> g o s_h``. A network then counts as a hit of "computes
f" when it computes any ``h`` of the orbit, and as a hit of "computes f and holds g" when it also
holds ``g o s_h``. Both are plain Bernoulli indicators (a network computes at most one ``h``), with

    P(orbit hit) = |orbit| V(f),   P(holds transported g | orbit hit) = V(f and g) / V(f),

so exact Clopper-Pearson intervals still apply, with ``|orbit|`` times more hits than counting
``f`` alone. :func:`orbit_transport` builds the table the device looks up.

Example:
    >>> orb = orbit_transport(0x8, [0xa], 2)    # AND on 2 bits; llama: the dictator x0
    >>> len(orb.orbit), sorted(orb.orbit.tolist()) == [1, 2, 4, 8]
    (4, True)
    >>> all(bin(int(g)).count("1") == 2 for g in orb.llamas[:, 0])   # dictators stay dictators
    True
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np

from counting.boolean.cube import cube


def generators(n: int) -> list[np.ndarray]:
    """Point maps of the automorphisms that generate the group: swapping bit 0 with bit ``j``,
    and negating bit 0. Entry ``i`` is the index of the image of point ``i``."""
    x = cube(n) > 0
    powers = 1 << np.arange(n)
    maps = []
    for j in range(1, n):
        y = x.copy()
        y[:, [0, j]] = y[:, [j, 0]]
        maps.append((y @ powers).astype(np.int64))
    y = x.copy()
    y[:, 0] = ~y[:, 0]
    maps.append((y @ powers).astype(np.int64))
    return maps


def _bits(tt: int, n: int) -> np.ndarray:
    return np.array([(tt >> i) & 1 for i in range(2**n)], bool)


def _int(bits: np.ndarray) -> int:
    return int(sum(1 << int(i) for i in np.flatnonzero(bits)))


class Orbit(NamedTuple):
    """``orbit[k]`` is a function of ``f``'s orbit (sorted ascending); ``llamas[k, j]`` is llama
    ``j`` transported by the same automorphism that carries ``f`` to ``orbit[k]``."""

    orbit: np.ndarray  # [M] object (Python ints) or uint64
    llamas: np.ndarray  # [M, J]


def orbit_transport(f: int, llamas: Sequence[int], n: int) -> Orbit:
    """The orbit of ``f`` under the cube's automorphisms, with each llama carried along.

    Breadth-first search from ``f`` with :func:`generators`: the first path that reaches a function
    fixes its automorphism, and the llamas follow that same path, so ``f`` and every llama are
    always composed with one and the same automorphism.
    """
    gens = generators(n)
    start = np.stack([_bits(f, n)] + [_bits(int(g), n) for g in llamas])  # [1 + J, P]
    seen = {_int(start[0]): start}
    frontier = [start]
    while frontier:
        nxt = []
        for tabs in frontier:
            for gmap in gens:
                moved = tabs[:, gmap]  # (t o s)(x_i) = t(s(x_i))
                key = _int(moved[0])
                if key not in seen:
                    seen[key] = moved
                    nxt.append(moved)
        frontier = nxt
    keys = sorted(seen)
    orbit = np.array(keys, dtype=object)
    lls = np.array([[_int(row) for row in seen[k][1:]] for k in keys], dtype=object).reshape(len(keys), len(llamas))
    return Orbit(orbit, lls)
