"""The generalization experiment's config: cube sizes, networks, targets, training-set sizes and draws
of S, the posterior's sampler and the optimisers.

``[experiment]``: ``kind = "generalization"``, ``name``, ``seed``, ``chunk_size`` (the trained
censuses'), ``n_inputs`` (a list of cube sizes, each of 2 to 7 bits; every network and target is
taken on each), ``fractions`` (the training-set sizes as fractions of ``N = 2^n``: ``m =
round(fraction N)``, 0 and 1 allowed, duplicates after rounding dropped), ``draws`` (draws of S per
``m``: S number ``d`` is the training experiment's S of ``train_seed + d``; ``m = 0`` and ``m = N``
have one S, so one draw), ``train_seed``, ``samples`` (trained networks per setting; 0 for no
training) and ``readouts`` (readout draws per posterior network). ``[prior]`` is a job's (Gaussian).
``[[architecture]]`` are a job's ``[model]`` without ``n_inputs``. ``[[target]]``: a ``name`` (a
label) and a ``function``: ``"dictator"`` (``x0``), ``"and"``, ``"or"``, ``"majority"``,
``"parity"``, ``"threshold"`` (``1{w.x + b > 0}``, ``w`` and ``b`` standard normal from ``seed``)
or ``"random"`` (every bit a fair coin from ``seed``): :func:`target_table`. ``[posterior]`` is a
job's ``[estimator]`` of kind ``readout_smc`` without ``seed`` (each setting's seed is derived from
the experiment's). ``[[optimizer]]`` as the training experiment's (``name`` and a job's
``[training]`` fields other than S). ``[rejection]`` (optional): ``samples`` (networks of one plain
prior census per cube size and network, default ``2^20``; ``0``: no rejection count) and
``chunk_size`` (its chunks, default 16384): every target, m and draw of S of that cube size and
network reads its rejection posterior from it (:class:`Rejection`).

Example:
    >>> from counting.experiments.base.config import read_toml
    >>> exp = from_dict(read_toml(DEMO), "demo")
    >>> exp.n_inputs, [m_values(exp, n) for n in exp.n_inputs], exp.posterior.particles
    ((3,), [(0, 4, 8)], 64)
    >>> exp.rejection
    Rejection(samples=65536, chunk_size=16384)
    >>> [hex(target_table(t, 3)) for t in exp.targets]
    ['0xaa', '0x96']
    >>> from_dict(read_toml(DEMO.replace('"parity"', '"xor"')), "x")
    Traceback (most recent call last):
    ...
    counting.spec.errors.SpecError: target[1].function: expected one of ['dictator', 'and', 'or', 'majority', 'parity', 'threshold', 'random'], got 'xor'
    >>> from_dict(read_toml(DEMO.replace("samples = 65536", "samples = -1")), "x")
    Traceback (most recent call last):
    ...
    counting.spec.errors.SpecError: rejection.samples: expected an integer >= 0, got -1
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from counting.boolean.tables import from_function, named_truth_table
from counting.experiments.base.config import (MAX_CHUNKS, config_digest, experiment_table, parse_header,
                                              parse_part_estimator, table_list, unique)
from counting.models import supporting
from counting.spec.errors import SpecError, check_keys, choice, integer, option_value, section
from counting.spec.estimator import MAX_CHUNK, ReadoutSMCSettings, replace_settings
from counting.spec.model import parse_model
from counting.spec.prior import parse_prior
from counting.spec.training import parse_training

KIND = "generalization"
FUNCTIONS = ("dictator", "and", "or", "majority", "parity", "threshold", "random")
MAX_INPUTS = 7  # the readout's orthants (counting.estimators.readout.MAX_INPUTS)
REJECTION_SAMPLES = 2**20
REJECTION_CHUNK = 16384

DEMO = """
[experiment]
kind = "generalization"
n_inputs = [3]
fractions = [0, 0.5, 1]
draws = 2
samples = 64
[[architecture]]
widths = [8]
[[target]]
name = "dictator"
function = "dictator"
[[target]]
name = "parity"
function = "parity"
[posterior]
particles = 64
steps = 1
slice_shrinks = 2
replicates = 2
n_qmc = 64
[[optimizer]]
name = "adam"
learning_rate = 0.05
max_steps = 200
[rejection]
samples = 65536
"""


@dataclass(frozen=True)
class TargetFunction:
    """A ``[[target]]``: its label, which function, and the seed of a drawn one."""

    name: str
    function: str
    seed: int = 0


@dataclass(frozen=True)
class Rejection:
    """``[rejection]``: one plain prior census of ``samples`` networks (in chunks of ``chunk_size``)
    per cube size and network; ``samples = 0``: none."""

    samples: int = REJECTION_SAMPLES
    chunk_size: int = REJECTION_CHUNK


@dataclass(frozen=True)
class Experiment:
    """A validated generalization experiment."""

    name: str
    n_inputs: tuple[int, ...]
    fractions: tuple[float, ...]
    draws: int
    train_seed: int
    samples: int
    readouts: int
    chunk_size: int
    seed: int
    prior: dict
    architectures: tuple[dict, ...]
    targets: tuple[TargetFunction, ...]
    posterior: ReadoutSMCSettings
    optimizers: tuple[dict, ...]
    rejection: Rejection = Rejection()
    kind: ClassVar[str] = KIND

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def digest(self) -> str:
        return config_digest(self)


def target_table(t: TargetFunction, n: int) -> int:
    """The truth table of ``t`` on ``n`` bits (a drawn function from ``numpy``'s PCG64 of its seed)."""
    if t.function == "dictator":
        return named_truth_table("x0", n)
    if t.function in ("and", "or", "majority", "parity"):
        return named_truth_table(t.function, n)
    rng = np.random.default_rng([t.seed, n])
    if t.function == "threshold":
        w, b = rng.standard_normal(n), rng.standard_normal()
        return from_function(lambda x: float(np.dot(w, x)) + b > 0, n)
    bits = rng.integers(0, 2, 2**n)
    return sum(int(b) << i for i, b in enumerate(bits))


def m_values(exp: Experiment, n: int) -> tuple[int, ...]:
    """The training-set sizes on ``n`` bits, ascending, distinct."""
    return tuple(sorted({int(round(f * 2**n)) for f in exp.fractions}))


def s_draws(exp: Experiment, n: int, m: int) -> tuple[int, ...]:
    """The draws of S at size ``m`` (one where S is empty or the whole cube)."""
    return (0,) if m in (0, 2**n) else tuple(range(exp.draws))


def _targets(tables: list[dict]) -> tuple[TargetFunction, ...]:
    out = []
    for i, t in enumerate(tables):
        at = f"target[{i}]"
        check_keys(t, {"name", "function", "seed"}, at)
        if not isinstance(t.get("name"), str) or not t["name"] or ":" in t["name"]:
            raise SpecError(f"{at}.name", "a non-empty string without ':'", t.get("name"))
        fn = choice(t.get("function", t["name"]), f"{at}.function", FUNCTIONS)
        out.append(TargetFunction(t["name"], fn, integer(t.get("seed", 0), f"{at}.seed", 0, 2**32 - 1)))
    unique([t.name for t in out], "target.name")
    return tuple(out)


def _fractions(v) -> tuple[float, ...]:
    ok = isinstance(v, list) and v and all(isinstance(x, (int, float)) and not isinstance(x, bool)
                                           and 0 <= x <= 1 for x in v)
    if not ok:
        raise SpecError("experiment.fractions", "a non-empty list of numbers from 0 to 1", v)
    return tuple(float(x) for x in v)


def _rejection(v) -> Rejection:
    r = section(v, "rejection")
    check_keys(r, {"samples", "chunk_size"}, "rejection")
    chunk = integer(r.get("chunk_size", REJECTION_CHUNK), "rejection.chunk_size", 1, MAX_CHUNK)
    return Rejection(integer(r.get("samples", REJECTION_SAMPLES), "rejection.samples", 0, chunk * MAX_CHUNKS), chunk)


def from_dict(d: dict, name: str = KIND) -> Experiment:
    """Validate a parsed experiment document (one-line :class:`SpecError` on bad input)."""
    check_keys(d, {"experiment", "prior", "architecture", "target", "posterior", "optimizer", "rejection"},
               "experiment file")
    h = parse_header(d, KIND, name, extra={"n_inputs", "fractions", "draws", "train_seed", "samples", "readouts"})
    e = experiment_table(d)
    ns = e.get("n_inputs", [5])
    if not isinstance(ns, list) or not ns:
        raise SpecError("experiment.n_inputs", "a non-empty list of cube sizes", ns)
    ns = tuple(integer(n, "experiment.n_inputs", 2, MAX_INPUTS) for n in ns)
    unique([str(n) for n in ns], "experiment.n_inputs")
    fractions = _fractions(e.get("fractions", [0.25, 0.5, 0.75]))
    draws = integer(e.get("draws", 3), "experiment.draws", 1, 1000)
    train_seed = integer(e.get("train_seed", 0), "experiment.train_seed", 0, 2**32 - 1 - 1000)
    samples = integer(e.get("samples", 512), "experiment.samples", 0, h.chunk_size * MAX_CHUNKS)
    readouts = integer(e.get("readouts", 4), "experiment.readouts", 1, 4096)
    prior = section(d.get("prior", {}), "prior")
    if parse_prior(prior).kind != "gaussian":
        raise SpecError("prior.kind", "'gaussian' (the readout is drawn as a Gaussian)", parse_prior(prior).kind)
    archs = table_list(d, "architecture")
    for i, a in enumerate(archs):
        if "n_inputs" in a:
            raise SpecError(f"architecture[{i}].n_inputs", "no n_inputs (the experiment's n_inputs apply)")
        for n in ns:
            supporting(parse_model({**a, "n_inputs": n}, f"architecture[{i}]"), "readout_features",
                       f"a linear readout to draw (architecture[{i}])")
    targets = _targets(table_list(d, "target"))
    post = parse_part_estimator(d.get("posterior", {}), "posterior", ("readout_smc",), h.seed)
    opts = d.get("optimizer", []) if samples else []
    if samples and not opts:
        raise SpecError("optimizer", "one or more [[optimizer]] tables (or experiment.samples = 0: no training)")
    for i, o in enumerate(opts):
        if not isinstance(o.get("name"), str) or not o["name"] or ":" in o["name"]:
            raise SpecError(f"optimizer[{i}].name", "a non-empty string without ':'", o.get("name"))
        for k in ("m", "train_points", "train_seed", "posterior", "condition_on_train"):
            if k in o:
                raise SpecError(f"optimizer[{i}].{k}", "no training set in an [[optimizer]] (the experiment gives S)")
        parse_training({**{k: v for k, v in o.items() if k != "name"}, "m": 0}, ns[0], f"optimizer[{i}]")
    unique([o["name"] for o in opts], "optimizer.name")
    rejection = _rejection(d.get("rejection", {}))
    return Experiment(h.name, ns, fractions, draws, train_seed, samples, readouts, h.chunk_size, h.seed, dict(prior),
                      tuple(map(dict, archs)), targets, post, tuple(map(dict, opts)), rejection)


def with_samples(exp: Experiment, samples: int) -> Experiment:
    """``exp`` with ``samples`` trained networks per setting, ``samples`` posterior networks per
    replicate and ``samples`` networks in each rejection census (``--samples``; a census that is off
    stays off)."""
    samples = option_value(integer, samples, "samples", 2)
    post = replace_settings(exp.posterior, "posterior", particles=samples)
    rejection = dataclasses.replace(exp.rejection, samples=samples if exp.rejection.samples else 0)
    return dataclasses.replace(exp, samples=samples if exp.samples else 0, posterior=post, rejection=rejection)
