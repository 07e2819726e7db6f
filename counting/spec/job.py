"""A job spec: model, prior, target and estimator sections, validated before anything runs.

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
    >>> spec.model.widths, spec.target.hex, spec.estimator.samples
    ((), '0xe8', 1000)
    >>> with_overrides(spec, particles=10)
    Traceback (most recent call last):
    ...
    counting.spec.errors.OptionError: particles: expected an estimator kind with that setting, got 'mc'
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from counting.spec.errors import OptionError, SpecError, check_keys, section
from counting.spec.estimator import EstimatorSettings, MCSettings, parse_estimator, replace_settings, settings_dict
from counting.spec.model import ModelSpec, parse_model
from counting.spec.prior import CONTINUOUS_PRIORS, DISCRETE_PRIORS, PriorSpec, parse_prior
from counting.spec.target import Target, parse_target
from counting.spec.training import TrainingSpec, check_training, parse_training, training_dict


@dataclass(frozen=True)
class Spec:
    """A validated job. ``target`` is ``None`` for jobs without one (a census)."""

    model: ModelSpec
    prior: PriorSpec
    target: Target | None
    estimator: EstimatorSettings
    training: TrainingSpec | None = None  # [training]: train every drawn network (counting.spec.training)

    def to_dict(self) -> dict[str, Any]:
        """Only the settings that apply to the chosen kinds (what manifests record).

        The model's ``inputs`` appears only when it is not the default ``"pm1"``, so a job's
        identity (checkpoints, run folder names, manifests) is what it was before the field existed.
        """
        model = dataclasses.asdict(self.model)
        if "widths" in model:
            model["widths"] = list(model["widths"])
        if model.get("inputs") == "pm1":
            del model["inputs"]
        d = {"model": model, "prior": dataclasses.asdict(self.prior),
             "target": None if self.target is None else self.target.to_dict(),
             "estimator": settings_dict(self.estimator)}
        if self.training is not None:  # absent otherwise: a job's identity is what it was before
            d["training"] = training_dict(self.training)
        return d

    def to_json(self) -> str:
        """Canonical JSON of :meth:`to_dict` (sorted keys): the job's identity in checkpoints."""
        return json.dumps(self.to_dict(), sort_keys=True)


def check_compatible(model: ModelSpec, prior: PriorSpec, est: EstimatorSettings) -> None:
    """Estimator kinds that need a particular prior or model."""
    if est.kind == "exact" and not prior.discrete:
        raise SpecError("estimator.kind", f"a discrete prior {list(DISCRETE_PRIORS)} for 'exact'", prior.kind)
    if est.kind in ("subset", "smc") and prior.kind not in CONTINUOUS_PRIORS:
        raise SpecError("estimator.kind", f"a continuous prior {list(CONTINUOUS_PRIORS)} for '{est.kind}'",
                        prior.kind)
    if est.kind == "nngp":  # the kernel recursion is known for a gaussian-prior MLP with relu or erf
        from counting.analytic.kernel import check_nngp  # here: the kernel needs counting.models, which needs spec

        check_nngp(model, prior)


def spec_from_dict(d: dict, *, need_target: bool = True) -> Spec:
    """Validate a parsed TOML document. ``need_target=False`` for jobs without one (census)."""
    check_keys(d, {"model", "prior", "target", "estimator", "training"}, "spec")
    for name in ("model", "prior", "target", "estimator", "training"):
        if name in d:
            section(d[name], name)
    model = parse_model(d.get("model", {}))
    if need_target and "target" not in d:
        raise SpecError("target", "a [target] table with 'truth_table' or 'name'")
    target = parse_target(d["target"], model.n_inputs) if "target" in d else None
    prior, est = parse_prior(d.get("prior", {})), parse_estimator(d.get("estimator", {}))
    check_compatible(model, prior, est)
    training = parse_training(d["training"], model.n_inputs) if d.get("training") is not None else None
    if training is not None:
        check_training(training, target, est)
    return Spec(model, prior, target, est, training)


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


def with_overrides(spec: Spec, **overrides: Any) -> Spec:
    """``spec`` with estimator settings replaced (the command line's ``--samples``, say): a setting the
    chosen kind does not have is an :class:`OptionError` naming the setting, and values are
    validated as in a file (their errors name the setting too, not its field in the file)."""
    fields = settings_dict(spec.estimator)
    for name in overrides:
        if name not in fields or name == "kind":
            raise OptionError(name, "an estimator kind with that setting", spec.estimator.kind)
    try:
        return dataclasses.replace(spec, estimator=replace_settings(spec.estimator, **overrides))
    except SpecError as e:
        name = e.field.split(".")[-1]
        if name in overrides:
            raise OptionError(name, e.expected, overrides[name]) from None
        raise


def sampling_spec(model: ModelSpec, prior: PriorSpec, samples: int, seed: int = 0, chunk_size: int = 16_384,
                  target: Target | None = None) -> Spec:
    """A hit-or-miss spec built in code (experiments build one per architecture)."""
    est = replace_settings(MCSettings(), samples=samples, seed=seed, chunk_size=chunk_size)
    return Spec(model, prior, target, est)



