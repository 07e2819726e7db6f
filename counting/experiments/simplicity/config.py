"""The simplicity experiment's config: class volumes, the parity ladder and the 7-bit reproduction.

``[experiment]`` gives ``seed`` and ``chunk_size``. ``[[prior]]`` lists the network priors of the
volumes part, each a ``name``, a network (``widths``, ``activation``) and its prior (``kind``,
``sigma_w``, ``sigma_b``, as in a job's ``[prior]``). Three optional parts, at least one present:

* ``[volumes]``: for each ``n_inputs`` (3, 4) and prior, a census of ``samples`` networks, pooled
  over NPN classes; classes with fewer than ``min_hits`` pooled hits get tempered SMC (``particles``,
  ``steps``, ``replicates``), and so do the ``crosscheck`` rarest classes above it, to compare both
  methods where both apply; every class gets its infinite-width (NNGP) value where the activation
  has one (relu, erf).
* ``[ladder]``: n-bit parity for each of ``n`` on a ``widths`` network of ``activation`` under the
  first prior's sigmas, by each of ``methods`` (``mc`` with ``samples`` networks, ``smc``,
  ``subset``, ``nngp``).
* ``[reproduction]``: a census of ``samples`` networks of ``n_inputs``-``widths``-1 on each input
  ``encodings`` (``"01"``, ``"pm1"``): rank-frequency and Lempel-Ziv tables.

Bad input is a one-line :class:`~counting.spec.errors.SpecError`.

Example:
    >>> from counting.experiments.base.config import read_toml
    >>> exp = from_dict(read_toml('''
    ... [experiment]
    ... kind = "simplicity"
    ... [[prior]]
    ... name = "relu"
    ... widths = [8]
    ... [volumes]
    ... n_inputs = [3]
    ... samples = 4096
    ... '''), "demo")
    >>> exp.priors[0].model, exp.volumes.min_hits, exp.ladder
    (MLPSpec(n_inputs=3, widths=(8,), activation='relu', inputs='pm1', kind='mlp'), 10, None)
    >>> from_dict(read_toml('[experiment]\\nkind = "simplicity"\\n[volumes]\\nn_inputs = [5]'), "x")
    Traceback (most recent call last):
    ...
    counting.spec.errors.SpecError: volumes.n_inputs[0]: expected an integer <= 4, got 5
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

from counting.experiments.base.config import (MAX_CHUNKS, config_digest, distinct_ints, experiment_table, name_list,
                                              table_list, unique)
from counting.spec.errors import SpecError, check_keys, choice, integer, section
from counting.spec.model import MLPSpec, parse_model
from counting.spec.prior import PriorSpec, parse_prior

KIND = "simplicity"
METHODS = ("mc", "smc", "subset", "nngp")
ENCODINGS = ("pm1", "01")


@dataclass(frozen=True)
class Prior:
    """A named network and prior of the volumes part (``model.n_inputs`` is set per pass)."""

    name: str
    model: MLPSpec
    prior: PriorSpec


@dataclass(frozen=True)
class Rare:
    """Tempered-SMC settings for the functions hit-or-miss cannot reach."""

    particles: int = 500
    steps: int = 10
    replicates: int = 10
    max_stages: int = 200


@dataclass(frozen=True)
class Volumes:
    """A volume for every NPN class of ``n_inputs``-bit functions under every prior."""

    n_inputs: tuple[int, ...] = (3, 4)
    samples: int = 16_777_216
    min_hits: int = 10
    crosscheck: int = 2
    rare: Rare = Rare()
    nngp_qmc: int = 4096


@dataclass(frozen=True)
class Ladder:
    """n-bit parity on one network for every ``n``, by every method."""

    n: tuple[int, ...] = (2, 3, 4, 5, 6, 7)
    widths: tuple[int, ...] = (40, 40)
    activation: str = "relu"
    methods: tuple[str, ...] = METHODS
    samples: int = 16_777_216
    rare: Rare = Rare()
    nngp_qmc: int = 4096


@dataclass(frozen=True)
class Reproduction:
    """The 7-bit census of Valle-Perez et al. (2019) on each input encoding."""

    n_inputs: int = 7
    widths: tuple[int, ...] = (40, 40)
    activation: str = "relu"
    encodings: tuple[str, ...] = ("01", "pm1")
    samples: int = 100_007_936  # 1,526 chunks of 65,536: the first multiple above 1e8


@dataclass(frozen=True)
class Experiment:
    """A validated simplicity experiment (``name``: its file's stem)."""

    kind: ClassVar[str] = KIND

    name: str
    seed: int
    chunk_size: int
    priors: tuple[Prior, ...]
    volumes: Volumes | None = None
    ladder: Ladder | None = None
    reproduction: Reproduction | None = None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def digest(self) -> str:
        """A short hash of the whole config: part of each pass's checkpoint identity."""
        return config_digest(self)


def _prior(t: dict, i: int) -> Prior:
    where = f"prior[{i}]"
    check_keys(t, {"name", "widths", "activation", "kind", "sigma_w", "sigma_b"}, where)
    if "name" not in t:
        raise SpecError(f"{where}.name", "a name for the prior (e.g. 'relu-40-40')")
    model = parse_model({k: t[k] for k in ("widths", "activation") if k in t}, where)
    prior = parse_prior({k: t[k] for k in ("kind", "sigma_w", "sigma_b") if k in t}, where)
    if prior.discrete:
        raise SpecError(f"{where}.kind", "a continuous prior ('gaussian' or 'uniform')", prior.kind)
    return Prior(str(t["name"]), model, prior)


def _rare(t: dict, where: str) -> Rare:
    d = Rare()
    return Rare(integer(t.get("particles", d.particles), f"{where}.particles", 10, 10**6),
                integer(t.get("steps", d.steps), f"{where}.steps", 1, 1000),
                integer(t.get("replicates", d.replicates), f"{where}.replicates", 2, 10**4),
                integer(t.get("max_stages", d.max_stages), f"{where}.max_stages", 1, 10**4))


RARE_KEYS = {f.name for f in dataclasses.fields(Rare)}


def _volumes(t: dict, chunk: int) -> Volumes:
    check_keys(t, {f.name for f in dataclasses.fields(Volumes) if f.name != "rare"} | RARE_KEYS, "volumes")
    d = Volumes()
    return Volumes(distinct_ints(t.get("n_inputs", list(d.n_inputs)), "volumes.n_inputs", 2, 4),
                   integer(t.get("samples", d.samples), "volumes.samples", 1, chunk * MAX_CHUNKS),
                   integer(t.get("min_hits", d.min_hits), "volumes.min_hits", 0, 10**9),
                   integer(t.get("crosscheck", d.crosscheck), "volumes.crosscheck", 0, 1000),
                   _rare(t, "volumes"),
                   integer(t.get("nngp_qmc", d.nngp_qmc), "volumes.nngp_qmc", 64, 2**20))


def _ladder(t: dict, chunk: int) -> Ladder:
    check_keys(t, {f.name for f in dataclasses.fields(Ladder) if f.name != "rare"} | RARE_KEYS, "ladder")
    d = Ladder()
    m = parse_model({"widths": t.get("widths", list(d.widths)), "activation": t.get("activation", d.activation)},
                    "ladder")
    return Ladder(distinct_ints(t.get("n", list(d.n)), "ladder.n", 1, 9), m.widths, m.activation,
                  name_list(t.get("methods", list(d.methods)), "ladder.methods", METHODS),
                  integer(t.get("samples", d.samples), "ladder.samples", 1, chunk * MAX_CHUNKS),
                  _rare(t, "ladder"),
                  integer(t.get("nngp_qmc", d.nngp_qmc), "ladder.nngp_qmc", 64, 2**20))


def _reproduction(t: dict, chunk: int) -> Reproduction:
    check_keys(t, {f.name for f in dataclasses.fields(Reproduction)}, "reproduction")
    d = Reproduction()
    m = parse_model({"n_inputs": t.get("n_inputs", d.n_inputs), "widths": t.get("widths", list(d.widths)),
                     "activation": t.get("activation", d.activation)}, "reproduction")
    return Reproduction(m.n_inputs, m.widths, m.activation,
                        name_list(t.get("encodings", list(d.encodings)), "reproduction.encodings", ENCODINGS),
                        integer(t.get("samples", d.samples), "reproduction.samples", 1, chunk * MAX_CHUNKS))


def from_dict(d: dict, name: str = KIND) -> Experiment:
    """Validate a parsed experiment document (one-line :class:`SpecError` on bad input)."""
    check_keys(d, {"experiment", "prior", "volumes", "ladder", "reproduction"}, "experiment file")
    e = experiment_table(d)
    check_keys(e, {"kind", "seed", "chunk_size"}, "experiment")
    choice(e.get("kind", KIND), "experiment.kind", (KIND,))
    chunk = integer(e.get("chunk_size", 65_536), "experiment.chunk_size", 1, 2**24)
    seed = integer(e.get("seed", 0), "experiment.seed", 0, 2**32 - 1)
    parts = {k: section(d[k], k) for k in ("volumes", "ladder", "reproduction") if k in d}
    if not parts:
        raise SpecError("experiment file", "at least one of [volumes], [ladder], [reproduction]")
    volumes = _volumes(parts["volumes"], chunk) if "volumes" in parts else None
    ladder = _ladder(parts["ladder"], chunk) if "ladder" in parts else None
    reproduction = _reproduction(parts["reproduction"], chunk) if "reproduction" in parts else None
    priors = tuple(_prior(t, i) for i, t in enumerate(table_list(d, "prior"))) if "prior" in d else ()
    unique([p.name for p in priors], "prior.name")
    if not priors and (volumes is not None or ladder is not None):
        raise SpecError("prior", "at least one [[prior]] for [volumes] and [ladder]")
    return Experiment(name, seed, chunk, priors, volumes, ladder, reproduction)


def with_samples(exp: Experiment, samples: int) -> Experiment:
    """``exp`` with ``samples`` networks in every census and hit-or-miss pass (``--samples``; SMC,
    subset and NNGP settings are unchanged)."""
    samples = integer(samples, "--samples", 1, exp.chunk_size * MAX_CHUNKS)
    return dataclasses.replace(
        exp, volumes=exp.volumes and dataclasses.replace(exp.volumes, samples=samples),
        ladder=exp.ladder and dataclasses.replace(exp.ladder, samples=samples),
        reproduction=exp.reproduction and dataclasses.replace(exp.reproduction, samples=samples))
