"""The simplicity experiment's config: class volumes, the parity ladder and the 7-bit reproduction.

``[experiment]`` gives ``seed`` and ``chunk_size``
(:func:`counting.experiments.base.config.parse_header`; no ``n_inputs``: each part has its own).
``[[prior]]`` lists the network priors of the volumes part, each a ``name``, a network
(``widths``, ``activation``, read by the spec's model parser) and its prior (``kind``, ``sigma_w``,
``sigma_b``, as in a job's ``[prior]``). Three optional parts, at least one present:

* ``[volumes]``: for each ``n_inputs`` (3, 4) and prior, a census of ``samples`` networks, pooled
  over NPN classes; classes with fewer than ``min_hits`` pooled hits get tempered SMC
  (``[volumes.smc]``) and, with ``[volumes.readout]``, the readout-integrated estimate (published
  where its diagnostics call it reliable, else SMC's), and so do the ``crosscheck`` rarest classes
  above it, to compare the methods where all apply; every class gets its infinite-width value
  (``[volumes.nngp]``) where the activation has one (relu, erf).
* ``[ladder]``: n-bit parity for each of ``n`` on a ``widths`` network of ``activation`` under the
  first prior's sigmas, by each of ``methods``: ``mc`` with ``samples`` networks, and ``smc``,
  ``subset``, ``nngp`` and ``readout`` with the settings of ``[ladder.smc]``, ``[ladder.subset]``,
  ``[ladder.nngp]``, ``[ladder.readout]`` and ``[ladder.readout_smc]``; ``[ladder.rungs]`` may
  restrict a method to some of the ``n`` (``readout = [2, 3, 4, 5]``, say: on 6- and 7-40-40-1 a
  network takes a tenth to a quarter of a second on two CPU cores, and in 512 networks at each the
  readout never reached parity, every orthant empty, so those rungs would give only a bound); a
  method it does not name runs at every ``n``.
* ``[reproduction]``: a census of ``samples`` networks of ``n_inputs``-``widths``-1 on each input
  ``encodings`` (``"01"``, ``"pm1"``): rank-frequency and Lempel-Ziv tables.

Each of ``[volumes.smc]``, ``[volumes.nngp]``, ``[volumes.readout]`` and ``[ladder.<method>]`` is a job's ``[estimator]`` table of that kind (``kind`` may be left out), read by
:func:`counting.spec.estimator.parse_estimator` with its fields, bounds and defaults, but without a
``seed``: each estimate's seed is derived from the experiment's
(:func:`counting.experiments.simplicity.jobs.derived_seed`). These settings were once keys of
``[volumes]`` and ``[ladder]`` themselves (``particles``, ``steps``, ``replicates``, ``max_stages``,
``nngp_qmc``, the subset's ``max_levels`` given as ``max_stages``); such a file is refused in one line
naming the new table.

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
    >>> exp.volumes.smc.particles, exp.volumes.nngp.n_qmc, exp.volumes.nngp.replicates
    (1000, 4096, 16)
    >>> from_dict(read_toml('[experiment]\\nkind = "simplicity"\\n[[prior]]\\nname = "a"\\n[volumes]\\nnngp_qmc = 256'))
    Traceback (most recent call last):
    ...
    counting.spec.errors.SpecError: volumes.nngp_qmc: expected no nngp_qmc here: moved to [volumes.nngp] (as n_qmc), got 256
    >>> from_dict(read_toml('[experiment]\\nkind = "simplicity"\\n[volumes]\\nn_inputs = [5]'), "x")
    Traceback (most recent call last):
    ...
    counting.spec.errors.SpecError: volumes.n_inputs[0]: expected an integer <= 4, got 5
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

from counting.experiments.base.config import (MAX_CHUNKS, check_moved, config_digest, distinct_ints, name_list,
                                              parse_header, parse_part_estimator, table_list, unique)
from counting.spec.errors import SpecError, check_keys, integer, option_value, section
from counting.spec.estimator import NNGPSettings, ReadoutSettings, ReadoutSMCSettings, SMCSettings, SubsetSettings
from counting.spec.model import MLPSpec, parse_model
from counting.spec.prior import PriorSpec, parse_prior

KIND = "simplicity"
METHODS = ("mc", "smc", "subset", "nngp", "readout", "readout_smc")
DEFAULT_METHODS = ("mc", "smc", "subset", "nngp")
ENCODINGS = ("pm1", "01")
MOVED = {"volumes": {"particles": "[volumes.smc]", "steps": "[volumes.smc]", "replicates": "[volumes.smc]",
                     "max_stages": "[volumes.smc]", "nngp_qmc": "[volumes.nngp] (as n_qmc)"},
         "ladder": {"particles": "[ladder.smc] and [ladder.subset]", "steps": "[ladder.smc] and [ladder.subset]",
                    "replicates": "[ladder.smc] and [ladder.subset]",
                    "max_stages": "[ladder.smc] and [ladder.subset] (as the subset's max_levels)",
                    "nngp_qmc": "[ladder.nngp] (as n_qmc)"}}


@dataclass(frozen=True)
class Prior:
    """A named network and prior of the volumes part (``model.n_inputs`` is set per pass)."""

    name: str
    model: MLPSpec
    prior: PriorSpec


@dataclass(frozen=True)
class Volumes:
    """A volume for every NPN class of ``n_inputs``-bit functions under every prior."""

    n_inputs: tuple[int, ...] = (3, 4)
    samples: int = 16_777_216
    min_hits: int = 10
    crosscheck: int = 2
    smc: SMCSettings = SMCSettings()  # [volumes.smc]: the rare classes (each its own derived seed)
    nngp: NNGPSettings = NNGPSettings()  # [volumes.nngp]: every class's infinite-width value
    readout: ReadoutSettings | None = None  # [volumes.readout]: the rare classes, readout integrated out


@dataclass(frozen=True)
class Ladder:
    """n-bit parity on one network for every ``n``, by every method."""

    n: tuple[int, ...] = (2, 3, 4, 5, 6, 7)
    widths: tuple[int, ...] = (40, 40)
    activation: str = "relu"
    methods: tuple[str, ...] = DEFAULT_METHODS
    samples: int = 16_777_216
    smc: SMCSettings = SMCSettings()  # [ladder.<method>]: each rung's derived seed
    subset: SubsetSettings = SubsetSettings()
    nngp: NNGPSettings = NNGPSettings()
    readout: ReadoutSettings = ReadoutSettings()
    readout_smc: ReadoutSMCSettings = ReadoutSMCSettings()
    rungs: tuple[tuple[str, tuple[int, ...]], ...] = ()  # [ladder.rungs]: method -> its n (others: every n)

    def runs_at(self, method: str, n: int) -> bool:
        """Whether ``method`` runs at rung ``n`` (:attr:`rungs`)."""
        only = dict(self.rungs).get(method)
        return only is None or n in only


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


def _estimators(t: dict, where: str, kinds: tuple[str, ...], seed: int) -> dict:
    """The part's estimator tables ``[<where>.<kind>]`` (absent: the spec's defaults), by kind."""
    for key, place in MOVED[where].items():
        check_moved(t, where, (key,), place)
    return {k: parse_part_estimator(t.get(k, {}), f"{where}.{k}", (k,), seed) for k in kinds}


def _volumes(t: dict, chunk: int, seed: int) -> Volumes:
    est = _estimators(t, "volumes", ("smc", "nngp"), seed)
    if "readout" in t:
        est["readout"] = parse_part_estimator(t["readout"], "volumes.readout", ("readout",), seed)
    check_keys(t, {f.name for f in dataclasses.fields(Volumes)}, "volumes")
    d = Volumes()
    return Volumes(distinct_ints(t.get("n_inputs", list(d.n_inputs)), "volumes.n_inputs", 2, 4),
                   integer(t.get("samples", d.samples), "volumes.samples", 1, chunk * MAX_CHUNKS),
                   integer(t.get("min_hits", d.min_hits), "volumes.min_hits", 0, 10**9),
                   integer(t.get("crosscheck", d.crosscheck), "volumes.crosscheck", 0, 1000), **est)


def _ladder(t: dict, chunk: int, seed: int) -> Ladder:
    est = _estimators(t, "ladder", ("smc", "subset", "nngp", "readout", "readout_smc"), seed)
    check_keys(t, {f.name for f in dataclasses.fields(Ladder)}, "ladder")
    rungs = section(t.get("rungs", {}), "ladder.rungs")
    check_keys(rungs, set(METHODS), "ladder.rungs")
    rungs = tuple((m, distinct_ints(v, f"ladder.rungs.{m}", 1, 9)) for m, v in rungs.items())
    d = Ladder()
    m = parse_model({"widths": t.get("widths", list(d.widths)), "activation": t.get("activation", d.activation)},
                    "ladder")
    return Ladder(distinct_ints(t.get("n", list(d.n)), "ladder.n", 1, 9), m.widths, m.activation,
                  name_list(t.get("methods", list(d.methods)), "ladder.methods", METHODS),
                  integer(t.get("samples", d.samples), "ladder.samples", 1, chunk * MAX_CHUNKS), **est, rungs=rungs)


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
    h = parse_header(d, KIND, name)
    chunk, seed = h.chunk_size, h.seed
    parts = {k: section(d[k], k) for k in ("volumes", "ladder", "reproduction") if k in d}
    if not parts:
        raise SpecError("experiment file", "at least one of [volumes], [ladder], [reproduction]")
    volumes = _volumes(parts["volumes"], chunk, seed) if "volumes" in parts else None
    ladder = _ladder(parts["ladder"], chunk, seed) if "ladder" in parts else None
    reproduction = _reproduction(parts["reproduction"], chunk) if "reproduction" in parts else None
    priors = tuple(_prior(t, i) for i, t in enumerate(table_list(d, "prior"))) if "prior" in d else ()
    unique([p.name for p in priors], "prior.name")
    if not priors and (volumes is not None or ladder is not None):
        raise SpecError("prior", "at least one [[prior]] for [volumes] and [ladder]")
    return Experiment(h.name, seed, chunk, priors, volumes, ladder, reproduction)


def with_samples(exp: Experiment, samples: int) -> Experiment:
    """``exp`` with ``samples`` networks in every census and hit-or-miss pass (``--samples``; SMC,
    subset and NNGP settings are unchanged)."""
    samples = option_value(integer, samples, "samples", 1, exp.chunk_size * MAX_CHUNKS)
    return dataclasses.replace(
        exp, volumes=exp.volumes and dataclasses.replace(exp.volumes, samples=samples),
        ladder=exp.ladder and dataclasses.replace(exp.ladder, samples=samples),
        reproduction=exp.reproduction and dataclasses.replace(exp.reproduction, samples=samples))
