"""Specs as tagged unions: TOML in, validated frozen dataclasses out, one-line errors.

Every field is checked before anything runs or is written; a bad field raises :class:`SpecError`
whose message is one line naming the field and what was expected.

Example:
    >>> from counting.spec import parse_spec
    >>> spec = parse_spec('[model]\\nkind = "resmlp"\\ndepth = 3\\n[target]\\nname = "parity"')
    >>> spec.model.kind, spec.model.depth, spec.target.hex, spec.estimator.kind
    ('resmlp', 3, '0x96', 'mc')
"""

import importlib

from counting.spec.errors import SpecError

# The public names and the modules that define them, loaded on first use (PEP 562): the command line
# imports counting.spec.errors for its one-line errors, and must not load jax (through the model and
# target parsers) before ``--help`` or a bad flag is answered.
_HOMES = {
    **dict.fromkeys(["ESTIMATOR_KINDS", "SETTINGS", "EstimatorSettings", "ExactSettings", "MCSettings",
                     "NNGPSettings", "SMCSettings", "SubsetSettings", "parse_estimator"], "counting.spec.estimator"),
    **dict.fromkeys(["Spec", "check_compatible", "load_spec", "parse_spec", "sampling_spec", "spec_from_dict",
                     "with_overrides"], "counting.spec.job"),
    **dict.fromkeys(["ACTIVATIONS", "FlaxSpec", "MLPSpec", "ModelSpec", "ResMLPSpec", "parse_model"],
                    "counting.spec.model"),
    **dict.fromkeys(["DiscretePrior", "PriorSpec", "ScaledPrior", "parse_prior"], "counting.spec.prior"),
    **dict.fromkeys(["Target", "parse_target", "parse_truth_table"], "counting.spec.target"),
}


def __getattr__(name: str):
    if name in _HOMES:
        value = getattr(importlib.import_module(_HOMES[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'counting.spec' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_HOMES))


__all__ = ["ACTIVATIONS", "ESTIMATOR_KINDS", "SETTINGS", "DiscretePrior", "EstimatorSettings", "ExactSettings",
           "FlaxSpec", "MCSettings", "MLPSpec", "ModelSpec", "NNGPSettings", "PriorSpec", "ResMLPSpec",
           "SMCSettings", "ScaledPrior", "Spec", "SpecError", "SubsetSettings", "Target", "check_compatible",
           "load_spec", "parse_estimator", "parse_model", "parse_prior", "parse_spec", "parse_target",
           "parse_truth_table", "sampling_spec", "spec_from_dict", "with_overrides"]
