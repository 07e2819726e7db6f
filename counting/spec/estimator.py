"""Estimator sections: a tagged union of settings, each kind with only its own fields and defaults.

This module is the one place where estimator defaults live: the Python functions and the TOML
spec both take them from these dataclasses.

* ``mc`` (:class:`MCSettings`): hit-or-miss over ``samples`` networks drawn in chunks.
* ``exact`` (:class:`ExactSettings`): every configuration of a discrete prior.
* ``subset`` (:class:`SubsetSettings`): subset simulation, replicated.
* ``smc`` (:class:`SMCSettings`): tempered sequential Monte Carlo, replicated.
* ``nngp`` (:class:`NNGPSettings`): the infinite-width Gaussian-process limit.
* ``readout`` (:class:`ReadoutSettings`): hidden layers drawn, the Gaussian readout integrated out.
* ``readout_smc`` (:class:`ReadoutSMCSettings`): the readout integrated out, tempered over the hidden layers.

Example:
    >>> parse_estimator({"kind": "smc", "particles": 200})
    SMCSettings(particles=200, kernel='hmc', steps=10, leapfrog=8, replicates=10, max_stages=200, ess_target=0.5, stop_fraction=0.5, seed=0, key_impl='threefry2x32', batch_replicates=0, kind='smc')
    >>> parse_estimator({"kind": "subset", "samples": 10})
    Traceback (most recent call last):
    ...
    counting.spec.errors.SpecError: estimator.samples: expected one of the known keys for kind 'subset' ['batch_replicates', 'kernel', 'key_impl', 'kind', 'max_levels', 'p0', 'particles', 'replicates', 'scale_moves', 'seed', 'slice_shrinks', 'steps'], got 'unknown key'
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Callable

from counting.spec.errors import SpecError, check_keys, choice, flag, integer, kind_of, number

ESTIMATOR_KINDS = ("mc", "exact", "subset", "smc", "nngp", "readout", "readout_smc")
KEY_IMPLS = ("threefry2x32",)
SAMPLERS = ("threefry", "fused")  # the first is the default, left out of settings_dict
FUSED_KERNELS = ("off", "pallas", "interpret")  # likewise
SUBSET_KERNELS = ("elliptical_slice", "pcn")
SMC_KERNELS = ("hmc", "mala")
MAX_CHUNK = 2**24
MAX_READOUTS = 4096


@dataclass(frozen=True)
class MCSettings:
    """Hit-or-miss. ``chunk_size`` is part of the random stream's definition (network ``i`` of
    chunk ``c`` uses ``fold_in(fold_in(key(seed), c), i)``); batch size and devices are not.
    ``sampler = "fused"`` draws from Philox counters (seed, chunk, network, parameter) instead
    (:mod:`counting.engine.fused`): other draws, so other counts, as reproducible. With it,
    ``fused_kernel = "pallas"`` evaluates each network in the fused GPU kernel, its parameters drawn
    in registers from the same counters (:mod:`counting.engine.fused_kernel`: the same truth tables,
    outputs to float rounding); ``"interpret"`` runs that kernel in Pallas interpret mode on any
    backend, far slower, for checks. (The key was ``kernel`` before; ``kernel`` is now only the
    move kernel of ``smc`` and ``subset``.)"""

    samples: int = 100_000
    seed: int = 0
    chunk_size: int = 16_384
    key_impl: str = "threefry2x32"
    sampler: str = "threefry"
    readouts_per_draw: int = 1  # > 1: shared draws (counting.estimators.shared); chunks count hidden draws
    fused_kernel: str = "off"
    kind: str = field(default="mc", init=False)


@dataclass(frozen=True)
class ExactSettings:
    """Exact enumeration of a discrete prior: no settings (the prior fixes the configurations)."""

    kind: str = field(default="exact", init=False)


@dataclass(frozen=True)
class SubsetSettings:
    """Subset simulation: ``particles`` per level, level probability ``p0``, ``steps`` moves per
    level with ``kernel`` (``elliptical_slice`` with at most ``slice_shrinks`` bracket shrinks, or ``pcn``), plus
    layer-rescaling moves if ``scale_moves``; ``replicates`` independent runs of at most
    ``max_levels`` levels."""

    particles: int = 1000
    p0: float = 0.1
    steps: int = 10
    kernel: str = "elliptical_slice"
    slice_shrinks: int = 8
    scale_moves: bool = True
    replicates: int = 10
    max_levels: int = 200
    seed: int = 0
    key_impl: str = "threefry2x32"
    batch_replicates: int = 0  # as for smc (counting.rare.drive)
    kind: str = field(default="subset", init=False)


@dataclass(frozen=True)
class SMCSettings:
    """Tempered SMC: ``particles``, ``steps`` moves per stage with ``kernel`` (``hmc`` with
    ``leapfrog`` steps, or ``mala``), stages keeping an effective sample size of ``ess_target``,
    stopping once ``stop_fraction`` of the particles hold; ``replicates`` runs of at most
    ``max_stages`` stages."""

    particles: int = 1000
    kernel: str = "hmc"
    steps: int = 10
    leapfrog: int = 8
    replicates: int = 10
    max_stages: int = 200
    ess_target: float = 0.5
    stop_fraction: float = 0.5
    seed: int = 0
    key_impl: str = "threefry2x32"
    # 0: replicates one after another, stages stepped from the host (the numbers of b = 1); b >= 1:
    # b replicates per device call, every stage on the device (counting.rare.drive)
    batch_replicates: int = 0
    kind: str = field(default="smc", init=False)


@dataclass(frozen=True)
class NNGPSettings:
    """Infinite-width limit: ``replicates`` scrambled Sobol sets of ``n_qmc`` points (a power of 2)."""

    n_qmc: int = 4096
    replicates: int = 16
    seed: int = 0
    kind: str = field(default="nngp", init=False)


@dataclass(frozen=True)
class ReadoutSettings:
    """Conditional Monte Carlo over the hidden layers, the readout integrated out: ``samples``
    networks' hidden layers drawn in chunks of ``chunk_size`` (part of the random stream's
    definition, as for ``mc``), each network's probability that the Gaussian readout computes the
    target an orthant probability by randomised QMC with ``shifts`` random shifts of an ``n_qmc``-point
    lattice (Botev's tilt where the covariance has full rank, if ``tilt``). The default chunk is
    smaller than hit-or-miss's: each network costs an orthant probability, so progress and
    checkpoints come every 1,024 networks. ``block_size`` networks are evaluated together (it
    divides ``chunk_size``; by default 256, or ``gcd(chunk_size, 256)``); unlike hit-or-miss, whose counts do not depend on the batch, it is part
    of the numbers' definition: float32 rounding, and with it the tilt's Newton solve, differ
    between array shapes, so the run's batch size is this one (the same on any device count)."""

    samples: int = 10_000
    seed: int = 0
    chunk_size: int = 1024
    block_size: int = 256
    key_impl: str = "threefry2x32"
    n_qmc: int = 256
    shifts: int = 4
    tilt: bool = True
    kind: str = field(default="readout", init=False)


@dataclass(frozen=True)
class ReadoutSMCSettings:
    """Tempered SMC over the hidden layers with the readout integrated out: ``particles`` networks'
    hidden layers tempered by ``P(f | hidden)^beta`` from ``beta = 0`` to 1 in stages keeping an
    effective sample size of ``ess_target``, ``steps`` elliptical slice moves per stage (at most
    ``slice_shrinks`` points each); ``P(f | hidden)`` by randomised QMC (``n_qmc`` points, ``shifts``
    shifts, Botev's tilt if ``tilt``) with one fixed set of shifts during the tempering and fresh
    ones for the final correction; ``replicates`` runs of at most ``max_stages`` stages
    (:mod:`counting.rare.readout_smc`)."""

    particles: int = 256
    steps: int = 5
    slice_shrinks: int = 8
    ess_target: float = 0.5
    replicates: int = 4
    max_stages: int = 200
    n_qmc: int = 256
    shifts: int = 4
    tilt: bool = True
    seed: int = 0
    key_impl: str = "threefry2x32"
    batch_replicates: int = 0  # as for smc (counting.rare.drive)
    kind: str = field(default="readout_smc", init=False)


EstimatorSettings = (MCSettings | ExactSettings | SubsetSettings | SMCSettings | NNGPSettings | ReadoutSettings
                     | ReadoutSMCSettings)
SETTINGS: dict[str, type] = {"mc": MCSettings, "exact": ExactSettings, "subset": SubsetSettings,
                             "smc": SMCSettings, "nngp": NNGPSettings, "readout": ReadoutSettings,
                             "readout_smc": ReadoutSMCSettings}


def _seed(v: Any, f: str) -> int:
    return integer(v, f, 0, 2**32 - 1)


def _key_impl(v: Any, f: str) -> str:
    return choice(v, f, KEY_IMPLS)


def _open_unit(lo_excl: float, hi_excl: float) -> Callable[[Any, str], float]:
    def check(v: Any, f: str) -> float:
        x = number(v, f)
        if not lo_excl < x < hi_excl:
            raise SpecError(f, f"a number in ({lo_excl:g}, {hi_excl:g})", v)
        return x
    return check


def _at_least(lo: int) -> Callable[[Any, str], int]:
    return lambda v, f: integer(v, f, lo)


def _power_of_two(v: Any, f: str) -> int:
    x = integer(v, f, 2, 2**24)
    if x & (x - 1):
        raise SpecError(f, "a power of 2", v)
    return x


def _lattice_size(v: Any, f: str) -> int:
    x = integer(v, f, 2, 2**20)  # the embedded lattice rule's largest size (counting.analytic.orthant_batched)
    if x & (x - 1):
        raise SpecError(f, "a power of 2", v)
    return x


# Per kind: field -> check. Missing fields take the dataclass default (the only defaults there are).
_CHECKS: dict[str, dict[str, Callable[[Any, str], Any]]] = {
    "mc": {"samples": _at_least(1), "seed": _seed, "chunk_size": lambda v, f: integer(v, f, 1, MAX_CHUNK),
           "key_impl": _key_impl, "sampler": lambda v, f: choice(v, f, SAMPLERS),
           "readouts_per_draw": lambda v, f: integer(v, f, 1, MAX_READOUTS),
           "fused_kernel": lambda v, f: choice(v, f, FUSED_KERNELS)},
    "exact": {},
    "subset": {"particles": _at_least(10), "p0": _open_unit(0.0, 0.5), "steps": _at_least(1),
               "kernel": lambda v, f: choice(v, f, SUBSET_KERNELS), "slice_shrinks": _at_least(1),
               "scale_moves": flag, "replicates": _at_least(2), "max_levels": _at_least(1), "seed": _seed,
               "key_impl": _key_impl, "batch_replicates": _at_least(0)},
    "smc": {"particles": _at_least(10), "kernel": lambda v, f: choice(v, f, SMC_KERNELS), "steps": _at_least(1),
            "leapfrog": _at_least(1), "replicates": _at_least(2), "max_stages": _at_least(1),
            "ess_target": _open_unit(0.0, 1.0), "stop_fraction": _open_unit(0.0, 1.0), "seed": _seed,
            "key_impl": _key_impl, "batch_replicates": _at_least(0)},
    "nngp": {"n_qmc": _power_of_two, "replicates": _at_least(2), "seed": _seed},
    "readout": {"samples": _at_least(2), "seed": _seed, "chunk_size": lambda v, f: integer(v, f, 1, MAX_CHUNK),
                "block_size": lambda v, f: integer(v, f, 1, MAX_CHUNK),
                "key_impl": _key_impl, "n_qmc": _lattice_size,
                "shifts": lambda v, f: integer(v, f, 2, 1024), "tilt": flag},
    "readout_smc": {"particles": _at_least(10), "steps": _at_least(1), "slice_shrinks": _at_least(1),
                    "ess_target": _open_unit(0.0, 1.0), "replicates": _at_least(2), "max_stages": _at_least(1),
                    "n_qmc": _lattice_size, "shifts": lambda v, f: integer(v, f, 2, 1024), "tilt": flag,
                    "seed": _seed, "key_impl": _key_impl, "batch_replicates": _at_least(0)},
}


# Per kind: old key -> (new key, why), refused in one line that names the new one.
RENAMED: dict[str, dict[str, tuple[str, str]]] = {
    "mc": {"kernel": ("fused_kernel", "kernel is the move kernel of smc and subset")},
    "subset": {"ess_shrinks": ("slice_shrinks", "ess means only the effective sample size")}}
# Per kind and key: old value -> new value, refused in one line that names the new one.
RENAMED_VALUES: dict[str, dict[str, dict[str, str]]] = {"subset": {"kernel": {"ess": "elliptical_slice"}}}


def check_renamed(t: dict, kind: str, where: str = "estimator") -> None:
    """A one-line error where ``t`` uses a key, or a value, of ``kind`` that has been renamed.

    Example:
        >>> check_renamed({"kind": "smc", "kernel": "hmc"}, "smc")     # the move kernel keeps its key
        >>> check_renamed({"kernel": "pallas"}, "mc")
        Traceback (most recent call last):
        ...
        counting.spec.errors.SpecError: estimator.kernel: expected estimator.fused_kernel for kind 'mc' (renamed; kernel is the move kernel of smc and subset), got 'pallas'
        >>> check_renamed({"kind": "subset", "kernel": "ess"}, "subset")
        Traceback (most recent call last):
        ...
        counting.spec.errors.SpecError: estimator.kernel: expected 'elliptical_slice' for kind 'subset' (renamed from 'ess'), got 'ess'
    """
    for old, (new, why) in RENAMED.get(kind, {}).items():
        if old in t:
            raise SpecError(f"{where}.{old}", f"{where}.{new} for kind {kind!r} (renamed; {why})", t[old])
    for key, values in RENAMED_VALUES.get(kind, {}).items():
        if t.get(key) in values:
            raise SpecError(f"{where}.{key}", f"{values[t[key]]!r} for kind {kind!r} (renamed from {t[key]!r})", t[key])


def parse_estimator(t: dict, where: str = "estimator") -> EstimatorSettings:
    """Validate an ``[estimator]`` table (``kind`` defaults to ``mc``)."""
    kind = kind_of(t, where, ESTIMATOR_KINDS, "mc")
    check_renamed(t, kind, where)
    checks = _CHECKS[kind]
    check_keys(t, set(checks) | {"kind"}, where, f" for kind {kind!r}")
    values = {k: checks[k](v, f"{where}.{k}") for k, v in t.items() if k != "kind"}
    settings = SETTINGS[kind](**values)
    if kind in ("mc", "readout") and settings.samples > settings.chunk_size * 2**32:  # chunk ids are uint32 fold_in data
        raise SpecError(f"{where}.samples", f"at most chunk_size * 2**32 = {settings.chunk_size * 2**32}",
                        settings.samples)
    if kind == "readout" and "block_size" not in t:  # the default: 256, or gcd(chunk_size, 256) for other chunks
        settings = dataclasses.replace(settings, block_size=math.gcd(settings.chunk_size, settings.block_size))
    if kind == "readout" and settings.chunk_size % settings.block_size:
        raise SpecError(f"{where}.block_size", f"a divisor of chunk_size = {settings.chunk_size}", settings.block_size)
    if kind in ("smc", "subset", "readout_smc") and settings.batch_replicates > settings.replicates:
        raise SpecError(f"{where}.batch_replicates", f"at most replicates = {settings.replicates}",
                        settings.batch_replicates)
    if kind == "mc" and settings.fused_kernel != FUSED_KERNELS[0] and settings.sampler != "fused":
        # it draws fused's parameters
        raise SpecError(f"{where}.fused_kernel", "'off' unless sampler = 'fused'", settings.fused_kernel)
    if kind == "mc" and settings.samples % settings.readouts_per_draw:
        raise SpecError(f"{where}.samples", f"a multiple of readouts_per_draw = {settings.readouts_per_draw}",
                        settings.samples)
    return settings


def settings_dict(s: EstimatorSettings) -> dict:
    """The settings that apply, as a plain dict (what manifests record). The default sampler is left
    out, so a job's identity is what it was before the field existed."""
    d = dataclasses.asdict(s)
    if d.get("sampler") == SAMPLERS[0]:
        del d["sampler"]
    if d.get("fused_kernel") == FUSED_KERNELS[0]:  # and the jnp evaluation
        del d["fused_kernel"]
    if d.get("readouts_per_draw") == 1:  # likewise the default of one readout per draw
        del d["readouts_per_draw"]
    if d.get("batch_replicates") == 0:  # and the host-driven replicate loop
        del d["batch_replicates"]
    return d


def replace_settings(s: EstimatorSettings, where: str = "estimator", **changes: Any) -> EstimatorSettings:
    """``s`` with fields replaced, validated as in a file (a field of another kind is an error)."""
    table = {k: v for k, v in settings_dict(s).items()}
    table.update(changes)
    return parse_estimator(table, where)
