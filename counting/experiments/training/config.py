"""The training experiment's config: architectures, targets, training-set sizes and optimisers.

``[experiment]`` has ``kind = "training"``, ``n_inputs``, ``chunk_size`` and ``seed``
(:func:`counting.experiments.base.config.parse_header`), ``samples`` (trained networks per
setting), ``posterior_samples`` (prior networks per architecture, target and S for P_B(f | S)),
``m`` (a list of training-set sizes) and ``train_seed`` (S of size ``m``
is drawn from it, :func:`counting.training.data.training_points`). Each ``[[architecture]]`` is a
``[model]`` table (its ``n_inputs`` is the experiment's), each ``[[target]]`` a ``[target]`` table
with a ``name``, each ``[[optimizer]]`` a ``[training]`` table without S (``optimizer``,
``learning_rate``, ``batch_size``, ``max_steps``, ``stop``, ``loss``), with a ``name``. Every table
is checked by the spec's own parsers, errors naming the table (``optimizer[1].learning_rate``);
the ``[[target]]`` list by :func:`counting.experiments.base.config.parse_targets`.

An optional ``[mechanisms]`` table (:class:`Mechanisms`, off unless present) asks how the trained
solutions compute their target against the prior's solutions: ``optimizer`` (the name of an
``[[optimizer]]``, default the first), ``samples`` (trained networks per target, S the whole cube),
``prior_samples`` (untrained draws per setting, the same seed: the trained runs start from the first
``samples`` of them), ``chunk_size`` (both passes'; default the experiment's), and one or both
settings: ``[mechanisms.llamas]`` (an MLP's ``widths`` and ``activation`` on the experiment's
``n_inputs``, ``[[mechanisms.llamas.target]]`` and ``[[mechanisms.llamas.family]]`` read by the
llamaizer experiment's own functions, :func:`~counting.experiments.llamaizer.config.hidden_layers`,
:func:`~counting.experiments.llamaizer.config.llama_targets` and
:func:`~counting.experiments.llamaizer.config.parse_families`, and ``orbit``: whether the prior pass counts
the target's whole orbit, as the llamaizer does, default true; trained runs count as solutions only
when they compute the target itself) and ``[mechanisms.routes]`` (residual MLPs of
block ``width`` and ``depth`` on 4 bits, ``decompositions`` of
:data:`counting.mechanisms.routes.DECOMPOSITIONS`, chain against tree; ``rare``: those of them too
rare for the prior's hit-or-miss, whose prior side comes from another estimator instead, with the
settings of ``[mechanisms.routes.estimator]``, a job's ``[estimator]`` table seeded by the
experiment's seed: ``kind = "smc"`` (the default), tempered SMC as the depth experiment's
``[routes.estimator]``, or ``kind = "readout"`` (a Gaussian prior only), the readout integrated
out, each route's prior share E[1{route} P(f | hidden)] / V(f) from one readout pass
(:mod:`counting.experiments.training.readout`); the SMC settings were once keys of
``[mechanisms.routes]``, and such a file is refused in one line naming the table).

An optional ``[ratios]`` table (:class:`Ratios`) sets the function-level ratios P_SGD(f | S) /
P_B(f | S) (table ``ratios``): ``top`` (each census's most frequent functions, besides the target
and the treacherous function; default 5) and ``[ratios.readout]``, a job's ``[estimator]`` table
of ``kind = "readout"`` (:class:`~counting.spec.estimator.ReadoutSettings`, seeded from the
experiment's seed; off without it): per setting, one readout pass giving P_B(f | S) as
V(f) / V(agrees on S) for those functions, where rejection keeps few draws. It needs the Gaussian
prior and architectures with a linear readout.

With ``[mechanisms]``, ``[[architecture]]`` and ``[[target]]`` may be left out: the experiment is
then its mechanisms alone (``experiments/training-mechanisms.toml``).

Example:
    >>> from counting.experiments.base.config import read_toml
    >>> exp = from_dict(read_toml('''
    ... [experiment]
    ... kind = "training"
    ... n_inputs = 3
    ... m = [4]
    ... [[architecture]]
    ... widths = [8]
    ... [[target]]
    ... name = "majority"
    ... [[optimizer]]
    ... name = "adam"
    ... optimizer = "adam"
    ... learning_rate = 0.01
    ... '''), "demo")
    >>> exp.m, exp.samples, [o["name"] for o in exp.optimizers], exp.mechanisms
    ((4,), 4096, ['adam'], None)
    >>> from_dict(read_toml('[experiment]\\nkind = "training"\\nm = [4]\\n[[architecture]]\\n[[target]]\\n'
    ...                     'name = "and"\\n[[optimizer]]\\nname = "x"\\nm = 3'), "x")
    Traceback (most recent call last):
    ...
    counting.spec.errors.SpecError: optimizer[0].m: expected no training set in an [[optimizer]] (the experiment's m and train_seed give S)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

from counting.experiments.base.config import (MAX_CHUNKS, check_moved, config_digest, distinct_ints,
                                              experiment_table, name_list, parse_header, parse_part_estimator,
                                              parse_targets, table_list, unique)
from counting.experiments.llamaizer.config import MAX_INPUTS as LLAMA_INPUTS
from counting.experiments.llamaizer.config import Family, hidden_layers, llama_targets, parse_families
from counting.mechanisms.routes import DECOMPOSITIONS
from counting.models import supporting
from counting.spec.errors import SpecError, check_keys, choice, flag, integer, option_value, section
from counting.spec.estimator import MAX_CHUNK, ReadoutSettings, SMCSettings
from counting.spec.model import ACTIVATIONS, MAX_INPUTS, parse_model
from counting.spec.prior import CONTINUOUS_PRIORS, parse_prior
from counting.spec.target import Target
from counting.spec.training import parse_training

KIND = "training"
S_FIELDS = ("train_points", "m", "train_seed", "posterior", "condition_on_train")


@dataclass(frozen=True)
class LlamaSetting:
    """Llamas in the hidden layers of an MLP ``n_inputs - widths - 1``, per target and family."""

    widths: tuple[int, ...]
    activation: str
    targets: tuple[Target, ...]
    families: tuple[Family, ...]
    orbit: bool = True  # the prior pass counts f's whole orbit (llamas carried along): more solutions per draw


@dataclass(frozen=True)
class RouteSetting:
    """Chain against tree in residual MLPs (4 bits) of block ``width`` (inner width the same) and ``depth``."""

    decompositions: tuple[str, ...] = ("parity4",)
    width: int = 8
    depth: int = 3
    activation: str = "relu"
    rare: tuple[str, ...] = ()  # of decompositions: the prior side by SMC (counting.experiments.depth.rare)
    estimator: SMCSettings | ReadoutSettings = SMCSettings()  # [mechanisms.routes.estimator], seeded by the experiment's seed


@dataclass(frozen=True)
class Mechanisms:
    """The ``[mechanisms]`` table: trained against prior solutions, by mechanism (module docstring)."""

    optimizer: str
    samples: int
    prior_samples: int
    chunk_size: int
    llamas: LlamaSetting | None = None
    routes: RouteSetting | None = None


@dataclass(frozen=True)
class Ratios:
    """The ``[ratios]`` table: how many of each census's most frequent functions the ``ratios`` table
    takes, and the readout estimator of P_B(f | S) (``None``: rejection alone)."""

    top: int = 5
    readout: ReadoutSettings | None = None


@dataclass(frozen=True)
class Experiment:
    """A validated training experiment (the tables as given; the specs are built per pass)."""

    name: str
    n_inputs: int
    samples: int
    posterior_samples: int
    chunk_size: int
    seed: int
    m: tuple[int, ...]
    train_seed: int
    prior: dict
    architectures: tuple[dict, ...]
    targets: tuple[dict, ...]
    optimizers: tuple[dict, ...]
    mechanisms: Mechanisms | None = None
    ratios: Ratios = Ratios()
    kind: ClassVar[str] = KIND

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def digest(self) -> str:
        """A short hash of the whole config: part of each pass's checkpoint identity."""
        return config_digest(self)


def _named(tables: list[dict], key: str) -> None:
    for i, t in enumerate(tables):
        if "name" not in t or not isinstance(t["name"], str) or not t["name"]:
            raise SpecError(f"{key}[{i}].name", "a non-empty string")
    unique([t["name"] for t in tables], f"{key}.name")


def target_table(t: dict) -> dict:
    """The ``[target]`` table of a ``[[target]]``: its truth table if given (the name is a label),
    else its name (a named function such as ``"majority"``)."""
    return {"truth_table": t["truth_table"]} if "truth_table" in t else {"name": t["name"]}


def _llamas(t: dict, n: int) -> LlamaSetting:
    """``[mechanisms.llamas]``, read by the llamaizer experiment's own functions."""
    where = "mechanisms.llamas"
    check_keys(t, {"widths", "activation", "target", "family", "orbit"}, where)
    orbit = flag(t.get("orbit", True), f"{where}.orbit")
    integer(n, f"{where}.n_inputs (the experiment's)", 2, LLAMA_INPUTS)
    m = hidden_layers({k: t[k] for k in ("widths", "activation") if k in t}, n, where)
    targets = llama_targets(table_list(t, "target", f"{where}.target"), n, f"{where}.target")
    families = parse_families(table_list(t, "family", f"{where}.family"), n, f"{where}.family")
    return LlamaSetting(m.widths, m.activation, targets, families, orbit)


def _routes(t: dict, seed: int) -> RouteSetting:
    where, d = "mechanisms.routes", RouteSetting()
    check_moved(t, where, ("particles", "steps", "replicates"), '[mechanisms.routes.estimator] (kind = "smc")')
    check_keys(t, {f.name for f in dataclasses.fields(RouteSetting)}, where)
    decs = name_list(t.get("decompositions", list(d.decompositions)), f"{where}.decompositions",
                     tuple(DECOMPOSITIONS))
    return RouteSetting(decs,
                        integer(t.get("width", d.width), f"{where}.width", 1, 256),
                        integer(t.get("depth", d.depth), f"{where}.depth", 1, 12),
                        choice(t.get("activation", d.activation), f"{where}.activation", ACTIVATIONS),
                        name_list(t.get("rare", list(d.rare)), f"{where}.rare", decs, empty=True),
                        parse_part_estimator(t.get("estimator", {}), f"{where}.estimator", ("smc", "readout"), seed))


def mechanisms_from_dict(t: dict, n: int, prior: dict, optimizers: list[dict], chunk_size: int,
                         seed: int) -> Mechanisms:
    """Validate ``[mechanisms]`` (``optimizers``: the experiment's, already checked; ``chunk_size``
    and ``seed``: the experiment's)."""
    t = section(t, "mechanisms")
    check_keys(t, {"optimizer", "samples", "prior_samples", "chunk_size", "llamas", "routes"}, "mechanisms")
    opt = choice(t.get("optimizer", optimizers[0]["name"]), "mechanisms.optimizer", tuple(o["name"] for o in optimizers))
    chunk = integer(t.get("chunk_size", chunk_size), "mechanisms.chunk_size", 1, MAX_CHUNK)
    samples = integer(t.get("samples", 1024), "mechanisms.samples", 1, chunk * MAX_CHUNKS)
    prior_samples = integer(t.get("prior_samples", 262_144), "mechanisms.prior_samples", 1, chunk * MAX_CHUNKS)
    if "llamas" not in t and "routes" not in t:
        raise SpecError("mechanisms", "one or both of [mechanisms.llamas], [mechanisms.routes]")
    llamas = _llamas(section(t["llamas"], "mechanisms.llamas"), n) if "llamas" in t else None
    routes = _routes(section(t["routes"], "mechanisms.routes"), seed) if "routes" in t else None
    if routes is not None and routes.rare and parse_prior(prior).kind not in CONTINUOUS_PRIORS:
        raise SpecError("mechanisms.routes.rare", f"no rare routes with a discrete prior (SMC needs one of "
                        f"{list(CONTINUOUS_PRIORS)})", list(routes.rare))
    if routes is not None and routes.rare and routes.estimator.kind == "readout" and parse_prior(prior).kind != "gaussian":
        raise SpecError("mechanisms.routes.estimator.kind", "'smc' with a non-Gaussian prior (the readout is "
                        "integrated out as a Gaussian)", routes.estimator.kind)
    return Mechanisms(opt, samples, prior_samples, chunk, llamas, routes)


def ratios_from_dict(t: dict, prior: dict, archs: list[dict], n: int, seed: int) -> Ratios:
    """Validate ``[ratios]`` (``archs``: the experiment's ``[[architecture]]`` tables, already checked)."""
    t = section(t, "ratios")
    check_keys(t, {"top", "readout"}, "ratios")
    top = integer(t.get("top", Ratios.top), "ratios.top", 1, 1000)
    if "readout" not in t:
        return Ratios(top)
    readout = parse_part_estimator(t["readout"], "ratios.readout", ("readout",), seed)
    if parse_prior(prior).kind != "gaussian":
        raise SpecError("ratios.readout", "a gaussian [prior] (the readout is integrated out as a Gaussian)",
                        parse_prior(prior).kind)
    for i, a in enumerate(archs):
        supporting(parse_model({**a, "n_inputs": n}, f"architecture[{i}]"), "readout_features",
                   f"a linear readout to integrate out ([ratios.readout]; architecture[{i}])")
    return Ratios(top, readout)


def from_dict(d: dict, name: str = KIND) -> Experiment:
    """Validate a parsed experiment document (one-line :class:`SpecError` on bad input)."""
    check_keys(d, {"experiment", "prior", "architecture", "target", "optimizer", "mechanisms", "ratios"},
               "experiment file")
    h = parse_header(d, KIND, name, n_inputs=(3, 1, MAX_INPUTS),
                     extra={"samples", "posterior_samples", "m", "train_seed"})
    e, n, chunk, seed = experiment_table(d), h.n_inputs, h.chunk_size, h.seed
    samples = integer(e.get("samples", 4096), "experiment.samples", 1, chunk * MAX_CHUNKS)
    post = integer(e.get("posterior_samples", 65_536), "experiment.posterior_samples", 1, chunk * MAX_CHUNKS)
    train_seed = integer(e.get("train_seed", 0), "experiment.train_seed", 0, 2**32 - 1)
    m = distinct_ints(e.get("m", [max(1, 2**n // 2)]), "experiment.m", 0, 2**n)
    prior = section(d.get("prior", {}), "prior")
    parse_prior(prior)
    # without [[architecture]] and [[target]] an experiment with [mechanisms] is its mechanisms alone
    alone = "mechanisms" in d and "architecture" not in d and "target" not in d
    archs, targets = ([], []) if alone else (table_list(d, k) for k in ("architecture", "target"))
    opts = table_list(d, "optimizer")
    for i, a in enumerate(archs):
        if "n_inputs" in a:
            raise SpecError(f"architecture[{i}].n_inputs", "no n_inputs (the experiment's n_inputs applies)")
        parse_model({**a, "n_inputs": n}, f"architecture[{i}]")
    parse_targets(targets, n)
    _named(opts, "optimizer")
    for i, o in enumerate(opts):
        for k in S_FIELDS:
            if k in o:
                raise SpecError(f"optimizer[{i}].{k}",
                                "no training set in an [[optimizer]] (the experiment's m and train_seed give S)")
        parse_training({**{k: v for k, v in o.items() if k != "name"}, "m": 0}, n, f"optimizer[{i}]")
    mech = mechanisms_from_dict(d["mechanisms"], n, dict(prior), opts, chunk, seed) if "mechanisms" in d else None
    ratios = ratios_from_dict(d["ratios"], dict(prior), archs, n, seed) if "ratios" in d else Ratios()
    return Experiment(h.name, n, samples, post, chunk, seed, m, train_seed, dict(prior), tuple(map(dict, archs)),
                      tuple(map(dict, targets)), tuple(map(dict, opts)), mech, ratios)


def with_samples(exp: Experiment, samples: int) -> Experiment:
    """``exp`` with ``samples`` trained networks per setting (``--samples``) and the posterior's
    draws scaled by the same factor (at least ``samples``), so a small run is small throughout
    (the mechanisms' trained and prior draws too, and their SMC replicates or readout networks, at least
    2; the ratios' readout networks, at least 2)."""
    samples = option_value(integer, samples, "samples", 1, exp.chunk_size * MAX_CHUNKS)
    post = max(samples, min(exp.chunk_size * MAX_CHUNKS, exp.posterior_samples * samples // exp.samples))
    mech = exp.mechanisms
    if mech is not None:  # the same factor for the mechanisms' trained and prior draws
        mech = dataclasses.replace(mech, samples=max(1, mech.samples * samples // exp.samples),
                                   prior_samples=max(1, mech.prior_samples * samples // exp.samples))
        if mech.routes is not None:
            s = mech.routes.estimator
            if s.kind == "readout":  # the same factor for the readout's networks, at least 2
                s = dataclasses.replace(s, samples=max(2, s.samples * samples // exp.samples))
            else:
                reps = max(2, min(s.replicates, s.replicates * samples // exp.samples))
                s = dataclasses.replace(s, replicates=reps, batch_replicates=min(s.batch_replicates, reps))
            mech = dataclasses.replace(mech, routes=dataclasses.replace(mech.routes, estimator=s))
    ratios = exp.ratios
    if ratios.readout is not None:  # the same factor for the readout's networks, at least 2
        r = ratios.readout
        ratios = dataclasses.replace(ratios, readout=dataclasses.replace(
            r, samples=max(2, r.samples * samples // exp.samples)))
    return dataclasses.replace(exp, samples=samples, posterior_samples=post, mechanisms=mech, ratios=ratios)
