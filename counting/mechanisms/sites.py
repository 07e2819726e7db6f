"""Site predicates: what a hidden layer *holds*, read from its units' sign patterns.

A unit's **sign pattern** over the cube is the truth table of ``pre-activation > 0`` at every
point (the output's own convention; for relu, step and sign units it is also "the unit is on").
Site ``layer l`` **holds** ``g`` when some unit of the layer has sign pattern ``g`` or ``not g``:
the layer has built ``g`` as an intermediate, whichever polarity the next layer reads.

* :func:`holds` ``(site, g, n)``: some unit has pattern ``g`` or ``not g``.
* :func:`holds_any` ``(site, family, n)``: some unit has the pattern of a member of ``family``
  (or of its negation).
* :func:`decodes_everything` ``(site, activation)``: the linear-readout reading, "every function
  is a linear readout of the layer" (full row rank of the activations), a plain predicate.

"Holds" is defined here once: a unit's *canonical* sign pattern (:func:`canonical_units`, the
member of ``{pattern, not pattern}`` that is 0 on point 0) is one of the canonical llamas. The
counting pass of the llamaizer experiment looks many llamas up at once with :func:`present`, the
same reading, and counts the units holding each with :func:`unit_counts`.

Both are :class:`~counting.mechanisms.predicates.Condition` objects, so they compose with
``computes``, :func:`~counting.mechanisms.predicates.all_of`, :func:`~counting.mechanisms.predicates.any_of` and
:func:`~counting.mechanisms.predicates.negate`, and every estimator takes them: hit-or-miss and exact
enumeration count them, a census can be restricted by them, and the rare-event estimator climbs
their scores. The score of "holds g" is ``-min over units and polarities`` of the unit's squared
violated margins ``sum_i min(y_i z_i, 0)**2`` (0 exactly where some unit matches); the score of
its negation is ``-sum over matching units`` of ``min_i z_i**2``, the squared distance of each
matching unit from its nearest flip.

Example:
    >>> import numpy as np, jax.numpy as jnp
    >>> from counting.models.layers import Forward
    >>> z = jnp.asarray([[[-1., -1., -1., 1.], [1., -1., 1., -1.]]])  # 1 network, 2 units, 4 points
    >>> fwd = Forward(output=z[:, 0], sites={"layer1": z})
    >>> [bool(holds("layer1", g, 2)(fwd)[0]) for g in (0x8, 0x7, 0x5, 0x6)]   # AND, NAND, x0 (neg), XOR
    [True, True, True, False]
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
from jax import lax
import numpy as np
from jaxtyping import Array, Bool, Float, Int32, UInt32

from counting.boolean.tables import canonical, full_table, int_to_words, pack, signs_of
from counting.mechanisms.predicates import Condition, Predicate
from counting.models.layers import Forward, activation


def unit_tables(fwd: Forward, site: str) -> UInt32[Array, "B units words"]:
    """Packed sign pattern of every unit at ``site``."""
    if site not in fwd.sites:
        raise ValueError(f"site: expected one of {sorted(fwd.sites)}, got {site!r}")
    return pack(fwd.sites[site] > 0)


def canonical_units(z: Float[Array, "B U P"], n: int) -> UInt32[Array, "B U words"]:
    """Canonical sign pattern (0 on point 0: a pattern and its negation are one) of every unit."""
    t = pack(z > 0)
    full = jnp.asarray(int_to_words(full_table(n), n))
    return jnp.where((t[..., :1] & 1) == 1, (~t) & full, t)


def family_words(family: Sequence[int], n: int) -> np.ndarray:
    """Distinct canonical members as packed words ``[K, words]``, sorted."""
    return np.stack([int_to_words(t, n) for t in sorted({canonical(int(g), n) for g in family})])


def member(tables: UInt32[Array, "... words"], words: np.ndarray) -> Bool[Array, "..."]:
    """Whether each packed table is one of ``words`` (``[K, words]``, sorted)."""
    fam = jnp.asarray(words)
    if fam.shape[1] == 1:  # one word: binary search in the sorted family
        t = tables[..., 0]
        i = jnp.clip(jnp.searchsorted(fam[:, 0], t), 0, fam.shape[0] - 1)
        return fam[i, 0] == t
    return jnp.any(jnp.all(tables[..., None, :] == fam, axis=-1), axis=-1)


def _closest(z: Float[Array, "B U P"], y: Float[Array, "K P"]) -> Float[Array, "B"]:
    """Smallest squared violated margin over units and target sign vectors (one vector at a
    time, so large families need no ``[B, U, K, P]`` array)."""
    per = lax.map(lambda yk: jnp.min(jnp.sum(jnp.minimum(z * yk, 0.0) ** 2, axis=-1), axis=-1), y)
    return jnp.min(per, axis=0)


def unit_counts(tables: UInt32[Array, "B U"], sorted_rows, order, n_cols: int) -> Int32[Array, "B J"]:
    """How many of each network's units hold each of ``J`` llamas, from the canonical unit tables
    ``[B, U]`` (one word).

    ``sorted_rows`` ``[B, J]`` (or ``[J]`` for all networks alike) are the canonical llamas sorted,
    ``order`` their column numbers. A binary search per unit and a scatter-add per network cost
    ``B U log J``, not the ``B U J`` of comparing every unit with every llama.

    >>> t = jnp.asarray([[3, 5, 3, 9]], jnp.uint32)          # one network, 4 units
    >>> unit_counts(t, jnp.asarray([3, 4, 5], jnp.uint32), jnp.asarray([2, 0, 1]), 3).tolist()
    [[0, 1, 2]]
    """
    if sorted_rows.ndim == 1:
        pos = jnp.searchsorted(sorted_rows, tables)
        pos = jnp.clip(pos, 0, n_cols - 1)
        found = sorted_rows[pos] == tables
        col = jnp.where(found, order[pos], n_cols)
    else:
        pos = jax.vmap(jnp.searchsorted)(sorted_rows, tables)
        pos = jnp.clip(pos, 0, n_cols - 1)
        found = jnp.take_along_axis(sorted_rows, pos, axis=1) == tables
        col = jnp.where(found, jnp.take_along_axis(order, pos, axis=1), n_cols)
    b = jnp.arange(tables.shape[0])[:, None]
    return jnp.zeros((tables.shape[0], n_cols + 1), jnp.int32).at[b, col].add(1)[:, :n_cols]


def present(tables: UInt32[Array, "B U"], sorted_rows, order, n_cols: int) -> Bool[Array, "B J"]:
    """Which of ``J`` llamas appear among each network's canonical unit tables (some unit holds
    it): :func:`unit_counts` above zero."""
    return unit_counts(tables, sorted_rows, order, n_cols) > 0


def _site_condition(site: str, family: Sequence[int], n: int) -> Condition:
    fam_words = family_words(family, n)
    y = np.stack([signs_of(int(g), n) for g in family])
    y = jnp.asarray(np.concatenate([y, -y]))  # both polarities

    def matching(fwd: Forward) -> Bool[Array, "B U"]:
        if site not in fwd.sites:
            raise ValueError(f"site: expected one of {sorted(fwd.sites)}, got {site!r}")
        return member(canonical_units(fwd.sites[site], n), fam_words)

    def holds(fwd: Forward) -> Bool[Array, "B"]:
        return jnp.any(matching(fwd), axis=-1)

    def score(fwd: Forward) -> Float[Array, "B"]:
        return -_closest(fwd.sites[site], y)

    def neg_score(fwd: Forward) -> Float[Array, "B"]:
        z = fwd.sites[site]
        flip = jnp.min(z**2, axis=-1)
        return -jnp.sum(jnp.where(matching(fwd), flip, 0.0), axis=-1)

    return Condition(holds, score, neg_score)


def holds(site: str, g: int, n: int) -> Condition:
    """"Some unit at ``site`` has sign pattern ``g`` or ``not g`` over the ``n``-bit cube"."""
    return _site_condition(site, [g], n)


def holds_any(site: str, family: Sequence[int], n: int) -> Condition:
    """"Some unit at ``site`` has the sign pattern of a member of ``family`` (or its negation)"."""
    if len(family) == 0:
        raise ValueError("family: expected at least one truth table")
    return _site_condition(site, list(family), n)


def decodes_everything(site: str, activation_name: str) -> Predicate:
    """"Every function of the cube is a linear readout of ``site``'s activations": the matrix of
    activations ``[points, units]`` with a column of ones has full row rank (float32 SVD rank,
    NumPy's default tolerance). This is the linear-readout reading of "the layer holds g" made
    true for every ``g`` at once; it is sufficient, not necessary, for a particular ``g`` to be
    linearly decodable (that needs a linear program per network). A predicate without a score."""
    act = activation(activation_name)

    def holds_(fwd: Forward) -> Bool[Array, "B"]:
        a = jnp.swapaxes(act(fwd.sites[site]), 1, 2)  # [B, P, U]
        a = jnp.concatenate([a, jnp.ones(a.shape[:2] + (1,), a.dtype)], axis=2)
        return jnp.linalg.matrix_rank(a) == a.shape[1]

    return holds_
