"""The depth experiment's config: the depth-bias sweep, the block lesions and the routes, validated.

``[experiment]`` gives ``n_inputs`` (4: the decompositions are 4-bit functions), ``seed`` and
``chunk_size`` (:func:`counting.experiments.base.config.parse_header`); ``[prior]`` is a job's prior
section (continuous); ``[[target]]`` lists the functions of the depth-bias sweep (``name`` and
``truth_table``, :func:`counting.experiments.base.config.parse_targets`). Three optional parts, at
least one present:

* ``[bias]``: P(f) against depth at an equal parameter count. For each model kind in ``models``
  (``"mlp"``, ``"resmlp"``) and depth in ``depths``, the square network (all hidden widths equal)
  whose parameter count is nearest ``params``; ``samples`` networks each by hit-or-miss (0: none).
  The targets named in ``rare`` (too rare for hit-or-miss) are measured at every model and depth by
  a rare-event estimator as well, with the settings of ``[bias.estimator]``: a job's ``[estimator]``
  table (the spec's fields and defaults), seeded by the experiment's seed, of ``kind = "smc"``
  (the default: tempered SMC, ``particles``, ``steps``, ``replicates``, ...), ``"readout"`` (the
  Gaussian readout integrated out over ``samples`` hidden draws, with its Pareto k-hat:
  :mod:`counting.estimators.readout`) or ``"readout_smc"`` (the same tempered over the hidden
  layers: :mod:`counting.estimators.readout_smc`). The two readout kinds need the gaussian prior.
* ``[lesions]``: for residual MLPs of the same sizes (``depths``), ``samples`` networks each with
  every block and every edge lesioned: the number of used blocks and the longest used path, among
  all networks and among the solutions of each target.
* ``[routes]``: for residual MLPs of block width ``widths`` (inner width the same) and ``depths``
  blocks, how the solutions of each of ``decompositions``
  (:data:`counting.mechanisms.routes.DECOMPOSITIONS`) compute it: ``samples`` networks by
  hit-or-miss, and for the decompositions in ``rare`` (too rare for hit-or-miss) the settings of
  ``[routes.estimator]`` (as ``[bias.estimator]``): tempered SMC (``kind = "smc"``), whose last
  populations are classified, or the readout integrated out (``kind = "readout"``), the volume of
  each route class ``E[1{class} P(f | hidden)]`` with the class read from the hidden layers.

The SMC settings were once keys of ``[bias]`` and ``[routes]`` themselves (``particles``,
``steps``, ``replicates``); such a file is refused in one line naming ``[bias.estimator]``.
Bad input is a one-line :class:`~counting.spec.errors.SpecError`.

Example:
    >>> from counting.experiments.base.config import read_toml
    >>> exp = from_dict(read_toml('''
    ... [experiment]
    ... kind = "depth"
    ... [[target]]
    ... name = "and4"
    ... truth_table = "0x8000"
    ... [bias]
    ... depths = [1, 2]
    ... samples = 4096
    ... '''), "demo")
    >>> exp.bias.models, exp.bias.params, exp.bias.rare, exp.lesions, exp.routes
    (('mlp', 'resmlp'), 600, (), None, None)
    >>> doc = '[experiment]\\nkind = "depth"\\n[[target]]\\nname = "a"\\ntruth_table = "0x8000"\\n[bias]\\n'
    >>> from_dict(read_toml(doc + 'samples = 0'), "x")
    Traceback (most recent call last):
    ...
    counting.spec.errors.SpecError: bias.samples: expected at least 1 (0 only with targets in bias.rare), got 0
    >>> from_dict(read_toml(doc + 'samples = 0\\nrare = ["a"]\\n[bias.estimator]\\nreplicates = 4'), "x").bias.estimator
    SMCSettings(particles=1000, kernel='hmc', steps=10, leapfrog=8, replicates=4, max_stages=200, ess_target=0.5, stop_fraction=0.5, seed=0, key_impl='threefry2x32', batch_replicates=0, kind='smc')
    >>> from_dict(read_toml(doc + 'samples = 0\\nrare = ["a"]\\n[bias.estimator]\\nkind = "readout"\\nsamples = 4096'), "x").bias.estimator
    ReadoutSettings(samples=4096, seed=0, chunk_size=1024, block_size=256, key_impl='threefry2x32', n_qmc=256, shifts=4, tilt=True, kind='readout')
    >>> from_dict(read_toml(doc + 'samples = 0\\nrare = ["a"]\\nparticles = 500'), "x")
    Traceback (most recent call last):
    ...
    counting.spec.errors.SpecError: bias.particles: expected no particles here: moved to [bias.estimator] (kind = "smc"), got 500
    >>> from_dict(read_toml('[experiment]\\nkind = "depth"\\n[[target]]\\nname = "a"\\ntruth_table = "0x8000"'), "x")
    Traceback (most recent call last):
    ...
    counting.spec.errors.SpecError: experiment file: expected at least one of [bias], [lesions], [routes]
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

from counting.experiments.base.config import (MAX_CHUNKS, check_moved, config_digest, distinct_ints, name_list,
                                              parse_header, parse_part_estimator, parse_targets, table_list)
from counting.mechanisms.routes import DECOMPOSITIONS
from counting.spec.errors import SpecError, check_keys, choice, integer, option_value, section
from counting.spec.estimator import EstimatorSettings, SMCSettings
from counting.spec.model import ACTIVATIONS
from counting.spec.prior import PriorSpec, parse_prior
from counting.spec.target import Target

KIND = "depth"
MODELS = ("mlp", "resmlp")
MAX_DEPTH = 12
SMC_KEYS = ("particles", "steps", "replicates")  # once keys of [bias] and [routes]: now [<part>.estimator]
BIAS_KINDS = ("smc", "readout", "readout_smc")  # [bias.estimator] kind, the first the default
ROUTE_KINDS = ("smc", "readout")  # [routes.estimator] kind
READOUT_KINDS = ("readout", "readout_smc")  # the readout integrated out: the gaussian prior only


@dataclass(frozen=True)
class Bias:
    """P(f) against depth: every model kind in ``models`` at every depth, ``params`` parameters."""

    models: tuple[str, ...] = MODELS
    depths: tuple[int, ...] = (1, 2, 3, 4, 6, 8)
    params: int = 600
    activation: str = "relu"
    samples: int = 1_048_576  # 0: no hit-or-miss pass
    rare: tuple[str, ...] = ()  # target names, also measured by a rare-event estimator
    estimator: EstimatorSettings = SMCSettings()  # [bias.estimator] (BIAS_KINDS), seeded by the experiment's seed


@dataclass(frozen=True)
class Lesions:
    """Block and edge lesions of residual MLPs of ``params`` parameters at each depth."""

    depths: tuple[int, ...] = (2, 4, 6, 8)
    params: int = 600
    activation: str = "relu"
    samples: int = 65_536


@dataclass(frozen=True)
class Routes:
    """Routes of ``decompositions`` in residual MLPs of each block width and depth."""

    decompositions: tuple[str, ...] = ("and4", "parity4")
    widths: tuple[int, ...] = (8, 16)
    depths: tuple[int, ...] = (3, 4, 5, 6, 7, 8)
    activation: str = "relu"
    samples: int = 262_144
    rare: tuple[str, ...] = ()
    rare_widths: tuple[int, ...] = ()  # () : the same as widths
    rare_depths: tuple[int, ...] = ()  # () : the same as depths
    estimator: EstimatorSettings = SMCSettings()  # [routes.estimator] (ROUTE_KINDS), seeded by the experiment's seed


@dataclass(frozen=True)
class Experiment:
    """A validated depth experiment (``name``: its file's stem)."""

    kind: ClassVar[str] = KIND

    name: str
    n_inputs: int
    seed: int
    chunk_size: int
    prior: PriorSpec
    targets: tuple[Target, ...]
    bias: Bias | None = None
    lesions: Lesions | None = None
    routes: Routes | None = None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def digest(self) -> str:
        """A short hash of the whole config: part of each pass's checkpoint identity."""
        return config_digest(self)


def _bias(t: dict, chunk: int, targets: tuple[str, ...], seed: int) -> Bias:
    check_moved(t, "bias", SMC_KEYS, '[bias.estimator] (kind = "smc")')
    check_keys(t, {f.name for f in dataclasses.fields(Bias)}, "bias")
    d = Bias()
    rare = name_list(t.get("rare", list(d.rare)), "bias.rare", targets, empty=True)
    samples = integer(t.get("samples", d.samples), "bias.samples", 0, chunk * MAX_CHUNKS)
    if samples == 0 and not rare:
        raise SpecError("bias.samples", "at least 1 (0 only with targets in bias.rare)", samples)
    return Bias(name_list(t.get("models", list(d.models)), "bias.models", MODELS),
                distinct_ints(t.get("depths", list(d.depths)), "bias.depths", 1, MAX_DEPTH),
                integer(t.get("params", d.params), "bias.params", 50, 10**6),
                choice(t.get("activation", d.activation), "bias.activation", ACTIVATIONS),
                samples, rare, parse_part_estimator(t.get("estimator", {}), "bias.estimator", BIAS_KINDS, seed))


def _lesions(t: dict, chunk: int) -> Lesions:
    check_keys(t, {f.name for f in dataclasses.fields(Lesions)}, "lesions")
    d = Lesions()
    return Lesions(distinct_ints(t.get("depths", list(d.depths)), "lesions.depths", 1, MAX_DEPTH),
                   integer(t.get("params", d.params), "lesions.params", 50, 10**6),
                   choice(t.get("activation", d.activation), "lesions.activation", ACTIVATIONS),
                   integer(t.get("samples", d.samples), "lesions.samples", 1, chunk * MAX_CHUNKS))


def _routes(t: dict, chunk: int, seed: int) -> Routes:
    check_moved(t, "routes", SMC_KEYS, '[routes.estimator] (kind = "smc")')
    check_keys(t, {f.name for f in dataclasses.fields(Routes)}, "routes")
    d = Routes()
    decs = name_list(t.get("decompositions", list(d.decompositions)), "routes.decompositions", tuple(DECOMPOSITIONS))
    rare = name_list(t.get("rare", list(d.rare)), "routes.rare", decs, empty=True)
    return Routes(decs,
                  distinct_ints(t.get("widths", list(d.widths)), "routes.widths", 1, 256),
                  distinct_ints(t.get("depths", list(d.depths)), "routes.depths", 1, MAX_DEPTH),
                  choice(t.get("activation", d.activation), "routes.activation", ACTIVATIONS),
                  integer(t.get("samples", d.samples), "routes.samples", 1, chunk * MAX_CHUNKS),
                  rare,
                  distinct_ints(t["rare_widths"], "routes.rare_widths", 1, 256) if "rare_widths" in t else (),
                  distinct_ints(t["rare_depths"], "routes.rare_depths", 1, MAX_DEPTH) if "rare_depths" in t else (),
                  parse_part_estimator(t.get("estimator", {}), "routes.estimator", ROUTE_KINDS, seed))


def from_dict(d: dict, name: str = KIND) -> Experiment:
    """Validate a parsed experiment document (one-line :class:`SpecError` on bad input)."""
    check_keys(d, {"experiment", "prior", "target", "bias", "lesions", "routes"}, "experiment file")
    h = parse_header(d, KIND, name, n_inputs=(4, 4, 4))
    n, chunk, seed = h.n_inputs, h.chunk_size, h.seed
    prior = parse_prior(section(d.get("prior", {}), "prior"))
    if prior.discrete:
        raise SpecError("prior.kind", "a continuous prior ('gaussian' or 'uniform')", prior.kind)
    targets = parse_targets(table_list(d, "target"), n)
    parts = {k: section(d[k], k) for k in ("bias", "lesions", "routes") if k in d}
    if not parts:
        raise SpecError("experiment file", "at least one of [bias], [lesions], [routes]")
    bias = _bias(parts["bias"], chunk, tuple(t.name for t in targets), seed) if "bias" in parts else None
    lesions = _lesions(parts["lesions"], chunk) if "lesions" in parts else None
    routes = _routes(parts["routes"], chunk, seed) if "routes" in parts else None
    for part, where in ((bias, "bias"), (routes, "routes")):
        if part is not None and part.estimator.kind in READOUT_KINDS and prior.kind != "gaussian":
            raise SpecError(f"{where}.estimator.kind", f"'smc' with a {prior.kind} prior (the readout is integrated "
                            "out as a Gaussian)", part.estimator.kind)
    return Experiment(h.name, n, seed, chunk, prior, targets, bias, lesions, routes)


def with_samples(exp: Experiment, samples: int) -> Experiment:
    """``exp`` with ``samples`` networks in every hit-or-miss pass (``--samples``; SMC runs are
    unchanged, and a bias part without hit-or-miss, ``samples = 0``, stays without)."""
    samples = option_value(integer, samples, "samples", 1, exp.chunk_size * MAX_CHUNKS)
    return dataclasses.replace(
        exp, bias=exp.bias and dataclasses.replace(exp.bias, samples=samples if exp.bias.samples else 0),
        lesions=exp.lesions and dataclasses.replace(exp.lesions, samples=samples),
        routes=exp.routes and dataclasses.replace(exp.routes, samples=samples))
