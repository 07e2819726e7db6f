"""The llama-rare experiment's config: the networks, the target, its llamas and the widths, validated.

``[experiment]`` gives ``n_inputs`` (2..5), ``seed`` and ``chunk_size`` (of the hit-or-miss passes;
:func:`counting.experiments.base.config.parse_header`), ``hidden_layers`` (default 2) and
``activation`` (default ``"relu"``): the networks are ``n-W-...-W-1`` MLPs, read by the spec's model
parser (:func:`counting.experiments.llamaizer.config.hidden_layers`). ``[prior]`` is a job's prior
section (continuous: tempered SMC moves Gaussian coordinates). ``[[target]]`` is one target
(:func:`counting.experiments.base.config.parse_targets`).

``[[llama]]`` lists the llamas: a ``name``, a ``truth_table`` (read by
:func:`counting.spec.target.parse_truth_table`), the hidden ``layers`` (1-based) where "holds" is
measured, the ``widths`` at which it is (default: every width), ``prior_widths`` at which "the layer
holds it" is also measured without the target (default none), and ``share`` (default false): also
read its share among the last populations of V(f)'s SMC (a second reading of its cost, for a llama
cheap enough to appear there; at SMC widths only: at a readout width the readout cost is that share).

``[[width]]`` lists the hidden widths W, in the order they run: ``width``, ``mc_samples`` (default
0: none), the networks of one hit-or-miss pass at that width counting every condition measured
there, and ``[width.estimator]``, the estimator of every volume at that width: a job's
``[estimator]`` table (the spec's fields, bounds and defaults;
:func:`counting.experiments.base.config.parse_part_estimator`) without a seed, of

* ``kind = "smc"`` (the default; ``particles``, ``replicates``, ``steps``, ``kernel``, ...): tempered
  SMC, one job per volume; SMC volume ``i`` (in the order of
  :func:`counting.experiments.llama_rare.plan.plan`) is seeded by ``seed + 1 + i``;
* or ``kind = "readout"`` (``samples``, ``chunk_size``, ``n_qmc``, ``shifts``, ...; a Gaussian prior
  only): the readout integrated out (:mod:`counting.estimators.readout`), every volume that includes
  the target from one pass over the same hidden draws, seeded by ``seed + 1 + i`` with ``i`` the place
  of that width's V(f) in the plan. A hidden-only volume ("layer l holds g" without the target, for
  ``prior_widths``) has no readout to integrate out: it keeps tempered SMC, with the settings of
  ``[width.prior_estimator]`` (``kind = "smc"``; required there, and refused with an SMC
  ``[width.estimator]``, whose settings such volumes use), seeded by ``seed + 1 + i`` as before.

The hit-or-miss passes are seeded by ``seed``. Bad input is a one-line
:class:`~counting.spec.errors.SpecError`.

Example:
    >>> from counting.experiments.base.config import read_toml
    >>> doc = '''
    ... [experiment]
    ... kind = "llama-rare"
    ... [[target]]
    ... name = "and(x0,x1)"
    ... truth_table = "0x88888888"
    ... [[llama]]
    ... name = "x2"
    ... truth_table = "0xf0f0f0f0"
    ... layers = [1, 2]
    ... share = true
    ... [[width]]
    ... width = 8
    ... mc_samples = 4096
    ... [width.estimator]
    ... particles = 50
    ... replicates = 4
    ... '''
    >>> exp = from_dict(read_toml(doc), "demo")
    >>> exp.hidden_layers, exp.llamas[0].layers, exp.llamas[0].widths, exp.widths[0].estimator.particles
    (2, (1, 2), (8,), 50)
    >>> from_dict(read_toml(doc.replace("layers = [1, 2]", "layers = [3]")), "demo")
    Traceback (most recent call last):
    ...
    counting.spec.errors.SpecError: llama[0].layers[0]: expected an integer <= 2, got 3
    >>> with_samples(exp, 1024).widths[0].mc_samples
    1024
    >>> from_dict(read_toml(doc + "[width.prior_estimator]\\nparticles = 10\\n"), "demo")
    Traceback (most recent call last):
    ...
    counting.spec.errors.SpecError: width[0].prior_estimator: expected no table here with an SMC [width.estimator] (its settings serve the hidden-only volumes too), got {'particles': 10}
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import ClassVar

from counting.experiments.base.config import (MAX_CHUNKS, distinct_ints, experiment_table, parse_header,
                                              parse_part_estimator, parse_targets, table_list, unique)
from counting.experiments.llamaizer.config import hidden_layers
from counting.spec.errors import SpecError, check_keys, flag, integer, section, option_value
from counting.spec.estimator import ReadoutSettings, SMCSettings
from counting.spec.prior import PriorSpec, parse_prior
from counting.spec.target import Target, parse_truth_table

KIND = "llama-rare"
MAX_INPUTS = 5  # one 32-bit word per truth table
MAX_LAYERS = 8
MAX_WIDTH = 4096


@dataclass(frozen=True)
class Llama:
    """A llama ``truth_table`` measured in hidden ``layers`` at ``widths`` (given the target), at
    ``prior_widths`` without it, and, with ``share``, read among V(f)'s last SMC populations."""

    name: str
    truth_table: int
    layers: tuple[int, ...]
    widths: tuple[int, ...]
    prior_widths: tuple[int, ...] = ()
    share: bool = False


@dataclass(frozen=True)
class Width:
    """One hidden width: its estimator (``[width.estimator]``: SMC seeded per volume, or one readout
    pass), the networks of its hit-or-miss pass (0: none) and, with a readout estimator, the SMC
    settings of its hidden-only volumes (``[width.prior_estimator]``; ``None``: none, or an SMC
    ``estimator`` serves them)."""

    width: int
    estimator: SMCSettings | ReadoutSettings
    mc_samples: int = 0
    prior_estimator: SMCSettings | None = None

    @property
    def readout(self) -> bool:
        return self.estimator.kind == "readout"

    @property
    def smc(self) -> SMCSettings:
        """The SMC settings of this width's SMC volumes."""
        return self.prior_estimator if self.readout else self.estimator


@dataclass(frozen=True)
class Experiment:
    """A validated llama-rare experiment (``name``: its file's stem)."""

    kind: ClassVar[str] = KIND

    name: str
    n_inputs: int
    seed: int
    chunk_size: int
    hidden_layers: int
    activation: str
    prior: PriorSpec
    target: Target
    llamas: tuple[Llama, ...]
    widths: tuple[Width, ...]

    def to_dict(self) -> dict:
        """The config as a dict; a width's ``prior_estimator`` only where it has one (so an SMC
        config's dict, manifest and digest are those it had before the readout option)."""
        d = dataclasses.asdict(self)
        for w in d["widths"]:
            if w["prior_estimator"] is None:
                del w["prior_estimator"]
        return d

    def digest(self) -> str:
        """A short hash of the whole config (:meth:`to_dict`): part of each pass's checkpoint identity."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True, default=str).encode()).hexdigest()[:16]


def _widths(tables: list[dict], chunk: int, seed: int) -> tuple[Width, ...]:
    out = []
    for i, t in enumerate(tables):
        where = f"width[{i}]"
        check_keys(t, {"width", "mc_samples", "estimator", "prior_estimator"}, where)
        if "width" not in t:
            raise SpecError(f"{where}.width", "a hidden width")
        est = parse_part_estimator(t.get("estimator", {}), f"{where}.estimator", ("smc", "readout"), seed)
        prior_est = None
        if "prior_estimator" in t:
            if est.kind != "readout":
                raise SpecError(f"{where}.prior_estimator", "no table here with an SMC [width.estimator] (its "
                                "settings serve the hidden-only volumes too)", t["prior_estimator"])
            prior_est = parse_part_estimator(t["prior_estimator"], f"{where}.prior_estimator", ("smc",), seed)
        out.append(Width(integer(t["width"], f"{where}.width", 1, MAX_WIDTH), est,
                         integer(t.get("mc_samples", 0), f"{where}.mc_samples", 0, chunk * MAX_CHUNKS), prior_est))
    unique([str(w.width) for w in out], "width.width")
    return tuple(out)


def _check_readout(widths: tuple[Width, ...], llamas: tuple[Llama, ...], prior: PriorSpec) -> None:
    """A readout width needs a Gaussian prior, and ``[width.prior_estimator]`` where hidden-only volumes are measured."""
    for i, w in enumerate(widths):
        if not w.readout:
            continue
        if prior.kind != "gaussian":
            raise SpecError(f"width[{i}].estimator.kind", "'smc' with a non-Gaussian prior (the readout is "
                            f"integrated out as a Gaussian; prior.kind is {prior.kind!r})", w.estimator.kind)
        wanted = [g.name for g in llamas if w.width in g.prior_widths]
        if wanted and w.prior_estimator is None:
            raise SpecError(f"width[{i}].prior_estimator", "an SMC table (kind = \"smc\") for the hidden-only "
                            f"volumes of {wanted} at this readout width (prior_widths)")


def _subset(v, where: str, widths: tuple[int, ...], empty: bool) -> tuple[int, ...]:
    if v == [] and empty:
        return ()
    got = distinct_ints(v, where, 1, MAX_WIDTH)
    for j, w in enumerate(got):
        if w not in widths:
            raise SpecError(f"{where}[{j}]", f"one of the [[width]] widths {list(widths)}", w)
    return got


def _llama(t: dict, i: int, n: int, layers: int, widths: tuple[int, ...]) -> Llama:
    where = f"llama[{i}]"
    check_keys(t, {"name", "truth_table", "layers", "widths", "prior_widths", "share"}, where)
    name = t.get("name")
    if not isinstance(name, str) or not name or "/" in name:  # it names work subfolders
        raise SpecError(f"{where}.name", "a non-empty name without '/'", name)
    if "truth_table" not in t:
        raise SpecError(f"{where}.truth_table", "a truth table (a '0x' string or a list of points)")
    if "layers" not in t:
        raise SpecError(f"{where}.layers", f"a list of hidden layers in 1..{layers}")
    return Llama(name, parse_truth_table(t["truth_table"], n, f"{where}.truth_table"),
                 distinct_ints(t["layers"], f"{where}.layers", 1, layers),
                 _subset(t["widths"], f"{where}.widths", widths, False) if "widths" in t else widths,
                 _subset(t.get("prior_widths", []), f"{where}.prior_widths", widths, True),
                 flag(t.get("share", False), f"{where}.share"))


def from_dict(d: dict, name: str = KIND) -> Experiment:
    """Validate a parsed experiment document (one-line :class:`SpecError` on bad input)."""
    check_keys(d, {"experiment", "prior", "target", "llama", "width"}, "experiment file")
    h = parse_header(d, KIND, name, n_inputs=(5, 2, MAX_INPUTS), extra={"hidden_layers", "activation"})
    e, n = experiment_table(d), h.n_inputs
    depth = integer(e.get("hidden_layers", 2), "experiment.hidden_layers", 1, MAX_LAYERS)
    activation = hidden_layers({"widths": [1] * depth, "activation": e.get("activation", "relu")}, n,
                               "experiment").activation
    prior = parse_prior(section(d.get("prior", {}), "prior"))
    if prior.discrete:
        raise SpecError("prior.kind", "a continuous prior ('gaussian' or 'uniform': SMC moves Gaussian coordinates)",
                        prior.kind)
    targets = parse_targets(table_list(d, "target"), n)
    if len(targets) != 1:
        raise SpecError("target", "exactly one [[target]] table", len(targets))
    widths = _widths(table_list(d, "width"), h.chunk_size, h.seed)
    llamas = tuple(_llama(t, i, n, depth, tuple(w.width for w in widths))
                   for i, t in enumerate(d.get("llama", []) and table_list(d, "llama")))
    unique([g.name for g in llamas], "llama.name")
    _check_readout(widths, llamas, prior)
    return Experiment(h.name, n, h.seed, h.chunk_size, depth, activation, prior, targets[0], llamas, widths)


def with_samples(exp: Experiment, samples: int) -> Experiment:
    """``exp`` with ``samples`` networks in every hit-or-miss pass (``--samples``; SMC and readout runs are
    unchanged, and a width without hit-or-miss, ``mc_samples = 0``, stays without)."""
    samples = option_value(integer, samples, "samples", 1, exp.chunk_size * MAX_CHUNKS)
    return dataclasses.replace(exp, widths=tuple(dataclasses.replace(w, mc_samples=samples if w.mc_samples else 0)
                                                 for w in exp.widths))
