"""The readings experiment's config: networks per target, architectures, targets and llama families.

``[experiment]`` has ``kind = "readings"``, ``n_inputs`` (2..5), ``seed`` and ``chunk_size``
(:func:`counting.experiments.base.config.parse_header`; chunk ``c`` of architecture ``a`` draws
``chunk_size`` networks from ``fold_in(fold_in(key(seed), a), c)``), ``networks`` (how many
networks computing each target, or a member of its orbit, are kept per architecture) and
``max_chunks`` (the chunks drawn at most while looking for them). ``[prior]`` is a job's prior
section; ``[[architecture]]``, ``[[target]]`` and ``[[family]]`` are the llamaizer experiment's
tables, read by its own functions (:func:`~counting.experiments.llamaizer.config.hidden_layers`,
:func:`~counting.experiments.llamaizer.config.llama_targets`,
:func:`~counting.experiments.llamaizer.config.parse_families`), so a llamaizer file's
architectures, targets and families can be copied over as they are (an architecture's
``samples`` is refused here: the draws stop once ``networks`` are found). Bad input is a one-line
:class:`~counting.spec.errors.SpecError`.

Example:
    >>> from counting.experiments.base.config import read_toml
    >>> exp = from_dict(read_toml('''
    ... [experiment]
    ... kind = "readings"
    ... n_inputs = 3
    ... networks = 5
    ... [[architecture]]
    ... widths = [4, 4]
    ... [[target]]
    ... name = "and01"
    ... truth_table = "0x88"
    ... [[family]]
    ... kind = "ignored_bits"
    ... '''), "demo")
    >>> exp.architectures[0].name, exp.networks, exp.chunk_size, exp.max_chunks
    ('3-4-4-1', 5, 4096, 200)
    >>> with_samples(exp, 7).networks
    7
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

from counting.experiments.base.config import config_digest, experiment_table, parse_header, table_list, unique
from counting.experiments.llamaizer.config import MAX_INPUTS, Architecture, Family, hidden_layers, llama_targets
from counting.experiments.llamaizer.config import parse_families
from counting.spec.errors import SpecError, check_keys, integer, section, option_value
from counting.spec.prior import PriorSpec, parse_prior
from counting.spec.target import Target

KIND = "readings"
DEFAULT_CHUNK = 4096  # networks per key while looking for solutions
MAX_CHUNK = 1 << 16  # networks per chunk at most: a chunk's forward pass, every site, is held whole


@dataclass(frozen=True)
class Experiment:
    """A validated readings experiment (``name``: its file's stem)."""

    kind: ClassVar[str] = KIND

    name: str
    n_inputs: int
    seed: int
    chunk_size: int
    networks: int
    max_chunks: int
    prior: PriorSpec
    architectures: tuple[Architecture, ...]
    targets: tuple[Target, ...]
    families: tuple[Family, ...]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def digest(self) -> str:
        """A short hash of the whole config."""
        return config_digest(self)


def _architecture(a: dict, i: int, n: int) -> Architecture:
    where = f"architecture[{i}]"
    check_keys(a, {"name", "widths", "activation"}, where)
    m = hidden_layers({k: a[k] for k in ("widths", "activation") if k in a}, n, where)
    name = a.get("name") or "-".join(map(str, (n, *m.widths, 1)))
    if not isinstance(name, str) or "/" in name or name in (".", ".."):  # it names a work subfolder
        raise SpecError(f"{where}.name", "a name usable as a folder name (no '/')", name)
    return Architecture(name, m.widths, m.activation)


def from_dict(d: dict, name: str = KIND) -> Experiment:
    """Validate a parsed experiment document (one-line :class:`SpecError` on bad input)."""
    check_keys(d, {"experiment", "prior", "architecture", "target", "family"}, "experiment file")
    e = experiment_table(d)
    h = parse_header({"experiment": {"chunk_size": DEFAULT_CHUNK, **e}}, KIND, name, n_inputs=(5, 2, MAX_INPUTS),
                     extra={"networks", "max_chunks"})
    integer(h.chunk_size, "experiment.chunk_size", 1, MAX_CHUNK)  # a chunk's forward pass is held whole
    n = h.n_inputs
    networks = integer(e.get("networks", 30), "experiment.networks", 1, 1 << 20)
    max_chunks = integer(e.get("max_chunks", 200), "experiment.max_chunks", 1, 1 << 20)
    prior = parse_prior(section(d.get("prior", {}), "prior"))
    archs = tuple(_architecture(a, i, n) for i, a in enumerate(table_list(d, "architecture")))
    unique([a.name for a in archs], "architecture.name")
    return Experiment(h.name, n, h.seed, h.chunk_size, networks, max_chunks, prior, archs,
                      llama_targets(table_list(d, "target"), n), parse_families(table_list(d, "family"), n))


def with_samples(exp: Experiment, samples: int) -> Experiment:
    """``exp`` keeping ``samples`` networks per architecture and target (``--samples``)."""
    return dataclasses.replace(exp, networks=option_value(integer, samples, "samples", 1, 1 << 20))
