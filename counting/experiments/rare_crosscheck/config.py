"""The rare-event cross-check's config: one network or several, a prior, targets, and the methods that measure them.

``[experiment]`` has ``kind = "rare-crosscheck"``, ``seed`` and ``chunk_size``
(:func:`counting.experiments.base.config.parse_header`; the chunk size is the default of the
hit-or-miss methods); ``[model]`` and ``[prior]`` are a job's sections (the spec's parsers), the
model's ``n_inputs`` the targets'. Several networks are ``[[model]]`` tables instead
(:class:`Model`): each a ``name`` (a row label and a work subfolder: no ``/`` or ``:``), the fields
of a job's ``[model]`` and an optional ``[model.override]``, estimator fields that change, for that
model, in every method whose settings have them (fewer networks at a larger width, say); the
targets are resolved for each model's ``n_inputs`` (a named target such as ``"parity"`` on each
model's cube; a hex truth table only on the cube its digits fit, a one-line error naming
``target[i].truth_table`` on another). ``[[target]]`` lists the functions
(:func:`counting.experiments.base.config.parse_targets`), each with an optional
``[target.override]``: estimator fields that change, for that target, in every rare-event method
(``subset``, ``smc``) whose settings have them (fewer replicates and a cap on levels and stages,
say, where no method reaches the target). ``[[method]]`` lists the methods, each a ``name``
(default ``<kind>-<kernel>``, or the kind), an optional ``seed`` (default the experiment's seed
plus the method's place in the list, so no two methods share a key) and an ``[method.estimator]``
table: a job's ``[estimator]`` of any kind of :data:`counting.estimators.ESTIMATORS`, read by
:func:`counting.experiments.base.config.parse_part_estimator` (fields, bounds and defaults of the
spec; no ``seed`` there). Bad input is a one-line :class:`~counting.spec.errors.SpecError`.

Example:
    >>> from counting.experiments.base.config import read_toml
    >>> exp = from_dict(read_toml('''
    ... [experiment]
    ... kind = "rare-crosscheck"
    ... seed = 5
    ... [model]
    ... n_inputs = 2
    ... widths = []
    ... [[target]]
    ... name = "and"
    ... [target.override]
    ... replicates = 3
    ... [[method]]
    ... [method.estimator]
    ... kind = "subset"
    ... kernel = "pcn"
    ... [[method]]
    ... name = "infinite width"
    ... seed = 0
    ... [method.estimator]
    ... kind = "nngp"
    ... '''), "demo")
    >>> [(m.name, m.settings.seed) for m in exp.methods]
    [('subset-pcn', 5), ('infinite width', 0)]
    >>> [settings_for(exp, 0, m).replicates for m in exp.methods]     # NNGP keeps its own
    [3, 16]
    >>> from_dict(read_toml('[experiment]\\nkind = "rare-crosscheck"\\n[model]\\nn_inputs = 2\\n'
    ...                     '[[target]]\\nname = "and"\\n[target.override]\\nmax_stages = 4\\n'
    ...                     '[[method]]\\n[method.estimator]\\nkind = "subset"'), "x")
    Traceback (most recent call last):
    ...
    counting.spec.errors.SpecError: target[0].override.max_stages: expected a field of a rare-event method's settings (['subset']), got 4
    >>> exp = from_dict(read_toml('''
    ... [experiment]
    ... kind = "rare-crosscheck"
    ... [[model]]
    ... name = "two"
    ... n_inputs = 2
    ... widths = []
    ... [[model]]
    ... name = "three"
    ... n_inputs = 3
    ... widths = [4]
    ... [model.override]
    ... samples = 2048
    ... [[target]]
    ... name = "parity"
    ... [[method]]
    ... [method.estimator]
    ... kind = "mc"
    ... '''), "demo")
    >>> [(m.name, [hex(t.truth_table) for t in m.targets]) for m in exp.models]
    [('two', ['0x6']), ('three', ['0x96'])]
    >>> [settings_for(exp, 0, exp.methods[0], m).samples for m in exp.models]
    [100000, 2048]
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

from counting.experiments.base.config import (MAX_CHUNKS, config_digest, parse_header, parse_part_estimator,
                                              parse_targets, table_list, unique)
from counting.spec.errors import SpecError, check_keys, integer, section, option_value
from counting.spec.estimator import (ESTIMATOR_KINDS, EstimatorSettings, MCSettings, replace_settings,
                                     settings_dict)
from counting.spec.model import ModelSpec, parse_model
from counting.spec.prior import CONTINUOUS_PRIORS, PriorSpec, parse_prior
from counting.spec.target import Target

KIND = "rare-crosscheck"
RARE_KINDS = ("subset", "smc")  # the replicated rare-event methods: a target's override applies to them
MODEL_KEYS = {"name", "override"}  # a [[model]] table's own keys; the others are the model's


@dataclass(frozen=True)
class Method:
    """One method: its ``name`` (a row label and a work subfolder) and its estimator ``settings``
    (seeded)."""

    name: str
    settings: EstimatorSettings


@dataclass(frozen=True)
class Model:
    """One of several networks (``[[model]]``): its ``name``, ``spec``, the experiment's targets
    resolved for its ``n_inputs`` and its ``override`` (estimator fields, for every method that has them)."""

    name: str
    spec: ModelSpec
    targets: tuple[Target, ...]
    override: dict


@dataclass(frozen=True)
class Experiment:
    """A validated cross-check (``name``: its file's stem); ``overrides[i]``: target ``i``'s. One
    network is ``model``, with ``targets`` resolved for it (``models`` empty); several are
    ``models`` (``model`` ``None`` and ``targets`` empty: each model has its own)."""

    kind: ClassVar[str] = KIND

    name: str
    seed: int
    chunk_size: int
    model: ModelSpec | None
    prior: PriorSpec
    targets: tuple[Target, ...]
    overrides: tuple[dict, ...]
    methods: tuple[Method, ...]
    models: tuple[Model, ...] = ()

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["methods"] = [{"name": m.name, "estimator": settings_dict(m.settings)} for m in self.methods]
        if not self.models:  # one network: recorded (and so digested) as before several could be given
            del d["models"]
        return d

    def digest(self) -> str:
        """A short hash of the whole config."""
        return config_digest(self)


def _method(t: dict, i: int, seed: int, chunk: int) -> Method:
    where = f"method[{i}]"
    check_keys(t, {"name", "seed", "estimator"}, where)
    est = dict(section(t.get("estimator", {}), f"{where}.estimator"))
    if est.get("kind", "mc") == "mc":  # hit-or-miss: the experiment's chunk size unless it sets one
        est.setdefault("chunk_size", chunk)
    s = parse_part_estimator(est, f"{where}.estimator", ESTIMATOR_KINDS,
                             integer(t.get("seed", seed + i), f"{where}.seed", 0, 2**32 - 1))
    kernel = getattr(s, "kernel", None)
    name = t.get("name", s.kind if kernel is None else f"{s.kind}-{kernel}")
    if not isinstance(name, str) or not name or "/" in name or name in (".", ".."):  # it names a work subfolder
        raise SpecError(f"{where}.name", "a name usable as a folder name (no '/')", name)
    return Method(name, s)


def _override(t: dict, i: int, methods: tuple[Method, ...]) -> dict:
    where = f"target[{i}].override"
    t = section(t, where)
    rare = [m.settings for m in methods if m.settings.kind in RARE_KINDS]
    fields = {f for s in rare for f in settings_dict(s)} - {"kind", "seed"}
    for k, v in t.items():
        if k not in fields:
            raise SpecError(f"{where}.{k}", f"a field of a rare-event method's settings "
                            f"({sorted({s.kind for s in rare})})", v)
    for s in rare:  # each applicable field checked as in a file
        replace_settings(s, where, **{k: v for k, v in t.items() if k in settings_dict(s)})
    return dict(t)


def _model_override(t: dict, i: int, methods: tuple[Method, ...]) -> dict:
    where = f"model[{i}].override"
    t = section(t, where)
    fields = {f for m in methods for f in settings_dict(m.settings)} - {"kind", "seed"}
    for k, v in t.items():
        if k not in fields:
            raise SpecError(f"{where}.{k}", f"a field of a method's settings ({sorted(fields)})", v)
    for m in methods:  # each applicable field checked as in a file
        own = settings_dict(m.settings)
        replace_settings(m.settings, where, **{k: v for k, v in t.items() if k in own})
    return dict(t)


def _models(tables: list[dict], methods: tuple[Method, ...], targets: list[dict]) -> tuple[Model, ...]:
    out = []
    for i, t in enumerate(tables):
        where = f"model[{i}]"
        name = t.get("name")
        if not isinstance(name, str) or not name or "/" in name or ":" in name or name in (".", ".."):
            raise SpecError(f"{where}.name", "a name usable as a folder name (no '/' or ':')", name)
        spec = parse_model({k: v for k, v in t.items() if k not in MODEL_KEYS}, where)
        out.append(Model(name, spec, parse_targets(targets, spec.n_inputs),
                         _model_override(t.get("override", {}), i, methods)))
    unique([m.name for m in out], "model.name")
    return tuple(out)


def settings_for(exp: Experiment, t_index: int, method: Method, model: Model | None = None) -> EstimatorSettings:
    """``method``'s settings for target ``t_index`` (on ``model``, one of several): with the model's
    override where the settings have those fields, then the target's where it is a rare-event
    method whose settings have them."""
    s = method.settings
    fields = settings_dict(s)
    if model is not None and any(k in fields for k in model.override):
        s = replace_settings(s, "override", **{k: v for k, v in model.override.items() if k in fields})
    if s.kind not in RARE_KINDS:
        return s
    o = exp.overrides[t_index]
    return replace_settings(s, "override", **{k: v for k, v in o.items() if k in fields})


def from_dict(d: dict, name: str = KIND) -> Experiment:
    """Validate a parsed experiment document (one-line :class:`SpecError` on bad input)."""
    check_keys(d, {"experiment", "model", "prior", "target", "method"}, "experiment file")
    h = parse_header(d, KIND, name)
    several = isinstance(d.get("model"), list)  # [[model]] tables
    model = None if several else parse_model(section(d.get("model", {}), "model"))
    prior = parse_prior(section(d.get("prior", {}), "prior"))
    methods = tuple(_method(section(t, f"method[{i}]"), i, h.seed, h.chunk_size)
                    for i, t in enumerate(table_list(d, "method")))
    unique([m.name for m in methods], "method.name")
    for i, m in enumerate(methods):
        if m.settings.kind in RARE_KINDS and prior.kind not in CONTINUOUS_PRIORS:
            raise SpecError(f"method[{i}].estimator.kind", f"an estimator that takes a {prior.kind} prior "
                            f"({m.settings.kind} needs one of {list(CONTINUOUS_PRIORS)})", m.settings.kind)
        if m.settings.kind == "exact" and not prior.discrete:
            raise SpecError(f"method[{i}].estimator.kind", "a discrete prior ('ternary' or 'integer') for 'exact'",
                            m.settings.kind)
    tables = table_list(d, "target")
    for i, t in enumerate(tables):
        check_keys(t, {"name", "truth_table", "override"}, f"target[{i}]")
    plain = [{k: v for k, v in t.items() if k != "override"} for t in tables]
    if several:
        models = _models([section(t, f"model[{i}]") for i, t in enumerate(table_list(d, "model"))], methods, plain)
        targets = ()
    else:
        models, targets = (), parse_targets(plain, model.n_inputs)
    overrides = tuple(_override(t.get("override", {}), i, methods) for i, t in enumerate(tables))
    return Experiment(h.name, h.seed, h.chunk_size, model, prior, targets, overrides, methods, models)


def with_samples(exp: Experiment, samples: int) -> Experiment:
    """``exp`` with ``samples`` networks in every hit-or-miss method (``--samples``; rare-event,
    exact and NNGP settings are unchanged) and no model's override of ``samples``."""
    samples = option_value(integer, samples, "samples", 1, exp.chunk_size * MAX_CHUNKS)
    models = tuple(dataclasses.replace(m, override={k: v for k, v in m.override.items() if k != "samples"})
                   for m in exp.models)
    return dataclasses.replace(exp, models=models, methods=tuple(
        Method(m.name, replace_settings(m.settings, f"method.{m.name}.estimator", samples=samples)) if isinstance(m.settings, MCSettings)
        else m for m in exp.methods))
