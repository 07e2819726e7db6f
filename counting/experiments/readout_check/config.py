"""The readout check's config: models, each with its targets, one prior, and the two estimators' settings.

``[experiment]`` has ``kind = "readout-check"``, ``name`` and ``seed``: the readout estimator is
seeded with ``seed`` and hit-or-miss with ``seed + 1``, so the two never share a draw and their
intervals are independent. ``[prior]`` is a job's (Gaussian: the readout is integrated out as one).
``[readout]`` is a job's ``[estimator]`` of kind ``readout`` without ``seed`` (its ``samples`` are
networks); ``[hit_or_miss]`` a job's ``[estimator]`` of kind ``mc`` without ``seed``, whose
``samples`` are (hidden draw, readout) pairs, ``readouts_per_draw`` per hidden draw and
``chunk_size`` hidden draws per chunk (default :data:`HM_CHUNK`). ``[[model]]`` lists the models:
each a ``name`` (a row label and a work subfolder), ``targets`` (truth tables, ``'0x'`` strings of
the model's ``n_inputs``), the fields of a job's ``[model]`` (an ``mlp`` or a ``resmlp``: any
architecture whose readout is a linear map of named features), and optional ``[model.readout]``
and ``[model.hit_or_miss]`` tables whose fields replace the experiment's for that model (more
networks where the targets are rarer, say). Bad input is a one-line
:class:`~counting.spec.errors.SpecError`.

Example:
    >>> from counting.experiments.base.config import read_toml
    >>> exp = from_dict(read_toml('''
    ... [experiment]
    ... kind = "readout-check"
    ... seed = 5
    ... [readout]
    ... samples = 512
    ... [hit_or_miss]
    ... samples = 65536
    ... readouts_per_draw = 256
    ... [[model]]
    ... name = "mlp3"
    ... n_inputs = 3
    ... widths = [8]
    ... targets = ["0x00", "0xe8"]
    ... [model.hit_or_miss]
    ... samples = 131072
    ... '''), "demo")
    >>> m = exp.models[0]
    >>> [t.name for t in m.targets], m.readout.seed, m.hit_or_miss.seed, m.hit_or_miss.samples, m.hit_or_miss.chunk_size
    (['0x00', '0xe8'], 5, 6, 131072, 64)
    >>> with_samples(exp, 64).models[0].hit_or_miss.samples           # 64 hidden draws of 256 readouts
    16384
    >>> from_dict(read_toml('[experiment]\\nkind = "readout-check"\\n[prior]\\nkind = "uniform"\\n'
    ...                     '[[model]]\\nname = "a"\\ntargets = ["0x0"]\\nn_inputs = 2'), "x")
    Traceback (most recent call last):
    ...
    counting.spec.errors.SpecError: prior.kind: expected 'gaussian' (the readout is integrated out as a Gaussian), got 'uniform'
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

from counting.experiments.base.config import config_digest, parse_header, parse_part_estimator, table_list, unique
from counting.experiments.readout_check.hits import check_hit_or_miss
from counting.spec.errors import SpecError, check_keys, integer, option_value, section
from counting.spec.estimator import MCSettings, ReadoutSettings, replace_settings, settings_dict
from counting.spec.model import ModelSpec, parse_model
from counting.spec.prior import PriorSpec, parse_prior
from counting.spec.target import Target, parse_truth_table

KIND = "readout-check"
HM_CHUNK = 64  # hidden draws per hit-or-miss chunk: with 4,096 readouts each, 262,144 pairs
MODEL_KEYS = {"name", "targets", "readout", "hit_or_miss"}


@dataclass(frozen=True)
class Model:
    """One model: its ``name``, ``spec``, ``targets`` (named by their hex) and both estimators' settings."""

    name: str
    spec: ModelSpec
    targets: tuple[Target, ...]
    readout: ReadoutSettings
    hit_or_miss: MCSettings


@dataclass(frozen=True)
class Experiment:
    """A validated readout check (``name``: its file's stem)."""

    kind: ClassVar[str] = KIND

    name: str
    seed: int
    prior: PriorSpec
    models: tuple[Model, ...]

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["models"] = [{**dataclasses.asdict(m), "readout": settings_dict(m.readout),
                        "hit_or_miss": settings_dict(m.hit_or_miss)} for m in self.models]
        return d

    def digest(self) -> str:
        return config_digest(self)


def _settings(base: dict, own: dict, where: str, kind: str, seed: int):
    t = {**base, **section(own, where)}
    if kind == "mc":
        t.setdefault("chunk_size", HM_CHUNK)
    return parse_part_estimator({**t, "kind": kind}, where, (kind,), seed)


def _model(t: dict, i: int, seed: int, readout: dict, hm: dict) -> Model:
    where = f"model[{i}]"
    name = t.get("name")
    if not isinstance(name, str) or not name or "/" in name or ":" in name or name in (".", ".."):
        raise SpecError(f"{where}.name", "a name usable as a folder name (no '/' or ':')", name)
    spec = parse_model({k: v for k, v in t.items() if k not in MODEL_KEYS}, where)
    tts = t.get("targets")
    if not isinstance(tts, list) or not tts:
        raise SpecError(f"{where}.targets", "a non-empty list of truth tables ('0x' strings)", tts)
    targets = []
    for j, v in enumerate(tts):
        tt = parse_truth_table(v, spec.n_inputs, f"{where}.targets[{j}]")
        targets.append(Target(tt, spec.n_inputs, v if isinstance(v, str) else hex(tt)))
    unique([x.truth_table for x in targets], f"{where}.targets")
    ro = _settings(readout, t.get("readout", {}), f"{where}.readout", "readout", seed)
    mc = _settings(hm, t.get("hit_or_miss", {}), f"{where}.hit_or_miss", "mc", seed + 1)
    check_hit_or_miss(spec, mc, f"{where}.hit_or_miss")
    return Model(name, spec, tuple(targets), ro, mc)


def from_dict(d: dict, name: str = KIND) -> Experiment:
    """Validate a parsed experiment document (one-line :class:`SpecError` on bad input)."""
    check_keys(d, {"experiment", "prior", "readout", "hit_or_miss", "model"}, "experiment file")
    if "chunk_size" in d.get("experiment", {}):
        raise SpecError("experiment.chunk_size", "no chunk_size here: [readout] and [hit_or_miss] have their own",
                        d["experiment"]["chunk_size"])
    h = parse_header(d, KIND, name)
    if h.seed + 1 > 2**32 - 1:
        raise SpecError("experiment.seed", "at most 2**32 - 2 (hit-or-miss takes seed + 1)", h.seed)
    prior = parse_prior(section(d.get("prior", {}), "prior"))
    if prior.kind != "gaussian":
        raise SpecError("prior.kind", "'gaussian' (the readout is integrated out as a Gaussian)", prior.kind)
    readout = dict(section(d.get("readout", {}), "readout"))
    hm = dict(section(d.get("hit_or_miss", {}), "hit_or_miss"))
    for where, t in (("readout", readout), ("hit_or_miss", hm)):
        if "kind" in t:
            raise SpecError(f"{where}.kind", "no kind here (it is fixed)", t["kind"])
    models = tuple(_model(section(t, f"model[{i}]"), i, h.seed, readout, hm)
                   for i, t in enumerate(table_list(d, "model")))
    unique([m.name for m in models], "model.name")
    return Experiment(h.name, h.seed, prior, models)


def with_samples(exp: Experiment, samples: int) -> Experiment:
    """``exp`` with ``samples`` readout networks and ``samples`` hit-or-miss hidden draws (each with
    its ``readouts_per_draw`` readouts) for every model (``--samples``)."""
    samples = option_value(integer, samples, "samples", 2)
    return dataclasses.replace(exp, models=tuple(dataclasses.replace(
        m, readout=replace_settings(m.readout, f"model.{m.name}.readout", samples=samples),
        hit_or_miss=replace_settings(m.hit_or_miss, f"model.{m.name}.hit_or_miss",
                                     samples=samples * m.hit_or_miss.readouts_per_draw)) for m in exp.models))
