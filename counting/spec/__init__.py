"""Specs as tagged unions: TOML in, validated frozen dataclasses out, one-line errors.

Every field is checked before anything runs or is written; a bad field raises :class:`SpecError`
whose message is one line naming the field and what was expected.

Example:
    >>> from counting.spec import parse_spec
    >>> spec = parse_spec('[model]\\nkind = "resmlp"\\ndepth = 3\\n[target]\\nname = "parity"')
    >>> spec.model.kind, spec.model.depth, spec.target.hex, spec.estimator.kind
    ('resmlp', 3, '0x96', 'mc')
"""

from counting.spec.errors import SpecError
from counting.spec.estimator import (ESTIMATOR_KINDS, SETTINGS, EstimatorSettings, ExactSettings, MCSettings,
                                     NNGPSettings, SMCSettings, SubsetSettings, parse_estimator)
from counting.spec.job import Spec, check_compatible, load_spec, parse_spec, sampling_spec, spec_from_dict, with_overrides
from counting.spec.model import ACTIVATIONS, FlaxSpec, MLPSpec, ModelSpec, ResMLPSpec, parse_model
from counting.spec.prior import DiscretePrior, PriorSpec, ScaledPrior, parse_prior
from counting.spec.target import Target, parse_target, parse_truth_table

__all__ = ["ACTIVATIONS", "ESTIMATOR_KINDS", "SETTINGS", "DiscretePrior", "EstimatorSettings", "ExactSettings",
           "FlaxSpec", "MCSettings", "MLPSpec", "ModelSpec", "NNGPSettings", "PriorSpec", "ResMLPSpec",
           "SMCSettings", "ScaledPrior", "Spec", "SpecError", "SubsetSettings", "Target", "check_compatible",
           "load_spec", "parse_estimator", "parse_model", "parse_prior", "parse_spec", "parse_target",
           "parse_truth_table", "sampling_spec", "spec_from_dict", "with_overrides"]
