"""Job specifications: TOML in, validated frozen dataclasses out.

Every field is checked here, before anything runs or is written, and a bad field raises
:class:`SpecError` whose message is one line naming the field and what was expected.

Example:
    >>> spec = parse_spec('''
    ... [model]
    ... n_inputs = 3
    ... widths = []
    ... [target]
    ... name = "majority"
    ... [estimator]
    ... samples = 1000
    ... ''')
    >>> spec.model.widths, spec.target.name, spec.estimator.samples
    ((), 'majority', 1000)
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ACTIVATIONS = ("relu", "tanh", "erf", "gelu", "step", "sign")
MODEL_KINDS = ("mlp", "resmlp")
PRIOR_KINDS = ("gaussian", "uniform", "ternary", "integer")
DISCRETE_PRIORS = ("ternary", "integer")
ESTIMATOR_KINDS = ("mc", "exact", "nngp", "subset", "smc")
SUBSET_KERNELS = ("ess", "pcn")
SMC_KERNELS = ("hmc", "mala")
KEY_IMPLS = ("threefry2x32",)
MAX_INPUTS = 12


class SpecError(ValueError):
    """A spec field is missing, unknown or out of range. ``str(err)`` is one line."""

    def __init__(self, field: str, expected: str, got: Any = dataclasses.MISSING):
        msg = f"{field}: expected {expected}"
        if got is not dataclasses.MISSING:
            msg += f", got {got!r}"
        super().__init__(msg)
        self.field = field


@dataclass(frozen=True)
class ModelSpec:
    """Architecture. ``kind="mlp"``: hidden ``widths`` (``()`` is a perceptron).
    ``kind="resmlp"``: an embedding to ``width``, ``depth`` residual blocks of inner width ``hidden``."""

    kind: str = "mlp"
    n_inputs: int = 3
    widths: tuple[int, ...] = (40, 40)
    activation: str = "relu"
    width: int = 16
    depth: int = 2
    hidden: int = 16


@dataclass(frozen=True)
class PriorSpec:
    """Continuous priors (``gaussian``, ``uniform``): weights have variance ``sigma_w**2 / fan_in``,
    biases ``sigma_b**2``. Discrete priors: every weight and bias uniform on the integers
    ``-max_abs .. max_abs``, unscaled (``ternary`` is ``max_abs = 1``)."""

    kind: str = "gaussian"
    sigma_w: float = 1.0
    sigma_b: float = 1.0
    max_abs: int = 1

    @property
    def discrete(self) -> bool:
        return self.kind in DISCRETE_PRIORS


@dataclass(frozen=True)
class TargetSpec:
    """Exactly one of ``truth_table`` (an int, bit i = f(x_i)) or ``name``."""

    truth_table: int | None = None
    name: str | None = None


@dataclass(frozen=True)
class EstimatorSpec:
    """How many networks, which seed, and the chunking that fixes the random stream.

    ``chunk_size`` is part of the stream's definition (network ``i`` of chunk ``c`` uses key
    ``fold_in(fold_in(key(seed), c), i)``); batch size and device count are not.
    """

    kind: str = "mc"
    samples: int = 100_000
    seed: int = 0
    chunk_size: int = 16_384
    key_impl: str = "threefry2x32"
    # rare-event settings: kind = "subset" (kernel "ess" or "pcn"; steps per level, max_levels) and
    # kind = "smc" (kernel "hmc" or "mala", default "hmc"; steps = moves per stage, leapfrog steps
    # per hmc move, max_levels = most tempering stages)
    kernel: str = "ess"
    particles: int = 1000
    p0: float = 0.1
    steps: int = 10
    replicates: int = 10
    max_levels: int = 200
    leapfrog: int = 8


@dataclass(frozen=True)
class Spec:
    model: ModelSpec
    prior: PriorSpec
    target: TargetSpec
    estimator: EstimatorSpec

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["model"]["widths"] = list(self.model.widths)
        return d


# ----------------------------------------------------------------------------- validation
def _check_keys(table: dict, allowed: set[str], where: str) -> None:
    for k in table:
        if k not in allowed:
            raise SpecError(f"{where}.{k}", f"one of the known keys {sorted(allowed)}", "unknown key")


def _int(value: Any, field: str, lo: int | None = None, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(field, "an integer", value)
    if lo is not None and value < lo:
        raise SpecError(field, f"an integer >= {lo}", value)
    if hi is not None and value > hi:
        raise SpecError(field, f"an integer <= {hi}", value)
    return value


def _float(value: Any, field: str, positive: bool = True) -> float:
    """A finite number, > 0 if ``positive`` else >= 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(field, "a number", value)
    if not math.isfinite(value) or (value <= 0 if positive else value < 0):
        raise SpecError(field, "a finite number " + ("> 0" if positive else ">= 0"), value)
    return float(value)


def _choice(value: Any, field: str, options: tuple[str, ...]) -> str:
    if value not in options:
        raise SpecError(field, f"one of {list(options)}", value)
    return value


def parse_truth_table(value: Any, n_inputs: int, field: str = "target.truth_table") -> int:
    """An int, or a hex string such as ``"0xe8"``, no wider than ``2**n_inputs`` bits."""
    if isinstance(value, str):
        text = value.strip().lower().replace("_", "")
        try:
            tt = int(text, 16)
        except ValueError:
            raise SpecError(field, "a hex string such as '0xe8' or an integer", value) from None
    elif isinstance(value, int) and not isinstance(value, bool):
        tt = value
    else:
        raise SpecError(field, "a hex string such as '0xe8' or an integer", value)
    n_points = 2**n_inputs
    if tt < 0 or tt.bit_length() > n_points:
        raise SpecError(field, f"a truth table of at most 2**{n_inputs} = {n_points} bits", value)
    return tt


def _model(t: dict) -> ModelSpec:
    _check_keys(t, {f.name for f in dataclasses.fields(ModelSpec)}, "model")
    kind = _choice(t.get("kind", "mlp"), "model.kind", MODEL_KINDS)
    n = _int(t.get("n_inputs", 3), "model.n_inputs", 1, MAX_INPUTS)
    widths = t.get("widths", [40, 40])
    if not isinstance(widths, list):
        raise SpecError("model.widths", "a list of positive integers ([] for a perceptron)", widths)
    widths = tuple(_int(w, f"model.widths[{i}]", 1) for i, w in enumerate(widths))
    act = _choice(t.get("activation", "relu"), "model.activation", ACTIVATIONS)
    width = _int(t.get("width", 16), "model.width", 1)
    depth = _int(t.get("depth", 2), "model.depth", 0)
    hidden = _int(t.get("hidden", width), "model.hidden", 1)
    return ModelSpec(kind, n, widths, act, width, depth, hidden)


def _prior(t: dict) -> PriorSpec:
    _check_keys(t, {f.name for f in dataclasses.fields(PriorSpec)}, "prior")
    kind = _choice(t.get("kind", "gaussian"), "prior.kind", PRIOR_KINDS)
    if kind in DISCRETE_PRIORS and ({"sigma_w", "sigma_b"} & set(t)):
        raise SpecError("prior", f"no sigma_w/sigma_b for the unscaled '{kind}' prior (use max_abs)")
    if kind == "ternary" and t.get("max_abs", 1) != 1:
        raise SpecError("prior.max_abs", "1 for 'ternary' (use kind = 'integer' for more levels)", t["max_abs"])
    return PriorSpec(
        kind,
        _float(t.get("sigma_w", 1.0), "prior.sigma_w"),
        _float(t.get("sigma_b", 1.0), "prior.sigma_b", positive=False),
        _int(t.get("max_abs", 1), "prior.max_abs", 1, 7),
    )


def _target(t: dict, n_inputs: int) -> TargetSpec:
    from counting.truth import named_truth_table  # local: truth imports nothing from here

    _check_keys(t, {"truth_table", "name"}, "target")
    if ("truth_table" in t) == ("name" in t):
        raise SpecError("target", "exactly one of 'truth_table' or 'name'")
    if "name" in t:
        name = t["name"]
        try:
            named_truth_table(name, n_inputs)
        except ValueError as e:
            raise SpecError("target.name", str(e), name) from None
        return TargetSpec(name=name)
    return TargetSpec(truth_table=parse_truth_table(t["truth_table"], n_inputs))


def _estimator(t: dict) -> EstimatorSpec:
    _check_keys(t, {f.name for f in dataclasses.fields(EstimatorSpec)}, "estimator")
    chunk = _int(t.get("chunk_size", 16_384), "estimator.chunk_size", 1, 2**24)
    kind = _choice(t.get("kind", "mc"), "estimator.kind", ESTIMATOR_KINDS)
    kernels = SMC_KERNELS if kind == "smc" else SUBSET_KERNELS
    return EstimatorSpec(
        kind,
        # chunk ids are uint32 fold_in data: at most 2**32 chunks
        _int(t.get("samples", 100_000), "estimator.samples", 1, chunk * 2**32),
        _int(t.get("seed", 0), "estimator.seed", 0, 2**32 - 1),
        chunk,
        _choice(t.get("key_impl", "threefry2x32"), "estimator.key_impl", KEY_IMPLS),
        _choice(t.get("kernel", kernels[0]), "estimator.kernel", kernels),
        _int(t.get("particles", 1000), "estimator.particles", 10),
        _p0(t.get("p0", 0.1)),
        _int(t.get("steps", 10), "estimator.steps", 1),
        _int(t.get("replicates", 10), "estimator.replicates", 2),
        _int(t.get("max_levels", 200), "estimator.max_levels", 1),
        _int(t.get("leapfrog", 8), "estimator.leapfrog", 1),
    )


def _p0(value: Any) -> float:
    v = _float(value, "estimator.p0")
    if not v < 0.5:
        raise SpecError("estimator.p0", "a level probability in (0, 0.5)", value)
    return v


def spec_from_dict(d: dict, *, need_target: bool = True) -> Spec:
    """Validate a parsed TOML document. ``need_target=False`` for jobs without one (census)."""
    _check_keys(d, {"model", "prior", "target", "estimator"}, "spec")
    for section in ("model", "prior", "target", "estimator"):
        if section in d and not isinstance(d[section], dict):
            raise SpecError(section, "a TOML table", d[section])
    model = _model(d.get("model", {}))
    if need_target and "target" not in d:
        raise SpecError("target", "a [target] table with 'truth_table' or 'name'")
    target = _target(d["target"], model.n_inputs) if "target" in d else TargetSpec()
    prior, est = _prior(d.get("prior", {})), _estimator(d.get("estimator", {}))
    if est.kind == "exact" and not prior.discrete:
        raise SpecError("estimator.kind", f"a discrete prior {list(DISCRETE_PRIORS)} for 'exact'", prior.kind)
    if est.kind in ("subset", "smc") and prior.kind not in ("gaussian", "uniform"):
        raise SpecError("estimator.kind", f"a continuous prior ('gaussian' or 'uniform') for '{est.kind}'",
                        est.kind)
    if est.kind == "nngp" and (prior.kind != "gaussian" or model.kind != "mlp"
                               or model.activation not in ("relu", "erf")):
        raise SpecError("estimator.kind", "a gaussian-prior mlp with relu or erf for 'nngp'", est.kind)
    return Spec(model, prior, target, est)


def with_estimator(spec: Spec, **overrides: Any) -> Spec:
    """``spec`` with estimator fields replaced, validated like the file (errors name ``--field``)."""
    d = {**dataclasses.asdict(spec.estimator), **overrides}
    try:
        return dataclasses.replace(spec, estimator=_estimator(d))
    except SpecError as e:
        name = e.field.split(".")[-1]
        if name in overrides:
            raise SpecError(f"--{name}", str(e).split(": expected ", 1)[1]) from None
        raise


def parse_spec(text: str, *, need_target: bool = True) -> Spec:
    """Parse TOML text into a :class:`Spec`; malformed TOML is a :class:`SpecError` too."""
    try:
        d = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise SpecError("toml", f"well-formed TOML ({e})") from None
    return spec_from_dict(d, need_target=need_target)


def load_spec(path: str | Path, *, need_target: bool = True) -> Spec:
    """Read and validate a spec file."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as e:
        raise SpecError("spec", f"a readable TOML file ({e.strerror})", str(p)) from None
    return parse_spec(text, need_target=need_target)
