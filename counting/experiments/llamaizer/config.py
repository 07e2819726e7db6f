"""The llamaizer experiment's config: architectures, targets and llama families, validated.

``[experiment]`` gives ``n_inputs`` (2..5), ``seed`` and ``chunk_size``
(:func:`counting.experiments.base.config.parse_header`) and ``samples`` per architecture.
``[estimator]`` is a job's estimator table with only its ``kind``
(:func:`counting.experiments.base.config.parse_part_estimator`): ``"mc"`` (the default: ``samples``
networks per architecture from the experiment's seed, in chunks of ``chunk_size``) or ``"exact"``
(every configuration of a discrete prior). It was once ``[experiment] estimator = "mc"``; such a
file is refused in one line naming ``[estimator]``. ``[prior]`` is a job's prior section;
``[[architecture]]`` lists MLPs (hidden ``widths`` and ``activation``, read by the spec's model
parser, :func:`hidden_layers`; optional ``samples``), ``[[target]]`` the functions (``name`` and
``truth_table``, non-constant, :func:`llama_targets`) and ``[[family]]`` the llama families
(:class:`Family`, :func:`parse_families`). The training experiment reads its llamas with the same
three functions. Every truth table (a target's, and each of a ``named`` family's
``truth_tables``) is read by :func:`counting.spec.target.parse_truth_table`: ``"0x"`` and exactly
``ceil(2**n / 4)`` hex digits (8 for ``n_inputs = 5``), or the list of points where it is 1. Bad
input is a one-line :class:`~counting.spec.errors.SpecError`.

Example:
    >>> from counting.experiments.base.config import read_toml
    >>> exp = from_dict(read_toml('''
    ... [experiment]
    ... n_inputs = 3
    ... [[architecture]]
    ... widths = [8]
    ... [[target]]
    ... name = "and01"
    ... truth_table = "0x88"
    ... [[family]]
    ... kind = "ignored_bits"
    ... [[family]]
    ... kind = "named"
    ... truth_tables = ["0xf0", [4, 5, 6, 7]]
    ... '''), "demo")
    >>> exp.architectures[0].name, exp.targets[0].truth_table, exp.families[0].name, exp.samples
    ('3-8-1', 136, 'ignored_bits', 1000000)
    >>> exp.families[1].truth_tables
    (240, 240)
    >>> llama_targets([{"name": "one", "truth_table": "0xff"}], 3, "mechanisms.llamas.target")
    Traceback (most recent call last):
    ...
    counting.spec.errors.SpecError: mechanisms.llamas.target[0].truth_table: expected a non-constant function, got '0xff'
    >>> with_samples(exp, 0)
    Traceback (most recent call last):
    ...
    counting.spec.errors.OptionError: samples: expected an integer >= 1, got 0
    >>> from_dict(read_toml('[experiment]\\nestimator = "mc"'), "old")
    Traceback (most recent call last):
    ...
    counting.spec.errors.SpecError: experiment.estimator: expected no estimator here: moved to [estimator] (kind = "mc" or "exact"), got 'mc'
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

from counting.experiments.base.config import (MAX_CHUNKS, check_moved, config_digest, experiment_table,
                                              parse_header, parse_part_estimator, parse_targets, table_list, unique)
from counting.spec.errors import SpecError, check_keys, choice, integer, option_value, section
from counting.spec.model import MLPSpec, parse_model
from counting.spec.prior import PriorSpec, parse_prior
from counting.spec.target import Target, parse_truth_table

KIND = "llamaizer"
ESTIMATORS = ("mc", "exact")  # [estimator] kind
FAMILY_KINDS = ("ignored_bits", "random_weight", "random_degree", "named")
MAX_INPUTS = 5  # one 32-bit word per truth table


@dataclass(frozen=True)
class Architecture:
    """An MLP ``n_inputs - widths - 1``; ``samples`` overrides the experiment's."""

    name: str
    widths: tuple[int, ...]
    activation: str = "relu"
    samples: int | None = None


@dataclass(frozen=True)
class Family:
    """Llamas for a target. ``ignored_bits``: every non-constant function of the bits the target
    ignores (up to negation). ``random_weight``: ``count`` random functions with ``weight`` ones.
    ``random_degree``: ``count`` random functions of Fourier degree ``degree`` on ``degree`` of the
    ignored bits (or of all bits with ``bits = "all"``). ``named``: the listed ``truth_tables``."""

    name: str
    kind: str
    weight: int = 0
    degree: int = 0
    count: int = 0
    seed: int = 0
    bits: str = "ignored"
    truth_tables: tuple[int, ...] = ()


@dataclass(frozen=True)
class Experiment:
    """A validated llamaizer experiment (``name``: its file's stem)."""

    kind: ClassVar[str] = KIND

    name: str
    n_inputs: int
    samples: int
    seed: int
    chunk_size: int
    estimator: str  # [estimator] kind: "mc" or "exact"
    prior: PriorSpec
    architectures: tuple[Architecture, ...]
    targets: tuple[Target, ...]
    families: tuple[Family, ...]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def digest(self) -> str:
        """A short hash of the whole config: part of each pass's checkpoint identity."""
        return config_digest(self)

    def samples_of(self, arch: Architecture) -> int:
        return arch.samples or self.samples


def hidden_layers(t: dict, n: int, where: str) -> MLPSpec:
    """An MLP on ``n`` bits with at least one hidden layer (llamas live in hidden layers): a table's
    ``widths`` and ``activation``, read by the spec's :func:`~counting.spec.model.parse_model`."""
    check_keys(t, {"widths", "activation"}, where)
    widths = t.get("widths")
    if not isinstance(widths, list) or not widths:
        raise SpecError(f"{where}.widths", "a non-empty list of hidden widths (llamas live in hidden layers)", widths)
    return parse_model({**t, "n_inputs": n}, where)


def _architecture(a: dict, i: int, n: int, chunk: int) -> Architecture:
    where = f"architecture[{i}]"
    check_keys(a, {"name", "widths", "activation", "samples"}, where)
    m = hidden_layers({k: a[k] for k in ("widths", "activation") if k in a}, n, where)
    s = a.get("samples")
    s = None if s is None else integer(s, f"{where}.samples", 1, chunk * MAX_CHUNKS)
    name = a.get("name") or "-".join(map(str, (n, *m.widths, 1)))
    if not isinstance(name, str) or "/" in name or name in (".", ".."):  # it names a work subfolder
        raise SpecError(f"{where}.name", "a name usable as a folder name (no '/')", name)
    return Architecture(name, m.widths, m.activation, s)


def llama_targets(tables: list[dict], n: int, where: str = "target") -> tuple[Target, ...]:
    """``[[target]]`` tables (:func:`counting.experiments.base.config.parse_targets`), each a
    non-constant function (a constant has no llamas to count)."""
    targets = parse_targets(tables, n, where)
    for i, t in enumerate(targets):
        if t.truth_table in (0, (1 << 2**n) - 1):
            raise SpecError(f"{where}[{i}].truth_table", "a non-constant function",
                            tables[i].get("truth_table", tables[i]["name"]))
    return targets


def _family(f: dict, i: int, n: int, key: str) -> Family:
    where = f"{key}[{i}]"
    check_keys(f, {"name", "kind", "weight", "degree", "count", "seed", "bits", "truth_tables"}, where)
    kind = choice(f.get("kind"), f"{where}.kind", FAMILY_KINDS)
    tables = f.get("truth_tables", [])
    if not isinstance(tables, list):
        raise SpecError(f"{where}.truth_tables", "a list of truth tables (each a '0x' string or a list of points)",
                        tables)
    fam = Family(str(f.get("name", kind)), kind,
                 weight=integer(f.get("weight", 0), f"{where}.weight", 0, 2**n),
                 degree=integer(f.get("degree", 0), f"{where}.degree", 0, n),
                 count=integer(f.get("count", 0), f"{where}.count", 0, 1 << 16),
                 seed=integer(f.get("seed", 0), f"{where}.seed", 0, 2**32 - 1),
                 bits=choice(f.get("bits", "ignored"), f"{where}.bits", ("ignored", "all")),
                 truth_tables=tuple(parse_truth_table(v, n, f"{where}.truth_tables[{j}]")
                                    for j, v in enumerate(tables)))
    if kind == "random_weight" and not (0 < fam.weight < 2**n and fam.count > 0):
        raise SpecError(where, f"'weight' in 1..{2**n - 1} and 'count' >= 1 for 'random_weight'")
    if kind == "random_degree" and not (fam.degree >= 1 and fam.count > 0):
        raise SpecError(where, "'degree' >= 1 and 'count' >= 1 for 'random_degree'")
    if kind == "named" and not fam.truth_tables:
        raise SpecError(f"{where}.truth_tables", "one or more truth tables for 'named'")
    return fam


def parse_families(tables: list[dict], n: int, where: str = "family") -> tuple[Family, ...]:
    """``[[family]]`` tables (:class:`Family`), names distinct."""
    families = tuple(_family(f, i, n, where) for i, f in enumerate(tables))
    unique([f.name for f in families], f"{where}.name")
    return families


def from_dict(d: dict, name: str = KIND) -> Experiment:
    """Validate a parsed experiment document (one-line :class:`SpecError` on bad input)."""
    check_keys(d, {"experiment", "estimator", "prior", "architecture", "target", "family"}, "experiment file")
    check_moved(experiment_table(d), "experiment", ("estimator",), '[estimator] (kind = "mc" or "exact")')
    h = parse_header(d, KIND, name, n_inputs=(5, 2, MAX_INPUTS), extra={"samples"})
    e, n, chunk = experiment_table(d), h.n_inputs, h.chunk_size
    samples = integer(e.get("samples", 1_000_000), "experiment.samples", 1, chunk * MAX_CHUNKS)
    est = section(d.get("estimator", {}), "estimator")
    check_keys(est, {"kind"}, "estimator", " (the networks are [experiment]'s samples, seed and chunk_size)")
    estimator = parse_part_estimator(est, "estimator", ESTIMATORS, h.seed).kind
    prior = parse_prior(section(d.get("prior", {}), "prior"))
    if estimator == "exact" and not prior.discrete:
        raise SpecError("estimator.kind", "a discrete prior ('ternary' or 'integer') for 'exact'", prior.kind)
    archs = tuple(_architecture(a, i, n, chunk) for i, a in enumerate(table_list(d, "architecture")))
    unique([a.name for a in archs], "architecture.name")
    targets = llama_targets(table_list(d, "target"), n)
    families = parse_families(table_list(d, "family"), n)
    return Experiment(h.name, n, samples, h.seed, chunk, estimator, prior, archs, targets, families)


def with_samples(exp: Experiment, samples: int) -> Experiment:
    """``exp`` with ``samples`` networks for every architecture (their own ``samples`` dropped)."""
    samples = option_value(integer, samples, "samples", 1, exp.chunk_size * MAX_CHUNKS)
    return dataclasses.replace(exp, samples=samples, architectures=tuple(
        dataclasses.replace(a, samples=None) for a in exp.architectures))
